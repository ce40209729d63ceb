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

/* Revenue of the best customer and the number of customers with any. */
static void top_customers_matches_an_independent_query(void **state)
{
	struct reply r;
	json_t *table;
	double want;
	(void)state;

	post("{\"template\":\"top_customers\",\"dataset\":\"demo\",\"params\":{\"limit\":3}}", 200,
	     &r);
	table = json_object_get(r.json, "table");
	assert_int_equal(json_array_size(json_object_get(table, "rows")), 3);
	/* What was invoiced in 2025 (the default year) to the best customer. */
	want = demo_number("SELECT max(total) FROM (SELECT sum(amount) AS total FROM invoices "
			   "WHERE substr(issue_date, 1, 4) = '2025' GROUP BY customer_id)");
	assert_true(want > 0);
	assert_true(fabs(cell(table, 0, "revenue") - want) < 0.005);
	assert_true(cell(table, 0, "revenue") >= cell(table, 1, "revenue"));
	assert_true(cell(table, 1, "revenue") >= cell(table, 2, "revenue"));
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
		cmocka_unit_test(top_customers_matches_an_independent_query),
		cmocka_unit_test(bad_params_name_the_param),
		cmocka_unit_test(dataset_without_the_columns_is_refused),
		cmocka_unit_test(query_without_llm_fails_fast_with_help),
	};
	return cmocka_run_group_tests_name("templates_api", tests, setup, teardown);
}
