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

/* ------------------------------------------------------------------ */
/* Exact lookups                                                       */

static void put_get_exact(void **state)
{
	const struct cache_fx *fx = *state;
	struct cache *c = fx_open(fx, 0, 100);
	struct test_entry t;
	struct cache_entry e;

	vec_make(t.vec, 1, 0, 0);
	query_make(&t, 1, "team:finance", "n:5|w:customer", t.vec);
	put_ok(c, &t, T0);
	assert_int_equal(get_exact(c, 1, "team:finance", T0 + 10, &e), 0);
	assert_string_equal(e.key, t.e.key);
	assert_string_equal(e.scope, "team:finance");
	assert_string_equal(e.dataset, "demo");
	assert_string_equal(e.fingerprint, "fp1");
	assert_string_equal(e.language, "sql");
	assert_string_equal(e.model, "llama3.1");
	assert_string_equal(e.embed_model, "local");
	assert_string_equal(e.query_norm, "question 1");
	assert_string_equal(e.signature, "n:5|w:customer");
	assert_string_equal(e.code, "SELECT 1");
	assert_string_equal(e.result, "{\"n\":1}");
	assert_string_equal(e.run_id, "run-1");
	assert_int_equal(e.dim, DIM);
	assert_memory_equal(e.embedding, t.vec, sizeof(t.vec)); /* bit for bit */
	assert_int_equal(e.created_ms, T0);
	assert_int_equal(e.last_used_ms, T0 + 10);
	assert_int_equal(e.hits, 1);
	cache_entry_release(&e);
	assert_null(e.result);
	cache_entry_release(&e); /* twice is harmless */
	cache_entry_release(NULL);

	/* The hit counts for later lookups, not only in the copy. */
	assert_int_equal(get_exact(c, 1, "team:finance", T0 + 20, &e), 0);
	assert_int_equal(e.hits, 2);
	assert_int_equal(e.last_used_ms, T0 + 20);
	cache_entry_release(&e);

	/* A plain entry has no query fields; quotes and non-ASCII survive. */
	plain_make(&t, 2, "team:finance");
	snprintf(t.result, sizeof(t.result), "{\"s\":\"it's \\\"€\\\" \\\\x\"}");
	put_ok(c, &t, T0);
	assert_int_equal(get_exact(c, 2, "team:finance", T0, &e), 0);
	assert_string_equal(e.query_norm, "");
	assert_string_equal(e.signature, "");
	assert_string_equal(e.result, t.result);
	assert_null(e.embedding);
	assert_int_equal(e.dim, 0);
	cache_entry_release(&e);

	assert_int_equal(get_exact(c, 3, "team:finance", T0, &e), -ENOENT);

	/* Storing the same key again replaces the entry, hits start over. */
	plain_make(&t, 1, "team:finance");
	snprintf(t.result, sizeof(t.result), "{\"n\":\"again\"}");
	put_ok(c, &t, T0 + 100);
	assert_int_equal(get_exact(c, 1, "team:finance", T0 + 101, &e), 0);
	assert_string_equal(e.result, "{\"n\":\"again\"}");
	assert_int_equal(e.hits, 1);
	assert_int_equal(e.created_ms, T0 + 100);
	assert_null(e.embedding);
	cache_entry_release(&e);
	assert_int_equal(stats_of(c).entries, 2);
	assert_int_equal(fx_sql(fx, "SELECT count(*) FROM cache_entries"), 2);
	cache_close(c);

	/* Reopening migrates nothing twice and finds the entries. */
	c = fx_open(fx, 0, 100);
	assert_int_equal(exact_present(c, 2, "team:finance", T0), 1);
	assert_int_equal(fx_sql(fx, fx->version_sql), 1);
	cache_close(c);
}

static void scope_isolation(void **state)
{
	const struct cache_fx *fx = *state;
	struct cache *c = fx_open(fx, 0, 100);
	struct test_entry t;
	struct cache_entry e;
	float q[DIM];
	char winner[65];

	vec_make(q, 7, 0, 0);
	query_make(&t, 1, "team:a", "w:revenue", q);
	put_ok(c, &t, T0);
	assert_int_equal(exact_present(c, 1, "team:b", T0), 0);
	semantic_winner(c, "team:b", "w:revenue", q, 0.5f, T0, winner);
	assert_string_equal(winner, "");
	semantic_winner(c, "team:a", "w:revenue", q, 0.5f, T0, winner);
	assert_string_equal(winner, "run-1");

	/* The same key in another scope is another entry. */
	query_make(&t, 1, "team:b", "w:revenue", q);
	snprintf(t.result, sizeof(t.result), "{\"team\":\"b\"}");
	put_ok(c, &t, T0 + 1);
	assert_int_equal(get_exact(c, 1, "team:a", T0 + 2, &e), 0);
	assert_string_equal(e.result, "{\"n\":1}");
	cache_entry_release(&e);
	assert_int_equal(get_exact(c, 1, "team:b", T0 + 2, &e), 0);
	assert_string_equal(e.result, "{\"team\":\"b\"}");
	cache_entry_release(&e);
	assert_int_equal(stats_of(c).entries, 2);

	cache_close(c);
}

/* ------------------------------------------------------------------ */
/* Expiry and eviction                                                 */

static void ttl_expiry(void **state)
{
	const struct cache_fx *fx = *state;
	struct cache *c = fx_open(fx, 1000, 100);
	struct test_entry t;
	float q[DIM];
	char winner[65];

	vec_make(q, 3, 0, 0);
	query_make(&t, 1, "team:a", "w:cash", q);
	put_ok(c, &t, T0);
	assert_int_equal(exact_present(c, 1, "team:a", T0 + 999), 1);
	semantic_winner(c, "team:a", "w:cash", q, 0.9f, T0 + 999, winner);
	assert_string_equal(winner, "run-1");
	/* Expiry counts from the store, not from the last hit. */
	assert_int_equal(exact_present(c, 1, "team:a", T0 + 1000), 0);
	semantic_winner(c, "team:a", "w:cash", q, 0.9f, T0 + 1000, winner);
	assert_string_equal(winner, "");
	assert_int_equal(stats_of(c).entries, 1); /* still stored until a put */

	/* The next put removes it and counts it. */
	plain_make(&t, 2, "team:a");
	put_ok(c, &t, T0 + 1500);
	assert_int_equal(stats_of(c).entries, 1);
	assert_int_equal(stats_of(c).expired, 1);
	assert_int_equal(stats_of(c).evictions, 0);
	assert_int_equal(exact_present(c, 2, "team:a", T0 + 2499), 1);
	cache_close(c);

	/* ttl 0: nothing expires. */
	c = fx_open(fx, 0, 100);
	assert_int_equal(exact_present(c, 2, "team:a", INT64_C(4000000000000)), 1);
	cache_close(c);
}

static void lru_eviction(void **state)
{
	const struct cache_fx *fx = *state;
	struct cache *c = fx_open(fx, 0, 3);
	struct test_entry t;
	float q[DIM];
	char winner[65];

	for (unsigned n = 1; n <= 3; n++) {
		plain_make(&t, n, "team:a");
		put_ok(c, &t, T0 + n);
	}
	/* A hit on 1 makes 2 the least recently used. */
	assert_int_equal(exact_present(c, 1, "team:a", T0 + 4), 1);
	plain_make(&t, 4, "team:a");
	put_ok(c, &t, T0 + 5);
	assert_int_equal(stats_of(c).entries, 3);
	assert_int_equal(exact_present(c, 2, "team:a", T0 + 6), 0);
	assert_int_equal(exact_present(c, 1, "team:a", T0 + 6), 1);
	assert_int_equal(exact_present(c, 4, "team:a", T0 + 6), 1);
	/* Now 3 (last used at T0 + 3) is the oldest. */
	plain_make(&t, 5, "team:a");
	put_ok(c, &t, T0 + 7);
	assert_int_equal(exact_present(c, 3, "team:a", T0 + 8), 0);
	assert_int_equal(stats_of(c).evictions, 2);

	/* A semantic hit saves an entry as well: without it, 10 would be the
	 * oldest when 13 comes. */
	assert_int_equal(cache_clear(c), 3);
	vec_make(q, 11, 0, 0);
	query_make(&t, 10, "team:a", "w:stock", q);
	put_ok(c, &t, T0 + 100);
	plain_make(&t, 11, "team:a");
	put_ok(c, &t, T0 + 101);
	plain_make(&t, 12, "team:a");
	put_ok(c, &t, T0 + 102);
	semantic_winner(c, "team:a", "w:stock", q, 0.9f, T0 + 103, winner);
	assert_string_equal(winner, "run-10");
	plain_make(&t, 13, "team:a");
	put_ok(c, &t, T0 + 104);
	assert_int_equal(exact_present(c, 11, "team:a", T0 + 105), 0);
	semantic_winner(c, "team:a", "w:stock", q, 0.9f, T0 + 106, winner);
	assert_string_equal(winner, "run-10");
	assert_int_equal(stats_of(c).evictions, 3);

	/* The entry just stored is kept even when its clock is behind. */
	plain_make(&t, 14, "team:a");
	put_ok(c, &t, T0);
	assert_int_equal(exact_present(c, 12, "team:a", T0 + 107), 0);
	assert_int_equal(exact_present(c, 14, "team:a", T0 + 107), 1);
	assert_int_equal(stats_of(c).entries, 3);
	cache_close(c);

	/* A smaller limit evicts the least recently used at open. */
	c = fx_open(fx, 0, 1);
	assert_int_equal(stats_of(c).entries, 1);
	assert_int_equal(stats_of(c).evictions, 2);
	assert_int_equal(exact_present(c, 14, "team:a", T0 + 108), 1);
	assert_int_equal(fx_sql(fx, "SELECT count(*) FROM cache_usage"), 1);
	cache_close(c);
}

/* ------------------------------------------------------------------ */
/* Semantic lookups                                                    */

static void semantic_best_and_threshold(void **state)
{
	const struct cache_fx *fx = *state;
	struct cache *c = fx_open(fx, 0, 100);
	struct test_entry near, far, other, t;
	struct cache_entry e;
	float q[DIM], v_near[DIM], v_far[DIM], v_other[DIM], sim = -2, want;
	char winner[65];

	vec_make(q, 21, 0, 0);
	vec_make(v_near, 21, 1, 0.05f);
	vec_make(v_far, 21, 2, 0.4f);
	vec_make(v_other, 99, 0, 0);
	want = sem_cosine(q, v_near, DIM);
	assert_true(want > sem_cosine(q, v_far, DIM));
	assert_true(sem_cosine(q, v_far, DIM) > sem_cosine(q, v_other, DIM));
	query_make(&far, 1, "team:a", "w:revenue", v_far);
	query_make(&near, 2, "team:a", "w:revenue", v_near);
	query_make(&other, 3, "team:a", "w:revenue", v_other);
	put_ok(c, &far, T0);
	put_ok(c, &near, T0);
	put_ok(c, &other, T0);

	assert_int_equal(semantic(c, "team:a", "w:revenue", q, 0.5f, T0 + 5, &e, &sim), 0);
	assert_string_equal(e.run_id, "run-2");
	assert_string_equal(e.result, "{\"n\":2}");
	assert_int_equal(e.hits, 1);
	assert_int_equal(e.last_used_ms, T0 + 5);
	assert_true(sim == want);
	cache_entry_release(&e);

	/* The threshold is inclusive and decides on the best only. */
	assert_int_equal(semantic(c, "team:a", "w:revenue", q, want, T0, &e, NULL), 0);
	assert_int_equal(e.hits, 2);
	cache_entry_release(&e);
	assert_int_equal(semantic(c, "team:a", "w:revenue", q, float_above(want), T0, &e,
				  &sim), -ENOENT);
	semantic_winner(c, "team:a", "w:Revenue", q, -1.0f, T0, winner);
	assert_string_equal(winner, "");

	/* Replacing an entry moves it to its new group. */
	query_make(&t, 2, "team:a", "w:cost", v_near);
	put_ok(c, &t, T0 + 6);
	semantic_winner(c, "team:a", "w:cost", q, 0.5f, T0 + 7, winner);
	assert_string_equal(winner, "run-2");
	semantic_winner(c, "team:a", "w:revenue", q, 0.5f, T0 + 7, winner);
	assert_string_equal(winner, "run-1"); /* far is the best left */

	/* Without the nearest, the next one wins. */
	assert_int_equal(cache_invalidate_dataset(c, "demo", NULL), 3);
	put_ok(c, &far, T0);
	put_ok(c, &other, T0);
	assert_int_equal(semantic(c, "team:a", "w:revenue", q, -1.0f, T0, &e, &sim), 0);
	assert_string_equal(e.run_id, "run-1");
	assert_true(sim == sem_cosine(q, v_far, DIM));
	cache_entry_release(&e);

	/* Equal vectors: the later store wins. */
	query_make(&near, 4, "team:a", "w:revenue", v_far);
	put_ok(c, &near, T0 + 50);
	assert_int_equal(semantic(c, "team:a", "w:revenue", q, 0.1f, T0 + 60, &e, NULL), 0);
	assert_string_equal(e.run_id, "run-4");
	cache_entry_release(&e);
	cache_close(c);
}

static void signature_must_be_equal(void **state)
{
	const struct cache_fx *fx = *state;
	struct cache *c = fx_open(fx, 0, 100);
	struct test_entry t;
	struct cache_entry e;
	float q[DIM], v[DIM];
	char winner[65];

	vec_make(q, 5, 0, 0);
	query_make(&t, 1, "team:a", "n:5|dir:top|w:customer", q);
	put_ok(c, &t, T0);
	/* Identical vectors, signatures differing by one number or byte. */
	semantic_winner(c, "team:a", "n:10|dir:top|w:customer", q, 0.0f, T0, winner);
	assert_string_equal(winner, "");
	semantic_winner(c, "team:a", "n:5|dir:top|w:customer ", q, 0.0f, T0, winner);
	assert_string_equal(winner, "");
	semantic_winner(c, "team:a", "n:5|dir:top|w:Customer", q, 0.0f, T0, winner);
	assert_string_equal(winner, "");
	assert_int_equal(semantic(c, "team:a", "", q, -1.0f, T0, &e, NULL), -ENOENT);
	semantic_winner(c, "team:a", "n:5|dir:top|w:customer", q, 0.0f, T0, winner);
	assert_string_equal(winner, "run-1");

	/* A nearer vector under another signature never hides the entry with
	 * the asked signature. */
	vec_make(v, 5, 3, 0.3f);
	query_make(&t, 3, "team:a", "n:7|dir:top|w:customer", v);
	put_ok(c, &t, T0);
	semantic_winner(c, "team:a", "n:7|dir:top|w:customer", q, 0.5f, T0, winner);
	assert_string_equal(winner, "run-3");

	/* An entry stored with the empty signature matches nothing either. */
	query_make(&t, 2, "team:a", "", q);
	put_ok(c, &t, T0);
	assert_int_equal(semantic(c, "team:a", "", q, -1.0f, T0, &e, NULL), -ENOENT);

	/* Replacing an entry moves it to its new group. */
	query_make(&t, 1, "team:a", "n:6|dir:top|w:customer", q);
	put_ok(c, &t, T0 + 1);
	semantic_winner(c, "team:a", "n:5|dir:top|w:customer", q, 0.0f, T0 + 2, winner);
	assert_string_equal(winner, "");
	semantic_winner(c, "team:a", "n:6|dir:top|w:customer", q, 0.0f, T0 + 2, winner);
	assert_string_equal(winner, "run-1");
	cache_close(c);
}

static void other_group_fields_miss(void **state)
{
	const struct cache_fx *fx = *state;
	struct cache *c = fx_open(fx, 0, 100);
	const char *sig = "w:margin";
	struct test_entry t;
	struct cache_entry e;
	float q[DIM];

	vec_make(q, 8, 0, 0);
	query_make(&t, 1, "team:a", sig, q);
	put_ok(c, &t, T0);
#define MISS(scope, ds, fp, lang, model, emb, dim)                                                \
	assert_int_equal(cache_get_semantic(c, scope, ds, fp, lang, model, emb, sig, q, dim, -1.0f, \
					    T0, &e, NULL),                                          \
			 -ENOENT)
	MISS("team:b", "demo", "fp1", "sql", "llama3.1", "local", DIM);
	MISS("team:a", "demo2", "fp1", "sql", "llama3.1", "local", DIM);
	MISS("team:a", "demo", "fp2", "sql", "llama3.1", "local", DIM);
	MISS("team:a", "demo", "fp1", "python", "llama3.1", "local", DIM);
	MISS("team:a", "demo", "fp1", "sql", "qwen2.5", "local", DIM);
	MISS("team:a", "demo", "fp1", "sql", "llama3.1", "nomic-embed-text", DIM);
	MISS("team:a", "demo", "fp1", "sql", "llama3.1", "local", DIM - 1);
#undef MISS
	assert_int_equal(cache_get_semantic(c, "team:a", "demo", "fp1", "sql", "llama3.1", "local",
					    sig, q, DIM, 0.0f, T0, &e, NULL),
			 0);
	cache_entry_release(&e);
	cache_close(c);
}

/* ------------------------------------------------------------------ */
/* Invalidation, clearing, persistence                                 */

static void invalidate_and_clear(void **state)
{
	const struct cache_fx *fx = *state;
	struct cache *c = fx_open(fx, 0, 100);
	struct test_entry t;
	float q[DIM];
	char winner[65];

	vec_make(q, 4, 0, 0);
	query_make(&t, 1, "team:a", "w:x", q); /* demo, fp1 */
	put_ok(c, &t, T0);
	query_make(&t, 2, "team:b", "w:x", q); /* demo, fp1, other scope */
	put_ok(c, &t, T0);
	plain_make(&t, 3, "team:a");
	snprintf(t.e.fingerprint, sizeof(t.e.fingerprint), "fp2");
	put_ok(c, &t, T0);
	plain_make(&t, 4, "team:a");
	snprintf(t.e.dataset, sizeof(t.e.dataset), "sales");
	put_ok(c, &t, T0);

	/* The dataset now has fingerprint fp2: entries of fp1 go, in all scopes. */
	assert_int_equal(cache_invalidate_dataset(c, "demo", "fp2"), 2);
	assert_int_equal(exact_present(c, 1, "team:a", T0), 0);
	assert_int_equal(exact_present(c, 2, "team:b", T0), 0);
	semantic_winner(c, "team:a", "w:x", q, 0.0f, T0, winner);
	assert_string_equal(winner, "");
	assert_int_equal(exact_present(c, 3, "team:a", T0), 1);
	assert_int_equal(exact_present(c, 4, "team:a", T0), 1);
	assert_int_equal(cache_invalidate_dataset(c, "demo", "fp2"), 0);
	assert_int_equal(cache_invalidate_dataset(c, "nosuch", NULL), 0);
	assert_int_equal(cache_invalidate_dataset(c, "demo", NULL), 1);
	assert_int_equal(exact_present(c, 3, "team:a", T0), 0);
	assert_int_equal(exact_present(c, 4, "team:a", T0), 1);
	assert_int_equal(cache_invalidate_dataset(c, "", NULL), -EINVAL);
	assert_int_equal(cache_invalidate_dataset(c, NULL, NULL), -EINVAL);
	assert_int_equal(stats_of(c).entries, 1);

	/* Clearing takes the rest, their usage rows and the change log. */
	query_make(&t, 5, "team:a", "w:x", q);
	put_ok(c, &t, T0);
	assert_int_equal(cache_clear(c), 2);
	assert_int_equal(stats_of(c).entries, 0);
	assert_int_equal(exact_present(c, 4, "team:a", T0), 0);
	semantic_winner(c, "team:a", "w:x", q, 0.0f, T0, winner);
	assert_string_equal(winner, "");
	assert_int_equal(cache_clear(c), 0);
	assert_int_equal(fx_sql(fx, "SELECT count(*) FROM cache_usage"), 0);
	assert_int_equal(fx_sql(fx, "SELECT count(*) FROM cache_log"), 0);
	cache_close(c);
}

static void clear_all(void **state)
{
	const struct cache_fx *fx = *state;
	struct cache *c = fx_open(fx, 0, 100);
	struct test_entry t;
	float q[DIM];
	char winner[65];

	vec_make(q, 9, 0, 0);
	for (unsigned n = 1; n <= 5; n++) {
		query_make(&t, n, "team:a", "w:y", q);
		put_ok(c, &t, T0 + n);
	}
	assert_int_equal(cache_clear(c), 5);
	assert_int_equal(stats_of(c).entries, 0);
	for (unsigned n = 1; n <= 5; n++)
		assert_int_equal(exact_present(c, n, "team:a", T0), 0);
	semantic_winner(c, "team:a", "w:y", q, -1.0f, T0, winner);
	assert_string_equal(winner, "");
	assert_int_equal(cache_clear(c), 0);
	/* Still usable afterwards. */
	query_make(&t, 6, "team:a", "w:y", q);
	put_ok(c, &t, T0 + 10);
	semantic_winner(c, "team:a", "w:y", q, 0.9f, T0 + 11, winner);
	assert_string_equal(winner, "run-6");
	cache_close(c);
}

/* The embedding is stored as little-endian float32, read here by SQL. */
/* ------------------------------------------------------------------ */
/* Two handles on one database                                         */

static void two_handles(void **state)
{
	const struct cache_fx *fx = *state;
	struct cache *a = fx_open(fx, 0, 50), *b = fx_open(fx, 0, 50);
	struct test_entry t;
	struct cache_entry e;
	float q[DIM];
	char winner[65];

	vec_make(q, 13, 0, 0);
	/* b has loaded its (empty) index: a's put must reach it, both kinds. */
	semantic_winner(b, "team:a", "w:q", q, 0.9f, T0, winner);
	assert_string_equal(winner, "");
	query_make(&t, 1, "team:a", "w:q", q);
	put_ok(a, &t, T0);
	semantic_winner(b, "team:a", "w:q", q, 0.9f, T0 + 1, winner);
	assert_string_equal(winner, "run-1");
	assert_int_equal(get_exact(b, 1, "team:a", T0 + 1, &e), 0);
	assert_int_equal(e.hits, 2); /* b's own two hits, one still in memory */
	cache_entry_release(&e);

	/* a invalidates: b's very next lookups miss, both kinds. */
	assert_int_equal(cache_invalidate_dataset(a, "demo", "fp-new"), 1);
	assert_int_equal(exact_present(b, 1, "team:a", T0 + 2), 0);
	semantic_winner(b, "team:a", "w:q", q, 0.9f, T0 + 2, winner);
	assert_string_equal(winner, "");

	/* b replaces it under another signature: a sees the move. */
	put_ok(a, &t, T0 + 3);
	semantic_winner(b, "team:a", "w:q", q, 0.9f, T0 + 3, winner);
	assert_string_equal(winner, "run-1");
	query_make(&t, 1, "team:a", "w:q2", q);
	put_ok(b, &t, T0 + 4);
	semantic_winner(a, "team:a", "w:q", q, 0.9f, T0 + 5, winner);
	assert_string_equal(winner, "");
	semantic_winner(a, "team:a", "w:q2", q, 0.9f, T0 + 5, winner);
	assert_string_equal(winner, "run-1");
	assert_int_equal(cache_invalidate_dataset(a, "demo", NULL), 1);
	semantic_winner(b, "team:a", "w:q2", q, 0.9f, T0 + 6, winner);
	assert_string_equal(winner, "");

	/* Clearing by either handle reaches the other's next lookup. */
	query_make(&t, 2, "team:a", "w:q3", q);
	put_ok(b, &t, T0 + 7);
	semantic_winner(a, "team:a", "w:q3", q, 0.9f, T0 + 8, winner);
	assert_string_equal(winner, "run-2");
	assert_int_equal(cache_clear(b), 1);
	semantic_winner(a, "team:a", "w:q3", q, 0.9f, T0 + 9, winner);
	assert_string_equal(winner, "");
	put_ok(a, &t, T0 + 10);
	query_make(&t, 3, "team:b", "w:q3", q);
	put_ok(a, &t, T0 + 10);
	assert_int_equal(exact_present(b, 3, "team:b", T0 + 11), 1);
	semantic_winner(b, "team:b", "w:q3", q, 0.9f, T0 + 11, winner);
	assert_string_equal(winner, "run-3");
	assert_int_equal(cache_clear(a), 2);
	semantic_winner(b, "team:b", "w:q3", q, 0.9f, T0 + 12, winner);
	assert_string_equal(winner, "");
	assert_int_equal(exact_present(b, 3, "team:b", T0 + 12), 0);
	assert_int_equal(stats_of(b).entries, 0);
	cache_close(a);
	cache_close(b);
}

/* Hits are noted in memory and written in batches: once CACHE_PENDING_MAX
 * (256) entries have notes, and at close. Another handle then sees them. */
static void hits_reach_the_database(void **state)
{
	const struct cache_fx *fx = *state;
	struct cache *a = fx_open(fx, 0, 1000), *b = fx_open(fx, 0, 1000);
	struct test_entry t;
	struct cache_entry e;

	for (unsigned n = 1; n <= 300; n++) {
		plain_make(&t, n, "team:a");
		put_ok(a, &t, T0);
	}
	for (unsigned n = 1; n <= 300; n++)
		assert_int_equal(exact_present(a, n, "team:a", T0 + n), 1);
	/* The first 256 were written when the 257th came. */
	assert_int_equal(get_exact(b, 1, "team:a", T0 + 400, &e), 0);
	assert_int_equal(e.hits, 2);
	cache_entry_release(&e);
	assert_int_equal(get_exact(b, 300, "team:a", T0 + 400, &e), 0);
	assert_int_equal(e.hits, 1);
	cache_entry_release(&e);
	/* a's own view counts its unwritten hits too. */
	assert_int_equal(get_exact(a, 300, "team:a", T0 + 401, &e), 0);
	assert_int_equal(e.hits, 2);
	cache_entry_release(&e);
	cache_close(a);
	cache_close(b);
	/* Closing wrote the rest: a's two hits and b's one. */
	assert_int_equal(fx_sql(fx, "SELECT hits FROM cache_usage u JOIN cache_entries e"
				    " ON e.id = u.id WHERE e.run_id = 'run-300'"),
			 3);
	a = fx_open(fx, 0, 1000);
	assert_int_equal(get_exact(a, 300, "team:a", T0 + 402, &e), 0);
	assert_int_equal(e.hits, 4);
	assert_int_equal(e.last_used_ms, T0 + 402);
	cache_entry_release(&e);
	cache_close(a);
}

/* ------------------------------------------------------------------ */
/* Counters and argument checks                                        */

static void stats_counters(void **state)
{
	const struct cache_fx *fx = *state;
	struct cache *c = fx_open(fx, 100, 2);
	struct cache_stats s;
	struct test_entry t;
	float q[DIM];
	char winner[65];

	s = stats_of(c);
	assert_int_equal(s.entries, 0);
	assert_int_equal(s.hits_exact + s.hits_semantic + s.misses + s.evictions + s.expired, 0);
	vec_make(q, 14, 0, 0);
	query_make(&t, 1, "team:a", "w:s", q);
	put_ok(c, &t, T0);
	assert_int_equal(exact_present(c, 1, "team:a", T0 + 1), 1);
	assert_int_equal(exact_present(c, 1, "team:a", T0 + 2), 1);
	assert_int_equal(exact_present(c, 9, "team:a", T0 + 2), 0);
	semantic_winner(c, "team:a", "w:s", q, 0.9f, T0 + 3, winner);
	assert_string_equal(winner, "run-1");
	cache_note_miss(c);
	plain_make(&t, 2, "team:a");
	put_ok(c, &t, T0 + 50);
	plain_make(&t, 3, "team:a");
	put_ok(c, &t, T0 + 60); /* 1 (last used T0 + 3) goes: LRU */
	plain_make(&t, 4, "team:a");
	put_ok(c, &t, T0 + 155); /* 2 (stored T0 + 50) has expired */
	s = stats_of(c);
	assert_int_equal(s.entries, 2);
	assert_int_equal(s.hits_exact, 2);
	assert_int_equal(s.hits_semantic, 1);
	assert_int_equal(s.misses, 1);
	assert_int_equal(s.evictions, 1);
	assert_int_equal(s.expired, 1);
	cache_stats(NULL, &s);
	cache_note_miss(NULL);
	cache_close(NULL);
	cache_close(c);
}

static void bad_arguments(void **state)
{
	const struct cache_fx *fx = *state;
	struct cache_limits big = { 0, (uint64_t)CACHE_ENTRIES_MAX + 1 };
	struct cache *c = fx_open(fx, 0, 10), *none = NULL;
	struct test_entry t;
	struct cache_entry e;
	float q[DIM];
	char *huge;

	assert_int_equal(cache_open_url(fx->dir ? fx->dir : "/nonexistent", fx->url, &big, &none,
					NULL, 0),
			 -EINVAL);
	assert_null(none);
	assert_int_equal(cache_open("", NULL, &none, NULL, 0), -EINVAL);
	vec_make(q, 15, 0, 0);

	plain_make(&t, 1, "team:a");
	t.e.key[10] = 'G';
	assert_int_equal(cache_put(c, &t.e, T0), -EINVAL);
	plain_make(&t, 1, "team:a");
	t.e.key[63] = '\0';
	assert_int_equal(cache_put(c, &t.e, T0), -EINVAL);
	plain_make(&t, 1, "");
	assert_int_equal(cache_put(c, &t.e, T0), -EINVAL);
	plain_make(&t, 1, "team:a");
	memset(t.e.model, 'm', sizeof(t.e.model)); /* not terminated */
	assert_int_equal(cache_put(c, &t.e, T0), -EINVAL);
	plain_make(&t, 1, "team:a");
	snprintf(t.e.language, sizeof(t.e.language), "r");
	assert_int_equal(cache_put(c, &t.e, T0), -EINVAL);
	plain_make(&t, 1, "team:a");
	t.e.result = NULL;
	assert_int_equal(cache_put(c, &t.e, T0), -EINVAL);
	plain_make(&t, 1, "team:a");
	assert_int_equal(cache_put(c, &t.e, -1), -EINVAL);
	assert_int_equal(cache_put(NULL, &t.e, T0), -EINVAL);
	assert_int_equal(cache_put(c, NULL, T0), -EINVAL);
	query_make(&t, 1, "team:a", "w:a", q);
	t.vec[3] = NAN;
	assert_int_equal(cache_put(c, &t.e, T0), -EINVAL);
	query_make(&t, 1, "team:a", "w:a", q);
	t.e.embedding = NULL;
	assert_int_equal(cache_put(c, &t.e, T0), -EINVAL);
	query_make(&t, 1, "team:a", "w:a", q);
	t.e.dim = CACHE_DIM_MAX + 1;
	assert_int_equal(cache_put(c, &t.e, T0), -E2BIG);

	/* A result one byte over 16 MiB is refused; exactly 16 MiB is kept. */
	huge = malloc(CACHE_RESULT_MAX + 2);
	assert_non_null(huge);
	memset(huge, 'x', CACHE_RESULT_MAX + 1);
	huge[CACHE_RESULT_MAX + 1] = '\0';
	plain_make(&t, 2, "team:a");
	t.e.result = huge;
	assert_int_equal(cache_put(c, &t.e, T0), -E2BIG);
	huge[CACHE_RESULT_MAX] = '\0';
	assert_int_equal(cache_put(c, &t.e, T0), 0);
	assert_int_equal(get_exact(c, 2, "team:a", T0, &e), 0);
	assert_int_equal(strlen(e.result), CACHE_RESULT_MAX);
	cache_entry_release(&e);
	free(huge);
	assert_int_equal(stats_of(c).entries, 1); /* nothing refused was stored */

	assert_int_equal(cache_get_exact(c, "abc", "team:a", T0, &e), -EINVAL);
	assert_int_equal(get_exact(c, 2, NULL, T0, &e), -EINVAL);
	assert_int_equal(get_exact(c, 2, "team:a", -5, &e), -EINVAL);
	assert_int_equal(cache_get_semantic(c, "team:a", "demo", "fp1", "sql", "m", "local", "w:a",
					    q, 0, 0.5f, T0, &e, NULL),
			 -EINVAL);
	assert_int_equal(cache_get_semantic(c, "team:a", "demo", "fp1", "sql", "m", "local", "w:a",
					    NULL, DIM, 0.5f, T0, &e, NULL),
			 -EINVAL);
	assert_int_equal(cache_get_semantic(c, "team:a", "demo", "fp1", "cobol", "m", "local",
					    "w:a", q, DIM, 0.5f, T0, &e, NULL),
			 -EINVAL);
	assert_int_equal(cache_get_semantic(c, "team:a", NULL, "fp1", "sql", "m", "local", "w:a", q,
					    DIM, 0.5f, T0, &e, NULL),
			 -EINVAL);
	assert_int_equal(cache_get_semantic(c, "team:a", "demo", "fp1", "sql", "m", "local", "w:a",
					    q, DIM, NAN, T0, &e, NULL),
			 -EINVAL);
	cache_close(c);
}

/* ------------------------------------------------------------------ */
/* Eight threads                                                       */

#define THREADS 8
#define ROUNDS 150

struct worker {
	struct cache *c;
	unsigned id;
	int failures;     /* unexpected return codes */
	unsigned hits;    /* successful lookups of this thread */
	unsigned wrong;   /* lookups that returned another entry than asked */
};

/* Each thread stores its own entries and one shared key, and reads its
 * own back (exact and semantic), the shared one, and its neighbour's key in
 * its own scope (the neighbour stores in the other one). */
static void worker_check(struct worker *w, int r, struct cache_entry *e, unsigned n)
{
	char want[32];

	if (r < 0) {
		w->failures++;
		return;
	}
	snprintf(want, sizeof(want), "run-%u", n);
	w->hits++;
	w->wrong += strcmp(e->run_id, want) != 0;
	cache_entry_release(e);
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	char scope[32], sig[32];
	struct test_entry t;
	struct cache_entry e;

	snprintf(scope, sizeof(scope), "team:t%u", w->id % 2);
	snprintf(sig, sizeof(sig), "w:thread%u", w->id);
	for (unsigned i = 0; i < ROUNDS; i++) {
		unsigned n = w->id * 10000 + i, peer = ((w->id + 1) % THREADS) * 10000 + i / 2;
		float v[DIM];
		int r;

		vec_make(v, n, 0, 0);
		query_make(&t, n, scope, sig, v);
		if (cache_put(w->c, &t.e, T0 + i) < 0)
			w->failures++;
		plain_make(&t, 999999, "team:shared");
		if (cache_put(w->c, &t.e, T0 + i) < 0)
			w->failures++;
		worker_check(w, get_exact(w->c, n, scope, T0 + i, &e), &e, n);
		worker_check(w, semantic(w->c, scope, sig, v, 0.999f, T0 + i, &e, NULL), &e, n);
		worker_check(w, get_exact(w->c, 999999, "team:shared", T0 + i, &e), &e, 999999);
		r = get_exact(w->c, peer, scope, T0 + i, &e);
		if (r != -ENOENT)
			w->failures++;
		if (r == 0)
			cache_entry_release(&e);
	}
	return NULL;
}

static void threads_at_once(void **state)
{
	const struct cache_fx *fx = *state;
	struct cache *node[2];
	struct worker w[THREADS];
	pthread_t tid[THREADS];
	struct cache_stats s0, s1;
	unsigned hits = 0;

	node[0] = fx_open(fx, 0, 100000);
	node[1] = fx_open(fx, 0, 100000);
	memset(w, 0, sizeof(w));
	for (unsigned i = 0; i < THREADS; i++) {
		/* Six threads share one handle; two more use a second one. */
		w[i].c = node[i < 6 ? 0 : 1];
		w[i].id = i;
		assert_int_equal(pthread_create(&tid[i], NULL, worker_run, &w[i]), 0);
	}
	for (unsigned i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
		assert_int_equal(w[i].wrong, 0);
		hits += w[i].hits;
	}
	assert_int_equal(hits, THREADS * ROUNDS * 3);
	s0 = stats_of(node[0]);
	s1 = stats_of(node[1]);
	assert_int_equal(s0.hits_exact + s1.hits_exact, THREADS * ROUNDS * 2);
	assert_int_equal(s0.hits_semantic + s1.hits_semantic, THREADS * ROUNDS);
	assert_int_equal(s0.entries, THREADS * ROUNDS + 1);
	assert_int_equal(s1.entries, THREADS * ROUNDS + 1);
	/* Both indexes agree with the table: every thread's last entry is
	 * found semantically through either handle. */
	for (unsigned i = 0; i < THREADS; i++) {
		char scope[32], sig[32], want[32], winner[65];
		float v[DIM];

		snprintf(scope, sizeof(scope), "team:t%u", i % 2);
		snprintf(sig, sizeof(sig), "w:thread%u", i);
		snprintf(want, sizeof(want), "run-%u", i * 10000 + ROUNDS - 1);
		vec_make(v, i * 10000 + ROUNDS - 1, 0, 0);
		semantic_winner(node[0], scope, sig, v, 0.999f, T0 + ROUNDS, winner);
		assert_string_equal(winner, want);
		semantic_winner(node[1], scope, sig, v, 0.999f, T0 + ROUNDS, winner);
		assert_string_equal(winner, want);
	}
	cache_close(node[0]);
	cache_close(node[1]);
}

/* The cases above, for a program's array of tests; setup makes the
 * fixture in *state and teardown removes it. */
#define CACHE_CASES(setup, teardown)                                           \
	cmocka_unit_test_setup_teardown(put_get_exact, setup, teardown),               \
	cmocka_unit_test_setup_teardown(scope_isolation, setup, teardown),             \
	cmocka_unit_test_setup_teardown(ttl_expiry, setup, teardown),                  \
	cmocka_unit_test_setup_teardown(lru_eviction, setup, teardown),                \
	cmocka_unit_test_setup_teardown(semantic_best_and_threshold, setup, teardown), \
	cmocka_unit_test_setup_teardown(signature_must_be_equal, setup, teardown),     \
	cmocka_unit_test_setup_teardown(other_group_fields_miss, setup, teardown),     \
	cmocka_unit_test_setup_teardown(invalidate_and_clear, setup, teardown),        \
	cmocka_unit_test_setup_teardown(clear_all, setup, teardown),                   \
	cmocka_unit_test_setup_teardown(two_handles, setup, teardown),                 \
	cmocka_unit_test_setup_teardown(hits_reach_the_database, setup, teardown),     \
	cmocka_unit_test_setup_teardown(stats_counters, setup, teardown),              \
	cmocka_unit_test_setup_teardown(bad_arguments, setup, teardown),               \
	cmocka_unit_test_setup_teardown(threads_at_once, setup, teardown)

#endif
