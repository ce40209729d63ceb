/*
 * budget_standing: where one scope stands at an instant: its budget, what
 * the ledger holds for it in the current period, what open reservations
 * hold, and whether that crosses the soft threshold.
 *
 * Reservations have no period: a reservation made before midnight still
 * counts after it, because the run it belongs to is still running and will
 * be settled into the new period. Spend outside the current period never
 * counts. The soft threshold is floor(limit x soft_percent / 100); a
 * crossing is recorded once per (scope, period start) in soft_warnings, so
 * the caller warns and audits it once per period.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "budget/budget_internal.h"
#include "util/banned.h"

int budget_def_read(sqlite3 *db, const char *scope, struct budget_def *ret)
{
	struct budget_def def;
	sqlite3_stmt *st;
	int r = db_prepare(db,
				   "SELECT limit_micros, period, soft_percent, hard FROM budgets"
				   " WHERE scope = ?1",
				   &st);

	if (r < 0)
		return r;
	memset(&def, 0, sizeof(def));
	sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
	r = db_step(st);
	if (r == 1) {
		snprintf(def.scope, sizeof(def.scope), "%s", scope);
		def.limit_micros = (uint64_t)sqlite3_column_int64(st, 0);
		def.soft_percent = (unsigned)sqlite3_column_int(st, 2);
		def.hard = sqlite3_column_int(st, 3) != 0;
		/* The CHECK constraint only lets known names in; anything else
		 * means the file was edited behind our back. */
		r = budget_period_parse((const char *)sqlite3_column_text(st, 1), &def.period) < 0
			    ? -EIO
			    : 0;
	} else if (r == 0) {
		r = -ENOENT;
	}
	sqlite3_finalize(st);
	if (r == 0)
		*ret = def;
	return r;
}

/* Runs a one-value SUM query whose first parameter is the scope. */
static int sum_read(sqlite3_stmt *st, const char *scope, uint64_t *ret)
{
	int r;

	sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
	r = db_step(st);
	if (r == 1)
		*ret = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return r < 0 ? r : r == 1 ? 0 : -EIO;
}

static int spent_read(sqlite3 *db, const struct budget_standing *stand, uint64_t *ret)
{
	sqlite3_stmt *st;
	int64_t from_ms, to_ms;
	int r = db_prepare(db,
				   "SELECT COALESCE(SUM(amount_micros), 0) FROM ledger"
				   " WHERE scope = ?1 AND at_ms >= ?2 AND at_ms < ?3",
				   &st);

	if (r < 0)
		return r;
	budget_period_sql_range(stand, &from_ms, &to_ms);
	sqlite3_bind_int64(st, 2, from_ms);
	sqlite3_bind_int64(st, 3, to_ms);
	return sum_read(st, stand->def.scope, ret);
}

static int reserved_read(sqlite3 *db, const char *scope, uint64_t *ret)
{
	sqlite3_stmt *st;
	int r = db_prepare(
		db, "SELECT COALESCE(SUM(amount_micros), 0) FROM reservations WHERE scope = ?1", &st);

	return r < 0 ? r : sum_read(st, scope, ret);
}

int budget_standing_read(sqlite3 *db, const char *scope, int64_t now_ms,
			 struct budget_standing *ret)
{
	struct budget_standing stand;
	int r;

	memset(&stand, 0, sizeof(stand));
	r = budget_def_read(db, scope, &stand.def);
	if (r < 0)
		return r;
	budget_period_bounds(stand.def.period, now_ms, &stand.period_start_ms,
			     &stand.period_end_ms);
	r = spent_read(db, &stand, &stand.spent_micros);
	if (r == 0)
		r = reserved_read(db, scope, &stand.reserved_micros);
	if (r == 0)
		*ret = stand;
	return r;
}

static int standing_read(void *db, const char *scope, int64_t now_ms,
			 struct budget_standing *ret)
{
	return budget_standing_read(db, scope, now_ms, ret);
}

int budget_standings_read(sqlite3 *db, const struct scope_list *list, int64_t now_ms,
			  struct budget_standing ret[BUDGET_SCOPES_MAX], size_t *ret_n)
{
	return budget_standings_collect(standing_read, db, list, now_ms, ret, ret_n);
}

/* Records a soft crossing for the period; *ret_first says whether it is
 * the first one. */
static int warning_record_tx(sqlite3 *db, const struct budget_standing *stand, int64_t now_ms,
			     bool *ret_first)
{
	sqlite3_stmt *st;
	int r = db_prepare(db,
				   "INSERT OR IGNORE INTO soft_warnings (scope, period_start_ms, at_ms)"
				   " VALUES (?1, ?2, ?3)",
				   &st);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, stand->def.scope, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, stand->period_start_ms);
	sqlite3_bind_int64(st, 3, now_ms);
	r = budget_sql_run(st);
	if (r == 0)
		*ret_first = sqlite3_changes(db) == 1;
	return r;
}

int budget_status_fill_tx(sqlite3 *db, const struct budget_standing *stand, int64_t now_ms,
			  struct budget_status *ret)
{
	struct budget_status s;
	bool first = false;
	int r = 0;

	budget_status_of(stand, &s);
	if (s.soft_crossed)
		r = warning_record_tx(db, stand, now_ms, &first);
	if (r < 0)
		return r;
	s.soft_first_time = first;
	*ret = s;
	return 0;
}

void budget_statuses_copy(const struct budget_status *status, size_t n,
			  struct budget_status *ret_status, size_t *ret_n_status)
{
	if (ret_status && n > 0)
		memcpy(ret_status, status, n * sizeof(*status));
	if (ret_n_status)
		*ret_n_status = n;
}
