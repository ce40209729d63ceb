/*
 * csv_import: a streamed CSV upload becomes a new dataset, all or nothing.
 *
 * States: begun (a private folder DATA_DIR/.upload-XXXXXX, mode 0700,
 * holding TABLE.csv being written) -> fed (bytes appended, at most
 * max_bytes) -> finished (checked, loaded into NAME.sqlite, made readable,
 * synced and renamed to DATA_DIR/NAME) or aborted. When the upload was not
 * plain CSV (another delimiter, numbers or dates as exports write them),
 * it is kept as TABLE.original.csv and TABLE.csv is written with the
 * values as stored, so Python reads what SQL reads. A feed that fails makes
 * the import dead: it keeps its error and only abort or finish (which
 * returns the error) remain.
 *
 * Invariants:
 * - Nothing appears under a dataset name until the single rename that
 *   publishes a complete, synced folder; the rename never replaces anything
 *   (RENAME_NOREPLACE), so a dataset that appeared meanwhile wins and the
 *   upload fails with -EEXIST.
 * - Every way out other than a successful publish removes the temporary
 *   folder, so DATA_DIR is left exactly as it was. Hidden entries are never
 *   datasets, so an upload in progress is invisible; a crash can leave one
 *   behind, which csv_import_sweep() removes.
 * - The published folder is 0755 and its files 0644 whatever the umask:
 *   the sandbox reads /data as an unprivileged uid.
 */
#include "datasets/datasets.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datasets/internal.h"

#include "util/banned.h"


struct csv_import {
	char data_dir[PATH_MAX];
	char name[DS_NAME_MAX + 1];
	char table[DS_NAME_MAX + 1];
	char tmp_dir[PATH_MAX];
	bool replace; /* a new version of an existing dataset */
	bool append;  /* ... made of its rows and the uploaded ones */
	struct csv_import_limits limits;
	struct csv_options options;
	FILE *csv;
	uint64_t bytes;
	int dead; /* 0, or the error that ended the import */
};

/* Closes the CSV, removes the temporary folder unless it was published,
 * frees imp. */
static void import_free(struct csv_import *imp, bool published)
{
	if (imp->csv)
		fclose(imp->csv);
	if (!published && imp->tmp_dir[0])
		ds_dir_remove(imp->tmp_dir);
	free(imp);
}

void csv_import_abort(struct csv_import *imp)
{
	if (imp)
		import_free(imp, false);
}

static int check_names(const char *name, const char *table, char *err, size_t err_len)
{
	if (!dataset_name_valid(name)) {
		ds_err(err, err_len, "not a valid dataset name: use 1 to 64 letters, digits, "
				     "'_' or '-'");
		return -EINVAL;
	}
	if (!dataset_name_valid(table)) {
		ds_err(err, err_len, "not a valid table name: use 1 to 64 letters, digits, "
				     "'_' or '-'");
		return -EINVAL;
	}
	if (strncasecmp(table, "sqlite_", 7) == 0) {
		ds_err(err, err_len, "table names starting with sqlite_ are SQLite's own: "
				     "pick another");
		return -EINVAL;
	}
	return 0;
}

/* A new dataset's name must be free ignoring case; a new version's
 * dataset must exist as a real folder. */
static int check_target(const char *data_dir, const char *name, bool replace, char *err,
			size_t err_len)
{
	int fd, rc;

	if (!replace)
		return dataset_name_free(data_dir, name, err, err_len);
	rc = ds_dir_open_dataset(data_dir, name, &fd, err, err_len);
	if (rc == 0)
		close(fd);
	return rc;
}

/* A new file in the private folder, opened for writing and reading. */
static int create_file(const char *path, FILE **ret, char *err, size_t err_len)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644), rc;

	/* fchmod: 0644 whatever the umask, since the sandbox reads it. */
	if (fd < 0 || fchmod(fd, 0644) < 0 || !(*ret = fdopen(fd, "w+"))) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		ds_err(err, err_len, "cannot create the upload file: %s", strerror(-rc));
		return rc;
	}
	return 0;
}

/* The private folder and TABLE.csv in it, opened for writing and reading. */
static int import_create(struct csv_import *imp, char *err, size_t err_len)
{
	char path[PATH_MAX], file[DS_NAME_MAX + 8];
	int rc;

	rc = ds_join(imp->tmp_dir, sizeof(imp->tmp_dir), imp->data_dir, DS_UPLOAD_PREFIX "XXXXXX");
	if (rc < 0) {
		imp->tmp_dir[0] = '\0'; /* a cut-short path must never be removed */
		return rc;
	}
	if (!mkdtemp(imp->tmp_dir)) {
		rc = -errno;
		imp->tmp_dir[0] = '\0';
		ds_err(err, err_len, "cannot create an upload folder in the data folder: %s",
		       strerror(-rc));
		return rc;
	}
	snprintf(file, sizeof(file), "%s.csv", imp->table);
	if (ds_join(path, sizeof(path), imp->tmp_dir, file) < 0)
		return -ENAMETOOLONG;
	return create_file(path, &imp->csv, err, err_len);
}

static int import_begin(const char *data_dir, const char *name, const char *table, bool replace,
			bool append, const struct csv_import_limits *limits, struct csv_import **ret,
			char *err, size_t err_len)
{
	struct csv_import *imp;
	int rc;

	if (!data_dir || !limits || !ret)
		return -EINVAL;
	rc = check_names(name, table, err, err_len);
	if (rc == 0)
		rc = check_target(data_dir, name, replace, err, err_len);
	if (rc < 0)
		return rc;
	imp = calloc(1, sizeof(*imp));
	if (!imp)
		return -ENOMEM;
	imp->replace = replace;
	imp->append = append;
	imp->limits = *limits;
	imp->options.dayfirst = -1;
	snprintf(imp->name, sizeof(imp->name), "%s", name);
	snprintf(imp->table, sizeof(imp->table), "%s", table);
	if (snprintf(imp->data_dir, sizeof(imp->data_dir), "%s", data_dir) >=
	    (int)sizeof(imp->data_dir)) {
		rc = -ENAMETOOLONG;
	} else {
		rc = import_create(imp, err, err_len);
	}
	if (rc < 0) {
		if (rc == -ENAMETOOLONG)
			ds_err(err, err_len, "the data folder's path is too long");
		import_free(imp, false);
		return rc;
	}
	*ret = imp;
	return 0;
}

int csv_import_begin(const char *data_dir, const char *name, const char *table,
		     const struct csv_import_limits *limits, struct csv_import **ret, char *err,
		     size_t err_len)
{
	return import_begin(data_dir, name, table, false, false, limits, ret, err, err_len);
}

int csv_import_begin_version(const char *data_dir, const char *name, const char *table,
			     const struct csv_import_limits *limits, struct csv_import **ret,
			     char *err, size_t err_len)
{
	return import_begin(data_dir, name, table, true, false, limits, ret, err, err_len);
}

int csv_import_begin_append(const char *data_dir, const char *name, const char *table,
			    const struct csv_import_limits *limits, struct csv_import **ret,
			    char *err, size_t err_len)
{
	return import_begin(data_dir, name, table, true, true, limits, ret, err, err_len);
}

int csv_import_set_format(struct csv_import *imp, const struct csv_import_format *fmt)
{
	if (!imp || !fmt)
		return -EINVAL;
	if (fmt->delimiter && !strchr(",;\t|", fmt->delimiter))
		return -EINVAL;
	if (fmt->decimal && fmt->decimal != '.' && fmt->decimal != ',')
		return -EINVAL;
	if (fmt->dayfirst < -1 || fmt->dayfirst > 1)
		return -EINVAL;
	imp->options.delimiter = fmt->delimiter;
	imp->options.decimal = fmt->decimal;
	imp->options.dayfirst = fmt->dayfirst;
	return 0;
}

static int import_dead(const struct csv_import *imp, char *err, size_t err_len)
{
	if (imp->dead == -EFBIG)
		ds_err(err, err_len, "upload larger than %" PRIu64 " bytes (LEDGERBOX_UPLOAD_MAX_BYTES)",
		       imp->limits.max_bytes);
	else
		ds_err(err, err_len, "cannot store the upload: %s", strerror(-imp->dead));
	return imp->dead;
}

int csv_import_feed(struct csv_import *imp, const void *data, size_t len, char *err,
		    size_t err_len)
{
	if (!imp || (!data && len))
		return -EINVAL;
	if (imp->dead)
		return import_dead(imp, err, err_len);
	if (len > imp->limits.max_bytes - imp->bytes) {
		imp->dead = -EFBIG;
		return import_dead(imp, err, err_len);
	}
	errno = 0;
	if (len && fwrite(data, 1, len, imp->csv) != len) {
		imp->dead = errno ? -errno : -EIO;
		return import_dead(imp, err, err_len);
	}
	imp->bytes += len;
	return 0;
}

/* Everything fed is on disk before it is read back and published. */
static int import_sync_csv(struct csv_import *imp, char *err, size_t err_len)
{
	errno = 0;
	if (fflush(imp->csv) == 0 && fsync(fileno(imp->csv)) == 0)
		return 0;
	imp->dead = errno ? -errno : -EIO;
	return import_dead(imp, err, err_len);
}

static int sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* rename() without ever replacing NAME, even an empty folder. */
static int rename_new(const char *from, const char *to)
{
	struct stat st;

	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* A file system without RENAME_NOREPLACE: check, then rename. Only an
	 * empty folder created in between could be replaced. */
	if (lstat(to, &st) == 0)
		return -EEXIST;
	if (rename(from, to) == 0)
		return 0;
	return errno == ENOTEMPTY ? -EEXIST : -errno;
}

static int import_publish(struct csv_import *imp, char *err, size_t err_len)
{
	char path[PATH_MAX];
	int rc = ds_join(path, sizeof(path), imp->data_dir, imp->name);

	if (rc == 0 && chmod(imp->tmp_dir, 0755) < 0)
		rc = -errno;
	if (rc == 0)
		rc = sync_dir(imp->tmp_dir);
	if (rc == 0)
		rc = imp->replace ? ds_exchange_retire(imp->data_dir, imp->tmp_dir, path)
				  : rename_new(imp->tmp_dir, path);
	if (rc == -EEXIST) {
		ds_err(err, err_len, "dataset %s already exists: pick another name", imp->name);
		return rc;
	}
	if (rc < 0) {
		ds_err(err, err_len, "cannot publish dataset %s: %s", imp->name, strerror(-rc));
		return rc;
	}
	/* The dataset is in place; a failed sync of DATA_DIR cannot undo that,
	 * so it is not reported as a failed import. */
	(void)sync_dir(imp->data_dir);
	return 0;
}

static json_t *import_summary(const struct csv_import *imp, const struct csv_shape *shape)
{
	char decimal[2] = { shape->decimal, '\0' };
	char original[DS_NAME_MAX + 16];
	json_t *s;

	snprintf(original, sizeof(original), "%s" CSV_ORIGINAL_SUFFIX, imp->table);
	s = json_pack("{s:s, s:s, s:I, s:s, s:s?, s:s*, s:[]}", "name", imp->name, "table",
		      imp->table, "rows", (json_int_t)shape->rows, "delimiter",
		      csv_delimiter_param(shape->delimiter), "decimal", shape->decimal ? decimal : NULL,
		      "original_csv", shape->rewrite ? original : NULL, "columns");
	json_t *columns = s ? json_object_get(s, "columns") : NULL;

	for (size_t i = 0; columns && i < shape->columns; i++) {
		if (json_array_append_new(columns, csv_column_decision(&shape->cols[i],
								       shape->names[i])) < 0) {
			json_decref(s);
			return NULL;
		}
	}
	return s;
}

/* When the upload was not plain CSV, it is kept as TABLE.original.csv and
 * TABLE.csv is opened for the values as stored (written by csv_load). */
static int plain_begin(struct csv_import *imp, const struct csv_shape *shape, FILE **ret,
		       char *err, size_t err_len)
{
	char file[DS_NAME_MAX + 16], from[PATH_MAX], to[PATH_MAX];

	*ret = NULL;
	if (!shape->rewrite)
		return 0;
	snprintf(file, sizeof(file), "%s.csv", imp->table);
	if (ds_join(from, sizeof(from), imp->tmp_dir, file) < 0)
		return -ENAMETOOLONG;
	snprintf(file, sizeof(file), "%s" CSV_ORIGINAL_SUFFIX, imp->table);
	if (ds_join(to, sizeof(to), imp->tmp_dir, file) < 0)
		return -ENAMETOOLONG;
	/* The upload's stream stays open on the renamed file. */
	if (rename(from, to) < 0) {
		int rc = -errno;
		ds_err(err, err_len, "cannot keep the upload: %s", strerror(-rc));
		return rc;
	}
	return create_file(from, ret, err, err_len);
}

/* The plain CSV complete and on disk, and closed in every case. */
static int plain_end(FILE *out, int rc, char *err, size_t err_len)
{
	if (!out)
		return rc;
	errno = 0;
	if (rc == 0 && (fflush(out) != 0 || ferror(out) || fsync(fileno(out)) != 0)) {
		rc = errno ? -errno : -EIO;
		ds_err(err, err_len, "cannot write the CSV for Python: %s", strerror(-rc));
	}
	fclose(out);
	return rc;
}

/* An append: the folder becomes the dataset's rows and the uploaded ones;
 * the summary's rows count them all, appended_rows the new ones. */
static int import_append(struct csv_import *imp, const struct csv_shape *shape, json_t *summary,
			 char *err, size_t err_len)
{
	int64_t rows = 0;
	int rc = ds_append_merge(imp->data_dir, imp->name, imp->table, imp->tmp_dir,
				 shape->delimiter, &rows, err, err_len);

	if (rc < 0)
		return rc;
	json_object_set_new(summary, "appended_rows", json_integer((json_int_t)shape->rows));
	json_object_set_new(summary, "rows", json_integer(rows));
	json_object_del(summary, "original_csv");
	return 0;
}

/* Check and load into the private folder; nothing is published. */
static int import_build(struct csv_import *imp, json_t **ret_summary, char *err, size_t err_len)
{
	struct csv_shape shape = { 0 };
	char file[DS_NAME_MAX + 8], db_path[PATH_MAX];
	json_t *summary = NULL;
	FILE *plain = NULL;
	int rc = imp->dead ? import_dead(imp, err, err_len) : import_sync_csv(imp, err, err_len);

	if (rc == 0)
		rc = csv_check(imp->csv, imp->limits.max_rows, &imp->options, &shape, err, err_len);
	snprintf(file, sizeof(file), "%s.sqlite", imp->name);
	if (rc == 0 && ds_join(db_path, sizeof(db_path), imp->tmp_dir, file) < 0) {
		ds_err(err, err_len, "the data folder's path is too long");
		rc = -ENAMETOOLONG;
	}
	if (rc == 0)
		rc = plain_begin(imp, &shape, &plain, err, err_len);
	if (rc == 0)
		rc = csv_load(imp->csv, &shape, db_path, imp->table, plain, err, err_len);
	rc = plain_end(plain, rc, err, err_len);
	if (rc == 0 && chmod(db_path, 0644) < 0) {
		rc = -errno;
		ds_err(err, err_len, "cannot make the SQLite file readable: %s", strerror(-rc));
	}
	if (rc == 0 && !(summary = import_summary(imp, &shape))) {
		ds_err(err, err_len, "out of memory");
		rc = -ENOMEM;
	}
	if (rc == 0 && imp->append)
		rc = import_append(imp, &shape, summary, err, err_len);
	csv_shape_release(&shape);
	if (rc < 0) {
		json_decref(summary);
		return rc;
	}
	*ret_summary = summary;
	return 0;
}

int csv_import_finish(struct csv_import *imp, json_t **ret_summary, char *err, size_t err_len)
{
	json_t *summary = NULL;
	int rc;

	if (!imp)
		return -EINVAL;
	if (!ret_summary) {
		import_free(imp, false);
		return -EINVAL;
	}
	rc = import_build(imp, &summary, err, err_len);
	if (rc == 0) {
		rc = import_publish(imp, err, err_len);
		if (rc < 0)
			json_decref(summary);
	}
	import_free(imp, rc == 0);
	if (rc == 0)
		*ret_summary = summary;
	return rc;
}

int csv_import_build(struct csv_import *imp, json_t **ret_summary, uint64_t *ret_bytes,
		     char *err, size_t err_len)
{
	json_t *summary;
	int fd, rc;

	if (!imp || !ret_summary || !ret_bytes)
		return -EINVAL;
	rc = import_build(imp, &summary, err, err_len);
	if (rc < 0)
		return rc;
	fd = open(imp->tmp_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	rc = fd < 0 ? -errno : ds_dir_bytes(fd, ret_bytes);
	if (fd >= 0)
		close(fd);
	if (rc < 0) {
		ds_err(err, err_len, "cannot measure the upload: %s", strerror(-rc));
		json_decref(summary);
		return rc;
	}
	*ret_summary = summary;
	return 0;
}

int csv_import_publish(struct csv_import *imp, char *err, size_t err_len)
{
	int rc;

	if (!imp)
		return -EINVAL;
	rc = import_publish(imp, err, err_len);
	import_free(imp, rc == 0);
	return rc;
}
