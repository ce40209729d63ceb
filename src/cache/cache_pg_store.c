/*
 * cache_pg_store: opening the cache on PostgreSQL (cache_open_url() with a
 * postgres:// URL): the handle's own connection, the tables migrated
 * (pg_migrate under its advisory lock, so nodes starting at once are
 * safe), entries past max_entries evicted (a smaller limit than before),
 * then the index loaded. Closing, counters and everything after open go
 * through the shared code, which branches on c->pg where it touches the
 * database.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cache/cache_internal.h"
#include "util/pg.h"
#include "util/banned.h"

static int prepare_run(struct cache *c, void *arg)
{
	uint64_t *evicted = arg;
	int r = cache_pg_write_begin(c);

	if (r < 0)
		return r;
	r = cache_pg_evict_lru_tx(c, 0);
	if (r >= 0) {
		*evicted = (uint64_t)r;
		r = cache_pg_log_trim_tx(c, false);
	}
	return pg_tx_end(c->pg, r < 0 ? r : 0);
}

/* Evicts past max_entries and loads the index. */
static int contents_prepare(struct cache *c, char *err, size_t err_len)
{
	uint64_t evicted = 0;
	int r = cache_pg_do(c, prepare_run, &evicted);

	if (r == 0) {
		c->stats.evictions += evicted;
		r = cache_pg_sync(c);
	}
	if (r < 0 && err && err_len)
		snprintf(err, err_len, "cannot load the cache from PostgreSQL: %s",
			 PQerrorMessage(c->pg));
	return r;
}

static int connect_and_migrate(struct cache *c, const char *url, char *err, size_t err_len)
{
	int r = pg_connect(url, &c->pg, err, err_len);

	if (r < 0)
		return r;
	r = cache_pg_session_setup(c->pg);
	if (r < 0 && err && err_len)
		snprintf(err, err_len, "PostgreSQL refused the cache's session settings: %s",
			 PQerrorMessage(c->pg));
	if (r == 0)
		r = cache_pg_schema_migrate(c->pg, err, err_len);
	return r;
}

int cache_pg_open(const char *url, const struct cache_limits *l, struct cache **ret, char *err,
		  size_t err_len)
{
	struct cache *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->index_seq = -1;
	r = cache_limits_apply(c, l);
	if (r < 0 && err && err_len)
		snprintf(err, err_len, "max_entries is above %u", CACHE_ENTRIES_MAX);
	if (r == 0)
		r = connect_and_migrate(c, url, err, err_len);
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
