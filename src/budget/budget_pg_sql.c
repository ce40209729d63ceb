/*
 * budget_pg_sql: statements and transactions of the PostgreSQL back end,
 * with its errors brought to the codes budget.h promises (so the HTTP
 * layer treats both back ends alike).
 *
 * Invariant: a transaction is only begun with b->lock held and always
 * ended by budget_pg_end() before the lock is released, so the connection
 * is never left inside a transaction between calls. A write transaction
 * takes BUDGET_PG_WRITE_LOCK before its first read, so what it reads
 * cannot change under it until it commits (see budget_pg.h).
 *
 * A lost connection (the server restarted, the session was ended) is
 * noticed by the statement that fails; the next transaction reconnects
 * first. Only statements that are safe to run twice are repeated at once
 * after a reconnect: BEGIN, and single idempotent writes.
 */
#include <errno.h>
#include <string.h>

#include "budget/budget_pg.h"
#include "util/parse.h"
#include "util/banned.h"

static int err_map(int r)
{
	switch (r) {
	case -ETIMEDOUT:
		return -EBUSY; /* a lock or statement timeout, like SQLite's busy */
	case -ENOSPC:
	case -EROFS:
	case -ECONNRESET: /* the connection was lost: the store is away */
	case -EEXIST:
	case -ENOMEM:
	case -EINVAL:
		return r;
	default:
		return -EIO;
	}
}

int budget_pg_query(struct budget_pg *pg, const char *sql, int n, const char *const *params,
		    PGresult **ret)
{
	int r = pg_query(pg->conn, sql, n, params, ret, NULL, 0);

	return r < 0 ? err_map(r) : 0;
}

int budget_pg_query_bool(struct budget_pg *pg, const char *sql, int n, const char *const *params,
			 bool *ret)
{
	PGresult *res;
	int r = budget_pg_query(pg, sql, n, params, &res);

	if (r < 0)
		return r;
	if (PQntuples(res) != 1 || PQnfields(res) != 1 || PQgetisnull(res, 0, 0))
		r = -EIO;
	else
		*ret = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return r;
}

int budget_pg_run_once(struct budget_pg *pg, const char *sql, int n, const char *const *params,
		       PGresult **ret)
{
	int r = budget_pg_ensure(pg);

	if (r < 0)
		return r;
	r = budget_pg_query(pg, sql, n, params, ret);
	if (r < 0 && PQstatus(pg->conn) != CONNECTION_OK && budget_pg_ensure(pg) == 0)
		r = budget_pg_query(pg, sql, n, params, ret);
	return r;
}

/* Takes the write lock; -EBUSY when lock_timeout (BUDGET_BUSY_TIMEOUT_MS,
 * set per session) ran out first, as SQLite's busy timeout would. */
static int write_lock(struct budget_pg *pg)
{
	PGresult *res = PQexecParams(pg->conn,
				     "SELECT pg_advisory_xact_lock(" BUDGET_PG_WRITE_LOCK ")", 0,
				     NULL, NULL, NULL, NULL, 0);
	const char *state;
	int r = 0;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		r = state && strcmp(state, "55P03") == 0 ? -EBUSY : err_map(pg_errno(res));
	}
	PQclear(res);
	return r;
}

int budget_pg_write_begin(struct budget_pg *pg)
{
	int r = budget_pg_run_once(pg, "BEGIN", 0, NULL, NULL);

	if (r < 0)
		return r;
	r = write_lock(pg);
	if (r < 0)
		(void)pg_exec(pg->conn, "ROLLBACK");
	return r;
}

int budget_pg_read_begin(struct budget_pg *pg)
{
	return budget_pg_run_once(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0, NULL,
				  NULL);
}

int budget_pg_end(struct budget_pg *pg, int r)
{
	if (r < 0) {
		(void)pg_exec(pg->conn, "ROLLBACK");
		return r;
	}
	r = budget_pg_query(pg, "COMMIT", 0, NULL, NULL);
	if (r < 0)
		(void)pg_exec(pg->conn, "ROLLBACK");
	return r;
}

uint64_t budget_pg_changes(const PGresult *res)
{
	uint64_t n = 0;

	/* PQcmdTuples needs a non-const result but does not change it. */
	if (parse_u64(PQcmdTuples((PGresult *)res), &n) < 0)
		return 0;
	return n;
}

int budget_pg_u64(const PGresult *res, int row, int col, uint64_t *ret)
{
	return pg_get_u64(res, row, col, ret) < 0 ? -EIO : 0;
}

int budget_pg_i64(const PGresult *res, int row, int col, int64_t *ret)
{
	return pg_get_i64(res, row, col, ret) < 0 ? -EIO : 0;
}
