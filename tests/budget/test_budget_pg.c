/*
 * Tests of src/budget on PostgreSQL (budget_open_url with a postgres://
 * URL): the shared behaviours of budget_cases.h, run against a fresh
 * database each, and what only several nodes sharing one database bring:
 * URL dispatch, the schema migrated once by nodes starting together, the
 * hard limit held across eight handles reserving at once, reservations of
 * a dead node ending with their lease (counted nowhere, then swept) while a
 * live node's stay, a lost connection taken up again, and a release that
 * failed retried later.
 *
 * Every case works in its own database (pgtest.h), dropped at its end.
 * The process runs in TZ=UTC.
 */
#include "testlib.h"

#include "support/pgtest.h"

#include "budget/budget_cases.h"

/* ------------------------------------------------------------------ */
/* The fixture: a fresh database, and raw SQL on it                    */

static int fx_setup(void **state)
{
	struct budget_fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	fx->url = malloc(PGT_URL_MAX);
	assert_non_null(fx->url);
	pgt_db_create("budgetpg", fx->url);
	*state = fx;
	return 0;
}

static int fx_teardown(void **state)
{
	struct budget_fx *fx = *state;

	pgt_db_drop(fx->url);
	free(fx->url);
	free(fx);
	return 0;
}

/* Runs one statement on a test database as the superuser. */
static void raw_exec(const char *url, const char *sql)
{
	PGconn *c = PQconnectdb(url);
	PGresult *res;

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("connect: %s", PQerrorMessage(c));
	res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(res);
	PQfinish(c);
}

/* The first value of a one-row query, as text into out. */
static const char *raw_text(const char *url, const char *sql, char *out, size_t len)
{
	PGconn *c = PQconnectdb(url);
	PGresult *res;

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("connect: %s", PQerrorMessage(c));
	res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	snprintf(out, len, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(c);
	return out;
}

/* Whether a statement fails on a test database. */
static bool raw_fails(const char *url, const char *sql)
{
	PGconn *c = PQconnectdb(url);
	PGresult *res = PQexec(c, sql);
	bool failed = PQresultStatus(res) != PGRES_COMMAND_OK &&
		      PQresultStatus(res) != PGRES_TUPLES_OK;

	PQclear(res);
	PQfinish(c);
	return failed;
}

/* ------------------------------------------------------------------ */
/* Opening                                                             */

static void open_url_dispatch(void **state)
{
	const struct budget_fx *fx = *state;
	char *dir, err[512] = "";
	struct budgets *b = NULL;
	json_t *o;

	/* No URL: the SQLite budgets in the state directory, as budget_open. */
	assert_true(asprintf(&dir, "%s/budget-pg-%ld", tl_tmp(), (long)getpid()) > 0);
	assert_int_equal(budget_open_url(dir, NULL, &b, err, sizeof(err)), 0);
	def_set(b, "org", 7, PERIOD_NONE, 100, true);
	budget_close(b);
	b = NULL;
	assert_int_equal(budget_open_url(dir, "", &b, err, sizeof(err)), 0);
	o = listed(b, "org", NOW_MS);
	assert_non_null(o);
	assert_int_equal(int_field(o, "limitMicros"), 7);
	json_decref(o);
	budget_close(b);
	b = NULL;
	assert_int_equal(budget_open_url(NULL, "", &b, err, sizeof(err)), -EINVAL);
	assert_int_equal(budget_open_url(dir, "mysql://x", &b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "postgres://"));
	assert_int_equal(budget_open_url(dir, "postgresql://127.0.0.1:1/none?connect_timeout=2",
					 &b, err, sizeof(err)),
			 -ECONNREFUSED);
	assert_null(b);

	/* A PostgreSQL URL: a fresh database starts empty, whatever the
	 * state directory holds. */
	assert_int_equal(budget_open_url(dir, fx->url, &b, err, sizeof(err)), 0);
	assert_null(listed(b, "org", NOW_MS));
	budget_close(b);
	budget_close(NULL);
	free(dir);
}

struct opener {
	const char *url;
	int r;
};

static void *open_once(void *arg)
{
	struct opener *o = arg;
	char err[256];
	struct budgets *b = NULL;

	o->r = budget_open_url(NULL, o->url, &b, err, sizeof(err));
	budget_close(b);
	return NULL;
}

static void schema_migrated_once(void **state)
{
	const struct budget_fx *fx = *state;
	const char *url = fx->url;
	char text[64], err[512] = "";
	struct opener o[6];
	pthread_t t[6];
	struct budgets *b, *none = NULL;

	/* Nodes starting at once on an empty database all succeed. */
	for (int i = 0; i < 6; i++) {
		o[i].url = url;
		o[i].r = 1;
		assert_int_equal(pthread_create(&t[i], NULL, open_once, &o[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(o[i].r, 0);
	}
	assert_string_equal(raw_text(url, "SELECT version FROM ledgerbox_schema"
					  " WHERE part = 'budget'",
				     text, sizeof(text)),
			    "2");

	b = fx_open(fx);
	assert_int_equal(settle(b, "q1", &alice, 5, NOW_MS), 0);
	budget_close(b);
	/* The ledger is append-only through SQL. */
	assert_true(raw_fails(url, "UPDATE ledger SET amount_micros = 0"));
	assert_true(raw_fails(url, "DELETE FROM ledger"));
	assert_true(raw_fails(url, "TRUNCATE ledger"));
	b = fx_open(fx);
	assert_int_equal(ledger_total(b), 3 * 5);
	budget_close(b);

	/* Tables from a newer ledgerbox are refused, not guessed at. */
	raw_exec(url, "UPDATE ledgerbox_schema SET version = 99 WHERE part = 'budget'");
	assert_int_equal(budget_open_url(NULL, url, &none, err, sizeof(err)), -EPROTONOSUPPORT);
	assert_null(none);
	assert_non_null(strstr(err, "99"));
}

/* ------------------------------------------------------------------ */
/* Nodes: dead ones' leases end, live ones kept, connections taken up  */

static void dead_node_leases_end_live_node_kept(void **state)
{
	const struct budget_fx *fx = *state;
	struct budgets *dead, *live, *later;
	struct budget_status st[4];
	size_t n = 0;

	dead = fx_open(fx);
	live = fx_open(fx);
	/* The shortest lease, so the dead node's ends within the test. */
	budget_lease_set(dead, BUDGET_LEASE_MIN_MS);
	def_set(dead, "org", 100, PERIOD_NONE, 100, true);
	assert_int_equal(reserve(dead, "d1", &alice, 40, NOW_MS), 0);
	assert_int_equal(reserve(live, "l1", &alice, 30, NOW_MS), 0);
	assert_int_equal(reserve(live, "l2", &alice, 20, NOW_MS), 0);
	assert_int_equal(settle(live, "l2", &alice, 20, NOW_MS), 0);
	/* Opening while both are alive sweeps nothing. */
	later = fx_open(fx);
	assert_int_equal(reserved_total(later), 70);
	budget_close(later);

	/* The "dead" node's session ends without releasing d1: it still
	 * counts until its lease ends, then nowhere, swept or not. */
	budget_close(dead);
	later = fx_open(fx);
	assert_int_equal(reserved_total(later), 70);
	budget_close(later);
	usleep((BUDGET_LEASE_MIN_MS + 1000) * 1000);
	assert_int_equal(reserved_total(live), 30); /* d1 expired, l1 renewed */
	later = fx_open(fx);
	assert_int_equal(pgt_count(fx->url, "SELECT count(*) FROM reservations WHERE run_id = 'd1'"),
			 0); /* and swept by the open */
	assert_int_equal(reserved_total(later), 30);
	assert_int_equal(reserve(later, "n1", &alice, 50, NOW_MS), 0);
	assert_int_equal(reserve(later, "n2", &alice, 1, NOW_MS), -EDQUOT);

	/* The live node still settles its run; a late settlement of the swept
	 * run is recorded too (the ledger is the truth). */
	assert_int_equal(budget_settle(live, "l1", &alice, 25, NULL, NOW_MS, st, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(st[0].spent_micros, 45);
	assert_int_equal(st[0].reserved_micros, 50);
	assert_int_equal(settle(later, "d1", &alice, 0, NOW_MS), 0);
	assert_int_equal(ledger_total(later), 3 * 45);
	assert_int_equal(spend_sum(later, "", 0, INT64_MAX), ledger_total(later));
	budget_close(live);
	budget_close(later);
}

static void lost_connection_taken_up_again(void **state)
{
	const struct budget_fx *fx = *state;
	const char *url = fx->url;
	char sql[512];
	struct budgets *b, *other;

	b = fx_open(fx);
	def_set(b, "org", 100, PERIOD_NONE, 100, true);
	assert_int_equal(reserve(b, "c1", &alice, 60, NOW_MS), 0);
	/* The server ends every session of the database (as a restart does). */
	snprintf(sql, sizeof(sql),
		 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
		 " WHERE datname = '%s' AND pid <> pg_backend_pid()",
		 strrchr(url, '/') + 1);
	raw_exec(url, sql);
	/* The next call reconnects and takes the node lock again, so the
	 * node's reservation is still its own and is not swept. */
	assert_int_equal(reserved_total(b), 60);
	other = fx_open(fx);
	assert_int_equal(reserved_total(other), 60);
	assert_int_equal(reserve(other, "c2", &alice, 41, NOW_MS), -EDQUOT);
	assert_int_equal(reserve(b, "c3", &alice, 40, NOW_MS), 0);
	budget_close(other);
	budget_close(b);
}

static void failed_release_retried(void **state)
{
	const struct budget_fx *fx = *state;
	const char *url = fx->url;
	struct budgets *b;

	b = fx_open(fx);
	def_set(b, "org", 100, PERIOD_NONE, 100, true);
	assert_int_equal(reserve(b, "p1", &alice, 70, NOW_MS), 0);
	/* Deletes from reservations fail for a while (as on a full disk). */
	raw_exec(url, "CREATE FUNCTION no_delete() RETURNS trigger LANGUAGE plpgsql AS"
		      " $$ BEGIN RAISE EXCEPTION 'no room'; END $$");
	raw_exec(url, "CREATE TRIGGER no_delete BEFORE DELETE ON reservations"
		      " FOR EACH ROW EXECUTE FUNCTION no_delete()");
	assert_int_equal(budget_release(b, "p1"), -EIO);
	assert_int_equal(reserved_total(b), 70);
	raw_exec(url, "DROP TRIGGER no_delete ON reservations");
	/* The next reservation retries the release first, so its room counts. */
	assert_int_equal(reserve(b, "p2", &alice, 100, NOW_MS), 0);
	assert_int_equal(reserved_total(b), 100);
	budget_close(b);
}

/* ------------------------------------------------------------------ */
/* The invariant with eight nodes at once                              */

/* 8 nodes x 25 reservations of 10 against a hard limit of 100: exactly 10
 * succeed, whatever the interleaving; after settling half and releasing
 * the rest, the ledger is exactly the costs settled and exactly the room
 * left can still be reserved. */
static void race_eight_nodes(void **state)
{
	struct race race;

	race_open(&race, *state, RACE_THREADS, 25, "eight");
	race_contention(&race);
	race_close(&race);
}

int main(void)
{
	const struct CMUnitTest shared[] = {
		BUDGET_CASES(fx_setup, fx_teardown),
	};
	const struct CMUnitTest own[] = {
		cmocka_unit_test_setup_teardown(open_url_dispatch, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(schema_migrated_once, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(dead_node_leases_end_live_node_kept, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(lost_connection_taken_up_again, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(failed_release_retried, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(race_eight_nodes, fx_setup, fx_teardown),
	};
	int failed;

	assert_int_equal(setenv("TZ", "UTC", 1), 0);
	tzset();
	failed = cmocka_run_group_tests_name("budget (PostgreSQL)", shared, NULL, NULL);
	failed += cmocka_run_group_tests_name("budget (PostgreSQL only)", own, NULL, NULL);
	return failed;
}
