/*
 * cache_schema: the cache tables, created and upgraded idempotently.
 *
 * The cache shares ledgerbox.db with the store (whose version is PRAGMA
 * user_version) and the budget part (budget_schema), so it keeps its own
 * version in the one-row table cache_schema. All pending migrations and the
 * version update run in one IMMEDIATE transaction that reads the version
 * under the write lock: two processes opening a new database at once apply
 * each migration exactly once.
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
#include <errno.h>
#include <stdio.h>

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

static int version_read_tx(sqlite3 *db, int *ret)
{
	sqlite3_stmt *st = NULL;
	int r = db_prepare(db, "SELECT version FROM cache_schema WHERE id = 1", &st);

	if (r < 0)
		return r;
	r = db_step(st);
	if (r >= 0)
		*ret = r == 1 ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return r < 0 ? r : 0;
}

static int version_write_tx(sqlite3 *db, int version)
{
	sqlite3_stmt *st = NULL;
	int r = db_prepare(db,
			   "INSERT INTO cache_schema (id, version) VALUES (1, ?1)"
			   " ON CONFLICT (id) DO UPDATE SET version = excluded.version",
			   &st);

	if (r < 0)
		return r;
	sqlite3_bind_int(st, 1, version);
	r = db_step(st);
	sqlite3_finalize(st);
	return r > 0 ? -EIO : r;
}

static int version_check(int current, char *err, size_t err_len)
{
	if (current < 0) {
		cache_err(err, err_len, "the cache schema version %d is damaged", current);
		return -EIO;
	}
	if (current > CACHE_SCHEMA_LATEST) {
		cache_err(err, err_len,
			  "the cache tables have version %d but this ledgerbox knows only up to "
			  "%d; run a newer ledgerbox",
			  current, CACHE_SCHEMA_LATEST);
		return -EPROTONOSUPPORT;
	}
	return 0;
}

static int migrate_tx(sqlite3 *db, char *err, size_t err_len)
{
	int current = 0, r;

	r = db_exec(db, "CREATE TABLE IF NOT EXISTS cache_schema ("
			"  id INTEGER PRIMARY KEY CHECK (id = 1),"
			"  version INTEGER NOT NULL"
			") STRICT");
	if (r == 0)
		r = version_read_tx(db, &current);
	if (r < 0) {
		cache_err(err, err_len, "cannot read the cache schema version: %s",
			  sqlite3_errmsg(db));
		return r;
	}
	r = version_check(current, err, err_len);
	if (r < 0 || current == CACHE_SCHEMA_LATEST)
		return r;
	/* version_check() made current 0..CACHE_SCHEMA_LATEST - 1 here. */
	for (size_t i = (size_t)current; i < CACHE_SCHEMA_LATEST; i++) {
		r = db_exec(db, migrations[i]);
		if (r < 0) {
			cache_err(err, err_len, "cache schema migration %zu failed: %s", i + 1,
				  sqlite3_errmsg(db));
			return r;
		}
	}
	r = version_write_tx(db, CACHE_SCHEMA_LATEST);
	if (r < 0)
		cache_err(err, err_len, "cannot record the cache schema version: %s",
			  sqlite3_errmsg(db));
	return r;
}

int cache_schema_migrate(sqlite3 *db, char *err, size_t err_len)
{
	int r = cache_tx_begin(db);

	if (r < 0) {
		cache_err(err, err_len, "cannot lock the database to set up the cache: %s",
			  sqlite3_errmsg(db));
		return r;
	}
	r = migrate_tx(db, err, err_len);
	if (r < 0)
		return db_tx_end(db, r);
	r = db_tx_end(db, 0);
	if (r < 0)
		cache_err(err, err_len, "cannot commit the cache tables: %s", sqlite3_errmsg(db));
	return r;
}
