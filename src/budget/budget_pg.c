/*
 * budget_pg: opening and closing the PostgreSQL back end, the node id,
 * reconnecting, and sweeping reservations whose lease ended.
 *
 * Crash recovery across nodes: a reservation is a lease (budget_pg_lease.c)
 * that ends on the database's clock unless the node that made it renews
 * it; a dead node renews nothing, so its reservations end by themselves.
 * An expired reservation counts in no standing (budget_pg_standing.c), so
 * whether and when the sweep deletes it changes no decision: the sweep
 * only keeps the table small, at open and then at most every
 * BUDGET_PG_SWEEP_MS. Nothing depends on a database session surviving: a
 * database restart ends every session, and every lease goes on as stored.
 *
 * Node ids: each open handle takes a random id and holds the session-level
 * advisory lock (BUDGET_PG_NODE_CLASS, id) so that no two live sessions
 * draw the same one; at open a node deletes reservations carrying its new
 * id, which only a dead session that drew it can have left. On a
 * reconnect it takes its lock again (or a fresh id in the unlikely case
 * another node drew the old one) and renews its live leases at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "budget/budget_pg.h"
#include "util/banned.h"

#define NODE_TRIES 16

static int node_random(int32_t *ret)
{
	uint32_t u;

	while (getrandom(&u, sizeof(u), 0) != (ssize_t)sizeof(u))
		if (errno != EINTR)
			return -errno;
	*ret = (int32_t)(u % INT32_MAX) + 1;
	return 0;
}

/* Tries the session lock of node id; *ret_locked says whether it was free. */
static int node_try_lock(struct budget_pg *pg, int32_t id, bool *ret_locked)
{
	char class_text[PG_INT_TEXT], id_text[PG_INT_TEXT];
	const char *params[] = { pg_i64_text(BUDGET_PG_NODE_CLASS, class_text),
				 pg_i64_text(id, id_text) };

	return budget_pg_query_bool(pg, "SELECT pg_try_advisory_lock($1::integer, $2::integer)", 2,
				    params, ret_locked);
}

/* Draws node ids until one is free and holds its lock. */
static int node_take(struct budget_pg *pg)
{
	for (int i = 0; i < NODE_TRIES; i++) {
		bool locked = false;
		int32_t id = 0;
		int r = node_random(&id);

		if (r == 0)
			r = node_try_lock(pg, id, &locked);
		if (r < 0)
			return r;
		if (locked) {
			pg->node = id;
			return 0;
		}
	}
	return -EAGAIN; /* 16 live ids drawn in a row: something else is wrong */
}

/* Waits for locks (the write lock above all) as long as SQLite waits for
 * its write lock, then fails with -EBUSY instead of hanging behind a
 * stuck node. A session setting: set again on every new session. */
static int session_setup(struct budget_pg *pg)
{
	char timeout[PG_INT_TEXT + 2];
	const char *params[] = { timeout };

	snprintf(timeout, sizeof(timeout), "%dms", BUDGET_BUSY_TIMEOUT_MS);
	return budget_pg_query(pg, "SELECT set_config('lock_timeout', $1, false)", 1, params,
			       NULL);
}

int budget_pg_ensure(struct budget_pg *pg)
{
	bool locked = false;

	if (PQstatus(pg->conn) == CONNECTION_OK)
		return 0;
	/* Unreachable is a passing state the server answers 503 for, not a
	 * broken ledger. */
	if (pg_ensure(pg->conn) < 0)
		return -ECONNREFUSED;
	/* A new session: the node lock and settings went with the old one. */
	if (session_setup(pg) < 0 || node_try_lock(pg, pg->node, &locked) < 0)
		return -EIO;
	if (!locked && node_take(pg) < 0)
		return -EIO;
	/* Leases are renewed by run id, whichever node id this session has. */
	(void)budget_pg_renew(pg, pg->conn);
	return 0;
}

int32_t budget_pg_node_id(const struct budget_pg *pg)
{
	return pg->node;
}

int budget_pg_node_sweep(struct budget_pg *pg, int32_t node)
{
	char id_text[PG_INT_TEXT];
	const char *params[] = { pg_i64_text(node, id_text) };

	/* Never this handle's own (a dead node may have drawn the same id). */
	if (node == pg->node)
		return 0;
	return budget_pg_run_once(pg, "DELETE FROM reservations WHERE node = $1::integer", 1,
				  params, NULL);
}

bool budget_pg_lost(const struct budget_pg *pg)
{
	return PQstatus(pg->conn) != CONNECTION_OK;
}

int budget_pg_sweep(struct budget_pg *pg, bool self)
{
	char id_text[PG_INT_TEXT];
	const char *params[] = { self ? "true" : "false", pg_i64_text(pg->node, id_text) };

	/* Deleting only lowers reservations (and expired ones count nowhere),
	 * so no limit check can be broken by it: the write lock is not
	 * needed. */
	return budget_pg_run_once(pg,
				  "DELETE FROM reservations WHERE ($1::boolean AND node = $2::integer)"
				  " OR expires_at <= now()",
				  2, params, NULL);
}

void budget_pg_sweep_maybe(struct budget_pg *pg)
{
	uint64_t now = clock_mono_ms();

	if (now < pg->sweep_due_ms)
		return;
	pg->sweep_due_ms = now + BUDGET_PG_SWEEP_MS;
	(void)budget_pg_sweep(pg, false);
}

void budget_pg_close(struct budget_pg *pg)
{
	if (!pg)
		return;
	/* Ending the session frees the node id; the reservations stay until
	 * settled, released or their lease ends. */
	if (pg->conn)
		PQfinish(pg->conn);
	if (pg->renew_conn)
		PQfinish(pg->renew_conn);
	budget_pg_live_free(pg);
	pthread_mutex_destroy(&pg->live_lock);
	free(pg->url);
	free(pg);
}

/* Library code does not log: the server's notices ("relation already
 * exists, skipping") would otherwise go to stderr. */
static void notice_drop(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static int pg_setup(struct budget_pg *pg, const char *url, char *err, size_t err_len)
{
	int r = pg_connect(url, &pg->conn, err, err_len);

	if (r == 0) {
		PQsetNoticeProcessor(pg->conn, notice_drop, NULL);
		r = budget_pg_schema_migrate(pg->conn, err, err_len);
	}
	if (r < 0)
		return r;
	r = session_setup(pg);
	if (r == 0)
		r = node_take(pg);
	if (r < 0) {
		budget_err(err, err_len, "cannot start a budget session in PostgreSQL: %s",
			   PQerrorMessage(pg->conn));
		return r;
	}
	r = budget_pg_sweep(pg, true);
	if (r < 0)
		budget_err(err, err_len, "cannot release stale reservations: %s",
			   PQerrorMessage(pg->conn));
	return r;
}

int budget_pg_open(struct budgets *b, const char *url, char *err, size_t err_len)
{
	struct budget_pg *pg = calloc(1, sizeof(*pg));
	int r;

	if (!pg)
		return -ENOMEM;
	pg->lease_ms = BUDGET_LEASE_DEFAULT_MS;
	pg->url = strdup(url);
	if (!pg->url || pthread_mutex_init(&pg->live_lock, NULL) != 0) {
		free(pg->url);
		free(pg);
		return -ENOMEM;
	}
	r = pg_setup(pg, url, err, err_len);
	if (r < 0) {
		budget_pg_close(pg);
		return r;
	}
	pg->sweep_due_ms = clock_mono_ms() + BUDGET_PG_SWEEP_MS;
	b->pg = pg;
	return 0;
}
