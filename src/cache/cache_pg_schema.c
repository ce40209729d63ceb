/*
 * cache_pg_schema: the cache tables in PostgreSQL, the same layout as the
 * SQLite back end's (cache_schema.c) so both follow the same rules.
 *
 * Tables:
 *   cache_entries  never updated in place; UNIQUE (key, scope) is the
 *                  identity and serves the exact lookup; ids come from an
 *                  identity column and are never reused, so a late hit note
 *                  or log entry never counts for a newer entry
 *   cache_usage    last use and hit count, apart from the large row; its
 *                  (last_used_ms, id) index orders LRU eviction
 *   cache_meta     one row: the change sequence, how far back the log
 *                  reaches, the number of entries. Every write transaction
 *                  locks this row first (cache_pg_write_begin), so writers
 *                  of all nodes run one after another and the log's
 *                  sequence numbers become visible in order: a reader that
 *                  sees seq N sees every change up to N.
 *   cache_log      (seq, entry_id) of every entry inserted, deleted or
 *                  updated, written by statement-level triggers, so no
 *                  code path (nor a person with psql) changes entries
 *                  without the other nodes' indexes learning of it
 *
 * No index covers the group fields: a B-tree row is limited to about 2.7 kB
 * and a signature may be 16 kB; the semantic lookup reads the in-memory
 * index, never the table by group.
 *
 * pg_migrate() runs each migration as one statement, hence a DO block.
 * Rules for whoever adds a migration: append, never edit a released one;
 * times are Unix milliseconds in *_ms columns.
 */
#include "cache/cache_internal.h"
#include "util/pg.h"
#include "util/banned.h"

#define CACHE_PG_LATEST 1

/* Bumps the sequence by the rows of a transition table and logs them. */
#define LOG_ROWS(rows, delta)                                                                \
	"  UPDATE cache_meta SET seq = seq + n, entries = entries + (" delta ")"              \
	"    WHERE id = 1 RETURNING seq - n INTO base;"                                      \
	"  INSERT INTO cache_log (seq, entry_id)"                                            \
	"    SELECT base + row_number() OVER (ORDER BY r.id), r.id FROM (" rows ") r;"

static const char *const migrations[CACHE_PG_LATEST] = {
	/* 1: entries, usage, meta, the change log and its triggers. */
	"DO $m$ BEGIN "
	"CREATE TABLE cache_entries ("
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  key text NOT NULL,"
	"  scope text NOT NULL,"
	"  dataset text NOT NULL,"
	"  fingerprint text NOT NULL,"
	"  language text NOT NULL,"
	"  model text NOT NULL,"
	"  embed_model text NOT NULL,"
	"  signature text NOT NULL,"
	"  query_norm text NOT NULL,"
	"  embedding bytea,"
	"  code text NOT NULL,"
	"  result text NOT NULL,"
	"  run_id text NOT NULL,"
	"  created_ms bigint NOT NULL,"
	"  UNIQUE (key, scope));"
	"CREATE INDEX cache_entries_by_age ON cache_entries (created_ms);"
	"CREATE INDEX cache_entries_by_dataset ON cache_entries (dataset, fingerprint);"
	"CREATE TABLE cache_usage ("
	"  id bigint PRIMARY KEY,"
	"  last_used_ms bigint NOT NULL,"
	"  hits bigint NOT NULL CHECK (hits >= 0));"
	"CREATE INDEX cache_usage_by_use ON cache_usage (last_used_ms, id);"
	"CREATE TABLE cache_meta ("
	"  id integer PRIMARY KEY CHECK (id = 1),"
	"  seq bigint NOT NULL,"
	"  log_floor bigint NOT NULL,"
	"  entries bigint NOT NULL);"
	"INSERT INTO cache_meta (id, seq, log_floor, entries) VALUES (1, 0, 0, 0);"
	"CREATE TABLE cache_log ("
	"  seq bigint PRIMARY KEY,"
	"  entry_id bigint NOT NULL);"
	"CREATE FUNCTION cache_entries_added() RETURNS trigger LANGUAGE plpgsql AS $f$"
	" DECLARE n bigint; base bigint; BEGIN"
	"  SELECT count(*) INTO n FROM new_rows;"
	"  IF n = 0 THEN RETURN NULL; END IF;"
	"  INSERT INTO cache_usage (id, last_used_ms, hits)"
	"    SELECT id, created_ms, 0 FROM new_rows;"
	LOG_ROWS("SELECT id FROM new_rows", "n")
	"  RETURN NULL; END $f$;"
	"CREATE FUNCTION cache_entries_removed() RETURNS trigger LANGUAGE plpgsql AS $f$"
	" DECLARE n bigint; base bigint; BEGIN"
	"  SELECT count(*) INTO n FROM old_rows;"
	"  IF n = 0 THEN RETURN NULL; END IF;"
	"  DELETE FROM cache_usage u USING old_rows o WHERE u.id = o.id;"
	LOG_ROWS("SELECT id FROM old_rows", "-n")
	"  RETURN NULL; END $f$;"
	"CREATE FUNCTION cache_entries_moved() RETURNS trigger LANGUAGE plpgsql AS $f$"
	" DECLARE n bigint; base bigint; BEGIN"
	"  SELECT count(*) * 2 INTO n FROM old_rows;"
	"  IF n = 0 THEN RETURN NULL; END IF;"
	LOG_ROWS("SELECT id FROM old_rows UNION ALL SELECT id FROM new_rows", "0")
	"  RETURN NULL; END $f$;"
	"CREATE TRIGGER cache_entries_added AFTER INSERT ON cache_entries"
	"  REFERENCING NEW TABLE AS new_rows"
	"  FOR EACH STATEMENT EXECUTE FUNCTION cache_entries_added();"
	"CREATE TRIGGER cache_entries_removed AFTER DELETE ON cache_entries"
	"  REFERENCING OLD TABLE AS old_rows"
	"  FOR EACH STATEMENT EXECUTE FUNCTION cache_entries_removed();"
	"CREATE TRIGGER cache_entries_moved AFTER UPDATE ON cache_entries"
	"  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
	"  FOR EACH STATEMENT EXECUTE FUNCTION cache_entries_moved();"
	"END $m$",
};

static const struct pg_schema schema = {
	.part = "cache",
	.migrations = migrations,
	.latest = CACHE_PG_LATEST,
};

int cache_pg_schema_migrate(PGconn *pg, char *err, size_t err_len)
{
	return pg_migrate(pg, &schema, err, err_len);
}
