/*
 * sem_embed: the built-in embedding, needing no model (see semantic.h).
 *
 * Each word of the question adds its stem ("customers" -> "customer",
 * "monthly" -> "month") and the character 3- and 4-grams of "<word>" to a
 * SEM_DIM vector by signed feature hashing: a feature's hash picks a slot
 * and a sign, so collisions cancel out on average instead of piling up.
 * The n-grams of one word share one unit of weight whatever its length, so
 * a long word does not outweigh a short one; filler words weigh half and
 * words that pin an answer double (eword_form). A number written with
 * digits is one feature in its canonical form ("$1k" and "$1,000" alike),
 * as the signature reads it.
 * Word order is not seen here; the signature's "seq:" part handles it.
 *
 * The hash is 64-bit FNV-1a with a fixed finaliser, so vectors stored by
 * one run compare with vectors made by the next, on any machine. Changing
 * anything here changes every vector: stored embeddings must be rebuilt
 * (tests/cache/test_semantic.c pins a few components for that reason).
 */
#include "cache/semantic.h"
#include "cache/sem_internal.h"

#include <stdint.h>
#include <string.h>

#include "util/utf8.h"

#include "util/banned.h"

/* Features come from at most this many bytes of a word. */
#define EMBED_WORD_MAX 64
#define FILLER_WEIGHT 0.5f
#define GUARD_WEIGHT 2.0f

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* splitmix64's finaliser: FNV's low bits alone are weak for a modulo. */
static uint64_t mix(uint64_t h)
{
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

/* kind keeps a stem apart from an n-gram with the same bytes. */
static void add_feature(float *out, char kind, const char *p, size_t n, float weight)
{
	uint64_t h = mix(fnv1a(fnv1a(0xcbf29ce484222325ull, &kind, 1), p, n));

	out[h % SEM_DIM] += (h >> 63) ? -weight : weight;
}

static bool word_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c >= 0x80;
}

/* What one word stands for in the vector. */
struct eword {
	char text[EMBED_WORD_MAX + 1]; /* lower case, or the lexicon's form */
	char stem[EMBED_WORD_MAX + 1];
	float weight;
};

static void eword_set(struct eword *e, const char *text)
{
	size_t n = strlen(text);

	memcpy(e->text, text, n + 1);
	memcpy(e->stem, text, n + 1);
}

/* Where the lexicon folds a word ("many" and "number" -> "count", "asc" ->
 * "ascending", "monthly" -> "month") the vector sees the folded form, as
 * the signature does. Filler weighs less; words that flip or pin an answer
 * (negations, directions, aggregates, periods, dates, numbers, names) weigh
 * more, so questions that differ in one of them drift apart here too. */
static void eword_form(struct eword *e, const char *raw, size_t n)
{
	struct sem_lex lex;
	bool cap = raw[0] >= 'A' && raw[0] <= 'Z';

	for (size_t i = 0; i < n; i++)
		e->text[i] = raw[i] >= 'A' && raw[i] <= 'Z' ? (char)(raw[i] | 0x20) : raw[i];
	e->text[n] = '\0';
	sem_stem(raw, n, e->stem, sizeof(e->stem));
	/* "how many" and "number of" are the signature's "count"; the
	 * vector sees the word that carries the phrase as that. */
	if (strcmp(e->text, "many") == 0 || strcmp(e->text, "number") == 0) {
		eword_set(e, "count");
		e->weight = GUARD_WEIGHT;
	} else if (strpbrk(e->text, "0123456789") || sem_month(e->text)) {
		e->weight = GUARD_WEIGHT;
	} else if (!sem_lexicon(e->text, &lex) && !sem_lexicon(e->stem, &lex)) {
		e->weight = cap ? GUARD_WEIGHT : 1.0f;
	} else if (lex.filler || lex.light) {
		e->weight = FILLER_WEIGHT;
	} else {
		e->weight = lex.cat == SEM_C_WORD ? 1.0f : GUARD_WEIGHT;
		if (!lex.scale)
			eword_set(e, lex.canon);
	}
}

static void embed_form(float *out, const struct eword *e)
{
	char w[EMBED_WORD_MAX + 3];
	size_t n = strlen(e->text), grams;
	float weight = e->weight;

	add_feature(out, 'u', e->stem, strlen(e->stem), weight);
	w[0] = '<';
	memcpy(w + 1, e->text, n);
	w[n + 1] = '>';
	/* "<ab>" has two 3-grams and one 4-gram; "<a>" has one 3-gram. */
	grams = n + (n >= 2 ? n - 1 : 0);
	weight = (float)(weight / sem_sqrt((double)grams));
	for (size_t k = 3; k <= 4; k++)
		for (size_t i = 0; i + k <= n + 2; i++)
			add_feature(out, 'c', w + i, k, weight);
}

/* One word as written: "haven't" counts as "not", "customer's" as
 * "customer"; features come from its first EMBED_WORD_MAX bytes. */
static void embed_word(float *out, const char *raw, size_t len)
{
	struct eword e;

	if (sem_contraction(raw, &len)) {
		eword_set(&e, "not");
		e.weight = GUARD_WEIGHT;
	} else if (len == 0) {
		return;
	} else {
		eword_form(&e, raw, len < EMBED_WORD_MAX ? len : EMBED_WORD_MAX);
	}
	embed_form(out, &e);
}

/* Punctuation beyond ASCII that separates words: U+00A0..U+00BF (no-break
 * space, guillemets, ...) and U+2000..U+206F (dashes, typographic quotes,
 * ...). Its length in bytes, or 0. */
static size_t punct_len(const unsigned char *q, size_t len, size_t i)
{
	if (i + 1 < len && q[i] == 0xC2 && q[i + 1] >= 0xA0)
		return 2;
	if (i + 2 < len && q[i] == 0xE2 && (q[i + 1] == 0x80 || q[i + 1] == 0x81))
		return 3;
	return 0;
}

static bool in_word(const unsigned char *q, size_t len, size_t i)
{
	return i < len && (q[i] < 0x80 ? word_byte(q[i]) : punct_len(q, len, i) == 0);
}

/* The end of the word at i: letters, digits, other non-ASCII characters,
 * and an apostrophe (ASCII or U+2019) between two of them ("don't"). */
static size_t word_end(const unsigned char *q, size_t len, size_t i)
{
	for (;;) {
		while (in_word(q, len, i))
			i++;
		if (i < len && q[i] == '\'' && in_word(q, len, i + 1))
			i++;
		else if (i + 3 < len && q[i] == 0xE2 && q[i + 1] == 0x80 && q[i + 2] == 0x99 &&
			 in_word(q, len, i + 3))
			i += 3;
		else
			return i;
	}
}

/* Where a number written as "$1,000", "1.5k", "$1k" or "5%" starting at
 * i ends, when it is one the signature reads as a number; else 0. */
static size_t number_end(const unsigned char *q, size_t len, size_t i, char v[SEM_VAL_MAX])
{
	size_t p = i;

	if (p < len && q[p] == '$')
		p++;
	else if (p + 1 < len && q[p] == 0xC2 && (q[p + 1] == 0xA3 || q[p + 1] == 0xA5))
		p += 2;
	else if (p + 2 < len && q[p] == 0xE2 && q[p + 1] == 0x82 && q[p + 2] == 0xAC)
		p += 3;
	if (p >= len || q[p] < '0' || q[p] > '9')
		return 0;
	while (p < len && ((q[p] >= '0' && q[p] <= '9') ||
			   ((q[p] == ',' || q[p] == '.') && p + 1 < len && q[p + 1] >= '0' &&
			    q[p + 1] <= '9')))
		p++;
	while (p < len && ((q[p] | 0x20) >= 'a' && (q[p] | 0x20) <= 'z'))
		p++;
	p += p < len && q[p] == '%';
	if (in_word(q, len, p) || !sem_number_canon((const char *)q + i, p - i, v))
		return 0;
	return p;
}

/* A number counts in its canonical form, as in the signature: "$1k",
 * "$1,000" and "$1000" are one feature; "5%" is "5" and "percent", as
 * "5 percent" is. */
static void embed_number(float *out, char *v)
{
	size_t n = strlen(v);
	bool percent = n > 1 && v[n - 1] == '%';
	struct eword e;

	if (percent)
		v[n - 1] = '\0';
	eword_set(&e, v);
	e.weight = GUARD_WEIGHT;
	embed_form(out, &e);
	if (percent)
		embed_word(out, "percent", 7);
}

void sem_embed_local(const char *query, float out[SEM_DIM])
{
	size_t len = query ? strnlen(query, SEM_QUERY_MAX_BYTES + 1) : 0;
	const unsigned char *q = (const unsigned char *)query;

	memset(out, 0, SEM_DIM * sizeof(out[0]));
	/* Bounded work: a longer question is embedded by its first part
	 * (sem_signature refuses it, so it can never match anyway). */
	if (len > SEM_QUERY_MAX_BYTES)
		len = utf8_cut(query, SEM_QUERY_MAX_BYTES);
	for (size_t i = 0; i < len;) {
		char v[SEM_VAL_MAX];
		size_t end = (i == 0 || !in_word(q, len, i - 1)) ? number_end(q, len, i, v) : 0;

		if (end) {
			embed_number(out, v);
			i = end;
			continue;
		}
		if (!in_word(q, len, i)) {
			size_t skip = punct_len(q, len, i);

			i += skip ? skip : 1;
			continue;
		}
		end = word_end(q, len, i);
		embed_word(out, query + i, end - i);
		i = end;
	}
	sem_l2_normalize(out, SEM_DIM);
}
