/* db: see db.h. */
#include "util/db.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/banned.h"

int db_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
	case SQLITE_PERM:
		return -EROFS;
	case SQLITE_CANTOPEN:
		return -EACCES;
	default:
		return -EIO;
	}
}

/* db_errno(), refined for an I/O failure by what the system said: a disk
 * that is full or mounted read-only is a passing state of the machine
 * (the callers answer "try again"), not a broken database. */
static int db_errno_of(sqlite3 *db, int rc)
{
	int primary = rc & 0xff;

	if (db && (primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN)) {
		switch (sqlite3_system_errno(db)) {
		case ENOSPC:
		case EDQUOT:
			return -ENOSPC;
		case EROFS:
			return -EROFS;
		default:
			break;
		}
	}
	return db_errno(rc);
}

int db_exec(sqlite3 *db, const char *sql)
{
	return db_errno_of(db, sqlite3_exec(db, sql, NULL, NULL, NULL));
}

int db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK) {
		sqlite3_finalize(st);
		return db_errno_of(db, rc);
	}
	*ret = st;
	return 0;
}

int db_step(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	rc = db_errno_of(sqlite3_db_handle(st), rc);
	return rc < 0 ? rc : -EIO;
}

int db_tx_end(sqlite3 *db, int r)
{
	if (r == 0) {
		r = db_exec(db, "COMMIT");
		if (r == 0)
			return 0;
	}
	/* After a failed COMMIT SQLite may already have rolled back. */
	if (!sqlite3_get_autocommit(db))
		(void)db_exec(db, "ROLLBACK");
	return r;
}

int db_pragma_expect(sqlite3 *db, const char *sql, const char *want)
{
	sqlite3_stmt *st = NULL;
	int r = db_prepare(db, sql, &st);

	if (r < 0)
		return r;
	r = db_step(st);
	if (r == 1) {
		const char *got = (const char *)sqlite3_column_text(st, 0);
		r = got && strcasecmp(got, want) == 0 ? 0 : -ENOTSUP;
	} else if (r == 0) {
		r = -EIO;
	}
	sqlite3_finalize(st);
	return r;
}

void db_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (!err || err_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

int db_state_dir_open(const char *state_dir, int *ret_fd, char *err, size_t err_len)
{
	int fd;

	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST) {
		db_err(err, err_len, "cannot create the state directory %s: %s", state_dir,
		       strerror(errno));
		return -errno;
	}
	fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		db_err(err, err_len, "cannot open the state directory %s: %s", state_dir,
		       strerror(errno));
		return -errno;
	}
	*ret_fd = fd;
	return 0;
}

int db_file_precreate(int dir_fd, const char *file)
{
	int fd;

	/* Only when missing: closing a descriptor of the database would drop
	 * every POSIX lock this process's SQLite connections hold on it, and
	 * another process would then think it the last user, checkpoint and
	 * delete the WAL under their feet. */
	if (faccessat(dir_fd, file, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	fd = openat(dir_fd, file, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int db_configure(sqlite3 *db, const struct db_settings *s, char *err, size_t err_len)
{
	char pragmas[96];
	int r;

	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, s->busy_timeout_ms);
	if (s->defensive)
		sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
	r = db_pragma_expect(db, "PRAGMA journal_mode = WAL", "wal");
	if (r < 0) {
		db_err(err, err_len, "cannot switch the database to WAL mode: %s",
		       r == -ENOTSUP ? "the file system refused it" : sqlite3_errmsg(db));
		return r;
	}
	if (snprintf(pragmas, sizeof(pragmas), "PRAGMA synchronous = %s; PRAGMA foreign_keys = %s",
		     s->synchronous, s->foreign_keys ? "ON" : "OFF") >= (int)sizeof(pragmas))
		return -EINVAL;
	r = db_exec(db, pragmas);
	if (r < 0)
		db_err(err, err_len, "cannot configure the database: %s", sqlite3_errmsg(db));
	return r;
}

int db_open_wal(const char *path, const struct db_settings *s, sqlite3 **ret, char *err,
		size_t err_len)
{
	sqlite3 *db = NULL;
	int persist, r, flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX |
		       SQLITE_OPEN_NOFOLLOW;

	r = sqlite3_open_v2(path, &db, flags, NULL);
	if (r != SQLITE_OK) {
		db_err(err, err_len, "cannot open %s: %s", path,
		       db ? sqlite3_errmsg(db) : sqlite3_errstr(r));
		sqlite3_close(db);
		return db_errno(r) < 0 ? db_errno(r) : -EIO;
	}
	/* The -wal and -shm files stay when the last connection closes (the
	 * WAL emptied by the checkpoint), so a later open finds them and
	 * needs no new disk space: the server still starts, and reads, on a
	 * full disk. */
	persist = 1;
	(void)sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
	r = db_configure(db, s, err, err_len);
	if (r < 0) {
		sqlite3_close(db);
		return r;
	}
	*ret = db;
	return 0;
}

int db_state_open(const char *state_dir, int dir_fd, const struct db_settings *s,
		  sqlite3 **ret, char *err, size_t err_len)
{
	char path[PATH_MAX];
	int r;

	if (snprintf(path, sizeof(path), "%s/%s", state_dir, DB_STATE_FILE) >= (int)sizeof(path)) {
		db_err(err, err_len, "state directory path is too long: %s", state_dir);
		return -ENAMETOOLONG;
	}
	r = db_file_precreate(dir_fd, DB_STATE_FILE);
	if (r < 0) {
		db_err(err, err_len, "cannot create %s: %s", path, strerror(-r));
		return r;
	}
	return db_open_wal(path, s, ret, err, err_len);
}
