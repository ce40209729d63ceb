/*
 * csv_append: rows appended to a dataset's table make its next version.
 *
 * The appended CSV is first imported alone, as any upload (csv_import.c:
 * checked, types inferred, loaded into the upload folder's NAME.sqlite and
 * TABLE.csv). This file then turns that folder into the dataset's next
 * version: a copy of the dataset's SQLite file (VACUUM INTO, read from its
 * committed state) with the new rows inserted into TABLE, TABLE.csv as the
 * old one followed by the new rows, and the dataset's other files linked
 * in unchanged. TABLE.original.csv is left out: it would hold only a part
 * of the rows.
 *
 * Refused, with nothing changed: a dataset without TABLE in its SQLite file
 * or without TABLE.csv (append works on datasets uploaded as CSV); columns
 * that are not the table's, by name (ignoring ASCII case, as SQLite) and
 * order; a value that does not fit its column's type (text in an integer
 * or real column, a fraction in an integer one), named by the physical
 * line of the appended CSV where its record starts.
 */
#include "datasets/datasets.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "datasets/csv_parse.h"
#include "datasets/internal.h"
#include "util/sqlite_uri.h"

#include "util/banned.h"

#define MERGED_FILE ".merged.sqlite"

struct append {
	const char *data_dir, *name, *table, *tmp_dir;
	char delimiter;
	char *err;
	size_t err_len;
};

static int sql_fail(const struct append *ap, sqlite3 *db, const char *what)
{
	ds_err(ap->err, ap->err_len, "cannot append to dataset %s: %s: %s", ap->name, what,
	       db ? sqlite3_errmsg(db) : "out of memory");
	return -EIO;
}

/* Copies the dataset's SQLite file, as committed, to the merged file. */
static int copy_old(const struct append *ap, const char *merged)
{
	char old[PATH_MAX], *uri = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = dataset_path_for_sql(ap->data_dir, ap->name, old, sizeof(old), ap->err, ap->err_len);

	if (rc < 0)
		return rc;
	rc = sqlite_ro_uri(old, &uri);
	if (rc < 0) {
		ds_err(ap->err, ap->err_len, "cannot read dataset %s's SQLite file: %s", ap->name,
		       rc == -EBUSY ? SQLITE_HOT_JOURNAL_TEXT : strerror(-rc));
		return rc;
	}
	rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
	free(uri);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "VACUUM INTO ?1", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, merged, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
	}
	rc = rc == SQLITE_OK ? 0 : sql_fail(ap, db, "copying its SQLite file");
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

/* The names and declared types of TABLE's columns in schema `db_name`;
 * none when there is no such table. */
static int columns_of(sqlite3 *db, const char *db_name, const char *table, char ***ret_names,
		      char ***ret_types, size_t *ret_count)
{
	char *sql = sqlite3_mprintf("PRAGMA \"%w\".table_info(\"%w\")", db_name, table);
	sqlite3_stmt *st = NULL;
	char **names = NULL, **types = NULL;
	size_t n = 0;
	int rc = sql ? sqlite3_prepare_v2(db, sql, -1, &st, NULL) : SQLITE_NOMEM;

	sqlite3_free(sql);
	while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		char **gn = realloc(names, (n + 1) * sizeof(*gn)), **gt;
		if (!gn) {
			rc = SQLITE_NOMEM;
			break;
		}
		names = gn;
		gt = realloc(types, (n + 1) * sizeof(*gt));
		if (!gt) {
			rc = SQLITE_NOMEM;
			break;
		}
		types = gt;
		names[n] = strdup((const char *)sqlite3_column_text(st, 1));
		types[n] = strdup(sqlite3_column_text(st, 2) ? (const char *)sqlite3_column_text(st, 2)
							    : "");
		n++;
		if (!names[n - 1] || !types[n - 1])
			rc = SQLITE_NOMEM;
	}
	sqlite3_finalize(st);
	*ret_names = names;
	*ret_types = types;
	*ret_count = n;
	return rc == SQLITE_OK ? 0 : -ENOMEM;
}

static void strings_free(char **s, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		free(s[i]);
	free(s);
}

/* The physical line where data record `row` (1-based) of the appended CSV
 * starts: the upload as sent is TABLE.original.csv when it was rewritten,
 * else TABLE.csv. 0 when it cannot be read. */
static uint64_t line_of_row(const struct append *ap, int64_t row)
{
	char path[PATH_MAX];
	struct csv_reader r;
	struct csv_record rec;
	uint64_t line = 0;
	FILE *in;

	snprintf(path, sizeof(path), "%s/%s" CSV_ORIGINAL_SUFFIX, ap->tmp_dir, ap->table);
	in = fopen(path, "re");
	if (!in) {
		snprintf(path, sizeof(path), "%s/%s.csv", ap->tmp_dir, ap->table);
		in = fopen(path, "re");
	}
	if (!in)
		return 0;
	csv_reader_init(&r, in, CSV_MAX_RECORD_BYTES, CSV_MAX_COLUMNS);
	r.delimiter = ap->delimiter;
	for (int64_t i = 0; i <= row; i++) {
		if (csv_reader_next(&r, &rec) != 1) {
			line = 0;
			break;
		}
		line = rec.line;
	}
	csv_reader_release(&r);
	fclose(in);
	return line;
}

/* The storage classes a column of this declared type keeps exactly. */
static const char *fitting(const char *declared)
{
	if (strcasecmp(declared, "INTEGER") == 0)
		return "'integer', 'null'";
	if (strcasecmp(declared, "REAL") == 0)
		return "'integer', 'real', 'null'";
	return NULL; /* text (dates too) takes any value */
}

/* The first appended value of column `col` that its type does not take.
 * The values go through a column of that type first, so that what is
 * judged is what the table would store: SQLite's affinity turns the text
 * "7" into the integer 7 but leaves "many" text. */
static int column_fits(const struct append *ap, sqlite3 *db, const char *col, const char *type)
{
	const char *classes = fitting(type);
	sqlite3_stmt *st = NULL;
	char *sql;
	int rc;

	if (!classes)
		return 0;
	sql = sqlite3_mprintf("DROP TABLE IF EXISTS temp.probe;"
			      "CREATE TEMP TABLE probe (v %s);"
			      "INSERT INTO temp.probe (rowid, v) SELECT rowid, \"%w\" FROM app.\"%w\"",
			      strcasecmp(type, "INTEGER") == 0 ? "INTEGER" : "REAL", col, ap->table);
	rc = sql ? sqlite3_exec(db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
	sqlite3_free(sql);
	if (rc == SQLITE_OK) {
		sql = sqlite3_mprintf("SELECT rowid, CAST(v AS TEXT) FROM temp.probe WHERE "
				      "typeof(v) NOT IN (%s) ORDER BY rowid LIMIT 1", classes);
		rc = sql ? sqlite3_prepare_v2(db, sql, -1, &st, NULL) : SQLITE_NOMEM;
		sqlite3_free(sql);
	}
	if (rc != SQLITE_OK)
		return sql_fail(ap, db, "checking the appended values");
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 1);
		ds_err(ap->err, ap->err_len,
		       "line %llu: %.40s does not fit column %s, which is %s in dataset %s: append "
		       "values of the column's type, or replace the dataset",
		       (unsigned long long)line_of_row(ap, sqlite3_column_int64(st, 0)),
		       v ? v : "", col, strcasecmp(type, "INTEGER") == 0 ? "integer" : "real",
		       ap->name);
		rc = -EINVAL;
	} else {
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

/* The appended table has the dataset table's columns, in order, and its
 * values fit their types. */
static int columns_match(const struct append *ap, sqlite3 *db)
{
	char **on = NULL, **ot = NULL, **nn = NULL, **nt = NULL;
	size_t oc = 0, nc = 0;
	int rc = columns_of(db, "main", ap->table, &on, &ot, &oc);

	if (rc == 0)
		rc = columns_of(db, "app", ap->table, &nn, &nt, &nc);
	if (rc == 0 && oc == 0) {
		ds_err(ap->err, ap->err_len, "dataset %s has no table %s to append to: name the "
					     "table with table=", ap->name, ap->table);
		rc = -EINVAL;
	}
	for (size_t i = 0; rc == 0 && i < oc && i < nc; i++) {
		if (strcasecmp(on[i], nn[i]) != 0) {
			ds_err(ap->err, ap->err_len, "line 1: column %zu is %s, but in dataset %s it "
						     "is %s: append rows with the dataset's columns, "
						     "in its order", i + 1, nn[i], ap->name, on[i]);
			rc = -EINVAL;
		}
	}
	if (rc == 0 && oc != nc) {
		ds_err(ap->err, ap->err_len, "line 1: the appended CSV has %zu columns and table %s "
					     "of dataset %s has %zu: append rows with the dataset's "
					     "columns", nc, ap->table, ap->name, oc);
		rc = -EINVAL;
	}
	for (size_t i = 0; rc == 0 && i < oc; i++)
		rc = column_fits(ap, db, on[i], ot[i]);
	strings_free(on, oc);
	strings_free(ot, oc);
	strings_free(nn, nc);
	strings_free(nt, nc);
	return rc;
}

/* Inserts the appended rows into the merged copy; *ret_rows: all rows. */
static int merge_rows(const struct append *ap, const char *merged, const char *appended,
		      int64_t *ret_rows)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *sql = NULL;
	int rc = sqlite3_open_v2(merged, &db, SQLITE_OPEN_READWRITE, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "ATTACH ?1 AS app", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, appended, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_OK) {
		rc = sql_fail(ap, db, "opening the copy");
		sqlite3_close(db);
		return rc;
	}
	rc = columns_match(ap, db);
	if (rc == 0) {
		sql = sqlite3_mprintf("INSERT INTO main.\"%w\" SELECT * FROM app.\"%w\"",
				      ap->table, ap->table);
		rc = sql && sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK
			     ? 0 : sql_fail(ap, db, "adding the rows");
		sqlite3_free(sql);
	}
	if (rc == 0) {
		sql = sqlite3_mprintf("SELECT count(*) FROM main.\"%w\"", ap->table);
		if (sql && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW)
			*ret_rows = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		sqlite3_free(sql);
	}
	if (sqlite3_close(db) != SQLITE_OK && rc == 0)
		rc = -EIO;
	return rc;
}

/* Copies from `in` to `out` (both open). */
static int copy_stream(FILE *in, FILE *out)
{
	char buf[65536];
	size_t n;

	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			return -EIO;
	return ferror(in) ? -EIO : 0;
}

/* TABLE.csv of the new version: the dataset's, then the appended rows
 * (the plain CSV of the upload without its header line). */
static int merge_csv(const struct append *ap)
{
	char old_path[PATH_MAX], new_path[PATH_MAX], out_path[PATH_MAX];
	FILE *old = NULL, *added = NULL, *out = NULL;
	int c, last = '\n', rc = 0;

	snprintf(old_path, sizeof(old_path), "%s/%s/%s.csv", ap->data_dir, ap->name, ap->table);
	snprintf(new_path, sizeof(new_path), "%s/%s.csv", ap->tmp_dir, ap->table);
	snprintf(out_path, sizeof(out_path), "%s/%s.csv.merged", ap->tmp_dir, ap->table);
	old = fopen(old_path, "re");
	if (!old) {
		ds_err(ap->err, ap->err_len, "dataset %s has no %s.csv to append to: append works "
					     "on datasets uploaded as CSV", ap->name, ap->table);
		return -EINVAL;
	}
	added = fopen(new_path, "re");
	out = fopen(out_path, "wxe");
	if (!added || !out)
		rc = -errno;
	if (rc == 0 && fchmod(fileno(out), 0644) < 0)
		rc = -errno;
	if (rc == 0)
		rc = copy_stream(old, out);
	if (rc == 0 && fseek(old, -1, SEEK_END) == 0)
		last = fgetc(old);
	if (rc == 0 && last != '\n')
		fputc('\n', out);
	/* The header is one line: column names hold no line breaks. */
	while (rc == 0 && (c = fgetc(added)) != EOF && c != '\n')
		;
	if (rc == 0)
		rc = copy_stream(added, out);
	if (out && (fflush(out) != 0 || fsync(fileno(out)) != 0) && rc == 0)
		rc = -EIO;
	fclose(old);
	if (added)
		fclose(added);
	if (out)
		fclose(out);
	if (rc == 0 && rename(out_path, new_path) < 0)
		rc = -errno;
	if (rc < 0) {
		(void)unlink(out_path);
		ds_err(ap->err, ap->err_len, "cannot write the appended CSV: %s", strerror(-rc));
	}
	return rc;
}

/* Links the dataset's other files into the new version. */
static int link_others(const struct append *ap, const char *sqlite_name)
{
	char dir[PATH_MAX], from[PATH_MAX], to[PATH_MAX], table_csv[DS_NAME_MAX + 8],
		original[DS_NAME_MAX + 16];
	struct ds_dir d;
	int fd, rc = ds_dir_open_dataset(ap->data_dir, ap->name, &fd, ap->err, ap->err_len);

	if (rc < 0)
		return rc;
	rc = ds_dir_read(fd, &d);
	close(fd);
	if (rc < 0)
		return rc;
	snprintf(table_csv, sizeof(table_csv), "%s.csv", ap->table);
	snprintf(original, sizeof(original), "%s" CSV_ORIGINAL_SUFFIX, ap->table);
	snprintf(dir, sizeof(dir), "%s/%s", ap->data_dir, ap->name);
	for (size_t i = 0; rc == 0 && i < d.count; i++) {
		const struct ds_entry *e = &d.entries[i];
		if (!S_ISREG(e->mode) || strcmp(e->name, table_csv) == 0 ||
		    strcmp(e->name, original) == 0 || strcmp(e->name, sqlite_name) == 0 ||
		    ds_entry_is_sqlite(e))
			continue;
		if (ds_join(from, sizeof(from), dir, e->name) < 0 ||
		    ds_join(to, sizeof(to), ap->tmp_dir, e->name) < 0)
			rc = -ENAMETOOLONG;
		else if (link(from, to) < 0 && errno != EEXIST)
			rc = -errno;
	}
	ds_dir_release(&d);
	if (rc < 0)
		ds_err(ap->err, ap->err_len, "cannot keep dataset %s's other files: %s", ap->name,
		       strerror(-rc));
	return rc;
}

int ds_append_merge(const char *data_dir, const char *name, const char *table,
		    const char *tmp_dir, char delimiter, int64_t *ret_rows, char *err,
		    size_t err_len)
{
	struct append ap = { data_dir, name, table, tmp_dir, delimiter, err, err_len };
	char merged[PATH_MAX], appended[PATH_MAX], sqlite_name[DS_NAME_MAX + 8],
		original[PATH_MAX];
	int rc;

	snprintf(sqlite_name, sizeof(sqlite_name), "%s.sqlite", name);
	if (ds_join(merged, sizeof(merged), tmp_dir, MERGED_FILE) < 0 ||
	    ds_join(appended, sizeof(appended), tmp_dir, sqlite_name) < 0)
		return -ENAMETOOLONG;
	rc = copy_old(&ap, merged);
	if (rc == 0)
		rc = merge_rows(&ap, merged, appended, ret_rows);
	if (rc == 0)
		rc = merge_csv(&ap);
	if (rc == 0 && (chmod(merged, 0644) < 0 || rename(merged, appended) < 0)) {
		rc = -errno;
		ds_err(err, err_len, "cannot write the appended SQLite file: %s", strerror(-rc));
	}
	snprintf(original, sizeof(original), "%s/%s" CSV_ORIGINAL_SUFFIX, tmp_dir, table);
	if (rc == 0)
		(void)unlink(original);
	if (rc == 0)
		rc = link_others(&ap, sqlite_name);
	(void)unlink(merged);
	return rc;
}
