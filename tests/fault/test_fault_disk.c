/*
 * Fault: the state database's disk fills up while the server runs.
 *
 * LEDGERBOX_STATE_DIR is a small tmpfs this test mounts (as root); once the
 * server is up, a filler file takes every free block. Runs (with a table,
 * whose CSV is kept as a file; with output only) and budget changes are
 * then either done (a write can still fit in pages the database already
 * holds) or refused with a clear JSON error that says storage is full;
 * reads go on; the server stays up. A user without a budget reserves
 * nothing, so their runs go ahead and fail at the record instead. Then the
 * disk fills while a run is going: it reserved its budget with room to
 * spare, cannot be recorded, and its reservation (whose release could not
 * be written either) must not outlive it. When the filler is deleted the
 * same requests succeed, nothing stays reserved, every run answered 200 is
 * in the history, the database passes PRAGMA integrity_check, the audit
 * chain verifies and the ledger equals the recorded costs.
 *
 * The group's teardown stops the server and unmounts, whatever happened.
 */

#include "fault/faultlib.h"

static struct server srv;
static char *alice, *bob, *root;
static bool mounted;
static char filler[600];

static char *env_vars[] = { "LEDGERBOX_CACHE=off", "LEDGERBOX_MAX_RUNS=2",
			    "LEDGERBOX_BUDGET_TZ=UTC", "LEDGERBOX_PRICE_RUN=0.01", NULL };

static const char *table_run = "{\"language\":\"sql\",\"dataset\":\"demo\",\"code\":"
			       "\"SELECT account_id, name FROM accounts ORDER BY account_id\"}";
static const char *sleep_run = "{\"language\":\"python\",\"code\":"
			       "\"import time\\ntime.sleep(2)\\nprint('slept')\"}";
static const char *print_run = "{\"language\":\"python\",\"code\":\"print('still here')\"}";

#define ROUNDS 3
#define RUN_IDS_MAX 64

static char ok_runs[RUN_IDS_MAX][64];
static size_t n_ok_runs;

static int mount_state(void **state)
{
	(void)state;
	hl_prepare(&srv, "fault-disk", env_vars);
	snprintf(filler, sizeof(filler), "%s/filler", srv.state);
	fl_mount_small_tmpfs(srv.state);
	mounted = true;
	return 0;
}

static int unmount_state(void **state)
{
	(void)state;
	if (srv.pid > 0)
		hl_stop(&srv, SIGTERM);
	if (mounted && umount2(srv.state, 0) < 0)
		umount2(srv.state, MNT_DETACH);
	mounted = false;
	free(alice);
	free(bob);
	free(root);
	curl_global_cleanup();
	return 0;
}

static void note_ok_run(const struct reply *r)
{
	assert_true(n_ok_runs < RUN_IDS_MAX);
	assert_non_null(hl_str(r->json, "id"));
	snprintf(ok_runs[n_ok_runs++], sizeof(ok_runs[0]), "%s", hl_str(r->json, "id"));
}

/* A write that could not be stored says so plainly: a 5xx JSON error
 * with a code and a message that names the full disk. Returns true when
 * the request was refused, false when it was done. */
static bool refused_clearly(const char *what, const struct reply *r)
{
	json_t *e = json_object_get(r->json, "error");
	const char *msg = hl_str(e, "message");

	if (r->status == 200)
		return false;
	if (r->status < 500 || !msg || !hl_str(e, "code"))
		fail_msg("%s on a full disk: %ld %s", what, r->status, r->body);
	if (!strstr(msg, "disk is full"))
		fail_msg("%s on a full disk: the message does not say why: %s", what, msg);
	return true;
}

static void starts_on_a_small_disk(void **state)
{
	struct reply r;
	(void)state;

	alice = hl_key_create(&srv, "alice", "finance", "analyst");
	bob = hl_key_create(&srv, "bob", "ops", "analyst");
	root = hl_key_create(&srv, "root", "it", "admin");
	hl_start(&srv);
	fl_put_budget(&srv, root, "/api/budgets/user/alice",
		      "{\"limit\":\"100\",\"period\":\"monthly\",\"hard\":true}");
	hl_call(&srv, "POST", "/api/analyze", alice, table_run, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(hl_str(json_object_get(r.json, "table"), "csvUrl"));
	note_ok_run(&r);
	hl_reply_free(&r);
}

static void full_disk_refuses_writes_clearly(void **state)
{
	unsigned refused = 0, table_refused = 0;
	struct reply r;
	(void)state;

	fl_fill_disk(srv.state, filler);
	for (int round = 0; round < ROUNDS; round++) {
		char body[200];

		hl_call(&srv, "POST", "/api/analyze", alice, table_run, &r);
		if (refused_clearly("a run with a table", &r))
			refused++, table_refused++;
		else
			note_ok_run(&r);
		hl_reply_free(&r);
		hl_call(&srv, "POST", "/api/analyze", alice, print_run, &r);
		if (refused_clearly("a run with output only", &r))
			refused++;
		else
			note_ok_run(&r);
		hl_reply_free(&r);
		/* No budget, no reservation: the run goes ahead and its record
		 * is what fails. */
		hl_call(&srv, "POST", "/api/analyze", bob, table_run, &r);
		if (refused_clearly("an unbudgeted run with a table", &r))
			refused++, table_refused++;
		else
			note_ok_run(&r);
		hl_reply_free(&r);
		snprintf(body, sizeof(body), "{\"limit\":\"%d.00\",\"period\":\"weekly\"}", 50 + round);
		hl_call(&srv, "PUT", "/api/budgets/team/finance", root, body, &r);
		refused += refused_clearly("a budget change", &r);
		hl_reply_free(&r);
		/* Reads need no space. */
		hl_call(&srv, "GET", "/api/runs?limit=5", alice, NULL, &r);
		assert_int_equal(r.status, 200);
		hl_reply_free(&r);
		hl_call(&srv, "GET", "/healthz", NULL, NULL, &r);
		assert_int_equal(r.status, 200);
		hl_reply_free(&r);
	}
	/* A table's CSV is a new file: there is no room for it. */
	assert_int_equal(table_refused, 2 * ROUNDS);
	assert_true(refused >= ROUNDS);
}

static void *sleeping_run(void *arg)
{
	hl_call(&srv, "POST", "/api/analyze", alice, sleep_run, arg);
	return NULL;
}

/* The run reserved its budget while there was room; by the time it is to
 * be recorded there is none. Its reservation must not outlive it. */
static void disk_fills_during_a_run(void **state)
{
	uint64_t end = fl_now_ms() + 30000;
	struct reply r;
	pthread_t t;
	(void)state;

	assert_int_equal(unlink(filler), 0);
	assert_int_equal(pthread_create(&t, NULL, sleeping_run, &r), 0);
	while (fl_budget_int(&srv, root, "user:alice", "reservedMicros") == 0 && fl_now_ms() < end)
		fl_sleep_ms(20);
	assert_true(fl_budget_int(&srv, root, "user:alice", "reservedMicros") > 0);
	fl_fill_disk(srv.state, filler);
	pthread_join(t, NULL);
	if (!refused_clearly("a run whose disk filled while it ran", &r))
		fail_msg("the run was stored on a full disk: %s", r.body);
	hl_reply_free(&r);
}

static void freed_disk_works_again(void **state)
{
	char db[700], *sqlite_argv[] = { "/usr/bin/sqlite3", "-readonly", db, "PRAGMA integrity_check", NULL };
	char *audit_argv[] = { (char *)tl_bin(), "audit", "verify", "--state-dir", srv.state, NULL };
	struct tl_output o;
	struct reply r;
	(void)state;

	assert_int_equal(unlink(filler), 0);
	hl_call(&srv, "POST", "/api/analyze", alice, table_run, &r);
	if (r.status != 200)
		fail_msg("a run after the disk was freed: %ld %s", r.status, r.body);
	note_ok_run(&r);
	hl_reply_free(&r);
	hl_call(&srv, "POST", "/api/analyze", alice, print_run, &r);
	assert_int_equal(r.status, 200);
	note_ok_run(&r);
	hl_reply_free(&r);
	fl_put_budget(&srv, root, "/api/budgets/team/finance", "{\"limit\":\"60.00\"}");
	/* Nothing is held for runs that failed to be stored. */
	assert_int_equal(fl_budget_int(&srv, root, "user:alice", "reservedMicros"), 0);
	assert_int_equal(fl_budget_int(&srv, root, "team:finance", "reservedMicros"), 0);
	for (size_t i = 0; i < n_ok_runs; i++)
		if (fl_run_status(&srv, root, ok_runs[i]) != 200)
			fail_msg("run %s was answered 200 but is not on record", ok_runs[i]);
	hl_call(&srv, "GET", "/api/runs?limit=500", root, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(fl_int(r.json, "total"), (json_int_t)n_ok_runs);
	hl_reply_free(&r);
	/* Only what was recorded was charged. */
	assert_int_equal(fl_ledger_micros(&srv, root, "user:alice", NULL),
			 fl_recorded_micros(&srv, root, "alice"));
	snprintf(db, sizeof(db), "%s/ledgerbox.db", srv.state);
	tl_run(sqlite_argv, NULL, &o);
	assert_int_equal(o.exit_code, 0);
	assert_string_equal(o.out, "ok\n");
	tl_output_free(&o);
	tl_run(audit_argv, NULL, &o);
	if (o.exit_code != 0)
		fail_msg("audit verify: %s%s", o.out, o.err);
	tl_output_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(starts_on_a_small_disk),
		cmocka_unit_test(full_disk_refuses_writes_clearly),
		cmocka_unit_test(disk_fills_during_a_run),
		cmocka_unit_test(freed_disk_works_again),
	};
	return cmocka_run_group_tests_name("fault_disk", tests, mount_state, unmount_state);
}
