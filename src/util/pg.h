/*
 * pg: the libpq plumbing shared by the parts that keep state in PostgreSQL
 * (store, budget, cache) when LEDGERBOX_DATABASE_URL names one: connecting,
 * result codes as negative errno values, parameterised statements,
 * transactions and each part's migrations.
 *
 * Every statement is sent with PQexecParams in text format, so values are
 * never spliced into SQL. A connection is used by one thread at a time (the
 * parts guard theirs with a mutex, as they do their SQLite connection).
 */
#ifndef LEDGERBOX_PG_H
#define LEDGERBOX_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#define PG_PARAMS_MAX 32

/* True for "postgres://..." and "postgresql://..." URLs. */
bool pg_url_is_postgres(const char *url);

/* Connects (connect_timeout 10 s unless the URL says otherwise), sets the
 * session to UTC and application_name "ledgerbox". *ret only on success;
 * err never contains the URL's password. Close with PQfinish(). */
int pg_connect(const char *url, PGconn **ret, char *err, size_t err_len);

/* Re-establishes a connection that was lost (the server restarted): 0 when
 * the connection is usable, else -ECONNREFUSED. */
int pg_ensure(PGconn *c);

/* Maps a failed result's SQLSTATE: unique violation -EEXIST, foreign key
 * -ENOENT, serialization failure or deadlock -EAGAIN, disk full -ENOSPC,
 * statement timeout or cancel -ETIMEDOUT, read-only -EROFS, privilege
 * -EACCES, lost connection -ECONNRESET, else -EIO. */
int pg_errno(const PGresult *res);

/* Runs sql with n text parameters (NULL entries are SQL NULL). On success
 * *ret (when not NULL) receives the result, which the caller PQclear()s;
 * without ret it is cleared here. On failure nothing is returned and, when
 * err is given, the server's message goes there. */
int pg_query(PGconn *c, const char *sql, int n, const char *const *params, PGresult **ret,
	     char *err, size_t err_len);
/* pg_query() without parameters or result. */
int pg_exec(PGconn *c, const char *sql);
/* Runs a script of several statements (the simple protocol; no
 * parameters, results dropped). */
int pg_script(PGconn *c, const char *sql, char *err, size_t err_len);

/* BEGIN, and the end: COMMIT when r == 0, else ROLLBACK; returns r or the
 * commit's error. */
int pg_tx_begin(PGconn *c);
int pg_tx_end(PGconn *c, int r);

/* Column helpers over a row of a result: -EINVAL for NULL or a bad value. */
int pg_get_i64(const PGresult *res, int row, int col, int64_t *ret);
int pg_get_u64(const PGresult *res, int row, int col, uint64_t *ret);
/* A malloc'd copy of a text value; NULL value -> *ret = NULL. */
int pg_get_text_dup(const PGresult *res, int row, int col, char **ret);

/* Formats an integer for a parameter (buffer of PG_INT_TEXT bytes). */
#define PG_INT_TEXT 24
const char *pg_i64_text(int64_t v, char buf[PG_INT_TEXT]);

/* A part's tables: versions in the shared table ledgerbox_schema (part,
 * version). migrations[i] takes the part from version i to i + 1 and may
 * hold several statements (run with pg_script). All run in one transaction holding a
 * transaction-level advisory lock, so nodes starting at once apply each
 * migration exactly once; a version above latest is -EPROTONOSUPPORT. */
struct pg_schema {
	const char *part;
	const char *const *migrations;
	int latest;
};
int pg_migrate(PGconn *c, const struct pg_schema *sc, char *err, size_t err_len);

#endif
