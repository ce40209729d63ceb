/*
 * Fault: hard budgets on PostgreSQL while the database restarts, stops
 * for a while, or a node dies.
 *
 * A PostgreSQL of the test's own (pgcluster.h; the shared one is never
 * stopped) holds two servers' state. A hard budget covers a few long
 * runs at once; retrying clients press for more while the database is
 * restarted three times (each followed by `ledgerbox budget list`, whose
 * open sweeps stale reservations) and then stopped for 15 s. A poller
 * reads spend + live reservations straight from PostgreSQL whenever it is
 * up and records any instant above the limit; at the end the ledger must
 * be within the limit too. Then a third server with a short lease is
 * killed with reservations outstanding: they must end within its runs'
 * deadline plus the lease (and a slack), and not before the kill's runs
 * could have ended. Last, through the library, a release and a
 * settlement that failed because the database was away land by run id
 * once it is back, without another call.
 *
 * Waits are bounded polls; the whole program stays near a minute.
 */
#include <sys/stat.h>

#include "budget/budget.h"
#include "util/clock.h"
#include "fault/faultlib.h"
#include "support/pgcluster.h"

#define FEE_TEXT "0.001"
#define LIMIT_MICROS 6000 /* six runs at the fee */
#define HOLDERS 6
#define PRESSERS 4
#define PEPPER_BYTES 32
#define KILL_RUNS 3

static struct pgc pg;
static char db_env[PGC_URL_MAX + 32];
static struct server node_a, node_b, node_c;
static char *root, *loader, *killer;

#define COMMON_ENV                                                                   \
	db_env, "LEDGERBOX_PRICE_CPU_PER_S=0", "LEDGERBOX_PRICE_MEM_PER_GB_S=0",        \
		"LEDGERBOX_PRICE_RUN=" FEE_TEXT, "LEDGERBOX_CACHE=off",                      \
		"LEDGERBOX_QUEUE_MAX=64", "LEDGERBOX_KEY_CONCURRENT=1000",                   \
		"LEDGERBOX_USER_CONCURRENT=1000", "LEDGERBOX_KEY_RATE_PER_MIN=1000000",      \
		"LEDGERBOX_USER_RATE_PER_MIN=1000000", "LEDGERBOX_BUDGET_TZ=UTC"

/* A lease longer than the 15 s stop: the guarantee's condition. */
static char *long_lease_env[] = { COMMON_ENV, "LEDGERBOX_RESERVATION_LEASE_S=25", NULL };
static char *short_lease_env[] = { COMMON_ENV, "LEDGERBOX_RESERVATION_LEASE_S=4", NULL };

static const char holder_run[] = "{\"language\":\"python\",\"code\":\"import time\\n"
				 "time.sleep(20)\\nprint('held')\",\"limits\":{\"timeoutMs\":25000}}";
static const char presser_run[] = "{\"language\":\"python\",\"code\":\"print('more')\","
				  "\"limits\":{\"timeoutMs\":2000}}";
static const char kill_run[] = "{\"language\":\"python\",\"code\":\"import time\\n"
			       "time.sleep(30)\",\"limits\":{\"timeoutMs\":5000}}";

/* ---- PostgreSQL read directly ---- */

/* Spend plus live reservations of a scope; -1 when the database does not
 * answer. The lease column is read through to_jsonb so the same query
 * works on a schema without leases (every reservation then counts). */
static long long scope_held(const char *scope, long long *ret_reserved)
{
	const char *params[] = { scope };
	PGconn *c = PQconnectdb(pg.url);
	PGresult *res;
	long long v = -1;

	if (PQstatus(c) == CONNECTION_OK) {
		res = PQexecParams(
			c,
			"SELECT (SELECT COALESCE(SUM(amount_micros), 0) FROM ledger WHERE scope = $1),"
			" (SELECT COALESCE(SUM(r.amount_micros), 0) FROM reservations r"
			"  WHERE r.scope = $1 AND (to_jsonb(r)->>'expires_at' IS NULL"
			"  OR (to_jsonb(r)->>'expires_at')::timestamptz > now()))",
			1, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
			long long reserved = atoll(PQgetvalue(res, 0, 1));

			v = atoll(PQgetvalue(res, 0, 0)) + reserved;
			if (ret_reserved)
				*ret_reserved = reserved;
		}
		PQclear(res);
	}
	PQfinish(c);
	return v;
}

static long long count_of(const char *sql)
{
	PGconn *c = PQconnectdb(pg.url);
	PGresult *res = PQexec(c, sql);
	long long v = -1;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		v = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(c);
	return v;
}

/* ---- the poller ---- */

/* Samples spend + live reservations. While every holder's run is still
 * going (armed, and none answered before or after the sample), the
 * holders' money must all be held: a sample below the limit then means a
 * live run's reservation stopped counting. */
struct poller {
	const char *scope;
	struct fl_load *holders;
	volatile bool stop, armed;
	long long max_held;
	unsigned samples, over, dropped;
};

static void *poller_main(void *arg)
{
	struct poller *p = arg;

	while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
		bool live = __atomic_load_n(&p->armed, __ATOMIC_ACQUIRE) &&
			    fl_loads_done(p->holders, HOLDERS, 0) == 0;
		long long held = scope_held(p->scope, NULL);

		live = live && fl_loads_done(p->holders, HOLDERS, 0) == 0;
		if (held >= 0) {
			p->samples++;
			if (held > p->max_held)
				p->max_held = held;
			if (held > LIMIT_MICROS)
				p->over++;
			if (live && held < LIMIT_MICROS)
				p->dropped++;
		}
		fl_sleep_ms(100);
	}
	return NULL;
}

/* ---- clients ---- */

/* Asks for runs again and again until the deadline, as a client whose
 * runs are refused for the budget would. */
struct presser {
	struct server *srv;
	uint64_t until_ms;
	unsigned admitted;
};

static void *presser_main(void *arg)
{
	struct presser *p = arg;
	struct reply r;

	while (fl_now_ms() < p->until_ms) {
		hl_call_timeout(p->srv, "POST", "/api/analyze", loader, presser_run,
				strlen(presser_run), NULL, 10000, &r);
		if (r.status == 200)
			p->admitted++;
		hl_reply_free(&r);
		fl_sleep_ms(700);
	}
	return NULL;
}

static void budget_list_cli(void)
{
	char *argv[] = { (char *)tl_bin(), "budget", "list", NULL };
	struct tl_output o;

	hl_env_apply(&node_a);
	tl_run(argv, NULL, &o);
	if (o.exit_code != 0)
		printf("# ledgerbox budget list: exit %d: %s\n", o.exit_code, o.err ? o.err : "");
	tl_output_free(&o);
}

/* ---- set-up ---- */

static void pepper_copy(const struct server *from, const struct server *to)
{
	char path[700], buf[PEPPER_BYTES];
	int fd;

	snprintf(path, sizeof(path), "%s/key-pepper", from->state);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), PEPPER_BYTES);
	close(fd);
	mkdir(to->state, 0700);
	snprintf(path, sizeof(path), "%s/key-pepper", to->state);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, sizeof(buf)), PEPPER_BYTES);
	close(fd);
}

/* Node A's folders and demo data; another node gets its own state folder
 * and log, and its own environment. */
static void node_prepare_like_a(struct server *s, const char *name, char *const env[])
{
	int n = 0;

	*s = node_a;
	s->pid = 0;
	snprintf(s->state, sizeof(s->state), "%s/%s-state", tl_tmp(), name);
	snprintf(s->log, sizeof(s->log), "%s/%s-server.log", tl_tmp(), name);
	while (n < 23 && env[n]) {
		s->extra_env[n] = env[n];
		n++;
	}
	s->extra_env[n] = NULL;
}

static int setup(void **state)
{
	(void)state;
	/* The cluster's folder goes under the test's tmp folder and runs as
	 * the postgres user, who must be able to pass through it. */
	assert_int_equal(chmod(tl_tmp(), 0711), 0);
	pgc_start(&pg, "budget");
	snprintf(db_env, sizeof(db_env), "LEDGERBOX_DATABASE_URL=%s", pg.url);
	hl_prepare(&node_a, "pgb-a", long_lease_env);
	snprintf(node_a.db_env, sizeof(node_a.db_env), "%s", db_env);
	node_prepare_like_a(&node_b, "pgb-b", long_lease_env);
	node_prepare_like_a(&node_c, "pgb-c", short_lease_env);
	root = hl_key_create(&node_a, "root", "ops", "admin");
	loader = hl_key_create(&node_a, "loader", "load", "analyst");
	killer = hl_key_create(&node_a, "killer", "load", "analyst");
	pepper_copy(&node_a, &node_b);
	pepper_copy(&node_a, &node_c);
	hl_start(&node_a);
	hl_start(&node_b);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (node_a.pid > 0)
		hl_stop(&node_a, SIGKILL);
	if (node_b.pid > 0)
		hl_stop(&node_b, SIGKILL);
	if (node_c.pid > 0)
		hl_stop(&node_c, SIGKILL);
	pgc_stop(&pg);
	free(root);
	free(loader);
	free(killer);
	curl_global_cleanup();
	return 0;
}

/* ---- tests ---- */

static void wait_reserved(const char *scope, long long want, unsigned timeout_ms)
{
	uint64_t until = fl_now_ms() + timeout_ms;
	long long reserved = 0;

	while (fl_now_ms() < until) {
		if (scope_held(scope, &reserved) >= 0 && reserved >= want)
			return;
		fl_sleep_ms(50);
	}
	fail_msg("%s never held %lld micro-units of reservations (last %lld)", scope, want,
		 reserved);
}

/* Restarts and a stop never let spend + reservations pass the limit. */
static void test_restarts_and_stop_never_overspend(void **state)
{
	struct fl_load holders[HOLDERS];
	struct presser pressers[PRESSERS];
	pthread_t holder_t[HOLDERS], presser_t[PRESSERS], poll_t;
	struct poller poll = { .scope = "user:loader", .holders = holders };
	long long held, reserved = 0;
	uint64_t until, t0;
	unsigned admitted = 0;

	(void)state;
	fl_put_budget(&node_a, root, "/api/budgets/user/loader",
		      "{\"limit\":\"0.006\",\"period\":\"none\",\"hard\":true}");
	assert_int_equal(pthread_create(&poll_t, NULL, poller_main, &poll), 0);
	for (int i = 0; i < HOLDERS; i++) {
		memset(&holders[i], 0, sizeof(holders[i]));
		holders[i].srv = i % 2 ? &node_b : &node_a;
		holders[i].key = loader;
		holders[i].timeout_ms = 60000;
		snprintf(holders[i].body, sizeof(holders[i].body), "%s", holder_run);
		assert_int_equal(pthread_create(&holder_t[i], NULL, fl_load_main, &holders[i]), 0);
	}
	wait_reserved("user:loader", LIMIT_MICROS, 20000);
	__atomic_store_n(&poll.armed, true, __ATOMIC_RELEASE);
	t0 = fl_now_ms();
	until = t0 + 34000;
	/* Each restart ends every session; the CLI's open then sweeps what
	 * it takes for stale, as a second node would. The holders' nodes are
	 * idle meanwhile (their runs sleep), as in a quiet hour; the clients
	 * pressing for more come after the first sweep. */
	for (int i = 0; i < 3; i++) {
		pgc_do(&pg, "restart");
		budget_list_cli();
		if (i > 0)
			continue;
		for (int k = 0; k < PRESSERS; k++) {
			pressers[k] = (struct presser){ k % 2 ? &node_b : &node_a, until, 0 };
			assert_int_equal(
				pthread_create(&presser_t[k], NULL, presser_main, &pressers[k]), 0);
		}
		fl_sleep_ms(1000);
	}
	printf("# restarts done after %llu ms\n", (unsigned long long)(fl_now_ms() - t0));
	fl_sleep_ms(4000); /* the clients' turn, with the database up */
	pgc_do(&pg, "halt");
	fl_sleep_ms(15000);
	pgc_do(&pg, "resume");
	printf("# resumed after %llu ms\n", (unsigned long long)(fl_now_ms() - t0));
	for (int i = 0; i < HOLDERS; i++)
		pthread_join(holder_t[i], NULL);
	for (int i = 0; i < PRESSERS; i++) {
		pthread_join(presser_t[i], NULL);
		admitted += pressers[i].admitted;
	}
	printf("# clients done after %llu ms; %u more runs admitted\n",
	       (unsigned long long)(fl_now_ms() - t0), admitted);
	/* Settlements kept while the database was away land once it is
	 * back: wait until nothing is reserved any more. */
	until = fl_now_ms() + 40000;
	while (fl_now_ms() < until && (scope_held("user:loader", &reserved) < 0 || reserved > 0))
		fl_sleep_ms(200);
	__atomic_store_n(&poll.stop, true, __ATOMIC_RELEASE);
	pthread_join(poll_t, NULL);
	held = scope_held("user:loader", &reserved);
	printf("# settled after %llu ms\n", (unsigned long long)(fl_now_ms() - t0));
	printf("# samples %u, highest spend+reserved %lld of %d, %u above, %u below while"
	       " every holder ran; ledger %lld, reserved %lld\n",
	       poll.samples, poll.max_held, LIMIT_MICROS, poll.over, poll.dropped, held - reserved,
	       reserved);
	assert_true(poll.samples > 10);
	assert_int_equal(poll.dropped, 0);
	assert_int_equal(poll.over, 0);
	assert_true(held - reserved <= LIMIT_MICROS);
	assert_int_equal(reserved, 0);
}

/* A killed node's reservations end with their lease: held at the kill,
 * gone within the runs' deadline plus the lease and a slack, and then
 * swept by the next open. */
static void test_killed_node_reservations_end_with_lease(void **state)
{
	struct fl_load runs[KILL_RUNS];
	pthread_t run_t[KILL_RUNS];
	long long reserved = -1;
	uint64_t reserved_at, until;

	(void)state;
	hl_start(&node_c);
	fl_put_budget(&node_c, root, "/api/budgets/user/killer",
		      "{\"limit\":\"1\",\"period\":\"none\",\"hard\":true}");
	for (int i = 0; i < KILL_RUNS; i++) {
		memset(&runs[i], 0, sizeof(runs[i]));
		runs[i].srv = &node_c;
		runs[i].key = killer;
		runs[i].timeout_ms = 30000;
		snprintf(runs[i].body, sizeof(runs[i].body), "%s", kill_run);
		assert_int_equal(pthread_create(&run_t[i], NULL, fl_load_main, &runs[i]), 0);
	}
	wait_reserved("user:killer", KILL_RUNS * 1000, 20000);
	reserved_at = fl_now_ms();
	hl_stop(&node_c, SIGKILL);
	for (int i = 0; i < KILL_RUNS; i++)
		pthread_join(run_t[i], NULL);
	/* The node's session is gone, yet the leases go on. */
	assert_true(scope_held("user:killer", &reserved) >= 0);
	assert_int_equal(reserved, KILL_RUNS * 1000);
	/* Deadline 5 s + lease 4 s, and 4 s of slack. */
	until = reserved_at + 5000 + 4000 + 4000;
	while (fl_now_ms() < until && (scope_held("user:killer", &reserved) < 0 || reserved > 0))
		fl_sleep_ms(200);
	printf("# a killed node's reservations held %lld micro-units %llu ms after the"
	       " reservation\n",
	       reserved, (unsigned long long)(fl_now_ms() - reserved_at));
	assert_int_equal(reserved, 0);
	budget_list_cli();
	assert_int_equal(count_of("SELECT count(*) FROM reservations WHERE scope = 'user:killer'"),
			 0);
}

/* Through the library: a release and a settlement the database was away
 * for land by run id once it is back, with no further call; a restart in
 * between is invisible to the next call. */
static void test_unknown_outcomes_land_once_back(void **state)
{
	struct budget_scopes who = { "libteam", "libuser", NULL };
	struct budget_def def = { .scope = "user:libuser", .limit_micros = 10000,
				  .period = PERIOD_NONE, .soft_percent = 100, .hard = true };
	uint64_t ledger = 0, reserved = 0;
	struct budgets *b = NULL;
	char err[300];
	uint64_t until;
	long long held, res = 0;

	(void)state;
	if (budget_open_url(NULL, pg.url, &b, err, sizeof(err)) < 0)
		fail_msg("budget_open_url: %s", err);
	budget_lease_set(b, 2000);
	assert_int_equal(budget_set(b, &def), 0);
	/* A restart ends the session: the next call reconnects and works. */
	assert_int_equal(budget_reserve_for(b, "lib-restart", &who, 1000, 1000, clock_unix_ms(),
					    NULL, NULL, NULL), 0);
	pgc_do(&pg, "restart");
	assert_int_equal(budget_release(b, "lib-restart"), 0);
	/* Away during the release and the settlement. */
	assert_int_equal(budget_reserve_for(b, "lib-release", &who, 1000, 1000, clock_unix_ms(),
					    NULL, NULL, NULL), 0);
	assert_int_equal(budget_reserve_for(b, "lib-settle", &who, 2000, 1000, clock_unix_ms(),
					    NULL, NULL, NULL), 0);
	pgc_do(&pg, "halt");
	assert_true(budget_release(b, "lib-release") < 0);
	assert_true(budget_settle(b, "lib-settle", &who, 1500, NULL, clock_unix_ms(), NULL,
				  NULL) < 0);
	/* What a caller does after a failed settlement: release. It must
	 * not drop the money the pending settlement still holds. */
	(void)budget_release(b, "lib-settle");
	fl_sleep_ms(3000); /* past the 2 s lease's renewal, with no database */
	pgc_do(&pg, "resume");
	until = fl_now_ms() + 20000;
	do {
		fl_sleep_ms(200);
		held = scope_held("user:libuser", &res);
	} while (fl_now_ms() < until && (held != 1500 || res != 0));
	printf("# once back: user:libuser spend+reserved %lld, reserved %lld\n", held, res);
	assert_int_equal(held, 1500);
	assert_int_equal(res, 0);
	assert_int_equal(count_of("SELECT count(*) FROM ledger WHERE run_id = 'lib-settle'"), 3);
	assert_int_equal(count_of("SELECT count(*) FROM reservations WHERE run_id LIKE 'lib-%'"),
			 0);
	assert_int_equal(budget_totals(b, &ledger, &reserved), 0);
	budget_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restarts_and_stop_never_overspend),
		cmocka_unit_test(test_killed_node_reservations_end_with_lease),
		cmocka_unit_test(test_unknown_outcomes_land_once_back),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
