/*
 * sqlite_sides: SQLite dataset files with state beside them, built with the
 * SQLite C API as an application leaves them:
 * - sides_make_wal(): a WAL-mode file whose table t(x) holds 1 in the file
 *   itself and 2 and 3 only in its -wal (committed, never checkpointed),
 *   and a table late(y) = 'w' that only the -wal knows of, with no -shm:
 *   a copy taken while the writer still had it open;
 * - sides_make_hot_journal(): a rollback-journal file t(x) = 1, 2, 3 whose
 *   writer died inside a transaction, leaving its -journal hot.
 * The true answer to "SELECT count(*), sum(x) FROM t" is (3, 6) for the
 * first; the second may not be read at all.
 */
#ifndef LEDGERBOX_TEST_SQLITE_SIDES_H
#define LEDGERBOX_TEST_SQLITE_SIDES_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "testlib.h"

static inline void sides_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err ? err : "?");
}

static inline off_t sides_size(const char *path, const char *suffix)
{
	char side[4096];
	struct stat st;

	snprintf(side, sizeof(side), "%s%s", path, suffix);
	return stat(side, &st) == 0 ? st.st_size : -1;
}

static inline void sides_unlink(const char *path, const char *suffix)
{
	char side[4096];

	snprintf(side, sizeof(side), "%s%s", path, suffix);
	unlink(side);
}

static inline void sides_make_wal(const char *path)
{
	int on = 1;
	sqlite3 *db;

	unlink(path);
	sides_unlink(path, "-wal");
	sides_unlink(path, "-shm");
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sides_exec(db, "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;"
		       "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);"
		       "PRAGMA wal_checkpoint(TRUNCATE);"
		       "INSERT INTO t VALUES (2); INSERT INTO t VALUES (3);"
		       "CREATE TABLE late (y TEXT); INSERT INTO late VALUES ('w');");
	/* Closing would checkpoint and delete the -wal: keep both as they are
	 * while the writer is still running. */
	assert_int_equal(sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &on),
			 SQLITE_OK);
	assert_int_equal(sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	sides_unlink(path, "-shm");
	assert_true(sides_size(path, "-wal") > 0);
	assert_int_equal(sides_size(path, "-shm"), -1);
}

static inline void sides_make_hot_journal(const char *path)
{
	sqlite3 *db;
	pid_t pid;
	int status;

	unlink(path);
	sides_unlink(path, "-journal");
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sides_exec(db, "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3);");
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* A writer that dies half-way: its journal holds the old pages and
		 * a tiny cache has already written new ones into the file. */
		if (sqlite3_open(path, &db) != SQLITE_OK ||
		    sqlite3_exec(db,
				 "PRAGMA cache_size = 1; BEGIN;"
				 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
				 " WHERE i < 2000) INSERT INTO t SELECT i FROM n;"
				 "UPDATE t SET x = x + 1000;",
				 NULL, NULL, NULL) != SQLITE_OK)
			_exit(1);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(sides_size(path, "-journal") > 0);
}

#endif
