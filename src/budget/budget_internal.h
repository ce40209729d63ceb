/*
 * Private interfaces between the files of src/budget/. Nothing outside the
 * budget part includes this.
 *
 * Layout of the part:
 *   budget.c           open, close, connection set-up, the owner lock and the
 *                      sweep of reservations left by a dead process
 *   budget_schema.c    the budget tables, versioned in budget_schema
 *   budget_sql.c       the lock, transactions, statements, errors, clocks and
 *                      text formats shared by every file
 *   budget_names.c     scope and run id rules; the scopes a run is charged to
 *   budget_period.c    calendar periods in local time
 *   budget_standing.c  one scope's budget, spend and reservations at an
 *                      instant, and the soft-warning bookkeeping
 *   budget_defs.c      setting, removing and listing budgets
 *   budget_reserve.c   reserving before a run, releasing after a failed one
 *   budget_pending.c   releases that could not be written (a full disk),
 *                      retried before the next write
 *   budget_settle.c    replacing reservations by ledger entries
 *   budget_query.c     reading the ledger back and the totals
 *   budget_rules.c     pure rules both back ends share: definitions, hard
 *                      limits, the soft threshold, a detail's size
 *   budget_json.c      the JSON shapes of a standing and a ledger entry
 *   budget_pg*.c       the same behind the same API on PostgreSQL, chosen by
 *                      budget_open_url() (see budget_pg.h)
 *
 * Back ends: a handle is either SQLite (b->db) or PostgreSQL (b->pg, with
 * b->db NULL). Each public function checks its arguments once, takes
 * b->lock, and then hands the work to the back end; the pending releases
 * and the status copy-out are shared.
 *
 * Locking: one SQLite connection per struct budgets, guarded by b->lock. A
 * public function holds the lock for its whole duration, so a transaction
 * is never interleaved with another thread's statements. Functions named
 * *_tx expect the lock held and a transaction open; they never begin,
 * commit or roll back themselves.
 */
#ifndef LEDGERBOX_BUDGET_INTERNAL_H
#define LEDGERBOX_BUDGET_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "util/clock.h"
#include "util/db.h"

#include "budget/budget.h"

#define BUDGET_BUSY_TIMEOUT_MS 10000
#define BUDGET_SCOPES_MAX 4        /* org, team, user, session */
#define BUDGET_SCOPE_MAX 160       /* bytes with the NUL, as in the header's structs */
#define BUDGET_RUN_ID_MAX 64       /* characters, [A-Za-z0-9._-] */
#define BUDGET_DETAIL_MAX (64u << 10) /* a ledger entry's detail as compact JSON */
#define BUDGET_SPEND_ROWS_MAX 50000
#define BUDGET_MONEY_TEXT_MAX 32
#define BUDGET_PENDING_MAX 64      /* releases (and settlements) kept for a retry */

struct budget_pg;

/* The scopes one run is charged to, "org" first. */
struct scope_list {
	char scope[BUDGET_SCOPES_MAX][BUDGET_SCOPE_MAX];
	size_t n;
};

/* A settlement whose outcome is unknown (PostgreSQL went away around it),
 * kept to be tried again: settling is idempotent by run id. */
struct budget_pending_settle {
	char run_id[BUDGET_RUN_ID_MAX + 1];
	struct scope_list list;
	uint64_t amount_micros;
	int64_t at_ms;
	char *detail; /* owned; NULL for none */
};

struct budgets {
	pthread_mutex_t lock;
	sqlite3 *db;
	struct budget_pg *pg; /* the PostgreSQL back end, or NULL for SQLite */
	int owner_fd; /* STATE_DIR/budget.lock, share-locked while open */
	/* Run ids whose release failed to be written, under lock. */
	char pending[BUDGET_PENDING_MAX][BUDGET_RUN_ID_MAX + 1];
	size_t n_pending;
	/* PostgreSQL only: settlements to try again, under lock. */
	struct budget_pending_settle settles[BUDGET_PENDING_MAX];
	size_t n_settles;
	/* PostgreSQL only: the thread renewing leases and retrying the
	 * pending lists (budget_pg_lease.c), started at the first
	 * reservation; `wake` (with the back end's live_lock, never
	 * `lock`) stops it. */
	pthread_t renewer;
	pthread_cond_t wake;
	bool renewer_started, renewer_stop, wake_ready;
};

/* A scope's budget and its standing at one instant. For a period of
 * "none" the ledger is summed over all time, period_start_ms and
 * period_end_ms are 0 (as budget_period_bounds gives them). */
struct budget_standing {
	struct budget_def def;
	int64_t period_start_ms, period_end_ms;
	uint64_t spent_micros, reserved_micros;
};

/* A ledger entry about to be settled on every scope of a run. */
struct budget_entry {
	const char *run_id;
	uint64_t amount_micros;
	int64_t at_ms;
	const char *detail; /* compact JSON or NULL */
};

/* budget_sql.c */
void budget_lock(struct budgets *b);
void budget_unlock(struct budgets *b);
/* Runs a statement with no result rows to completion and finalizes it. */
int budget_sql_run(sqlite3_stmt *st);
/* BEGIN IMMEDIATE: SQLite's write lock first, so a check and the write it
 * allows can never be split by another connection. */
int budget_tx_begin(sqlite3 *db);
/* A read transaction: one consistent snapshot for several SELECTs. */
int budget_tx_read_begin(sqlite3 *db);


/* Micro-units as a decimal string with 6 decimals: 10 -> "0.000010". */
void budget_money_format(uint64_t micros, char ret[BUDGET_MONEY_TEXT_MAX]);
/* a + b, stuck at UINT64_MAX instead of wrapping. */
uint64_t budget_add_sat(uint64_t a, uint64_t b);
/* The part's name for formatting into a caller's err buffer. */
#define budget_err db_err

/* budget_schema.c: creates or upgrades the tables in one transaction. A
 * database written by a newer ledgerbox is -EPROTONOSUPPORT. */
#define BUDGET_SCHEMA_LATEST 1
int budget_schema_migrate(sqlite3 *db, char *err, size_t err_len);

/* budget_names.c */
bool budget_run_id_valid(const char *run_id);
/* Fills the scope list of a run; -EINVAL when a name does not make a
 * valid scope. NULL team, user or session are left out. */
int budget_scopes_expand(const struct budget_scopes *scopes, struct scope_list *ret);

/* budget_period.c: the SQL range [from, to) that the ledger is summed over
 * for a standing (all time for "none"). */
void budget_period_sql_range(const struct budget_standing *st, int64_t *ret_from_ms,
			     int64_t *ret_to_ms);
bool budget_period_valid(enum budget_period p);

/* budget_pending.c: with b->lock held and no transaction open. */
/* Deletes a run's reservations; a failure is kept and retried. */
int budget_release_locked(struct budgets *b, const char *run_id);
void budget_pending_add_locked(struct budgets *b, const char *run_id);
/* Retries the kept releases and settlements; those that fail again stay
 * kept. */
void budget_pending_flush_locked(struct budgets *b);
/* PostgreSQL: keeps a settlement whose outcome is unknown for a retry (the
 * run's lease is renewed meanwhile); -ENOMEM when it cannot be kept. */
int budget_pending_settle_add_locked(struct budgets *b, const struct budget_entry *e,
				     const struct scope_list *list);
void budget_pending_free(struct budgets *b);

/* budget_pg_lease.c, PostgreSQL only. */
/* Starts the renewing thread once; a failure leaves leases to run out at
 * the run's deadline plus the lease. */
void budget_lease_renewer_start_locked(struct budgets *b);
/* Stops and joins it; without b->lock held. */
void budget_lease_renewer_stop(struct budgets *b);

/* budget_standing.c */
/* The stored budget of a scope; -ENOENT when it has none. */
int budget_def_read(sqlite3 *db, const char *scope, struct budget_def *ret);
/* The budget of a scope and its spend and reservations at now_ms; -ENOENT
 * when the scope has no budget. */
int budget_standing_read(sqlite3 *db, const char *scope, int64_t now_ms,
			 struct budget_standing *ret);
/* The same for every budgeted scope of a list, in list order. */
int budget_standings_read(sqlite3 *db, const struct scope_list *list, int64_t now_ms,
			  struct budget_standing ret[BUDGET_SCOPES_MAX], size_t *ret_n);
/* Fills a status from a standing; on a soft crossing, records it for the
 * period (once) and says whether this was the first time. */
int budget_status_fill_tx(sqlite3 *db, const struct budget_standing *st, int64_t now_ms,
			  struct budget_status *ret);
/* Copies statuses out to the caller's optional array and count. */
void budget_statuses_copy(const struct budget_status *status, size_t n,
			  struct budget_status *ret_status, size_t *ret_n_status);

/* budget_rules.c: pure, shared by both back ends. */
/* A back end's read of one scope's standing at now_ms (db is its
 * connection): 0, -ENOENT when the scope has no budget, or an error. */
typedef int budget_standing_read_fn(void *db, const char *scope, int64_t now_ms,
				    struct budget_standing *ret);
/* The standings of every budgeted scope of a list, in list order, read
 * through the back end's read; a scope without a budget is left out. */
int budget_standings_collect(budget_standing_read_fn *read, void *db,
			     const struct scope_list *list, int64_t now_ms,
			     struct budget_standing ret[BUDGET_SCOPES_MAX], size_t *ret_n);
/* -EINVAL for a bad scope, period or soft_percent; -ERANGE for a limit
 * above BUDGET_MICROS_MAX. */
int budget_def_check(const struct budget_def *def);
/* -EDQUOT with *ret filled for the first hard budget that amount would
 * push over its limit, else 0. */
int budget_limits_check(const struct budget_standing *stand, size_t n, uint64_t amount_micros,
			struct budget_refusal *ret);
/* A status from a standing; soft_first_time is left false (the back end
 * records the crossing and sets it). */
void budget_status_of(const struct budget_standing *stand, struct budget_status *ret);
/* A detail as malloc'd compact JSON (NULL for none); -E2BIG above
 * BUDGET_DETAIL_MAX. */
int budget_detail_text(json_t *detail, char **ret);

/* budget_json.c: NULL when out of memory (or a stored detail is not JSON). */
json_t *budget_standing_json(const struct budget_standing *s, int64_t created_ms,
			     int64_t updated_ms);
json_t *budget_entry_json(const char *run_id, const char *scope, uint64_t amount_micros,
			  int64_t at_ms, const char *detail_text);

/* budget_pg*.c: the PostgreSQL back end, called with b->lock held by the
 * public functions once they have checked their arguments; same results
 * and error codes as the SQLite code next to each call. */
int budget_pg_open(struct budgets *b, const char *url, char *err, size_t err_len);
void budget_pg_close(struct budget_pg *pg);
int budget_pg_set_locked(struct budget_pg *pg, const struct budget_def *def, int64_t now_ms);
int budget_pg_remove_locked(struct budget_pg *pg, const char *scope);
int budget_pg_list_locked(struct budget_pg *pg, const char *prefix, int64_t now_ms,
			  json_t *list);
int budget_pg_reserve_locked(struct budget_pg *pg, const char *run_id,
			     const struct scope_list *list, uint64_t amount_micros,
			     uint64_t hold_ms, int64_t now_ms,
			     struct budget_refusal *ret_refusal,
			     struct budget_status ret_status[BUDGET_SCOPES_MAX], size_t *ret_n);
/* Deletes a run's reservations (one statement); 0 also when none. */
int budget_pg_release_locked(struct budget_pg *pg, const char *run_id);
int budget_pg_shrink_locked(struct budget_pg *pg, const char *run_id, uint64_t amount_micros);
int budget_pg_settle_locked(struct budget_pg *pg, const struct budget_entry *e,
			    const struct scope_list *list,
			    struct budget_status ret_status[BUDGET_SCOPES_MAX], size_t *ret_n);
int budget_pg_spend_locked(struct budget_pg *pg, const char *scope, int64_t from_ms,
			   int64_t to_ms, json_t *list);
int budget_pg_totals_locked(struct budget_pg *pg, uint64_t *ret_ledger_micros,
			    uint64_t *ret_reserved_micros);
/* This handle's node id, and deleting a dead node's reservations. */
int32_t budget_pg_node_id(const struct budget_pg *pg);
int budget_pg_node_sweep(struct budget_pg *pg, int32_t node);
/* Whether the last statement lost the connection: its outcome, a COMMIT
 * above all, is then unknown. */
bool budget_pg_lost(const struct budget_pg *pg);
/* The runs whose leases this node renews (budget_pg_lease.c): added once
 * reserved, removed once settled or released; -ENOMEM past the maximum. */
int budget_pg_live_add(struct budget_pg *pg, const char *run_id);
void budget_pg_live_remove(struct budget_pg *pg, const char *run_id);

#endif
