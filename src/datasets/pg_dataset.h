/*
 * pg_dataset: SQL datasets that live in PostgreSQL.
 *
 * Such a dataset is a folder DATA_DIR/NAME/ holding the file postgres.url
 * (mode 0600, owned by the server's user: it may hold a password) whose
 * one line is a postgres:// URL for a role meant to be read-only. Every
 * connection is checked before it is used: a role that is a superuser,
 * can create roles, belongs to a role that reads or writes server files
 * or programs, can create in the database or one of its schemas, or can
 * write (INSERT, UPDATE, DELETE, TRUNCATE, TRIGGER, nextval) any table or
 * sequence outside the system schemas is refused, with the dataset and the
 * reason named.
 *
 * A query runs on the server side (sandboxes have no network): one
 * statement sent with the extended protocol (which refuses several) in
 * BEGIN READ ONLY with statement_timeout and
 * idle_in_transaction_session_timeout set from the run's wall limit, rows
 * read one at a time and cut at max_rows, and always rolled back. The
 * result has the SQLite runner's shape ({"columns", "rows", "row_count",
 * "total_rows", "truncated"}) and its error types. docs/postgres-datasets.md
 * says what each layer does and which values become what.
 *
 * Functions return 0 or a negative errno; out-parameters are written only
 * on success; messages name the dataset, never a host path or a password.
 */
#ifndef LEDGERBOX_PG_DATASET_H
#define LEDGERBOX_PG_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "sandbox/sandbox.h"

#define PG_DATASET_URL_FILE "postgres.url"
#define PG_DATASET_URL_MAX 4096        /* bytes of the URL file */
#define PG_DATASET_QUERY_MAX (1u << 20) /* bytes of a query, as the SQLite runner */
#define PG_DATASET_GRACE_MS 2000       /* past statement_timeout before the client cancels */
#define PG_DATASET_MAX_TABLES 200      /* tables a listing describes */
#define PG_DATASET_LIST_MS 5000        /* time a listing may spend counting rows */

/* Whether DATA_DIR/NAME (a valid name) is a folder holding postgres.url as
 * a regular file (lstat: a symlink is not one). */
bool pg_dataset_is(const char *data_dir, const char *name);

/* Reads postgres.url: -EACCES when it is readable by group or others,
 * a symlink, not a regular file or not owned by this process's user;
 * -EINVAL when it is not one postgres:// URL of at most
 * PG_DATASET_URL_MAX bytes; -ENOENT when missing. The URL goes to ret. */
int pg_dataset_url(const char *data_dir, const char *name, char *ret, size_t ret_len, char *err,
		   size_t err_len);

/* Connects with the URL of dataset NAME, sets the session up (UTF-8, UTC)
 * and checks the role (pg_dataset_role_check). -ECONNREFUSED when the
 * server cannot be reached; -EACCES when the file or the role is refused.
 * Close *ret with PQfinish(). */
int pg_dataset_connect(const char *data_dir, const char *name, PGconn **ret, char *err,
		       size_t err_len);

/* 0 when the connection's role (and every role it is a member of) is
 * read-only in the sense above; -EACCES with err naming dataset `name` and
 * the first problem; -EIO when the catalog could not be read. */
int pg_dataset_role_check(PGconn *c, const char *name, char *err, size_t err_len);

/* An error in the SQLite runner's terms: type is "syntax_error",
 * "not_allowed", "multiple_statements", "empty_query", "timeout",
 * "no_such_table", "no_such_column", "query_error", "result_too_large" or
 * "cancelled"; line and column (1-based, columns in characters) are 0
 * when unknown. */
struct pg_error {
	const char *type;
	char message[1024];
	unsigned line, column;
};
/* {"type", "message", "line"?, "column"?}; NULL when out of memory. */
json_t *pg_error_to_json(const struct pg_error *e);

struct pg_query_limits {
	uint64_t timeout_ms; /* statement_timeout; the client cancels GRACE later */
	uint64_t max_rows;   /* rows kept; the rest are counted within the time */
	uint64_t max_bytes;  /* bytes of kept values; past them "result_too_large" */
	int cancel_fd;       /* > 0: a hang-up here cancels the query */
};

/* Runs one read-only query on c (which must not be in a transaction) and
 * builds the table. 0 with *ret_table; else the error in *ret_error and
 * -EINVAL (bad query), -EPERM (not allowed), -ETIMEDOUT, -EFBIG,
 * -ECANCELED, -ECONNRESET (the connection broke) or -ENOMEM. */
int pg_dataset_query(PGconn *c, const char *sql, const struct pg_query_limits *l,
		     json_t **ret_table, struct pg_error *ret_error);

/* Checks a query without running it: the same text rules, then PQprepare
 * in a read-only transaction (PostgreSQL's own parser and catalog). 0, or
 * -EINVAL with err = the problem and where, worded for a model to repair;
 * -ECONNRESET when the connection broke. */
int pg_dataset_check_sql(PGconn *c, const char *sql, char *err, size_t err_len);

/* The tables, views and foreign tables the role may SELECT from, outside
 * the system schemas, sorted: [{"name", "rows", "columns": [{"name",
 * "type"}]}]. A table of schema public (or the first schema of the
 * search_path) is named plainly, others "schema.table". rows is count(*)
 * while budget_ms lasts (each count also stops after a second), then the
 * planner's estimate, or -1 when unknown. *ret is the caller's. */
int pg_dataset_tables(PGconn *c, uint64_t budget_ms, json_t **ret);

/* One SQL run of the analyze API over dataset NAME: connects, checks,
 * queries and returns in *ret_result the same JSON a sandbox run gives
 * ("status" ok, runtime_error, timeout or killed; "wall_ms", "cpu_ms" (the
 * wall time: what the run is charged for), "peak_memory_bytes" 0, "table",
 * "runner_error", "limits", "limits_hit", "enforcement", empty output and
 * artifacts). The query's own failures are results; -ECONNREFUSED or
 * -EACCES (with err) mean the dataset could not be used at all. */
int pg_dataset_run(const char *data_dir, const char *name, const char *sql,
		   const struct sandbox_limits *limits, int cancel_fd, json_t **ret_result,
		   char *err, size_t err_len);

/* ---- internal: shared by the pg_dataset*.c files and the tests ---------- */

/* Offset of the first byte of sql that is not blank, ';' or a comment. */
size_t pgd_text_skip(const char *sql, size_t len, size_t at);
/* 1-based line and column of the 1-based character position pos. */
void pgd_text_position(const char *sql, size_t len, unsigned pos, unsigned *ret_line,
		       unsigned *ret_column);
/* Text checks before PostgreSQL sees the query: BOM skipped (*io_sql and
 * *io_len move), length, NUL, empty, and a first word that only reads. */
int pgd_text_check(const char **io_sql, size_t *io_len, struct pg_error *ret_error);
/* Maps a failed result to an error; sql is the text that was sent. */
int pgd_error_from(const PGresult *res, PGconn *c, const char *sql, size_t len,
		   struct pg_error *ret_error);
void pgd_error_set(struct pg_error *e, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Result values: the column type name for a type oid, and one value. */
const char *pgd_type_name(Oid type);
json_t *pgd_value_json(Oid type, const char *text, size_t len);

#endif
