/*
 * End-to-end tests of PostgreSQL datasets through a real `ledgerbox serve`:
 * a database with a table of invoices, a read-only role and a dataset
 * folder pointing at it. A SQL run answers with the same table as the same
 * rows in SQLite; writes (plain, in a CTE, through nextval or set_config)
 * are refused and change nothing; a slow query stops at the run's time
 * limit; the row cap cuts with its notice; a superuser URL and a
 * group-readable URL file are refused with clear messages; the listing
 * shows the tables and their columns.
 */
#include <sqlite3.h>

#include "datasets/pg_dataset.h"
#include "httplib.h"
#include "support/llm_stub.h"

static struct server srv;
static char *alice;
static char db_url[PGT_URL_MAX];
static char role[40];
static struct llm_stub *stub;
static char llm_url[128];
static char *env_vars[] = { "LEDGERBOX_MAX_RUNS=2", "LEDGERBOX_TABLE_ROWS=10", llm_url,
			    "LEDGERBOX_LLM_API=ollama", "LEDGERBOX_LLM_RETRIES=0",
			    "LEDGERBOX_REPAIR_ATTEMPTS=1", NULL };

static void url_dataset(const char *name, const char *url, mode_t mode)
{
	char path[800];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", srv.data, name);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/%s/" PG_DATASET_URL_FILE, srv.data, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%s\n", url);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

/* The same invoices as a SQLite dataset, to compare answers with. */
static void sqlite_twin(void)
{
	char path[800];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/books_lite", srv.data);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/books_lite/books_lite.sqlite", srv.data);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "CREATE TABLE invoices (id INTEGER PRIMARY KEY, customer TEXT,"
				      " amount DECIMAL(12,2), issued DATE, note TEXT);"
				      "INSERT INTO invoices VALUES (1, 'Acme', 1250.50, '2025-01-15', NULL),"
				      " (2, 'Globex', 300.00, '2025-02-01', 'late'),"
				      " (3, 'Initech', 99.95, '2025-03-10', 'small');",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	chmod(path, 0644);
}

static int setup(void **state)
{
	char sql[512], url[PGT_URL_MAX];

	(void)state;
	stub = llm_stub_start();
	snprintf(llm_url, sizeof(llm_url), "LEDGERBOX_LLM_URL=http://127.0.0.1:%d",
		 llm_stub_port(stub));
	pgt_db_create("pgapi", db_url);
	snprintf(role, sizeof(role), "lbx_api_ro_%d", (int)getpid());
	pgt_exec(db_url, "CREATE TABLE invoices (id serial PRIMARY KEY, customer text NOT NULL,"
		" amount numeric(12,2), issued date, note text);"
		"INSERT INTO invoices (customer, amount, issued, note) VALUES"
		" ('Acme', 1250.50, '2025-01-15', NULL), ('Globex', 300.00, '2025-02-01', 'late'),"
		" ('Initech', 99.95, '2025-03-10', 'small')");
	snprintf(sql, sizeof(sql), "CREATE ROLE %s LOGIN; GRANT SELECT ON invoices TO %s", role,
		 role);
	pgt_exec(db_url, sql);
	hl_prepare(&srv, "pgapi", env_vars);
	snprintf(url, sizeof(url), "postgres://%s%s", role, strchr(db_url, '@'));
	url_dataset("books", url, 0600);
	url_dataset("leaky", url, 0640);
	url_dataset("rootds", db_url, 0600);
	sqlite_twin();
	alice = hl_key_create(&srv, "alice", "finance", "analyst");
	hl_start(&srv);
	return 0;
}

static int teardown(void **state)
{
	char sql[256];

	(void)state;
	hl_stop(&srv, SIGTERM);
	llm_stub_stop(stub);
	free(alice);
	curl_global_cleanup();
	pgt_db_drop(db_url);
	snprintf(sql, sizeof(sql), "DROP ROLE IF EXISTS %s", role);
	pgt_admin_exec(sql);
	return 0;
}

static void run_sql(const char *dataset, const char *code, long timeout_ms, long want,
		    struct reply *r)
{
	json_t *body = json_pack("{s:s,s:s,s:s}", "language", "sql", "dataset", dataset, "code", code);
	char *text;

	if (timeout_ms)
		json_object_set_new(body, "limits", json_pack("{s:I}", "timeoutMs",
							      (json_int_t)timeout_ms));
	text = json_dumps(body, JSON_COMPACT);
	hl_call_timeout(&srv, "POST", "/api/analyze", alice, text, strlen(text), NULL, 60000, r);
	if (r->status != want)
		fail_msg("%s on %s: %ld %s", code, dataset, r->status, r->body);
	assert_non_null(r->json);
	free(text);
	json_decref(body);
}

/* A table's columns and rows as text, to compare two answers. */
static char *table_text(json_t *t)
{
	json_t *both = json_pack("[O,O]", json_object_get(t, "columns"), json_object_get(t, "rows"));
	char *text = json_dumps(both, JSON_COMPACT);

	json_decref(both);
	return text;
}

static void sql_run_answers_like_sqlite(void **state)
{
	const char *sql = "SELECT id, customer, amount, issued, note FROM invoices ORDER BY id";
	struct reply pg, lite, csv;
	json_t *u;
	char path[200];
	char *a, *b;

	(void)state;
	run_sql("books", sql, 0, 200, &pg);
	run_sql("books_lite", sql, 0, 200, &lite);
	assert_string_equal(hl_str(pg.json, "status"), "ok");
	a = table_text(json_object_get(pg.json, "table"));
	b = table_text(json_object_get(lite.json, "table"));
	if (strcmp(a, b) != 0)
		fail_msg("PostgreSQL %s\nSQLite     %s", a, b);
	assert_non_null(strstr(a, "[1,\"Acme\",1250.5,\"2025-01-15\",null]"));
	u = json_object_get(pg.json, "usage");
	assert_int_equal(json_integer_value(json_object_get(u, "cpuMs")),
			 json_integer_value(json_object_get(u, "wallMs")));
	assert_int_equal(json_integer_value(json_object_get(u, "peakMemoryBytes")), 0);
	assert_non_null(json_object_get(pg.json, "cost"));
	/* The run is on record, with its CSV. */
	snprintf(path, sizeof(path), "/api/runs/%s/table.csv", hl_str(pg.json, "id"));
	hl_call(&srv, "GET", path, alice, NULL, &csv);
	assert_int_equal(csv.status, 200);
	assert_non_null(strstr(csv.body, "Globex"));
	hl_reply_free(&csv);
	free(a);
	free(b);
	hl_reply_free(&pg);
	hl_reply_free(&lite);
}

static void writes_are_refused(void **state)
{
	static const char *const writes[] = {
		"INSERT INTO invoices (customer, amount) VALUES ('Evil', 1)",
		"UPDATE invoices SET amount = 0",
		"DELETE FROM invoices",
		"CREATE TABLE stolen AS SELECT * FROM invoices",
		"WITH gone AS (DELETE FROM invoices RETURNING id) SELECT count(*) FROM gone",
		"SELECT nextval('invoices_id_seq')",
		"SELECT set_config('transaction_read_only', 'off', false)",
		"SELECT 1; DELETE FROM invoices",
	};
	struct reply r;

	(void)state;
	for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
		json_t *err;
		const char *type;

		run_sql("books", writes[i], 0, 200, &r);
		err = json_object_get(r.json, "error");
		type = hl_str(err, "type");
		if (strcmp(hl_str(r.json, "status"), "runtime_error") != 0 || !type ||
		    (strcmp(type, "not_allowed") != 0 && strcmp(type, "multiple_statements") != 0))
			fail_msg("%s: %s", writes[i], r.body);
		assert_true(json_is_null(json_object_get(r.json, "table")));
		hl_reply_free(&r);
	}
	assert_int_equal(pgt_count(db_url, "SELECT count(*) FROM invoices WHERE amount > 0"), 3);
	assert_int_equal(pgt_count(db_url, "SELECT last_value FROM invoices_id_seq"), 3);
	assert_int_equal(pgt_count(db_url, "SELECT count(*) FROM pg_tables WHERE tablename = 'stolen'"), 0);
}

static void slow_query_hits_the_time_limit(void **state)
{
	struct reply r;
	json_t *hit;

	(void)state;
	run_sql("books", "SELECT pg_sleep(30)", 500, 200, &r);
	assert_string_equal(hl_str(r.json, "status"), "timeout");
	assert_string_equal(hl_str(json_object_get(r.json, "error"), "type"), "timeout");
	hit = json_object_get(json_object_get(r.json, "usage"), "limitsHit");
	assert_string_equal(json_string_value(json_array_get(hit, 0)), "wall");
	/* Stopped a little past its 500 ms: billed 500 ms at most, the
	 * measure shown beside it. */
	{
		json_t *c = json_array_get(json_object_get(json_object_get(r.json, "cost"),
							   "components"), 0);
		json_int_t used = json_integer_value(json_object_get(json_object_get(r.json, "usage"),
								     "wallMs"));

		assert_string_equal(hl_str(c, "kind"), "run");
		assert_null(json_object_get(c, "sandbox"));
		assert_true(json_integer_value(json_object_get(c, "wallMs")) <= 500);
		if (used > 500)
			assert_int_equal(json_integer_value(json_object_get(c, "reportedWallMs")), used);
	}
	hl_reply_free(&r);
	/* The server's session is gone with it. */
	assert_int_equal(pgt_count(db_url, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
				  "'%pg_sleep(30)%' AND state = 'active' AND pid <> pg_backend_pid()"),
			 0);
}

static void row_cap_cuts_with_a_notice(void **state)
{
	struct reply r;
	json_t *t;

	(void)state;
	run_sql("books", "SELECT g FROM generate_series(1, 25) g", 0, 200, &r);
	t = json_object_get(r.json, "table");
	assert_true(json_is_true(json_object_get(t, "truncated")));
	assert_int_equal(json_array_size(json_object_get(t, "rows")), 10);
	assert_int_equal(json_integer_value(json_object_get(t, "total_rows")), 25);
	assert_int_equal(json_integer_value(json_object_get(t, "exportRows")), 25);
	assert_non_null(strstr(hl_str(t, "notice"), "Showing the first 10 of 25 rows"));
	hl_reply_free(&r);
}

static void unsafe_datasets_are_refused(void **state)
{
	struct reply r;
	const char *msg;

	(void)state;
	run_sql("rootds", "SELECT 1", 0, 500, &r);
	msg = hl_str(json_object_get(r.json, "error"), "message");
	assert_string_equal(hl_str(json_object_get(r.json, "error"), "code"), "dataset_refused");
	assert_non_null(strstr(msg, "rootds"));
	assert_non_null(strstr(msg, "superuser"));
	hl_reply_free(&r);
	run_sql("leaky", "SELECT 1", 0, 500, &r);
	msg = hl_str(json_object_get(r.json, "error"), "message");
	assert_non_null(strstr(msg, "leaky"));
	assert_non_null(strstr(msg, "0640"));
	hl_reply_free(&r);
	hl_call(&srv, "POST", "/api/analyze", alice,
		"{\"language\":\"python\",\"dataset\":\"books\",\"code\":\"print(1)\"}", &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(hl_str(json_object_get(r.json, "error"), "code"), "unsupported_dataset");
	assert_non_null(strstr(hl_str(json_object_get(r.json, "error"), "message"), "PostgreSQL"));
	hl_reply_free(&r);
}

static json_t *named(json_t *list, const char *name)
{
	json_t *v;
	size_t i;

	json_array_foreach(list, i, v) {
		if (strcmp(hl_str(v, "name"), name) == 0)
			return v;
	}
	fail_msg("no %s in the list", name);
	return NULL;
}

static void listing_shows_tables_and_columns(void **state)
{
	struct reply r;
	json_t *list, *books, *inv, *cols;

	(void)state;
	hl_call(&srv, "GET", "/api/datasets", alice, NULL, &r);
	assert_int_equal(r.status, 200);
	list = json_object_get(r.json, "datasets");
	books = named(list, "books");
	assert_string_equal(hl_str(books, "engine"), "postgresql");
	assert_null(json_object_get(books, "error"));
	inv = named(json_object_get(books, "tables"), "invoices");
	assert_int_equal(json_integer_value(json_object_get(inv, "rows")), 3);
	cols = json_object_get(inv, "columns");
	assert_int_equal(json_array_size(cols), 5);
	assert_string_equal(hl_str(json_array_get(cols, 1), "name"), "customer");
	assert_string_equal(hl_str(json_array_get(cols, 2), "type"), "numeric(12,2)");
	assert_string_equal(hl_str(json_array_get(cols, 3), "type"), "date");
	assert_non_null(strstr(hl_str(named(list, "rootds"), "error"), "superuser"));
	hl_reply_free(&r);
}

static bool prompt_contains(json_t *body, const char *text)
{
	json_t *m;
	size_t i;

	json_array_foreach(json_object_get(body, "messages"), i, m) {
		const char *c = hl_str(m, "content");
		if (c && strstr(c, text))
			return true;
	}
	return false;
}

/* A question: the prompt names PostgreSQL, SQLite's spelling is caught by
 * PostgreSQL's parser before any run, and the repaired query answers. */
static void question_is_checked_by_postgresql(void **state)
{
	struct stub_reply bad = { .content = "```sql\nSELECT strftime('%Y-%m', issued) AS month"
					     " FROM invoices\n```" };
	struct stub_reply good = { .content = "```sql\nSELECT to_char(issued, 'YYYY-MM') AS month,"
					      " count(*) AS n FROM invoices GROUP BY 1 ORDER BY 1\n```" };
	const char *body = "{\"query\":\"invoices per month\",\"language\":\"sql\","
			   "\"dataset\":\"books\"}";
	struct reply r;
	json_t *attempts, *last;

	(void)state;
	llm_stub_push(stub, &bad);
	llm_stub_push(stub, &good);
	hl_call_timeout(&srv, "POST", "/api/analyze", alice, body, strlen(body), NULL, 60000, &r);
	if (r.status != 200)
		fail_msg("%ld %s", r.status, r.body);
	attempts = json_object_get(r.json, "attempts");
	assert_int_equal(json_array_size(attempts), 2);
	assert_string_equal(hl_str(json_array_get(attempts, 0), "stage"), "validate");
	assert_non_null(strstr(hl_str(json_object_get(json_array_get(attempts, 0), "error"),
				      "message"), "strftime"));
	assert_string_equal(hl_str(r.json, "status"), "ok");
	assert_int_equal(json_array_size(json_object_get(json_object_get(r.json, "table"), "rows")), 3);
	last = llm_stub_last_body(stub);
	assert_true(prompt_contains(last, "one PostgreSQL query"));
	assert_true(prompt_contains(last, "invoices"));
	assert_false(prompt_contains(last, "Dialect: SQLite"));
	json_decref(last);

	hl_reply_free(&r);
}

/* A query's time is billed as CPU (nothing of it runs here), but only the
 * wall limit stops it: a query that outlasts its CPU limit is billed at
 * that limit, never above what it reserved, with the measure shown. */
static void query_time_past_the_cpu_limit_is_capped(void **state)
{
	char *root = hl_key_create(&srv, "root", "it", "admin");
	const char *body = "{\"language\":\"sql\",\"dataset\":\"books\",\"code\":"
			   "\"SELECT pg_sleep(0.4) IS NULL AS slept\","
			   "\"limits\":{\"cpuMs\":100,\"timeoutMs\":5000}}";
	struct reply r, spend;
	json_t *c, *e;
	size_t i;
	bool seen = false;

	(void)state;
	hl_call_timeout(&srv, "POST", "/api/analyze", alice, body, strlen(body), NULL, 60000, &r);
	if (r.status != 200)
		fail_msg("%ld %s", r.status, r.body);
	assert_string_equal(hl_str(r.json, "status"), "ok");
	c = json_array_get(json_object_get(json_object_get(r.json, "cost"), "components"), 0);
	assert_int_equal(json_integer_value(json_object_get(c, "cpuMs")), 100);
	assert_true(json_is_true(json_object_get(c, "capped")));
	assert_true(json_integer_value(json_object_get(c, "reportedCpuMs")) >= 400);
	hl_call(&srv, "GET", "/api/spend?scope=user:alice&from=2000-01-01", root, NULL, &spend);
	assert_int_equal(spend.status, 200);
	json_array_foreach(json_object_get(spend.json, "entries"), i, e) {
		const char *worst = hl_str(json_object_get(e, "detail"), "worstCase");
		if (strcmp(hl_str(e, "runId"), hl_str(r.json, "id")) != 0)
			continue;
		seen = true;
		assert_int_equal(json_integer_value(json_object_get(e, "amountMicros")),
				 json_integer_value(json_object_get(json_object_get(r.json, "cost"),
								    "totalMicros")));
		/* "0.000109": no more than 6 decimals, as micro-units. */
		assert_true(json_integer_value(json_object_get(e, "amountMicros")) <=
			    (json_int_t)(strtod(worst, NULL) * 1e6 + 0.5));
	}
	assert_true(seen);
	hl_reply_free(&spend);
	hl_reply_free(&r);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sql_run_answers_like_sqlite),
		cmocka_unit_test(writes_are_refused),
		cmocka_unit_test(slow_query_hits_the_time_limit),
		cmocka_unit_test(query_time_past_the_cpu_limit_is_capped),
		cmocka_unit_test(row_cap_cuts_with_a_notice),
		cmocka_unit_test(unsafe_datasets_are_refused),
		cmocka_unit_test(listing_shows_tables_and_columns),
		cmocka_unit_test(question_is_checked_by_postgresql),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
