/*
 * Attacks on the HTTP server's edges, over real HTTP against a real
 * server and real sandboxes: URLs whose escapes try to reach another
 * route (an encoded '/', double encoding, broken escapes) get a clear
 * 4xx; CSV cells a spreadsheet could still read as formulas (behind
 * a line feed, or written with fullwidth signs) are quoted; and results
 * built to break the server (invalid UTF-8, lone surrogates, NaN, a row
 * or a column name past the table limit, deep nesting) answer 200 and
 * leave the sandbox's breaker closed.
 */
#include "http/httplib.h"
#include "load/rawlib.h"
#include "util/banned.h"

static struct server srv;
static char *alice;

/* The smallest export: a table limit of 1 MiB. */
static char *env_vars[] = { "LEDGERBOX_CACHE=off", "LEDGERBOX_MAX_RUNS=2",
			    "LEDGERBOX_WARM_POOL_MIN=0", "LEDGERBOX_TABLE_ROWS=10",
			    "LEDGERBOX_EXPORT_ROWS=10", "LEDGERBOX_BREAKER_FAILURES=1", NULL };

static int setup(void **state)
{
	(void)state;
	hl_prepare(&srv, "server-attacks", env_vars);
	alice = hl_key_create(&srv, "alice", "finance", "analyst");
	hl_start(&srv);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(alice);
	return hl_finish(&srv);
}

static void run_sql(const char *sql, char *id, size_t id_len)
{
	char body[1024];
	struct reply r;

	snprintf(body, sizeof(body), "{\"language\":\"sql\",\"dataset\":\"demo\",\"code\":\"%s\"}",
		 sql);
	hl_call(&srv, "POST", "/api/analyze", alice, body, &r);
	if (r.status != 200)
		fail_msg("run: %ld %.300s", r.status, r.body);
	snprintf(id, id_len, "%s", hl_str(r.json, "id"));
	hl_reply_free(&r);
}

/* Answers 4xx, with code when given, and never a body of another route. */
static void expect_refused(const char *method, const char *path, long want, const char *code)
{
	struct reply r;

	hl_call(&srv, method, path, alice, NULL, &r);
	if (r.status != want)
		fail_msg("%s %s: %ld (wanted %ld) %.300s", method, path, r.status, want, r.body);
	if (code)
		assert_string_equal(hl_str(json_object_get(r.json, "error"), "code"), code);
	hl_reply_free(&r);
}

static void encoded_slash_never_routes_elsewhere(void **state)
{
	char id[64], path[256];
	struct reply r;
	(void)state;

	run_sql("SELECT 1 AS n", id, sizeof(id));
	/* Unescaped before routing, these would be the run's table, a
	 * dataset's publication and a dataset's rows. */
	snprintf(path, sizeof(path), "/api/runs/%s%%2Ftable.csv", id);
	expect_refused("GET", path, 400, "invalid_url");
	snprintf(path, sizeof(path), "/api/runs/%s%%2ftable.csv", id);
	expect_refused("GET", path, 400, "invalid_url");
	expect_refused("POST", "/api/datasets/demo%2Fpublish", 400, "invalid_url");
	expect_refused("POST", "/api/datasets/demo%2Frows", 400, "invalid_url");
	/* Double encoding is unescaped once: a name holding "%00", not found. */
	snprintf(path, sizeof(path), "/api/runs/%s%%2500", id);
	expect_refused("GET", path, 404, NULL);
	snprintf(path, sizeof(path), "/api/runs/%s%%252Ftable.csv", id);
	expect_refused("GET", path, 404, NULL);
	/* Broken escapes are kept as written: names that do not exist. */
	snprintf(path, sizeof(path), "/api/runs/%s%%", id);
	expect_refused("GET", path, 404, NULL);
	snprintf(path, sizeof(path), "/api/runs/%s%%zz", id);
	expect_refused("GET", path, 404, NULL);
	/* A '/' encoded in a query value is still a value. */
	hl_call(&srv, "GET", "/api/runs?user=a%2Fb", alice, NULL, &r);
	assert_int_not_equal(r.status, 500);
	assert_int_not_equal(r.status, 400);
	hl_reply_free(&r);
	/* The same run without the escapes is served. */
	snprintf(path, sizeof(path), "/api/runs/%s/table.csv", id);
	expect_refused("GET", path, 200, NULL);
}

static void csv_quotes_formulas_behind_lf_and_fullwidth_signs(void **state)
{
	char id[64], path[128];
	struct reply r;
	/* ＝ ＋ － ＠ (U+FF1D, U+FF0B, U+FF0D, U+FF20): spreadsheets in East
	 * Asian locales turn them into = + - @ as text is entered. */
	const char *want = "a,b,c,d,e\r\n"
			   "\"'\n-1+1\",'\xef\xbc\x9d" "1+1,'\xef\xbc\x8b" "cmd,'\xef\xbc\x8d" "2,"
			   "'\xef\xbc\xa0SUM(A1)\r\n";
	(void)state;

	run_sql("SELECT char(10) || '-1+1' AS a, char(65309) || '1+1' AS b, "
		"char(65291) || 'cmd' AS c, char(65293) || '2' AS d, "
		"char(65312) || 'SUM(A1)' AS e",
		id, sizeof(id));
	snprintf(path, sizeof(path), "/api/runs/%s/table.csv", id);
	hl_call(&srv, "GET", path, alice, NULL, &r);
	assert_int_equal(r.status, 200);
	if (r.len != strlen(want) || memcmp(r.body, want, r.len) != 0)
		fail_msg("table.csv: %s", r.body);
	hl_reply_free(&r);
}

static void python_run(const char *code, struct reply *r)
{
	json_t *body = json_pack("{s:s,s:s,s:s,s:{s:I}}", "language", "python", "dataset", "demo",
				 "code", code, "limits", "memoryBytes", (json_int_t)1024 << 20);
	char *text = json_dumps(body, JSON_COMPACT);

	hl_call_timeout(&srv, "POST", "/api/analyze", alice, text, strlen(text), NULL, 120000, r);
	free(text);
	json_decref(body);
}

static void expect_breaker_closed(void)
{
	struct reply r;
	json_t *b;

	hl_call(&srv, "GET", "/readyz", NULL, NULL, &r);
	b = json_object_get(json_object_get(r.json, "breakers"), "sandbox");
	if (json_integer_value(json_object_get(b, "windowFailures")) != 0 ||
	    strcmp(hl_str(b, "state") ?: "", "closed") != 0)
		fail_msg("the sandbox breaker counted an analyst's result: %.300s", r.body);
	hl_reply_free(&r);
}

static void hostile_results_answer_200(void **state)
{
	static const char *programs[] = {
		"import sys\nsys.stdout.buffer.write(b'\\xff\\xfe\\xc0\\xaf\\xed\\xa0\\x80 ok\\n')\n"
		"sys.stderr.buffer.write(b'\\x80' * 1000)\n",
		"import pandas as pd\nprint('\\ud800')\npd.DataFrame({'\\udfff': ['\\ud83d', 'x\\udc00']})\n",
		"import pandas as pd\nimport numpy as np\n"
		"pd.DataFrame({'a': [np.nan, np.inf, -np.inf, 1e308 * 10]})\n",
		"import pandas as pd\npd.DataFrame({'a': ['x' * (3 << 20)]})\n",
		"import pandas as pd\npd.DataFrame({'\\x01' * (1 << 20): [1]})\n",
		"import pandas as pd\npd.DataFrame({'c' * (1 << 20): [1, 2]})\n",
		"import pandas as pd\nimport sys\nsys.setrecursionlimit(100000)\nv = []\n"
		"for _ in range(20000):\n    v = [v]\npd.DataFrame({'a': [v, {'k': v}]})\n",
	};
	struct reply r;
	(void)state;

	for (size_t i = 0; i < sizeof(programs) / sizeof(programs[0]); i++) {
		python_run(programs[i], &r);
		if (r.status != 200 || !r.json)
			fail_msg("program %zu: %ld %.300s", i, r.status, r.body);
		if (strcmp(hl_str(r.json, "status") ?: "", "ok") != 0)
			printf("# program %zu: %.200s\n", i, r.body);
		hl_reply_free(&r);
		expect_breaker_closed();
	}
}

/* ---- wrong keys in bulk ---- */

static int raw_send_from(const char *src, int port, const char *request)
{
	struct sockaddr_in from = { .sin_family = AF_INET };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(inet_pton(AF_INET, src, &from.sin_addr), 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&from, sizeof(from)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
	assert_true(rl_send(fd, request, strlen(request)));
	return fd;
}

/* 240 wrong keys at once from four addresses, each held up to 5 s: a
 * right key from another address is still answered at once (it was
 * queued behind the held answers, which each took a handler thread). */
static void held_wrong_keys_do_not_take_the_handlers(void **state)
{
	const char *wrong = "GET /api/me HTTP/1.1\r\nHost: x\r\n"
			    "Authorization: Bearer lbk_wrong\r\nConnection: close\r\n\r\n";
	char src[32];
	int fds[240], n = 0;
	struct reply r;
	(void)state;

	for (int a = 0; a < 4; a++) {
		snprintf(src, sizeof(src), "127.0.0.%d", 40 + a);
		for (int i = 0; i < 60; i++)
			fds[n++] = raw_send_from(src, srv.port, wrong);
	}
	sleep(1);
	/* Held answers wait 0.2 to 5 s; a right key waits for none. */
	hl_call_timeout(&srv, "GET", "/api/me", alice, NULL, 0, NULL, 3000, &r);
	if (r.status != 200)
		fail_msg("a right key behind 240 held wrong keys: %ld %.200s", r.status, r.body);
	hl_reply_free(&r);
	/* Every wrong key is still answered 401. */
	for (int i = 0; i < n; i++) {
		char buf[512];
		long status = rl_answer(fds[i], 30000, buf, sizeof(buf));

		assert_int_equal(status, 401);
		close(fds[i]);
	}
}

/* ---- SIGTERM while connections sit suspended ---- */

static int raw_send(int port, const char *request)
{
	int fd = rl_connect(port);

	assert_true(fd >= 0);
	assert_true(rl_send(fd, request, strlen(request)));
	return fd;
}

static int raw_post(int port, const char *key, const char *accept, const char *body)
{
	char req[2048];

	snprintf(req, sizeof(req),
		 "POST /api/analyze HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
		 "Accept: %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		 key, accept, strlen(body), body);
	return raw_send(port, req);
}

/* Event streams of sleeping runs, runs queued behind them, wrong keys
 * held on the quick lane, streams whose clients left and a body that
 * never comes: SIGTERM, with runs cancelled after a grace of 1 s while
 * their connections are suspended, still ends the server cleanly. */
static void sigterm_with_suspended_connections(void **state)
{
	static char *env[] = { "LEDGERBOX_CACHE=off", "LEDGERBOX_MAX_RUNS=2",
			       "LEDGERBOX_QUEUE_MAX=8", "LEDGERBOX_WARM_POOL_MIN=0",
			       "LEDGERBOX_SHUTDOWN_GRACE_MS=1000", NULL };
	const char *sleepy = "{\"language\":\"python\",\"dataset\":\"demo\","
			     "\"code\":\"import time\\nprint('a', flush=True)\\ntime.sleep(60)\"}";
	struct server s2 = { 0 };
	char *key;
	int fds[96], n = 0, status = 0;
	char *log;
	size_t log_len;
	pid_t pid;
	(void)state;

	hl_prepare(&s2, "server-attacks-term", env);
	key = hl_key_create(&s2, "bob", "finance", "analyst");
	hl_start(&s2);
	for (int i = 0; i < 12; i++)
		fds[n++] = raw_post(s2.port, key, "text/event-stream", sleepy);
	for (int i = 0; i < 4; i++)
		fds[n++] = raw_post(s2.port, key, "application/json", sleepy);
	for (int i = 0; i < 70; i++)
		fds[n++] = raw_post(s2.port, "lbk_wrong", "application/json", "{}");
	/* Headers complete, a body that never comes. */
	fds[n++] = raw_send(s2.port, "POST /api/analyze HTTP/1.1\r\nHost: x\r\n"
				     "Content-Length: 100\r\n\r\n{");
	sleep(2);
	/* Clients gone in the middle of their event streams. */
	for (int i = 0; i < 4; i++) {
		close(fds[i]);
		fds[i] = raw_post(s2.port, key, "text/event-stream", sleepy);
	}
	sleep(1);
	pid = s2.pid;
	assert_int_equal(kill(pid, SIGTERM), 0);
	int waited;
	for (waited = 0; waited < 900; waited++) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			s2.pid = 0;
			break;
		}
		usleep(100000);
	}
	printf("# SIGTERM with %d connections held: stopped after %d ms\n", n, waited * 100);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	free(key);
	if (s2.pid) {
		hl_stop(&s2, SIGKILL);
		fail_msg("the server did not stop within 90 s of SIGTERM; see %s", s2.log);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("the server ended with %s %d after SIGTERM; see %s",
			 WIFEXITED(status) ? "status" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), s2.log);
	/* Left to the exit, libmicrohttpd would have been stopped with a
	 * connection still suspended. */
	log = rl_slurp(s2.log, &log_len);
	if (memmem(log, log_len, "http.stop_incomplete", 20))
		fail_msg("the server exited with connections still suspended; see %s", s2.log);
	free(log);
}

/* Reads what the server sends on fd until it closes (or 10 s pass). */
static char *read_all(int fd)
{
	char chunk[4096], *text = NULL;
	size_t len = 0;
	struct pollfd p = { fd, POLLIN, 0 };
	ssize_t n;

	tl_append(&text, &len, "", 0);
	while (poll(&p, 1, 10000) > 0 && (n = recv(fd, chunk, sizeof(chunk), 0)) > 0)
		tl_append(&text, &len, chunk, (size_t)n);
	return text;
}

/* Pipelined requests, HTTP/1.0 and thousands of headers get answers of
 * their own, and the server keeps answering. */
static void odd_framing_is_answered(void **state)
{
	char *req, *text, *p;
	size_t len = 0;
	int fd, answers = 0;
	struct reply r;
	(void)state;

	fd = raw_send(srv.port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
				"GET /api/me HTTP/1.1\r\nHost: x\r\n\r\n"
				"GET /healthz HTTP/1.0\r\n\r\n");
	text = read_all(fd);
	close(fd);
	for (p = text; (p = strstr(p, "HTTP/1.")); p++)
		answers++;
	if (answers != 3 || !strstr(text, " 401 "))
		fail_msg("three pipelined requests: %.600s", text);
	free(text);
	/* 4000 headers: past the connection's memory, refused whole. */
	req = NULL;
	tl_append(&req, &len, "GET /healthz HTTP/1.1\r\nHost: x\r\n", 32);
	for (int i = 0; i < 4000; i++)
		tl_append(&req, &len, "X-Padding: yes\r\n", 16);
	tl_append(&req, &len, "\r\n", 2);
	fd = raw_send(srv.port, req);
	text = read_all(fd);
	close(fd);
	if (strncmp(text, "HTTP/1.1 431", 12) != 0 && strncmp(text, "HTTP/1.1 413", 12) != 0 &&
	    strncmp(text, "HTTP/1.1 400", 12) != 0)
		fail_msg("4000 headers: %.300s", text);
	free(text);
	free(req);
	hl_call(&srv, "GET", "/healthz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	hl_reply_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encoded_slash_never_routes_elsewhere),
		cmocka_unit_test(csv_quotes_formulas_behind_lf_and_fullwidth_signs),
		cmocka_unit_test(hostile_results_answer_200),
		cmocka_unit_test(held_wrong_keys_do_not_take_the_handlers),
		cmocka_unit_test(odd_framing_is_answered),
		cmocka_unit_test(sigterm_with_suspended_connections),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
