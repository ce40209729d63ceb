/*
 * csv_load: pass 2 of an import. Creates the dataset's SQLite file and
 * copies every record of the (already checked) CSV into one table.
 *
 * Invariants:
 * - The file is new (it lives in the upload's private folder) and is
 *   written in one transaction with journal_mode DELETE, so after COMMIT it
 *   is a single self-contained file: no -wal or -journal next to it, which
 *   matters because datasets are mounted read-only.
 * - Table and column names only reach SQL as identifiers quoted with
 *   SQLite's %w ("" doubles a quote); values only as bound parameters.
 * - A column's values are stored as its inferred type (csv_column_value()):
 *   INTEGER, REAL, or TEXT (dates as ISO 8601); an empty field is NULL, and
 *   so is a placeholder in a number or date column.
 * - The CSV must read back exactly as pass 1 saw it; anything else is -EIO.
 * - When asked, the plain CSV gets exactly the values bound, record by
 *   record (the caller checks its stream for errors).
 */
#include "datasets/internal.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <sqlite3.h>

#include "datasets/csv_parse.h"

#include "util/banned.h"

struct load {
	sqlite3 *db;
	sqlite3_stmt *insert;
	const struct csv_shape *shape;
	FILE *out; /* the plain CSV, or NULL */
	char *err;
	size_t err_len;
};

static int load_fail(struct load *l, int rc, const char *doing)
{
	int code = l->db ? sqlite3_extended_errcode(l->db) : rc;

	ds_err(l->err, l->err_len, "%s failed: %s", doing,
	       l->db ? sqlite3_errmsg(l->db) : sqlite3_errstr(rc));
	if ((code & 0xff) == SQLITE_FULL)
		return -ENOSPC;
	if ((code & 0xff) == SQLITE_NOMEM)
		return -ENOMEM;
	return -EIO;
}

static int load_exec(struct load *l, const char *sql, const char *doing)
{
	int rc = sqlite3_exec(l->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : load_fail(l, rc, doing);
}

/* Runs the SQL an sqlite3_str built (and frees it). */
static int load_exec_str(struct load *l, sqlite3_str *s, const char *doing)
{
	char *sql = sqlite3_str_finish(s);
	int rc;

	if (!sql)
		return -ENOMEM;
	rc = load_exec(l, sql, doing);
	sqlite3_free(sql);
	return rc;
}

static int load_open(struct load *l, const char *db_path)
{
	int rc = sqlite3_open_v2(db_path, &l->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);

	if (rc != SQLITE_OK)
		return load_fail(l, rc, "creating the SQLite file");
	if ((size_t)sqlite3_limit(l->db, SQLITE_LIMIT_COLUMN, -1) < l->shape->columns ||
	    (size_t)sqlite3_limit(l->db, SQLITE_LIMIT_VARIABLE_NUMBER, -1) < l->shape->columns) {
		ds_err(l->err, l->err_len, "%zu columns are more than this SQLite allows",
		       l->shape->columns);
		return -EINVAL;
	}
	return load_exec(l, "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;",
			 "setting up the SQLite file");
}

static int load_create(struct load *l, const char *table)
{
	sqlite3_str *s = sqlite3_str_new(l->db);

	sqlite3_str_appendf(s, "CREATE TABLE \"%w\" (", table);
	for (size_t i = 0; i < l->shape->columns; i++)
		sqlite3_str_appendf(s, "%s\"%w\" %s", i ? ", " : "", l->shape->names[i],
				    csv_type_sql(l->shape->cols[i].type));
	sqlite3_str_appendall(s, ")");
	return load_exec_str(l, s, "creating the table");
}

static int load_prepare(struct load *l, const char *table)
{
	sqlite3_str *s = sqlite3_str_new(l->db);
	char *sql;
	int rc;

	sqlite3_str_appendf(s, "INSERT INTO \"%w\" VALUES (", table);
	for (size_t i = 0; i < l->shape->columns; i++)
		sqlite3_str_appendall(s, i ? ", ?" : "?");
	sqlite3_str_appendall(s, ")");
	sql = sqlite3_str_finish(s);
	if (!sql)
		return -ENOMEM;
	rc = sqlite3_prepare_v2(l->db, sql, -1, &l->insert, NULL);
	sqlite3_free(sql);
	return rc == SQLITE_OK ? 0 : load_fail(l, rc, "preparing the insert");
}

static int bind_value(struct load *l, int col, const struct csv_field *f,
		      const struct csv_column *c)
{
	struct csv_value v;

	if (csv_column_value(c, f->data, f->len, &v) < 0)
		return SQLITE_MISMATCH;
	if (l->out)
		csv_write_value(l->out, &v, (size_t)col - 1, l->shape->columns);
	switch (v.kind) {
	case CSV_VALUE_NULL:
		return sqlite3_bind_null(l->insert, col);
	case CSV_VALUE_INTEGER:
		return sqlite3_bind_int64(l->insert, col, v.i);
	case CSV_VALUE_REAL:
		return sqlite3_bind_double(l->insert, col, v.d);
	case CSV_VALUE_TEXT:
		break;
	}
	/* A date lives in v.buf: SQLite copies it. The field itself lives until
	 * the next record is read, after the step. */
	return sqlite3_bind_text64(l->insert, col, v.text, v.len,
				   v.text == v.buf ? SQLITE_TRANSIENT : SQLITE_STATIC, SQLITE_UTF8);
}

/* Pass 1 accepted the CSV, so reading it differently now means the file
 * changed under us or ledgerbox has a bug: either way, stop. */
static int load_changed(struct load *l)
{
	ds_err(l->err, l->err_len, "the upload read back differently the second time");
	return -EIO;
}

static int load_row(struct load *l, const struct csv_record *rec)
{
	int rc = SQLITE_OK;

	if (rec->count != l->shape->columns)
		return load_changed(l);
	for (size_t i = 0; i < rec->count && rc == SQLITE_OK; i++)
		rc = bind_value(l, (int)i + 1, &rec->fields[i], &l->shape->cols[i]);
	if (rc == SQLITE_MISMATCH)
		return load_changed(l);
	if (l->out)
		fputc('\n', l->out);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(l->insert);
	if (rc != SQLITE_DONE)
		return load_fail(l, rc, "inserting a row");
	rc = sqlite3_reset(l->insert);
	return rc == SQLITE_OK ? 0 : load_fail(l, rc, "inserting a row");
}

/* Skips the header and inserts every other record. */
static int load_rows(struct load *l, FILE *in)
{
	struct csv_reader r;
	struct csv_record rec;
	uint64_t rows = 0;
	int rc, row_rc = 0;

	csv_reader_init(&r, in, CSV_MAX_RECORD_BYTES, CSV_MAX_COLUMNS);
	r.delimiter = l->shape->delimiter;
	rc = csv_reader_next(&r, &rec);
	while (rc > 0 && (rc = csv_reader_next(&r, &rec)) > 0) {
		row_rc = load_row(l, &rec);
		if (row_rc < 0)
			break;
		rows++;
	}
	csv_reader_release(&r);
	if (row_rc < 0)
		return row_rc;
	if (rc == -ENOMEM) {
		ds_err(l->err, l->err_len, "out of memory while reading the upload");
		return rc;
	}
	return rc < 0 || rows != l->shape->rows ? load_changed(l) : 0;
}

static int load_all(struct load *l, FILE *in, const char *db_path, const char *table)
{
	int rc = load_open(l, db_path);

	if (rc == 0)
		rc = load_exec(l, "BEGIN", "starting the transaction");
	if (rc == 0)
		rc = load_create(l, table);
	if (rc == 0)
		rc = load_prepare(l, table);
	if (rc == 0)
		rc = load_rows(l, in);
	if (rc == 0)
		rc = load_exec(l, "COMMIT", "committing");
	return rc;
}

int csv_load(FILE *in, const struct csv_shape *shape, const char *db_path, const char *table,
	     FILE *out, char *err, size_t err_len)
{
	struct load l = { .shape = shape, .out = out, .err = err, .err_len = err_len };
	int rc;

	if (fseek(in, 0, SEEK_SET) < 0) {
		rc = -errno;
		ds_err(err, err_len, "cannot read the upload back: %s", strerror(-rc));
		return rc;
	}
	if (out)
		csv_write_header(out, shape);
	rc = load_all(&l, in, db_path, table);
	sqlite3_finalize(l.insert);
	/* Closing without COMMIT rolls back; the caller deletes the file. */
	if (sqlite3_close(l.db) != SQLITE_OK && rc == 0) {
		ds_err(err, err_len, "closing the SQLite file failed");
		rc = -EIO;
	}
	return rc;
}
