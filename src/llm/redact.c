/*
 * redact: see redact.h.
 *
 * The report is assembled from allowed pieces; the message is only read to
 * find which allowed names it mentions. A word of the message is copied out
 * only when it equals a word of the code (byte for byte) or a table or
 * column name of the schema (ASCII case aside; the schema's spelling is
 * written). Words that start with a digit are never names. Code words are
 * sorted once so that a long program costs one sort, not a scan per word.
 */
#include "llm/redact.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/utf8.h"

#include "util/banned.h"

#define NAME_MAX_BYTES 64        /* longer words are not taken for names */
#define MESSAGE_WORDS_MAX 512    /* words of the message looked at */

struct span {
	const char *p;
	size_t n;
};

struct words {
	struct span *w;
	size_t n;
};

struct report {
	char *out;
	size_t len, at;
};

/* Error classes whose name says nothing about the data: Python's own,
 * those pandas, numpy and sqlite3 raise, and the runners' types. */
static const char *const known_types[] = {
	"ArithmeticError", "AssertionError", "AttributeError", "BaseException", "BufferError",
	"EOFError", "Exception", "FileExistsError", "FileNotFoundError", "FloatingPointError",
	"ImportError", "IndentationError", "IndexError", "IsADirectoryError", "KeyError",
	"LookupError", "MemoryError", "ModuleNotFoundError", "NameError", "NotADirectoryError",
	"NotImplementedError", "OSError", "OverflowError", "PermissionError", "RecursionError",
	"RuntimeError", "StopIteration", "SyntaxError", "SystemExit", "TabError", "TimeoutError",
	"TypeError", "UnboundLocalError", "UnicodeDecodeError", "UnicodeEncodeError",
	"UnicodeError", "ValueError", "ZeroDivisionError", "AxisError", "LinAlgError",
	"UFuncTypeError", "_UFuncNoLoopError", "DataError", "DtypeWarning", "EmptyDataError",
	"IndexingError", "IntCastingNaNError", "InvalidIndexError", "MergeError",
	"OutOfBoundsDatetime", "OutOfBoundsTimedelta", "ParserError", "SpecificationError",
	"UndefinedVariableError", "DatabaseError", "IntegrityError", "InterfaceError",
	"OperationalError", "ProgrammingError", "Error", "SQLError", "LimitExceeded", "NoCode",
	"syntax_error", "not_allowed", "multiple_statements", "empty_query", "timeout",
	"no_such_table", "no_such_column", "open_failed", "query_error", "result_too_large",
	"bad_result", "sandbox", "cancelled",
};

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static bool word_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool word_byte(unsigned char c) { return word_start(c) || is_digit(c); }

static void put(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct report *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->at + 1 >= r->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(r->out + r->at, r->len - r->at, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	r->at = (size_t)n < r->len - r->at ? r->at + (size_t)n : r->len - 1;
}

/* ---- the code's words ----------------------------------------------- */

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	int c = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);

	return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* Calls fn for each word of text (a run of word bytes that does not start
 * with a digit); stops early when fn returns false. */
static void each_word(const char *text, bool (*fn)(void *, const char *, size_t), void *ctx)
{
	const unsigned char *s = (const unsigned char *)text;

	while (*s) {
		const unsigned char *start;

		if (!word_byte(*s)) {
			s++;
			continue;
		}
		start = s;
		while (word_byte(*s))
			s++;
		if (word_start(*start) && !fn(ctx, (const char *)start, (size_t)(s - start)))
			return;
	}
}

static bool count_word(void *ctx, const char *p, size_t n)
{
	(void)p;
	(void)n;
	++*(size_t *)ctx;
	return true;
}

static bool keep_word(void *ctx, const char *p, size_t n)
{
	struct words *ws = ctx;

	ws->w[ws->n++] = (struct span){ p, n };
	return true;
}

static int words_of(const char *code, struct words *ws)
{
	size_t n = 0;

	ws->n = 0;
	ws->w = NULL;
	if (!code)
		return 0;
	each_word(code, count_word, &n);
	if (n == 0)
		return 0;
	ws->w = malloc(n * sizeof(*ws->w));
	if (!ws->w)
		return -ENOMEM;
	each_word(code, keep_word, ws);
	qsort(ws->w, ws->n, sizeof(*ws->w), span_cmp);
	return 0;
}

static bool words_has(const struct words *ws, const char *p, size_t n)
{
	struct span key = { p, n };

	return ws->n && bsearch(&key, ws->w, ws->n, sizeof(*ws->w), span_cmp) != NULL;
}

/* ---- names ------------------------------------------------------------ */

static const char *schema_name(const struct schema *s, const char *p, size_t n)
{
	for (size_t i = 0; s && i < s->n_tables; i++) {
		const struct schema_table *t = &s->tables[i];

		if (strlen(t->name) == n && strncasecmp(t->name, p, n) == 0)
			return t->name;
		for (size_t j = 0; j < t->n_columns; j++) {
			if (strlen(t->columns[j].name) == n && strncasecmp(t->columns[j].name, p, n) == 0)
				return t->columns[j].name;
		}
	}
	return NULL;
}

struct names {
	const struct words *code;
	const struct schema *schema;
	char list[REDACT_NAMES_MAX][NAME_MAX_BYTES + 1];
	size_t n, looked;
};

static void names_add(struct names *ns, const char *p, size_t n)
{
	if (ns->n == REDACT_NAMES_MAX || n > NAME_MAX_BYTES)
		return;
	for (size_t i = 0; i < ns->n; i++) {
		if (strlen(ns->list[i]) == n && memcmp(ns->list[i], p, n) == 0)
			return;
	}
	memcpy(ns->list[ns->n], p, n);
	ns->list[ns->n++][n] = '\0';
}

static bool name_of_message(void *ctx, const char *p, size_t n)
{
	struct names *ns = ctx;
	const char *schema_spelling;

	if (n <= NAME_MAX_BYTES) {
		if (words_has(ns->code, p, n))
			names_add(ns, p, n);
		else if ((schema_spelling = schema_name(ns->schema, p, n)))
			names_add(ns, schema_spelling, n);
	}
	return ++ns->looked < MESSAGE_WORDS_MAX && ns->n < REDACT_NAMES_MAX;
}

static bool one_word(const char *s)
{
	for (; *s; s++) {
		if (!word_byte((unsigned char)*s))
			return false;
	}
	return true;
}

/* Schema names that are not one word ("Unit Price") are looked for
 * whole in the message. */
static void odd_name(struct names *ns, const char *message, const char *name)
{
	size_t n = strlen(name);

	if (one_word(name))
		return;
	for (const char *hit = strstr(message, name); hit; hit = strstr(hit + 1, name)) {
		bool before = hit == message || !word_byte((unsigned char)hit[-1]);

		if (before && !word_byte((unsigned char)hit[n])) {
			names_add(ns, name, n);
			return;
		}
	}
}

static void odd_names(struct names *ns, const char *message)
{
	const struct schema *s = ns->schema;

	for (size_t i = 0; s && i < s->n_tables; i++) {
		odd_name(ns, message, s->tables[i].name);
		for (size_t j = 0; j < s->tables[i].n_columns; j++)
			odd_name(ns, message, s->tables[i].columns[j].name);
	}
}

/* ---- the parts -------------------------------------------------------- */

static bool type_allowed(const char *type, const struct words *code)
{
	size_t n = type ? strlen(type) : 0;

	if (n == 0 || n > NAME_MAX_BYTES || !word_start((unsigned char)type[0]))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!word_byte((unsigned char)type[i]) || (unsigned char)type[i] >= 0x80)
			return false;
	}
	for (size_t i = 0; i < sizeof(known_types) / sizeof(known_types[0]); i++) {
		if (strcmp(type, known_types[i]) == 0)
			return true;
	}
	return words_has(code, type, n);
}

/* Line `line` (1-based) of code, tabs and other controls as spaces,
 * trimmed and cut; false when the code has no such line. */
static bool code_line(const char *code, long line, char out[REDACT_LINE_MAX_BYTES + 1])
{
	const char *p = code, *end;
	size_t n;

	if (!code || line <= 0)
		return false;
	for (long i = 1; i < line; i++) {
		p = strchr(p, '\n');
		if (!p)
			return false;
		p++;
	}
	end = p + strcspn(p, "\n");
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && ((unsigned char)end[-1] <= ' '))
		end--;
	n = (size_t)(end - p);
	if (n > REDACT_LINE_MAX_BYTES + 4)
		n = REDACT_LINE_MAX_BYTES + 4;
	memcpy(out, p, n);
	out[n] = '\0';
	out[utf8_cut(out, REDACT_LINE_MAX_BYTES)] = '\0';
	for (char *c = out; *c; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = ' ';
	}
	return true;
}

void redact_error_text(const struct redact_error *e, const char *language, const char *code,
		       const struct schema *schema, char *out, size_t out_len)
{
	struct names *ns;
	struct words cw = { 0 };
	struct report r = { out, out_len, 0 };
	char line[REDACT_LINE_MAX_BYTES + 1];
	bool sql = language && strcmp(language, "sql") == 0;
	bool have_line;

	if (!out || out_len == 0)
		return;
	out[0] = '\0';
	ns = calloc(1, sizeof(*ns));
	if (!ns || words_of(code, &cw) < 0) {
		free(ns);
		snprintf(out, out_len, "The %s failed.", sql ? "query" : "program");
		return;
	}
	have_line = code_line(code, e->line, line);
	put(&r, "%s", type_allowed(e->type, &cw) ? e->type : "Error");
	if (have_line)
		put(&r, " at line %ld of the %s.\nLine %ld: %s\n", e->line, sql ? "query" : "program",
		    e->line, line);
	else
		put(&r, " in the %s.\n", sql ? "query" : "program");
	ns->code = &cw;
	ns->schema = schema;
	if (e->message) {
		each_word(e->message, name_of_message, ns);
		odd_names(ns, e->message);
	}
	for (size_t i = 0; i < ns->n; i++)
		put(&r, "%s%s", i ? ", " : "Names in the error: ", ns->list[i]);
	if (ns->n)
		put(&r, "\n");
	put(&r, "The error's own message is not shown: it may quote values from the data, which "
		"are not sent to this model. Correct the %s from the error type, the line and the "
		"names.", sql ? "query" : "program");
	free(cw.w);
	free(ns);
}
