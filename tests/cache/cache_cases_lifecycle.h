/*
 * cache_cases_lifecycle: the shared cache cases about how entries leave
 * and how the store is shared: TTL expiry, LRU eviction, invalidation and
 * clearing, two handles ("nodes") on one database, hits written in
 * batches, and eight threads at once. Part of cache_cases.h, which has the
 * fixture and helpers these use and lists the cases for the programs.
 */
#ifndef LEDGERBOX_TESTS_CACHE_CASES_LIFECYCLE_H
#define LEDGERBOX_TESTS_CACHE_CASES_LIFECYCLE_H

#include "cache/cache_cases.h"

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

#endif
