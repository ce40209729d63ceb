/*
 * prompt_schema: the schema part of a prompt — which tables matter most to
 * a request, and how one table is written down.
 *
 * Relevance is plain word overlap, deliberately: it must be cheap, give the
 * same answer every time and be easy to explain. Words are ASCII letters
 * and digits (bytes above 0x7f count as letters), split at anything else
 * and at a lower-to-upper case change, lower-cased, and put in a simple
 * singular form ("entries" -> "entry", "invoices" -> "invoice") on both
 * sides. A request word that names part of the table's name scores
 * TABLE_WORD_SCORE, else one that names part of a column name scores 1.
 *
 * Tables are written as annotated CREATE TABLE statements: the form models
 * have seen most, in any language, with their primary and (one-column)
 * foreign keys, so joins need no guessing. Sample values are "e.g. ..."
 * unless they are the column's complete set of values ("one of ..."): a
 * list that looks complete but is not makes a model filter on the values
 * it saw and miss the rest.
 */
#include "llm/prompt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"

#include "util/banned.h"

#define WORD_MAX 48	  /* longer words are cut (both sides alike) */
#define QUERY_WORDS_MAX 64 /* distinct request words looked at */
#define TABLE_WORD_SCORE 4

struct words {
	char w[QUERY_WORDS_MAX][WORD_MAX];
	size_t n;
};

/* ---- words ------------------------------------------------------------ */

static bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
static bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool is_word_byte(char c)
{
	return is_lower(c) || is_upper(c) || is_digit(c) || (unsigned char)c >= 0x80;
}

static bool ends_with(const char *w, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len > n && memcmp(w + len - n, suffix, n) == 0;
}

/* Simple English singular, the same on both sides of a comparison. */
static void singular(char *w)
{
	size_t len = strlen(w);

	if (len > 4 && ends_with(w, len, "ies")) {
		memcpy(w + len - 3, "y", 2);
	} else if (ends_with(w, len, "sses") || ends_with(w, len, "uses") ||
		   ends_with(w, len, "xes") || ends_with(w, len, "ches") ||
		   ends_with(w, len, "shes")) {
		w[len - 2] = '\0';
	} else if (len > 3 && w[len - 1] == 's' && !ends_with(w, len, "ss") &&
		   !ends_with(w, len, "us") && !ends_with(w, len, "is")) {
		w[len - 1] = '\0';
	}
}

/* The next word of s from *at into out (lower case); false at the end. */
static bool next_word(const char *s, size_t *at, char out[WORD_MAX])
{
	size_t i = *at, n = 0;

	while (s[i] && !is_word_byte(s[i]))
		i++;
	if (!s[i])
		return false;
	while (is_word_byte(s[i])) {
		if (n + 1 < WORD_MAX)
			out[n++] = is_upper(s[i]) ? (char)(s[i] - 'A' + 'a') : s[i];
		i++;
		/* camelCase: "invoiceDate" is "invoice" and "date". */
		if (is_lower(s[i - 1]) && is_upper(s[i]))
			break;
	}
	out[n] = '\0';
	*at = i;
	return true;
}

static bool stop_word(const char *w)
{
	/* Grammar and request words that say nothing about which table. */
	static const char *const stop[] = {
		"the",	 "an",	  "of",	   "for",   "by",     "in",    "on",     "to",
		"and",	 "or",	  "with",  "from",  "per",    "each",  "all",    "show",
		"me",	 "what",  "which", "how",   "many",   "much",  "is",     "are",
		"was",	 "were",  "give",  "list",  "get",    "find",  "chart",  "charts",
		"plot",	 "graph", "please", "as",   "at",     "be",    "it",     "that",
		"this",	 "than",  "into",  "vs",    "my",     "our",   "we",     "do",
		"does",	 "did",	  "there", "their", "can",    "you",   "using",  "use",
		"want",	 "need",  "table", "tables", "data",
	};
	if (strlen(w) < 2)
		return true;
	for (size_t i = 0; i < sizeof(stop) / sizeof(stop[0]); i++) {
		if (strcmp(w, stop[i]) == 0)
			return true;
	}
	for (const char *p = w; *p; p++) {
		if (!is_digit(*p))
			return false;
	}
	return true; /* numbers (a year) name no table */
}

static void words_of_query(const char *query, struct words *ws)
{
	char w[WORD_MAX];
	size_t at = 0;

	ws->n = 0;
	while (ws->n < QUERY_WORDS_MAX && next_word(query, &at, w)) {
		bool seen = stop_word(w);

		singular(w);
		for (size_t i = 0; !seen && i < ws->n; i++)
			seen = strcmp(ws->w[i], w) == 0;
		if (!seen)
			memcpy(ws->w[ws->n++], w, WORD_MAX);
	}
}

static bool name_has_word(const char *name, const char *word)
{
	char w[WORD_MAX];
	size_t at = 0;

	while (next_word(name, &at, w)) {
		singular(w);
		if (strcmp(w, word) == 0)
			return true;
	}
	return false;
}

static unsigned score(const struct schema_table *t, const struct words *ws)
{
	unsigned total = 0;

	for (size_t i = 0; i < ws->n; i++) {
		if (name_has_word(t->name, ws->w[i])) {
			total += TABLE_WORD_SCORE;
			continue;
		}
		for (size_t j = 0; j < t->n_columns; j++) {
			if (name_has_word(t->columns[j].name, ws->w[i])) {
				total += 1;
				break;
			}
		}
	}
	return total;
}

unsigned prompt_table_relevance(const struct schema_table *t, const char *query)
{
	struct words *ws = malloc(sizeof(*ws));
	unsigned total;

	if (!ws)
		return 0;
	words_of_query(query ? query : "", ws);
	total = score(t, ws);
	free(ws);
	return total;
}

int prompt_rank_tables(const struct schema *s, const char *query, size_t *order)
{
	struct words *ws = malloc(sizeof(*ws));
	unsigned *scores = calloc(s->n_tables ? s->n_tables : 1, sizeof(*scores));

	if (!ws || !scores) {
		free(ws);
		free(scores);
		return -ENOMEM;
	}
	words_of_query(query ? query : "", ws);
	for (size_t i = 0; i < s->n_tables; i++)
		scores[i] = score(&s->tables[i], ws);
	/* Insertion sort: stable, and there are at most SCHEMA_MAX_TABLES. */
	for (size_t i = 0; i < s->n_tables; i++) {
		size_t j = i;

		while (j > 0 && scores[order[j - 1]] < scores[i])
			j--;
		memmove(order + j + 1, order + j, (i - j) * sizeof(*order));
		order[j] = i;
	}
	free(ws);
	free(scores);
	return 0;
}

/* ---- rendering -------------------------------------------------------- */

static int put(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

static bool needs_quotes(const char *name)
{
	/* Words SQL reserves that also make likely column names. */
	static const char *const reserved[] = {
		"order", "group", "select", "from", "where", "table", "index", "key", "values",
		"default", "check", "limit", "offset", "case", "when", "end", "to", "in", "is",
		"as", "by", "on", "and", "or", "not", "null", "primary", "references", "unique",
		"desc", "asc", "join", "union", "having", "distinct", "all", "transaction",
		"between", "like", "exists", "set", "into", "column", "natural", "cross",
	};
	if (!(is_lower(name[0]) || is_upper(name[0]) || name[0] == '_'))
		return true;
	for (const char *p = name; *p; p++) {
		if (!(is_lower(*p) || is_upper(*p) || is_digit(*p) || *p == '_'))
			return true;
	}
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		if (strcasecmp(name, reserved[i]) == 0)
			return true;
	}
	return false;
}

/* delim ' for SQL strings, " for names; the delimiter inside is doubled. */
static int put_quoted(struct buf *b, const char *s, char delim)
{
	int r = buf_append(b, &delim, 1);

	for (const char *q; r == 0 && (q = strchr(s, delim)); s = q + 1) {
		r = buf_append(b, s, (size_t)(q - s) + 1);
		if (r == 0)
			r = buf_append(b, &delim, 1);
	}
	if (r == 0)
		r = put(b, s);
	return r ? r : buf_append(b, &delim, 1);
}

static int put_name(struct buf *b, const char *name)
{
	return needs_quotes(name) ? put_quoted(b, name, '"') : put(b, name);
}

/* SQLite's affinity rules: INTEGER, REAL or NUMERIC columns hold numbers. */
static bool numeric_affinity(const char *type)
{
	if (strcasestr(type, "INT"))
		return true;
	if (strcasestr(type, "CHAR") || strcasestr(type, "CLOB") || strcasestr(type, "TEXT") ||
	    strcasestr(type, "BLOB") || !*type)
		return false;
	return true;
}

static bool looks_numeric(const char *s)
{
	bool digits = false;

	if (*s == '-')
		s++;
	for (; is_digit(*s); s++)
		digits = true;
	if (*s == '.') {
		for (s++; is_digit(*s); s++)
			digits = true;
	}
	if (digits && (*s == 'e' || *s == 'E')) {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!is_digit(*s))
			return false;
		while (is_digit(*s))
			s++;
	}
	return digits && !*s;
}

static int put_samples(struct buf *b, const struct schema_column *c)
{
	bool bare = numeric_affinity(c->type);
	int r = put(b, c->samples_complete ? " -- one of " : " -- e.g. ");

	for (size_t i = 0; r == 0 && i < c->n_samples; i++) {
		if (i)
			r = put(b, ", ");
		if (r == 0)
			r = bare && looks_numeric(c->samples[i]) ? put(b, c->samples[i])
								 : put_quoted(b, c->samples[i], '\'');
	}
	return r;
}

static bool has_file(const struct schema *s, const char *table, const char *ext)
{
	size_t n = strlen(table);

	for (size_t i = 0; i < s->n_files; i++) {
		if (strncmp(s->files[i], table, n) == 0 && strcmp(s->files[i] + n, ext) == 0)
			return true;
	}
	return false;
}

static int put_table_head(struct buf *b, const struct schema *s, const struct schema_table *t,
			  bool python)
{
	char rows[48];
	int r = put(b, "CREATE TABLE ");

	if (t->rows >= 0)
		snprintf(rows, sizeof(rows), " ( -- %lld row%s", (long long)t->rows,
			 t->rows == 1 ? "" : "s");
	else
		snprintf(rows, sizeof(rows), " ( -- row count unknown");
	if (r == 0)
		r = put_name(b, t->name);
	if (r == 0)
		r = put(b, rows);
	if (r == 0 && python && has_file(s, t->name, ".csv")) {
		r = put(b, "; CSV: /data/");
		if (r == 0)
			r = put(b, t->name);
		if (r == 0)
			r = put(b, ".csv");
	}
	return r ? r : put(b, "\n");
}

static size_t pk_columns(const struct schema_table *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n_columns; i++)
		n += t->columns[i].pk > 0;
	return n;
}

/* " PRIMARY KEY" (a one-column key) and " REFERENCES t(c)". */
static int put_keys(struct buf *b, const struct schema_column *c, bool single_pk)
{
	int r = single_pk && c->pk ? put(b, " PRIMARY KEY") : 0;

	if (r == 0 && c->ref_table) {
		r = put(b, " REFERENCES ");
		if (r == 0)
			r = put_name(b, c->ref_table);
		if (r == 0 && c->ref_column) {
			r = put(b, "(");
			if (r == 0)
				r = put_name(b, c->ref_column);
			if (r == 0)
				r = put(b, ")");
		}
	}
	return r;
}

/* "  PRIMARY KEY (a, b)" for a key of several columns, in key order. */
static int put_composite_key(struct buf *b, const struct schema_table *t, size_t n_pk)
{
	int r = put(b, "  PRIMARY KEY (");

	for (int k = 1; r == 0 && (size_t)k <= n_pk; k++) {
		for (size_t i = 0; r == 0 && i < t->n_columns; i++) {
			if (t->columns[i].pk != k)
				continue;
			if (k > 1)
				r = put(b, ", ");
			if (r == 0)
				r = put_name(b, t->columns[i].name);
		}
	}
	return r ? r : put(b, ")\n");
}

int prompt_table_append(struct buf *b, const struct schema *s, const struct schema_table *t,
			bool python, bool samples)
{
	size_t n_pk = pk_columns(t);
	int r = put_table_head(b, s, t, python);

	for (size_t i = 0; r == 0 && i < t->n_columns; i++) {
		const struct schema_column *c = &t->columns[i];

		r = put(b, "  ");
		if (r == 0)
			r = put_name(b, c->name);
		if (r == 0 && *c->type) {
			r = put(b, " ");
			if (r == 0)
				r = put(b, c->type);
		}
		if (r == 0)
			r = put_keys(b, c, n_pk == 1);
		if (r == 0 && (i + 1 < t->n_columns || n_pk > 1))
			r = put(b, ",");
		if (r == 0 && samples && c->n_samples)
			r = put_samples(b, c);
		if (r == 0)
			r = put(b, "\n");
	}
	if (r == 0 && n_pk > 1)
		r = put_composite_key(b, t, n_pk);
	return r ? r : put(b, ");\n");
}
