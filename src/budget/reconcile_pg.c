/*
 * reconcile_pg: settling recorded runs without a ledger entry when the
 * store's tables are in PostgreSQL (see reconcile.h). The same rules as
 * the SQLite query: a natural-language run stands for its last attempt's
 * ledger id and cost; an exact cache hit is never charged.
 */
#include "budget/reconcile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/pg.h"
#include "util/banned.h"

/* The store's runs and principals, the budget part's ledger: all in the
 * same database. The text result is cast to jsonb to read its fields. */
static const char unsettled_sql[] =
	"WITH r AS (SELECT id, principal_id, session, result::jsonb AS j FROM runs)"
	" SELECT coalesce(r.j -> 'attempts' -> -1 ->> 'ledgerId', r.id),"
	"  p.team, p.user_name, r.session,"
	"  coalesce(r.j -> 'attempts' -> -1 -> 'cost' ->> 'totalMicros',"
	"           r.j -> 'cost' ->> 'totalMicros', '0')::numeric::bigint,"
	"  coalesce(r.j -> 'attempts' -> -1 -> 'cost', r.j -> 'cost')::text"
	" FROM r JOIN principals p ON p.id = r.principal_id"
	" WHERE NOT EXISTS (SELECT 1 FROM ledger l WHERE l.run_id ="
	"   coalesce(r.j -> 'attempts' -> -1 ->> 'ledgerId', r.id))"
	" AND coalesce(r.j ->> 'cacheType', '') <> 'exact'";

int budget_reconcile_pg(struct budgets *b, const char *database_url, size_t *ret_settled,
			char *err, size_t err_len)
{
	char why[512] = "";
	PGconn *c = NULL;
	PGresult *res = NULL;
	size_t settled = 0;
	int r;

	r = pg_connect(database_url, &c, why, sizeof(why));
	if (r == 0)
		r = pg_query(c, unsettled_sql, 0, NULL, &res, why, sizeof(why));
	for (int i = 0; r == 0 && res && i < PQntuples(res); i++) {
		int64_t micros = 0;

		(void)pg_get_i64(res, i, 4, &micros);
		r = budget_reconcile_one(b, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
					 PQgetvalue(res, i, 2),
					 PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3), micros,
					 PQgetisnull(res, i, 5) ? NULL : PQgetvalue(res, i, 5));
		settled += r == 0;
		if (r < 0)
			snprintf(why, sizeof(why), "settling a recorded run failed: %s", strerror(-r));
	}
	PQclear(res);
	PQfinish(c);
	if (r < 0) {
		snprintf(err, err_len, "reconciling spend with the runs in PostgreSQL: %s", why);
		return r;
	}
	if (ret_settled)
		*ret_settled = settled;
	return 0;
}
