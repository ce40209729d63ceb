/*
 * Tests of src/budget on PostgreSQL (budget_open_url with a postgres://
 * URL): the behaviours test_budget.c checks on SQLite, and what only
 * several nodes sharing one database bring: the hard limit held across
 * eight handles reserving at once, reservations of a dead node swept while
 * a live node's stay, a lost connection taken up again, and a release that
 * failed retried later.
 *
 * Every test works in its own database (pgtest.h), dropped at its end.
 * Times are fixed instants, never the clock, and the process runs in
 * TZ=UTC.
 */
#include "testlib.h"

#include <inttypes.h>
#include <pthread.h>
#include <time.h>

#include "support/pgtest.h"

#include "budget/budget.h"

#define HOUR_MS (3600 * INT64_C(1000))
#define DAY_MS (24 * HOUR_MS)

static const struct budget_scopes alice = { "finance", "alice", NULL };

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

static struct budgets *open_url(const char *url)
{
	char err[512] = "";
	struct budgets *b = NULL;
	int r = budget_open_url(NULL, url, &b, err, sizeof(err));

	if (r < 0)
		fail_msg("budget_open_url: %d %s", r, err);
	return b;
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

static void def_set(struct budgets *b, const char *scope, uint64_t limit_micros,
		    enum budget_period period, unsigned soft_percent, bool hard)
{
	struct budget_def def;

	memset(&def, 0, sizeof(def));
	snprintf(def.scope, sizeof(def.scope), "%s", scope);
	def.limit_micros = limit_micros;
	def.period = period;
	def.soft_percent = soft_percent;
	def.hard = hard;
	assert_int_equal(budget_set(b, &def), 0);
}

/* A UTC instant in Unix milliseconds. */
static int64_t utc_ms(int year, int month, int day, int hour, int minute)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = month - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = minute;
	return (int64_t)timegm(&tm) * 1000;
}

static uint64_t reserved_total(struct budgets *b)
{
	uint64_t ledger, reserved;

	assert_int_equal(budget_totals(b, &ledger, &reserved), 0);
	return reserved;
}

static uint64_t ledger_total(struct budgets *b)
{
	uint64_t ledger, reserved;

	assert_int_equal(budget_totals(b, &ledger, &reserved), 0);
	return ledger;
}

/* The list entry of one scope (a new reference), or NULL. */
static json_t *listed(struct budgets *b, const char *scope, int64_t now_ms)
{
	json_t *list, *e, *found = NULL;
	size_t i;

	assert_int_equal(budget_list(b, "", now_ms, &list), 0);
	json_array_foreach(list, i, e) {
		if (strcmp(json_string_value(json_object_get(e, "scope")), scope) == 0)
			found = json_incref(e);
	}
	json_decref(list);
	return found;
}

static json_int_t int_field(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	if (!json_is_integer(v))
		fail_msg("%s is not an integer", name);
	return json_integer_value(v);
}

static const char *str_field(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	if (!json_is_string(v))
		fail_msg("%s is not a string", name);
	return json_string_value(v);
}

static int reserve(struct budgets *b, const char *run_id, const struct budget_scopes *s,
		   uint64_t amount, int64_t now_ms)
{
	return budget_reserve(b, run_id, s, amount, now_ms, NULL, NULL, NULL);
}

static int settle(struct budgets *b, const char *run_id, const struct budget_scopes *s,
		  uint64_t cost, int64_t now_ms)
{
	return budget_settle(b, run_id, s, cost, NULL, now_ms, NULL, NULL);
}

/* The sum of the amounts of every ledger entry budget_spend returns. */
static uint64_t spend_sum(struct budgets *b, const char *scope, int64_t from_ms, int64_t to_ms)
{
	json_t *entries, *e;
	uint64_t sum = 0;
	size_t i;

	assert_int_equal(budget_spend(b, scope, from_ms, to_ms, &entries), 0);
	json_array_foreach(entries, i, e)
		sum += (uint64_t)int_field(e, "amountMicros");
	json_decref(entries);
	return sum;
}

#define NOW_MS utc_ms(2026, 5, 14, 12, 0)

/* ------------------------------------------------------------------ */
/* Opening                                                             */

static void open_url_dispatch(void **state)
{
	char *dir, err[512] = "", url[PGT_URL_MAX];
	struct budgets *b = NULL;
	json_t *o;
	(void)state;

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
	free(dir);

	/* A PostgreSQL URL: a fresh database starts empty, whatever the
	 * state directory holds. */
	pgt_db_create("budgetpg", url);
	b = open_url(url);
	assert_null(listed(b, "org", NOW_MS));
	budget_close(b);
	budget_close(NULL);
	pgt_db_drop(url);
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
	char url[PGT_URL_MAX], text[64], err[512] = "";
	struct opener o[6];
	pthread_t t[6];
	struct budgets *b, *none = NULL;
	(void)state;

	pgt_db_create("budgetpg", url);
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
			    "1");

	b = open_url(url);
	assert_int_equal(settle(b, "q1", &alice, 5, NOW_MS), 0);
	budget_close(b);
	/* The ledger is append-only through SQL. */
	assert_true(raw_fails(url, "UPDATE ledger SET amount_micros = 0"));
	assert_true(raw_fails(url, "DELETE FROM ledger"));
	assert_true(raw_fails(url, "TRUNCATE ledger"));
	b = open_url(url);
	assert_int_equal(ledger_total(b), 3 * 5);
	budget_close(b);

	/* Tables from a newer ledgerbox are refused, not guessed at. */
	raw_exec(url, "UPDATE ledgerbox_schema SET version = 99 WHERE part = 'budget'");
	assert_int_equal(budget_open_url(NULL, url, &none, err, sizeof(err)), -EPROTONOSUPPORT);
	assert_null(none);
	assert_non_null(strstr(err, "99"));
	pgt_db_drop(url);
}

/* ------------------------------------------------------------------ */
/* Budgets                                                             */

static void set_list_remove(void **state)
{
	char url[PGT_URL_MAX];
	struct budgets *b;
	struct budget_def bad;
	json_t *list, *org;
	(void)state;

	pgt_db_create("budgetpg", url);
	b = open_url(url);
	def_set(b, "org", 100000000, PERIOD_MONTHLY, 80, true);
	def_set(b, "team:finance", 5000000, PERIOD_WEEKLY, 50, false);
	def_set(b, "user:Zed", 1, PERIOD_DAILY, 50, false);
	def_set(b, "user:alice", 1, PERIOD_DAILY, 50, false);
	assert_int_equal(budget_list(b, "", NOW_MS, &list), 0);
	assert_int_equal(json_array_size(list), 4);
	org = json_array_get(list, 0);
	assert_string_equal(str_field(org, "scope"), "org");
	assert_int_equal(int_field(org, "limitMicros"), 100000000);
	assert_string_equal(str_field(org, "limit"), "100.000000");
	assert_string_equal(str_field(org, "period"), "monthly");
	assert_int_equal(int_field(org, "softPercent"), 80);
	assert_true(json_is_true(json_object_get(org, "hard")));
	assert_int_equal(int_field(org, "spentMicros"), 0);
	assert_string_equal(str_field(org, "spent"), "0.000000");
	assert_int_equal(int_field(org, "reservedMicros"), 0);
	assert_int_equal(int_field(org, "remainingMicros"), 100000000);
	assert_string_equal(str_field(org, "periodStart"), "2026-05-01T00:00:00.000Z");
	assert_string_equal(str_field(org, "periodEnd"), "2026-06-01T00:00:00.000Z");
	assert_non_null(json_object_get(org, "createdAt"));
	assert_non_null(json_object_get(org, "updatedAt"));
	assert_string_equal(str_field(json_array_get(list, 1), "scope"), "team:finance");
	assert_string_equal(str_field(json_array_get(list, 1), "periodStart"),
			    "2026-05-11T00:00:00.000Z");
	/* Byte order, as on SQLite: "Z" sorts before "a". */
	assert_string_equal(str_field(json_array_get(list, 2), "scope"), "user:Zed");
	assert_string_equal(str_field(json_array_get(list, 3), "scope"), "user:alice");
	json_decref(list);

	assert_int_equal(budget_list(b, "team:", NOW_MS, &list), 0);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	assert_int_equal(budget_list(b, "user:%", NOW_MS, &list), 0);
	assert_int_equal(json_array_size(list), 0); /* no wildcards in a prefix */
	json_decref(list);

	/* Replacing keeps one row per scope. */
	def_set(b, "org", 200, PERIOD_NONE, 100, false);
	org = listed(b, "org", NOW_MS);
	assert_non_null(org);
	assert_int_equal(int_field(org, "limitMicros"), 200);
	assert_string_equal(str_field(org, "limit"), "0.000200");
	assert_string_equal(str_field(org, "period"), "none");
	assert_true(json_is_null(json_object_get(org, "periodStart")));
	assert_true(json_is_null(json_object_get(org, "periodEnd")));
	assert_true(json_is_false(json_object_get(org, "hard")));
	json_decref(org);

	assert_int_equal(budget_remove(b, "org"), 0);
	assert_int_equal(budget_remove(b, "org"), -ENOENT);
	assert_int_equal(budget_remove(b, "nope"), -EINVAL);
	assert_null(listed(b, "org", NOW_MS));

	/* Refused definitions change nothing. */
	memset(&bad, 0, sizeof(bad));
	snprintf(bad.scope, sizeof(bad.scope), "bogus");
	bad.soft_percent = 80;
	assert_int_equal(budget_set(b, &bad), -EINVAL);
	snprintf(bad.scope, sizeof(bad.scope), "user:bob");
	bad.soft_percent = 101;
	assert_int_equal(budget_set(b, &bad), -EINVAL);
	bad.soft_percent = 80;
	bad.limit_micros = BUDGET_MICROS_MAX + 1;
	assert_int_equal(budget_set(b, &bad), -ERANGE);
	assert_null(listed(b, "user:bob", NOW_MS));
	budget_close(b);

	/* Budgets survive a reopen, seen by another node too. */
	b = open_url(url);
	org = listed(b, "team:finance", NOW_MS);
	assert_non_null(org);
	assert_int_equal(int_field(org, "limitMicros"), 5000000);
	json_decref(org);
	budget_close(b);
	pgt_db_drop(url);
}

/* ------------------------------------------------------------------ */
/* Reserve, settle, shrink, release                                    */

static void reserve_hard_limit(void **state)
{
	char url[PGT_URL_MAX];
	struct budgets *b;
	struct budget_status st[4];
	struct budget_refusal refusal;
	size_t n = 99;
	(void)state;

	pgt_db_create("budgetpg", url);
	b = open_url(url);
	def_set(b, "user:alice", 100, PERIOD_NONE, 100, true);
	assert_int_equal(budget_reserve(b, "r1", &alice, 60, NOW_MS, &refusal, st, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(st[0].scope, "user:alice");
	assert_int_equal(st[0].spent_micros, 0);
	assert_int_equal(st[0].reserved_micros, 60);
	assert_int_equal(st[0].limit_micros, 100);
	assert_int_equal(st[0].period_end_ms, 0);
	assert_false(st[0].soft_crossed);

	/* Over the limit: refused, with the numbers that refused it, and
	 * the status out-parameters untouched. */
	n = 99;
	memset(&refusal, 0, sizeof(refusal));
	assert_int_equal(budget_reserve(b, "r2", &alice, 50, NOW_MS, &refusal, st, &n), -EDQUOT);
	assert_int_equal(n, 99);
	assert_string_equal(refusal.scope, "user:alice");
	assert_int_equal(refusal.spent_micros, 0);
	assert_int_equal(refusal.reserved_micros, 60);
	assert_int_equal(refusal.limit_micros, 100);
	assert_int_equal(refusal.requested_micros, 50);
	assert_int_equal(refusal.period_end_ms, 0);
	assert_int_equal(reserved_total(b), 60);

	/* Settling for less frees the difference. */
	assert_int_equal(budget_settle(b, "r1", &alice, 30, NULL, NOW_MS, st, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(st[0].spent_micros, 30);
	assert_int_equal(st[0].reserved_micros, 0);
	assert_int_equal(reserve(b, "r2", &alice, 50, NOW_MS), 0);
	assert_int_equal(budget_reserve(b, "r3", &alice, 30, NOW_MS, &refusal, NULL, NULL), -EDQUOT);
	assert_int_equal(refusal.spent_micros, 30);
	assert_int_equal(refusal.reserved_micros, 50);

	/* Exactly at the limit is allowed (and crosses a 100% soft mark). */
	assert_int_equal(budget_reserve(b, "r3", &alice, 20, NOW_MS, NULL, st, &n), 0);
	assert_int_equal(st[0].spent_micros + st[0].reserved_micros, 100);
	assert_true(st[0].soft_crossed);
	assert_true(st[0].soft_first_time);
	assert_int_equal(reserve(b, "r4", &alice, 1, NOW_MS), -EDQUOT);
	assert_int_equal(reserve(b, "r5", &alice, 0, NOW_MS), 0);

	/* Arguments are checked as on SQLite. */
	assert_int_equal(reserve(b, "a b", &alice, 1, NOW_MS), -EINVAL);
	assert_int_equal(reserve(b, "r6", &alice, BUDGET_MICROS_MAX + 1, NOW_MS), -ERANGE);
	assert_int_equal(reserve(b, "r3", &alice, 0, NOW_MS), -EEXIST);
	budget_close(b);
	pgt_db_drop(url);
}

static void soft_warnings(void **state)
{
	char url[PGT_URL_MAX];
	struct budgets *b;
	struct budget_status st[4];
	int64_t jan = utc_ms(2026, 1, 10, 9, 0), feb = utc_ms(2026, 2, 3, 9, 0);
	size_t n = 0;
	json_t *team;
	(void)state;

	pgt_db_create("budgetpg", url);
	b = open_url(url);
	/* A soft budget warns but never refuses. */
	def_set(b, "team:finance", 100, PERIOD_MONTHLY, 80, false);
	assert_int_equal(budget_reserve(b, "s1", &alice, 50, NOW_MS, NULL, st, &n), 0);
	assert_int_equal(n, 1);
	assert_false(st[0].soft_crossed);
	assert_int_equal(budget_reserve(b, "s2", &alice, 40, NOW_MS, NULL, st, &n), 0);
	assert_true(st[0].soft_crossed);
	assert_true(st[0].soft_first_time);
	assert_int_equal(st[0].period_end_ms, utc_ms(2026, 6, 1, 0, 0));
	assert_int_equal(budget_reserve(b, "s3", &alice, 500, NOW_MS, NULL, st, &n), 0);
	assert_true(st[0].soft_crossed);
	assert_false(st[0].soft_first_time);
	team = listed(b, "team:finance", NOW_MS);
	assert_int_equal(int_field(team, "reservedMicros"), 590);
	assert_int_equal(int_field(team, "remainingMicros"), 0); /* clamped, not negative */
	json_decref(team);
	assert_int_equal(budget_remove(b, "team:finance"), 0);

	/* Once per period. */
	def_set(b, "org", 100, PERIOD_MONTHLY, 50, true);
	assert_int_equal(budget_reserve(b, "a1", &alice, 60, jan, NULL, st, &n), 0);
	assert_true(st[0].soft_first_time);
	assert_int_equal(budget_settle(b, "a1", &alice, 60, NULL, jan, st, &n), 0);
	assert_true(st[0].soft_crossed);
	assert_false(st[0].soft_first_time);
	assert_int_equal(budget_reserve(b, "a3", &alice, 10, feb, NULL, st, &n), 0);
	assert_false(st[0].soft_crossed);
	assert_int_equal(budget_reserve(b, "a4", &alice, 45, feb, NULL, st, &n), 0);
	assert_true(st[0].soft_first_time);
	assert_int_equal(budget_reserve(b, "a5", &alice, 1, feb, NULL, st, &n), 0);
	assert_false(st[0].soft_first_time);
	/* New terms warn afresh. */
	def_set(b, "org", 100, PERIOD_MONTHLY, 50, true);
	assert_int_equal(budget_reserve(b, "a6", &alice, 1, feb, NULL, st, &n), 0);
	assert_true(st[0].soft_first_time);
	budget_close(b);
	pgt_db_drop(url);
}

static void settle_replaces_reservations(void **state)
{
	char url[PGT_URL_MAX];
	struct budgets *b;
	struct budget_scopes full = { "finance", "alice", "s-1" };
	struct budget_status st[4];
	size_t n = 0;
	json_t *detail, *entries, *e;
	(void)state;

	pgt_db_create("budgetpg", url);
	b = open_url(url);
	/* No budget anywhere: nothing to limit, nothing held. */
	n = 99;
	assert_int_equal(budget_reserve(b, "free", &full, 100, NOW_MS, NULL, st, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(reserved_total(b), 0);

	def_set(b, "org", 1000, PERIOD_NONE, 100, true);
	assert_int_equal(reserve(b, "run1", &full, 100, NOW_MS), 0);
	assert_int_equal(reserved_total(b), 100);
	detail = json_pack("{s:i,s:s}", "cpu_ms", 120, "model", "none");
	assert_int_equal(budget_settle(b, "run1", &full, 70, detail, NOW_MS, st, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(st[0].spent_micros, 70);
	assert_int_equal(st[0].reserved_micros, 0);
	assert_int_equal(ledger_total(b), 4 * 70); /* org, team, user, session */
	assert_int_equal(reserved_total(b), 0);

	/* Again, even with another cost: nothing changes. */
	n = 99;
	assert_int_equal(budget_settle(b, "run1", &full, 999, detail, NOW_MS + 5, st, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ledger_total(b), 4 * 70);
	json_decref(detail);

	assert_int_equal(budget_spend(b, "user:alice", 0, INT64_MAX, &entries), 0);
	assert_int_equal(json_array_size(entries), 1);
	e = json_array_get(entries, 0);
	assert_string_equal(str_field(e, "runId"), "run1");
	assert_string_equal(str_field(e, "scope"), "user:alice");
	assert_int_equal(int_field(e, "amountMicros"), 70);
	assert_string_equal(str_field(e, "amount"), "0.000070");
	assert_string_equal(str_field(e, "at"), "2026-05-14T12:00:00.000Z");
	assert_int_equal(int_field(e, "atMs"), NOW_MS);
	assert_int_equal(int_field(json_object_get(e, "detail"), "cpu_ms"), 120);
	assert_string_equal(str_field(json_object_get(e, "detail"), "model"), "none");
	json_decref(entries);
	assert_int_equal(budget_spend(b, "", 0, INT64_MAX, &entries), 0);
	assert_int_equal(json_array_size(entries), 4);
	json_decref(entries);
	assert_int_equal(budget_spend(b, "org", NOW_MS + 1, INT64_MAX, &entries), 0);
	assert_int_equal(json_array_size(entries), 0);
	json_decref(entries);
	assert_int_equal(budget_spend(b, "bogus", 0, 1, &entries), -EINVAL);

	/* A settled run id cannot reserve again; a held one neither. */
	assert_int_equal(reserve(b, "run1", &full, 1, NOW_MS), -EEXIST);
	assert_int_equal(reserve(b, "run2", &full, 10, NOW_MS), 0);
	assert_int_equal(reserve(b, "run2", &full, 10, NOW_MS), -EEXIST);

	/* Release drops the reservation without charging, idempotently. */
	assert_int_equal(budget_release(b, "run2"), 0);
	assert_int_equal(reserved_total(b), 0);
	assert_int_equal(budget_release(b, "run2"), 0);
	assert_int_equal(ledger_total(b), 4 * 70);

	/* Settling a run that reserved nothing still records its spend, and
	 * a null detail reads back as null. */
	assert_int_equal(settle(b, "run3", &alice, 5, NOW_MS), 0);
	assert_int_equal(ledger_total(b), 4 * 70 + 3 * 5);
	assert_int_equal(budget_spend(b, "team:finance", NOW_MS, NOW_MS + 1, &entries), 0);
	assert_int_equal(json_array_size(entries), 2);
	assert_true(json_is_null(json_object_get(json_array_get(entries, 1), "detail")));
	json_decref(entries);
	assert_int_equal(spend_sum(b, "", 0, INT64_MAX), ledger_total(b));
	budget_close(b);
	pgt_db_drop(url);
}

static void shrink_and_all_or_nothing(void **state)
{
	char url[PGT_URL_MAX];
	struct budgets *b;
	struct budget_scopes bob = { "finance", "bob", NULL };
	struct budget_refusal refusal;
	struct budget_status st[4];
	size_t n = 0;
	json_t *o;
	(void)state;

	pgt_db_create("budgetpg", url);
	b = open_url(url);
	def_set(b, "org", 1000, PERIOD_MONTHLY, 100, true);
	def_set(b, "team:finance", 1000, PERIOD_MONTHLY, 100, true);
	def_set(b, "user:alice", 50, PERIOD_MONTHLY, 100, true);

	assert_int_equal(budget_reserve(b, "x1", &alice, 60, NOW_MS, &refusal, NULL, NULL), -EDQUOT);
	assert_string_equal(refusal.scope, "user:alice");
	assert_int_equal(refusal.period_end_ms, utc_ms(2026, 6, 1, 0, 0));
	/* The org and team budgets had room, yet hold nothing. */
	assert_int_equal(reserved_total(b), 0);

	assert_int_equal(budget_reserve(b, "x2", &alice, 40, NOW_MS, NULL, st, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(st[0].scope, "org");
	assert_string_equal(st[1].scope, "team:finance");
	assert_string_equal(st[2].scope, "user:alice");
	assert_int_equal(reserved_total(b), 3 * 40);

	/* The first scope over its limit is named, in org, team, user order. */
	assert_int_equal(budget_reserve(b, "x3", &bob, 961, NOW_MS, &refusal, NULL, NULL), -EDQUOT);
	assert_string_equal(refusal.scope, "org");
	assert_int_equal(refusal.reserved_micros, 40);

	/* Shrinking lowers every scope's reservation, never raises it. */
	assert_int_equal(budget_shrink(b, "x2", 15), 0);
	assert_int_equal(reserved_total(b), 3 * 15);
	assert_int_equal(budget_shrink(b, "x2", 30), 0);
	assert_int_equal(reserved_total(b), 3 * 15);
	assert_int_equal(budget_shrink(b, "none", 1), 0);
	assert_int_equal(budget_shrink(b, "x2", BUDGET_MICROS_MAX + 1), -EINVAL);
	o = listed(b, "user:alice", NOW_MS);
	assert_int_equal(int_field(o, "reservedMicros"), 15);
	assert_int_equal(int_field(o, "remainingMicros"), 35);
	json_decref(o);
	/* The room shrinking gave back can be reserved at once. */
	assert_int_equal(reserve(b, "x4", &alice, 35, NOW_MS), 0);
	assert_int_equal(reserve(b, "x5", &alice, 1, NOW_MS), -EDQUOT);
	budget_close(b);
	pgt_db_drop(url);
}

/* ------------------------------------------------------------------ */
/* Periods                                                             */

static void periods_and_spend_between_dates(void **state)
{
	char url[PGT_URL_MAX];
	struct budgets *b;
	struct budget_refusal refusal;
	struct budget_status st[4];
	int64_t jan15 = utc_ms(2026, 1, 15, 12, 0), feb3 = utc_ms(2026, 2, 3, 8, 0);
	int64_t year_end = utc_ms(2027, 1, 1, 0, 0);
	size_t n = 0;
	json_t *o, *entries;
	(void)state;

	pgt_db_create("budgetpg", url);
	b = open_url(url);
	def_set(b, "org", 100, PERIOD_MONTHLY, 100, true);
	assert_int_equal(reserve(b, "m1", &alice, 90, jan15), 0);
	assert_int_equal(settle(b, "m1", &alice, 90, jan15), 0);
	assert_int_equal(budget_reserve(b, "m2", &alice, 20, jan15 + 5 * DAY_MS, &refusal, NULL,
					NULL),
			 -EDQUOT);
	assert_int_equal(refusal.spent_micros, 90);
	assert_int_equal(refusal.period_end_ms, utc_ms(2026, 2, 1, 0, 0));

	/* February is a new period. */
	assert_int_equal(budget_reserve(b, "m2", &alice, 20, feb3, NULL, st, &n), 0);
	assert_int_equal(st[0].spent_micros, 0);
	assert_int_equal(st[0].period_end_ms, utc_ms(2026, 3, 1, 0, 0));
	assert_int_equal(settle(b, "m2", &alice, 20, feb3), 0);
	o = listed(b, "org", feb3);
	assert_int_equal(int_field(o, "spentMicros"), 20);
	json_decref(o);
	o = listed(b, "org", jan15);
	assert_int_equal(int_field(o, "spentMicros"), 90); /* January's entries stay */
	json_decref(o);

	/* Spend between dates: [from, to). */
	assert_int_equal(budget_spend(b, "org", utc_ms(2026, 1, 1, 0, 0), utc_ms(2026, 2, 1, 0, 0),
				      &entries),
			 0);
	assert_int_equal(json_array_size(entries), 1);
	assert_string_equal(str_field(json_array_get(entries, 0), "runId"), "m1");
	json_decref(entries);
	assert_int_equal(budget_spend(b, "org", jan15, feb3, &entries), 0);
	assert_int_equal(json_array_size(entries), 1);
	json_decref(entries);
	assert_int_equal(budget_spend(b, "org", jan15 + 1, feb3 + 1, &entries), 0);
	assert_int_equal(json_array_size(entries), 1);
	assert_string_equal(str_field(json_array_get(entries, 0), "runId"), "m2");
	json_decref(entries);
	assert_int_equal(budget_spend(b, "", 10, 1, &entries), -EINVAL);
	assert_int_equal(spend_sum(b, "user:alice", 0, INT64_MAX), 110);

	/* Across the year end, to the millisecond. */
	assert_int_equal(settle(b, "m3", &alice, 80, year_end - 1), 0);
	assert_int_equal(reserve(b, "m4", &alice, 30, year_end - 1), -EDQUOT);
	assert_int_equal(reserve(b, "m4", &alice, 100, year_end), 0);
	budget_close(b);
	pgt_db_drop(url);
}

/* ------------------------------------------------------------------ */
/* Nodes: dead ones swept, live ones kept, connections taken up again  */

static void dead_node_swept_live_node_kept(void **state)
{
	char url[PGT_URL_MAX];
	struct budgets *dead, *live, *later;
	struct budget_status st[4];
	size_t n = 0;
	(void)state;

	pgt_db_create("budgetpg", url);
	dead = open_url(url);
	live = open_url(url);
	def_set(dead, "org", 100, PERIOD_NONE, 100, true);
	assert_int_equal(reserve(dead, "d1", &alice, 40, NOW_MS), 0);
	assert_int_equal(reserve(live, "l1", &alice, 30, NOW_MS), 0);
	assert_int_equal(reserve(live, "l2", &alice, 20, NOW_MS), 0);
	assert_int_equal(settle(live, "l2", &alice, 20, NOW_MS), 0);
	/* Opening while both are alive sweeps nothing. */
	later = open_url(url);
	assert_int_equal(reserved_total(later), 70);
	budget_close(later);

	/* The "dead" node's session ends without releasing d1. */
	budget_close(dead);
	later = open_url(url);
	assert_int_equal(reserved_total(later), 30); /* d1 swept, l1 kept */
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
	pgt_db_drop(url);
}

static void lost_connection_taken_up_again(void **state)
{
	char url[PGT_URL_MAX], sql[512];
	struct budgets *b, *other;
	(void)state;

	pgt_db_create("budgetpg", url);
	b = open_url(url);
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
	other = open_url(url);
	assert_int_equal(reserved_total(other), 60);
	assert_int_equal(reserve(other, "c2", &alice, 41, NOW_MS), -EDQUOT);
	assert_int_equal(reserve(b, "c3", &alice, 40, NOW_MS), 0);
	budget_close(other);
	budget_close(b);
	pgt_db_drop(url);
}

static void failed_release_retried(void **state)
{
	char url[PGT_URL_MAX];
	struct budgets *b;
	(void)state;

	pgt_db_create("budgetpg", url);
	b = open_url(url);
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
	pgt_db_drop(url);
}

/* ------------------------------------------------------------------ */
/* The invariant with eight nodes at once                              */

#define RACE_NODES 8
#define RACE_ATTEMPTS 25 /* per node: 200 in all */
#define RACE_LIMIT 100
#define RACE_STEP 10

static const struct budget_scopes race_scopes = { "t", "u", NULL };

struct race {
	const char *url;
	struct budgets *checker; /* a separate handle, its own connection */
	pthread_barrier_t start;
};

struct racer {
	struct race *race;
	struct budgets *node;
	int id;
	int ok, refused, failed, violations, bad_refusals, settled, released;
	uint64_t cost_micros;
	char held[RACE_ATTEMPTS][48];
	int n_held;
};

/* spent + reserved <= limit, seen through the checker's own connection,
 * both by its list and by the grand totals (org is the only budget, and a
 * settled run has one ledger entry on each of org, team and user). */
static bool invariant_holds(struct budgets *checker)
{
	uint64_t ledger = 0, reserved = 0;
	json_t *list, *org;
	bool ok;

	if (budget_list(checker, "org", NOW_MS, &list) < 0)
		return false;
	org = json_array_get(list, 0);
	ok = org && json_integer_value(json_object_get(org, "spentMicros")) +
				json_integer_value(json_object_get(org, "reservedMicros")) <=
			    RACE_LIMIT;
	json_decref(list);
	if (budget_totals(checker, &ledger, &reserved) < 0)
		return false;
	return ok && ledger % 3 == 0 && ledger / 3 + reserved <= RACE_LIMIT;
}

static void racer_reserve(struct racer *w, int i)
{
	struct budget_refusal f;
	char run_id[48];
	int r;

	snprintf(run_id, sizeof(run_id), "n%d-%d", w->id, i);
	r = budget_reserve(w->node, run_id, &race_scopes, RACE_STEP, NOW_MS, &f, NULL, NULL);
	if (r == -EDQUOT) {
		w->refused++;
		/* Each refusal must be justified by its own numbers. */
		if (strcmp(f.scope, "org") != 0 || f.limit_micros != RACE_LIMIT ||
		    f.spent_micros + f.reserved_micros + f.requested_micros <= f.limit_micros)
			w->bad_refusals++;
	} else if (r == 0) {
		w->ok++;
		snprintf(w->held[w->n_held++], sizeof(w->held[0]), "%s", run_id);
	} else {
		w->failed++;
	}
	if (!invariant_holds(w->race->checker))
		w->violations++;
}

static void *racer_reserve_all(void *arg)
{
	struct racer *w = arg;

	pthread_barrier_wait(&w->race->start);
	for (int i = 0; i < RACE_ATTEMPTS; i++)
		racer_reserve(w, i);
	return NULL;
}

/* Settles the first half of what the node holds (at a cost below the
 * reservation, depending on the node), releases the rest. */
static void *racer_finish_all(void *arg)
{
	struct racer *w = arg;
	int half = (w->n_held + 1) / 2;

	pthread_barrier_wait(&w->race->start);
	for (int i = 0; i < w->n_held; i++) {
		uint64_t cost = (uint64_t)(w->id + i) % (RACE_STEP + 1);
		int r = i < half ? budget_settle(w->node, w->held[i], &race_scopes, cost, NULL,
						 NOW_MS, NULL, NULL)
				 : budget_release(w->node, w->held[i]);

		w->failed += r != 0;
		w->settled += r == 0 && i < half;
		w->released += r == 0 && i >= half;
		w->cost_micros += r == 0 && i < half ? cost : 0;
		if (!invariant_holds(w->race->checker))
			w->violations++;
	}
	return NULL;
}

static void race_run(struct race *race, struct racer *w, void *(*fn)(void *))
{
	pthread_t t[RACE_NODES];

	assert_int_equal(pthread_barrier_init(&race->start, NULL, RACE_NODES), 0);
	for (int i = 0; i < RACE_NODES; i++)
		assert_int_equal(pthread_create(&t[i], NULL, fn, &w[i]), 0);
	for (int i = 0; i < RACE_NODES; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	pthread_barrier_destroy(&race->start);
}

static void race_sum(const struct racer *w, struct racer *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < RACE_NODES; i++) {
		s->ok += w[i].ok;
		s->refused += w[i].refused;
		s->failed += w[i].failed;
		s->violations += w[i].violations;
		s->bad_refusals += w[i].bad_refusals;
		s->settled += w[i].settled;
		s->released += w[i].released;
		s->cost_micros += w[i].cost_micros;
	}
}

/* 8 nodes x 25 reservations of 10 against a hard limit of 100: exactly 10
 * succeed, whatever the interleaving; after settling half and releasing
 * the rest, the ledger is exactly the costs settled and exactly the room
 * left can still be reserved. */
static void race_eight_nodes(void **state)
{
	static struct racer w[RACE_NODES];
	char url[PGT_URL_MAX], run_id[48];
	struct race race;
	struct racer s;
	int more = 0;
	(void)state;

	pgt_db_create("budgetpg", url);
	memset(&race, 0, sizeof(race));
	race.url = url;
	race.checker = open_url(url);
	def_set(race.checker, "org", RACE_LIMIT, PERIOD_MONTHLY, 80, true);
	memset(w, 0, sizeof(w));
	for (int i = 0; i < RACE_NODES; i++) {
		w[i].race = &race;
		w[i].node = open_url(url);
		w[i].id = i;
	}
	race_run(&race, w, racer_reserve_all);
	race_sum(w, &s);
	assert_int_equal(s.failed, 0);
	assert_int_equal(s.violations, 0);
	assert_int_equal(s.bad_refusals, 0);
	assert_int_equal(s.ok, RACE_LIMIT / RACE_STEP);
	assert_int_equal(s.refused, RACE_NODES * RACE_ATTEMPTS - RACE_LIMIT / RACE_STEP);
	assert_int_equal(reserved_total(race.checker), RACE_LIMIT);

	race_run(&race, w, racer_finish_all);
	race_sum(w, &s);
	assert_int_equal(s.failed, 0);
	assert_int_equal(s.violations, 0);
	assert_int_equal(s.settled + s.released, RACE_LIMIT / RACE_STEP);
	assert_int_equal(ledger_total(race.checker), 3 * s.cost_micros);
	assert_int_equal(spend_sum(race.checker, "", 0, INT64_MAX), 3 * s.cost_micros);
	assert_int_equal(spend_sum(race.checker, "org", 0, INT64_MAX), s.cost_micros);
	assert_int_equal(reserved_total(race.checker), 0);
	for (int i = 0; i < 20; i++) {
		snprintf(run_id, sizeof(run_id), "top-%d", i);
		if (reserve(race.checker, run_id, &race_scopes, RACE_STEP, NOW_MS) != 0)
			break;
		more++;
	}
	assert_int_equal(more, (RACE_LIMIT - s.cost_micros) / RACE_STEP);
	for (int i = 0; i < RACE_NODES; i++)
		budget_close(w[i].node);
	budget_close(race.checker);
	pgt_db_drop(url);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(open_url_dispatch),
		cmocka_unit_test(schema_migrated_once),
		cmocka_unit_test(set_list_remove),
		cmocka_unit_test(reserve_hard_limit),
		cmocka_unit_test(soft_warnings),
		cmocka_unit_test(settle_replaces_reservations),
		cmocka_unit_test(shrink_and_all_or_nothing),
		cmocka_unit_test(periods_and_spend_between_dates),
		cmocka_unit_test(dead_node_swept_live_node_kept),
		cmocka_unit_test(lost_connection_taken_up_again),
		cmocka_unit_test(failed_release_retried),
		cmocka_unit_test(race_eight_nodes),
	};

	assert_int_equal(setenv("TZ", "UTC", 1), 0);
	tzset();
	return cmocka_run_group_tests_name("budget_pg", tests, NULL, NULL);
}
