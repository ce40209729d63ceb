/*
 * End-to-end privacy tests of the natural-language mode with a model that
 * may not see the data (LEDGERBOX_LLM_SEND_SAMPLES=no): the stub LLM keeps
 * every request it receives, whole, and no value from the dataset may be
 * in any of them — not in the first prompt, not in a repair prompt, however
 * the failed program put the value in its error (an exception's message,
 * a pandas message, stderr, a crash). The analyst still sees the whole
 * error in the answer.
 */
#include "httplib.h"
#include "support/llm_stub.h"

static struct server srv;
static struct llm_stub *stub;
static char *alice;
static char url_env[128];

static char *env_vars[] = { url_env, "LEDGERBOX_CACHE=off", "LEDGERBOX_LLM_API=ollama",
			    "LEDGERBOX_LLM_SEND_SAMPLES=no", "LEDGERBOX_LLM_RETRIES=0",
			    "LEDGERBOX_LLM_TIMEOUT_MS=5000", "LEDGERBOX_REPAIR_ATTEMPTS=2",
			    "LEDGERBOX_BUDGET_TZ=UTC", NULL };

#define SECRET_NAME "Zebulon Quartermaine 7731"
#define SECRET_CITY "Xylograd"

static int setup(void **state)
{
	char dir[600], csv[700];
	FILE *f;
	(void)state;

	stub = llm_stub_start();
	snprintf(url_env, sizeof(url_env), "LEDGERBOX_LLM_URL=http://127.0.0.1:%d",
		 llm_stub_port(stub));
	hl_prepare(&srv, "llmpriv", env_vars);
	/* A dataset whose values appear nowhere else. */
	snprintf(dir, sizeof(dir), "%s/secret", srv.data);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(csv, sizeof(csv), "%s/clients.csv", dir);
	f = fopen(csv, "w");
	assert_non_null(f);
	fputs("name,city,amount\n" SECRET_NAME "," SECRET_CITY ",12\n", f);
	fclose(f);
	alice = hl_key_create(&srv, "alice", "finance", "analyst");
	hl_start(&srv);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	hl_stop(&srv, SIGTERM);
	llm_stub_stop(stub);
	free(alice);
	curl_global_cleanup();
	return 0;
}

static void model_says(const char *reply)
{
	llm_stub_push_content(stub, reply);
}

static void analyze(const char *body, long want, struct reply *r)
{
	hl_call_timeout(&srv, "POST", "/api/analyze", alice, body, strlen(body), NULL, 60000, r);
	if (r->status != want)
		fail_msg("POST /api/analyze %s: %ld %s", body, r->status, r->body);
	assert_non_null(r->json);
}

static const char *attempt_message(json_t *response, size_t i)
{
	json_t *e = json_object_get(json_array_get(json_object_get(response, "attempts"), i), "error");

	return json_string_value(json_object_get(e, "message"));
}

/* The text of the last chat message the model got. */
static char *last_user_message(void)
{
	json_t *body = llm_stub_last_body(stub), *msgs = json_object_get(body, "messages");
	char *text = strdup(hl_str(json_array_get(msgs, json_array_size(msgs) - 1), "content"));

	json_decref(body);
	assert_non_null(text);
	return text;
}

/* Every distinct customer name of the demo data (480 of them). */
static void demo_customer_names(struct tl_output *o)
{
	char path[700];
	char *argv[] = { "/usr/bin/sqlite3", "-readonly", path,
			 "SELECT DISTINCT name FROM customers", NULL };

	snprintf(path, sizeof(path), "%s/demo/ledger.sqlite", srv.data);
	tl_run(argv, NULL, o);
	assert_int_equal(o->exit_code, 0);
}

/* A program that dumps the customers and raises with a name, then one
 * whose pandas error quotes a name: the repairs name neither, nor any of
 * the other customers; the analyst's answer keeps the messages. */
static void python_errors_with_values_stay_home(void **state)
{
	struct tl_output names;
	struct reply r;
	char *seen, *repair, *line, *save = NULL;
	unsigned checked = 0, quoted = 0;
	(void)state;

	model_says("```python\nimport sys\nimport pandas as pd\n"
		   "df = pd.read_csv(\"/data/customers.csv\")\nprint(df.to_string())\n"
		   "print(df.to_string(), file=sys.stderr)\nraise KeyError(df[\"name\"].iloc[0])\n```");
	model_says("```python\nimport pandas as pd\ndf = pd.read_csv(\"/data/customers.csv\")\n"
		   "total = pd.to_numeric(df[\"name\"]).sum()\nprint(total)\n```");
	model_says("```python\nimport pandas as pd\n"
		   "print(len(pd.read_csv(\"/data/customers.csv\")))\n```");
	analyze("{\"query\":\"how many customers\",\"language\":\"python\",\"dataset\":\"demo\"}",
		200, &r);
	assert_int_equal(json_array_size(json_object_get(r.json, "attempts")), 3);
	demo_customer_names(&names);
	line = strtok_r(names.out, "\n", &save);
	assert_non_null(line);
	assert_non_null(attempt_message(r.json, 1));
	seen = llm_stub_received(stub);
	for (; line; line = strtok_r(NULL, "\n", &save), checked++) {
		if (strstr(seen, line))
			fail_msg("the customer name '%s' reached the model", line);
		/* The analyst sees the name in the first error. */
		quoted += strstr(attempt_message(r.json, 0), line) != NULL;
	}
	assert_true(checked > 100);
	assert_true(quoted > 0);
	free(seen);
	/* The model saw the error's type, line and code, not any value. */
	repair = last_user_message();
	assert_non_null(strstr(repair, "ValueError at line 3"));
	assert_non_null(strstr(repair, "pd.to_numeric(df[\"name\"]).sum()"));
	free(repair);
	tl_output_free(&names);
	hl_reply_free(&r);
}

/* A value written to stderr before a crash (no exception to report) and
 * one in a ValueError and an assertion: none reaches the model. */
static void stderr_and_crashes_stay_home(void **state)
{
	struct reply r;
	char *seen, *repair;
	(void)state;

	model_says("```python\nimport os, sys\nimport pandas as pd\n"
		   "df = pd.read_csv(\"/data/clients.csv\")\nsys.stderr.write(df.name[0] + \" \" + "
		   "df.city[0])\nsys.stderr.flush()\nos._exit(3)\n```");
	model_says("```python\nimport pandas as pd\ndf = pd.read_csv(\"/data/clients.csv\")\n"
		   "assert df.amount[0] > 100, df.name[0] + \" in \" + df.city[0]\n```");
	model_says("```python\nimport pandas as pd\ndf = pd.read_csv(\"/data/clients.csv\")\n"
		   "print(int(df.name[0]))\n```");
	analyze("{\"query\":\"total per client\",\"language\":\"python\",\"dataset\":\"secret\"}",
		200, &r);
	/* The last attempt is the answer, with its whole error. */
	assert_string_equal(hl_str(r.json, "status"), "runtime_error");
	assert_non_null(strstr(hl_str(json_object_get(r.json, "error"), "message"), SECRET_NAME));
	assert_non_null(strstr(attempt_message(r.json, 0), SECRET_CITY));
	assert_non_null(strstr(attempt_message(r.json, 1), SECRET_CITY));
	seen = llm_stub_received(stub);
	assert_null(strstr(seen, "Zebulon"));
	assert_null(strstr(seen, "Quartermaine"));
	assert_null(strstr(seen, "7731"));
	assert_null(strstr(seen, SECRET_CITY));
	free(seen);
	repair = last_user_message();
	assert_non_null(strstr(repair, "AssertionError at line 3"));
	assert_non_null(strstr(repair, "assert df.amount[0] > 100"));
	free(repair);
	hl_reply_free(&r);
}

/* Everything the model received, without the ", " and blanks a list of
 * names puts between letters. */
static char *received_squeezed(void)
{
	char *seen = llm_stub_received(stub), *w = seen;

	for (const char *r = seen; *r; r++) {
		if (*r != ',' && *r != ' ')
			*w++ = *r;
	}
	*w = '\0';
	return seen;
}

/* A program that spells a value one letter a word, with every letter a
 * word of its code (a comment, then the failing line itself), or raises a
 * class it picks by a letter of the value: the repairs do not spell it. */
static void spelled_values_stay_home(void **state)
{
	struct reply r;
	char *seen;
	(void)state;

	model_says("```python\nimport pandas as pd\n"
		   "# a b c d e f g h i j k l m n o p q r s t u v w x y z Z X 7 3 1\n"
		   "df = pd.read_csv(\"/data/clients.csv\")\n"
		   "raise KeyError(\" \".join(df.name[0] + df.city[0]))\n```");
	model_says("```python\nimport pandas as pd\nv = pd.read_csv(\"/data/clients.csv\").city[0]\n"
		   "raise ValueError(\" \".join(v)) if v else (a, d, g, l, o, r, y, X)\n```");
	model_says("```python\nimport pandas as pd\nclass X(Exception): pass\n"
		   "class Z(Exception): pass\nv = pd.read_csv(\"/data/clients.csv\").name[0]\n"
		   "raise globals()[v[0]]()\n```");
	analyze("{\"query\":\"spell a client\",\"language\":\"python\",\"dataset\":\"secret\"}",
		200, &r);
	assert_int_equal(json_array_size(json_object_get(r.json, "attempts")), 3);
	seen = received_squeezed();
	assert_null(strstr(seen, "Zebulon"));
	assert_null(strstr(seen, "Quartermaine"));
	assert_null(strstr(seen, SECRET_CITY));
	free(seen);
	hl_reply_free(&r);
}

static void readyz_says_no_samples_go(void **state)
{
	struct reply r;
	json_t *llm;
	(void)state;

	hl_call(&srv, "GET", "/readyz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	llm = json_object_get(r.json, "llm");
	assert_true(json_is_true(json_object_get(llm, "local")));
	assert_true(json_is_false(json_object_get(llm, "samples")));
	assert_non_null(strstr(hl_str(llm, "privacy"), "LEDGERBOX_LLM_SEND_SAMPLES=no"));
	hl_reply_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(python_errors_with_values_stay_home),
		cmocka_unit_test(stderr_and_crashes_stay_home),
		cmocka_unit_test(spelled_values_stay_home),
		cmocka_unit_test(readyz_says_no_samples_go),
	};
	return cmocka_run_group_tests_name("llm_privacy", tests, setup, teardown);
}
