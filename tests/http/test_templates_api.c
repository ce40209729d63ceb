/*
 * End-to-end tests of the built-in templates over real HTTP, with no LLM
 * configured at all: the list, every template in SQL on the demo data
 * (its figures checked against independent queries run here with
 * sqlite3), the Python variants with their chart, parameter errors, a
 * dataset without the columns a template needs, and the natural-language
 * mode failing fast with a message that says how to set an LLM up.
 */
#include <math.h>

#include "httplib.h"
#include "support/sqlite_sides.h"

static struct server srv;
static char *alice;
static char dead_url[128];
static char *env_vars[] = { "LEDGERBOX_MAX_RUNS=2", dead_url, "LEDGERBOX_LLM_RETRIES=0", NULL };

static int setup(void **state)
{
	(void)state;
	/* Nothing listens there: the LLM is "not running". */
	snprintf(dead_url, sizeof(dead_url), "LEDGERBOX_LLM_URL=http://127.0.0.1:%d",
		 hl_free_port());
	hl_prepare(&srv, "templates", env_vars);
	alice = hl_key_create(&srv, "alice", "finance", "analyst");
	hl_start(&srv);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	hl_stop(&srv, SIGTERM);
	free(alice);
	curl_global_cleanup();
	return 0;
}

static void post(const char *body, long want, struct reply *r)
{
	hl_call_timeout(&srv, "POST", "/api/analyze", alice, body, strlen(body), NULL, 60000, r);
	if (r->status != want)
		fail_msg("POST /api/analyze %s: %ld %s", body, r->status, r->body);
	assert_non_null(r->json);
}

/* One number from the demo data, asked of SQLite directly. */
static double demo_number(const char *sql)
{
	char path[700];
	char *argv[] = { "/usr/bin/sqlite3", "-readonly", path, (char *)sql, NULL };
	struct tl_output o;
	double v;

	snprintf(path, sizeof(path), "%s/demo/ledger.sqlite", srv.data);
	tl_run(argv, NULL, &o);
	if (o.exit_code != 0)
		fail_msg("sqlite3 %s: %s", sql, o.err);
	v = strtod(o.out, NULL);
	tl_output_free(&o);
	return v;
}

static size_t column_index(json_t *table, const char *name)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(table, "columns"), i, c) {
		const char *n = json_is_string(c) ? json_string_value(c) : hl_str(c, "name");
		if (n && strcmp(n, name) == 0)
			return i;
	}
	fail_msg("no column %s", name);
	return 0;
}

static double cell(json_t *table, size_t row, const char *column)
{
	json_t *v = json_array_get(json_array_get(json_object_get(table, "rows"), row),
				   column_index(table, column));

	assert_true(json_is_number(v));
	return json_number_value(v);
}

static void list_has_every_template(void **state)
{
	static const char *const ids[] = { "pnl_by_month", "cash_flow_summary", "ar_aging",
					   "inventory_turnover", "budget_vs_actual", "top_customers" };
	struct reply r;
	json_t *t;
	size_t i;
	(void)state;

	hl_call(&srv, "GET", "/api/templates", alice, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "templates")), 6);
	for (size_t k = 0; k < 6; k++) {
		bool found = false;
		json_array_foreach(json_object_get(r.json, "templates"), i, t) {
			if (strcmp(hl_str(t, "id"), ids[k]) == 0) {
				found = true;
				assert_true(json_is_array(json_object_get(t, "params")));
				assert_non_null(hl_str(t, "title"));
			}
		}
		assert_true(found);
	}
	hl_reply_free(&r);
	hl_call(&srv, "GET", "/api/templates", NULL, NULL, &r);
	assert_int_equal(r.status, 401);
	hl_reply_free(&r);
}

static void every_template_runs_in_sql_and_python(void **state)
{
	static const char *const ids[] = { "pnl_by_month", "cash_flow_summary", "ar_aging",
					   "inventory_turnover", "budget_vs_actual", "top_customers" };
	static const char *const langs[] = { "sql", "python" };
	char body[200];
	struct reply r;
	(void)state;

	for (size_t k = 0; k < 6; k++) {
		for (size_t l = 0; l < 2; l++) {
			snprintf(body, sizeof(body),
				 "{\"template\":\"%s\",\"language\":\"%s\",\"dataset\":\"demo\"}",
				 ids[k], langs[l]);
			post(body, 200, &r);
			if (strcmp(hl_str(r.json, "status"), "ok") != 0)
				fail_msg("%s: %s", body, r.body);
			assert_string_equal(hl_str(r.json, "mode"), "template");
			assert_true(json_array_size(json_object_get(json_object_get(r.json, "table"),
								    "rows")) > 0);
			assert_int_equal(json_integer_value(json_object_get(r.json, "tokensUsed")), 0);
			hl_reply_free(&r);
		}
	}
}

/* Runs a template through the server and returns its table (owned by r). */
static json_t *template_table(const char *id, const char *language, const char *params,
			      struct reply *r)
{
	char body[400];

	snprintf(body, sizeof(body),
		 "{\"template\":\"%s\",\"language\":\"%s\",\"dataset\":\"demo\",\"params\":%s}",
		 id, language, params);
	post(body, 200, r);
	if (strcmp(hl_str(r->json, "status"), "ok") != 0)
		fail_msg("%s: %s", body, r->body);
	return json_object_get(r->json, "table");
}

static size_t n_rows(json_t *table)
{
	return json_array_size(json_object_get(table, "rows"));
}

static long long to_cents(double v)
{
	return llround(v * 100);
}

/* A column's total over rows [from, to), in cents. */
static long long column_cents(json_t *table, const char *column, size_t from, size_t to)
{
	long long sum = 0;

	for (size_t row = from; row < to; row++)
		sum += to_cents(cell(table, row, column));
	return sum;
}

static size_t row_where(json_t *table, const char *column, const char *value)
{
	size_t c = column_index(table, column);

	for (size_t row = 0; row < n_rows(table); row++) {
		json_t *v = json_array_get(json_array_get(json_object_get(table, "rows"), row), c);
		if (json_is_string(v) && strcmp(json_string_value(v), value) == 0)
			return row;
	}
	fail_msg("no row with %s = %s", column, value);
	return 0;
}

static const char *text_cell(json_t *table, size_t row, const char *column)
{
	json_t *v = json_array_get(json_array_get(json_object_get(table, "rows"), row),
				   column_index(table, column));

	assert_true(json_is_string(v));
	return json_string_value(v);
}

#define GL_2025(what) \
	"SELECT round(total(" what "), 2) FROM gl_entries g JOIN accounts a USING (account_id)" \
	" WHERE g.entry_date LIKE '2025%' AND "

/* Every template, in both languages, through the server, against figures
 * computed here another way from the demo SQLite file. */
static void every_template_ties_out_to_the_ledger(void **state)
{
	static const char *const langs[] = { "sql", "python" };
	(void)state;

	for (size_t l = 0; l < 2; l++) {
		const char *lang = langs[l];
		struct reply pnl_r, r;
		json_t *pnl = template_table("pnl_by_month", lang, "{}", &pnl_r), *t;
		long long revenue = to_cents(demo_number(GL_2025("g.credit - g.debit")
							 "a.type = 'revenue'"));
		long long cost = to_cents(demo_number(GL_2025("g.debit - g.credit")
						      "a.subtype = 'cost_of_sales'"));
		double opening, closing;
		size_t all;

		/* P&L: net revenue and cost of sales (freight in and shrinkage
		 * included) of the year. */
		assert_int_equal(column_cents(pnl, "revenue", 0, n_rows(pnl)), revenue);
		assert_int_equal(column_cents(pnl, "cost_of_sales", 0, n_rows(pnl)), cost);

		/* Inventory turnover: the P&L's cost of sales, over the mean of
		 * the inventory account at both ends of the year. */
		t = template_table("inventory_turnover", lang, "{}", &r);
		all = n_rows(t) - 1;
		assert_int_equal(to_cents(cell(t, all, "cost_of_sales")),
				 column_cents(pnl, "cost_of_sales", 0, n_rows(pnl)));
		assert_int_equal(column_cents(t, "cost_of_sales", 0, all), cost);
		opening = demo_number("SELECT total(debit - credit) FROM gl_entries"
				      " WHERE account_id = 1200 AND entry_date < '2025-01-01'");
		closing = demo_number("SELECT total(debit - credit) FROM gl_entries"
				      " WHERE account_id = 1200 AND entry_date <= '2025-12-31'");
		assert_true(fabs(cell(t, all, "avg_inventory") - (opening + closing) / 2) < 0.006);
		assert_true(fabs(cell(t, all, "turnover") - cost / 100.0 / ((opening + closing) / 2)) <
			    0.006);
		hl_reply_free(&r);

		/* Top customers, every one, net: the P&L's net revenue. */
		t = template_table("top_customers", lang, "{\"limit\":1000}", &r);
		assert_int_equal(column_cents(t, "net_revenue", 0, n_rows(t)),
				 column_cents(pnl, "revenue", 0, n_rows(pnl)));
		assert_string_equal(text_cell(t, 0, "ranked_by"), "net");
		hl_reply_free(&r);
		hl_reply_free(&pnl_r);

		/* Cash flow: principal is financing, interest and fees operating,
		 * equipment paid for investing, and the three make the change in
		 * cash. */
		t = template_table("cash_flow_summary", lang, "{}", &r);
		assert_int_equal(column_cents(t, "loan", 0, n_rows(t)),
				 to_cents(demo_number(GL_2025("g.credit - g.debit")
						      "a.name = 'Bank Loan'")));
		assert_int_equal(column_cents(t, "other_operating", 0, n_rows(t)),
				 to_cents(demo_number(GL_2025("g.credit - g.debit") "a.name IN"
						      " ('Interest Expense', 'Bank Fees')")));
		assert_int_equal(column_cents(t, "investing", 0, n_rows(t)),
				 -to_cents(demo_number("SELECT total(amount) FROM bills WHERE"
						       " category = 'equipment' AND paid_date"
						       " LIKE '2025%'")));
		assert_int_equal(column_cents(t, "operating", 0, n_rows(t)) +
					 column_cents(t, "investing", 0, n_rows(t)) +
					 column_cents(t, "financing", 0, n_rows(t)),
				 to_cents(demo_number("SELECT total(debit - credit) FROM gl_entries"
						      " WHERE account_id = 1000"
						      " AND entry_date LIKE '2025%'")));
		hl_reply_free(&r);

		/* AR aging: the receivables account on the day. */
		t = template_table("ar_aging", lang, "{}", &r);
		assert_int_equal(column_cents(t, "amount", 0, n_rows(t)),
				 to_cents(demo_number("SELECT total(debit - credit) FROM gl_entries"
						      " WHERE account_id = 1100"
						      " AND entry_date <= '2025-12-31'")));
		hl_reply_free(&r);

		/* Budget: 2024 insurance was spent exactly as planned. */
		t = template_table("budget_vs_actual", lang, "{\"year\":2024}", &r);
		all = row_where(t, "account", "Insurance");
		assert_int_equal(to_cents(cell(t, all, "variance")), 0);
		assert_string_equal(text_cell(t, all, "assessment"), "on budget");
		all = row_where(t, "account", "Sales Revenue");
		assert_int_equal(to_cents(cell(t, all, "actual")),
				 to_cents(demo_number("SELECT total(credit - debit) FROM gl_entries"
						      " WHERE account_id = 4000"
						      " AND entry_date LIKE '2024%'")));
		hl_reply_free(&r);
	}
}

/* A filter value that matches nothing: an empty table, and a notice (in
 * the table, which the page shows, and in the answer) listing what exists. */
static void a_filter_matching_nothing_says_what_exists(void **state)
{
	static const char *const langs[] = { "sql", "python" };
	struct reply r;
	json_t *t;
	(void)state;

	for (size_t l = 0; l < 2; l++) {
		t = template_table("top_customers", langs[l], "{\"segment\":\"Retail\"}", &r);
		assert_int_equal(n_rows(t), 0);
		assert_non_null(strstr(hl_str(t, "notice"), "no rows for segment 'Retail'; segments in"
						     " the data (matched exactly, case included):"));
		assert_non_null(strstr(hl_str(t, "notice"), "hospitality, office, retail"));
		assert_string_equal(json_string_value(json_array_get(json_object_get(r.json,
										   "notices"), 0)),
				    hl_str(t, "notice"));
		hl_reply_free(&r);
	}
	t = template_table("pnl_by_month", "sql", "{\"year\":2030}", &r);
	assert_int_equal(n_rows(t), 0);
	assert_non_null(strstr(hl_str(t, "notice"), "no rows for year 2030; years with revenue or"
					     " expense lines in the data: 2024, 2025"));
	hl_reply_free(&r);
	/* A table with rows has no such notice. */
	t = template_table("top_customers", "sql", "{\"segment\":\"retail\"}", &r);
	assert_true(n_rows(t) > 0);
	assert_null(json_object_get(t, "notice"));
	assert_null(json_object_get(r.json, "notices"));
	hl_reply_free(&r);
}

static void bad_params_name_the_param(void **state)
{
	struct reply r;
	(void)state;

	post("{\"template\":\"top_customers\",\"dataset\":\"demo\",\"params\":{\"limit\":0}}", 400,
	     &r);
	assert_string_equal(hl_str(json_object_get(r.json, "error"), "field"), "params.limit");
	hl_reply_free(&r);
	post("{\"template\":\"ar_aging\",\"dataset\":\"demo\",\"params\":{\"as_of\":\"2025-02-30\"}}",
	     400, &r);
	assert_string_equal(hl_str(json_object_get(r.json, "error"), "field"), "params.as_of");
	hl_reply_free(&r);
	post("{\"template\":\"pnl_by_month\",\"dataset\":\"demo\",\"params\":{\"colour\":1}}", 400,
	     &r);
	assert_non_null(strstr(hl_str(json_object_get(r.json, "error"), "message"), "colour"));
	hl_reply_free(&r);
	post("{\"template\":\"no_such\",\"dataset\":\"demo\"}", 404, &r);
	assert_string_equal(hl_str(json_object_get(r.json, "error"), "code"), "unknown_template");
	hl_reply_free(&r);
	post("{\"template\":\"pnl_by_month\"}", 400, &r);
	assert_string_equal(hl_str(json_object_get(r.json, "error"), "field"), "dataset");
	hl_reply_free(&r);
	post("{\"template\":\"pnl_by_month\",\"code\":\"SELECT 1\",\"language\":\"sql\","
	     "\"dataset\":\"demo\"}", 400, &r);
	assert_string_equal(hl_str(json_object_get(r.json, "error"), "code"), "conflicting_fields");
	hl_reply_free(&r);
}

static void dataset_without_the_columns_is_refused(void **state)
{
	const char *csv = "customer,amount\nacme,10\n";
	struct reply r;
	const char *msg;
	(void)state;

	hl_call_timeout(&srv, "POST", "/api/datasets?name=tiny&table=sales", alice, csv, strlen(csv),
			"text/csv", 30000, &r);
	assert_int_equal(r.status, 201);
	hl_reply_free(&r);
	post("{\"template\":\"ar_aging\",\"dataset\":\"tiny\"}", 400, &r);
	assert_string_equal(hl_str(json_object_get(r.json, "error"), "code"), "unsuitable_dataset");
	msg = hl_str(json_object_get(r.json, "error"), "message");
	assert_non_null(strstr(msg, "invoices"));
	hl_reply_free(&r);
}

/* DATA/name/books.sqlite built by make(); its path in out. */
static void side_dataset(const char *name, void (*make)(const char *), char out[700])
{
	snprintf(out, 700, "%s/%s", srv.data, name);
	assert_int_equal(mkdir(out, 0755), 0);
	snprintf(out, 700, "%s/%s/books.sqlite", srv.data, name);
	make(out);
}

/* Over HTTP too: commits still in the -wal are in the answer, and a file
 * a writer left half-written is refused with 409 before anything runs. */
static void sqlite_side_files_are_honoured(void **state)
{
	struct reply r;
	json_t *row;
	char path[700];
	(void)state;

	side_dataset("walbooks", sides_make_wal, path);
	post("{\"language\":\"sql\",\"dataset\":\"walbooks\","
	     "\"code\":\"SELECT count(*), sum(x) FROM t\"}",
	     200, &r);
	row = json_array_get(json_object_get(json_object_get(r.json, "table"), "rows"), 0);
	assert_int_equal(json_integer_value(json_array_get(row, 0)), 3);
	assert_int_equal(json_integer_value(json_array_get(row, 1)), 6);
	hl_reply_free(&r);

	side_dataset("hotbooks", sides_make_hot_journal, path);
	post("{\"template\":\"ar_aging\",\"dataset\":\"hotbooks\"}", 409, &r);
	assert_non_null(strstr(hl_str(json_object_get(r.json, "error"), "message"), "-journal"));
	hl_reply_free(&r);
}

/* No LLM runs here: a query fails at once with 503, saying how to start
 * one, while code and templates go on working. */
static void query_without_llm_fails_fast_with_help(void **state)
{
	struct reply r;
	const char *msg;
	(void)state;

	post("{\"query\":\"revenue by month\",\"language\":\"sql\",\"dataset\":\"demo\"}", 503, &r);
	msg = hl_str(json_object_get(r.json, "error"), "message");
	assert_string_equal(hl_str(json_object_get(r.json, "error"), "code"), "llm_unavailable");
	assert_non_null(strstr(msg, "ollama serve"));
	assert_non_null(strstr(msg, "LEDGERBOX_LLM_URL"));
	{
		char *retry = hl_header(&r, "Retry-After");
		assert_non_null(retry);
		free(retry);
	}
	hl_reply_free(&r);
	post("{\"code\":\"SELECT 1\",\"language\":\"sql\",\"dataset\":\"demo\"}", 200, &r);
	hl_reply_free(&r);
	hl_call(&srv, "GET", "/readyz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(json_is_false(json_object_get(json_object_get(r.json, "llm"), "reachable")));
	hl_reply_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(list_has_every_template),
		cmocka_unit_test(every_template_runs_in_sql_and_python),
		cmocka_unit_test(every_template_ties_out_to_the_ledger),
		cmocka_unit_test(a_filter_matching_nothing_says_what_exists),
		cmocka_unit_test(bad_params_name_the_param),
		cmocka_unit_test(dataset_without_the_columns_is_refused),
		cmocka_unit_test(sqlite_side_files_are_honoured),
		cmocka_unit_test(query_without_llm_fails_fast_with_help),
	};
	return cmocka_run_group_tests_name("templates_api", tests, setup, teardown);
}
