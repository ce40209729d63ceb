/*
 * cache_pg_sql: the PostgreSQL plumbing the cache_pg files share on top of
 * util/pg: session settings, reconnecting, write transactions, the change
 * log's bookkeeping and the embedding's bytea text form.
 *
 * Write transactions run at READ COMMITTED and lock the one row of
 * cache_meta before anything else: that makes them run one after another
 * across nodes (as SQLite's write lock does), so the change sequence is
 * committed in order, max_entries holds after every put, and two writers
 * never lock rows in opposite orders (no deadlocks to retry).
 *
 * statement_timeout bounds every statement, waits for that lock included,
 * to the SQLite back end's 10 s busy timeout. synchronous_commit is off
 * for the cache's session only: see cache_pg_session_setup().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache_internal.h"
#include "util/parse.h"
#include "util/pg.h"
#include "util/banned.h"

int cache_pg_session_setup(PGconn *pg)
{
	static const char *const settings[] = {
		"SET statement_timeout = 10000",
		/* As the SQLite back end's synchronous=NORMAL: a crash of the
		 * server may forget the last few commits, never corrupts, and a
		 * forgotten entry costs a re-run; commits need not wait for
		 * the WAL flush. Per session, so other parts stay durable. */
		"SET synchronous_commit = off",
		/* Entries are UTF-8 text, and bytea is read back as hex. */
		"SET client_encoding = 'UTF8'",
		"SET bytea_output = 'hex'",
		/* Library code does not log: libpq would print notices. */
		"SET client_min_messages = warning",
	};
	int r = 0;

	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]) && r == 0; i++)
		r = pg_exec(pg, settings[i]);
	return r;
}

/* pg_ensure(), and the settings again when the session is a new one. */
static int ensure(struct cache *c)
{
	bool was_ok = PQstatus(c->pg) == CONNECTION_OK;
	int r = pg_ensure(c->pg);

	if (r == 0 && !was_ok)
		r = cache_pg_session_setup(c->pg);
	return r;
}

int cache_pg_do(struct cache *c, int (*op)(struct cache *, void *), void *arg)
{
	int r = ensure(c);

	if (r < 0)
		return r;
	r = op(c, arg);
	if (r == -ECONNRESET && ensure(c) == 0)
		r = op(c, arg);
	return r;
}

int cache_pg_write_begin(struct cache *c)
{
	int r = pg_exec(c->pg, "BEGIN ISOLATION LEVEL READ COMMITTED");

	if (r < 0)
		return r;
	r = pg_exec(c->pg, "SELECT 1 FROM cache_meta WHERE id = 1 FOR UPDATE");
	if (r < 0)
		(void)pg_exec(c->pg, "ROLLBACK");
	return r;
}

int cache_pg_changes(PGresult *res)
{
	uint64_t n;

	if (parse_u64(PQcmdTuples(res), &n) < 0 || n > (uint64_t)INT32_MAX)
		return -EIO;
	return (int)n;
}

int cache_pg_meta_read(struct cache *c, int64_t *ret_seq, int64_t *ret_floor,
		       uint64_t *ret_entries)
{
	PGresult *res = NULL;
	int64_t seq, floor;
	uint64_t entries;
	int r = pg_query(c->pg, "SELECT seq, log_floor, entries FROM cache_meta WHERE id = 1", 0,
			 NULL, &res, NULL, 0);

	if (r < 0)
		return r;
	if (PQntuples(res) != 1 || pg_get_i64(res, 0, 0, &seq) < 0 ||
	    pg_get_i64(res, 0, 1, &floor) < 0 || pg_get_u64(res, 0, 2, &entries) < 0)
		r = -EIO; /* the migration inserts the one row */
	PQclear(res);
	if (r < 0)
		return r;
	*ret_seq = seq;
	*ret_floor = floor;
	*ret_entries = entries;
	return 0;
}

static int floor_set_tx(struct cache *c, int64_t floor)
{
	char num[PG_INT_TEXT];
	const char *params[] = { pg_i64_text(floor, num) };
	int r = pg_query(c->pg, "DELETE FROM cache_log WHERE seq <= $1", 1, params, NULL, NULL, 0);

	if (r == 0)
		r = pg_query(c->pg, "UPDATE cache_meta SET log_floor = $1 WHERE id = 1", 1, params,
			     NULL, NULL, 0);
	return r;
}

int cache_pg_log_trim_tx(struct cache *c, bool all)
{
	int64_t seq, floor;
	uint64_t entries;
	int r = cache_pg_meta_read(c, &seq, &floor, &entries);

	if (r < 0)
		return r;
	if (all)
		return floor_set_tx(c, seq);
	if (seq - floor < CACHE_LOG_MAX)
		return 0;
	return floor_set_tx(c, seq - CACHE_LOG_KEEP);
}

int cache_pg_hex_encode(const void *blob, size_t len, char **ret)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *in = blob;
	char *out = malloc(2 + len * 2 + 1);

	if (!out)
		return -ENOMEM;
	out[0] = '\\';
	out[1] = 'x';
	for (size_t i = 0; i < len; i++) {
		out[2 + i * 2] = digits[in[i] >> 4];
		out[3 + i * 2] = digits[in[i] & 15];
	}
	out[2 + len * 2] = '\0';
	*ret = out;
	return 0;
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int cache_pg_hex_decode(const char *text, unsigned char *out, size_t max, size_t *ret_len)
{
	size_t len;

	if (text[0] != '\\' || text[1] != 'x')
		return -EIO;
	text += 2;
	len = strlen(text);
	if (len % 2 || len / 2 > max)
		return -EIO;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hex_digit(text[i * 2]), lo = hex_digit(text[i * 2 + 1]);

		if (hi < 0 || lo < 0)
			return -EIO;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	*ret_len = len / 2;
	return 0;
}
