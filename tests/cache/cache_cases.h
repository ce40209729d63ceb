/*
 * cache_cases: the behaviours of the result cache's store (src/cache, not
 * the matching rules) that both back ends must share, written once and run
 * by test_cache_store.c against SQLite and by test_cache_pg.c against
 * PostgreSQL: exact and semantic lookups, scopes, expiry, LRU eviction,
 * invalidation, clearing, two handles ("nodes") on one database, hits
 * written in batches, counters, argument checks and eight threads at once.
 *
 * Each case gets a struct cache_fx in *state: a fresh place for the cache
 * (a state directory or a database) made by the program's setup, which the
 * case opens as often as it needs (fx_open). The program also defines
 * fx_sql(), one query on the cache's tables, which are laid out alike on
 * both back ends. Times are injected instants, never the clock. Vectors
 * are small and made by hand, so expected similarities are computed here
 * with sem_cosine(), the function the cache decides with.
 *
 * What only one back end has stays in that back end's file.
 *
 * This header holds the fixture, the helpers and the case list
 * (CACHE_CASES); the cases themselves are in cache_cases_lookup.h (exact
 * and semantic lookups, counters, argument checks) and
 * cache_cases_lifecycle.h (expiry, eviction, invalidation, clearing, two
 * handles, batched hits, eight threads). Programs include only this header.
 */
#ifndef LEDGERBOX_TESTS_CACHE_CASES_H
#define LEDGERBOX_TESTS_CACHE_CASES_H

#include "testlib.h"

#include <math.h>
#include <pthread.h>

#include "cache/cache.h"
#include "cache/semantic.h"

#define DIM 16
#define T0 INT64_C(1700000000000)

/* ------------------------------------------------------------------ */
/* The fixture and helpers                                             */

/* Where a case's cache lives: dir alone for SQLite, url for PostgreSQL. */
struct cache_fx {
	char *dir;
	char *url;
	const char *version_sql; /* reads the cache's schema version */
};

/* The program's back end: the first value of a one-row query on the
 * fixture's tables, as a number (0 when there is no row). */
static long long fx_sql(const struct cache_fx *fx, const char *sql);

/* A new handle on the fixture's cache (another "node" each time). */
static struct cache *fx_open(const struct cache_fx *fx, uint64_t ttl_ms, uint64_t max_entries)
{
	struct cache_limits l = { ttl_ms, max_entries };
	char err[512] = "";
	struct cache *c = NULL;
	int r = cache_open_url(fx->dir ? fx->dir : "/nonexistent", fx->url, &l, &c, err,
			       sizeof(err));

	if (r < 0)
		fail_msg("cache_open_url(%s): %d %s", fx->url ? fx->url : fx->dir, r, err);
	return c;
}

/* The test's entries: n picks the key, run id and result. Strings point
 * into the entry's own buffers (struct test_entry) so nothing leaks. */
struct test_entry {
	struct cache_entry e;
	char code[64], result[64], query[64], signature[64];
	float vec[DIM];
};

static void key_make(unsigned n, char key[65])
{
	snprintf(key, 65, "%064x", n);
}

static void plain_make(struct test_entry *t, unsigned n, const char *scope)
{
	memset(t, 0, sizeof(*t));
	key_make(n, t->e.key);
	snprintf(t->e.scope, sizeof(t->e.scope), "%s", scope);
	snprintf(t->e.dataset, sizeof(t->e.dataset), "demo");
	snprintf(t->e.fingerprint, sizeof(t->e.fingerprint), "fp1");
	snprintf(t->e.language, sizeof(t->e.language), "sql");
	snprintf(t->e.run_id, sizeof(t->e.run_id), "run-%u", n);
	snprintf(t->code, sizeof(t->code), "SELECT %u", n);
	snprintf(t->result, sizeof(t->result), "{\"n\":%u}", n);
	t->e.code = t->code;
	t->e.result = t->result;
}

/* A plain-words entry in group (scope, demo, fp1, sql, llama3.1, local,
 * signature) with vector v. */
static void query_make(struct test_entry *t, unsigned n, const char *scope, const char *signature,
		       const float v[DIM])
{
	plain_make(t, n, scope);
	snprintf(t->e.model, sizeof(t->e.model), "llama3.1");
	snprintf(t->e.embed_model, sizeof(t->e.embed_model), "local");
	snprintf(t->query, sizeof(t->query), "question %u", n);
	snprintf(t->signature, sizeof(t->signature), "%s", signature);
	memcpy(t->vec, v, sizeof(t->vec));
	t->e.query_norm = t->query;
	t->e.signature = t->signature;
	t->e.embedding = t->vec;
	t->e.dim = DIM;
}

/* Deterministic vectors: base(seed) plus noise(seed2) x eps. */
static void vec_make(float v[DIM], unsigned seed, unsigned noise_seed, float eps)
{
	uint32_t s = seed * 2654435761u + 1, t = noise_seed * 2246822519u + 7;

	for (int i = 0; i < DIM; i++) {
		s = s * 1664525u + 1013904223u;
		t = t * 1664525u + 1013904223u;
		v[i] = (float)((s >> 8) % 2001) / 1000.0f - 1.0f;
		v[i] += eps * ((float)((t >> 8) % 2001) / 1000.0f - 1.0f);
	}
}

static void put_ok(struct cache *c, const struct test_entry *t, int64_t now_ms)
{
	int r = cache_put(c, &t->e, now_ms);

	if (r < 0)
		fail_msg("cache_put(%s): %d", t->e.run_id, r);
}

static int get_exact(struct cache *c, unsigned n, const char *scope, int64_t now_ms,
		     struct cache_entry *ret)
{
	char key[65];

	key_make(n, key);
	return cache_get_exact(c, key, scope, now_ms, ret);
}

/* 1 when key n is there (and releases it), 0 on -ENOENT, fails otherwise. */
static int exact_present(struct cache *c, unsigned n, const char *scope, int64_t now_ms)
{
	struct cache_entry e;
	int r = get_exact(c, n, scope, now_ms, &e);

	if (r == -ENOENT)
		return 0;
	assert_int_equal(r, 0);
	cache_entry_release(&e);
	return 1;
}

/* The semantic lookup in the default group of query_make(). */
static int semantic(struct cache *c, const char *scope, const char *signature, const float q[DIM],
		    float min_sim, int64_t now_ms, struct cache_entry *ret, float *ret_sim)
{
	return cache_get_semantic(c, scope, "demo", "fp1", "sql", "llama3.1", "local", signature, q,
				  DIM, min_sim, now_ms, ret, ret_sim);
}

/* The run id of the semantic winner ("" on -ENOENT). */
static void semantic_winner(struct cache *c, const char *scope, const char *signature,
			    const float q[DIM], float min_sim, int64_t now_ms, char ret[65])
{
	struct cache_entry e;
	int r = semantic(c, scope, signature, q, min_sim, now_ms, &e, NULL);

	ret[0] = '\0';
	if (r == -ENOENT)
		return;
	assert_int_equal(r, 0);
	snprintf(ret, 65, "%s", e.run_id);
	cache_entry_release(&e);
}

/* The next float above a positive x (the programs do not link libm). */
static float float_above(float x)
{
	uint32_t bits;

	memcpy(&bits, &x, 4);
	bits++;
	memcpy(&x, &bits, 4);
	return x;
}

static struct cache_stats stats_of(struct cache *c)
{
	struct cache_stats s;

	memset(&s, 0xff, sizeof(s));
	cache_stats(c, &s);
	return s;
}

#include "cache/cache_cases_lookup.h"
#include "cache/cache_cases_lifecycle.h"

/* The cases above, for a program's array of tests; setup makes the
 * fixture in *state and teardown removes it. */
#define CACHE_CASES(setup, teardown)                                           \
	cmocka_unit_test_setup_teardown(put_get_exact, setup, teardown),               \
	cmocka_unit_test_setup_teardown(scope_isolation, setup, teardown),             \
	cmocka_unit_test_setup_teardown(ttl_expiry, setup, teardown),                  \
	cmocka_unit_test_setup_teardown(lru_eviction, setup, teardown),                \
	cmocka_unit_test_setup_teardown(semantic_best_and_threshold, setup, teardown), \
	cmocka_unit_test_setup_teardown(signature_must_be_equal, setup, teardown),     \
	cmocka_unit_test_setup_teardown(older_rules_are_never_served, setup, teardown), \
	cmocka_unit_test_setup_teardown(other_group_fields_miss, setup, teardown),     \
	cmocka_unit_test_setup_teardown(invalidate_and_clear, setup, teardown),        \
	cmocka_unit_test_setup_teardown(clear_all, setup, teardown),                   \
	cmocka_unit_test_setup_teardown(two_handles, setup, teardown),                 \
	cmocka_unit_test_setup_teardown(hits_reach_the_database, setup, teardown),     \
	cmocka_unit_test_setup_teardown(stats_counters, setup, teardown),              \
	cmocka_unit_test_setup_teardown(bad_arguments, setup, teardown),               \
	cmocka_unit_test_setup_teardown(threads_at_once, setup, teardown)

#endif
