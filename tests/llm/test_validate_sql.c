/*
 * test_validate_sql: preparing generated SQL against the demo dataset
 * without running it. Needs LEDGERBOX_DEMO (the demo data) and
 * LEDGERBOX_TEST_TMP (for a file that is not a database).
 */
#include "testlib.h"

#include <sqlite3.h>

#include "llm/validate.h"

static char *demo_db;

static int setup(void **state)
{
	(void)state;
	if (asprintf(&demo_db, "%s/ledger.sqlite", tl_demo()) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(demo_db);
	return 0;
}

/* Validates sql, expects want, and (when non-NULL) that err contains each
 * of the needles. */
static void expect(const char *sql, int want, const char *needle, const char *needle2)
{
	char err[512] = "";
	int r = validate_sql(demo_db, sql, err, sizeof(err));

	if (r != want)
		fail_msg("[%s]: got %d (%s), want %d", sql, r, err, want);
	if (needle && !strstr(err, needle))
		fail_msg("[%s]: message [%s] lacks [%s]", sql, err, needle);
	if (needle2 && !strstr(err, needle2))
		fail_msg("[%s]: message [%s] lacks [%s]", sql, err, needle2);
}

static void test_good_queries(void **state)
{
	(void)state;
	expect("SELECT count(*) FROM invoices", 0, NULL, NULL);
	expect("SELECT strftime('%Y-%m', issue_date) AS month, round(sum(amount), 2) AS total\n"
	       "FROM invoices WHERE issue_date >= '2025-01-01' GROUP BY month ORDER BY month;",
	       0, NULL, NULL);
	expect("WITH t AS (SELECT customer_id, sum(amount) AS s FROM invoices GROUP BY 1)\n"
	       "SELECT c.segment, sum(t.s) FROM t JOIN customers c USING (customer_id) GROUP BY 1",
	       0, NULL, NULL);
	expect("  -- leading comment\nSELECT 1;;  /* trailing */ -- and more\n;\n", 0, NULL, NULL);
	expect("\xEF\xBB\xBFSELECT name FROM accounts", 0, NULL, NULL);
	expect("SELECT value FROM json_each('[1,2]')", 0, NULL, NULL);
	expect("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3)"
	       " SELECT i FROM n",
	       0, NULL, NULL);
	expect("EXPLAIN QUERY PLAN SELECT * FROM invoices WHERE customer_id = 3", 0, NULL, NULL);
}

static void test_unknown_names(void **state)
{
	(void)state;
	expect("SELECT invoice_total FROM invoices", -EINVAL, "no such column: invoice_total",
	       "line 1, column 8");
	expect("SELECT i.amount, c.segmnt FROM invoices i JOIN customers c USING (customer_id)",
	       -EINVAL, "no such column: c.segmnt", NULL);
	expect("SELECT * FROM invoice", -EINVAL, "no such table: invoice", NULL);
	expect("SELECT no_such_function(1)", -EINVAL, "no such function: no_such_function", NULL);
}

static void test_syntax_errors(void **state)
{
	(void)state;
	expect("SELECT amount FROMM invoices", -EINVAL, "near \"invoices\": syntax error", NULL);
	expect("SELECT amount\n  FROM invoices\n WHERE", -EINVAL, "incomplete input", "line 3");
	expect("SELECT * FROM invoices WHERE status = 'paid", -EINVAL, "unrecognized token",
	       "line 1, column 39");
	expect("SELEC 1", -EINVAL, "near \"SELEC\": syntax error", "line 1, column 1");
	expect("SELECT *\n  FROMM invoices", -EINVAL, "near \"FROMM\": syntax error",
	       "line 2, column 3");
	expect("SELECT * FROM invoices WHERE amount > ?", -EINVAL, "parameter (?)", NULL);
	expect("SELECT * FROM invoices WHERE amount > :min", -EINVAL, "parameter (:min)", NULL);
}

static void test_one_statement_only(void **state)
{
	(void)state;
	expect("SELECT 1; SELECT 2", -EINVAL, "more than one statement", "line 1, column 11");
	expect("SELECT 1;\n-- x\nDELETE FROM invoices", -EINVAL, "more than one statement",
	       "line 3, column 1");
	expect("", -EINVAL, "empty query", NULL);
	expect(" ;; -- nothing\n", -EINVAL, "empty query", NULL);
}

static void test_writes_refused(void **state)
{
	(void)state;
	expect("INSERT INTO accounts VALUES (1, 'x', 'asset', 'y', 'debit')", -EINVAL,
	       "not allowed: INSERT", NULL);
	expect("update invoices SET amount = 0", -EINVAL, "not allowed: UPDATE", NULL);
	expect("WITH x AS (SELECT 1) DELETE FROM invoices", -EINVAL, "not allowed: DELETE", NULL);
	expect("PRAGMA journal_mode = WAL", -EINVAL, "not allowed: PRAGMA", NULL);
	expect("PRAGMA table_info(invoices)", -EINVAL, "not allowed: PRAGMA", NULL);
	expect("ATTACH DATABASE '/tmp/x.db' AS x", -EINVAL, "not allowed: ATTACH", NULL);
	expect("CREATE TABLE t (a)", -EINVAL, "not allowed: CREATE", NULL);
	expect("DROP TABLE invoices", -EINVAL, "not allowed: DROP", NULL);
	expect("VACUUM", -EINVAL, "not allowed: VACUUM", NULL);
	expect("BEGIN", -EINVAL, "not allowed: BEGIN", NULL);
	expect("SELECT load_extension('x')", -EINVAL, "not allowed: function load_extension()", NULL);
	expect("SELECT * FROM pragma_journal_mode", -EINVAL, "not allowed", NULL);
	expect("SELECT * FROM dbstat", -EINVAL, NULL, NULL);
}

static void test_open_failures(void **state)
{
	char err[512] = "", *missing, *garbage;

	(void)state;
	assert_true(asprintf(&missing, "%s/no-such-dir/none.sqlite", tl_tmp()) > 0);
	assert_int_equal(validate_sql(missing, "SELECT 1", err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, missing));
	garbage = tl_write_tmp("garbage.sqlite", "this is not a database, just some text\n");
	assert_int_equal(validate_sql(garbage, "SELECT 1", err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "garbage.sqlite"));
	assert_int_equal(validate_sql(tl_tmp(), "SELECT 1", err, sizeof(err)), -EIO);
	assert_int_equal(validate_sql(demo_db, NULL, err, sizeof(err)), -EINVAL);
	free(missing);
	free(garbage);
}

static void test_nothing_written(void **state)
{
	char *journal;
	struct stat st;

	(void)state;
	/* A refused write must not have touched the file or left a journal. */
	expect("DELETE FROM invoices", -EINVAL, "not allowed", NULL);
	assert_true(asprintf(&journal, "%s-journal", demo_db) > 0);
	assert_int_equal(stat(journal, &st), -1);
	free(journal);
	expect("SELECT count(*) FROM invoices", 0, NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_queries),
		cmocka_unit_test(test_unknown_names),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_one_statement_only),
		cmocka_unit_test(test_writes_refused),
		cmocka_unit_test(test_open_failures),
		cmocka_unit_test(test_nothing_written),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
