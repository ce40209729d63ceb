/*
 * A tenant's own result cannot break the shared parts: runs inside the
 * API's limits whose results grow when encoded as JSON (control bytes
 * written as \u0001, floats written back with 17 digits) answer 200 with
 * their truncation flags, over real HTTP and real sandboxes, and never
 * count against the sandbox's circuit breaker; a worker that really dies
 * still does.
 *
 * The server runs with a breaker that opens after two failures in a row,
 * no warm pool (every worker with a child is running a run) and its
 * default export limits, so the hostile run is the one found in the
 * field: 16 MiB of \x01 on stdout and on stderr plus 100,000 rows of
 * floats, 272 MiB once encoded, past the 256 MiB frame between worker and
 * server.
 */
#include <dirent.h>
#include <pthread.h>

#include "http/httplib.h"
#include "util/banned.h"

#define MiB (1024 * 1024)
#define OUTPUT_LIMIT (16 * MiB)

static struct server srv;
static char *alice;

static char *env_vars[] = { "LEDGERBOX_CACHE=off", "LEDGERBOX_MAX_RUNS=2",
			    "LEDGERBOX_WARM_POOL_MIN=0", "LEDGERBOX_WARM_POOL_MAX=0",
			    "LEDGERBOX_BREAKER_FAILURES=2", "LEDGERBOX_BREAKER_COOLDOWN_MS=600000",
			    "LEDGERBOX_BREAKER_COOLDOWN_MAX_MS=600000", NULL };

static const char *ordinary_run = "{\"language\":\"sql\",\"dataset\":\"demo\","
				  "\"code\":\"SELECT count(*) AS n FROM accounts\"}";

/* 16 MiB of \x01 on both streams, then 100,000 rows of 40 floats (16 MB
 * as Python writes them, 80 MB as jansson does). */
static const char *hostile_code =
	"import sys\n"
	"import pandas as pd\n"
	"sys.stdout.write('\\x01' * (16 << 20)); sys.stdout.flush()\n"
	"sys.stderr.write('\\x01' * (16 << 20)); sys.stderr.flush()\n"
	"pd.DataFrame([[0.1] * 40] * 100000)\n";

static int setup(void **state)
{
	(void)state;
	hl_prepare(&srv, "tenant-results", env_vars);
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

/* POST /api/analyze with a Python program, the output limit at the API's
 * maximum and room in memory for a large table. */
static void python_run(const char *code, struct reply *r)
{
	json_t *body = json_pack("{s:s,s:s,s:s,s:{s:I,s:I,s:I}}", "language", "python", "dataset",
				 "demo", "code", code, "limits", "outputBytes",
				 (json_int_t)OUTPUT_LIMIT, "memoryBytes", (json_int_t)2048 * MiB,
				 "timeoutMs", (json_int_t)120000);
	char *text = json_dumps(body, JSON_COMPACT);

	hl_call_timeout(&srv, "POST", "/api/analyze", alice, text, strlen(text), NULL, 300000, r);
	free(text);
	json_decref(body);
}

static bool limit_hit(json_t *answer, const char *name)
{
	json_t *hit = json_object_get(json_object_get(answer, "usage"), "limitsHit"), *v;
	size_t i;

	json_array_foreach(hit, i, v) {
		if (strcmp(json_string_value(v) ?: "", name) == 0)
			return true;
	}
	return false;
}

/* Bytes of a string of the answer once written as JSON, quotes left out. */
static size_t encoded_bytes(json_t *text)
{
	char *s = json_dumps(text, JSON_COMPACT | JSON_ENCODE_ANY);
	size_t n = strlen(s) - 2;

	free(s);
	return n;
}

static json_t *sandbox_breaker(void)
{
	struct reply r;
	json_t *b;

	hl_call(&srv, "GET", "/readyz", NULL, NULL, &r);
	b = json_incref(json_object_get(json_object_get(r.json, "breakers"), "sandbox"));
	hl_reply_free(&r);
	assert_non_null(b);
	return b;
}

static void expect_breaker_clean(void)
{
	json_t *b = sandbox_breaker();

	if (json_integer_value(json_object_get(b, "windowFailures")) != 0 ||
	    strcmp(json_string_value(json_object_get(b, "state")) ?: "", "closed") != 0)
		fail_msg("the sandbox breaker counted an analyst's result: %s",
			 json_dumps(b, JSON_COMPACT));
	json_decref(b);
}

static void expect_ok(const struct reply *r, const char *what)
{
	if (r->status != 200)
		fail_msg("%s: %ld %.300s", what, r->status, r->body);
	assert_string_equal(hl_str(r->json, "status"), "ok");
}

static void hostile_run_answers_with_flags(void **state)
{
	struct reply r;
	json_t *table;
	(void)state;

	python_run(hostile_code, &r);
	expect_ok(&r, "the hostile run");
	printf("# the 272 MiB run: answered 200 with %zu bytes\n", r.len);
	assert_true(json_is_true(json_object_get(r.json, "outputTruncated")));
	assert_true(json_is_true(json_object_get(r.json, "stderrTruncated")));
	assert_true(limit_hit(r.json, "output"));
	/* The output limit holds for what is sent: six bytes a \x01. */
	assert_true(encoded_bytes(json_object_get(r.json, "output")) <= OUTPUT_LIMIT);
	assert_true(encoded_bytes(json_object_get(r.json, "stderr")) <= OUTPUT_LIMIT);
	assert_true(encoded_bytes(json_object_get(r.json, "output")) > OUTPUT_LIMIT - 16);
	/* The table fits its own limit as encoded: all of it is there. */
	table = json_object_get(r.json, "table");
	assert_int_equal(json_integer_value(json_object_get(table, "exportRows")), 100000);
	assert_int_equal(json_integer_value(json_object_get(table, "total_rows")), 100000);
	hl_reply_free(&r);
	expect_breaker_clean();
}

static void stderr_alone_is_cut_where_it_is_sent(void **state)
{
	struct reply r;
	(void)state;

	python_run("import sys\nsys.stderr.write('\\x01' * (16 << 20))\n", &r);
	expect_ok(&r, "16 MiB of \\x01 on stderr");
	assert_false(json_is_true(json_object_get(r.json, "outputTruncated")));
	assert_true(json_is_true(json_object_get(r.json, "stderrTruncated")));
	assert_true(encoded_bytes(json_object_get(r.json, "stderr")) <= OUTPUT_LIMIT);
	/* Cut at a character: the text is all \x01, nothing half-escaped. */
	assert_int_equal(strspn(hl_str(r.json, "stderr"), "\x01"),
			 json_string_length(json_object_get(r.json, "stderr")));
	hl_reply_free(&r);
	expect_breaker_clean();
}

/* 100,000 rows of 60 floats: 24 MB as written, 120 MB encoded, past the
 * table limit (about 98 MiB for the default export of 100,000 rows). */
static void float_table_is_cut_to_its_limit(void **state)
{
	struct reply r;
	json_t *table;
	json_int_t kept;
	(void)state;

	python_run("import pandas as pd\npd.DataFrame([[0.1] * 60] * 100000)\n", &r);
	expect_ok(&r, "a table of 6,000,000 floats");
	table = json_object_get(r.json, "table");
	kept = json_integer_value(json_object_get(table, "exportRows"));
	assert_true(json_is_true(json_object_get(table, "truncated")));
	assert_int_equal(json_integer_value(json_object_get(table, "total_rows")), 100000);
	assert_true(kept > 50000 && kept < 100000);
	assert_true(limit_hit(r.json, "rows"));
	assert_non_null(hl_str(table, "csvUrl"));
	hl_reply_free(&r);
	expect_breaker_clean();
}

/* More files than a run may keep, with the hostile output beside them. */
static void many_artifacts_answer(void **state)
{
	struct reply r;
	(void)state;

	python_run("import sys\n"
		   "for i in range(300):\n"
		   "    open(f'/out/part-{i:03}.txt', 'wb').write(b'\\x01' * (128 << 10))\n"
		   "n = sys.stdout.write('\\x01' * (16 << 20))\n",
		   &r);
	expect_ok(&r, "300 artifacts and 16 MiB of \\x01");
	assert_true(json_is_true(json_object_get(r.json, "outputTruncated")));
	assert_int_equal(json_array_size(json_object_get(r.json, "artifacts")), 256);
	hl_reply_free(&r);
	expect_breaker_clean();
}

static void results_in_a_row_never_open_the_breaker(void **state)
{
	struct reply r;
	(void)state;

	for (int i = 0; i < 2; i++) {
		python_run(hostile_code, &r);
		expect_ok(&r, "a hostile run in a row");
		hl_reply_free(&r);
	}
	hl_call(&srv, "POST", "/api/analyze", alice, ordinary_run, &r);
	expect_ok(&r, "an ordinary run after them");
	hl_reply_free(&r);
	expect_breaker_clean();
}

/* ---- a worker that dies still counts ---- */

static bool has_children(pid_t pid)
{
	char path[64], buf[64];
	FILE *f;
	bool any;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	any = fgets(buf, sizeof(buf), f) && buf[0] >= '0' && buf[0] <= '9';
	fclose(f);
	return any;
}

static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512], *close_paren;
	FILE *f;
	int ppid = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f) && (close_paren = strrchr(buf, ')')))
		sscanf(close_paren + 2, "%*c %d", &ppid);
	fclose(f);
	return ppid;
}

/* The server's worker that has a sandbox running, or -1. */
static pid_t busy_worker(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = -1;

	assert_non_null(d);
	while (found < 0 && (e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		if (parent_of((pid_t)pid) == srv.pid && has_children((pid_t)pid))
			found = (pid_t)pid;
	}
	closedir(d);
	return found;
}

static void *slow_run(void *arg)
{
	struct reply *r = arg;
	const char *body = "{\"language\":\"python\",\"dataset\":\"demo\","
			   "\"code\":\"import time\\ntime.sleep(60)\\n\"}";

	hl_call_timeout(&srv, "POST", "/api/analyze", alice, body, strlen(body), NULL, 120000, r);
	return NULL;
}

/* Kills the worker of a run in progress: the run answers 500. */
static void worker_dies_during_a_run(void)
{
	struct reply r;
	pthread_t t;
	pid_t worker = -1;

	assert_int_equal(pthread_create(&t, NULL, slow_run, &r), 0);
	for (int i = 0; i < 400 && worker < 0; i++) {
		usleep(50000);
		worker = busy_worker();
	}
	assert_true(worker > 0);
	assert_int_equal(kill(worker, SIGKILL), 0);
	pthread_join(t, NULL);
	if (r.status != 500)
		fail_msg("a run whose worker died: %ld %.300s", r.status, r.body);
	assert_string_equal(hl_str(json_object_get(r.json, "error"), "code"), "sandbox_failed");
	hl_reply_free(&r);
}

/* Runs last: it leaves the breaker open. */
static void dead_workers_open_the_breaker(void **state)
{
	struct reply r;
	json_t *b;
	(void)state;

	worker_dies_during_a_run();
	b = sandbox_breaker();
	assert_int_equal(json_integer_value(json_object_get(b, "consecutiveFailures")), 1);
	json_decref(b);
	worker_dies_during_a_run();
	hl_call(&srv, "POST", "/api/analyze", alice, ordinary_run, &r);
	assert_int_equal(r.status, 503);
	assert_string_equal(hl_str(json_object_get(r.json, "error"), "code"), "sandbox_unavailable");
	hl_reply_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hostile_run_answers_with_flags),
		cmocka_unit_test(stderr_alone_is_cut_where_it_is_sent),
		cmocka_unit_test(float_table_is_cut_to_its_limit),
		cmocka_unit_test(many_artifacts_answer),
		cmocka_unit_test(results_in_a_row_never_open_the_breaker),
		cmocka_unit_test(dead_workers_open_the_breaker),
	};

	return cmocka_run_group_tests_name("tenant results", tests, setup, teardown);
}
