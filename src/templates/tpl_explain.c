/*
 * Saying why a template's table is empty. A filter value that matches
 * nothing in the data (segment 'Retail' where the data says 'retail', a
 * year the books do not cover) gives an empty table, which on its own
 * reads like "zero". Each template lists its filters (tpl_filter): a probe
 * that says whether the value matches anything, and a query for the values
 * that do exist. The first filter whose probe finds nothing makes the
 * notice: "no rows for segment 'Retail'; segments in the data (matched
 * exactly, case included): education, healthcare, ...".
 *
 * Probes and value lists are SELECTs after the same checked `params` CTE
 * the template's own SQL gets, so client values reach them only as the
 * literals tpl_render.c writes. The dataset's SQLite file is opened
 * read-only, as template_check_dataset() does.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "templates/internal.h"
#include "util/buf.h"
#include "util/sqlite_uri.h"

#include "util/banned.h"

/* A notice names at most this many values, then says how many more. */
#define VALUES_SHOWN 20
#define QUERY_MAX_BYTES (16 * 1024)

/* The params CTE, a filler CTE (the params block ends with a comma), then
 * the filter's SELECT. */
static int prepare(sqlite3 *db, const struct tpl_value *values, size_t n, const char *select,
		   sqlite3_stmt **ret_st)
{
	struct buf b;
	int r;

	buf_init(&b, QUERY_MAX_BYTES);
	r = tpl_render_sql_params(&b, values, n);
	if (r == 0)
		r = tpl_puts(&b, "filler AS (SELECT 1)\n");
	if (r == 0)
		r = tpl_puts(&b, select);
	if (r == 0 && sqlite3_prepare_v2(db, b.data, -1, ret_st, NULL) != SQLITE_OK)
		r = -EIO;
	buf_release(&b);
	return r;
}

/* *ret_matched: whether the filter's value matches anything; subject: how
 * the value is named in the notice. */
static int probe(sqlite3 *db, const struct tpl_value *values, size_t n,
		 const struct tpl_filter *f, bool *ret_matched, char *subject, size_t subject_len)
{
	sqlite3_stmt *st = NULL;
	int r = prepare(db, values, n, f->probe, &st);

	if (r < 0)
		return r;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *s = sqlite3_column_text(st, 1);

		*ret_matched = sqlite3_column_int64(st, 0) != 0;
		snprintf(subject, subject_len, "%s", s ? (const char *)s : "the value given");
	} else {
		r = -EIO;
	}
	sqlite3_finalize(st);
	return r;
}

static int put_values(sqlite3 *db, const struct tpl_value *values, size_t n,
		      const struct tpl_filter *f, struct buf *b)
{
	sqlite3_stmt *st = NULL;
	size_t count = 0;
	int r = prepare(db, values, n, f->values, &st), rc;

	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(st, 0);

		if (count++ >= VALUES_SHOWN)
			continue;
		r = tpl_puts(b, count > 1 ? ", " : "");
		if (r == 0)
			r = tpl_puts(b, v ? (const char *)v : "(empty)");
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = -EIO;
	if (r == 0 && count == 0)
		r = tpl_puts(b, "none");
	if (r == 0 && count > VALUES_SHOWN) {
		char more[48];

		snprintf(more, sizeof(more), " and %zu more", count - VALUES_SHOWN);
		r = tpl_puts(b, more);
	}
	sqlite3_finalize(st);
	return r;
}

static int explain(sqlite3 *db, size_t i, const struct tpl_value *values, char *notice,
		   size_t notice_len)
{
	const struct tpl_code *code = tpl_codes[i];
	size_t n = tpl_infos[i].n_params;

	for (size_t k = 0; k < code->n_filters; k++) {
		const struct tpl_filter *f = &code->filters[k];
		char subject[160];
		bool matched = true;
		struct buf b;
		int r = probe(db, values, n, f, &matched, subject, sizeof(subject));

		if (r < 0)
			return r;
		if (matched)
			continue;
		buf_init(&b, notice_len);
		r = tpl_puts(&b, "no rows for ");
		if (r == 0)
			r = tpl_puts(&b, subject);
		if (r == 0)
			r = tpl_puts(&b, "; ");
		if (r == 0)
			r = tpl_puts(&b, f->intro);
		if (r == 0)
			r = tpl_puts(&b, ": ");
		if (r == 0)
			r = put_values(db, values, n, f, &b);
		/* A list cut at the notice's length is still worth showing. */
		if (r == 0 || r == -E2BIG)
			snprintf(notice, notice_len, "%s", b.data);
		buf_release(&b);
		return r == 0 || r == -E2BIG ? 1 : r;
	}
	return 0;
}

int template_explain_empty(const char *id, json_t *params, const char *sqlite_path,
			   char *notice, size_t notice_len)
{
	struct tpl_value values[TPL_MAX_PARAMS];
	int i = tpl_index(id), r;
	char err[256];
	sqlite3 *db = NULL;

	if (i < 0)
		return -ENOENT;
	if (notice_len == 0 || !sqlite_path || !*sqlite_path)
		return -EINVAL;
	r = tpl_params_read((size_t)i, params, values, err, sizeof(err), NULL);
	if (r < 0)
		return r;
	r = sqlite_ro_open(sqlite_path, &db, err, sizeof(err));
	if (r < 0)
		return r == -EBUSY ? r : -EIO;
	/* The file is a client's upload: query it without trusting it. */
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_busy_timeout(db, 1000);
	r = explain(db, (size_t)i, values, notice, notice_len);
	sqlite3_close(db);
	return r;
}
