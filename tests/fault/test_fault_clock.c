/*
 * Fault: the wall clock jumps (an NTP step, an operator's `date -s`).
 *
 * The server runs under libfaketime with a timestamp file this test
 * rewrites ("@DATE TIME": the clock restarts from there), read again on
 * every call (FAKETIME_NO_CACHE). CLOCK_MONOTONIC is left alone
 * (FAKETIME_DONT_FAKE_MONOTONIC=1), as a real clock step leaves it: the
 * server's timers, run durations and the sandbox's wall limit measure with
 * it, and a faked monotonic clock that jumps with the wall clock would
 * kill a running sandbox at once for its wall limit (docs/faults.md).
 *
 * With budgets in UTC: a monthly hard budget exhausted on Jan 31 refuses
 * with 402; after a jump to Feb 1 a run is admitted and the budget shows
 * the new period with nothing spent; a run in flight across a jump an hour
 * back settles (in January, where its settlement time falls), nothing
 * stays reserved and no number goes negative; then a SIGTERM whose grace
 * period sees the clock jump back still cancels the last run when the
 * grace is over (a deadline on the wall clock would move by the jump).
 */
#include "fault/faketime.h"

#define GRACE_MS 3000
#define EXIT_MARGIN_MS 10000

static struct server srv;
static struct faketime ft;
static char *erin, *root;

/* Every run costs exactly its fee, 0.01, and reserves as much: a limit of
 * 0.03 holds three runs. */
static char *env_vars[] = { FT_ENV(ft), "LEDGERBOX_BUDGET_TZ=UTC", "LEDGERBOX_CACHE=off",
			    "LEDGERBOX_PRICE_CPU_PER_S=0", "LEDGERBOX_PRICE_MEM_PER_GB_S=0",
			    "LEDGERBOX_PRICE_RUN=0.01", "LEDGERBOX_MAX_RUNS=2",
			    "LEDGERBOX_SHUTDOWN_GRACE_MS=3000", NULL };

static const char *sql_run = "{\"language\":\"sql\",\"dataset\":\"demo\",\"code\":\"SELECT 1\","
			     "\"limits\":{\"timeoutMs\":10000}}";

/* Sets the server's clock: the faked time restarts from `when`. */
static void clock_set(const char *when)
{
	char line[64];

	snprintf(line, sizeof(line), "@%s", when);
	ft_set(&ft, line);
}

static void faked_note(void)
{
	ft_note(&ft, srv.pid);
}

static void server_start(void)
{
	hl_start(&srv);
	faked_note();
}

static int server_stop(int sig)
{
	faked_note();
	return hl_stop(&srv, sig);
}

static int setup(void **state)
{
	(void)state;

	ft_init(&ft, "fault-clock");
	clock_set("2026-01-31 23:59:00");
	hl_prepare(&srv, "fault-clock", env_vars);
	erin = hl_key_create(&srv, "erin", "finance", "analyst");
	root = hl_key_create(&srv, "root", "it", "admin");
	server_start();
	fl_put_budget(&srv, root, "/api/budgets/user/erin",
		      "{\"limit\":\"0.03\",\"period\":\"monthly\",\"hard\":true}");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (srv.pid > 0)
		server_stop(SIGTERM);
	ft_cleanup(&ft);
	free(erin);
	free(root);
	curl_global_cleanup();
	return 0;
}

/* The budget's standing, checked for sense: no negative amount, remaining
 * = limit - spent - reserved floored at 0, and the period named. */
static json_t *standing(const char *period_start)
{
	json_t *b = fl_budget(&srv, root, "user:erin");
	json_int_t limit, spent, reserved, remaining;

	assert_non_null(b);
	limit = fl_int(b, "limitMicros");
	spent = fl_int(b, "spentMicros");
	reserved = fl_int(b, "reservedMicros");
	remaining = fl_int(b, "remainingMicros");
	assert_true(spent >= 0 && reserved >= 0 && remaining >= 0);
	assert_int_equal(remaining, spent + reserved >= limit ? 0 : limit - spent - reserved);
	if (strncmp(hl_str(b, "periodStart"), period_start, strlen(period_start)) != 0)
		fail_msg("the budget's period starts %s, not %s: is libfaketime working?",
			 hl_str(b, "periodStart"), period_start);
	return b;
}

static void run_ok(const char *body, struct reply *r)
{
	hl_call(&srv, "POST", "/api/analyze", erin, body, r);
	if (r->status != 200)
		fail_msg("a run: %ld %s", r->status, r->body);
	assert_string_equal(hl_str(r->json, "status"), "ok");
	assert_int_equal(fl_int(json_object_get(r->json, "cost"), "totalMicros"), 10000);
}

static void run_refused(const char *resets_at)
{
	struct reply r;
	json_t *e;

	hl_call(&srv, "POST", "/api/analyze", erin, sql_run, &r);
	assert_int_equal(r.status, 402);
	e = json_object_get(r.json, "error");
	assert_string_equal(hl_str(e, "code"), "budget_exceeded");
	assert_string_equal(hl_str(e, "scope"), "user:erin");
	assert_string_equal(hl_str(e, "resetsAt"), resets_at);
	hl_reply_free(&r);
}

static void budget_exhausted_on_the_last_day(void **state)
{
	struct reply r;
	json_t *b;
	(void)state;

	b = standing("2026-01-01T00:00:00");
	assert_string_equal(hl_str(b, "periodEnd"), "2026-02-01T00:00:00.000Z");
	json_decref(b);
	for (int i = 0; i < 3; i++) {
		run_ok(sql_run, &r);
		hl_reply_free(&r);
	}
	run_refused("2026-02-01T00:00:00Z");
	b = standing("2026-01-01T00:00:00");
	assert_int_equal(fl_int(b, "spentMicros"), 30000);
	assert_int_equal(fl_int(b, "reservedMicros"), 0);
	json_decref(b);
}

static void new_month_resets_spent(void **state)
{
	struct reply r;
	json_t *b;
	(void)state;

	clock_set("2026-02-01 00:01:00");
	b = standing("2026-02-01T00:00:00");
	assert_string_equal(hl_str(b, "periodEnd"), "2026-03-01T00:00:00.000Z");
	assert_int_equal(fl_int(b, "spentMicros"), 0);
	json_decref(b);
	run_ok(sql_run, &r);
	hl_reply_free(&r);
	b = standing("2026-02-01T00:00:00");
	assert_int_equal(fl_int(b, "spentMicros"), 10000);
	assert_int_equal(fl_int(b, "reservedMicros"), 0);
	json_decref(b);
}

static void *sleeping_run(void *arg)
{
	hl_call(&srv, "POST", "/api/analyze", erin,
		"{\"language\":\"python\",\"code\":\"import time\\ntime.sleep(2)\\nprint('slept')\","
		"\"limits\":{\"timeoutMs\":20000}}", arg);
	return NULL;
}

/* Reserved in February, settled an hour before it began. */
static void clock_back_an_hour_mid_run(void **state)
{
	uint64_t end = fl_now_ms() + 30000;
	struct reply r;
	json_int_t duration, wall;
	pthread_t t;
	json_t *b;
	(void)state;

	assert_int_equal(pthread_create(&t, NULL, sleeping_run, &r), 0);
	while (fl_budget_int(&srv, root, "user:erin", "reservedMicros") == 0 && fl_now_ms() < end)
		fl_sleep_ms(20);
	assert_int_equal(fl_budget_int(&srv, root, "user:erin", "reservedMicros"), 10000);
	clock_set("2026-01-31 23:01:00");
	pthread_join(t, NULL);
	if (r.status != 200)
		fail_msg("the run across the jump: %ld %s", r.status, r.body);
	/* The run ran its course: the jump neither killed it nor shows in
	 * the time it took. */
	assert_string_equal(hl_str(r.json, "status"), "ok");
	assert_string_equal(hl_str(r.json, "output"), "slept\n");
	duration = fl_int(r.json, "durationMs");
	wall = fl_int(json_object_get(r.json, "usage"), "wallMs");
	assert_true(wall >= 2000 && wall < 20000);
	assert_true(duration >= wall && duration < 60000);
	hl_reply_free(&r);
	/* January again: its three runs and this one, past the limit but
	 * never negative; nothing held. */
	b = standing("2026-01-01T00:00:00");
	assert_int_equal(fl_int(b, "spentMicros"), 40000);
	assert_int_equal(fl_int(b, "reservedMicros"), 0);
	assert_int_equal(fl_int(b, "remainingMicros"), 0);
	json_decref(b);
	run_refused("2026-02-01T00:00:00Z");
	hl_call(&srv, "GET", "/healthz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	hl_reply_free(&r);
	/* Every entry is a recorded run's cost, whichever month it is in. */
	assert_int_equal(fl_ledger_micros(&srv, root, "user:erin", NULL), 50000);
	assert_int_equal(fl_recorded_micros(&srv, root, "erin"), 50000);
}

static bool log_has(const char *text)
{
	static char buf[1 << 20];

	return fl_read_file(srv.log, buf, sizeof(buf), NULL) && strstr(buf, text);
}

static void *long_run(void *arg)
{
	hl_call(&srv, "POST", "/api/analyze", erin,
		"{\"language\":\"python\",\"code\":\"import time\\ntime.sleep(25)\","
		"\"limits\":{\"timeoutMs\":40000}}", arg);
	return NULL;
}

/* The grace period is measured on a clock that does not jump: a run
 * still going when it ends is cancelled, however the wall clock moved. */
static void shutdown_grace_ignores_the_jump(void **state)
{
	struct reply short_r, long_r;
	pthread_t ts, tl;
	uint64_t end = fl_now_ms() + 30000;
	int code;
	(void)state;

	clock_set("2026-02-01 00:02:00"); /* room for two runs again */
	assert_int_equal(pthread_create(&ts, NULL, sleeping_run, &short_r), 0);
	assert_int_equal(pthread_create(&tl, NULL, long_run, &long_r), 0);
	while (fl_admitted(&srv) < 2 && fl_now_ms() < end)
		fl_sleep_ms(20);
	assert_int_equal(fl_admitted(&srv), 2);
	faked_note();
	assert_int_equal(kill(srv.pid, SIGTERM), 0);
	end = fl_now_ms() + 10000;
	while (!log_has("\"serve.shutdown\"") && fl_now_ms() < end)
		fl_sleep_ms(10);
	assert_true(log_has("\"serve.shutdown\""));
	/* Draining: the short run ends inside the grace, the long one not. */
	clock_set("2026-01-31 22:00:00");
	code = fl_wait_exit(&srv, GRACE_MS + EXIT_MARGIN_MS);
	pthread_join(ts, NULL);
	pthread_join(tl, NULL);
	if (code != 0)
		fail_msg("after SIGTERM and a jump back the server %s",
			 code == -2 ? "outlived its grace period" : "did not exit with status 0");
	assert_int_equal(short_r.status, 200);
	assert_string_equal(hl_str(short_r.json, "status"), "ok");
	assert_int_equal(long_r.status, 200);
	assert_string_equal(hl_str(long_r.json, "status"), "killed");
	hl_reply_free(&short_r);
	hl_reply_free(&long_r);
	server_start();
	assert_int_equal(fl_budget_int(&srv, root, "user:erin", "reservedMicros"), 0);
	assert_int_equal(fl_ledger_micros(&srv, root, "user:erin", NULL),
			 fl_recorded_micros(&srv, root, "erin"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(budget_exhausted_on_the_last_day),
		cmocka_unit_test(new_month_resets_spent),
		cmocka_unit_test(clock_back_an_hour_mid_run),
		cmocka_unit_test(shutdown_grace_ignores_the_jump),
	};
	return cmocka_run_group_tests_name("fault_clock", tests, setup, teardown);
}
