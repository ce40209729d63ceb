/*
 * db: the SQLite plumbing shared by the parts that keep state (store,
 * budget, cache): result codes as negative errno values, statement
 * helpers, opening STATE_DIR/ledgerbox.db and migrating a part's tables.
 *
 * The parts open the same file each through their own connection. Never
 * open() and close() the database file while connections are open: closing
 * any descriptor of a file drops every POSIX lock this process holds on it,
 * SQLite's included (db_file_precreate() only opens a missing file).
 */
#ifndef LEDGERBOX_DB_H
#define LEDGERBOX_DB_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

/* The state database, in the state directory. */
#define DB_STATE_FILE "ledgerbox.db"

/* 0 for OK/ROW/DONE; -EBUSY, -EEXIST (constraint), -ENOMEM, -ENOSPC,
 * -EROFS, -EACCES, else -EIO. db_exec(), db_prepare() and db_step() also
 * give -ENOSPC and -EROFS for an I/O error the system reported as a full
 * disk or a read-only file system. */
int db_errno(int rc);
int db_exec(sqlite3 *db, const char *sql);
/* Prepares one statement; *ret only on success. */
int db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret);
/* 1 for a row, 0 when done, or -errno. */
int db_step(sqlite3_stmt *st);

/* Commits when r == 0, else rolls back; returns r or the commit's error. */
int db_tx_end(sqlite3 *db, int r);
/* Runs a pragma that answers one text value and checks it (case-blind):
 * 0, -ENOTSUP when the value differs, or -errno. */
int db_pragma_expect(sqlite3 *db, const char *sql, const char *want);

/* Formats into err (nothing when err is NULL or err_len 0). */
void db_err(char *err, size_t err_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Creates state_dir 0700 if missing and opens it O_DIRECTORY; *ret_fd (the
 * caller closes it) only on success. */
int db_state_dir_open(const char *state_dir, int *ret_fd, char *err, size_t err_len);
/* Creates dir_fd/file 0600 only if it does not exist, so SQLite never
 * creates it (and gives its WAL the same mode) with the umask's wider one. */
int db_file_precreate(int dir_fd, const char *file);

/* How a connection is set up; synchronous is "FULL" or "NORMAL" (a per
 * connection setting: NORMAL in WAL mode can only lose the last commits to
 * a power loss, never corrupt the file). */
struct db_settings {
	int busy_timeout_ms;
	const char *synchronous;
	bool foreign_keys;
	/* Refuses the pragmas that could corrupt the schema. */
	bool defensive;
};

/* Opens path read-write (created if missing, links not followed, serialised
 * threading) with extended result codes, the settings and WAL mode; the
 * -wal and -shm files persist after the last close (SQLITE_FCNTL_PERSIST_WAL),
 * so opening again needs no new disk space. *ret
 * only on success; the caller closes it with sqlite3_close(). */
int db_open_wal(const char *path, const struct db_settings *s, sqlite3 **ret, char *err,
		size_t err_len);
/* db_open_wal() of state_dir/DB_STATE_FILE, precreating it first; dir_fd is
 * state_dir opened. */
int db_state_open(const char *state_dir, int dir_fd, const struct db_settings *s,
		  sqlite3 **ret, char *err, size_t err_len);

/* A part's tables in the shared database: their version lives in the
 * one-row table <part>_schema (PRAGMA user_version belongs to the store).
 * migrations[i] takes the tables from version i to i + 1; append, never edit
 * a released one. */
struct db_schema {
	const char *part;  /* "cache": the table cache_schema and the messages */
	const char *what;  /* "the cache": "cannot lock the database to set up ..." */
	const char *const *migrations;
	int latest;        /* how many migrations there are */
};

/* Creates or upgrades the part's tables in one IMMEDIATE transaction that
 * reads the version under the write lock, so two processes opening a new
 * database at once apply each migration exactly once and a crash leaves
 * the tables at some whole version. A version above latest is
 * -EPROTONOSUPPORT. */
int db_migrate(sqlite3 *db, const struct db_schema *sc, char *err, size_t err_len);

#endif
