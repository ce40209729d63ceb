/*
 * test_template_notices: why a template's table is empty. A filter value
 * that matches nothing in the demo books (a segment spelt with a capital,
 * a year the books do not cover, an unknown cash account, a day before the
 * first invoice) gives a notice naming the value and listing the values
 * that do exist; a value that matches gives none. Values reach the probes
 * only as checked literals, so a quote in a segment is just text, and a
 * long list of values is cut with a count of the rest.
 */
#include "testlib.h"

#include <jansson.h>
#include <sqlite3.h>

#include "templates/templates.h"

static char demo_path[600];

/* template_explain_empty on the demo books: its result, and the notice. */
static int explain(const char *id, const char *params_json, char *notice, size_t len)
{
	json_t *params = params_json ? json_loads(params_json, 0, NULL) : NULL;
	int r;

	if (params_json)
		assert_non_null(params);
	snprintf(notice, len, "untouched");
	r = template_explain_empty(id, params, demo_path, notice, len);
	json_decref(params);
	return r;
}

static void expect_notice(const char *id, const char *params, const char *says)
{
	char notice[1024];
	int r = explain(id, params, notice, sizeof(notice));

	if (r != 1 || !strstr(notice, says))
		fail_msg("%s %s: %d \"%s\", expected \"%s\"", id, params, r, notice, says);
}

static void expect_none(const char *id, const char *params)
{
	char notice[1024];

	assert_int_equal(explain(id, params, notice, sizeof(notice)), 0);
	assert_string_equal(notice, "untouched");
}

/* The notice names only the filters at fault: "says" is there, "not" is not. */
static void expect_notice_without(const char *id, const char *params, const char *says,
				  const char *not)
{
	char notice[1024];
	int r = explain(id, params, notice, sizeof(notice));

	if (r != 1 || !strstr(notice, says) || strstr(notice, not))
		fail_msg("%s %s: %d \"%s\", expected \"%s\" without \"%s\"", id, params, r,
			 notice, says, not);
}

static void a_filter_matching_nothing_lists_what_exists(void **state)
{
	(void)state;
	expect_notice("top_customers", "{\"segment\": \"Retail\"}",
		      "no rows for segment 'Retail'; segments in the data (matched exactly, case "
		      "included): education, healthcare, hospitality, office, retail");
	expect_notice("top_customers", "{\"year\": 2030}",
		      "no rows for year 2030; years with invoices in the data: 2024, 2025");
	expect_notice("pnl_by_month", "{\"year\": 2019}",
		      "no rows for year 2019; years with revenue or expense lines in the data: "
		      "2024, 2025");
	expect_notice("inventory_turnover", "{\"year\": 2023}",
		      "no rows for year 2023; years with stock movements in the data: 2024, 2025");
	expect_notice("budget_vs_actual", "{\"year\": 2026}",
		      "no rows for year 2026; years with budgets or revenue and expense lines in "
		      "the data: 2024, 2025");
	/* The period is fine: only the account, which has no lines, is named. */
	expect_notice_without("cash_flow_summary", "{\"cash_account\": 1234}",
			      "no rows for cash account 1234; asset accounts with ledger lines: "
			      "1000 Cash - Operating Account, 1100 Accounts Receivable",
			      "the period");
	expect_notice("cash_flow_summary",
		      "{\"start_date\": \"2030-01-01\", \"end_date\": \"2030-03-31\"}",
		      "no rows for the period 2030-01-01 to 2030-03-31; dates of the cash "
		      "account's lines in the data: 2024-01-01 to 2025-12-31");
	expect_notice("ar_aging", "{\"as_of\": \"2020-01-01\"}",
		      "no rows for as_of 2020-01-01 (before any invoice); invoice issue dates in "
		      "the data: 2024-01-02 to ");
}

static void a_filter_that_matches_gives_no_notice(void **state)
{
	(void)state;
	expect_none("top_customers", NULL);
	expect_none("top_customers", "{\"segment\": \"retail\", \"year\": 2024}");
	expect_none("pnl_by_month", "{\"year\": 2024}");
	expect_none("inventory_turnover", NULL);
	expect_none("budget_vs_actual", "{\"year\": 2025, \"through_month\": 1}");
	expect_none("cash_flow_summary", NULL);
	expect_none("ar_aging", NULL);
}

/* A file with only a customers table, filled by `insert`; then the notice
 * of top_customers for `segment` on it. */
static void notice_on_customers(const char *name, const char *insert, const char *segment,
				char *notice, size_t len)
{
	char path[600], *sql;
	sqlite3 *db;
	json_t *params = json_pack("{s:s}", "segment", segment);

	snprintf(path, sizeof(path), "%s/%s-%d.sqlite", tl_tmp(), name, (int)getpid());
	unlink(path);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_true(asprintf(&sql, "CREATE TABLE customers (customer_id INTEGER, name TEXT,"
				   " segment TEXT); %s",
			     insert) > 0);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(template_explain_empty("top_customers", params, path, notice, len), 1);
	json_decref(params);
	free(sql);
	unlink(path);
}

/* A quote is part of the value, not of the probe's SQL; a long list of
 * values ends with how many more there are. */
static void values_are_literals_and_long_lists_are_cut(void **state)
{
	char notice[1024];
	(void)state;

	expect_notice("top_customers", "{\"segment\": \"x' OR 1=1 --\"}",
		      "no rows for segment 'x' OR 1=1 --'; segments in the data");

	notice_on_customers("notices",
			    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
			    " WHERE i < 25) INSERT INTO customers SELECT i, 'c' || i,"
			    " printf('s%02d', i) FROM n;",
			    "none", notice, sizeof(notice));
	assert_non_null(strstr(notice, ": s01, s02, "));
	assert_non_null(strstr(notice, ", s20 and 5 more"));
	assert_null(strstr(notice, "s21"));
}

/* Values that differ only in what cannot be seen (a zero-width space, a
 * no-break space, a space at the end, a byte that is not UTF-8) are shown
 * so that they can be told apart, in the value asked for and in the list. */
static void invisible_differences_are_shown(void **state)
{
	char notice[1024];
	(void)state;

	notice_on_customers("invisible",
			    "INSERT INTO customers VALUES (1, 'a', 'retail'), (2, 'b', 'retail '),"
			    " (3, 'c', 'retail' || char(160)), (4, 'd', 'retail' || char(8203)),"
			    " (5, 'e', CAST(X'726574FF' AS TEXT));",
			    "Retail\u200b", notice, sizeof(notice));
	assert_string_equal(notice, "no rows for segment 'Retail<U+200B>'; segments in the data "
				    "(matched exactly, case included): retail, 'retail ', retail<U+00A0>, "
				    "retail<U+200B>, ret<0xFF>");
}

static void bad_calls_are_refused(void **state)
{
	char notice[256];
	json_t *bad = json_pack("{s:i}", "year", 99999);
	(void)state;

	assert_int_equal(explain("no_such", NULL, notice, sizeof(notice)), -ENOENT);
	assert_int_equal(template_explain_empty("pnl_by_month", bad, demo_path, notice,
						sizeof(notice)),
			 -EINVAL);
	assert_int_equal(template_explain_empty("pnl_by_month", NULL, "/nonexistent/x.sqlite",
						notice, sizeof(notice)),
			 -EIO);
	json_decref(bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_filter_matching_nothing_lists_what_exists),
		cmocka_unit_test(a_filter_that_matches_gives_no_notice),
		cmocka_unit_test(values_are_literals_and_long_lists_are_cut),
		cmocka_unit_test(invisible_differences_are_shown),
		cmocka_unit_test(bad_calls_are_refused),
	};

	snprintf(demo_path, sizeof(demo_path), "%s/ledger.sqlite", tl_demo());
	return cmocka_run_group_tests_name("template_notices", tests, NULL, NULL);
}
