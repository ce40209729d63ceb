/*
 * budget_cases_defs: the shared budget cases that run one step at a time:
 * setting, listing and removing budgets; reserving against hard and soft
 * limits, settling, shrinking and releasing; argument checks; and calendar
 * periods. Part of budget_cases.h, which has the fixture and helpers these
 * use and lists the cases for the programs.
 */
#ifndef LEDGERBOX_TESTS_BUDGET_CASES_DEFS_H
#define LEDGERBOX_TESTS_BUDGET_CASES_DEFS_H

#include "budget/budget_cases.h"

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

#endif
