/*
 * budget_query: reading the ledger back (per scope and time range) and
 * the grand totals used by checks and tests.
 *
 * Each read runs in one read transaction, so it sees one committed state
 * even while other connections settle: the totals never show a run's
 * reservations and its ledger rows at once, nor neither.
 */
#include <errno.h>
#include <string.h>

#include "budget/budget_internal.h"
#include "util/banned.h"

static json_t *entry_json(sqlite3_stmt *st)
{
	return budget_entry_json((const char *)sqlite3_column_text(st, 0),
				 (const char *)sqlite3_column_text(st, 1),
				 (uint64_t)sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
				 (const char *)sqlite3_column_text(st, 4));
}

static int spend_read_tx(sqlite3 *db, const char *scope, int64_t from_ms, int64_t to_ms,
			 json_t *list)
{
	const char *sql = *scope ? "SELECT run_id, scope, amount_micros, at_ms, detail FROM ledger"
				   " WHERE scope = ?1 AND at_ms >= ?2 AND at_ms < ?3"
				   " ORDER BY at_ms, id LIMIT ?4"
				 : "SELECT run_id, scope, amount_micros, at_ms, detail FROM ledger"
				   " WHERE ?1 = '' AND at_ms >= ?2 AND at_ms < ?3"
				   " ORDER BY at_ms, id LIMIT ?4";
	sqlite3_stmt *st;
	size_t rows = 0;
	int r = db_prepare(db, sql, &st);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, from_ms);
	sqlite3_bind_int64(st, 3, to_ms);
	/* One row more than allowed tells "exactly the maximum" from "more". */
	sqlite3_bind_int64(st, 4, BUDGET_SPEND_ROWS_MAX + 1);
	while ((r = db_step(st)) == 1) {
		json_t *e;

		if (++rows > BUDGET_SPEND_ROWS_MAX) {
			r = -E2BIG;
			break;
		}
		e = entry_json(st);
		if (!e || json_array_append_new(list, e) < 0) {
			r = -ENOMEM;
			break;
		}
	}
	sqlite3_finalize(st);
	return r;
}

int budget_spend(struct budgets *b, const char *scope, int64_t from_ms, int64_t to_ms,
		 json_t **ret)
{
	json_t *list;
	int r;

	if (!b || !scope || !ret || (*scope && !budget_scope_valid(scope)) || to_ms < from_ms)
		return -EINVAL;
	list = json_array();
	if (!list)
		return -ENOMEM;
	budget_lock(b);
	if (b->pg) {
		r = budget_pg_spend_locked(b->pg, scope, from_ms, to_ms, list);
	} else {
		r = budget_tx_read_begin(b->db);
		if (r == 0)
			r = spend_read_tx(b->db, scope, from_ms, to_ms, list);
		r = db_tx_end(b->db, r);
	}
	budget_unlock(b);
	if (r < 0) {
		json_decref(list);
		return r;
	}
	*ret = list;
	return 0;
}

static int total_read(sqlite3 *db, const char *sql, uint64_t *ret)
{
	sqlite3_stmt *st;
	int r = db_prepare(db, sql, &st);

	if (r < 0)
		return r;
	r = db_step(st);
	if (r == 1)
		*ret = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return r < 0 ? r : r == 1 ? 0 : -EIO;
}

static int totals_locked(struct budgets *b, uint64_t *ledger, uint64_t *reserved)
{
	int r = budget_tx_read_begin(b->db);

	if (r == 0)
		r = total_read(b->db, "SELECT COALESCE(SUM(amount_micros), 0) FROM ledger", ledger);
	if (r == 0)
		r = total_read(b->db, "SELECT COALESCE(SUM(amount_micros), 0) FROM reservations",
			       reserved);
	return db_tx_end(b->db, r);
}

int budget_totals(struct budgets *b, uint64_t *ret_ledger_micros, uint64_t *ret_reserved_micros)
{
	uint64_t ledger = 0, reserved = 0;
	int r;

	if (!b || !ret_ledger_micros || !ret_reserved_micros)
		return -EINVAL;
	budget_lock(b);
	r = b->pg ? budget_pg_totals_locked(b->pg, &ledger, &reserved)
		  : totals_locked(b, &ledger, &reserved);
	budget_unlock(b);
	if (r == 0) {
		*ret_ledger_micros = ledger;
		*ret_reserved_micros = reserved;
	}
	return r;
}
