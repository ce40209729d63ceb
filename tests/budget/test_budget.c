/*
 * Tests of src/budget: budgets, reservations, settlement, the spend ledger,
 * calendar periods and the invariant spent_in_period + reserved <= limit
 * under threads and with two handles ("nodes") on one database.
 *
 * Every test works in its own state directory under
 * LEDGERBOX_TEST_TMP/budget-<pid>/. Times are fixed instants, never the
 * clock, and the process runs in TZ=UTC except where a test sets a zone
 * (its teardown puts UTC back).
 */
#include "testlib.h"

#include <inttypes.h>
#include <pthread.h>
#include <time.h>

#include <sqlite3.h>

#include "budget/budget.h"

#define HOUR_MS (3600 * INT64_C(1000))
#define DAY_MS (24 * HOUR_MS)

static const struct budget_scopes alice = { "finance", "alice", NULL };

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

static char *state_path(const char *name)
{
	static int counter;
	char *base, *path;

	assert_true(asprintf(&base, "%s/budget-%ld", tl_tmp(), (long)getpid()) > 0);
	if (mkdir(base, 0700) < 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", base, strerror(errno));
	assert_true(asprintf(&path, "%s/%d-%s", base, ++counter, name) > 0);
	free(base);
	return path;
}

static struct budgets *open_at(const char *dir)
{
	char err[512] = "";
	struct budgets *b = NULL;
	int r = budget_open(dir, &b, err, sizeof(err));

	if (r < 0)
		fail_msg("budget_open(%s): %d %s", dir, r, err);
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

static void tz_set(const char *zone)
{
	assert_int_equal(setenv("TZ", zone, 1), 0);
	tzset();
}

static int tz_utc(void **state)
{
	(void)state;
	tz_set("UTC");
	return 0;
}

static void totals(struct budgets *b, uint64_t *ledger, uint64_t *reserved)
{
	assert_int_equal(budget_totals(b, ledger, reserved), 0);
}

static uint64_t reserved_total(struct budgets *b)
{
	uint64_t ledger, reserved;

	totals(b, &ledger, &reserved);
	return reserved;
}

static uint64_t ledger_total(struct budgets *b)
{
	uint64_t ledger, reserved;

	totals(b, &ledger, &reserved);
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

#define NOW_MS utc_ms(2026, 5, 14, 12, 0)

/* ------------------------------------------------------------------ */
/* Budgets                                                             */

static void set_list_remove(void **state)
{
	char *dir = state_path("defs");
	struct budgets *b = open_at(dir);
	struct budget_def bad;
	json_t *list, *org;
	(void)state;

	def_set(b, "org", 100000000, PERIOD_MONTHLY, 80, true);
	def_set(b, "team:finance", 5000000, PERIOD_WEEKLY, 50, false);
	assert_int_equal(budget_list(b, "", NOW_MS, &list), 0);
	assert_int_equal(json_array_size(list), 2);
	org = json_array_get(list, 0);
	assert_string_equal(str_field(org, "scope"), "org");
	assert_int_equal(int_field(org, "limitMicros"), 100000000);
	assert_string_equal(str_field(org, "limit"), "100.000000");
	assert_string_equal(str_field(org, "period"), "monthly");
	assert_int_equal(int_field(org, "softPercent"), 80);
	assert_true(json_is_true(json_object_get(org, "hard")));
	assert_int_equal(int_field(org, "spentMicros"), 0);
	assert_int_equal(int_field(org, "reservedMicros"), 0);
	assert_int_equal(int_field(org, "remainingMicros"), 100000000);
	assert_string_equal(str_field(org, "periodStart"), "2026-05-01T00:00:00.000Z");
	assert_string_equal(str_field(org, "periodEnd"), "2026-06-01T00:00:00.000Z");
	assert_non_null(json_object_get(org, "createdAt"));
	assert_string_equal(str_field(json_array_get(list, 1), "scope"), "team:finance");
	assert_string_equal(str_field(json_array_get(list, 1), "periodStart"),
			    "2026-05-11T00:00:00.000Z");
	json_decref(list);

	assert_int_equal(budget_list(b, "team:", NOW_MS, &list), 0);
	assert_int_equal(json_array_size(list), 1);
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

	/* Budgets survive a reopen. */
	b = open_at(dir);
	org = listed(b, "team:finance", NOW_MS);
	assert_non_null(org);
	assert_int_equal(int_field(org, "limitMicros"), 5000000);
	json_decref(org);
	budget_close(b);
	budget_close(NULL);
	free(dir);
}

static void names_and_periods(void **state)
{
	char long_name[200];
	enum budget_period p;
	(void)state;

	assert_true(budget_scope_valid("org"));
	assert_true(budget_scope_valid("team:finance"));
	assert_true(budget_scope_valid("user:a.b_c-9"));
	assert_true(budget_scope_valid("session:x"));
	assert_false(budget_scope_valid(NULL));
	assert_false(budget_scope_valid(""));
	assert_false(budget_scope_valid("Org"));
	assert_false(budget_scope_valid("org:x"));
	assert_false(budget_scope_valid("team:"));
	assert_false(budget_scope_valid("team:a b"));
	assert_false(budget_scope_valid("user:al/ice"));
	assert_false(budget_scope_valid("users:alice"));
	assert_false(budget_scope_valid("team:\xc3\xa9t\xc3\xa9"));

	snprintf(long_name, sizeof(long_name), "user:%063d", 0);
	assert_true(budget_scope_valid(long_name));
	snprintf(long_name, sizeof(long_name), "user:%064d", 0);
	assert_false(budget_scope_valid(long_name));
	snprintf(long_name, sizeof(long_name), "session:%0128d", 0);
	assert_true(budget_scope_valid(long_name));
	snprintf(long_name, sizeof(long_name), "session:%0129d", 0);
	assert_false(budget_scope_valid(long_name));

	for (int i = PERIOD_NONE; i <= PERIOD_MONTHLY; i++) {
		assert_int_equal(budget_period_parse(budget_period_name((enum budget_period)i), &p), 0);
		assert_int_equal(p, i);
	}
	assert_string_equal(budget_period_name(PERIOD_WEEKLY), "weekly");
	assert_int_equal(budget_period_parse("yearly", &p), -EINVAL);
	assert_int_equal(budget_period_parse("Daily", &p), -EINVAL);
	assert_int_equal(budget_period_parse(NULL, &p), -EINVAL);
}

/* ------------------------------------------------------------------ */
/* Reserve, settle, release                                            */

static void reserve_hard_limit(void **state)
{
	char *dir = state_path("hard");
	struct budgets *b = open_at(dir);
	struct budget_status st[4];
	struct budget_refusal refusal;
	size_t n = 99;
	(void)state;

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
	budget_close(b);
	free(dir);
}

static void soft_budget_never_refuses(void **state)
{
	char *dir = state_path("soft");
	struct budgets *b = open_at(dir);
	struct budget_status st[4];
	size_t n = 0;
	json_t *team;
	(void)state;

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
	budget_close(b);
	free(dir);
}

static void soft_warning_once_per_period(void **state)
{
	char *dir = state_path("soft-once");
	struct budgets *b = open_at(dir);
	struct budget_status st[4];
	int64_t jan = utc_ms(2026, 1, 10, 9, 0), feb = utc_ms(2026, 2, 3, 9, 0);
	size_t n = 0;
	(void)state;

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
	free(dir);
}

static void settle_is_idempotent(void **state)
{
	char *dir = state_path("settle");
	struct budgets *b = open_at(dir);
	struct budget_scopes full = { "finance", "alice", "s-1" };
	struct budget_status st[4];
	size_t n = 0;
	json_t *detail, *entries, *e;
	(void)state;

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
	json_decref(entries);
	assert_int_equal(budget_spend(b, "", 0, INT64_MAX, &entries), 0);
	assert_int_equal(json_array_size(entries), 4);
	json_decref(entries);
	assert_int_equal(budget_spend(b, "session:s-1", 0, INT64_MAX, &entries), 0);
	assert_int_equal(json_array_size(entries), 1);
	json_decref(entries);
	assert_int_equal(budget_spend(b, "org", NOW_MS + 1, INT64_MAX, &entries), 0);
	assert_int_equal(json_array_size(entries), 0);
	json_decref(entries);

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

	/* Settling a run that reserved nothing still records its spend. */
	assert_int_equal(settle(b, "run3", &alice, 5, NOW_MS), 0);
	assert_int_equal(ledger_total(b), 4 * 70 + 3 * 5);
	budget_close(b);
	free(dir);
}

static void all_or_nothing(void **state)
{
	char *dir = state_path("all");
	struct budgets *b = open_at(dir);
	struct budget_scopes bob = { "finance", "bob", NULL };
	struct budget_refusal refusal;
	struct budget_status st[4];
	size_t n = 0;
	json_t *o;
	(void)state;

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
	budget_close(b);
	free(dir);
}

static void bad_arguments(void **state)
{
	char *dir = state_path("args");
	struct budgets *b = open_at(dir), *none = NULL;
	struct budget_scopes bad_team = { "bad team", "alice", NULL };
	struct budget_scopes bad_session = { "finance", "alice", "no spaces please" };
	char err[256] = "", *big;
	json_t *detail, *entries;
	(void)state;

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
	free(dir);
}

/* ------------------------------------------------------------------ */
/* Periods                                                             */

static void expect_bounds(enum budget_period p, int64_t now_ms, int64_t start_ms, int64_t end_ms)
{
	int64_t start = -1, end = -1;

	budget_period_bounds(p, now_ms, &start, &end);
	if (start != start_ms || end != end_ms)
		fail_msg("%s around %" PRId64 ": got [%" PRId64 ", %" PRId64 "), want [%" PRId64
			 ", %" PRId64 ")",
			 budget_period_name(p), now_ms, start, end, start_ms, end_ms);
}

static void period_bounds_calendar(void **state)
{
	(void)state;
	tz_set("UTC");
	expect_bounds(PERIOD_NONE, NOW_MS, 0, 0);
	/* Month ends. */
	expect_bounds(PERIOD_MONTHLY, utc_ms(2026, 1, 31, 12, 0), utc_ms(2026, 1, 1, 0, 0),
		      utc_ms(2026, 2, 1, 0, 0));
	expect_bounds(PERIOD_DAILY, utc_ms(2026, 2, 1, 0, 0) - 1, utc_ms(2026, 1, 31, 0, 0),
		      utc_ms(2026, 2, 1, 0, 0));
	expect_bounds(PERIOD_DAILY, utc_ms(2026, 2, 1, 0, 0), utc_ms(2026, 2, 1, 0, 0),
		      utc_ms(2026, 2, 2, 0, 0));
	expect_bounds(PERIOD_MONTHLY, utc_ms(2027, 2, 28, 12, 0), utc_ms(2027, 2, 1, 0, 0),
		      utc_ms(2027, 3, 1, 0, 0));
	/* Leap day. */
	expect_bounds(PERIOD_DAILY, utc_ms(2028, 2, 29, 12, 0), utc_ms(2028, 2, 29, 0, 0),
		      utc_ms(2028, 3, 1, 0, 0));
	expect_bounds(PERIOD_MONTHLY, utc_ms(2028, 2, 29, 12, 0), utc_ms(2028, 2, 1, 0, 0),
		      utc_ms(2028, 3, 1, 0, 0));
	expect_bounds(PERIOD_WEEKLY, utc_ms(2028, 2, 29, 12, 0), utc_ms(2028, 2, 28, 0, 0),
		      utc_ms(2028, 3, 6, 0, 0));
	/* Year end: December rolls into January of the next year. */
	expect_bounds(PERIOD_MONTHLY, utc_ms(2026, 12, 31, 18, 0), utc_ms(2026, 12, 1, 0, 0),
		      utc_ms(2027, 1, 1, 0, 0));
	expect_bounds(PERIOD_DAILY, utc_ms(2026, 12, 31, 18, 0), utc_ms(2026, 12, 31, 0, 0),
		      utc_ms(2027, 1, 1, 0, 0));
	expect_bounds(PERIOD_WEEKLY, utc_ms(2026, 12, 31, 18, 0), utc_ms(2026, 12, 28, 0, 0),
		      utc_ms(2027, 1, 4, 0, 0));
	/* Weeks start on Monday 00:00 (2026-05-11 is a Monday). */
	expect_bounds(PERIOD_WEEKLY, utc_ms(2026, 5, 11, 0, 0), utc_ms(2026, 5, 11, 0, 0),
		      utc_ms(2026, 5, 18, 0, 0));
	expect_bounds(PERIOD_WEEKLY, utc_ms(2026, 5, 11, 0, 0) - 1, utc_ms(2026, 5, 4, 0, 0),
		      utc_ms(2026, 5, 11, 0, 0));
	expect_bounds(PERIOD_WEEKLY, NOW_MS, utc_ms(2026, 5, 11, 0, 0), utc_ms(2026, 5, 18, 0, 0));
	/* Before 1970 the milliseconds round down, not toward zero. */
	expect_bounds(PERIOD_DAILY, -1, utc_ms(1969, 12, 31, 0, 0), 0);

	/* Local time, not UTC: India is UTC+05:30 all year. */
	tz_set("Asia/Kolkata");
	expect_bounds(PERIOD_DAILY, utc_ms(2026, 5, 14, 20, 0), utc_ms(2026, 5, 14, 18, 30),
		      utc_ms(2026, 5, 15, 18, 30));
	expect_bounds(PERIOD_MONTHLY, utc_ms(2026, 5, 31, 19, 0), utc_ms(2026, 5, 31, 18, 30),
		      utc_ms(2026, 6, 30, 18, 30));
	tz_set("UTC");
}

static void period_bounds_dst(void **state)
{
	int64_t start, end, start2, end2;
	(void)state;

	tz_set("America/New_York");
	/* 2026-03-08: clocks go from 02:00 EST to 03:00 EDT; the day is 23 h. */
	expect_bounds(PERIOD_DAILY, utc_ms(2026, 3, 8, 16, 0), INT64_C(1772946000000),
		      INT64_C(1773028800000));
	budget_period_bounds(PERIOD_DAILY, utc_ms(2026, 3, 8, 6, 59), &start, &end);   /* 01:59 EST */
	budget_period_bounds(PERIOD_DAILY, utc_ms(2026, 3, 8, 7, 0), &start2, &end2); /* 03:00 EDT */
	assert_int_equal(start, start2);
	assert_int_equal(end, end2);
	assert_int_equal(end - start, 23 * HOUR_MS);
	/* 2026-11-01: back from 02:00 EDT to 01:00 EST; the day is 25 h. */
	expect_bounds(PERIOD_DAILY, utc_ms(2026, 11, 1, 17, 0), INT64_C(1793505600000),
		      INT64_C(1793595600000));
	budget_period_bounds(PERIOD_DAILY, utc_ms(2026, 11, 1, 17, 0), &start, &end);
	assert_int_equal(end - start, 25 * HOUR_MS);
	/* The week around the March change: Monday 2 (EST) to Monday 9 (EDT). */
	expect_bounds(PERIOD_WEEKLY, utc_ms(2026, 3, 8, 16, 0), utc_ms(2026, 3, 2, 5, 0),
		      utc_ms(2026, 3, 9, 4, 0));
	expect_bounds(PERIOD_MONTHLY, utc_ms(2026, 3, 20, 12, 0), utc_ms(2026, 3, 1, 5, 0),
		      utc_ms(2026, 4, 1, 4, 0));
	/* Still the 31st locally, although already April in UTC. */
	expect_bounds(PERIOD_MONTHLY, utc_ms(2026, 4, 1, 2, 0), utc_ms(2026, 3, 1, 5, 0),
		      utc_ms(2026, 4, 1, 4, 0));
}

static void new_period_starts_at_zero(void **state)
{
	char *dir = state_path("period");
	struct budgets *b = open_at(dir);
	struct budget_refusal refusal;
	struct budget_status st[4];
	int64_t jan15 = utc_ms(2026, 1, 15, 12, 0), feb3 = utc_ms(2026, 2, 3, 8, 0);
	size_t n = 0;
	json_t *o, *entries;
	(void)state;

	def_set(b, "org", 100, PERIOD_MONTHLY, 100, true);
	assert_int_equal(reserve(b, "m1", &alice, 90, jan15), 0);
	assert_int_equal(settle(b, "m1", &alice, 90, jan15), 0);
	assert_int_equal(budget_reserve(b, "m2", &alice, 20, jan15 + 5 * DAY_MS, &refusal, NULL,
					NULL),
			 -EDQUOT);
	assert_int_equal(refusal.spent_micros, 90);
	assert_int_equal(refusal.period_end_ms, utc_ms(2026, 2, 1, 0, 0));

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
	assert_int_equal(budget_spend(b, "org", utc_ms(2026, 1, 1, 0, 0), utc_ms(2026, 2, 1, 0, 0),
				      &entries),
			 0);
	assert_int_equal(json_array_size(entries), 1);
	json_decref(entries);
	assert_int_equal(budget_spend(b, "org", 0, INT64_MAX, &entries), 0);
	assert_int_equal(json_array_size(entries), 2);
	json_decref(entries);

	/* Across the year end, to the millisecond. */
	assert_int_equal(settle(b, "m3", &alice, 80, utc_ms(2027, 1, 1, 0, 0) - 1), 0);
	assert_int_equal(reserve(b, "m4", &alice, 30, utc_ms(2027, 1, 1, 0, 0) - 1), -EDQUOT);
	assert_int_equal(reserve(b, "m4", &alice, 100, utc_ms(2027, 1, 1, 0, 0)), 0);
	budget_close(b);
	free(dir);
}

/* ------------------------------------------------------------------ */
/* Crash recovery and the database                                     */

static void open_releases_stale_reservations(void **state)
{
	char *dir = state_path("stale");
	struct budgets *b = open_at(dir), *other;
	struct budget_status st[4];
	size_t n = 0;
	(void)state;

	def_set(b, "org", 100, PERIOD_NONE, 100, true);
	assert_int_equal(reserve(b, "z1", &alice, 60, NOW_MS), 0);
	assert_int_equal(reserve(b, "z2", &alice, 30, NOW_MS), 0);
	assert_int_equal(settle(b, "z2", &alice, 30, NOW_MS), 0);
	assert_int_equal(reserved_total(b), 60);
	/* While this handle is open, another one must not take its live
	 * reservations for stale ones. */
	other = open_at(dir);
	assert_int_equal(reserved_total(other), 60);
	budget_close(other);
	budget_close(b); /* "crash": z1 is never settled */

	b = open_at(dir);
	assert_int_equal(reserved_total(b), 0);
	assert_int_equal(ledger_total(b), 3 * 30);
	assert_int_equal(reserve(b, "z3", &alice, 70, NOW_MS), 0);
	assert_int_equal(reserve(b, "z4", &alice, 1, NOW_MS), -EDQUOT);
	/* A late settlement of the swept run is still recorded. */
	assert_int_equal(budget_settle(b, "z1", &alice, 0, NULL, NOW_MS, st, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ledger_total(b), 3 * 30);
	budget_close(b);
	free(dir);
}

static sqlite3 *raw_open(const char *dir)
{
	char *path;
	sqlite3 *db;

	assert_true(asprintf(&path, "%s/ledgerbox.db", dir) > 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	free(path);
	return db;
}

static const char *raw_text(sqlite3 *db, const char *sql, char *out, size_t len)
{
	sqlite3_stmt *q;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	snprintf(out, len, "%s", (const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	return out;
}

static void schema_is_versioned_apart(void **state)
{
	char *dir = state_path("schema"), text[64], err[256] = "";
	struct budgets *b = open_at(dir), *none = NULL;
	sqlite3 *db;
	struct stat sb;
	char *path;
	(void)state;

	assert_int_equal(settle(b, "q1", &alice, 5, NOW_MS), 0);
	budget_close(b);
	assert_true(asprintf(&path, "%s/ledgerbox.db", dir) > 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	free(path);

	db = raw_open(dir);
	assert_string_equal(raw_text(db, "PRAGMA journal_mode", text, sizeof(text)), "wal");
	assert_string_equal(raw_text(db, "SELECT version FROM budget_schema", text, sizeof(text)),
			    "1");
	assert_string_equal(raw_text(db, "PRAGMA user_version", text, sizeof(text)), "0");
	assert_string_equal(raw_text(db,
				     "SELECT group_concat(name || strict, ',') FROM"
				     " (SELECT name, strict FROM pragma_table_list WHERE name IN"
				     " ('budgets', 'reservations', 'ledger', 'soft_warnings')"
				     " ORDER BY name)",
				     text, sizeof(text)),
			    "budgets1,ledger1,reservations1,soft_warnings1");
	/* The ledger is append-only through SQL. */
	assert_int_not_equal(sqlite3_exec(db, "UPDATE ledger SET amount_micros = 0", NULL, NULL,
					  NULL),
			     SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM ledger", NULL, NULL, NULL), SQLITE_OK);
	/* The store owns user_version; reopening leaves it alone. */
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 3", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	b = open_at(dir);
	assert_int_equal(ledger_total(b), 3 * 5);
	budget_close(b);
	db = raw_open(dir);
	assert_string_equal(raw_text(db, "PRAGMA user_version", text, sizeof(text)), "3");
	assert_string_equal(raw_text(db, "SELECT count(*) FROM budget_schema", text, sizeof(text)),
			    "1");
	/* Tables from a newer ledgerbox are refused, not guessed at. */
	assert_int_equal(sqlite3_exec(db, "UPDATE budget_schema SET version = 99", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(budget_open(dir, &none, err, sizeof(err)), -EPROTONOSUPPORT);
	assert_null(none);
	assert_non_null(strstr(err, "99"));
	free(dir);
}

/* ------------------------------------------------------------------ */
/* The invariant under concurrency                                     */

#define RACE_THREADS 8
#define RACE_ATTEMPTS 50
#define RACE_LIMIT 100
#define RACE_STEP 10

struct race {
	struct budgets *node[2];
	size_t n_nodes;
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
	char held[RACE_ATTEMPTS][48];
	int n_held;
};

static const struct budget_scopes race_scopes = { "t", "u", NULL };

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
	for (int i = 0; i < RACE_ATTEMPTS; i++)
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

/* 8 threads x 50 reservations of 10 against a hard limit of 100, nobody
 * settling meanwhile: exactly 10 succeed, whatever the interleaving. */
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
	assert_int_equal(s.refused, RACE_THREADS * RACE_ATTEMPTS - RACE_LIMIT / RACE_STEP);
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
	char *dir = state_path("race");
	struct race race;
	(void)state;

	memset(&race, 0, sizeof(race));
	race.node[0] = open_at(dir);
	race.n_nodes = 1;
	race.checker = open_at(dir);
	race.tag = "one";
	def_set(race.node[0], "org", RACE_LIMIT, PERIOD_MONTHLY, 80, true);
	race_contention(&race);
	budget_close(race.checker);
	budget_close(race.node[0]);
	free(dir);
}

/* Reserving and at once settling (at a random cost <= the reservation) or
 * releasing, from 8 threads: the invariant holds at every step, and every
 * refusal is accounted for and justified. */
static void race_churn(void **state)
{
	char *dir = state_path("churn");
	struct racer w[RACE_THREADS];
	struct race race;
	struct race_sum s;
	(void)state;

	memset(&race, 0, sizeof(race));
	race.node[0] = open_at(dir);
	race.n_nodes = 1;
	race.checker = open_at(dir);
	race.tag = "churn";
	def_set(race.node[0], "org", RACE_LIMIT, PERIOD_MONTHLY, 80, true);
	racers_init(&race, w, true);
	race_run(&race, w, racer_reserve_all);
	s = race_sum(w);
	assert_int_equal(s.failed, 0);
	assert_int_equal(s.violations, 0);
	assert_int_equal(s.bad_refusals, 0);
	assert_int_equal(s.ok + s.refused, RACE_THREADS * RACE_ATTEMPTS);
	assert_int_equal(s.settled + s.released, s.ok);
	assert_true(s.ok >= RACE_LIMIT / RACE_STEP);
	race_settled_check(race.checker, s.cost_micros, race.tag);
	budget_close(race.checker);
	budget_close(race.node[0]);
	free(dir);
}

/* Two handles on one database stand for two nodes: the limit holds across
 * them because the check and the insert share one IMMEDIATE transaction. */
static void race_two_nodes(void **state)
{
	char *dir = state_path("nodes");
	struct race race;
	(void)state;

	memset(&race, 0, sizeof(race));
	race.node[0] = open_at(dir);
	race.node[1] = open_at(dir);
	race.n_nodes = 2;
	race.checker = open_at(dir);
	race.tag = "two";
	def_set(race.node[1], "org", RACE_LIMIT, PERIOD_MONTHLY, 80, true);
	race_contention(&race);
	budget_close(race.checker);
	budget_close(race.node[1]);
	budget_close(race.node[0]);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(set_list_remove),
		cmocka_unit_test(names_and_periods),
		cmocka_unit_test(reserve_hard_limit),
		cmocka_unit_test(soft_budget_never_refuses),
		cmocka_unit_test(soft_warning_once_per_period),
		cmocka_unit_test(settle_is_idempotent),
		cmocka_unit_test(all_or_nothing),
		cmocka_unit_test(bad_arguments),
		cmocka_unit_test_teardown(period_bounds_calendar, tz_utc),
		cmocka_unit_test_teardown(period_bounds_dst, tz_utc),
		cmocka_unit_test(new_period_starts_at_zero),
		cmocka_unit_test(open_releases_stale_reservations),
		cmocka_unit_test(schema_is_versioned_apart),
		cmocka_unit_test(race_one_node),
		cmocka_unit_test(race_churn),
		cmocka_unit_test(race_two_nodes),
	};

	tz_set("UTC");
	return cmocka_run_group_tests_name("budget", tests, NULL, NULL);
}
