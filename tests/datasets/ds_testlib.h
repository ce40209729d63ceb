/*
 * ds_testlib: helpers shared by the datasets tests: scratch data folders
 * under LEDGERBOX_TEST_TMP, snapshots of a folder tree (to prove a failed
 * import left nothing), running an import, and reading a SQLite file back.
 */
#ifndef LEDGERBOX_DS_TESTLIB_H
#define LEDGERBOX_DS_TESTLIB_H

#include "testlib.h"

#include <ftw.h>
#include <sqlite3.h>

#include "datasets/datasets.h"

#define DS_PATH 4096

/* A fresh, private data folder: LEDGERBOX_TEST_TMP/datasets-XXXXXX. */
static inline void ds_scratch(char out[DS_PATH])
{
	int n = snprintf(out, DS_PATH, "%s/datasets-XXXXXX", tl_tmp());
	assert_true(n > 0 && n < DS_PATH);
	assert_non_null(mkdtemp(out));
}

static inline int ds_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static inline void ds_rmtree(const char *dir)
{
	assert_int_equal(nftw(dir, ds_rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static inline void ds_path(char out[DS_PATH], const char *dir, const char *name)
{
	int n = snprintf(out, DS_PATH, "%s/%s", dir, name);
	assert_true(n > 0 && n < DS_PATH);
}

static inline void ds_mkdir(const char *dir, const char *name)
{
	char path[DS_PATH];
	ds_path(path, dir, name);
	assert_int_equal(mkdir(path, 0755), 0);
}

static inline void ds_write(const char *dir, const char *name, const char *content)
{
	char path[DS_PATH];
	FILE *f;
	ds_path(path, dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, strlen(content), f), strlen(content));
	assert_int_equal(fclose(f), 0);
}

/* The object of a JSON array whose "name" is name; fails the test if none. */
static inline json_t *ds_find_named(json_t *array, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(array, i, v) {
		if (strcmp(json_string_value(json_object_get(v, "name")), name) == 0)
			return v;
	}
	fail_msg("no entry named %s", name);
	return NULL;
}

/* ---- snapshots: every path under a folder, sorted, one per line ---------- */

static char *ds_snap_buf;
static size_t ds_snap_len;
static size_t ds_snap_root;

static inline int ds_snap_one(const char *path, const struct stat *st, int flag,
			      struct FTW *ftw)
{
	char line[DS_PATH + 64];
	int n;
	(void)flag;
	(void)ftw;
	n = snprintf(line, sizeof(line), "%s %o %lld\n", path + ds_snap_root,
		     (unsigned)st->st_mode, S_ISREG(st->st_mode) ? (long long)st->st_size : 0LL);
	tl_append(&ds_snap_buf, &ds_snap_len, line, (size_t)n);
	return 0;
}

static inline int ds_line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A malloc'd, sorted listing of everything under dir (lstat, sizes). */
static inline char *ds_snapshot(const char *dir)
{
	char *lines[512] = { NULL }, *out = NULL, *save = NULL;
	size_t count = 0, out_len = 0;

	ds_snap_buf = NULL;
	ds_snap_len = 0;
	ds_snap_root = strlen(dir);
	assert_int_equal(nftw(dir, ds_snap_one, 16, FTW_PHYS), 0);
	for (char *l = strtok_r(ds_snap_buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		assert_true(count < 512);
		lines[count++] = l;
	}
	qsort(lines, count, sizeof(lines[0]), ds_line_cmp);
	for (size_t i = 0; i < count; i++) {
		tl_append(&out, &out_len, lines[i], strlen(lines[i]));
		tl_append(&out, &out_len, "\n", 1);
	}
	free(ds_snap_buf);
	ds_snap_buf = NULL;
	return out;
}

/* ---- imports -------------------------------------------------------------- */

/* Imports len bytes of csv, fed in pieces of `chunk` bytes (0: all at once),
 * read as fmt says (NULL: everything detected). */
static inline int ds_import_fmt(const char *data_dir, const char *name, const char *table,
				const char *csv, size_t len, size_t chunk, uint64_t max_bytes,
				uint64_t max_rows, const struct csv_import_format *fmt,
				json_t **ret_summary, char *err, size_t err_len)
{
	struct csv_import_limits limits = { .max_bytes = max_bytes, .max_rows = max_rows };
	struct csv_import *imp = NULL;
	json_t *summary = NULL;
	int rc = csv_import_begin(data_dir, name, table, &limits, &imp, err, err_len);

	if (rc < 0)
		return rc;
	if (fmt && (rc = csv_import_set_format(imp, fmt)) < 0) {
		csv_import_abort(imp);
		return rc;
	}
	if (chunk == 0)
		chunk = len ? len : 1;
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		rc = csv_import_feed(imp, csv + off, n, err, err_len);
		if (rc < 0) {
			csv_import_abort(imp);
			return rc;
		}
	}
	rc = csv_import_finish(imp, &summary, err, err_len);
	if (rc == 0 && ret_summary)
		*ret_summary = summary;
	else
		json_decref(summary);
	return rc;
}

static inline int ds_import(const char *data_dir, const char *name, const char *table,
			   const char *csv, size_t len, size_t chunk, uint64_t max_bytes,
			   uint64_t max_rows, json_t **ret_summary, char *err, size_t err_len)
{
	return ds_import_fmt(data_dir, name, table, csv, len, chunk, max_bytes, max_rows, NULL,
			     ret_summary, err, err_len);
}

/* A whole NUL-terminated csv into NAME/t, with generous limits. */
static inline int ds_import_as(const char *data_dir, const char *name, const char *csv,
			       const struct csv_import_format *fmt, json_t **ret_summary,
			       char *err, size_t err_len)
{
	return ds_import_fmt(data_dir, name, "t", csv, strlen(csv), 0, 1u << 30, 1000000, fmt,
			     ret_summary, err, err_len);
}

/* ---- reading SQLite back ------------------------------------------------- */

static inline int ds_row_cb(void *arg, int n, char **values, char **names)
{
	struct { char *s; size_t len; } *out = arg;
	(void)names;
	for (int i = 0; i < n; i++) {
		const char *v = values[i] ? values[i] : "NULL";
		if (i)
			tl_append(&out->s, &out->len, "|", 1);
		tl_append(&out->s, &out->len, v, strlen(v));
	}
	tl_append(&out->s, &out->len, "\n", 1);
	return 0;
}

/* Runs sql on the SQLite file at path: one line per row, values joined by
 * '|', NULL as "NULL". Malloc'd. */
static inline char *ds_query(const char *path, const char *sql)
{
	struct { char *s; size_t len; } out = { NULL, 0 };
	sqlite3 *db = NULL;
	char *msg = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	if (sqlite3_exec(db, sql, ds_row_cb, &out, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg ? msg : "?");
	sqlite3_close(db);
	if (!out.s)
		tl_append(&out.s, &out.len, "", 0);
	return out.s;
}

/* Runs statements on a SQLite file, creating it. */
static inline void ds_sql_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg ? msg : "?");
	sqlite3_close(db);
}

#endif
