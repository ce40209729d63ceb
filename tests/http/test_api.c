/*
 * End-to-end tests of `ledgerbox serve` over real HTTP on loopback: every
 * route, every error, analyst isolation, uploads, the queue, cancelling,
 * restarts (graceful, and kill -9) and the audit chain.
 */
#include <dirent.h>
#include <pthread.h>

#include "http/http.h"
#include "httplib.h"

static struct server srv;
static char *alice, *bob, *root;
static char alice_run[64];

static char *env_vars[] = { "LEDGERBOX_MAX_RUNS=2", "LEDGERBOX_QUEUE_MAX=1",
			    "LEDGERBOX_MAX_BODY_BYTES=64K", "LEDGERBOX_TABLE_ROWS=100",
			    "LEDGERBOX_EXPORT_ROWS=5000", "LEDGERBOX_SHUTDOWN_GRACE_MS=15000",
			    NULL };

static json_t *analyze(const char *key, const char *body, struct reply *r)
{
	hl_call(&srv, "POST", "/api/analyze", key, body, r);
	return r->json;
}

/* A process's parent and start time (clock ticks since boot), from
 * /proc/PID/stat; 0 when it is gone. */
static int proc_stat(pid_t pid, pid_t *ret_ppid, unsigned long long *ret_start)
{
	char path[64], text[1024], *p;
	FILE *f;
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return 0;
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';
	/* After the command's closing parenthesis: state, ppid, then 17 more
	 * fields before the start time. */
	p = strrchr(text, ')');
	if (!p || sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
			  "%*d %*d %llu", ret_ppid, ret_start) != 2)
		return 0;
	return 1;
}

#define TREE_MAX 256

/* The processes below the server (its sandboxes and their children), as
 * pid and start time, so they can be found again after the server is
 * gone without counting any other program's sandboxes on this machine. */
static size_t server_tree(pid_t root_pid, pid_t pids[TREE_MAX], unsigned long long starts[TREE_MAX])
{
	size_t n = 0;
	bool grew = true;

	pids[n] = root_pid;
	starts[n++] = 0;
	while (grew) {
		DIR *d = opendir("/proc");
		struct dirent *de;

		grew = false;
		while (d && (de = readdir(d)) && n < TREE_MAX) {
			pid_t pid = (pid_t)strtol(de->d_name, NULL, 10), ppid;
			unsigned long long start;
			bool known = false, parent_known = false;

			if (pid <= 0 || !proc_stat(pid, &ppid, &start))
				continue;
			for (size_t i = 0; i < n; i++) {
				known |= pids[i] == pid;
				parent_known |= pids[i] == ppid;
			}
			if (!known && parent_known) {
				pids[n] = pid;
				starts[n++] = start;
				grew = true;
			}
		}
		if (d)
			closedir(d);
	}
	return n;
}

/* How many of the recorded processes (the server itself excepted) still
 * run: the same pid with the same start time. */
static int tree_alive(const pid_t pids[TREE_MAX], const unsigned long long starts[TREE_MAX], size_t n)
{
	int alive = 0;

	for (size_t i = 1; i < n; i++) {
		pid_t ppid;
		unsigned long long start;

		alive += proc_stat(pids[i], &ppid, &start) && start == starts[i];
	}
	return alive;
}

/* Interpreters of cold runs: the driver without --warm. Warm sandboxes
 * (docs/warm-pool.md) wait for a run while the server is up and are
 * started again after each Python run, so counting every sandbox process
 * would catch one being set up; a cold run's interpreter is what a
 * cancelled run must not leave behind. */
/* The parent of process `pid`, from /proc/PID/stat (0 when it is gone). */
static pid_t parent_of(pid_t pid)
{
	char path[64], text[1024], *close_paren;
	int ppid = 0;
	size_t len;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return 0;
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';
	/* The name in parentheses may hold spaces and ')': skip to the last. */
	close_paren = strrchr(text, ')');
	if (!close_paren || sscanf(close_paren + 1, " %*c %d", &ppid) != 1)
		return 0;
	return (pid_t)ppid;
}

/* Whether process `pid` descends from this test's server, so that runs of
 * other programs on the machine are not counted. */
static bool started_by_our_server(pid_t pid)
{
	for (int depth = 0; pid > 1 && depth < 64; depth++) {
		pid = parent_of(pid);
		if (pid == srv.pid)
			return true;
	}
	return false;
}

/* Cold Python interpreters of runs this test's server started. */
static int cold_interpreters(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d))) {
		char path[300], text[4096];
		size_t len;
		FILE *f;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		len = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
		text[len] = '\0';
		for (size_t i = 0; i + 1 < len; i++)
			if (text[i] == '\0')
				text[i] = ' ';
		n += strstr(text, "/run/ledgerbox/driver.py") != NULL &&
		     strstr(text, "/run/ledgerbox/driver.py --warm") == NULL &&
		     started_by_our_server((pid_t)atoi(de->d_name));
	}
	if (d)
		closedir(d);
	return n;
}

static int setup(void **state)
{
	(void)state;
	hl_prepare(&srv, "api", env_vars);
	alice = hl_key_create(&srv, "alice", "finance", "analyst");
	bob = hl_key_create(&srv, "bob", "sales", "analyst");
	root = hl_key_create(&srv, "root", "it", "admin");
	hl_start(&srv);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	hl_stop(&srv, SIGTERM);
	free(alice);
	free(bob);
	free(root);
	curl_global_cleanup();
	return 0;
}

static void probes_answer(void **state)
{
	struct reply r;
	char *rid;
	(void)state;

	hl_call(&srv, "GET", "/healthz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	rid = hl_header(&r, "X-Request-Id");
	assert_non_null(rid);
	assert_int_equal(strlen(rid), 16);
	free(rid);
	hl_reply_free(&r);
	hl_call(&srv, "GET", "/readyz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(hl_str(r.json, "status"), "ready");
	hl_reply_free(&r);
	hl_call(&srv, "GET", "/metrics", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "ledgerbox_http_requests_total{route=\"/healthz\""));
	hl_reply_free(&r);
}

static void keys_are_required(void **state)
{
	struct reply r;
	(void)state;

	hl_call(&srv, "GET", "/api/runs", NULL, NULL, &r);
	assert_int_equal(r.status, 401);
	assert_string_equal(hl_str(json_object_get(r.json, "error"), "code"), "unauthorized");
	hl_reply_free(&r);
	hl_call(&srv, "GET", "/api/runs", "lbx_wrongwrongwrongwrongwrongwrongwrongwrongwro", NULL, &r);
	assert_int_equal(r.status, 401);
	hl_reply_free(&r);
}

static void admin_routes_refuse_analysts(void **state)
{
	struct reply r;
	(void)state;

	hl_call(&srv, "GET", "/api/keys", alice, NULL, &r);
	assert_int_equal(r.status, 403);
	assert_string_equal(hl_str(json_object_get(r.json, "error"), "code"), "forbidden");
	hl_reply_free(&r);
	hl_call(&srv, "GET", "/api/keys", root, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "keys")), 3);
	assert_null(strstr(r.body, alice)); /* never a secret */
	hl_reply_free(&r);
}

/* Past a few failures from one address, each wrong key waits longer. */
static void wrong_keys_are_slowed_down(void **state)
{
	struct reply r;
	uint64_t t0, elapsed = 0;
	(void)state;

	for (int i = 0; i < 8; i++) {
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		hl_call(&srv, "GET", "/api/runs", "lbx_guessguessguessguessguessguessguessguessg", NULL, &r);
		clock_gettime(CLOCK_MONOTONIC, &b);
		assert_int_equal(r.status, 401);
		hl_reply_free(&r);
		t0 = (uint64_t)(b.tv_sec - a.tv_sec) * 1000 + (uint64_t)(b.tv_nsec - a.tv_nsec) / 1000000;
		if (i == 7)
			elapsed = t0;
	}
	assert_true(elapsed >= 400);
	/* A right key is never held up. */
	hl_call(&srv, "GET", "/api/runs", alice, NULL, &r);
	assert_int_equal(r.status, 200);
	hl_reply_free(&r);
}

static void python_run_with_chart(void **state)
{
	struct reply r, a;
	json_t *j, *art;
	char path[256];
	(void)state;

	j = analyze(alice, "{\"language\":\"python\",\"code\":\"import matplotlib.pyplot as plt\\n"
			   "print('hello')\\n_ = plt.plot([1,2,3])\\n\"}", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(hl_str(j, "status"), "ok");
	assert_string_equal(hl_str(j, "output"), "hello\n");
	assert_false(json_is_true(json_object_get(j, "cacheHit")));
	assert_non_null(json_object_get(j, "cost"));
	assert_non_null(json_object_get(j, "tokensUsed"));
	assert_true(json_integer_value(json_object_get(j, "durationMs")) > 0);
	assert_true(json_integer_value(json_object_get(json_object_get(j, "usage"), "cpuMs")) >= 0);
	art = json_array_get(json_object_get(j, "artifacts"), 0);
	assert_string_equal(hl_str(art, "name"), "figure-1.png");
	snprintf(alice_run, sizeof(alice_run), "%s", hl_str(j, "id"));
	snprintf(path, sizeof(path), "%s", hl_str(art, "url"));
	hl_call(&srv, "GET", path, alice, NULL, &a);
	assert_int_equal(a.status, 200);
	assert_true(a.len > 1000);
	assert_memory_equal(a.body, "\x89PNG", 4);
	hl_reply_free(&a);
	hl_reply_free(&r);
	snprintf(path, sizeof(path), "/api/runs/%s", alice_run);
	hl_call(&srv, "GET", path, alice, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(hl_str(r.json, "output"), "hello\n");
	hl_reply_free(&r);
}

static void sql_table_is_cut_and_exported_whole(void **state)
{
	struct reply r, c;
	json_t *t;
	size_t lines = 0;
	char path[256];
	(void)state;

	analyze(alice, "{\"language\":\"sql\",\"dataset\":\"demo\",\"code\":"
		       "\"SELECT entry_id, debit FROM gl_entries ORDER BY entry_id LIMIT 3000\"}", &r);
	if (r.status != 200 || !json_is_object(json_object_get(r.json, "table")))
		fail_msg("%ld %.500s", r.status, r.body);
	t = json_object_get(r.json, "table");
	assert_int_equal(json_array_size(json_object_get(t, "rows")), 100);
	assert_true(json_is_true(json_object_get(t, "truncated")));
	assert_int_equal(json_integer_value(json_object_get(t, "total_rows")), 3000);
	assert_non_null(strstr(hl_str(t, "notice"), "first 100 of 3000 rows"));
	snprintf(path, sizeof(path), "%s", hl_str(t, "csvUrl"));
	hl_call(&srv, "GET", path, alice, NULL, &c);
	assert_int_equal(c.status, 200);
	for (size_t i = 0; i < c.len; i++)
		lines += c.body[i] == '\n';
	assert_int_equal(lines, 3001);
	assert_true(strncmp(c.body, "entry_id,debit\r\n", 16) == 0);
	hl_reply_free(&c);
	hl_reply_free(&r);
}

static void bad_requests_get_clear_errors(void **state)
{
	static const struct {
		const char *body;
		long status;
		const char *code;
		const char *field;
	} cases[] = {
		{ "{\"language\":\"python\",", 400, "invalid_json", NULL },
		{ "[1,2]", 400, "invalid_json", NULL },
		{ "{\"language\":\"ruby\",\"code\":\"x\"}", 400, "invalid_language", "language" },
		{ "{\"language\":\"python\",\"code\":42}", 400, "invalid_type", "code" },
		{ "{\"language\":\"python\",\"code\":\"  \\n\"}", 400, "empty_code", "code" },
		{ "{\"language\":\"python\"}", 400, "missing_field", "code" },
		{ "{\"language\":\"python\",\"code\":\"1\",\"langauge\":1}", 400, "unknown_field", "langauge" },
		{ "{\"language\":\"python\",\"code\":\"1\",\"limits\":{\"pids\":0}}", 400, "invalid_limit", "limits.pids" },
		{ "{\"language\":\"sql\",\"code\":\"SELECT 1\"}", 400, "missing_field", "dataset" },
		{ "{\"language\":\"sql\",\"code\":\"SELECT 1\",\"dataset\":\"nope\"}", 404, "unknown_dataset", "dataset" },
		{ "{\"language\":\"sql\",\"code\":\"SELECT 1\",\"dataset\":\"../etc\"}", 400, "invalid_dataset", "dataset" },
		{ "{\"language\":\"sql\",\"query\":\"revenue by month\"}", 400, "missing_field", "dataset" },
		{ "{\"language\":\"python\",\"template\":\"pnl_by_month\"}", 400, "missing_field", "dataset" },
		{ "{\"language\":\"sql\",\"template\":\"pnl\",\"dataset\":\"demo\"}", 404, "unknown_template", "template" },
		{ "{\"language\":\"sql\",\"query\":\"x\",\"code\":\"SELECT 1\"}", 400, "conflicting_fields", NULL },
		{ "{\"language\":\"sql\",\"code\":\"SELECT 1\",\"params\":{}}", 400, "invalid_type", "params" },
		{ "{\"language\":\"sql\",\"query\":\"  \",\"dataset\":\"demo\"}", 400, "missing_field", "query" },
		{ "{\"language\":\"python\",\"code\":\"1\",\"session\":\"a b/c\"}", 400, "invalid_session", "session" },
		/* A long key whose 60th byte is inside a character: still JSON. */
		{ "{\"language\":\"python\",\"code\":\"1\",\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\u00e9\":1}",
		  400, "unknown_field", NULL },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct reply r;
		json_t *e;
		analyze(alice, cases[i].body, &r);
		e = json_object_get(r.json, "error");
		if (r.status != cases[i].status || !e || strcmp(hl_str(e, "code"), cases[i].code) != 0)
			fail_msg("case %zu: %ld %s", i, r.status, r.body);
		if (cases[i].field)
			assert_string_equal(hl_str(e, "field"), cases[i].field);
		assert_non_null(hl_str(e, "message"));
		if (i == 0)
			assert_non_null(strstr(hl_str(e, "message"), "line 1"));
		hl_reply_free(&r);
	}
}

/* The analyst's code can write the runner's result channel itself: a forged
 * table is dropped, not rendered or stored. */
static void forged_result_table_is_dropped(void **state)
{
	struct reply r;
	(void)state;

	analyze(alice, "{\"language\":\"python\",\"code\":\"import os\\n"
		       "bad = b'{\\\"table\\\":{\\\"columns\\\":[1,2],\\\"rows\\\":[[],[]]}}\\\\n'\\n"
		       "for fd in range(3, 12):\\n"
		       "    try:\\n        os.write(fd, bad)\\n    except OSError:\\n        pass\\n"
		       "os._exit(0)\\n\"}", &r);
	if (r.status != 200)
		fail_msg("%ld %s", r.status, r.body);
	assert_true(json_is_null(json_object_get(r.json, "table")));
	assert_string_equal(hl_str(json_object_get(r.json, "error"), "type"), "bad_result");
	hl_reply_free(&r);
}

static void routes_sizes_and_methods(void **state)
{
	struct reply r;
	size_t big = 100 * 1024;
	char *body = malloc(big + 1);
	char *allow;
	(void)state;

	hl_call(&srv, "GET", "/api/nothing-here", alice, NULL, &r);
	assert_int_equal(r.status, 404);
	assert_string_equal(hl_str(json_object_get(r.json, "error"), "code"), "not_found");
	hl_reply_free(&r);
	hl_call(&srv, "DELETE", "/api/analyze", alice, NULL, &r);
	assert_int_equal(r.status, 405);
	allow = hl_header(&r, "Allow");
	assert_string_equal(allow, "POST");
	free(allow);
	hl_reply_free(&r);
	memset(body, ' ', big);
	body[big] = '\0';
	hl_call(&srv, "POST", "/api/analyze", alice, body, &r);
	assert_int_equal(r.status, 413);
	assert_string_equal(hl_str(json_object_get(r.json, "error"), "code"), "body_too_large");
	hl_reply_free(&r);
	free(body);
}

static void analysts_see_only_their_own(void **state)
{
	struct reply r;
	char path[256];
	json_t *runs;
	size_t i;
	json_t *run;
	(void)state;

	assert_true(alice_run[0]);
	snprintf(path, sizeof(path), "/api/runs/%s", alice_run);
	hl_call(&srv, "GET", path, bob, NULL, &r);
	assert_int_equal(r.status, 404);
	hl_reply_free(&r);
	snprintf(path, sizeof(path), "/api/runs/%s/artifacts/figure-1.png", alice_run);
	hl_call(&srv, "GET", path, bob, NULL, &r);
	assert_int_equal(r.status, 404);
	hl_reply_free(&r);
	hl_call(&srv, "GET", "/api/runs?user=alice", bob, NULL, &r);
	assert_int_equal(r.status, 403);
	hl_reply_free(&r);
	hl_call(&srv, "GET", "/api/runs", bob, NULL, &r);
	assert_int_equal(r.status, 200);
	runs = json_object_get(r.json, "runs");
	json_array_foreach(runs, i, run) {
		assert_string_equal(hl_str(run, "user"), "bob");
	}
	hl_reply_free(&r);
	hl_call(&srv, "GET", "/api/runs?user=alice&limit=500", root, NULL, &r);
	assert_int_equal(r.status, 200);
	runs = json_object_get(r.json, "runs");
	assert_true(json_array_size(runs) >= 2);
	json_array_foreach(runs, i, run) {
		assert_string_equal(hl_str(run, "user"), "alice");
	}
	hl_reply_free(&r);
	hl_call(&srv, "GET", "/api/runs?limit=0", root, NULL, &r);
	assert_int_equal(r.status, 400);
	hl_reply_free(&r);
}

static void datasets_list_and_upload(void **state)
{
	const char *csv = "region,amount,day\r\nnorth,12.5,2025-01-02\r\n\"south, east\",7,2025-01-03\r\n";
	const char *bad = "a,b\n1,2\n3\n";
	struct reply r;
	json_t *cols;
	(void)state;

	hl_call(&srv, "GET", "/api/datasets", alice, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"gl_entries\""));
	hl_reply_free(&r);
	hl_call_timeout(&srv, "POST", "/api/datasets?name=sales&table=sales", alice, csv, strlen(csv),
			"text/csv", 30000, &r);
	assert_int_equal(r.status, 201);
	assert_int_equal(json_integer_value(json_object_get(r.json, "rows")), 2);
	cols = json_object_get(r.json, "columns");
	assert_string_equal(hl_str(json_array_get(cols, 1), "type"), "real");
	hl_reply_free(&r);
	analyze(alice, "{\"language\":\"sql\",\"dataset\":\"sales\",\"code\":"
		       "\"SELECT sum(amount) AS total FROM sales\"}", &r);
	assert_int_equal(r.status, 200);
	assert_true(json_real_value(json_array_get(json_array_get(json_object_get(
			json_object_get(r.json, "table"), "rows"), 0), 0)) == 19.5);
	hl_reply_free(&r);
	hl_call_timeout(&srv, "POST", "/api/datasets?name=sales", alice, csv, strlen(csv), "text/csv",
			30000, &r);
	assert_int_equal(r.status, 409);
	hl_reply_free(&r);
	hl_call_timeout(&srv, "POST", "/api/datasets?name=broken", alice, bad, strlen(bad),
			"text/csv", 30000, &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "line 3"));
	hl_reply_free(&r);
	hl_call_timeout(&srv, "POST", "/api/datasets?name=../x", alice, csv, strlen(csv), "text/csv",
			30000, &r);
	assert_int_equal(r.status, 400);
	hl_reply_free(&r);
}

/* An upload that must be refused: its status, the field the error names
 * (NULL: none) and a piece of its message. */
static void upload_refused(const char *query, const char *csv, long status, const char *field,
			   const char *message)
{
	char path[256];
	struct reply r;
	json_t *e;

	snprintf(path, sizeof(path), "/api/datasets?%s", query);
	hl_call_timeout(&srv, "POST", path, alice, csv, strlen(csv), "text/csv", 30000, &r);
	e = json_object_get(r.json, "error");
	if (r.status != status || !e || !strstr(hl_str(e, "message"), message) ||
	    (field ? !json_object_get(e, "field") || strcmp(hl_str(e, "field"), field) != 0
		   : json_object_get(e, "field") != NULL))
		fail_msg("?%s: %ld %s", query, r.status, r.body);
	hl_reply_free(&r);
}

static void upload_reads_exports_and_says_what_it_decided(void **state)
{
	/* The true total is 11239.56; stored as text it summed to nonsense. */
	const char *csv = "item;amount;paid\n"
			  "a;1.234,56;31.12.2025\n"
			  "b;$1234,56;N/A\n"
			  "c;€12,00;01.02.2025\n"
			  "d;12 USD;-\n"
			  "e;(25,50);\n"
			  "f;N/A;01.03.2025\n"
			  "g;8.771,94 €;01.04.2025\n";
	const char *either = "n,amount\n1,\"1,500\"\n", *dates = "d\tn\n05/06/2025\t1\n";
	struct reply r;
	json_t *amount, *paid;
	(void)state;

	hl_call_timeout(&srv, "POST", "/api/datasets?name=exports", alice, csv, strlen(csv),
			"text/csv", 30000, &r);
	assert_int_equal(r.status, 201);
	assert_string_equal(hl_str(r.json, "delimiter"), ";");
	assert_string_equal(hl_str(r.json, "decimal"), ",");
	amount = json_array_get(json_object_get(r.json, "columns"), 1);
	assert_string_equal(hl_str(amount, "type"), "real");
	assert_string_equal(hl_str(amount, "format"),
			    "number, thousands '.', decimal ',', currency $ € USD (mixed, not "
			    "converted), negatives in parentheses");
	assert_int_equal(json_integer_value(json_object_get(amount, "nulled")), 1);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(amount, "nulled_lines"),
							   0)), 7);
	paid = json_array_get(json_object_get(r.json, "columns"), 2);
	assert_string_equal(hl_str(paid, "type"), "date");
	assert_int_equal(json_integer_value(json_object_get(paid, "nulled")), 2);
	assert_int_equal(json_integer_value(json_object_get(paid, "empty")), 1);
	hl_reply_free(&r);
	analyze(alice, "{\"language\":\"sql\",\"dataset\":\"exports\",\"code\":"
		       "\"SELECT printf('%.2f', sum(amount)) AS total, max(paid) AS last FROM exports\"}",
		&r);
	assert_int_equal(r.status, 200);
	assert_string_equal(json_string_value(json_array_get(json_array_get(json_object_get(
				    json_object_get(r.json, "table"), "rows"), 0), 0)),
			    "11239.56");
	assert_string_equal(json_string_value(json_array_get(json_array_get(json_object_get(
				    json_object_get(r.json, "table"), "rows"), 0), 1)),
			    "2025-12-31");
	hl_reply_free(&r);
	/* Python reads the same numbers from the CSV, with pandas' defaults. */
	analyze(alice, "{\"language\":\"python\",\"dataset\":\"exports\",\"code\":"
		       "\"import pandas as pd\\nt = pd.read_csv('/data/exports.csv')\\n"
		       "print('%.2f' % t['amount'].sum(), t['paid'].dropna().max())\"}",
		&r);
	assert_int_equal(r.status, 200);
	assert_string_equal(hl_str(r.json, "output"), "11239.56 2025-12-31\n");
	hl_reply_free(&r);

	/* Parameters with values the upload does not know: 400 naming them. */
	upload_refused("name=p1&delimiter=x", csv, 400, "delimiter", "delimiter must be one of");
	upload_refused("name=p2&decimal=%3B", csv, 400, "decimal", "decimal must be . or ,");
	upload_refused("name=p3&dayfirst=maybe", csv, 400, "dayfirst", "dayfirst must be");
	/* A wrong delimiter says which one the file looks like. */
	upload_refused("name=p4&delimiter=%2C", "a;b\n1;2,5\n", 400, NULL,
		       "line 2 has 2 fields where the header has 1; the file looks "
		       "semicolon-separated: upload with delimiter=;");
	/* A column that reads either way is refused by name until decimal= says. */
	upload_refused("name=p5", either, 400, NULL,
		       "column \"amount\": \"1,500\" (line 2) could be");
	hl_call_timeout(&srv, "POST", "/api/datasets?name=p5&decimal=.&delimiter=,", alice, either,
			strlen(either), "text/csv", 30000, &r);
	assert_int_equal(r.status, 201);
	assert_string_equal(hl_str(json_array_get(json_object_get(r.json, "columns"), 1), "type"),
			    "integer");
	hl_reply_free(&r);
	/* dayfirst= reads dates whose order the values cannot tell. */
	hl_call_timeout(&srv, "POST", "/api/datasets?name=p6&dayfirst=true&delimiter=tab", alice,
			dates, strlen(dates), "text/csv", 30000, &r);
	assert_int_equal(r.status, 201);
	assert_string_equal(hl_str(json_array_get(json_object_get(r.json, "columns"), 0), "format"),
			    "date DD/MM/YYYY, stored as YYYY-MM-DD");
	hl_reply_free(&r);
}

struct slow_call {
	long status;
	char *retry_after;
};

static void *slow_run(void *arg)
{
	struct slow_call *c = arg;
	struct reply r;

	analyze(alice, "{\"language\":\"python\",\"code\":\"import time\\ntime.sleep(2)\"}", &r);
	c->status = r.status;
	c->retry_after = hl_header(&r, "Retry-After");
	hl_reply_free(&r);
	return NULL;
}

static void full_queue_answers_429(void **state)
{
	pthread_t t[5];
	struct slow_call calls[5] = { { 0 } };
	int ok = 0, refused = 0;
	(void)state;

	for (int i = 0; i < 5; i++)
		pthread_create(&t[i], NULL, slow_run, &calls[i]);
	for (int i = 0; i < 5; i++) {
		pthread_join(t[i], NULL);
		if (calls[i].status == 200)
			ok++;
		if (calls[i].status == 429) {
			refused++;
			assert_non_null(calls[i].retry_after);
		}
		free(calls[i].retry_after);
	}
	/* Two slots and one queue place: three admitted, two refused. */
	assert_int_equal(ok, 3);
	assert_int_equal(refused, 2);
}

static void client_disconnect_cancels_the_run(void **state)
{
	struct reply r;
	json_t *runs;
	(void)state;

	/* A /tmp size of its own keeps the run out of the warm pool, so its
	 * interpreter is a cold one the count below can see. */
	const char *body = "{\"language\":\"python\",\"code\":\"import time\\ntime.sleep(20)\","
			   "\"limits\":{\"tmpBytes\":33554432}}";

	hl_call_timeout(&srv, "POST", "/api/analyze", bob, body, strlen(body), NULL, 1500, &r);
	assert_true(r.status < 0); /* the client gave up */
	hl_reply_free(&r);
	for (int i = 0; i < 100 && cold_interpreters() > 0; i++)
		usleep(50000);
	assert_int_equal(cold_interpreters(), 0);
	for (int i = 0; i < 100; i++) {
		hl_call(&srv, "GET", "/api/runs?limit=1", bob, NULL, &r);
		runs = json_object_get(r.json, "runs");
		if (json_array_size(runs) && strcmp(hl_str(json_array_get(runs, 0), "status"), "killed") == 0)
			break;
		hl_reply_free(&r);
		usleep(50000);
	}
	assert_string_equal(hl_str(json_array_get(runs, 0), "status"), "killed");
	hl_reply_free(&r);
}

static void request_ids_reach_the_log(void **state)
{
	struct reply r;
	char *rid, *log;
	FILE *f;
	long size;
	(void)state;

	hl_call(&srv, "GET", "/api/runs", alice, NULL, &r);
	rid = hl_header(&r, "X-Request-Id");
	hl_reply_free(&r);
	usleep(200000);
	f = fopen(srv.log, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	log = calloc(1, (size_t)size + 1);
	assert_int_equal(fread(log, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	assert_non_null(strstr(log, rid));
	assert_null(strstr(log, alice)); /* keys never reach the log */
	free(log);
	free(rid);
}

static void openapi_lists_every_route(void **state)
{
	const char *const *methods, *const *names;
	size_t n = http_routes(&methods, &names);
	char path[4096], *doc;
	FILE *f;
	long size;
	(void)state;

	snprintf(path, sizeof(path), "%s/docs/openapi.yaml", getenv("LEDGERBOX_SRC") ?: ".");
	f = fopen(path, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	doc = calloc(1, (size_t)size + 1);
	assert_int_equal(fread(doc, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	for (size_t i = 0; i < n; i++) {
		char key[300], method[16] = "", *at, *next;
		snprintf(key, sizeof(key), "\n  %s:\n", names[i]);
		at = strstr(doc, key);
		if (!at)
			fail_msg("docs/openapi.yaml lacks path %s", names[i]);
		at += strlen(key);
		next = strstr(at, "\n  /");
		for (size_t k = 0; methods[i][k] && k < sizeof(method) - 1; k++) {
			method[k] = (char)(methods[i][k] | 0x20);
			method[k + 1] = '\0';
		}
		snprintf(key, sizeof(key), "    %s:", method);
		at = strstr(at, key);
		if (!at || (next && at > next))
			fail_msg("docs/openapi.yaml lacks %s %s", methods[i], names[i]);
	}
	free(doc);
}

static int run_count(void)
{
	struct reply r;
	int total;

	hl_call(&srv, "GET", "/api/runs?limit=1", root, NULL, &r);
	assert_int_equal(r.status, 200);
	total = (int)json_integer_value(json_object_get(r.json, "total"));
	hl_reply_free(&r);
	return total;
}

static void *inflight_run(void *arg)
{
	struct slow_call *c = arg;
	struct reply r;

	analyze(alice, "{\"language\":\"python\",\"code\":\"import time\\ntime.sleep(1.5)\\nprint('done')\"}", &r);
	c->status = r.status;
	c->retry_after = r.json ? strdup(hl_str(r.json, "status") ?: "") : NULL;
	hl_reply_free(&r);
	return NULL;
}

static void graceful_shutdown_finishes_inflight_run(void **state)
{
	struct slow_call c = { 0 };
	pthread_t t;
	int before = run_count();
	(void)state;

	pthread_create(&t, NULL, inflight_run, &c);
	usleep(500000);
	assert_int_equal(hl_stop(&srv, SIGTERM), 0);
	pthread_join(t, NULL);
	assert_int_equal(c.status, 200);
	assert_string_equal(c.retry_after, "ok");
	free(c.retry_after);
	hl_start(&srv);
	assert_int_equal(run_count(), before + 1);
}

static void kill_9_loses_no_committed_run(void **state)
{
	struct reply r;
	struct tl_output o;
	char *argv[] = { (char *)tl_bin(), "audit", "verify", "--state-dir", srv.state, NULL };
	int before = run_count();
	pid_t tree_pids[TREE_MAX];
	unsigned long long tree_starts[TREE_MAX];
	size_t tree;
	pid_t pid = fork();
	(void)state;

	if (pid == 0) {
		struct reply rr;
		analyze(alice, "{\"language\":\"python\",\"code\":\"import time\\ntime.sleep(30)\"}", &rr);
		_exit(0);
	}
	usleep(800000);
	tree = server_tree(srv.pid, tree_pids, tree_starts);
	assert_true(tree > 1); /* the sleeping run's sandbox at least */
	hl_stop(&srv, SIGKILL);
	waitpid(pid, NULL, 0);
	for (int i = 0; i < 100 && tree_alive(tree_pids, tree_starts, tree) > 0; i++)
		usleep(50000);
	assert_int_equal(tree_alive(tree_pids, tree_starts, tree), 0);
	hl_start(&srv);
	assert_int_equal(run_count(), before);
	hl_call(&srv, "GET", "/api/runs?user=alice&limit=500", root, NULL, &r);
	assert_int_equal(r.status, 200);
	hl_reply_free(&r);
	tl_run(argv, NULL, &o);
	assert_int_equal(o.exit_code, 0);
	assert_non_null(strstr(o.out, "intact"));
	tl_output_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(probes_answer),
		cmocka_unit_test(keys_are_required),
		cmocka_unit_test(admin_routes_refuse_analysts),
		cmocka_unit_test(python_run_with_chart),
		cmocka_unit_test(sql_table_is_cut_and_exported_whole),
		cmocka_unit_test(bad_requests_get_clear_errors),
		cmocka_unit_test(routes_sizes_and_methods),
		cmocka_unit_test(forged_result_table_is_dropped),
		cmocka_unit_test(analysts_see_only_their_own),
		cmocka_unit_test(datasets_list_and_upload),
		cmocka_unit_test(upload_reads_exports_and_says_what_it_decided),
		cmocka_unit_test(full_queue_answers_429),
		cmocka_unit_test(client_disconnect_cancels_the_run),
		cmocka_unit_test(request_ids_reach_the_log),
		cmocka_unit_test(openapi_lists_every_route),
		cmocka_unit_test(wrong_keys_are_slowed_down),
		cmocka_unit_test(graceful_shutdown_finishes_inflight_run),
		cmocka_unit_test(kill_9_loses_no_committed_run),
	};
	return cmocka_run_group_tests_name("api", tests, setup, teardown);
}
