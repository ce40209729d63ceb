/*
 * store_pg_retention: store_retention.c's rules on PostgreSQL. The bytes
 * are in the holding rows' data, so removing the last row that refers to
 * them removes them; nothing outside the database to clean up.
 *
 * Nodes may sweep at once: each marks its own batch (the UPDATE locks the
 * rows it marks, so two nodes never mark one run twice) and collects the
 * holding rows no row refers to, which a second node then finds gone.
 */
#include <errno.h>
#include <stdlib.h>

#include "store/store_pg.h"
#include "util/banned.h"

static int expire_tx(struct store *s, const char *const params[3], int *ret_runs)
{
	PGresult *res;
	int r = store_pg_query(s,
			 "UPDATE runs SET files_expired_ms = $1 WHERE id IN (SELECT id FROM runs"
			 " WHERE files_expired_ms IS NULL AND created_ms < $2 ORDER BY created_ms"
			 " LIMIT $3 FOR UPDATE SKIP LOCKED)",
			 3, params, &res, NULL, 0);

	if (r < 0)
		return r;
	*ret_runs = (int)strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	/* The steps of store_retention.c, in the same order. */
	r = store_pg_query(s,
		     "DELETE FROM artifacts h WHERE h.content_run = h.run_id"
		     " AND h.run_id IN (SELECT id FROM runs WHERE files_expired_ms = $1"
		     " UNION SELECT a.content_run FROM artifacts a JOIN runs e ON e.id = a.run_id"
		     " WHERE e.files_expired_ms = $1)"
		     " AND EXISTS (SELECT 1 FROM runs x WHERE x.id = h.run_id"
		     " AND x.files_expired_ms IS NOT NULL)"
		     " AND NOT EXISTS (SELECT 1 FROM artifacts b JOIN runs k ON k.id = b.run_id"
		     " WHERE b.content_run = h.run_id AND b.name = h.name AND b.run_id <> h.run_id"
		     " AND k.files_expired_ms IS NULL)",
		     1, params, NULL, NULL, 0);
	if (r < 0)
		return r;
	return store_pg_query(s,
			"DELETE FROM artifacts WHERE content_run <> run_id"
			" AND run_id IN (SELECT id FROM runs WHERE files_expired_ms = $1)",
			1, params, NULL, NULL, 0);
}

int store_pg_runs_expire(struct store *s, int64_t now_ms, int64_t cutoff_ms, int limit,
			 int *ret_runs)
{
	char now[PG_INT_TEXT], cutoff[PG_INT_TEXT], lim[PG_INT_TEXT];
	const char *params[3] = { pg_i64_text(now_ms, now), pg_i64_text(cutoff_ms, cutoff),
				  pg_i64_text(limit, lim) };
	int runs = 0, r = store_pg_lock(s);

	if (r < 0)
		return r;
	r = store_pg_tx_begin(s);
	if (r == 0)
		r = pg_tx_end(s->pg, expire_tx(s, params, &runs));
	store_unlock(s);
	if (r == 0)
		*ret_runs = runs;
	return r;
}

int store_pg_team_artifact_bytes(struct store *s, const char *team, uint64_t *ret)
{
	const char *params[1] = { team };
	PGresult *res;
	int r = store_pg_lock(s);

	if (r < 0)
		return r;
	r = store_pg_query(s,
		     "SELECT COALESCE(SUM(a.bytes), 0)::bigint FROM artifacts a"
		     " JOIN runs r ON r.id = a.run_id JOIN principals p ON p.id = r.principal_id"
		     " WHERE p.team = $1 AND a.content_run = a.run_id",
		     1, params, &res, NULL, 0);
	store_unlock(s);
	if (r < 0)
		return r;
	if (PQntuples(res) != 1 || pg_get_u64(res, 0, 0, ret) < 0)
		r = -EIO;
	PQclear(res);
	return r;
}
