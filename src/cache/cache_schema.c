/*
 * cache_schema: the cache tables, created and upgraded idempotently.
 *
 * The cache shares ledgerbox.db with the store (whose version is PRAGMA
 * user_version) and the budget part (budget_schema), so it keeps its own
 * version in the one-row table cache_schema. db_migrate() runs all pending
 * migrations and the version update in one IMMEDIATE transaction that reads
 * the version under the write lock: two processes opening a new database at
 * once apply each migration exactly once.
 *
 * Tables:
 *   cache_entries  what was stored, never updated in place; UNIQUE (key,
 *                  scope) is the identity and serves the exact lookup; ids
 *                  are never reused (AUTOINCREMENT), so a late hit note or
 *                  log entry can never be taken for a newer entry's
 *   cache_usage    last use and hit count per entry, apart so that a hit
 *                  rewrites a small row instead of one holding up to 16 MiB
 *                  of result; its (last_used_ms) index orders LRU eviction
 *   cache_meta     one row: the change sequence, how far back the change
 *                  log reaches (log_floor) and the number of entries
 *   cache_log      (seq, entry_id) for every entry inserted, deleted or
 *                  moved to another group, written by triggers so that no
 *                  code path can change entries without other handles
 *                  learning of it
 *
 * Rules for whoever adds a migration: append, never edit a released one;
 * STRICT tables; times are Unix milliseconds in *_ms columns.
 */
#include "cache/cache_internal.h"
#include "util/banned.h"

#define LOG_CHANGE(id)                                                                  \
	"  UPDATE cache_meta SET seq = seq + 1 WHERE id = 1;"                           \
	"  INSERT INTO cache_log (seq, entry_id) SELECT seq, " id " FROM cache_meta WHERE id = 1;"

static const char *const migrations[CACHE_SCHEMA_LATEST] = {
	/* 1: entries, usage, the change log and its triggers. */
	"CREATE TABLE cache_entries ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  key TEXT NOT NULL,"
	"  scope TEXT NOT NULL,"
	"  dataset TEXT NOT NULL,"
	"  fingerprint TEXT NOT NULL,"
	"  language TEXT NOT NULL,"
	"  model TEXT NOT NULL,"
	"  embed_model TEXT NOT NULL,"
	"  signature TEXT NOT NULL,"
	"  query_norm TEXT NOT NULL,"
	"  embedding BLOB,"
	"  code TEXT NOT NULL,"
	"  result TEXT NOT NULL,"
	"  run_id TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  UNIQUE (key, scope)"
	") STRICT;"
	"CREATE INDEX cache_entries_by_group ON cache_entries"
	"  (scope, dataset, fingerprint, language, model, embed_model, signature);"
	"CREATE INDEX cache_entries_by_age ON cache_entries (created_ms);"
	"CREATE INDEX cache_entries_by_dataset ON cache_entries (dataset, fingerprint);"
	"CREATE TABLE cache_usage ("
	"  id INTEGER PRIMARY KEY,"
	"  last_used_ms INTEGER NOT NULL,"
	"  hits INTEGER NOT NULL CHECK (hits >= 0)"
	") STRICT;"
	"CREATE INDEX cache_usage_by_use ON cache_usage (last_used_ms);"
	"CREATE TABLE cache_meta ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  seq INTEGER NOT NULL,"
	"  log_floor INTEGER NOT NULL,"
	"  entries INTEGER NOT NULL"
	") STRICT;"
	"INSERT INTO cache_meta (id, seq, log_floor, entries) VALUES (1, 0, 0, 0);"
	"CREATE TABLE cache_log ("
	"  seq INTEGER PRIMARY KEY,"
	"  entry_id INTEGER NOT NULL"
	") STRICT;"
	"CREATE TRIGGER cache_entries_added AFTER INSERT ON cache_entries BEGIN"
	"  INSERT OR REPLACE INTO cache_usage (id, last_used_ms, hits)"
	"    VALUES (new.id, new.created_ms, 0);"
	"  UPDATE cache_meta SET entries = entries + 1 WHERE id = 1;" LOG_CHANGE("new.id")
	" END;"
	"CREATE TRIGGER cache_entries_removed AFTER DELETE ON cache_entries BEGIN"
	"  DELETE FROM cache_usage WHERE id = old.id;"
	"  UPDATE cache_meta SET entries = entries - 1 WHERE id = 1;" LOG_CHANGE("old.id")
	" END;"
	"CREATE TRIGGER cache_entries_moved AFTER UPDATE OF id, scope, dataset, fingerprint,"
	"  language, model, embed_model, signature, embedding, created_ms ON cache_entries BEGIN"
	LOG_CHANGE("old.id") LOG_CHANGE("new.id")
	" END;",
};

static const struct db_schema schema = {
	.part = "cache",
	.what = "the cache",
	.migrations = migrations,
	.latest = CACHE_SCHEMA_LATEST,
};

int cache_schema_migrate(sqlite3 *db, char *err, size_t err_len)
{
	return db_migrate(db, &schema, err, err_len);
}
