/*
 * cache_admin: dropping entries wholesale: a dataset's stale entries when
 * its content changed, or everything.
 *
 * Both run in one IMMEDIATE transaction, and the triggers log every
 * dropped id, so other handles' indexes follow. A clear drops the whole
 * change log too: every handle, this one included, then reloads its (now
 * empty) index instead of replaying one log entry per dropped row.
 */
#include <errno.h>
#include <string.h>

#include "cache/cache_internal.h"
#include "util/banned.h"

/* Room of struct cache_entry's dataset and fingerprint, with the NUL. */
#define FIELD_MAX sizeof(((struct cache_entry *)NULL)->dataset)

static int invalidate_tx(struct cache *c, const char *dataset, const char *fingerprint)
{
	sqlite3_stmt *st = NULL;
	int n, r = cache_usage_flush_tx(c);

	if (r == 0)
		r = cache_stmt(c, fingerprint ? CS_INVALIDATE : CS_INVALIDATE_ALL, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, dataset, -1, SQLITE_STATIC);
	if (fingerprint)
		sqlite3_bind_text(st, 2, fingerprint, -1, SQLITE_STATIC);
	n = cache_stmt_run(st);
	if (n < 0)
		return n;
	r = cache_log_trim_tx(c, false);
	return r < 0 ? r : n;
}

/* Ends a counted write transaction. */
static int write_end(struct cache *c, int n)
{
	int r = db_tx_end(c->db, n < 0 ? n : 0);

	return r < 0 ? r : n;
}

/* After a drop of n entries (or -errno) by either back end: the hit notes
 * were written with it, and the index catches up. */
static int write_finish(struct cache *c, int n)
{
	if (n < 0)
		return n;
	cache_usage_committed(c);
	(void)cache_sync(c); /* failure only marks the index for a reload */
	return n;
}

static int invalidate_sqlite(struct cache *c, const char *dataset, const char *fingerprint)
{
	int r = cache_tx_begin(c->db);

	return r < 0 ? r : write_end(c, invalidate_tx(c, dataset, fingerprint));
}

int cache_invalidate_dataset(struct cache *c, const char *dataset, const char *fingerprint)
{
	int r;

	if (!c || !dataset || !dataset[0] || strnlen(dataset, FIELD_MAX) == FIELD_MAX)
		return -EINVAL;
	if (fingerprint && strnlen(fingerprint, FIELD_MAX) == FIELD_MAX)
		return -EINVAL;
	cache_lock(c);
	r = write_finish(c, c->pg ? cache_pg_invalidate(c, dataset, fingerprint)
				  : invalidate_sqlite(c, dataset, fingerprint));
	cache_unlock(c);
	return r;
}

static int clear_tx(struct cache *c)
{
	sqlite3_stmt *st = NULL;
	int n, r = cache_usage_flush_tx(c);

	if (r == 0)
		r = cache_stmt(c, CS_CLEAR, &st);
	if (r < 0)
		return r;
	n = cache_stmt_run(st);
	if (n < 0)
		return n;
	r = cache_log_trim_tx(c, true);
	return r < 0 ? r : n;
}

static int clear_sqlite(struct cache *c)
{
	int r = cache_tx_begin(c->db);

	return r < 0 ? r : write_end(c, clear_tx(c));
}

int cache_clear(struct cache *c)
{
	int r;

	if (!c)
		return -EINVAL;
	cache_lock(c);
	r = write_finish(c, c->pg ? cache_pg_clear(c) : clear_sqlite(c));
	cache_unlock(c);
	return r;
}
