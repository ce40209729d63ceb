/*
 * demo_rng: the demo generator's only source of randomness.
 *
 * xoshiro256** seeded through splitmix64, written out here so the stream is
 * the same on every libc and compiler (rand() is not). Helpers stay in
 * integer arithmetic for the same reason: floating point would make the
 * bytes depend on how the compiler contracts or rounds. Callers draw one
 * number per statement: two draws in one expression or argument list are
 * unsequenced, and gcc and clang order them differently.
 */
#include "demo/demo_model.h"

#include "util/banned.h"

static uint64_t rng_splitmix(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rng_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void demo_rng_seed(struct demo_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = rng_splitmix(&seed);
}

uint64_t demo_rng_next(struct demo_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rng_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rng_rotl(s[3], 45);
	return result;
}

/* Uniform in [0, n) by multiply-and-shift; the bias is below 2^-32. */
static uint32_t rng_below(struct demo_rng *r, uint32_t n)
{
	uint64_t x = demo_rng_next(r) >> 32;

	return (uint32_t)((x * n) >> 32);
}

int demo_rng_between(struct demo_rng *r, int lo, int hi)
{
	if (hi <= lo)
		return lo;
	return lo + (int)rng_below(r, (uint32_t)(hi - lo) + 1);
}

bool demo_rng_chance(struct demo_rng *r, int per_mille)
{
	return (int)rng_below(r, 1000) < per_mille;
}

size_t demo_rng_weighted(struct demo_rng *r, const int *weights, size_t n)
{
	uint64_t total = 0, pick;

	for (size_t i = 0; i < n; i++)
		total += weights[i] > 0 ? (uint64_t)weights[i] : 0;
	if (total == 0)
		return 0;
	pick = demo_rng_next(r) % total;
	for (size_t i = 0; i < n; i++) {
		uint64_t w = weights[i] > 0 ? (uint64_t)weights[i] : 0;
		if (pick < w)
			return i;
		pick -= w;
	}
	return n - 1;
}

int64_t demo_scale_pm(int64_t cents, int64_t pm)
{
	return (cents * pm + 500) / 1000;
}

int64_t demo_rng_jitter(struct demo_rng *r, int64_t cents, int spread_pm)
{
	return demo_scale_pm(cents, 1000 + demo_rng_between(r, -spread_pm, spread_pm));
}
