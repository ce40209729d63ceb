/*
 * store_files: the artifact files of runs, STATE_DIR/artifacts/<run id>/<name>.
 *
 * The database indexes the files; the files themselves live outside it so
 * large charts do not bloat the WAL and can be streamed with sendfile. The
 * order that keeps the two consistent: files are written and fsynced (file,
 * run folder, artifacts folder) before the run's transaction commits, and
 * removed again if it fails. A crash in between leaves a folder with no run
 * row; store_files_sweep() removes such folders at the next open, once they
 * are older than any insert could take.
 *
 * Nothing here follows a symbolic link: folders are opened O_NOFOLLOW |
 * O_DIRECTORY and files O_NOFOLLOW, and files are created O_EXCL, so a link
 * planted in the state directory is refused rather than written through.
 * Paths are always rebuilt from the run id and a validated name, never
 * taken from the database.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "util/banned.h"

/* A folder without a run row younger than this may belong to an insert in
 * progress in another process (the server, while the CLI opens the store). */
#define SWEEP_MIN_AGE_S 3600

bool store_artifact_name_valid(const char *name)
{
	size_t len;

	if (!name)
		return false;
	len = strlen(name);
	if (len == 0 || len > STORE_ARTIFACT_NAME_MAX || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return false;
	/* The same rule as the sandbox's artifact collector, so every name a
	 * run can produce is storable. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
			return false;
	}
	return true;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int file_write(int dir_fd, const struct artifact_file *a)
{
	int fd = openat(dir_fd, a->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int r;

	if (fd < 0)
		return -errno;
	r = a->bytes ? write_all(fd, a->data, a->bytes) : 0;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

static void files_unlink(int dir_fd, const struct artifact_file *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		(void)unlinkat(dir_fd, a[i].name, 0);
}

int store_files_write(struct store *s, const char *run_id, const struct artifact_file *a,
		      size_t n)
{
	size_t written = 0;
	int dir_fd, r = 0;

	if (n == 0)
		return 0;
	if (mkdirat(s->artifacts_fd, run_id, 0700) < 0)
		return -errno;
	dir_fd = openat(s->artifacts_fd, run_id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir_fd < 0) {
		r = -errno;
		goto out_rmdir;
	}
	for (; written < n && r == 0; written++)
		r = file_write(dir_fd, &a[written]);
	/* The new names must be durable before the row that points at them. */
	if (r == 0 && fsync(dir_fd) < 0)
		r = -errno;
	if (r == 0 && fsync(s->artifacts_fd) < 0)
		r = -errno;
	if (r < 0)
		files_unlink(dir_fd, a, written);
	close(dir_fd);
	if (r == 0)
		return 0;
out_rmdir:
	(void)unlinkat(s->artifacts_fd, run_id, AT_REMOVEDIR);
	return r;
}

void store_files_remove(struct store *s, const char *run_id, const struct artifact_file *a,
			size_t n)
{
	int dir_fd;

	if (n == 0)
		return;
	dir_fd = openat(s->artifacts_fd, run_id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir_fd < 0)
		return;
	files_unlink(dir_fd, a, n);
	close(dir_fd);
	(void)unlinkat(s->artifacts_fd, run_id, AT_REMOVEDIR);
	(void)fsync(s->artifacts_fd);
}

int store_files_open(struct store *s, const char *run_id, const char *name, int *ret_fd,
		     uint64_t *ret_bytes)
{
	struct stat st;
	int dir_fd, fd, r = 0;

	if (!store_artifact_name_valid(name))
		return -ENOENT;
	dir_fd = openat(s->artifacts_fd, run_id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir_fd < 0)
		return -errno;
	/* O_NONBLOCK: a FIFO put in place of the file must not hang us. */
	fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		r = -errno;
	close(dir_fd);
	if (r < 0)
		return r;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		r = -EIO;
	else if (fcntl(fd, F_SETFL, 0) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	*ret_fd = fd;
	*ret_bytes = (uint64_t)st.st_size;
	return 0;
}

static bool sweep_has_run(struct store *s, const char *run_id)
{
	sqlite3_stmt *st;
	int r = db_prepare(s->db, "SELECT 1 FROM runs WHERE id = ?1", &st);

	if (r < 0)
		return true; /* when unsure, keep the files */
	sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
	r = db_step(st);
	sqlite3_finalize(st);
	return r != 0;
}

static void sweep_folder(struct store *s, const char *run_id)
{
	int dir_fd = openat(s->artifacts_fd, run_id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;
	const struct dirent *e;

	if (dir_fd < 0)
		return;
	d = fdopendir(dir_fd);
	if (!d) {
		close(dir_fd);
		return;
	}
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			(void)unlinkat(dir_fd, e->d_name, 0);
	closedir(d);
	(void)unlinkat(s->artifacts_fd, run_id, AT_REMOVEDIR);
}

static bool sweep_candidate(struct store *s, const char *name, time_t now)
{
	struct stat st;

	if (!store_run_id_valid(name))
		return false;
	if (fstatat(s->artifacts_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		return false;
	return now - st.st_mtime >= SWEEP_MIN_AGE_S && !sweep_has_run(s, name);
}

void store_files_sweep(struct store *s)
{
	int fd = openat(s->artifacts_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	time_t now = time(NULL);
	DIR *d;
	const struct dirent *e;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL)
		if (sweep_candidate(s, e->d_name, now))
			sweep_folder(s, e->d_name);
	closedir(d);
}
