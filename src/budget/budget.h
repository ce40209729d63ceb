/*
 * budget: scoped budgets, reservations made before any work, and a durable
 * append-only spend ledger, in the state database.
 *
 * Scopes: "org" (the whole organisation; the HTTP API names it org/global),
 * "team:<team>", "user:<user>", "session:<id>". A run is charged to every
 * scope that applies. A budget has a limit (micro-units), a period (none,
 * daily, weekly (Monday), monthly; calendar-aligned in the process's local
 * time zone, which `serve` sets from LEDGERBOX_TZ), a soft threshold
 * (percent) and whether the limit is hard.
 *
 * Invariant, for every hard-capped scope at every instant, on every node
 * sharing the database: spent_in_period + reserved <= limit. It holds because
 * budget_reserve() checks and inserts every reservation of a run in one
 * IMMEDIATE transaction (SQLite takes the write lock first; on PostgreSQL
 * a transaction-level advisory lock that every node takes), all or nothing,
 * and budget_settle() replaces a run's reservations by its ledger entry in
 * one transaction, at most once per run id.
 *
 * The invariant assumes a run is stopped at the cost it reserved: a
 * settlement above the reservation is recorded as it is (the ledger is the
 * truth) and can leave spent above the limit, so later runs are refused.
 *
 * Thread-safe (one connection, serialised). Functions return 0 or -errno:
 * -EINVAL for a malformed argument, -ERANGE for an amount above
 * BUDGET_MICROS_MAX, -EBUSY when the database stayed locked for 10 s, -EIO
 * for a database failure; -EDQUOT means a hard budget refused the
 * reservation (see *ret_refusal). Out-parameters are written only on
 * success (the refusal only on -EDQUOT).
 *
 * JSON: amounts appear twice, as a decimal string with 6 decimals
 * ("limit": "12.500000") and as integer micro-units ("limitMicros":
 * 12500000); times are RFC 3339 UTC text with milliseconds
 * ("2026-03-08T05:00:00.000Z").
 */
#ifndef LEDGERBOX_BUDGET_H
#define LEDGERBOX_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct budgets;

/* Largest limit, reservation or cost: 10^15 micro-units (a billion
 * currency units), so sums of many stay far from int64 overflow. */
#define BUDGET_MICROS_MAX 1000000000000000ULL

enum budget_period { PERIOD_NONE, PERIOD_DAILY, PERIOD_WEEKLY, PERIOD_MONTHLY };

struct budget_def {
	char scope[160];          /* "org", "team:finance", "user:alice", "session:x" */
	uint64_t limit_micros;    /* 0..BUDGET_MICROS_MAX */
	enum budget_period period;
	unsigned soft_percent;    /* 1..100; 100 = no soft warning before the limit */
	bool hard;                /* refuse past the limit (else: warn only) */
};

/* The scopes a run is charged to: always "org", plus team, user and
 * session when not NULL. Each must make a valid scope (budget_scope_valid
 * of "team:" + team and so on), else the call is -EINVAL. */
struct budget_scopes {
	const char *team, *user, *session;
};

struct budget_refusal {
	char scope[160];
	uint64_t spent_micros, reserved_micros, limit_micros, requested_micros;
	int64_t period_end_ms; /* 0 when the period is "none" */
};

/* One scope's standing after a reservation or settlement. */
struct budget_status {
	char scope[160];
	uint64_t spent_micros, reserved_micros, limit_micros;
	int64_t period_end_ms;
	bool soft_crossed;        /* spent + reserved >= soft threshold */
	bool soft_first_time;     /* first crossing in this period (warn/audit once) */
};

/* Opens (creating STATE_DIR 0700 and the file 0600 if needed, and
 * migrating) the budget tables in STATE_DIR/ledgerbox.db through its own
 * connection. Releases every reservation left by processes that died (no
 * run survives its server) when no other handle, in any process, has the
 * tables open: STATE_DIR/budget.lock tells, since every open handle holds
 * a read lock on it. err receives a one-line message on failure. */
int budget_open(const char *state_dir, struct budgets **ret, char *err, size_t err_len);
/* Opens the budgets where database_url says: NULL or "" is budget_open()
 * on STATE_DIR; a postgres:// or postgresql:// URL keeps them in that
 * PostgreSQL database (STATE_DIR unused, may be NULL), shared by every
 * node that opens the same URL, with the same API, semantics and error
 * codes. There, each handle is a node and its reservations are leases it
 * renews (budget_lease_set); a lease that ended counts nowhere, and
 * opening (and, now and then, reserving) deletes those. With a STATE_DIR,
 * an opener alone on it also deletes the reservations of the last node
 * that opened it alone (STATE_DIR/budget-node: a restarted server ends its
 * dead predecessor's at once). Any other URL is -EINVAL. */
int budget_open_url(const char *state_dir, const char *database_url, struct budgets **ret,
		    char *err, size_t err_len);
/* Closes; accepts NULL. Reservations stay until settled, released or swept. */
void budget_close(struct budgets *b);

/* PostgreSQL: a reservation is a lease on the database's clock. It ends
 * hold_ms (the run's deadline, budget_reserve_for) plus the lease after it
 * was made, and this handle pushes it on (to now + the lease, every third
 * of it) while the run is neither settled nor released, so it outlives its
 * run by at most the lease when the node dies, and never ends while the
 * run may still go as long as the database is away for less than the
 * lease. An expired reservation counts in no standing and is swept.
 * SQLite (one machine, swept at a lone open) ignores the lease. */
#define BUDGET_LEASE_DEFAULT_MS 60000
#define BUDGET_LEASE_MIN_MS 2000
void budget_lease_set(struct budgets *b, uint64_t lease_ms);

/* Creates or replaces the budget of def->scope (soft warnings already
 * given for it are forgotten). -EINVAL for a bad scope, period or
 * soft_percent; -ERANGE for a limit above BUDGET_MICROS_MAX. */
int budget_set(struct budgets *b, const struct budget_def *def);
int budget_remove(struct budgets *b, const char *scope); /* -ENOENT when none */
/* The budgets whose scope starts with scope_prefix ("" all), by scope, with
 * their standing at now_ms:
 * [{"scope", "period", "softPercent", "hard", "limit", "limitMicros",
 *   "spent", "spentMicros" (ledger, current period), "reserved",
 *   "reservedMicros" (open reservations), "remaining", "remainingMicros"
 *   (limit - spent - reserved, 0 when negative), "periodStart", "periodEnd"
 *   (null for period "none"), "createdAt", "updatedAt"}] */
int budget_list(struct budgets *b, const char *scope_prefix, int64_t now_ms, json_t **ret);

/* Reserves `amount_micros` for run_id on every applicable scope that has a
 * budget, all or nothing. -EDQUOT with *ret_refusal (may be NULL) when a
 * hard budget would be exceeded (spent + reserved + amount > limit; the
 * first such scope in the order org, team, user, session). -EEXIST when
 * run_id already holds reservations or was settled. ret_status (array of
 * 4, may be NULL) receives the standing of each budgeted scope after the
 * reservation, *ret_n_status (may be NULL) their number: 0 when no scope
 * has a budget, which succeeds with nothing to limit. run_id:
 * [A-Za-z0-9._-]{1,64}. */
int budget_reserve(struct budgets *b, const char *run_id, const struct budget_scopes *scopes,
		   uint64_t amount_micros, int64_t now_ms, struct budget_refusal *ret_refusal,
		   struct budget_status *ret_status, size_t *ret_n_status);
/* budget_reserve() for a run that may go on for hold_ms (its deadline):
 * on PostgreSQL its lease starts that much longer. When PostgreSQL went
 * away around the commit, the outcome is unknown: the error is returned
 * and the run id's reservations are released by this handle once the
 * database is back (or end with their lease). */
int budget_reserve_for(struct budgets *b, const char *run_id, const struct budget_scopes *scopes,
		       uint64_t amount_micros, uint64_t hold_ms, int64_t now_ms,
		       struct budget_refusal *ret_refusal, struct budget_status *ret_status,
		       size_t *ret_n_status);
/* Replaces run_id's reservations by one ledger entry of the actual cost
 * per applicable scope, budgeted or not (detail: JSON with tokens, cpu_ms,
 * memory, rates; borrowed; may be NULL; at most 64 KiB compact, else
 * -E2BIG), durably, at now_ms. Settling a run id again changes nothing,
 * returns 0 and reports no statuses (*ret_n_status = 0). Statuses are as
 * for budget_reserve, after the settlement. On PostgreSQL, a settlement
 * that lost the connection returns the error but is kept and tried again
 * by this handle until it lands (the run's lease renewed meanwhile); a
 * release of that run id does nothing until then. A settlement after the
 * lease ended still charges the ledger. */
int budget_settle(struct budgets *b, const char *run_id, const struct budget_scopes *scopes,
		  uint64_t cost_micros, json_t *detail, int64_t now_ms,
		  struct budget_status *ret_status, size_t *ret_n_status);
/* Lowers run_id's reservations to amount_micros (never raises them): the
 * soft policy's smaller worst case, without giving the room up meanwhile.
 * Returns 0 also when there were none. */
int budget_shrink(struct budgets *b, const char *run_id, uint64_t amount_micros);
/* Drops run_id's reservations without charging (the run did no work).
 * Returns 0 also when there were none. A release that cannot be written
 * (a full disk) returns the error and is retried by this handle before its
 * next reservation, release or settlement. */
int budget_release(struct budgets *b, const char *run_id);

/* Ledger entries of a scope ("" all) with from_ms <= at < to_ms, oldest
 * first: [{"runId", "scope", "amount", "amountMicros", "at", "atMs",
 * "detail" (as settled, or null)}]. A run charged to several scopes has an
 * entry per scope. -E2BIG when more than 50000 entries match (ask for a
 * narrower range). */
int budget_spend(struct budgets *b, const char *scope, int64_t from_ms, int64_t to_ms,
		 json_t **ret);
/* Sum of all ledger entries (micro-units) and of open reservations, for
 * checks and tests. */
int budget_totals(struct budgets *b, uint64_t *ret_ledger_micros, uint64_t *ret_reserved_micros);

/* Period boundaries (Unix ms) around `now_ms` in local time (TZ as of the
 * last tzset()): start <= now_ms < end. Daily: local midnight to the next
 * (23 or 25 hours across a daylight-saving change); weekly: Monday 00:00 to
 * the next Monday; monthly: the 1st 00:00 to the next 1st. "none": start 0
 * and end 0 (never ends). */
void budget_period_bounds(enum budget_period p, int64_t now_ms, int64_t *ret_start_ms,
			  int64_t *ret_end_ms);
/* "none" | "daily" | "weekly" | "monthly"; -EINVAL otherwise. */
int budget_period_parse(const char *name, enum budget_period *ret);
const char *budget_period_name(enum budget_period p);
/* "org" | "team:NAME" | "user:NAME" | "session:ID": NAME as store names,
 * [A-Za-z0-9._-]{1,63}; ID [A-Za-z0-9._-]{1,128}. */
bool budget_scope_valid(const char *scope);

#endif
