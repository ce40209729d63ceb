/*
 * budget_pg_settle: turning a finished run's reservations into spend in
 * PostgreSQL, with the rules of budget_settle.c: one transaction deletes
 * the run's reservations and appends one ledger row per scope the run is
 * charged to, budgeted or not, all with the same amount, time and detail.
 *
 * The transaction takes the budget write lock first, so the "already
 * settled?" check and the append cannot be split by a settlement of the
 * same run on another node: settling is at most once per run id and a
 * second attempt returns 0 with no statuses, as on SQLite (UNIQUE
 * (run_id, scope) stays as a last guard). The lock also keeps statuses and
 * soft-warning records in step with reservations made elsewhere.
 */
#include <errno.h>

#include "budget/budget_pg.h"
#include "util/banned.h"

static int run_settled_tx(struct budget_pg *pg, const char *run_id, bool *ret)
{
	const char *params[] = { run_id };

	return budget_pg_query_bool(pg, "SELECT EXISTS (SELECT 1 FROM ledger WHERE run_id = $1)", 1,
				    params, ret);
}

static int ledger_append_tx(struct budget_pg *pg, const struct budget_entry *e,
			    const struct scope_list *list)
{
	char amount_text[PG_INT_TEXT], at_text[PG_INT_TEXT];
	const char *params[] = { e->run_id, NULL, pg_i64_text((int64_t)e->amount_micros, amount_text),
				 pg_i64_text(e->at_ms, at_text), e->detail };
	int r = 0;

	for (size_t i = 0; i < list->n && r == 0; i++) {
		params[1] = list->scope[i];
		r = budget_pg_query(pg,
				    "INSERT INTO ledger (run_id, scope, amount_micros, at_ms, detail)"
				    " VALUES ($1, $2, $3, $4, $5)",
				    5, params, NULL);
	}
	return r;
}

static int statuses_fill_tx(struct budget_pg *pg, const struct scope_list *list,
			    int64_t now_ms, struct budget_status status[BUDGET_SCOPES_MAX],
			    size_t *ret_n)
{
	struct budget_standing stand[BUDGET_SCOPES_MAX];
	size_t n = 0;
	int r = budget_pg_standings_read(pg, list, now_ms, stand, &n);

	for (size_t i = 0; i < n && r == 0; i++)
		r = budget_pg_status_fill_tx(pg, &stand[i], now_ms, &status[i]);
	if (r == 0)
		*ret_n = n;
	return r;
}

static int settle_tx(struct budget_pg *pg, const struct budget_entry *e,
		     const struct scope_list *list, struct budget_status status[BUDGET_SCOPES_MAX],
		     size_t *ret_n)
{
	const char *params[] = { e->run_id };
	bool settled = false;
	int r = run_settled_tx(pg, e->run_id, &settled);

	if (r < 0)
		return r;
	if (settled) {
		*ret_n = 0;
		return 0;
	}
	r = budget_pg_query(pg, "DELETE FROM reservations WHERE run_id = $1", 1, params, NULL);
	if (r == 0)
		r = ledger_append_tx(pg, e, list);
	if (r == 0)
		r = statuses_fill_tx(pg, list, e->at_ms, status, ret_n);
	return r;
}

int budget_pg_settle_locked(struct budget_pg *pg, const struct budget_entry *e,
			    const struct scope_list *list,
			    struct budget_status ret_status[BUDGET_SCOPES_MAX], size_t *ret_n)
{
	size_t n = 0;
	int r = budget_pg_write_begin(pg);

	if (r < 0)
		return r;
	r = budget_pg_end(pg, settle_tx(pg, e, list, ret_status, &n));
	if (r == 0)
		*ret_n = n;
	return r;
}
