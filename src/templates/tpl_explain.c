/*
 * Saying why a template's table is empty. A filter value that matches
 * nothing in the data (segment 'Retail' where the data says 'retail', a
 * year the books do not cover) gives an empty table, which on its own
 * reads like "zero". Each template lists its filters (tpl_filter): a probe
 * that says whether the value matches anything, and a query for the values
 * that do exist. Every filter whose probe finds nothing is named in the
 * notice: "no rows for segment 'Retail'; segments in the data (matched
 * exactly, case included): education, healthcare, ...". When every value
 * matches on its own but not together, the notice says that instead.
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
#include "util/utf8.h"

#include "util/banned.h"

/* A notice names at most this many values, then says how many more. */
#define VALUES_SHOWN 20
#define QUERY_MAX_BYTES (16 * 1024)
/* A template's whole SQL with its parameters. */
#define TEMPLATE_QUERY_MAX_BYTES (64 * 1024)

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
		/* NULL: the parameter was not given, so it filters nothing. */
		snprintf(subject, subject_len, "%s", s ? (const char *)s : "");
	} else {
		r = -EIO;
	}
	sqlite3_finalize(st);
	return r;
}

/* Characters a reader cannot see or tell from a plain space: controls,
 * no-break and other odd spaces, zero-width characters, direction marks,
 * variation selectors, the byte order mark and tags. */
static const struct {
	unsigned long first, last;
} invisible[] = {
	{ 0x00, 0x1f },       { 0x7f, 0xa0 },       { 0xad, 0xad },       { 0x34f, 0x34f },
	{ 0x61c, 0x61c },     { 0x115f, 0x1160 },   { 0x17b4, 0x17b5 },   { 0x180b, 0x180e },
	{ 0x2000, 0x200f },   { 0x2028, 0x202f },   { 0x205f, 0x206f },   { 0x3000, 0x3000 },
	{ 0x3164, 0x3164 },   { 0xfe00, 0xfe0f },   { 0xfeff, 0xfeff },   { 0xffa0, 0xffa0 },
	{ 0xfff0, 0xfffb },   { 0xe0000, 0xe0fff },
};

static bool is_invisible(unsigned long cp)
{
	for (size_t k = 0; k < sizeof(invisible) / sizeof(invisible[0]); k++)
		if (cp >= invisible[k].first && cp <= invisible[k].last)
			return true;
	return false;
}

/* The length of the UTF-8 sequence at p and its code point, or 0 when it
 * is ill-formed (data values are not checked; a NUL ends any sequence). */
static size_t decode(const unsigned char *p, unsigned long *ret_cp)
{
	size_t more = p[0] < 0x80 ? 0 : p[0] >= 0xc2 && p[0] <= 0xdf ? 1
				 : p[0] >= 0xe0 && p[0] <= 0xef		   ? 2
				 : p[0] >= 0xf0 && p[0] <= 0xf4		   ? 3
									   : 4;
	unsigned long cp;

	if (more == 4)
		return 0;
	cp = more == 0 ? p[0] : p[0] & (0x3fu >> more);
	for (size_t k = 1; k <= more; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[k] & 0x3fu);
	}
	*ret_cp = cp;
	return more + 1;
}

/* Appends text so that two different values never look the same: each
 * invisible character as <U+XXXX>, each ill-formed byte as <0xXX>. Found:
 * "retail" followed by a zero-width space read as "retail" in the notice,
 * next to the "retail" it did not match. */
static int put_visible(struct buf *b, const char *text)
{
	const unsigned char *p = (const unsigned char *)text;
	int r = 0;

	while (r == 0 && *p) {
		unsigned long cp = 0;
		size_t len = decode(p, &cp);
		char shown[16];

		if (len == 0 || is_invisible(cp)) {
			snprintf(shown, sizeof(shown), len == 0 ? "<0x%02lX>" : "<U+%04lX>",
				 len == 0 ? (unsigned long)p[0] : cp);
			r = tpl_puts(b, shown);
			p += len == 0 ? 1 : len;
			continue;
		}
		r = buf_append(b, p, len);
		if (r == 0 && b->truncated)
			r = -E2BIG;
		p += len;
	}
	return r;
}

/* A listed value with a space at either end is shown in quotes, so the
 * space can be seen. */
static int put_value(struct buf *b, const char *v)
{
	size_t n = strlen(v);
	bool quote = n > 0 && (v[0] == ' ' || v[n - 1] == ' ');
	int r = quote ? tpl_puts(b, "'") : 0;

	if (r == 0)
		r = put_visible(b, v);
	return r == 0 && quote ? tpl_puts(b, "'") : r;
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
			r = v ? put_value(b, (const char *)v) : tpl_puts(b, "(empty)");
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

/* "no rows for SUBJECT; INTRO: value, value, ..." for a filter whose value
 * matches nothing, after ". Also " when another came first. */
static int put_unmatched(sqlite3 *db, const struct tpl_value *values, size_t n,
			 const struct tpl_filter *f, const char *subject, bool first, struct buf *b)
{
	int r = tpl_puts(b, first ? "no rows for " : ". Also no rows for ");

	if (r == 0)
		r = *subject ? put_visible(b, subject) : tpl_puts(b, "the value given");
	if (r == 0)
		r = tpl_puts(b, "; ");
	if (r == 0)
		r = tpl_puts(b, f->intro);
	if (r == 0)
		r = tpl_puts(b, ": ");
	return r < 0 ? r : put_values(db, values, n, f, b);
}

/* *ret_rows: whether the template's own SQL gives a row on this file, so a
 * notice never says "nothing matches" of a table that has rows. */
static int has_rows(sqlite3 *db, size_t i, const struct tpl_value *values, bool *ret_rows)
{
	sqlite3_stmt *st = NULL;
	struct buf b;
	int r, rc;

	buf_init(&b, TEMPLATE_QUERY_MAX_BYTES);
	r = tpl_render_sql_params(&b, values, tpl_infos[i].n_params);
	if (r == 0)
		r = tpl_puts(&b, tpl_codes[i]->sql);
	if (r == 0 && sqlite3_prepare_v2(db, b.data, -1, &st, NULL) != SQLITE_OK)
		r = -EIO;
	if (r == 0) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW || rc == SQLITE_DONE)
			*ret_rows = rc == SQLITE_ROW;
		else
			r = -EIO;
	}
	sqlite3_finalize(st);
	buf_release(&b);
	return r;
}

/* Every filter whose value matches nothing is named, so one answer says all
 * that needs changing. When each value matches on its own (a segment whose
 * customers bought nothing that year) the table is empty all the same, and
 * the notice says so rather than leave it unexplained. */
static int put_notice(sqlite3 *db, size_t i, const struct tpl_value *values, struct buf *b)
{
	const struct tpl_code *code = tpl_codes[i];
	size_t n = tpl_infos[i].n_params, unmatched = 0, together = 0;
	char subjects[TPL_MAX_PARAMS][160];
	bool rows = true;
	int r = 0;

	for (size_t k = 0; r == 0 && k < code->n_filters && together < TPL_MAX_PARAMS; k++) {
		const struct tpl_filter *f = &code->filters[k];
		char subject[160];
		bool matched = true;

		r = probe(db, values, n, f, &matched, subject, sizeof(subject));
		/* A probe that cannot run (a table this filter reads is missing)
		 * tells nothing about this value; the others still can. */
		if (r == -EIO) {
			r = 0;
			continue;
		}
		if (r == 0 && !matched)
			r = put_unmatched(db, values, n, f, subject, unmatched++ == 0, b);
		else if (r == 0 && *subject)
			snprintf(subjects[together++], sizeof(subjects[0]), "%s", subject);
	}
	if (r < 0 || unmatched > 0)
		return r < 0 ? r : 1;
	if (together < 2)
		return 0;
	r = has_rows(db, i, values, &rows);
	if (r < 0 || rows)
		return r;
	r = tpl_puts(b, "no rows for ");
	for (size_t k = 0; r == 0 && k < together; k++) {
		r = tpl_puts(b, k == 0 ? "" : k + 1 == together ? " and " : ", ");
		if (r == 0)
			r = put_visible(b, subjects[k]);
	}
	if (r == 0)
		r = tpl_puts(b, " together; each value matches data on its own, "
				"but no data matches them all");
	return r < 0 ? r : 1;
}

static int explain(sqlite3 *db, size_t i, const struct tpl_value *values, char *notice,
		   size_t notice_len)
{
	struct buf b;
	int r;

	buf_init(&b, notice_len);
	r = put_notice(db, i, values, &b);
	/* A list cut at the notice's length is still worth showing. */
	if (r == -E2BIG && b.len > 0)
		r = 1;
	/* Cut whole characters only: the notice goes into JSON. */
	if (r == 1)
		snprintf(notice, notice_len, "%.*s", (int)utf8_cut(b.data, notice_len - 1), b.data);
	buf_release(&b);
	return r;
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
