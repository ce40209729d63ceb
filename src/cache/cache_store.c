/*
 * cache_store: opening and closing the cache's own connection to
 * STATE_DIR/ledgerbox.db (or, through cache_open_url(), to PostgreSQL:
 * cache_pg_store.c), and the counters.
 *
 * The store and the budget part open the same file. All use WAL and a
 * 10 s busy timeout, so the cache's IMMEDIATE transactions wait for
 * theirs rather than fail. The cache alone commits with
 * synchronous=NORMAL: in WAL mode that never corrupts the database, it only
 * lets a power loss forget the last commits, which for a cache costs a
 * re-run; synchronous is per connection, so the store's and the budget
 * part's commits stay fully durable.
 *
 * Open order: directory and file created with owner-only modes before
 * SQLite touches them, connection configured, tables migrated, entries past
 * max_entries evicted (a smaller limit than last time), then the index
 * loaded. Expired entries stay until the next put removes them: open has
 * no notion of the caller's clock, and lookups never return them.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "cache/cache_internal.h"
#include "util/pg.h"
#include "util/banned.h"

/* synchronous=NORMAL: see the top of this file. */
static const struct db_settings settings = {
	.busy_timeout_ms = CACHE_BUSY_TIMEOUT_MS,
	.synchronous = "NORMAL",
	.foreign_keys = false,
	.defensive = true,
};

static int db_open(struct cache *c, const char *state_dir, int dir_fd, char *err,
		   size_t err_len)
{
	int r = db_state_open(state_dir, dir_fd, &settings, &c->db, err, err_len);

	if (r == 0)
		r = cache_schema_migrate(c->db, err, err_len);
	return r;
}

/* Evicts past max_entries and loads the index. */
static int contents_prepare(struct cache *c, char *err, size_t err_len)
{
	int r = cache_tx_begin(c->db);

	if (r == 0)
		r = cache_evict_lru_tx(c, 0);
	if (r >= 0) {
		c->stats.evictions += (uint64_t)r;
		r = cache_log_trim_tx(c, false);
	}
	r = db_tx_end(c->db, r);
	if (r == 0)
		r = cache_sync(c);
	if (r < 0)
		cache_err(err, err_len, "cannot load the cache: %s", sqlite3_errmsg(c->db));
	return r;
}

void cache_free(struct cache *c)
{
	cache_stmts_free(c);
	if (c->db)
		sqlite3_close(c->db);
	if (c->pg)
		PQfinish(c->pg);
	cache_index_free(&c->index);
	free(c);
}

int cache_limits_apply(struct cache *c, const struct cache_limits *l)
{
	uint64_t max = l && l->max_entries ? l->max_entries : CACHE_ENTRIES_DEFAULT;

	if (max > CACHE_ENTRIES_MAX)
		return -EINVAL;
	c->max_entries = max;
	/* Beyond INT64_MAX ms nothing can expire anyway. */
	c->ttl_ms = l && l->ttl_ms > (uint64_t)INT64_MAX ? 0 : l ? l->ttl_ms : 0;
	return 0;
}

int cache_open(const char *state_dir, const struct cache_limits *l, struct cache **ret,
	       char *err, size_t err_len)
{
	struct cache *c;
	int dir_fd = -1, r;

	if (!state_dir || !*state_dir || !ret)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->index_seq = -1;
	r = cache_limits_apply(c, l);
	if (r < 0)
		cache_err(err, err_len, "max_entries is above %u", CACHE_ENTRIES_MAX);
	if (r == 0)
		r = db_state_dir_open(state_dir, &dir_fd, err, err_len);
	if (r == 0)
		r = db_open(c, state_dir, dir_fd, err, err_len);
	if (dir_fd >= 0)
		close(dir_fd);
	if (r == 0)
		r = contents_prepare(c, err, err_len);
	if (r == 0)
		r = -pthread_mutex_init(&c->lock, NULL);
	if (r < 0) {
		cache_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

int cache_open_url(const char *state_dir, const char *database_url, const struct cache_limits *l,
		   struct cache **ret, char *err, size_t err_len)
{
	if (!database_url || !*database_url)
		return cache_open(state_dir, l, ret, err, err_len);
	if (!ret)
		return -EINVAL;
	if (!pg_url_is_postgres(database_url)) {
		cache_err(err, err_len, "%s", "the database URL must start with postgres://");
		return -EINVAL;
	}
	return cache_pg_open(database_url, l, ret, err, err_len);
}

void cache_close(struct cache *c)
{
	if (!c)
		return;
	/* Best effort: hits not written cost at worst an early eviction. */
	(void)cache_usage_flush(c);
	pthread_mutex_destroy(&c->lock);
	cache_free(c);
}

void cache_stats(struct cache *c, struct cache_stats *ret)
{
	int64_t seq, floor;
	uint64_t entries;

	if (!c || !ret)
		return;
	cache_lock(c);
	if (cache_meta_read(c, &seq, &floor, &entries) == 0)
		c->stats.entries = entries;
	/* else: the last count read stands */
	*ret = c->stats;
	cache_unlock(c);
}

void cache_note_miss(struct cache *c)
{
	if (!c)
		return;
	cache_lock(c);
	c->stats.misses++;
	cache_unlock(c);
}
