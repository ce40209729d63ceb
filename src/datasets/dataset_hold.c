/*
 * dataset_hold: a run's hold on the version of a dataset it runs on.
 *
 * A replace or an append swaps a new folder in under the dataset's name
 * and retires the old one (dataset_change.c); the sweep (csv_sweep.c)
 * removes a retired folder as soon as nobody holds it. A run holds its
 * folder from before it starts until it ends: the folder opened
 * (O_DIRECTORY|O_NOFOLLOW) with flock(LOCK_SH) on it, which the sweep's
 * flock(LOCK_EX|LOCK_NB) cannot take. The lock belongs to the open file,
 * so a crashed server holds nothing.
 *
 * Invariant: a hold names the folder that was DATA_DIR/NAME after its lock
 * was taken. Opening and locking are two steps; a replace between them
 * moves the folder away (and the sweep may empty it), so the name is
 * checked again once locked, and a moved folder is let go and the name
 * opened anew.
 */
#include "datasets/datasets.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datasets/internal.h"

#include "util/banned.h"

/* A replace takes milliseconds; a name that changes this often under one
 * run's start is being replaced in a loop. */
#define HOLD_TRIES 5

bool dataset_hold_current(const char *data_dir, const char *name, const struct dataset_hold *h)
{
	char path[PATH_MAX];
	struct stat st;

	if (h->fd < 0 || ds_join(path, sizeof(path), data_dir, name) < 0 ||
	    lstat(path, &st) < 0)
		return false;
	return S_ISDIR(st.st_mode) && st.st_dev == h->dev && st.st_ino == h->ino;
}

/* One try: 1 when held, 0 when the name moved meanwhile, < 0 on error. */
static int hold_once(const char *data_dir, const char *name, struct dataset_hold *ret, char *err,
		     size_t err_len)
{
	struct stat st;
	int fd, rc = ds_dir_open_dataset(data_dir, name, &fd, err, err_len);

	if (rc < 0)
		return rc;
	while (flock(fd, LOCK_SH) < 0) {
		if (errno == EINTR)
			continue;
		rc = -errno;
		close(fd);
		ds_err(err, err_len, "cannot hold dataset %s for a run: %s", name, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		ds_err(err, err_len, "cannot look at dataset %s: %s", name, strerror(-rc));
		return rc;
	}
	*ret = (struct dataset_hold){ .fd = fd, .dev = st.st_dev, .ino = st.st_ino };
	if (dataset_hold_current(data_dir, name, ret))
		return 1;
	dataset_release(ret);
	return 0;
}

int dataset_hold(const char *data_dir, const char *name, struct dataset_hold *ret, char *err,
		 size_t err_len)
{
	*ret = DATASET_HOLD_NONE;
	for (int i = 0; i < HOLD_TRIES; i++) {
		int rc = hold_once(data_dir, name, ret, err, err_len);
		if (rc != 0)
			return rc < 0 ? rc : 0;
	}
	ds_err(err, err_len, "dataset %s changed while the run started; try again", name);
	return -EAGAIN;
}

void dataset_release(struct dataset_hold *h)
{
	/* Closing the only descriptor of the open file drops its lock. */
	if (h->fd >= 0)
		close(h->fd);
	*h = DATASET_HOLD_NONE;
}
