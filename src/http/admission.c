/*
 * admission: see admission.h.
 *
 * One table of callers (API keys and users, told apart by the first byte
 * of their id), open addressing with a short probe: each entry has a token
 * bucket (capacity: the per-minute rate, refilled continuously) and a
 * count of requests in progress. An entry with requests in progress is
 * never evicted, so a ticket's slot numbers stay valid until it leaves.
 * One mutex guards the table and the server-wide count; it is held for a
 * few comparisons only.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "http/admission.h"
#include "util/clock.h"
#include "util/banned.h"

#define TABLE_SLOTS 4096u
#define PROBE 32u
#define ID_BYTES 17 /* kind byte + 16 hash bytes */

struct caller {
	unsigned char id[ID_BYTES];
	bool used;
	double tokens;
	uint64_t refill_ms;
	uint32_t in_flight;
};

static struct caller table[TABLE_SLOTS];
static uint64_t server_in_flight;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void caller_refill(struct caller *c, uint64_t rate_per_min, uint64_t now_ms)
{
	c->tokens += (double)(now_ms - c->refill_ms) * (double)rate_per_min / 60000.0;
	if (c->tokens > (double)rate_per_min)
		c->tokens = (double)rate_per_min;
	c->refill_ms = now_ms;
}

static bool caller_idle(struct caller *c, uint64_t rate_per_min, uint64_t now_ms)
{
	caller_refill(c, rate_per_min, now_ms);
	return c->in_flight == 0 && c->tokens >= (double)rate_per_min;
}

/* The caller's slot, made (with a full bucket) in a free or idle slot if
 * new, never in `avoid`; -1 when every slot of its probe is busy. */
static int caller_find(const unsigned char id[ID_BYTES], uint64_t rate_per_min, uint64_t now_ms,
		       int avoid)
{
	uint32_t h;
	int spare = -1;

	memcpy(&h, id + 1, sizeof(h));
	for (uint32_t i = 0; i < PROBE; i++) {
		uint32_t slot = (h + i) % TABLE_SLOTS;
		struct caller *c = &table[slot];
		if (c->used && memcmp(c->id, id, ID_BYTES) == 0)
			return (int)slot;
		if (spare < 0 && (int)slot != avoid &&
		    (!c->used || caller_idle(c, rate_per_min, now_ms)))
			spare = (int)slot;
	}
	if (spare >= 0) {
		struct caller *c = &table[spare];
		memcpy(c->id, id, ID_BYTES);
		c->used = true;
		c->tokens = (double)rate_per_min;
		c->refill_ms = now_ms;
		c->in_flight = 0;
	}
	return spare;
}

static void key_id(const char *key, unsigned char ret[ID_BYTES])
{
	ret[0] = 'k';
	crypto_generichash(ret + 1, ID_BYTES - 1, (const unsigned char *)key, strlen(key), NULL, 0);
}

static void user_id_make(int64_t user_id, unsigned char ret[ID_BYTES])
{
	ret[0] = 'u';
	crypto_generichash(ret + 1, ID_BYTES - 1, (const unsigned char *)&user_id, sizeof(user_id),
			   NULL, 0);
}

/* Seconds until the bucket holds one token again. */
static unsigned rate_retry_s(const struct caller *c, uint64_t rate_per_min)
{
	double s = (1.0 - c->tokens) * 60.0 / (double)rate_per_min;

	return s < 1.0 ? 1u : (unsigned)s + 1u;
}

/* The limit a caller is past, if any: a sentence in why and the retry. */
static bool caller_refused(const struct caller *c, const char *who, uint64_t concurrent,
			   const char *concurrent_name, uint64_t rate, const char *rate_name,
			   unsigned *ret_retry_s, char *why, size_t why_len)
{
	if (c->in_flight >= concurrent) {
		snprintf(why, why_len,
			 "%s already has %llu analyze requests in progress, the most allowed "
			 "(%s); retry when one has finished",
			 who, (unsigned long long)concurrent, concurrent_name);
		*ret_retry_s = 1;
		return true;
	}
	if (c->tokens < 1.0) {
		snprintf(why, why_len,
			 "%s made %llu analyze requests in the last minute, the most allowed "
			 "(%s), cache hits included; retry after the time in Retry-After",
			 who, (unsigned long long)rate, rate_name);
		*ret_retry_s = rate_retry_s(c, rate);
		return true;
	}
	return false;
}

static bool enter_locked(const struct config *cfg, const unsigned char kid[ID_BYTES],
			 const unsigned char uid[ID_BYTES], struct admission_ticket *t,
			 unsigned *ret_retry_s, char *why, size_t why_len)
{
	uint64_t now_ms = clock_mono_ms();
	int k, u;

	*ret_retry_s = 1;
	if (server_in_flight >= cfg->analyze_inflight_max) {
		snprintf(why, why_len,
			 "the server already has %llu analyze requests in progress, the most it takes "
			 "(LEDGERBOX_ANALYZE_INFLIGHT_MAX); retry shortly",
			 (unsigned long long)cfg->analyze_inflight_max);
		return false;
	}
	k = caller_find(kid, cfg->key_rate_per_min, now_ms, -1);
	u = k < 0 ? -1 : caller_find(uid, cfg->user_rate_per_min, now_ms, k);
	if (k < 0 || u < 0) {
		snprintf(why, why_len,
			 "too many different callers are busy on this server right now; retry shortly");
		return false;
	}
	caller_refill(&table[k], cfg->key_rate_per_min, now_ms);
	caller_refill(&table[u], cfg->user_rate_per_min, now_ms);
	if (caller_refused(&table[k], "this API key", cfg->key_concurrent,
			   "LEDGERBOX_KEY_CONCURRENT", cfg->key_rate_per_min,
			   "LEDGERBOX_KEY_RATE_PER_MIN", ret_retry_s, why, why_len) ||
	    caller_refused(&table[u], "this user", cfg->user_concurrent,
			   "LEDGERBOX_USER_CONCURRENT", cfg->user_rate_per_min,
			   "LEDGERBOX_USER_RATE_PER_MIN", ret_retry_s, why, why_len))
		return false;
	table[k].tokens -= 1.0;
	table[u].tokens -= 1.0;
	table[k].in_flight++;
	table[u].in_flight++;
	server_in_flight++;
	*t = (struct admission_ticket){ .held = true, .key_slot = (uint32_t)k,
					.user_slot = (uint32_t)u };
	return true;
}

bool admission_enter(const struct config *cfg, const char *key, int64_t user_id,
		     struct admission_ticket *t, unsigned *ret_retry_s, char *why, size_t why_len)
{
	unsigned char kid[ID_BYTES], uid[ID_BYTES];
	bool ok;

	key_id(key, kid);
	user_id_make(user_id, uid);
	pthread_mutex_lock(&lock);
	ok = enter_locked(cfg, kid, uid, t, ret_retry_s, why, why_len);
	pthread_mutex_unlock(&lock);
	return ok;
}

void admission_leave(struct admission_ticket *t)
{
	if (!t || !t->held)
		return;
	pthread_mutex_lock(&lock);
	table[t->key_slot].in_flight--;
	table[t->user_slot].in_flight--;
	server_in_flight--;
	pthread_mutex_unlock(&lock);
	t->held = false;
}
