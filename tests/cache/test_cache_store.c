/*
 * Tests of src/cache (the store, not the matching rules) on SQLite: the
 * shared behaviours of cache_cases.h, run against a state directory, and
 * what is SQLite's own: the embedding's bytes in the file, the index
 * rebuilt from the table at open, and a handle that fell further behind
 * than the change log reaches.
 *
 * Every case works in its own state directory under
 * LEDGERBOX_TEST_TMP/cache-<pid>/.
 */
#include "testlib.h"

#include <sqlite3.h>

#include "cache/cache_cases.h"

/* ------------------------------------------------------------------ */
/* The fixture: a fresh state directory, and SQL on its file           */

static int fx_setup(void **state)
{
	static int counter;
	struct cache_fx *fx = calloc(1, sizeof(*fx));
	char *base;

	assert_non_null(fx);
	assert_true(asprintf(&base, "%s/cache-%ld", tl_tmp(), (long)getpid()) > 0);
	if (mkdir(base, 0700) < 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", base, strerror(errno));
	assert_true(asprintf(&fx->dir, "%s/%d", base, ++counter) > 0);
	free(base);
	fx->version_sql = "SELECT version FROM cache_schema WHERE id = 1";
	*state = fx;
	return 0;
}

static int fx_teardown(void **state)
{
	struct cache_fx *fx = *state;

	free(fx->dir);
	free(fx);
	return 0;
}

static sqlite3 *fx_db(const struct cache_fx *fx)
{
	char *path;
	sqlite3 *db;

	assert_true(asprintf(&path, "%s/ledgerbox.db", fx->dir) > 0);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	free(path);
	return db;
}

static long long fx_sql(const struct cache_fx *fx, const char *sql)
{
	sqlite3 *db = fx_db(fx);
	sqlite3_stmt *st;
	long long v = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* ------------------------------------------------------------------ */
/* Persistence                                                         */

/* The embedding is stored as little-endian float32, read here by SQL. */
static void embedding_blob_format(const struct cache_fx *fx, unsigned n, const float v[DIM])
{
	sqlite3 *db = fx_db(fx);
	sqlite3_stmt *st;
	const unsigned char *blob;
	char key[65];

	assert_int_equal(sqlite3_prepare_v2(db, "SELECT embedding FROM cache_entries WHERE key = ?1",
					    -1, &st, NULL),
			 SQLITE_OK);
	key_make(n, key);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_bytes(st, 0), DIM * 4);
	blob = sqlite3_column_blob(st, 0);
	for (int i = 0; i < DIM; i++) {
		uint32_t bits, want;

		bits = (uint32_t)blob[i * 4] | (uint32_t)blob[i * 4 + 1] << 8 |
		       (uint32_t)blob[i * 4 + 2] << 16 | (uint32_t)blob[i * 4 + 3] << 24;
		memcpy(&want, &v[i], 4);
		assert_int_equal(bits, want);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void persistence(void **state)
{
	const struct cache_fx *fx = *state;
	struct cache *c = fx_open(fx, 0, 100);
	struct test_entry t;
	struct cache_entry e;
	float q[DIM], v[DIM], sim = 0;
	char winner[65];

	vec_make(q, 12, 0, 0);
	for (unsigned n = 1; n <= 4; n++) {
		vec_make(v, 12, n, 0.1f * (float)n);
		query_make(&t, n, "team:a", "w:z", v);
		put_ok(c, &t, T0 + n);
	}
	plain_make(&t, 5, "team:a");
	put_ok(c, &t, T0 + 5);
	cache_close(c);
	vec_make(v, 12, 2, 0.2f);
	embedding_blob_format(fx, 2, v);

	/* The index is rebuilt from the table. */
	c = fx_open(fx, 0, 100);
	assert_int_equal(stats_of(c).entries, 5);
	assert_int_equal(semantic(c, "team:a", "w:z", q, 0.5f, T0 + 10, &e, &sim), 0);
	assert_string_equal(e.run_id, "run-1");
	vec_make(v, 12, 1, 0.1f);
	assert_true(sim == sem_cosine(q, v, DIM));
	assert_memory_equal(e.embedding, v, sizeof(v));
	cache_entry_release(&e);
	assert_int_equal(exact_present(c, 5, "team:a", T0 + 11), 1);
	cache_close(c);

	/* A smaller limit evicts the least recently used at open: 1 and 5 were
	 * used last. */
	c = fx_open(fx, 0, 2);
	assert_int_equal(stats_of(c).entries, 2);
	assert_int_equal(stats_of(c).evictions, 3);
	assert_int_equal(exact_present(c, 5, "team:a", T0 + 12), 1);
	semantic_winner(c, "team:a", "w:z", q, -1.0f, T0 + 12, winner);
	assert_string_equal(winner, "run-1");
	for (unsigned n = 2; n <= 4; n++)
		assert_int_equal(exact_present(c, n, "team:a", T0 + 12), 0);
	cache_close(c);
}

/* b writes far more changes than the log keeps while a, whose index is
 * loaded, looks away: a reloads and still agrees with the table. 9000 puts
 * over a 50-entry limit log about 18000 changes. */
static void log_overflow_reload(void **state)
{
	const struct cache_fx *fx = *state;
	struct cache *a = fx_open(fx, 0, 50), *b = fx_open(fx, 0, 50);
	struct test_entry t;
	float q[DIM];
	char winner[65];

	vec_make(q, 13, 0, 0);
	query_make(&t, 1, "team:a", "w:odd", q);
	put_ok(b, &t, T0);
	semantic_winner(a, "team:a", "w:odd", q, 0.9f, T0, winner);
	assert_string_equal(winner, "run-1");
	for (unsigned n = 100; n < 9100; n++) {
		float v[DIM];

		vec_make(v, n % 7, n, 0.3f);
		query_make(&t, n, "team:a", n % 2 ? "w:odd" : "w:even", v);
		put_ok(b, &t, T0 + 10 + n);
	}
	assert_int_equal(stats_of(a).entries, 50);
	semantic_winner(a, "team:a", "w:odd", q, 0.9999f, T0 + 20000, winner);
	assert_string_equal(winner, ""); /* run-1 was evicted long ago */
	vec_make(q, 9099 % 7, 9099, 0.3f);
	semantic_winner(a, "team:a", "w:odd", q, 0.99f, T0 + 20000, winner);
	assert_string_equal(winner, "run-9099");
	vec_make(q, 100 % 7, 100, 0.3f); /* evicted long ago */
	semantic_winner(a, "team:a", "w:even", q, 0.9999f, T0 + 20001, winner);
	assert_string_equal(winner, "");
	cache_close(a);
	cache_close(b);
}

int main(void)
{
	const struct CMUnitTest shared[] = {
		CACHE_CASES(fx_setup, fx_teardown),
	};
	const struct CMUnitTest own[] = {
		cmocka_unit_test_setup_teardown(persistence, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(log_overflow_reload, fx_setup, fx_teardown),
	};
	int failed;

	failed = cmocka_run_group_tests_name("cache_store (SQLite)", shared, NULL, NULL);
	failed += cmocka_run_group_tests_name("cache_store (SQLite only)", own, NULL, NULL);
	return failed;
}
