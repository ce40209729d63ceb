/*
 * budget: opening and closing the budget part's own connection to
 * STATE_DIR/ledgerbox.db, and recovering after a crash.
 *
 * The store opens the same file; both connections use WAL,
 * synchronous=FULL (every commit fsyncs the WAL, so spend recorded by a
 * settle that returned 0 survives power loss) and a 10 s busy timeout, so
 * the budget part's IMMEDIATE transactions wait for the store's rather
 * than fail. foreign_keys stays off: the budget tables have no foreign
 * keys, and run ids are charged before the store has a row for them.
 *
 * Crash recovery: a reservation belongs to a run in flight, and no run
 * survives the process that started it. So reservations found at open
 * belong to dead processes and are deleted, unless some other process
 * (or another struct budgets in this one) still has the budget tables
 * open: its reservations are live and indistinguishable from stale ones.
 * STATE_DIR/budget.lock tells the two cases apart: every open handle holds
 * an open-file-description read lock on it; an opener that gets the write
 * lock is alone, sweeps, then downgrades to a read lock atomically. OFD
 * locks belong to the descriptor, so two handles in one process exclude
 * each other like two processes, and the kernel drops them when a process
 * dies. A short `ledgerbox budget list` running while the server
 * restarts postpones the sweep to the next lone open; several nodes on one
 * database would need reservations owned per node, which is out of scope.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "budget/budget_internal.h"
#include "util/banned.h"

#define DB_FILE "ledgerbox.db"
#define LOCK_FILE "budget.lock"

/* Creates a file 0600 if missing, so SQLite never creates the database
 * (and gives its WAL the same mode) with the umask's wider one. */
static int file_precreate(int dir_fd, const char *name, int *ret_fd)
{
	int fd = openat(dir_fd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return -errno;
	if (ret_fd)
		*ret_fd = fd;
	else
		close(fd);
	return 0;
}

static int db_configure(sqlite3 *db, char *err, size_t err_len)
{
	int r;

	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, BUDGET_BUSY_TIMEOUT_MS);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
	r = db_pragma_expect(db, "PRAGMA journal_mode = WAL", "wal");
	if (r < 0) {
		budget_err(err, err_len, "cannot switch the database to WAL mode: %s",
			   r == -ENOTSUP ? "the file system refused it" : sqlite3_errmsg(db));
		return r;
	}
	r = db_exec(db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF");
	if (r < 0)
		budget_err(err, err_len, "cannot configure the database: %s", sqlite3_errmsg(db));
	return r;
}

static int db_open(struct budgets *b, const char *state_dir, int dir_fd, char *err,
		   size_t err_len)
{
	char path[PATH_MAX];
	int r, flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX |
		       SQLITE_OPEN_NOFOLLOW;

	if (snprintf(path, sizeof(path), "%s/%s", state_dir, DB_FILE) >= (int)sizeof(path)) {
		budget_err(err, err_len, "state directory path is too long: %s", state_dir);
		return -ENAMETOOLONG;
	}
	/* Only when missing: closing any descriptor of a file drops all of this
	 * process's POSIX locks on it, and the store's SQLite connection may
	 * hold those locks already. Without them another process (the sqlite3
	 * shell, a second node) would think it is the last user, checkpoint and
	 * delete the WAL under the server's feet. */
	r = faccessat(dir_fd, DB_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ? 0
									: file_precreate(dir_fd, DB_FILE, NULL);
	if (r < 0) {
		budget_err(err, err_len, "cannot create %s: %s", path, strerror(-r));
		return r;
	}
	r = sqlite3_open_v2(path, &b->db, flags, NULL);
	if (r != SQLITE_OK) {
		budget_err(err, err_len, "cannot open %s: %s", path,
			   b->db ? sqlite3_errmsg(b->db) : sqlite3_errstr(r));
		return db_errno(r);
	}
	r = db_configure(b->db, err, err_len);
	if (r == 0)
		r = budget_schema_migrate(b->db, err, err_len);
	return r;
}

static int lock_set(int fd, short type, bool wait)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET; /* start 0, length 0: the whole file */
	while (fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/* Deletes every reservation; only called by an opener that is alone. */
static int reservations_sweep(sqlite3 *db)
{
	int r = budget_tx_begin(db);

	if (r == 0)
		r = db_exec(db, "DELETE FROM reservations");
	return db_tx_end(db, r);
}

/* Takes the owner lock, sweeping stale reservations first when no other
 * handle has the tables open. */
static int owner_start(struct budgets *b, int dir_fd, char *err, size_t err_len)
{
	int r = file_precreate(dir_fd, LOCK_FILE, &b->owner_fd);

	if (r == 0) {
		r = lock_set(b->owner_fd, F_WRLCK, false);
		if (r == 0) {
			r = reservations_sweep(b->db);
			if (r < 0) {
				budget_err(err, err_len, "cannot release stale reservations: %s",
					   sqlite3_errmsg(b->db));
				return r;
			}
		} else if (r != -EAGAIN && r != -EACCES) {
			budget_err(err, err_len, "cannot lock %s: %s", LOCK_FILE, strerror(-r));
			return r;
		}
		/* Atomic downgrade when we held the write lock; otherwise this
		 * waits out another opener's sweep. */
		r = lock_set(b->owner_fd, F_RDLCK, true);
	}
	if (r < 0)
		budget_err(err, err_len, "cannot lock %s: %s", LOCK_FILE, strerror(-r));
	return r;
}

static void budgets_free(struct budgets *b)
{
	if (b->db)
		sqlite3_close(b->db);
	if (b->owner_fd >= 0)
		close(b->owner_fd);
	free(b);
}

static int dir_open(const char *state_dir, int *ret_fd, char *err, size_t err_len)
{
	int fd;

	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST) {
		budget_err(err, err_len, "cannot create the state directory %s: %s", state_dir,
			   strerror(errno));
		return -errno;
	}
	fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		budget_err(err, err_len, "cannot open the state directory %s: %s", state_dir,
			   strerror(errno));
		return -errno;
	}
	*ret_fd = fd;
	return 0;
}

int budget_open(const char *state_dir, struct budgets **ret, char *err, size_t err_len)
{
	struct budgets *b;
	int dir_fd = -1, r;

	if (!state_dir || !*state_dir || !ret)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->owner_fd = -1;
	r = dir_open(state_dir, &dir_fd, err, err_len);
	if (r == 0)
		r = db_open(b, state_dir, dir_fd, err, err_len);
	if (r == 0)
		r = owner_start(b, dir_fd, err, err_len);
	if (dir_fd >= 0)
		close(dir_fd);
	if (r == 0)
		r = -pthread_mutex_init(&b->lock, NULL);
	if (r < 0) {
		budgets_free(b);
		return r;
	}
	*ret = b;
	return 0;
}

void budget_close(struct budgets *b)
{
	if (!b)
		return;
	pthread_mutex_destroy(&b->lock);
	/* The connection closes before the owner lock goes, so a later lone
	 * opener never sweeps while this handle could still write. */
	budgets_free(b);
}
