/*
 * schema: what a language model is told about a dataset — its tables,
 * columns, declared types, row counts, a few sample values per column and
 * the names of the files a Python run sees in /data.
 *
 * The SQLite file is opened read-only as the SQL runner opens it
 * (util/sqlite_uri.h: WAL commits included), with extension loading off and a bound on the work every statement
 * may do, so a large or hostile file cannot make loading slow. Sample values
 * come from the first SCHEMA_SAMPLE_SCAN_ROWS rows of each table; a column
 * that shows no more than max_samples distinct values there is then read
 * whole (SELECT DISTINCT ... LIMIT max_samples + 1), within a budget of VM
 * steps for the whole load, so that a short list is known to be complete
 * (samples_complete) or known not to be.
 *
 * Everything in a struct schema is valid UTF-8 (invalid bytes become
 * U+FFFD), so it can go into JSON as it is. Privacy: a schema holds sample
 * values; pass max_samples = 0 when they must not be read at all. The
 * prompt builder leaves them out unless it is told they may be sent.
 */
#ifndef LEDGERBOX_LLM_SCHEMA_H
#define LEDGERBOX_LLM_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define SCHEMA_MAX_SAMPLES 5          /* sample values kept per column */
#define SCHEMA_SAMPLE_MAX_BYTES 40    /* each sample is cut to this many bytes */
#define SCHEMA_MAX_TABLES 200         /* tables past this (by name) are left out */
#define SCHEMA_MAX_COLUMNS 500        /* columns past this (in table order) are left out */
#define SCHEMA_MAX_FILES 200          /* file names of the dataset folder kept */
#define SCHEMA_NAME_MAX_BYTES 256     /* tables and columns with longer names, or names with
				       * control characters or invalid UTF-8, are left out: a
				       * query could not spell them from a prompt */
#define SCHEMA_TYPE_MAX_BYTES 64      /* declared types are cut to this */
#define SCHEMA_SAMPLE_SCAN_ROWS 2000  /* rows of a table looked at for samples in one pass */
#define SCHEMA_SAMPLE_MAX_OPS 4000000u /* VM steps, for the whole load, of the passes that
					 * read a short-listed column over its whole table */

struct schema_column {
	char *name;
	char *type; /* declared type as written ("" when none), cut to SCHEMA_TYPE_MAX_BYTES */
	char *samples[SCHEMA_MAX_SAMPLES]; /* distinct, non-NULL, never blobs; control
					    * characters become spaces */
	size_t n_samples;
	bool samples_complete; /* samples are every distinct non-NULL value of the column, as
				* stored (none cut, no blob): a list, not examples */
	int pk;                /* position in the primary key (1, 2, ...); 0 when not in it */
	char *ref_table;       /* a one-column foreign key: the table it refers to, or NULL */
	char *ref_column;      /* ... and its column; NULL when the key names none (the
				* referred table's primary key) */
};

struct schema_table {
	char *name;
	int64_t rows; /* COUNT(*); -1 when it could not be counted (e.g. a virtual
		       * table whose module is missing) */
	struct schema_column *columns;
	size_t n_columns;
};

struct schema {
	char *dataset;	   /* the dataset's name ("" when none was given) */
	char *sqlite_file; /* the SQLite file's name without its folder: what a
			    * Python run sees as /data/<sqlite_file> */
	struct schema_table *tables; /* sorted by name, sqlite_* tables left out */
	size_t n_tables;
	char **files; /* regular, non-hidden files next to the SQLite file, sorted
		       * (the dataset folder a Python run sees at /data) */
	size_t n_files;
	bool postgres; /* the dataset lives in PostgreSQL: no file, the dialect is
			* PostgreSQL's (schema_from_tables) */
};

/* Reads the dataset's SQLite file (host path, opened read-only by sqlite_ro_uri()): every table (not sqlite_*),
 * its columns and declared types, row count, and up to max_samples DISTINCT non-null sample values per
 * column (each cut to 40 bytes, valid UTF-8), at most 200 tables x 500 columns. 0 or -errno with err.
 * max_samples above SCHEMA_MAX_SAMPLES counts as SCHEMA_MAX_SAMPLES. dataset may be NULL. Errors:
 * -EINVAL no path, -EIO the file cannot be opened or is not a SQLite database, -ENOMEM. The caller
 * releases *ret with schema_release(). */
int schema_load(const char *dataset, const char *sqlite_path, size_t max_samples, struct schema *ret,
		char *err, size_t err_len);
/* A PostgreSQL dataset's schema from its listing (pg_dataset_tables():
 * [{"name", "rows", "columns": [{"name", "type"}]}]), with postgres set,
 * no SQLite file, no files and no samples. Tables named "schema.table"
 * (outside the search_path) are left out: a prompt could not spell them
 * unquoted. Same caps and name rules as schema_load(). -ENOMEM. */
int schema_from_tables(const char *dataset, json_t *tables, struct schema *ret, char *err,
		       size_t err_len);
/* Frees everything the schema holds and zeroes it; accepts NULL. */
void schema_release(struct schema *s);

/* Opens sqlite_path the way ledgerbox reads datasets on the host: a
 * "file:" URI from sqlite_ro_uri(), SQLITE_OPEN_READONLY, extension
 * loading off (C API and SQL), defensive mode on, untrusted schema, no
 * attached databases; then reads the schema once so that a file that is not
 * a database fails here. -EIO with err naming the file when it cannot be
 * opened, -EBUSY when a hot -journal says it may be torn, -ENOMEM. The
 * caller closes *ret with sqlite3_close(). */
struct sqlite3;
int schema_db_open(const char *sqlite_path, struct sqlite3 **ret, char *err, size_t err_len);

#endif
