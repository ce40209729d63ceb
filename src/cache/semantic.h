/*
 * semantic: the pure matching core of the semantic result cache.
 *
 * A cached answer may be handed to a new plain-words question only when the
 * two questions ask for the same thing. Two guards decide that, and both
 * must pass (sem_match):
 *
 *   1. The signature: a canonical string of everything in a question that
 *      changes its answer: numbers, dates, quoted strings, names, negations,
 *      directions, aggregates, operators, periods and every other word
 *      (pronouns, modals and prepositions included) that a closed list of
 *      filler does not name, plus the order those parts were written in. Two
 *      questions are compatible only when their signatures are byte-equal,
 *      so a differing number, date, name or word is never bridged.
 *   2. The similarity of their local embeddings (hashed character n-grams
 *      and stemmed words) must reach a threshold, so a question that merely
 *      shares its key words with a cached one but is worded very
 *      differently is a miss.
 *
 * A wrong answer is worse than a miss: every doubt resolves to "different".
 * Everything here is pure: no I/O, no global state, no time, no locale, and
 * the same input gives the same bytes on every machine. docs/cache-matching.md
 * explains the rules and the threshold.
 */
#ifndef LEDGERBOX_CACHE_SEMANTIC_H
#define LEDGERBOX_CACHE_SEMANTIC_H

#include <stdbool.h>
#include <stddef.h>

#define SEM_DIM 256 /* local embedding size */

/* Opens every non-empty signature. A change of the rules that could make
 * two questions equal that were not, or the reverse, changes it, so an
 * entry stored under older rules is never served: its signature can no
 * longer be byte-equal to a new one. */
#define SEM_SIGNATURE_VERSION "v3"

/* Longest question the functions below accept (the API refuses queries over
 * 4000 bytes). sem_normalize and sem_signature refuse a longer one with
 * -E2BIG rather than key on a cut copy: two long questions that share their
 * first bytes must not look equal. sem_embed_local embeds at most this many
 * bytes, so its work is bounded whatever it is given. */
#define SEM_QUERY_MAX_BYTES 4096u

/* The default similarity threshold for sem_embed_local vectors. The lowest
 * must-match pair in tests/cache/test_semantic.c measures 0.913 (margin
 * 0.113, the test demands 0.05); the closest must-not pair that the
 * similarity alone refuses measures 0.795. Between the two, so that for
 * most differing questions both guards refuse on their own. See
 * docs/cache-matching.md. */
#define SEM_LOCAL_MIN_SIMILARITY 0.80f

/* Normalises a question for the exact cache key: invalid UTF-8 repaired
 * (each bad sequence becomes U+FFFD), ASCII letters lower-cased (other bytes
 * untouched, so multi-byte characters survive), runs of white space made one
 * space, trimmed, trailing '?', '.' and '!' dropped. A quoted string ('..',
 * "..", typographic quotes) is kept byte for byte: 'ACME' and 'acme' are
 * different questions to SQL. *ret is malloc'd and the
 * caller frees it. Returns 0, -EINVAL (NULL), -E2BIG (longer than
 * SEM_QUERY_MAX_BYTES) or -ENOMEM. */
int sem_normalize(const char *query, char **ret);

/* The signature of a question: SEM_SIGNATURE_VERSION, then categories in a
 * fixed order (n numbers, d dates, q quoted strings and names, neg, dir,
 * agg, op, g periods, w other words), each sorted bytewise and
 * deduplicated, then "seq:" with the same entries in the order written,
 * e.g. for "top 5 customers by revenue": "v3|n:5|dir:top|w:by|w:customers|
 * w:revenue|seq:dir:top,n:5,w:customers,w:by,w:revenue". Default-deny:
 * only a closed set of transformations makes two questions equal (filler
 * such as "the" and "please", request framing such as "show me",
 * contractions, plurals where the row count cannot depend on them, number
 * words, date spellings, a reviewed synonym table; docs/cache-matching.md).
 * Every other word counts as itself: pronouns, modals, prepositions. A question with no content at
 * all has the empty signature, which matches nothing. *ret is malloc'd and
 * the caller frees it. Returns 0, -EINVAL (NULL), -E2BIG or -ENOMEM. */
int sem_signature(const char *query, char **ret);

/* The built-in embedding: per word, its stem and its character 3- and
 * 4-grams with word boundaries, signed-hashed into SEM_DIM floats and
 * L2-normalised. Filler words weigh half; words that pin or flip an answer
 * (numbers, dates, names, negations, directions, aggregates, periods)
 * weigh double. Deterministic: a fixed hash, no seed. A question with no
 * words gives the zero vector (similar to nothing). NULL is embedded as the
 * empty question. */
void sem_embed_local(const char *query, float out[SEM_DIM]);

/* Cosine similarity in [-1, 1]; for two L2-normalised vectors this is their
 * dot product. 0 when either vector is zero, NULL, or dim is 0. */
float sem_cosine(const float *a, const float *b, size_t dim);

/* Scales v to unit length in place. A zero vector stays zero; a vector with
 * a non-finite component becomes zero (so it matches nothing). */
void sem_l2_normalize(float *v, size_t dim);

/* The decision: true only when both signatures are non-empty and byte-equal
 * and similarity >= min_similarity (NaN never passes). The caller's exact key
 * already holds the dataset fingerprint, language and model. */
bool sem_match(const char *sig_a, const char *sig_b, float similarity, float min_similarity);

#endif
