/*
 * Faults: processes killed with SIGKILL.
 *
 * 1. The analyst's Python process, from outside the sandbox: a run prints
 *    a marker (seen live on the event stream) and sleeps; the test finds
 *    that run's python3 among the server's descendants and kills it. The
 *    run must end at once (well before its sleep would) as killed or
 *    runtime_error with a message, be on record, leave no process or
 *    cgroup behind, and the next run must work.
 * 2. The server itself, under a load of 30 SQL and Python runs: no
 *    sandbox worker and no sandbox process of it may survive (its
 *    processes are snapshotted just before the kill, and its workers' run
 *    cgroups scanned), no run cgroup of it is left after the restart,
 *    every run answered 200 is on record, nothing stays reserved and the
 *    ledger equals the recorded costs.
 *
 * test_api's kill_9_loses_no_committed_run (one run, counted) and
 * test_budget_api's kill under SQL load (the budget invariant) cover
 * neighbouring ground; this file adds the processes, the cgroups, Python
 * runs and the identity of every answered run.
 */
#include "fault/faultlib.h"

static struct server srv;
static char *carol, *root;

/* CPU at 1.00 a second and 0.01 a run, so every run costs something. */
/* No warm pool: the test counts the server's sandbox workers. */
static char *env_vars[] = { "LEDGERBOX_WARM_POOL_MAX=0", "LEDGERBOX_MAX_RUNS=4", "LEDGERBOX_QUEUE_MAX=64", "LEDGERBOX_CACHE=off",
			    "LEDGERBOX_PRICE_CPU_PER_S=1", "LEDGERBOX_PRICE_RUN=0.01",
			    "LEDGERBOX_BUDGET_TZ=UTC",
			    /* The load is one key's: it must meet the queue, not the
			     * key's admission limits. */
			    "LEDGERBOX_KEY_CONCURRENT=100", "LEDGERBOX_USER_CONCURRENT=100", NULL };

static int setup(void **state)
{
	(void)state;
	hl_prepare(&srv, "fault-kill", env_vars);
	carol = hl_key_create(&srv, "carol", "finance", "analyst");
	root = hl_key_create(&srv, "root", "it", "admin");
	hl_start(&srv);
	fl_put_budget(&srv, root, "/api/budgets/user/carol",
		      "{\"limit\":\"1000\",\"period\":\"monthly\",\"hard\":true}");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (srv.pid > 0)
		hl_stop(&srv, SIGTERM);
	free(carol);
	free(root);
	curl_global_cleanup();
	return 0;
}

/* An event stream read as it arrives, by a thread of its own. */
struct live {
	pthread_mutex_t mu;
	char *body;
	size_t len;
	long status;
	bool done;
};

static size_t live_collect(char *data, size_t size, size_t n, void *ctx)
{
	struct live *l = ctx;

	pthread_mutex_lock(&l->mu);
	tl_append(&l->body, &l->len, data, size * n);
	pthread_mutex_unlock(&l->mu);
	return size * n;
}

static const char *marker_run = "{\"language\":\"python\",\"code\":\"import time\\n"
				"print('marker-4711', flush=True)\\ntime.sleep(30)\\nprint('woke')\"}";

static void *live_main(void *arg)
{
	struct live *l = arg;
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[200], auth[256];
	long status = 0;
	CURLcode rc;

	snprintf(url, sizeof(url), "%s/api/analyze", srv.base);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", carol);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Accept: text/event-stream");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, marker_run);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, live_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, l);
	/* Well short of the run's 30 s sleep: an answer that only comes when
	 * the sleep ends is a failure. */
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	pthread_mutex_lock(&l->mu);
	l->status = rc == CURLE_OK ? status : -(long)rc;
	l->done = true;
	pthread_mutex_unlock(&l->mu);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return NULL;
}

static bool live_has(struct live *l, const char *text)
{
	bool found;

	pthread_mutex_lock(&l->mu);
	found = l->body && strstr(l->body, text);
	pthread_mutex_unlock(&l->mu);
	return found;
}

/* The analyst's python3 processes among the server's descendants. */
static size_t analyst_pythons(struct fl_procs *ret)
{
	struct fl_procs all = { .n = 0 };

	ret->n = 0;
	fl_descendants(srv.pid, &all);
	for (size_t i = 0; i < all.n; i++)
		if (strncmp(all.p[i].cmdline, "python3 ", 8) == 0 &&
		    strstr(all.p[i].cmdline, "/run/ledgerbox/driver.py"))
			ret->p[ret->n++] = all.p[i];
	return ret->n;
}

/* Once the server is idle its only descendants are its workers. */
static size_t non_workers(void)
{
	struct fl_procs all = { .n = 0 };

	fl_descendants(srv.pid, &all);
	return all.n - fl_count_workers(&all, srv.pid);
}

static void wait_idle(void)
{
	struct fl_procs all = { .n = 0 };
	uint64_t end = fl_now_ms() + 15000;
	size_t dirs = 1, procs = 1;

	while (fl_now_ms() < end) {
		all.n = 0;
		fl_descendants(srv.pid, &all);
		dirs = fl_run_cgroups(&all, &procs);
		if (non_workers() == 0 && dirs == 0 && procs == 0)
			return;
		fl_sleep_ms(50);
	}
	fail_msg("the server did not come back to idle: %zu non-worker processes, %zu run cgroups "
		 "with %zu processes", non_workers(), dirs, procs);
}

static json_t *result_event(struct live *l)
{
	const char *head = "event: result\ndata: ";
	const char *p = strstr(l->body, head);

	return p ? json_loads(p + strlen(head), JSON_DISABLE_EOF_CHECK, NULL) : NULL;
}

static void analyst_python_killed_from_outside(void **state)
{
	struct live l = { .status = 0 };
	struct fl_procs py;
	uint64_t end = fl_now_ms() + 30000;
	struct reply r;
	json_t *result;
	const char *status, *message;
	pthread_t t;
	(void)state;

	pthread_mutex_init(&l.mu, NULL);
	assert_int_equal(pthread_create(&t, NULL, live_main, &l), 0);
	while (!live_has(&l, "marker-4711") && fl_now_ms() < end)
		fl_sleep_ms(20);
	assert_true(live_has(&l, "event: stdout\ndata: {\"text\":\"marker-4711\"}"));
	assert_int_equal(analyst_pythons(&py), 1);
	assert_int_equal(kill(py.p[0].pid, SIGKILL), 0);
	pthread_join(t, NULL);
	assert_int_equal(l.status, 200);
	result = result_event(&l);
	if (!result)
		fail_msg("no result event: %s", l.body);
	status = hl_str(result, "status");
	if (strcmp(status, "killed") != 0 && strcmp(status, "runtime_error") != 0)
		fail_msg("a run whose process was killed ended as %s", status);
	message = hl_str(json_object_get(result, "error"), "message");
	if (!message || !*message)
		fail_msg("a killed run says nothing about it: %s", l.body);
	assert_string_equal(hl_str(result, "output"), "marker-4711\n");
	assert_int_equal(fl_run_status(&srv, carol, hl_str(result, "id")), 200);
	json_decref(result);
	free(l.body);
	pthread_mutex_destroy(&l.mu);
	wait_idle();
	hl_call(&srv, "POST", "/api/analyze", carol,
		"{\"language\":\"python\",\"code\":\"print(6 * 7)\"}", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(hl_str(r.json, "status"), "ok");
	assert_string_equal(hl_str(r.json, "output"), "42\n");
	hl_reply_free(&r);
	wait_idle();
	assert_int_equal(fl_budget_int(&srv, root, "user:carol", "reservedMicros"), 0);
}

#define LOAD 30

static void server_killed_under_load(void **state)
{
	static struct fl_load loads[LOAD];
	struct fl_procs snap = { .n = 0 };
	pthread_t t[LOAD];
	uint64_t end = fl_now_ms() + 40000;
	size_t answered = 0, left, procs = 0;
	char alive[2048];
	(void)state;

	for (int i = 0; i < LOAD; i++) {
		loads[i] = (struct fl_load){ .srv = &srv, .key = carol, .timeout_ms = 60000 };
		if (i % 2)
			snprintf(loads[i].body, sizeof(loads[i].body),
				 "{\"language\":\"python\",\"code\":\"import time\\ntime.sleep(0.3)\\n"
				 "print(%d)\"}", i);
		else
			snprintf(loads[i].body, sizeof(loads[i].body),
				 "{\"language\":\"sql\",\"dataset\":\"demo\",\"code\":\"SELECT count(*) "
				 "FROM gl_entries WHERE debit > %d\"}", i);
		assert_int_equal(pthread_create(&t[i], NULL, fl_load_main, &loads[i]), 0);
	}
	/* Mid-load: some answered, others running or waiting. */
	while (fl_loads_done(loads, LOAD, 200) < 6 && fl_now_ms() < end)
		fl_sleep_ms(20);
	assert_true(fl_loads_done(loads, LOAD, 200) >= 6);
	assert_true(fl_admitted(&srv) > 0);
	fl_descendants(srv.pid, &snap);
	assert_int_equal(fl_count_workers(&snap, srv.pid), 4);
	assert_int_equal(hl_stop(&srv, SIGKILL), -1);
	for (int i = 0; i < LOAD; i++)
		pthread_join(t[i], NULL);
	/* Nothing the server started outlives it. */
	left = fl_wait_all_gone(&snap, 15000);
	fl_describe_alive(&snap, alive, sizeof(alive));
	if (left)
		fail_msg("%zu processes outlived the server: %s", left, alive);
	assert_int_equal(fl_procs_in_run_cgroups(&snap), 0);
	hl_start(&srv);
	/* The restart sweeps run cgroups whose worker is gone. */
	assert_int_equal(fl_run_cgroups(&snap, &procs), 0);
	for (int i = 0; i < LOAD; i++) {
		if (loads[i].status != 200)
			continue;
		answered++;
		if (fl_run_status(&srv, root, loads[i].id) != 200)
			fail_msg("run %s was answered 200 before the kill but is not on record",
				 loads[i].id);
	}
	assert_true(answered >= 6);
	assert_true(answered < LOAD); /* the kill did land mid-load */
	assert_int_equal(fl_budget_int(&srv, root, "user:carol", "reservedMicros"), 0);
	assert_int_equal(fl_ledger_micros(&srv, root, "user:carol", NULL),
			 fl_recorded_micros(&srv, root, "carol"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(analyst_python_killed_from_outside),
		cmocka_unit_test(server_killed_under_load),
	};
	return cmocka_run_group_tests_name("fault_kill", tests, setup, teardown);
}
