/*
 * budget_pg_standing: where one scope stands at an instant, read from
 * PostgreSQL: its budget, its ledger spend in the current period, its open
 * reservations, and the once-per-period record of a soft crossing. The
 * rules are those of budget_standing.c (reservations have no period; the
 * threshold is budget_status_of's).
 *
 * Only reservations whose lease has not ended count (budget_pg_lease.c):
 * an expired one holds nothing, swept or not, so no decision depends on
 * when the sweep runs. Spend and reservations are read by one statement, so they come from one
 * snapshot even outside a transaction: a settlement committing between two
 * reads could otherwise hide a run from both sums at once.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "budget/budget_pg.h"
#include "util/banned.h"

static int def_from_row(const PGresult *res, const char *scope, struct budget_def *ret)
{
	struct budget_def def;
	uint64_t soft = 0;

	memset(&def, 0, sizeof(def));
	snprintf(def.scope, sizeof(def.scope), "%s", scope);
	if (budget_pg_u64(res, 0, 0, &def.limit_micros) < 0 || budget_pg_u64(res, 0, 2, &soft) < 0 ||
	    soft > 100 || PQgetisnull(res, 0, 3) ||
	    budget_period_parse(PQgetvalue(res, 0, 1), &def.period) < 0)
		return -EIO; /* the CHECK constraints only let valid values in */
	def.soft_percent = (unsigned)soft;
	def.hard = PQgetvalue(res, 0, 3)[0] == 't';
	*ret = def;
	return 0;
}

static int def_read(struct budget_pg *pg, const char *scope, struct budget_def *ret)
{
	const char *params[] = { scope };
	PGresult *res;
	int r = budget_pg_query(pg,
				"SELECT limit_micros, period, soft_percent, hard FROM budgets"
				" WHERE scope = $1",
				1, params, &res);

	if (r < 0)
		return r;
	r = PQntuples(res) == 1 ? def_from_row(res, scope, ret) : -ENOENT;
	PQclear(res);
	return r;
}

static int sums_read(struct budget_pg *pg, struct budget_standing *stand)
{
	char from_text[PG_INT_TEXT], to_text[PG_INT_TEXT];
	int64_t from_ms, to_ms;
	const char *params[3];
	PGresult *res;
	int r;

	budget_period_sql_range(stand, &from_ms, &to_ms);
	params[0] = stand->def.scope;
	params[1] = pg_i64_text(from_ms, from_text);
	params[2] = pg_i64_text(to_ms, to_text);
	r = budget_pg_query(pg,
			    "SELECT (SELECT COALESCE(SUM(amount_micros), 0) FROM ledger"
			    "  WHERE scope = $1 AND at_ms >= $2 AND at_ms < $3),"
			    " (SELECT COALESCE(SUM(amount_micros), 0) FROM reservations"
			    "  WHERE scope = $1 AND expires_at > now())",
			    3, params, &res);
	if (r < 0)
		return r;
	r = budget_pg_u64(res, 0, 0, &stand->spent_micros);
	if (r == 0)
		r = budget_pg_u64(res, 0, 1, &stand->reserved_micros);
	PQclear(res);
	return r;
}

int budget_pg_standing_read(struct budget_pg *pg, const char *scope, int64_t now_ms,
			    struct budget_standing *ret)
{
	struct budget_standing stand;
	int r;

	memset(&stand, 0, sizeof(stand));
	r = def_read(pg, scope, &stand.def);
	if (r < 0)
		return r;
	budget_period_bounds(stand.def.period, now_ms, &stand.period_start_ms,
			     &stand.period_end_ms);
	r = sums_read(pg, &stand);
	if (r == 0)
		*ret = stand;
	return r;
}

static int standing_read(void *pg, const char *scope, int64_t now_ms,
			 struct budget_standing *ret)
{
	return budget_pg_standing_read(pg, scope, now_ms, ret);
}

int budget_pg_standings_read(struct budget_pg *pg, const struct scope_list *list,
			     int64_t now_ms, struct budget_standing ret[BUDGET_SCOPES_MAX],
			     size_t *ret_n)
{
	return budget_standings_collect(standing_read, pg, list, now_ms, ret, ret_n);
}

/* Records a soft crossing for the period; *ret_first says whether it is
 * the first one. */
static int warning_record_tx(struct budget_pg *pg, const struct budget_standing *stand,
			     int64_t now_ms, bool *ret_first)
{
	char start_text[PG_INT_TEXT], now_text[PG_INT_TEXT];
	const char *params[] = { stand->def.scope, pg_i64_text(stand->period_start_ms, start_text),
				 pg_i64_text(now_ms, now_text) };
	PGresult *res;
	int r = budget_pg_query(pg,
				"INSERT INTO soft_warnings (scope, period_start_ms, at_ms)"
				" VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
				3, params, &res);

	if (r < 0)
		return r;
	*ret_first = budget_pg_changes(res) == 1;
	PQclear(res);
	return 0;
}

int budget_pg_status_fill_tx(struct budget_pg *pg, const struct budget_standing *stand,
			     int64_t now_ms, struct budget_status *ret)
{
	struct budget_status s;
	bool first = false;
	int r = 0;

	budget_status_of(stand, &s);
	if (s.soft_crossed)
		r = warning_record_tx(pg, stand, now_ms, &first);
	if (r < 0)
		return r;
	s.soft_first_time = first;
	*ret = s;
	return 0;
}
