/*
 * budget_pg_schema: the budget tables in PostgreSQL, versioned by
 * pg_migrate() as part "budget" in ledgerbox_schema, under its advisory
 * lock, so nodes starting at once apply each migration exactly once.
 *
 * The tables mirror the SQLite ones (budget_schema.c) column for column,
 * with differences: reservations carry the node id of the handle that
 * made them and the end of their lease (expires_at, the database's clock;
 * see budget_pg_lease.c), and amounts and times are bigint. A migration is sent as one statement (libpq's extended
 * protocol takes one command at a time), so a version with several
 * statements is one DO block.
 *
 * Rules for whoever adds a migration: append, never edit a released one;
 * times are Unix milliseconds in *_ms columns; amounts are integer
 * micro-units in *_micros columns.
 */
#include "budget/budget_pg.h"
#include "util/banned.h"

#define BUDGET_PG_SCHEMA_LATEST 2

static const char *const migrations[BUDGET_PG_SCHEMA_LATEST] = {
	/* 1: budgets, open reservations (with their node), the append-only
	 * spend ledger and the soft warnings already given. */
	"DO $migration$ BEGIN "
	"CREATE TABLE budgets ("
	"  scope text PRIMARY KEY,"
	"  limit_micros bigint NOT NULL CHECK (limit_micros >= 0),"
	"  period text NOT NULL CHECK (period IN ('none', 'daily', 'weekly', 'monthly')),"
	"  soft_percent integer NOT NULL CHECK (soft_percent BETWEEN 1 AND 100),"
	"  hard boolean NOT NULL,"
	"  created_ms bigint NOT NULL,"
	"  updated_ms bigint NOT NULL);"
	"CREATE TABLE reservations ("
	"  run_id text NOT NULL,"
	"  scope text NOT NULL,"
	"  amount_micros bigint NOT NULL CHECK (amount_micros >= 0),"
	"  created_ms bigint NOT NULL,"
	"  node integer NOT NULL CHECK (node > 0),"
	"  PRIMARY KEY (run_id, scope));"
	"CREATE INDEX reservations_by_scope ON reservations (scope, amount_micros);"
	"CREATE INDEX reservations_by_node ON reservations (node);"
	"CREATE TABLE ledger ("
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  run_id text NOT NULL,"
	"  scope text NOT NULL,"
	"  amount_micros bigint NOT NULL CHECK (amount_micros >= 0),"
	"  at_ms bigint NOT NULL,"
	"  detail text,"
	"  UNIQUE (run_id, scope));"
	"CREATE INDEX ledger_by_scope_time ON ledger (scope, at_ms, amount_micros);"
	"CREATE INDEX ledger_by_time ON ledger (at_ms);"
	"CREATE TABLE soft_warnings ("
	"  scope text NOT NULL,"
	"  period_start_ms bigint NOT NULL,"
	"  at_ms bigint NOT NULL,"
	"  PRIMARY KEY (scope, period_start_ms));"
	/* Defence in depth, as in SQLite: spend once recorded is never
	 * edited or removed through SQL. */
	"CREATE FUNCTION ledgerbox_ledger_refuse() RETURNS trigger LANGUAGE plpgsql AS $fn$"
	"  BEGIN RAISE EXCEPTION 'the spend ledger is append-only'; END $fn$;"
	"CREATE TRIGGER ledger_no_change BEFORE UPDATE OR DELETE ON ledger"
	"  FOR EACH ROW EXECUTE FUNCTION ledgerbox_ledger_refuse();"
	"CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger"
	"  FOR EACH STATEMENT EXECUTE FUNCTION ledgerbox_ledger_refuse();"
	"END $migration$",
	/* 2: a reservation is a lease that ends at expires_at, on the
	 * database's clock, unless its node renews it (budget_pg_lease.c).
	 * Rows from before, and rows an older node still inserts during a
	 * rolling upgrade, get a minute, the default lease. */
	"DO $migration$ BEGIN "
	"ALTER TABLE reservations ADD COLUMN expires_at timestamptz NOT NULL"
	"  DEFAULT now() + interval '60 seconds';"
	"CREATE INDEX reservations_by_expiry ON reservations (expires_at);"
	"END $migration$",
};

static const struct pg_schema schema = {
	.part = "budget",
	.migrations = migrations,
	.latest = BUDGET_PG_SCHEMA_LATEST,
};

int budget_pg_schema_migrate(PGconn *c, char *err, size_t err_len)
{
	return pg_migrate(c, &schema, err, err_len);
}
