/*
 * budget_cases: the behaviours of src/budget that both back ends must
 * share, written once and run by test_budget.c against SQLite and by
 * test_budget_pg.c against PostgreSQL: budgets, reservations, settlement,
 * the spend ledger, calendar periods and the invariant
 * spent_in_period + reserved <= limit under eight threads, on one handle
 * and on several handles ("nodes") of one database.
 *
 * Each case gets a struct budget_fx in *state: a fresh place for its
 * budgets (a state directory or a database) made by the program's setup,
 * which the case opens as often as it needs (fx_open). Times are fixed
 * instants, never the clock; the programs run in TZ=UTC.
 *
 * What only one back end has (SQLite's owner lock and file, PostgreSQL's
 * node sweeps, reconnects and migrations) stays in that back end's file.
 */
#ifndef LEDGERBOX_TESTS_BUDGET_CASES_H
#define LEDGERBOX_TESTS_BUDGET_CASES_H

#include "testlib.h"

#include <inttypes.h>
#include <pthread.h>
#include <time.h>

#include "budget/budget.h"

#define HOUR_MS (3600 * INT64_C(1000))
#define DAY_MS (24 * HOUR_MS)

static const struct budget_scopes alice = { "finance", "alice", NULL };

/* ------------------------------------------------------------------ */
/* The fixture and helpers                                             */

/* Where a case's budgets live; exactly one of the two is set. */
struct budget_fx {
	char *dir; /* SQLite: a fresh state directory */
	char *url; /* PostgreSQL: a fresh database's URL */
};

/* A new handle on the fixture's budgets (another "node" each time). */
static struct budgets *fx_open(const struct budget_fx *fx)
{
	char err[512] = "";
	struct budgets *b = NULL;
	int r = budget_open_url(fx->dir, fx->url, &b, err, sizeof(err));

	if (r < 0)
		fail_msg("budget_open_url(%s): %d %s", fx->url ? fx->url : fx->dir, r, err);
	return b;
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

/* The number of ledger entries budget_spend returns. */
static size_t spend_count(struct budgets *b, const char *scope, int64_t from_ms, int64_t to_ms)
{
	json_t *entries;
	size_t n;

	assert_int_equal(budget_spend(b, scope, from_ms, to_ms, &entries), 0);
	n = json_array_size(entries);
	json_decref(entries);
	return n;
}

#define NOW_MS utc_ms(2026, 5, 14, 12, 0)

/* ------------------------------------------------------------------ */
/* Budgets                                                             */

static void set_list_remove(void **state)
{
	const struct budget_fx *fx = *state;
	struct budgets *b = fx_open(fx);
	struct budget_def bad;
	json_t *list, *org;

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
	/* Byte order on both back ends: "Z" sorts before "a". */
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
	snprintf(bad.scope, sizeof(bad.scope), "team:");
	assert_int_equal(budget_set(b, &bad), -EINVAL);
	snprintf(bad.scope, sizeof(bad.scope), "user:bob");
	bad.soft_percent = 0;
	assert_int_equal(budget_set(b, &bad), -EINVAL);
	bad.soft_percent = 101;
	assert_int_equal(budget_set(b, &bad), -EINVAL);
	bad.soft_percent = 80;
	bad.period = (enum budget_period)9;
	assert_int_equal(budget_set(b, &bad), -EINVAL);
	bad.period = PERIOD_DAILY;
	bad.limit_micros = BUDGET_MICROS_MAX + 1;
	assert_int_equal(budget_set(b, &bad), -ERANGE);
	assert_int_equal(budget_set(b, NULL), -EINVAL);
	assert_null(listed(b, "user:bob", NOW_MS));
	budget_close(b);

	/* Budgets survive a reopen, seen by another handle too. */
	b = fx_open(fx);
	org = listed(b, "team:finance", NOW_MS);
	assert_non_null(org);
	assert_int_equal(int_field(org, "limitMicros"), 5000000);
	json_decref(org);
	budget_close(b);
	budget_close(NULL);
}

/* ------------------------------------------------------------------ */
/* Reserve, settle, shrink, release                                    */

static void reserve_hard_limit(void **state)
{
	struct budgets *b = fx_open(*state);
	struct budget_status st[4];
	struct budget_refusal refusal;
	size_t n = 99;

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
	assert_int_equal(refusal.requested_micros, 30);

	/* Exactly at the limit is allowed (and crosses a 100% soft mark). */
	assert_int_equal(budget_reserve(b, "r3", &alice, 20, NOW_MS, NULL, st, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(st[0].spent_micros + st[0].reserved_micros, 100);
	assert_true(st[0].soft_crossed);
	assert_true(st[0].soft_first_time);
	assert_int_equal(reserve(b, "r4", &alice, 1, NOW_MS), -EDQUOT);

	/* A zero-cost reservation still fits a full budget. */
	assert_int_equal(reserve(b, "r5", &alice, 0, NOW_MS), 0);

	/* Arguments are checked before the limit. */
	assert_int_equal(reserve(b, "a b", &alice, 1, NOW_MS), -EINVAL);
	assert_int_equal(reserve(b, "r6", &alice, BUDGET_MICROS_MAX + 1, NOW_MS), -ERANGE);
	assert_int_equal(reserve(b, "r3", &alice, 0, NOW_MS), -EEXIST);
	budget_close(b);
}

static void soft_budget_never_refuses(void **state)
{
	struct budgets *b = fx_open(*state);
	struct budget_status st[4];
	size_t n = 0;
	json_t *team;

	def_set(b, "team:finance", 100, PERIOD_MONTHLY, 80, false);
	assert_int_equal(budget_reserve(b, "s1", &alice, 50, NOW_MS, NULL, st, &n), 0);
	assert_int_equal(n, 1);
	assert_false(st[0].soft_crossed);
	assert_false(st[0].soft_first_time);
	assert_int_equal(budget_reserve(b, "s2", &alice, 40, NOW_MS, NULL, st, &n), 0);
	assert_true(st[0].soft_crossed);
	assert_true(st[0].soft_first_time);
	assert_int_equal(st[0].period_end_ms, utc_ms(2026, 6, 1, 0, 0));
	assert_int_equal(budget_reserve(b, "s3", &alice, 500, NOW_MS, NULL, st, &n), 0);
	assert_true(st[0].soft_crossed);
	assert_false(st[0].soft_first_time);
	assert_int_equal(st[0].reserved_micros, 590);

	team = listed(b, "team:finance", NOW_MS);
	assert_int_equal(int_field(team, "reservedMicros"), 590);
	assert_int_equal(int_field(team, "remainingMicros"), 0); /* clamped, not negative */
	assert_string_equal(str_field(team, "remaining"), "0.000000");
	json_decref(team);
	/* A budget with reservations held against it can still be removed. */
	assert_int_equal(budget_remove(b, "team:finance"), 0);
	budget_close(b);
}

static void soft_warning_once_per_period(void **state)
{
	struct budgets *b = fx_open(*state);
	struct budget_status st[4];
	int64_t jan = utc_ms(2026, 1, 10, 9, 0), feb = utc_ms(2026, 2, 3, 9, 0);
	size_t n = 0;

	def_set(b, "org", 100, PERIOD_MONTHLY, 50, true);
	assert_int_equal(budget_reserve(b, "a1", &alice, 60, jan, NULL, st, &n), 0);
	assert_true(st[0].soft_crossed);
	assert_true(st[0].soft_first_time);
	assert_int_equal(budget_settle(b, "a1", &alice, 60, NULL, jan, st, &n), 0);
	assert_int_equal(n, 1);
	assert_true(st[0].soft_crossed);
	assert_false(st[0].soft_first_time);
	assert_int_equal(budget_reserve(b, "a2", &alice, 10, jan + DAY_MS, NULL, st, &n), 0);
	assert_true(st[0].soft_crossed);
	assert_false(st[0].soft_first_time);
	assert_int_equal(budget_release(b, "a2"), 0);

	/* February: a new period, a new first crossing. */
	assert_int_equal(budget_reserve(b, "a3", &alice, 10, feb, NULL, st, &n), 0);
	assert_false(st[0].soft_crossed);
	assert_int_equal(budget_reserve(b, "a4", &alice, 45, feb, NULL, st, &n), 0);
	assert_true(st[0].soft_crossed);
	assert_true(st[0].soft_first_time);
	assert_int_equal(budget_reserve(b, "a5", &alice, 1, feb, NULL, st, &n), 0);
	assert_false(st[0].soft_first_time);

	/* New terms warn afresh. */
	def_set(b, "org", 100, PERIOD_MONTHLY, 50, true);
	assert_int_equal(budget_reserve(b, "a6", &alice, 1, feb, NULL, st, &n), 0);
	assert_true(st[0].soft_first_time);
	budget_close(b);
}

/* The ledger entries of run1 once settled: one per scope, as given. */
static void settled_entry_check(struct budgets *b)
{
	json_t *entries, *e;

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
	assert_int_equal(spend_count(b, "", 0, INT64_MAX), 4);
	assert_int_equal(spend_count(b, "session:s-1", 0, INT64_MAX), 1);
	assert_int_equal(spend_count(b, "org", NOW_MS + 1, INT64_MAX), 0);
	assert_int_equal(budget_spend(b, "bogus", 0, 1, &entries), -EINVAL);
}

static void settle_is_idempotent(void **state)
{
	struct budgets *b = fx_open(*state);
	struct budget_scopes full = { "finance", "alice", "s-1" };
	struct budget_status st[4];
	size_t n = 0;
	json_t *detail, *entries;

	/* No budget anywhere: nothing to limit, nothing held. */
	n = 99;
	assert_int_equal(budget_reserve(b, "free", &full, 100, NOW_MS, NULL, st, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(reserved_total(b), 0);
	assert_int_equal(budget_release(b, "free"), 0);

	def_set(b, "org", 1000, PERIOD_NONE, 100, true);
	assert_int_equal(reserve(b, "run1", &full, 100, NOW_MS), 0);
	assert_int_equal(reserved_total(b), 100); /* only the budgeted scope holds one */
	assert_int_equal(ledger_total(b), 0);

	detail = json_pack("{s:i,s:s}", "cpu_ms", 120, "model", "none");
	assert_int_equal(budget_settle(b, "run1", &full, 70, detail, NOW_MS, st, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(st[0].spent_micros, 70);
	assert_int_equal(st[0].reserved_micros, 0);
	/* One entry per scope: org, team, user and session. */
	assert_int_equal(ledger_total(b), 4 * 70);
	assert_int_equal(reserved_total(b), 0);

	/* Again, even with another cost: nothing changes. */
	n = 99;
	assert_int_equal(budget_settle(b, "run1", &full, 999, detail, NOW_MS + 5, st, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ledger_total(b), 4 * 70);
	json_decref(detail);
	settled_entry_check(b);

	/* A settled run id cannot reserve again; a held one neither. */
	assert_int_equal(reserve(b, "run1", &full, 1, NOW_MS), -EEXIST);
	assert_int_equal(reserve(b, "run2", &full, 10, NOW_MS), 0);
	assert_int_equal(reserve(b, "run2", &full, 10, NOW_MS), -EEXIST);
	assert_int_equal(reserved_total(b), 10);

	/* Release drops the reservation without charging, idempotently. */
	assert_int_equal(budget_release(b, "run2"), 0);
	assert_int_equal(reserved_total(b), 0);
	assert_int_equal(budget_release(b, "run2"), 0);
	assert_int_equal(ledger_total(b), 4 * 70);
	assert_int_equal(budget_release(b, "bad id"), -EINVAL);

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
}

static void all_or_nothing_and_shrink(void **state)
{
	struct budgets *b = fx_open(*state);
	struct budget_scopes bob = { "finance", "bob", NULL };
	struct budget_refusal refusal;
	struct budget_status st[4];
	size_t n = 0;
	json_t *o;

	def_set(b, "org", 1000, PERIOD_MONTHLY, 100, true);
	def_set(b, "team:finance", 1000, PERIOD_MONTHLY, 100, true);
	def_set(b, "user:alice", 50, PERIOD_MONTHLY, 100, true);

	assert_int_equal(budget_reserve(b, "x1", &alice, 60, NOW_MS, &refusal, NULL, NULL), -EDQUOT);
	assert_string_equal(refusal.scope, "user:alice");
	assert_int_equal(refusal.limit_micros, 50);
	assert_int_equal(refusal.requested_micros, 60);
	assert_int_equal(refusal.period_end_ms, utc_ms(2026, 6, 1, 0, 0));
	/* The org and team budgets had room, yet hold nothing. */
	assert_int_equal(reserved_total(b), 0);
	o = listed(b, "team:finance", NOW_MS);
	assert_int_equal(int_field(o, "reservedMicros"), 0);
	json_decref(o);

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
	assert_int_equal(reserved_total(b), 3 * 40);

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
}

static void bad_arguments(void **state)
{
	struct budgets *b = fx_open(*state), *none = NULL;
	struct budget_scopes bad_team = { "bad team", "alice", NULL };
	struct budget_scopes bad_session = { "finance", "alice", "no spaces please" };
	char err[256] = "", *big;
	json_t *detail, *entries;

	def_set(b, "org", 1000, PERIOD_NONE, 100, true);
	assert_int_equal(reserve(NULL, "r", &alice, 1, NOW_MS), -EINVAL);
	assert_int_equal(reserve(b, "", &alice, 1, NOW_MS), -EINVAL);
	assert_int_equal(reserve(b, "a b", &alice, 1, NOW_MS), -EINVAL);
	assert_int_equal(reserve(b, NULL, &alice, 1, NOW_MS), -EINVAL);
	assert_int_equal(reserve(b, "r", NULL, 1, NOW_MS), -EINVAL);
	assert_int_equal(reserve(b, "r", &bad_team, 1, NOW_MS), -EINVAL);
	assert_int_equal(reserve(b, "r", &bad_session, 1, NOW_MS), -EINVAL);
	assert_int_equal(reserve(b, "r", &alice, BUDGET_MICROS_MAX + 1, NOW_MS), -ERANGE);
	assert_int_equal(settle(b, "r", &alice, BUDGET_MICROS_MAX + 1, NOW_MS), -ERANGE);
	assert_int_equal(reserved_total(b), 0);

	/* A detail too large to keep is refused before anything changes. */
	assert_int_equal(reserve(b, "r", &alice, 10, NOW_MS), 0);
	big = malloc(70000);
	assert_non_null(big);
	memset(big, 'x', 69999);
	big[69999] = '\0';
	detail = json_pack("{s:s}", "blob", big);
	assert_int_equal(budget_settle(b, "r", &alice, 5, detail, NOW_MS, NULL, NULL), -E2BIG);
	json_decref(detail);
	free(big);
	assert_int_equal(reserved_total(b), 10);
	assert_int_equal(ledger_total(b), 0);

	assert_int_equal(budget_spend(b, "bogus", 0, 1, &entries), -EINVAL);
	assert_int_equal(budget_spend(b, "", 10, 1, &entries), -EINVAL);
	assert_int_equal(budget_open(NULL, &none, err, sizeof(err)), -EINVAL);
	assert_int_equal(budget_open("", &none, err, sizeof(err)), -EINVAL);
	assert_null(none);
	budget_close(b);
}

/* ------------------------------------------------------------------ */
/* Periods                                                             */

static void new_period_starts_at_zero(void **state)
{
	struct budgets *b = fx_open(*state);
	struct budget_refusal refusal;
	struct budget_status st[4];
	int64_t jan15 = utc_ms(2026, 1, 15, 12, 0), feb3 = utc_ms(2026, 2, 3, 8, 0);
	int64_t year_end = utc_ms(2027, 1, 1, 0, 0);
	size_t n = 0;
	json_t *o, *entries;

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
	assert_int_equal(st[0].reserved_micros, 20);
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
	assert_int_equal(spend_count(b, "org", 0, INT64_MAX), 2);
	assert_int_equal(spend_count(b, "org", jan15, feb3), 1);
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
}

/* ------------------------------------------------------------------ */
/* The invariant under concurrency                                     */

#define RACE_THREADS 8
#define RACE_ATTEMPTS_MAX 50
#define RACE_LIMIT 100
#define RACE_STEP 10

struct race {
	struct budgets *node[RACE_THREADS];
	size_t n_nodes;
	int attempts; /* per thread, at most RACE_ATTEMPTS_MAX */
	struct budgets *checker; /* a separate handle, its own connection */
	const char *tag;
	pthread_barrier_t start;
};

struct racer {
	struct race *race;
	struct budgets *node;
	int id;
	unsigned seed;
	bool churn; /* settle or release right after each reservation */
	int ok, refused, failed, violations, bad_refusals;
	int settled, released;
	uint64_t cost_micros;
	char held[RACE_ATTEMPTS_MAX][48];
	int n_held;
};

static const struct budget_scopes race_scopes = { "t", "u", NULL };

/* Opens n_nodes handles ("nodes") and a checker on the fixture's budgets,
 * and sets the one budget: org, hard, RACE_LIMIT a month. */
static void race_open(struct race *race, const struct budget_fx *fx, size_t n_nodes,
		      int attempts, const char *tag)
{
	memset(race, 0, sizeof(*race));
	for (size_t i = 0; i < n_nodes; i++)
		race->node[i] = fx_open(fx);
	race->n_nodes = n_nodes;
	race->attempts = attempts;
	race->checker = fx_open(fx);
	race->tag = tag;
	def_set(race->node[n_nodes - 1], "org", RACE_LIMIT, PERIOD_MONTHLY, 80, true);
}

static void race_close(struct race *race)
{
	budget_close(race->checker);
	for (size_t i = 0; i < race->n_nodes; i++)
		budget_close(race->node[i]);
}

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

static void racer_check(struct racer *w)
{
	if (!invariant_holds(w->race->checker))
		w->violations++;
}

/* Settles (at a random cost <= the reservation) or releases a run. */
static void racer_finish(struct racer *w, const char *run_id, bool charge)
{
	uint64_t cost = (uint64_t)(rand_r(&w->seed) % (RACE_STEP + 1));
	int r;

	if (charge) {
		r = budget_settle(w->node, run_id, &race_scopes, cost, NULL, NOW_MS, NULL, NULL);
		w->settled += r == 0;
		w->cost_micros += r == 0 ? cost : 0;
	} else {
		r = budget_release(w->node, run_id);
		w->released += r == 0;
	}
	w->failed += r != 0;
	racer_check(w);
}

static void racer_reserve(struct racer *w, int i)
{
	struct budget_refusal f;
	char run_id[48];
	int r;

	snprintf(run_id, sizeof(run_id), "%s-%d-%d", w->race->tag, w->id, i);
	r = budget_reserve(w->node, run_id, &race_scopes, RACE_STEP, NOW_MS, &f, NULL, NULL);
	if (r == -EDQUOT) {
		w->refused++;
		/* Each refusal must be justified by its own numbers. */
		if (strcmp(f.scope, "org") != 0 || f.limit_micros != RACE_LIMIT ||
		    f.requested_micros != RACE_STEP ||
		    f.spent_micros + f.reserved_micros + f.requested_micros <= f.limit_micros)
			w->bad_refusals++;
	} else if (r == 0) {
		w->ok++;
		snprintf(w->held[w->n_held++], sizeof(w->held[0]), "%s", run_id);
	} else {
		w->failed++;
	}
	racer_check(w);
	if (r == 0 && w->churn) {
		w->n_held--;
		racer_finish(w, run_id, rand_r(&w->seed) % 2 == 0);
	}
}

static void *racer_reserve_all(void *arg)
{
	struct racer *w = arg;

	pthread_barrier_wait(&w->race->start);
	for (int i = 0; i < w->race->attempts; i++)
		racer_reserve(w, i);
	return NULL;
}

/* Settles the first half of what the racer holds, releases the rest. */
static void *racer_finish_all(void *arg)
{
	struct racer *w = arg;
	int half = (w->n_held + 1) / 2;

	pthread_barrier_wait(&w->race->start);
	for (int i = 0; i < w->n_held; i++)
		racer_finish(w, w->held[i], i < half);
	w->n_held = 0;
	return NULL;
}

static void race_run(struct race *race, struct racer *w, void *(*fn)(void *))
{
	pthread_t t[RACE_THREADS];

	assert_int_equal(pthread_barrier_init(&race->start, NULL, RACE_THREADS), 0);
	for (int i = 0; i < RACE_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, fn, &w[i]), 0);
	for (int i = 0; i < RACE_THREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	pthread_barrier_destroy(&race->start);
}

struct race_sum {
	int ok, refused, failed, violations, bad_refusals, settled, released;
	uint64_t cost_micros;
};

static struct race_sum race_sum(const struct racer *w)
{
	struct race_sum s;

	memset(&s, 0, sizeof(s));
	for (int i = 0; i < RACE_THREADS; i++) {
		s.ok += w[i].ok;
		s.refused += w[i].refused;
		s.failed += w[i].failed;
		s.violations += w[i].violations;
		s.bad_refusals += w[i].bad_refusals;
		s.settled += w[i].settled;
		s.released += w[i].released;
		s.cost_micros += w[i].cost_micros;
	}
	return s;
}

/* After every run is settled or released: the ledger is exactly the costs
 * settled, nothing is reserved, and exactly the remaining room can still
 * be reserved, no more. */
static void race_settled_check(struct budgets *b, uint64_t cost_micros, const char *tag)
{
	uint64_t room = RACE_LIMIT - cost_micros;
	char run_id[48];
	int ok = 0;

	assert_int_equal(ledger_total(b), 3 * cost_micros);
	assert_int_equal(spend_sum(b, "", 0, INT64_MAX), 3 * cost_micros);
	assert_int_equal(spend_sum(b, "org", 0, INT64_MAX), cost_micros);
	assert_int_equal(reserved_total(b), 0);
	for (int i = 0; i < 20; i++) {
		snprintf(run_id, sizeof(run_id), "%s-top-%d", tag, i);
		if (reserve(b, run_id, &race_scopes, RACE_STEP, NOW_MS) != 0)
			break;
		ok++;
	}
	assert_int_equal(ok, room / RACE_STEP);
}

static void racers_init(struct race *race, struct racer *w, bool churn)
{
	memset(w, 0, sizeof(*w) * RACE_THREADS);
	for (int i = 0; i < RACE_THREADS; i++) {
		w[i].race = race;
		w[i].node = race->node[(size_t)i % race->n_nodes];
		w[i].id = i;
		w[i].seed = 0x5eed0000u + (unsigned)i;
		w[i].churn = churn;
	}
}

/* 8 threads each making race->attempts reservations of 10 against a hard
 * limit of 100, nobody settling meanwhile: exactly 10 succeed, whatever
 * the interleaving; then half are settled and the rest released. */
static void race_contention(struct race *race)
{
	struct racer w[RACE_THREADS];
	struct race_sum s;

	racers_init(race, w, false);
	race_run(race, w, racer_reserve_all);
	s = race_sum(w);
	assert_int_equal(s.failed, 0);
	assert_int_equal(s.violations, 0);
	assert_int_equal(s.bad_refusals, 0);
	assert_int_equal(s.ok, RACE_LIMIT / RACE_STEP);
	assert_int_equal(s.refused, RACE_THREADS * race->attempts - RACE_LIMIT / RACE_STEP);
	assert_int_equal(reserved_total(race->checker), RACE_LIMIT);

	race_run(race, w, racer_finish_all);
	s = race_sum(w);
	assert_int_equal(s.failed, 0);
	assert_int_equal(s.violations, 0);
	assert_int_equal(s.settled + s.released, RACE_LIMIT / RACE_STEP);
	assert_true(s.settled >= s.released);
	race_settled_check(race->checker, s.cost_micros, race->tag);
}

static void race_one_node(void **state)
{
	struct race race;

	race_open(&race, *state, 1, RACE_ATTEMPTS_MAX, "one");
	race_contention(&race);
	race_close(&race);
}

/* Reserving and at once settling (at a random cost <= the reservation) or
 * releasing, from 8 threads: the invariant holds at every step, and every
 * refusal is accounted for and justified. */
static void race_churn(void **state)
{
	struct racer w[RACE_THREADS];
	struct race race;
	struct race_sum s;

	race_open(&race, *state, 1, RACE_ATTEMPTS_MAX, "churn");
	racers_init(&race, w, true);
	race_run(&race, w, racer_reserve_all);
	s = race_sum(w);
	assert_int_equal(s.failed, 0);
	assert_int_equal(s.violations, 0);
	assert_int_equal(s.bad_refusals, 0);
	assert_int_equal(s.ok + s.refused, RACE_THREADS * RACE_ATTEMPTS_MAX);
	assert_int_equal(s.settled + s.released, s.ok);
	assert_true(s.ok >= RACE_LIMIT / RACE_STEP);
	race_settled_check(race.checker, s.cost_micros, race.tag);
	race_close(&race);
}

/* Two handles on one database stand for two nodes: the limit holds across
 * them because the check and the insert share one transaction that
 * serializes with the other node's. */
static void race_two_nodes(void **state)
{
	struct race race;

	race_open(&race, *state, 2, RACE_ATTEMPTS_MAX, "two");
	race_contention(&race);
	race_close(&race);
}

/* The cases above, for a program's array of tests; setup makes the
 * fixture in *state and teardown removes it. */
#define BUDGET_CASES(setup, teardown)                                         \
	cmocka_unit_test_setup_teardown(set_list_remove, setup, teardown),            \
	cmocka_unit_test_setup_teardown(reserve_hard_limit, setup, teardown),         \
	cmocka_unit_test_setup_teardown(soft_budget_never_refuses, setup, teardown),  \
	cmocka_unit_test_setup_teardown(soft_warning_once_per_period, setup, teardown), \
	cmocka_unit_test_setup_teardown(settle_is_idempotent, setup, teardown),       \
	cmocka_unit_test_setup_teardown(all_or_nothing_and_shrink, setup, teardown),  \
	cmocka_unit_test_setup_teardown(bad_arguments, setup, teardown),              \
	cmocka_unit_test_setup_teardown(new_period_starts_at_zero, setup, teardown),  \
	cmocka_unit_test_setup_teardown(race_one_node, setup, teardown),              \
	cmocka_unit_test_setup_teardown(race_churn, setup, teardown),                 \
	cmocka_unit_test_setup_teardown(race_two_nodes, setup, teardown)

#endif
