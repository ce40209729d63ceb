/*
 * cache_cases_lookup: the shared cache cases about what a lookup answers:
 * exact lookups and scopes, semantic lookups (best match, threshold,
 * signature and group fields), the counters, and argument checks. Part of
 * cache_cases.h, which has the fixture and helpers these use and lists the
 * cases for the programs.
 */
#ifndef LEDGERBOX_TESTS_CACHE_CASES_LOOKUP_H
#define LEDGERBOX_TESTS_CACHE_CASES_LOOKUP_H

#include "cache/cache_cases.h"

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

/* An entry stored under the rules before SEM_SIGNATURE_VERSION held the
 * signature those rules printed, which read pronouns as filler: "how much
 * did we pay them in 2025" and "... they pay us ..." both had the one
 * below. Neither question, signed now, may reach it. */
static void older_rules_are_never_served(void **state)
{
	static const char *const questions[] = { "how much did we pay them in 2025",
						  "how much did they pay us in 2025" };
	const struct cache_fx *fx = *state;
	struct cache *c = fx_open(fx, 0, 100);
	struct test_entry t;
	float q[DIM];
	char winner[65], *sig;

	vec_make(q, 9, 0, 0);
	query_make(&t, 1, "team:a", "d:2025|w:much|w:pay|seq:w:much,w:pay,d:2025", q);
	put_ok(c, &t, T0);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(sem_signature(questions[i], &sig), 0);
		assert_memory_equal(sig, SEM_SIGNATURE_VERSION "|", strlen(SEM_SIGNATURE_VERSION) + 1);
		semantic_winner(c, "team:a", sig, q, -1.0f, T0, winner);
		assert_string_equal(winner, "");
		/* Stored under today's rules, the same question is found. */
		query_make(&t, 2 + (unsigned)i, "team:a", "", q);
		t.e.signature = sig; /* longer than the test's own buffer */
		put_ok(c, &t, T0);
		semantic_winner(c, "team:a", sig, q, 0.5f, T0, winner);
		assert_string_equal(winner, i == 0 ? "run-2" : "run-3");
		free(sig);
	}
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

#endif
