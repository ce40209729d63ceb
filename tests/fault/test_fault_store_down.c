/*
 * Fault: the state store goes away while the server runs, and comes back.
 *
 * PostgreSQL (a cluster of the test's own, pgcluster.h; never the shared
 * one): while it is stopped, a valid key's requests are answered 503 with
 * Retry-After and a message naming the database, promptly and without
 * counting as wrong guesses (afterwards a wrong key still has its free
 * failures), and a well-formed wrong key also gets 503 (it cannot be
 * checked). The first request after it is back, and after a fast restart
 * that ends every session, works. A run that finishes while the database
 * is stopped, and is started again within the request's deadline, is on
 * record and charged once; one still waiting when the server gets SIGTERM
 * holds the shutdown no longer than its grace period, and is answered "not
 * kept, nothing charged", which is so. A read that the database cuts short
 * after the key check (a statement timeout) is a 503 too.
 *
 * SQLite: the state directory is a small tmpfs of the test's own (root is
 * not stopped by file modes, and a file system cannot be remounted
 * read-only while the server holds its database open for writing), filled
 * up and freed again. Writes get 503 with Retry-After and a message saying
 * the disk is full; reads and key checks go on; a run that finishes
 * meanwhile is recorded once there is room, or answered "not kept, nothing
 * charged" with nothing charged. Then the server is stopped, the disk
 * filled, and it must start on the full disk: reads work, writes get 503
 * "disk is full", and once space is freed writes work again.
 *
 * Each group's teardown stops its server, its cluster or its mount.
 */

#include "fault/faultlib.h"
#include "store/store.h"
#include "support/pgcluster.h"
#include "support/pgtest.h"

static struct server srv;
static struct pgc pg;
static char *alice, *root;
static bool mounted;
static char filler[600];

static char *env_vars[] = { "LEDGERBOX_CACHE=off", "LEDGERBOX_MAX_RUNS=2",
			    "LEDGERBOX_BUDGET_TZ=UTC", "LEDGERBOX_PRICE_RUN=0.01",
			    "LEDGERBOX_ANALYZE_DEADLINE_MS=60000",
			    "LEDGERBOX_SHUTDOWN_GRACE_MS=2000", NULL };

static const char *print_run = "{\"language\":\"python\",\"code\":\"print('here')\"}";
static const char *sleep_run = "{\"language\":\"python\",\"code\":"
			       "\"import time\\ntime.sleep(3)\\nprint('slept')\"}";
/* Well formed (43 characters that decode to 32 bytes), but no key. */
static const char *wrong_key = "lbx_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/* Well before the 5 s a slowed-down wrong guess waits. */
#define PROMPT_MS 2000
#define FREE_FAILURES 5

static uint64_t timed_call(const char *method, const char *path, const char *key,
			   const char *body, struct reply *r)
{
	uint64_t t0 = fl_now_ms();

	hl_call(&srv, method, path, key, body, r);
	return fl_now_ms() - t0;
}

/* A 503 "store_unavailable" with Retry-After whose message holds `says`. */
static void assert_unavailable(const char *what, const struct reply *r, const char *says)
{
	json_t *e = json_object_get(r->json, "error");
	const char *code = hl_str(e, "code"), *msg = hl_str(e, "message");
	char *retry = hl_header(r, "Retry-After");

	if (r->status != 503 || !code || strcmp(code, "store_unavailable") != 0)
		fail_msg("%s while the store is away: %ld %s", what, r->status, r->body);
	if (!retry || atoi(retry) <= 0)
		fail_msg("%s: no Retry-After in the 503", what);
	if (!msg || !strstr(msg, says))
		fail_msg("%s: the message does not say \"%s\": %s", what, says, msg ? msg : "");
	free(retry);
}

static const char *run_id_of(const struct reply *r)
{
	const char *id = hl_str(r->json, "id");

	assert_non_null(id);
	return id;
}

static void *sleeping_run(void *arg)
{
	hl_call(&srv, "POST", "/api/analyze", alice, sleep_run, arg);
	return NULL;
}

/* Waits until the sleeping run holds its reservation (it is running). */
static void wait_reserved(void)
{
	uint64_t end = fl_now_ms() + 30000;

	while (fl_budget_int(&srv, root, "user:alice", "reservedMicros") == 0 && fl_now_ms() < end)
		fl_sleep_ms(20);
	assert_true(fl_budget_int(&srv, root, "user:alice", "reservedMicros") > 0);
}

/* A run answered 200 is on record and charged exactly its cost, once. */
static void assert_recorded_and_charged_once(const struct reply *r)
{
	const char *id = run_id_of(r);
	json_int_t cost = fl_int(json_object_get(r->json, "cost"), "totalMicros");

	assert_true(cost > 0);
	if (fl_run_status(&srv, root, id) != 200)
		fail_msg("run %s was answered 200 but is not on record", id);
	assert_int_equal(fl_ledger_micros(&srv, root, "user:alice", id), cost);
	assert_int_equal(fl_budget_int(&srv, root, "user:alice", "reservedMicros"), 0);
}

static void keys_and_budget(void)
{
	alice = hl_key_create(&srv, "alice", "finance", "analyst");
	root = hl_key_create(&srv, "root", "it", "admin");
	hl_start(&srv);
	fl_put_budget(&srv, root, "/api/budgets/user/alice",
		      "{\"limit\":\"100\",\"period\":\"monthly\",\"hard\":true}");
}

/* ---- PostgreSQL ---- */

static int pg_setup(void **state)
{
	(void)state;
	pgc_start(&pg, "store-down");
	hl_prepare(&srv, "store-down-pg", env_vars);
	snprintf(srv.db_env, sizeof(srv.db_env), "LEDGERBOX_DATABASE_URL=%s", pg.url);
	keys_and_budget();
	return 0;
}

static int pg_teardown(void **state)
{
	int r = 0;
	(void)state;

	if (srv.pid > 0)
		r = hl_stop_clean(&srv);
	pgc_stop(&pg);
	free(alice);
	free(root);
	alice = root = NULL;
	curl_global_cleanup();
	return r;
}

static void pg_stopped_is_503_not_a_wrong_key(void **state)
{
	struct reply r;
	uint64_t ms;
	(void)state;

	pgc_do(&pg, "halt");
	for (int i = 0; i < 2 * FREE_FAILURES; i++) {
		ms = timed_call("GET", "/api/runs", alice, NULL, &r);
		assert_unavailable("a valid key's GET /api/runs", &r, "cannot be reached");
		if (ms >= PROMPT_MS)
			fail_msg("answer %d took %llu ms: the valid client was slowed down", i,
				 (unsigned long long)ms);
		hl_reply_free(&r);
	}
	/* It cannot be known to be wrong while it cannot be looked up. */
	hl_call(&srv, "GET", "/api/runs", wrong_key, NULL, &r);
	assert_unavailable("a wrong key", &r, "cannot be reached");
	hl_reply_free(&r);
	hl_call(&srv, "POST", "/api/analyze", alice, print_run, &r);
	assert_unavailable("a run", &r, "cannot be reached");
	hl_reply_free(&r);
	pgc_do(&pg, "resume");
	hl_call(&srv, "GET", "/api/runs", alice, NULL, &r);
	if (r.status != 200)
		fail_msg("the first request after PostgreSQL came back: %ld %s", r.status, r.body);
	hl_reply_free(&r);
	/* None of the 503s counted as a wrong guess: the free failures are
	 * all still there. */
	for (int i = 0; i < FREE_FAILURES; i++) {
		ms = timed_call("GET", "/api/runs", wrong_key, NULL, &r);
		assert_int_equal(r.status, 401);
		if (ms >= PROMPT_MS)
			fail_msg("wrong key %d after the outage took %llu ms: the outage counted as "
				 "wrong guesses", i + 1, (unsigned long long)ms);
		hl_reply_free(&r);
	}
}

static void first_request_after_a_restart_works(void **state)
{
	struct reply r;
	char path[128];
	(void)state;

	pgc_do(&pg, "restart");
	hl_call(&srv, "GET", "/api/runs", alice, NULL, &r);
	if (r.status != 200)
		fail_msg("the first read after a restart: %ld %s", r.status, r.body);
	hl_reply_free(&r);
	pgc_do(&pg, "restart");
	hl_call(&srv, "POST", "/api/analyze", alice, print_run, &r);
	if (r.status != 200)
		fail_msg("the first run after a restart: %ld %s", r.status, r.body);
	snprintf(path, sizeof(path), "/api/runs/%s", run_id_of(&r));
	assert_recorded_and_charged_once(&r);
	hl_reply_free(&r);
	pgc_do(&pg, "restart");
	hl_call(&srv, "GET", path, alice, NULL, &r);
	if (r.status != 200)
		fail_msg("GET %s first after a restart: %ld %s", path, r.status, r.body);
	hl_reply_free(&r);
}

static void run_finishing_while_pg_is_stopped_is_recorded(void **state)
{
	struct reply r;
	pthread_t t;
	(void)state;

	assert_int_equal(pthread_create(&t, NULL, sleeping_run, &r), 0);
	wait_reserved();
	pgc_do(&pg, "halt");
	/* The run ends meanwhile and finds no database to record it in. */
	fl_sleep_ms(4500);
	pgc_do(&pg, "resume");
	pthread_join(t, NULL);
	if (r.status != 200)
		fail_msg("a run that finished while PostgreSQL was briefly away: %ld %s", r.status,
			 r.body);
	assert_recorded_and_charged_once(&r);
	hl_reply_free(&r);
}

/* SIGTERM while a finished run waits for the database to record it: the
 * wait ends with the shutdown's grace period, not the request's 60 s
 * deadline, and the client is told plainly that nothing was kept or
 * charged, which the server started again confirms. */
static void stop_while_a_run_waits_to_be_recorded(void **state)
{
	struct reply r;
	pthread_t t;
	json_int_t spent = fl_budget_int(&srv, root, "user:alice", "spentMicros");
	int status;
	(void)state;

	assert_int_equal(pthread_create(&t, NULL, sleeping_run, &r), 0);
	wait_reserved();
	pgc_do(&pg, "halt");
	fl_sleep_ms(4500); /* the run has ended and waits for the database */
	kill(srv.pid, SIGTERM);
	/* Grace (2 s) and the drain's margin (5 s), well short of 60 s. */
	status = fl_wait_exit(&srv, 20000);
	pthread_join(t, NULL);
	pgc_do(&pg, "resume");
	if (status == -2)
		fail_msg("the server did not stop within 20 s of SIGTERM while a run waited to "
			 "be recorded (grace 2 s, request deadline 60 s)");
	assert_int_equal(status, 0);
	assert_unavailable("a run whose record was cut short by the shutdown", &r,
			   "nothing was charged");
	hl_reply_free(&r);
	hl_start(&srv);
	assert_int_equal(fl_budget_int(&srv, root, "user:alice", "spentMicros"), spent);
	assert_int_equal(fl_budget_int(&srv, root, "user:alice", "reservedMicros"), 0);
}

/* Ends the server's PostgreSQL sessions, so the next query opens a new one
 * that takes the database's settings as they are now. */
static void pg_sessions_renewed(void)
{
	pgt_exec(pg.url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
			 " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()");
}

/* A read that fails after the key was checked (here the admin's key list,
 * long enough to outlast a statement timeout that the key lookup does
 * not reach) is the store's passing fault, not a server error: 503 with
 * Retry-After, naming what could not be read. */
static void read_failing_after_the_key_check_is_503(void **state)
{
	struct reply r;
	(void)state;

	pgt_exec(pg.url, "INSERT INTO api_keys(principal_id, key_hash, created_ms)"
			 " SELECT (SELECT min(id) FROM principals),"
			 " decode(md5(i::text) || md5('k' || i::text), 'hex'), 0"
			 " FROM generate_series(1, 400000) i");
	pgt_exec(pg.url, "ALTER DATABASE postgres SET statement_timeout = '100ms'");
	pg_sessions_renewed();
	hl_call(&srv, "GET", "/api/keys", root, NULL, &r);
	pgt_exec(pg.url, "ALTER DATABASE postgres RESET statement_timeout");
	pgt_exec(pg.url, "DELETE FROM api_keys WHERE created_ms = 0");
	pg_sessions_renewed();
	assert_unavailable("GET /api/keys cut short by the database", &r, "keys");
	hl_reply_free(&r);
	hl_call(&srv, "GET", "/api/keys", root, NULL, &r);
	assert_int_equal(r.status, 200);
	hl_reply_free(&r);
}

/* ---- SQLite ---- */

static int sqlite_setup(void **state)
{
	(void)state;
	hl_prepare(&srv, "store-down-sqlite", env_vars);
	srv.db_env[0] = '\0'; /* SQLite in the state directory, whatever the pass */
	snprintf(filler, sizeof(filler), "%s/filler", srv.state);
	fl_mount_small_tmpfs(srv.state);
	mounted = true;
	keys_and_budget();
	return 0;
}

static int sqlite_teardown(void **state)
{
	int r = 0;
	(void)state;

	if (srv.pid > 0)
		r = hl_stop_clean(&srv);
	if (mounted && umount2(srv.state, 0) < 0)
		umount2(srv.state, MNT_DETACH);
	mounted = false;
	free(alice);
	free(root);
	curl_global_cleanup();
	return r;
}

static void full_state_refuses_writes_keeps_reads(void **state)
{
	struct reply r;
	(void)state;

	fl_fill_disk(srv.state, filler);
	hl_call(&srv, "POST", "/api/analyze", alice, print_run, &r);
	assert_unavailable("a run", &r, "disk is full");
	hl_reply_free(&r);
	hl_call(&srv, "PUT", "/api/budgets/team/finance", root, "{\"limit\":\"50.00\"}", &r);
	assert_unavailable("a budget change", &r, "disk is full");
	hl_reply_free(&r);
	hl_call(&srv, "GET", "/api/runs", alice, NULL, &r);
	if (r.status != 200)
		fail_msg("a read while the state disk is full: %ld %s", r.status, r.body);
	hl_reply_free(&r);
	assert_int_equal(unlink(filler), 0);
	hl_call(&srv, "POST", "/api/analyze", alice, print_run, &r);
	if (r.status != 200)
		fail_msg("a run once the state disk has room again: %ld %s", r.status, r.body);
	assert_recorded_and_charged_once(&r);
	hl_reply_free(&r);
}

/* Recorded when the disk has room again in time, or plainly not kept and
 * then really not charged. */
static void run_finishing_on_a_full_disk_is_kept_or_not_charged(void **state)
{
	int64_t spent_before = fl_ledger_micros(&srv, root, "user:alice", NULL);
	const char *msg;
	struct reply r, after;
	pthread_t t;
	(void)state;

	assert_int_equal(pthread_create(&t, NULL, sleeping_run, &r), 0);
	wait_reserved();
	fl_fill_disk(srv.state, filler);
	pthread_join(t, NULL);
	assert_int_equal(unlink(filler), 0);
	if (r.status == 200) {
		assert_recorded_and_charged_once(&r);
		hl_reply_free(&r);
		return;
	}
	assert_unavailable("a run that finished on a full disk", &r, "disk is full");
	msg = hl_str(json_object_get(r.json, "error"), "message");
	if (!strstr(msg, "not kept") || !strstr(msg, "nothing was charged"))
		fail_msg("a run that could not be recorded does not say so: %s", msg);
	hl_reply_free(&r);
	assert_int_equal(fl_ledger_micros(&srv, root, "user:alice", NULL), spent_before);
	/* The next run goes through, and nothing of the lost one stays
	 * reserved or charged. */
	hl_call(&srv, "POST", "/api/analyze", alice, print_run, &after);
	assert_int_equal(after.status, 200);
	assert_recorded_and_charged_once(&after);
	assert_int_equal(fl_ledger_micros(&srv, root, "user:alice", NULL),
			 spent_before + fl_int(json_object_get(after.json, "cost"), "totalMicros"));
	hl_reply_free(&after);
}

static void starts_on_a_full_disk(void **state)
{
	char err[512], why[256];
	struct store *s;
	struct reply r;
	(void)state;

	assert_int_equal(hl_stop(&srv, SIGTERM), 0);
	fl_fill_disk(srv.state, filler);
	hl_start(&srv);
	hl_call(&srv, "GET", "/api/runs", alice, NULL, &r);
	if (r.status != 200)
		fail_msg("a read on a full disk: %ld %s", r.status, r.body);
	hl_reply_free(&r);
	hl_call(&srv, "POST", "/api/analyze", alice, print_run, &r);
	assert_unavailable("a run on a full disk", &r, "disk is full");
	hl_reply_free(&r);
	/* What a readiness check can ask: the store opens and answers, but
	 * cannot take a write, and says why. */
	assert_int_equal(store_open(srv.state, &s, err, sizeof(err)), 0);
	assert_false(store_available(s, why, sizeof(why)));
	assert_non_null(strstr(why, "disk is full"));
	assert_int_equal(unlink(filler), 0);
	assert_true(store_available(s, why, sizeof(why)));
	store_close(s);
	hl_call(&srv, "POST", "/api/analyze", alice, print_run, &r);
	if (r.status != 200)
		fail_msg("a run once space is freed: %ld %s", r.status, r.body);
	assert_recorded_and_charged_once(&r);
	hl_reply_free(&r);
}

int main(void)
{
	const struct CMUnitTest on_postgres[] = {
		cmocka_unit_test(pg_stopped_is_503_not_a_wrong_key),
		cmocka_unit_test(first_request_after_a_restart_works),
		cmocka_unit_test(run_finishing_while_pg_is_stopped_is_recorded),
		cmocka_unit_test(stop_while_a_run_waits_to_be_recorded),
		cmocka_unit_test(read_failing_after_the_key_check_is_503),
	};
	const struct CMUnitTest on_sqlite[] = {
		cmocka_unit_test(full_state_refuses_writes_keeps_reads),
		cmocka_unit_test(run_finishing_on_a_full_disk_is_kept_or_not_charged),
		cmocka_unit_test(starts_on_a_full_disk),
	};
	int failed = cmocka_run_group_tests_name("store_down_postgres", on_postgres, pg_setup,
						 pg_teardown);

	return failed + cmocka_run_group_tests_name("store_down_sqlite", on_sqlite, sqlite_setup,
						    sqlite_teardown);
}
