/*
 * store_pg_datasets: who owns each dataset, in PostgreSQL. store_datasets.c
 * checks the arguments and makes the key; this keeps the rows, with the
 * same results as SQLite.
 *
 * Nodes share the database, so a team's quota check and the write that
 * adds bytes run in one transaction holding a transaction-level advisory
 * lock on the team: two nodes uploading for one team take turns, and the
 * second sees the first's bytes. A new name is claimed with
 * ON CONFLICT DO NOTHING, so the loser of a race on one name (in any case)
 * gets -EEXIST.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/store_pg.h"
#include "util/banned.h"

static int row_fill(const PGresult *res, struct store_dataset *ret)
{
	if (PQntuples(res) != 1)
		return -ENOENT;
	snprintf(ret->name, sizeof(ret->name), "%s", PQgetvalue(res, 0, 0));
	snprintf(ret->team, sizeof(ret->team), "%s",
		 PQgetisnull(res, 0, 1) ? "" : PQgetvalue(res, 0, 1));
	if (pg_get_i64(res, 0, 2, &ret->version) < 0 || pg_get_i64(res, 0, 3, &ret->bytes) < 0)
		return -EIO;
	return 0;
}

static int get_locked(struct store *s, const char *key, struct store_dataset *ret)
{
	const char *params[1] = { key };
	PGresult *res;
	int r = store_pg_query(s, "SELECT name, team, version, bytes FROM datasets WHERE name_key = $1",
			 1, params, &res, NULL, 0);

	if (r < 0)
		return r;
	r = row_fill(res, ret);
	PQclear(res);
	return r;
}

int store_pg_dataset_get(struct store *s, const char *key, struct store_dataset *ret)
{
	struct store_dataset d;
	int r = store_pg_lock(s);

	if (r < 0)
		return r;
	r = get_locked(s, key, &d);
	store_unlock(s);
	if (r == 0)
		*ret = d;
	return r;
}

static int team_bytes_locked(struct store *s, const char *team, const char *except_key,
			     int64_t *ret)
{
	const char *params[2] = { team, except_key };
	PGresult *res;
	int r = store_pg_query(s,
			 "SELECT coalesce(sum(bytes), 0) FROM datasets"
			 " WHERE team = $1 AND name_key IS DISTINCT FROM $2",
			 2, params, &res, NULL, 0);

	if (r < 0)
		return r;
	r = PQntuples(res) == 1 && pg_get_i64(res, 0, 0, ret) == 0 ? 0 : -EIO;
	PQclear(res);
	return r;
}

/* Inside a transaction: waits for other nodes' quota checks of the team. */
static int quota_check_tx(struct store *s, const char *team, const char *except_key,
			  int64_t bytes, int64_t quota_bytes, struct store_quota *ret_quota)
{
	const char *params[1] = { team };
	int64_t used = 0;
	int r;

	if (!team || !*team)
		return 0;
	r = store_pg_query(s, "SELECT pg_advisory_xact_lock(hashtext('ledgerbox.quota:' || $1))", 1,
		     params, NULL, NULL, 0);
	if (r == 0)
		r = team_bytes_locked(s, team, except_key, &used);
	return r < 0 ? r : store_quota_verdict(used, bytes, quota_bytes, ret_quota);
}

static int claim_tx(struct store *s, const char *key, const struct store_dataset *d,
		    int64_t quota_bytes, struct store_quota *ret_quota)
{
	char bytes[PG_INT_TEXT], now[PG_INT_TEXT];
	const char *params[5] = { key, d->name, d->team[0] ? d->team : NULL,
				  pg_i64_text(d->bytes, bytes), pg_i64_text(clock_unix_ms(), now) };
	PGresult *res;
	int r = quota_check_tx(s, d->team, NULL, d->bytes, quota_bytes, ret_quota);

	if (r < 0)
		return r;
	r = store_pg_query(s,
		     "INSERT INTO datasets (name_key, name, team, version, bytes, created_ms,"
		     " updated_ms) VALUES ($1, $2, $3, 1, $4, $5, $5)"
		     " ON CONFLICT (name_key) DO NOTHING RETURNING name_key",
		     5, params, &res, NULL, 0);
	if (r < 0)
		return r;
	r = PQntuples(res) == 1 ? 0 : -EEXIST;
	PQclear(res);
	return r;
}

int store_pg_dataset_claim(struct store *s, const char *key, const struct store_dataset *d,
			   int64_t quota_bytes, struct store_quota *ret_quota)
{
	int r = store_pg_lock(s);

	if (r < 0)
		return r;
	r = store_pg_tx_begin(s);
	if (r == 0)
		r = pg_tx_end(s->pg, claim_tx(s, key, d, quota_bytes, ret_quota));
	store_unlock(s);
	return r;
}

static int revise_tx(struct store *s, const char *key, const char *name, int64_t bytes,
		     int64_t quota_bytes, struct store_quota *ret_quota, struct store_dataset *ret)
{
	char size[PG_INT_TEXT], now[PG_INT_TEXT];
	const char *params[4] = { key, name, pg_i64_text(bytes, size),
				  pg_i64_text(clock_unix_ms(), now) };
	struct store_dataset old = { .team = "" };
	int r = get_locked(s, key, &old);

	if (r < 0 && r != -ENOENT)
		return r;
	r = quota_check_tx(s, old.team, key, bytes, quota_bytes, ret_quota);
	if (r == 0)
		r = store_pg_query(s,
			     "INSERT INTO datasets (name_key, name, team, version, bytes, created_ms,"
			     " updated_ms) VALUES ($1, $2, NULL, 2, $3, $4, $4)"
			     " ON CONFLICT (name_key) DO UPDATE SET version = datasets.version + 1,"
			     " bytes = excluded.bytes, updated_ms = excluded.updated_ms",
			     4, params, NULL, NULL, 0);
	return r < 0 ? r : get_locked(s, key, ret);
}

int store_pg_dataset_revise(struct store *s, const char *key, const char *name, int64_t bytes,
			    int64_t quota_bytes, struct store_quota *ret_quota,
			    struct store_dataset *ret)
{
	int r = store_pg_lock(s);

	if (r < 0)
		return r;
	r = store_pg_tx_begin(s);
	if (r == 0)
		r = pg_tx_end(s->pg, revise_tx(s, key, name, bytes, quota_bytes, ret_quota, ret));
	store_unlock(s);
	return r;
}

static int exec_locked(struct store *s, const char *sql, int n, const char *const *params)
{
	int r = store_pg_lock(s);

	if (r < 0)
		return r;
	r = store_pg_query(s, sql, n, params, NULL, NULL, 0);
	store_unlock(s);
	return r;
}

int store_pg_dataset_forget(struct store *s, const char *key)
{
	const char *params[1] = { key };

	return exec_locked(s, "DELETE FROM datasets WHERE name_key = $1", 1, params);
}

int store_pg_dataset_publish(struct store *s, const char *key, const char *name)
{
	char now[PG_INT_TEXT];
	const char *params[3] = { key, name, pg_i64_text(clock_unix_ms(), now) };

	return exec_locked(s,
			   "INSERT INTO datasets (name_key, name, team, version, bytes, created_ms,"
			   " updated_ms) VALUES ($1, $2, NULL, 1, 0, $3, $3)"
			   " ON CONFLICT (name_key) DO UPDATE SET team = NULL,"
			   " updated_ms = excluded.updated_ms",
			   3, params);
}

int store_pg_team_dataset_bytes(struct store *s, const char *team, int64_t *ret)
{
	int64_t bytes = 0;
	int r = store_pg_lock(s);

	if (r < 0)
		return r;
	r = team_bytes_locked(s, team, NULL, &bytes);
	store_unlock(s);
	if (r == 0)
		*ret = bytes;
	return r;
}
