/*
 * budget_pg_reserve: holding a run's worst-case cost in PostgreSQL before
 * it starts, lowering it, and letting go of it.
 *
 * The invariant of budget.h (spent_in_period + reserved <= limit for every
 * hard budget, across every node) is kept as budget_reserve.c keeps it on
 * SQLite: one transaction takes the budget write lock, and only then reads
 * every budgeted scope's standing, checks all hard limits and inserts a
 * reservation per budgeted scope, tagged with this node's id. Every other
 * transaction that could raise what a scope holds (reserve, settle, set)
 * waits for that lock, so none can slip in between the check and the
 * insert, and a refusal on any scope leaves no reservation on the others.
 *
 * Each reservation is a lease (budget_pg_lease.c) ending hold_ms (the
 * run's deadline) plus the node's lease after now(), on the database's
 * clock.
 *
 * Release and shrink only ever lower reservations, so they cannot break a
 * limit: each is one statement, without the lock, and safe to repeat after
 * a reconnect.
 */
#include <errno.h>

#include "budget/budget_pg.h"
#include "util/banned.h"

/* -EEXIST when run_id holds reservations or has been settled. */
static int run_unused_tx(struct budget_pg *pg, const char *run_id)
{
	const char *params[] = { run_id };
	PGresult *res;
	int r = budget_pg_query(pg,
				"SELECT EXISTS (SELECT 1 FROM reservations WHERE run_id = $1)"
				" OR EXISTS (SELECT 1 FROM ledger WHERE run_id = $1)",
				1, params, &res);

	if (r < 0)
		return r;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
		r = -EIO;
	else
		r = PQgetvalue(res, 0, 0)[0] == 't' ? -EEXIST : 0;
	PQclear(res);
	return r;
}

/* What a reservation is made for: its amount, how long its run may go,
 * and when it was made (node clock, for the record only). */
struct hold {
	uint64_t amount_micros, hold_ms;
	int64_t now_ms;
};

static int reservation_insert_tx(struct budget_pg *pg, const char *run_id, const char *scope,
				 const struct hold *h)
{
	char amount_text[PG_INT_TEXT], now_text[PG_INT_TEXT], node_text[PG_INT_TEXT],
		lease_text[PG_INT_TEXT];
	uint64_t lease_ms = budget_add_sat(h->hold_ms, pg->lease_ms);
	const char *params[] = { run_id,
				 scope,
				 pg_i64_text((int64_t)h->amount_micros, amount_text),
				 pg_i64_text(h->now_ms, now_text),
				 pg_i64_text(pg->node, node_text),
				 pg_i64_text(lease_ms > INT64_MAX ? INT64_MAX : (int64_t)lease_ms,
					     lease_text) };

	return budget_pg_query(pg,
			       "INSERT INTO reservations (run_id, scope, amount_micros, created_ms,"
			       " node, expires_at) VALUES ($1, $2, $3, $4, $5,"
			       " now() + $6::bigint * interval '1 millisecond')",
			       6, params, NULL);
}

/* Inserts the reservations and turns each standing into the status after
 * them. */
static int reserve_apply_tx(struct budget_pg *pg, const char *run_id,
			    struct budget_standing *stand, size_t n, const struct hold *h,
			    struct budget_status *ret_status)
{
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		r = reservation_insert_tx(pg, run_id, stand[i].def.scope, h);
		stand[i].reserved_micros = budget_add_sat(stand[i].reserved_micros, h->amount_micros);
		if (r == 0)
			r = budget_pg_status_fill_tx(pg, &stand[i], h->now_ms, &ret_status[i]);
	}
	return r;
}

int budget_pg_reserve_locked(struct budget_pg *pg, const char *run_id,
			     const struct scope_list *list, uint64_t amount_micros,
			     uint64_t hold_ms, int64_t now_ms, struct budget_refusal *ret_refusal,
			     struct budget_status ret_status[BUDGET_SCOPES_MAX], size_t *ret_n)
{
	const struct hold h = { amount_micros, hold_ms, now_ms };
	struct budget_standing stand[BUDGET_SCOPES_MAX];
	size_t n = 0;
	int r;

	budget_pg_sweep_maybe(pg);
	r = budget_pg_write_begin(pg);
	if (r < 0)
		return r;
	r = run_unused_tx(pg, run_id);
	if (r == 0)
		r = budget_pg_standings_read(pg, list, now_ms, stand, &n);
	if (r == 0)
		r = budget_limits_check(stand, n, amount_micros, ret_refusal);
	if (r == 0)
		r = reserve_apply_tx(pg, run_id, stand, n, &h, ret_status);
	r = budget_pg_end(pg, r);
	if (r == 0)
		*ret_n = n;
	return r;
}

int budget_pg_release_locked(struct budget_pg *pg, const char *run_id)
{
	const char *params[] = { run_id };

	return budget_pg_run_once(pg, "DELETE FROM reservations WHERE run_id = $1", 1, params,
				  NULL);
}

int budget_pg_shrink_locked(struct budget_pg *pg, const char *run_id, uint64_t amount_micros)
{
	char amount_text[PG_INT_TEXT];
	const char *params[] = { run_id, pg_i64_text((int64_t)amount_micros, amount_text) };

	/* Only ever lowers, so it can never break a limit: no check needed. */
	return budget_pg_run_once(pg,
				  "UPDATE reservations SET amount_micros = $2"
				  " WHERE run_id = $1 AND amount_micros > $2",
				  2, params, NULL);
}
