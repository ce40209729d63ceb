/*
 * budget_pg_query: reading the ledger back (per scope and time range) and
 * the grand totals, from PostgreSQL, with the shapes and limits of
 * budget_query.c.
 *
 * Each answer comes from one statement, so from one snapshot: the totals
 * never show a run's reservations and its ledger rows at once, nor
 * neither, even while other nodes settle. Reservations whose lease ended
 * count nowhere, here neither.
 */
#include <errno.h>

#include "budget/budget_pg.h"
#include "util/banned.h"

static json_t *entry_json(const PGresult *res, int i)
{
	uint64_t amount;
	int64_t at_ms;

	if (budget_pg_u64(res, i, 2, &amount) < 0 || budget_pg_i64(res, i, 3, &at_ms) < 0)
		return NULL;
	return budget_entry_json(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), amount, at_ms,
				 PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4));
}

int budget_pg_spend_locked(struct budget_pg *pg, const char *scope, int64_t from_ms,
			   int64_t to_ms, json_t *list)
{
	char from_text[PG_INT_TEXT], to_text[PG_INT_TEXT], limit_text[PG_INT_TEXT];
	/* One row more than allowed tells "exactly the maximum" from "more". */
	const char *params[] = { scope, pg_i64_text(from_ms, from_text), pg_i64_text(to_ms, to_text),
				 pg_i64_text(BUDGET_SPEND_ROWS_MAX + 1, limit_text) };
	PGresult *res;
	int r = budget_pg_run_once(pg,
				   "SELECT run_id, scope, amount_micros, at_ms, detail FROM ledger"
				   " WHERE ($1 = '' OR scope = $1) AND at_ms >= $2 AND at_ms < $3"
				   " ORDER BY at_ms, id LIMIT $4",
				   4, params, &res);

	if (r < 0)
		return r;
	if (PQntuples(res) > BUDGET_SPEND_ROWS_MAX)
		r = -E2BIG;
	for (int i = 0; i < PQntuples(res) && r == 0; i++) {
		json_t *e = entry_json(res, i);

		if (!e || json_array_append_new(list, e) < 0)
			r = -ENOMEM;
	}
	PQclear(res);
	return r;
}

int budget_pg_totals_locked(struct budget_pg *pg, uint64_t *ret_ledger_micros,
			    uint64_t *ret_reserved_micros)
{
	uint64_t ledger = 0, reserved = 0;
	PGresult *res;
	int r = budget_pg_run_once(pg,
				   "SELECT (SELECT COALESCE(SUM(amount_micros), 0) FROM ledger),"
				   " (SELECT COALESCE(SUM(amount_micros), 0) FROM reservations"
				   "  WHERE expires_at > now())",
				   0, NULL, &res);

	if (r < 0)
		return r;
	r = budget_pg_u64(res, 0, 0, &ledger);
	if (r == 0)
		r = budget_pg_u64(res, 0, 1, &reserved);
	PQclear(res);
	if (r == 0) {
		*ret_ledger_micros = ledger;
		*ret_reserved_micros = reserved;
	}
	return r;
}
