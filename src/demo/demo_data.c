/*
 * demo_data: demo_data_write(), the public entry point: generates the demo
 * business, writes ledger.sqlite and one CSV per table, atomically.
 *
 * Every output goes to a hidden temporary file in the target folder first
 * (same filesystem, so rename() is atomic), is fsync'd, and only then
 * renamed over the final name; ledger.sqlite is renamed last, so its
 * presence means the CSVs are complete. Any failure removes the temporary
 * files (and the SQLite journal) and the folder if this call created it.
 */
#include "demo/demo_data.h"
#include "demo/demo_model.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/banned.h"

#define DATA_FILES (1 + DEMO_DATA_TABLE_COUNT) /* [0] is the SQLite file */

struct data_file {
	char final[PATH_MAX];
	char tmp[PATH_MAX];
	bool tmp_exists;
};

struct data_job {
	const char *dir;
	char *err;
	size_t err_len;
	bool made_dir;
	struct data_file files[DATA_FILES];
};

__attribute__((format(printf, 3, 4)))
static int data_fail(struct data_job *job, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (!job->err || job->err_len == 0 || job->err[0])
		return errnum; /* keep the first, most specific message */
	va_start(ap, fmt);
	(void)vsnprintf(job->err, job->err_len, fmt, ap);
	va_end(ap);
	/* One line, even when a path holds control characters. */
	for (char *c = job->err; *c; c++)
		if ((unsigned char)*c < 0x20)
			*c = '?';
	return errnum;
}

/* data_fail for a failed system call: "<what> '<path>': <errno text>; <advice>".
 * errno is read first, before anything else can change it. */
static int data_fail_os(struct data_job *job, const char *what, const char *path,
			const char *advice)
{
	int e = errno;

	return data_fail(job, -e, "%s '%s': %s; %s", what, path, strerror(e), advice);
}

static int data_make_dir(struct data_job *job)
{
	struct stat st;

	if (mkdir(job->dir, 0755) == 0) {
		job->made_dir = true;
		return 0;
	}
	if (errno != EEXIST)
		return data_fail_os(job, "cannot create folder", job->dir,
				    "check that its parent folder exists and is writable");
	if (stat(job->dir, &st) < 0)
		return data_fail_os(job, "cannot use folder", job->dir,
				    "check the path and its permissions");
	if (!S_ISDIR(st.st_mode))
		return data_fail(job, -ENOTDIR, "'%s' exists but is not a folder; remove it or "
			      "choose another path for the demo data", job->dir);
	return 0;
}

static int data_plan_paths(struct data_job *job)
{
	for (int i = 0; i < DATA_FILES; i++) {
		struct data_file *f = &job->files[i];
		char name[64];
		int n;

		n = i == 0 ? snprintf(name, sizeof(name), "%s", DEMO_DATA_SQLITE_NAME)
			   : snprintf(name, sizeof(name), "%s.csv", demo_data_tables[i - 1]);
		if (n < 0 || (size_t)n >= sizeof(name))
			return data_fail(job, -ENAMETOOLONG, "demo table name too long: %s",
				      demo_data_tables[i - 1]);
		n = snprintf(f->final, sizeof(f->final), "%s/%s", job->dir, name);
		if (n >= 0 && (size_t)n < sizeof(f->final))
			n = snprintf(f->tmp, sizeof(f->tmp), "%s/.%s.tmp-XXXXXX", job->dir, name);
		if (n < 0 || (size_t)n >= sizeof(f->tmp))
			return data_fail(job, -ENAMETOOLONG, "path '%s' is too long; choose a "
				      "shorter folder for the demo data", job->dir);
	}
	return 0;
}

/* Creates files[i]'s temporary file; returns its fd or -errno. */
static int data_tmp_open(struct data_job *job, int i)
{
	struct data_file *f = &job->files[i];
	int fd = mkstemp(f->tmp);

	if (fd < 0)
		return data_fail_os(job, "cannot create a file in", job->dir,
				    "check that the folder is writable");
	f->tmp_exists = true;
	if (fchmod(fd, 0644) < 0) {
		int e = errno;
		(void)close(fd);
		return data_fail(job, -e, "cannot set permissions on a file in '%s': %s; check "
			      "the folder's filesystem", job->dir, strerror(e));
	}
	return fd;
}

/* fsync + close, reporting the first failure: close() is where NFS and
 * full disks report delayed write errors. */
static int data_sync_close(struct data_job *job, int i, int fd)
{
	int r = fsync(fd) < 0 ? -errno : 0;

	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0)
		return data_fail(job, r, "writing '%s' failed: %s; check free disk space, then "
			      "run again", job->files[i].final, strerror(-r));
	return 0;
}

static int data_sqlite_errno(sqlite3 *db, int rc)
{
	int sys = 0;

	/* The database file's own last OS error survives the rollback that
	 * follows a failed write; sqlite3_system_errno() may not. */
	if (db && sqlite3_file_control(db, "main", SQLITE_FCNTL_LAST_ERRNO, &sys) != SQLITE_OK)
		sys = 0;
	if (sys <= 0 && db)
		sys = sqlite3_system_errno(db);
	if (sys > 0)
		return -sys;
	switch (rc & 0xff) {
	case SQLITE_FULL: return -ENOSPC;
	case SQLITE_NOMEM: return -ENOMEM;
	case SQLITE_READONLY: return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH: return -EACCES;
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return -EBUSY;
	case SQLITE_CONSTRAINT: return -EPROTO; /* a generator bug */
	default: return -EIO;
	}
}

/* `path` is the final name of the file being written when SQLite failed. */
static int data_sqlite_fail(struct data_job *job, sqlite3 *db, int rc, const char *path)
{
	int e = data_sqlite_errno(db, rc);

	return data_fail(job, e, "writing '%s' failed: %s (%s); check free disk space and "
		      "permissions, then run again", path,
		      db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), strerror(-e));
}

static int data_fill_sqlite(struct data_job *job, sqlite3 *db, const struct demo_model *m)
{
	/* synchronous=OFF: the file is fsync'd once, as a whole, before the
	 * rename; a crash before that only loses a temporary file. The large
	 * cache keeps the whole ~20 MB database in memory until COMMIT.
	 * Foreign keys are declared but not enforced during the load (it is
	 * about a fifth faster); the tests run PRAGMA foreign_key_check. */
	int rc = sqlite3_exec(db, "PRAGMA journal_mode=DELETE; PRAGMA synchronous=OFF;"
			      "PRAGMA cache_size=-65536; BEGIN;",
			      NULL, NULL, NULL);

	if (rc == SQLITE_OK)
		rc = demo_schema_create(db);
	if (rc == SQLITE_OK)
		rc = demo_store(db, m);
	if (rc == SQLITE_OK)
		rc = demo_schema_index(db);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT;", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		return 0;
	/* Report before ROLLBACK, which resets SQLite's saved OS error. */
	rc = data_sqlite_fail(job, db, rc, job->files[0].final);
	if (!sqlite3_get_autocommit(db))
		(void)sqlite3_exec(db, "ROLLBACK;", NULL, NULL, NULL);
	return rc;
}

static int data_open_sqlite(struct data_job *job, sqlite3 **db)
{
	int fd = data_tmp_open(job, 0), rc;

	if (fd < 0)
		return fd;
	if (close(fd) < 0)
		return data_fail_os(job, "cannot create a file in", job->dir,
				    "check the folder's filesystem");
	/* One thread uses this connection: skip SQLite's locking. */
	rc = sqlite3_open_v2(job->files[0].tmp, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			     NULL);
	return rc == SQLITE_OK ? 0 : data_sqlite_fail(job, *db, rc, job->files[0].final);
}

static int data_write_csvs(struct data_job *job, sqlite3 *db)
{
	for (int i = 1; i < DATA_FILES; i++) {
		int fd = data_tmp_open(job, i), r;
		if (fd < 0)
			return fd;
		r = demo_csv_export(db, demo_data_tables[i - 1], fd);
		if (r > 0) {
			(void)close(fd);
			return data_sqlite_fail(job, db, r, job->files[i].final);
		}
		if (r < 0) {
			(void)close(fd);
			return data_fail(job, r, "writing '%s' failed: %s; check free disk space, "
				      "then run again", job->files[i].final, strerror(-r));
		}
		r = data_sync_close(job, i, fd);
		if (r < 0)
			return r;
	}
	return 0;
}

static int data_sync_path(struct data_job *job, int i)
{
	int fd = open(job->files[i].tmp, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return data_fail_os(job, "cannot reopen", job->files[i].tmp,
				    "check the folder's permissions");
	return data_sync_close(job, i, fd);
}

static int data_generate(struct data_job *job, struct demo_model *m)
{
	int r = demo_generate(m);

	if (r == -ENOMEM)
		return data_fail(job, r, "not enough memory to generate the demo data for '%s'; "
			      "free some memory and run again", job->dir);
	if (r < 0)
		return data_fail(job, r, "generating the demo data for '%s' failed: %s; this is "
			      "a bug in ledgerbox, please report it", job->dir, strerror(-r));
	return 0;
}

/* Writes every file under its temporary name. */
static int data_build(struct data_job *job)
{
	struct demo_model m;
	sqlite3 *db = NULL;
	int r, rc;

	demo_model_init(&m);
	r = data_generate(job, &m);
	if (r == 0)
		r = data_open_sqlite(job, &db);
	if (r == 0)
		r = data_fill_sqlite(job, db, &m);
	demo_model_free(&m);
	if (r == 0)
		r = data_write_csvs(job, db);
	rc = sqlite3_close(db);
	if (r == 0 && rc != SQLITE_OK)
		r = data_sqlite_fail(job, NULL, rc, job->files[0].final);
	if (r == 0)
		r = data_sync_path(job, 0);
	return r;
}

static int data_sync_dir(struct data_job *job)
{
	int fd = open(job->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	if (fd < 0)
		return data_fail_os(job, "cannot open folder", job->dir, "check its permissions");
	/* Some filesystems cannot fsync a directory; that is no failure. */
	r = fsync(fd) < 0 && errno != EINVAL ? -errno : 0;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0)
		return data_fail(job, r, "cannot sync folder '%s': %s; check the disk, then run "
			      "again", job->dir, strerror(-r));
	return 0;
}

static int data_commit(struct data_job *job)
{
	/* CSVs first, SQLite last: see the comment at the top. */
	for (int k = 1; k <= DATA_FILES; k++) {
		struct data_file *f = &job->files[k % DATA_FILES];
		if (rename(f->tmp, f->final) < 0)
			return data_fail_os(job, "cannot move into place", f->final,
					    "check the folder's permissions");
		f->tmp_exists = false;
	}
	return data_sync_dir(job);
}

static void data_cleanup(struct data_job *job)
{
	for (int i = 0; i < DATA_FILES; i++) {
		struct data_file *f = &job->files[i];
		if (f->tmp_exists)
			(void)unlink(f->tmp);
		f->tmp_exists = false;
	}
	if (job->files[0].tmp[0]) {
		char journal[PATH_MAX + 16];
		int n = snprintf(journal, sizeof(journal), "%s-journal", job->files[0].tmp);
		if (n > 0 && (size_t)n < sizeof(journal))
			(void)unlink(journal); /* usually absent: fine */
	}
	if (job->made_dir)
		(void)rmdir(job->dir); /* only succeeds when empty, as intended */
}

int demo_data_write(const char *dir, char *err, size_t err_len)
{
	struct data_job *job;
	int r;

	if (err && err_len > 0)
		err[0] = '\0';
	if (!dir || !*dir) {
		if (err && err_len > 0)
			(void)snprintf(err, err_len, "no folder given for the demo data; pass the "
				       "folder to write it into");
		return -EINVAL;
	}
	job = calloc(1, sizeof(*job));
	if (!job) {
		if (err && err_len > 0)
			(void)snprintf(err, err_len, "not enough memory to write the demo data to "
				       "'%s'; free some memory and run again", dir);
		return -ENOMEM;
	}
	job->dir = dir;
	job->err = err;
	job->err_len = err_len;
	r = data_make_dir(job);
	if (r == 0)
		r = data_plan_paths(job);
	if (r == 0)
		r = data_build(job);
	if (r == 0)
		r = data_commit(job);
	if (r < 0)
		data_cleanup(job);
	free(job);
	return r;
}
