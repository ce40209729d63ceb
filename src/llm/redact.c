/*
 * redact: see redact.h.
 *
 * The report is assembled from allowed pieces; the message is only read to
 * find which allowed names it mentions. Nothing is copied from the
 * message: the failing line's words are walked in order and kept when the
 * message has them (byte for byte), then the schema's names in order (ASCII
 * case aside). Words that start with a digit are never names. The
 * message's words are sorted once so each lookup is a binary search.
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

struct word_list {
	struct words *ws;
	size_t cap;
};

static bool count_word(void *ctx, const char *p, size_t n)
{
	struct word_list *l = ctx;

	(void)p;
	(void)n;
	return ++l->cap < MESSAGE_WORDS_MAX;
}

static bool keep_word(void *ctx, const char *p, size_t n)
{
	struct word_list *l = ctx;

	l->ws->w[l->ws->n++] = (struct span){ p, n };
	return l->ws->n < l->cap;
}

/* The first MESSAGE_WORDS_MAX words of text, sorted. */
static int words_of(const char *text, struct words *ws)
{
	struct word_list l = { ws, 0 };

	ws->n = 0;
	ws->w = NULL;
	if (!text)
		return 0;
	each_word(text, count_word, &l);
	if (l.cap == 0)
		return 0;
	ws->w = malloc(l.cap * sizeof(*ws->w));
	if (!ws->w)
		return -ENOMEM;
	each_word(text, keep_word, &l);
	qsort(ws->w, ws->n, sizeof(*ws->w), span_cmp);
	return 0;
}

static bool words_has(const struct words *ws, const char *p, size_t n)
{
	struct span key = { p, n };

	return ws->n && bsearch(&key, ws->w, ws->n, sizeof(*ws->w), span_cmp) != NULL;
}

/* ---- names ------------------------------------------------------------ */

/* The names are listed in an order the data cannot choose: first the
 * failing line's words in the order the line spells them, then schema
 * names in the schema's order. Taken in the message's order, a program
 * could spell a value with them ("G o l d e n" against a line or comment
 * holding every letter). */
struct names {
	struct words message_words;  /* the message's words, sorted */
	const struct words *message;
	char list[REDACT_NAMES_MAX][NAME_MAX_BYTES + 1];
	size_t n;
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

static bool line_name(void *ctx, const char *p, size_t n)
{
	struct names *ns = ctx;

	if (n <= NAME_MAX_BYTES && words_has(ns->message, p, n))
		names_add(ns, p, n);
	return ns->n < REDACT_NAMES_MAX;
}

static bool one_word(const char *s)
{
	for (; *s; s++) {
		if (!word_byte((unsigned char)*s))
			return false;
	}
	return true;
}

/* Whether the message mentions name: as one of its words (ASCII case
 * aside) or, for a name that is not one word ("Unit Price"), whole. */
static bool message_mentions(const char *message, const struct words *mw, const char *name)
{
	size_t n = strlen(name);

	if (one_word(name)) {
		for (size_t i = 0; i < mw->n; i++) {
			if (mw->w[i].n == n && strncasecmp(mw->w[i].p, name, n) == 0)
				return true;
		}
		return false;
	}
	for (const char *hit = strstr(message, name); hit; hit = strstr(hit + 1, name)) {
		bool before = hit == message || !word_byte((unsigned char)hit[-1]);

		if (before && !word_byte((unsigned char)hit[n]))
			return true;
	}
	return false;
}

static void schema_names(struct names *ns, const char *message, const struct schema *s)
{
	for (size_t i = 0; s && i < s->n_tables && ns->n < REDACT_NAMES_MAX; i++) {
		const struct schema_table *t = &s->tables[i];

		if (message_mentions(message, ns->message, t->name))
			names_add(ns, t->name, strlen(t->name));
		for (size_t j = 0; j < t->n_columns && ns->n < REDACT_NAMES_MAX; j++) {
			if (message_mentions(message, ns->message, t->columns[j].name))
				names_add(ns, t->columns[j].name, strlen(t->columns[j].name));
		}
	}
}

/* ---- the parts -------------------------------------------------------- */

/* A known error class, or a word of the failing line shown (the class the
 * line raises): not any word of the code, which a program could pick by a
 * value ("raise globals()[letter]"). */
static bool type_allowed(const char *type, const struct words *line)
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
	return words_has(line, type, n);
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
	struct words lw = { 0 };
	struct report r = { out, out_len, 0 };
	char line[REDACT_LINE_MAX_BYTES + 1];
	bool sql = language && strcmp(language, "sql") == 0;
	bool have_line;

	if (!out || out_len == 0)
		return;
	out[0] = '\0';
	have_line = code_line(code, e->line, line);
	ns = calloc(1, sizeof(*ns));
	if (ns)
		ns->message = &ns->message_words;
	if (!ns || (have_line && words_of(line, &lw) < 0) ||
	    words_of(e->message, &ns->message_words) < 0) {
		free(lw.w);
		if (ns)
			free(ns->message_words.w);
		free(ns);
		snprintf(out, out_len, "The %s failed.", sql ? "query" : "program");
		return;
	}
	put(&r, "%s", type_allowed(e->type, &lw) ? e->type : "Error");
	if (have_line) {
		put(&r, " at line %ld of the %s.\nLine %ld: %s\n", e->line, sql ? "query" : "program",
		    e->line, line);
		each_word(line, line_name, ns);
	} else {
		put(&r, " in the %s.\n", sql ? "query" : "program");
	}
	if (e->message)
		schema_names(ns, e->message, schema);
	for (size_t i = 0; i < ns->n; i++)
		put(&r, "%s%s", i ? ", " : "Names in the error: ", ns->list[i]);
	if (ns->n)
		put(&r, "\n");
	put(&r, "The error's own message is not shown: it may quote values from the data, which "
		"are not sent to this model. Correct the %s from the error type, the line and the "
		"names.", sql ? "query" : "program");
	free(lw.w);
	free(ns->message_words.w);
	free(ns);
}
