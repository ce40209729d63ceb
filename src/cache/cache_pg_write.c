/*
 * cache_pg_write: storing an entry in PostgreSQL, expiry and LRU eviction,
 * and the hits noted in memory written in one statement.
 *
 * A put is one write transaction (cache_pg_write_begin: the meta row
 * locked first, so puts of all nodes run one after another): this handle's
 * hit notes, the delete of the same (key, scope), the insert, expired
 * entries, then the least recently used past max_entries, never the entry
 * just stored. As in cache_put.c, replacing is a delete and an insert, so
 * the row gets a new id and the triggers log both.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cache/cache_internal.h"
#include "util/pg.h"
#include "util/banned.h"

/* ---- hits ---- */

/* The pending notes' column `field` as an array literal "{a,b,...}". */
static int notes_array(const struct cache *c, int field, char **ret)
{
	size_t cap = c->n_pending * PG_INT_TEXT + 3, len = 1;
	char *out = malloc(cap);

	if (!out)
		return -ENOMEM;
	out[0] = '{';
	for (size_t i = 0; i < c->n_pending; i++) {
		const struct cache_pending *p = &c->pending[i];
		int64_t v = field == 0 ? p->id : field == 1 ? p->last_used_ms : (int64_t)p->hits;

		len += (size_t)snprintf(out + len, cap - len, "%s%lld", i ? "," : "", (long long)v);
	}
	snprintf(out + len, cap - len, "}");
	*ret = out;
	return 0;
}

int cache_pg_usage_flush_tx(struct cache *c)
{
	char *arrays[3] = { NULL, NULL, NULL };
	int r = 0;

	if (c->n_pending == 0)
		return 0;
	for (int f = 0; f < 3 && r == 0; f++)
		r = notes_array(c, f, &arrays[f]);
	if (r == 0)
		r = pg_query(c->pg,
			     "UPDATE cache_usage u SET hits = u.hits + n.hits,"
			     " last_used_ms = greatest(u.last_used_ms, n.last_used_ms)"
			     " FROM unnest($1::bigint[], $2::bigint[], $3::bigint[])"
			     " AS n(id, last_used_ms, hits) WHERE u.id = n.id",
			     3, (const char *const *)arrays, NULL, NULL, 0);
	for (int f = 0; f < 3; f++)
		free(arrays[f]);
	return r;
}

static int usage_flush_run(struct cache *c, void *arg)
{
	int r = cache_pg_write_begin(c);

	(void)arg;
	if (r == 0)
		r = pg_tx_end(c->pg, cache_pg_usage_flush_tx(c));
	return r;
}

int cache_pg_usage_flush(struct cache *c)
{
	int r;

	if (c->n_pending == 0)
		return 0;
	r = cache_pg_do(c, usage_flush_run, NULL);
	if (r == 0)
		cache_usage_committed(c);
	return r;
}

/* ---- put ---- */

static int delete_rows_tx(struct cache *c, const char *sql, int n, const char *const *params,
			  uint64_t *ret_n)
{
	PGresult *res = NULL;
	int r = pg_query(c->pg, sql, n, params, &res, NULL, 0);

	if (r < 0)
		return r;
	r = cache_pg_changes(res);
	PQclear(res);
	if (r < 0)
		return r;
	if (ret_n)
		*ret_n = (uint64_t)r;
	return 0;
}

int cache_pg_evict_lru_tx(struct cache *c, int64_t keep_id)
{
	char keep[PG_INT_TEXT], excess[PG_INT_TEXT];
	const char *params[2];
	int64_t seq, floor;
	uint64_t entries, n = 0;
	int r = cache_pg_meta_read(c, &seq, &floor, &entries);

	if (r < 0 || entries <= c->max_entries)
		return r;
	params[0] = pg_i64_text(keep_id, keep);
	params[1] = pg_i64_text((int64_t)(entries - c->max_entries), excess);
	r = delete_rows_tx(c,
			   "DELETE FROM cache_entries WHERE id IN (SELECT id FROM cache_usage"
			   " WHERE id <> $1 ORDER BY last_used_ms, id LIMIT $2)",
			   2, params, &n);
	return r < 0 ? r : (int)n;
}

static const char *text_or_empty(const char *s)
{
	return s ? s : "";
}

static int insert_tx(struct cache *c, const struct cache_entry *e, const char *embedding,
		     int64_t now_ms, int64_t *ret_id)
{
	char now[PG_INT_TEXT];
	const char *params[] = { e->key,	 e->scope,	e->dataset,
				 e->fingerprint, e->language,	e->model,
				 e->embed_model, text_or_empty(e->signature),
				 text_or_empty(e->query_norm),	embedding,
				 e->code,	 e->result,	e->run_id,
				 pg_i64_text(now_ms, now) };
	PGresult *res = NULL;
	int r = pg_query(c->pg,
			 "INSERT INTO cache_entries (key, scope, dataset, fingerprint, language,"
			 " model, embed_model, signature, query_norm, embedding, code, result,"
			 " run_id, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
			 " $10::bytea, $11, $12, $13, $14) RETURNING id",
			 14, params, &res, NULL, 0);

	if (r < 0)
		return r;
	r = PQntuples(res) == 1 ? pg_get_i64(res, 0, 0, ret_id) : -EIO;
	PQclear(res);
	return r < 0 ? -EIO : 0;
}

static int expire_tx(struct cache *c, int64_t now_ms, int64_t keep_id, uint64_t *ret_n)
{
	int64_t cutoff = cache_expiry_cutoff(c, now_ms);
	char cut[PG_INT_TEXT], keep[PG_INT_TEXT];
	const char *params[] = { pg_i64_text(cutoff, cut), pg_i64_text(keep_id, keep) };

	*ret_n = 0;
	if (cutoff < 0)
		return 0;
	return delete_rows_tx(c, "DELETE FROM cache_entries WHERE created_ms <= $1 AND id <> $2",
			      2, params, ret_n);
}

struct put {
	const struct cache_entry *e;
	const char *embedding; /* bytea text, or NULL */
	int64_t now_ms;
	struct cache_put_outcome out;
};

static int put_tx(struct cache *c, struct put *p)
{
	const char *params[] = { p->e->key, p->e->scope };
	int64_t id = 0;
	int r = cache_pg_usage_flush_tx(c); /* so eviction sees this handle's hits */

	if (r == 0)
		r = delete_rows_tx(c, "DELETE FROM cache_entries WHERE key = $1 AND scope = $2", 2,
				   params, NULL);
	if (r == 0)
		r = insert_tx(c, p->e, p->embedding, p->now_ms, &id);
	if (r == 0)
		r = expire_tx(c, p->now_ms, id, &p->out.expired);
	if (r == 0)
		r = cache_pg_evict_lru_tx(c, id);
	if (r >= 0) {
		p->out.evicted = (uint64_t)r;
		r = cache_pg_log_trim_tx(c, false);
	}
	return r;
}

static int put_run(struct cache *c, void *arg)
{
	struct put *p = arg;
	int r = cache_pg_write_begin(c);

	p->out.expired = p->out.evicted = 0;
	if (r == 0)
		r = pg_tx_end(c->pg, put_tx(c, p));
	return r;
}

int cache_pg_put(struct cache *c, const struct cache_entry *e, const void *blob, int64_t now_ms,
		 struct cache_put_outcome *out)
{
	struct put p = { .e = e, .now_ms = now_ms };
	char *hex = NULL;
	int r = 0;

	if (blob)
		r = cache_pg_hex_encode(blob, e->dim * 4, &hex);
	if (r < 0)
		return r;
	p.embedding = hex;
	r = cache_pg_do(c, put_run, &p);
	free(hex);
	if (r == 0)
		*out = p.out;
	return r;
}
