/*
 * Fault: the leases of PostgreSQL reservations when their release or
 * settlement cannot be written because the database is away.
 *
 * A PostgreSQL of the test's own (pgcluster.h; the shared one is never
 * stopped) is stopped while a node lets go of more runs than its
 * pending-release list holds. Once the database is back, every one of
 * those reservations must stop counting within the lease: a released run
 * that the node still renews would keep its money held for as long as the
 * node lives.
 *
 * Waits are bounded polls; the program stays under half a minute.
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

static struct budgets *lease_handle(const char *scope)
{
	struct budget_def def = { .limit_micros = 1000000, .period = PERIOD_NONE,
				  .soft_percent = 100, .hard = true };
	struct budgets *b = NULL;
	char err[300];

	if (budget_open_url(NULL, pg.url, &b, err, sizeof(err)) < 0)
		fail_msg("budget_open_url: %s", err);
	budget_lease_set(b, LEASE_MS);
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
	b = lease_handle("user:leaseuser");
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
	b = lease_handle("user:settleuser");
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
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
