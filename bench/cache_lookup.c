/*
 * cache_lookup: what a result-cache lookup costs at 1,000, 10,000 and
 * 100,000 entries, through the cache API, against the plain way of doing
 * the same on the same database.
 *
 * Entries share one scope and have a realistic shape (256-float local
 * embeddings, 50 distinct signatures in turn, ~200 bytes of code and
 * ~1.5 KiB of result JSON); every vector is random from a fixed seed. They
 * are added by SQL in large transactions on a second connection (through
 * the cache's own triggers), which keeps the run short and exercises the
 * cache handle's catch-up as another node's writes would; the catch-up and
 * cache_put() (replacing entries) are timed and printed apart. At each size:
 *
 *   exact     cache_get_exact() of a random stored key, against a scan
 *             written the obvious way: SELECT every row of the scope, compare
 *             the key, then read the winner's row.
 *   semantic  cache_get_semantic() of a random stored entry's vector plus
 *             noise (cosine about 0.95 to it, near 0 to the others), against
 *             the obvious scan: SELECT every row of the scope, compare the
 *             signature and the other group fields, decode each embedding,
 *             compute sem_cosine(), keep the best, check sem_match(), then
 *             read the winner's row.
 *
 * Both sides read the winner's whole row; the API side also records the
 * hit (noted in memory and written every 256 hits, which shows in its
 * p99), so it does strictly more and the ratio is the price of finding the
 * entry. Every lookup must find the entry its query was made from, on both
 * sides (checked; the run fails otherwise). The API side runs API_LOOKUPS lookups; the scan side runs
 * until SCAN_LOOKUPS or SCAN_BUDGET_MS per case, at least SCAN_MIN, so the
 * whole program stays within about two minutes; with few samples the p99 is
 * close to the maximum. The two sides run one after the other, not
 * interleaved, so the scans do not evict the index from the CPU caches
 * between API lookups. Percentiles are nearest-rank. The temporary
 * directory (under /tmp) is removed at exit, also on failure.
 */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "cache/cache.h"
#include "cache/semantic.h"
#include "util/banned.h"

#define SIGNATURES 50
#define API_LOOKUPS 2000
#define SCAN_LOOKUPS 1000
#define SCAN_MIN 20
#define SCAN_BUDGET_MS 6000
#define FILL_TX 5000
#define PUTS 500
#define RESULT_BYTES 1500
#define SCOPE "team:bench"
#define MODEL "llama3.1"
#define EMBED "local"
#define FINGERPRINT "9f2c41d07e5b3a8861c0f4e2d9b7a6c5e3f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7"
#define MIN_SIM SEM_LOCAL_MIN_SIMILARITY
#define T0 INT64_C(1700000000000)

static const size_t sizes[] = { 1000, 10000, 100000 };
#define N_SIZES (sizeof(sizes) / sizeof(sizes[0]))

struct bench {
	char dir[64];
	bool dir_made;
	struct cache *cache;
	sqlite3 *db;                 /* the scan side's own connection */
	sqlite3_stmt *insert, *scan_keys, *scan_vecs, *fetch;
	size_t n;                    /* entries stored so far */
	char result[RESULT_BYTES + 1];
	int64_t *api_ns, *scan_ns;
	float *queries;              /* API_LOOKUPS x SEM_DIM */
	size_t *targets;             /* the entry each query was made from */
	int64_t now_ms;
};

struct summary {
	double median_us, p99_us;
	size_t n;
};

/* ---- deterministic data ---- */

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64: good enough spread, one line of state. */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static float rng_unit(uint64_t *s)
{
	return (float)((double)(rng_next(s) >> 11) / 9007199254740992.0) * 2.0f - 1.0f;
}

/* Entry i's vector, from its own seed, normalised as local embeddings are. */
static void vec_of(size_t i, float v[SEM_DIM])
{
	uint64_t s = 0x5eed0000ULL + i;

	for (size_t k = 0; k < SEM_DIM; k++)
		v[k] = rng_unit(&s);
	sem_l2_normalize(v, SEM_DIM);
}

static void key_of(size_t i, char key[65])
{
	uint64_t s = 0xc0ffeeULL + i;

	snprintf(key, 65, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, rng_next(&s),
		 rng_next(&s), rng_next(&s), rng_next(&s));
}

static void signature_of(size_t i, char sig[64])
{
	snprintf(sig, 64, "dir:top|n:%zu|w:customer|seq:dir:top,n:%zu,w:customer", i % SIGNATURES,
		 i % SIGNATURES);
}

static struct summary summarize(int64_t *ns, size_t n);

/* ---- setup ---- */

static int64_t clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int dir_make(struct bench *bn)
{
	snprintf(bn->dir, sizeof(bn->dir), "/tmp/cache_lookup.XXXXXX");
	if (!mkdtemp(bn->dir)) {
		fprintf(stderr, "cache_lookup: cannot create a directory under /tmp: %s\n",
			strerror(errno));
		return -errno;
	}
	bn->dir_made = true;
	return 0;
}

static int cache_setup(struct bench *bn)
{
	struct cache_limits l = { 0, 2 * sizes[N_SIZES - 1] };
	char err[256] = "";
	int r = cache_open(bn->dir, &l, &bn->cache, err, sizeof(err));

	if (r < 0)
		fprintf(stderr, "cache_lookup: cache_open(%s): %s\n", bn->dir, err);
	memset(bn->result, 'r', RESULT_BYTES);
	memcpy(bn->result, "{\"rows\":\"", 9);
	memcpy(bn->result + RESULT_BYTES - 2, "\"}", 3);
	return r;
}

static int prepare(struct bench *bn, const char *sql, sqlite3_stmt **ret)
{
	if (sqlite3_prepare_v2(bn->db, sql, -1, ret, NULL) == SQLITE_OK)
		return 0;
	fprintf(stderr, "cache_lookup: %s: %s\n", sql, sqlite3_errmsg(bn->db));
	return -EIO;
}

/* The scan side: its own connection to the same file, configured as the
 * cache's own (WAL, synchronous=NORMAL), statements prepared once. */
static int scan_setup(struct bench *bn)
{
	char path[128];
	int r;

	snprintf(path, sizeof(path), "%s/ledgerbox.db", bn->dir);
	if (sqlite3_open_v2(path, &bn->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		fprintf(stderr, "cache_lookup: cannot open %s\n", path);
		return -EIO;
	}
	sqlite3_busy_timeout(bn->db, 10000);
	if (sqlite3_exec(bn->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK)
		return -EIO;
	r = prepare(bn,
		    "INSERT INTO cache_entries (key, scope, dataset, fingerprint, language, model,"
		    " embed_model, signature, query_norm, embedding, code, result, run_id,"
		    " created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
		    &bn->insert);
	if (r == 0)
		r = prepare(bn, "SELECT id, key FROM cache_entries WHERE scope = ?1", &bn->scan_keys);
	if (r == 0)
		r = prepare(bn,
			    "SELECT id, signature, dataset, fingerprint, language, model,"
			    " embed_model, embedding FROM cache_entries WHERE scope = ?1",
			    &bn->scan_vecs);
	if (r == 0)
		r = prepare(bn,
			    "SELECT e.key, e.scope, e.dataset, e.fingerprint, e.language, e.model,"
			    " e.query_norm, e.signature, e.embedding, e.embed_model, e.code,"
			    " e.result, e.run_id, e.created_ms, u.last_used_ms, u.hits"
			    " FROM cache_entries e JOIN cache_usage u ON u.id = e.id WHERE e.id = ?1",
			    &bn->fetch);
	return r;
}

/* Entry i, as the bench stores it. */
struct entry_data {
	struct cache_entry e;
	float v[SEM_DIM];
	char sig[64], code[256], query[80];
};

static void entry_of(const struct bench *bn, size_t i, struct entry_data *d)
{
	struct cache_entry *e = &d->e;

	memset(d, 0, sizeof(*d));
	key_of(i, e->key);
	snprintf(e->scope, sizeof(e->scope), SCOPE);
	snprintf(e->dataset, sizeof(e->dataset), "demo");
	snprintf(e->fingerprint, sizeof(e->fingerprint), FINGERPRINT);
	snprintf(e->language, sizeof(e->language), "sql");
	snprintf(e->model, sizeof(e->model), MODEL);
	snprintf(e->embed_model, sizeof(e->embed_model), EMBED);
	snprintf(e->run_id, sizeof(e->run_id), "run-%zu", i);
	signature_of(i, d->sig);
	snprintf(d->query, sizeof(d->query), "top %zu customers by revenue, variant %zu",
		 i % SIGNATURES, i);
	snprintf(d->code, sizeof(d->code),
		 "SELECT c.name, SUM(i.amount) AS revenue FROM invoices i JOIN customers c"
		 " ON c.id = i.customer_id GROUP BY c.name ORDER BY revenue DESC LIMIT %zu -- %zu",
		 i % SIGNATURES, i);
	vec_of(i, d->v);
	e->signature = d->sig;
	e->query_norm = d->query;
	e->code = d->code;
	e->result = (char *)bn->result;
	e->embedding = d->v;
	e->dim = SEM_DIM;
}

/* The embedding as the cache stores it: little-endian float32. */
static void blob_of(const float *v, unsigned char out[SEM_DIM * 4])
{
	for (size_t k = 0; k < SEM_DIM; k++) {
		uint32_t bits;

		memcpy(&bits, &v[k], 4);
		for (int b = 0; b < 4; b++)
			out[k * 4 + (size_t)b] = (unsigned char)(bits >> (8 * b));
	}
}

static int insert_row(struct bench *bn, size_t i)
{
	struct entry_data d;
	unsigned char blob[SEM_DIM * 4];
	sqlite3_stmt *st = bn->insert;
	const char *text[9];
	int rc;

	entry_of(bn, i, &d);
	text[0] = d.e.key;
	text[1] = d.e.scope;
	text[2] = d.e.dataset;
	text[3] = d.e.fingerprint;
	text[4] = d.e.language;
	text[5] = d.e.model;
	text[6] = d.e.embed_model;
	text[7] = d.sig;
	text[8] = d.query;
	blob_of(d.v, blob);
	for (int k = 0; k < 9; k++)
		sqlite3_bind_text(st, k + 1, text[k], -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 10, blob, sizeof(blob), SQLITE_STATIC);
	sqlite3_bind_text(st, 11, d.code, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 12, bn->result, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 13, d.e.run_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 14, bn->now_ms++);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 0;
	fprintf(stderr, "cache_lookup: insert %zu: %s\n", i, sqlite3_errmsg(bn->db));
	return -EIO;
}

/* Adds entries by SQL on the scan side's connection, FILL_TX rows per
 * transaction: the cache's triggers keep count and log them, and the
 * cache handle picks them up as it would another node's writes (timed
 * below as the index catch-up). cache_put() is timed separately. */
static int fill_to(struct bench *bn, size_t target)
{
	int64_t t0 = clock_ns();
	int r = 0;

	while (r == 0 && bn->n < target) {
		r = sqlite3_exec(bn->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
		for (size_t k = 0; r == 0 && k < FILL_TX && bn->n < target; k++, bn->n++)
			r = insert_row(bn, bn->n);
		if (sqlite3_exec(bn->db, r == 0 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
			r = -EIO;
	}
	if (r == 0)
		printf("  filled to %zu entries by SQL in %.1f s\n", target,
		       (double)(clock_ns() - t0) / 1e9);
	return r;
}

/* The first lookup after the fill brings the handle's index up to date;
 * timed apart, it is what a node pays after another wrote that much. */
static int index_catch_up(struct bench *bn)
{
	struct cache_entry e;
	float q[SEM_DIM];
	int64_t t0 = clock_ns();
	int r;

	vec_of(0, q);
	r = cache_get_semantic(bn->cache, SCOPE, "demo", FINGERPRINT, "sql", MODEL, EMBED,
			       "no such signature", q, SEM_DIM, MIN_SIM, bn->now_ms++, &e, NULL);
	if (r != -ENOENT) {
		fprintf(stderr, "cache_lookup: catch-up lookup: %s\n", strerror(-r));
		return -EIO;
	}
	printf("  index catch-up to %zu entries: %.1f ms\n", bn->n,
	       (double)(clock_ns() - t0) / 1e6);
	return 0;
}

/* cache_put() replacing PUTS stored entries with the same content. */
static int measure_puts(struct bench *bn)
{
	struct entry_data d;
	struct summary s;
	uint64_t seed = 0x9e7 + bn->n;

	for (size_t k = 0; k < PUTS; k++) {
		int64_t t0;
		int r;

		entry_of(bn, (size_t)(rng_next(&seed) % bn->n), &d);
		t0 = clock_ns();
		r = cache_put(bn->cache, &d.e, bn->now_ms++);
		bn->api_ns[k] = clock_ns() - t0;
		if (r < 0) {
			fprintf(stderr, "cache_lookup: cache_put: %s\n", strerror(-r));
			return r;
		}
	}
	s = summarize(bn->api_ns, PUTS);
	printf("  cache_put (replacing an entry): median %.1f us, p99 %.1f us, n %d\n",
	       s.median_us, s.p99_us, PUTS);
	fflush(stdout);
	return 0;
}

/* Query k: a random stored entry's vector plus noise (cosine ~0.95). */
static void queries_make(struct bench *bn, uint64_t seed)
{
	uint64_t s = seed;

	for (size_t k = 0; k < API_LOOKUPS; k++) {
		float *q = bn->queries + k * SEM_DIM;

		bn->targets[k] = (size_t)(rng_next(&s) % bn->n);
		vec_of(bn->targets[k], q);
		for (size_t d = 0; d < SEM_DIM; d++)
			q[d] += 0.33f * rng_unit(&s) / 16.0f * 1.7320508f;
		sem_l2_normalize(q, SEM_DIM);
	}
}

/* ---- the API side ---- */

static int run_id_check(const char *got, size_t want)
{
	char expect[32];

	snprintf(expect, sizeof(expect), "run-%zu", want);
	if (strcmp(got, expect) == 0)
		return 0;
	fprintf(stderr, "cache_lookup: found %s, expected %s\n", got, expect);
	return -EIO;
}

static int api_exact(struct bench *bn, size_t k)
{
	struct cache_entry e;
	char key[65];
	int r;

	key_of(bn->targets[k], key);
	r = cache_get_exact(bn->cache, key, SCOPE, bn->now_ms++, &e);
	if (r < 0) {
		fprintf(stderr, "cache_lookup: cache_get_exact: %s\n", strerror(-r));
		return r;
	}
	r = run_id_check(e.run_id, bn->targets[k]);
	cache_entry_release(&e);
	return r;
}

static int api_semantic(struct bench *bn, size_t k)
{
	struct cache_entry e;
	char sig[64];
	float sim;
	int r;

	signature_of(bn->targets[k], sig);
	r = cache_get_semantic(bn->cache, SCOPE, "demo", FINGERPRINT, "sql", MODEL, EMBED, sig,
			       bn->queries + k * SEM_DIM, SEM_DIM, MIN_SIM, bn->now_ms++, &e,
			       &sim);
	(void)sim;
	if (r < 0) {
		fprintf(stderr, "cache_lookup: cache_get_semantic: %s\n", strerror(-r));
		return r;
	}
	r = run_id_check(e.run_id, bn->targets[k]);
	cache_entry_release(&e);
	return r;
}

/* ---- the scan side ---- */

static char *text_dup(sqlite3_stmt *st, int col)
{
	const char *s = (const char *)sqlite3_column_text(st, col);

	return strdup(s ? s : "");
}

/* Reads the winner's whole row, as the API returns it. */
static int scan_take(struct bench *bn, int64_t id, size_t want)
{
	char *fields[6];
	int r = -EIO;

	sqlite3_bind_int64(bn->fetch, 1, id);
	if (sqlite3_step(bn->fetch) == SQLITE_ROW) {
		const int cols[6] = { 6, 7, 10, 11, 12, 1 };
		size_t len = (size_t)sqlite3_column_bytes(bn->fetch, 8);
		float *v = malloc(len ? len : 1);

		for (int i = 0; i < 6; i++)
			fields[i] = text_dup(bn->fetch, cols[i]);
		if (v && len)
			memcpy(v, sqlite3_column_blob(bn->fetch, 8), len);
		r = run_id_check(fields[4], want);
		for (int i = 0; i < 6; i++)
			free(fields[i]);
		free(v);
	}
	sqlite3_reset(bn->fetch);
	return r;
}

static int scan_exact(struct bench *bn, size_t k)
{
	char key[65];
	int64_t id = -1;

	key_of(bn->targets[k], key);
	sqlite3_bind_text(bn->scan_keys, 1, SCOPE, -1, SQLITE_STATIC);
	while (sqlite3_step(bn->scan_keys) == SQLITE_ROW) {
		const char *got = (const char *)sqlite3_column_text(bn->scan_keys, 1);

		if (got && strcmp(got, key) == 0) {
			id = sqlite3_column_int64(bn->scan_keys, 0);
			break;
		}
	}
	sqlite3_reset(bn->scan_keys);
	return id < 0 ? -ENOENT : scan_take(bn, id, bn->targets[k]);
}

static bool column_is(sqlite3_stmt *st, int col, const char *want)
{
	const char *got = (const char *)sqlite3_column_text(st, col);

	return got && strcmp(got, want) == 0;
}

static int scan_semantic(struct bench *bn, size_t k)
{
	const float *q = bn->queries + k * SEM_DIM;
	float v[SEM_DIM], best = -INFINITY;
	char sig[64];
	int64_t best_id = -1;
	sqlite3_stmt *st = bn->scan_vecs;

	signature_of(bn->targets[k], sig);
	sqlite3_bind_text(st, 1, SCOPE, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		float sim;

		if (!column_is(st, 1, sig) || !column_is(st, 2, "demo") || !column_is(st, 3, FINGERPRINT) ||
		    !column_is(st, 4, "sql") || !column_is(st, 5, MODEL) || !column_is(st, 6, EMBED) ||
		    sqlite3_column_bytes(st, 7) != SEM_DIM * 4)
			continue;
		memcpy(v, sqlite3_column_blob(st, 7), sizeof(v));
		sim = sem_cosine(q, v, SEM_DIM);
		if (sim > best) {
			best = sim;
			best_id = sqlite3_column_int64(st, 0);
		}
	}
	sqlite3_reset(st);
	if (best_id < 0 || !sem_match(sig, sig, best, MIN_SIM))
		return -ENOENT;
	return scan_take(bn, best_id, bn->targets[k]);
}

/* ---- measuring ---- */

static int ns_compare(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static struct summary summarize(int64_t *ns, size_t n)
{
	struct summary s;
	size_t r50 = (50 * n + 99) / 100, r99 = (99 * n + 99) / 100;

	qsort(ns, n, sizeof(*ns), ns_compare);
	s.median_us = (double)ns[r50 ? r50 - 1 : 0] / 1000.0;
	s.p99_us = (double)ns[r99 ? r99 - 1 : 0] / 1000.0;
	s.n = n;
	return s;
}

typedef int (*lookup_fn)(struct bench *bn, size_t k);

static int measure_api(struct bench *bn, lookup_fn fn, struct summary *ret)
{
	for (size_t k = 0; k < API_LOOKUPS; k++) {
		int64_t t0 = clock_ns();

		if (fn(bn, k) < 0)
			return -EIO;
		bn->api_ns[k] = clock_ns() - t0;
	}
	*ret = summarize(bn->api_ns, API_LOOKUPS);
	return 0;
}

static int measure_scan(struct bench *bn, lookup_fn fn, struct summary *ret)
{
	int64_t start = clock_ns();
	size_t k = 0;

	for (; k < SCAN_LOOKUPS; k++) {
		int64_t t0 = clock_ns();

		if (k >= SCAN_MIN && (t0 - start) / 1000000 > SCAN_BUDGET_MS)
			break;
		if (fn(bn, k) < 0) {
			fprintf(stderr, "cache_lookup: the scan did not find query %zu's entry\n", k);
			return -EIO;
		}
		bn->scan_ns[k] = clock_ns() - t0;
	}
	*ret = summarize(bn->scan_ns, k);
	return 0;
}

static void row_print(size_t entries, const char *kind, const struct summary *api,
		      const struct summary *scan)
{
	printf("%9zu  %-9s %10.1f %10.1f %6zu %12.1f %10.1f %6zu %10.1fx\n", entries, kind,
	       api->median_us, api->p99_us, api->n, scan->median_us, scan->p99_us, scan->n,
	       scan->median_us / api->median_us);
	fflush(stdout);
}

static int measure_size(struct bench *bn, size_t entries)
{
	struct summary api, scan;
	int r = fill_to(bn, entries);

	if (r == 0)
		r = index_catch_up(bn);
	if (r == 0)
		r = measure_puts(bn);
	queries_make(bn, 0xabcdef + entries);
	if (r == 0)
		r = measure_api(bn, api_exact, &api);
	if (r == 0)
		r = measure_scan(bn, scan_exact, &scan);
	if (r == 0)
		row_print(entries, "exact", &api, &scan);
	if (r == 0)
		r = measure_api(bn, api_semantic, &api);
	if (r == 0)
		r = measure_scan(bn, scan_semantic, &scan);
	if (r == 0)
		row_print(entries, "semantic", &api, &scan);
	return r;
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	if (remove(path) < 0)
		fprintf(stderr, "cache_lookup: cannot remove %s: %s\n", path, strerror(errno));
	return 0; /* keep going: remove as much as possible */
}

static void bench_release(struct bench *bn)
{
	sqlite3_finalize(bn->insert);
	sqlite3_finalize(bn->scan_keys);
	sqlite3_finalize(bn->scan_vecs);
	sqlite3_finalize(bn->fetch);
	sqlite3_close(bn->db);
	cache_close(bn->cache);
	free(bn->api_ns);
	free(bn->scan_ns);
	free(bn->queries);
	free(bn->targets);
	if (bn->dir_made && nftw(bn->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS) < 0)
		fprintf(stderr, "cache_lookup: cannot remove %s: %s\n", bn->dir, strerror(errno));
}

static int samples_alloc(struct bench *bn)
{
	bn->api_ns = calloc(API_LOOKUPS, sizeof(*bn->api_ns));
	bn->scan_ns = calloc(SCAN_LOOKUPS, sizeof(*bn->scan_ns));
	bn->queries = calloc((size_t)API_LOOKUPS * SEM_DIM, sizeof(float));
	bn->targets = calloc(API_LOOKUPS, sizeof(*bn->targets));
	if (bn->api_ns && bn->scan_ns && bn->queries && bn->targets)
		return 0;
	fprintf(stderr, "cache_lookup: out of memory\n");
	return -ENOMEM;
}

int main(void)
{
	struct bench bn;
	int r;

	memset(&bn, 0, sizeof(bn));
	bn.now_ms = T0;
	r = samples_alloc(&bn);
	if (r == 0)
		r = dir_make(&bn);
	if (r == 0)
		r = cache_setup(&bn);
	if (r == 0)
		r = scan_setup(&bn);
	if (r == 0) {
		printf("cache_lookup: one scope, %d signatures, %d-float embeddings, "
		       "~%d-byte results, in %s (removed at exit); times in us\n",
		       SIGNATURES, SEM_DIM, RESULT_BYTES, bn.dir);
		printf("%9s  %-9s %10s %10s %6s %12s %10s %6s %11s\n", "entries", "lookup",
		       "api_med", "api_p99", "n", "scan_med", "scan_p99", "n", "scan/api");
	}
	for (size_t i = 0; r == 0 && i < N_SIZES; i++)
		r = measure_size(&bn, sizes[i]);
	bench_release(&bn);
	return r == 0 ? 0 : 1;
}
