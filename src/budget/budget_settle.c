/*
 * budget_settle: turning a finished run's reservations into spend.
 *
 * One IMMEDIATE transaction deletes the run's reservations and appends one
 * ledger row per scope the run is charged to (every scope, budgeted or
 * not, so spend can be asked per team, user or session without a budget),
 * all with the same amount, time and detail. UNIQUE (run_id, scope) and the
 * "already settled?" check inside the transaction make settling at most
 * once per run id, whichever thread or process tries: a retry after an
 * uncertain failure is always safe.
 *
 * The ledger is the truth: a cost above the reservation is recorded as it
 * is, and can take spent past a hard limit (later reservations are then
 * refused until the period ends). The invariant holds as long as runs are
 * stopped at the cost they reserved, which is the caller's side of it.
 * On PostgreSQL that holds after the run's lease ended too: the ledger row
 * is appended whether the reservation is still there or not.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "budget/budget_internal.h"
#include "util/banned.h"

static int run_settled_tx(sqlite3 *db, const char *run_id, bool *ret)
{
	sqlite3_stmt *st;
	int r = db_prepare(db, "SELECT EXISTS (SELECT 1 FROM ledger WHERE run_id = ?1)",
				   &st);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
	r = db_step(st);
	if (r == 1)
		*ret = sqlite3_column_int(st, 0) != 0;
	sqlite3_finalize(st);
	return r < 0 ? r : r == 1 ? 0 : -EIO;
}

static int reservations_delete_tx(sqlite3 *db, const char *run_id)
{
	sqlite3_stmt *st;
	int r = db_prepare(db, "DELETE FROM reservations WHERE run_id = ?1", &st);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
	return budget_sql_run(st);
}

static int ledger_append_tx(sqlite3 *db, const struct budget_entry *e, const struct scope_list *list)
{
	sqlite3_stmt *st;
	int r = db_prepare(db,
				   "INSERT INTO ledger (run_id, scope, amount_micros, at_ms, detail)"
				   " VALUES (?1, ?2, ?3, ?4, ?5)",
				   &st);

	if (r < 0)
		return r;
	for (size_t i = 0; i < list->n && r == 0; i++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, e->run_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, list->scope[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (int64_t)e->amount_micros);
		sqlite3_bind_int64(st, 4, e->at_ms);
		if (e->detail)
			sqlite3_bind_text(st, 5, e->detail, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 5);
		r = db_step(st);
		r = r > 0 ? -EIO : r;
	}
	sqlite3_finalize(st);
	return r;
}

static int statuses_fill_tx(sqlite3 *db, const struct scope_list *list, int64_t now_ms,
			    struct budget_status status[BUDGET_SCOPES_MAX], size_t *ret_n)
{
	struct budget_standing stand[BUDGET_SCOPES_MAX];
	size_t n = 0;
	int r = budget_standings_read(db, list, now_ms, stand, &n);

	for (size_t i = 0; i < n && r == 0; i++)
		r = budget_status_fill_tx(db, &stand[i], now_ms, &status[i]);
	if (r == 0)
		*ret_n = n;
	return r;
}

/* Settles inside the transaction; *ret_n is 0 when the run was already
 * settled (the first settlement reported its statuses). */
static int settle_tx(sqlite3 *db, const struct budget_entry *e, const struct scope_list *list,
		     struct budget_status status[BUDGET_SCOPES_MAX], size_t *ret_n)
{
	bool settled = false;
	int r = run_settled_tx(db, e->run_id, &settled);

	if (r < 0)
		return r;
	if (settled) {
		*ret_n = 0;
		return 0;
	}
	r = reservations_delete_tx(db, e->run_id);
	if (r == 0)
		r = ledger_append_tx(db, e, list);
	if (r == 0)
		r = statuses_fill_tx(db, list, e->at_ms, status, ret_n);
	return r;
}

int budget_settle(struct budgets *b, const char *run_id, const struct budget_scopes *scopes,
		  uint64_t cost_micros, json_t *detail, int64_t now_ms,
		  struct budget_status *ret_status, size_t *ret_n_status)
{
	struct budget_status status[BUDGET_SCOPES_MAX];
	struct budget_entry e = { run_id, cost_micros, now_ms, NULL };
	struct scope_list list;
	char *text = NULL;
	size_t n = 0;
	int r;

	if (!b || !budget_run_id_valid(run_id))
		return -EINVAL;
	if (cost_micros > BUDGET_MICROS_MAX)
		return -ERANGE;
	r = budget_scopes_expand(scopes, &list);
	if (r == 0)
		r = budget_detail_text(detail, &text);
	if (r < 0)
		return r;
	e.detail = text;
	budget_lock(b);
	budget_pending_flush_locked(b);
	if (b->pg) {
		r = budget_pg_settle_locked(b->pg, &e, &list, status, &n);
		/* Settled: the lease has nothing left to hold. Lost around
		 * the commit: kept and tried again, the lease renewed. */
		if (r == 0)
			budget_pg_live_remove(b->pg, run_id);
		else if (budget_pg_lost(b->pg))
			(void)budget_pending_settle_add_locked(b, &e, &list);
	} else {
		r = budget_tx_begin(b->db);
		if (r == 0)
			r = settle_tx(b->db, &e, &list, status, &n);
		r = db_tx_end(b->db, r);
	}
	budget_unlock(b);
	free(text);
	if (r == 0)
		budget_statuses_copy(status, n, ret_status, ret_n_status);
	return r;
}
