/*
 * sem_classify: turns tokens into signature entries, in the order written.
 *
 * Each token becomes one entry, or none when it is filler, and a few
 * neighbours join: "March 2025" -> d:2025-03, "March 1, 2025" ->
 * d:2025-03-01, "Q1 2025" -> d:2025-q1, "5 percent" -> n:5%, "2 million" ->
 * n:2000000, "Acme Corp" -> q:Acme Corp. Capitalised words that the lexicon
 * does not know are names and keep their case (a SQL filter on 'Acme' and
 * one on 'acme' can return different rows); so are acronyms such as "US" in
 * a question that is not all capitals.
 */
#include "cache/sem_internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

/* Long enough for any word the lexicon knows; longer words are unknown. */
#define LEX_WORD_MAX 32

struct cls {
	const struct sem_tok *toks;
	size_t ntoks, i;
	bool has_lower;
	struct sem_entry *ents;
	size_t n;
	size_t name_tok; /* the token that last made or grew a name */
};

static int emit_owned(struct cls *c, enum sem_cat cat, char *val, bool adjective)
{
	if (!val)
		return -ENOMEM;
	c->ents[c->n++] = (struct sem_entry){ .cat = cat, .val = val, .adjective = adjective };
	return 0;
}

static int emit(struct cls *c, enum sem_cat cat, const char *val, size_t len)
{
	return emit_owned(c, cat, strndup(val, len), false);
}

static int emit_str(struct cls *c, enum sem_cat cat, const char *val)
{
	return emit(c, cat, val, strlen(val));
}

/* Verbs whose singular and plural differ other than by an "s". */
static const char *const agreement[][2] = {
	{ "are", "is" }, { "were", "was" }, { "has", "have" }, { "does", "do" },
};

/* A plain word, with its singular kept aside (sem_signature.c decides
 * whether the question's number matters). */
static int emit_plain(struct cls *c, const char *w)
{
	char stem[SEM_VAL_MAX];
	const char *fold = NULL;
	size_t n = strlen(w);
	int r = emit_str(c, SEM_C_WORD, w);

	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(agreement) / sizeof(agreement[0]); i++)
		if (strcmp(w, agreement[i][0]) == 0)
			fold = agreement[i][1];
	if (!fold && n < sizeof(stem) && sem_stem(w, n, stem, sizeof(stem)) != n)
		fold = stem;
	if (!fold)
		return 0;
	c->ents[c->n - 1].fold = strdup(fold);
	return c->ents[c->n - 1].fold ? 0 : -ENOMEM;
}

static const struct sem_tok *peek(const struct cls *c, size_t ahead)
{
	size_t at = c->i + ahead;

	if (at >= c->ntoks || !(c->toks[at].plain_gap || c->toks[at].comma_gap))
		return NULL;
	return &c->toks[at];
}

static void ascii_lower(char *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		out[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] | 0x20) : s[i];
	out[len] = '\0';
}

/* Lower case of a word into out, or false when it is too long to be a word
 * the lexicon knows. */
static bool small_lower(const char *s, size_t len, char out[LEX_WORD_MAX])
{
	if (len >= LEX_WORD_MAX)
		return false;
	ascii_lower(out, s, len);
	return true;
}

static int tok_month(const struct sem_tok *t)
{
	char w[LEX_WORD_MAX];

	if (!t || t->kind != SEM_T_WORD || !small_lower(t->raw, t->raw_len, w))
		return 0;
	return sem_month(w);
}

static unsigned tok_year(const struct sem_tok *t)
{
	if (!t || t->kind != SEM_T_DATE || strlen(t->val) != 4)
		return 0;
	return t->plain_int;
}

/* A day of the month: "1", "01", "1st", "22nd". */
static unsigned tok_day(const struct sem_tok *t)
{
	unsigned d = 0;
	size_t i = 0;

	if (!t || (t->kind != SEM_T_NUM && t->kind != SEM_T_LIT) || t->raw_len > 4)
		return 0;
	while (i < t->raw_len && i < 2 && t->raw[i] >= '0' && t->raw[i] <= '9')
		d = d * 10 + (unsigned)(t->raw[i++] - '0');
	if (i == 0 || d < 1 || d > 31)
		return 0;
	if (i < t->raw_len && !(t->raw_len - i == 2 && strchr("snrt", t->raw[i] | 0x20)))
		return 0;
	return d;
}

/* "March 2025", "March 1, 2025", "1 March 2025" starting at the current
 * token; returns how many tokens it spans, 0 when none of these. */
static size_t date_run(const struct cls *c, char out[SEM_VAL_MAX])
{
	const struct sem_tok *t0 = &c->toks[c->i], *t1 = peek(c, 1), *t2 = t1 ? peek(c, 2) : NULL;
	int m = tok_month(t0);
	unsigned d;

	if (m && tok_year(t1))
		return snprintf(out, SEM_VAL_MAX, "%04u-%02d", tok_year(t1), m) > 0 ? 2 : 0;
	d = m ? tok_day(t1) : tok_day(t0);
	m = m ? m : tok_month(t1);
	if (m && d && tok_year(t2))
		return snprintf(out, SEM_VAL_MAX, "%04u-%02d-%02u", tok_year(t2), m, d) > 0 ? 3 : 0;
	return 0;
}

static int emit_date_run(struct cls *c, bool *ret_done)
{
	char v[SEM_VAL_MAX];
	size_t span = date_run(c, v);

	*ret_done = span > 0;
	if (!span)
		return 0;
	c->i += span - 1;
	return emit_str(c, SEM_C_DATE, v);
}

/* Emits the number v, joined with a "percent" or "million" after it. */
static int emit_number(struct cls *c, const char *val)
{
	const struct sem_tok *next = peek(c, 1);
	char v[SEM_VAL_MAX], w[LEX_WORD_MAX];
	struct sem_lex lex;

	snprintf(v, sizeof(v), "%s", val);
	if (next && next->plain_gap && next->kind == SEM_T_WORD &&
	    small_lower(next->raw, next->raw_len, w) && sem_lexicon(w, &lex)) {
		size_t n = strlen(v);

		if (lex.percent && n + 1 < sizeof(v) && !strchr(v, '%')) {
			memcpy(v + n, "%", 2);
			c->i++;
		} else if (lex.scale && sem_number_scale(v, (unsigned)(lex.canon[0] - '0'))) {
			c->i++;
		}
	}
	return emit_str(c, SEM_C_NUM, v);
}

static int on_number(struct cls *c, const struct sem_tok *t)
{
	bool done;
	int r = emit_date_run(c, &done);

	if (r < 0 || done)
		return r;
	return emit_number(c, t->val);
}

static bool is_quarter(const char *w)
{
	return strlen(w) == 2 && ((w[0] == 'q' && w[1] >= '1' && w[1] <= '4') ||
				  (w[0] == 'h' && w[1] >= '1' && w[1] <= '2'));
}

/* "2025 Q1" and "2025 H2" are one date. */
static int on_date(struct cls *c, const struct sem_tok *t)
{
	const struct sem_tok *next = peek(c, 1);
	char w[LEX_WORD_MAX], v[SEM_VAL_MAX];

	if (tok_year(t) && next && next->plain_gap && next->kind == SEM_T_WORD &&
	    small_lower(next->raw, next->raw_len, w) && is_quarter(w)) {
		c->i++;
		snprintf(v, sizeof(v), "%s-%s", t->val, w);
		return emit_str(c, SEM_C_DATE, v);
	}
	return emit_str(c, SEM_C_DATE, t->val);
}

/* "Q1", "Q1 2025", "FY2024", "FY 2024"; any other word with a digit in it
 * ("X200", "w2") is a literal that must match exactly, case included: a
 * product code 'X200' is not 'x200' to SQL. */
static int on_digit_word(struct cls *c, const char *w, const char *raw, size_t raw_len)
{
	const struct sem_tok *next = peek(c, 1);
	char v[SEM_VAL_MAX];
	size_t n = strlen(w);
	bool fy = n >= 2 && w[0] == 'f' && w[1] == 'y';

	if (fy && (n == 4 || n == 6) && strspn(w + 2, "0123456789") == n - 2)
		return emit_str(c, SEM_C_DATE, w);
	if (is_quarter(w) && next && next->plain_gap && tok_year(next)) {
		c->i++;
		snprintf(v, sizeof(v), "%s-%s", next->val, w);
		return emit_str(c, SEM_C_DATE, v);
	}
	if (is_quarter(w) || fy)
		return emit_str(c, SEM_C_DATE, w);
	return emit(c, SEM_C_NUM, raw, raw_len);
}

/* Drops "'s", "'re", "'d", "'m", "'ll", "'ve" from *len; true for "n't".
 * The apostrophe may be ASCII or U+2019 (E2 80 99). */
bool sem_contraction(const char *raw, size_t *len)
{
	static const char *const tails[] = { "s", "re", "d", "m", "ll", "ve" };
	const unsigned char *u = (const unsigned char *)raw;
	size_t a = *len, ap, tail;
	char t[4];

	while (a > 0 && raw[a - 1] != '\'' &&
	       !(a >= 3 && u[a - 1] == 0x99 && u[a - 2] == 0x80 && u[a - 3] == 0xE2))
		a--;
	if (a == 0)
		return false;
	ap = raw[a - 1] == '\'' ? a - 1 : a - 3;
	tail = *len - a;
	if (ap == 0 || tail == 0 || tail >= sizeof(t))
		return false;
	ascii_lower(t, raw + a, tail);
	if (strcmp(t, "t") == 0 && (raw[ap - 1] | 0x20) == 'n')
		return true;
	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++)
		if (strcmp(t, tails[i]) == 0)
			*len = ap;
	return false;
}

/* "un-paid" and "non-recurring" as "unpaid" and "nonrecurring". */
static void join_prefix(char *w)
{
	size_t n = strncmp(w, "un-", 3) == 0 ? 2 : strncmp(w, "non-", 4) == 0 ? 3 : 0;

	if (n)
		memmove(w + n, w + n + 1, strlen(w + n + 1) + 1);
}

static bool is_negated(const char *w)
{
	return (strncmp(w, "un", 2) == 0 && sem_negatable(w + 2)) ||
	       (strncmp(w, "non", 3) == 0 && sem_negatable(w + 3));
}

/* What the lexicon says about w or, failing that, its stem. */
static bool lookup(const char *w, struct sem_lex *lex)
{
	char stem[LEX_WORD_MAX];
	size_t n = strlen(w);

	if (n >= LEX_WORD_MAX)
		return false;
	if (sem_lexicon(w, lex))
		return true;
	sem_stem(w, n, stem, sizeof(stem));
	return sem_lexicon(stem, lex);
}

struct word {
	const char *raw; /* as written, without a contraction's tail */
	size_t len;
	char *lower;	 /* malloc'd */
	bool cap, allcaps;
};

static void word_case(struct word *w)
{
	size_t letters = 0;

	w->allcaps = true;
	for (size_t i = 0; i < w->len; i++) {
		letters += (w->raw[i] | 0x20) >= 'a' && (w->raw[i] | 0x20) <= 'z';
		if (w->raw[i] >= 'a' && w->raw[i] <= 'z')
			w->allcaps = false;
	}
	w->cap = w->raw[0] >= 'A' && w->raw[0] <= 'Z';
	w->allcaps = w->allcaps && letters >= 2;
}

/* Adds the next capitalised word to the name just before it. */
static int grow_name(struct cls *c, const struct word *w)
{
	struct sem_entry *e = &c->ents[c->n - 1];
	size_t old = strlen(e->val);
	char *val = realloc(e->val, old + 1 + w->len + 1);

	if (!val)
		return -ENOMEM;
	val[old] = ' ';
	memcpy(val + old + 1, w->raw, w->len);
	val[old + 1 + w->len] = '\0';
	e->val = val;
	c->name_tok = c->i;
	return 0;
}

static int emit_name(struct cls *c, const struct word *w)
{
	c->name_tok = c->i;
	return emit(c, SEM_C_QUOTE, w->raw, w->len);
}

/* Plain words are kept as written, with their singular aside: "top
 * customer" asks for one row and "top customers" for several, while
 * "revenue by customers" is "revenue by customer". The lexicon's
 * categories fold forms ("expenses" -> dir:expense, "monthly" -> g:month). */
static int emit_known(struct cls *c, const struct sem_lex *lex, const char *w)
{
	if (lex->filler)
		return 0;
	if (lex->synonym)
		return emit_str(c, SEM_C_WORD, lex->canon);
	if (lex->percent || lex->scale || lex->cat == SEM_C_WORD)
		return emit_plain(c, w);
	if (lex->cat == SEM_C_NUM) /* "two million" is 2000000, "five percent" 5% */
		return emit_number(c, lex->canon);
	/* "total orders" may count them; sem_signature.c makes "total" a sum
	 * only before an amount ("total revenue"). */
	if (lex->cat == SEM_C_AGG && strcmp(w, "total") == 0)
		return emit_str(c, SEM_C_AGG, "total");
	return emit_owned(c, lex->cat, strdup(lex->canon), lex->adjective);
}

/* "totals", "averages", "credits": the plural of an aggregate or a
 * direction, which the lexicon knows only in the singular. "monthly
 * averages" is a table, "monthly average" one number, and "credits" are
 * documents where "credit" is a side of the ledger, so the plural keeps
 * its number ("avgs"). "expenses" is the one plural that means its
 * singular. */
static bool plural_of_category(const char *w, const struct sem_lex *lex)
{
	struct sem_lex as_written;

	if (lex->cat != SEM_C_AGG && lex->cat != SEM_C_DIR)
		return false;
	return !sem_lexicon(w, &as_written) && strcmp(lex->canon, "expense") != 0;
}

static char *plural_value(const char *canon)
{
	size_t n = strlen(canon);
	char *v = malloc(n + 2);

	if (v) {
		memcpy(v, canon, n);
		memcpy(v + n, "s", 2);
	}
	return v;
}

/* "FY 2024" is one date. */
static bool fiscal_year(struct cls *c, const char *w, char v[SEM_VAL_MAX])
{
	const struct sem_tok *next = peek(c, 1);

	if (strcmp(w, "fy") != 0 || !next || !next->plain_gap || !tok_year(next))
		return false;
	snprintf(v, SEM_VAL_MAX, "fy%s", next->val);
	c->i++;
	return true;
}

/* The next token is a capitalised word the lexicon does not know. */
static bool next_is_name(const struct cls *c)
{
	const struct sem_tok *t = peek(c, 1);
	char w[LEX_WORD_MAX];
	struct sem_lex lex;

	if (!t || !t->plain_gap || t->kind != SEM_T_WORD || t->raw[0] < 'A' || t->raw[0] > 'Z')
		return false;
	if (!small_lower(t->raw, t->raw_len, w))
		return true;
	return !lookup(w, &lex) && !sem_month(w);
}

static bool caps_homonym(const char *w)
{
	static const char *const words[] = { "hi", "it", "me", "us" };

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(w, words[i]) == 0)
			return true;
	return false;
}

static int classify_word(struct cls *c, const struct word *w)
{
	struct sem_lex lex = { .cat = SEM_C_WORD };
	char v[SEM_VAL_MAX];
	bool known = lookup(w->lower, &lex), month = sem_month(w->lower) > 0, done = false;
	bool negated = !known && is_negated(w->lower);
	int r;

	if (fiscal_year(c, w->lower, v))
		return emit_str(c, SEM_C_DATE, v);
	/* Inside a sentence, a capital "The" or a lone capital letter starts
	 * a name ("The Coffee House", "grade A"); so does "The" opening the
	 * question before a name ("The Home Depot" is not "Home Depot"). */
	if (w->cap && c->has_lower &&
	    ((strcmp(w->lower, "the") == 0 && (c->i > 0 || next_is_name(c))) ||
	     (c->i > 0 && w->len == 1 && strcmp(w->lower, "i") != 0)))
		return emit_name(c, w);
	/* In a question written all in capitals, "US" and "IT" may be the
	 * country and the department: neither the pronoun nor the name. */
	if (!c->has_lower && caps_homonym(w->lower))
		return emit(c, SEM_C_WORD, w->raw, w->len);
	/* "OR" in a question with lower case is Oregon, as "IN" is Indiana. */
	if (w->cap && !((known || month || negated) &&
			!(w->allcaps && c->has_lower &&
			  (lex.filler || lex.light || strcmp(w->lower, "or") == 0))))
		return emit_name(c, w);
	/* "revenue may grow" is not "revenue in May grow": a lower-case
	 * homonym is a date only inside a whole date ("may 2025"). */
	if (!w->cap && sem_date_homonym(w->lower)) {
		r = month ? emit_date_run(c, &done) : 0;
		if (r < 0 || (month && done))
			return r;
		return emit_plain(c, w->lower);
	}
	if (month) {
		r = emit_date_run(c, &done);
		if (r < 0 || done)
			return r;
		snprintf(v, sizeof(v), "m%02d", sem_month(w->lower));
		return emit_str(c, SEM_C_DATE, v);
	}
	if (known && plural_of_category(w->lower, &lex))
		return emit_owned(c, lex.cat, plural_value(lex.canon), false);
	if (known)
		return emit_known(c, &lex, w->lower);
	if (negated)
		return emit_str(c, SEM_C_NEG, w->lower);
	return emit_plain(c, w->lower);
}

static bool continues_name(const struct cls *c, const struct sem_tok *t)
{
	return t->raw[0] >= 'A' && t->raw[0] <= 'Z' && t->plain_gap && c->n > 0 &&
	       c->name_tok + 1 == c->i;
}

static int on_word(struct cls *c, const struct sem_tok *t)
{
	struct word w = { .raw = t->raw, .len = t->raw_len };
	int r;

	if (w.len == 0)
		return 0;
	word_case(&w);
	if (continues_name(c, t))
		return grow_name(c, &w);
	w.lower = malloc(w.len + 1);
	if (!w.lower)
		return -ENOMEM;
	ascii_lower(w.lower, w.raw, w.len);
	join_prefix(w.lower);
	if (strpbrk(w.lower, "0123456789"))
		r = on_digit_word(c, w.lower, w.raw, w.len);
	else
		r = classify_word(c, &w);
	free(w.lower);
	return r;
}

static bool phrase_here(const struct cls *c, struct sem_phrase *ph)
{
	struct sem_phrase_ctx ctx = { .at_start = c->n == 0, .has_lower = c->has_lower };

	for (size_t k = 0; k < c->n && !ctx.counted; k++)
		ctx.counted = c->ents[k].cat == SEM_C_AGG && strcmp(c->ents[k].val, "count") == 0;
	return sem_phrase_at(c->toks, c->ntoks, c->i, &ctx, ph);
}

static int on_token(struct cls *c, const struct sem_tok *t)
{
	struct sem_phrase ph;
	int r;

	switch (t->kind) {
	case SEM_T_WORD:
		/* A capitalised word right after a name goes on with the name. */
		if (continues_name(c, t) || !phrase_here(c, &ph))
			return on_word(c, t);
		c->i += ph.span - 1;
		if (!ph.canon)
			return 0;
		r = emit_str(c, ph.cat, ph.canon);
		if (r == 0) {
			c->ents[c->n - 1].per = ph.per;
			c->ents[c->n - 1].each = ph.each;
			c->ents[c->n - 1].every = ph.every;
			c->ents[c->n - 1].grouped = ph.cat == SEM_C_GRAIN;
		}
		return r;
	case SEM_T_NUM:
		return on_number(c, t);
	case SEM_T_DATE:
		return on_date(c, t);
	case SEM_T_QUOTE:
		return emit(c, SEM_C_QUOTE, t->raw, t->raw_len);
	case SEM_T_OP:
		return emit_str(c, SEM_C_OP, t->val);
	case SEM_T_LIT:
		break;
	}
	/* A literal keeps its case ("10X" may be a code), except an ordinal
	 * ("1ST" is "1st"). It may be longer than val holds: copy raw. */
	char *lit = strndup(t->raw, t->raw_len);

	if (lit && tok_day(t))
		ascii_lower(lit, lit, t->raw_len);
	return emit_owned(c, SEM_C_NUM, lit, false);
}

int sem_classify(const struct sem_tok *toks, size_t ntoks, bool has_lower,
		 struct sem_entry *ents, size_t *ret_n)
{
	struct cls c = { .toks = toks, .ntoks = ntoks, .has_lower = has_lower, .ents = ents,
			 .name_tok = SIZE_MAX - 1 };

	for (c.i = 0; c.i < ntoks; c.i++) {
		int r = on_token(&c, &toks[c.i]);

		if (r < 0) {
			sem_entries_free(ents, c.n);
			return r;
		}
	}
	*ret_n = c.n;
	return 0;
}

void sem_entries_free(struct sem_entry *ents, size_t n)
{
	if (!ents)
		return;
	for (size_t i = 0; i < n; i++) {
		free(ents[i].val);
		free(ents[i].fold);
	}
}
