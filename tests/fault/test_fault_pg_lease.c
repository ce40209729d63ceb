/*
 * Fault: the leases of PostgreSQL reservations when the database goes
 * away or the node's connection is busy.
 *
 * A PostgreSQL of the test's own (pgcluster.h; the shared one is never
 * stopped) is stopped while a node lets go of more runs than its
 * pending-release list holds: once it is back, every one of those
 * reservations must stop counting within the lease (a released run the
 * node still renews would hold its money for as long as the node lives).
 * It is stopped for less than the lease from the worst moment, just after
 * a renewal: a run living on renewals must still count, so another node
 * is refused. And another session holds the budget write lock while a
 * call of the node waits for it: renewals must go on meanwhile.
 *
 * Waits are bounded polls; the program stays under a minute.
 */
#include <sys/stat.h>

#include "budget/budget.h"
#include "util/clock.h"
#include "fault/faultlib.h"
#include "support/pgcluster.h"

#define LEASE_MS 2000
/* One more than the pending-release list holds (BUDGET_PENDING_MAX). */
#define RUNS 65

static struct pgc pg;

/* Reservations of run ids starting with prefix that still count. */
static long long live_reservations(const char *prefix)
{
	char pattern[64];
	const char *params[] = { pattern };
	PGconn *c = PQconnectdb(pg.url);
	PGresult *res;
	long long v = -1;

	snprintf(pattern, sizeof(pattern), "%s%%", prefix);
	res = PQexecParams(c,
			   "SELECT count(*) FROM reservations WHERE run_id LIKE $1"
			   " AND expires_at > now()",
			   1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		v = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(c);
	return v;
}

/* Polls until no reservation of prefix counts; the last count. */
static long long wait_none_live(const char *prefix, unsigned timeout_ms)
{
	uint64_t until = fl_now_ms() + timeout_ms;
	long long n;

	do {
		fl_sleep_ms(200);
		n = live_reservations(prefix);
	} while (fl_now_ms() < until && n != 0);
	return n;
}

static struct budgets *lease_handle(const char *scope, uint64_t lease_ms)
{
	struct budget_def def = { .limit_micros = 1000000, .period = PERIOD_NONE,
				  .soft_percent = 100, .hard = true };
	struct budgets *b = NULL;
	char err[300];

	if (budget_open_url(NULL, pg.url, &b, err, sizeof(err)) < 0)
		fail_msg("budget_open_url: %s", err);
	budget_lease_set(b, lease_ms);
	snprintf(def.scope, sizeof(def.scope), "%s", scope);
	assert_int_equal(budget_set(b, &def), 0);
	return b;
}

static void reserve_runs(struct budgets *b, const struct budget_scopes *who, const char *prefix)
{
	char run_id[64];

	for (int i = 0; i < RUNS; i++) {
		snprintf(run_id, sizeof(run_id), "%s%d", prefix, i);
		assert_int_equal(budget_reserve_for(b, run_id, who, 10, 0, clock_unix_ms(), NULL,
						    NULL, NULL),
				 0);
	}
}

/* Releases made while the database is stopped, more than the pending list
 * holds: none of the released runs may be renewed once it is back. */
static void test_released_while_away_are_not_renewed(void **state)
{
	struct budget_scopes who = { "leaseteam", "leaseuser", NULL };
	struct budgets *b;
	char run_id[64];
	long long left;

	(void)state;
	b = lease_handle("user:leaseuser", LEASE_MS);
	reserve_runs(b, &who, "rel-");
	pgc_do(&pg, "halt");
	for (int i = 0; i < RUNS; i++) {
		snprintf(run_id, sizeof(run_id), "rel-%d", i);
		assert_true(budget_release(b, run_id) < 0);
	}
	pgc_do(&pg, "resume");
	/* Within the lease and a few renewals, nothing may count. */
	left = wait_none_live("rel-", 4 * LEASE_MS);
	printf("# released while away, still counting after %d ms: %lld\n", 4 * LEASE_MS, left);
	assert_int_equal(left, 0);
	budget_close(b);
}

/* Settlements that cannot be written nor kept (more than the pending list
 * holds), each followed by the release a caller makes after a failed
 * settlement: no run may stay renewed. */
static void test_unkept_settlements_are_not_renewed(void **state)
{
	struct budget_scopes who = { "leaseteam", "settleuser", NULL };
	struct budgets *b;
	char run_id[64];
	long long left;

	(void)state;
	b = lease_handle("user:settleuser", LEASE_MS);
	reserve_runs(b, &who, "set-");
	pgc_do(&pg, "halt");
	for (int i = 0; i < RUNS; i++) {
		snprintf(run_id, sizeof(run_id), "set-%d", i);
		assert_true(budget_settle(b, run_id, &who, 5, NULL, clock_unix_ms(), NULL, NULL) <
			    0);
		(void)budget_release(b, run_id);
	}
	pgc_do(&pg, "resume");
	left = wait_none_live("set-", 4 * LEASE_MS);
	printf("# settled while away, still counting after %d ms: %lld\n", 4 * LEASE_MS, left);
	assert_int_equal(left, 0);
	budget_close(b);
}

/* The end of run_id's lease in ms since the epoch, on the database's
 * clock; -1 when there is none or the database does not answer. */
static long long lease_end_ms(const char *run_id)
{
	const char *params[] = { run_id };
	PGconn *c = PQconnectdb(pg.url);
	PGresult *res = PQexecParams(c,
				     "SELECT (extract(epoch FROM max(expires_at)) * 1000)::bigint"
				     " FROM reservations WHERE run_id = $1",
				     1, NULL, params, NULL, NULL, 0);
	long long v = -1;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    !PQgetisnull(res, 0, 0))
		v = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(c);
	return v;
}

/* Returns when the node has just renewed run_id's lease (its end moved). */
static void wait_renewal(const char *run_id, unsigned timeout_ms)
{
	uint64_t until = fl_now_ms() + timeout_ms;
	long long first = lease_end_ms(run_id), now;

	assert_true(first > 0);
	do {
		fl_sleep_ms(50);
		now = lease_end_ms(run_id);
	} while (fl_now_ms() < until && now == first);
	assert_true(now > first);
}

/* A database stopped for less than the lease, from just after a renewal
 * to well past one lease after it: the lease of a run that lives only on
 * renewals (a queued run, a pending settlement) must still count once it
 * is back, before any renewal had a chance. */
static void test_outage_shorter_than_lease_keeps_renewed_lease(void **state)
{
	struct budget_scopes who = { "leaseteam", "gapuser", NULL };
	const uint64_t lease_ms = 9000;
	uint64_t renewed_at, halted_at, back_at;
	struct budgets *b, *other;
	long long left;
	int taken;

	(void)state;
	b = lease_handle("user:gapuser", lease_ms);
	assert_int_equal(budget_reserve_for(b, "gap-x", &who, 10, 0, clock_unix_ms(), NULL, NULL,
					    NULL),
			 0);
	/* From here on the lease lives on renewals only. */
	wait_renewal("gap-x", (unsigned)lease_ms);
	renewed_at = fl_now_ms();
	fl_sleep_ms(2000);
	halted_at = fl_now_ms();
	pgc_do(&pg, "halt");
	fl_sleep_ms((unsigned)(renewed_at + lease_ms + 500 - fl_now_ms()));
	pgc_do(&pg, "resume");
	back_at = fl_now_ms();
	left = live_reservations("gap-");
	/* Another node asking for the rest of the limit and a little more
	 * must be refused: the first run's money is still held. */
	other = lease_handle("user:gapuser", lease_ms);
	taken = budget_reserve_for(other, "gap-y", &who, 999995, 0, clock_unix_ms(), NULL, NULL,
				   NULL);
	budget_close(other);
	printf("# away %llu ms (lease %llu ms): the renewed lease still counts: %lld;"
	       " another node's reservation past the limit: %d\n",
	       (unsigned long long)(back_at - halted_at), (unsigned long long)lease_ms, left, taken);
	assert_true(back_at - halted_at < lease_ms);
	assert_int_equal(left, 1);
	assert_int_equal(taken, -EDQUOT);
	assert_int_equal(budget_release(b, "gap-x"), 0);
	budget_close(b);
}

/* A budget call of the node that waits for the budget write lock. */
struct blocked_call {
	struct budgets *b;
	int r;
};

static void *blocked_set_main(void *arg)
{
	struct blocked_call *c = arg;
	struct budget_def def = { .scope = "team:starveother", .limit_micros = 1000,
				  .period = PERIOD_NONE, .soft_percent = 100, .hard = true };

	c->r = budget_set(c->b, &def);
	return NULL;
}

/* Another node holds the budget write lock for longer than the lease, and
 * a budget call of this node waits for it meanwhile: the renewals of its
 * live runs must go on, or a queued run's money stops counting. */
static void test_renewals_go_on_while_a_call_waits(void **state)
{
	struct budget_scopes who = { "leaseteam", "starveuser", NULL };
	struct blocked_call call = { NULL, 1 };
	PGconn *holder = PQconnectdb(pg.url);
	PGresult *res;
	pthread_t t;
	long long left;

	(void)state;
	call.b = lease_handle("user:starveuser", LEASE_MS);
	assert_int_equal(budget_reserve_for(call.b, "starve-x", &who, 10, 0, clock_unix_ms(), NULL,
					    NULL, NULL),
			 0);
	res = PQexec(holder, "BEGIN; SELECT pg_advisory_xact_lock(7140112836)");
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	PQclear(res);
	assert_int_equal(pthread_create(&t, NULL, blocked_set_main, &call), 0);
	fl_sleep_ms(3 * LEASE_MS);
	left = live_reservations("starve-");
	PQclear(PQexec(holder, "COMMIT"));
	PQfinish(holder);
	pthread_join(t, NULL);
	printf("# %d ms behind another node's write lock: the live run's lease counts: %lld\n",
	       3 * LEASE_MS, left);
	assert_int_equal(left, 1);
	assert_int_equal(call.r, 0);
	assert_int_equal(budget_release(call.b, "starve-x"), 0);
	budget_close(call.b);
}

static int setup(void **state)
{
	(void)state;
	assert_int_equal(chmod(tl_tmp(), 0711), 0);
	pgc_start(&pg, "lease");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	pgc_stop(&pg);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_released_while_away_are_not_renewed),
		cmocka_unit_test(test_unkept_settlements_are_not_renewed),
		cmocka_unit_test(test_outage_shorter_than_lease_keeps_renewed_lease),
		cmocka_unit_test(test_renewals_go_on_while_a_call_waits),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
