/*
 * csv_sweep: removes the upload folders a crash left in DATA_DIR, and the
 * retired versions of datasets no run holds any more.
 *
 * A normal import removes its own folder on every failure; only a process
 * that died mid-upload leaves a DATA_DIR/.upload-XXXXXX behind. Such a
 * folder is hidden, so it never shows as a dataset, but it holds disk.
 *
 * Invariants:
 * - Only real folders (lstat) named .upload-* are touched, never a symlink.
 * - A folder is stale when neither it nor anything in it changed for
 *   older_than_s seconds: an upload that is still being fed keeps
 *   touching its CSV file, so it is left alone.
 * - A retired folder (.retired-*: an old version or a deleted dataset,
 *   dataset_change.c) goes as soon as no run holds it: a run holds its
 *   folder with flock(LOCK_SH) (dataset_hold.c), so the sweep removes it
 *   only while it holds flock(LOCK_EX|LOCK_NB) on it itself. Retired names
 *   are made only by a rename that never replaces (so a locked folder is
 *   the one at that name until the sweep removes it). It may have
 *   subfolders (an operator's dataset), so it is removed as a tree.
 */
#include "datasets/datasets.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "datasets/internal.h"

#include "util/banned.h"

/* The newest modification time of the folder and what it holds. */
static time_t newest_mtime(int dir_fd, time_t mtime)
{
	struct ds_dir d;

	if (ds_dir_read(dir_fd, &d) < 0)
		return mtime;
	for (size_t i = 0; i < d.count; i++) {
		struct stat st;
		if (fstatat(dir_fd, d.entries[i].name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    st.st_mtime > mtime)
			mtime = st.st_mtime;
	}
	ds_dir_release(&d);
	return mtime;
}

static bool upload_stale(int data_fd, const char *name, uint64_t older_than_s)
{
	struct stat st;
	time_t newest, now = time(NULL);
	int fd = openat(data_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return false;
	}
	/* ds_dir_read skips hidden entries; uploads never make any. */
	newest = newest_mtime(fd, st.st_mtime);
	close(fd);
	/* A time in the future (a clock set back) is not stale. */
	return newest <= now && (uint64_t)(now - newest) >= older_than_s;
}

/* Removes retired folder `name` when no run holds it: true when it went. */
static bool retired_sweep(int data_fd, const char *data_dir, const char *name)
{
	char path[PATH_MAX];
	int fd = openat(data_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0 || ds_join(path, sizeof(path), data_dir, name) < 0) {
		close(fd);
		return false;
	}
	/* Held until the tree is gone: a run cannot take it meanwhile (nor
	 * would it: runs open datasets by their names, never a retired one). */
	ds_tree_remove(path);
	close(fd);
	return true;
}

int csv_import_sweep(const char *data_dir, uint64_t older_than_s, unsigned *ret_removed)
{
	size_t prefix_len = strlen(DS_UPLOAD_PREFIX), retired_len = strlen(DS_RETIRED_PREFIX);
	unsigned removed = 0;
	struct dirent *de;
	DIR *dir = opendir(data_dir);

	if (!dir)
		return -errno;
	while ((de = readdir(dir)) != NULL) {
		char path[PATH_MAX];
		if (strncmp(de->d_name, DS_RETIRED_PREFIX, retired_len) == 0) {
			removed += retired_sweep(dirfd(dir), data_dir, de->d_name);
			continue;
		}
		if (strncmp(de->d_name, DS_UPLOAD_PREFIX, prefix_len) != 0 ||
		    !upload_stale(dirfd(dir), de->d_name, older_than_s) ||
		    ds_join(path, sizeof(path), data_dir, de->d_name) < 0)
			continue;
		ds_dir_remove(path);
		removed++;
	}
	closedir(dir);
	if (ret_removed)
		*ret_removed = removed;
	return 0;
}
