/*
 * test_templates: the built-in analysis templates against the demo books.
 *
 * Each template's SQL runs here through the sqlite3 C API (read-only) and
 * its figures are checked against the same figure computed by a query
 * written differently in this file (other tables, other filters, floating
 * sums rounded to cents), so a wrong join or sign in a template shows. The
 * SQL also goes once through the real SQL runner program (its guard must
 * accept it), and the Python versions of pnl_by_month and top_customers
 * run once each in a real sandbox (`ledgerbox exec`) and must give the SQL
 * version's table. Then: parameter checking, quoting, the dataset check,
 * and the catalogue's JSON.
 */
#include "testlib.h"

#include <jansson.h>
#include <sqlite3.h>

#include "templates/templates.h"

static sqlite3 *demo; /* the demo ledger, read-only, for the whole group */

/* ---- running SQL ---------------------------------------------------------- */

#define MAX_COLS 16

struct cell {
	bool null;
	bool is_text;
	double num;
	char *text;
};

struct result {
	size_t n_rows, n_cols;
	char *names[MAX_COLS];
	struct cell *cells; /* n_rows * n_cols */
};

static void result_free(struct result *res)
{
	for (size_t i = 0; i < res->n_rows * res->n_cols; i++)
		free(res->cells[i].text);
	for (size_t c = 0; c < res->n_cols; c++)
		free(res->names[c]);
	free(res->cells);
	memset(res, 0, sizeof(*res));
}

static void read_row(sqlite3_stmt *st, struct result *res)
{
	struct cell *row;

	res->cells = realloc(res->cells, (res->n_rows + 1) * res->n_cols * sizeof(struct cell));
	assert_non_null(res->cells);
	row = &res->cells[res->n_rows * res->n_cols];
	for (size_t c = 0; c < res->n_cols; c++) {
		int type = sqlite3_column_type(st, (int)c);

		row[c].null = type == SQLITE_NULL;
		row[c].is_text = type == SQLITE_TEXT;
		row[c].num = sqlite3_column_double(st, (int)c);
		row[c].text = row[c].is_text ? strdup((const char *)sqlite3_column_text(st, (int)c))
					     : NULL;
	}
	res->n_rows++;
}

static void run_sql(const char *sql, struct result *res)
{
	sqlite3_stmt *st;
	int rc;

	memset(res, 0, sizeof(*res));
	if (sqlite3_prepare_v2(demo, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s\n%s", sqlite3_errmsg(demo), sql);
	res->n_cols = (size_t)sqlite3_column_count(st);
	assert_true(res->n_cols <= MAX_COLS);
	for (size_t c = 0; c < res->n_cols; c++)
		res->names[c] = strdup(sqlite3_column_name(st, (int)c));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		read_row(st, res);
	assert_int_equal(rc, SQLITE_DONE);
	sqlite3_finalize(st);
}

static json_t *params_of(const char *params_json)
{
	json_t *params = NULL;

	if (params_json) {
		params = json_loads(params_json, JSON_ALLOW_NUL, NULL);
		assert_non_null(params);
	}
	return params;
}

static char *build(const char *id, const char *params_json, const char *language)
{
	json_t *params = params_of(params_json);
	const char *field = NULL;
	char err[512] = "", *code = NULL;
	int r = template_build(id, params, language, "ledger.sqlite", &code, err, sizeof(err),
			       &field);

	json_decref(params);
	if (r != 0)
		fail_msg("%s %s: %d %s (%s)", id, language, r, err, field ? field : "-");
	assert_non_null(code);
	return code;
}

static void run_template(const char *id, const char *params_json, struct result *res)
{
	char *sql = build(id, params_json, "sql");

	run_sql(sql, res);
	free(sql);
}

static size_t col(const struct result *res, const char *name)
{
	for (size_t c = 0; c < res->n_cols; c++)
		if (strcmp(res->names[c], name) == 0)
			return c;
	fail_msg("no column %s", name);
	return 0;
}

static const struct cell *cell(const struct result *res, size_t row, const char *name)
{
	assert_true(row < res->n_rows);
	return &res->cells[row * res->n_cols + col(res, name)];
}

static double num(const struct result *res, size_t row, const char *name)
{
	const struct cell *c = cell(res, row, name);

	assert_false(c->null);
	assert_false(c->is_text);
	return c->num;
}

static const char *text(const struct result *res, size_t row, const char *name)
{
	const struct cell *c = cell(res, row, name);

	assert_true(c->is_text);
	return c->text;
}

/* Rounded to the nearest cent, half away from zero (no libm here). */
static long long cents(double amount)
{
	double c = amount * 100;

	return (long long)(c < 0 ? c - 0.5 : c + 0.5);
}

/* A number from an independent query (the test's own SQL, built here). */
static double scalar(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static double scalar(const char *fmt, ...)
{
	char sql[2048];
	sqlite3_stmt *st;
	double v;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	if (sqlite3_prepare_v2(demo, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s\n%s", sqlite3_errmsg(demo), sql);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	return v;
}

#define assert_cents(a, b) assert_int_equal(cents(a), cents(b))

static void assert_near(double a, double b, double tolerance)
{
	if (a - b > tolerance || b - a > tolerance)
		fail_msg("%.6f and %.6f differ by more than %g", a, b, tolerance);
}

/* ---- pnl_by_month ------------------------------------------------------------ */

/* Credits less debits of the accounts `where` picks, in month YYYY-MM. */
static double month_credit(const char *month, const char *where)
{
	return scalar("SELECT total(credit) - total(debit) FROM gl_entries"
		      " WHERE entry_date >= '%s-01' AND entry_date < date('%s-01', '+1 month')"
		      "   AND account_id IN (SELECT account_id FROM accounts WHERE %s)",
		      month, month, where);
}

static void check_pnl_month(const struct result *res, size_t row)
{
	const char *month = text(res, row, "month");
	double revenue = month_credit(month, "type = 'revenue'");
	double cos = -month_credit(month, "subtype = 'cost_of_sales'");
	double expenses = -month_credit(month, "type = 'expense'");

	assert_cents(num(res, row, "revenue"), revenue);
	assert_cents(num(res, row, "cost_of_sales"), cos);
	assert_cents(num(res, row, "gross_profit"), revenue - cos);
	assert_cents(num(res, row, "operating_expenses"), expenses - cos);
	assert_cents(num(res, row, "net_income"), revenue - expenses);
	assert_near(num(res, row, "gross_margin_pct"), 100 * (revenue - cos) / revenue, 0.051);
	assert_near(num(res, row, "net_margin_pct"), 100 * (revenue - expenses) / revenue, 0.051);
}

static void pnl_by_month_matches_the_ledger(void **state)
{
	struct result res;
	long long net = 0;
	(void)state;

	run_template("pnl_by_month", NULL, &res);
	assert_int_equal(res.n_rows, 12);
	for (size_t row = 0; row < 12; row++) {
		char month[8];

		snprintf(month, sizeof(month), "2025-%02zu", row + 1);
		assert_string_equal(text(&res, row, "month"), month);
		check_pnl_month(&res, row);
		net += cents(num(&res, row, "net_income"));
	}
	assert_int_equal(net, cents(scalar("SELECT total(g.credit - g.debit) FROM gl_entries g,"
					   " accounts a WHERE a.account_id = g.account_id"
					   " AND a.type IN ('revenue', 'expense')"
					   " AND g.entry_date LIKE '2025-%%'")));
	result_free(&res);

	run_template("pnl_by_month", "{\"year\": 2024}", &res);
	assert_int_equal(res.n_rows, 12);
	assert_string_equal(text(&res, 0, "month"), "2024-01");
	check_pnl_month(&res, 11);
	result_free(&res);

	run_template("pnl_by_month", "{\"year\": 2030}", &res);
	assert_int_equal(res.n_rows, 0);
	result_free(&res);
}

/* ---- cash_flow_summary ---------------------------------------------------- */

static double cash_balance(const char *op, const char *date)
{
	return scalar("SELECT total(debit) - total(credit) FROM gl_entries"
		      " WHERE account_id = 1000 AND entry_date %s '%s'",
		      op, date);
}

static const char *const operating[] = { "customers", "vendors", "payroll", "other_operating" };

static long long sum_of(const struct result *res, size_t row, const char *const *names, size_t n)
{
	long long sum = 0;

	for (size_t k = 0; k < n; k++)
		sum += cents(num(res, row, names[k]));
	return sum;
}

static void check_cash_rows_chain(const struct result *res)
{
	static const char *const financing[] = { "loan", "owner" };
	static const char *const activities[] = { "operating", "investing", "financing" };

	for (size_t row = 0; row < res->n_rows; row++) {
		assert_int_equal(sum_of(res, row, operating, 4), cents(num(res, row, "operating")));
		assert_int_equal(sum_of(res, row, financing, 2), cents(num(res, row, "financing")));
		assert_int_equal(sum_of(res, row, activities, 3), cents(num(res, row, "net_change")));
		assert_int_equal(cents(num(res, row, "opening_cash")) +
					 cents(num(res, row, "net_change")),
				 cents(num(res, row, "closing_cash")));
		if (row > 0)
			assert_cents(num(res, row, "opening_cash"),
				     num(res, row - 1, "closing_cash"));
	}
}

static double column_total(const struct result *res, const char *name)
{
	double sum = 0;

	for (size_t row = 0; row < res->n_rows; row++)
		sum += num(res, row, name);
	return sum;
}

static void cash_flow_summary_matches_the_cash_account(void **state)
{
	struct result res;
	double opening = cash_balance("<", "2025-01-01"), closing = cash_balance("<=", "2025-12-31");
	(void)state;

	run_template("cash_flow_summary", NULL, &res);
	assert_int_equal(res.n_rows, 12);
	check_cash_rows_chain(&res);
	assert_cents(num(&res, 0, "opening_cash"), opening);
	assert_cents(num(&res, 11, "closing_cash"), closing);
	assert_cents(column_total(&res, "net_change"), closing - opening);
	assert_cents(column_total(&res, "customers"),
		     scalar("SELECT total(debit - credit) FROM gl_entries WHERE account_id = 1000"
			    " AND source IN ('payment', 'return') AND entry_date LIKE '2025%%'"));
	assert_cents(column_total(&res, "investing"),
		     scalar("SELECT -total(credit) FROM gl_entries WHERE account_id = 1000"
			    " AND source = 'bill_payment' AND entry_date LIKE '2025%%' AND reference"
			    " IN (SELECT bill_number FROM bills WHERE category = 'equipment')"));
	/* Loan principal is financing, interest operating: the loan account's
	 * and the interest and fee accounts' own movements in the year. */
	assert_cents(column_total(&res, "loan"),
		     scalar("SELECT total(credit) - total(debit) FROM gl_entries WHERE account_id ="
			    " (SELECT account_id FROM accounts WHERE subtype = 'long_term_liability')"
			    " AND entry_date LIKE '2025%%'"));
	assert_true(column_total(&res, "loan") < 0);
	assert_cents(column_total(&res, "other_operating"),
		     -scalar("SELECT total(debit) - total(credit) FROM gl_entries WHERE account_id"
			     " IN (SELECT account_id FROM accounts WHERE name IN ('Interest Expense',"
			     " 'Bank Fees')) AND entry_date LIKE '2025%%'"));
	assert_cents(column_total(&res, "owner"),
		     scalar("SELECT total(credit) - total(debit) FROM gl_entries WHERE account_id"
			    " IN (SELECT account_id FROM accounts WHERE type = 'equity')"
			    " AND entry_date LIKE '2025%%'"));
	result_free(&res);

	/* The books open inside this range: their opening balance is opening
	 * cash, not a flow. */
	run_template("cash_flow_summary",
		     "{\"start_date\": \"2024-01-01\", \"end_date\": \"2024-03-31\"}", &res);
	assert_int_equal(res.n_rows, 3);
	check_cash_rows_chain(&res);
	assert_cents(num(&res, 0, "opening_cash"),
		     scalar("SELECT total(debit - credit) FROM gl_entries"
			    " WHERE account_id = 1000 AND source = 'opening'"));
	assert_cents(num(&res, 2, "closing_cash"), cash_balance("<=", "2024-03-31"));
	result_free(&res);
}

/* ---- ar_aging --------------------------------------------------------------------- */

static void check_aging_on(const char *as_of)
{
	static const char *const buckets[] = { "current", "1-30", "31-60", "61-90", "90+" };
	char params[64];
	struct result res;
	long long total = 0, count = 0;
	double pct = 0;
	const char *open = "issue_date <= '%s' AND coalesce(paid_date, '9999-12-31') > '%s'";
	char where[160];

	snprintf(params, sizeof(params), "{\"as_of\": \"%s\"}", as_of);
	snprintf(where, sizeof(where), open, as_of, as_of);
	run_template("ar_aging", params, &res);
	assert_int_equal(res.n_rows, 5);
	for (size_t row = 0; row < 5; row++) {
		assert_string_equal(text(&res, row, "bucket"), buckets[row]);
		total += cents(num(&res, row, "amount"));
		count += (long long)num(&res, row, "invoices");
		pct += num(&res, row, "pct_of_total");
	}
	/* Invoices issued less payments received, both up to the day. */
	assert_int_equal(total,
			 cents(scalar("SELECT (SELECT total(amount) FROM invoices WHERE issue_date"
				      " <= '%s') - (SELECT total(credit) FROM gl_entries WHERE"
				      " account_id = 1100 AND source = 'payment' AND entry_date <="
				      " '%s')",
				      as_of, as_of)));
	assert_int_equal(total, cents(scalar("SELECT total(debit) - total(credit) FROM gl_entries"
					     " WHERE account_id = 1100 AND entry_date <= '%s'",
					     as_of)));
	assert_int_equal(count, (long long)scalar("SELECT count(*) FROM invoices WHERE %s", where));
	assert_cents(num(&res, 0, "amount"),
		     scalar("SELECT total(amount) FROM invoices WHERE %s AND due_date >= '%s'",
			    where, as_of));
	assert_cents(num(&res, 4, "amount"),
		     scalar("SELECT total(amount) FROM invoices WHERE %s"
			    " AND due_date < date('%s', '-90 days')",
			    where, as_of));
	assert_near(pct, 100, 0.3);
	result_free(&res);
}

static void ar_aging_adds_up_to_open_receivables(void **state)
{
	struct result res;
	(void)state;

	check_aging_on("2025-12-31");
	check_aging_on("2025-06-30");

	/* Before the first invoice: no rows (the notice says why), not zeros. */
	run_template("ar_aging", "{\"as_of\": \"2020-01-01\"}", &res);
	assert_int_equal(res.n_rows, 0);
	result_free(&res);
	/* The day of the first invoice: it is the only one open. */
	run_template("ar_aging", "{\"as_of\": \"2024-01-02\"}", &res);
	assert_int_equal(res.n_rows, 5);
	assert_int_equal((long long)num(&res, 0, "invoices"),
			 (long long)scalar("SELECT count(*) FROM invoices WHERE issue_date <="
					   " '2024-01-02'"));
	result_free(&res);
}

/* ---- inventory_turnover ------------------------------------------------------ */

/* The average of the twelve 2025 month-end values `value_sql` gives for
 * the day '%s' (a month's last day), in cents. */
static double average_month_end_cents(const char *value_sql)
{
	long long sum = 0;

	for (int m = 1; m <= 12; m++) {
		char first[16], sql[1024], end[64];

		snprintf(first, sizeof(first), "2025-%02d-01", m);
		snprintf(end, sizeof(end), "date('%s', '+1 month', '-1 day')", first);
		snprintf(sql, sizeof(sql), value_sql, end);
		sum += cents(scalar("%s", sql));
	}
	return sum / 12.0;
}

static size_t row_of(const struct result *res, const char *column, const char *value)
{
	for (size_t row = 0; row < res->n_rows; row++)
		if (strcmp(text(res, row, column), value) == 0)
			return row;
	fail_msg("no row with %s = %s", column, value);
	return 0;
}

static long long total_cents(const struct result *res, const char *column)
{
	long long sum = 0;

	for (size_t row = 0; row < res->n_rows; row++)
		sum += cents(num(res, row, column));
	return sum;
}

/* The inventory account's balance at the end of day `day` (or before it
 * with op "<"), in the ledger. */
static double stock_in_ledger(const char *op, const char *day)
{
	return scalar("SELECT total(debit) - total(credit) FROM gl_entries WHERE account_id ="
		      " (SELECT account_id FROM accounts WHERE name = 'Inventory')"
		      " AND entry_date %s '%s'",
		      op, day);
}

/* The "All categories" row against the ledger and the P&L template. */
static void check_inventory_total(struct result *res, const char *year, double days)
{
	size_t all = res->n_rows - 1;
	char params[32], first[16], last[16];
	struct result pnl;
	double goods, freight, opening, closing, cost, avg;

	snprintf(params, sizeof(params), "{\"year\": %s}", year);
	snprintf(first, sizeof(first), "%s-01-01", year);
	snprintf(last, sizeof(last), "%s-12-31", year);
	assert_string_equal(text(res, all, "category"), "All categories");
	/* Cost of sales is the P&L template's figure for the same year. */
	run_template("pnl_by_month", params, &pnl);
	assert_int_equal(cents(num(res, all, "cost_of_sales")), total_cents(&pnl, "cost_of_sales"));
	result_free(&pnl);
	/* ... made of goods sold and shrinkage (movements) and freight in. */
	goods = scalar("SELECT total(debit) - total(credit) FROM gl_entries WHERE account_id IN"
		       " (SELECT account_id FROM accounts WHERE name IN ('Cost of Goods Sold',"
		       " 'Inventory Shrinkage')) AND entry_date LIKE '%s%%'",
		       year);
	freight = scalar("SELECT total(debit) - total(credit) FROM gl_entries WHERE account_id ="
			 " (SELECT account_id FROM accounts WHERE name = 'Freight In')"
			 " AND entry_date LIKE '%s%%'",
			 year);
	assert_true(freight > 0);
	assert_cents(num(res, all, "goods_cost"), goods);
	assert_cents(num(res, all, "freight_and_other"), freight);
	cost = goods + freight;
	/* Categories add up to the total, to the cent. */
	res->n_rows--;
	assert_int_equal(total_cents(res, "cost_of_sales"), cents(cost));
	assert_int_equal(total_cents(res, "freight_and_other"), cents(freight));
	res->n_rows++;
	/* Opening stock: the inventory account's balance before the year, the
	 * books' opening balance included. */
	opening = stock_in_ledger("<", first) +
		  scalar("SELECT total(debit) - total(credit) FROM gl_entries WHERE source ="
			 " 'opening' AND entry_date = '%s' AND account_id = (SELECT account_id"
			 " FROM accounts WHERE name = 'Inventory')",
			 first);
	closing = stock_in_ledger("<=", last);
	avg = (opening + closing) / 2;
	assert_cents(num(res, all, "opening_inventory"), opening);
	assert_cents(num(res, all, "closing_inventory"), closing);
	assert_near(num(res, all, "avg_inventory"), avg, 0.0051);
	assert_near(num(res, all, "turnover"), cost / avg, 0.0051);
	assert_near(num(res, all, "days_on_hand"), days * avg / cost, 0.051);
}

static void inventory_turnover_is_pnl_cost_of_sales_over_average_stock(void **state)
{
	struct result res;
	size_t paper;
	double avg, goods, opening, closing;
	const char *paper_only = "product_id IN (SELECT product_id FROM products WHERE category ="
				 " 'paper')";
	(void)state;

	run_template("inventory_turnover", NULL, &res);
	assert_int_equal(res.n_rows,
			 1 + (size_t)scalar("SELECT count(DISTINCT category) FROM products WHERE"
					    " product_id IN (SELECT product_id FROM"
					    " inventory_movements)"));
	check_inventory_total(&res, "2025", 365);

	/* One category from its own movements: sales, returns and count
	 * corrections at cost, and its stock at both ends of the year. */
	paper = row_of(&res, "category", "paper");
	goods = -scalar("SELECT total(quantity * unit_cost) FROM inventory_movements"
			" WHERE movement_type <> 'purchase' AND reference <> 'OPENING'"
			" AND movement_date LIKE '2025-%%' AND %s",
			paper_only);
	opening = scalar("SELECT total(quantity * unit_cost) FROM inventory_movements"
			 " WHERE movement_date < '2025-01-01' AND %s",
			 paper_only);
	closing = scalar("SELECT total(quantity * unit_cost) FROM inventory_movements"
			 " WHERE movement_date <= '2025-12-31' AND %s",
			 paper_only);
	assert_cents(num(&res, paper, "goods_cost"), goods);
	assert_cents(num(&res, paper, "opening_inventory"), opening);
	assert_cents(num(&res, paper, "closing_inventory"), closing);
	assert_near(num(&res, paper, "turnover"),
		    num(&res, paper, "cost_of_sales") / ((opening + closing) / 2), 0.0051);
	result_free(&res);

	/* The first year of the books: opening stock is the opening balance. */
	run_template("inventory_turnover", "{\"year\": 2024}", &res);
	check_inventory_total(&res, "2024", 366);
	result_free(&res);

	/* Monthly: the mean of the ledger's twelve month-end balances. */
	run_template("inventory_turnover", "{\"average\": \"monthly\"}", &res);
	avg = average_month_end_cents("SELECT total(debit) - total(credit) FROM gl_entries"
				      " WHERE account_id = 1200 AND entry_date <= %s");
	assert_near(num(&res, res.n_rows - 1, "avg_inventory") * 100, avg, 0.51);
	assert_near(num(&res, res.n_rows - 1, "turnover"),
		    num(&res, res.n_rows - 1, "cost_of_sales") * 100 / avg, 0.0051);
	result_free(&res);

	run_template("inventory_turnover", "{\"year\": 2030}", &res);
	assert_int_equal(res.n_rows, 0);
	result_free(&res);
}

/* ---- budget_vs_actual --------------------------------------------------------- */

/* Row `row` against the budgets and ledger from January of `year` to the
 * day before `through`. */
static void check_budget_row(const struct result *res, size_t row, const char *year,
			     const char *through)
{
	long long id = (long long)num(res, row, "account_id");
	double sign = scalar("SELECT CASE normal_balance WHEN 'credit' THEN -1 ELSE 1 END"
			     " FROM accounts WHERE account_id = %lld",
			     id);
	double actual = sign * scalar("SELECT total(debit) - total(credit) FROM gl_entries"
				      " WHERE account_id = %lld AND entry_date >= '%s-01-01'"
				      " AND entry_date < '%s'",
				      id, year, through);
	double budget = scalar("SELECT total(amount) FROM budgets WHERE account_id = %lld"
			       " AND month >= '%s-01' AND month < substr('%s', 1, 7)",
			       id, year, through);
	long long over = cents(actual) - cents(budget);
	const char *want = over == 0 ? "on budget"
			   : (sign < 0) == (over > 0) ? "favorable" : "unfavorable";

	assert_cents(num(res, row, "actual"), actual);
	assert_cents(num(res, row, "budget"), budget);
	assert_cents(num(res, row, "variance"), actual - budget);
	assert_string_equal(text(res, row, "assessment"), want);
}

static void budget_vs_actual_matches_budgets_and_ledger(void **state)
{
	struct result res;
	(void)state;

	run_template("budget_vs_actual", NULL, &res);
	assert_int_equal(res.n_rows,
			 (size_t)scalar("SELECT count(*) FROM accounts WHERE type IN ('revenue',"
					" 'expense') AND (account_id IN (SELECT account_id FROM"
					" budgets WHERE month LIKE '2025-%%') OR account_id IN"
					" (SELECT account_id FROM gl_entries WHERE entry_date"
					" LIKE '2025-%%'))"));
	for (size_t row = 0; row < res.n_rows; row++)
		check_budget_row(&res, row, "2025", "2026-01-01");
	assert_string_equal(text(&res, 0, "type"), "revenue");
	result_free(&res);

	run_template("budget_vs_actual", "{\"through_month\": 3}", &res);
	assert_true(res.n_rows > 0);
	for (size_t row = 0; row < res.n_rows; row++)
		check_budget_row(&res, row, "2025", "2025-04-01");
	result_free(&res);

	/* 2024's insurance was spent exactly as budgeted: neither good nor bad
	 * news. */
	run_template("budget_vs_actual", "{\"year\": 2024}", &res);
	for (size_t row = 0; row < res.n_rows; row++)
		check_budget_row(&res, row, "2024", "2025-01-01");
	assert_string_equal(text(&res, row_of(&res, "account", "Insurance"), "assessment"),
			    "on budget");
	result_free(&res);
}

/* ---- top_customers -------------------------------------------------------------- */

/* A customer's 2025 returns: refunds booked on the returns account against
 * its invoices, found from the return lines rather than from revenue. */
static double customer_returns(long long id)
{
	return scalar("SELECT total(g.debit) - total(g.credit) FROM gl_entries g JOIN invoices i"
		      " ON i.invoice_number = g.reference WHERE i.customer_id = %lld"
		      " AND g.source = 'return' AND g.account_id = (SELECT account_id FROM accounts"
		      " WHERE name = 'Sales Returns and Allowances') AND g.entry_date LIKE '2025%%'",
		      id);
}

static void check_customer_row(const struct result *res, size_t row, const char *basis)
{
	long long id = (long long)num(res, row, "customer_id");
	const char *in_2025 = "issue_date >= '2025-01-01' AND issue_date < '2026-01-01'";
	double gross = scalar("SELECT total(amount) FROM invoices WHERE customer_id = %lld AND %s",
			      id, in_2025);
	const char *ranked = strcmp(basis, "net") == 0 ? "net_revenue" : "gross_invoiced";

	assert_int_equal((long long)num(res, row, "rank"), (long long)row + 1);
	assert_string_equal(text(res, row, "ranked_by"), basis);
	assert_cents(num(res, row, "gross_invoiced"), gross);
	assert_cents(num(res, row, "returns"), customer_returns(id));
	assert_cents(num(res, row, "net_revenue"), gross - customer_returns(id));
	assert_int_equal((long long)num(res, row, "invoices"),
			 (long long)scalar("SELECT count(*) FROM invoices WHERE customer_id = %lld"
					   " AND %s",
					   id, in_2025));
	if (row > 0)
		assert_true(num(res, row, ranked) <= num(res, row - 1, ranked));
}

static void top_customers_match_direct_sums(void **state)
{
	const char *top_gross = "SELECT %s FROM invoices i JOIN customers c USING (customer_id)"
				" WHERE strftime('%%Y', i.issue_date) = '2025' %s"
				" GROUP BY i.customer_id ORDER BY total(i.amount) DESC,"
				" i.customer_id LIMIT 1";
	/* Net: invoiced less refunded, customer by customer. */
	const char *top_net = "SELECT customer_id FROM (SELECT i.customer_id, total(i.amount)"
			      " - (SELECT total(g.debit) FROM gl_entries g JOIN invoices j ON"
			      " j.invoice_number = g.reference WHERE j.customer_id = i.customer_id"
			      " AND g.source = 'return' AND g.account_id = 4900 AND g.entry_date"
			      " LIKE '2025%%') AS net FROM invoices i WHERE i.issue_date LIKE"
			      " '2025%%' GROUP BY i.customer_id) ORDER BY round(net, 2) DESC,"
			      " customer_id LIMIT 1";
	struct result res, pnl;
	(void)state;

	run_template("top_customers", NULL, &res);
	assert_int_equal(res.n_rows, 10);
	for (size_t row = 0; row < res.n_rows; row++)
		check_customer_row(&res, row, "net");
	assert_int_equal((long long)num(&res, 0, "customer_id"), (long long)scalar("%s", top_net));
	result_free(&res);

	run_template("top_customers", "{\"revenue\": \"gross\"}", &res);
	for (size_t row = 0; row < res.n_rows; row++)
		check_customer_row(&res, row, "gross");
	assert_int_equal((long long)num(&res, 0, "customer_id"),
			 (long long)scalar(top_gross, "i.customer_id", ""));
	assert_near(num(&res, 0, "pct_of_total"),
		    100 * num(&res, 0, "gross_invoiced") /
			    scalar("SELECT total(amount) FROM invoices WHERE issue_date LIKE '2025%%'"),
		    0.051);
	result_free(&res);

	run_template("top_customers", "{\"segment\": \"retail\", \"limit\": 3, \"revenue\": \"gross\"}",
		     &res);
	assert_int_equal(res.n_rows, 3);
	for (size_t row = 0; row < res.n_rows; row++) {
		assert_string_equal(text(&res, row, "segment"), "retail");
		check_customer_row(&res, row, "gross");
	}
	assert_int_equal((long long)num(&res, 0, "customer_id"),
			 (long long)scalar(top_gross, "i.customer_id", "AND c.segment = 'retail'"));
	result_free(&res);

	/* Every customer: net revenue adds up to the P&L template's revenue. */
	run_template("top_customers", "{\"limit\": 1000}", &res);
	assert_int_equal(res.n_rows,
			 (size_t)scalar("SELECT count(DISTINCT customer_id) FROM invoices"
					" WHERE issue_date LIKE '2025-%%' OR invoice_number IN"
					" (SELECT reference FROM gl_entries WHERE source = 'return'"
					" AND entry_date LIKE '2025-%%')"));
	run_template("pnl_by_month", NULL, &pnl);
	assert_int_equal(total_cents(&res, "net_revenue"), total_cents(&pnl, "revenue"));
	result_free(&pnl);
	result_free(&res);
}

/* ---- the SQL runner accepts every template ------------------------------------- */

static json_t *run_program(char *const argv[], const char *input)
{
	struct tl_output o;
	json_t *j;

	tl_run(argv, input, &o);
	j = json_loads(o.out, 0, NULL);
	if (!j)
		fail_msg("exit %d, no JSON: %s\n%s", o.exit_code, o.out, o.err);
	tl_output_free(&o);
	return j;
}

static void the_sql_runner_accepts_every_template(void **state)
{
	size_t n;
	const struct template_info *list = templates_list(&n);
	char *db;
	(void)state;

	assert_true(asprintf(&db, "%s/ledger.sqlite", tl_demo()) > 0);
	for (size_t i = 0; i < n; i++) {
		char *sql = build(list[i].id, NULL, "sql");
		char *file = tl_write_tmp("template.sql", sql);
		char *argv[] = { (char *)tl_env("LEDGERBOX_RUNNER"), "--db", db, "--query-file", file,
				 NULL };
		json_t *out = run_program(argv, NULL);
		struct result res;

		run_sql(sql, &res);
		if (!json_is_null(json_object_get(out, "error")))
			fail_msg("%s: %s", list[i].id,
				 json_dumps(json_object_get(out, "error"), 0));
		assert_int_equal(json_integer_value(json_object_get(
					 json_object_get(out, "table"), "total_rows")),
				 res.n_rows);
		result_free(&res);
		json_decref(out);
		free(file);
		free(sql);
	}
	free(db);
}

/* ---- Python in the sandbox gives the SQL table --------------------------------- */

static void assert_same_table(const json_t *table, const struct result *res)
{
	const json_t *columns = json_object_get(table, "columns");
	const json_t *rows = json_object_get(table, "rows");

	assert_int_equal(json_array_size(columns), res->n_cols);
	for (size_t c = 0; c < res->n_cols; c++)
		assert_string_equal(json_string_value(json_object_get(json_array_get(columns, c),
								      "name")),
				    res->names[c]);
	assert_int_equal(json_array_size(rows), res->n_rows);
	for (size_t r = 0; r < res->n_rows; r++)
		for (size_t c = 0; c < res->n_cols; c++) {
			const json_t *v = json_array_get(json_array_get(rows, r), c);
			const struct cell *want = &res->cells[r * res->n_cols + c];

			if (want->null)
				assert_true(json_is_null(v));
			else if (want->is_text)
				assert_string_equal(json_string_value(v), want->text);
			else
				assert_near(json_number_value(v), want->num, 0.0051);
		}
}

static json_t *run_python_in_sandbox(const char *code)
{
	char *argv[] = { (char *)tl_bin(), "exec", "--lang", "python", "--data",
			 (char *)tl_demo(), "-", NULL };
	json_t *out = run_program(argv, code);
	const char *status = json_string_value(json_object_get(out, "status"));

	if (!status || strcmp(status, "ok") != 0)
		fail_msg("status %s: %s", status ? status : "?",
			 json_string_value(json_object_get(out, "stderr")));
	return out;
}

static bool has_artifact(const json_t *out, const char *name)
{
	const json_t *artifacts = json_object_get(out, "artifacts");

	for (size_t i = 0; i < json_array_size(artifacts); i++)
		if (strcmp(json_string_value(json_object_get(json_array_get(artifacts, i), "name")),
			   name) == 0)
			return true;
	return false;
}

/* Every template's Python, with parameters that use its branches, and two
 * filters that match nothing (an empty table in both languages). */
static void python_in_the_sandbox_equals_sql(void **state)
{
	static const struct {
		const char *id, *params;
	} cases[] = {
		{ "pnl_by_month", NULL },
		{ "cash_flow_summary", "{\"start_date\": \"2024-11-15\", \"end_date\": \"2025-04-10\"}" },
		{ "ar_aging", NULL },
		{ "ar_aging", "{\"as_of\": \"2020-01-01\"}" },
		{ "inventory_turnover", NULL },
		{ "inventory_turnover", "{\"year\": 2024, \"average\": \"monthly\"}" },
		{ "budget_vs_actual", "{\"year\": 2024}" },
		{ "top_customers", "{\"limit\": 5, \"segment\": \"retail\"}" },
		{ "top_customers", "{\"limit\": 5, \"revenue\": \"gross\"}" },
		{ "top_customers", "{\"segment\": \"Retail\"}" },
	};
	(void)state;

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		char *code = build(cases[k].id, cases[k].params, "python");
		json_t *out = run_python_in_sandbox(code);
		struct result res;

		run_template(cases[k].id, cases[k].params, &res);
		print_message("# %s %s: %zu rows\n", cases[k].id,
			      cases[k].params ? cases[k].params : "", res.n_rows);
		assert_same_table(json_object_get(out, "table"), &res);
		if (strcmp(cases[k].id, "pnl_by_month") == 0)
			assert_true(has_artifact(out, "pnl_by_month.png"));
		result_free(&res);
		json_decref(out);
		free(code);
	}
}

/* ---- parameters ----------------------------------------------------------------------- */

static int try_build(const char *id, const char *params_json, const char *language,
		     const char *file, char *err, size_t err_len, const char **field)
{
	json_t *params = params_of(params_json);
	char *code = (char *)"untouched";
	int r;

	*field = NULL;
	r = template_build(id, params, language, file, &code, err, err_len, field);
	json_decref(params);
	if (r == 0)
		free(code);
	else
		assert_string_equal(code, "untouched");
	return r;
}

static void bad_params_are_refused_by_name(void **state)
{
	static const struct {
		const char *id, *params, *field, *says;
	} cases[] = {
		{ "ar_aging", "{\"as_of\": \"2025-13-01\"}", "params.as_of", "not a real date" },
		{ "ar_aging", "{\"as_of\": \"2025-02-30\"}", "params.as_of", "not a real date" },
		{ "ar_aging", "{\"as_of\": \"2025-2-3\"}", "params.as_of", "YYYY-MM-DD" },
		{ "ar_aging", "{\"as_of\": \"2025-12-31 \"}", "params.as_of", "YYYY-MM-DD" },
		{ "ar_aging", "{\"as_of\": 20251231}", "params.as_of", "not a whole number" },
		{ "ar_aging", "{\"as_of\": \"1899-12-31\"}", "params.as_of", "out of range" },
		{ "pnl_by_month", "{\"year\": 99999}", "params.year", "1900 to 2200" },
		{ "pnl_by_month", "{\"year\": 1899}", "params.year", "out of range" },
		{ "pnl_by_month", "{\"year\": \"2025\"}", "params.year", "not a string" },
		{ "pnl_by_month", "{\"year\": 2025.0}", "params.year", "fraction" },
		{ "pnl_by_month", "{\"month\": 3}", "params.month", "it takes: year" },
		{ "top_customers", "{\"limit\": 0}", "params.limit", "0 is out of range" },
		{ "top_customers", "{\"limit\": 1001}", "params.limit", "from 1 to 1000" },
		{ "top_customers", "{\"limit\": true}", "params.limit", "not a boolean" },
		{ "top_customers", "{\"limit\": [10]}", "params.limit", "not an array" },
		{ "top_customers", "{\"segment\": \"\"}", "params.segment", "1 to 64 bytes" },
		{ "top_customers", "{\"segment\": \"a\\nb\"}", "params.segment", "control" },
		{ "top_customers", "{\"segment\": \"a\\u0000b\"}", "params.segment", "NUL" },
		{ "top_customers", "{\"segment\": 7}", "params.segment", "JSON string" },
		{ "top_customers", "{\"revenue\": \"both\"}", "params.revenue",
		  "\"both\" is not one of its values; expected one of: net, gross" },
		{ "top_customers", "{\"revenue\": 1}", "params.revenue", "JSON string" },
		{ "inventory_turnover", "{\"average\": \"Monthly\"}", "params.average",
		  "expected one of: endpoints, monthly" },
		{ "budget_vs_actual", "{\"through_month\": 13}", "params.through_month", "1 to 12" },
		{ "cash_flow_summary", "{\"cash_account\": -5}", "params.cash_account", "-5" },
		{ "cash_flow_summary", "{\"start_date\": \"2025-06-01\", \"end_date\": \"2025-05-31\"}",
		  "params.end_date", "before start_date" },
		{ "cash_flow_summary", "[\"2025-01-01\"]", "params", "JSON object" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[512] = "";
		const char *field;
		int r = try_build(cases[i].id, cases[i].params, "sql", NULL, err, sizeof(err), &field);

		if (r != -EINVAL || !field || strcmp(field, cases[i].field) != 0 ||
		    !strstr(err, cases[i].says))
			fail_msg("case %zu (%s %s): %d, field %s: %s", i, cases[i].id, cases[i].params,
				 r, field ? field : "-", err);
		/* The message names the parameter too. */
		if (strcmp(cases[i].field, "params") != 0)
			assert_non_null(strstr(err, cases[i].field + strlen("params.")));
	}
}

static void dates_follow_the_calendar(void **state)
{
	static const char *const good[] = { "2024-02-29", "2000-02-29", "1900-01-01",
					    "2200-12-31", "2025-04-30" };
	static const char *const bad[] = { "2025-02-29", "2100-02-29", "1900-02-29",
					   "2025-04-31", "2025-00-10", "2025-01-00", "2201-01-01" };
	(void)state;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]) + sizeof(bad) / sizeof(bad[0]);
	     i++) {
		bool ok = i < sizeof(good) / sizeof(good[0]);
		const char *date = ok ? good[i] : bad[i - sizeof(good) / sizeof(good[0])];
		char params[64], err[512];
		const char *field;
		int r;

		snprintf(params, sizeof(params), "{\"as_of\": \"%s\"}", date);
		r = try_build("ar_aging", params, "python", "ledger.sqlite", err, sizeof(err), &field);
		if (r != (ok ? 0 : -EINVAL))
			fail_msg("%s: %d %s", date, r, err);
	}
}

static void other_bad_requests_say_what(void **state)
{
	char err[512], *code = NULL;
	const char *field;
	json_t *params;
	(void)state;

	assert_int_equal(try_build("no_such", NULL, "sql", NULL, err, sizeof(err), &field),
			 -ENOENT);
	assert_non_null(strstr(err, "pnl_by_month"));
	assert_null(template_find("no_such"));
	assert_int_equal(try_build("ar_aging", NULL, "r", NULL, err, sizeof(err), &field), -EINVAL);
	assert_string_equal(field, "language");
	assert_int_equal(try_build("ar_aging", NULL, NULL, NULL, err, sizeof(err), &field),
			 -EINVAL);
	assert_int_equal(try_build("ar_aging", NULL, "python", NULL, err, sizeof(err), &field),
			 -EINVAL);
	assert_string_equal(field, "dataset");
	assert_int_equal(try_build("ar_aging", NULL, "python", "../etc/x.sqlite", err, sizeof(err),
				   &field),
			 -EINVAL);
	assert_int_equal(try_build("ar_aging", NULL, "python", ".hidden.sqlite", err, sizeof(err),
				   &field),
			 -EINVAL);
	/* ret_field may be NULL. */
	params = params_of("{\"year\": 1}");
	assert_int_equal(template_build("pnl_by_month", params, "sql", NULL, &code, err,
					sizeof(err), NULL),
			 -EINVAL);
	json_decref(params);
}

/* ---- literals and quoting ---------------------------------------------------------- */

static void values_reach_the_code_only_as_literals(void **state)
{
	const char *nasty = "{\"segment\": \"x' OR '1'='1\\\" \\\\ caf\\u00e9 \\ud83d\\ude00\","
			    " \"limit\": 7}";
	char *sql = build("top_customers", nasty, "sql");
	char *py = build("top_customers", nasty, "python");
	struct result res;
	json_t *params = params_of(nasty);
	char err[256], *code = NULL;
	(void)state;

	assert_non_null(strstr(sql, "SELECT 2025 AS \"year\", 7 AS \"limit\","
				    " 'x'' OR ''1''=''1\" \\ caf\xc3\xa9 \xf0\x9f\x98\x80'"
				    " AS \"segment\""));
	run_sql(sql, &res);
	assert_int_equal(res.n_rows, 0); /* the quote did not end the string */
	result_free(&res);
	assert_non_null(strstr(py, "\nyear = 2025\nlimit = 7\n"
				   "segment = \"x' OR '1'='1\\\" \\\\ caf\\u00e9 \\U0001f600\"\n"));
	assert_non_null(strstr(py, "DATABASE = \"file:/data/ledger.sqlite?mode=ro&immutable=1\""));
	for (const char *c = py; *c; c++)
		assert_true((unsigned char)*c < 0x80);

	/* The file name is a URI path: anything odd is percent-encoded. */
	assert_int_equal(template_build("top_customers", params, "python", "my data?#%.sqlite",
					&code, err, sizeof(err), NULL),
			 0);
	assert_non_null(strstr(code, "\"file:/data/my%20data%3F%23%25.sqlite?mode=ro&immutable=1\""));
	free(code);

	/* An optional value left out is NULL / None. */
	free(sql);
	free(py);
	sql = build("top_customers", NULL, "sql");
	py = build("top_customers", "{\"segment\": null}", "python");
	assert_non_null(strstr(sql, "NULL AS \"segment\""));
	assert_non_null(strstr(py, "\nsegment = None\n"));
	free(sql);
	free(py);
	json_decref(params);
}

static void every_template_builds_in_both_languages(void **state)
{
	size_t n;
	const struct template_info *list = templates_list(&n);
	(void)state;

	assert_int_equal(n, 6);
	for (size_t i = 0; i < n; i++) {
		char *sql = build(list[i].id, NULL, "sql");
		char *py = build(list[i].id, NULL, "python");

		assert_ptr_equal(template_find(list[i].id), &list[i]);
		assert_non_null(strstr(sql, "WITH params AS ("));
		assert_non_null(strstr(py, "import pandas as pd\n"));
		assert_non_null(strstr(py, "sqlite3.connect(DATABASE, uri=True)"));
		/* The result table is the last expression. */
		assert_non_null(strstr(py, "\nresult\n"));
		assert_string_equal(py + strlen(py) - strlen("\nresult\n"), "\nresult\n");
		for (size_t k = 0; k < list[i].n_params; k++) {
			char line[128];

			snprintf(line, sizeof(line), "\n%s = ", list[i].params[k].name);
			assert_non_null(strstr(py, line));
			snprintf(line, sizeof(line), " AS \"%s\"", list[i].params[k].name);
			assert_non_null(strstr(sql, line));
		}
		free(sql);
		free(py);
	}
	/* The two charts. */
	{
		char *py = build("budget_vs_actual", NULL, "python");

		assert_non_null(strstr(py, "budget_vs_actual.png"));
		free(py);
	}
}

/* ---- the dataset check --------------------------------------------------------------- */

static char *make_db(const char *name, const char *schema)
{
	char *path;
	sqlite3 *db;

	assert_true(asprintf(&path, "%s/%s", tl_tmp(), name) > 0);
	unlink(path);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, schema, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	return path;
}

static void check_dataset_names_every_missing_column(void **state)
{
	char *demo_path, *lacking, *text_file;
	char err[1024];
	size_t n;
	const struct template_info *list = templates_list(&n);
	(void)state;

	assert_true(asprintf(&demo_path, "%s/ledger.sqlite", tl_demo()) > 0);
	for (size_t i = 0; i < n; i++)
		if (template_check_dataset(list[i].id, demo_path, err, sizeof(err)) != 0)
			fail_msg("%s: %s", list[i].id, err);

	lacking = make_db("lacking.sqlite", "CREATE TABLE invoices (customer_id INTEGER, AMOUNT REAL);"
					    "CREATE TABLE customers (customer_id INTEGER);");
	assert_int_equal(template_check_dataset("top_customers", lacking, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "lacks invoices.invoice_number, invoices.issue_date,"
				    " customers.name, customers.segment, table gl_entries, table"
				    " accounts;"));
	assert_non_null(strstr(err, "template top_customers needs invoices(invoice_number,"
				    " customer_id, issue_date, amount), customers(customer_id, name,"
				    " segment), gl_entries("));
	assert_int_equal(template_check_dataset("pnl_by_month", lacking, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "lacks table gl_entries, table accounts;"));
	assert_int_equal(template_check_dataset("ar_aging", lacking, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "invoices.issue_date, invoices.due_date, invoices.paid_date;"));

	text_file = tl_write_tmp("not-a-db.sqlite", "this is not a database, just some text\n");
	assert_int_equal(template_check_dataset("ar_aging", text_file, err, sizeof(err)), -EIO);
	assert_int_equal(template_check_dataset("ar_aging", "/nonexistent/x.sqlite", err,
						sizeof(err)),
			 -EIO);
	assert_int_equal(template_check_dataset("no_such", demo_path, err, sizeof(err)), -ENOENT);
	free(text_file);
	free(lacking);
	free(demo_path);
}

/* ---- the catalogue as JSON -------------------------------------------------------- */

static void check_param_json(const json_t *p)
{
	const char *type = json_string_value(json_object_get(p, "type"));
	const json_t *def = json_object_get(p, "default");

	assert_non_null(json_string_value(json_object_get(p, "name")));
	assert_non_null(json_string_value(json_object_get(p, "description")));
	assert_true(json_is_boolean(json_object_get(p, "required")));
	assert_non_null(def);
	if (strcmp(type, "integer") == 0 || strcmp(type, "year") == 0) {
		assert_true(json_is_integer(def));
		assert_true(json_integer_value(json_object_get(p, "min")) <= json_integer_value(def));
		assert_true(json_integer_value(def) <= json_integer_value(json_object_get(p, "max")));
	} else if (strcmp(type, "date") == 0) {
		assert_int_equal(strlen(json_string_value(def)), 10);
		assert_null(json_object_get(p, "min"));
	} else {
		const json_t *choices = json_object_get(p, "enum");

		assert_string_equal(type, "string");
		assert_true(json_is_integer(json_object_get(p, "maxLength")));
		/* A string with a fixed set of values defaults to one of them;
		 * a free one (a filter) has no default. */
		if (choices) {
			bool found = false;

			for (size_t k = 0; k < json_array_size(choices); k++)
				found |= strcmp(json_string_value(json_array_get(choices, k)),
						json_string_value(def)) == 0;
			assert_true(found);
		} else {
			assert_true(json_is_null(def));
		}
	}
}

static void json_describes_every_template(void **state)
{
	json_t *all = templates_to_json();
	const json_t *aging, *requires;
	(void)state;

	assert_true(json_is_array(all));
	assert_int_equal(json_array_size(all), 6);
	for (size_t i = 0; i < json_array_size(all); i++) {
		const json_t *t = json_array_get(all, i), *params = json_object_get(t, "params");
		const json_t *langs = json_object_get(t, "languages");

		assert_non_null(template_find(json_string_value(json_object_get(t, "id"))));
		assert_non_null(json_string_value(json_object_get(t, "title")));
		assert_non_null(json_string_value(json_object_get(t, "description")));
		assert_string_equal(json_string_value(json_array_get(langs, 0)), "sql");
		assert_string_equal(json_string_value(json_array_get(langs, 1)), "python");
		assert_true(json_array_size(params) >= 1);
		for (size_t k = 0; k < json_array_size(params); k++)
			check_param_json(json_array_get(params, k));
		assert_true(json_object_size(json_object_get(t, "requires")) >= 1);
	}
	aging = json_array_get(all, 2);
	assert_string_equal(json_string_value(json_object_get(aging, "id")), "ar_aging");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(aging, "params"), 0), "default")),
			    "2025-12-31");
	requires = json_object_get(json_object_get(aging, "requires"), "invoices");
	assert_int_equal(json_array_size(requires), 4);
	assert_string_equal(json_string_value(json_array_get(requires, 1)), "due_date");
	json_decref(all);
}

/* ---- setup -------------------------------------------------------------------------- */

static int open_demo(void **state)
{
	char *path;
	(void)state;

	if (asprintf(&path, "%s/ledger.sqlite", tl_demo()) < 0)
		return -1;
	if (sqlite3_open_v2(path, &demo, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fprintf(stderr, "cannot open %s\n", path);
		free(path);
		return -1;
	}
	free(path);
	return 0;
}

static int close_demo(void **state)
{
	(void)state;
	sqlite3_close(demo);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_template_builds_in_both_languages),
		cmocka_unit_test(pnl_by_month_matches_the_ledger),
		cmocka_unit_test(cash_flow_summary_matches_the_cash_account),
		cmocka_unit_test(ar_aging_adds_up_to_open_receivables),
		cmocka_unit_test(inventory_turnover_is_pnl_cost_of_sales_over_average_stock),
		cmocka_unit_test(budget_vs_actual_matches_budgets_and_ledger),
		cmocka_unit_test(top_customers_match_direct_sums),
		cmocka_unit_test(bad_params_are_refused_by_name),
		cmocka_unit_test(dates_follow_the_calendar),
		cmocka_unit_test(other_bad_requests_say_what),
		cmocka_unit_test(values_reach_the_code_only_as_literals),
		cmocka_unit_test(check_dataset_names_every_missing_column),
		cmocka_unit_test(json_describes_every_template),
		cmocka_unit_test(the_sql_runner_accepts_every_template),
		cmocka_unit_test(python_in_the_sandbox_equals_sql),
	};

	return cmocka_run_group_tests_name("templates", tests, open_demo, close_demo);
}
