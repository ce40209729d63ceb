/*
 * store_pg_sql: what the PostgreSQL back end's files share beyond
 * util/pg: taking the store's lock with a live connection, statements with
 * binary parameters or results (artifact bytes travel as they are, not
 * doubled into hex), and key hashes as bytea parameters.
 */
#include <errno.h>
#include <string.h>

#include "store/store_pg.h"
#include "util/banned.h"

int store_pg_lock(struct store *s)
{
	bool was_lost;
	int r;

	store_lock(s);
	/* A server restart or a dropped idle connection is repaired here,
	 * before the call, so one lost connection costs at most the call
	 * that was using it. */
	was_lost = PQstatus(s->pg) != CONNECTION_OK;
	r = pg_ensure(s->pg);
	if (r < 0) {
		store_unlock(s);
		return r;
	}
	/* The server that answers now may hold another database (restored
	 * from elsewhere, its key_pepper row changed): the pepper is checked
	 * again before any key is served on the new connection. A failure to
	 * read it leaves the last answer standing. */
	if (was_lost)
		(void)store_pg_pepper_verify_locked(s, NULL, 0);
	return 0;
}

/* A statement that changes nothing, so sending it again cannot do a thing
 * twice: a read, or the BEGIN that opens a transaction. */
static bool repeatable(const char *sql)
{
	return strncmp(sql, "SELECT ", 7) == 0 || strncmp(sql, "BEGIN", 5) == 0;
}

int store_pg_query(struct store *s, const char *sql, int n, const char *const *params,
		   PGresult **ret, char *err, size_t err_len)
{
	/* Only outside a transaction: one that was open went with the
	 * connection, and repeating its last statement alone would be wrong. */
	bool idle = PQtransactionStatus(s->pg) == PQTRANS_IDLE;
	int r = pg_query(s->pg, sql, n, params, ret, err, err_len);

	if (r == -ECONNRESET && idle && repeatable(sql) && PQstatus(s->pg) != CONNECTION_OK) {
		r = pg_ensure(s->pg);
		/* A new session, maybe on another database: the pepper is
		 * checked again, as store_pg_lock does. */
		if (r == 0)
			(void)store_pg_pepper_verify_locked(s, NULL, 0);
		if (r == 0)
			r = pg_query(s->pg, sql, n, params, ret, err, err_len);
	}
	return r;
}

int store_pg_tx_begin(struct store *s)
{
	return store_pg_query(s, "BEGIN", 0, NULL, NULL, NULL, 0);
}

int store_pg_query_bin(PGconn *c, const char *sql, int n, const char *const *params,
		       const int *lengths, const int *formats, bool result_binary, PGresult **ret)
{
	PGresult *res;
	ExecStatusType st;
	int r;

	if (n < 0 || n > PG_PARAMS_MAX)
		return -EINVAL;
	res = PQexecParams(c, sql, n, NULL, params, lengths, formats, result_binary ? 1 : 0);
	st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (ret)
			*ret = res;
		else
			PQclear(res);
		return 0;
	}
	r = pg_errno(res);
	/* As pg_query(): a failure without a server answer on a live
	 * connection is not a lost connection. */
	if (r == -ECONNRESET && PQstatus(c) == CONNECTION_OK)
		r = -EIO;
	PQclear(res);
	return r;
}

void store_pg_hash_param(const unsigned char hash[STORE_KEY_HASH_BYTES],
			 char ret[STORE_PG_HASH_PARAM])
{
	memcpy(ret, "\\x", 2);
	sodium_bin2hex(ret + 2, STORE_PG_HASH_PARAM - 2, hash, STORE_KEY_HASH_BYTES);
}
