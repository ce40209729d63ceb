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
#define BUDGET_PENDING_MAX 64      /* releases kept for a retry */

struct budgets {
	pthread_mutex_t lock;
	sqlite3 *db;
	int owner_fd; /* STATE_DIR/budget.lock, share-locked while open */
	/* Run ids whose release failed to be written, under lock. */
	char pending[BUDGET_PENDING_MAX][BUDGET_RUN_ID_MAX + 1];
	size_t n_pending;
};

/* The scopes one run is charged to, "org" first. */
struct scope_list {
	char scope[BUDGET_SCOPES_MAX][BUDGET_SCOPE_MAX];
	size_t n;
};

/* A scope's budget and its standing at one instant. For a period of
 * "none" the ledger is summed over all time, period_start_ms and
 * period_end_ms are 0 (as budget_period_bounds gives them). */
struct budget_standing {
	struct budget_def def;
	int64_t period_start_ms, period_end_ms;
	uint64_t spent_micros, reserved_micros;
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
/* Retries the kept releases; those that fail again stay kept. */
void budget_pending_flush_locked(struct budgets *b);

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

#endif
