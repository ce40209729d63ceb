/*
 * store_probe: see store_probe.h. The state directory's write and the
 * SQLite write are here; the PostgreSQL checks are store_pg_probe.c's.
 *
 * The SQLite write rewrites PRAGMA user_version with the value it has, in
 * a transaction of its own: SQLite writes the header page whatever the
 * value, so the commit appends a frame to the WAL and syncs it, as every
 * real write does, and nothing the store keeps changes. (An UPDATE that
 * sets a column to its own value would not do: SQLite skips writing a
 * page whose bytes do not change.)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store/store_pg.h"
#include "store/store_probe.h"
#include "util/banned.h"

#define PROBE_FILE ".ready-probe"
/* One page: a file system without a free block refuses it. */
#define PROBE_BYTES 4096

static int probe_file_write(int dir_fd)
{
	static const char page[PROBE_BYTES];
	ssize_t n;
	int fd, r = 0;

	fd = openat(dir_fd, PROBE_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return -errno;
	do
		n = write(fd, page, sizeof(page));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		r = -errno;
	else if (n != (ssize_t)sizeof(page))
		r = -ENOSPC;
	if (r == 0 && fdatasync(fd) < 0)
		r = -errno;
	close(fd);
	(void)unlinkat(dir_fd, PROBE_FILE, 0);
	return r;
}

static int sqlite_write_locked(struct store *s)
{
	sqlite3_stmt *st;
	char sql[64];
	int r = store_tx_begin(s), version = 0;

	if (r < 0)
		return r;
	r = db_prepare(s->db, "PRAGMA user_version", &st);
	if (r == 0) {
		r = db_step(st);
		version = sqlite3_column_int(st, 0);
		r = r == 1 ? 0 : r < 0 ? r : -EIO;
		sqlite3_finalize(st);
	}
	if (r == 0) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version);
		r = db_exec(s->db, sql);
	}
	return db_tx_end(s->db, r);
}

static void advice_for(int e, char *out, size_t len, const char *what)
{
	if (e == -ENOSPC || e == -EDQUOT)
		snprintf(out, len, "%s: the disk is full (%s); free space on it", what,
			 strerror(-e));
	else if (e == -EROFS || e == -EACCES || e == -EPERM)
		snprintf(out, len, "%s: writing is refused (%s); make it writable", what,
			 strerror(-e));
	else
		snprintf(out, len, "%s: a write failed (%s); check the disk and its kernel log",
			 what, strerror(-e));
}

void store_probe_run(struct store *s, struct store_probe *ret)
{
	int r;

	memset(ret, 0, sizeof(*ret));
	ret->pepper_matches = true;
	r = probe_file_write(s->dir_fd);
	ret->state_writable = r == 0;
	if (r < 0)
		advice_for(r, ret->state_detail, sizeof(ret->state_detail),
			   "the state directory (LEDGERBOX_STATE_DIR)");
	if (s->pg) {
		store_pg_probe(s, ret);
		return;
	}
	store_lock(s);
	r = sqlite_write_locked(s);
	store_unlock(s);
	/* A database that cannot write is a state that cannot be written. */
	ret->database_reachable = true;
	if (r < 0 && ret->state_writable) {
		ret->state_writable = false;
		advice_for(r, ret->state_detail, sizeof(ret->state_detail),
			   "the database in the state directory");
	}
}
