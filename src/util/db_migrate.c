/*
 * db_migrate: creating and upgrading a part's tables in the shared state
 * database (see db.h for the contract).
 *
 * Each part that shares ledgerbox.db with the store keeps its own version
 * in a one-row table <part>_schema, since PRAGMA user_version is the
 * store's. The version table is created inside the same transaction that
 * reads it, so a database from before the part existed reads as version 0.
 */
#include "util/db.h"

#include <errno.h>
#include <stdio.h>

#include "util/banned.h"

/* Enough for "<part>_schema" statements with a short part name. */
#define SCHEMA_SQL_MAX 256

static int version_read_tx(sqlite3 *db, const char *part, int *ret)
{
	char sql[SCHEMA_SQL_MAX];
	sqlite3_stmt *st = NULL;
	int r;

	if (snprintf(sql, sizeof(sql), "SELECT version FROM %s_schema WHERE id = 1", part) >=
	    (int)sizeof(sql))
		return -ENAMETOOLONG;
	r = db_prepare(db, sql, &st);
	if (r < 0)
		return r;
	r = db_step(st);
	if (r >= 0)
		*ret = r == 1 ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return r < 0 ? r : 0;
}

static int version_write_tx(sqlite3 *db, const char *part, int version)
{
	char sql[SCHEMA_SQL_MAX];
	sqlite3_stmt *st = NULL;
	int r;

	if (snprintf(sql, sizeof(sql),
		     "INSERT INTO %s_schema (id, version) VALUES (1, ?1)"
		     " ON CONFLICT (id) DO UPDATE SET version = excluded.version",
		     part) >= (int)sizeof(sql))
		return -ENAMETOOLONG;
	r = db_prepare(db, sql, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int(st, 1, version);
	r = db_step(st);
	sqlite3_finalize(st);
	return r > 0 ? -EIO : r;
}

/* Creates the version table if missing and reads the version. */
static int version_get_tx(sqlite3 *db, const char *part, int *ret)
{
	char sql[SCHEMA_SQL_MAX];
	int r;

	if (snprintf(sql, sizeof(sql),
		     "CREATE TABLE IF NOT EXISTS %s_schema ("
		     "  id INTEGER PRIMARY KEY CHECK (id = 1),"
		     "  version INTEGER NOT NULL"
		     ") STRICT",
		     part) >= (int)sizeof(sql))
		return -ENAMETOOLONG;
	r = db_exec(db, sql);
	return r < 0 ? r : version_read_tx(db, part, ret);
}

static int version_check(const struct db_schema *sc, int current, char *err, size_t err_len)
{
	if (current < 0) {
		db_err(err, err_len, "the %s schema version %d is damaged", sc->part, current);
		return -EIO;
	}
	if (current > sc->latest) {
		db_err(err, err_len,
		       "the %s tables have version %d but this ledgerbox knows only up to %d; "
		       "run a newer ledgerbox",
		       sc->part, current, sc->latest);
		return -EPROTONOSUPPORT;
	}
	return 0;
}

static int migrate_tx(sqlite3 *db, const struct db_schema *sc, char *err, size_t err_len)
{
	int current = 0, r;

	r = version_get_tx(db, sc->part, &current);
	if (r < 0) {
		db_err(err, err_len, "cannot read the %s schema version: %s", sc->part,
		       sqlite3_errmsg(db));
		return r;
	}
	r = version_check(sc, current, err, err_len);
	if (r < 0 || current == sc->latest)
		return r;
	for (int v = current + 1; v <= sc->latest; v++) {
		r = db_exec(db, sc->migrations[v - 1]);
		if (r < 0) {
			db_err(err, err_len, "%s schema migration %d failed: %s", sc->part, v,
			       sqlite3_errmsg(db));
			return r;
		}
	}
	r = version_write_tx(db, sc->part, sc->latest);
	if (r < 0)
		db_err(err, err_len, "cannot record the %s schema version: %s", sc->part,
		       sqlite3_errmsg(db));
	return r;
}

int db_migrate(sqlite3 *db, const struct db_schema *sc, char *err, size_t err_len)
{
	/* The write lock first: the version read must not go stale before the
	 * migrations it decides on have run. */
	int r = db_exec(db, "BEGIN IMMEDIATE");

	if (r < 0) {
		db_err(err, err_len, "cannot lock the database to set up %s: %s", sc->what,
		       sqlite3_errmsg(db));
		return r;
	}
	r = migrate_tx(db, sc, err, err_len);
	if (r < 0)
		return db_tx_end(db, r);
	r = db_tx_end(db, 0);
	if (r < 0)
		db_err(err, err_len, "cannot commit the %s tables: %s", sc->part, sqlite3_errmsg(db));
	return r;
}
