/*
 * dataset_change: what happens to a dataset's folder after its upload: a
 * new version put in its place, its removal, and the checks of a new name.
 *
 * Invariants:
 * - A dataset's name always names a complete folder or nothing: a new
 *   version is swapped in by one RENAME_EXCHANGE and a deleted dataset
 *   leaves by one rename, never by removing files under its name.
 * - A folder that leaves its name is retired, not removed: it becomes a
 *   hidden DATA_DIR/.retired-XXXXXX, so a run that mounted it (a mount
 *   holds the folder, not the name) reads the same files to its end, and
 *   a new version's folder is a new inode, so its fingerprint differs
 *   from every earlier version's. csv_sweep.c removes retired folders.
 * - Names are unique ignoring ASCII case: "DEMO" cannot appear beside
 *   "demo", whoever put "demo" there.
 */
#define _XOPEN_SOURCE_EXTENDED 1
#include "datasets/datasets.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datasets/internal.h"

#include "util/banned.h"

int dataset_name_free(const char *data_dir, const char *name, char *err, size_t err_len)
{
	struct dirent *de;
	DIR *dir = opendir(data_dir);
	int rc = 0;

	if (!dir) {
		rc = -errno;
		ds_err(err, err_len, "cannot read the data folder: %s", strerror(-rc));
		return rc;
	}
	while (rc == 0 && (de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.' || strcasecmp(de->d_name, name) != 0)
			continue;
		if (strcmp(de->d_name, name) == 0)
			ds_err(err, err_len, "dataset %s already exists: pick another name", name);
		else
			ds_err(err, err_len, "dataset %s already exists as %s (names are the same "
					     "ignoring case): pick another name", name, de->d_name);
		rc = -EEXIST;
	}
	closedir(dir);
	return rc;
}

/* Moves the folder at path to a new DATA_DIR/.retired-XXXXXX: a rename
 * over the empty folder mkdtemp made, which is atomic. */
static int retire(const char *data_dir, const char *path)
{
	char retired[PATH_MAX];
	int rc = ds_join(retired, sizeof(retired), data_dir, DS_RETIRED_PREFIX "XXXXXX");

	if (rc < 0)
		return rc;
	if (!mkdtemp(retired))
		return -errno;
	if (rename(path, retired) == 0)
		return 0;
	rc = -errno;
	(void)rmdir(retired);
	return rc;
}

int ds_exchange_retire(const char *data_dir, const char *new_path, const char *path)
{
	if (renameat2(AT_FDCWD, new_path, AT_FDCWD, path, RENAME_EXCHANGE) < 0)
		return -errno;
	/* The new version is in place; the old folder now sits at new_path.
	 * Should retiring it fail, it stays hidden there as an upload folder,
	 * which the sweep removes in time. */
	(void)retire(data_dir, new_path);
	return 0;
}

int dataset_delete(const char *data_dir, const char *name, char *err, size_t err_len)
{
	char path[PATH_MAX];
	int fd, rc;

	if (!dataset_name_valid(name)) {
		ds_err(err, err_len, "not a valid dataset name: use 1 to 64 letters, digits, "
				     "'_' or '-'");
		return -EINVAL;
	}
	rc = ds_dir_open_dataset(data_dir, name, &fd, err, err_len);
	if (rc < 0)
		return rc;
	close(fd);
	rc = ds_join(path, sizeof(path), data_dir, name);
	if (rc == 0)
		rc = retire(data_dir, path);
	if (rc < 0)
		ds_err(err, err_len, "cannot remove dataset %s: %s", name, strerror(-rc));
	return rc;
}

int ds_dir_bytes(int dir_fd, uint64_t *ret)
{
	struct ds_dir d;
	uint64_t bytes = 0;
	int rc = ds_dir_read(dir_fd, &d);

	if (rc < 0)
		return rc;
	/* One level: an upload's folder has no subfolders. */
	for (size_t i = 0; i < d.count; i++)
		if (S_ISREG(d.entries[i].mode))
			bytes += d.entries[i].bytes;
	ds_dir_release(&d);
	*ret = bytes;
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		(void)rmdir(path);
	else
		(void)unlink(path);
	return 0;
}

void ds_tree_remove(const char *path)
{
	/* FTW_PHYS: a link is removed, never followed; FTW_MOUNT: nothing
	 * mounted below is entered. */
	(void)nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}
