/*
 * budget_schema: the budget tables, created and upgraded idempotently.
 *
 * The budget part shares ledgerbox.db with the store, whose schema version
 * is PRAGMA user_version; so the budget part keeps its own version, in the
 * one-row table budget_schema, and never touches user_version. db_migrate()
 * runs all pending migrations and the version update in one IMMEDIATE
 * transaction that reads the version again under the write lock: two
 * processes opening a new database at once apply each migration exactly
 * once, and a crash leaves the tables at some whole version.
 *
 * Rules for whoever adds a migration: append, never edit a released one;
 * STRICT tables; times are Unix milliseconds in *_ms columns; amounts are
 * integer micro-units in *_micros columns.
 */
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

static const struct db_schema schema = {
	.part = "budget",
	.what = "budgets",
	.migrations = migrations,
	.latest = BUDGET_SCHEMA_LATEST,
};

int budget_schema_migrate(sqlite3 *db, char *err, size_t err_len)
{
	return db_migrate(db, &schema, err, err_len);
}
