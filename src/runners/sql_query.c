/*
 * sql_query: one analyst query from text to result table — checks the text,
 * opens the dataset through sql_guard, prepares exactly one statement and
 * hands it to sql_table.
 *
 * Invariants:
 * - Nothing runs unless the text holds exactly one statement (the tail after
 *   it may only hold blanks, ';' and comments) and SQLite reports that
 *   statement as read-only.
 * - Positions in messages are 1-based line/column of the text the analyst
 *   wrote (after an optional UTF-8 byte order mark).
 */
#include "runners/sql_runner.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

#define READ_ONLY_HINT "ledgerbox runs read-only queries: SELECT or WITH ... SELECT"

struct query_text {
	const char *sql;
	size_t len;
};

static int refuse(struct sql_error *error, const char *what)
{
	sql_error_set(error, SQL_ERROR_NOT_ALLOWED, "not allowed: %s (" READ_ONLY_HINT ")", what);
	return -EPERM;
}

/* The authorizer's refusal, with its own reason when it has one. */
static int refuse_denied(struct sql_error *error, const struct sql_guard *guard)
{
	if (!guard->denied_why)
		return refuse(error, guard->denied_what);
	sql_error_set(error, SQL_ERROR_NOT_ALLOWED, "not allowed: %s (%s)", guard->denied_what,
		      guard->denied_why);
	return -EPERM;
}

/* Statement keywords that can only change something. Checking them by name
 * gives a clear message before SQLite looks up tables, and covers the two
 * statements the authorizer never sees at prepare time (VACUUM, plain
 * REINDEX). The authorizer still guards everything, e.g. WITH ... DELETE. */
static bool keyword_refused(const char *word)
{
	static const char *const refused[] = {
		"INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP",
		"ALTER", "ATTACH", "DETACH", "BEGIN", "COMMIT", "END",
		"ROLLBACK", "SAVEPOINT", "RELEASE", "ANALYZE", "REINDEX", "VACUUM",
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		if (strcmp(word, refused[i]) == 0)
			return true;
	}
	return false;
}

/* Names a refused statement by its leading words: "INSERT", "CREATE TABLE",
 * "CREATE TEMP VIEW", "DROP INDEX". */
static int check_keyword(const struct query_text *text, size_t start, struct sql_error *error)
{
	char what[96], word[32];
	size_t offset = start;
	bool more;

	sql_text_word(text->sql, text->len, &offset, word, sizeof(word));
	if (!keyword_refused(word))
		return 0;
	snprintf(what, sizeof(what), "%s", word);
	more = !strcmp(word, "CREATE") || !strcmp(word, "DROP") || !strcmp(word, "ALTER");
	while (more && sql_text_word(text->sql, text->len, &offset, word, sizeof(word)) > 0) {
		size_t used = strlen(what);
		snprintf(what + used, sizeof(what) - used, " %s", word);
		more = !strcmp(word, "TEMP") || !strcmp(word, "TEMPORARY") ||
		       !strcmp(word, "UNIQUE") || !strcmp(word, "VIRTUAL");
	}
	return refuse(error, what);
}

/* Checks that need no database: a NUL byte, nothing to run, a writing
 * keyword. Sets *ret_start to the first byte of the statement. */
static int check_text(const struct query_text *text, size_t *ret_start, struct sql_error *error)
{
	const char *nul = memchr(text->sql, '\0', text->len);
	size_t start;

	if (nul) {
		unsigned line, column;

		sql_text_position(text->sql, text->len, (size_t)(nul - text->sql), &line, &column);
		sql_error_set(error, SQL_ERROR_SYNTAX,
			      "the query contains a NUL byte (line %u, column %u)", line, column);
		error->line = line;
		error->column = column;
		return -EINVAL;
	}
	start = sql_text_skip(text->sql, text->len, 0, true);
	if (start == text->len) {
		sql_error_set(error, SQL_ERROR_EMPTY_QUERY,
			      "empty query: there is no SQL statement, only blanks or comments");
		return -EINVAL;
	}
	*ret_start = start;
	return check_keyword(text, start, error);
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static enum sql_error_type classify(const char *message)
{
	if (starts_with(message, "no such table"))
		return SQL_ERROR_NO_SUCH_TABLE;
	if (starts_with(message, "no such column"))
		return SQL_ERROR_NO_SUCH_COLUMN;
	if (strstr(message, "syntax error") || starts_with(message, "incomplete input") ||
	    starts_with(message, "unrecognized token"))
		return SQL_ERROR_SYNTAX;
	return SQL_ERROR_QUERY;
}

/* Reports a failed prepare: the authorizer's refusal if there was one, else
 * SQLite's message with the position SQLite points at. */
static int prepare_failed(sqlite3 *db, const struct sql_guard *guard,
			  const struct query_text *text, size_t start, struct sql_error *error)
{
	const char *message = sqlite3_errmsg(db);
	int offset = sqlite3_error_offset(db);
	enum sql_error_type type;

	if (guard->denied)
		return refuse_denied(error, guard);
	type = classify(message);
	if (offset >= 0 || starts_with(message, "incomplete input")) {
		size_t at = offset >= 0 ? start + (size_t)offset : text->len;
		unsigned line, column;

		sql_text_position(text->sql, text->len, at, &line, &column);
		/* Cut SQLite's message (it may quote a long token) so that the
		 * position always fits. */
		sql_error_set(error, type, "%.800s (line %u, column %u)", message, line, column);
		error->line = line;
		error->column = column;
	} else {
		sql_error_set(error, type, "%s", message);
	}
	return sqlite3_errcode(db) == SQLITE_NOMEM ? -ENOMEM : -EINVAL;
}

static int prepare_one(sqlite3 *db, const struct sql_guard *guard, const struct query_text *text,
		       size_t start, sqlite3_stmt **ret_stmt, struct sql_error *error)
{
	const char *tail = NULL;
	size_t next;
	int rc;

	/* len - start <= SQL_QUERY_MAX_BYTES (checked by the caller), so it fits. */
	rc = sqlite3_prepare_v2(db, text->sql + start, (int)(text->len - start), ret_stmt, &tail);
	if (rc != SQLITE_OK)
		return prepare_failed(db, guard, text, start, error);
	if (!*ret_stmt) {
		sql_error_set(error, SQL_ERROR_EMPTY_QUERY, "empty query: there is no SQL statement");
		return -EINVAL;
	}
	next = sql_text_skip(text->sql, text->len, tail ? (size_t)(tail - text->sql) : text->len,
			     true);
	if (next < text->len) {
		unsigned line, column;

		sql_text_position(text->sql, text->len, next, &line, &column);
		sql_error_set(error, SQL_ERROR_MULTIPLE_STATEMENTS,
			      "multiple statements: only one query per run (second statement "
			      "starts at line %u, column %u)",
			      line, column);
		error->line = line;
		error->column = column;
		return -EINVAL;
	}
	if (!sqlite3_stmt_readonly(*ret_stmt))
		return refuse(error, "a statement that writes");
	return 0;
}

static int execute(sqlite3 *db, const struct sql_guard *guard, sqlite3_stmt *stmt,
		   const struct sql_query_limits *limits, json_t **ret_table,
		   struct sql_error *error)
{
	int step_rc, r = sql_table_collect(stmt, limits->max_rows, ret_table, &step_rc);

	if (r == 0)
		return 0;
	if (r == -ENOMEM) {
		sql_error_set(error, SQL_ERROR_QUERY, "out of memory while building the result");
		return r;
	}
	if (guard->denied)
		return refuse_denied(error, guard);
	if (step_rc == SQLITE_INTERRUPT && guard->timed_out) {
		sql_error_set(error, SQL_ERROR_TIMEOUT,
			      "timeout: the query ran longer than the limit of %llu ms and was "
			      "stopped",
			      (unsigned long long)limits->timeout_ms);
		return -ETIMEDOUT;
	}
	sql_error_set(error, SQL_ERROR_QUERY, "%s", sqlite3_errmsg(db));
	return step_rc == SQLITE_NOMEM ? -ENOMEM : -EINVAL;
}

int sql_query_run(const char *db_path, const char *sql, size_t sql_len,
		  const struct sql_query_limits *limits, json_t **ret_table,
		  struct sql_error *ret_error)
{
	struct query_text text = { sql, sql_len };
	struct sql_guard guard;
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	size_t start = 0;
	int r;

	*ret_table = NULL;
	memset(ret_error, 0, sizeof(*ret_error));
	sql_guard_init(&guard, limits->timeout_ms);
	/* Editors on Windows like to start files with a byte order mark. */
	if (text.len >= 3 && memcmp(text.sql, "\xEF\xBB\xBF", 3) == 0) {
		text.sql += 3;
		text.len -= 3;
	}
	if (text.len > SQL_QUERY_MAX_BYTES) {
		sql_error_set(ret_error, SQL_ERROR_QUERY,
			      "the query is longer than the limit of %d bytes (1 MiB)",
			      SQL_QUERY_MAX_BYTES);
		return -EINVAL;
	}
	r = sql_guard_open(db_path, &db, ret_error);
	if (r == 0)
		r = check_text(&text, &start, ret_error);
	if (r == 0) {
		sql_guard_arm(db, &guard);
		r = prepare_one(db, &guard, &text, start, &stmt, ret_error);
	}
	if (r == 0)
		r = execute(db, &guard, stmt, limits, ret_table, ret_error);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return r;
}
