/*
 * Private interfaces between the files of src/cache/. Nothing outside the
 * cache part includes this (the cache tests and benchmark do not either).
 *
 * Layout of the part:
 *   cache_store.c   open, close, connection set-up, stats
 *   cache_schema.c  the cache tables and triggers, versioned in cache_schema
 *   cache_sql.c     the lock, prepared statements, transactions, the change
 *                   log's bookkeeping and errors
 *   cache_entry.c   checking an entry, the embedding BLOB, rows to entries
 *   cache_index.c   the in-memory index of vectors by group
 *   cache_sync.c    keeping the index in step with the table
 *   cache_put.c     storing, expiry and LRU eviction
 *   cache_get.c     the exact and the semantic lookup
 *   cache_usage.c   hits noted in memory, written in batches
 *   cache_admin.c   invalidating a dataset, clearing
 *   cache_pg_*.c    the PostgreSQL back end (cache_open_url with a
 *                   postgres:// URL): the same tables, change log and
 *                   rules in PostgreSQL, see cache_pg_schema.c
 *
 * Back ends: a handle talks to SQLite (c->db) or to PostgreSQL (c->pg),
 * never both. The index, the hit notes, the lookups' logic and the
 * counters are shared; the few functions that touch the database branch
 * on c->pg (cache_sync, cache_meta_read, cache_usage_flush, the row reads
 * of cache_get.c, the writes of cache_put.c and cache_admin.c).
 *
 * Locking: one SQLite connection and one index per struct cache, both
 * guarded by c->lock; a public function holds it for its whole duration.
 * Functions named *_tx expect the lock held and a write transaction open.
 * Every prepared statement is reset before the lock is released, so no
 * statement keeps a read snapshot open between calls.
 *
 * Change log: triggers on cache_entries append the id of every inserted,
 * deleted or re-grouped entry to cache_log under an increasing sequence
 * number (cache_meta.seq). A handle's index reflects the table as of
 * c->index_seq; it catches up by replaying the ids logged since (each id:
 * drop it from the index, then add it back if its row exists), or by
 * reloading everything when the log no longer reaches back that far
 * (cache_meta.log_floor) or the index may be damaged (index_seq < 0).
 */
#ifndef LEDGERBOX_CACHE_INTERNAL_H
#define LEDGERBOX_CACHE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "util/db.h"

#include "cache/cache.h"

#define CACHE_BUSY_TIMEOUT_MS 10000
/* The change log is cut back to CACHE_LOG_KEEP entries once it holds
 * CACHE_LOG_MAX: a handle further behind than that reloads its index. */
#define CACHE_LOG_KEEP 8192
#define CACHE_LOG_MAX 16384
#define CACHE_GROUP_FIELDS 7
/* Hits noted in memory before they are written (cache_usage.c). */
#define CACHE_PENDING_MAX 256
#define CACHE_PENDING_AGE_MS 1000

/* The prepared statements a handle keeps (cache_sql.c has their text). */
enum cache_sql {
	CS_META,
	CS_LOG_SINCE,
	CS_INDEX_ROW,
	CS_INDEX_ALL,
	CS_DELETE_KEY,
	CS_INSERT,
	CS_DELETE_EXPIRED,
	CS_DELETE_LRU,
	CS_LOG_TRIM,
	CS_FLOOR_SET,
	CS_FIND_EXACT,
	CS_FETCH_ID,
	CS_TOUCH,
	CS_INVALIDATE,
	CS_INVALIDATE_ALL,
	CS_CLEAR,
	CS_COUNT
};

/* The fields an entry is grouped by for the semantic lookup, in this
 * order: scope, dataset, fingerprint, language, model, embed_model,
 * signature; and the embedding's dimension. Borrowed strings. */
struct cache_group_key {
	const char *field[CACHE_GROUP_FIELDS];
	size_t dim;
};

/* The vectors of one group, contiguous so a lookup streams through them:
 * entry i has vecs[i * dim .. (i + 1) * dim) (scaled to unit length), its
 * row id and when it was stored. */
struct cache_group {
	uint64_t hash;
	char *fields;          /* the key's fields, each with its NUL */
	size_t fields_len, dim;
	size_t n, cap;
	float *vecs;
	int64_t *ids, *created_ms;
};

struct cache_group_slot {
	uint64_t hash;
	struct cache_group *g; /* NULL: free */
};

struct cache_id_slot {
	int64_t id;            /* 0: free (row ids start at 1) */
	struct cache_group *g;
	size_t pos;
};

/* Two open-addressing tables (linear probing, deletion by backward shift):
 * groups by key, and entries by row id to find them again on removal. */
struct cache_index {
	struct cache_group_slot *groups;
	size_t groups_cap, groups_n;
	struct cache_id_slot *ids;
	size_t ids_cap, ids_n;
};

/* Hits on one entry not yet written to cache_usage. */
struct cache_pending {
	int64_t id, last_used_ms;
	uint64_t hits;
};

struct cache {
	pthread_mutex_t lock;
	sqlite3 *db;           /* the SQLite back end, or NULL */
	PGconn *pg;            /* the PostgreSQL back end, or NULL */
	sqlite3_stmt *stmt[CS_COUNT];
	uint64_t ttl_ms, max_entries;
	struct cache_index index;
	int64_t index_seq;     /* the change the index reflects; -1: reload */
	struct cache_stats stats;
	struct cache_pending pending[CACHE_PENDING_MAX];
	size_t n_pending;
	uint64_t pending_since_ms; /* monotonic: when the oldest note was made */
};

/* cache_sql.c */
void cache_lock(struct cache *c);
void cache_unlock(struct cache *c);
/* The statement, prepared once and kept; reset and cleared of bindings by
 * cache_stmt_done() after every use. */
int cache_stmt(struct cache *c, enum cache_sql which, sqlite3_stmt **ret);
void cache_stmt_done(sqlite3_stmt *st);
void cache_stmts_free(struct cache *c);
/* Runs a statement with no result rows; returns the rows it changed. */
int cache_stmt_run(sqlite3_stmt *st);
int cache_tx_begin(sqlite3 *db);
/* seq, log_floor and entries of cache_meta. */
int cache_meta_read(struct cache *c, int64_t *ret_seq, int64_t *ret_floor,
		    uint64_t *ret_entries);
/* Cuts the change log back to CACHE_LOG_KEEP once it holds CACHE_LOG_MAX;
 * with all set, drops all of it (after a clear, everyone reloads). */
int cache_log_trim_tx(struct cache *c, bool all);
/* Entries stored at or before this instant have expired at now_ms (-1 when
 * nothing expires). now_ms >= 0. */
int64_t cache_expiry_cutoff(const struct cache *c, int64_t now_ms);
/* The part's name for formatting into a caller's err buffer. */
#define cache_err db_err

/* cache_schema.c: creates or upgrades the tables in one transaction. A
 * database written by a newer ledgerbox is -EPROTONOSUPPORT. */
#define CACHE_SCHEMA_LATEST 1
int cache_schema_migrate(sqlite3 *db, char *err, size_t err_len);

/* cache_entry.c */
/* 0 when *e may be stored; -EINVAL or -E2BIG (cache.h). */
int cache_entry_check(const struct cache_entry *e);
bool cache_key_valid(const char *key);
bool cache_language_valid(const char *language);
/* A fixed-size field: NUL-terminated within `size` bytes. */
bool cache_field_fits(const char *s, size_t size);
/* Little-endian float32, 4 * dim bytes; *ret malloc'd. */
int cache_blob_encode(const float *v, size_t dim, void **ret);
/* Decodes into out (dim floats); -EIO when the length is not 4 * dim. */
int cache_blob_decode(const void *blob, size_t len, float *out, size_t dim);
/* Fills *ret from a row of CS_FIND_EXACT or CS_FETCH_ID. */
int cache_entry_from_row(sqlite3_stmt *st, struct cache_entry *ret);

/* cache_index.c */
void cache_index_free(struct cache_index *ix);
/* Drops everything (and the memory). */
void cache_index_reset(struct cache_index *ix);
/* Adds (or replaces) the vector of entry id in its group. */
int cache_index_add(struct cache_index *ix, const struct cache_group_key *k, int64_t id,
		    int64_t created_ms, const float *vec);
void cache_index_remove(struct cache_index *ix, int64_t id);
/* The group of a key, or NULL. */
struct cache_group *cache_index_group(const struct cache_index *ix, const struct cache_group_key *k);
size_t cache_index_size(const struct cache_index *ix);
/* The position of the entry of g nearest to q (of unit length, or zero)
 * among those stored after cutoff_ms, and its cosine similarity as the
 * index computes it in float; -ENOENT when none. */
int cache_group_best(const struct cache_group *g, const float *q, int64_t cutoff_ms,
		     size_t *ret_pos, float *ret_sim);

/* cache_sync.c: brings the index up to date with the table (lock held, no
 * transaction open). On failure the index is marked for a reload. */
int cache_sync(struct cache *c);

/* cache_usage.c */
/* Notes a hit on entry id at now_ms; may write the notes (full, or the
 * oldest waited CACHE_PENDING_AGE_MS). */
int cache_usage_note(struct cache *c, int64_t id, int64_t now_ms);
/* Hits on id noted and not yet written. */
uint64_t cache_usage_pending(struct cache *c, int64_t id);
/* Writes the notes inside the caller's write transaction; once it has
 * committed, the caller calls cache_usage_committed() to forget them. */
int cache_usage_flush_tx(struct cache *c);
void cache_usage_committed(struct cache *c);
/* Writes the notes in a transaction of their own. */
int cache_usage_flush(struct cache *c);

/* cache_put.c: trims to max_entries (used at open); returns the number
 * removed. */
int cache_evict_lru_tx(struct cache *c, int64_t keep_id);

/* What a put removed besides the entry it replaced. */
struct cache_put_outcome {
	uint64_t expired, evicted;
};

/* cache_store.c */
/* max_entries and ttl_ms from the caller's limits; -EINVAL above the
 * maximum. */
int cache_limits_apply(struct cache *c, const struct cache_limits *l);
/* Frees a handle whose mutex was never initialised (or is destroyed). */
void cache_free(struct cache *c);

/* cache_sync.c: whether the index must be rebuilt instead of replaying
 * the log from c->index_seq to seq. */
bool cache_sync_reload_needed(const struct cache *c, int64_t seq, int64_t floor);

/* ---- the PostgreSQL back end ---- */

/* cache_pg_store.c: cache_open() for a postgres:// URL. */
int cache_pg_open(const char *url, const struct cache_limits *l, struct cache **ret, char *err,
		  size_t err_len);
/* cache_pg_schema.c: the tables and triggers, versioned under the part
 * "cache" of ledgerbox_schema. */
int cache_pg_schema_migrate(PGconn *pg, char *err, size_t err_len);

/* cache_pg_sql.c */
/* The session settings the back end relies on (pg_connect()'s plus these). */
int cache_pg_session_setup(PGconn *pg);
/* Runs op; when the connection turns out to be lost, reconnects and runs
 * it once more (every op is one transaction or one read, so a second run
 * is safe). */
int cache_pg_do(struct cache *c, int (*op)(struct cache *, void *), void *arg);
/* BEGIN and the lock every write transaction takes first (the row of
 * cache_meta), so writers from all nodes run one after another. */
int cache_pg_write_begin(struct cache *c);
/* Rows a successful INSERT, UPDATE or DELETE changed. */
int cache_pg_changes(PGresult *res);
int cache_pg_meta_read(struct cache *c, int64_t *ret_seq, int64_t *ret_floor,
		       uint64_t *ret_entries);
/* As cache_log_trim_tx(), inside a write transaction. */
int cache_pg_log_trim_tx(struct cache *c, bool all);
/* bytea's text form "\x" + hex; *ret malloc'd. */
int cache_pg_hex_encode(const void *blob, size_t len, char **ret);
/* Decodes bytea text into out (room for max bytes); -EIO when malformed. */
int cache_pg_hex_decode(const char *text, unsigned char *out, size_t max, size_t *ret_len);

/* cache_pg_row.c: the row reads of the lookups; -ENOENT when none. */
int cache_pg_fetch_exact(struct cache *c, const char *key, const char *scope, int64_t cutoff_ms,
			 struct cache_entry *ret, int64_t *ret_id);
int cache_pg_fetch_id(struct cache *c, int64_t id, int64_t cutoff_ms, struct cache_entry *ret);

/* cache_pg_sync.c: cache_sync() for PostgreSQL. */
int cache_pg_sync(struct cache *c);

/* cache_pg_write.c: a put in its own transaction; trimming at open; hits. */
int cache_pg_put(struct cache *c, const struct cache_entry *e, const void *blob, int64_t now_ms,
		 struct cache_put_outcome *out);
int cache_pg_evict_lru_tx(struct cache *c, int64_t keep_id);
int cache_pg_usage_flush(struct cache *c);
/* Writes the hit notes inside the caller's write transaction (the caller
 * calls cache_usage_committed() once it has committed); a note on an entry
 * that has gone changes nothing. */
int cache_pg_usage_flush_tx(struct cache *c);

/* cache_pg_admin.c: count of entries dropped, or -errno. */
int cache_pg_invalidate(struct cache *c, const char *dataset, const char *fingerprint);
int cache_pg_clear(struct cache *c);

#endif
