/*
 * Credentials in configured URLs never reach an answer or the log.
 *
 * llm_url with "user:password@": the URL is shown by /readyz (which needs
 * no key) and in analysts' 503 messages, so the server must refuse it at
 * start, naming llm_key, without echoing the password. Were it to start,
 * the test reads /readyz and a 503 over HTTP to say where the password
 * showed.
 *
 * database_url legitimately carries a PostgreSQL password: the server
 * starts with one (the test cluster trusts local connections, so any
 * password connects), and /readyz, /metrics, error bodies, the traces
 * sent to a collector and the log must not hold it. Needs the test cluster (LEDGERBOX_TEST_PG_URL).
 */
#include "httplib.h"
#include "support/otlp_collector.h"

#define LLM_PASSWORD "llm-url-password-5e1d"
#define DB_PASSWORD "db-url-password-93ac"

static char *file_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL, chunk[4096];
	size_t len = 0, n;

	if (!f)
		return strdup("");
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		tl_append(&text, &len, chunk, n);
	fclose(f);
	return text ? text : strdup("");
}

/* What a started server shows of the password, for the failure message. */
static void started_server_fail(struct server *s, const char *readyz)
{
	static const char body[] =
		"{\"query\":\"list the customers\",\"language\":\"sql\",\"dataset\":\"demo\"}";
	char *key = hl_key_create(s, "alice", "finance", "analyst");
	struct reply r;
	bool in_503;

	hl_call(s, "POST", "/api/analyze", key, body, &r);
	in_503 = r.body && strstr(r.body, LLM_PASSWORD);
	hl_reply_free(&r);
	free(key);
	hl_stop(s, SIGKILL);
	fail_msg("the server started with a password in llm_url; /readyz %s it, the analyst's "
		 "error %s it",
		 strstr(readyz, LLM_PASSWORD) ? "shows" : "does not show",
		 in_503 ? "shows" : "does not show");
}

static void llm_url_with_credentials_is_refused_at_start(void **state)
{
	static char url_env[128];
	char *env[] = { url_env, "LEDGERBOX_CACHE=off", "LEDGERBOX_LLM_RETRIES=0", NULL };
	struct server s = { 0 };
	char *log;
	int status = 0;

	(void)state;
	/* A port nothing listens on: the LLM is never reached either way. */
	snprintf(url_env, sizeof(url_env), "LEDGERBOX_LLM_URL=http://analyst:%s@127.0.0.1:%d",
		 LLM_PASSWORD, hl_free_port());
	hl_prepare(&s, "url-credentials-llm", env);
	hl_spawn(&s);
	for (int i = 0; i < 200; i++) {
		struct reply r;
		pid_t done = waitpid(s.pid, &status, WNOHANG);

		if (done == s.pid) {
			s.pid = 0;
			break;
		}
		hl_call_timeout(&s, "GET", "/readyz", NULL, NULL, 0, NULL, 1000, &r);
		if (r.status == 200 || r.status == 503) {
			char *readyz = strdup(r.body ? r.body : "");
			hl_reply_free(&r);
			started_server_fail(&s, readyz);
			free(readyz);
			return;
		}
		hl_reply_free(&r);
		usleep(50000);
	}
	if (s.pid > 0) {
		hl_stop(&s, SIGKILL);
		fail_msg("ledgerbox serve neither started nor exited; see %s", s.log);
	}
	assert_true(WIFEXITED(status));
	assert_int_not_equal(WEXITSTATUS(status), 0);
	log = file_slurp(s.log);
	if (!strstr(log, "LEDGERBOX_LLM_URL") || !strstr(log, "llm_key") ||
	    !strstr(log, "user:password@"))
		fail_msg("the refusal does not say what to do: %s", log);
	assert_null(strstr(log, LLM_PASSWORD));
	free(log);
}

static void assert_no_db_secret(const char *what, const char *text)
{
	if (text && (strstr(text, DB_PASSWORD) || strstr(text, "postgres://")))
		fail_msg("%s shows the database URL: %.2000s", what, text);
}

/* Calls the server and checks the answer does not show the database URL;
 * returns the status. */
static long call_checked(struct server *s, const char *method, const char *path,
			 const char *key, const char *body)
{
	char what[128];
	struct reply r;
	long status;

	hl_call(s, method, path, key, body, &r);
	snprintf(what, sizeof(what), "%s %s (%ld)", method, path, r.status);
	assert_no_db_secret(what, r.body);
	status = r.status;
	hl_reply_free(&r);
	return status;
}

static void database_url_password_is_never_shown(void **state)
{
	static char llm_env[128], otlp_env[160];
	char *env[] = { llm_env, otlp_env, "LEDGERBOX_CACHE=off", "LEDGERBOX_LLM_RETRIES=0", NULL };
	struct collector traces;
	char *otlp_url, *sent;
	static const char analyze[] =
		"{\"query\":\"list the customers\",\"language\":\"sql\",\"dataset\":\"demo\"}";
	struct server s = { 0 };
	char url[PGT_URL_MAX], with_password[PGT_URL_MAX + 64], *key, *log;
	const char *at;

	(void)state;
	if (!getenv("LEDGERBOX_TEST_PG_URL"))
		skip();
	snprintf(llm_env, sizeof(llm_env), "LEDGERBOX_LLM_URL=http://127.0.0.1:%d",
		 hl_free_port());
	collector_start(&traces, 200);
	otlp_url = collector_url(&traces);
	snprintf(otlp_env, sizeof(otlp_env), "LEDGERBOX_OTLP_ENDPOINT=%s", otlp_url);
	free(otlp_url);
	hl_prepare(&s, "url-credentials-db", env);
	pgt_db_create("url_credentials", url);
	/* postgres://postgres@host... -> postgres://postgres:PASSWORD@host... */
	at = strchr(url, '@');
	assert_non_null(at);
	snprintf(with_password, sizeof(with_password), "%.*s:%s%s", (int)(at - url), url,
		 DB_PASSWORD, at);
	snprintf(s.db_env, sizeof(s.db_env), "LEDGERBOX_DATABASE_URL=%s", with_password);
	key = hl_key_create(&s, "alice", "finance", "analyst");
	hl_start(&s);

	assert_int_equal(call_checked(&s, "GET", "/readyz", NULL, NULL), 200);
	call_checked(&s, "GET", "/metrics", NULL, NULL);
	/* The LLM is unreachable: an error whose message names the LLM. */
	assert_true(call_checked(&s, "POST", "/api/analyze", key, analyze) >= 400);
	assert_int_equal(call_checked(&s, "POST", "/api/analyze", key, "{not json"), 400);
	assert_true(call_checked(&s, "GET", "/api/runs/does-not-exist", key, NULL) >= 400);
	hl_stop(&s, SIGTERM);
	/* The server sends its last spans as it stops: they have arrived. */
	pthread_mutex_lock(&traces.lock);
	assert_true(json_array_size(traces.spans) > 0);
	sent = json_dumps(traces.docs, 0);
	pthread_mutex_unlock(&traces.lock);
	assert_no_db_secret("the traces", sent);
	free(sent);
	collector_stop(&traces);
	log = file_slurp(s.log);
	assert_no_db_secret("the server's log", log);
	free(log);
	free(key);
	pgt_db_drop(url);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(llm_url_with_credentials_is_refused_at_start),
		cmocka_unit_test(database_url_password_is_never_shown),
	};

	return cmocka_run_group_tests_name("url_credentials", tests, NULL, NULL);
}
