/*
 * dataset_lock: one change at a time per dataset.
 *
 * A replace or an append builds its new version beside the dataset (an
 * append from a copy of the current version) and then swaps it in; a
 * delete retires the folder and drops its record. Two such changes of one
 * dataset running at once would each start from the same version, and the
 * later swap would throw away the earlier change (rows appended by one
 * request gone, a replace undone by an append built on the old files), or
 * a change would record a version of a dataset that a delete just took
 * away. So each change holds an exclusive lock on the dataset's lock file
 * from before it reads the current version until its record and folder
 * agree again.
 *
 * The lock file is DATA_DIR/.lock-NAME, NAME in ASCII lower case (names
 * are unique ignoring case), hidden like every non-dataset entry there. It
 * is an flock(2) lock: every request opens the file itself, so requests
 * in one process exclude each other as those of two processes sharing
 * DATA_DIR do, and a process that dies releases it. A run takes the lock
 * shared for the moment it reads the record and opens the folder, so the
 * version it reports and the folder it holds are one version's. The files stay: one
 * small empty file per name ever changed, never removed, because removing
 * a lock file someone may be waiting on would let two holders in.
 */
#include "datasets/datasets.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "datasets/internal.h"

#include "util/banned.h"

/* Opens DATA_DIR/.lock-name and waits for an flock of kind `op`. */
static int lock_take(const char *data_dir, const char *name, int op, int *ret_fd, char *err,
		     size_t err_len)
{
	char file[DS_NAME_MAX + 8], path[PATH_MAX];
	size_t len = name ? strlen(name) : 0;
	int fd, rc;

	if (!dataset_name_valid(name) || len >= DS_NAME_MAX) {
		ds_err(err, err_len, "not a valid dataset name: use 1 to 64 letters, digits, "
				     "'_' or '-'");
		return -EINVAL;
	}
	memcpy(file, DS_LOCK_PREFIX, strlen(DS_LOCK_PREFIX));
	for (size_t i = 0; i <= len; i++)
		file[strlen(DS_LOCK_PREFIX) + i] =
			name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] - 'A' + 'a') : name[i];
	rc = ds_join(path, sizeof(path), data_dir, file);
	if (rc < 0) {
		ds_err(err, err_len, "the data folder's path is too long");
		return rc;
	}
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		ds_err(err, err_len, "cannot open the lock of dataset %s in the data folder: %s",
		       name, strerror(-rc));
		return rc;
	}
	while (flock(fd, op) < 0) {
		if (errno == EINTR)
			continue;
		rc = -errno;
		close(fd);
		ds_err(err, err_len, "cannot lock dataset %s for a change: %s", name, strerror(-rc));
		return rc;
	}
	*ret_fd = fd;
	return 0;
}

int dataset_change_lock(const char *data_dir, const char *name, int *ret_fd, char *err,
			size_t err_len)
{
	return lock_take(data_dir, name, LOCK_EX, ret_fd, err, err_len);
}

int dataset_read_lock(const char *data_dir, const char *name, int *ret_fd, char *err,
		      size_t err_len)
{
	return lock_take(data_dir, name, LOCK_SH, ret_fd, err, err_len);
}

void dataset_change_unlock(int fd)
{
	/* Closing the only descriptor of the open file releases the lock. */
	if (fd >= 0)
		close(fd);
}
