/*
 * store_schema: the database schema as an ordered list of migrations.
 *
 * The schema version is PRAGMA user_version (0 for a new, empty database).
 * Migration N takes a database at version N-1 to version N; each runs in
 * its own write transaction together with the user_version update, so a
 * crash leaves the database at some whole version, never between two. The
 * version is read again inside the transaction, so two processes opening a
 * new state directory at once apply each migration exactly once.
 *
 * Rules for whoever adds a migration: append, never edit a released one
 * (databases in the field have already run it); STRICT tables, so a value
 * of the wrong type is refused rather than silently stored; times are Unix
 * milliseconds in columns named *_ms.
 */
#include <errno.h>
#include <stdio.h>

#include "store/store_internal.h"
#include "util/banned.h"

static const char *const migrations[STORE_SCHEMA_LATEST] = {
	/* 1: who may call the API, their keys, runs and the artifact index. */
	"CREATE TABLE principals ("
	"  id INTEGER PRIMARY KEY,"
	"  user TEXT NOT NULL UNIQUE,"
	"  team TEXT NOT NULL,"
	"  role TEXT NOT NULL CHECK (role IN ('analyst', 'admin')),"
	"  created_ms INTEGER NOT NULL"
	") STRICT;"
	"CREATE TABLE api_keys ("
	"  id INTEGER PRIMARY KEY,"
	"  principal_id INTEGER NOT NULL REFERENCES principals(id),"
	"  key_hash BLOB NOT NULL UNIQUE CHECK (length(key_hash) = 32),"
	"  created_ms INTEGER NOT NULL,"
	"  revoked_ms INTEGER"
	") STRICT;"
	"CREATE INDEX api_keys_by_principal ON api_keys(principal_id);"
	"CREATE TABLE runs ("
	"  id TEXT PRIMARY KEY CHECK (length(id) = 32),"
	"  principal_id INTEGER NOT NULL REFERENCES principals(id),"
	"  language TEXT NOT NULL CHECK (language IN ('python', 'sql')),"
	"  dataset TEXT,"
	"  session TEXT,"
	"  status TEXT NOT NULL,"
	"  code TEXT NOT NULL,"
	"  result TEXT,"
	"  created_ms INTEGER NOT NULL,"
	"  duration_ms INTEGER NOT NULL CHECK (duration_ms >= 0)"
	") STRICT;"
	"CREATE TABLE artifacts ("
	"  run_id TEXT NOT NULL REFERENCES runs(id),"
	"  name TEXT NOT NULL,"
	"  mime TEXT NOT NULL,"
	"  bytes INTEGER NOT NULL CHECK (bytes >= 0),"
	"  path TEXT NOT NULL,"
	"  PRIMARY KEY (run_id, name)"
	") STRICT;",

	/* 2: the hash-chained audit log. audit_head holds the entry count and
	 * the last hash so a deleted tail is noticed; the triggers refuse
	 * edits through SQL (defence in depth: verification does not rely on
	 * them, since whoever holds the file can drop them). The head may only
	 * move forward by one entry, to the hash of the row just added. */
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY,"
	"  at_ms INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  detail TEXT NOT NULL,"
	"  prev_hash TEXT NOT NULL,"
	"  hash TEXT NOT NULL"
	") STRICT;"
	"CREATE TABLE audit_head ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  entries INTEGER NOT NULL,"
	"  last_hash TEXT NOT NULL"
	") STRICT;"
	"INSERT INTO audit_head (id, entries, last_hash) VALUES (1, 0,"
	"  '0000000000000000000000000000000000000000000000000000000000000000');"
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head"
	"  BEGIN SELECT RAISE(ABORT, 'the audit head cannot be deleted'); END;"
	"CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head"
	"  WHEN NEW.id != OLD.id OR NEW.entries != OLD.entries + 1"
	"    OR NEW.last_hash IS NOT (SELECT hash FROM audit WHERE id = NEW.entries)"
	"  BEGIN SELECT RAISE(ABORT, 'the audit head only moves to the newest entry'); END;",

	/* 3: listing runs newest first, per user or all, without a sort. */
	("CREATE INDEX runs_by_principal_time ON runs(principal_id, created_ms);"
	 "CREATE INDEX runs_by_time ON runs(created_ms);"),

	/* 4: shared artifacts and retention. An artifact row refers to the
	 * bytes it serves by (content_run, name): its own run for a run that
	 * wrote them, the run it came from for a cache hit. A run whose files
	 * retention removed keeps its row, marked by files_expired_ms. */
	("ALTER TABLE artifacts ADD COLUMN content_run TEXT;"
	 "UPDATE artifacts SET content_run = run_id;"
	 "CREATE INDEX artifacts_by_content ON artifacts(content_run, name);"
	 "ALTER TABLE runs ADD COLUMN files_expired_ms INTEGER;"
	 "CREATE INDEX runs_unexpired_by_time ON runs(created_ms) WHERE files_expired_ms IS NULL;"
	 "CREATE INDEX runs_by_expiry ON runs(files_expired_ms) WHERE files_expired_ms IS NOT NULL;"),

	/* 5: who owns each dataset. name_key is the name in lower case, so a
	 * name is unique ignoring case; team NULL is the organisation. */
	("CREATE TABLE datasets ("
	 "  name_key TEXT PRIMARY KEY,"
	 "  name TEXT NOT NULL,"
	 "  team TEXT,"
	 "  version INTEGER NOT NULL CHECK (version >= 1),"
	 "  bytes INTEGER NOT NULL CHECK (bytes >= 0),"
	 "  created_ms INTEGER NOT NULL,"
	 "  updated_ms INTEGER NOT NULL"
	 ") STRICT;"
	 "CREATE INDEX datasets_by_team ON datasets(team);"),

	/* 6: a run answered from another run's answer (an exact cache hit)
	 * stores in result only what is its own, a patch over the answer of
	 * run result_from (store_result_share.c); NULL: result is whole. */
	("ALTER TABLE runs ADD COLUMN result_from TEXT;"),
};

int store_schema_version_read(sqlite3 *db, int *ret)
{
	sqlite3_stmt *st;
	int r = db_prepare(db, "PRAGMA user_version", &st);

	if (r < 0)
		return r;
	r = db_step(st);
	if (r <= 0) {
		sqlite3_finalize(st);
		return r < 0 ? r : -EIO;
	}
	*ret = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return 0;
}

/* Applies migration `version` if the database is still just below it. */
static int schema_step(sqlite3 *db, int version, char *err, size_t err_len)
{
	char set_version[48];
	int current, r;

	r = db_exec(db, "BEGIN IMMEDIATE");
	if (r < 0) {
		store_err(err, err_len, "cannot lock the database to migrate it: %s",
			  sqlite3_errmsg(db));
		return r;
	}
	r = store_schema_version_read(db, &current);
	if (r == 0 && current == version - 1) {
		snprintf(set_version, sizeof(set_version), "PRAGMA user_version = %d", version);
		r = db_exec(db, migrations[version - 1]);
		if (r == 0)
			r = db_exec(db, set_version);
	}
	if (r < 0) {
		store_err(err, err_len, "schema migration %d failed: %s", version, sqlite3_errmsg(db));
		(void)db_exec(db, "ROLLBACK");
		return r;
	}
	r = db_exec(db, "COMMIT");
	if (r < 0) {
		store_err(err, err_len, "schema migration %d could not be committed: %s", version,
			  sqlite3_errmsg(db));
		if (!sqlite3_get_autocommit(db))
			(void)db_exec(db, "ROLLBACK");
	}
	return r;
}

int store_schema_migrate(sqlite3 *db, int target, char *err, size_t err_len)
{
	int current, r;

	if (target < 0 || target > STORE_SCHEMA_LATEST)
		return -EINVAL;
	r = store_schema_version_read(db, &current);
	if (r < 0) {
		store_err(err, err_len, "cannot read the schema version: %s", sqlite3_errmsg(db));
		return r;
	}
	if (current > STORE_SCHEMA_LATEST) {
		store_err(err, err_len,
			  "the database has schema version %d but this ledgerbox knows only up to %d; "
			  "run a newer ledgerbox",
			  current, STORE_SCHEMA_LATEST);
		return -EPROTONOSUPPORT;
	}
	for (int v = current + 1; v <= target; v++) {
		r = schema_step(db, v, err, err_len);
		if (r < 0)
			return r;
	}
	return 0;
}
