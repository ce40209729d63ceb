/*
 * demo_csv: exports one SQLite table as CSV.
 *
 * Read back from SQLite rather than from memory, so the CSV cannot drift
 * from the database: same rows, same order, same column order. Format:
 * a header row; integers as-is; REAL (only ever money) with exactly two
 * decimals; NULL as an empty field; text quoted per RFC 4180 when it holds
 * a comma, a double quote or a line break; records end with LF.
 */
#include "demo/demo_model.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/banned.h"

#define CSV_BUF_BYTES 65536
#define CSV_SQL_BYTES 256

struct csv_out {
	int fd;
	int err; /* first write error, -errno */
	size_t len;
	char buf[CSV_BUF_BYTES];
};

static void csv_flush(struct csv_out *o)
{
	size_t off = 0;

	while (o->err == 0 && off < o->len) {
		ssize_t n = write(o->fd, o->buf + off, o->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			o->err = n < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)n;
	}
	o->len = 0;
}

static void csv_put(struct csv_out *o, const char *s, size_t n)
{
	while (n > 0 && o->err == 0) {
		size_t room = sizeof(o->buf) - o->len;
		size_t take = n < room ? n : room;
		memcpy(o->buf + o->len, s, take);
		o->len += take;
		s += take;
		n -= take;
		if (o->len == sizeof(o->buf))
			csv_flush(o);
	}
}

static bool csv_needs_quotes(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (text[i] == ',' || text[i] == '"' || text[i] == '\n' || text[i] == '\r')
			return true;
	return false;
}

size_t demo_csv_field(const char *text, size_t text_len, char *out, size_t out_len)
{
	bool quote = csv_needs_quotes(text, text_len);
	size_t need = 0;

#define CSV_EMIT(c)                           \
	do {                                  \
		if (need + 1 < out_len)       \
			out[need] = (c);      \
		need++;                       \
	} while (0)
	if (quote)
		CSV_EMIT('"');
	for (size_t i = 0; i < text_len; i++) {
		if (quote && text[i] == '"')
			CSV_EMIT('"'); /* a quote inside a quoted field is doubled */
		CSV_EMIT(text[i]);
	}
	if (quote)
		CSV_EMIT('"');
#undef CSV_EMIT
	if (out_len > 0)
		out[need < out_len ? need : out_len - 1] = '\0';
	return need;
}

static int csv_put_text(struct csv_out *o, const char *text, size_t len)
{
	char small[512];
	size_t need = demo_csv_field(text, len, small, sizeof(small));
	char *big;

	if (need < sizeof(small)) {
		csv_put(o, small, need);
		return 0;
	}
	big = malloc(need + 1);
	if (!big)
		return -ENOMEM;
	(void)demo_csv_field(text, len, big, need + 1);
	csv_put(o, big, need);
	free(big);
	return 0;
}

static int csv_put_value(struct csv_out *o, sqlite3_stmt *st, int col)
{
	char num[64];
	int n;

	switch (sqlite3_column_type(st, col)) {
	case SQLITE_NULL:
		return 0;
	case SQLITE_INTEGER:
		n = snprintf(num, sizeof(num), "%" PRId64, (int64_t)sqlite3_column_int64(st, col));
		break;
	case SQLITE_FLOAT:
		/* Money only; the stored double is the nearest to x.yz, so two
		 * decimals print the exact value back. */
		n = snprintf(num, sizeof(num), "%.2f", sqlite3_column_double(st, col));
		break;
	default: {
		const char *text = (const char *)sqlite3_column_text(st, col);
		if (!text)
			return -ENOMEM; /* SQLite could not convert the value */
		return csv_put_text(o, text, (size_t)sqlite3_column_bytes(st, col));
	}
	}
	if (n < 0 || (size_t)n >= sizeof(num))
		return -EOVERFLOW;
	csv_put(o, num, (size_t)n);
	return 0;
}

static int csv_put_header(struct csv_out *o, sqlite3_stmt *st)
{
	int r = 0;

	for (int c = 0; r == 0 && c < sqlite3_column_count(st); c++) {
		const char *name = sqlite3_column_name(st, c);
		if (!name)
			return -ENOMEM;
		if (c > 0)
			csv_put(o, ",", 1);
		r = csv_put_text(o, name, strlen(name));
	}
	csv_put(o, "\n", 1);
	return r;
}

static int csv_put_row(struct csv_out *o, sqlite3_stmt *st)
{
	int r = 0;

	for (int c = 0; r == 0 && c < sqlite3_column_count(st); c++) {
		if (c > 0)
			csv_put(o, ",", 1);
		r = csv_put_value(o, st, c);
	}
	csv_put(o, "\n", 1);
	return r;
}

static int csv_write_rows(struct csv_out *o, sqlite3_stmt *st)
{
	int r = csv_put_header(o, st);
	int rc = SQLITE_ROW;

	while (r == 0 && o->err == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
		r = csv_put_row(o, st);
	if (r == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = rc; /* positive: an SQLite error */
	if (r == 0)
		csv_flush(o);
	return r != 0 ? r : o->err;
}

int demo_csv_export(sqlite3 *db, const char *table, int fd)
{
	char sql[CSV_SQL_BYTES];
	sqlite3_stmt *st = NULL;
	struct csv_out *o;
	int n, r;

	n = snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\" ORDER BY %s", table,
		     demo_schema_order(table));
	if (n < 0 || (size_t)n >= sizeof(sql))
		return -ENAMETOOLONG;
	o = malloc(sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->fd = fd;
	o->err = 0;
	o->len = 0;
	r = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (r == SQLITE_OK)
		r = csv_write_rows(o, st);
	(void)sqlite3_finalize(st); /* any error was already returned by step */
	free(o);
	return r;
}
