/*
 * cache_sql: the SQLite plumbing every cache file shares: the lock, the
 * handle's prepared statements, transactions, the change log's
 * bookkeeping and expiry instants.
 *
 * Statements are prepared once per handle (a lookup would otherwise spend
 * more time compiling SQL than running it) and reset after every use: a
 * SELECT left unreset would hold a read snapshot open, pinning the WAL and
 * hiding other connections' commits from this one.
 */
#include <errno.h>
#include <stdio.h>

#include "cache/cache_internal.h"
#include "util/banned.h"

/* The columns an entry is read back with (cache_entry_from_row() relies on
 * this order). */
#define ENTRY_COLUMNS                                                                     \
	"e.key, e.scope, e.dataset, e.fingerprint, e.language, e.model, e.query_norm,"   \
	" e.signature, e.embedding, e.embed_model, e.code, e.result, e.run_id,"          \
	" e.created_ms, u.last_used_ms, u.hits, e.id"
#define INDEX_COLUMNS                                                                     \
	"id, scope, dataset, fingerprint, language, model, embed_model, signature,"      \
	" created_ms, embedding"

static const char *const sql_text[CS_COUNT] = {
	[CS_META] = "SELECT seq, log_floor, entries FROM cache_meta WHERE id = 1",
	[CS_LOG_SINCE] = "SELECT entry_id FROM cache_log WHERE seq > ?1 ORDER BY seq",
	[CS_INDEX_ROW] = "SELECT " INDEX_COLUMNS " FROM cache_entries"
			 " WHERE id = ?1 AND embedding IS NOT NULL AND signature != ''",
	[CS_INDEX_ALL] = "SELECT " INDEX_COLUMNS " FROM cache_entries"
			 " WHERE embedding IS NOT NULL AND signature != ''",
	[CS_DELETE_KEY] = "DELETE FROM cache_entries WHERE key = ?1 AND scope = ?2",
	[CS_INSERT] = "INSERT INTO cache_entries (key, scope, dataset, fingerprint, language,"
		      " model, embed_model, signature, query_norm, embedding, code, result,"
		      " run_id, created_ms)"
		      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
	[CS_DELETE_EXPIRED] = "DELETE FROM cache_entries WHERE created_ms <= ?1 AND id != ?2",
	[CS_DELETE_LRU] = "DELETE FROM cache_entries WHERE id IN (SELECT id FROM cache_usage"
			  " WHERE id != ?1 ORDER BY last_used_ms, id LIMIT ?2)",
	[CS_LOG_TRIM] = "DELETE FROM cache_log WHERE seq <= ?1",
	[CS_FLOOR_SET] = "UPDATE cache_meta SET log_floor = ?1 WHERE id = 1",
	[CS_FIND_EXACT] = "SELECT " ENTRY_COLUMNS " FROM cache_entries e"
			  " JOIN cache_usage u ON u.id = e.id"
			  " WHERE e.key = ?1 AND e.scope = ?2 AND e.created_ms > ?3",
	[CS_FETCH_ID] = "SELECT " ENTRY_COLUMNS " FROM cache_entries e"
			" JOIN cache_usage u ON u.id = e.id"
			" WHERE e.id = ?1 AND e.created_ms > ?2",
	[CS_TOUCH] = "UPDATE cache_usage SET hits = hits + ?3, last_used_ms = max(last_used_ms, ?2)"
		     " WHERE id = ?1",
	[CS_INVALIDATE] = "DELETE FROM cache_entries WHERE dataset = ?1 AND fingerprint != ?2",
	[CS_INVALIDATE_ALL] = "DELETE FROM cache_entries WHERE dataset = ?1",
	[CS_CLEAR] = "DELETE FROM cache_entries",
};

void cache_lock(struct cache *c)
{
	/* A default mutex only fails on misuse; there is nothing better to
	 * do than go on. */
	(void)pthread_mutex_lock(&c->lock);
}

void cache_unlock(struct cache *c)
{
	(void)pthread_mutex_unlock(&c->lock);
}

int cache_stmt(struct cache *c, enum cache_sql which, sqlite3_stmt **ret)
{
	int rc;

	if (!c->stmt[which]) {
		rc = sqlite3_prepare_v3(c->db, sql_text[which], -1, SQLITE_PREPARE_PERSISTENT,
					&c->stmt[which], NULL);
		if (rc != SQLITE_OK) {
			sqlite3_finalize(c->stmt[which]);
			c->stmt[which] = NULL;
			return db_errno(rc) < 0 ? db_errno(rc) : -EIO;
		}
	}
	*ret = c->stmt[which];
	return 0;
}

void cache_stmt_done(sqlite3_stmt *st)
{
	if (!st)
		return;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

void cache_stmts_free(struct cache *c)
{
	for (size_t i = 0; i < CS_COUNT; i++) {
		sqlite3_finalize(c->stmt[i]);
		c->stmt[i] = NULL;
	}
}

int cache_stmt_run(sqlite3_stmt *st)
{
	int r = db_step(st);

	if (r == 0)
		r = sqlite3_changes(sqlite3_db_handle(st));
	else if (r > 0)
		r = -EIO;
	cache_stmt_done(st);
	return r;
}

int cache_tx_begin(sqlite3 *db)
{
	/* SQLite's write lock first: a transaction that starts reading and
	 * later writes could otherwise fail with SQLITE_BUSY_SNAPSHOT. */
	return db_exec(db, "BEGIN IMMEDIATE");
}

int cache_meta_read(struct cache *c, int64_t *ret_seq, int64_t *ret_floor,
		    uint64_t *ret_entries)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (c->pg)
		return cache_pg_meta_read(c, ret_seq, ret_floor, ret_entries);
	r = cache_stmt(c, CS_META, &st);
	if (r < 0)
		return r;
	r = db_step(st);
	if (r == 1) {
		*ret_seq = sqlite3_column_int64(st, 0);
		*ret_floor = sqlite3_column_int64(st, 1);
		*ret_entries = (uint64_t)sqlite3_column_int64(st, 2);
		r = 0;
	} else if (r == 0) {
		r = -EIO; /* the migration inserts the one row */
	}
	cache_stmt_done(st);
	return r;
}

static int floor_set_tx(struct cache *c, int64_t floor)
{
	sqlite3_stmt *st = NULL;
	int r = cache_stmt(c, CS_LOG_TRIM, &st);

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, floor);
	r = cache_stmt_run(st);
	if (r >= 0)
		r = cache_stmt(c, CS_FLOOR_SET, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, floor);
	r = cache_stmt_run(st);
	return r < 0 ? r : 0;
}

int cache_log_trim_tx(struct cache *c, bool all)
{
	int64_t seq, floor;
	uint64_t entries;
	int r = cache_meta_read(c, &seq, &floor, &entries);

	if (r < 0)
		return r;
	if (all)
		return floor_set_tx(c, seq);
	if (seq - floor < CACHE_LOG_MAX)
		return 0;
	return floor_set_tx(c, seq - CACHE_LOG_KEEP);
}

int64_t cache_expiry_cutoff(const struct cache *c, int64_t now_ms)
{
	if (c->ttl_ms == 0 || c->ttl_ms > (uint64_t)now_ms)
		return -1;
	return now_ms - (int64_t)c->ttl_ms;
}
