/*
 * dataset_list: describes every dataset in DATA_DIR for the API: its files,
 * its SQLite file and that file's tables, columns and row counts.
 *
 * Invariants:
 * - Only folders with valid names count; symlinks, files and hidden
 *   entries (uploads in progress) are skipped without a word.
 * - SQLite files are opened read-only (util/sqlite_uri.h) through a URI with the
 *   path percent-escaped, so nothing is ever written next to them and no
 *   character of a path can be read as a URI parameter. The schema is not
 *   trusted (TRUSTED_SCHEMA off, DEFENSIVE on).
 * - One unreadable dataset does not fail the list: it gets "error" and
 *   empty "tables". Only DATA_DIR itself, or memory, can fail it.
 * - A folder holding postgres.url is a PostgreSQL dataset: its tables come
 *   from that database (pg_dataset_tables), after the role check.
 * - Every string put in JSON is valid UTF-8 (file and table names are
 *   repaired with util/utf8 first), since jansson refuses anything else.
 */
#include "datasets/datasets.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "datasets/internal.h"
#include "datasets/pg_dataset.h"
#include "util/utf8.h"
#include "util/sqlite_uri.h"

#include "util/banned.h"

/* A JSON string from any bytes. */
static json_t *json_text(const char *s)
{
	size_t len = strlen(s), repaired_len;
	char *repaired;
	json_t *v;

	if (utf8_sanitize(s, len, &repaired, &repaired_len) < 0)
		return NULL;
	v = json_stringn(repaired ? repaired : s, repaired_len);
	free(repaired);
	return v;
}

/* Sets key to value (taking it); -ENOMEM when value is NULL or the set
 * failed. */
static int put(json_t *obj, const char *key, json_t *value)
{
	return value && json_object_set_new(obj, key, value) == 0 ? 0 : -ENOMEM;
}

static int push(json_t *array, json_t *value)
{
	return value && json_array_append_new(array, value) == 0 ? 0 : -ENOMEM;
}

/* Sets "error", and empty "files", "sqlite" and "tables" where they are
 * not set yet, so that every dataset has the same keys. */
static int put_error(json_t *obj, const char *why)
{
	if (!json_object_get(obj, "files") && put(obj, "files", json_array()) < 0)
		return -ENOMEM;
	if (!json_object_get(obj, "sqlite") && put(obj, "sqlite", json_null()) < 0)
		return -ENOMEM;
	if (!json_object_get(obj, "tables") && put(obj, "tables", json_array()) < 0)
		return -ENOMEM;
	return put(obj, "error", json_text(why));
}

/* A SQLite result code; SQLITE_BUSY with *ret NULL: a hot -journal. */
static int db_open(const char *path, sqlite3 **ret)
{
	sqlite3 *db = NULL;
	char *uri;
	int rc = sqlite_ro_uri(path, &uri);

	*ret = NULL;
	if (rc < 0)
		return rc == -EBUSY ? SQLITE_BUSY : SQLITE_NOMEM;
	rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
			     NULL);
	free(uri);
	if (rc == SQLITE_OK)
		rc = sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	*ret = db; /* also on failure: it holds the message */
	return rc;
}

static int table_columns(sqlite3 *db, const char *table, json_t *columns)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "SELECT name, type FROM pragma_table_info(?1) ORDER BY cid",
				    -1, &st, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *type = (const char *)sqlite3_column_text(st, 1);
		json_t *col = json_object();
		bool ok = col && put(col, "name", json_text(name ? name : "")) == 0 &&
			  put(col, "type", json_text(type ? type : "")) == 0 &&
			  push(columns, json_incref(col)) == 0;
		json_decref(col);
		rc = ok ? SQLITE_OK : SQLITE_NOMEM;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int table_rows(sqlite3 *db, const char *table, sqlite3_int64 *ret)
{
	char *sql = sqlite3_mprintf("SELECT count(*) FROM \"%w\"", table);
	sqlite3_stmt *st = NULL;
	int rc;

	if (!sql)
		return SQLITE_NOMEM;
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	sqlite3_free(sql);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*ret = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

static int describe_table(sqlite3 *db, const char *table, json_t *tables)
{
	json_t *t = json_object(), *columns = json_array();
	sqlite3_int64 rows = 0;
	int rc = t && columns ? SQLITE_OK : SQLITE_NOMEM;

	if (rc == SQLITE_OK)
		rc = table_columns(db, table, columns);
	if (rc == SQLITE_OK)
		rc = table_rows(db, table, &rows);
	if (rc == SQLITE_OK &&
	    (put(t, "name", json_text(table)) < 0 || put(t, "rows", json_integer(rows)) < 0 ||
	     put(t, "columns", json_incref(columns)) < 0 || push(tables, json_incref(t)) < 0))
		rc = SQLITE_NOMEM;
	json_decref(columns);
	json_decref(t);
	return rc;
}

/* The user tables of db, sorted by name (SQLite's own sqlite_* excluded). */
static int describe_tables(sqlite3 *db, json_t *tables)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db,
				    "SELECT name FROM sqlite_master WHERE type = 'table' "
				    "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
				    -1, &st, NULL);

	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		rc = describe_table(db, name ? name : "", tables);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Fills "tables" from the SQLite file, or sets "error" when it cannot be
 * read. Only -ENOMEM fails. */
static int add_tables(json_t *obj, const char *path, const char *file)
{
	json_t *tables = json_array();
	sqlite3 *db = NULL;
	int rc;

	if (!tables)
		return -ENOMEM;
	rc = db_open(path, &db);
	if (rc == SQLITE_OK)
		rc = describe_tables(db, tables);
	if (rc == SQLITE_NOMEM) {
		sqlite3_close(db);
		json_decref(tables);
		return -ENOMEM;
	}
	if (rc != SQLITE_OK) {
		char why[512];
		if (rc == SQLITE_BUSY && !db)
			snprintf(why, sizeof(why), "cannot read %s: %s", file,
				 SQLITE_HOT_JOURNAL_TEXT);
		else
			snprintf(why, sizeof(why), "cannot read %s: %s", file,
				 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		json_decref(tables);
		return put_error(obj, why);
	}
	sqlite3_close(db);
	return put(obj, "tables", tables);
}

static int add_files(json_t *obj, const struct ds_dir *d)
{
	json_t *files = json_array();

	for (size_t i = 0; files && i < d->count; i++) {
		json_t *f;
		bool ok;
		if (!S_ISREG(d->entries[i].mode))
			continue;
		f = json_object();
		ok = f && put(f, "name", json_text(d->entries[i].name)) == 0 &&
		     put(f, "bytes", json_integer((json_int_t)d->entries[i].bytes)) == 0 &&
		     push(files, json_incref(f)) == 0;
		json_decref(f);
		if (!ok) {
			json_decref(files);
			return -ENOMEM;
		}
	}
	return put(obj, "files", files);
}

/* "sqlite", "tables" and perhaps "error", from the folder's listing. */
static int add_sqlite(json_t *obj, const char *dir_path, const struct ds_dir *d)
{
	const struct ds_entry *first;
	size_t count = ds_dir_sqlite_count(d, &first);
	char path[PATH_MAX], why[640], names[512];

	if (count == 1 && ds_join(path, sizeof(path), dir_path, first->name) == 0)
		return put(obj, "sqlite", json_text(first->name)) < 0 ? -ENOMEM
								       : add_tables(obj, path, first->name);
	if (count == 0)
		return put(obj, "sqlite", json_null()) < 0 ? -ENOMEM
							   : put(obj, "tables", json_array());
	ds_dir_sqlite_names(d, names, sizeof(names));
	if (count == 1)
		snprintf(why, sizeof(why), "the path of %s is too long", names);
	else
		snprintf(why, sizeof(why), "%zu SQLite files (%s): SQL needs exactly one", count,
			 names);
	return put_error(obj, why);
}

/* Whether the folder holds postgres.url as a regular file. */
static bool has_postgres_url(const struct ds_dir *d)
{
	for (size_t i = 0; i < d->count; i++)
		if (S_ISREG(d->entries[i].mode) && strcmp(d->entries[i].name, PG_DATASET_URL_FILE) == 0)
			return true;
	return false;
}

/* "engine": "postgresql", "sqlite": null and "tables" from the database
 * the dataset's URL names (its role checked first), or "error" when it
 * cannot be used. Only -ENOMEM fails. */
static int add_postgres(json_t *obj, const char *data_dir, const char *name,
			const struct ds_dir *d)
{
	const struct ds_entry *first;
	char why[1024];
	json_t *tables = NULL;
	PGconn *c = NULL;
	int rc;

	if (put(obj, "engine", json_string("postgresql")) < 0 ||
	    put(obj, "sqlite", json_null()) < 0)
		return -ENOMEM;
	if (ds_dir_sqlite_count(d, &first) > 0)
		return put_error(obj, "both a SQLite file and " PG_DATASET_URL_FILE
				      ": SQL needs exactly one");
	rc = pg_dataset_connect(data_dir, name, &c, why, sizeof(why));
	if (rc == 0) {
		rc = pg_dataset_tables(c, PG_DATASET_LIST_MS, &tables);
		if (rc < 0 && rc != -ENOMEM)
			snprintf(why, sizeof(why), "cannot read the tables: %.900s", PQerrorMessage(c));
		PQfinish(c);
	}
	if (rc == -ENOMEM)
		return rc;
	return rc < 0 ? put_error(obj, why) : put(obj, "tables", tables);
}

/* Fills obj for the folder DATA_DIR/NAME; 1 when it went away since
 * DATA_DIR was read (it is then left out). */
static int fill_dataset(json_t *obj, int data_fd, const char *data_dir, const char *name)
{
	char dir_path[PATH_MAX];
	struct ds_dir d;
	int fd, rc;

	if (ds_join(dir_path, sizeof(dir_path), data_dir, name) < 0)
		return put_error(obj, "the dataset's path is too long");
	fd = openat(data_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	rc = fd < 0 ? -errno : ds_dir_read(fd, &d);
	if (fd >= 0)
		close(fd);
	if (rc == -ENOENT || rc == -ENOMEM)
		return rc == -ENOENT ? 1 : rc;
	if (rc < 0) {
		char why[256];
		snprintf(why, sizeof(why), "cannot read the folder: %s", strerror(-rc));
		return put_error(obj, why);
	}
	rc = add_files(obj, &d);
	if (rc == 0 && has_postgres_url(&d))
		rc = add_postgres(obj, data_dir, name, &d);
	else if (rc == 0)
		rc = add_sqlite(obj, dir_path, &d);
	ds_dir_release(&d);
	return rc;
}

static int describe_dataset(int data_fd, const char *data_dir, const char *name, json_t *list)
{
	json_t *obj = json_object();
	int rc = obj ? put(obj, "name", json_string(name)) : -ENOMEM;

	if (rc == 0)
		rc = fill_dataset(obj, data_fd, data_dir, name);
	if (rc == 0)
		rc = push(list, json_incref(obj));
	json_decref(obj);
	return rc < 0 ? rc : 0;
}

int dataset_list(const char *data_dir, json_t **ret, char *err, size_t err_len)
{
	json_t *list = json_array();
	struct ds_dir d;
	int fd, rc;

	if (!list)
		return -ENOMEM;
	fd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		json_decref(list);
		ds_err(err, err_len, "cannot read the data folder (LEDGERBOX_DATA_DIR): %s",
		       strerror(-rc));
		return rc;
	}
	rc = ds_dir_read(fd, &d);
	if (rc == 0) {
		for (size_t i = 0; rc == 0 && i < d.count; i++) {
			if (dataset_name_valid(d.entries[i].name) && S_ISDIR(d.entries[i].mode))
				rc = describe_dataset(fd, data_dir, d.entries[i].name, list);
		}
		ds_dir_release(&d);
	}
	close(fd);
	if (rc < 0) {
		json_decref(list);
		ds_err(err, err_len, "cannot list the datasets: %s", strerror(-rc));
		return rc;
	}
	*ret = list;
	return 0;
}
