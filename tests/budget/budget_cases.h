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
 *
 * This header holds the fixture, the helpers and the case list
 * (BUDGET_CASES); the cases themselves are in budget_cases_defs.h
 * (budgets, reservations, settlement, periods) and budget_cases_race.h
 * (the invariant under concurrency). Programs include only this header.
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

#include "budget/budget_cases_defs.h"
#include "budget/budget_cases_race.h"

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
