/*
 * cache_usage: recording hits (last use, hit count) without a write
 * transaction per lookup.
 *
 * A hit is noted in the handle's memory; the notes reach cache_usage in
 * one transaction, either inside the next write transaction of this handle
 * (a put, an invalidation, a clear: so this handle's evictions always see
 * its own hits), or on their own once CACHE_PENDING_MAX ids are noted or
 * the oldest note is CACHE_PENDING_AGE_MS old, or at close. A lookup then
 * costs reads only, and does not queue for SQLite's write lock behind the
 * store's and the budget part's fsyncs.
 *
 * What this gives up: another handle's eviction sees this handle's hits up
 * to CACHE_PENDING_AGE_MS late, and a crash forgets the notes not yet
 * written (at worst an entry is evicted a little early). Notes are cleared
 * only once their transaction has committed, so a rolled-back put does not
 * lose them. Row ids are never reused (AUTOINCREMENT), so a late note can
 * never count for a newer entry that took a deleted entry's id.
 */
#include <errno.h>

#include "cache/cache_internal.h"
#include "util/clock.h"
#include "util/banned.h"

static struct cache_pending *pending_find(struct cache *c, int64_t id)
{
	for (size_t i = 0; i < c->n_pending; i++) {
		if (c->pending[i].id == id)
			return &c->pending[i];
	}
	return NULL;
}

uint64_t cache_usage_pending(struct cache *c, int64_t id)
{
	const struct cache_pending *p = pending_find(c, id);

	return p ? p->hits : 0;
}

int cache_usage_flush_tx(struct cache *c)
{
	sqlite3_stmt *st = NULL;
	int r = 0;

	for (size_t i = 0; i < c->n_pending && r == 0; i++) {
		r = cache_stmt(c, CS_TOUCH, &st);
		if (r < 0)
			break;
		sqlite3_bind_int64(st, 1, c->pending[i].id);
		sqlite3_bind_int64(st, 2, c->pending[i].last_used_ms);
		sqlite3_bind_int64(st, 3, (int64_t)c->pending[i].hits);
		r = cache_stmt_run(st); /* 0 rows: the entry has gone */
		if (r > 0)
			r = 0;
	}
	return r;
}

void cache_usage_committed(struct cache *c)
{
	c->n_pending = 0;
}

int cache_usage_flush(struct cache *c)
{
	int r;

	if (c->n_pending == 0)
		return 0;
	if (c->pg)
		return cache_pg_usage_flush(c);
	r = cache_tx_begin(c->db);
	if (r == 0)
		r = cache_usage_flush_tx(c);
	r = db_tx_end(c->db, r);
	if (r == 0)
		cache_usage_committed(c);
	return r;
}

int cache_usage_note(struct cache *c, int64_t id, int64_t now_ms)
{
	struct cache_pending *p = pending_find(c, id);
	uint64_t mono = clock_mono_ms();

	if (!p) {
		if (c->n_pending == CACHE_PENDING_MAX) {
			int r = cache_usage_flush(c);

			if (r < 0)
				return r;
		}
		if (c->n_pending == 0)
			c->pending_since_ms = mono;
		p = &c->pending[c->n_pending++];
		p->id = id;
		p->hits = 0;
		p->last_used_ms = now_ms;
	}
	p->hits++;
	if (now_ms > p->last_used_ms)
		p->last_used_ms = now_ms;
	/* Written now when the oldest note has waited long enough; a failure
	 * keeps the notes for the next try, the hit itself stands. */
	if (mono - c->pending_since_ms >= CACHE_PENDING_AGE_MS)
		(void)cache_usage_flush(c);
	return 0;
}
