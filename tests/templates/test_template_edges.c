/*
 * Templates on a small ledger built for the cases the demo data never
 * has: amounts with half a cent (a budget of 10.125), unit costs with more
 * than two decimals (0.125 a cup), a category whose stock is zero at both
 * ends of the year, shares that end exactly in 5 (49 of 400 is 12.25 %),
 * a segment whose only customer bought nothing, a van bought on a bill
 * whose category is not "equipment" and an old truck sold at a gain.
 *
 * Each figure is checked against the ledger by hand, and the Python
 * version, run in a real sandbox, must give the SQL table exactly: one
 * rounding rule (half away from zero) in both languages. An empty table
 * whose filter values each match data, but not together, has a notice.
 */
#include <math.h>

#include "testlib.h"

#include <jansson.h>
#include <sqlite3.h>

#include "templates/templates.h"

static char *dir;  /* the dataset folder */
static sqlite3 *db; /* its ledger.sqlite */

static const char rows[] =
	"INSERT INTO accounts VALUES"
	" (1000,'Cash','asset','current_asset','debit'),"
	" (1200,'Inventory','asset','current_asset','debit'),"
	" (1500,'Equipment and Vehicles','asset','fixed_asset','debit'),"
	" (1510,'Accumulated Depreciation','asset','contra_asset','credit'),"
	" (2000,'Accounts Payable','liability','current_liability','credit'),"
	" (4000,'Sales','revenue','operating_revenue','credit'),"
	" (5000,'Cost of Goods Sold','expense','cost_of_sales','debit'),"
	" (6100,'Rent','expense','occupancy','debit'),"
	" (6600,'Insurance','expense','general_and_admin','debit'),"
	" (7900,'Gain on Disposal','revenue','other_income','credit');"
	"INSERT INTO vendors VALUES (1,'Mill','inventory','Town','US',30,'2024-01-01');"
	"INSERT INTO customers VALUES (1,'Alpha','retail','Town','US',30,1000,'2024-01-01'),"
	" (2,'Beta','retail','Town','US',30,1000,'2024-01-01'),"
	" (3,'Gamma','office','Town','US',30,1000,'2024-01-01');"
	"INSERT INTO products VALUES (1,'P1','Cup','paper',0.125,0.2,1),"
	" (2,'P2','Lid','lids',1.0,2.0,1);"
	"INSERT INTO invoices VALUES (1,'INV-1',1,'2025-03-01','2025-04-30',NULL,49.0,'open'),"
	" (2,'INV-2',2,'2025-03-01','2025-03-15',NULL,351.0,'open');"
	/* 1000 cups at 0.125 are 125.00, 400 sold are 50.00. The lids are all
	 * sold within the year: zero stock at both ends. */
	"INSERT INTO inventory_movements VALUES (1,1,'2025-01-10','purchase',1000,0.125,'B-1'),"
	" (2,1,'2025-06-10','sale',-400,0.125,'INV-1'),"
	" (3,2,'2025-02-01','purchase',10,1.0,'B-2'),"
	" (4,2,'2025-02-15','sale',-10,1.0,'INV-2');"
	"INSERT INTO bills VALUES (1,'BILL-9',1,'2025-08-01','2025-08-31','2025-08-20',20000.0,"
	" 'vehicles','paid');"
	"INSERT INTO budgets VALUES (6100,'2025-01',400.0),(6600,'2025-01',10.125);"
	"INSERT INTO gl_entries (journal_id, entry_date, account_id, description, debit, credit,"
	" source, reference) VALUES"
	" (1,'2025-01-10',1200,'cups',125.0,0,'bill','B-1'),(1,'2025-01-10',2000,'cups',0,125.0,'bill','B-1'),"
	" (2,'2025-02-01',1200,'lids',10.0,0,'bill','B-2'),(2,'2025-02-01',2000,'lids',0,10.0,'bill','B-2'),"
	" (3,'2025-02-15',5000,'lids',10.0,0,'invoice','INV-2'),(3,'2025-02-15',1200,'lids',0,10.0,'invoice','INV-2'),"
	" (4,'2025-06-10',5000,'cups',50.0,0,'invoice','INV-1'),(4,'2025-06-10',1200,'cups',0,50.0,'invoice','INV-1'),"
	" (5,'2025-03-01',1000,'sale',49.0,0,'invoice','INV-1'),(5,'2025-03-01',4000,'sale',0,49.0,'invoice','INV-1'),"
	" (6,'2025-03-01',1000,'sale',351.0,0,'invoice','INV-2'),(6,'2025-03-01',4000,'sale',0,351.0,'invoice','INV-2'),"
	" (7,'2025-01-05',6100,'rent',449.0,0,'bank',NULL),(7,'2025-01-05',1000,'rent',0,449.0,'bank',NULL),"
	" (8,'2025-01-06',6600,'cover',10.13,0,'bank',NULL),(8,'2025-01-06',1000,'cover',0,10.13,'bank',NULL),"
	" (9,'2025-03-20',6100,'rent',351.0,0,'bank',NULL),(9,'2025-03-20',1000,'rent',0,351.0,'bank',NULL),"
	/* A van bought on a bill of category 'vehicles', paid in August; an old
	 * truck (cost 12000, depreciated 5000) sold for 10000 in September. */
	" (10,'2025-08-01',1500,'van',20000.0,0,'bill','BILL-9'),"
	" (10,'2025-08-01',2000,'van',0,20000.0,'bill','BILL-9'),"
	" (11,'2025-08-20',2000,'van',20000.0,0,'bill_payment','BILL-9'),"
	" (11,'2025-08-20',1000,'van',0,20000.0,'bill_payment','BILL-9'),"
	" (12,'2025-09-05',1000,'truck sold',10000.0,0,'adjustment',NULL),"
	" (12,'2025-09-05',1510,'truck sold',5000.0,0,'adjustment',NULL),"
	" (12,'2025-09-05',1500,'truck sold',0,12000.0,'adjustment',NULL),"
	" (12,'2025-09-05',7900,'truck sold',0,3000.0,'adjustment',NULL);";

/* The demo's tables, empty, then the rows above. */
static int make_ledger(void **state)
{
	sqlite3 *demo;
	sqlite3_stmt *st;
	char *path;
	(void)state;

	if (asprintf(&dir, "%s/edges", tl_tmp()) < 0 || mkdir(dir, 0755) != 0)
		return -1;
	if (asprintf(&path, "%s/ledger.sqlite", tl_demo()) < 0)
		return -1;
	if (sqlite3_open_v2(path, &demo, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -1;
	free(path);
	if (asprintf(&path, "%s/ledger.sqlite", dir) < 0 || sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	free(path);
	if (sqlite3_prepare_v2(demo,
			       "SELECT sql FROM sqlite_master WHERE type = 'table'"
			       " AND name NOT LIKE 'sqlite_%'",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW)
		if (sqlite3_exec(db, (const char *)sqlite3_column_text(st, 0), NULL, NULL, NULL))
			return -1;
	sqlite3_finalize(st);
	sqlite3_close(demo);
	return sqlite3_exec(db, rows, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static int close_ledger(void **state)
{
	(void)state;
	sqlite3_close(db);
	free(dir);
	return 0;
}

static char *build(const char *id, const char *params_json, const char *language)
{
	json_t *params = json_loads(params_json, 0, NULL);
	const char *field = NULL;
	char err[512] = "", *code = NULL;

	assert_non_null(params);
	if (template_build(id, params, language, "ledger.sqlite", &code, err, sizeof(err), &field))
		fail_msg("%s %s: %s", id, params_json, err);
	json_decref(params);
	return code;
}

/* The SQL's table as JSON rows: numbers as reals, NULL as null. */
static json_t *sql_rows(const char *id, const char *params_json)
{
	char *sql = build(id, params_json, "sql");
	json_t *table = json_array();
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", id, sqlite3_errmsg(db));
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *row = json_array();

		for (int c = 0; c < sqlite3_column_count(st); c++) {
			int type = sqlite3_column_type(st, c);

			json_array_append_new(
				row, type == SQLITE_NULL ? json_null()
				     : type == SQLITE_TEXT
					     ? json_string((const char *)sqlite3_column_text(st, c))
					     : json_real(sqlite3_column_double(st, c)));
		}
		json_array_append_new(table, row);
	}
	sqlite3_finalize(st);
	free(sql);
	return table;
}

static json_t *python_rows(const char *id, const char *params_json)
{
	char *code = build(id, params_json, "python");
	char *argv[] = { (char *)tl_bin(), "exec", "--lang", "python", "--data", dir, "-", NULL };
	struct tl_output o;
	json_t *out, *table;

	tl_run(argv, code, &o);
	out = json_loads(o.out, 0, NULL);
	if (!out || strcmp(json_string_value(json_object_get(out, "status")), "ok") != 0)
		fail_msg("%s %s: %s\n%s", id, params_json, o.out, o.err);
	table = json_incref(json_object_get(json_object_get(out, "table"), "rows"));
	json_decref(out);
	tl_output_free(&o);
	free(code);
	return table;
}

static double number(const json_t *v)
{
	assert_true(json_is_number(v));
	return json_number_value(v);
}

/* Same rows, same texts, numbers equal (to a billionth, the JSON's
 * printing), NULL where NULL. */
static void assert_same_rows(const char *id, const json_t *sql, const json_t *py)
{
	assert_int_equal(json_array_size(sql), json_array_size(py));
	for (size_t r = 0; r < json_array_size(sql); r++) {
		const json_t *a = json_array_get(sql, r), *b = json_array_get(py, r);

		assert_int_equal(json_array_size(a), json_array_size(b));
		for (size_t c = 0; c < json_array_size(a); c++) {
			const json_t *x = json_array_get(a, c), *y = json_array_get(b, c);

			if (json_is_string(x))
				assert_string_equal(json_string_value(x), json_string_value(y));
			else if (json_is_null(x) || json_is_null(y))
				assert_true(json_is_null(x) && json_is_null(y));
			else if (fabs(number(x) - number(y)) > 1e-9)
				fail_msg("%s row %zu column %zu: SQL %.10g, Python %.10g", id, r, c,
					 number(x), number(y));
		}
	}
}

static const json_t *at(const json_t *rows_json, size_t row, size_t column)
{
	return json_array_get(json_array_get(rows_json, row), column);
}

static double ledger_number(const char *sql)
{
	sqlite3_stmt *st;
	double v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* A budget of 10.125 is 10.13 to the cent in both languages, so 10.13
 * spent is on budget; 49 over 400 is 12.25 %, shown as 12.3. */
static void half_a_cent_and_a_five_round_away_from_zero(void **state)
{
	json_t *sql = sql_rows("budget_vs_actual", "{\"through_month\": 1}");
	json_t *py = python_rows("budget_vs_actual", "{\"through_month\": 1}");
	(void)state;

	assert_same_rows("budget_vs_actual", sql, py);
	assert_int_equal(json_array_size(sql), 2);
	/* account_id, account, type, budget, actual, variance, variance_pct, assessment */
	assert_true(number(at(sql, 0, 6)) == 12.3);
	assert_true(number(at(sql, 1, 3)) == 10.13);
	assert_string_equal(json_string_value(at(sql, 1, 7)), "on budget");
	json_decref(sql);
	json_decref(py);

	sql = sql_rows("top_customers", "{}");
	py = python_rows("top_customers", "{}");
	assert_same_rows("top_customers", sql, py);
	/* rank 2 is Alpha, 49 of 400 */
	assert_true(number(at(sql, 1, 1)) == 1);
	assert_true(number(at(sql, 1, 9)) == 12.3);
	assert_true(number(at(sql, 0, 9)) == 87.8);
	json_decref(sql);
	json_decref(py);

	sql = sql_rows("ar_aging", "{\"as_of\": \"2025-04-01\"}");
	py = python_rows("ar_aging", "{\"as_of\": \"2025-04-01\"}");
	assert_same_rows("ar_aging", sql, py);
	assert_true(number(at(sql, 0, 3)) == 12.3); /* current: INV-1 */
	json_decref(sql);
	json_decref(py);
}

/* 400 cups at 0.125 cost 50.00, not 400 times a rounded 0.13 or 0.12: the
 * goods cost is the P&L's, the stock is the Inventory account's, and no
 * made-up "freight" fills a gap. The lids' stock is zero at both ends, so
 * their turnover has no value (not a division by zero). */
static void unit_costs_with_more_decimals_value_stock_exactly(void **state)
{
	static const char *const params[] = { "{}", "{\"average\": \"monthly\"}" };
	(void)state;

	for (size_t k = 0; k < 2; k++) {
		json_t *sql = sql_rows("inventory_turnover", params[k]);
		json_t *py = python_rows("inventory_turnover", params[k]);

		assert_same_rows("inventory_turnover", sql, py);
		assert_int_equal(json_array_size(sql), 3);
		/* category, goods_cost, freight_and_other, cost_of_sales, opening,
		 * closing, avg_inventory, turnover, days_on_hand; lids, paper, total */
		assert_string_equal(json_string_value(at(sql, 1, 0)), "paper");
		assert_true(number(at(sql, 1, 1)) == 50.0);
		assert_true(number(at(sql, 1, 2)) == 0.0);
		assert_true(number(at(sql, 1, 5)) == 75.0);
		assert_true(number(at(sql, 2, 5)) ==
			    ledger_number("SELECT sum(debit - credit) FROM gl_entries"
					  " WHERE account_id = 1200"));
		assert_true(number(at(sql, 2, 3)) ==
			    ledger_number("SELECT sum(debit - credit) FROM gl_entries"
					  " WHERE account_id = 5000"));
		assert_true(number(at(sql, 2, 2)) == 0.0);
		if (k == 0) {
			assert_true(json_is_null(at(sql, 0, 7)));
			/* paper: (0 + 75) / 2 = 37.50; 50 / 37.5 = 1.33; 365 * 37.5 / 50 = 273.75 */
			assert_true(number(at(sql, 1, 6)) == 37.5);
			assert_true(number(at(sql, 1, 7)) == 1.33);
			assert_true(number(at(sql, 1, 8)) == 273.8);
		}
		json_decref(sql);
		json_decref(py);
	}
}

/* A margin that ends in 5: March's net income is 49 of 400 revenue. */
static void margins_agree_in_both_languages(void **state)
{
	json_t *sql = sql_rows("pnl_by_month", "{}");
	json_t *py = python_rows("pnl_by_month", "{}");
	(void)state;

	assert_same_rows("pnl_by_month", sql, py);
	/* month, revenue, cost_of_sales, gross_profit, gross_margin_pct,
	 * operating_expenses, net_income, net_margin_pct */
	assert_string_equal(json_string_value(at(sql, 2, 0)), "2025-03");
	assert_true(number(at(sql, 2, 6)) == 49.0);
	assert_true(number(at(sql, 2, 7)) == 12.3);
	json_decref(sql);
	json_decref(py);
}

static size_t row_of_month(const json_t *table, const char *month)
{
	for (size_t r = 0; r < json_array_size(table); r++)
		if (strcmp(json_string_value(at(table, r, 0)), month) == 0)
			return r;
	fail_msg("no row for %s", month);
	return 0;
}

/* Capital spending is what the ledger books to a fixed asset: the van's
 * bill is investing whatever its category is called, and the truck's sale
 * is investing as a whole (10000 in, not 12000 in and 2000 out of
 * operating). Every row still adds up, and closes at the cash account. */
static void capital_flows_come_from_fixed_asset_accounts(void **state)
{
	const char *params = "{\"start_date\": \"2025-01-01\", \"end_date\": \"2025-12-31\"}";
	json_t *sql = sql_rows("cash_flow_summary", params);
	json_t *py = python_rows("cash_flow_summary", params);
	size_t aug = row_of_month(sql, "2025-08"), sep = row_of_month(sql, "2025-09");
	(void)state;

	assert_same_rows("cash_flow_summary", sql, py);
	/* month, opening_cash, customers, vendors, payroll, other_operating,
	 * operating, investing, loan, owner, financing, net_change, closing_cash */
	assert_true(number(at(sql, aug, 7)) == -20000.0);
	assert_true(number(at(sql, aug, 3)) == 0.0);
	assert_true(number(at(sql, sep, 7)) == 10000.0);
	assert_true(number(at(sql, sep, 6)) == 0.0);
	for (size_t r = 0; r < json_array_size(sql); r++) {
		double operating = number(at(sql, r, 6)), investing = number(at(sql, r, 7));
		double financing = number(at(sql, r, 10)), net = number(at(sql, r, 11));

		assert_true(fabs(operating + investing + financing - net) < 0.005);
		assert_true(fabs(number(at(sql, r, 1)) + net - number(at(sql, r, 12))) < 0.005);
	}
	assert_true(number(at(sql, json_array_size(sql) - 1, 12)) ==
		    ledger_number("SELECT round(sum(debit - credit), 2) FROM gl_entries"
				  " WHERE account_id = 1000"));
	json_decref(sql);
	json_decref(py);
}

static void explain(const char *id, const char *params_json, char *notice, size_t len)
{
	json_t *params = json_loads(params_json, 0, NULL);
	char *path;

	assert_true(asprintf(&path, "%s/ledger.sqlite", dir) > 0);
	assert_int_equal(template_explain_empty(id, params, path, notice, len), 1);
	json_decref(params);
	free(path);
}

/* The office segment exists, and 2025 has invoices, but no office customer
 * was invoiced in 2025: the empty table says so. Two values that match
 * nothing are both named. */
static void values_that_match_only_apart_are_explained(void **state)
{
	char notice[1024];
	json_t *sql = sql_rows("top_customers", "{\"segment\": \"office\"}");
	(void)state;

	assert_int_equal(json_array_size(sql), 0);
	json_decref(sql);
	explain("top_customers", "{\"segment\": \"office\"}", notice, sizeof(notice));
	assert_string_equal(notice, "no rows for segment 'office' and year 2025 together; each value "
				    "matches data on its own, but no data matches them all");
	explain("top_customers", "{\"segment\": \"Office\", \"year\": 2030}", notice,
		sizeof(notice));
	assert_string_equal(notice, "no rows for segment 'Office'; segments in the data (matched "
				    "exactly, case included): office, retail. Also no rows for year "
				    "2030; years with invoices in the data: 2025");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(half_a_cent_and_a_five_round_away_from_zero),
		cmocka_unit_test(unit_costs_with_more_decimals_value_stock_exactly),
		cmocka_unit_test(margins_agree_in_both_languages),
		cmocka_unit_test(values_that_match_only_apart_are_explained),
		cmocka_unit_test(capital_flows_come_from_fixed_asset_accounts),
	};

	return cmocka_run_group_tests_name("template_edges", tests, make_ledger, close_ledger);
}
