/*
 * cache: the persistent result cache of /api/analyze, in the state
 * database STATE_DIR/ledgerbox.db (table cache_entries), so a repeated
 * request is answered without running code or asking the LLM again.
 *
 * Two lookups:
 *   exact     by the request's key (hex SHA-256 of the normalised request)
 *             and the caller's scope;
 *   semantic  for plain-words queries: among entries of the same scope,
 *             dataset, fingerprint, language, model, embed_model and a
 *             byte-equal signature (cache/semantic.h), the one whose
 *             embedding is nearest to the query's by cosine similarity, if
 *             it reaches min_similarity.
 * The semantic lookup reads an in-memory index (vectors grouped by those
 * seven fields and the dimension), loaded at open and kept in step with the
 * table, also when other handles (other processes, other nodes on the same
 * state directory) write: see docs/cache.md.
 *
 * Identity: an entry is identified by (key, scope); storing the same key
 * in another scope makes a second entry, so scopes never see each other's.
 * Expiry: an entry expires ttl_ms after it was stored (not after its last
 * use: an answer ages with the data). Eviction: cache_put() removes the
 * expired entries, then the least recently used (by last hit or store) past
 * max_entries; it never removes the entry it has just stored.
 *
 * Hits (last use, hit count) are noted in memory and written in batches,
 * within a second; see docs/cache.md for what other handles see meanwhile.
 *
 * Thread-safe: one SQLite connection and the index per handle, serialised
 * by a mutex. Functions return 0 or -errno: -EINVAL for a malformed
 * argument, -E2BIG for a field over its maximum (below), -ENOENT for a
 * miss, -EBUSY when the database stayed locked for 10 s, -ENOMEM, -EIO for
 * a database failure. Out-parameters are written only on success.
 *
 * Durability: the cache's connection commits with synchronous=NORMAL (WAL),
 * so a power loss may forget the last few stores and hits; it never
 * corrupts the database, and losing a cache entry only costs a re-run.
 */
#ifndef LEDGERBOX_CACHE_H
#define LEDGERBOX_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct cache;

/* Hard maxima of an entry's fields, in bytes without the NUL. */
#define CACHE_RESULT_MAX (16u << 20)   /* the answer JSON */
#define CACHE_CODE_MAX (1u << 20)      /* the code that ran */
#define CACHE_QUERY_MAX (64u << 10)    /* the normalised query */
#define CACHE_SIGNATURE_MAX (16u << 10)
#define CACHE_DIM_MAX 8192u            /* floats in an embedding */
/* max_entries: 0 picks the default; more than the maximum is -EINVAL. The
 * index holds about max_entries x dim x 4 bytes of vectors. */
#define CACHE_ENTRIES_DEFAULT 10000u
#define CACHE_ENTRIES_MAX 1000000u

struct cache_entry {
	char key[65];                /* hex SHA-256 of the normalised request: [0-9a-f]{64} */
	char scope[160];             /* who may see it, e.g. "team:finance": non-empty */
	char dataset[65];            /* "" none */
	char fingerprint[65];        /* the dataset's content fingerprint, "" none */
	char language[8];            /* "python" | "sql" */
	char model[128];             /* "" for code and templates */
	char *query_norm;            /* normalised query; NULL or "" when not a query */
	char *signature;             /* sem_signature of the query; NULL or "" when not a query */
	float *embedding;            /* dim finite floats; NULL with dim 0 when not a query */
	size_t dim;
	char embed_model[128];       /* which embedding made it ("local" or the model name) */
	char *code;                  /* the code that ran; never NULL */
	char *result;                /* the answer JSON text as it was given (compact); never NULL */
	char run_id[65];             /* the run it came from */
	int64_t created_ms, last_used_ms;
	uint64_t hits;
};

struct cache_limits {
	uint64_t ttl_ms;      /* 0: entries never expire */
	uint64_t max_entries; /* 0: CACHE_ENTRIES_DEFAULT */
};

/* Opens (creating STATE_DIR 0700 and the database 0600 if needed, and
 * migrating) the cache tables in STATE_DIR/ledgerbox.db through its own
 * connection, evicts the least recently used entries past max_entries (a
 * smaller limit than before) and loads the semantic index. Expired entries
 * are never returned and go at the next put. -EINVAL for max_entries above
 * CACHE_ENTRIES_MAX. err receives a one-line message on failure. */
int cache_open(const char *state_dir, const struct cache_limits *l, struct cache **ret,
	       char *err, size_t err_len);
/* cache_open() when database_url is NULL or ""; with a postgres:// or
 * postgresql:// URL, the same cache in that PostgreSQL database (tables
 * created or upgraded there, safely when several nodes start at once),
 * behind the same functions with the same rules. Several nodes may share
 * it: a lookup reads the database's current state, so after one node has
 * invalidated or cleared, no node serves a dropped entry. The PostgreSQL
 * back end also returns -ECONNREFUSED or -ECONNRESET when the server
 * cannot be reached (a lost connection is re-established at the next
 * call), -ETIMEDOUT when a statement took over 10 s, -EAGAIN when the
 * server is out of connections. Any other URL is -EINVAL. state_dir is
 * not used then. */
int cache_open_url(const char *state_dir, const char *database_url, const struct cache_limits *l,
		   struct cache **ret, char *err, size_t err_len);
/* Closes; accepts NULL. Entries stay in the database. */
void cache_close(struct cache *c);

/* Stores a copy of *e at now_ms (created_ms and last_used_ms become now_ms,
 * hits 0: the fields of *e are ignored), replacing the entry with the same
 * key and scope, then evicts: expired entries, then the least recently used
 * past max_entries. -E2BIG when a field is over its maximum; -EINVAL when a
 * fixed-size field is not NUL-terminated or breaks a rule above. */
int cache_put(struct cache *c, const struct cache_entry *e, int64_t now_ms);

/* Exact: the entry with this key AND scope, not expired at now_ms. Sets its
 * last_used_ms to now_ms and counts the hit (*ret shows both). -ENOENT when
 * none. *ret receives malloc'd fields: release with cache_entry_release(). */
int cache_get_exact(struct cache *c, const char *key, const char *scope, int64_t now_ms,
		    struct cache_entry *ret);

/* Semantic: among entries with the same scope, dataset, fingerprint,
 * language, model and embed_model, a byte-equal signature and an embedding
 * of the same dim, not expired at now_ms, the one with the highest cosine
 * similarity to `embedding`, if sem_match() accepts it at min_similarity
 * (ties: the most recently stored). -ENOENT when none. *ret and
 * *ret_similarity (may be NULL) on success; the hit is counted as for
 * cache_get_exact(). signature must be non-empty, dim 1..CACHE_DIM_MAX. */
int cache_get_semantic(struct cache *c, const char *scope, const char *dataset,
		       const char *fingerprint, const char *language, const char *model,
		       const char *embed_model, const char *signature, const float *embedding,
		       size_t dim, float min_similarity, int64_t now_ms, struct cache_entry *ret,
		       float *ret_similarity);

/* Drops every entry of a dataset whose fingerprint differs from
 * `fingerprint` (NULL: every entry of the dataset), in every scope.
 * Returns how many (>= 0) or -errno. */
int cache_invalidate_dataset(struct cache *c, const char *dataset, const char *fingerprint);
/* Drops every entry; returns how many or -errno. */
int cache_clear(struct cache *c);

/* Counters of this handle since it was opened, except entries: the number
 * stored now, all handles together. misses counts cache_note_miss() calls
 * only: a lookup that finds nothing does not count itself, since a request
 * that tries the exact and then the semantic lookup misses once. evictions
 * and expired count the entries this handle's puts (and its open) removed
 * for either reason, not invalidations or clears. */
struct cache_stats {
	uint64_t entries, hits_exact, hits_semantic, misses, evictions, expired;
};
void cache_stats(struct cache *c, struct cache_stats *ret);
void cache_note_miss(struct cache *c);

/* Frees the malloc'd fields of an entry a lookup filled and clears them;
 * accepts NULL and an entry already released. */
void cache_entry_release(struct cache_entry *e);

#endif
