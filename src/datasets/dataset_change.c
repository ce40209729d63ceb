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
#include <ctype.h>
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

/* Moves the folder at path, dataset `name`'s, to a new hidden
 * DATA_DIR/.retired-name-XXXXXX (name in lower case, so that its bytes
 * count against its team's quota until it is swept: see
 * dataset_retired_each()), with one rename that never replaces: mkdtemp
 * picks a free name, which is let go again, so no empty placeholder ever
 * sits under a retired name for the sweep to lock in the folder's stead
 * (csv_sweep.c). */
static int retire(const char *data_dir, const char *path, const char *name)
{
	char file[DS_NAME_MAX + 32];
	size_t len = strlen(name), prefix = strlen(DS_RETIRED_PREFIX);

	if (len >= DS_NAME_MAX)
		return -ENAMETOOLONG;
	memcpy(file, DS_RETIRED_PREFIX, prefix);
	for (size_t i = 0; i < len; i++)
		file[prefix + i] = (char)tolower((unsigned char)name[i]);
	memcpy(file + prefix + len, "-XXXXXX", sizeof("-XXXXXX"));
	for (int i = 0; i < 8; i++) {
		char retired[PATH_MAX];
		int rc = ds_join(retired, sizeof(retired), data_dir, file);

		if (rc < 0)
			return rc;
		if (!mkdtemp(retired))
			return -errno;
		(void)rmdir(retired);
		if (renameat2(AT_FDCWD, path, AT_FDCWD, retired, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

int ds_exchange_retire(const char *data_dir, const char *new_path, const char *path)
{
	if (renameat2(AT_FDCWD, new_path, AT_FDCWD, path, RENAME_EXCHANGE) < 0)
		return -errno;
	/* The new version is in place; the old folder now sits at new_path.
	 * Should retiring it fail, it stays hidden there as an upload folder,
	 * which the sweep removes in time. */
	(void)retire(data_dir, new_path, strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
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
		rc = retire(data_dir, path, name);
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

int dataset_retired_each(const char *data_dir,
			 void (*fn)(void *ctx, const char *name, uint64_t bytes), void *ctx)
{
	size_t prefix = strlen(DS_RETIRED_PREFIX);
	struct dirent *de;
	DIR *dir = opendir(data_dir);

	if (!dir)
		return -errno;
	while ((de = readdir(dir)) != NULL) {
		char name[DS_NAME_MAX];
		const char *dash = strrchr(de->d_name, '-');
		size_t len = dash ? (size_t)(dash - de->d_name) : 0;
		uint64_t bytes;
		int fd;

		/* Folders retired before names were kept in them (no dash after
		 * the prefix) are no dataset's. */
		if (strncmp(de->d_name, DS_RETIRED_PREFIX, prefix) != 0 || len <= prefix ||
		    len - prefix >= sizeof(name))
			continue;
		memcpy(name, de->d_name + prefix, len - prefix);
		name[len - prefix] = '\0';
		fd = openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (dataset_name_valid(name) && ds_dir_bytes(fd, &bytes) == 0)
			fn(ctx, name, bytes);
		close(fd);
	}
	closedir(dir);
	return 0;
}
