/*
 * End-to-end tests of the natural-language mode against an
 * OpenAI-compatible back end: both wire forms, usage counted or estimated,
 * sample values kept from the model when the operator says so, traces
 * exported to an OTLP collector, and the LLM's circuit breaker: it opens
 * after consecutive failures, then refuses at once with Retry-After, and a
 * half-open trial closes it again once the back end is back.
 */
#include "httplib.h"
#include "support/llm_stub.h"
#include "support/otlp_collector.h"

static struct server srv;
static struct llm_stub *stub;
static struct collector traces;
static char *alice;
static char url_env[128], otlp_env[160];

static char *env_vars[] = { url_env, otlp_env, "LEDGERBOX_CACHE=off", "LEDGERBOX_LLM_API=openai",
			    "LEDGERBOX_LLM_MODEL=qwen2.5-coder", "LEDGERBOX_LLM_RETRIES=0",
			    "LEDGERBOX_LLM_SEND_SAMPLES=no", "LEDGERBOX_BREAKER_FAILURES=3",
			    "LEDGERBOX_BREAKER_COOLDOWN_MS=300", "LEDGERBOX_MAX_RUNS=2",
			    "LEDGERBOX_MODEL_RATES=qwen=1,2", NULL };

static const char *sql_query =
	"{\"query\":\"list the customers\",\"language\":\"sql\",\"dataset\":\"demo\"}";

static int setup(void **state)
{
	char *url;
	(void)state;

	stub = llm_stub_start();
	collector_start(&traces, 200);
	url = collector_url(&traces);
	snprintf(url_env, sizeof(url_env), "LEDGERBOX_LLM_URL=http://127.0.0.1:%d",
		 llm_stub_port(stub));
	snprintf(otlp_env, sizeof(otlp_env), "LEDGERBOX_OTLP_ENDPOINT=%s", url);
	free(url);
	hl_prepare(&srv, "resilience", env_vars);
	alice = hl_key_create(&srv, "alice", "finance", "analyst");
	hl_start(&srv);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	hl_stop(&srv, SIGTERM);
	llm_stub_stop(stub);
	collector_stop(&traces);
	free(alice);
	curl_global_cleanup();
	return 0;
}

static void analyze(const char *body, const char *accept, long want, struct reply *r)
{
	hl_call_header(&srv, "POST", "/api/analyze", alice, body, strlen(body), NULL, 60000, accept,
		       r);
	if (r->status != want)
		fail_msg("POST /api/analyze %s: %ld %s", body, r->status, r->body);
}

static json_t *last_chat_body(void)
{
	json_t *b = llm_stub_last_body(stub);

	assert_non_null(b);
	return b;
}

static void openai_whole_reply(void **state)
{
	struct stub_reply ok = { .content = "```sql\nSELECT count(*) AS n FROM customers\n```",
				 .prompt_tokens = 1234, .completion_tokens = 17 };
	unsigned before = llm_stub_calls(stub, "/v1/chat/completions");
	struct reply r;
	json_t *body, *tokens;
	(void)state;

	llm_stub_push(stub, &ok);
	analyze(sql_query, NULL, 200, &r);
	assert_int_equal(llm_stub_calls(stub, "/v1/chat/completions") - before, 1);
	tokens = json_object_get(r.json, "tokens");
	assert_int_equal(json_integer_value(json_object_get(tokens, "prompt")), 1234);
	assert_int_equal(json_integer_value(json_object_get(tokens, "completion")), 17);
	assert_true(json_is_false(json_object_get(tokens, "estimated")));
	assert_int_equal(json_integer_value(json_object_get(r.json, "tokensUsed")), 1251);
	/* 1234 at 1.00 and 17 at 2.00 a million, each rounded up. */
	assert_string_equal(hl_str(json_object_get(json_object_get(r.json, "cost"), "llm"), "in"),
			    "0.001234");
	assert_string_equal(hl_str(json_object_get(json_object_get(r.json, "cost"), "llm"), "out"),
			    "0.000034");
	assert_string_equal(hl_str(r.json, "model"), "qwen2.5-coder");
	body = last_chat_body();
	assert_string_equal(hl_str(body, "model"), "qwen2.5-coder");
	assert_true(json_is_integer(json_object_get(body, "max_tokens")));
	assert_true(json_is_false(json_object_get(body, "stream")));
	json_decref(body);
	hl_reply_free(&r);
}

static void openai_stream_and_missing_usage(void **state)
{
	struct stub_reply ok = { .content = "SELECT 7 AS seven", .omit_prompt_count = true };
	struct reply r;
	json_t *body, *result;
	const char *p;
	(void)state;

	llm_stub_push(stub, &ok);
	analyze(sql_query, "Accept: text/event-stream", 200, &r);
	p = strstr(r.body, "event: result\ndata: ");
	assert_non_null(p);
	result = json_loads(p + strlen("event: result\ndata: "), JSON_DISABLE_EOF_CHECK, NULL);
	assert_non_null(result);
	assert_true(json_is_true(json_object_get(json_object_get(result, "tokens"), "estimated")));
	assert_true(json_integer_value(json_object_get(json_object_get(result, "tokens"),
						       "completion")) > 0);
	assert_true(json_integer_value(json_object_get(json_object_get(result, "tokens"),
						       "prompt")) > 0);
	json_decref(result);
	body = last_chat_body();
	assert_true(json_is_true(json_object_get(body, "stream")));
	assert_true(json_is_true(json_object_get(json_object_get(body, "stream_options"),
						 "include_usage")));
	json_decref(body);
	hl_reply_free(&r);
}

/* LEDGERBOX_LLM_SEND_SAMPLES=no: the schema goes to the model, values from
 * the data do not. */
static void sample_values_stay_home(void **state)
{
	char path[700];
	char *argv[] = { "/usr/bin/sqlite3", "-readonly", path,
			 "SELECT name FROM customers ORDER BY customer_id LIMIT 1", NULL };
	struct tl_output o;
	struct reply r;
	json_t *body;
	char *text;
	(void)state;

	snprintf(path, sizeof(path), "%s/demo/ledger.sqlite", srv.data);
	tl_run(argv, NULL, &o);
	assert_int_equal(o.exit_code, 0);
	o.out[strcspn(o.out, "\n")] = '\0';
	assert_true(strlen(o.out) > 3);
	analyze(sql_query, NULL, 200, &r);
	hl_reply_free(&r);
	body = last_chat_body();
	text = json_dumps(body, 0);
	assert_non_null(strstr(text, "customers"));
	assert_non_null(strstr(text, "payment_terms_days"));
	assert_null(strstr(text, o.out));
	free(text);
	json_decref(body);
	tl_output_free(&o);
}

static json_t *span_named(const char *name)
{
	json_t *s;
	size_t i;

	json_array_foreach(traces.spans, i, s) {
		if (strcmp(hl_str(s, "name"), name) == 0)
			return s;
	}
	return NULL;
}

static json_t *attribute(json_t *span, const char *key)
{
	json_t *a;
	size_t i;

	json_array_foreach(json_object_get(span, "attributes"), i, a) {
		if (strcmp(hl_str(a, "key"), key) == 0)
			return json_object_get(a, "value");
	}
	return NULL;
}

static void stages_are_traced(void **state)
{
	static const char *const stages[] = { "budget", "generate", "validate", "run", "settle",
					      "analyze" };
	json_t *root, *gen;
	bool all = false;
	(void)state;

	/* The exporter sends in batches; earlier requests made spans. */
	for (int i = 0; i < 100 && !all; i++) {
		pthread_mutex_lock(&traces.lock);
		all = span_named("analyze") && span_named("settle") && span_named("generate");
		pthread_mutex_unlock(&traces.lock);
		if (!all)
			usleep(50000);
	}
	assert_true(all);
	pthread_mutex_lock(&traces.lock);
	for (size_t i = 0; i < 6; i++)
		assert_non_null(span_named(stages[i]));
	root = span_named("analyze");
	gen = span_named("generate");
	assert_string_equal(hl_str(gen, "traceId"), hl_str(root, "traceId"));
	assert_string_equal(hl_str(gen, "parentSpanId"), hl_str(root, "spanId"));
	assert_non_null(attribute(gen, "llm.prompt_tokens"));
	assert_non_null(attribute(gen, "cost_micros"));
	assert_string_equal(hl_str(attribute(root, "mode"), "stringValue"), "query");
	pthread_mutex_unlock(&traces.lock);
}

static json_t *breaker_state(void)
{
	struct reply r;
	json_t *b;

	hl_call(&srv, "GET", "/readyz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	b = json_incref(json_object_get(json_object_get(r.json, "breakers"), "llm"));
	hl_reply_free(&r);
	return b;
}

static void breaker_opens_fails_fast_and_closes(void **state)
{
	struct reply r;
	json_t *b;
	char *retry;
	bool closed = false;
	unsigned calls;
	(void)state;

	llm_stub_close_listener(stub);
	for (int i = 0; i < 3; i++) {
		analyze(sql_query, NULL, 503, &r);
		assert_string_equal(hl_str(json_object_get(r.json, "error"), "code"),
				    "llm_unavailable");
		assert_non_null(strstr(hl_str(json_object_get(r.json, "error"), "message"),
				       "no LLM answered"));
		hl_reply_free(&r);
	}
	b = breaker_state();
	assert_string_equal(hl_str(b, "state"), "open");
	json_decref(b);
	/* Open: refused at once, without a call, saying when to come back. */
	llm_stub_reopen(stub);
	calls = llm_stub_calls(stub, "/v1/chat/completions");
	analyze(sql_query, NULL, 503, &r);
	assert_non_null(strstr(hl_str(json_object_get(r.json, "error"), "message"),
			       "circuit breaker open"));
	retry = hl_header(&r, "Retry-After");
	assert_non_null(retry);
	assert_true(atoi(retry) >= 1);
	free(retry);
	hl_reply_free(&r);
	assert_int_equal(llm_stub_calls(stub, "/v1/chat/completions"), calls);
	hl_call(&srv, "GET", "/metrics", NULL, NULL, &r);
	assert_non_null(strstr(r.body, "ledgerbox_breaker_state{backend=\"llm\"} 1"));
	assert_non_null(strstr(r.body, "ledgerbox_llm_calls_total{outcome=\"breaker_open\"} 1"));
	hl_reply_free(&r);
	/* After the cool-down a trial call goes through and closes it. */
	for (int i = 0; i < 100 && !closed; i++) {
		usleep(50000);
		hl_call(&srv, "POST", "/api/analyze", alice, sql_query, &r);
		closed = r.status == 200;
		hl_reply_free(&r);
	}
	assert_true(closed);
	b = breaker_state();
	assert_string_equal(hl_str(b, "state"), "closed");
	json_decref(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(openai_whole_reply),
		cmocka_unit_test(openai_stream_and_missing_usage),
		cmocka_unit_test(sample_values_stay_home),
		cmocka_unit_test(stages_are_traced),
		cmocka_unit_test(breaker_opens_fails_fast_and_closes),
	};
	return cmocka_run_group_tests_name("llm_resilience", tests, setup, teardown);
}
