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
 * restarts postpones the sweep to the next lone open. Several nodes on one
 * database use PostgreSQL instead (budget_open_url), where reservations are
 * leases renewed by the node that made them (budget_pg_lease.c).
 *
 * On PostgreSQL a restarted server need not wait for its dead
 * predecessor's leases to run out: STATE_DIR/budget-node holds the node id
 * of the last handle that opened the folder alone, under the same
 * lock-file rule (every handle holds a read lock on it; an opener that gets
 * the write lock is alone, so that id's process is gone and its runs with
 * it). Such an opener deletes that node's reservations, writes its own id
 * and downgrades. A CLI command beside a live server never gets the write
 * lock, so it sweeps nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "budget/budget_internal.h"
#include "util/pg.h"
#include "util/banned.h"

#define LOCK_FILE "budget.lock"
#define NODE_FILE "budget-node"

/* foreign_keys off: see the top of this file. */
static const struct db_settings settings = {
	.busy_timeout_ms = BUDGET_BUSY_TIMEOUT_MS,
	.synchronous = "FULL",
	.foreign_keys = false,
	.defensive = true,
};

static int db_open(struct budgets *b, const char *state_dir, int dir_fd, char *err,
		   size_t err_len)
{
	int r = db_state_open(state_dir, dir_fd, &settings, &b->db, err, err_len);

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
	int r;

	/* Not the database: this descriptor stays open as the lock's owner. */
	b->owner_fd = openat(dir_fd, LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	r = b->owner_fd < 0 ? -errno : 0;
	if (r == 0) {
		r = lock_set(b->owner_fd, F_WRLCK, false);
		if (r == 0) {
			r = reservations_sweep(b->db);
			/* On a full or read-only disk the server still starts
			 * (reads work, writes answer 503): stale reservations
			 * only make budgets look fuller until the next start
			 * that can sweep them. */
			if (r == -ENOSPC || r == -EROFS)
				r = 0;
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

/* The node id in NODE_FILE, or 0 when there is none. */
static int32_t node_file_read(int fd)
{
	char text[16];
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
	long id;

	if (n <= 0)
		return 0;
	text[n] = '\0';
	id = strtol(text, NULL, 10);
	return id > 0 && id <= INT32_MAX ? (int32_t)id : 0;
}

static int node_file_write(int fd, int32_t id)
{
	char text[16];
	int len = snprintf(text, sizeof(text), "%d\n", (int)id);

	if (ftruncate(fd, 0) < 0 || pwrite(fd, text, (size_t)len, 0) != len)
		return errno ? -errno : -EIO;
	return 0;
}

/* PostgreSQL: sweeps the reservations of the node that last opened
 * state_dir alone, when this opener is alone (see the top of this file). */
static int pg_owner_start(struct budgets *b, const char *state_dir, char *err, size_t err_len)
{
	int dir_fd = -1, r = db_state_dir_open(state_dir, &dir_fd, err, err_len);

	if (r < 0)
		return r;
	b->owner_fd = openat(dir_fd, NODE_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	r = b->owner_fd < 0 ? -errno : 0;
	close(dir_fd);
	if (r == 0) {
		r = lock_set(b->owner_fd, F_WRLCK, false);
		if (r == 0) {
			int32_t last = node_file_read(b->owner_fd);

			r = last ? budget_pg_node_sweep(b->pg, last) : 0;
			if (r == 0)
				r = node_file_write(b->owner_fd, budget_pg_node_id(b->pg));
		} else if (r == -EAGAIN || r == -EACCES) {
			r = 0; /* another handle is open here: nothing of it is stale */
		}
		if (r == 0)
			r = lock_set(b->owner_fd, F_RDLCK, true);
	}
	if (r < 0)
		budget_err(err, err_len, "cannot release the reservations of this folder's last"
					 " server (%s/%s): %s", state_dir, NODE_FILE, strerror(-r));
	return r;
}

static void budgets_free(struct budgets *b)
{
	budget_pending_free(b);
	budget_pg_close(b->pg);
	if (b->db)
		sqlite3_close(b->db);
	if (b->owner_fd >= 0)
		close(b->owner_fd);
	free(b);
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
	r = db_state_dir_open(state_dir, &dir_fd, err, err_len);
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

int budget_open_url(const char *state_dir, const char *database_url, struct budgets **ret,
		    char *err, size_t err_len)
{
	struct budgets *b;
	int r;

	if (!database_url || !*database_url)
		return budget_open(state_dir, ret, err, err_len);
	if (!ret)
		return -EINVAL;
	if (!pg_url_is_postgres(database_url)) {
		budget_err(err, err_len, "the database URL must start with postgres:// or "
					 "postgresql://");
		return -EINVAL;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->owner_fd = -1;
	r = budget_pg_open(b, database_url, err, err_len);
	if (r == 0 && state_dir && *state_dir)
		r = pg_owner_start(b, state_dir, err, err_len);
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
	/* The renewer uses the connection under the lock: stopped first. */
	budget_lease_renewer_stop(b);
	pthread_mutex_destroy(&b->lock);
	/* The connection closes before the owner lock goes, so a later lone
	 * opener never sweeps while this handle could still write. */
	budgets_free(b);
}
