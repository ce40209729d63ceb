/*
 * Fault: the LLM server dies in the middle of its reply.
 *
 * The stub model starts an NDJSON stream and closes the connection before
 * it ends, on every try: once for a JSON request (the reply's bytes are
 * scripted raw) and once for a streamed one (the stub's die_mid_stream).
 * The answer must be a clear 502/503/504 naming the LLM, soon (the
 * client's own time-out bounds the wait); the attempt's reservation must be
 * gone and its cost in the ledger under the run id the error names, equal
 * to the cost the error reports; then a healthy reply must work again.
 */
#include "fault/faultlib.h"
#include "support/llm_stub.h"

static struct server srv;
static struct llm_stub *stub;
static char *alice, *root;
static char url_env[128];

/* Prompt tokens cost 1.00 a million: a call cut off is charged its prompt,
 * so its cost is never zero. One retry; no breaker in the way. */
static char *env_vars[] = { url_env, "LEDGERBOX_CACHE=off", "LEDGERBOX_LLM_API=ollama",
			    "LEDGERBOX_LLM_RETRIES=1", "LEDGERBOX_LLM_BACKOFF_MS=10",
			    "LEDGERBOX_LLM_BACKOFF_MAX_MS=40", "LEDGERBOX_LLM_TIMEOUT_MS=5000",
			    "LEDGERBOX_MODEL_RATES=llama3.1=1,2", "LEDGERBOX_BREAKER_FAILURES=50",
			    "LEDGERBOX_MAX_RUNS=2", "LEDGERBOX_REPAIR_ATTEMPTS=1",
			    "LEDGERBOX_BUDGET_TZ=UTC", NULL };

static const char *question =
	"{\"query\":\"how many customers are there?\",\"language\":\"sql\",\"dataset\":\"demo\"}";
static const char *good_code = "```sql\nSELECT count(*) AS n FROM customers\n```";

/* An Ollama stream cut after its first line: chunked, no last chunk. */
static char cut_stream[512];

static void cut_stream_build(void)
{
	const char *line = "{\"model\":\"llama3.1\",\"created_at\":\"2024-07-01T12:00:00Z\","
			   "\"message\":{\"role\":\"assistant\",\"content\":\"```sql\\nSELECT\"},"
			   "\"done\":false}\n";

	snprintf(cut_stream, sizeof(cut_stream),
		 "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
		 "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n%zx\r\n%s\r\n",
		 strlen(line), line);
}

static int setup(void **state)
{
	(void)state;
	stub = llm_stub_start();
	snprintf(url_env, sizeof(url_env), "LEDGERBOX_LLM_URL=http://127.0.0.1:%d",
		 llm_stub_port(stub));
	cut_stream_build();
	hl_prepare(&srv, "fault-llm", env_vars);
	alice = hl_key_create(&srv, "alice", "finance", "analyst");
	root = hl_key_create(&srv, "root", "it", "admin");
	hl_start(&srv);
	fl_put_budget(&srv, root, "/api/budgets/user/alice",
		      "{\"limit\":\"5.00\",\"period\":\"monthly\",\"hard\":true}");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	hl_stop(&srv, SIGTERM);
	llm_stub_stop(stub);
	free(alice);
	free(root);
	curl_global_cleanup();
	return 0;
}

/* The error of an answer cut short by the LLM: a clear status and code,
 * a message naming the LLM, the run id and attempt it was charged under,
 * and the ledger and the budget agreeing with its cost. */
static void check_llm_error(long status, json_t *err, int64_t spent_before)
{
	json_t *attempts = json_object_get(err, "attempts");
	const char *run_id = hl_str(err, "runId"), *code = hl_str(err, "code");
	int64_t cost;

	if (status != 502 && status != 503 && status != 504)
		fail_msg("an LLM cut off mid-stream answered %ld", status);
	assert_non_null(code);
	assert_true(strncmp(code, "llm_", 4) == 0);
	assert_non_null(strstr(hl_str(err, "message"), "LLM"));
	assert_non_null(run_id);
	assert_int_equal(json_array_size(attempts), 1);
	assert_string_equal(hl_str(json_array_get(attempts, 0), "ledgerId"), run_id);
	assert_string_equal(hl_str(json_array_get(attempts, 0), "stage"), "generate");
	cost = fl_int(json_object_get(err, "cost"), "totalMicros");
	/* The model read the prompt before the stream broke: charged. */
	assert_true(cost > 0);
	assert_int_equal(fl_int(json_object_get(json_array_get(attempts, 0), "cost"), "totalMicros"),
			 cost);
	/* Settled once under the run's id, on every scope, nothing held. */
	assert_int_equal(fl_ledger_micros(&srv, root, "user:alice", run_id), cost);
	assert_int_equal(fl_ledger_micros(&srv, root, "team:finance", run_id), cost);
	assert_int_equal(fl_budget_int(&srv, root, "user:alice", "reservedMicros"), 0);
	assert_int_equal(fl_budget_int(&srv, root, "user:alice", "spentMicros") - spent_before, cost);
}

static void json_request_cut_mid_stream(void **state)
{
	struct stub_reply cut = { .raw = cut_stream };
	unsigned calls = llm_stub_calls(stub, "/api/chat");
	int64_t spent = fl_budget_int(&srv, root, "user:alice", "spentMicros");
	struct reply r;
	(void)state;

	llm_stub_default(stub, &cut);
	hl_call_timeout(&srv, "POST", "/api/analyze", alice, question, strlen(question), NULL, 30000,
			&r);
	assert_non_null(r.json);
	check_llm_error(r.status, json_object_get(r.json, "error"), spent);
	/* Cut off is worth one retry, no more. */
	assert_int_equal(llm_stub_calls(stub, "/api/chat") - calls, 2);
	hl_reply_free(&r);
}

/* The last event of a stream, parsed. */
static json_t *last_event(const char *body, const char *event)
{
	char head[64];
	const char *p = NULL;

	snprintf(head, sizeof(head), "event: %s\ndata: ", event);
	for (const char *q = strstr(body, head); q; q = strstr(q + 1, head))
		p = q;
	return p ? json_loads(p + strlen(head), JSON_DISABLE_EOF_CHECK, NULL) : NULL;
}

static void streamed_request_cut_mid_stream(void **state)
{
	struct stub_reply cut = { .content = good_code, .die_mid_stream = true };
	int64_t spent = fl_budget_int(&srv, root, "user:alice", "spentMicros");
	struct reply r;
	json_t *ev;
	(void)state;

	llm_stub_default(stub, &cut);
	hl_call_header(&srv, "POST", "/api/analyze", alice, question, strlen(question), NULL, 30000,
		       "Accept: text/event-stream", &r);
	assert_int_equal(r.status, 200);
	/* Part of the reply arrived, then was taken back for the retry. */
	assert_non_null(strstr(r.body, "event: token"));
	assert_non_null(strstr(r.body, "\"stage\":\"generation_restarted\""));
	assert_null(strstr(r.body, "event: result"));
	ev = last_event(r.body, "error");
	assert_non_null(ev);
	check_llm_error((long)fl_int(ev, "status"), json_object_get(ev, "error"), spent);
	json_decref(ev);
	hl_reply_free(&r);
}

static void healthy_reply_works_again(void **state)
{
	struct stub_reply ok = { .content = good_code };
	int64_t spent = fl_budget_int(&srv, root, "user:alice", "spentMicros");
	struct reply r;
	(void)state;

	llm_stub_default(stub, &ok);
	hl_call_timeout(&srv, "POST", "/api/analyze", alice, question, strlen(question), NULL, 30000,
			&r);
	if (r.status != 200)
		fail_msg("after the LLM came back: %ld %s", r.status, r.body);
	assert_string_equal(hl_str(r.json, "status"), "ok");
	assert_int_equal(fl_run_status(&srv, alice, hl_str(r.json, "id")), 200);
	assert_int_equal(fl_budget_int(&srv, root, "user:alice", "reservedMicros"), 0);
	assert_int_equal(fl_budget_int(&srv, root, "user:alice", "spentMicros") - spent,
			 fl_int(json_object_get(r.json, "cost"), "totalMicros"));
	hl_reply_free(&r);
	/* Every cent in the ledger is accounted for: the failed attempts'
	 * errors and the recorded run. */
	assert_int_equal(fl_ledger_micros(&srv, root, "user:alice", NULL),
			 fl_budget_int(&srv, root, "user:alice", "spentMicros"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(json_request_cut_mid_stream),
		cmocka_unit_test(streamed_request_cut_mid_stream),
		cmocka_unit_test(healthy_reply_works_again),
	};
	return cmocka_run_group_tests_name("fault_llm", tests, setup, teardown);
}
