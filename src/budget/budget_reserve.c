/*
 * budget_reserve: holding a run's worst-case cost before it starts, and
 * letting go of it when the run never did any work.
 *
 * The invariant (budget.h: spent_in_period + reserved <= limit for every
 * hard budget) is kept here. One IMMEDIATE transaction reads every
 * budgeted scope's standing, checks all hard limits and only then inserts
 * a reservation per budgeted scope: SQLite hands the write lock to one
 * connection at a time, so no other thread, process or node can reserve
 * between the check and the insert, and a refusal on any scope leaves no
 * reservation on the others.
 *
 * Scopes without a budget get no reservation: there is nothing to limit,
 * and budget_settle() charges every scope anyway.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "budget/budget_internal.h"
#include "util/banned.h"

/* -EEXIST when run_id holds reservations or has been settled. */
static int run_unused_tx(sqlite3 *db, const char *run_id)
{
	sqlite3_stmt *st;
	int r = db_prepare(db,
				   "SELECT EXISTS (SELECT 1 FROM reservations WHERE run_id = ?1)"
				   " OR EXISTS (SELECT 1 FROM ledger WHERE run_id = ?1)",
				   &st);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
	r = db_step(st);
	if (r == 1)
		r = sqlite3_column_int(st, 0) ? -EEXIST : 0;
	else if (r == 0)
		r = -EIO;
	sqlite3_finalize(st);
	return r;
}

static int reservation_insert_tx(sqlite3 *db, const char *run_id, const char *scope,
				 uint64_t amount_micros, int64_t now_ms)
{
	sqlite3_stmt *st;
	int r = db_prepare(db,
				   "INSERT INTO reservations (run_id, scope, amount_micros, created_ms)"
				   " VALUES (?1, ?2, ?3, ?4)",
				   &st);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, scope, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (int64_t)amount_micros);
	sqlite3_bind_int64(st, 4, now_ms);
	return budget_sql_run(st);
}

/* Inserts the reservations and turns each standing into the status after
 * them. */
static int reserve_apply_tx(sqlite3 *db, const char *run_id, struct budget_standing *stand,
			    size_t n, uint64_t amount_micros, int64_t now_ms,
			    struct budget_status *ret_status)
{
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		r = reservation_insert_tx(db, run_id, stand[i].def.scope, amount_micros, now_ms);
		stand[i].reserved_micros = budget_add_sat(stand[i].reserved_micros, amount_micros);
		if (r == 0)
			r = budget_status_fill_tx(db, &stand[i], now_ms, &ret_status[i]);
	}
	return r;
}

/* PostgreSQL: a reservation made is a lease this node renews; one whose
 * commit may or may not have landed (the connection went) is released by
 * run id once the database is back, and never renewed. */
static void pg_reserve_after_locked(struct budgets *b, const char *run_id, int r)
{
	if (r == 0) {
		if (budget_pg_live_add(b->pg, run_id) == 0)
			budget_lease_renewer_start_locked(b);
	} else if (r != -EDQUOT && r != -EEXIST && budget_pg_lost(b->pg)) {
		budget_pending_add_locked(b, run_id);
	}
}

int budget_reserve(struct budgets *b, const char *run_id, const struct budget_scopes *scopes,
		   uint64_t amount_micros, int64_t now_ms, struct budget_refusal *ret_refusal,
		   struct budget_status *ret_status, size_t *ret_n_status)
{
	return budget_reserve_for(b, run_id, scopes, amount_micros, 0, now_ms, ret_refusal,
				  ret_status, ret_n_status);
}

int budget_reserve_for(struct budgets *b, const char *run_id, const struct budget_scopes *scopes,
		       uint64_t amount_micros, uint64_t hold_ms, int64_t now_ms,
		       struct budget_refusal *ret_refusal, struct budget_status *ret_status,
		       size_t *ret_n_status)
{
	struct budget_standing stand[BUDGET_SCOPES_MAX];
	struct budget_status status[BUDGET_SCOPES_MAX];
	struct budget_refusal refusal;
	struct scope_list list;
	size_t n = 0;
	int r;

	if (!b || !budget_run_id_valid(run_id))
		return -EINVAL;
	if (amount_micros > BUDGET_MICROS_MAX)
		return -ERANGE;
	r = budget_scopes_expand(scopes, &list);
	if (r < 0)
		return r;
	budget_lock(b);
	budget_pending_flush_locked(b);
	if (b->pg) {
		r = budget_pg_reserve_locked(b->pg, run_id, &list, amount_micros, hold_ms, now_ms,
					     &refusal, status, &n);
		pg_reserve_after_locked(b, run_id, r);
	} else {
		r = budget_tx_begin(b->db);
		if (r == 0)
			r = run_unused_tx(b->db, run_id);
		if (r == 0)
			r = budget_standings_read(b->db, &list, now_ms, stand, &n);
		if (r == 0)
			r = budget_limits_check(stand, n, amount_micros, &refusal);
		if (r == 0)
			r = reserve_apply_tx(b->db, run_id, stand, n, amount_micros, now_ms,
					     status);
		r = db_tx_end(b->db, r);
	}
	budget_unlock(b);
	if (r == -EDQUOT && ret_refusal)
		*ret_refusal = refusal;
	if (r == 0)
		budget_statuses_copy(status, n, ret_status, ret_n_status);
	return r;
}

int budget_release(struct budgets *b, const char *run_id)
{
	int r;

	if (!b || !budget_run_id_valid(run_id))
		return -EINVAL;
	budget_lock(b);
	/* One statement is its own transaction; no check precedes it. */
	r = budget_release_locked(b, run_id);
	budget_unlock(b);
	return r;
}

static int shrink_locked(struct budgets *b, const char *run_id, uint64_t amount_micros)
{
	sqlite3_stmt *st;
	/* Only ever lowers, so it can never break a limit: no check needed. */
	int r = db_prepare(b->db,
			   "UPDATE reservations SET amount_micros = ?2"
			   " WHERE run_id = ?1 AND amount_micros > ?2",
			   &st);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)amount_micros);
	return budget_sql_run(st);
}

int budget_shrink(struct budgets *b, const char *run_id, uint64_t amount_micros)
{
	int r;

	if (!b || !budget_run_id_valid(run_id) || amount_micros > BUDGET_MICROS_MAX)
		return -EINVAL;
	budget_lock(b);
	r = b->pg ? budget_pg_shrink_locked(b->pg, run_id, amount_micros)
		  : shrink_locked(b, run_id, amount_micros);
	budget_unlock(b);
	return r;
}
