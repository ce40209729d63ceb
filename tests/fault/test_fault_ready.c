/*
 * Fault: /readyz tells a balancer the truth, and a node shutting down
 * answers rather than refusing connections.
 *
 * - The state directory (a small tmpfs of this test's own) fills up:
 *   /readyz answers 503 naming "state not writable" and, once the filler
 *   is gone, 200 again.
 * - The PostgreSQL back end (a cluster of this test's own, never the
 *   shared one) is halted: 503 "database unreachable"; resumed: 200. Its
 *   processes are stopped (SIGSTOP: connections open, nothing answered):
 *   503 "database unreachable" within seconds, though no probe finishes;
 *   continued: 200, and keys work.
 * - Every 503 of /readyz carries a sane Retry-After.
 * - The database's key_pepper row stops matching this node's pepper:
 *   503 naming the pepper, and no key is served; restored: 200 and keys
 *   work. The same when the row changes behind a running node and the
 *   database then restarts: the node reconnects, checks the pepper again
 *   and serves no key with it.
 * - SIGTERM with two runs running and four queued: the queued ones are
 *   answered 503 shutting_down with Retry-After, reserve and cost nothing;
 *   meanwhile /readyz says "shutting down" and new requests get 503 with
 *   Retry-After (the node still listens); the running ones finish 200.
 *
 * Waits are bounded polls; nothing asserts on time.
 */
#include <sys/mount.h>
#include <sys/statvfs.h>

#include "fault/faultlib.h"
#include "support/pgcluster.h"

#define POLL_MS 20000

/* The server of the test under way and the tmpfs it may have mounted:
 * stopped and unmounted by the teardown, however the test ended. */
static struct server srv;
static bool mounted;

static int test_teardown(void **state)
{
	(void)state;
	if (srv.pid > 0) {
		kill(srv.pid, SIGKILL);
		waitpid(srv.pid, NULL, 0);
		srv.pid = 0;
	}
	if (mounted && umount2(srv.state, 0) < 0)
		umount2(srv.state, MNT_DETACH);
	mounted = false;
	return 0;
}

static const char *sleep_code(unsigned seconds, int tag, char *out, size_t len)
{
	snprintf(out, len,
		 "{\"language\":\"python\",\"code\":\"import time\\ntime.sleep(%u)\\nprint(%d)\"}",
		 seconds, tag);
	return out;
}

/* Polls /readyz until its status is `want`, and for a 503 until its
 * reason contains `reason`; fails the test with the last answer else. */
static void readyz_until(struct server *s, long want, const char *reason)
{
	uint64_t end = fl_now_ms() + POLL_MS;
	char last[600] = "";
	struct reply r;

	for (;;) {
		hl_call_timeout(s, "GET", "/readyz", NULL, NULL, 0, NULL, 10000, &r);
		if (r.status == want &&
		    (!reason || (hl_str(r.json, "reason") && strstr(hl_str(r.json, "reason"), reason) &&
				 hl_str(r.json, "message") && hl_str(r.json, "message")[0]))) {
			/* A 503 says when to ask again, as every 503 does. */
			char *retry = want == 503 ? hl_header(&r, "Retry-After") : NULL;
			bool retry_sane = retry && atoi(retry) > 0 && atoi(retry) <= 60;

			free(retry);
			if (want == 503 && !retry_sane)
				fail_msg("/readyz 503 (%s) has no sane Retry-After", reason ? reason : "");
			hl_reply_free(&r);
			return;
		}
		snprintf(last, sizeof(last), "%ld %.500s", r.status, r.body ? r.body : "");
		hl_reply_free(&r);
		if (fl_now_ms() >= end)
			fail_msg("/readyz never answered %ld%s%s; last: %s", want, reason ? " " : "",
				 reason ? reason : "", last);
		fl_sleep_ms(100);
	}
}

/* ---- the state directory fills up ---- */

static void state_full_is_not_ready(void **state)
{
	static char *env[] = { "LEDGERBOX_CACHE=off", "LEDGERBOX_WARM_POOL_MAX=0", NULL };
	char filler[600];
	(void)state;

	hl_prepare(&srv, "ready-disk", env);
	if (mkdir(srv.state, 0700) < 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", srv.state, strerror(errno));
	if (mount("tmpfs", srv.state, "tmpfs", MS_NOSUID | MS_NODEV, "size=8m,mode=0700") < 0)
		fail_msg("mount tmpfs on %s: %s (the test needs root)", srv.state, strerror(errno));
	mounted = true;
	free(hl_key_create(&srv, "root", "it", "admin"));
	hl_start(&srv);
	readyz_until(&srv, 200, NULL);
	snprintf(filler, sizeof(filler), "%s/filler", srv.state);
	fl_fill_disk(srv.state, filler);
	readyz_until(&srv, 503, "state not writable");
	assert_int_equal(unlink(filler), 0);
	readyz_until(&srv, 200, NULL);
	assert_int_equal(hl_stop(&srv, SIGTERM), 0);
}

/* ---- PostgreSQL: unreachable, and a pepper that does not match ---- */

static struct pgc cluster;

static int pg_teardown(void **state)
{
	(void)state;
	pgc_stop(&cluster);
	return 0;
}

/* The URL of the cluster's database `name` (letters and '_'). */
static void db_url(const char *name, char *out, size_t len)
{
	size_t base = strlen(cluster.url) - strlen("postgres");

	assert_true(strlen(cluster.url) > strlen("postgres") &&
		    strcmp(cluster.url + base, "postgres") == 0);
	snprintf(out, len, "%.*s%s", (int)base, cluster.url, name);
}

/* A node whose state is in a database of its own in the test's cluster;
 * returns an analyst key. */
static char *pg_node_start(const char *name)
{
	static char *env[] = { "LEDGERBOX_CACHE=off", "LEDGERBOX_WARM_POOL_MAX=0", NULL };
	char sql[128], url[PGC_URL_MAX];
	char *key;

	hl_prepare(&srv, name, env);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	pgt_exec(cluster.url, sql);
	db_url(name, url, sizeof(url));
	snprintf(srv.db_env, sizeof(srv.db_env), "LEDGERBOX_DATABASE_URL=%s", url);
	key = hl_key_create(&srv, "erin", "ops", "analyst");
	hl_start(&srv);
	readyz_until(&srv, 200, NULL);
	return key;
}

static long me_status(const char *key)
{
	struct reply r;
	long status;

	hl_call_timeout(&srv, "GET", "/api/me", key, NULL, 0, NULL, 10000, &r);
	status = r.status;
	hl_reply_free(&r);
	return status;
}

static void pg_halted_is_not_ready(void **state)
{
	char *key;
	(void)state;

	chmod(tl_tmp(), 0711); /* the cluster's own user walks into it */
	pgc_start(&cluster, "ready");
	key = pg_node_start("ready_pg");
	pgc_do(&cluster, "halt");
	readyz_until(&srv, 503, "database unreachable");
	pgc_do(&cluster, "resume");
	readyz_until(&srv, 200, NULL);
	assert_int_equal(me_status(key), 200);
	assert_int_equal(hl_stop(&srv, SIGTERM), 0);
	free(key);
}

/* Stops (sig SIGSTOP) or continues (SIGCONT) the cluster's postmaster and
 * every process of it: a database that accepts connections but answers
 * nothing, the worst kind of slow. */
static void cluster_signal(int sig)
{
	char path[600], text[64] = "";
	static struct fl_procs procs;
	size_t len = 0;
	pid_t postmaster;

	snprintf(path, sizeof(path), "%s/data/postmaster.pid", cluster.dir);
	assert_true(fl_read_file(path, text, sizeof(text), &len));
	postmaster = (pid_t)atoi(text);
	assert_true(postmaster > 1);
	procs.n = 0;
	fl_descendants(postmaster, &procs);
	kill(postmaster, sig);
	for (size_t i = 0; i < procs.n; i++)
		if (procs.p[i].pid > 1)
			kill(procs.p[i].pid, sig);
}

/* A database that stops answering (its processes stopped, connections
 * still open) is not ready within seconds, though no probe can finish;
 * once it runs again the node is ready and serves. */
static void pg_frozen_is_not_ready(void **state)
{
	uint64_t end;
	struct reply r;
	char last[600] = "";
	bool said_unready = false;
	char *key;
	(void)state;

	key = pg_node_start("ready_frozen");
	fl_sleep_ms(1100); /* the last probe's answer is stale: the next one probes */
	cluster_signal(SIGSTOP);
	end = fl_now_ms() + POLL_MS;
	while (!said_unready && fl_now_ms() < end) {
		/* The call that runs the probe waits for the database; the
		 * ones after it must not be told "ready" meanwhile. */
		hl_call_timeout(&srv, "GET", "/readyz", NULL, NULL, 0, NULL, 4000, &r);
		said_unready = r.status == 503 && hl_str(r.json, "reason") &&
			       strstr(hl_str(r.json, "reason"), "database unreachable");
		snprintf(last, sizeof(last), "%ld %.500s", r.status, r.body ? r.body : "");
		hl_reply_free(&r);
		fl_sleep_ms(200);
	}
	cluster_signal(SIGCONT);
	if (!said_unready)
		fail_msg("/readyz never said \"database unreachable\" while PostgreSQL answered "
			 "nothing; last: %s", last);
	readyz_until(&srv, 200, NULL);
	assert_int_equal(me_status(key), 200);
	assert_int_equal(hl_stop(&srv, SIGTERM), 0);
	free(key);
}

#define PEPPER_ROW_SAVE                                                                            \
	"CREATE TABLE IF NOT EXISTS pepper_saved AS SELECT fingerprint FROM key_pepper WHERE id = 1"
#define PEPPER_ROW_BREAK "UPDATE key_pepper SET fingerprint = repeat('0', 64) WHERE id = 1"
#define PEPPER_ROW_RESTORE                                                                         \
	"UPDATE key_pepper SET fingerprint = (SELECT fingerprint FROM pepper_saved) WHERE id = 1"

static void pepper_mismatch_is_not_ready(void **state)
{
	char url[PGC_URL_MAX];
	char *key;
	(void)state;

	key = pg_node_start("ready_pepper");
	db_url("ready_pepper", url, sizeof(url));
	pgt_exec(url, PEPPER_ROW_SAVE);
	pgt_exec(url, PEPPER_ROW_BREAK);
	readyz_until(&srv, 503, "key pepper does not match the database");
	assert_int_equal(me_status(key), 503);
	pgt_exec(url, PEPPER_ROW_RESTORE);
	readyz_until(&srv, 200, NULL);
	assert_int_equal(me_status(key), 200);
	assert_int_equal(hl_stop(&srv, SIGTERM), 0);
	free(key);
}

/* The row changes while the node serves, then the database restarts: the
 * node's next calls reconnect, and from the reconnect on no key is
 * served, with no /readyz asked in between. */
static void pepper_checked_on_reconnect(void **state)
{
	char url[PGC_URL_MAX];
	char *key;
	(void)state;

	key = pg_node_start("ready_reconnect");
	assert_int_equal(me_status(key), 200);
	db_url("ready_reconnect", url, sizeof(url));
	pgt_exec(url, PEPPER_ROW_SAVE);
	pgt_exec(url, PEPPER_ROW_BREAK);
	pgc_do(&cluster, "restart");
	/* The first call may meet the dead connection; every call after it
	 * runs on a new one. */
	(void)me_status(key);
	for (int i = 0; i < 3; i++)
		assert_int_equal(me_status(key), 503);
	readyz_until(&srv, 503, "key pepper does not match the database");
	pgt_exec(url, PEPPER_ROW_RESTORE);
	readyz_until(&srv, 200, NULL);
	assert_int_equal(me_status(key), 200);
	assert_int_equal(hl_stop(&srv, SIGTERM), 0);
	free(key);
}

/* ---- SIGTERM with runs queued ---- */

#define RUNNING 2
#define QUEUED 4

static void sigterm_refuses_queued_and_new(void **state)
{
	static char *env[] = { "LEDGERBOX_WARM_POOL_MAX=0", "LEDGERBOX_MAX_RUNS=2",
			       "LEDGERBOX_QUEUE_MAX=16", "LEDGERBOX_CACHE=off",
			       "LEDGERBOX_SHUTDOWN_GRACE_MS=20000", "LEDGERBOX_PRICE_RUN=0.01",
			       "LEDGERBOX_BUDGET_TZ=UTC", "LEDGERBOX_KEY_CONCURRENT=100",
			       "LEDGERBOX_USER_CONCURRENT=100", NULL };
	static struct fl_load loads[RUNNING + QUEUED];
	pthread_t t[RUNNING + QUEUED];
	uint64_t end = fl_now_ms() + POLL_MS;
	struct reply r;
	char *dave, *root, *ra;
	int code;
	(void)state;

	hl_prepare(&srv, "ready-term", env);
	dave = hl_key_create(&srv, "dave", "ops", "analyst");
	root = hl_key_create(&srv, "root", "it", "admin");
	hl_start(&srv);
	fl_put_budget(&srv, root, "/api/budgets/user/dave",
		      "{\"limit\":\"1000\",\"period\":\"monthly\",\"hard\":true}");
	/* The running ones first, then the queued ones behind them. */
	for (int i = 0; i < RUNNING + QUEUED; i++) {
		loads[i] = (struct fl_load){ .srv = &srv, .key = dave, .timeout_ms = 60000 };
		sleep_code(i < RUNNING ? 6 : 1, i, loads[i].body, sizeof(loads[i].body));
		assert_int_equal(pthread_create(&t[i], NULL, fl_load_main, &loads[i]), 0);
		while (fl_admitted(&srv) < i + 1 && fl_now_ms() < end)
			fl_sleep_ms(20);
	}
	assert_int_equal(fl_admitted(&srv), RUNNING + QUEUED);
	assert_int_equal(kill(srv.pid, SIGTERM), 0);
	/* Still listening: /readyz says why it is not ready. */
	readyz_until(&srv, 503, "shutting down");
	/* The queued runs are refused at once, while the running ones go on. */
	for (int i = RUNNING; i < RUNNING + QUEUED; i++)
		pthread_join(t[i], NULL);
	for (int i = RUNNING; i < RUNNING + QUEUED; i++) {
		if (loads[i].status != 503 || !loads[i].retry_after ||
		    strcmp(loads[i].error_code, "shutting_down") != 0)
			fail_msg("queued run %d got %ld %s %s", i, loads[i].status,
				 loads[i].error_code, loads[i].error_message);
	}
	assert_int_equal(fl_loads_done(loads, RUNNING, 0), 0);
	/* New requests, a run and a read, meet a clear 503, not a refused
	 * connection. */
	hl_call_timeout(&srv, "POST", "/api/analyze", dave, loads[0].body, strlen(loads[0].body),
			NULL, 10000, &r);
	ra = hl_header(&r, "Retry-After");
	if (r.status != 503 || !ra || strcmp(hl_str(json_object_get(r.json, "error"), "code") ?: "",
					      "shutting_down") != 0)
		fail_msg("a new run during the drain got %ld %s", r.status, r.body);
	free(ra);
	hl_reply_free(&r);
	hl_call_timeout(&srv, "GET", "/api/me", dave, NULL, 0, NULL, 10000, &r);
	ra = hl_header(&r, "Retry-After");
	if (r.status != 503 || !ra)
		fail_msg("a new read during the drain got %ld %s", r.status, r.body);
	free(ra);
	hl_reply_free(&r);
	/* The running ones finish within the grace period. */
	for (int i = 0; i < RUNNING; i++) {
		pthread_join(t[i], NULL);
		if (loads[i].status != 200 || strcmp(loads[i].run_status, "ok") != 0)
			fail_msg("running run %d got %ld %s %s", i, loads[i].status,
				 loads[i].run_status, loads[i].error_code);
	}
	code = fl_wait_exit(&srv, 30000);
	assert_int_equal(code, 0);
	/* Only the two that ran are on record and charged; nothing stays
	 * reserved for the refused ones. */
	hl_start(&srv);
	assert_int_equal(fl_budget_int(&srv, root, "user:dave", "reservedMicros"), 0);
	hl_call(&srv, "GET", "/api/runs?user=dave&limit=50", root, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(fl_int(r.json, "total"), RUNNING);
	hl_reply_free(&r);
	assert_int_equal(fl_ledger_micros(&srv, root, "user:dave", NULL),
			 loads[0].cost_micros + loads[1].cost_micros);
	assert_int_equal(fl_ledger_micros(&srv, root, "user:dave", NULL),
			 fl_recorded_micros(&srv, root, "dave"));
	assert_int_equal(hl_stop(&srv, SIGTERM), 0);
	free(dave);
	free(root);
}

int main(void)
{
	const struct CMUnitTest local[] = {
		cmocka_unit_test_teardown(state_full_is_not_ready, test_teardown),
		cmocka_unit_test_teardown(sigterm_refuses_queued_and_new, test_teardown),
	};
	const struct CMUnitTest pg[] = {
		cmocka_unit_test_teardown(pg_halted_is_not_ready, test_teardown),
		cmocka_unit_test_teardown(pg_frozen_is_not_ready, test_teardown),
		cmocka_unit_test_teardown(pepper_mismatch_is_not_ready, test_teardown),
		cmocka_unit_test_teardown(pepper_checked_on_reconnect, test_teardown),
	};
	int failed = cmocka_run_group_tests_name("fault_ready", local, NULL, NULL);

	failed += cmocka_run_group_tests_name("fault_ready_pg", pg, NULL, pg_teardown);
	curl_global_cleanup();
	return failed;
}
