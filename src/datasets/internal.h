/*
 * Private interfaces between the files of src/datasets/. Nothing outside
 * the datasets part includes this.
 *
 * datasets.c checks names and resolves paths, dataset_dir.c reads a
 * folder, dataset_list.c describes every dataset, and a CSV upload goes
 * csv_import.c (temporary folder, bytes, publishing) -> csv_check.c (pass 1:
 * validate, infer types) -> csv_load.c (pass 2: write the SQLite file),
 * with csv_parse.c reading records, csv_sniff.c choosing the delimiter,
 * csv_number.c and csv_date.c reading values as exports write them and
 * csv_column.c deciding (and explaining) what each column becomes.
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
#define DS_RETIRED_PREFIX ".retired-" /* an old version or a deleted dataset */
#define DS_LOCK_PREFIX ".lock-"       /* a dataset's change lock (dataset_lock.c) */
#define CSV_ORIGINAL_SUFFIX ".original.csv" /* an upload as sent, when rewritten */

#include <jansson.h>

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

/* ---- dataset_change.c ------------------------------------------------- */

/* Exchanges the complete folder new_path with the dataset folder at
 * path in one step (RENAME_EXCHANGE) and retires the old one. */
int ds_exchange_retire(const char *data_dir, const char *new_path, const char *path);
/* The bytes of the regular files in the folder open at dir_fd, all
 * levels down. */
int ds_dir_bytes(int dir_fd, uint64_t *ret);
/* Removes a folder and everything below it, never following a link. */
void ds_tree_remove(const char *path);

/* ---- csv_append.c ----------------------------------------------------- */

/* Makes tmp_dir, where the appended CSV was imported alone (NAME.sqlite
 * with TABLE, TABLE.csv; delimiter: the one it was read with), the next
 * version of dataset NAME: its rows and then the new ones. -EINVAL with a
 * message (naming the line) when the rows do not fit the table;
 * *ret_rows: the table's rows after the append. */
int ds_append_merge(const char *data_dir, const char *name, const char *table,
		    const char *tmp_dir, char delimiter, int64_t *ret_rows, char *err,
		    size_t err_len);

/* ---- csv_types.c ------------------------------------------------------ */

enum csv_type {
	CSV_TYPE_EMPTY, /* no value seen yet */
	CSV_TYPE_INTEGER,
	CSV_TYPE_REAL,
	CSV_TYPE_DATE,
	CSV_TYPE_TEXT,
	CSV_TYPE_DATETIME, /* a date with a time: stored "YYYY-MM-DD HH:MM:SS" */
};

/* The type of one NUL-terminated value of len bytes; "" is CSV_TYPE_EMPTY. */
enum csv_type csv_type_of(const char *s, size_t len);
/* The column type that holds values of both types. */
enum csv_type csv_type_merge(enum csv_type a, enum csv_type b);
/* "integer", "real", "date", "datetime", "text" (an all-empty column is
 * text). */
const char *csv_type_name(enum csv_type t);
/* The declared SQLite type: INTEGER, REAL or TEXT (dates are TEXT). */
const char *csv_type_sql(enum csv_type t);
/* Converters for values csv_type_of() classified as integer or real. */
bool csv_parse_int64(const char *s, size_t len, int64_t *ret);
bool csv_parse_real(const char *s, size_t len, double *ret);

/* ---- csv_number.c ------------------------------------------------------ */

/* Removes blanks (ASCII, U+00A0, U+2009, U+202F) from both ends. */
void csv_trim(const char **s, size_t *len);

/* A cell with its decoration (sign, parentheses, currency, '%') peeled
 * off; core points into the cell. */
struct csv_num_cell {
	bool signed_, negative, parens, percent;
	int currency; /* an index for csv_currency_name(), or -1 */
	const char *core;
	size_t core_len;
};

struct csv_number {
	bool integer;      /* no fraction, exponent or percent: i holds it */
	bool fraction;     /* a decimal mark or an exponent was used */
	bool leading_zero; /* "007": more than one digit, the first a 0 */
	int separator;     /* the thousands separator used, 0 when none */
	int64_t i;
	double d; /* the value (a percent divided by 100) */
};

#define CSV_CURRENCIES 64 /* at most this many spellings (a bit each) */

bool csv_number_split(const char *s, size_t len, struct csv_num_cell *ret);
/* The value of a split cell with decimal mark '.' or ','. */
bool csv_number_value(const struct csv_num_cell *c, char mark, struct csv_number *ret);
const char *csv_currency_name(int index);

/* ---- csv_date.c -------------------------------------------------------- */

enum { CSV_DATE_YMD = 1, CSV_DATE_DMY = 2, CSV_DATE_MDY = 4 };
#define CSV_DATE_ISO_MAX 24

struct csv_date_cell {
	unsigned orders; /* CSV_DATE_* bits the cell fits */
	char sep;        /* '-', '/' or '.' */
	bool year_first, time;
	int year, a, b; /* a and b: the two fields besides the year, in order */
	int hour, minute, second;
};

bool csv_date_split(const char *s, size_t len, struct csv_date_cell *ret);
/* "YYYY-MM-DD" or "YYYY-MM-DD HH:MM:SS" for one order; its length. */
size_t csv_date_iso(const struct csv_date_cell *c, unsigned order, char out[CSV_DATE_ISO_MAX]);

/* ---- csv_sniff.c ------------------------------------------------------- */

#define CSV_DELIMITERS 4 /* ',' ';' '\t' '|' */

/* What the uploader said; 0 (or -1 for dayfirst) leaves it to the file. */
struct csv_options {
	char delimiter; /* ',' ';' '\t' '|' */
	char decimal;   /* '.' or ',' */
	int dayfirst;   /* 1: 05/06 is 5 June, 0: 6 May, -1: not said */
};

/* What the first records of an upload look like. */
struct csv_sniffed {
	char pick;     /* the delimiter to read with: ',' when none fits */
	int fit;       /* 2: every record sampled has the header's count, 1: most, 0: no */
	size_t fields; /* the header's, split by pick */
	char rival;    /* another delimiter that fits every record too, or 0 */
	size_t rival_fields;
};

/* The delimiter that splits the first records of `in` (read from its
 * current position, which is not restored) into the same number of fields,
 * more than one. -EIO when it cannot be read. */
int csv_sniff_delimiter(FILE *in, struct csv_sniffed *ret);
/* "comma", "semicolon", "tab", "pipe". */
const char *csv_delimiter_name(char d);
/* How the query parameter spells it: ",", ";", "tab", "|". */
const char *csv_delimiter_param(char d);
/* The number of fields each candidate delimiter would give the fields of a
 * record joined back together (quotes ignored). */
struct csv_record;
void csv_delimiter_splits(const struct csv_record *rec, size_t ret[CSV_DELIMITERS]);
char csv_delimiter_at(size_t i);

/* ---- csv_column.c ------------------------------------------------------ */

#define CSV_EXAMPLE_LINES 5  /* line numbers kept per decision */
#define CSV_EXAMPLE_BYTES 40 /* of a value quoted in a note */

struct csv_example {
	uint64_t line; /* 0: none yet */
	char text[CSV_EXAMPLE_BYTES + 4];
};

/* What pass 1 saw in one column, and what it decided. */
struct csv_column {
	uint64_t values;  /* cells that are neither empty nor placeholders */
	uint64_t empty;   /* cells with nothing in them */
	uint64_t holders; /* placeholders (N/A, -, null, blanks...) */
	uint64_t holder_lines[CSV_EXAMPLE_LINES];
	uint64_t numbers, dates, percents, parens;
	bool number[2], integer[2], fraction[2]; /* by mark: [0] '.', [1] ',' */
	unsigned separators[2];                  /* thousands kinds seen, a bit each */
	uint64_t currencies;                     /* a bit per csv_currency_name() */
	struct csv_example ambiguous, leading_zero, other, odd_date;
	bool wide[2];                 /* by mark: a whole number past 2^53 */
	struct csv_example wide_example; /* which a REAL would round */
	bool odd;        /* a value a plain CSV reader would not read as stored */
	unsigned date_orders;
	char date_sep;
	int date_time; /* -1 before the first date */
	/* After csv_columns_resolve(): */
	enum csv_type type;
	char decimal;        /* numbers: '.' or ',' */
	unsigned date_order; /* dates: one CSV_DATE_* */
	uint64_t nulled;     /* placeholders stored as NULL */
	char format[256];
	char note[320];
};

/* Count columns, ready for csv_column_add(). NULL when out of memory. */
struct csv_column *csv_columns_new(size_t count);
void csv_column_add(struct csv_column *c, const char *s, size_t len, uint64_t line);

/* ---- csv_check.c and csv_load.c --------------------------------------- */

/* What pass 1 learned about the upload. */
struct csv_shape {
	size_t columns;
	char **names;          /* trimmed, NUL-terminated, valid UTF-8 */
	struct csv_column *cols;
	uint64_t rows;
	char delimiter;        /* the one used */
	bool rewrite;          /* TABLE.csv must be written again (csv_write.c) */
	char decimal;          /* the file's decimal mark, 0 when none showed */
	size_t header_splits[CSV_DELIMITERS];
};

/* Decides every column's type from what pass 1 saw and the options:
 * -EINVAL, with a message naming the column and asking for decimal=, when
 * a column's numbers read differently by decimal mark and nothing tells
 * which mark the file uses. */
int csv_columns_resolve(struct csv_shape *shape, const struct csv_options *opt, char *err,
			size_t err_len);
/* {"name", "type", "format", "empty", "nulled", "nulled_lines", "note"?} */
json_t *csv_column_decision(const struct csv_column *c, const char *name);

enum csv_value_kind { CSV_VALUE_NULL, CSV_VALUE_INTEGER, CSV_VALUE_REAL, CSV_VALUE_TEXT };
struct csv_value {
	enum csv_value_kind kind;
	int64_t i;
	double d;
	const char *text; /* the cell itself, or buf */
	size_t len;
	char buf[CSV_DATE_ISO_MAX];
};
/* What a cell of a resolved column is stored as: -EINVAL when it does not
 * fit the column (pass 1 said it would). */
int csv_column_value(const struct csv_column *c, const char *s, size_t len,
		     struct csv_value *ret);

/* Pass 1 over the CSV from its start: validates every record and infers
 * the column types. -EINVAL (bad CSV) or -EFBIG (past max_rows) with a
 * message naming the line. */
int csv_check(FILE *in, uint64_t max_rows, const struct csv_options *opt, struct csv_shape *ret,
	      char *err, size_t err_len);
void csv_shape_release(struct csv_shape *shape);

/* Pass 2: creates the SQLite file db_path with one table holding every
 * record of the CSV (read again from its start), and when out is not NULL
 * writes the same values to it as plain CSV (csv_write.c). */
int csv_load(FILE *in, const struct csv_shape *shape, const char *db_path, const char *table,
	     FILE *out, char *err, size_t err_len);

/* ---- csv_write.c ------------------------------------------------------- */

void csv_write_header(FILE *out, const struct csv_shape *shape);
/* Field index (0-based) of a record of `columns` fields, after a ','
 * unless it is the first. */
void csv_write_value(FILE *out, const struct csv_value *v, size_t index, size_t columns);

#endif
