/*
 * fingerprint: a dataset's identity as a hash, for the result cache.
 *
 * It covers everything a run can read under /data: the dataset folder and
 * every entry below it, subfolders and hidden files included (SQLite's
 * -wal, -journal and -shm files are entries like any other). Each entry
 * adds its path relative to the folder, its type, size, inode, device,
 * modification time and status-change time (ctime), both in nanoseconds,
 * and for a symbolic link its target. Entries go in sorted by name, folder
 * by folder, depth first, so the same tree always gives the same hash.
 *
 * Why ctime: any write, rename, chmod or utime sets it to the current time
 * and no user can set it back, so an in-place write followed by `touch -r`
 * (which restores mtime, with the size unchanged) still changes the
 * fingerprint. The content is never read: the cost is one lstat per entry.
 *
 * Ticks: the kernel stamps ctime from a coarse clock (a tick of a few
 * milliseconds; whole seconds on some file systems), so two writes in one
 * tick, the second of the same size, leave the same times. A fingerprint
 * taken between them would then vouch for both states. The settled
 * variant refuses while any entry's ctime lies in the current tick (read
 * from CLOCK_REALTIME_COARSE before the walk): once the tick has passed,
 * every later write carries a later ctime. An entry stamped more than a
 * second ahead of the clock (the clock was set back) is no race: a write
 * now stamps an earlier time, which differs.
 *
 * Bounds: DATASET_FP_MAX_DEPTH levels of folders and DATASET_FP_MAX_ENTRIES entries in
 * all. A tree past either is refused (-E2BIG with a message) rather than
 * fingerprinted in part: a partial fingerprint could miss the one file that
 * changed. The cache then leaves the dataset's answers uncached.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "datasets/datasets.h"
#include "datasets/internal.h"
#include "util/banned.h"

struct walk {
	crypto_hash_sha256_state hash;
	size_t entries;
	char path[PATH_MAX]; /* of the folder being read, relative, "" at the top */
	struct timespec now; /* the coarse clock when the walk began */
	struct timespec newest; /* the latest ctime not ahead of now by a second */
	bool fine;              /* some ctime has nanoseconds: the file system keeps them */
};

static bool ts_before(struct timespec a, struct timespec b)
{
	return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

static void times_note(struct walk *w, const struct stat *st)
{
	struct timespec ahead = { w->now.tv_sec + 1, w->now.tv_nsec };

	w->fine = w->fine || st->st_ctim.tv_nsec != 0;
	if (ts_before(w->newest, st->st_ctim) && !ts_before(ahead, st->st_ctim))
		w->newest = st->st_ctim;
}

/* Whether an entry changed in the tick the walk began in. */
static bool walk_racy(const struct walk *w)
{
	struct timespec tick = w->now;

	if (!w->fine)
		tick.tv_nsec = 0;
	return !ts_before(w->newest, tick);
}

static int name_compare(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Every name in the folder open at dir_fd but "." and "..", sorted; the
 * walk's entry count grows by their number (-E2BIG past the bound). */
static int names_read(int dir_fd, struct walk *w, char ***ret, size_t *ret_n)
{
	int fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3), r = 0;
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;

	if (!dir) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		return r;
	}
	rewinddir(dir);
	while (r == 0 && (errno = 0, de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (++w->entries > DATASET_FP_MAX_ENTRIES) {
			r = -E2BIG;
			break;
		}
		if (n == cap) {
			char **grown = realloc(names, (cap ? cap * 2 : 16) * sizeof(*names));
			if (!grown) {
				r = -ENOMEM;
				break;
			}
			names = grown;
			cap = cap ? cap * 2 : 16;
		}
		names[n] = strdup(de->d_name);
		r = names[n] ? 0 : -ENOMEM;
		n += names[n] ? 1 : 0;
	}
	if (r == 0 && errno != 0)
		r = -errno;
	closedir(dir);
	if (r < 0) {
		names_free(names, n);
		return r;
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), name_compare);
	*ret = names;
	*ret_n = n;
	return 0;
}

/* One entry's line: path, NUL, then its identity and times. */
static void entry_hash(struct walk *w, int dir_fd, const char *name, const struct stat *st)
{
	char line[256], target[PATH_MAX];
	ssize_t len = 0;
	int n;

	times_note(w, st);
	crypto_hash_sha256_update(&w->hash, (const unsigned char *)w->path, strlen(w->path));
	crypto_hash_sha256_update(&w->hash, (const unsigned char *)name, strlen(name) + 1);
	n = snprintf(line, sizeof(line),
		     "%o %" PRIu64 " %" PRIu64 " %" PRIu64 " %lld.%09ld %lld.%09ld\n",
		     (unsigned)st->st_mode, (uint64_t)st->st_size, (uint64_t)st->st_ino,
		     (uint64_t)st->st_dev, (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
		     (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
	if (n > 0 && (size_t)n < sizeof(line))
		crypto_hash_sha256_update(&w->hash, (const unsigned char *)line, (size_t)n);
	if (S_ISLNK(st->st_mode))
		len = readlinkat(dir_fd, name, target, sizeof(target));
	if (len > 0)
		crypto_hash_sha256_update(&w->hash, (const unsigned char *)target, (size_t)len);
}

static int folder_hash(struct walk *w, int dir_fd, unsigned depth);

/* Goes into the subfolder `name` of dir_fd, its path added to w->path for
 * the time. A folder that vanished meanwhile counts as empty. */
static int subfolder_hash(struct walk *w, int dir_fd, const char *name, unsigned depth)
{
	size_t used = strlen(w->path);
	int fd, r;

	if (depth >= DATASET_FP_MAX_DEPTH)
		return -ELOOP;
	if ((size_t)snprintf(w->path + used, sizeof(w->path) - used, "%s/", name) >=
	    sizeof(w->path) - used)
		return -ENAMETOOLONG;
	fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = errno == ENOENT ? 0 : -errno;
	} else {
		r = folder_hash(w, fd, depth + 1);
		close(fd);
	}
	w->path[used] = '\0';
	return r;
}

static int folder_hash(struct walk *w, int dir_fd, unsigned depth)
{
	char **names = NULL;
	size_t n = 0;
	int r = names_read(dir_fd, w, &names, &n);

	if (r < 0)
		return r;
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct stat st;
		if (fstatat(dir_fd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			/* Removed meanwhile: the next request sees it gone. */
			r = errno == ENOENT ? 0 : -errno;
			continue;
		}
		entry_hash(w, dir_fd, names[i], &st);
		if (S_ISDIR(st.st_mode))
			r = subfolder_hash(w, dir_fd, names[i], depth);
	}
	names_free(names, n);
	return r;
}

static void walk_error(const char *name, int r, char *err, size_t err_len)
{
	if (r == -E2BIG)
		ds_err(err, err_len,
		       "dataset %s holds more than %d files and folders: too many to tell a change"
		       " reliably, so its answers are not cached (split it into several datasets)",
		       name, DATASET_FP_MAX_ENTRIES);
	else if (r == -ELOOP || r == -ENAMETOOLONG)
		ds_err(err, err_len,
		       "dataset %s has folders more than %d levels deep (or a path too long): its"
		       " answers are not cached (flatten its folders)",
		       name, DATASET_FP_MAX_DEPTH);
	else if (r == -EAGAIN)
		ds_err(err, err_len,
		       "dataset %s changed a moment ago (within the file system's clock tick): this"
		       " answer is not cached, as a second write in that tick could not be told apart",
		       name);
	else
		ds_err(err, err_len, "reading the dataset %s failed: %s", name, strerror(-r));
}

static int fingerprint(const char *data_dir, const char *name, bool settled, char ret[65],
		       char *err, size_t err_len)
{
	unsigned char digest[crypto_hash_sha256_BYTES];
	struct walk *w;
	struct stat st;
	int fd, r;

	if (!dataset_name_valid(name)) {
		ds_err(err, err_len, "dataset names are 1 to 64 letters, digits, '-' or '_'");
		return -EINVAL;
	}
	r = ds_dir_open_dataset(data_dir, name, &fd, err, err_len);
	if (r < 0)
		return r;
	w = calloc(1, sizeof(*w));
	if (!w) {
		close(fd);
		return -ENOMEM;
	}
	clock_gettime(CLOCK_REALTIME_COARSE, &w->now);
	crypto_hash_sha256_init(&w->hash);
	crypto_hash_sha256_update(&w->hash, (const unsigned char *)"v2", 3);
	crypto_hash_sha256_update(&w->hash, (const unsigned char *)name, strlen(name) + 1);
	/* The folder itself: its ctime moves when an entry comes or goes. */
	r = fstat(fd, &st) < 0 ? -errno : 0;
	if (r == 0) {
		entry_hash(w, fd, ".", &st);
		r = folder_hash(w, fd, 0);
	}
	close(fd);
	if (r == 0 && settled && walk_racy(w))
		r = -EAGAIN;
	if (r < 0) {
		walk_error(name, r, err, err_len);
		free(w);
		return r;
	}
	crypto_hash_sha256_final(&w->hash, digest);
	free(w);
	sodium_bin2hex(ret, 65, digest, sizeof(digest));
	return 0;
}

int dataset_fingerprint(const char *data_dir, const char *name, char ret[65], char *err,
			size_t err_len)
{
	return fingerprint(data_dir, name, false, ret, err, err_len);
}

int dataset_fingerprint_settled(const char *data_dir, const char *name, char ret[65], char *err,
				size_t err_len)
{
	return fingerprint(data_dir, name, true, ret, err, err_len);
}
