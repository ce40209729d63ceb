/*
 * pg_dataset_text: the query text before PostgreSQL sees it, and
 * PostgreSQL's errors in the SQLite runner's terms.
 *
 * The first word must be one that only reads (SELECT, WITH, VALUES, TABLE,
 * EXPLAIN, or an opening parenthesis). This is not what keeps data safe —
 * the read-only role and transaction do that — but it gives a clear
 * message, and it keeps statements that change the session or stream
 * (SET, COPY, LISTEN, DO, CALL, ...) from ever being sent.
 *
 * Positions: PostgreSQL points at a character (1-based) of the text sent;
 * messages turn that into "(line L, column C)" as the SQLite runner does.
 */
#include "datasets/pg_dataset.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/parse.h"
#include "util/utf8.h"

#include "util/banned.h"

#define READ_ONLY_HINT "ledgerbox runs read-only queries: SELECT or WITH ... SELECT"

void pgd_error_set(struct pg_error *e, const char *type, const char *fmt, ...)
{
	va_list ap;

	e->type = type;
	e->line = 0;
	e->column = 0;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

json_t *pg_error_to_json(const struct pg_error *e)
{
	char *fixed = NULL;
	size_t len = strnlen(e->message, sizeof(e->message)), fixed_len;
	json_t *o;

	/* A message cut at the buffer's end may end inside a character. */
	if (utf8_sanitize(e->message, len, &fixed, &fixed_len) < 0)
		return NULL;
	o = json_pack("{s:s,s:s%}", "type", e->type ? e->type : "query_error", "message",
		      fixed ? fixed : e->message, fixed ? fixed_len : len);
	free(fixed);
	if (o && e->line > 0 &&
	    (json_object_set_new(o, "line", json_integer((json_int_t)e->line)) < 0 ||
	     json_object_set_new(o, "column", json_integer((json_int_t)e->column)) < 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

size_t pgd_text_skip(const char *sql, size_t len, size_t at)
{
	while (at < len) {
		const char *p = sql + at;

		if (strchr(" \t\r\n\f\v;", *p) && *p) {
			at++;
		} else if (*p == '-' && at + 1 < len && p[1] == '-') {
			const char *nl = memchr(p, '\n', len - at);
			at = nl ? (size_t)(nl - sql) + 1 : len;
		} else if (*p == '/' && at + 1 < len && p[1] == '*') {
			const char *end = memmem(p + 2, len - at - 2, "*/", 2);
			at = end ? (size_t)(end - sql) + 2 : len;
		} else {
			break;
		}
	}
	return at;
}

void pgd_text_position(const char *sql, size_t len, unsigned pos, unsigned *ret_line,
		       unsigned *ret_column)
{
	unsigned line = 1, column = 1, chars = 1;

	for (size_t i = 0; i < len && chars < pos; i++) {
		unsigned char c = (unsigned char)sql[i];

		if ((c & 0xc0) == 0x80)
			continue; /* inside a character */
		if (c == '\n') {
			line++;
			column = 1;
		} else {
			column++;
		}
		chars++;
	}
	*ret_line = line;
	*ret_column = column;
}

/* The word at `at`, upper-cased ("" when none or too long for buf). */
static size_t word_at(const char *sql, size_t len, size_t at, char *buf, size_t size)
{
	size_t n = 0;

	while (at + n < len && n + 1 < size &&
	       ((sql[at + n] >= 'A' && sql[at + n] <= 'Z') ||
		(sql[at + n] >= 'a' && sql[at + n] <= 'z') || sql[at + n] == '_')) {
		char c = sql[at + n];
		buf[n++] = (char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
	}
	buf[n] = '\0';
	return n;
}

/* Names what is refused by its first word, or two for CREATE, DROP and
 * ALTER ("CREATE TABLE"), as the SQLite runner does. */
static int check_first_word(const char *sql, size_t len, size_t start, struct pg_error *e)
{
	static const char *const reading[] = { "SELECT", "WITH", "VALUES", "TABLE", "EXPLAIN" };
	char word[32], next[32], what[72];
	size_t n = word_at(sql, len, start, word, sizeof(word));

	if (n == 0 && sql[start] == '(')
		return 0;
	for (size_t i = 0; n > 0 && i < sizeof(reading) / sizeof(reading[0]); i++)
		if (strcmp(word, reading[i]) == 0)
			return 0;
	if (n == 0) {
		pgd_error_set(e, "syntax_error", "the query does not start with a SQL keyword (" READ_ONLY_HINT ")");
		return -EINVAL;
	}
	snprintf(what, sizeof(what), "%s", word);
	if (!strcmp(word, "CREATE") || !strcmp(word, "DROP") || !strcmp(word, "ALTER")) {
		size_t at = start + n;
		while (at < len && strchr(" \t\r\n", sql[at]))
			at++;
		if (word_at(sql, len, at, next, sizeof(next)) > 0)
			snprintf(what, sizeof(what), "%s %s", word, next);
	}
	pgd_error_set(e, "not_allowed", "not allowed: %s (" READ_ONLY_HINT ")", what);
	return -EPERM;
}

int pgd_text_check(const char **io_sql, size_t *io_len, struct pg_error *ret_error)
{
	const char *sql = *io_sql, *nul;
	size_t len = *io_len, start;

	/* Editors on Windows like to start files with a byte order mark. */
	if (len >= 3 && memcmp(sql, "\xEF\xBB\xBF", 3) == 0) {
		sql += 3;
		len -= 3;
	}
	if (len > PG_DATASET_QUERY_MAX) {
		pgd_error_set(ret_error, "query_error",
			      "the query is longer than the limit of %u bytes (1 MiB)",
			      PG_DATASET_QUERY_MAX);
		return -EINVAL;
	}
	nul = memchr(sql, '\0', len);
	if (nul) {
		unsigned line, column, chars = 1;
		for (const char *p = sql; p < nul; p++)
			chars += ((unsigned char)*p & 0xc0) != 0x80;
		pgd_text_position(sql, len, chars, &line, &column);
		pgd_error_set(ret_error, "syntax_error",
			      "the query contains a NUL byte (line %u, column %u)", line, column);
		ret_error->line = line;
		ret_error->column = column;
		return -EINVAL;
	}
	start = pgd_text_skip(sql, len, 0);
	if (start == len) {
		pgd_error_set(ret_error, "empty_query",
			      "empty query: there is no SQL statement, only blanks or comments");
		return -EINVAL;
	}
	*io_sql = sql;
	*io_len = len;
	return check_first_word(sql, len, start, ret_error);
}

static const char *type_of(const char *state, const char *message)
{
	static const struct {
		const char *state, *type;
	} map[] = {
		{ "42601", "syntax_error" }, { "42P01", "no_such_table" },
		{ "42703", "no_such_column" }, { "42501", "not_allowed" },
		{ "57014", "timeout" },
	};

	/* The extended protocol's refusal of a second statement. */
	if (message && strstr(message, "cannot insert multiple commands"))
		return "multiple_statements";
	/* Class 25, invalid transaction state: trying to leave read-only
	 * (set_config('transaction_read_only', 'off', ...)) and the like. */
	if (state && strncmp(state, "25", 2) == 0)
		return "not_allowed";
	for (size_t i = 0; state && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(state, map[i].state) == 0)
			return map[i].type;
	return "query_error";
}

static int errno_of(const char *type)
{
	if (!strcmp(type, "not_allowed"))
		return -EPERM;
	if (!strcmp(type, "timeout"))
		return -ETIMEDOUT;
	return -EINVAL;
}

int pgd_error_from(const PGresult *res, PGconn *c, const char *sql, size_t len,
		   struct pg_error *ret_error)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *pos = res ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL;
	const char *type;
	uint64_t at = 0;

	if (!state || strncmp(state, "08", 2) == 0 || PQstatus(c) != CONNECTION_OK) {
		pgd_error_set(ret_error, "query_error", "the connection to PostgreSQL was lost: %.300s",
			      msg ? msg : PQerrorMessage(c));
		return -ECONNRESET;
	}
	type = type_of(state, msg);
	if (!strcmp(type, "multiple_statements")) {
		pgd_error_set(ret_error, type, "multiple statements: only one query per run");
		return -EINVAL;
	}
	/* A write inside a SELECT (a CTE, a function) is reported by the
	 * statement's tag, "cannot execute SELECT in a read-only transaction",
	 * so the message says what it means. */
	if (!strcmp(type, "not_allowed") && !strcmp(state, "25006")) {
		pgd_error_set(ret_error, type, "not allowed: a statement that writes (%.600s; "
					       READ_ONLY_HINT ")", msg ? msg : "");
		return -EPERM;
	}
	if (!strcmp(type, "not_allowed")) {
		pgd_error_set(ret_error, type, "not allowed: %.600s (" READ_ONLY_HINT ")", msg ? msg : "");
		return -EPERM;
	}
	if (pos && parse_u64(pos, &at) == 0 && at > 0 && at < UINT32_MAX) {
		unsigned line, column;
		pgd_text_position(sql, len, (unsigned)at, &line, &column);
		pgd_error_set(ret_error, type, "%.800s (line %u, column %u)", msg ? msg : "", line,
			      column);
		ret_error->line = line;
		ret_error->column = column;
	} else {
		pgd_error_set(ret_error, type, "%.900s", msg ? msg : "the query failed");
	}
	return errno_of(type);
}
