/*
 * sem_internal: what the files of the semantic matcher share.
 *
 * The signature is built in four steps: sem_token.c cuts the repaired text
 * into tokens (words, numbers, dates, literals, quoted strings, operators),
 * sem_phrase.c writes contractions out, sem_classify.c turns tokens into
 * entries (a category and a canonical value, in the order written; the
 * phrases of sem_phrase.c first), and sem_signature.c folds plurals where
 * the row count cannot depend on them and prints the entries. The word
 * lists live in sem_lexicon.c and sem_phrase.c.
 */
#ifndef LEDGERBOX_CACHE_SEM_INTERNAL_H
#define LEDGERBOX_CACHE_SEM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

/* Room for a canonical number, date, operator or lexicon word. A number too
 * long for it is kept as a literal, byte for byte. */
#define SEM_VAL_MAX 80

enum sem_tok_kind {
	SEM_T_WORD,  /* letters (and digits) as written */
	SEM_T_NUM,   /* val: canonical number, e.g. "$1000", "-2.50", "5%" */
	SEM_T_DATE,  /* val: canonical date, e.g. "2025-03-01", "2025-03" */
	SEM_T_LIT,   /* digits mixed with letters ("1st", "10x"): kept lower-cased */
	SEM_T_QUOTE, /* raw: the text between the quotes, verbatim */
	SEM_T_OP,    /* val: an operator such as "-", ">=", "/" */
};

struct sem_tok {
	enum sem_tok_kind kind;
	const char *raw; /* into the repaired text */
	size_t raw_len;
	char val[SEM_VAL_MAX];
	bool plain_gap;	   /* only spaces or tabs since the previous token */
	bool comma_gap;	   /* the gap holds exactly one comma ("March 1, 2025") */
	unsigned plain_int; /* a bare integer below 10000 (day, year), else 0 */
};

/* Cuts text[0..len) into at most len tokens. toks must have room for len
 * entries; returns how many were written. */
size_t sem_tokenize(const char *text, size_t len, struct sem_tok *toks);

/* When a quoted string ('..', "..", or typographic quotes) opens at
 * text[p], the offset just past its closing quote, else 0. The same rule
 * as the tokenizer's, so the exact key and the signature agree on what is
 * quoted. */
size_t sem_quote_end(const char *text, size_t len, size_t p);

/* Writes contractions out: "haven't" -> "have" "not", "we'll" -> "we"
 * "will", "what's" -> "what" "is" ("who's paid" -> "who" "'s" "paid"),
 * "Acme's" -> "Acme". out must have room
 * for 2 * n tokens; returns how many were written. */
size_t sem_expand(const struct sem_tok *in, size_t n, struct sem_tok *out);

/* Canonical number from s[0..len) (currency, sign, separators, decimals,
 * k/m/b suffix, percent). Returns false when it is not one, or too long. */
bool sem_number_canon(const char *s, size_t len, char out[SEM_VAL_MAX]);
/* Multiplies the canonical number in v by 10^zeros in place (for "5
 * million"); false when it would not fit or v is a percentage. */
bool sem_number_scale(char v[SEM_VAL_MAX], unsigned zeros);

enum sem_cat {
	SEM_C_NUM,
	SEM_C_DATE,
	SEM_C_QUOTE,
	SEM_C_NEG,
	SEM_C_DIR,
	SEM_C_AGG,
	SEM_C_OP,
	SEM_C_GRAIN,
	SEM_C_WORD,
	SEM_C_COUNT,
};

/* The printed prefix of a category: "n", "d", "q", ... */
const char *sem_cat_name(enum sem_cat cat);

/* What the lexicon knows about a lower-case word. */
struct sem_lex {
	enum sem_cat cat;  /* SEM_C_WORD for a known domain word */
	const char *canon; /* the value to print */
	bool filler;	   /* leaves no trace in the signature */
	bool light;	   /* a function word: counts, but weighs half in the embedding */
	bool synonym;	   /* a plain word printed as canon ("versus" -> "vs") */
	bool adjective;	   /* a period adjective such as "monthly" */
	bool scale;	   /* thousand, million, billion: canon is the zeros */
	bool percent;	   /* "percent", "pct" */
};

/* Looks a lower-case word up; false when it is unknown. */
bool sem_lexicon(const char *word, struct sem_lex *ret);
/* True for a word written after "un" or "non" that makes a negation. */
bool sem_negatable(const char *word);
/* Month and weekday names that are also plain words ("may" the modal,
 * "sat", "sun", "wed", "mar"): in lower case they are dates only inside a
 * date with a day or a year ("may 2025", "may 1"). */
bool sem_date_homonym(const char *word);
/* Month 1..12 of a month name or abbreviation, else 0. */
int sem_month(const char *word);

/* Lower-cases s[0..len) into out (size cap) and strips a plural or a
 * period adjective ("customers" -> "customer", "monthly" -> "month").
 * Non-ASCII bytes are kept. Returns the length written (cut to cap - 1). */
size_t sem_stem(const char *s, size_t len, char *out, size_t cap);

/* Drops a contraction's tail ("'s", "'re", "'d", "'m", "'ll", "'ve") from
 * *len; returns true for "n't" (the word is a negation). The apostrophe may
 * be ASCII or U+2019. */
bool sem_contraction(const char *raw, size_t *len);

struct sem_entry {
	enum sem_cat cat;
	char *val;	/* malloc'd */
	char *fold;	/* malloc'd or NULL: the singular of a plain word ("customers"
			 * -> "customer", "are" -> "is"), used where number does not matter */
	bool adjective; /* a period written as an adjective ("monthly") */
	bool per;	/* a period written as a rate ("per month", "each month") */
	bool each;	/* "each month": in a clause ("customers who paid each
			 * month") it may mean "in every month" */
	bool every;	/* "every month": "customers who paid every month" pays
			 * in all of them, which grouping by month is not */
	bool grouped;	/* a period written as a grouping ("by month", "per
			 * month"), not a bare noun ("over the year") */
};

/* Turns tokens into entries in the order written. ents must have room for
 * ntoks entries; *ret_n is how many were made. Returns 0 or -ENOMEM (the
 * entries made so far are freed). */
int sem_classify(const struct sem_tok *toks, size_t ntoks, bool has_lower,
		 struct sem_entry *ents, size_t *ret_n);
void sem_entries_free(struct sem_entry *ents, size_t n);

/* A phrase of the closed table in sem_phrase.c. */
struct sem_phrase {
	size_t span;	   /* tokens it covers */
	enum sem_cat cat;
	const char *canon; /* NULL: filler, no entry */
	bool per;	   /* a period written as a rate: "per month", "each month" */
	bool each, every;  /* written with "each" or "every" (see sem_entry) */
};

/* The phrase starting at toks[i], if any. at_start: nothing that counts
 * comes before it (request framing is dropped only there); has_lower: the
 * question has lower-case letters (else phrase words match in any case). */
struct sem_phrase_ctx {
	bool at_start;	/* nothing that counts comes before */
	bool has_lower; /* the question has lower-case letters */
	bool counted;	/* a "count" comes before ("how many ... are there") */
};
bool sem_phrase_at(const struct sem_tok *toks, size_t ntoks, size_t i,
		   const struct sem_phrase_ctx *ctx, struct sem_phrase *ret);

/* Square root without libm (the programs do not link it); exact to a few
 * ulps and the same on every machine. 0 for x <= 0 or NaN. */
double sem_sqrt(double x);

#endif
