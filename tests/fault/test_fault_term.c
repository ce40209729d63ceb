/*
 * Fault: SIGTERM in the middle of a burst of requests.
 *
 * Thirty Python runs are sent and waited for until each is either answered
 * or admitted (running or queued, as /readyz counts them); then the server
 * gets SIGTERM while ten more requests are being sent. docs/server.md
 * ("Shutdown") promises: stop accepting, let admitted runs finish within
 * LEDGERBOX_SHUTDOWN_GRACE_MS, cancel the rest, answer everyone, exit.
 * So every admitted request gets 200 (the run, possibly `killed` by the
 * cancel) or 503 with Retry-After, never another status and never a
 * dropped connection; a late request may also fail to connect, which is
 * counted apart. The server exits 0 within the grace period and a margin,
 * nothing it started outlives it, and after a restart every 200 is a
 * recorded run, nothing is reserved and the ledger equals the recorded
 * costs.
 *
 * test_api's graceful_shutdown_finishes_inflight_run covers one run; this
 * file covers a full pool and queue, the cancel at the end of the grace
 * period, and late arrivals.
 */
#include "fault/faultlib.h"

static struct server srv;
static char *dave, *root;

#define GRACE_MS 3000
#define EXIT_MARGIN_MS 15000
#define ADMITTED 30
#define LATE 10
#define ALL (ADMITTED + LATE)

/* No warm pool: the test counts the server's sandbox workers. */
static char *env_vars[] = { "LEDGERBOX_WARM_POOL_MAX=0", "LEDGERBOX_MAX_RUNS=4", "LEDGERBOX_QUEUE_MAX=64", "LEDGERBOX_CACHE=off",
			    "LEDGERBOX_SHUTDOWN_GRACE_MS=3000", "LEDGERBOX_PRICE_RUN=0.01",
			    "LEDGERBOX_BUDGET_TZ=UTC",
			    /* One key sends the whole burst: admission must let it
			     * reach the run queue, which is what is under test. */
			    "LEDGERBOX_KEY_CONCURRENT=100", "LEDGERBOX_USER_CONCURRENT=100", NULL };

static int setup(void **state)
{
	(void)state;
	hl_prepare(&srv, "fault-term", env_vars);
	dave = hl_key_create(&srv, "dave", "ops", "analyst");
	root = hl_key_create(&srv, "root", "it", "admin");
	hl_start(&srv);
	fl_put_budget(&srv, root, "/api/budgets/user/dave",
		      "{\"limit\":\"1000\",\"period\":\"monthly\",\"hard\":true}");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (srv.pid > 0)
		hl_stop(&srv, SIGTERM);
	free(dave);
	free(root);
	curl_global_cleanup();
	return 0;
}

/* The request never reached a handler: refused or reset at the socket. */
static bool not_connected(long status)
{
	return status == -CURLE_COULDNT_CONNECT || status == -CURLE_GOT_NOTHING ||
	       status == -CURLE_RECV_ERROR || status == -CURLE_SEND_ERROR;
}

static void load_start(struct fl_load *l, pthread_t *t, int i)
{
	*l = (struct fl_load){ .srv = &srv, .key = dave, .timeout_ms = 60000 };
	snprintf(l->body, sizeof(l->body),
		 "{\"language\":\"python\",\"code\":\"import time\\ntime.sleep(0.8)\\nprint(%d)\"}", i);
	assert_int_equal(pthread_create(t, NULL, fl_load_main, l), 0);
}

/* 200 or 503 with Retry-After; returns false for anything else. */
static bool answered_as_promised(const struct fl_load *l, unsigned *ok, unsigned *killed,
				 unsigned *refused)
{
	if (l->status == 200) {
		(*ok)++;
		if (strcmp(l->run_status, "killed") == 0)
			(*killed)++;
		return strcmp(l->run_status, "ok") == 0 || strcmp(l->run_status, "killed") == 0;
	}
	if (l->status == 503 && l->retry_after && strcmp(l->error_code, "shutting_down") == 0) {
		(*refused)++;
		return true;
	}
	return false;
}

static void sigterm_mid_burst(void **state)
{
	static struct fl_load loads[ALL];
	struct fl_procs snap = { .n = 0 };
	pthread_t t[ALL];
	uint64_t end = fl_now_ms() + 30000;
	unsigned ok = 0, killed = 0, refused = 0, unconnected = 0;
	size_t left, procs = 0;
	char alive[2048];
	int code;
	(void)state;

	for (int i = 0; i < ADMITTED; i++)
		load_start(&loads[i], &t[i], i);
	/* Done first, then admitted: a run counted in neither is not in yet. */
	for (;;) {
		size_t done = fl_loads_done(loads, ADMITTED, 0);
		int admitted = fl_admitted(&srv);
		if ((admitted >= 0 && done + (size_t)admitted >= ADMITTED) || fl_now_ms() >= end)
			break;
		fl_sleep_ms(20);
	}
	/* Still mid-burst: most are running or queued. */
	assert_true(fl_loads_done(loads, ADMITTED, 0) < ADMITTED / 2);
	fl_descendants(srv.pid, &snap);
	assert_int_equal(fl_count_workers(&snap, srv.pid), 4);
	for (int i = ADMITTED; i < ALL; i++)
		load_start(&loads[i], &t[i], i);
	assert_int_equal(kill(srv.pid, SIGTERM), 0);
	code = fl_wait_exit(&srv, GRACE_MS + EXIT_MARGIN_MS);
	if (code != 0)
		fail_msg("after SIGTERM the server %s", code == -2 ? "did not exit in time"
							 : "did not exit with status 0");
	for (int i = 0; i < ALL; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < ALL; i++) {
		if (answered_as_promised(&loads[i], &ok, &killed, &refused))
			continue;
		if (i >= ADMITTED && not_connected(loads[i].status)) {
			unconnected++;
			continue;
		}
		fail_msg("request %d (%s) got %ld %s %s", i, i < ADMITTED ? "admitted" : "late",
			 loads[i].status, loads[i].error_code, loads[i].error_message);
	}
	assert_int_equal(ok + refused + unconnected, ALL);
	assert_true(ok > 0);
	print_message("# %u answered 200 (%u of them cancelled at the end of the grace), %u refused "
		      "with 503, %u late requests not connected\n", ok, killed, refused, unconnected);
	/* Nothing the server started outlives it. */
	left = fl_wait_all_gone(&snap, 10000);
	fl_describe_alive(&snap, alive, sizeof(alive));
	if (left)
		fail_msg("%zu processes outlived the server: %s", left, alive);
	assert_int_equal(fl_procs_in_run_cgroups(&snap), 0);
	assert_int_equal(fl_run_cgroups(&snap, &procs), 0);
	hl_start(&srv);
	for (int i = 0; i < ALL; i++)
		if (loads[i].status == 200 && fl_run_status(&srv, root, loads[i].id) != 200)
			fail_msg("run %s was answered 200 but is not on record", loads[i].id);
	assert_int_equal(fl_budget_int(&srv, root, "user:dave", "reservedMicros"), 0);
	assert_int_equal(fl_ledger_micros(&srv, root, "user:dave", NULL),
			 fl_recorded_micros(&srv, root, "dave"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sigterm_mid_burst),
	};
	return cmocka_run_group_tests_name("fault_term", tests, setup, teardown);
}
