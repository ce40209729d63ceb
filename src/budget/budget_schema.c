/*
 * budget_schema: the budget tables, created and upgraded idempotently.
 *
 * The budget part shares ledgerbox.db with the store, whose schema version
 * is PRAGMA user_version; so the budget part keeps its own version, in the
 * one-row table budget_schema, and never touches user_version. All pending
 * migrations and the version update run in one IMMEDIATE transaction that
 * reads the version again under the write lock: two processes opening a new
 * database at once apply each migration exactly once, and a crash leaves
 * the tables at some whole version.
 *
 * Rules for whoever adds a migration: append, never edit a released one;
 * STRICT tables; times are Unix milliseconds in *_ms columns; amounts are
 * integer micro-units in *_micros columns.
 */
#include <errno.h>
#include <stdio.h>

#include "budget/budget_internal.h"
#include "util/banned.h"

static const char *const migrations[BUDGET_SCHEMA_LATEST] = {
	/* 1: budgets, open reservations, the append-only spend ledger and the
	 * soft warnings already given. The ledger index covers the sum that
	 * every reservation computes (scope, period range, amount). */
	"CREATE TABLE budgets ("
	"  scope TEXT PRIMARY KEY,"
	"  limit_micros INTEGER NOT NULL CHECK (limit_micros >= 0),"
	"  period TEXT NOT NULL CHECK (period IN ('none', 'daily', 'weekly', 'monthly')),"
	"  soft_percent INTEGER NOT NULL CHECK (soft_percent BETWEEN 1 AND 100),"
	"  hard INTEGER NOT NULL CHECK (hard IN (0, 1)),"
	"  created_ms INTEGER NOT NULL,"
	"  updated_ms INTEGER NOT NULL"
	") STRICT;"
	"CREATE TABLE reservations ("
	"  run_id TEXT NOT NULL,"
	"  scope TEXT NOT NULL,"
	"  amount_micros INTEGER NOT NULL CHECK (amount_micros >= 0),"
	"  created_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (run_id, scope)"
	") STRICT;"
	"CREATE INDEX reservations_by_scope ON reservations(scope, amount_micros);"
	"CREATE TABLE ledger ("
	"  id INTEGER PRIMARY KEY,"
	"  run_id TEXT NOT NULL,"
	"  scope TEXT NOT NULL,"
	"  amount_micros INTEGER NOT NULL CHECK (amount_micros >= 0),"
	"  at_ms INTEGER NOT NULL,"
	"  detail TEXT,"
	"  UNIQUE (run_id, scope)"
	") STRICT;"
	"CREATE INDEX ledger_by_scope_time ON ledger(scope, at_ms, amount_micros);"
	"CREATE INDEX ledger_by_time ON ledger(at_ms);"
	"CREATE TABLE soft_warnings ("
	"  scope TEXT NOT NULL,"
	"  period_start_ms INTEGER NOT NULL,"
	"  at_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (scope, period_start_ms)"
	") STRICT;"
	/* Defence in depth, as for the audit log: spend once recorded is
	 * never edited through SQL. */
	"CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger"
	"  BEGIN SELECT RAISE(ABORT, 'the spend ledger is append-only'); END;"
	"CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger"
	"  BEGIN SELECT RAISE(ABORT, 'the spend ledger is append-only'); END;",
};

static int version_read_tx(sqlite3 *db, int *ret)
{
	sqlite3_stmt *st;
	int r = db_prepare(db, "SELECT version FROM budget_schema WHERE id = 1", &st);

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
	sqlite3_stmt *st;
	int r = db_prepare(db,
				   "INSERT INTO budget_schema (id, version) VALUES (1, ?1)"
				   " ON CONFLICT (id) DO UPDATE SET version = excluded.version",
				   &st);

	if (r < 0)
		return r;
	sqlite3_bind_int(st, 1, version);
	return budget_sql_run(st);
}

static int migrate_tx(sqlite3 *db, char *err, size_t err_len)
{
	int current = 0, r;

	r = db_exec(db, "CREATE TABLE IF NOT EXISTS budget_schema ("
				"  id INTEGER PRIMARY KEY CHECK (id = 1),"
				"  version INTEGER NOT NULL"
				") STRICT");
	if (r == 0)
		r = version_read_tx(db, &current);
	if (r < 0) {
		budget_err(err, err_len, "cannot read the budget schema version: %s",
			   sqlite3_errmsg(db));
		return r;
	}
	if (current < 0) {
		budget_err(err, err_len, "the budget schema version %d is damaged", current);
		return -EIO;
	}
	if (current > BUDGET_SCHEMA_LATEST) {
		budget_err(err, err_len,
			   "the budget tables have version %d but this ledgerbox knows only up to "
			   "%d; run a newer ledgerbox",
			   current, BUDGET_SCHEMA_LATEST);
		return -EPROTONOSUPPORT;
	}
	for (int v = current + 1; v <= BUDGET_SCHEMA_LATEST; v++) {
		r = db_exec(db, migrations[v - 1]);
		if (r < 0) {
			budget_err(err, err_len, "budget schema migration %d failed: %s", v,
				   sqlite3_errmsg(db));
			return r;
		}
	}
	if (current == BUDGET_SCHEMA_LATEST)
		return 0;
	r = version_write_tx(db, BUDGET_SCHEMA_LATEST);
	if (r < 0)
		budget_err(err, err_len, "cannot record the budget schema version: %s",
			   sqlite3_errmsg(db));
	return r;
}

int budget_schema_migrate(sqlite3 *db, char *err, size_t err_len)
{
	int r = budget_tx_begin(db);

	if (r < 0) {
		budget_err(err, err_len, "cannot lock the database to set up budgets: %s",
			   sqlite3_errmsg(db));
		return r;
	}
	r = migrate_tx(db, err, err_len);
	if (r < 0)
		return db_tx_end(db, r);
	r = db_tx_end(db, 0);
	if (r < 0)
		budget_err(err, err_len, "cannot commit the budget tables: %s", sqlite3_errmsg(db));
	return r;
}
