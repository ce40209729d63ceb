/*
 * store_pg_schema: the store's tables in PostgreSQL, as the "store" part's
 * migrations for pg_migrate() (which applies them under an advisory lock,
 * so nodes starting at once apply each exactly once).
 *
 * Each migration is one DO block: statements go through the extended
 * query protocol, which takes a single statement, and a block keeps a
 * migration's several statements one unit. Append, never edit a released
 * migration.
 *
 * The tables mirror the SQLite ones (store_schema.c) so the two read
 * alike, with these differences: the user column is user_name (user is a
 * reserved word in PostgreSQL, and unquoted it silently means
 * current_user); runs have a seq column, the insertion order that breaks
 * ties between equal created_ms as SQLite's rowid does; artifacts keep
 * their bytes in the row (data, bytea) so every node can serve them;
 * key_pepper holds a keyed fingerprint of the nodes' shared pepper. Times
 * stay Unix milliseconds (bigint *_ms), which the API formats exactly as
 * it does SQLite's.
 */
#include "store/store_pg.h"
#include "util/banned.h"

static const char *const migrations[STORE_PG_SCHEMA_LATEST] = {
	"DO $migration$ BEGIN "
	"CREATE TABLE principals ("
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  user_name text NOT NULL UNIQUE,"
	"  team text NOT NULL,"
	"  role text NOT NULL CHECK (role IN ('analyst', 'admin')),"
	"  created_ms bigint NOT NULL);"
	"CREATE TABLE api_keys ("
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  principal_id bigint NOT NULL REFERENCES principals(id),"
	"  key_hash bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),"
	"  created_ms bigint NOT NULL,"
	"  revoked_ms bigint);"
	"CREATE INDEX api_keys_by_principal ON api_keys(principal_id);"
	"CREATE TABLE key_pepper ("
	"  id integer PRIMARY KEY CHECK (id = 1),"
	"  fingerprint text NOT NULL CHECK (length(fingerprint) = 64),"
	"  created_ms bigint NOT NULL);"
	"CREATE TABLE runs ("
	"  id text PRIMARY KEY CHECK (length(id) = 32),"
	"  seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,"
	"  principal_id bigint NOT NULL REFERENCES principals(id),"
	"  language text NOT NULL CHECK (language IN ('python', 'sql')),"
	"  dataset text,"
	"  session text,"
	"  status text NOT NULL,"
	"  code text NOT NULL,"
	"  result text,"
	"  created_ms bigint NOT NULL,"
	"  duration_ms bigint NOT NULL CHECK (duration_ms >= 0));"
	"CREATE INDEX runs_by_principal_time ON runs(principal_id, created_ms, seq);"
	"CREATE INDEX runs_by_time ON runs(created_ms, seq);"
	"CREATE TABLE artifacts ("
	"  run_id text NOT NULL REFERENCES runs(id),"
	"  name text NOT NULL,"
	"  mime text NOT NULL,"
	"  bytes bigint NOT NULL CHECK (bytes >= 0),"
	"  data bytea NOT NULL,"
	"  PRIMARY KEY (run_id, name));"
	/* Charts are PNGs, already compressed: storing them out of line
	 * without another compression pass saves the CPU for nothing. */
	"ALTER TABLE artifacts ALTER COLUMN data SET STORAGE EXTERNAL;"
	"CREATE TABLE audit ("
	"  id bigint PRIMARY KEY,"
	"  at_ms bigint NOT NULL,"
	"  actor text NOT NULL,"
	"  action text NOT NULL,"
	"  subject text NOT NULL,"
	"  detail text NOT NULL,"
	"  prev_hash text NOT NULL,"
	"  hash text NOT NULL);"
	"CREATE TABLE audit_head ("
	"  id integer PRIMARY KEY CHECK (id = 1),"
	"  entries bigint NOT NULL,"
	"  last_hash text NOT NULL);"
	"INSERT INTO audit_head (id, entries, last_hash) VALUES (1, 0,"
	"  '0000000000000000000000000000000000000000000000000000000000000000');"
	/* Defence in depth, as in SQLite: verification does not rely on
	 * these, since whoever owns the tables can disable them. */
	"CREATE FUNCTION ledgerbox_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $f$"
	"  BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $f$;"
	"CREATE FUNCTION ledgerbox_audit_head_forward() RETURNS trigger LANGUAGE plpgsql AS $f$"
	"  BEGIN"
	"    IF NEW.id <> OLD.id OR NEW.entries <> OLD.entries + 1"
	"       OR NEW.last_hash IS DISTINCT FROM (SELECT hash FROM audit WHERE id = NEW.entries)"
	"    THEN RAISE EXCEPTION 'the audit head only moves to the newest entry'; END IF;"
	"    RETURN NEW;"
	"  END $f$;"
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	"  FOR EACH ROW EXECUTE FUNCTION ledgerbox_audit_refuse();"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	"  FOR EACH ROW EXECUTE FUNCTION ledgerbox_audit_refuse();"
	"CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit"
	"  FOR EACH STATEMENT EXECUTE FUNCTION ledgerbox_audit_refuse();"
	"CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head"
	"  FOR EACH ROW EXECUTE FUNCTION ledgerbox_audit_refuse();"
	"CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head"
	"  FOR EACH STATEMENT EXECUTE FUNCTION ledgerbox_audit_refuse();"
	"CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head"
	"  FOR EACH ROW EXECUTE FUNCTION ledgerbox_audit_head_forward();"
	"END $migration$",

	/* 2: shared artifacts and retention, as SQLite's migration 4. A row
	 * that refers to another run's bytes (a cache hit) holds no data of
	 * its own; only rows holding their own bytes have data. */
	"DO $migration$ BEGIN "
	"ALTER TABLE artifacts ADD COLUMN content_run text;"
	"UPDATE artifacts SET content_run = run_id;"
	"ALTER TABLE artifacts ALTER COLUMN content_run SET NOT NULL;"
	"ALTER TABLE artifacts ALTER COLUMN data DROP NOT NULL;"
	"ALTER TABLE artifacts ADD CONSTRAINT artifacts_data_held"
	"  CHECK ((content_run = run_id) = (data IS NOT NULL));"
	"CREATE INDEX artifacts_by_content ON artifacts(content_run, name);"
	"ALTER TABLE runs ADD COLUMN files_expired_ms bigint;"
	"CREATE INDEX runs_unexpired_by_time ON runs(created_ms) WHERE files_expired_ms IS NULL;"
	"CREATE INDEX runs_by_expiry ON runs(files_expired_ms) WHERE files_expired_ms IS NOT NULL;"
	"END $migration$",

	/* 3: who owns each dataset, as SQLite's migration 5. */
	"DO $migration$ BEGIN "
	"CREATE TABLE datasets ("
	"  name_key text PRIMARY KEY,"
	"  name text NOT NULL,"
	"  team text,"
	"  version bigint NOT NULL CHECK (version >= 1),"
	"  bytes bigint NOT NULL CHECK (bytes >= 0),"
	"  created_ms bigint NOT NULL,"
	"  updated_ms bigint NOT NULL);"
	"CREATE INDEX datasets_by_team ON datasets(team);"
	"END $migration$",

	/* 4: a hit's answer as a patch over its source's, as SQLite's
	 * migration 6. */
	"ALTER TABLE runs ADD COLUMN result_from text",
};

const struct pg_schema store_pg_schema = {
	.part = "store",
	.migrations = migrations,
	.latest = STORE_PG_SCHEMA_LATEST,
};
