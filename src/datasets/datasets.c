/*
 * datasets: dataset names and the paths a run mounts.
 *
 * Invariants:
 * - A path is only ever built from DATA_DIR and a name that passed
 *   dataset_name_valid(): [A-Za-z0-9_-]{1,64}, so no name can be "..",
 *   hidden, or hold a '/'.
 * - What a path names was checked with lstat: the dataset is a real folder
 *   and (for SQL) its one *.sqlite file is a regular file, never a symlink.
 *   DATA_DIR itself belongs to the operator and may be a symlink.
 * - Messages name the dataset but never a host path, since they go back to
 *   the client.
 */
#include "datasets/datasets.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "datasets/internal.h"

#include "util/banned.h"

#define NAME_RULE "use 1 to 64 letters, digits, '_' or '-'"

int ds_join(char *ret, size_t ret_len, const char *dir, const char *name)
{
	int n = snprintf(ret, ret_len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= ret_len ? -ENAMETOOLONG : 0;
}

bool dataset_name_valid(const char *name)
{
	size_t len;

	if (!name)
		return false;
	for (len = 0; name[len]; len++) {
		char c = name[len];
		if (len >= DS_NAME_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return len > 0;
}

static int check_name(const char *name, char *err, size_t err_len)
{
	if (dataset_name_valid(name))
		return 0;
	ds_err(err, err_len, "not a valid dataset name: " NAME_RULE);
	return -EINVAL;
}

/* Copies the result out, so that ret is written only on success. */
static int put_path(char *ret, size_t ret_len, const char *path, char *err, size_t err_len)
{
	size_t len = strlen(path);

	if (len >= ret_len) {
		ds_err(err, err_len, "the dataset's path is too long");
		return -ENAMETOOLONG;
	}
	memcpy(ret, path, len + 1);
	return 0;
}

int dataset_path_for_python(const char *data_dir, const char *name, char *ret, size_t ret_len,
			    char *err, size_t err_len)
{
	char path[PATH_MAX];
	int fd, rc = check_name(name, err, err_len);

	if (rc < 0)
		return rc;
	rc = ds_dir_open_dataset(data_dir, name, &fd, err, err_len);
	if (rc < 0)
		return rc;
	close(fd);
	rc = ds_join(path, sizeof(path), data_dir, name);
	if (rc < 0) {
		ds_err(err, err_len, "the dataset's path is too long");
		return rc;
	}
	return put_path(ret, ret_len, path, err, err_len);
}

/* The name of the dataset's one SQLite file, into file (file_len bytes). */
static int find_sqlite(int dir_fd, const char *name, char *file, size_t file_len, char *err,
		       size_t err_len)
{
	const struct ds_entry *first;
	struct ds_dir d;
	size_t count;
	int rc = ds_dir_read(dir_fd, &d);

	if (rc < 0) {
		ds_err(err, err_len, "cannot read dataset %s: %s", name, strerror(-rc));
		return rc;
	}
	count = ds_dir_sqlite_count(&d, &first);
	if (count == 0) {
		ds_err(err, err_len, "dataset %s has no SQLite file: SQL needs one (upload a CSV "
				     "or add %s.sqlite)", name, name);
		rc = -ENOENT;
	} else if (count > 1) {
		char names[512];
		ds_dir_sqlite_names(&d, names, sizeof(names));
		ds_err(err, err_len, "dataset %s has %zu SQLite files (%s): SQL needs exactly one",
		       name, count, names);
		rc = -EINVAL;
	} else if (ds_join(file, file_len, name, first->name) < 0) {
		ds_err(err, err_len, "the dataset's path is too long");
		rc = -ENAMETOOLONG;
	}
	ds_dir_release(&d);
	return rc;
}

int dataset_path_for_sql(const char *data_dir, const char *name, char *ret, size_t ret_len,
			 char *err, size_t err_len)
{
	char file[PATH_MAX], path[PATH_MAX];
	int fd, rc = check_name(name, err, err_len);

	if (rc < 0)
		return rc;
	rc = ds_dir_open_dataset(data_dir, name, &fd, err, err_len);
	if (rc < 0)
		return rc;
	rc = find_sqlite(fd, name, file, sizeof(file), err, err_len);
	close(fd);
	if (rc < 0)
		return rc;
	if (ds_join(path, sizeof(path), data_dir, file) < 0) {
		ds_err(err, err_len, "the dataset's path is too long");
		return -ENAMETOOLONG;
	}
	return put_path(ret, ret_len, path, err, err_len);
}
