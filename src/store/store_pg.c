/*
 * store_pg: opening the PostgreSQL back end, and its ping and schema
 * version. store.c calls store_pg_open() for a postgres:// URL after it has
 * opened STATE_DIR (still home of the key pepper) and before the store is
 * shared; closing is PQfinish() in store.c.
 *
 * Order: connect, migrate (under pg_migrate's advisory lock, so nodes
 * starting at once are safe), then the pepper, whose checks ask the
 * migrated tables whether keys exist.
 */
#include <errno.h>
#include <string.h>

#include "store/store_pg.h"
#include "util/banned.h"

/* Library code does not log: libpq's default prints the server's notices
 * ("relation ... already exists, skipping") on stderr. */
static void notice_ignore(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

int store_pg_open(struct store *s, const char *state_dir, const char *url, char *err,
		  size_t err_len)
{
	int r = pg_connect(url, &s->pg, err, err_len);

	if (r == 0)
		PQsetNoticeProcessor(s->pg, notice_ignore, NULL);
	if (r == 0)
		r = pg_migrate(s->pg, &store_pg_schema, err, err_len);
	if (r == 0)
		r = store_pg_pepper_load(s, state_dir, err, err_len);
	return r;
}

int store_pg_schema_version(struct store *s, int *ret)
{
	const char *params[1] = { store_pg_schema.part };
	PGresult *res;
	int64_t version = 0;
	int r = store_pg_lock(s);

	if (r < 0)
		return r;
	r = store_pg_query(s, "SELECT version FROM ledgerbox_schema WHERE part = $1", 1, params, &res,
		     NULL, 0);
	store_unlock(s);
	if (r < 0)
		return r;
	r = PQntuples(res) == 1 ? pg_get_i64(res, 0, 0, &version) : -EIO;
	PQclear(res);
	if (r < 0 || version < 0 || version > STORE_PG_SCHEMA_LATEST)
		return -EIO;
	*ret = (int)version;
	return 0;
}

int store_pg_ping(struct store *s)
{
	PGresult *res;
	int64_t entries;
	int r = store_pg_lock(s);

	if (r < 0)
		return r;
	/* Reads a real table (not just SELECT 1), so missing tables or
	 * revoked privileges show up here. */
	r = store_pg_query(s, "SELECT entries FROM audit_head WHERE id = 1", 0, NULL, &res, NULL, 0);
	store_unlock(s);
	if (r < 0)
		return r;
	r = PQntuples(res) == 1 ? pg_get_i64(res, 0, 0, &entries) : -EIO;
	PQclear(res);
	return r < 0 ? -EIO : 0;
}
