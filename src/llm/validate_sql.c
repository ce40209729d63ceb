/*
 * validate_sql: prepares a generated SQL query against the dataset without
 * running it (see validate.h).
 *
 * The SQL runner's guard is internal to the runner, so this file has its
 * own read-only authorizer with the same idea: allow reading (SELECT, READ,
 * RECURSIVE, functions minus a denylist) and refuse everything else,
 * PRAGMAs included. Layers, each of which alone refuses a write:
 *   1. the file is opened read-only (schema_db_open, util/sqlite_uri.h);
 *   2. a statement starting with a writing keyword, PRAGMA or VACUUM is
 *      refused by name before SQLite sees it (clear message; VACUUM and a
 *      bare REINDEX never reach the authorizer at prepare time);
 *   3. the authorizer;
 *   4. sqlite3_stmt_readonly() must hold for the prepared statement.
 * Nothing is ever stepped: preparing is enough to find syntax errors and
 * unknown tables, columns and functions.
 */
#include "llm/validate.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "llm/schema.h"

#include "util/banned.h"

#define READ_ONLY_HINT "write one read-only query: SELECT or WITH ... SELECT"

struct sql_text {
	const char *sql;
	size_t len;
};

struct guard {
	bool denied;
	char what[160]; /* the first thing refused, for the message */
};

static void set_err(char *err, size_t err_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !err_len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

/* ---- scanning text ---------------------------------------------------- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* First offset at or after `at` that is not a blank, a comment or (when
 * semicolons) a ';'. An unterminated block comment runs to the end, as in
 * SQLite. */
static size_t skip_filler(const struct sql_text *t, size_t at, bool semicolons)
{
	while (at < t->len) {
		const char *p = t->sql + at;

		if (is_blank(*p) || (semicolons && *p == ';')) {
			at++;
		} else if (*p == '-' && at + 1 < t->len && p[1] == '-') {
			const char *nl = memchr(p, '\n', t->len - at);
			at = nl ? (size_t)(nl - t->sql) + 1 : t->len;
		} else if (*p == '/' && at + 1 < t->len && p[1] == '*') {
			const char *end = memmem(p + 2, t->len - at - 2, "*/", 2);
			at = end ? (size_t)(end - t->sql) + 2 : t->len;
		} else {
			break;
		}
	}
	return at;
}

static bool is_word_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

/* The word at `at` upper-cased into buf (empty when none or too long). */
static void read_word(const struct sql_text *t, size_t at, char *buf, size_t size)
{
	size_t n = 0;

	while (at + n < t->len && is_word_char(t->sql[at + n]) && n + 1 < size) {
		char c = t->sql[at + n];
		buf[n++] = (char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
	}
	if (at + n < t->len && is_word_char(t->sql[at + n]))
		n = 0;
	buf[n] = '\0';
}

/* 1-based line and column (in UTF-8 characters) of byte `offset`. */
static void position(const struct sql_text *t, size_t offset, unsigned *line, unsigned *column)
{
	*line = 1;
	*column = 1;
	for (size_t i = 0; i < offset && i < t->len; i++) {
		unsigned char c = (unsigned char)t->sql[i];

		if (c == '\n') {
			++*line;
			*column = 1;
		} else if ((c & 0xc0) != 0x80) {
			++*column;
		}
	}
}

/* ---- refusing by keyword ---------------------------------------------- */

static int refuse(char *err, size_t err_len, const char *what)
{
	set_err(err, err_len, "not allowed: %s (" READ_ONLY_HINT ")", what);
	return -EINVAL;
}

static int check_keyword(const struct sql_text *t, size_t start, char *err, size_t err_len)
{
	static const char *const refused[] = {
		"INSERT",   "UPDATE",  "DELETE",   "REPLACE", "CREATE",  "DROP",
		"ALTER",    "ATTACH",  "DETACH",   "BEGIN",   "COMMIT",  "END",
		"ROLLBACK", "SAVEPOINT", "RELEASE", "ANALYZE", "REINDEX", "VACUUM",
		"PRAGMA",
	};
	char word[16];

	read_word(t, start, word, sizeof(word));
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		if (strcmp(word, refused[i]) == 0)
			return refuse(err, err_len, word);
	}
	return 0;
}

/* ---- authorizer ------------------------------------------------------- */

static bool function_allowed(const char *name)
{
	/* Built-ins that reach outside the query: loading code, the FTS3
	 * tokenizer's raw pointers, the sqlite3 shell's file functions. */
	static const char *const refused[] = {
		"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit",
	};
	for (size_t i = 0; name && i < sizeof(refused) / sizeof(refused[0]); i++) {
		if (sqlite3_stricmp(name, refused[i]) == 0)
			return false;
	}
	return true;
}

static const char *action_name(int code)
{
	switch (code) {
	case SQLITE_INSERT: return "INSERT";
	case SQLITE_UPDATE: return "UPDATE";
	case SQLITE_DELETE: return "DELETE";
	case SQLITE_ATTACH: return "ATTACH";
	case SQLITE_DETACH: return "DETACH";
	case SQLITE_PRAGMA: return "PRAGMA";
	case SQLITE_TRANSACTION: return "a transaction";
	case SQLITE_ALTER_TABLE: return "ALTER TABLE";
	default: return "a statement that changes the database";
	}
}

static int authorize(void *arg, int code, const char *arg1, const char *arg2, const char *db_name,
		     const char *trigger)
{
	struct guard *g = arg;
	bool allowed;

	(void)db_name;
	(void)trigger;
	switch (code) {
	case SQLITE_SELECT:
	case SQLITE_READ:
	case SQLITE_RECURSIVE:
		allowed = true;
		break;
	case SQLITE_FUNCTION:
		allowed = function_allowed(arg2);
		break;
	default:
		allowed = false;
		break;
	}
	if (allowed)
		return SQLITE_OK;
	/* Only the first refusal is the one that made prepare fail. */
	if (!g->denied) {
		g->denied = true;
		if (code == SQLITE_FUNCTION)
			snprintf(g->what, sizeof(g->what), "function %s()", arg2 ? arg2 : "");
		else if (code == SQLITE_PRAGMA)
			snprintf(g->what, sizeof(g->what), "PRAGMA %s", arg1 ? arg1 : "");
		else if (code == SQLITE_UPDATE && arg1 && !sqlite3_stricmp(arg1, "sqlite_master"))
			/* SQLite declaring a virtual table not connected before. */
			snprintf(g->what, sizeof(g->what), "this table-valued function");
		else
			snprintf(g->what, sizeof(g->what), "%s", action_name(code));
	}
	return SQLITE_DENY;
}

/* A virtual table declares its columns by parsing CREATE TABLE, which the
 * authorizer would refuse as a write of sqlite_master; connecting the
 * read-only ones first, with fixed SQL of ours, avoids that. */
static void prewarm_vtabs(sqlite3 *db)
{
	sqlite3_stmt *list = NULL;

	/* At most 64 of the dataset's own, so a hostile schema cannot make
	 * this slow. */
	sqlite3_exec(db, "SELECT 1 FROM json_each('[]'); SELECT 1 FROM json_tree('[]')", NULL, NULL,
		     NULL);
	if (sqlite3_prepare_v2(db,
			       "SELECT name FROM sqlite_schema WHERE type = 'table'"
			       " AND sql LIKE 'create virtual table%' LIMIT 64",
			       -1, &list, NULL) != SQLITE_OK)
		return;
	while (sqlite3_step(list) == SQLITE_ROW) {
		const unsigned char *name = sqlite3_column_text(list, 0);
		char *sql = name ? sqlite3_mprintf("SELECT 1 FROM \"%w\" LIMIT 0", name) : NULL;

		if (sql)
			sqlite3_exec(db, sql, NULL, NULL, NULL);
		sqlite3_free(sql);
	}
	sqlite3_finalize(list);
}

/* ---- preparing -------------------------------------------------------- */

static int prepare_failed(sqlite3 *db, const struct guard *g, const struct sql_text *t,
			  size_t start, char *err, size_t err_len)
{
	const char *message = sqlite3_errmsg(db);
	int offset = sqlite3_error_offset(db);
	unsigned line, column;

	if (g->denied)
		return refuse(err, err_len, g->what);
	if (sqlite3_errcode(db) == SQLITE_NOMEM) {
		set_err(err, err_len, "out of memory");
		return -ENOMEM;
	}
	if (offset >= 0 || strncmp(message, "incomplete input", 16) == 0) {
		position(t, offset >= 0 ? start + (size_t)offset : t->len, &line, &column);
		/* Cut SQLite's message (it may quote a long token) so that the
		 * position always fits. */
		set_err(err, err_len, "%.600s (line %u, column %u)", message, line, column);
	} else {
		set_err(err, err_len, "%.600s", message);
	}
	return -EINVAL;
}

static int prepare_one(sqlite3 *db, const struct guard *g, const struct sql_text *t, size_t start,
		       char *err, size_t err_len)
{
	sqlite3_stmt *st = NULL;
	const char *tail = NULL;
	size_t next;
	int r = 0;

	if (sqlite3_prepare_v2(db, t->sql + start, (int)(t->len - start), &st, &tail) != SQLITE_OK)
		return prepare_failed(db, g, t, start, err, err_len);
	next = skip_filler(t, tail ? (size_t)(tail - t->sql) : t->len, true);
	if (!st) {
		set_err(err, err_len, "empty query: there is no SQL statement");
		r = -EINVAL;
	} else if (next < t->len) {
		unsigned line, column;

		position(t, next, &line, &column);
		set_err(err, err_len,
			"more than one statement: write exactly one query (a second statement "
			"starts at line %u, column %u)",
			line, column);
		r = -EINVAL;
	} else if (!sqlite3_stmt_readonly(st)) {
		r = refuse(err, err_len, "a statement that writes");
	} else if (sqlite3_bind_parameter_count(st) > 0) {
		/* Nothing binds them: they would all be NULL, and the query would
		 * quietly answer something else than was meant. */
		set_err(err, err_len,
			"the query has a parameter (%s): nothing fills it in, write the value into"
			" the query",
			sqlite3_bind_parameter_name(st, 1) ? sqlite3_bind_parameter_name(st, 1) : "?");
		r = -EINVAL;
	}
	sqlite3_finalize(st);
	return r;
}

static int check_text(struct sql_text *t, size_t *ret_start, char *err, size_t err_len)
{
	size_t start;

	/* Editors on Windows like to start files with a byte order mark. */
	if (t->len >= 3 && memcmp(t->sql, "\xEF\xBB\xBF", 3) == 0) {
		t->sql += 3;
		t->len -= 3;
	}
	if (t->len > VALIDATE_SQL_MAX_BYTES) {
		set_err(err, err_len, "the query is longer than the limit of %d bytes",
			VALIDATE_SQL_MAX_BYTES);
		return -EINVAL;
	}
	start = skip_filler(t, 0, true);
	if (start == t->len) {
		set_err(err, err_len, "empty query: there is no SQL statement, only blanks or comments");
		return -EINVAL;
	}
	*ret_start = start;
	return check_keyword(t, start, err, err_len);
}

int validate_sql(const char *sqlite_path, const char *sql, char *err, size_t err_len)
{
	struct sql_text t = { sql, sql ? strlen(sql) : 0 };
	struct guard g = { 0 };
	sqlite3 *db = NULL;
	size_t start = 0;
	int r;

	if (!sqlite_path || !sql) {
		set_err(err, err_len, "no %s given", sql ? "SQLite file" : "query");
		return -EINVAL;
	}
	/* The file first: a missing dataset is not the query's fault. */
	r = schema_db_open(sqlite_path, &db, err, err_len);
	if (r < 0)
		return r;
	r = check_text(&t, &start, err, err_len);
	if (r < 0) {
		sqlite3_close(db);
		return r;
	}
	sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, VALIDATE_SQL_MAX_BYTES);
	prewarm_vtabs(db);
	sqlite3_set_authorizer(db, authorize, &g);
	r = prepare_one(db, &g, &t, start, err, err_len);
	sqlite3_close(db);
	return r;
}
