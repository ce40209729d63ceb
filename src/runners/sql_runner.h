/*
 * sql_runner: runs one analyst SQL query against a read-only SQLite dataset
 * inside the sandbox and reports the result as one JSON object.
 *
 * The sandbox starts `ledgerbox sql-runner --db /data/<file> --query-file
 * /run/ledgerbox/query.sql`; main.c hands the arguments after `ledgerbox` to
 * sql_runner_main(). Everything below sql_runner_main() is library code: it
 * never prints, it reports through struct sql_error and return values.
 *
 * Layers of the read-only guarantee (each one alone would refuse a write):
 *   1. the file is opened read-only (mode=ro; immutable unless a -wal file
 *      holds commits: util/sqlite_uri.h);
 *   2. a statement that starts with a writing keyword is refused by name;
 *   3. the authorizer allows only SELECT, READ, FUNCTION (minus a denylist),
 *      RECURSIVE and a PRAGMA allowlist;
 *   4. sqlite3_stmt_readonly() must be true for the prepared statement;
 *   5. PRAGMA query_only, DEFENSIVE on, TRUSTED_SCHEMA off, extensions off.
 *
 * Files: sql_runner.c (CLI edge), sql_query.c (one query end to end),
 * sql_guard.c (open + authorizer + time limit), sql_table.c (result table),
 * sql_text.c (scanning the query text), sql_error.c (errors and result JSON).
 */
#ifndef LEDGERBOX_SQL_RUNNER_H
#define LEDGERBOX_SQL_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

/* ---------------------------------------------------------------------- */
/* Public API                                                              */
/* ---------------------------------------------------------------------- */

#define SQL_QUERY_MAX_BYTES (1024 * 1024) /* query file cap = SQLITE_LIMIT_SQL_LENGTH */
#define SQL_DEFAULT_MAX_ROWS 1000
#define SQL_DEFAULT_TIMEOUT_MS 10000
#define SQL_DEFAULT_RESULT_FD 3

/* Process exit codes of `ledgerbox sql-runner`. */
enum sql_runner_exit {
	SQL_EXIT_OK = 0,	  /* result table written */
	SQL_EXIT_QUERY_ERROR = 1, /* error object written (bad query, missing db, ...) */
	SQL_EXIT_USAGE = 2,	  /* bad arguments/environment or internal failure */
	SQL_EXIT_TIMEOUT = 3,	  /* error object of type "timeout" written */
};

struct sql_query_limits {
	uint64_t max_rows;   /* rows stored in the result; the rest are only counted */
	uint64_t timeout_ms; /* wall-clock (CLOCK_MONOTONIC) budget for the whole run */
};

/* The "type" strings of the JSON error object, in this order. */
enum sql_error_type {
	SQL_ERROR_NONE = 0,
	SQL_ERROR_SYNTAX,		/* "syntax_error" */
	SQL_ERROR_NOT_ALLOWED,		/* "not_allowed" */
	SQL_ERROR_MULTIPLE_STATEMENTS,	/* "multiple_statements" */
	SQL_ERROR_EMPTY_QUERY,		/* "empty_query" */
	SQL_ERROR_TIMEOUT,		/* "timeout" */
	SQL_ERROR_NO_SUCH_TABLE,	/* "no_such_table" */
	SQL_ERROR_NO_SUCH_COLUMN,	/* "no_such_column" */
	SQL_ERROR_OPEN_FAILED,		/* "open_failed" */
	SQL_ERROR_QUERY,		/* "query_error" */
};

struct sql_error {
	enum sql_error_type type;
	char message[1024]; /* may be cut short; bytes, not necessarily valid UTF-8 */
	unsigned line;	    /* 1-based position in the query text; 0 = unknown */
	unsigned column;    /* 1-based, counted in UTF-8 characters */
};

/* `ledgerbox sql-runner --db PATH --query-file PATH`. argv[0] is the command
 * name and is skipped. Reads LEDGERBOX_MAX_ROWS, LEDGERBOX_SQL_TIMEOUT_MS and
 * LEDGERBOX_RESULT_FD, writes one JSON line to the result fd (stdout when
 * that fd is not open) and returns an enum sql_runner_exit value. */
int sql_runner_main(int argc, char **argv);

/*
 * Opens db_path read-only, runs the single statement in sql[0..sql_len) and
 * builds the result table. On success returns 0 and stores the table in
 * *ret_table (caller owns it; json_decref). On failure returns a negative
 * errno and fills *ret_error, whose type is what callers should look at;
 * *ret_table is NULL. The errno: -EINVAL bad query, -EPERM not allowed,
 * -ETIMEDOUT time limit, -ENOMEM, or that of a failed open (-ENOENT, -EIO,
 * -EBUSY for a hot -journal beside the file...).
 *
 * Table shape: {"columns": [{"name", "type"}], "rows": [[...]],
 * "row_count": N, "total_rows": N|null, "truncated": bool}.
 */
int sql_query_run(const char *db_path, const char *sql, size_t sql_len,
		  const struct sql_query_limits *limits, json_t **ret_table,
		  struct sql_error *ret_error);

/* "syntax_error", "not_allowed", ...; NULL for SQL_ERROR_NONE. */
const char *sql_error_type_name(enum sql_error_type type);
/* Exit code for a finished run: 0, 1 or 3. NULL or type NONE means 0. */
int sql_error_exit_code(const struct sql_error *error);
/* {"type", "message", "line"?, "column"?}; NULL when out of memory. */
json_t *sql_error_to_json(const struct sql_error *error);
/* The result document {"table": ..., "error": ...}. Takes over `table` (may
 * be NULL); `error` may be NULL or of type NONE. NULL when out of memory. */
json_t *sql_result_new(json_t *table, const struct sql_error *error);

/* ---------------------------------------------------------------------- */
/* Internal: shared by the sql_*.c files and the tests, not for other code. */
/* ---------------------------------------------------------------------- */

/* sql_error.c */
void sql_error_set(struct sql_error *error, enum sql_error_type type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* sql_guard.c: per-run state seen by the authorizer and progress handler. */
struct sql_guard {
	uint64_t deadline_ns; /* CLOCK_MONOTONIC; UINT64_MAX = never */
	bool timed_out;	      /* set by the progress handler when it stopped a step */
	bool seen_select;     /* the authorizer has allowed a SELECT in this run */
	bool denied;	      /* the authorizer refused something; see denied_what */
	char denied_what[160];
	const char *denied_why; /* why, for the message; NULL: "read-only queries only" */
};

uint64_t sql_clock_now_ns(void);
/* Starts the time limit now. */
void sql_guard_init(struct sql_guard *guard, uint64_t timeout_ms);
/* Opens, configures and probes the database; names db_path in errors. */
int sql_guard_open(const char *db_path, sqlite3 **ret_db, struct sql_error *ret_error);
/* Installs the authorizer and the progress handler; guard must outlive db. */
void sql_guard_arm(sqlite3 *db, struct sql_guard *guard);

/* sql_text.c: scanning SQL text without parsing it. */
/* Offset of the first byte at or after `offset` that is not whitespace, an
 * SQL comment or (when skip_semicolons) a ';'. Returns len at the end. */
size_t sql_text_skip(const char *sql, size_t len, size_t offset, bool skip_semicolons);
/* 1-based line and column (in UTF-8 characters) of byte `offset`. */
void sql_text_position(const char *sql, size_t len, size_t offset, unsigned *ret_line,
		       unsigned *ret_column);
/* Reads the word ([A-Za-z_]+) at or after `*offset`, skipping whitespace and
 * comments, upper-cased into buf (empty when it does not fit); advances
 * *offset. Returns its length (0: none). */
size_t sql_text_word(const char *sql, size_t len, size_t *offset, char *buf, size_t buf_size);

/* sql_table.c */
/* Steps stmt to the end (or the time limit) and builds the table. Returns 0,
 * -ENOMEM, or -EIO when a step failed (its sqlite result code in *ret_step_rc;
 * SQLITE_INTERRUPT while only counting is not a failure: total_rows is null). */
int sql_table_collect(sqlite3_stmt *stmt, uint64_t max_rows, json_t **ret_table,
		      int *ret_step_rc);
/* Column type from a declared type, or NULL when it is not clear. */
const char *sql_type_from_decltype(const char *decltype);
/* JSON string from bytes; invalid UTF-8 becomes U+FFFD. NULL when out of memory. */
json_t *sql_json_string(const char *s, size_t len);

#endif
