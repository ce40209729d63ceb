/*
 * cache_get: the exact and the semantic lookup.
 *
 * Lookups only read: the exact one is one indexed SELECT on (key, scope),
 * the semantic one a check of cache_meta.seq, a pass over one group of the
 * in-memory index and, for a candidate near the threshold, a read of its
 * row. A hit is noted in memory and written later in a batch
 * (cache_usage.c), into cache_usage, a small row apart from the entry, so
 * recording a hit never rewrites a large result.
 *
 * The semantic lookup ranks candidates in the index by the dot product of
 * unit-length float vectors; the winner's row is read only when that
 * similarity comes near the threshold, and then sem_cosine() on the stored
 * embedding and sem_match() on the stored signature (the semantic part's
 * own rules) decide, so the answer is exactly what those functions say.
 * Another handle may delete the winner between the index check and the
 * row read; the lookup then catches up and tries again, a bounded number
 * of times. Both row reads go to whichever back end the handle has; with
 * PostgreSQL each is a statement of its own that sees every commit of
 * every node made before it, so a lookup never serves a row another node
 * has dropped.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache_internal.h"
#include "cache/semantic.h"
#include "util/banned.h"

#define SEMANTIC_TRIES 3
/* How far below the threshold the index's float similarity may be and the
 * candidate still be read for sem_cosine() to decide: covers the rounding
 * of unit-length float vectors, ~dim x 2^-24, with room to spare. */
#define PREFILTER_MARGIN 1e-3f
#define FIELD_SIZE(name) sizeof(((struct cache_entry *)NULL)->name)

/* Records a hit on the entry just read into *e, whose hit count is the
 * database's: the hits still noted in memory are added. */
static int hit_record(struct cache *c, int64_t id, int64_t now_ms, struct cache_entry *e)
{
	uint64_t noted = cache_usage_pending(c, id);
	int r = cache_usage_note(c, id, now_ms);

	if (r < 0)
		return r;
	e->hits += noted + 1;
	e->last_used_ms = now_ms;
	return 0;
}

/* Steps a bound CS_FIND_EXACT or CS_FETCH_ID and reads the row. -ENOENT
 * when there is none. */
static int row_read(sqlite3_stmt *st, struct cache_entry *ret, int64_t *ret_id)
{
	int r = db_step(st);

	if (r == 1) {
		*ret_id = sqlite3_column_int64(st, 16);
		r = cache_entry_from_row(st, ret);
	} else if (r == 0) {
		r = -ENOENT;
	}
	cache_stmt_done(st);
	return r;
}

/* The row of (key, scope) stored after cutoff_ms, from either back end. */
static int read_exact(struct cache *c, const char *key, const char *scope, int64_t cutoff_ms,
		      struct cache_entry *ret, int64_t *ret_id)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (c->pg)
		return cache_pg_fetch_exact(c, key, scope, cutoff_ms, ret, ret_id);
	r = cache_stmt(c, CS_FIND_EXACT, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, scope, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, cutoff_ms);
	return row_read(st, ret, ret_id);
}

/* The row of entry id stored after cutoff_ms, from either back end. */
static int read_id(struct cache *c, int64_t id, int64_t cutoff_ms, struct cache_entry *ret)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (c->pg)
		return cache_pg_fetch_id(c, id, cutoff_ms, ret);
	r = cache_stmt(c, CS_FETCH_ID, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, cutoff_ms);
	return row_read(st, ret, &id);
}

static int exact_locked(struct cache *c, const char *key, const char *scope, int64_t now_ms,
			struct cache_entry *ret)
{
	struct cache_entry e;
	int64_t id = 0;
	int r = read_exact(c, key, scope, cache_expiry_cutoff(c, now_ms), &e, &id);

	if (r < 0)
		return r;
	r = hit_record(c, id, now_ms, &e);
	if (r < 0) {
		cache_entry_release(&e);
		return r;
	}
	*ret = e;
	return 0;
}

int cache_get_exact(struct cache *c, const char *key, const char *scope, int64_t now_ms,
		    struct cache_entry *ret)
{
	int r;

	if (!c || !ret || !scope || now_ms < 0)
		return -EINVAL;
	if (!cache_key_valid(key))
		return -EINVAL;
	cache_lock(c);
	r = exact_locked(c, key, scope, now_ms, ret);
	if (r == 0)
		c->stats.hits_exact++;
	cache_unlock(c);
	return r;
}

/* ---- semantic ---- */

struct semantic_query {
	struct cache_group_key key;
	const float *q;        /* as the caller gave it */
	float *unit;           /* scaled to unit length, for the index */
	float min_similarity;
	int64_t now_ms;
};

/* A caller's string: strnlen() never reads past its terminator. */
static bool text_fits(const char *s, size_t size)
{
	return s && strnlen(s, size) < size;
}

/* The same size rules as for a stored entry (struct cache_entry). */
static int semantic_check(const struct semantic_query *s)
{
	static const size_t sizes[CACHE_GROUP_FIELDS] = {
		FIELD_SIZE(scope),    FIELD_SIZE(dataset), FIELD_SIZE(fingerprint),
		FIELD_SIZE(language), FIELD_SIZE(model),   FIELD_SIZE(embed_model),
		CACHE_SIGNATURE_MAX + 1,
	};

	for (size_t f = 0; f < CACHE_GROUP_FIELDS; f++) {
		if (!text_fits(s->key.field[f], sizes[f]))
			return f == CACHE_GROUP_FIELDS - 1 && s->key.field[f] ? -E2BIG : -EINVAL;
	}
	if (!cache_language_valid(s->key.field[3]) || !s->key.field[0][0])
		return -EINVAL;
	if (!s->q || s->key.dim == 0 || isnan(s->min_similarity) || s->now_ms < 0)
		return -EINVAL;
	if (s->key.dim > CACHE_DIM_MAX)
		return -E2BIG;
	for (size_t i = 0; i < s->key.dim; i++) {
		if (!isfinite(s->q[i]))
			return -EINVAL;
	}
	return 0;
}

/* The index's best candidate, unless even it cannot reach the threshold
 * (then -ENOENT without reading any row). */
static int semantic_candidate(struct cache *c, const struct semantic_query *s, int64_t *ret_id)
{
	const struct cache_group *g;
	size_t pos;
	float sim;
	int r = cache_sync(c);

	if (r < 0)
		return r;
	g = cache_index_group(&c->index, &s->key);
	if (!g)
		return -ENOENT;
	r = cache_group_best(g, s->unit, cache_expiry_cutoff(c, s->now_ms), &pos, &sim);
	if (r < 0)
		return r;
	if (sim < s->min_similarity - PREFILTER_MARGIN)
		return -ENOENT;
	*ret_id = g->ids[pos];
	return 0;
}

/* Reads the candidate's row and lets sem_match() decide on the stored
 * signature and embedding. -ESTALE when the row has gone since the index
 * was brought up to date. */
static int semantic_decide(struct cache *c, const struct semantic_query *s, int64_t id,
			   struct cache_entry *ret, float *ret_sim)
{
	struct cache_entry e;
	float sim;
	int r = read_id(c, id, cache_expiry_cutoff(c, s->now_ms), &e);

	if (r < 0)
		return r == -ENOENT ? -ESTALE : r;
	sim = e.dim == s->key.dim ? sem_cosine(s->q, e.embedding, e.dim) : NAN;
	r = sem_match(s->key.field[6], e.signature, sim, s->min_similarity) ? 0 : -ENOENT;
	if (r == 0)
		r = hit_record(c, id, s->now_ms, &e);
	if (r < 0) {
		cache_entry_release(&e);
		return r;
	}
	*ret = e;
	*ret_sim = sim;
	return 0;
}

static int semantic_locked(struct cache *c, const struct semantic_query *s,
			   struct cache_entry *ret, float *ret_sim)
{
	for (int tries = 0; tries < SEMANTIC_TRIES; tries++) {
		int64_t id = 0;
		int r = semantic_candidate(c, s, &id);

		if (r == 0)
			r = semantic_decide(c, s, id, ret, ret_sim);
		if (r != -ESTALE)
			return r;
	}
	return -ENOENT;
}

int cache_get_semantic(struct cache *c, const char *scope, const char *dataset,
		       const char *fingerprint, const char *language, const char *model,
		       const char *embed_model, const char *signature, const float *embedding,
		       size_t dim, float min_similarity, int64_t now_ms, struct cache_entry *ret,
		       float *ret_similarity)
{
	struct semantic_query s = {
		.key = { { scope, dataset, fingerprint, language, model, embed_model, signature },
			 dim },
		.q = embedding,
		.min_similarity = min_similarity,
		.now_ms = now_ms,
	};
	float sim = 0;
	int r;

	if (!c || !ret)
		return -EINVAL;
	r = semantic_check(&s);
	if (r < 0)
		return r;
	if (!signature[0])
		return -ENOENT; /* the empty signature matches nothing */
	s.unit = malloc(dim * sizeof(float));
	if (!s.unit)
		return -ENOMEM;
	memcpy(s.unit, embedding, dim * sizeof(float));
	sem_l2_normalize(s.unit, dim);
	cache_lock(c);
	r = semantic_locked(c, &s, ret, &sim);
	if (r == 0)
		c->stats.hits_semantic++;
	cache_unlock(c);
	free(s.unit);
	if (r == 0 && ret_similarity)
		*ret_similarity = sim;
	return r;
}
