/*
 * test_sql_runner: the SQL runner's core (sql_query_run) against a small
 * SQLite file built here, plus sql_runner_main in a child process with its
 * own fd 3, stdout and stderr. No sandbox and no ledgerbox binary needed;
 * only LEDGERBOX_TEST_TMP (a scratch folder; the tests use a private
 * sub-folder of it).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf, pipe2 in testlib.h */
#endif
#include "testlib.h"

#include <dirent.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "runners/sql_runner.h"
#include "support/sqlite_sides.h"
#include "util/sqlite_uri.h"
#include "util/utf8.h"

static char *work_dir; /* private folder under LEDGERBOX_TEST_TMP */
static char *sales_db; /* built once by the group setup */

/* ---- helpers ---------------------------------------------------------- */

static char *tmp_path(const char *name)
{
	char *path;
	assert_true(asprintf(&path, "%s/%s", work_dir, name) > 0);
	return path;
}

static char *write_tmp(const char *name, const char *content)
{
	char *path = tmp_path(name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(content, f) >= 0);
	assert_int_equal(fclose(f), 0);
	return path;
}

static void exec_sql(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
	if (rc != SQLITE_OK)
		fail_msg("%s: %s", sql, err ? err : "?");
}

static void make_sales_db(const char *path)
{
	sqlite3 *db;

	unlink(path);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	exec_sql(db, "CREATE TABLE sales (id INTEGER PRIMARY KEY, region TEXT, amount REAL,"
		     " paid BOOLEAN, sold_at DATETIME, qty INT, price NUMERIC, note, photo BLOB);"
		     "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 25)"
		     " INSERT INTO sales SELECT i,"
		     " CASE i % 3 WHEN 1 THEN 'north' WHEN 2 THEN 'south' ELSE 'east' END,"
		     " i * 1.5, i % 2, printf('2024-01-%02d', i), i * 2, i * 10, NULL,"
		     " CASE WHEN i = 1 THEN x'0102' END FROM n;");
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static int run(const char *sql, uint64_t max_rows, uint64_t timeout_ms, json_t **table,
	       struct sql_error *error)
{
	struct sql_query_limits limits = { max_rows, timeout_ms };
	return sql_query_run(sales_db, sql, strlen(sql), &limits, table, error);
}

/* Runs sql and expects success; returns the table (caller releases it). */
static json_t *run_ok(const char *sql, uint64_t max_rows)
{
	struct sql_error error;
	json_t *table = NULL;
	int r = run(sql, max_rows, 5000, &table, &error);

	if (r != 0)
		fail_msg("%s: %s (%s)", sql, error.message, sql_error_type_name(error.type));
	assert_non_null(table);
	return table;
}

/* Runs sql and expects an error of `type` whose message contains `part`. */
static void run_error(const char *sql, enum sql_error_type type, const char *part,
		      struct sql_error *error)
{
	json_t *table = (json_t *)1;
	int r = run(sql, 100, 5000, &table, error);

	if (r == 0 || error->type != type)
		fail_msg("%s: expected %s, got %s: %s", sql, sql_error_type_name(type),
			 sql_error_type_name(error->type), r == 0 ? "success" : error->message);
	assert_null(table);
	if (part && !strstr(error->message, part))
		fail_msg("%s: message '%s' lacks '%s'", sql, error->message, part);
}

static json_t *cell(json_t *table, size_t row, size_t column)
{
	json_t *value = json_array_get(json_array_get(json_object_get(table, "rows"), row), column);
	assert_non_null(value);
	return value;
}

static const char *column_type(json_t *table, size_t column)
{
	json_t *c = json_array_get(json_object_get(table, "columns"), column);
	assert_non_null(c);
	return json_string_value(json_object_get(c, "type"));
}

static json_int_t int_field(json_t *table, const char *key)
{
	json_t *v = json_object_get(table, key);
	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

struct file_snapshot {
	char *bytes;
	size_t len;
	struct timespec mtime;
	int dir_entries;
};

static int count_entries(const char *dir_path)
{
	DIR *dir = opendir(dir_path);
	int n = 0;

	assert_non_null(dir);
	while (readdir(dir))
		n++;
	closedir(dir);
	return n;
}

static void snapshot_take(const char *path, struct file_snapshot *s)
{
	struct stat st;
	FILE *f = fopen(path, "rb");

	assert_non_null(f);
	assert_int_equal(stat(path, &st), 0);
	s->len = (size_t)st.st_size;
	s->bytes = malloc(s->len + 1);
	assert_non_null(s->bytes);
	assert_int_equal(fread(s->bytes, 1, s->len, f), s->len);
	fclose(f);
	s->mtime = st.st_mtim;
	s->dir_entries = count_entries(work_dir);
}

static void snapshot_expect_same(const char *path, const struct file_snapshot *before,
				 const char *sql)
{
	struct file_snapshot now;

	snapshot_take(path, &now);
	if (now.len != before->len || memcmp(now.bytes, before->bytes, now.len) != 0 ||
	    now.mtime.tv_sec != before->mtime.tv_sec ||
	    now.mtime.tv_nsec != before->mtime.tv_nsec)
		fail_msg("%s changed the database file", sql);
	/* No -journal, -wal, -shm or attached file appeared next to it. */
	if (now.dir_entries != before->dir_entries)
		fail_msg("%s created a file in %s", sql, work_dir);
	free(now.bytes);
}

static uint64_t now_ms(void)
{
	return sql_clock_now_ns() / 1000000u;
}

/* ---- results ---------------------------------------------------------- */

static void test_aggregate_typed(void **state)
{
	json_t *t;
	(void)state;

	t = run_ok("SELECT region, count(*) AS n, sum(amount) AS total FROM sales"
		   " GROUP BY region ORDER BY region",
		   100);
	assert_string_equal(column_type(t, 0), "text");
	assert_string_equal(column_type(t, 1), "integer");
	assert_string_equal(column_type(t, 2), "real");
	assert_int_equal(int_field(t, "row_count"), 3);
	assert_int_equal(int_field(t, "total_rows"), 3);
	assert_true(json_is_false(json_object_get(t, "truncated")));
	assert_string_equal(json_string_value(cell(t, 0, 0)), "east");
	assert_int_equal(json_integer_value(cell(t, 0, 1)), 8);
	assert_true(json_real_value(cell(t, 0, 2)) == 162.0);
	assert_string_equal(json_string_value(cell(t, 1, 0)), "north");
	assert_int_equal(json_integer_value(cell(t, 1, 1)), 9);
	assert_true(json_real_value(cell(t, 1, 2)) == 175.5);
	assert_string_equal(json_string_value(cell(t, 2, 0)), "south");
	assert_true(json_real_value(cell(t, 2, 2)) == 150.0);
	json_decref(t);
}

static void test_declared_types(void **state)
{
	static const char *const expected[] = { "integer", "text", "real", "boolean", "datetime",
						"integer", "numeric", "null", "blob" };
	json_t *t;
	(void)state;

	t = run_ok("SELECT id, region, amount, paid, sold_at, qty, price, note, photo"
		   " FROM sales WHERE id = 1",
		   100);
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
		assert_string_equal(column_type(t, i), expected[i]);
	assert_int_equal(json_integer_value(cell(t, 0, 0)), 1);
	assert_string_equal(json_string_value(cell(t, 0, 1)), "north");
	assert_true(json_real_value(cell(t, 0, 2)) == 1.5);
	assert_int_equal(json_integer_value(cell(t, 0, 3)), 1);
	assert_string_equal(json_string_value(cell(t, 0, 4)), "2024-01-01");
	assert_int_equal(json_integer_value(cell(t, 0, 6)), 10);
	assert_true(json_is_null(cell(t, 0, 7)));
	assert_string_equal(json_string_value(cell(t, 0, 8)), "<blob 2 bytes>");
	json_decref(t);
}

static void test_values(void **state)
{
	json_t *t;
	(void)state;

	t = run_ok("SELECT 9223372036854775807 AS big, 1e999 AS inf, -1e999 AS ninf,"
		   " 0.1 AS tenth, 'a' || char(0) || 'b' AS with_nul, zeroblob(5) AS z",
		   10);
	assert_int_equal(json_integer_value(cell(t, 0, 0)), INT64_MAX);
	assert_true(json_is_null(cell(t, 0, 1)));
	assert_true(json_is_null(cell(t, 0, 2)));
	assert_true(json_real_value(cell(t, 0, 3)) == 0.1);
	assert_int_equal(json_string_length(cell(t, 0, 4)), 3);
	assert_memory_equal(json_string_value(cell(t, 0, 4)), "a\0b", 3);
	assert_string_equal(json_string_value(cell(t, 0, 5)), "<blob 5 bytes>");
	json_decref(t);
}

static void test_row_cap(void **state)
{
	json_t *t;
	(void)state;

	t = run_ok("SELECT id FROM sales ORDER BY id", 10);
	assert_int_equal(json_array_size(json_object_get(t, "rows")), 10);
	assert_int_equal(int_field(t, "row_count"), 10);
	assert_int_equal(int_field(t, "total_rows"), 25);
	assert_true(json_is_true(json_object_get(t, "truncated")));
	assert_int_equal(json_integer_value(cell(t, 9, 0)), 10);
	json_decref(t);

	t = run_ok("SELECT id FROM sales", 25);
	assert_int_equal(int_field(t, "row_count"), 25);
	assert_int_equal(int_field(t, "total_rows"), 25);
	assert_true(json_is_false(json_object_get(t, "truncated")));
	json_decref(t);

	t = run_ok("SELECT id FROM sales", 0);
	assert_int_equal(int_field(t, "row_count"), 0);
	assert_int_equal(int_field(t, "total_rows"), 25);
	assert_true(json_is_true(json_object_get(t, "truncated")));
	/* The type still comes from the (counted) values. */
	assert_string_equal(column_type(t, 0), "integer");
	json_decref(t);
}

static void test_null_column(void **state)
{
	json_t *t;
	(void)state;

	t = run_ok("SELECT NULL AS empty, 1 AS one, note FROM sales LIMIT 3", 10);
	assert_string_equal(column_type(t, 0), "null");
	assert_string_equal(column_type(t, 1), "integer");
	assert_string_equal(column_type(t, 2), "null");
	json_decref(t);

	/* The first non-NULL value decides, not the first value. */
	t = run_ok("SELECT column1 AS x FROM (VALUES (NULL), ('two'), (3))", 10);
	assert_string_equal(column_type(t, 0), "text");
	json_decref(t);
}

static void test_invalid_utf8_sanitised(void **state)
{
	json_t *t;
	char *dumped;
	(void)state;

	t = run_ok("SELECT CAST(x'61ff62' AS TEXT) AS bad, CAST(x'e282' AS TEXT) AS cut,"
		   " CAST(x'eda080' AS TEXT) AS surrogate, 'é€😀' AS good",
		   10);
	assert_string_equal(json_string_value(cell(t, 0, 0)), "a\xEF\xBF\xBD"
							       "b");
	assert_string_equal(json_string_value(cell(t, 0, 1)), "\xEF\xBF\xBD");
	/* ED A0 80 is a surrogate: three bytes, each its own replacement. */
	assert_string_equal(json_string_value(cell(t, 0, 2)), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
	assert_string_equal(json_string_value(cell(t, 0, 3)), "é€😀");
	dumped = json_dumps(t, JSON_COMPACT);
	assert_non_null(dumped);
	free(dumped);
	json_decref(t);
}

static void test_utf8_sanitize_unit(void **state)
{
	static const struct {
		const char *in;
		size_t in_len;
		const char *out; /* NULL: already valid */
	} cases[] = {
		{ "plain", 5, NULL },
		{ "\xC0\x80", 2, "\xEF\xBF\xBD\xEF\xBF\xBD" },	/* overlong NUL */
		{ "\xF4\x90\x80\x80", 4, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" },
		{ "\xF0\x9F\x98", 3, "\xEF\xBF\xBD" },		/* cut 4-byte sequence */
		{ "x\x80y", 3, "x\xEF\xBF\xBDy" },		/* lone continuation */
		{ "\xE2\x82\xAC", 3, NULL },			/* euro sign */
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out;
		size_t out_len;

		assert_int_equal(utf8_sanitize(cases[i].in, cases[i].in_len, &out, &out_len), 0);
		if (!cases[i].out) {
			assert_null(out);
			assert_int_equal(out_len, cases[i].in_len);
			continue;
		}
		assert_non_null(out);
		assert_int_equal(out_len, strlen(cases[i].out));
		assert_memory_equal(out, cases[i].out, out_len);
		free(out);
	}
}

/* ---- what is allowed and refused -------------------------------------- */

static void test_refused_statements(void **state)
{
	static const struct {
		const char *sql;
		const char *named;
	} cases[] = {
		{ "INSERT INTO sales (id) VALUES (100)", "INSERT" },
		{ "UPDATE sales SET amount = 0", "UPDATE" },
		{ "DELETE FROM sales", "DELETE" },
		{ "REPLACE INTO sales (id) VALUES (1)", "REPLACE" },
		{ "CREATE TABLE x (a)", "CREATE TABLE" },
		{ "create temp view v as select 1", "CREATE TEMP VIEW" },
		{ "DROP TABLE sales", "DROP TABLE" },
		{ "ALTER TABLE sales ADD COLUMN z", "ALTER TABLE" },
		{ "ATTACH DATABASE 'attached.db' AS other", "ATTACH" },
		{ "DETACH DATABASE main", "DETACH" },
		{ "PRAGMA journal_mode=WAL", "PRAGMA journal_mode" },
		{ "PRAGMA writable_schema=1", "PRAGMA writable_schema" },
		{ "PRAGMA query_only = 0", "PRAGMA query_only" },
		{ "SELECT load_extension('x')", "load_extension" },
		{ "SELECT fts3_tokenizer('simple')", "fts3_tokenizer" },
		{ "BEGIN", "BEGIN" },
		{ "SAVEPOINT a", "SAVEPOINT" },
		{ "ANALYZE", "ANALYZE" },
		{ "REINDEX", "REINDEX" },
		{ "VACUUM", "VACUUM" },
		{ "VACUUM INTO 'vacuumed.db'", "VACUUM" },
		/* Past the keyword check: only the authorizer can refuse these. */
		{ "WITH x AS (SELECT 100) INSERT INTO sales (id) SELECT * FROM x", "INSERT" },
		{ "WITH x AS (SELECT 1) DELETE FROM sales", "DELETE" },
		{ "SELECT * FROM pragma_journal_mode('wal')", "table-valued function" },
		{ "SELECT (SELECT load_extension('x'))", "load_extension" },
	};
	struct file_snapshot before;
	(void)state;

	snapshot_take(sales_db, &before);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sql_error error;

		run_error(cases[i].sql, SQL_ERROR_NOT_ALLOWED, cases[i].named, &error);
		assert_true(strncmp(error.message, "not allowed: ", 13) == 0);
		/* Each message says why: read-only queries, or which table-valued
		 * functions exist. */
		assert_true(strstr(error.message, "(ledgerbox runs read-only queries: SELECT or "
						  "WITH ... SELECT)") ||
			    strstr(error.message, "only json_each, json_tree"));
		snapshot_expect_same(sales_db, &before, cases[i].sql);
	}
	free(before.bytes);
}

static void test_read_only_introspection_allowed(void **state)
{
	json_t *t;
	(void)state;

	t = run_ok("PRAGMA table_info(sales)", 100);
	assert_int_equal(int_field(t, "row_count"), 9);
	assert_string_equal(json_string_value(cell(t, 0, 1)), "id");
	json_decref(t);

	t = run_ok("SELECT name FROM pragma_table_info('sales') WHERE type = 'REAL'", 100);
	assert_string_equal(json_string_value(cell(t, 0, 0)), "amount");
	json_decref(t);

	t = run_ok("SELECT sum(value) FROM json_each('[1, 2, 3]')", 100);
	assert_int_equal(json_integer_value(cell(t, 0, 0)), 6);
	json_decref(t);

	t = run_ok("PRAGMA index_list(sales)", 100);
	json_decref(t);
	t = run_ok("EXPLAIN QUERY PLAN SELECT * FROM sales WHERE id = 3", 100);
	json_decref(t);
	t = run_ok("SELECT name FROM sqlite_schema", 100);
	json_decref(t);
}

static void test_dataset_virtual_tables(void **state)
{
	struct sql_query_limits limits = { 10, 5000 };
	const char *fts = "SELECT rowid FROM notes WHERE notes MATCH 'invoice'";
	const char *rtree = "SELECT id FROM boxes WHERE x0 >= 1";
	char *path = tmp_path("vtab.db");
	struct sql_error error;
	sqlite3 *db;
	json_t *t;
	(void)state;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	exec_sql(db, "CREATE VIRTUAL TABLE notes USING fts5(body);"
		     "INSERT INTO notes VALUES ('late invoice'), ('paid in full');"
		     "CREATE VIRTUAL TABLE boxes USING rtree(id, x0, x1);"
		     "INSERT INTO boxes VALUES (1, 0, 2), (2, 1, 3);");
	assert_int_equal(sqlite3_close(db), SQLITE_OK);

	/* FTS5 prepares PRAGMA data_version internally: that must pass. */
	assert_int_equal(sql_query_run(path, fts, strlen(fts), &limits, &t, &error), 0);
	assert_int_equal(json_integer_value(cell(t, 0, 0)), 1);
	json_decref(t);
	assert_int_equal(sql_query_run(path, rtree, strlen(rtree), &limits, &t, &error), 0);
	assert_int_equal(json_integer_value(cell(t, 0, 0)), 2);
	json_decref(t);
	free(path);
}

/* ---- statements and errors -------------------------------------------- */

static void test_multiple_statements(void **state)
{
	struct sql_error error;
	(void)state;

	run_error("SELECT 1; SELECT 2", SQL_ERROR_MULTIPLE_STATEMENTS, "line 1, column 11", &error);
	assert_int_equal(error.line, 1);
	assert_int_equal(error.column, 11);
	assert_string_equal(error.message, "multiple statements: only one query per run (second "
					   "statement starts at line 1, column 11)");

	/* Columns count characters, not bytes; a refused second statement is
	 * never even prepared. */
	run_error("SELECT 'é';\n  -- next\n  DROP TABLE sales", SQL_ERROR_MULTIPLE_STATEMENTS,
		  "line 3, column 3", &error);
	assert_int_equal(error.line, 3);
	assert_int_equal(error.column, 3);
}

static void test_trailing_comments_ok(void **state)
{
	static const char *const queries[] = {
		"SELECT 1; -- done",
		"SELECT 1 -- done",
		"SELECT 1;;  /* c */ ;\n\n",
		"\xEF\xBB\xBF-- byte order mark first\nSELECT 1;",
		"SELECT 1 /* never closed",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		json_t *t = run_ok(queries[i], 10);
		assert_int_equal(json_integer_value(cell(t, 0, 0)), 1);
		json_decref(t);
	}
}

static void test_empty_query(void **state)
{
	static const char *const queries[] = { "", "   \n\t", "-- nothing\n/* here */ ;;" };
	(void)state;

	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		struct sql_error error;
		run_error(queries[i], SQL_ERROR_EMPTY_QUERY, "empty query", &error);
	}
}

static void test_syntax_error(void **state)
{
	struct sql_error error;
	(void)state;

	run_error("SELECT *\n  FORM sales", SQL_ERROR_SYNTAX, "syntax error", &error);
	assert_non_null(strstr(error.message, "FORM"));
	assert_int_equal(error.line, 2);
	assert_int_equal(error.column, 3);

	run_error("SELECT * FROM sales WHERE", SQL_ERROR_SYNTAX, "incomplete input", &error);
	assert_int_equal(error.line, 1);
}

static void test_nul_byte(void **state)
{
	struct sql_query_limits limits = { 10, 5000 };
	struct sql_error error;
	json_t *table;
	(void)state;

	assert_true(sql_query_run(sales_db, "SELECT 1\0; DROP TABLE sales", 27, &limits, &table,
				  &error) < 0);
	assert_int_equal(error.type, SQL_ERROR_SYNTAX);
	assert_int_equal(error.column, 9);
}

static void test_query_length_cap(void **state)
{
	struct sql_query_limits limits = { 10, 5000 };
	size_t len = SQL_QUERY_MAX_BYTES + 1;
	char *sql = malloc(len);
	struct sql_error error;
	json_t *t;
	(void)state;

	assert_non_null(sql);
	memset(sql, ' ', len);
	memcpy(sql, "SELECT 1", 8);
	/* Exactly 1 MiB runs (it is within SQLITE_LIMIT_SQL_LENGTH too). */
	assert_int_equal(sql_query_run(sales_db, sql, len - 1, &limits, &t, &error), 0);
	json_decref(t);
	assert_true(sql_query_run(sales_db, sql, len, &limits, &t, &error) < 0);
	assert_int_equal(error.type, SQL_ERROR_QUERY);
	assert_non_null(strstr(error.message, "1 MiB"));
	free(sql);
}

static void test_unknown_names(void **state)
{
	struct sql_error error;
	(void)state;

	run_error("SELECT * FROM nowhere", SQL_ERROR_NO_SUCH_TABLE, "nowhere", &error);
	run_error("SELECT colour FROM sales", SQL_ERROR_NO_SUCH_COLUMN, "colour", &error);
	assert_int_equal(error.line, 1);
	assert_int_equal(error.column, 8);
	run_error("SELECT nosuchfunc(1)", SQL_ERROR_QUERY, "no such function", &error);
	run_error("SELECT json_extract('{', '$')", SQL_ERROR_QUERY, "malformed JSON", &error);
}

/* ---- time limit ------------------------------------------------------- */

#define ENDLESS "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "

static void test_timeout(void **state)
{
	struct sql_error error;
	json_t *table;
	uint64_t start = now_ms(), elapsed;
	int r;
	(void)state;

	r = run(ENDLESS "SELECT count(*) FROM c", 10, 300, &table, &error);
	elapsed = now_ms() - start;
	assert_int_equal(r, -ETIMEDOUT);
	assert_int_equal(error.type, SQL_ERROR_TIMEOUT);
	assert_int_equal(sql_error_exit_code(&error), SQL_EXIT_TIMEOUT);
	assert_non_null(strstr(error.message, "300 ms"));
	assert_null(table);
	if (elapsed < 300 || elapsed > 2300)
		fail_msg("stopped after %llu ms, limit 300 ms", (unsigned long long)elapsed);
}

static void test_timeout_while_counting(void **state)
{
	struct sql_error error;
	json_t *t;
	uint64_t start = now_ms(), elapsed;
	int r;
	(void)state;

	r = run(ENDLESS "SELECT x FROM c", 5, 300, &t, &error);
	elapsed = now_ms() - start;
	assert_int_equal(r, 0);
	assert_int_equal(int_field(t, "row_count"), 5);
	assert_true(json_is_null(json_object_get(t, "total_rows")));
	assert_true(json_is_true(json_object_get(t, "truncated")));
	assert_int_equal(json_integer_value(cell(t, 4, 0)), 5);
	assert_true(elapsed >= 300 && elapsed < 2300);
	json_decref(t);
}

/* ---- opening ---------------------------------------------------------- */

/* t(x) = 1, 2, 3 is read whole from path, and no file appears in dir. */
static void expect_three_rows_nothing_added(const char *dir, const char *path)
{
	struct sql_query_limits limits = { 10, 5000 };
	const char *sql = "SELECT count(*), sum(x) FROM t";
	int entries = count_entries(dir);
	struct sql_error error;
	json_t *t;

	assert_int_equal(sql_query_run(path, sql, strlen(sql), &limits, &t, &error), 0);
	assert_int_equal(json_integer_value(cell(t, 0, 0)), 3);
	assert_int_equal(json_integer_value(cell(t, 0, 1)), 6);
	json_decref(t);
	assert_int_equal(count_entries(dir), entries);
}

static void test_wal_db_in_read_only_dir(void **state)
{
	char *dir = tmp_path("wal-ro"), *path = tmp_path("wal-ro/ledger.db");
	sqlite3 *db;
	char header[20];
	FILE *f;
	(void)state;

	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	exec_sql(db, "PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER);"
		     "INSERT INTO t VALUES (1), (2), (3);");
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	/* Still a WAL-mode file: header bytes 18 and 19 are 2. */
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(header, 1, sizeof(header), f), sizeof(header));
	fclose(f);
	assert_int_equal(header[18], 2);
	assert_int_equal(header[19], 2);
	assert_int_equal(chmod(path, 0444), 0);
	assert_int_equal(chmod(dir, 0555), 0);
	/* Immutable: no -shm or -wal is created (this holds even for root,
	 * whom the chmod does not stop). */
	expect_three_rows_nothing_added(dir, path);

	assert_int_equal(chmod(dir, 0755), 0);
	free(dir);
	free(path);
}

/* Commits still in the -wal (no -shm) are read, through the private
 * WAL-index: nothing is created beside the file, and the URI says so. */
static void test_wal_commits_are_read(void **state)
{
	char *dir = tmp_path("wal-pending"), *path = tmp_path("wal-pending/books.sqlite"), *uri;
	(void)state;

	assert_int_equal(mkdir(dir, 0755), 0);
	sides_make_wal(path);
	assert_int_equal(sqlite_ro_uri(path, &uri), 0);
	assert_non_null(strstr(uri, "?mode=ro&vfs=" SQLITE_PRIVATE_SHM_VFS));
	assert_null(strstr(uri, "immutable"));
	free(uri);
	expect_three_rows_nothing_added(dir, path);
	assert_int_equal(sides_size(path, "-shm"), -1);

	/* An empty -wal holds nothing: immutable again. */
	free(dir);
	dir = tmp_path("wal-pending/books.sqlite-wal");
	assert_int_equal(truncate(dir, 0), 0);
	assert_int_equal(sqlite_ro_uri(path, &uri), 0);
	assert_non_null(strstr(uri, "immutable=1"));
	free(uri);
	free(dir);
	free(path);
}

static void test_hot_journal_refused(void **state)
{
	char *path = tmp_path("hot.sqlite"), *uri = NULL;
	struct sql_query_limits limits = { 10, 5000 };
	const char *sql = "SELECT count(*) FROM t";
	struct sql_error error;
	json_t *t = NULL;
	(void)state;

	sides_make_hot_journal(path);
	assert_int_equal(sqlite_ro_uri(path, &uri), -EBUSY);
	assert_null(uri);
	assert_int_equal(sql_query_run(path, sql, strlen(sql), &limits, &t, &error), -EBUSY);
	assert_null(t);
	assert_int_equal(error.type, SQL_ERROR_OPEN_FAILED);
	assert_non_null(strstr(error.message, "hot.sqlite"));
	assert_non_null(strstr(error.message, "-journal"));
	free(path);
}

static void test_open_failures(void **state)
{
	struct sql_query_limits limits = { 10, 5000 };
	char *missing = tmp_path("no-such-dataset.db");
	char *text_file = write_tmp("not-a-db.txt", "region,amount\nnorth,12\n");
	struct sql_error error;
	json_t *t;
	(void)state;

	assert_true(sql_query_run(missing, "SELECT 1", 8, &limits, &t, &error) < 0);
	assert_int_equal(error.type, SQL_ERROR_OPEN_FAILED);
	assert_non_null(strstr(error.message, missing));
	assert_non_null(strstr(error.message, "No such file"));

	assert_true(sql_query_run(text_file, "SELECT 1", 8, &limits, &t, &error) < 0);
	assert_int_equal(error.type, SQL_ERROR_OPEN_FAILED);
	assert_non_null(strstr(error.message, text_file));
	assert_non_null(strstr(error.message, "not a database"));

	assert_true(sql_query_run(work_dir, "SELECT 1", 8, &limits, &t, &error) < 0);
	assert_int_equal(error.type, SQL_ERROR_OPEN_FAILED);
	free(missing);
	free(text_file);
}

static void test_uri_escaping(void **state)
{
	struct sql_query_limits limits = { 10, 5000 };
	char *odd = tmp_path("odd ?#%name.db"), *uri;
	struct sql_error error;
	json_t *t;
	(void)state;

	assert_int_equal(sqlite_ro_uri("/data/a b?.db", &uri), 0);
	assert_string_equal(uri, "file:///data/a%20b%3F.db?mode=ro&immutable=1");
	free(uri);
	assert_int_equal(sqlite_ro_uri("rel/x.db", &uri), 0);
	assert_string_equal(uri, "file:rel/x.db?mode=ro&immutable=1");
	free(uri);

	make_sales_db(odd);
	assert_int_equal(sql_query_run(odd, "SELECT count(*) FROM sales", 26, &limits, &t, &error), 0);
	assert_int_equal(json_integer_value(cell(t, 0, 0)), 25);
	json_decref(t);
	free(odd);
}

/* ---- small pieces ----------------------------------------------------- */

static void test_text_helpers(void **state)
{
	const char *sql = "  -- a\n /* b */ ;create /*x*/ temp\ttable";
	size_t len = strlen(sql), offset;
	char word[16];
	unsigned line, column;
	(void)state;

	offset = sql_text_skip(sql, len, 0, true);
	assert_int_equal(offset, 17);
	assert_int_equal(sql_text_skip(sql, len, 0, false), 16);
	sql_text_position(sql, len, offset, &line, &column);
	assert_int_equal(line, 2);
	assert_int_equal(column, 11);
	assert_int_equal(sql_text_word(sql, len, &offset, word, sizeof(word)), 6);
	assert_string_equal(word, "CREATE");
	assert_int_equal(sql_text_word(sql, len, &offset, word, sizeof(word)), 4);
	assert_string_equal(word, "TEMP");
	assert_int_equal(sql_text_word(sql, len, &offset, word, 3), 5);
	assert_string_equal(word, ""); /* did not fit */
	assert_int_equal(offset, len);
	assert_int_equal(sql_text_word(sql, len, &offset, word, sizeof(word)), 0);
}

static void test_decltype_mapping(void **state)
{
	static const struct {
		const char *decl;
		const char *type;
	} cases[] = {
		{ "INTEGER", "integer" }, { "bigint", "integer" },   { "VARCHAR(20)", "text" },
		{ "CLOB", "text" },	  { "REAL", "real" },	      { "double precision", "real" },
		{ "BOOLEAN", "boolean" }, { "DATE", "datetime" },    { "timestamp", "datetime" },
		{ "DECIMAL(10,2)", "numeric" }, { "NUMERIC", "numeric" }, { "BLOB", "blob" },
		{ "MONEY", NULL },	  { "", NULL },		      { NULL, NULL },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = sql_type_from_decltype(cases[i].decl);
		if (cases[i].type)
			assert_string_equal(got, cases[i].type);
		else
			assert_null(got);
	}
}

static void test_result_document(void **state)
{
	struct sql_error error = { 0 };
	json_t *doc;
	char *text;
	(void)state;

	sql_error_set(&error, SQL_ERROR_SYNTAX, "near \"x\xff\": syntax error");
	error.line = 2;
	error.column = 4;
	doc = sql_result_new(NULL, &error);
	assert_non_null(doc);
	text = json_dumps(doc, JSON_COMPACT);
	assert_string_equal(text, "{\"table\":null,\"error\":{\"type\":\"syntax_error\",\"message\":"
				  "\"near \\\"x\xEF\xBF\xBD\\\": syntax error\",\"line\":2,"
				  "\"column\":4}}");
	free(text);
	json_decref(doc);
	assert_int_equal(sql_error_exit_code(&error), SQL_EXIT_QUERY_ERROR);
	assert_int_equal(sql_error_exit_code(NULL), SQL_EXIT_OK);
}

/* ---- sql_runner_main in a child process -------------------------------- */

struct main_run {
	int exit_code;
	char *result; /* what arrived on fd 3 */
	char *out;
	char *err;
};

static char *slurp_fd(int fd)
{
	char *buf = NULL;
	size_t len = 0;
	char chunk[4096];
	ssize_t n;

	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		tl_append(&buf, &len, chunk, (size_t)n);
	if (!buf)
		tl_append(&buf, &len, "", 0);
	return buf;
}

static char *slurp_file(const char *path)
{
	int fd = open(path, O_RDONLY);
	char *text;

	assert_true(fd >= 0);
	text = slurp_fd(fd);
	close(fd);
	return text;
}

static int high_fd(int fd)
{
	int moved = fcntl(fd, F_DUPFD_CLOEXEC, 10);
	assert_true(moved >= 10);
	close(fd);
	return moved;
}

static void child_redirect(int fd, const char *path)
{
	int file = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (file < 0 || dup2(file, fd) < 0)
		_exit(120);
	close(file);
}

/* env: NULL-terminated "NAME=VALUE" strings applied on top of a clean slate. */
static void run_main(char **argv, const char *const *env, bool fd3_open, struct main_run *ret)
{
	char *out_path = tmp_path("main.out"), *err_path = tmp_path("main.err");
	int p[2], status, argc = 0;
	pid_t pid;

	while (argv[argc])
		argc++;
	assert_int_equal(pipe(p), 0);
	/* Keep both pipe ends away from fd 3, which the child sets up itself. */
	p[0] = high_fd(p[0]);
	p[1] = high_fd(p[1]);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		unsetenv("LEDGERBOX_MAX_ROWS");
		unsetenv("LEDGERBOX_SQL_TIMEOUT_MS");
		unsetenv("LEDGERBOX_RESULT_FD");
		for (size_t i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		child_redirect(STDOUT_FILENO, out_path);
		child_redirect(STDERR_FILENO, err_path);
		if (fd3_open)
			dup2(p[1], 3);
		else
			close(3);
		/* exit, not _exit: LeakSanitizer checks the child at exit. */
		exit(sql_runner_main(argc, argv));
	}
	close(p[1]);
	ret->result = slurp_fd(p[0]);
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	ret->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	ret->out = slurp_file(out_path);
	ret->err = slurp_file(err_path);
	free(out_path);
	free(err_path);
}

static void main_run_free(struct main_run *r)
{
	free(r->result);
	free(r->out);
	free(r->err);
}

/* Checks that `text` is exactly one JSON line and returns it parsed. */
static json_t *one_json_line(const char *text)
{
	size_t len = strlen(text);
	json_error_t jerr;
	json_t *doc;

	assert_true(len > 1 && text[len - 1] == '\n');
	assert_null(memchr(text, '\n', len - 1));
	doc = json_loads(text, 0, &jerr);
	if (!doc)
		fail_msg("not JSON (%s): %s", jerr.text, text);
	assert_true(json_is_object(doc));
	assert_int_equal(json_object_size(doc), 2);
	return doc;
}

static void test_main_exit_codes(void **state)
{
	char *query = write_tmp("query.sql", "SELECT id, region FROM sales ORDER BY id\n");
	char *bad_query = write_tmp("bad.sql", "SELECT * FROM nowhere");
	char *slow_query = write_tmp("slow.sql", ENDLESS "SELECT count(*) FROM c");
	char *argv[] = { "sql-runner", "--db", sales_db, "--query-file", query, NULL };
	const char *const env_rows[] = { "LEDGERBOX_MAX_ROWS=2", NULL };
	const char *const env_slow[] = { "LEDGERBOX_SQL_TIMEOUT_MS=200", NULL };
	const char *const env_bad[] = { "LEDGERBOX_MAX_ROWS=lots", NULL };
	struct main_run r;
	json_t *doc, *table;
	(void)state;

	/* 0: one JSON line on fd 3, nothing on stdout or stderr. */
	run_main(argv, env_rows, true, &r);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(r.out, "");
	assert_string_equal(r.err, "");
	doc = one_json_line(r.result);
	assert_true(json_is_null(json_object_get(doc, "error")));
	table = json_object_get(doc, "table");
	assert_int_equal(int_field(table, "row_count"), 2);
	assert_int_equal(int_field(table, "total_rows"), 25);
	json_decref(doc);
	main_run_free(&r);

	/* 1: error object, message repeated on stderr. */
	argv[4] = bad_query;
	run_main(argv, NULL, true, &r);
	assert_int_equal(r.exit_code, 1);
	assert_string_equal(r.out, "");
	assert_string_equal(r.err, "error: no such table: nowhere\n");
	doc = one_json_line(r.result);
	assert_true(json_is_null(json_object_get(doc, "table")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "error"), "type")),
			    "no_such_table");
	json_decref(doc);
	main_run_free(&r);

	/* 3: stopped at the time limit. */
	argv[4] = slow_query;
	run_main(argv, env_slow, true, &r);
	assert_int_equal(r.exit_code, 3);
	doc = one_json_line(r.result);
	assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "error"), "type")),
			    "timeout");
	json_decref(doc);
	main_run_free(&r);

	/* 2: a bad environment value, named on stderr; nothing on fd 3. */
	argv[4] = query;
	run_main(argv, env_bad, true, &r);
	assert_int_equal(r.exit_code, 2);
	assert_string_equal(r.result, "");
	assert_non_null(strstr(r.err, "LEDGERBOX_MAX_ROWS"));
	main_run_free(&r);

	free(query);
	free(bad_query);
	free(slow_query);
}

static void test_main_usage_and_stdout_fallback(void **state)
{
	char *query = write_tmp("query1.sql", "SELECT 1 AS one");
	char *missing_query = tmp_path("no-such-query.sql");
	char *db_eq;
	struct main_run r;
	json_t *doc;
	(void)state;

	assert_true(asprintf(&db_eq, "--db=%s", sales_db) > 0);
	{
		char *argv[] = { "sql-runner", "--query-file", query, NULL };
		run_main(argv, NULL, true, &r);
		assert_int_equal(r.exit_code, 2);
		assert_non_null(strstr(r.err, "--db is required"));
		assert_string_equal(r.result, "");
		main_run_free(&r);
	}
	{
		char *argv[] = { "sql-runner", db_eq, "--query-file", query, "more", NULL };
		run_main(argv, NULL, true, &r);
		assert_int_equal(r.exit_code, 2);
		assert_non_null(strstr(r.err, "'more'"));
		main_run_free(&r);
	}
	{
		char *argv[] = { "sql-runner", db_eq, "--query-file", missing_query, NULL };
		run_main(argv, NULL, true, &r);
		assert_int_equal(r.exit_code, 2);
		assert_non_null(strstr(r.err, missing_query));
		main_run_free(&r);
	}
	{
		const char *const env[] = { "LEDGERBOX_RESULT_FD=1", NULL };
		char *argv[] = { "sql-runner", db_eq, "--query-file", query, NULL };
		run_main(argv, env, true, &r);
		assert_int_equal(r.exit_code, 2);
		assert_non_null(strstr(r.err, "LEDGERBOX_RESULT_FD"));
		main_run_free(&r);
	}
	{
		/* fd 3 not open: the JSON goes to stdout (and the database,
		 * opened later, must not be taken for fd 3). */
		char *argv[] = { "sql-runner", db_eq, "--query-file", query, NULL };
		run_main(argv, NULL, false, &r);
		assert_int_equal(r.exit_code, 0);
		assert_string_equal(r.result, "");
		doc = one_json_line(r.out);
		assert_int_equal(json_integer_value(cell(json_object_get(doc, "table"), 0, 0)), 1);
		json_decref(doc);
		main_run_free(&r);
	}
	free(db_eq);
	free(query);
	free(missing_query);
}

/* ---- setup ------------------------------------------------------------ */

static int group_setup(void **state)
{
	(void)state;
	/* A folder of our own: other test programs may share the scratch
	 * folder, and the tests count the files in this one. */
	if (asprintf(&work_dir, "%s/sql-runner.%d", tl_tmp(), (int)getpid()) < 0 ||
	    mkdir(work_dir, 0755) < 0)
		return -1;
	/* Relative paths in refused statements (ATTACH 'x.db', VACUUM INTO)
	 * would land here, where the tests look for new files. */
	if (chdir(work_dir) < 0)
		return -1;
	sales_db = tmp_path("sales.db");
	make_sales_db(sales_db);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	free(sales_db);
	free(work_dir);
	sales_db = NULL;
	work_dir = NULL;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aggregate_typed),
		cmocka_unit_test(test_declared_types),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_row_cap),
		cmocka_unit_test(test_null_column),
		cmocka_unit_test(test_invalid_utf8_sanitised),
		cmocka_unit_test(test_utf8_sanitize_unit),
		cmocka_unit_test(test_refused_statements),
		cmocka_unit_test(test_read_only_introspection_allowed),
		cmocka_unit_test(test_dataset_virtual_tables),
		cmocka_unit_test(test_multiple_statements),
		cmocka_unit_test(test_trailing_comments_ok),
		cmocka_unit_test(test_empty_query),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_query_length_cap),
		cmocka_unit_test(test_unknown_names),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_timeout_while_counting),
		cmocka_unit_test(test_wal_db_in_read_only_dir),
		cmocka_unit_test(test_wal_commits_are_read),
		cmocka_unit_test(test_hot_journal_refused),
		cmocka_unit_test(test_open_failures),
		cmocka_unit_test(test_uri_escaping),
		cmocka_unit_test(test_text_helpers),
		cmocka_unit_test(test_decltype_mapping),
		cmocka_unit_test(test_result_document),
		cmocka_unit_test(test_main_exit_codes),
		cmocka_unit_test(test_main_usage_and_stdout_fallback),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
