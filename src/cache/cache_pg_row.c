/*
 * cache_pg_row: the two row reads the lookups make in PostgreSQL, by
 * (key, scope) and by id, and rows turned back into entries.
 *
 * Each is one statement at READ COMMITTED, so it sees every change
 * committed before it started, by any node: this is what keeps a lookup
 * from serving an entry another node has just invalidated or cleared.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache_internal.h"
#include "util/pg.h"
#include "util/banned.h"

/* The columns an entry is read back with, in the SQLite back end's order. */
#define ENTRY_COLUMNS                                                                     \
	"e.key, e.scope, e.dataset, e.fingerprint, e.language, e.model, e.query_norm,"   \
	" e.signature, e.embedding, e.embed_model, e.code, e.result, e.run_id,"          \
	" e.created_ms, u.last_used_ms, u.hits, e.id"
#define COL_ID 16

/* Copies a text column into a fixed field; -EIO when it does not fit (the
 * row was not written by cache_put()). */
static int column_fixed(const PGresult *res, int col, char *out, size_t size)
{
	size_t len;

	if (PQgetisnull(res, 0, col))
		return -EIO;
	len = (size_t)PQgetlength(res, 0, col);
	if (len >= size)
		return -EIO;
	memcpy(out, PQgetvalue(res, 0, col), len + 1);
	return 0;
}

static int column_dup(const PGresult *res, int col, char **ret)
{
	char *copy = NULL;
	int r = pg_get_text_dup(res, 0, col, &copy);

	if (r == 0 && !copy)
		r = -EIO; /* the columns are NOT NULL */
	if (r == 0)
		*ret = copy;
	return r;
}

static int column_embedding(const PGresult *res, int col, struct cache_entry *e)
{
	unsigned char *bytes;
	size_t len = 0;
	int r;

	if (PQgetisnull(res, 0, col))
		return 0;
	bytes = malloc(CACHE_DIM_MAX * 4);
	if (!bytes)
		return -ENOMEM;
	r = cache_pg_hex_decode(PQgetvalue(res, 0, col), bytes, CACHE_DIM_MAX * 4, &len);
	if (r == 0 && (len == 0 || len % 4))
		r = -EIO;
	if (r == 0) {
		e->embedding = malloc(len);
		r = e->embedding ? 0 : -ENOMEM;
	}
	if (r == 0) {
		e->dim = len / 4;
		r = cache_blob_decode(bytes, len, e->embedding, e->dim);
	}
	free(bytes);
	return r;
}

static int columns_fixed(const PGresult *res, struct cache_entry *e)
{
	static const struct {
		int col;
		size_t offset, size;
	} fixed[] = {
#define FIXED(col, name) { col, offsetof(struct cache_entry, name), sizeof(((struct cache_entry *)NULL)->name) }
		FIXED(0, key),	    FIXED(1, scope), FIXED(2, dataset),	    FIXED(3, fingerprint),
		FIXED(4, language), FIXED(5, model), FIXED(9, embed_model), FIXED(12, run_id),
#undef FIXED
	};
	int r = 0;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]) && r == 0; i++)
		r = column_fixed(res, fixed[i].col, (char *)e + fixed[i].offset, fixed[i].size);
	return r;
}

/* Row 0 of a result of ENTRY_COLUMNS. */
static int entry_from_row(const PGresult *res, struct cache_entry *ret, int64_t *ret_id)
{
	struct cache_entry e;
	int64_t id = 0;
	int r;

	memset(&e, 0, sizeof(e));
	r = columns_fixed(res, &e);
	if (r == 0)
		r = column_dup(res, 6, &e.query_norm);
	if (r == 0)
		r = column_dup(res, 7, &e.signature);
	if (r == 0)
		r = column_embedding(res, 8, &e);
	if (r == 0)
		r = column_dup(res, 10, &e.code);
	if (r == 0)
		r = column_dup(res, 11, &e.result);
	if (r == 0 && (pg_get_i64(res, 0, 13, &e.created_ms) < 0 ||
		       pg_get_i64(res, 0, 14, &e.last_used_ms) < 0 ||
		       pg_get_u64(res, 0, 15, &e.hits) < 0 || pg_get_i64(res, 0, COL_ID, &id) < 0))
		r = -EIO;
	if (r < 0) {
		cache_entry_release(&e);
		return r;
	}
	*ret = e;
	*ret_id = id;
	return 0;
}

struct fetch {
	const char *sql;
	const char *params[3];
	int n_params;
	struct cache_entry *ret;
	int64_t id;
};

static int fetch_run(struct cache *c, void *arg)
{
	struct fetch *f = arg;
	PGresult *res = NULL;
	int r = pg_query(c->pg, f->sql, f->n_params, f->params, &res, NULL, 0);

	if (r < 0)
		return r;
	r = PQntuples(res) == 1 ? entry_from_row(res, f->ret, &f->id) : -ENOENT;
	PQclear(res);
	return r;
}

int cache_pg_fetch_exact(struct cache *c, const char *key, const char *scope, int64_t cutoff_ms,
			 struct cache_entry *ret, int64_t *ret_id)
{
	char num[PG_INT_TEXT];
	struct fetch f = {
		.sql = "SELECT " ENTRY_COLUMNS " FROM cache_entries e"
		       " JOIN cache_usage u ON u.id = e.id"
		       " WHERE e.key = $1 AND e.scope = $2 AND e.created_ms > $3",
		.params = { key, scope, pg_i64_text(cutoff_ms, num) },
		.n_params = 3,
		.ret = ret,
	};
	int r = cache_pg_do(c, fetch_run, &f);

	if (r == 0)
		*ret_id = f.id;
	return r;
}

int cache_pg_fetch_id(struct cache *c, int64_t id, int64_t cutoff_ms, struct cache_entry *ret)
{
	char num[PG_INT_TEXT], cutoff[PG_INT_TEXT];
	struct fetch f = {
		.sql = "SELECT " ENTRY_COLUMNS " FROM cache_entries e"
		       " JOIN cache_usage u ON u.id = e.id"
		       " WHERE e.id = $1 AND e.created_ms > $2",
		.params = { pg_i64_text(id, num), pg_i64_text(cutoff_ms, cutoff) },
		.n_params = 2,
		.ret = ret,
	};

	return cache_pg_do(c, fetch_run, &f);
}
