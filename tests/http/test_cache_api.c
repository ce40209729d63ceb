/*
 * End-to-end tests of the result cache over real HTTP with a stub LLM:
 * exact hits (code, templates, queries with other spacing and case) at no
 * cost, copied artifacts, semantic hits that reuse the code without an LLM
 * call and run it again, near-miss questions that must not hit (a pronoun,
 * a modal, a forecast), a quoted literal's case kept in the exact key, no hit
 * across teams, failed runs never cached, a changed dataset never served,
 * opting out, clearing, and the counters in /metrics.
 */
#include <pthread.h>

#include "httplib.h"
#include "support/llm_stub.h"

static struct server srv;
static struct llm_stub *stub;
static char *alice, *carol, *bob, *root;
static char url_env[128];
static char *env_vars[] = { url_env, "LEDGERBOX_MAX_RUNS=2", "LEDGERBOX_LLM_RETRIES=0",
			    "LEDGERBOX_BUDGET_TZ=UTC", NULL };

static int setup(void **state)
{
	(void)state;
	stub = llm_stub_start();
	snprintf(url_env, sizeof(url_env), "LEDGERBOX_LLM_URL=http://127.0.0.1:%d",
		 llm_stub_port(stub));
	hl_prepare(&srv, "cache", env_vars);
	alice = hl_key_create(&srv, "alice", "finance", "analyst");
	carol = hl_key_create(&srv, "carol", "finance", "analyst");
	bob = hl_key_create(&srv, "bob", "sales", "analyst");
	root = hl_key_create(&srv, "root", "it", "admin");
	hl_start(&srv);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	hl_stop(&srv, SIGTERM);
	llm_stub_stop(stub);
	free(alice);
	free(carol);
	free(bob);
	free(root);
	curl_global_cleanup();
	return 0;
}

static void analyze_as(const char *key, const char *body, struct reply *r)
{
	hl_call_timeout(&srv, "POST", "/api/analyze", key, body, strlen(body), NULL, 60000, r);
	if (r->status != 200)
		fail_msg("POST /api/analyze %s: %ld %s", body, r->status, r->body);
}

static bool hit(const struct reply *r, const char *type)
{
	const char *t = json_string_value(json_object_get(r->json, "cacheType"));

	return json_is_true(json_object_get(r->json, "cacheHit")) && t && strcmp(t, type) == 0;
}

static json_int_t total_micros(const struct reply *r)
{
	return json_integer_value(json_object_get(json_object_get(r->json, "cost"), "totalMicros"));
}

static void exact_hit_is_free_and_a_run_of_its_own(void **state)
{
	const char *body = "{\"language\":\"sql\",\"dataset\":\"demo\","
			   "\"code\":\"SELECT count(*) AS n FROM invoices\"}";
	struct reply a, b, run, csv;
	char path[200];
	(void)state;

	analyze_as(alice, body, &a);
	assert_false(json_is_true(json_object_get(a.json, "cacheHit")));
	assert_true(total_micros(&a) > 0);
	analyze_as(alice, body, &b);
	assert_true(hit(&b, "exact"));
	assert_int_equal(total_micros(&b), 0);
	assert_string_not_equal(hl_str(b.json, "id"), hl_str(a.json, "id"));
	assert_string_equal(hl_str(b.json, "cachedFrom"), hl_str(a.json, "id"));
	assert_true(json_equal(json_object_get(json_object_get(a.json, "table"), "rows"),
			       json_object_get(json_object_get(b.json, "table"), "rows")));
	assert_null(json_object_get(b.json, "budget"));
	/* It is on the record, with its own copy of the table. */
	snprintf(path, sizeof(path), "/api/runs/%s", hl_str(b.json, "id"));
	hl_call(&srv, "GET", path, alice, NULL, &run);
	assert_int_equal(run.status, 200);
	snprintf(path, sizeof(path), "/api/runs/%s/table.csv", hl_str(b.json, "id"));
	hl_call(&srv, "GET", path, alice, NULL, &csv);
	assert_int_equal(csv.status, 200);
	assert_non_null(strstr(csv.body, "n\r\n"));
	hl_reply_free(&csv);
	hl_reply_free(&run);
	/* A teammate shares it; another team does not. */
	hl_reply_free(&b);
	analyze_as(carol, body, &b);
	assert_true(hit(&b, "exact"));
	hl_reply_free(&b);
	analyze_as(bob, body, &b);
	assert_false(json_is_true(json_object_get(b.json, "cacheHit")));
	assert_true(total_micros(&b) > 0);
	hl_reply_free(&b);
	hl_reply_free(&a);
}

static void chart_is_copied_with_the_hit(void **state)
{
	const char *body = "{\"language\":\"python\",\"code\":\"import matplotlib.pyplot as plt\\n"
			   "plt.plot([1, 2, 3], [3, 1, 2])\\nprint('drawn')\"}";
	struct reply a, b, fa, fb;
	(void)state;

	analyze_as(alice, body, &a);
	analyze_as(alice, body, &b);
	assert_true(hit(&b, "exact"));
	assert_int_equal(json_array_size(json_object_get(b.json, "artifacts")), 1);
	hl_call(&srv, "GET", hl_str(json_array_get(json_object_get(a.json, "artifacts"), 0), "url"),
		alice, NULL, &fa);
	hl_call(&srv, "GET", hl_str(json_array_get(json_object_get(b.json, "artifacts"), 0), "url"),
		alice, NULL, &fb);
	assert_int_equal(fa.status, 200);
	assert_int_equal(fb.status, 200);
	assert_non_null(strstr(hl_str(json_array_get(json_object_get(b.json, "artifacts"), 0), "url"),
			       hl_str(b.json, "id")));
	assert_int_equal(fa.len, fb.len);
	assert_memory_equal(fa.body, fb.body, fa.len);
	assert_memory_equal(fb.body, "\x89PNG", 4);
	hl_reply_free(&fa);
	hl_reply_free(&fb);
	hl_reply_free(&a);
	hl_reply_free(&b);
}

static void failures_and_opt_outs_are_not_cached(void **state)
{
	const char *bad = "{\"language\":\"sql\",\"dataset\":\"demo\",\"code\":\"SELECT nope FROM invoices\"}";
	const char *off = "{\"language\":\"sql\",\"dataset\":\"demo\",\"code\":\"SELECT 11\",\"cache\":false}";
	struct reply r;
	(void)state;

	for (int i = 0; i < 2; i++) {
		analyze_as(alice, bad, &r);
		assert_string_not_equal(hl_str(r.json, "status"), "ok");
		assert_false(json_is_true(json_object_get(r.json, "cacheHit")));
		hl_reply_free(&r);
		analyze_as(alice, off, &r);
		assert_false(json_is_true(json_object_get(r.json, "cacheHit")));
		hl_reply_free(&r);
	}
}

static void query(const char *text, struct reply *r)
{
	char body[400];

	snprintf(body, sizeof(body), "{\"query\":\"%s\",\"language\":\"sql\",\"dataset\":\"demo\"}",
		 text);
	analyze_as(alice, body, r);
}

static void exact_query_ignores_spacing_and_case(void **state)
{
	struct stub_reply ok = { .content = "```sql\nSELECT 42 AS answer\n```" };
	struct reply a, b;
	unsigned calls;
	(void)state;

	llm_stub_push(stub, &ok);
	query("How many vendors do we pay?", &a);
	calls = llm_stub_calls(stub, "/api/chat");
	query("  how many   VENDORS do we pay ", &b);
	assert_true(hit(&b, "exact"));
	assert_int_equal(llm_stub_calls(stub, "/api/chat"), calls);
	assert_int_equal(json_integer_value(json_object_get(b.json, "tokensUsed")), 0);
	hl_reply_free(&a);
	hl_reply_free(&b);
}

/* A paraphrase reuses the code (no LLM call) and runs it again. */
static void paraphrase_is_a_semantic_hit(void **state)
{
	struct stub_reply ok = { .content = "```sql\nSELECT substr(issue_date, 1, 7) AS month, "
					    "sum(amount) AS revenue FROM invoices GROUP BY 1\n```" };
	struct reply a, b;
	unsigned calls;
	(void)state;

	llm_stub_push(stub, &ok);
	query("total revenue by month", &a);
	assert_false(json_is_true(json_object_get(a.json, "cacheHit")));
	calls = llm_stub_calls(stub, "/api/chat");
	query("monthly total revenue", &b);
	assert_true(hit(&b, "semantic"));
	assert_int_equal(llm_stub_calls(stub, "/api/chat"), calls);
	assert_string_equal(hl_str(b.json, "code"), hl_str(a.json, "code"));
	assert_string_equal(hl_str(b.json, "cachedFrom"), hl_str(a.json, "id"));
	assert_true(json_real_value(json_object_get(b.json, "similarity")) > 0.5);
	/* Run again: a sandbox was used and paid for, the LLM was not. */
	assert_true(json_integer_value(json_object_get(json_object_get(b.json, "usage"), "wallMs")) >= 0);
	assert_true(total_micros(&b) > 0);
	assert_int_equal(json_integer_value(json_object_get(b.json, "tokensUsed")), 0);
	/* Its one charge is that run, listed. */
	assert_int_equal(json_array_size(json_object_get(json_object_get(b.json, "cost"),
							 "components")), 1);
	assert_string_equal(hl_str(json_array_get(json_object_get(json_object_get(b.json, "cost"),
								  "components"), 0), "kind"), "run");
	assert_true(json_equal(json_object_get(json_object_get(a.json, "table"), "rows"),
			       json_object_get(json_object_get(b.json, "table"), "rows")));
	hl_reply_free(&a);
	hl_reply_free(&b);
}

/* Questions that differ in a number, a name, a date or a direction never
 * answer each other: each goes to the model. */
static void near_misses_go_to_the_model(void **state)
{
	static const char *const pairs[][2] = {
		{ "revenue for 2024", "revenue for 2023" },
		{ "top 5 customers by revenue", "top 10 customers by revenue" },
		{ "top 5 customers by revenue", "bottom 5 customers by revenue" },
		{ "customers who paid", "customers who have not paid" },
		{ "invoices before March 2025", "invoices after March 2025" },
		{ "revenue from 'Acme Corp'", "revenue from 'Acme Inc'" },
		/* Who pays whom, and what was against what should be: words
		 * that look like filler but change the question. */
		{ "how much did we pay them in 2025", "how much did they pay us in 2025" },
		{ "amounts we owe", "amounts they owe" },
		{ "what were expenses in March 2025", "what should expenses be in March 2025" },
		{ "actual revenue in 2025", "forecast revenue in 2025" },
	};
	struct reply r;
	(void)state;

	/* The first of each pair is asked (and cached, or answered from an
	 * earlier pair); the second must then go to the model. */
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		struct stub_reply ok = { .content = "SELECT 1 AS x" };
		unsigned calls;
		llm_stub_push(stub, &ok);
		query(pairs[i][0], &r);
		hl_reply_free(&r);
		llm_stub_push(stub, &ok);
		calls = llm_stub_calls(stub, "/api/chat");
		query(pairs[i][1], &r);
		if (json_is_true(json_object_get(r.json, "cacheHit")))
			fail_msg("'%s' was answered from the cache of '%s'", pairs[i][1], pairs[i][0]);
		assert_int_equal(llm_stub_calls(stub, "/api/chat"), calls + 1);
		hl_reply_free(&r);
	}
}

/* A quoted literal keeps its case in the exact key: SQL compares 'ACME'
 * and 'acme' differently, so they are two questions; the words around it
 * are still free in case and spacing. */
static void quoted_literal_case_is_a_different_question(void **state)
{
	struct stub_reply upper = { .content = "SELECT 'ACME' AS customer" };
	struct stub_reply lower = { .content = "SELECT 'acme' AS customer" };
	struct reply a, b, c;
	unsigned calls;
	(void)state;

	llm_stub_push(stub, &upper);
	query("sales for customer 'ACME'", &a);
	assert_false(json_is_true(json_object_get(a.json, "cacheHit")));
	llm_stub_push(stub, &lower);
	calls = llm_stub_calls(stub, "/api/chat");
	query("sales for customer 'acme'", &b);
	if (json_is_true(json_object_get(b.json, "cacheHit")))
		fail_msg("'acme' was answered from the cache of 'ACME' (%s)",
			 hl_str(b.json, "cacheType"));
	assert_int_equal(llm_stub_calls(stub, "/api/chat"), calls + 1);
	assert_string_not_equal(hl_str(b.json, "code"), hl_str(a.json, "code"));
	/* A name written without quotes keeps its case the same way. */
	hl_reply_free(&b);
	llm_stub_push(stub, &lower);
	query("refunds for customer INITECH", &b);
	hl_reply_free(&b);
	llm_stub_push(stub, &lower);
	calls = llm_stub_calls(stub, "/api/chat");
	query("refunds for customer Initech", &b);
	assert_false(json_is_true(json_object_get(b.json, "cacheHit")));
	assert_int_equal(llm_stub_calls(stub, "/api/chat"), calls + 1);
	calls = llm_stub_calls(stub, "/api/chat");
	query("  Sales for CUSTOMER   'ACME' ?", &c);
	assert_true(hit(&c, "exact"));
	assert_string_equal(hl_str(c.json, "cachedFrom"), hl_str(a.json, "id"));
	assert_int_equal(llm_stub_calls(stub, "/api/chat"), calls);
	hl_reply_free(&a);
	hl_reply_free(&b);
	hl_reply_free(&c);
}

static void changed_dataset_is_never_served(void **state)
{
	const char *body = "{\"language\":\"python\",\"dataset\":\"demo\",\"code\":"
			   "\"import os\\nprint(sorted(os.listdir('/data'))[:1])\"}";
	struct reply a, b, c;
	char path[700];
	FILE *f;
	(void)state;

	analyze_as(alice, body, &a);
	analyze_as(alice, body, &b);
	assert_true(hit(&b, "exact"));
	snprintf(path, sizeof(path), "%s/demo/aaa-new.csv", srv.data);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("x\n1\n", f);
	fclose(f);
	analyze_as(alice, body, &c);
	assert_false(json_is_true(json_object_get(c.json, "cacheHit")));
	assert_non_null(strstr(hl_str(c.json, "output"), "aaa-new.csv"));
	assert_null(strstr(hl_str(a.json, "output"), "aaa-new.csv"));
	hl_reply_free(&a);
	hl_reply_free(&b);
	hl_reply_free(&c);
}

/* A number from GET /metrics ("name value" on a line of its own). */
static long long metric(const char *name)
{
	struct reply r;
	char line[128];
	const char *at;
	long long v;

	hl_call(&srv, "GET", "/metrics", NULL, NULL, &r);
	snprintf(line, sizeof(line), "\n%s ", name);
	at = strstr(r.body, line);
	if (!at)
		fail_msg("no %s in /metrics", name);
	v = strtoll(at + strlen(line), NULL, 10);
	hl_reply_free(&r);
	return v;
}

struct bg_run {
	const char *body;
	struct reply r;
};

static void *bg_analyze(void *arg)
{
	struct bg_run *b = arg;

	hl_call_timeout(&srv, "POST", "/api/analyze", alice, b->body, strlen(b->body), NULL, 60000,
			&b->r);
	return NULL;
}

/* A file appended while a run reads it: the answer is of other data than
 * the fingerprint taken before the run describes, so it is not stored. */
static void data_changed_during_a_run_is_not_cached(void **state)
{
	const char *body = "{\"language\":\"python\",\"dataset\":\"demo\",\"code\":"
			   "\"import os\\nwhile os.path.getsize('/data/zz-grow.csv') < 6:\\n"
			   "    pass\\nprint(open('/data/zz-grow.csv').read().split()[-1])\"}";
	struct bg_run b = { .body = body };
	char path[700];
	pthread_t t;
	long long entries;
	FILE *f;
	(void)state;

	snprintf(path, sizeof(path), "%s/demo/zz-grow.csv", srv.data);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("x\n1\n", f);
	assert_int_equal(fclose(f), 0);
	/* Past the file system's clock tick, so the data has settled; then a
	 * first answer of the new data drops those of the old. */
	usleep(30 * 1000);
	analyze_as(alice, "{\"language\":\"sql\",\"dataset\":\"demo\",\"code\":\"SELECT 'grow'\"}",
		   &b.r);
	hl_reply_free(&b.r);
	entries = metric("ledgerbox_cache_entries");
	assert_int_equal(pthread_create(&t, NULL, bg_analyze, &b), 0);
	while (metric("ledgerbox_runs_active") == 0)
		usleep(5 * 1000);
	f = fopen(path, "a");
	assert_non_null(f);
	fputs("2\n", f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(b.r.status, 200);
	assert_string_equal(hl_str(b.r.json, "output"), "2\n");
	hl_reply_free(&b.r);
	if (metric("ledgerbox_cache_entries") > entries)
		fail_msg("an answer read from data that changed during its run was cached");
	assert_int_equal(unlink(path), 0);
}

static void metrics_and_clearing(void **state)
{
	const char *body = "{\"language\":\"sql\",\"dataset\":\"demo\",\"code\":\"SELECT 12345\"}";
	struct reply r;
	(void)state;

	analyze_as(alice, body, &r);
	hl_reply_free(&r);
	hl_call(&srv, "GET", "/metrics", NULL, NULL, &r);
	assert_non_null(strstr(r.body, "ledgerbox_cache_hits_total{type=\"exact\"}"));
	assert_non_null(strstr(r.body, "ledgerbox_cache_hits_total{type=\"semantic\"} 1"));
	assert_non_null(strstr(r.body, "ledgerbox_cache_misses_total"));
	assert_non_null(strstr(r.body, "ledgerbox_cache_evictions_total"));
	hl_reply_free(&r);
	hl_call(&srv, "DELETE", "/api/cache", alice, NULL, &r);
	assert_int_equal(r.status, 403);
	hl_reply_free(&r);
	hl_call(&srv, "DELETE", "/api/cache", root, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(json_integer_value(json_object_get(r.json, "deleted")) > 0);
	hl_reply_free(&r);
	analyze_as(alice, body, &r);
	assert_false(json_is_true(json_object_get(r.json, "cacheHit")));
	hl_reply_free(&r);
}

static int spend_entries_of(const char *run_id)
{
	struct reply r;
	json_t *e;
	size_t i;
	int n = 0;

	hl_call(&srv, "GET", "/api/spend?scope=user:alice&from=2000-01-01", root, NULL, &r);
	assert_int_equal(r.status, 200);
	json_array_foreach(json_object_get(r.json, "entries"), i, e) {
		if (strcmp(hl_str(e, "runId"), run_id) == 0)
			n++;
	}
	hl_reply_free(&r);
	return n;
}

/* An exact hit did no work: nothing is charged for it, not even by the
 * reconciliation a restart runs. */
static void hits_are_never_charged_even_after_a_restart(void **state)
{
	const char *body = "{\"language\":\"sql\",\"dataset\":\"demo\",\"code\":\"SELECT 777\"}";
	struct reply a, b;
	char first[80], second[80];
	(void)state;

	analyze_as(alice, body, &a);
	analyze_as(alice, body, &b);
	assert_true(hit(&b, "exact"));
	snprintf(first, sizeof(first), "%s", hl_str(a.json, "id"));
	snprintf(second, sizeof(second), "%s", hl_str(b.json, "id"));
	hl_reply_free(&a);
	hl_reply_free(&b);
	assert_int_equal(hl_stop(&srv, SIGTERM), 0);
	hl_start(&srv);
	assert_true(spend_entries_of(first) > 0);
	assert_int_equal(spend_entries_of(second), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exact_hit_is_free_and_a_run_of_its_own),
		cmocka_unit_test(chart_is_copied_with_the_hit),
		cmocka_unit_test(failures_and_opt_outs_are_not_cached),
		cmocka_unit_test(exact_query_ignores_spacing_and_case),
		cmocka_unit_test(paraphrase_is_a_semantic_hit),
		cmocka_unit_test(near_misses_go_to_the_model),
		cmocka_unit_test(quoted_literal_case_is_a_different_question),
		cmocka_unit_test(changed_dataset_is_never_served),
		cmocka_unit_test(data_changed_during_a_run_is_not_cached),
		cmocka_unit_test(metrics_and_clearing),
		cmocka_unit_test(hits_are_never_charged_even_after_a_restart),
	};
	return cmocka_run_group_tests_name("cache_api", tests, setup, teardown);
}
