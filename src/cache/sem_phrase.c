/*
 * sem_phrase: contractions and multi-word phrases, the two rules of the
 * signature that look at more than one word.
 *
 * Contractions are written out before anything else reads the words, so
 * "haven't" is "have not", "we'll" is "we will" and "what's" is "what is":
 * the auxiliary stays, because "we'll pay" is not "we pay". Before a past
 * participle that "'s" may be "has" ("who's paid"), so it stays "'s". A
 * possessive "'s" ("Acme's") is dropped.
 *
 * The phrase table is closed and reviewed (docs/cache-matching.md lists
 * it): request framing that never changes an answer ("show me", "could
 * you", "what is"), the spellings of an aggregate ("how many", "number
 * of"), of a period used for grouping ("by month", "per month", "each
 * month") and of a running period ("year to date"), and a preposition
 * directly before a date ("in 2025", "for March 2025"). Request framing
 * counts only at the start of a question, and its words match only in
 * lower case unless one opens the question or the question has no lower
 * case at all: "revenue from Get Smart" keeps its name.
 */
#include "cache/sem_internal.h"

#include <string.h>

#include "util/banned.h"

#define PH_WORD_MAX 32
#define ROWS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- contractions -------------------------------------------------------- */

struct expansion {
	const char *word, *first, *second; /* first NULL: the word as written */
};

/* Negations written without the apostrophe. */
static const struct expansion joined[] = {
	{ "dont", "do", "not" },	 { "doesnt", "does", "not" },  { "didnt", "did", "not" },
	{ "isnt", "is", "not" },	 { "arent", "are", "not" },	  { "wasnt", "was", "not" },
	{ "werent", "were", "not" },	 { "havent", "have", "not" },  { "hasnt", "has", "not" },
	{ "hadnt", "had", "not" },	 { "cant", "can", "not" },	  { "cannot", "can", "not" },
	{ "couldnt", "could", "not" }, { "wont", "will", "not" },	  { "wouldnt", "would", "not" },
	{ "shouldnt", "should", "not" }, { "mustnt", "must", "not" }, { "whats", "what", "is" },
};

/* The irregular stems before "n't". */
static const struct expansion nt_stems[] = {
	{ "wo", "will", NULL }, { "ca", "can", NULL }, { "sha", "shall", NULL },
};

/* Tails after an apostrophe; "s" is "is" only after these words. */
static const struct expansion tails[] = {
	{ "re", NULL, "are" }, { "ll", NULL, "will" }, { "ve", NULL, "have" },
	{ "m", NULL, "am" },   { "d", NULL, "would" },
};
static const char *const is_before[] = {
	"he", "here", "how", "it", "she", "that", "there", "what", "when", "where", "which", "who",
};

static bool lower_word(const char *s, size_t len, char out[PH_WORD_MAX])
{
	if (len >= PH_WORD_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		out[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] | 0x20) : s[i];
	out[len] = '\0';
	return true;
}

static const struct expansion *find_expansion(const struct expansion *rows, size_t n,
					      const char *word)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].word, word) == 0)
			return &rows[i];
	return NULL;
}

/* Where the apostrophe (ASCII or U+2019) before the last part of a word
 * starts, and the part's start; false when the word has none. */
static bool apostrophe(const char *raw, size_t len, size_t *ret_ap, size_t *ret_tail)
{
	const unsigned char *u = (const unsigned char *)raw;
	size_t a = len;

	while (a > 0 && raw[a - 1] != '\'' &&
	       !(a >= 3 && u[a - 1] == 0x99 && u[a - 2] == 0x80 && u[a - 3] == 0xE2))
		a--;
	if (a == 0 || a == len)
		return false;
	*ret_ap = raw[a - 1] == '\'' ? a - 1 : a - 3;
	*ret_tail = a;
	return *ret_ap > 0;
}

static void set_word(struct sem_tok *t, const struct sem_tok *from, const char *raw, size_t len)
{
	*t = *from;
	t->raw = raw;
	t->raw_len = len;
}

static void set_added(struct sem_tok *t, const char *word)
{
	memset(t, 0, sizeof(*t));
	t->kind = SEM_T_WORD;
	t->raw = word;
	t->raw_len = strlen(word);
	t->plain_gap = true;
}

/* Irregular past participles; with the regular "-ed" and "-en" ones they
 * make a "'s" before them ambiguous between "is" and "has". */
static const char *const participles[] = {
	"become", "been", "bought", "brought", "built", "come", "cut", "done", "gone", "got",
	"had", "held", "kept", "left", "lent", "lost", "made", "met", "paid", "put", "run",
	"said", "seen", "sent", "set", "sold", "spent", "taken", "told", "won",
};

/* next, the word after a "'s", may be a past participle ("who's paid"). */
static bool participle(const struct sem_tok *next)
{
	char w[PH_WORD_MAX];
	size_t n;

	if (!next || next->kind != SEM_T_WORD || !lower_word(next->raw, next->raw_len, w))
		return false;
	n = strlen(w);
	if (n > 3 && w[n - 2] == 'e' && (w[n - 1] == 'd' || w[n - 1] == 'n'))
		return true;
	for (size_t i = 0; i < ROWS(participles); i++)
		if (strcmp(w, participles[i]) == 0)
			return true;
	return false;
}

/* Writes one word token out as one or two; returns how many. next is the
 * token after it, or NULL. */
static size_t expand_word(const struct sem_tok *t, const struct sem_tok *next,
			  struct sem_tok *out)
{
	char w[PH_WORD_MAX], tail[PH_WORD_MAX];
	const struct expansion *x;
	size_t ap, at, base;

	if (lower_word(t->raw, t->raw_len, w) && (x = find_expansion(joined, ROWS(joined), w))) {
		set_word(&out[0], t, x->first, strlen(x->first));
		set_added(&out[1], x->second);
		return 2;
	}
	*out = *t;
	if (!apostrophe(t->raw, t->raw_len, &ap, &at) ||
	    !lower_word(t->raw + at, t->raw_len - at, tail))
		return 1;
	if (strcmp(tail, "t") == 0 && (t->raw[ap - 1] | 0x20) == 'n') {
		base = ap - 1;
		x = lower_word(t->raw, base, w) ? find_expansion(nt_stems, ROWS(nt_stems), w) : NULL;
		if (base == 0) {
			set_added(&out[0], "not");
			out[0].plain_gap = t->plain_gap;
			return 1;
		}
		set_word(&out[0], t, x ? x->first : t->raw, x ? strlen(x->first) : base);
		set_added(&out[1], "not");
		return 2;
	}
	x = find_expansion(tails, ROWS(tails), tail);
	if (!x && strcmp(tail, "s") != 0)
		return 1; /* O'Brien */
	set_word(&out[0], t, t->raw, ap);
	if (x) {
		set_added(&out[1], x->second);
		return 2;
	}
	if (!lower_word(t->raw, ap, w))
		return 1;
	if (strcmp(w, "let") == 0) {
		set_added(&out[1], "us");
		return 2;
	}
	for (size_t i = 0; i < ROWS(is_before); i++) {
		if (strcmp(w, is_before[i]) == 0) {
			/* "who's paid" may be "who has paid" or "who is paid". */
			set_added(&out[1], participle(next) ? "'s" : "is");
			return 2;
		}
	}
	return 1; /* a possessive: "Acme's" is "Acme" */
}

size_t sem_expand(const struct sem_tok *in, size_t n, struct sem_tok *out)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (in[i].kind == SEM_T_WORD)
			k += expand_word(&in[i], i + 1 < n ? &in[i + 1] : NULL, &out[k]);
		else
			out[k++] = in[i];
	}
	return k;
}

/* ---- phrases ------------------------------------------------------------- */

enum {
	PH_START = 1,  /* only before anything that counts: request framing */
	PH_DATE = 2,   /* only directly before a date */
	PH_PERIOD = 4, /* "%" stands for a period word (hour ... year) */
	PH_NOUN = 8,   /* also a noun: not before a plain word ("list price") */
	PH_PER = 16,   /* a rate's period ("per month"), see sem_entry.per */
	PH_EACH = 32,  /* "each month": grouping, or "in every one", see sem_entry.each */
	PH_EVERY = 64, /* "every month": "in every one" */
	PH_COUNTED = 128, /* only after "how many" ("how many customers are there") */
	PH_NOT_AFTER_ORDINAL = 256, /* not after "1st", "first", "end": "1st of March" */
	PH_NOT_AFTER_EVENT = 512, /* not after "paid", "due", "tax": "paid for 2024" */
};

struct phrase_row {
	const char *words; /* lower case, one space between words */
	enum sem_cat cat;
	const char *canon; /* NULL: filler, leaves no trace */
	unsigned where;
};

/* Longer phrases first where one starts another ("i want to see", "i
 * want"): the first row that matches wins. */
static const struct phrase_row phrases[] = {
	/* Request framing. */
	{ "i would like to see", SEM_C_WORD, NULL, PH_START },
	{ "i would like to know", SEM_C_WORD, NULL, PH_START },
	{ "i would like", SEM_C_WORD, NULL, PH_START },
	{ "i want to see", SEM_C_WORD, NULL, PH_START },
	{ "i want to know", SEM_C_WORD, NULL, PH_START },
	{ "i want", SEM_C_WORD, NULL, PH_START },
	{ "i need to see", SEM_C_WORD, NULL, PH_START },
	{ "i need to know", SEM_C_WORD, NULL, PH_START },
	{ "i need", SEM_C_WORD, NULL, PH_START },
	{ "can you", SEM_C_WORD, NULL, PH_START },
	{ "could you", SEM_C_WORD, NULL, PH_START },
	{ "would you", SEM_C_WORD, NULL, PH_START },
	{ "will you", SEM_C_WORD, NULL, PH_START },
	{ "can i see", SEM_C_WORD, NULL, PH_START },
	{ "could i see", SEM_C_WORD, NULL, PH_START },
	{ "may i see", SEM_C_WORD, NULL, PH_START },
	{ "can i get", SEM_C_WORD, NULL, PH_START },
	{ "could i get", SEM_C_WORD, NULL, PH_START },
	{ "can i have", SEM_C_WORD, NULL, PH_START },
	{ "could i have", SEM_C_WORD, NULL, PH_START },
	{ "may i have", SEM_C_WORD, NULL, PH_START },
	{ "let me see", SEM_C_WORD, NULL, PH_START },
	{ "let me know", SEM_C_WORD, NULL, PH_START },
	{ "let us see", SEM_C_WORD, NULL, PH_START },
	{ "show me", SEM_C_WORD, NULL, PH_START },
	{ "give me", SEM_C_WORD, NULL, PH_START },
	{ "tell me", SEM_C_WORD, NULL, PH_START },
	{ "get me", SEM_C_WORD, NULL, PH_START },
	{ "find me", SEM_C_WORD, NULL, PH_START },
	{ "fetch me", SEM_C_WORD, NULL, PH_START },
	{ "pull up", SEM_C_WORD, NULL, PH_START },
	{ "bring up", SEM_C_WORD, NULL, PH_START },
	{ "a list of", SEM_C_WORD, NULL, PH_START },
	{ "list of", SEM_C_WORD, NULL, PH_START },
	{ "show", SEM_C_WORD, NULL, PH_START },
	{ "list", SEM_C_WORD, NULL, PH_START | PH_NOUN },
	{ "display", SEM_C_WORD, NULL, PH_START | PH_NOUN },
	{ "give", SEM_C_WORD, NULL, PH_START },
	{ "get", SEM_C_WORD, NULL, PH_START },
	{ "tell", SEM_C_WORD, NULL, PH_START },
	{ "print", SEM_C_WORD, NULL, PH_START | PH_NOUN },
	{ "fetch", SEM_C_WORD, NULL, PH_START },
	{ "find", SEM_C_WORD, NULL, PH_START },
	{ "calculate", SEM_C_WORD, NULL, PH_START },
	{ "compute", SEM_C_WORD, NULL, PH_START | PH_NOUN },
	{ "determine", SEM_C_WORD, NULL, PH_START },
	{ "what is", SEM_C_WORD, NULL, 0 },
	{ "what are", SEM_C_WORD, NULL, 0 },
	{ "is there", SEM_C_WORD, NULL, PH_COUNTED },
	{ "are there", SEM_C_WORD, NULL, PH_COUNTED },
	{ "thank you", SEM_C_WORD, NULL, 0 },
	/* Aggregates. */
	{ "how many", SEM_C_AGG, "count", 0 },
	{ "total number of", SEM_C_AGG, "count", 0 },
	{ "number of", SEM_C_AGG, "count", 0 },
	{ "count of", SEM_C_AGG, "count", 0 },
	{ "sum of", SEM_C_AGG, "sum", 0 },
	{ "total of", SEM_C_AGG, "total", 0 },
	{ "average of", SEM_C_AGG, "avg", 0 },
	{ "mean of", SEM_C_AGG, "avg", 0 },
	/* Running periods. */
	{ "year to date", SEM_C_DATE, "ytd", 0 },
	{ "quarter to date", SEM_C_DATE, "qtd", 0 },
	{ "month to date", SEM_C_DATE, "mtd", 0 },
	{ "week to date", SEM_C_DATE, "wtd", 0 },
	/* Grouping by a period: canon comes from the period word. */
	{ "for each %", SEM_C_GRAIN, NULL, PH_PERIOD | PH_PER | PH_EACH },
	{ "for every %", SEM_C_GRAIN, NULL, PH_PERIOD | PH_PER | PH_EVERY },
	{ "in each %", SEM_C_GRAIN, NULL, PH_PERIOD | PH_PER | PH_EACH },
	{ "in every %", SEM_C_GRAIN, NULL, PH_PERIOD | PH_PER | PH_EVERY },
	{ "by %", SEM_C_GRAIN, NULL, PH_PERIOD },
	{ "per %", SEM_C_GRAIN, NULL, PH_PERIOD | PH_PER },
	{ "each %", SEM_C_GRAIN, NULL, PH_PERIOD | PH_PER | PH_EACH },
	{ "every %", SEM_C_GRAIN, NULL, PH_PERIOD | PH_PER | PH_EVERY },
	/* A preposition that only says "when" before a date. */
	{ "in", SEM_C_WORD, NULL, PH_DATE },
	{ "for", SEM_C_WORD, NULL, PH_DATE | PH_NOT_AFTER_EVENT },
	{ "during", SEM_C_WORD, NULL, PH_DATE },
	{ "of", SEM_C_WORD, NULL, PH_DATE | PH_NOT_AFTER_ORDINAL },
	{ "on", SEM_C_WORD, NULL, PH_DATE },
};

/* The period a word names ("month", "months"), or NULL. */
static const char *period_of(const char *w)
{
	char stem[PH_WORD_MAX];
	struct sem_lex lex;

	/* "per monthly payment" is not "per month": the stem of "monthly"
	 * is "month", so the word as written is checked first. */
	if (sem_lexicon(w, &lex) && lex.adjective)
		return NULL;
	sem_stem(w, strlen(w), stem, sizeof(stem));
	if (sem_lexicon(stem, &lex) && lex.cat == SEM_C_GRAIN && !lex.adjective)
		return lex.canon;
	return NULL;
}

static bool is_quarter_word(const char *w)
{
	return strlen(w) == 2 && ((w[0] == 'q' && w[1] >= '1' && w[1] <= '4') ||
				  (w[0] == 'h' && w[1] >= '1' && w[1] <= '2'));
}

/* A day or a year right after a lower-case homonym makes it a date. */
static bool day_or_year(const struct sem_tok *t)
{
	if (!t->plain_gap)
		return false;
	if (t->kind == SEM_T_DATE)
		return true;
	return (t->kind == SEM_T_NUM || t->kind == SEM_T_LIT) && t->raw[0] >= '0' &&
	       t->raw[0] <= '9' && t->raw_len <= 4;
}

/* The token at toks[at] that sem_classify.c reads as (the start of) a
 * date; a lower-case "may" or "sat" only before a day or a year. */
static bool date_like(const struct sem_tok *toks, size_t ntoks, size_t at)
{
	const struct sem_tok *t = &toks[at];
	char w[PH_WORD_MAX];
	struct sem_lex lex;

	if (t->kind == SEM_T_DATE)
		return true;
	if (t->kind != SEM_T_WORD || !lower_word(t->raw, t->raw_len, w))
		return false;
	if (sem_date_homonym(w) && memcmp(w, t->raw, t->raw_len) == 0)
		return sem_month(w) && at + 1 < ntoks && day_or_year(&toks[at + 1]);
	if (sem_month(w) || is_quarter_word(w) || strncmp(w, "fy", 2) == 0)
		return true;
	return sem_lexicon(w, &lex) && lex.cat == SEM_C_DATE;
}

/* A word that could be the head of a compound with the word before it:
 * "list price", "print costs", "display ads", "compute costs". Function
 * words, category words (unpaid, total, top, ...) and names are not. */
static bool plain_noun(const struct sem_tok *t)
{
	char w[PH_WORD_MAX], stem[PH_WORD_MAX];
	struct sem_lex lex;

	if (t->kind != SEM_T_WORD || (t->raw[0] >= 'A' && t->raw[0] <= 'Z'))
		return false;
	if (!lower_word(t->raw, t->raw_len, w))
		return true;
	sem_stem(w, strlen(w), stem, sizeof(stem));
	if (sem_lexicon(w, &lex) || sem_lexicon(stem, &lex))
		return lex.cat == SEM_C_WORD && !lex.light && !lex.filler && !lex.percent &&
		       !lex.scale;
	if (sem_month(w) || (strncmp(w, "un", 2) == 0 && sem_negatable(w + 2)) ||
	    (strncmp(w, "non", 3) == 0 && sem_negatable(w + 3)))
		return false;
	return true;
}

struct ph_scan {
	const struct sem_tok *toks;
	size_t ntoks, i;
	bool free_case; /* phrase words may be written in capitals */
};

/* A capitalised word the lexicon does not know, as sem_classify.c would
 * read it as a name. */
static bool may_be_name(const struct sem_tok *t)
{
	char w[PH_WORD_MAX], stem[PH_WORD_MAX];
	struct sem_lex lex;

	if (t->kind != SEM_T_WORD || t->raw_len == 0 || t->raw[0] < 'A' || t->raw[0] > 'Z')
		return false;
	if (!lower_word(t->raw, t->raw_len, w))
		return true;
	sem_stem(w, strlen(w), stem, sizeof(stem));
	return !sem_lexicon(w, &lex) && !sem_lexicon(stem, &lex) && !sem_month(w);
}

/* The word of token at, lower-cased, if it may be part of a phrase.
 * Request framing must be in lower case, or capitalised as the question's
 * first word, or "I": "revenue from Get Smart" keeps its name. */
static bool phrase_word(const struct ph_scan *s, size_t at, char w[PH_WORD_MAX])
{
	const struct sem_tok *t;

	if (at >= s->ntoks)
		return false;
	t = &s->toks[at];
	if (t->kind != SEM_T_WORD || (at > s->i && !t->plain_gap) ||
	    !lower_word(t->raw, t->raw_len, w))
		return false;
	if (s->free_case || memcmp(w, t->raw, t->raw_len) == 0)
		return true;
	if (t->raw_len == 1 && t->raw[0] == 'I')
		return true;
	/* "Show me" and "Show Revenue", but not "Get Smart revenue", where it
	 * may start a name. */
	return at == 0 && memcmp(w + 1, t->raw + 1, t->raw_len - 1) == 0 &&
	       !(at + 1 < s->ntoks && may_be_name(&s->toks[at + 1]));
}

/* How many tokens row spans at s->i (0: no match); *period gets the
 * period of a PH_PERIOD row. */
static size_t row_span(const struct ph_scan *s, const struct phrase_row *row, const char **period)
{
	const char *p = row->words;
	size_t at = s->i;
	char w[PH_WORD_MAX];

	while (*p) {
		size_t n = strcspn(p, " ");

		if (!phrase_word(s, at, w))
			return 0;
		if (n == 1 && *p == '%' && (row->where & PH_PERIOD)) {
			*period = period_of(w);
			if (!*period)
				return 0;
		} else if (strlen(w) != n || memcmp(w, p, n) != 0) {
			return 0;
		}
		at++;
		p += n + (p[n] == ' ');
	}
	if ((row->where & PH_DATE) && !(at < s->ntoks && date_like(s->toks, s->ntoks, at)))
		return 0;
	if ((row->where & PH_NOUN) && at < s->ntoks && plain_noun(&s->toks[at]))
		return 0;
	return at - s->i;
}

/* Words after which "of" before a date makes the date ("the 1st of March",
 * "the end of March"), where "in" would pick a row within it. */
static bool ordinal_before(const struct sem_tok *toks, size_t i)
{
	static const char *const words[] = {
		"first", "second", "third",  "fourth", "fifth", "sixth", "seventh", "eighth",
		"ninth", "tenth",  "eleventh", "twelfth", "last", "final", "end",	"start",
		"beginning", "middle", "rest", "remainder", "half", "close", "ides",
	};
	const struct sem_tok *t;
	char w[PH_WORD_MAX];
	size_t n;

	if (i == 0)
		return false;
	t = &toks[i - 1];
	if (t->kind != SEM_T_WORD)
		return t->kind != SEM_T_QUOTE && t->kind != SEM_T_OP; /* "5th", "31" */
	if (!lower_word(t->raw, t->raw_len, w))
		return false;
	n = strlen(w);
	if (n > 4 && strcmp(w + n - 2, "th") == 0 && (strstr(w, "teenth") || strstr(w, "tieth")))
		return true;
	for (size_t k = 0; k < ROWS(words); k++)
		if (strcmp(w, words[k]) == 0)
			return true;
	return false;
}

/* Words after which "for" before a date names the period a payment or a
 * tax belongs to, and "in" the period it happened in: "taxes paid for
 * 2024" may be paid in 2025, "invoices due for March" may fall due in
 * April. */
static bool event_before(const struct sem_tok *toks, size_t i)
{
	static const char *const words[] = { "due", "tax", "taxes", "vat", "owing" };
	char w[PH_WORD_MAX];

	if (i == 0 || toks[i - 1].kind != SEM_T_WORD)
		return false;
	if (participle(&toks[i - 1]))
		return true;
	if (!lower_word(toks[i - 1].raw, toks[i - 1].raw_len, w))
		return false;
	for (size_t k = 0; k < ROWS(words); k++)
		if (strcmp(w, words[k]) == 0)
			return true;
	return false;
}

bool sem_phrase_at(const struct sem_tok *toks, size_t ntoks, size_t i,
		   const struct sem_phrase_ctx *ctx, struct sem_phrase *ret)
{
	struct ph_scan s = { .toks = toks, .ntoks = ntoks, .i = i };
	bool at_start = ctx->at_start, has_lower = ctx->has_lower;

	for (size_t r = 0; r < ROWS(phrases); r++) {
		const struct phrase_row *row = &phrases[r];
		const char *period = NULL;
		size_t span;

		if ((row->where & PH_START) && !at_start)
			continue;
		if ((row->where & PH_COUNTED) && !ctx->counted)
			continue;
		if ((row->where & PH_NOT_AFTER_ORDINAL) && ordinal_before(toks, i))
			continue;
		if ((row->where & PH_NOT_AFTER_EVENT) && event_before(toks, i))
			continue;
		s.free_case = !has_lower || !(row->where & PH_START);
		span = row_span(&s, row, &period);
		if (!span)
			continue;
		ret->span = span;
		ret->cat = row->cat;
		ret->canon = period ? period : row->canon;
		ret->per = (row->where & PH_PER) != 0;
		ret->each = (row->where & PH_EACH) != 0;
		ret->every = (row->where & PH_EVERY) != 0;
		return true;
	}
	return false;
}
