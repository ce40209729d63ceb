/*
 * Tests of the result cache on PostgreSQL (cache_open_url() with a
 * postgres:// URL): the shared behaviours of cache_cases.h, run against a
 * fresh database each, then what only several nodes sharing one database
 * need: URL dispatch, a stale in-memory candidate never served, the change
 * log cut back while a node lags, concurrent puts from two nodes within
 * max_entries, nodes starting at once, and a lost connection re-made.
 *
 * Each case works in a fresh database (pgtest.h), dropped at its end.
 */
#include "testlib.h"

#include "support/pgtest.h"

#include "cache/cache_cases.h"

/* ------------------------------------------------------------------ */
/* The fixture: a fresh database, and SQL on it                        */

static int fx_setup(void **state)
{
	struct cache_fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	fx->url = malloc(PGT_URL_MAX);
	assert_non_null(fx->url);
	pgt_db_create("cachepg", fx->url);
	fx->version_sql = "SELECT version FROM ledgerbox_schema WHERE part = 'cache'";
	*state = fx;
	return 0;
}

static int fx_teardown(void **state)
{
	struct cache_fx *fx = *state;

	pgt_db_drop(fx->url);
	free(fx->url);
	free(fx);
	return 0;
}

/* Runs one statement (or several) on the test database; returns the first
 * value of a one-row answer as a number (0 otherwise). */
static long long fx_sql(const struct cache_fx *fx, const char *sql)
{
	PGconn *c = PQconnectdb(fx->url);
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

/* ------------------------------------------------------------------ */
/* Opening                                                             */

static void open_arguments(void **state)
{
	char err[256] = "", *dir;
	struct cache *c = NULL;
	(void)state;

	assert_int_equal(cache_open_url("/nonexistent", "mysql://x/y", NULL, &c, err, sizeof(err)),
			 -EINVAL);
	assert_null(c);
	assert_non_null(strstr(err, "postgres://"));
	/* No URL: the SQLite cache in the state directory. */
	assert_true(asprintf(&dir, "%s/cachepg-%ld", tl_tmp(), (long)getpid()) > 0);
	assert_int_equal(cache_open_url(dir, "", NULL, &c, err, sizeof(err)), 0);
	cache_close(c);
	c = NULL;
	assert_int_equal(cache_open_url(dir, NULL, NULL, &c, err, sizeof(err)), 0);
	cache_close(c);
	free(dir);
}

/* ------------------------------------------------------------------ */
/* Nodes on one database                                               */

/* A candidate the in-memory index still holds is read again from the
 * table: a row dropped behind the change log's back (triggers off) is
 * never served. */
static void stale_candidate_not_served(void **state)
{
	const struct cache_fx *fx = *state;
	char winner[65];
	struct cache *c;
	struct test_entry t;
	float q[DIM];

	c = fx_open(fx, 0, 50);
	vec_make(q, 17, 0, 0);
	query_make(&t, 1, "team:a", "w:stale", q);
	put_ok(c, &t, T0);
	semantic_winner(c, "team:a", "w:stale", q, 0.9f, T0, winner);
	assert_string_equal(winner, "run-1");
	fx_sql(fx, "SET session_replication_role = replica;"
		    " DELETE FROM cache_entries; DELETE FROM cache_usage");
	semantic_winner(c, "team:a", "w:stale", q, 0.9f, T0 + 1, winner);
	assert_string_equal(winner, "");
	assert_int_equal(exact_present(c, 1, "team:a", T0 + 1), 0);
	cache_close(c);
}

/* More changes than the log keeps: the next put cuts the log back, and the
 * other node, further behind than the log reaches, reloads its index and
 * agrees with the table. The 18000 changes are made in two statements
 * (the triggers log them as for any other writer) to keep the test short. */
static void log_trimmed_reload(void **state)
{
	const struct cache_fx *fx = *state;
	char winner[65];
	struct cache *a, *b;
	struct test_entry t;
	float q[DIM], v[DIM];

	a = fx_open(fx, 0, 20000);
	b = fx_open(fx, 0, 20000);
	vec_make(q, 5, 0, 0);
	query_make(&t, 1, "team:a", "w:old", q);
	put_ok(b, &t, T0);
	semantic_winner(a, "team:a", "w:old", q, 0.99f, T0, winner);
	assert_string_equal(winner, "run-1");
	fx_sql(fx, "INSERT INTO cache_entries (key, scope, dataset, fingerprint, language, model,"
		    " embed_model, signature, query_norm, code, result, run_id, created_ms)"
		    " SELECT lpad(to_hex(g), 64, '0'), 'team:bulk', 'demo', 'fp1', 'sql', '', '',"
		    " '', '', 'SELECT 1', '{}', 'bulk', 1 FROM generate_series(100000, 108999) g");
	fx_sql(fx, "DELETE FROM cache_entries");
	assert_true(fx_sql(fx, "SELECT seq FROM cache_meta") > 18000);
	vec_make(v, 5, 1, 0.01f);
	query_make(&t, 2, "team:a", "w:new", v);
	put_ok(b, &t, T0 + 1); /* cuts the log back */
	assert_true(fx_sql(fx, "SELECT log_floor FROM cache_meta") > 9000);
	assert_int_equal(fx_sql(fx, "SELECT count(*) FROM cache_log"), 8192);
	semantic_winner(a, "team:a", "w:new", q, 0.9f, T0 + 2, winner);
	assert_string_equal(winner, "run-2");
	semantic_winner(a, "team:a", "w:old", q, 0.0f, T0 + 2, winner);
	assert_string_equal(winner, "");
	assert_int_equal(stats_of(a).entries, 1);
	cache_close(a);
	cache_close(b);
}

#define PUTTERS 6
#define PUTS 60
#define PUT_MAX 25

struct putter {
	struct cache *c;
	unsigned id;
	int failures;
};

static void *putter_run(void *arg)
{
	struct putter *w = arg;
	char sig[32];
	struct test_entry t;

	snprintf(sig, sizeof(sig), "w:thread%u", w->id);
	for (unsigned i = 0; i < PUTS; i++) {
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
	const struct cache_fx *fx = *state;
	struct cache *node[2];
	struct putter w[PUTTERS];
	pthread_t tid[PUTTERS];

	node[0] = fx_open(fx, 0, PUT_MAX);
	node[1] = fx_open(fx, 0, PUT_MAX);
	memset(w, 0, sizeof(w));
	for (unsigned i = 0; i < PUTTERS; i++) {
		w[i].c = node[i % 2];
		w[i].id = i;
		assert_int_equal(pthread_create(&tid[i], NULL, putter_run, &w[i]), 0);
	}
	for (unsigned i = 0; i < PUTTERS; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	assert_int_equal(fx_sql(fx, "SELECT count(*) FROM cache_entries"), PUT_MAX);
	assert_int_equal(fx_sql(fx, "SELECT count(*) FROM cache_usage"), PUT_MAX);
	assert_int_equal(stats_of(node[0]).entries, PUT_MAX);
	assert_int_equal(stats_of(node[0]).evictions + stats_of(node[1]).evictions,
			 PUTTERS * PUTS - PUT_MAX);
	/* Each thread's last put is among the most recent, so kept; both
	 * nodes find it. */
	for (unsigned i = 0; i < PUTTERS; i++) {
		char sig[32], want[32], winner[65];
		float v[DIM];

		snprintf(sig, sizeof(sig), "w:thread%u", i);
		snprintf(want, sizeof(want), "run-%u", i * 10000 + PUTS - 1);
		vec_make(v, i * 10000 + PUTS - 1, 0, 0);
		for (int k = 0; k < 2; k++) {
			semantic_winner(node[k], "team:t", sig, v, 0.999f, T0 + PUTS, winner);
			assert_string_equal(winner, want);
		}
	}
	cache_close(node[0]);
	cache_close(node[1]);
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
	const struct cache_fx *fx = *state;
	struct opener o[4];
	pthread_t tid[4];

	for (int i = 0; i < 4; i++) {
		o[i].url = fx->url;
		o[i].r = 1;
		assert_int_equal(pthread_create(&tid[i], NULL, opener_run, &o[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		assert_int_equal(o[i].r, 0);
	}
	assert_int_equal(fx_sql(fx, "SELECT count(*) FROM cache_meta"), 1);
}

/* The server ends the cache's connection: the next calls reconnect. */
static void reconnects(void **state)
{
	const struct cache_fx *fx = *state;
	char sql[256], winner[65];
	const char *name;
	struct cache *c;
	struct test_entry t;
	float q[DIM];

	name = strrchr(fx->url, '/') + 1;
	c = fx_open(fx, 0, 50);
	vec_make(q, 23, 0, 0);
	query_make(&t, 1, "team:a", "w:r", q);
	put_ok(c, &t, T0);
	snprintf(sql, sizeof(sql),
		 "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
		 " WHERE datname = '%s' AND pid <> pg_backend_pid()",
		 name);
	assert_int_equal(fx_sql(fx, sql), 1);
	assert_int_equal(exact_present(c, 1, "team:a", T0 + 1), 1);
	fx_sql(fx, sql);
	query_make(&t, 2, "team:a", "w:r", q);
	put_ok(c, &t, T0 + 2);
	fx_sql(fx, sql);
	semantic_winner(c, "team:a", "w:r", q, 0.9f, T0 + 3, winner);
	assert_string_equal(winner, "run-2");
	fx_sql(fx, sql);
	assert_int_equal(cache_clear(c), 2);
	cache_close(c);
}

int main(void)
{
	const struct CMUnitTest shared[] = {
		CACHE_CASES(fx_setup, fx_teardown),
	};
	const struct CMUnitTest own[] = {
		cmocka_unit_test(open_arguments),
		cmocka_unit_test_setup_teardown(stale_candidate_not_served, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(log_trimmed_reload, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(concurrent_puts_respect_max, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(concurrent_open, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(reconnects, fx_setup, fx_teardown),
	};
	int failed;

	failed = cmocka_run_group_tests_name("cache (PostgreSQL)", shared, NULL, NULL);
	failed += cmocka_run_group_tests_name("cache (PostgreSQL only)", own, NULL, NULL);
	return failed;
}
