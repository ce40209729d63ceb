/*
 * cache_pg_admin: dropping a dataset's stale entries, or all of them, in
 * PostgreSQL.
 *
 * Each is one write transaction (the meta row locked first) that also
 * writes this handle's hit notes; the triggers log every dropped id, so
 * other nodes' indexes follow. A clear then drops the whole change log:
 * every node reloads its (now empty) index rather than replaying one log
 * entry per dropped row. Either way, a lookup on any node that starts
 * after the commit reads the table and cannot find the dropped entries.
 */
#include <errno.h>

#include "cache/cache_internal.h"
#include "util/pg.h"
#include "util/banned.h"

struct drop {
	const char *sql;
	const char *params[2];
	int n_params;
	bool whole_log;
	int dropped;
};

static int drop_tx(struct cache *c, struct drop *d)
{
	PGresult *res = NULL;
	int r = cache_pg_usage_flush_tx(c);

	if (r == 0)
		r = pg_query(c->pg, d->sql, d->n_params, d->params, &res, NULL, 0);
	if (r < 0)
		return r;
	d->dropped = cache_pg_changes(res);
	PQclear(res);
	if (d->dropped < 0)
		return d->dropped;
	return cache_pg_log_trim_tx(c, d->whole_log);
}

static int drop_run(struct cache *c, void *arg)
{
	int r = cache_pg_write_begin(c);

	if (r == 0)
		r = pg_tx_end(c->pg, drop_tx(c, arg));
	return r;
}

static int drop(struct cache *c, struct drop *d)
{
	int r = cache_pg_do(c, drop_run, d);

	return r < 0 ? r : d->dropped;
}

int cache_pg_invalidate(struct cache *c, const char *dataset, const char *fingerprint)
{
	struct drop d = {
		.sql = fingerprint ? "DELETE FROM cache_entries WHERE dataset = $1 AND fingerprint <> $2"
				   : "DELETE FROM cache_entries WHERE dataset = $1",
		.params = { dataset, fingerprint },
		.n_params = fingerprint ? 2 : 1,
	};

	return drop(c, &d);
}

int cache_pg_clear(struct cache *c)
{
	struct drop d = { .sql = "DELETE FROM cache_entries", .whole_log = true };

	return drop(c, &d);
}
