/*
 * Checking that a dataset has what a template reads, before a run is
 * spent finding out. The SQLite file is opened read-only and only its
 * schema is read (pragma_table_info), so a dataset of any size is checked
 * in a moment. Every missing table and column is named at once.
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

#define REPORT_MAX_BYTES 4096

/* The template reads at most this many columns of one table. */
#define NEED_COLUMNS_MAX 32

/* Marks which of need's columns the table has; *ret_exists is false when
 * the table is not there (it then has no columns). -EIO when the schema
 * cannot be read. */
static int read_columns(sqlite3_stmt *st, const struct tpl_need *need, bool *found,
			bool *ret_exists)
{
	bool exists = false;
	int rc;

	sqlite3_reset(st);
	if (sqlite3_bind_text(st, 1, need->table, -1, SQLITE_STATIC) != SQLITE_OK)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);

		exists = true;
		for (size_t k = 0; name && need->columns[k]; k++)
			if (sqlite3_stricmp(name, need->columns[k]) == 0)
				found[k] = true;
	}
	if (rc != SQLITE_DONE)
		return -EIO;
	*ret_exists = exists;
	return 0;
}

static int put_list(struct buf *b, const char *sep, const char *a, const char *dot,
		    const char *c)
{
	int r = tpl_puts(b, sep);

	if (r == 0)
		r = tpl_puts(b, a);
	if (r == 0 && c) {
		r = tpl_puts(b, dot);
		if (r == 0)
			r = tpl_puts(b, c);
	}
	return r;
}

/* Appends what of need is missing ("table T" for a whole table, else
 * "T.column" each) and counts it in *missing. */
static int find_missing(sqlite3_stmt *st, const struct tpl_need *need, struct buf *b,
			size_t *missing)
{
	bool found[NEED_COLUMNS_MAX] = { false }, exists;
	int r = read_columns(st, need, found, &exists);

	if (r < 0)
		return r;
	if (!exists) {
		r = put_list(b, *missing ? ", " : "", "table ", "", need->table);
		*missing += 1;
		return r;
	}
	for (size_t k = 0; r == 0 && need->columns[k]; k++) {
		if (found[k])
			continue;
		r = put_list(b, *missing ? ", " : "", need->table, ".", need->columns[k]);
		*missing += 1;
	}
	return r;
}

/* "table(col, col), table(...)": what the template reads. */
static int put_needs(struct buf *b, const struct tpl_code *code)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < code->n_needs; i++) {
		const char *const *cols = code->needs[i].columns;

		r = put_list(b, i ? ", " : "", code->needs[i].table, "(", cols[0]);
		for (size_t k = 1; r == 0 && cols[k]; k++)
			r = put_list(b, ", ", cols[k], NULL, NULL);
		if (r == 0)
			r = tpl_puts(b, ")");
	}
	return r;
}

static int check_schema(sqlite3 *db, size_t i, char *err, size_t err_len)
{
	const struct tpl_code *code = tpl_codes[i];
	sqlite3_stmt *st = NULL;
	size_t missing = 0;
	struct buf b;
	int r;

	if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info(?1)", -1, &st, NULL) !=
	    SQLITE_OK) {
		snprintf(err, err_len, "cannot read the dataset's tables: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	buf_init(&b, REPORT_MAX_BYTES);
	r = tpl_puts(&b, "the dataset lacks ");
	for (size_t k = 0; r == 0 && k < code->n_needs; k++)
		r = find_missing(st, &code->needs[k], &b, &missing);
	if (r == -EIO)
		snprintf(err, err_len, "cannot read the dataset's tables: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	/* A list cut by the cap (-E2BIG) is still worth reporting. */
	if ((r == 0 || r == -E2BIG) && missing) {
		r = tpl_puts(&b, "; template ");
		if (r == 0)
			r = tpl_puts(&b, tpl_infos[i].id);
		if (r == 0)
			r = tpl_puts(&b, " needs ");
		if (r == 0)
			r = put_needs(&b, code);
		/* A long list is cut by the cap, which is still a useful message. */
		snprintf(err, err_len, "%s", b.data);
		r = -EINVAL;
	}
	buf_release(&b);
	return r == -E2BIG ? -EINVAL : r;
}

int template_check_dataset(const char *id, const char *sqlite_path, char *err, size_t err_len)
{
	int i = tpl_index(id), r;
	sqlite3 *db = NULL;

	if (i < 0) {
		id = id ? id : "";
		snprintf(err, err_len, "no template named '%.*s'", (int)utf8_cut(id, 64), id);
		return -ENOENT;
	}
	if (!sqlite_path || !*sqlite_path) {
		snprintf(err, err_len, "the dataset has no SQLite file");
		return -EIO;
	}
	r = sqlite_ro_open(sqlite_path, &db, err, err_len);
	if (r < 0)
		return r == -EBUSY ? r : -EIO;
	/* The file is a client's upload: read its schema without trusting it. */
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_busy_timeout(db, 1000);
	r = check_schema(db, (size_t)i, err, err_len);
	sqlite3_close(db);
	return r;
}
