/*
 * sem_token: cuts a question (valid UTF-8, see sem_internal.h) into tokens.
 *
 * The cut is cautious: anything that might carry meaning becomes a token
 * (an operator such as "-" or ">=", digits glued to letters, any non-ASCII
 * letter), and only white space and plain punctuation (, ; : . ? ! and
 * brackets) is dropped. Dates and numbers are recognised here, where their
 * separators are still visible; words are judged later by sem_classify.c.
 */
#include "cache/sem_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

/* Multi-byte characters the cut treats specially. */
enum sem_special {
	SP_NONE,
	SP_SPACE,     /* U+00A0 no-break space */
	SP_OPEN_SQ,   /* U+2018 */
	SP_CLOSE_SQ,  /* U+2019, also the typographic apostrophe */
	SP_OPEN_DQ,   /* U+201C */
	SP_CLOSE_DQ,  /* U+201D */
	SP_DASH,      /* U+2013, U+2014: an operator, like "-" */
	SP_CURRENCY,  /* U+20AC euro, U+00A3 pound, U+00A5 yen */
};

struct cut {
	const char *s;
	size_t len, p;
};

static enum sem_special special_at(const struct cut *c, size_t p, size_t *ret_len)
{
	const unsigned char *u = (const unsigned char *)c->s + p;
	size_t left = c->len - p;

	*ret_len = 1;
	if (left >= 2 && u[0] == 0xC2) {
		*ret_len = 2;
		if (u[1] == 0xA0)
			return SP_SPACE;
		if (u[1] == 0xA3 || u[1] == 0xA5)
			return SP_CURRENCY;
	}
	if (left >= 3 && u[0] == 0xE2) {
		*ret_len = 3;
		if (u[1] == 0x82 && u[2] == 0xAC)
			return SP_CURRENCY;
		if (u[1] == 0x80 && u[2] == 0x98)
			return SP_OPEN_SQ;
		if (u[1] == 0x80 && u[2] == 0x99)
			return SP_CLOSE_SQ;
		if (u[1] == 0x80 && u[2] == 0x9C)
			return SP_OPEN_DQ;
		if (u[1] == 0x80 && u[2] == 0x9D)
			return SP_CLOSE_DQ;
		if (u[1] == 0x80 && (u[2] == 0x93 || u[2] == 0x94))
			return SP_DASH;
	}
	*ret_len = 1;
	return SP_NONE;
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static bool is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* A byte that belongs to a word: ASCII letters and digits, '_' (column
 * names), and every non-ASCII character that is not special above. */
static bool word_byte(const struct cut *c, size_t p)
{
	size_t n;
	char ch;

	if (p >= c->len)
		return false;
	ch = c->s[p];
	if (is_alpha(ch) || is_digit(ch) || ch == '_')
		return true;
	return (unsigned char)ch >= 0x80 && special_at(c, p, &n) == SP_NONE;
}

static bool prev_word_byte(const struct cut *c, size_t p)
{
	/* Stepping back over continuation bytes finds the character's start. */
	while (p > 0 && ((unsigned char)c->s[p - 1] & 0xC0) == 0x80)
		p--;
	return p > 0 && word_byte(c, p - 1);
}

static void tok_raw(struct sem_tok *t, enum sem_tok_kind kind, const struct cut *c, size_t start,
		    size_t end)
{
	t->kind = kind;
	t->raw = c->s + start;
	t->raw_len = end - start;
}

/* Where the text of a quoted string opening at c->p lies, and where the
 * closing quote ends; false when no closing quote follows or the string is
 * empty. */
static bool quote_span(const struct cut *c, size_t *ret_start, size_t *ret_stop, size_t *ret_end)
{
	size_t open_len, n;
	enum sem_special sp = special_at(c, c->p, &open_len);
	bool dq = c->s[c->p] == '"' || sp == SP_OPEN_DQ;

	for (size_t q = c->p + open_len; q < c->len; q++) {
		enum sem_special close = special_at(c, q, &n);
		bool hit = dq ? (c->s[q] == '"' || close == SP_CLOSE_DQ)
			      : ((c->s[q] == '\'' || close == SP_CLOSE_SQ) && !word_byte(c, q + n));

		if (!hit)
			continue;
		if (q == c->p + open_len)
			return false;
		*ret_start = c->p + open_len;
		*ret_stop = q;
		*ret_end = q + n;
		return true;
	}
	return false;
}

static bool quote_opens(const struct cut *c)
{
	size_t n;
	enum sem_special sp = special_at(c, c->p, &n);
	char ch = c->s[c->p];

	if (ch != '"' && ch != '\'' && sp != SP_OPEN_SQ && sp != SP_OPEN_DQ)
		return false;
	return !prev_word_byte(c, c->p);
}

static bool cut_quote(struct cut *c, struct sem_tok *t)
{
	size_t start, stop, end;

	if (!quote_opens(c) || !quote_span(c, &start, &stop, &end))
		return false;
	tok_raw(t, SEM_T_QUOTE, c, start, stop);
	c->p = end;
	return true;
}

size_t sem_quote_end(const char *text, size_t len, size_t p)
{
	struct cut c = { .s = text, .len = len, .p = p };
	size_t start, stop, end;

	return p < len && quote_opens(&c) && quote_span(&c, &start, &stop, &end) ? end : 0;
}

/* Scans up to max digits at *p; returns how many. */
static size_t digits(const struct cut *c, size_t *p, size_t max)
{
	size_t n = 0;

	while (*p < c->len && is_digit(c->s[*p]) && n < max + 1) {
		(*p)++;
		n++;
	}
	return n;
}

static unsigned small_int(const char *s, size_t n)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	return v;
}

/* Three digit groups at most, split by one separator kind. */
struct groups {
	size_t start[3], len[3], n, end;
	char sep;
};

static void scan_groups(const struct cut *c, struct groups *g)
{
	size_t p = c->p;

	memset(g, 0, sizeof(*g));
	for (;;) {
		g->start[g->n] = p;
		g->len[g->n] = digits(c, &p, 4);
		g->n++;
		if (g->n == 3 || p + 1 >= c->len || !is_digit(c->s[p + 1]))
			break;
		if (c->s[p] != '-' && c->s[p] != '/')
			break;
		if (g->sep && c->s[p] != g->sep)
			break;
		g->sep = c->s[p++];
	}
	g->end = p;
}

static unsigned group_val(const struct cut *c, const struct groups *g, size_t i)
{
	return small_int(c->s + g->start[i], g->len[i]);
}

/* "2025-03-01", "2025/3", "03/2025", "3/1/2025", "2025-Q1", "2025Q1". */
static bool date_text(const struct cut *c, const struct groups *g, char *out, size_t *end)
{
	unsigned a = group_val(c, g, 0), b = group_val(c, g, 1), d = group_val(c, g, 2);
	size_t e = g->end;

	if (g->n == 1 && g->len[0] == 4) {
		e += e < c->len && c->s[e] == '-';
		if (e + 1 < c->len && (c->s[e] == 'q' || c->s[e] == 'Q') && c->s[e + 1] >= '1' &&
		    c->s[e + 1] <= '4') {
			*end = e + 2;
			return snprintf(out, SEM_VAL_MAX, "%04u-q%c", a, c->s[e + 1]) > 0;
		}
		return false;
	}
	*end = e;
	if (g->len[0] == 4 && b >= 1 && b <= 12 && g->len[1] <= 2) {
		if (g->n == 2)
			return snprintf(out, SEM_VAL_MAX, "%04u-%02u", a, b) > 0;
		return g->len[2] <= 2 && d >= 1 && d <= 31 &&
		       snprintf(out, SEM_VAL_MAX, "%04u-%02u-%02u", a, b, d) > 0;
	}
	if (g->n == 2 && g->len[0] <= 2 && a >= 1 && a <= 12 && g->len[1] == 4)
		return snprintf(out, SEM_VAL_MAX, "%04u-%02u", b, a) > 0;
	/* Day and month order is ambiguous here: keep it as written. */
	if (g->n == 3 && g->len[0] <= 2 && g->len[1] <= 2 && g->len[2] == 4 && a && b)
		return snprintf(out, SEM_VAL_MAX, "%02u/%02u/%04u", a, b, d) > 0;
	return false;
}

static bool cut_date(struct cut *c, struct sem_tok *t)
{
	struct groups g;
	size_t end;

	scan_groups(c, &g);
	if (!date_text(c, &g, t->val, &end) || word_byte(c, end))
		return false;
	tok_raw(t, SEM_T_DATE, c, c->p, end);
	c->p = end;
	return true;
}

static size_t currency_len(const struct cut *c, size_t p)
{
	size_t n;

	if (p < c->len && c->s[p] == '$')
		return 1;
	return p < c->len && special_at(c, p, &n) == SP_CURRENCY ? n : 0;
}

/* Where a number that starts at c->p ends: [sign][currency][sign] digits
 * with ',' and '.', a suffix of letters, '%'. A trailing ',' or '.' is
 * punctuation, not part of it. */
static size_t number_end(const struct cut *c, bool *ret_glued)
{
	size_t p = c->p;

	p += p < c->len && (c->s[p] == '-' || c->s[p] == '+');
	p += currency_len(c, p);
	p += p < c->len && (c->s[p] == '-' || c->s[p] == '+');
	while (p < c->len && (is_digit(c->s[p]) ||
			      ((c->s[p] == ',' || c->s[p] == '.') && p + 1 < c->len &&
			       is_digit(c->s[p + 1]))))
		p++;
	while (p < c->len && is_alpha(c->s[p]))
		p++;
	p += p < c->len && c->s[p] == '%';
	*ret_glued = word_byte(c, p);
	return p;
}

/* A number starts here: a digit, or a sign or currency sign before one,
 * unless glued to what precedes ("a-5" is "a", "-", "5"). */
static bool starts_number(const struct cut *c)
{
	size_t p = c->p;

	if (is_digit(c->s[p]))
		return true;
	if (prev_word_byte(c, p))
		return false;
	p += c->s[p] == '-' || c->s[p] == '+';
	p += currency_len(c, p);
	p += p < c->len && (c->s[p] == '-' || c->s[p] == '+');
	return p < c->len && p > c->p && is_digit(c->s[p]);
}

static void lower_into(char *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = is_alpha(s[i]) ? (char)(s[i] | 0x20) : s[i];
	out[n] = '\0';
}

static void cut_number(struct cut *c, struct sem_tok *t)
{
	bool glued;
	size_t end = number_end(c, &glued);

	while (glued) /* "1st", "10x": a literal, whole */
		glued = word_byte(c, ++end);
	tok_raw(t, SEM_T_NUM, c, c->p, end);
	c->p = end;
	if (!glued && t->raw_len < SEM_VAL_MAX && sem_number_canon(t->raw, t->raw_len, t->val)) {
		bool bare = strspn(t->raw, "0123456789") == t->raw_len && t->raw_len <= 4;

		t->plain_int = bare ? small_int(t->raw, t->raw_len) : 0;
		if (bare && t->raw_len == 4 && t->plain_int >= 1900 && t->plain_int <= 2099)
			t->kind = SEM_T_DATE; /* a year */
		return;
	}
	t->kind = SEM_T_LIT;
	if (t->raw_len < SEM_VAL_MAX)
		lower_into(t->val, t->raw, t->raw_len);
}

/* Letters and digits, with '-', '\'', U+2019 or '&' inside ("year-over-
 * year", "don't", "P&L"). */
static void cut_word(struct cut *c, struct sem_tok *t)
{
	size_t start = c->p, p = c->p, n;

	for (;;) {
		while (word_byte(c, p))
			p++;
		if (p >= c->len)
			break;
		if (c->s[p] == '-' || c->s[p] == '\'' || c->s[p] == '&')
			n = 1;
		else if (special_at(c, p, &n) != SP_CLOSE_SQ)
			break;
		if (!word_byte(c, p + n))
			break;
		p += n;
	}
	tok_raw(t, SEM_T_WORD, c, start, p);
	c->p = p;
}

static bool op_byte(char ch)
{
	return ch && strchr("+-*/<>=&|^~#@\\%$`", ch) != NULL;
}

/* One operator; "<", ">", "=" and "!" join ("<=", "!=", "<>"). */
static bool cut_op(struct cut *c, struct sem_tok *t)
{
	size_t start = c->p, n;
	enum sem_special sp = special_at(c, c->p, &n);

	if (sp == SP_DASH || sp == SP_CURRENCY) {
		/* A dash means what "-" means; a lone currency sign still counts. */
		tok_raw(t, SEM_T_OP, c, start, start + n);
		memcpy(t->val, sp == SP_DASH ? "-" : t->raw, sp == SP_DASH ? 1 : n);
		c->p += n;
		return true;
	}
	if (c->s[c->p] == '!' && (c->p + 1 >= c->len || c->s[c->p + 1] != '='))
		return false; /* an exclamation mark */
	if (!op_byte(c->s[c->p]) && c->s[c->p] != '!')
		return false;
	c->p++;
	while (c->p < c->len && c->p - start < 3 && strchr("<>=", c->s[c->p]) &&
	       strchr("<>=!", c->s[start]))
		c->p++;
	tok_raw(t, SEM_T_OP, c, start, c->p);
	memcpy(t->val, t->raw, t->raw_len);
	t->val[t->raw_len] = '\0';
	return true;
}

/* One token at c->p, or false after skipping a neutral character. */
static bool cut_one(struct cut *c, struct sem_tok *t)
{
	memset(t, 0, sizeof(*t));
	if (cut_quote(c, t))
		return true;
	if (starts_number(c)) {
		if (!is_digit(c->s[c->p]) || !cut_date(c, t))
			cut_number(c, t);
		return true;
	}
	if (word_byte(c, c->p)) {
		cut_word(c, t);
		return true;
	}
	return cut_op(c, t);
}

/* Steps over one neutral character, noting what the gap holds. */
static void skip_neutral(struct cut *c, bool *plain, unsigned *commas)
{
	size_t n;
	enum sem_special sp = special_at(c, c->p, &n);
	char ch = c->s[c->p];

	if (ch == ',')
		(*commas)++;
	else if (ch != ' ' && ch != '\t' && sp != SP_SPACE)
		*plain = false;
	c->p += n;
}

size_t sem_tokenize(const char *text, size_t len, struct sem_tok *toks)
{
	struct cut c = { .s = text, .len = len, .p = 0 };
	size_t n = 0;
	bool plain = true;
	unsigned commas = 0;

	while (c.p < c.len) {
		size_t at = c.p;

		if (!cut_one(&c, &toks[n])) {
			c.p = at;
			skip_neutral(&c, &plain, &commas);
			continue;
		}
		toks[n].plain_gap = plain && commas == 0;
		toks[n].comma_gap = plain && commas == 1;
		n++;
		plain = true;
		commas = 0;
	}
	return n;
}
