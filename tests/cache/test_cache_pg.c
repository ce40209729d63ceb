/*
 * Tests of the result cache on PostgreSQL (cache_open_url() with a
 * postgres:// URL): the behaviours test_cache_store.c checks on SQLite
 * (exact and semantic lookups, scopes, expiry, LRU eviction, invalidation,
 * clearing, hit counts, counters), then what several nodes sharing one
 * database need: one node's puts found by another, one node's
 * invalidation or clear seen by the other's very next lookup, a stale
 * in-memory candidate never served, concurrent puts from two nodes within
 * max_entries, nodes starting at once, and a lost connection re-made.
 *
 * Each test works in a fresh database (pgtest.h). Times are injected
 * instants, never the clock; vectors are made by hand and expected
 * similarities computed with sem_cosine(), the function the cache decides
 * with.
 */
#include "testlib.h"

#include <pthread.h>

#include "support/pgtest.h"

#include "cache/cache.h"
#include "cache/semantic.h"

#define DIM 16
#define T0 INT64_C(1700000000000)

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

static struct cache *open_url(const char *url, uint64_t ttl_ms, uint64_t max_entries)
{
	struct cache_limits l = { ttl_ms, max_entries };
	char err[512] = "";
	struct cache *c = NULL;
	int r = cache_open_url("/nonexistent", url, &l, &c, err, sizeof(err));

	if (r < 0)
		fail_msg("cache_open_url: %d %s", r, err);
	return c;
}

/* Runs one statement on the test database; returns the first value of a
 * one-row answer as a number (0 otherwise). */
static long long db_sql(const char *url, const char *sql)
{
	PGconn *c = PQconnectdb(url);
	PGresult *res;
	long long v = 0;

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("connect: %s", PQerrorMessage(c));
	res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	PQfinish(c);
	return v;
}

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

static int semantic(struct cache *c, const char *scope, const char *signature, const float q[DIM],
		    float min_sim, int64_t now_ms, struct cache_entry *ret, float *ret_sim)
{
	return cache_get_semantic(c, scope, "demo", "fp1", "sql", "llama3.1", "local", signature, q,
				  DIM, min_sim, now_ms, ret, ret_sim);
}

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
/* One node: the SQLite back end's behaviours                          */

static void put_get_exact(void **state)
{
	char url[PGT_URL_MAX];
	struct cache *c;
	struct test_entry t;
	struct cache_entry e;
	(void)state;

	pgt_db_create("cachepg", url);
	c = open_url(url, 0, 100);
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

	/* Storing the same key again replaces the entry; hits start over. */
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
	assert_int_equal(db_sql(url, "SELECT count(*) FROM cache_entries"), 2);
	cache_close(c);

	/* Reopening migrates nothing twice and finds the entries. */
	c = open_url(url, 0, 100);
	assert_int_equal(exact_present(c, 2, "team:finance", T0), 1);
	assert_int_equal(db_sql(url, "SELECT version FROM ledgerbox_schema WHERE part = 'cache'"),
			 1);
	cache_close(c);
	pgt_db_drop(url);
}

static void scope_isolation(void **state)
{
	char url[PGT_URL_MAX], winner[65];
	struct cache *c;
	struct test_entry t;
	struct cache_entry e;
	float q[DIM];
	(void)state;

	pgt_db_create("cachepg", url);
	c = open_url(url, 0, 100);
	vec_make(q, 7, 0, 0);
	query_make(&t, 1, "team:a", "w:revenue", q);
	put_ok(c, &t, T0);
	assert_int_equal(exact_present(c, 1, "team:b", T0), 0);
	semantic_winner(c, "team:b", "w:revenue", q, 0.5f, T0, winner);
	assert_string_equal(winner, "");
	semantic_winner(c, "team:a", "w:revenue", q, 0.5f, T0, winner);
	assert_string_equal(winner, "run-1");

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
	pgt_db_drop(url);
}

static void ttl_expiry(void **state)
{
	char url[PGT_URL_MAX], winner[65];
	struct cache *c;
	struct test_entry t;
	float q[DIM];
	(void)state;

	pgt_db_create("cachepg", url);
	c = open_url(url, 1000, 100);
	vec_make(q, 3, 0, 0);
	query_make(&t, 1, "team:a", "w:cash", q);
	put_ok(c, &t, T0);
	assert_int_equal(exact_present(c, 1, "team:a", T0 + 999), 1);
	semantic_winner(c, "team:a", "w:cash", q, 0.9f, T0 + 999, winner);
	assert_string_equal(winner, "run-1");
	assert_int_equal(exact_present(c, 1, "team:a", T0 + 1000), 0);
	semantic_winner(c, "team:a", "w:cash", q, 0.9f, T0 + 1000, winner);
	assert_string_equal(winner, "");
	assert_int_equal(stats_of(c).entries, 1); /* still stored until a put */

	plain_make(&t, 2, "team:a");
	put_ok(c, &t, T0 + 1500);
	assert_int_equal(stats_of(c).entries, 1);
	assert_int_equal(stats_of(c).expired, 1);
	assert_int_equal(stats_of(c).evictions, 0);
	assert_int_equal(exact_present(c, 2, "team:a", T0 + 2499), 1);
	cache_close(c);

	c = open_url(url, 0, 100); /* ttl 0: nothing expires */
	assert_int_equal(exact_present(c, 2, "team:a", INT64_C(4000000000000)), 1);
	cache_close(c);
	pgt_db_drop(url);
}

static void lru_eviction(void **state)
{
	char url[PGT_URL_MAX], winner[65];
	struct cache *c;
	struct test_entry t;
	float q[DIM];
	(void)state;

	pgt_db_create("cachepg", url);
	c = open_url(url, 0, 3);
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
	plain_make(&t, 5, "team:a");
	put_ok(c, &t, T0 + 7);
	assert_int_equal(exact_present(c, 3, "team:a", T0 + 8), 0);
	assert_int_equal(stats_of(c).evictions, 2);

	/* A semantic hit saves an entry as well. */
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

	/* The entry just stored is kept even when its clock is behind. */
	plain_make(&t, 14, "team:a");
	put_ok(c, &t, T0);
	assert_int_equal(exact_present(c, 14, "team:a", T0 + 107), 1);
	assert_int_equal(stats_of(c).entries, 3);
	cache_close(c);

	/* A smaller limit evicts the least recently used at open. */
	c = open_url(url, 0, 1);
	assert_int_equal(stats_of(c).entries, 1);
	assert_int_equal(stats_of(c).evictions, 2);
	assert_int_equal(exact_present(c, 14, "team:a", T0 + 108), 1);
	assert_int_equal(db_sql(url, "SELECT count(*) FROM cache_usage"), 1);
	cache_close(c);
	pgt_db_drop(url);
}

static void semantic_matching(void **state)
{
	char url[PGT_URL_MAX], winner[65];
	struct cache *c;
	struct test_entry near, far, other, t;
	struct cache_entry e;
	float q[DIM], v_near[DIM], v_far[DIM], v_other[DIM], sim = -2, want;
	(void)state;

	pgt_db_create("cachepg", url);
	c = open_url(url, 0, 100);
	vec_make(q, 21, 0, 0);
	vec_make(v_near, 21, 1, 0.05f);
	vec_make(v_far, 21, 2, 0.4f);
	vec_make(v_other, 99, 0, 0);
	want = sem_cosine(q, v_near, DIM);
	assert_true(want > sem_cosine(q, v_far, DIM));
	query_make(&far, 1, "team:a", "w:revenue", v_far);
	query_make(&near, 2, "team:a", "w:revenue", v_near);
	query_make(&other, 3, "team:a", "w:revenue", v_other);
	put_ok(c, &far, T0);
	put_ok(c, &near, T0);
	put_ok(c, &other, T0);

	assert_int_equal(semantic(c, "team:a", "w:revenue", q, 0.5f, T0 + 5, &e, &sim), 0);
	assert_string_equal(e.run_id, "run-2");
	assert_int_equal(e.hits, 1);
	assert_int_equal(e.last_used_ms, T0 + 5);
	assert_true(sim == want);
	cache_entry_release(&e);
	/* The threshold is inclusive. */
	assert_int_equal(semantic(c, "team:a", "w:revenue", q, want, T0, &e, NULL), 0);
	assert_int_equal(e.hits, 2);
	cache_entry_release(&e);
	assert_int_equal(semantic(c, "team:a", "w:revenue", q, float_above(want), T0, &e, NULL),
			 -ENOENT);

	/* Signatures must be byte-equal; other group fields miss. */
	semantic_winner(c, "team:a", "w:Revenue", q, -1.0f, T0, winner);
	assert_string_equal(winner, "");
	assert_int_equal(semantic(c, "team:a", "", q, -1.0f, T0, &e, NULL), -ENOENT);
	assert_int_equal(cache_get_semantic(c, "team:a", "demo", "fp2", "sql", "llama3.1", "local",
					    "w:revenue", q, DIM, -1.0f, T0, &e, NULL),
			 -ENOENT);
	assert_int_equal(cache_get_semantic(c, "team:a", "demo", "fp1", "sql", "llama3.1", "local",
					    "w:revenue", q, DIM - 1, -1.0f, T0, &e, NULL),
			 -ENOENT);

	/* Replacing an entry moves it to its new group. */
	query_make(&t, 2, "team:a", "w:cost", v_near);
	put_ok(c, &t, T0 + 6);
	semantic_winner(c, "team:a", "w:cost", q, 0.5f, T0 + 7, winner);
	assert_string_equal(winner, "run-2");
	semantic_winner(c, "team:a", "w:revenue", q, 0.5f, T0 + 7, winner);
	assert_string_equal(winner, "run-1"); /* far is the best left */

	assert_int_equal(cache_get_semantic(c, "team:a", NULL, "fp1", "sql", "m", "local", "w:a", q,
					    DIM, 0.5f, T0, &e, NULL),
			 -EINVAL);
	cache_close(c);
	pgt_db_drop(url);
}

static void invalidate_and_clear(void **state)
{
	char url[PGT_URL_MAX], winner[65];
	struct cache *c;
	struct test_entry t;
	float q[DIM];
	(void)state;

	pgt_db_create("cachepg", url);
	c = open_url(url, 0, 100);
	vec_make(q, 4, 0, 0);
	query_make(&t, 1, "team:a", "w:x", q);
	put_ok(c, &t, T0);
	query_make(&t, 2, "team:b", "w:x", q);
	put_ok(c, &t, T0);
	plain_make(&t, 3, "team:a");
	snprintf(t.e.fingerprint, sizeof(t.e.fingerprint), "fp2");
	put_ok(c, &t, T0);
	plain_make(&t, 4, "team:a");
	snprintf(t.e.dataset, sizeof(t.e.dataset), "sales");
	put_ok(c, &t, T0);

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
	assert_int_equal(exact_present(c, 4, "team:a", T0), 1);
	assert_int_equal(cache_invalidate_dataset(c, "", NULL), -EINVAL);

	query_make(&t, 5, "team:a", "w:x", q);
	put_ok(c, &t, T0);
	assert_int_equal(cache_clear(c), 2);
	assert_int_equal(stats_of(c).entries, 0);
	assert_int_equal(exact_present(c, 4, "team:a", T0), 0);
	semantic_winner(c, "team:a", "w:x", q, 0.0f, T0, winner);
	assert_string_equal(winner, "");
	assert_int_equal(cache_clear(c), 0);
	assert_int_equal(db_sql(url, "SELECT count(*) FROM cache_usage"), 0);
	assert_int_equal(db_sql(url, "SELECT count(*) FROM cache_log"), 0);
	cache_close(c);
	pgt_db_drop(url);
}

static void stats_counters(void **state)
{
	char url[PGT_URL_MAX], winner[65];
	struct cache *c;
	struct cache_stats s;
	struct test_entry t;
	float q[DIM];
	(void)state;

	pgt_db_create("cachepg", url);
	c = open_url(url, 100, 2);
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
	cache_close(c);
	pgt_db_drop(url);
}

static void open_arguments(void **state)
{
	struct cache_limits big = { 0, (uint64_t)CACHE_ENTRIES_MAX + 1 };
	char url[PGT_URL_MAX], err[256] = "", *dir;
	struct cache *c = NULL;
	(void)state;

	assert_int_equal(cache_open_url("/nonexistent", "mysql://x/y", NULL, &c, err, sizeof(err)),
			 -EINVAL);
	assert_null(c);
	assert_non_null(strstr(err, "postgres://"));
	pgt_db_create("cachepg", url);
	assert_int_equal(cache_open_url("/nonexistent", url, &big, &c, NULL, 0), -EINVAL);
	assert_null(c);
	/* No URL: the SQLite cache in the state directory. */
	assert_true(asprintf(&dir, "%s/cachepg-%ld", tl_tmp(), (long)getpid()) > 0);
	assert_int_equal(cache_open_url(dir, "", NULL, &c, err, sizeof(err)), 0);
	cache_close(c);
	c = NULL;
	assert_int_equal(cache_open_url(dir, NULL, NULL, &c, err, sizeof(err)), 0);
	cache_close(c);
	free(dir);
	pgt_db_drop(url);
}

/* ------------------------------------------------------------------ */
/* Two nodes on one database                                           */

static void two_nodes(void **state)
{
	char url[PGT_URL_MAX], winner[65];
	struct cache *a, *b;
	struct test_entry t;
	struct cache_entry e;
	float q[DIM];
	(void)state;

	pgt_db_create("cachepg", url);
	a = open_url(url, 0, 50);
	b = open_url(url, 0, 50);
	vec_make(q, 13, 0, 0);
	semantic_winner(b, "team:a", "w:q", q, 0.9f, T0, winner); /* b's index is loaded */
	assert_string_equal(winner, "");

	/* A puts, B finds it, exact and semantic. */
	query_make(&t, 1, "team:a", "w:q", q);
	put_ok(a, &t, T0);
	semantic_winner(b, "team:a", "w:q", q, 0.9f, T0 + 1, winner);
	assert_string_equal(winner, "run-1");
	assert_int_equal(get_exact(b, 1, "team:a", T0 + 1, &e), 0);
	assert_int_equal(e.hits, 2); /* b's own two hits, one still in memory */
	cache_entry_release(&e);

	/* A invalidates: B's very next lookups miss, both kinds. */
	assert_int_equal(cache_invalidate_dataset(a, "demo", "fp-new"), 1);
	assert_int_equal(exact_present(b, 1, "team:a", T0 + 2), 0);
	semantic_winner(b, "team:a", "w:q", q, 0.9f, T0 + 2, winner);
	assert_string_equal(winner, "");

	/* B replaces under another signature: A sees the move. */
	put_ok(a, &t, T0 + 3);
	semantic_winner(b, "team:a", "w:q", q, 0.9f, T0 + 3, winner);
	assert_string_equal(winner, "run-1");
	query_make(&t, 1, "team:a", "w:q2", q);
	put_ok(b, &t, T0 + 4);
	semantic_winner(a, "team:a", "w:q", q, 0.9f, T0 + 5, winner);
	assert_string_equal(winner, "");
	semantic_winner(a, "team:a", "w:q2", q, 0.9f, T0 + 5, winner);
	assert_string_equal(winner, "run-1");

	/* A clears: B's very next lookups miss. */
	query_make(&t, 2, "team:b", "w:q3", q);
	put_ok(a, &t, T0 + 6);
	assert_int_equal(exact_present(b, 2, "team:b", T0 + 7), 1);
	semantic_winner(b, "team:b", "w:q3", q, 0.9f, T0 + 7, winner);
	assert_string_equal(winner, "run-2");
	assert_int_equal(cache_clear(a), 2);
	semantic_winner(b, "team:b", "w:q3", q, 0.9f, T0 + 8, winner);
	assert_string_equal(winner, "");
	assert_int_equal(exact_present(b, 2, "team:b", T0 + 8), 0);
	assert_int_equal(stats_of(b).entries, 0);
	cache_close(a);
	cache_close(b);
	pgt_db_drop(url);
}

/* A candidate the in-memory index still holds is read again from the
 * table: a row dropped behind the change log's back (triggers off) is
 * never served. */
static void stale_candidate_not_served(void **state)
{
	char url[PGT_URL_MAX], winner[65];
	struct cache *c;
	struct test_entry t;
	float q[DIM];
	(void)state;

	pgt_db_create("cachepg", url);
	c = open_url(url, 0, 50);
	vec_make(q, 17, 0, 0);
	query_make(&t, 1, "team:a", "w:stale", q);
	put_ok(c, &t, T0);
	semantic_winner(c, "team:a", "w:stale", q, 0.9f, T0, winner);
	assert_string_equal(winner, "run-1");
	db_sql(url, "SET session_replication_role = replica;"
		    " DELETE FROM cache_entries; DELETE FROM cache_usage");
	semantic_winner(c, "team:a", "w:stale", q, 0.9f, T0 + 1, winner);
	assert_string_equal(winner, "");
	assert_int_equal(exact_present(c, 1, "team:a", T0 + 1), 0);
	cache_close(c);
	pgt_db_drop(url);
}

/* Hits noted in memory reach the table once 256 entries have notes, and
 * at close; the other node then sees them. */
static void hits_reach_the_database(void **state)
{
	char url[PGT_URL_MAX];
	struct cache *a, *b;
	struct test_entry t;
	struct cache_entry e;
	(void)state;

	pgt_db_create("cachepg", url);
	a = open_url(url, 0, 1000);
	b = open_url(url, 0, 1000);
	for (unsigned n = 1; n <= 300; n++) {
		plain_make(&t, n, "team:a");
		put_ok(a, &t, T0);
	}
	for (unsigned n = 1; n <= 300; n++)
		assert_int_equal(exact_present(a, n, "team:a", T0 + n), 1);
	assert_int_equal(get_exact(b, 1, "team:a", T0 + 400, &e), 0);
	assert_int_equal(e.hits, 2);
	cache_entry_release(&e);
	assert_int_equal(get_exact(b, 300, "team:a", T0 + 400, &e), 0);
	assert_int_equal(e.hits, 1);
	cache_entry_release(&e);
	cache_close(a);
	cache_close(b);
	assert_int_equal(db_sql(url, "SELECT hits FROM cache_usage u JOIN cache_entries e"
				     " ON e.id = u.id WHERE e.run_id = 'run-300'"),
			 2);
	a = open_url(url, 0, 1000);
	assert_int_equal(get_exact(a, 300, "team:a", T0 + 402, &e), 0);
	assert_int_equal(e.hits, 3);
	assert_int_equal(e.last_used_ms, T0 + 402);
	cache_entry_release(&e);
	cache_close(a);
	pgt_db_drop(url);
}

/* More changes than the log keeps: the next put cuts the log back, and the
 * other node, further behind than the log reaches, reloads its index and
 * agrees with the table. The 18000 changes are made in two statements
 * (the triggers log them as for any other writer) to keep the test short. */
static void log_trimmed_reload(void **state)
{
	char url[PGT_URL_MAX], winner[65];
	struct cache *a, *b;
	struct test_entry t;
	float q[DIM], v[DIM];
	(void)state;

	pgt_db_create("cachepg", url);
	a = open_url(url, 0, 20000);
	b = open_url(url, 0, 20000);
	vec_make(q, 5, 0, 0);
	query_make(&t, 1, "team:a", "w:old", q);
	put_ok(b, &t, T0);
	semantic_winner(a, "team:a", "w:old", q, 0.99f, T0, winner);
	assert_string_equal(winner, "run-1");
	db_sql(url, "INSERT INTO cache_entries (key, scope, dataset, fingerprint, language, model,"
		    " embed_model, signature, query_norm, code, result, run_id, created_ms)"
		    " SELECT lpad(to_hex(g), 64, '0'), 'team:bulk', 'demo', 'fp1', 'sql', '', '',"
		    " '', '', 'SELECT 1', '{}', 'bulk', 1 FROM generate_series(100000, 108999) g");
	db_sql(url, "DELETE FROM cache_entries");
	assert_true(db_sql(url, "SELECT seq FROM cache_meta") > 18000);
	vec_make(v, 5, 1, 0.01f);
	query_make(&t, 2, "team:a", "w:new", v);
	put_ok(b, &t, T0 + 1); /* cuts the log back */
	assert_true(db_sql(url, "SELECT log_floor FROM cache_meta") > 9000);
	assert_int_equal(db_sql(url, "SELECT count(*) FROM cache_log"), 8192);
	semantic_winner(a, "team:a", "w:new", q, 0.9f, T0 + 2, winner);
	assert_string_equal(winner, "run-2");
	semantic_winner(a, "team:a", "w:old", q, 0.0f, T0 + 2, winner);
	assert_string_equal(winner, "");
	assert_int_equal(stats_of(a).entries, 1);
	cache_close(a);
	cache_close(b);
	pgt_db_drop(url);
}

#define THREADS 6
#define ROUNDS 60
#define THREAD_MAX 25

struct worker {
	struct cache *c;
	unsigned id;
	int failures;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	char sig[32];
	struct test_entry t;

	snprintf(sig, sizeof(sig), "w:thread%u", w->id);
	for (unsigned i = 0; i < ROUNDS; i++) {
		unsigned n = w->id * 10000 + i;
		float v[DIM];

		vec_make(v, n, 0, 0);
		query_make(&t, n, "team:t", sig, v);
		if (cache_put(w->c, &t.e, T0 + i) < 0)
			w->failures++;
	}
	return NULL;
}

/* Puts from two nodes in threads at once: the limit holds in the end, and
 * both nodes' indexes agree with the table. */
static void concurrent_puts_respect_max(void **state)
{
	char url[PGT_URL_MAX], want[32];
	struct cache *node[2];
	struct worker w[THREADS];
	pthread_t tid[THREADS];
	float v[DIM];
	(void)state;

	pgt_db_create("cachepg", url);
	node[0] = open_url(url, 0, THREAD_MAX);
	node[1] = open_url(url, 0, THREAD_MAX);
	memset(w, 0, sizeof(w));
	for (unsigned i = 0; i < THREADS; i++) {
		w[i].c = node[i % 2];
		w[i].id = i;
		assert_int_equal(pthread_create(&tid[i], NULL, worker_run, &w[i]), 0);
	}
	for (unsigned i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	assert_int_equal(db_sql(url, "SELECT count(*) FROM cache_entries"), THREAD_MAX);
	assert_int_equal(db_sql(url, "SELECT count(*) FROM cache_usage"), THREAD_MAX);
	assert_int_equal(stats_of(node[0]).entries, THREAD_MAX);
	assert_int_equal(stats_of(node[0]).evictions + stats_of(node[1]).evictions,
			 THREADS * ROUNDS - THREAD_MAX);
	/* Each thread's last put is among the most recent, so kept; both
	 * nodes find it. */
	for (unsigned i = 0; i < THREADS; i++) {
		char sig[32];

		snprintf(sig, sizeof(sig), "w:thread%u", i);
		snprintf(want, sizeof(want), "run-%u", i * 10000 + ROUNDS - 1);
		vec_make(v, i * 10000 + ROUNDS - 1, 0, 0);
		for (int k = 0; k < 2; k++) {
			struct cache_entry e;
			int r = cache_get_semantic(node[k], "team:t", "demo", "fp1", "sql",
						   "llama3.1", "local", sig, v, DIM, 0.999f,
						   T0 + ROUNDS, &e, NULL);

			assert_int_equal(r, 0);
			assert_string_equal(e.run_id, want);
			cache_entry_release(&e);
		}
	}
	cache_close(node[0]);
	cache_close(node[1]);
	pgt_db_drop(url);
}

struct opener {
	const char *url;
	int r;
};

static void *opener_run(void *arg)
{
	struct opener *o = arg;
	struct cache_limits l = { 0, 10 };
	struct cache *c = NULL;
	char err[256];

	o->r = cache_open_url("/nonexistent", o->url, &l, &c, err, sizeof(err));
	cache_close(c);
	return NULL;
}

/* Nodes starting at once on a new database migrate it exactly once. */
static void concurrent_open(void **state)
{
	char url[PGT_URL_MAX];
	struct opener o[4];
	pthread_t tid[4];
	(void)state;

	pgt_db_create("cachepg", url);
	for (int i = 0; i < 4; i++) {
		o[i].url = url;
		o[i].r = 1;
		assert_int_equal(pthread_create(&tid[i], NULL, opener_run, &o[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		assert_int_equal(o[i].r, 0);
	}
	assert_int_equal(db_sql(url, "SELECT count(*) FROM cache_meta"), 1);
	pgt_db_drop(url);
}

/* The server ends the cache's connection: the next calls reconnect. */
static void reconnects(void **state)
{
	char url[PGT_URL_MAX], sql[256], winner[65];
	const char *name;
	struct cache *c;
	struct test_entry t;
	float q[DIM];
	(void)state;

	pgt_db_create("cachepg", url);
	name = strrchr(url, '/') + 1;
	c = open_url(url, 0, 50);
	vec_make(q, 23, 0, 0);
	query_make(&t, 1, "team:a", "w:r", q);
	put_ok(c, &t, T0);
	snprintf(sql, sizeof(sql),
		 "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
		 " WHERE datname = '%s' AND pid <> pg_backend_pid()",
		 name);
	assert_int_equal(db_sql(url, sql), 1);
	assert_int_equal(exact_present(c, 1, "team:a", T0 + 1), 1);
	db_sql(url, sql);
	query_make(&t, 2, "team:a", "w:r", q);
	put_ok(c, &t, T0 + 2);
	db_sql(url, sql);
	semantic_winner(c, "team:a", "w:r", q, 0.9f, T0 + 3, winner);
	assert_string_equal(winner, "run-2");
	db_sql(url, sql);
	assert_int_equal(cache_clear(c), 2);
	cache_close(c);
	pgt_db_drop(url);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(put_get_exact),
		cmocka_unit_test(scope_isolation),
		cmocka_unit_test(ttl_expiry),
		cmocka_unit_test(lru_eviction),
		cmocka_unit_test(semantic_matching),
		cmocka_unit_test(invalidate_and_clear),
		cmocka_unit_test(stats_counters),
		cmocka_unit_test(open_arguments),
		cmocka_unit_test(two_nodes),
		cmocka_unit_test(stale_candidate_not_served),
		cmocka_unit_test(hits_reach_the_database),
		cmocka_unit_test(log_trimmed_reload),
		cmocka_unit_test(concurrent_puts_respect_max),
		cmocka_unit_test(concurrent_open),
		cmocka_unit_test(reconnects),
	};

	return cmocka_run_group_tests_name("cache_pg", tests, NULL, NULL);
}
