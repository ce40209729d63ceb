/*
 * cache_pg_sync: keeping a handle's in-memory index equal to what
 * cache_entries holds in PostgreSQL, whichever node changed it.
 *
 * The same scheme as cache_sync.c: one read of cache_meta tells whether
 * anything changed since c->index_seq; if so, inside one REPEATABLE READ
 * transaction (one snapshot of meta, log and rows) the handle replays the
 * log since its sequence (each logged id: drop it, then add it back from
 * its row if the row still has one) or, when the log was trimmed past its
 * sequence, reloads everything. Writers commit in sequence order
 * (cache_pg_sql.c), so a snapshot that shows seq N holds every logged
 * change up to N. Rows are read in pages of bounded size, so neither a
 * replay nor a reload holds more than PAGE_ROWS rows in memory at once.
 * Any failure marks the index for a full reload (index_seq = -1).
 */
#include <errno.h>
#include <stdlib.h>

#include "cache/cache_internal.h"
#include "util/pg.h"
#include "util/banned.h"

#define PAGE_ROWS "256"
/* The columns of an indexed entry: id, the group's fields, created_ms and
 * the embedding (the column numbers row_add() reads). */
#define INDEX_COLUMNS                                                                     \
	"e.id, e.scope, e.dataset, e.fingerprint, e.language, e.model, e.embed_model,"   \
	" e.signature, e.created_ms, e.embedding"
#define INDEXED "e.embedding IS NOT NULL AND e.signature <> ''"

struct scratch {
	unsigned char bytes[CACHE_DIM_MAX * 4];
	float vec[CACHE_DIM_MAX];
};

/* Adds row i of a result whose columns start at INDEX_COLUMNS' from col 0
 * + off. */
static int row_add(struct cache_index *ix, const PGresult *res, int i, int off,
		   struct scratch *s)
{
	struct cache_group_key k;
	int64_t id, created_ms;
	size_t len = 0;
	int r;

	for (int f = 0; f < CACHE_GROUP_FIELDS; f++)
		k.field[f] = PQgetvalue(res, i, off + 1 + f);
	if (pg_get_i64(res, i, off, &id) < 0 || pg_get_i64(res, i, off + 8, &created_ms) < 0 ||
	    PQgetisnull(res, i, off + 9))
		return -EIO;
	r = cache_pg_hex_decode(PQgetvalue(res, i, off + 9), s->bytes, sizeof(s->bytes), &len);
	if (r == 0 && (len == 0 || len % 4))
		r = -EIO;
	if (r < 0)
		return r;
	k.dim = len / 4;
	r = cache_blob_decode(s->bytes, len, s->vec, k.dim);
	if (r == 0)
		r = cache_index_add(ix, &k, id, created_ms, s->vec);
	return r;
}

/* One page of the whole table after id *after; *ret_more when full. */
static int load_page(struct cache *c, int64_t *after, bool *ret_more, struct scratch *s)
{
	char num[PG_INT_TEXT];
	const char *params[] = { pg_i64_text(*after, num) };
	PGresult *res = NULL;
	int n, r = pg_query(c->pg,
			    "SELECT " INDEX_COLUMNS " FROM cache_entries e WHERE " INDEXED
			    " AND e.id > $1 ORDER BY e.id LIMIT " PAGE_ROWS,
			    1, params, &res, NULL, 0);

	if (r < 0)
		return r;
	n = PQntuples(res);
	for (int i = 0; i < n && r == 0; i++)
		r = row_add(&c->index, res, i, 0, s);
	if (r == 0 && n > 0)
		r = pg_get_i64(res, n - 1, 0, after);
	PQclear(res);
	*ret_more = n > 0;
	return r;
}

static int load_all(struct cache *c, struct scratch *s)
{
	int64_t after = 0;
	bool more = true;
	int r = 0;

	cache_index_reset(&c->index);
	while (more && r == 0)
		r = load_page(c, &after, &more, s);
	return r;
}

/* One page of the log after *after (up to seq): columns seq, entry_id,
 * then the entry's INDEX_COLUMNS, NULL when it has none (any more). */
static int replay_page(struct cache *c, int64_t *after, int64_t seq, bool *ret_more,
		       struct scratch *s)
{
	char from[PG_INT_TEXT], to[PG_INT_TEXT];
	const char *params[] = { pg_i64_text(*after, from), pg_i64_text(seq, to) };
	PGresult *res = NULL;
	int n, r = pg_query(c->pg,
			    "SELECT l.seq, l.entry_id, " INDEX_COLUMNS " FROM cache_log l"
			    " LEFT JOIN cache_entries e ON e.id = l.entry_id AND " INDEXED
			    " WHERE l.seq > $1 AND l.seq <= $2 ORDER BY l.seq LIMIT " PAGE_ROWS,
			    2, params, &res, NULL, 0);

	if (r < 0)
		return r;
	n = PQntuples(res);
	for (int i = 0; i < n && r == 0; i++) {
		int64_t id;

		r = pg_get_i64(res, i, 1, &id);
		if (r < 0)
			break;
		cache_index_remove(&c->index, id);
		if (!PQgetisnull(res, i, 2))
			r = row_add(&c->index, res, i, 2, s);
	}
	if (r == 0 && n > 0)
		r = pg_get_i64(res, n - 1, 0, after);
	PQclear(res);
	*ret_more = n > 0;
	return r;
}

static int replay(struct cache *c, int64_t seq, struct scratch *s)
{
	int64_t after = c->index_seq;
	bool more = true;
	int r = 0;

	while (more && r == 0)
		r = replay_page(c, &after, seq, &more, s);
	return r;
}

/* In the snapshot: reads meta again and catches up to it. */
static int catch_up(struct cache *c, int64_t *ret_seq)
{
	struct scratch *s = malloc(sizeof(*s));
	int64_t seq, floor;
	uint64_t entries;
	int r;

	if (!s)
		return -ENOMEM;
	r = cache_pg_meta_read(c, &seq, &floor, &entries);
	if (r == 0)
		r = cache_sync_reload_needed(c, seq, floor) ? load_all(c, s) : replay(c, seq, s);
	free(s);
	if (r == 0)
		*ret_seq = seq;
	return r;
}

static int sync_run(struct cache *c, void *arg)
{
	int64_t seq, floor;
	uint64_t entries;
	int r = cache_pg_meta_read(c, &seq, &floor, &entries);

	(void)arg;
	if (r < 0 || seq == c->index_seq)
		return r;
	r = pg_exec(c->pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	if (r == 0)
		r = catch_up(c, &seq);
	/* A read-only transaction: COMMIT only ends it. */
	r = pg_tx_end(c->pg, r);
	c->index_seq = r == 0 ? seq : -1;
	return r;
}

int cache_pg_sync(struct cache *c)
{
	return cache_pg_do(c, sync_run, NULL);
}
