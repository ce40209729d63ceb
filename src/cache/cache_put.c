/*
 * cache_put: storing an entry, then expiry and LRU eviction, in one
 * IMMEDIATE transaction so that the table never holds more than
 * max_entries once a put has returned (as far as this handle's limit goes:
 * handles with different limits each enforce their own on their puts).
 *
 * Replacing is a delete and an insert rather than an update: the row gets
 * a new id, and the change log (triggers) tells every handle's index about
 * both, however the two entries are grouped.
 *
 * The entry just stored is never evicted, even when its last use is older
 * than others' (a caller that passes an earlier now_ms than before).
 */
#include <errno.h>
#include <stdlib.h>

#include "cache/cache_internal.h"
#include "util/banned.h"

static const char *text_or_empty(const char *s)
{
	return s ? s : "";
}

static int delete_key_tx(struct cache *c, const struct cache_entry *e)
{
	sqlite3_stmt *st = NULL;
	int r = cache_stmt(c, CS_DELETE_KEY, &st);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, e->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, e->scope, -1, SQLITE_STATIC);
	r = cache_stmt_run(st);
	return r < 0 ? r : 0;
}

static void bind_texts(sqlite3_stmt *st, const struct cache_entry *e)
{
	const char *text[] = { e->key,	 e->scope,	 e->dataset, e->fingerprint,
			       e->language, e->model,	 e->embed_model,
			       text_or_empty(e->signature), text_or_empty(e->query_norm) };

	for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++)
		sqlite3_bind_text(st, (int)i + 1, text[i], -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 11, e->code, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 12, e->result, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 13, e->run_id, -1, SQLITE_STATIC);
}

static int insert_tx(struct cache *c, const struct cache_entry *e, const void *blob,
		     int64_t now_ms, int64_t *ret_id)
{
	sqlite3_stmt *st = NULL;
	int r = cache_stmt(c, CS_INSERT, &st);

	if (r < 0)
		return r;
	bind_texts(st, e);
	if (blob)
		sqlite3_bind_blob(st, 10, blob, (int)(e->dim * 4), SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 10);
	sqlite3_bind_int64(st, 14, now_ms);
	r = cache_stmt_run(st);
	if (r < 0)
		return r;
	*ret_id = sqlite3_last_insert_rowid(c->db);
	return 0;
}

static int expire_tx(struct cache *c, int64_t now_ms, int64_t keep_id, uint64_t *ret_n)
{
	int64_t cutoff = cache_expiry_cutoff(c, now_ms);
	sqlite3_stmt *st = NULL;
	int r;

	*ret_n = 0;
	if (cutoff < 0)
		return 0;
	r = cache_stmt(c, CS_DELETE_EXPIRED, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, cutoff);
	sqlite3_bind_int64(st, 2, keep_id);
	r = cache_stmt_run(st);
	if (r < 0)
		return r;
	*ret_n = (uint64_t)r;
	return 0;
}

int cache_evict_lru_tx(struct cache *c, int64_t keep_id)
{
	int64_t seq, floor;
	uint64_t entries;
	sqlite3_stmt *st = NULL;
	int r = cache_meta_read(c, &seq, &floor, &entries);

	if (r < 0 || entries <= c->max_entries)
		return r;
	r = cache_stmt(c, CS_DELETE_LRU, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, keep_id);
	sqlite3_bind_int64(st, 2, (int64_t)(entries - c->max_entries));
	return cache_stmt_run(st);
}

static int put_tx(struct cache *c, const struct cache_entry *e, const void *blob,
		  int64_t now_ms, struct cache_put_outcome *out)
{
	int64_t id = 0;
	int r = cache_usage_flush_tx(c); /* so eviction sees this handle's hits */

	if (r == 0)
		r = delete_key_tx(c, e);

	if (r == 0)
		r = insert_tx(c, e, blob, now_ms, &id);
	if (r == 0)
		r = expire_tx(c, now_ms, id, &out->expired);
	if (r == 0)
		r = cache_evict_lru_tx(c, id);
	if (r >= 0) {
		out->evicted = (uint64_t)r;
		r = cache_log_trim_tx(c, false);
	}
	return r;
}

static int put_sqlite(struct cache *c, const struct cache_entry *e, const void *blob,
		      int64_t now_ms, struct cache_put_outcome *out)
{
	int r = cache_tx_begin(c->db);

	if (r == 0)
		r = put_tx(c, e, blob, now_ms, out);
	return db_tx_end(c->db, r);
}

int cache_put(struct cache *c, const struct cache_entry *e, int64_t now_ms)
{
	struct cache_put_outcome out = { 0, 0 };
	void *blob = NULL;
	int r;

	if (!c || now_ms < 0)
		return -EINVAL;
	r = cache_entry_check(e);
	if (r == 0 && e->dim)
		r = cache_blob_encode(e->embedding, e->dim, &blob);
	if (r < 0)
		return r;
	cache_lock(c);
	r = c->pg ? cache_pg_put(c, e, blob, now_ms, &out) : put_sqlite(c, e, blob, now_ms, &out);
	if (r == 0) {
		cache_usage_committed(c);
		c->stats.expired += out.expired;
		c->stats.evictions += out.evicted;
		/* The entry is stored; a failed catch-up only marks the index
		 * for a reload at the next lookup. */
		(void)cache_sync(c);
	}
	cache_unlock(c);
	free(blob);
	return r;
}
