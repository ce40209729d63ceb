/*
 * End-to-end tests of the natural-language mode over real HTTP, against a
 * stub LLM server on loopback that speaks Ollama's and OpenAI's wire
 * protocols: code on the first try, fenced and unfenced replies, repairs
 * from a parser's and from a run's error, a model that never gets it
 * right, retries, a slow model, garbage, budgets between attempts, the
 * event stream, token accounting, and code that must survive unchanged.
 */
#include "httplib.h"
#include "support/llm_stub.h"

static struct server srv;
static struct llm_stub *stub;
static char *alice, *root;
static char url_env[128];

/* Prompt tokens cost 1.00 a million, completion 2.00 a million: every
 * token counted shows in the cost. */
/* The cache is off: these tests ask the same questions on purpose
 * (test_cache_api covers it). */
static char *env_vars[] = { url_env, "LEDGERBOX_CACHE=off", "LEDGERBOX_LLM_API=ollama", "LEDGERBOX_LLM_RETRIES=2",
			    "LEDGERBOX_LLM_BACKOFF_MS=10", "LEDGERBOX_LLM_BACKOFF_MAX_MS=40",
			    "LEDGERBOX_LLM_TIMEOUT_MS=1500", "LEDGERBOX_MODEL_RATES=llama3.1=1,2",
			    "LEDGERBOX_MAX_RUNS=2", "LEDGERBOX_REPAIR_ATTEMPTS=2",
			    "LEDGERBOX_BUDGET_TZ=UTC", NULL };

static int setup(void **state)
{
	(void)state;
	stub = llm_stub_start();
	snprintf(url_env, sizeof(url_env), "LEDGERBOX_LLM_URL=http://127.0.0.1:%d",
		 llm_stub_port(stub));
	hl_prepare(&srv, "llm", env_vars);
	alice = hl_key_create(&srv, "alice", "finance", "analyst");
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
	free(root);
	curl_global_cleanup();
	return 0;
}

static void reply_push(const char *content)
{
	struct stub_reply r = { .content = content };

	llm_stub_push(stub, &r);
}

static void analyze(const char *body, long want, struct reply *r)
{
	hl_call_timeout(&srv, "POST", "/api/analyze", alice, body, strlen(body), NULL, 60000, r);
	if (r->status != want)
		fail_msg("POST /api/analyze %s: %ld %s", body, r->status, r->body);
	assert_non_null(r->json);
}

static const char *sql_query =
	"{\"query\":\"how many customers are there?\",\"language\":\"sql\",\"dataset\":\"demo\"}";

static json_int_t jint(json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);

	if (!json_is_integer(v))
		fail_msg("%s is not an integer", key);
	return json_integer_value(v);
}

static json_t *first_cell(json_t *response)
{
	return json_array_get(json_array_get(json_object_get(json_object_get(response, "table"),
							     "rows"), 0), 0);
}

/* The demo's customer count, asked of SQLite directly. */
static json_int_t customers_count(void)
{
	char path[700];
	char *argv[] = { "/usr/bin/sqlite3", "-readonly", path, "SELECT COUNT(*) FROM customers", NULL };
	struct tl_output o;
	json_int_t n;

	snprintf(path, sizeof(path), "%s/demo/ledger.sqlite", srv.data);
	tl_run(argv, NULL, &o);
	assert_int_equal(o.exit_code, 0);
	n = strtoll(o.out, NULL, 10);
	tl_output_free(&o);
	assert_true(n > 0);
	return n;
}

static bool message_contains(json_t *body, const char *text)
{
	json_t *m;
	size_t i;

	json_array_foreach(json_object_get(body, "messages"), i, m) {
		const char *c = json_string_value(json_object_get(m, "content"));
		if (c && strstr(c, text))
			return true;
	}
	return false;
}

/* A string member that must be there. */
static const char *jstr(json_t *j, const char *key)
{
	const char *v = json_string_value(json_object_get(j, key));

	if (!v)
		fail_msg("%s is not a string", key);
	return v;
}

/* Micro-units of an amount as the API writes it ("0.0002", "12.50"). */
static json_int_t micros_of(const char *text)
{
	json_int_t whole = 0, frac = 0;
	int digits = 0;
	const char *p = text;

	assert_non_null(text);
	for (; *p >= '0' && *p <= '9'; p++)
		whole = whole * 10 + (*p - '0');
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			frac = frac * 10 + (*p - '0');
	if (*p || digits > 6)
		fail_msg("\"%s\" is not an amount", text);
	for (; digits < 6; digits++)
		frac *= 10;
	return whole * 1000000 + frac;
}

/* What the ledger holds for a run: the entries under its id and its
 * repairs' "<id>.<k>", summed; their number in *ret_entries. Each entry
 * stays within what its attempt reserved, and its detail lists the
 * components it was charged for. */
static json_int_t ledger_micros(const char *run_id, size_t *ret_entries)
{
	struct reply spend;
	json_t *x;
	json_int_t sum = 0;
	size_t i, len = strlen(run_id);

	*ret_entries = 0;
	hl_call(&srv, "GET", "/api/spend?scope=user:alice&from=2000-01-01", root, NULL, &spend);
	assert_int_equal(spend.status, 200);
	json_array_foreach(json_object_get(spend.json, "entries"), i, x) {
		const char *id = jstr(x, "runId");
		json_t *detail = json_object_get(x, "detail"), *c;
		json_int_t listed = 0;
		size_t k;

		if (strncmp(id, run_id, len) != 0 || (id[len] != '\0' && id[len] != '.'))
			continue;
		sum += jint(x, "amountMicros");
		(*ret_entries)++;
		assert_true(jint(x, "amountMicros") <= micros_of(jstr(detail, "worstCase")));
		json_array_foreach(json_object_get(json_object_get(detail, "cost"), "components"), k, c)
			listed += jint(c, "micros");
		assert_int_equal(listed, jint(x, "amountMicros"));
	}
	hl_reply_free(&spend);
	return sum;
}

/* The components of a cost add up to its total, to the micro-unit, and
 * their parts to its parts. Returns how many were runs. */
static size_t components_add_up(json_t *cost)
{
	json_t *list = json_object_get(cost, "components"), *c;
	json_int_t sum = 0, runs_fee = 0;
	size_t i, runs = 0;

	assert_true(json_is_array(list));
	json_array_foreach(list, i, c) {
		json_t *part = json_object_get(c, "cost");
		assert_int_equal(jint(c, "micros"), jint(part, "totalMicros"));
		sum += jint(c, "micros");
		runs_fee += micros_of(jstr(part, "run"));
		if (strcmp(jstr(c, "kind"), "run") == 0) {
			runs++;
			/* Each run shows what it used and was billed for. */
			assert_true(jint(c, "wallMs") >= 0 && jint(c, "cpuMs") >= 0);
			assert_true(jint(c, "peakMemoryBytes") >= jint(c, "billedMemoryBytes"));
			assert_non_null(jstr(c, "stage"));
			assert_non_null(jstr(c, "sandbox"));
			assert_true(micros_of(jstr(part, "run")) > 0);
		} else {
			assert_string_equal(jstr(c, "kind"), "llm");
			assert_true(jint(c, "promptTokens") > 0);
			assert_int_equal(micros_of(jstr(part, "run")), 0);
		}
	}
	assert_int_equal(sum, jint(cost, "totalMicros"));
	assert_int_equal(runs_fee, micros_of(jstr(cost, "run")));
	return runs;
}

/* The server's run fee, from its price table. */
static json_int_t run_fee(void)
{
	struct reply r;
	json_int_t fee;

	hl_call(&srv, "GET", "/api/pricing", alice, NULL, &r);
	assert_int_equal(r.status, 200);
	fee = micros_of(jstr(r.json, "runFee"));
	hl_reply_free(&r);
	assert_true(fee > 0);
	return fee;
}

/* Every charge of a question is in its answer: each attempt's components
 * add up to its cost, all of them to the answer's cost, which is what the
 * ledger settled, one entry an attempt. `runs` sandbox runs were charged,
 * and the run fee as many times. */
static void charges_reconcile(json_t *answer, size_t runs)
{
	json_t *attempts = json_object_get(answer, "attempts"), *a, *c;
	json_t *cost = json_object_get(answer, "cost");
	size_t i, j, entries, listed = 0;
	json_int_t fee = run_fee();

	assert_int_equal(components_add_up(cost), runs);
	assert_int_equal(micros_of(jstr(cost, "run")), fee * (json_int_t)runs);
	json_array_foreach(attempts, i, a) {
		json_t *own = json_object_get(a, "cost");
		components_add_up(own);
		json_array_foreach(json_object_get(own, "components"), j, c) {
			assert_int_equal(jint(c, "attempt"), jint(a, "attempt"));
			assert_true(json_equal(c, json_array_get(json_object_get(cost, "components"),
								 listed++)));
		}
	}
	assert_int_equal(listed, json_array_size(json_object_get(cost, "components")));
	assert_int_equal(ledger_micros(jstr(answer, "id"), &entries), jint(cost, "totalMicros"));
	assert_int_equal(entries, json_array_size(attempts));
}

/* The kind, attempt and stage of the i-th component of the answer's cost. */
static void expect_component(json_t *answer, size_t i, const char *kind, json_int_t attempt,
			     const char *stage)
{
	json_t *c = json_array_get(json_object_get(json_object_get(answer, "cost"), "components"), i);

	assert_non_null(c);
	assert_string_equal(jstr(c, "kind"), kind);
	assert_int_equal(jint(c, "attempt"), attempt);
	if (stage)
		assert_string_equal(jstr(c, "stage"), stage);
}

static void first_try_fenced_sql(void **state)
{
	struct reply r;
	json_t *body, *attempt;
	(void)state;

	reply_push("Here is the query:\n```sql\nSELECT COUNT(*) AS n FROM customers;\n```\nDone.");
	analyze(sql_query, 200, &r);
	assert_string_equal(hl_str(r.json, "status"), "ok");
	assert_string_equal(hl_str(r.json, "mode"), "query");
	assert_string_equal(hl_str(r.json, "code"), "SELECT COUNT(*) AS n FROM customers;");
	assert_int_equal(json_integer_value(first_cell(r.json)), customers_count());
	assert_int_equal(json_array_size(json_object_get(r.json, "attempts")), 1);
	attempt = json_array_get(json_object_get(r.json, "attempts"), 0);
	assert_string_equal(hl_str(attempt, "ledgerId"), hl_str(r.json, "id"));
	assert_true(jint(r.json, "tokensUsed") > 0);
	assert_int_equal(jint(r.json, "tokensUsed"), jint(attempt, "tokensUsed"));
	assert_true(json_integer_value(json_object_get(json_object_get(r.json, "cost"),
						       "totalMicros")) > 0);
	assert_string_not_equal(json_string_value(json_object_get(
				json_object_get(json_object_get(r.json, "cost"), "llm"), "out")),
				"0.00");
	/* The model saw the schema, the dialect and the request, with the
	 * context size set explicitly. */
	body = llm_stub_last_body(stub);
	assert_non_null(body);
	assert_string_equal(hl_str(body, "model"), "llama3.1");
	assert_true(json_integer_value(json_object_get(json_object_get(body, "options"),
						       "num_ctx")) > 0);
	assert_true(message_contains(body, "invoices"));
	assert_true(message_contains(body, "SQLite"));
	assert_true(message_contains(body, "how many customers are there?"));
	json_decref(body);
	hl_reply_free(&r);
}

static void unfenced_reply_is_the_code(void **state)
{
	struct reply r;
	(void)state;

	reply_push("SELECT 6 * 7 AS answer");
	analyze(sql_query, 200, &r);
	assert_string_equal(hl_str(r.json, "code"), "SELECT 6 * 7 AS answer");
	assert_int_equal(json_integer_value(first_cell(r.json)), 42);
	hl_reply_free(&r);
}

/* A parser catches the unknown column before any run; the model gets the
 * error and its code back and answers again. Both attempts are charged. */
static void unknown_column_is_repaired(void **state)
{
	struct reply r;
	json_t *attempts, *bodies, *e;
	(void)state;

	reply_push("```sql\nSELECT no_such_column FROM customers\n```");
	reply_push("```sql\nSELECT COUNT(*) FROM customers\n```");
	analyze(sql_query, 200, &r);
	assert_string_equal(hl_str(r.json, "status"), "ok");
	attempts = json_object_get(r.json, "attempts");
	assert_int_equal(json_array_size(attempts), 2);
	e = json_object_get(json_array_get(attempts, 0), "error");
	assert_string_equal(hl_str(json_array_get(attempts, 0), "stage"), "validate");
	assert_non_null(strstr(hl_str(e, "message"), "no_such_column"));
	assert_true(json_is_null(json_object_get(json_array_get(attempts, 1), "error")));
	assert_int_equal(json_integer_value(first_cell(r.json)), customers_count());
	/* The repair prompt carried the failed code and the parser's error. */
	bodies = llm_stub_bodies(stub);
	e = json_array_get(bodies, json_array_size(bodies) - 1);
	assert_true(message_contains(e, "SELECT no_such_column FROM customers"));
	assert_true(message_contains(e, "no such column"));
	json_decref(bodies);
	/* Each attempt has its ledger entry; together they are the cost. SQL
	 * is checked without a sandbox: one run, that of the second attempt. */
	charges_reconcile(r.json, 1);
	expect_component(r.json, 0, "llm", 1, NULL);
	expect_component(r.json, 1, "llm", 2, NULL);
	expect_component(r.json, 2, "run", 2, "run");
	hl_reply_free(&r);
}

static void python_that_raises_is_repaired(void **state)
{
	struct reply r;
	json_t *first;
	(void)state;

	reply_push("```python\nrows = []\nprint(rows[3])\n```");
	reply_push("```python\nprint(2 + 3)\n```");
	analyze("{\"query\":\"add two and three\",\"language\":\"python\"}", 200, &r);
	assert_string_equal(hl_str(r.json, "status"), "ok");
	assert_string_equal(hl_str(r.json, "output"), "5\n");
	first = json_array_get(json_object_get(r.json, "attempts"), 0);
	assert_string_equal(hl_str(first, "stage"), "run");
	assert_string_equal(hl_str(json_object_get(first, "error"), "type"), "IndexError");
	hl_reply_free(&r);
}

static void python_syntax_error_is_caught_before_the_run(void **state)
{
	struct reply r;
	json_t *first;
	(void)state;

	reply_push("```python\nprint('never'\n```");
	reply_push("```python\nprint('fixed')\n```");
	analyze("{\"query\":\"say something\",\"language\":\"python\"}", 200, &r);
	assert_string_equal(hl_str(r.json, "output"), "fixed\n");
	first = json_array_get(json_object_get(r.json, "attempts"), 0);
	assert_string_equal(hl_str(first, "stage"), "validate");
	assert_string_equal(hl_str(json_object_get(first, "error"), "type"), "SyntaxError");
	/* Two runs, each paid once and shown: the first only compiled (in
	 * the sandbox that would have run it), the second compiled and ran. */
	charges_reconcile(r.json, 2);
	expect_component(r.json, 0, "llm", 1, NULL);
	expect_component(r.json, 1, "run", 1, "compile");
	expect_component(r.json, 2, "llm", 2, NULL);
	expect_component(r.json, 3, "run", 2, "run");
	hl_reply_free(&r);
}

/* A model on this machine may see the data (LEDGERBOX_LLM_SEND_SAMPLES=auto
 * and a loopback URL): the repair carries the error's whole message, the
 * value it quotes included. */
static void local_model_gets_the_whole_error(void **state)
{
	char path[700];
	char *argv[] = { "/usr/bin/sqlite3", "-readonly", path,
			 "SELECT name FROM customers ORDER BY rowid LIMIT 1", NULL };
	struct tl_output o;
	struct reply r;
	json_t *body;
	(void)state;

	snprintf(path, sizeof(path), "%s/demo/ledger.sqlite", srv.data);
	tl_run(argv, NULL, &o);
	assert_int_equal(o.exit_code, 0);
	o.out[strcspn(o.out, "\n")] = '\0';
	reply_push("```python\nimport pandas as pd\ndf = pd.read_csv(\"/data/customers.csv\")\n"
		   "raise KeyError(df[\"name\"].iloc[0])\n```");
	reply_push("```python\nprint(1)\n```");
	analyze("{\"query\":\"first customer\",\"language\":\"python\",\"dataset\":\"demo\"}", 200,
		&r);
	body = llm_stub_last_body(stub);
	assert_true(message_contains(body, "KeyError"));
	assert_true(message_contains(body, o.out));
	json_decref(body);
	tl_output_free(&o);
	hl_reply_free(&r);
}

/* Code that compiles at once pays one LLM call and one run: its check is
 * the first step of its run, in the same sandbox. */
static void python_first_try_pays_one_run(void **state)
{
	struct reply r;
	(void)state;

	reply_push("```python\nprint(6 * 7)\n```");
	analyze("{\"query\":\"six times seven\",\"language\":\"python\"}", 200, &r);
	assert_string_equal(hl_str(r.json, "output"), "42\n");
	charges_reconcile(r.json, 1);
	expect_component(r.json, 0, "llm", 1, NULL);
	expect_component(r.json, 1, "run", 1, "run");
	assert_int_equal(json_array_size(json_object_get(json_object_get(r.json, "cost"),
							 "components")), 2);
	hl_reply_free(&r);
}

/* The sandbox of the i-th component. */
static const char *component_sandbox(json_t *answer, size_t i)
{
	return jstr(json_array_get(json_object_get(json_object_get(answer, "cost"), "components"), i),
		    "sandbox");
}

/* The same in a warm sandbox from the pool (on by default): asked again
 * until the run that matters had one, since the pool refills in the
 * background and a run never waits for it. */
static void warm_runs_pay_the_same(void **state)
{
	struct reply r;
	bool warm = false;
	(void)state;

	for (int i = 0; i < 40 && !warm; i++, usleep(warm ? 0 : 250000)) {
		reply_push("```python\nprint(6 * 7)\n```");
		analyze("{\"query\":\"six times seven\",\"language\":\"python\"}", 200, &r);
		warm = strcmp(component_sandbox(r.json, 1), "warm") == 0;
		if (warm)
			charges_reconcile(r.json, 1);
		hl_reply_free(&r);
	}
	assert_true(warm);
	for (int i = 0, done = 0; i < 40 && !done; i++, usleep(done ? 0 : 250000)) {
		reply_push("```python\nprint('never'\n```");
		reply_push("```python\nprint('fixed')\n```");
		analyze("{\"query\":\"say something\",\"language\":\"python\"}", 200, &r);
		done = strcmp(component_sandbox(r.json, 1), "warm") == 0;
		if (done) {
			charges_reconcile(r.json, 2);
			expect_component(r.json, 1, "run", 1, "compile");
			assert_string_equal(hl_str(r.json, "output"), "fixed\n");
		}
		hl_reply_free(&r);
		warm = done;
	}
	assert_true(warm);
}

/* A run stopped at its CPU limit is repaired; each attempt, the stopped
 * run's included, is settled within what it reserved, and shown. */
static void a_run_stopped_at_its_limit_is_within_its_reservation(void **state)
{
	struct reply r;
	json_t *c;
	(void)state;

	reply_push("```python\nwhile True:\n    pass\n```");
	reply_push("```python\nprint('done')\n```");
	analyze("{\"query\":\"spin\",\"language\":\"python\",\"limits\":{\"cpuMs\":400}}", 200,
		&r);
	assert_string_equal(hl_str(r.json, "output"), "done\n");
	charges_reconcile(r.json, 2);
	expect_component(r.json, 1, "run", 1, "run");
	c = json_array_get(json_object_get(json_object_get(r.json, "cost"), "components"), 1);
	assert_string_not_equal(jstr(c, "status"), "ok");
	assert_true(jint(c, "cpuMs") >= 300);
	hl_reply_free(&r);
}

/* A model server that reports more tokens than the call could have used
 * (a prompt far past its estimate, a completion past LLM_MAX_TOKENS) is
 * billed for what the attempt reserved, not more; the component says
 * what was reported and that it was capped. */
static void reported_tokens_past_the_reservation_are_capped(void **state)
{
	struct stub_reply huge = { .content = "```python\nprint(5)\n```",
				   .prompt_tokens = 4000000, .completion_tokens = 3000000 };
	struct reply r;
	json_t *c;
	(void)state;

	llm_stub_push(stub, &huge);
	analyze("{\"query\":\"five\",\"language\":\"python\"}", 200, &r);
	assert_string_equal(hl_str(r.json, "output"), "5\n");
	charges_reconcile(r.json, 1);
	c = json_array_get(json_object_get(json_object_get(r.json, "cost"), "components"), 0);
	assert_string_equal(jstr(c, "kind"), "llm");
	assert_true(json_is_true(json_object_get(c, "capped")));
	assert_int_equal(jint(c, "reportedPromptTokens"), 4000000);
	assert_int_equal(jint(c, "reportedCompletionTokens"), 3000000);
	assert_true(jint(c, "promptTokens") < 4000000);
	assert_true(jint(c, "completionTokens") < 3000000);
	hl_reply_free(&r);
}

/* The worst case of a refused request, from its 402. */
static json_int_t refused_worst(const char *user_key, const char *body)
{
	struct reply r;
	json_int_t worst;

	hl_call_timeout(&srv, "POST", "/api/analyze", user_key, body, strlen(body), NULL, 60000, &r);
	assert_int_equal(r.status, 402);
	worst = micros_of(jstr(json_object_get(r.json, "error"), "requested"));
	hl_reply_free(&r);
	return worst;
}

/* An attempt reserves its LLM call and one run at the request's limits,
 * no second sandbox for a check: more CPU time allowed raises a Python
 * question's worst case by what it raises a code run's. */
static void python_question_reserves_one_run(void **state)
{
	char *erin = hl_key_create(&srv, "erin", "ops", "analyst");
	struct reply put;
	json_int_t q1, q2, c1, c2;
	(void)state;

	hl_call(&srv, "PUT", "/api/budgets/user/erin", root,
		"{\"limit\":\"0.000001\",\"period\":\"none\",\"hard\":true}", &put);
	assert_int_equal(put.status, 200);
	hl_reply_free(&put);
	q1 = refused_worst(erin, "{\"query\":\"count to three\",\"language\":\"python\","
				 "\"limits\":{\"cpuMs\":2000}}");
	q2 = refused_worst(erin, "{\"query\":\"count to three\",\"language\":\"python\","
				 "\"limits\":{\"cpuMs\":6000}}");
	c1 = refused_worst(erin, "{\"code\":\"print(3)\",\"language\":\"python\","
				 "\"limits\":{\"cpuMs\":2000}}");
	c2 = refused_worst(erin, "{\"code\":\"print(3)\",\"language\":\"python\","
				 "\"limits\":{\"cpuMs\":6000}}");
	assert_true(c2 > c1);
	assert_int_equal(q2 - q1, c2 - c1);
	free(erin);
}

/* Valid code that a regex "fix" would break (a one-element tuple and a
 * trailing comma) runs exactly as written. */
static void valid_code_survives_unchanged(void **state)
{
	struct reply r;
	const char *code = "t = (1,)\nxs = [1, 2, 3,]\nprint(len(t), type(t).__name__, len(xs))";
	char reply[300];
	(void)state;

	snprintf(reply, sizeof(reply), "```python\n%s\n```", code);
	reply_push(reply);
	analyze("{\"query\":\"tuple\",\"language\":\"python\"}", 200, &r);
	assert_string_equal(hl_str(r.json, "code"), code);
	assert_string_equal(hl_str(r.json, "output"), "1 tuple 3\n");
	hl_reply_free(&r);
}

/* A model that never writes valid code: the first try and two repairs,
 * then a clear error listing every attempt, each charged. */
static void model_that_never_succeeds_stops_at_the_limit(void **state)
{
	struct reply r;
	json_t *e;
	unsigned before = llm_stub_calls(stub, "/api/chat");
	(void)state;

	for (int i = 0; i < 3; i++)
		reply_push("```sql\nSELEC broken FROM\n```");
	analyze(sql_query, 422, &r);
	e = json_object_get(r.json, "error");
	assert_string_equal(hl_str(e, "code"), "generation_failed");
	assert_non_null(strstr(hl_str(e, "message"), "3 attempts"));
	assert_int_equal(json_array_size(json_object_get(e, "attempts")), 3);
	assert_true(json_integer_value(json_object_get(json_object_get(e, "cost"), "totalMicros")) >
		    0);
	assert_int_equal(llm_stub_calls(stub, "/api/chat") - before, 3);
	hl_reply_free(&r);
}

static void server_errors_are_retried(void **state)
{
	struct stub_reply fail = { .status = 500, .content = "overloaded" };
	struct reply r;
	unsigned before = llm_stub_calls(stub, "/api/chat");
	(void)state;

	llm_stub_push(stub, &fail);
	llm_stub_push(stub, &fail);
	reply_push("```sql\nSELECT 1 AS one\n```");
	analyze(sql_query, 200, &r);
	assert_int_equal(llm_stub_calls(stub, "/api/chat") - before, 3);
	assert_int_equal(jint(json_array_get(json_object_get(r.json, "attempts"), 0), "llmCalls"), 3);
	hl_reply_free(&r);
}

static void slow_model_times_out(void **state)
{
	struct stub_reply slow = { .content = "SELECT 1", .delay_ms = 2500 };
	struct reply r;
	(void)state;

	for (int i = 0; i < 3; i++)
		llm_stub_push(stub, &slow);
	analyze(sql_query, 504, &r);
	assert_string_equal(hl_str(json_object_get(r.json, "error"), "code"), "llm_timeout");
	hl_reply_free(&r);
}

static void garbage_reply_is_a_clear_error(void **state)
{
	struct stub_reply junk = {
		.raw = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n"
		       "Connection: close\r\n\r\n\x01\x02{{not json"
	};
	struct reply r;
	(void)state;

	llm_stub_push(stub, &junk);
	analyze(sql_query, 502, &r);
	assert_string_equal(hl_str(json_object_get(r.json, "error"), "code"), "llm_bad_reply");
	hl_reply_free(&r);
}

/* Ollama leaves out prompt_eval_count for a cached prompt: the count is
 * estimated from the text, marked, and never zero. */
static void omitted_counts_are_estimated(void **state)
{
	struct stub_reply cached = { .content = "SELECT 2 AS two", .omit_prompt_count = true };
	struct reply r;
	json_t *tokens;
	(void)state;

	llm_stub_push(stub, &cached);
	analyze(sql_query, 200, &r);
	tokens = json_object_get(r.json, "tokens");
	assert_true(json_is_true(json_object_get(tokens, "estimated")));
	assert_true(jint(tokens, "prompt") > 100); /* the schema alone is long */
	assert_true(json_is_true(json_object_get(json_object_get(
		json_array_get(json_object_get(r.json, "attempts"), 0), "tokens"), "promptEstimated")));
	hl_reply_free(&r);
}

/* A budget that covers the first attempt but not a repair after it: an
 * attempt's worst case plus less than the first attempt costs, so what
 * is left after it cannot reserve the (longer) repair. */
static void budget_runs_out_between_attempts(void **state)
{
	struct stub_reply costly = { .content = "SELECT missing_column FROM customers",
				     .completion_tokens = 1000 };
	char *bob = hl_key_create(&srv, "bob", "sales", "analyst");
	char *dora = hl_key_create(&srv, "dora", "sales", "analyst");
	struct reply r, put;
	char limit[160];
	json_int_t worst;
	json_t *e;
	(void)state;

	hl_call(&srv, "PUT", "/api/budgets/user/dora", root,
		"{\"limit\":\"0.000001\",\"period\":\"none\",\"hard\":true}", &put);
	assert_int_equal(put.status, 200);
	hl_reply_free(&put);
	worst = refused_worst(dora, sql_query);
	/* 1000 completion tokens at 2.00 a million: the first attempt costs
	 * more than 0.002, within its reservation (LLM_MAX_TOKENS is 1024). */
	worst += 1000;
	snprintf(limit, sizeof(limit),
		 "{\"limit\":\"%" JSON_INTEGER_FORMAT ".%06" JSON_INTEGER_FORMAT
		 "\",\"period\":\"none\",\"hard\":true}",
		 worst / 1000000, worst % 1000000);
	hl_call(&srv, "PUT", "/api/budgets/user/bob", root, limit, &put);
	assert_int_equal(put.status, 200);
	hl_reply_free(&put);
	llm_stub_push(stub, &costly);
	hl_call_timeout(&srv, "POST", "/api/analyze", bob, sql_query, strlen(sql_query), NULL, 60000,
			&r);
	assert_int_equal(r.status, 402);
	e = json_object_get(r.json, "error");
	assert_string_equal(hl_str(e, "code"), "budget_exceeded");
	assert_int_equal(json_array_size(json_object_get(e, "attempts")), 1);
	assert_non_null(hl_str(e, "runId"));
	/* The refusal shows what the first attempt was charged (its LLM call;
	 * the SQL check is free), component by component. */
	assert_int_equal(components_add_up(json_object_get(e, "cost")), 0);
	hl_reply_free(&r);
	free(bob);
	free(dora);
}

/* Events in order: stages, the code as it is generated, the output, the
 * result. */
static void stream_sends_events(void **state)
{
	struct reply r;
	const char *body = "{\"query\":\"print hello\",\"language\":\"python\"}";
	const char *p;
	char tokens[256] = "";
	json_t *bodies;
	(void)state;

	reply_push("```python\nprint('hello')\nprint('world')\n```");
	hl_call_header(&srv, "POST", "/api/analyze", alice, body, strlen(body), NULL, 60000,
		       "Accept: text/event-stream", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.headers, "text/event-stream"));
	p = strstr(r.body, "\"stage\":\"budget_reserved\"");
	assert_non_null(p);
	p = strstr(p, "\"stage\":\"generating\"");
	assert_non_null(p);
	p = strstr(p, "event: token");
	assert_non_null(p);
	/* Python is checked by the run's own sandbox, not in a step of its own. */
	assert_null(strstr(p, "\"stage\":\"validating\""));
	p = strstr(p, "\"stage\":\"running\"");
	assert_non_null(p);
	p = strstr(p, "event: stdout\ndata: {\"text\":\"hello\"}");
	assert_non_null(p);
	p = strstr(p, "event: stdout\ndata: {\"text\":\"world\"}");
	assert_non_null(p);
	p = strstr(p, "event: result\ndata: ");
	assert_non_null(p);
	{
		json_t *result = json_loads(p + strlen("event: result\ndata: "), JSON_DISABLE_EOF_CHECK,
					    NULL);
		assert_non_null(result);
		struct reply run;
		char path[128];

		assert_string_equal(hl_str(result, "status"), "ok");
		assert_string_equal(hl_str(result, "output"), "hello\nworld\n");
		/* The streamed answer lists every charge, as a JSON one does, and
		 * the run on record keeps them, so its cost can be rebuilt later. */
		charges_reconcile(result, 1);
		snprintf(path, sizeof(path), "/api/runs/%s", jstr(result, "id"));
		hl_call(&srv, "GET", path, alice, NULL, &run);
		assert_int_equal(run.status, 200);
		assert_true(json_equal(json_object_get(run.json, "cost"),
				       json_object_get(result, "cost")));
		hl_reply_free(&run);
		json_decref(result);
	}
	/* The token events put together are the model's reply. */
	for (const char *t = strstr(r.body, "event: token\ndata: "); t;
	     t = strstr(t + 1, "event: token\ndata: ")) {
		json_t *piece = json_loads(t + strlen("event: token\ndata: "), JSON_DISABLE_EOF_CHECK,
					   NULL);
		assert_non_null(piece);
		strncat(tokens, hl_str(piece, "text"), sizeof(tokens) - strlen(tokens) - 1);
		json_decref(piece);
	}
	assert_string_equal(tokens, "```python\nprint('hello')\nprint('world')\n```");
	/* The model was asked for a streamed reply. */
	bodies = llm_stub_bodies(stub);
	assert_true(json_is_true(json_object_get(json_array_get(bodies, json_array_size(bodies) - 1),
						 "stream")));
	json_decref(bodies);
	hl_reply_free(&r);
}

static void stream_reports_errors_as_events(void **state)
{
	struct reply r;
	const char *body = "{\"query\":\"count\",\"language\":\"sql\",\"dataset\":\"demo\"}";
	(void)state;

	for (int i = 0; i < 3; i++)
		reply_push("SELEC nothing");
	hl_call_header(&srv, "POST", "/api/analyze", alice, body, strlen(body), NULL, 60000,
		       "Accept: text/event-stream", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"stage\":\"repairing\""));
	assert_non_null(strstr(r.body, "event: error\ndata: {\"status\":422"));
	assert_null(strstr(r.body, "event: result"));
	hl_reply_free(&r);
}

struct live_read {
	char *body;
	size_t len;
	char go_path[700];
	bool released;
};

static size_t live_collect(char *data, size_t size, size_t n, void *ctx)
{
	struct live_read *l = ctx;

	tl_append(&l->body, &l->len, data, size * n);
	/* The first line reached us while the run goes on: let it finish. */
	if (!l->released && strstr(l->body, "event: stdout\ndata: {\"text\":\"first\"}")) {
		int fd = open(l->go_path, O_WRONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, "1", 1), 1);
		close(fd);
		l->released = true;
	}
	return size * n;
}

/* stdout arrives as the run prints it: the program waits, after its first
 * line, for a file the test writes only once that line has arrived. */
static void stream_sends_stdout_as_printed(void **state)
{
	const char *body =
		"{\"language\":\"python\",\"dataset\":\"live\",\"code\":"
		"\"import time\\nprint('first', flush=True)\\nt = time.time()\\n"
		"go = lambda: open('/data/go').read() == '1'\\n"
		"while not go() and time.time() - t < 20:\\n"
		"    time.sleep(0.02)\\nprint('second' if go() else 'late')\"}";
	struct live_read l = { 0 };
	char dir[600], url[128], auth[256];
	struct curl_slist *h = NULL;
	CURL *c = curl_easy_init();
	(void)state;

	snprintf(dir, sizeof(dir), "%s/live", srv.data);
	assert_int_equal(mkdir(dir, 0755), 0);
	{
		char csv[700];
		FILE *f;

		snprintf(csv, sizeof(csv), "%s/x.csv", dir);
		f = fopen(csv, "w");
		assert_non_null(f);
		fputs("a\n1\n", f);
		fclose(f);
	}
	/* Written in place once 'first' arrives: the run reads the file's
	 * bytes, which a read-only overlay of the folder shows as they are;
	 * a name added to the folder meanwhile it may not show. */
	snprintf(l.go_path, sizeof(l.go_path), "%s/go", dir);
	{
		FILE *f = fopen(l.go_path, "w");

		assert_non_null(f);
		fputs("0", f);
		fclose(f);
	}
	snprintf(url, sizeof(url), "%s/api/analyze", srv.base);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", alice);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Accept: text/event-stream");
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, live_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &l);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	assert_true(l.released);
	assert_non_null(strstr(l.body, "event: stdout\ndata: {\"text\":\"second\"}"));
	assert_null(strstr(l.body, "{\"text\":\"late\"}"));
	assert_non_null(strstr(l.body, "event: result"));
	free(l.body);
}

static void client_hang_up_cancels_the_llm_call(void **state)
{
	struct stub_reply slow = { .content = "SELECT 1", .delay_ms = 1400 };
	struct reply r, m;
	bool cancelled = false;
	(void)state;

	llm_stub_push(stub, &slow);
	hl_call_timeout(&srv, "POST", "/api/analyze", alice, sql_query, strlen(sql_query), NULL, 300,
			&r);
	assert_true(r.status < 0); /* the client gave up */
	hl_reply_free(&r);
	for (int i = 0; i < 40 && !cancelled; i++) {
		usleep(50000);
		hl_call(&srv, "GET", "/metrics", NULL, NULL, &m);
		cancelled = strstr(m.body, "ledgerbox_llm_calls_total{outcome=\"cancelled\"} 1") != NULL;
		hl_reply_free(&m);
	}
	assert_true(cancelled);
}

static void readyz_and_metrics_show_llm_and_breakers(void **state)
{
	struct reply r;
	json_t *b;
	(void)state;

	hl_call(&srv, "GET", "/readyz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(json_is_true(json_object_get(json_object_get(r.json, "llm"), "reachable")));
	/* The stub listens on 127.0.0.1: local, so samples go to it. */
	assert_true(json_is_true(json_object_get(json_object_get(r.json, "llm"), "local")));
	assert_true(json_is_true(json_object_get(json_object_get(r.json, "llm"), "samples")));
	b = json_object_get(json_object_get(r.json, "breakers"), "llm");
	assert_string_equal(hl_str(b, "state"), "closed");
	assert_string_equal(hl_str(json_object_get(json_object_get(r.json, "breakers"), "sandbox"),
				   "state"), "closed");
	hl_reply_free(&r);
	hl_call(&srv, "GET", "/metrics", NULL, NULL, &r);
	assert_non_null(strstr(r.body, "ledgerbox_breaker_state{backend=\"llm\"} 0"));
	assert_non_null(strstr(r.body, "ledgerbox_llm_calls_total{outcome=\"ok\"}"));
	assert_non_null(strstr(r.body, "ledgerbox_repairs_total"));
	hl_reply_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(first_try_fenced_sql),
		cmocka_unit_test(unfenced_reply_is_the_code),
		cmocka_unit_test(unknown_column_is_repaired),
		cmocka_unit_test(python_that_raises_is_repaired),
		cmocka_unit_test(python_syntax_error_is_caught_before_the_run),
		cmocka_unit_test(local_model_gets_the_whole_error),
		cmocka_unit_test(python_first_try_pays_one_run),
		cmocka_unit_test(warm_runs_pay_the_same),
		cmocka_unit_test(python_question_reserves_one_run),
		cmocka_unit_test(a_run_stopped_at_its_limit_is_within_its_reservation),
		cmocka_unit_test(reported_tokens_past_the_reservation_are_capped),
		cmocka_unit_test(valid_code_survives_unchanged),
		cmocka_unit_test(model_that_never_succeeds_stops_at_the_limit),
		cmocka_unit_test(server_errors_are_retried),
		cmocka_unit_test(slow_model_times_out),
		cmocka_unit_test(garbage_reply_is_a_clear_error),
		cmocka_unit_test(omitted_counts_are_estimated),
		cmocka_unit_test(budget_runs_out_between_attempts),
		cmocka_unit_test(stream_sends_events),
		cmocka_unit_test(stream_reports_errors_as_events),
		cmocka_unit_test(stream_sends_stdout_as_printed),
		cmocka_unit_test(client_hang_up_cancels_the_llm_call),
		cmocka_unit_test(readyz_and_metrics_show_llm_and_breakers),
	};
	return cmocka_run_group_tests_name("analyze_llm", tests, setup, teardown);
}
