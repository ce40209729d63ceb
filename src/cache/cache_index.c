/*
 * cache_index: the in-memory index the semantic lookup reads, so that a
 * lookup touches only the vectors of entries it could match instead of
 * decoding every row.
 *
 * Entries with an embedding are grouped by everything a semantic match
 * requires to be equal (scope, dataset, fingerprint, language, model,
 * embed_model, signature, dimension). A group keeps its vectors scaled to
 * unit length (sem_l2_normalize) in one contiguous array, with their row ids
 * and store times, so a lookup is one hash probe and a linear pass of dot
 * products over memory read in order: with both sides of unit length, the
 * dot product is the cosine similarity. A second table maps a row id to its group and position, so
 * an entry removed from the database leaves the index in O(1): the group's
 * last entry moves into the hole.
 *
 * Both tables use open addressing with linear probing and are kept at most
 * half full; deletion shifts the following slots back (no tombstones), so
 * a long-lived index with churn does not slow down. The index holds only
 * what the database holds (cache_sync.c), which max_entries bounds.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache_internal.h"
#include "cache/semantic.h"
#include "util/banned.h"

#define TABLE_MIN 64

/* A final mix (MurmurHash3's fmix64): table positions use the low bits. */
static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static uint64_t key_hash(const struct cache_group_key *k)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (size_t f = 0; f < CACHE_GROUP_FIELDS; f++) {
		for (const unsigned char *p = (const unsigned char *)k->field[f];; p++) {
			h = (h ^ *p) * 0x100000001b3ULL;
			if (!*p)
				break;
		}
	}
	return mix64(h ^ (uint64_t)k->dim);
}

static bool key_equal(const struct cache_group *g, uint64_t hash, const struct cache_group_key *k)
{
	const char *p = g->fields;

	if (g->hash != hash || g->dim != k->dim)
		return false;
	for (size_t f = 0; f < CACHE_GROUP_FIELDS; f++) {
		size_t len = strlen(k->field[f]);

		if ((size_t)(g->fields + g->fields_len - p) <= len || memcmp(p, k->field[f], len + 1))
			return false;
		p += len + 1;
	}
	return true;
}

/* ---- groups by key ---- */

static size_t group_slot_find(const struct cache_index *ix, uint64_t hash,
			      const struct cache_group_key *k)
{
	size_t mask = ix->groups_cap - 1;

	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		struct cache_group *g = ix->groups[i].g;

		if (!g || key_equal(g, hash, k))
			return i;
	}
}

static int group_table_grow(struct cache_index *ix)
{
	size_t cap = ix->groups_cap ? ix->groups_cap * 2 : TABLE_MIN;
	struct cache_group_slot *old = ix->groups, *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < ix->groups_cap; i++) {
		size_t j = old[i].hash & (cap - 1);

		if (!old[i].g)
			continue;
		while (slots[j].g)
			j = (j + 1) & (cap - 1);
		slots[j] = old[i];
	}
	free(old);
	ix->groups = slots;
	ix->groups_cap = cap;
	return 0;
}

/* Backward-shift deletion: moves later slots of the run into the hole
 * when their home position allows it. */
static void group_slot_delete(struct cache_index *ix, size_t hole)
{
	size_t mask = ix->groups_cap - 1;

	for (size_t i = (hole + 1) & mask; ix->groups[i].g; i = (i + 1) & mask) {
		size_t home = ix->groups[i].hash & mask;

		if (((i - home) & mask) >= ((i - hole) & mask)) {
			ix->groups[hole] = ix->groups[i];
			hole = i;
		}
	}
	ix->groups[hole].g = NULL;
	ix->groups[hole].hash = 0;
	ix->groups_n--;
}

static struct cache_group *group_new(uint64_t hash, const struct cache_group_key *k)
{
	struct cache_group *g = calloc(1, sizeof(*g));
	size_t len = 0;

	if (!g)
		return NULL;
	for (size_t f = 0; f < CACHE_GROUP_FIELDS; f++)
		len += strlen(k->field[f]) + 1;
	g->fields = malloc(len);
	if (!g->fields) {
		free(g);
		return NULL;
	}
	for (size_t f = 0, off = 0; f < CACHE_GROUP_FIELDS; f++) {
		size_t n = strlen(k->field[f]) + 1;

		memcpy(g->fields + off, k->field[f], n);
		off += n;
	}
	g->fields_len = len;
	g->hash = hash;
	g->dim = k->dim;
	return g;
}

static void group_free(struct cache_group *g)
{
	if (!g)
		return;
	free(g->fields);
	free(g->vecs);
	free(g->ids);
	free(g->created_ms);
	free(g);
}

/* The group of a key, created when missing. */
static int group_get(struct cache_index *ix, const struct cache_group_key *k,
		     struct cache_group **ret)
{
	uint64_t hash = key_hash(k);
	size_t slot;

	if ((ix->groups_n + 1) * 2 > ix->groups_cap && group_table_grow(ix) < 0)
		return -ENOMEM;
	slot = group_slot_find(ix, hash, k);
	if (!ix->groups[slot].g) {
		struct cache_group *g = group_new(hash, k);

		if (!g)
			return -ENOMEM;
		ix->groups[slot].g = g;
		ix->groups[slot].hash = hash;
		ix->groups_n++;
	}
	*ret = ix->groups[slot].g;
	return 0;
}

struct cache_group *cache_index_group(const struct cache_index *ix, const struct cache_group_key *k)
{
	if (!ix->groups_n)
		return NULL;
	return ix->groups[group_slot_find(ix, key_hash(k), k)].g;
}

/* ---- entries by row id ---- */

static size_t id_slot_find(const struct cache_index *ix, int64_t id)
{
	size_t mask = ix->ids_cap - 1;

	for (size_t i = mix64((uint64_t)id) & mask;; i = (i + 1) & mask) {
		if (ix->ids[i].id == 0 || ix->ids[i].id == id)
			return i;
	}
}

static int id_table_grow(struct cache_index *ix)
{
	size_t cap = ix->ids_cap ? ix->ids_cap * 2 : TABLE_MIN;
	struct cache_id_slot *old = ix->ids, *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < ix->ids_cap; i++) {
		size_t j = mix64((uint64_t)old[i].id) & (cap - 1);

		if (!old[i].id)
			continue;
		while (slots[j].id)
			j = (j + 1) & (cap - 1);
		slots[j] = old[i];
	}
	free(old);
	ix->ids = slots;
	ix->ids_cap = cap;
	return 0;
}

static void id_slot_delete(struct cache_index *ix, size_t hole)
{
	size_t mask = ix->ids_cap - 1;

	for (size_t i = (hole + 1) & mask; ix->ids[i].id; i = (i + 1) & mask) {
		size_t home = mix64((uint64_t)ix->ids[i].id) & mask;

		if (((i - home) & mask) >= ((i - hole) & mask)) {
			ix->ids[hole] = ix->ids[i];
			hole = i;
		}
	}
	memset(&ix->ids[hole], 0, sizeof(ix->ids[hole]));
	ix->ids_n--;
}

/* ---- a group's arrays ---- */

static int group_resize(struct cache_group *g, size_t cap)
{
	float *vecs = realloc(g->vecs, cap * g->dim * sizeof(float));
	int64_t *ids, *created;

	if (!vecs)
		return -ENOMEM;
	g->vecs = vecs;
	ids = realloc(g->ids, cap * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	g->ids = ids;
	created = realloc(g->created_ms, cap * sizeof(*created));
	if (!created)
		return -ENOMEM;
	g->created_ms = created;
	g->cap = cap;
	return 0;
}

static int group_append(struct cache_group *g, int64_t id, int64_t created_ms, const float *vec)
{
	if (g->n == g->cap && group_resize(g, g->cap ? g->cap * 2 : 4) < 0)
		return -ENOMEM;
	memcpy(g->vecs + g->n * g->dim, vec, g->dim * sizeof(float));
	sem_l2_normalize(g->vecs + g->n * g->dim, g->dim);
	g->ids[g->n] = id;
	g->created_ms[g->n] = created_ms;
	g->n++;
	return 0;
}

/* ---- the index ---- */

/* Frees a group that has become empty, finding its slot by identity. */
static void group_drop(struct cache_index *ix, struct cache_group *g)
{
	size_t mask = ix->groups_cap - 1;

	for (size_t i = g->hash & mask;; i = (i + 1) & mask) {
		if (ix->groups[i].g == g) {
			group_slot_delete(ix, i);
			group_free(g);
			return;
		}
	}
}

int cache_index_add(struct cache_index *ix, const struct cache_group_key *k, int64_t id,
		    int64_t created_ms, const float *vec)
{
	struct cache_group *g = NULL;
	size_t slot;
	int r;

	if (id <= 0 || k->dim == 0)
		return -EINVAL;
	cache_index_remove(ix, id);
	if ((ix->ids_n + 1) * 2 > ix->ids_cap && id_table_grow(ix) < 0)
		return -ENOMEM;
	r = group_get(ix, k, &g);
	if (r == 0)
		r = group_append(g, id, created_ms, vec);
	if (r < 0) {
		if (g && g->n == 0) /* just created: do not leave it empty */
			group_drop(ix, g);
		return r;
	}
	slot = id_slot_find(ix, id);
	ix->ids[slot].id = id;
	ix->ids[slot].g = g;
	ix->ids[slot].pos = g->n - 1;
	ix->ids_n++;
	return 0;
}

void cache_index_remove(struct cache_index *ix, int64_t id)
{
	struct cache_group *g;
	size_t slot, pos, last;

	if (!ix->ids_n)
		return;
	slot = id_slot_find(ix, id);
	if (!ix->ids[slot].id)
		return;
	g = ix->ids[slot].g;
	pos = ix->ids[slot].pos;
	id_slot_delete(ix, slot);
	last = g->n - 1;
	if (pos != last) {
		memcpy(g->vecs + pos * g->dim, g->vecs + last * g->dim, g->dim * sizeof(float));
		g->ids[pos] = g->ids[last];
		g->created_ms[pos] = g->created_ms[last];
		ix->ids[id_slot_find(ix, g->ids[pos])].pos = pos;
	}
	g->n--;
	if (g->n == 0)
		group_drop(ix, g);
	else if (g->cap > 16 && g->n < g->cap / 4)
		(void)group_resize(g, g->cap / 2); /* on failure the larger arrays stay valid */
}

size_t cache_index_size(const struct cache_index *ix)
{
	return ix->ids_n;
}

void cache_index_reset(struct cache_index *ix)
{
	for (size_t i = 0; i < ix->groups_cap; i++)
		group_free(ix->groups[i].g);
	free(ix->groups);
	free(ix->ids);
	memset(ix, 0, sizeof(*ix));
}

void cache_index_free(struct cache_index *ix)
{
	if (ix)
		cache_index_reset(ix);
}

/* Eight partial sums: independent chains the CPU can overlap, and the
 * compiler may vectorise without reassociating one long chain. */
static float dot(const float *a, const float *b, size_t dim)
{
	float s[8] = { 0 };
	size_t i = 0;

	for (; i + 8 <= dim; i += 8) {
		for (size_t j = 0; j < 8; j++)
			s[j] += a[i + j] * b[i + j];
	}
	for (; i < dim; i++)
		s[0] += a[i] * b[i];
	return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

/* Newer first among equals: the later store, then the higher row id. */
static bool better(const struct cache_group *g, size_t i, float sim, size_t best, float best_sim)
{
	if (sim != best_sim)
		return sim > best_sim;
	if (g->created_ms[i] != g->created_ms[best])
		return g->created_ms[i] > g->created_ms[best];
	return g->ids[i] > g->ids[best];
}

int cache_group_best(const struct cache_group *g, const float *q, int64_t cutoff_ms,
		     size_t *ret_pos, float *ret_sim)
{
	size_t best = SIZE_MAX;
	float best_sim = -INFINITY;

	for (size_t i = 0; i < g->n; i++) {
		float sim;

		if (g->created_ms[i] <= cutoff_ms)
			continue; /* expired, not yet evicted */
		sim = dot(q, g->vecs + i * g->dim, g->dim);
		if (best == SIZE_MAX || better(g, i, sim, best, best_sim)) {
			best = i;
			best_sim = sim;
		}
	}
	if (best == SIZE_MAX)
		return -ENOENT;
	*ret_pos = best;
	*ret_sim = best_sim;
	return 0;
}
