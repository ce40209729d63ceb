/*
 * cache_sync: keeping a handle's in-memory index equal to what
 * cache_entries holds, whoever changed it: this handle, another handle in
 * this process, or another process or node on the same state directory.
 *
 * Every change to cache_entries goes through triggers that bump
 * cache_meta.seq and log the entry's id (cache_schema.c). Before a lookup
 * reads the index, one indexed read of cache_meta tells whether anything
 * changed since c->index_seq. If so, inside one read transaction (one
 * snapshot of meta, log and rows), the handle either replays the log since
 * its sequence (each logged id: drop it, then re-add it from its row if the
 * row still has one, which is right whatever happened to the id in
 * between) or, when the log was trimmed past its sequence, reloads the
 * whole index. Any failure midway marks the index for a full reload
 * (index_seq = -1), so a half-applied replay is never trusted.
 */
#include <errno.h>
#include <stdlib.h>

#include "cache/cache_internal.h"
#include "util/banned.h"

/* Adds the row CS_INDEX_ROW or CS_INDEX_ALL stands on. */
static int row_add(struct cache_index *ix, sqlite3_stmt *st, float *scratch)
{
	struct cache_group_key k;
	size_t len = (size_t)sqlite3_column_bytes(st, 9);
	int r;

	for (int f = 0; f < CACHE_GROUP_FIELDS; f++) {
		k.field[f] = (const char *)sqlite3_column_text(st, 1 + f);
		if (!k.field[f])
			return -ENOMEM; /* the columns are NOT NULL */
	}
	if (len == 0 || len % 4 || len / 4 > CACHE_DIM_MAX)
		return -EIO;
	k.dim = len / 4;
	r = cache_blob_decode(sqlite3_column_blob(st, 9), len, scratch, k.dim);
	if (r == 0)
		r = cache_index_add(ix, &k, sqlite3_column_int64(st, 0),
				    sqlite3_column_int64(st, 8), scratch);
	return r;
}

static int load_all(struct cache *c, float *scratch)
{
	sqlite3_stmt *st = NULL;
	int r;

	cache_index_reset(&c->index);
	r = cache_stmt(c, CS_INDEX_ALL, &st);
	if (r < 0)
		return r;
	while ((r = db_step(st)) == 1) {
		r = row_add(&c->index, st, scratch);
		if (r < 0)
			break;
	}
	cache_stmt_done(st);
	return r;
}

static int replay_one(struct cache *c, int64_t id, float *scratch)
{
	sqlite3_stmt *st = NULL;
	int r;

	cache_index_remove(&c->index, id);
	r = cache_stmt(c, CS_INDEX_ROW, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, id);
	r = db_step(st);
	if (r == 1)
		r = row_add(&c->index, st, scratch);
	cache_stmt_done(st);
	return r;
}

static int replay(struct cache *c, float *scratch)
{
	sqlite3_stmt *st = NULL;
	int r = cache_stmt(c, CS_LOG_SINCE, &st);

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, c->index_seq);
	while ((r = db_step(st)) == 1) {
		r = replay_one(c, sqlite3_column_int64(st, 0), scratch);
		if (r < 0)
			break;
	}
	cache_stmt_done(st);
	return r;
}

bool cache_sync_reload_needed(const struct cache *c, int64_t seq, int64_t floor)
{
	return c->index_seq < 0 || c->index_seq < floor || c->index_seq > seq ||
	       seq - c->index_seq > CACHE_LOG_MAX;
}

/* In a read transaction: reads meta again and catches up. */
static int catch_up(struct cache *c, int64_t *ret_seq)
{
	float *scratch = malloc(CACHE_DIM_MAX * sizeof(float));
	int64_t seq, floor;
	uint64_t entries;
	int r;

	if (!scratch)
		return -ENOMEM;
	r = cache_meta_read(c, &seq, &floor, &entries);
	if (r == 0)
		r = cache_sync_reload_needed(c, seq, floor) ? load_all(c, scratch) : replay(c, scratch);
	free(scratch);
	if (r == 0)
		*ret_seq = seq;
	return r;
}

int cache_sync(struct cache *c)
{
	int64_t seq, floor;
	uint64_t entries;
	int r;

	if (c->pg)
		return cache_pg_sync(c);
	r = cache_meta_read(c, &seq, &floor, &entries);
	if (r < 0 || seq == c->index_seq)
		return r;
	r = db_exec(c->db, "BEGIN DEFERRED");
	if (r == 0)
		r = catch_up(c, &seq);
	/* A read transaction: COMMIT only ends it. */
	r = db_tx_end(c->db, r);
	c->index_seq = r == 0 ? seq : -1;
	return r;
}
