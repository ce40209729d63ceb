/*
 * budget_pg: private interfaces of the PostgreSQL back end of the budget
 * part (budget_pg*.c). Nothing outside src/budget/ includes this.
 *
 * Files:
 *   budget_pg.c           connecting, the node id, reconnecting, the
 *                         sweep of expired reservations
 *   budget_pg_lease.c     the leases of this node's live runs: which runs,
 *                         renewing them, the thread that renews
 *   budget_pg_sql.c       statements, transactions and the budget write lock
 *   budget_pg_schema.c    the tables, through pg_migrate (part "budget")
 *   budget_pg_standing.c  one scope's standing and the soft warnings
 *   budget_pg_defs.c      setting, removing and listing budgets
 *   budget_pg_reserve.c   reserving, releasing, shrinking
 *   budget_pg_settle.c    replacing reservations by ledger entries
 *   budget_pg_query.c     reading the ledger back, the totals
 *
 * Concurrency across nodes: every transaction that writes budgets,
 * reservations or the ledger on the strength of what it read (set, remove,
 * reserve, settle) first takes one transaction-level advisory lock,
 * BUDGET_PG_WRITE_LOCK, so they run one at a time across every node, as
 * SQLite's write lock makes them do on one machine. Releases, shrinks and
 * the sweep only ever lower reservations and run as single statements.
 *
 * Nodes and leases: every handle picks a random node id (unique among live
 * sessions through the session-level advisory lock (BUDGET_PG_NODE_CLASS,
 * id)) and tags its reservations with it. A reservation is a lease: it
 * counts only until expires_at, on the database's clock, which starts at
 * the run's deadline plus the lease and is pushed on by the owning node
 * while the run or its pending settlement lives (budget_pg_lease.c).
 * Expired reservations count nowhere and are swept; nothing depends on a
 * session surviving, so a database restart frees nothing early.
 *
 * Functions named *_tx expect b->lock held and a transaction open.
 */
#ifndef LEDGERBOX_BUDGET_PG_H
#define LEDGERBOX_BUDGET_PG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "budget/budget_internal.h"
#include "util/pg.h"

/* The advisory lock key of budget writes; pg_migrate's is 7140112835.
 * Any constant works as long as every node agrees on it. */
#define BUDGET_PG_WRITE_LOCK "7140112836"
/* The first key of the two-key session locks that mark live nodes (the
 * second is the node id). Two-key locks never collide with one-key ones. */
#define BUDGET_PG_NODE_CLASS 71401128
/* How often a node sweeps expired reservations besides at open. */
#define BUDGET_PG_SWEEP_MS 60000

struct budget_pg {
	PGconn *conn;
	int32_t node;		/* 1..INT32_MAX */
	uint64_t sweep_due_ms;	/* clock_mono_ms() of the next periodic sweep */
	uint64_t lease_ms;	/* budget_lease_set(); BUDGET_LEASE_DEFAULT_MS */
	/* Run ids reserved through this handle and neither settled nor
	 * released: the leases this node renews. Growable, at most
	 * BUDGET_PG_LIVE_MAX; a run past that keeps its first lease only. */
	char (*live)[BUDGET_RUN_ID_MAX + 1];
	size_t n_live, cap_live;
	/* Guards the live set, lease_ms and the renewer's stop flag and
	 * wake-up, so the renewer never waits for b->lock (taken after it
	 * when both are held). */
	pthread_mutex_t live_lock;
	char *url;	   /* for the renewer's own session */
	PGconn *renew_conn; /* the renewer's session, its thread only */
};

#define BUDGET_PG_LIVE_MAX 65536

/* budget_pg.c */
/* Makes the connection usable, reconnecting (and taking the node lock
 * again) when it was lost; -EIO when that fails. */
int budget_pg_ensure(struct budget_pg *pg);
/* Deletes expired reservations (and, with self, this node's own: at open
 * none of them can be live). */
int budget_pg_sweep(struct budget_pg *pg, bool self);

/* budget_pg_lease.c (the live set is declared in budget_internal.h) */
/* Pushes the end of every live lease to at least now + lease_ms + a third
 * of it (two renewal intervals of margin, see budget_pg_lease.c) on the
 * database's clock (one statement on conn; never shortens a lease). */
int budget_pg_renew(struct budget_pg *pg, PGconn *conn);
void budget_pg_live_free(struct budget_pg *pg);
/* The periodic sweep, at most every BUDGET_PG_SWEEP_MS; failures wait for
 * the next one. */
void budget_pg_sweep_maybe(struct budget_pg *pg);

/* budget_pg_sql.c */
/* pg_query() with the errors budget.h documents: -EBUSY for a timeout,
 * -ENOSPC, -EROFS and -EEXIST as they are, anything else -EIO. */
int budget_pg_query(struct budget_pg *pg, const char *sql, int n, const char *const *params,
		    PGresult **ret);
/* budget_pg_query() of a statement answering one boolean. */
int budget_pg_query_bool(struct budget_pg *pg, const char *sql, int n, const char *const *params,
			 bool *ret);
/* One statement on its own, repeated once after a reconnect when the
 * connection was lost: only for statements that may safely run twice. */
int budget_pg_run_once(struct budget_pg *pg, const char *sql, int n, const char *const *params,
		       PGresult **ret);
/* BEGIN then the write lock. */
int budget_pg_write_begin(struct budget_pg *pg);
/* One consistent snapshot for several SELECTs. */
int budget_pg_read_begin(struct budget_pg *pg);
/* COMMIT when r == 0, else ROLLBACK; returns r or the commit's error. */
int budget_pg_end(struct budget_pg *pg, int r);
/* The affected row count of a command's result. */
uint64_t budget_pg_changes(const PGresult *res);
/* One value of a one-row result as u64/i64; -EIO when it is not one. */
int budget_pg_u64(const PGresult *res, int row, int col, uint64_t *ret);
int budget_pg_i64(const PGresult *res, int row, int col, int64_t *ret);

/* budget_pg_schema.c */
int budget_pg_schema_migrate(PGconn *c, char *err, size_t err_len);

/* budget_pg_standing.c */
int budget_pg_standing_read(struct budget_pg *pg, const char *scope, int64_t now_ms,
			    struct budget_standing *ret);
int budget_pg_standings_read(struct budget_pg *pg, const struct scope_list *list,
			     int64_t now_ms, struct budget_standing ret[BUDGET_SCOPES_MAX],
			     size_t *ret_n);
int budget_pg_status_fill_tx(struct budget_pg *pg, const struct budget_standing *stand,
			     int64_t now_ms, struct budget_status *ret);

#endif
