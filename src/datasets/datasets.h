/*
 * datasets: the data analysts query, kept in DATA_DIR.
 *
 * A dataset is a folder DATA_DIR/NAME/ holding at most one SQLite file
 * (*.sqlite, what SQL runs query) and any CSV files (what Python reads at
 * /data). NAME matches [A-Za-z0-9_-]{1,64}; no path a client sends reaches
 * the file system without passing dataset_name_valid(). Folders whose
 * names do not pass are ignored. Hidden entries (".x") are never datasets.
 *
 * All functions return 0 or a negative errno and, where they take one, fill
 * `err` with a one-line message saying what was wrong, where, and what to
 * do. Out-parameters are written only on success.
 */
#ifndef LEDGERBOX_DATASETS_H
#define LEDGERBOX_DATASETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

bool dataset_name_valid(const char *name);

/* The path a run mounts: for Python the dataset folder, for SQL its SQLite
 * file. -ENOENT with a message when there is no such dataset (a symlink or
 * a file named NAME is not one) or (SQL) it has no regular *.sqlite file;
 * -EINVAL for a bad name or (SQL) several SQLite files; -ENAMETOOLONG when
 * the path does not fit in ret_len. */
int dataset_path_for_python(const char *data_dir, const char *name, char *ret, size_t ret_len,
			    char *err, size_t err_len);
int dataset_path_for_sql(const char *data_dir, const char *name, char *ret, size_t ret_len,
			 char *err, size_t err_len);

/* The dataset's fingerprint (64 hex digits) over everything a run can read
 * under /data, subfolders and hidden files included: it changes whenever
 * an entry is replaced, written (even when size and mtime are put back),
 * renamed, added or removed (see fingerprint.c). -ENOENT with a message
 * when there is no such dataset; -E2BIG past DATASET_FP_MAX_ENTRIES
 * entries, -ELOOP past DATASET_FP_MAX_DEPTH levels of folders (a tree it
 * will not vouch for in part). */
#define DATASET_FP_MAX_ENTRIES 4096
#define DATASET_FP_MAX_DEPTH 16
int dataset_fingerprint(const char *data_dir, const char *name, char ret[65], char *err,
			size_t err_len);

/* As dataset_fingerprint(), but -EAGAIN (with a message) while an entry's
 * status-change time is in the current tick of the clock the file system
 * stamps with: a second write in that tick, of the same size, would leave
 * every time as it is, so this fingerprint could not tell the two apart.
 * An answer is cached only under a fingerprint that settled. */
int dataset_fingerprint_settled(const char *data_dir, const char *name, char ret[65], char *err,
				size_t err_len);

/* Every dataset, sorted by name: [{"name", "sqlite": file name or null,
 * "files": [{"name", "bytes"}], "tables": [{"name", "rows",
 * "columns": [{"name", "type"}]}]}]. Files are the regular, non-hidden
 * files, sorted. Tables come from the SQLite file, opened read-only,
 * sorted by name; "type" is the declared type ("" when none). A dataset
 * whose SQLite file cannot be read (or that has several) also has
 * "error": "..." and empty "tables"; that does not fail the list. Fails only
 * when DATA_DIR cannot be read or memory runs out. The caller owns *ret.
 * A PostgreSQL dataset (a folder holding postgres.url, see pg_dataset.h)
 * also has "engine": "postgresql"; its tables come from the database, with
 * their types as PostgreSQL names them, and "error" says why they could
 * not be read (the URL file or the role refused, the server unreachable). */
int dataset_list(const char *data_dir, json_t **ret, char *err, size_t err_len);

/* Streamed CSV upload into a new dataset NAME with one table TABLE (a valid
 * name too, not starting with "sqlite_"). Bytes are fed as they arrive;
 * nothing is visible in DATA_DIR until csv_import_finish() succeeds, and a
 * failed or aborted import leaves nothing behind.
 *
 * The first row is the header (names must be non-empty and unique after
 * trimming). Column types are inferred over all rows: integer, real
 * (numbers as exports write them: thousands separators, decimal comma,
 * currencies, (negatives), percents), date or datetime (ISO or one
 * consistent day/month order), else text; empty fields are NULL, and so are
 * placeholders such as N/A in number and date columns. A row with the wrong number of fields, an unterminated quote or
 * invalid UTF-8 fails with the line number. Limits: max_bytes of input,
 * max_rows data rows. The dataset gets NAME/NAME.sqlite (the table) and
 * NAME/TABLE.csv: the upload as sent when it was plain CSV, else the values
 * as stored, with the upload kept as NAME/TABLE.original.csv (see
 * csv_write.c). -EEXIST when NAME exists.
 *
 * Column names are trimmed, 1 to 128 bytes, without control characters
 * and unique ignoring ASCII case (SQLite compares them so); at most 2000
 * columns. The CSV is RFC 4180 (see csv_parse.h): separated by ',' ';' tab or
 * '|', CRLF or LF,
 * double quotes with "" inside, an optional UTF-8 BOM; blank lines are
 * skipped. Line numbers in messages are the physical line (1-based) where
 * the bad record starts. While an upload runs its bytes sit in a hidden
 * folder DATA_DIR/.upload-XXXXXX (never listed). */
struct csv_import;
struct csv_import_limits {
	uint64_t max_bytes;
	uint64_t max_rows;
};
int csv_import_begin(const char *data_dir, const char *name, const char *table,
		     const struct csv_import_limits *limits, struct csv_import **ret, char *err,
		     size_t err_len);
/* How the file is written, when the uploader says so: delimiter ',' ';'
 * '\t' or '|' (0: detected from the first records), decimal '.' or ','
 * (0: what the values show), dayfirst 1 or 0 for dates such as 05/06/2025
 * (-1: such a column stays text). -EINVAL for anything else. Call before
 * csv_import_finish(). */
struct csv_import_format {
	char delimiter;
	char decimal;
	int dayfirst;
};
int csv_import_set_format(struct csv_import *imp, const struct csv_import_format *fmt);
/* -EFBIG past max_bytes (the import is then dead: abort it). */
int csv_import_feed(struct csv_import *imp, const void *data, size_t len, char *err,
		    size_t err_len);
/* Parses, creates the SQLite file and publishes the dataset. On success
 * *ret_summary is {"name", "table", "rows", "delimiter" (",", ";", "tab",
 * "|"), "decimal" ("." or "," or null), "original_csv" (only when TABLE.csv
 * was rewritten), "columns": [{"name", "type",
 * "format", "empty", "nulled", "nulled_lines", "note"?}]} with type
 * "integer", "real", "date", "datetime" or "text": the decision taken for
 * each column and why (see csv_column.c). Errors: -EINVAL bad CSV,
 * -EFBIG past a limit, -EEXIST NAME appeared meanwhile, -ENOSPC, -EIO,
 * -ENOMEM, each with a message. Frees imp in every case. */
int csv_import_finish(struct csv_import *imp, json_t **ret_summary, char *err, size_t err_len);
/* Drops everything; accepts NULL. */
void csv_import_abort(struct csv_import *imp);

/* csv_import_finish() in two steps, so that the caller can record the
 * dataset (and check a quota) before it appears: csv_import_build() checks
 * and loads, giving the summary and *ret_bytes, what the dataset's files
 * take, and publishes nothing (on failure the caller aborts imp);
 * csv_import_publish() puts the folder in place and frees imp in every
 * case. */
int csv_import_build(struct csv_import *imp, json_t **ret_summary, uint64_t *ret_bytes,
		     char *err, size_t err_len);
int csv_import_publish(struct csv_import *imp, char *err, size_t err_len);

/* As csv_import_begin(), for a new version of the existing dataset NAME
 * (-ENOENT with a message when there is none): its publish replaces the
 * dataset's folder at once (an atomic exchange), and the old folder is
 * retired (see dataset_delete()). */
int csv_import_begin_version(const char *data_dir, const char *name, const char *table,
			     const struct csv_import_limits *limits, struct csv_import **ret,
			     char *err, size_t err_len);

/* As csv_import_begin_version(), for rows appended to TABLE of dataset
 * NAME: the upload is a CSV with the table's columns (by name, in order)
 * whose values fit their types; its version holds the dataset's rows and
 * then the new ones, in the SQLite file and in TABLE.csv (see
 * csv_append.c). A mismatch is -EINVAL from csv_import_build() with the
 * line. */
int csv_import_begin_append(const char *data_dir, const char *name, const char *table,
			    const struct csv_import_limits *limits, struct csv_import **ret,
			    char *err, size_t err_len);

/* -EEXIST, with a message naming the dataset that holds it, when NAME is
 * taken ignoring ASCII case by an entry of DATA_DIR ("DEMO" beside
 * "demo"); 0 when it is free. */
int dataset_name_free(const char *data_dir, const char *name, char *err, size_t err_len);

/* Takes dataset NAME out of DATA_DIR in one rename: its folder becomes a
 * hidden DATA_DIR/.retired-XXXXXX, so runs that mounted it (a mount keeps
 * the folder, not its name) finish on the files they started with, and
 * the name is free at once. csv_import_sweep() removes retired folders
 * once no run holds them. -ENOENT with a message when there is no such dataset. */
int dataset_delete(const char *data_dir, const char *name, char *err, size_t err_len);

/* Waits for and takes the exclusive change lock of dataset NAME (any
 * spelling: names are unique ignoring case), held by a replace, an append
 * or a delete from before it reads the dataset until its record and folder
 * agree again (see dataset_lock.c). *ret_fd is the caller's to pass to
 * dataset_change_unlock(). Errors: -EINVAL bad name, or the errno of
 * opening or locking DATA_DIR/.lock-name, with a message. */
int dataset_change_lock(const char *data_dir, const char *name, int *ret_fd, char *err,
			size_t err_len) __attribute__((warn_unused_result));
/* The same lock shared: held by a run while it reads the record and
 * takes hold of the folder (dataset_hold()), so no change lands between
 * the two. Released with dataset_change_unlock(). */
int dataset_read_lock(const char *data_dir, const char *name, int *ret_fd, char *err,
		      size_t err_len) __attribute__((warn_unused_result));
/* Releases a lock taken by dataset_change_lock() or dataset_read_lock();
 * accepts -1. */
void dataset_change_unlock(int fd);

/* A run's hold on one version of a dataset (see dataset_hold.c): the
 * folder opened, flock(LOCK_SH) on it, and what it is. */
struct dataset_hold {
	int fd; /* -1: none */
	dev_t dev;
	ino_t ino;
};
#define DATASET_HOLD_NONE ((struct dataset_hold){ .fd = -1 })
/* Opens DATA_DIR/NAME (a real folder, never a link), takes flock(LOCK_SH)
 * on it and checks that the name still is that folder (a replace may have
 * moved it away in between: then tries again, a few times). On success
 * *ret holds it until dataset_release(). -ENOENT (no such dataset) or
 * -EAGAIN (it kept changing) with a message. */
int dataset_hold(const char *data_dir, const char *name, struct dataset_hold *ret, char *err,
		 size_t err_len) __attribute__((warn_unused_result));
/* Whether DATA_DIR/NAME still is the held folder. */
bool dataset_hold_current(const char *data_dir, const char *name, const struct dataset_hold *h);
/* Lets the folder go (a retired one can then be swept); accepts none. */
void dataset_release(struct dataset_hold *h);

/* Calls fn with each retired folder's dataset name (in lower case) and
 * the bytes of its files: versions not swept yet because runs hold them.
 * -errno when DATA_DIR cannot be read. */
int dataset_retired_each(const char *data_dir,
			 void (*fn)(void *ctx, const char *name, uint64_t bytes), void *ctx);

/* Removes upload folders (DATA_DIR/.upload-*) that a crash or a kill left
 * behind: those where nothing changed for older_than_s seconds. Meant for
 * server start-up and an occasional sweep; *ret_removed (may be NULL) says
 * how many went. Retired folders (DATA_DIR/.retired-*, see
 * dataset_delete()) go as soon as no run holds them (dataset_hold()). */
int csv_import_sweep(const char *data_dir, uint64_t older_than_s, unsigned *ret_removed);

#endif
