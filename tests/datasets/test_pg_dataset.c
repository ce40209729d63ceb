/*
 * Tests of PostgreSQL datasets (src/datasets/pg_dataset*.c) against the
 * test cluster: the URL file's rules, the role check (superuser, a role
 * that can write, create or advance a sequence, a member of
 * pg_write_all_data, and a read-only role that passes), the result table
 * compared with the SQLite runner's for the same rows, the row cap, the
 * byte cap, every error type, writes refused with nothing changed, the
 * time limit, the check by PQprepare, the catalog listing and a whole run
 * in the sandbox result's form.
 */
#include <sqlite3.h>

#include "datasets/datasets.h"
#include "datasets/pg_dataset.h"
#include "llm/prompt.h"
#include "llm/schema.h"
#include "runners/sql_runner.h"
#include "support/pgtest.h"
#include "testlib.h"

static char db_url[PGT_URL_MAX];
static char data[600];
static char roles[5][40];
enum { RO, RW, CR, SQ, WA };

/* The test database's URL for another role (trust authentication). */
static void role_url(const char *role, char out[PGT_URL_MAX])
{
	snprintf(out, PGT_URL_MAX, "postgres://%s%s", role, strchr(db_url, '@'));
}

/* DATA_DIR/name/postgres.url holding url, with the given mode. */
static void dataset_make(const char *name, const char *url, mode_t mode)
{
	char path[800];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", data, name);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/" PG_DATASET_URL_FILE, data, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%s\n", url);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void role_dataset(const char *name, int role)
{
	char url[PGT_URL_MAX];

	role_url(roles[role], url);
	dataset_make(name, url, 0600);
}

static int setup(void **state)
{
	static const char *const kinds[] = { "ro", "rw", "cr", "sq", "wa" };
	char sql[2048];

	(void)state;
	pgt_db_create("pgds", db_url);
	for (int i = 0; i < 5; i++)
		snprintf(roles[i], sizeof(roles[i]), "lbx_%s_%d", kinds[i], (int)getpid());
	pgt_exec(db_url, "CREATE TABLE invoices (id serial PRIMARY KEY, customer text NOT NULL,"
		" amount numeric(16,2), issued date, paid boolean, note text);"
		"INSERT INTO invoices (customer, amount, issued, paid, note) VALUES"
		" ('Acme', 1250.50, '2025-01-15', true, NULL),"
		" ('Globex', 300.00, '2025-02-01', false, 'late'),"
		" ('Initech', 12345678901234.56, '2025-03-10', true, 'big');"
		"CREATE SCHEMA sales; CREATE TABLE sales.orders (id int, total numeric);"
		"INSERT INTO sales.orders VALUES (1, 10.5), (2, 20);"
		"CREATE TABLE secret (x int);"
		"CREATE TABLE payments (id serial PRIMARY KEY, invoice_id int REFERENCES invoices(id),"
		" amount numeric(16,2));");
	snprintf(sql, sizeof(sql),
		 "CREATE ROLE %s LOGIN; GRANT USAGE ON SCHEMA sales TO %s;"
		 " GRANT SELECT ON invoices, sales.orders, payments TO %s;"
		 "CREATE ROLE %s LOGIN; GRANT SELECT, INSERT ON invoices TO %s;"
		 "CREATE ROLE %s LOGIN; GRANT CREATE ON SCHEMA sales TO %s;"
		 "CREATE ROLE %s LOGIN; GRANT USAGE ON SEQUENCE invoices_id_seq TO %s;"
		 "CREATE ROLE %s LOGIN; GRANT pg_write_all_data TO %s;",
		 roles[RO], roles[RO], roles[RO], roles[RW], roles[RW], roles[CR], roles[CR],
		 roles[SQ], roles[SQ], roles[WA], roles[WA]);
	pgt_exec(db_url, sql);
	snprintf(data, sizeof(data), "%s/pgds-%d", tl_tmp(), (int)getpid());
	assert_int_equal(mkdir(data, 0755), 0);
	return 0;
}

static int teardown(void **state)
{
	char sql[256];

	(void)state;
	pgt_db_drop(db_url);
	for (int i = 0; i < 5; i++) {
		snprintf(sql, sizeof(sql), "DROP ROLE IF EXISTS %s", roles[i]);
		pgt_admin_exec(sql);
	}
	return 0;
}

static PGconn *connect_ok(const char *name)
{
	char err[1024] = "";
	PGconn *c = NULL;

	if (pg_dataset_connect(data, name, &c, err, sizeof(err)) != 0)
		fail_msg("connect %s: %s", name, err);
	return c;
}

static void url_file_rules(void **state)
{
	char url[PGT_URL_MAX], got[PG_DATASET_URL_MAX + 1] = "", err[1024] = "", path[800];

	(void)state;
	role_url(roles[RO], url);
	dataset_make("u_open", url, 0640);
	assert_int_equal(pg_dataset_url(data, "u_open", got, sizeof(got), err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "u_open"));
	assert_non_null(strstr(err, "0640"));
	assert_non_null(strstr(err, "chmod 600"));
	assert_string_equal(got, ""); /* written only on success */
	assert_true(pg_dataset_is(data, "u_open"));

	dataset_make("u_two", "postgres://a@h/db\npostgres://b@h/db", 0600);
	assert_int_equal(pg_dataset_url(data, "u_two", got, sizeof(got), err, sizeof(err)), -EINVAL);
	dataset_make("u_mysql", "mysql://a@h/db", 0600);
	assert_int_equal(pg_dataset_url(data, "u_mysql", got, sizeof(got), err, sizeof(err)), -EINVAL);
	assert_null(strstr(err, "mysql://")); /* a URL is never quoted back */

	/* A symlink in the file's place is refused, not followed. */
	snprintf(path, sizeof(path), "%s/u_link", data);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/u_link/" PG_DATASET_URL_FILE, data);
	assert_int_equal(symlink("../u_mysql/" PG_DATASET_URL_FILE, path), 0);
	assert_false(pg_dataset_is(data, "u_link"));
	assert_int_equal(pg_dataset_url(data, "u_link", got, sizeof(got), err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "symbolic link"));

	dataset_make("u_good", url, 0600);
	assert_int_equal(pg_dataset_url(data, "u_good", got, sizeof(got), err, sizeof(err)), 0);
	assert_string_equal(got, url); /* the newline is gone */
	assert_false(pg_dataset_is(data, "nothing_here"));
	assert_false(pg_dataset_is(data, "../etc"));
}

static void expect_refused(const char *name, const char *why)
{
	char err[1024] = "";
	PGconn *c = NULL;

	assert_int_equal(pg_dataset_connect(data, name, &c, err, sizeof(err)), -EACCES);
	assert_null(c);
	if (!strstr(err, why) || !strstr(err, name))
		fail_msg("%s: wanted \"%s\" in: %s", name, why, err);
}

static void role_check_refuses_what_can_write(void **state)
{
	PGconn *c;

	(void)state;
	dataset_make("r_super", db_url, 0600);
	expect_refused("r_super", "is a superuser");
	role_dataset("r_rw", RW);
	expect_refused("r_rw", "may write to table public.invoices");
	role_dataset("r_cr", CR);
	expect_refused("r_cr", "may create objects in schema sales");
	role_dataset("r_sq", SQ);
	expect_refused("r_sq", "may advance sequence public.invoices_id_seq");
	role_dataset("r_wa", WA);
	expect_refused("r_wa", "is a member of pg_write_all_data");
	role_dataset("r_ro", RO);
	c = connect_ok("r_ro");
	PQfinish(c);
}

static json_t *query_ok(PGconn *c, const char *sql, uint64_t max_rows)
{
	struct pg_query_limits l = { .timeout_ms = 10000, .max_rows = max_rows,
				     .max_bytes = 1u << 20 };
	struct pg_error e;
	json_t *t = NULL;

	if (pg_dataset_query(c, sql, &l, &t, &e) != 0)
		fail_msg("%s: %s %s", sql, e.type, e.message);
	return t;
}

/* The same rows in a SQLite file, through the SQLite runner. */
static json_t *sqlite_table(const char *sql)
{
	char path[800];
	struct sql_query_limits l = { .max_rows = 100, .timeout_ms = 10000 };
	struct sql_error e;
	json_t *t = NULL;
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/same.sqlite", data);
	unlink(path);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "CREATE TABLE invoices (id INTEGER PRIMARY KEY, customer TEXT,"
				      " amount DECIMAL(16,2), issued DATE, note TEXT);"
				      "INSERT INTO invoices VALUES (1, 'Acme', 1250.50, '2025-01-15', NULL),"
				      " (2, 'Globex', 300.00, '2025-02-01', 'late'),"
				      " (3, 'Initech', 12345678901234.56, '2025-03-10', 'big');",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(sql_query_run(path, sql, strlen(sql), &l, &t, &e), 0);
	return t;
}

static void assert_same_json(json_t *a, json_t *b)
{
	/* 15 significant digits: how both results are written out. */
	char *x = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
	char *y = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));

	if (strcmp(x, y) != 0)
		fail_msg("PostgreSQL %s\nSQLite     %s", x, y);
	free(x);
	free(y);
}

static void result_has_the_sqlite_shape(void **state)
{
	const char *sql = "SELECT id, customer, amount, issued, note FROM invoices ORDER BY id";
	PGconn *c = connect_ok("r_ro");
	json_t *pg = query_ok(c, sql, 100), *lite = sqlite_table(sql), *row;

	(void)state;
	assert_same_json(pg, lite);
	row = json_array_get(json_object_get(pg, "rows"), 0);
	assert_true(json_is_integer(json_array_get(row, 0)));
	assert_true(json_is_real(json_array_get(row, 2)));
	assert_true(json_is_null(json_array_get(row, 4)));
	json_decref(pg);
	json_decref(lite);

	/* Booleans, sums and counts. */
	pg = query_ok(c, "SELECT paid, count(*) AS n, sum(amount) AS total FROM invoices"
			 " WHERE id < 3 GROUP BY paid ORDER BY paid", 100);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
				    json_object_get(pg, "columns"), 0), "type")), "boolean");
	row = json_array_get(json_object_get(pg, "rows"), 1);
	assert_true(json_is_true(json_array_get(row, 0)));
	assert_int_equal(json_integer_value(json_array_get(row, 1)), 1);
	assert_true(json_real_value(json_array_get(row, 2)) == 1250.5);
	json_decref(pg);
	PQfinish(c);
}

static void row_cap_cuts_and_counts(void **state)
{
	PGconn *c = connect_ok("r_ro");
	struct pg_query_limits l = { .timeout_ms = 10000, .max_rows = 1000, .max_bytes = 200 };
	struct pg_error e;
	json_t *t = query_ok(c, "SELECT g FROM generate_series(1, 50) g", 10);

	(void)state;
	assert_int_equal(json_array_size(json_object_get(t, "rows")), 10);
	assert_int_equal(json_integer_value(json_object_get(t, "row_count")), 10);
	assert_int_equal(json_integer_value(json_object_get(t, "total_rows")), 50);
	assert_true(json_is_true(json_object_get(t, "truncated")));
	json_decref(t);
	t = query_ok(c, "SELECT g FROM generate_series(1, 5) g", 5);
	assert_true(json_is_false(json_object_get(t, "truncated")));
	assert_int_equal(json_integer_value(json_object_get(t, "total_rows")), 5);
	json_decref(t);
	t = NULL;
	assert_int_equal(pg_dataset_query(c, "SELECT repeat('x', 100) FROM generate_series(1, 50)",
					  &l, &t, &e), -EFBIG);
	assert_null(t);
	assert_string_equal(e.type, "result_too_large");
	PQfinish(c);
}

static void expect_error(PGconn *c, const char *sql, int want_r, const char *type,
			 const char *part, unsigned line)
{
	struct pg_query_limits l = { .timeout_ms = 10000, .max_rows = 100, .max_bytes = 1u << 20 };
	struct pg_error e;
	json_t *t = NULL;
	int r = pg_dataset_query(c, sql, &l, &t, &e);

	if (r != want_r || strcmp(e.type, type) != 0 || (part && !strstr(e.message, part)))
		fail_msg("%s: got %d %s \"%s\"", sql, r, e.type, e.message);
	assert_null(t);
	assert_int_equal(e.line, line);
	assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE); /* rolled back */
}

static void errors_have_the_runner_types(void **state)
{
	PGconn *c = connect_ok("r_ro");
	json_t *j;
	struct pg_error e = { .type = "syntax_error", .message = "x", .line = 2, .column = 3 };

	(void)state;
	expect_error(c, "SELECT id,\nFROM invoices", -EINVAL, "syntax_error", "(line 2, column 1)", 2);
	expect_error(c, "SELECT nope FROM invoices", -EINVAL, "no_such_column", "nope", 1);
	expect_error(c, "SELECT * FROM nope", -EINVAL, "no_such_table", "nope", 1);
	expect_error(c, "SELECT 1; SELECT 2", -EINVAL, "multiple_statements", NULL, 0);
	expect_error(c, "  -- nothing\n ;", -EINVAL, "empty_query", NULL, 0);
	expect_error(c, "SELECT 1/0", -EINVAL, "query_error", "division by zero", 0);
	expect_error(c, "SELECT * FROM secret", -EPERM, "not_allowed", "permission denied", 0);
	j = pg_error_to_json(&e);
	assert_int_equal(json_integer_value(json_object_get(j, "line")), 2);
	assert_int_equal(json_integer_value(json_object_get(j, "column")), 3);
	json_decref(j);
	PQfinish(c);
}

static void writes_are_refused_and_change_nothing(void **state)
{
	PGconn *c = connect_ok("r_ro");

	(void)state;
	expect_error(c, "INSERT INTO invoices (customer) VALUES ('x')", -EPERM, "not_allowed",
		     "INSERT", 0);
	expect_error(c, "delete from invoices", -EPERM, "not_allowed", "DELETE", 0);
	expect_error(c, "CREATE TABLE t (x int)", -EPERM, "not_allowed", "CREATE TABLE", 0);
	expect_error(c, "WITH d AS (DELETE FROM invoices RETURNING *) SELECT * FROM d", -EPERM,
		     "not_allowed", "a statement that writes", 0);
	expect_error(c, "WITH u AS (UPDATE invoices SET amount = 0 RETURNING id) SELECT * FROM u",
		     -EPERM, "not_allowed", NULL, 0);
	expect_error(c, "SELECT nextval('invoices_id_seq')", -EPERM, "not_allowed", NULL, 0);
	expect_error(c, "SELECT set_config('transaction_read_only', 'off', false)", -EPERM,
		     "not_allowed", NULL, 0);
	expect_error(c, "SET statement_timeout = 0", -EPERM, "not_allowed", "SET", 0);
	expect_error(c, "COPY invoices TO STDOUT", -EPERM, "not_allowed", "COPY", 0);
	PQfinish(c);
	assert_int_equal(pgt_count(db_url, "SELECT count(*) FROM invoices WHERE amount > 0"), 3);
	assert_int_equal(pgt_count(db_url, "SELECT last_value FROM invoices_id_seq"), 3);
	assert_int_equal(pgt_count(db_url, "SELECT count(*) FROM pg_tables WHERE tablename = 't'"), 0);
}

static void time_limit_stops_the_query(void **state)
{
	PGconn *c = connect_ok("r_ro");
	struct pg_query_limits l = { .timeout_ms = 200, .max_rows = 100, .max_bytes = 1u << 20 };
	struct pg_error e;
	json_t *t = NULL;

	(void)state;
	assert_int_equal(pg_dataset_query(c, "SELECT pg_sleep(30)", &l, &t, &e), -ETIMEDOUT);
	assert_string_equal(e.type, "timeout");
	assert_non_null(strstr(e.message, "200 ms"));
	/* The connection is usable afterwards. */
	t = query_ok(c, "SELECT 1 AS one", 10);
	json_decref(t);
	PQfinish(c);
}

static void check_prepares_without_running(void **state)
{
	PGconn *c = connect_ok("r_ro");
	char err[1024];

	(void)state;
	assert_int_equal(pg_dataset_check_sql(c, "SELECT customer FROM invoices", err, sizeof(err)), 0);
	assert_int_equal(pg_dataset_check_sql(c, "SELECT pg_sleep(30)", err, sizeof(err)), 0);
	assert_int_equal(pg_dataset_check_sql(c, "SELECT *\n  FORM invoices", err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "(line 2, column 3)"));
	assert_int_equal(pg_dataset_check_sql(c, "SELECT * FROM nope", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "\"nope\" does not exist"));
	assert_int_equal(pg_dataset_check_sql(c, "SELECT $1", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "parameter"));
	assert_int_equal(pg_dataset_check_sql(c, "DROP TABLE invoices", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not allowed: DROP TABLE"));
	assert_int_equal(pg_dataset_check_sql(c, "SELECT 1; SELECT 2", err, sizeof(err)), -EINVAL);
	PQfinish(c);
	assert_int_equal(pgt_count(db_url, "SELECT count(*) FROM invoices"), 3);
}

static json_t *find(json_t *list, const char *name)
{
	json_t *v;
	size_t i;

	json_array_foreach(list, i, v) {
		if (strcmp(json_string_value(json_object_get(v, "name")), name) == 0)
			return v;
	}
	return NULL;
}

static void tables_are_listed(void **state)
{
	PGconn *c = connect_ok("r_ro");
	json_t *list = NULL, *inv, *cols;
	char err[512];

	(void)state;
	assert_int_equal(pg_dataset_tables(c, 5000, &list), 0);
	PQfinish(c);
	inv = find(list, "invoices");
	assert_non_null(inv);
	assert_int_equal(json_integer_value(json_object_get(inv, "rows")), 3);
	cols = json_object_get(inv, "columns");
	assert_int_equal(json_array_size(cols), 6);
	assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 2), "type")),
			    "numeric(16,2)");
	assert_non_null(find(list, "sales.orders"));
	assert_int_equal(json_integer_value(json_object_get(find(list, "sales.orders"), "rows")), 2);
	assert_null(find(list, "secret")); /* not readable by the role */
	json_decref(list);

	/* The listing of the data folder: tables, or why not. */
	assert_int_equal(dataset_list(data, &list, err, sizeof(err)), 0);
	inv = find(list, "r_ro");
	assert_string_equal(json_string_value(json_object_get(inv, "engine")), "postgresql");
	assert_non_null(find(json_object_get(inv, "tables"), "invoices"));
	assert_null(json_object_get(inv, "error"));
	assert_non_null(strstr(json_string_value(json_object_get(find(list, "r_super"), "error")),
			       "superuser"));
	assert_non_null(strstr(json_string_value(json_object_get(find(list, "u_open"), "error")),
			       "0640"));
	json_decref(list);
}

/* The model is told the dialect is PostgreSQL, and gets the tables the
 * role can read by names it can spell. */
static void prompt_says_postgresql(void **state)
{
	struct prompt_options o = { .language = "sql", .query = "total amount by customer",
				    .num_ctx = 8192, .max_tokens = 512 };
	PGconn *c = connect_ok("r_ro");
	struct schema s;
	struct prompt p;
	json_t *list = NULL;
	char err[512];
	const char *sys;

	(void)state;
	assert_int_equal(pg_dataset_tables(c, 5000, &list), 0);
	PQfinish(c);
	assert_int_equal(schema_from_tables("r_ro", list, &s, err, sizeof(err)), 0);
	json_decref(list);
	assert_true(s.postgres);
	assert_int_equal(s.n_tables, 2); /* sales.orders is outside the search_path */
	assert_string_equal(s.tables[0].name, "invoices");
	assert_string_equal(s.tables[1].name, "payments");
	assert_int_equal(s.tables[0].rows, 3);
	o.schema = &s;
	assert_int_equal(prompt_build(&o, &p, err, sizeof(err)), 0);
	sys = p.messages[0].content;
	assert_non_null(strstr(sys, "one PostgreSQL query"));
	assert_non_null(strstr(sys, "Dialect: PostgreSQL"));
	assert_non_null(strstr(sys, "to_char"));
	assert_null(strstr(sys, "Dialect: SQLite"));
	assert_non_null(strstr(sys, "numeric(16,2)"));
	/* Keys, so that joins need no guessing. */
	assert_non_null(strstr(sys, "  id integer PRIMARY KEY,\n"));
	assert_non_null(strstr(sys, "  invoice_id integer REFERENCES invoices(id),\n"));
	prompt_release(&p);
	schema_release(&s);
}

static void a_run_has_the_sandbox_form(void **state)
{
	struct sandbox_limits l;
	json_t *r = NULL;
	char err[512];

	(void)state;
	sandbox_limits_default(&l);
	l.table_bytes = 1u << 20;
	assert_int_equal(pg_dataset_run(data, "r_ro", "SELECT customer FROM invoices ORDER BY id",
					&l, -1, &r, err, sizeof(err)), 0);
	assert_string_equal(json_string_value(json_object_get(r, "status")), "ok");
	assert_int_equal(json_integer_value(json_object_get(r, "cpu_ms")),
			 json_integer_value(json_object_get(r, "wall_ms")));
	assert_int_equal(json_integer_value(json_object_get(r, "peak_memory_bytes")), 0);
	assert_int_equal(json_array_size(json_object_get(json_object_get(r, "table"), "rows")), 3);
	assert_true(json_is_null(json_object_get(r, "runner_error")));
	json_decref(r);

	l.wall_ms = 300;
	assert_int_equal(pg_dataset_run(data, "r_ro", "SELECT pg_sleep(30)", &l, -1, &r, err,
					sizeof(err)), 0);
	assert_string_equal(json_string_value(json_object_get(r, "status")), "timeout");
	assert_string_equal(json_string_value(json_array_get(json_object_get(r, "limits_hit"), 0)),
			    "wall");
	assert_string_equal(json_string_value(json_object_get(json_object_get(r, "runner_error"),
							      "type")), "timeout");
	json_decref(r);

	r = NULL;
	assert_int_equal(pg_dataset_run(data, "r_super", "SELECT 1", &l, -1, &r, err, sizeof(err)),
			 -EACCES);
	assert_null(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(url_file_rules),
		cmocka_unit_test(role_check_refuses_what_can_write),
		cmocka_unit_test(result_has_the_sqlite_shape),
		cmocka_unit_test(row_cap_cuts_and_counts),
		cmocka_unit_test(errors_have_the_runner_types),
		cmocka_unit_test(writes_are_refused_and_change_nothing),
		cmocka_unit_test(time_limit_stops_the_query),
		cmocka_unit_test(check_prepares_without_running),
		cmocka_unit_test(tables_are_listed),
		cmocka_unit_test(prompt_says_postgresql),
		cmocka_unit_test(a_run_has_the_sandbox_form),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
