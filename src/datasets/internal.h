/*
 * Private interfaces between the files of src/datasets/. Nothing outside
 * the datasets part includes this.
 *
 * datasets.c checks names and resolves paths, dataset_dir.c reads a
 * folder, dataset_list.c describes every dataset, and a CSV upload goes
 * csv_import.c (temporary folder, bytes, publishing) -> csv_check.c (pass 1:
 * validate, infer types) -> csv_load.c (pass 2: write the SQLite file),
 * with csv_parse.c reading records and csv_types.c classifying values.
 */
#ifndef LEDGERBOX_DATASETS_INTERNAL_H
#define LEDGERBOX_DATASETS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define DS_NAME_MAX 64          /* bytes of a dataset or table name */
#define DS_DIR_MAX_ENTRIES 100000 /* entries read from one folder */
#define CSV_MAX_COLUMNS 2000    /* SQLite's default SQLITE_MAX_COLUMN */
#define CSV_MAX_NAME_BYTES 128  /* a column name, after trimming */
#define CSV_MAX_RECORD_BYTES (16u << 20)
#define DS_UPLOAD_PREFIX ".upload-" /* an upload in progress, in DATA_DIR */

#include "util/db.h"

/* Writes a one-line message to err when err is not NULL. */
#define ds_err db_err

/* ret = dir/name; -ENAMETOOLONG when it does not fit. */
int ds_join(char *ret, size_t ret_len, const char *dir, const char *name);

/* ---- dataset_dir.c ---------------------------------------------------- */

struct ds_entry {
	char *name;
	mode_t mode; /* from lstat: a symlink is a symlink */
	uint64_t bytes;
};

/* The non-hidden entries of one folder, sorted by name. */
struct ds_dir {
	struct ds_entry *entries;
	size_t count;
};

/* Reads the folder open at dir_fd (which it does not close). -E2BIG past
 * DS_DIR_MAX_ENTRIES. */
int ds_dir_read(int dir_fd, struct ds_dir *ret);
void ds_dir_release(struct ds_dir *d);
/* Whether the entry is a regular file named *.sqlite. */
bool ds_entry_is_sqlite(const struct ds_entry *e);
/* Counts the SQLite files; *ret_first is the first one (or NULL). */
size_t ds_dir_sqlite_count(const struct ds_dir *d, const struct ds_entry **ret_first);
/* "a.sqlite, b.sqlite" into buf (cut short when it does not fit). */
void ds_dir_sqlite_names(const struct ds_dir *d, char *buf, size_t buf_len);

/* Opens DATA_DIR/NAME (a validated name) as a folder without following a
 * symlink: -ENOENT with a message when it is missing, a symlink or not a
 * folder. On success *ret_fd is an O_DIRECTORY descriptor. */
int ds_dir_open_dataset(const char *data_dir, const char *name, int *ret_fd, char *err,
			size_t err_len);

/* Removes a folder ledgerbox made and everything in it (one level deep:
 * uploads never make subfolders). Best effort; for cleanup paths. */
void ds_dir_remove(const char *path);

/* ---- csv_types.c ------------------------------------------------------ */

enum csv_type {
	CSV_TYPE_EMPTY, /* no value seen yet */
	CSV_TYPE_INTEGER,
	CSV_TYPE_REAL,
	CSV_TYPE_DATE,
	CSV_TYPE_TEXT,
};

/* The type of one NUL-terminated value of len bytes; "" is CSV_TYPE_EMPTY. */
enum csv_type csv_type_of(const char *s, size_t len);
/* The column type that holds values of both types. */
enum csv_type csv_type_merge(enum csv_type a, enum csv_type b);
/* "integer", "real", "date", "text" (an all-empty column is text). */
const char *csv_type_name(enum csv_type t);
/* The declared SQLite type: INTEGER, REAL or TEXT (dates are TEXT). */
const char *csv_type_sql(enum csv_type t);
/* Converters for values csv_type_of() classified as integer or real. */
bool csv_parse_int64(const char *s, size_t len, int64_t *ret);
bool csv_parse_real(const char *s, size_t len, double *ret);

/* ---- csv_check.c and csv_load.c --------------------------------------- */

/* What pass 1 learned about the upload. */
struct csv_shape {
	size_t columns;
	char **names;          /* trimmed, NUL-terminated, valid UTF-8 */
	enum csv_type *types;
	uint64_t rows;
};

/* Pass 1 over the CSV from its start: validates every record and infers
 * the column types. -EINVAL (bad CSV) or -EFBIG (past max_rows) with a
 * message naming the line. */
int csv_check(FILE *in, uint64_t max_rows, struct csv_shape *ret, char *err, size_t err_len);
void csv_shape_release(struct csv_shape *shape);

/* Pass 2: creates the SQLite file db_path with one table holding every
 * record of the CSV (read again from its start). */
int csv_load(FILE *in, const struct csv_shape *shape, const char *db_path, const char *table,
	     char *err, size_t err_len);

#endif
