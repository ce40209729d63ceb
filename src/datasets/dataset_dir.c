/*
 * dataset_dir: reading DATA_DIR and dataset folders without following
 * symbolic links, and removing an upload's temporary folder.
 *
 * Invariants:
 * - Every file-system type comes from lstat (fstatat AT_SYMLINK_NOFOLLOW):
 *   a symlink is never taken for the folder or file it points to, so a
 *   dataset cannot reach outside DATA_DIR through one.
 * - Hidden entries (".x") are never read: they are uploads in progress
 *   (".upload-XXXXXX") or things that are not data.
 * - A folder yields at most DS_DIR_MAX_ENTRIES entries.
 */
#include "datasets/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/banned.h"

static int entry_compare(const void *a, const void *b)
{
	const struct ds_entry *x = a, *y = b;

	return strcmp(x->name, y->name);
}

void ds_dir_release(struct ds_dir *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->count; i++)
		free(d->entries[i].name);
	free(d->entries);
	d->entries = NULL;
	d->count = 0;
}

/* Adds one entry; an entry that vanished meanwhile is skipped. */
static int dir_add(int dir_fd, const char *name, struct ds_dir *d, size_t *cap)
{
	struct stat st;

	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (d->count >= DS_DIR_MAX_ENTRIES)
		return -E2BIG;
	if (d->count == *cap) {
		size_t n = *cap ? *cap * 2 : 16;
		struct ds_entry *grown = realloc(d->entries, n * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		d->entries = grown;
		*cap = n;
	}
	d->entries[d->count].name = strdup(name);
	if (!d->entries[d->count].name)
		return -ENOMEM;
	d->entries[d->count].mode = st.st_mode;
	d->entries[d->count].bytes = (uint64_t)st.st_size;
	d->count++;
	return 0;
}

int ds_dir_read(int dir_fd, struct ds_dir *ret)
{
	struct ds_dir d = { 0 };
	size_t cap = 0;
	struct dirent *de;
	int fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3), rc = 0;
	DIR *dir;

	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		rc = -errno;
		close(fd);
		return rc;
	}
	/* The duplicate shares the position with dir_fd: start at the top. */
	rewinddir(dir);
	while (rc == 0 && (errno = 0, de = readdir(dir)) != NULL) {
		if (de->d_name[0] != '.')
			rc = dir_add(dir_fd, de->d_name, &d, &cap);
	}
	if (rc == 0 && errno != 0)
		rc = -errno;
	closedir(dir);
	if (rc < 0) {
		ds_dir_release(&d);
		return rc;
	}
	if (d.count > 1)
		qsort(d.entries, d.count, sizeof(*d.entries), entry_compare);
	*ret = d;
	return 0;
}

bool ds_entry_is_sqlite(const struct ds_entry *e)
{
	static const char suffix[] = ".sqlite";
	size_t len = strlen(e->name), suffix_len = sizeof(suffix) - 1;

	return S_ISREG(e->mode) && len > suffix_len &&
	       memcmp(e->name + len - suffix_len, suffix, suffix_len) == 0;
}

size_t ds_dir_sqlite_count(const struct ds_dir *d, const struct ds_entry **ret_first)
{
	size_t n = 0;

	*ret_first = NULL;
	for (size_t i = 0; i < d->count; i++) {
		if (!ds_entry_is_sqlite(&d->entries[i]))
			continue;
		if (n++ == 0)
			*ret_first = &d->entries[i];
	}
	return n;
}

void ds_dir_sqlite_names(const struct ds_dir *d, char *buf, size_t buf_len)
{
	size_t used = 0;

	if (buf_len == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < d->count && used < buf_len; i++) {
		int n;
		if (!ds_entry_is_sqlite(&d->entries[i]))
			continue;
		n = snprintf(buf + used, buf_len - used, "%s%s", used ? ", " : "",
			     d->entries[i].name);
		if (n < 0)
			return;
		used += (size_t)n;
	}
}

int ds_dir_open_dataset(const char *data_dir, const char *name, int *ret_fd, char *err,
			size_t err_len)
{
	char path[PATH_MAX];
	struct stat st;
	int fd, rc = ds_join(path, sizeof(path), data_dir, name);

	if (rc < 0) {
		ds_err(err, err_len, "the path of dataset %s is too long", name);
		return rc;
	}
	if (lstat(path, &st) < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			ds_err(err, err_len, "no dataset %s: upload one or pick one from the list",
			       name);
		else
			ds_err(err, err_len, "cannot look at dataset %s: %s", name, strerror(-rc));
		return rc;
	}
	if (!S_ISDIR(st.st_mode)) {
		ds_err(err, err_len, "no dataset %s: %s", name,
		       S_ISLNK(st.st_mode) ? "it is a symbolic link, which ledgerbox never follows"
					   : "it is not a folder");
		return -ENOENT;
	}
	/* O_NOFOLLOW: the folder checked above is the one opened. */
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		ds_err(err, err_len, "cannot open dataset %s: %s", name, strerror(-rc));
		return rc == -ELOOP || rc == -ENOTDIR ? -ENOENT : rc;
	}
	*ret_fd = fd;
	return 0;
}

void ds_dir_remove(const char *path)
{
	/* O_NOFOLLOW: a symlink put in its place is removed, not followed. */
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (fd >= 0 && !dir)
		close(fd);
	if (dir) {
		while ((de = readdir(dir)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (unlinkat(fd, de->d_name, 0) < 0 && errno == EISDIR)
				(void)unlinkat(fd, de->d_name, AT_REMOVEDIR);
		}
		closedir(dir);
	}
	if (rmdir(path) < 0 && errno == ENOTDIR)
		(void)unlink(path);
}
