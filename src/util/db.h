/*
 * db: the SQLite plumbing shared by the parts that keep state (store,
 * budget): result codes as negative errno values, and statement helpers.
 */
#ifndef LEDGERBOX_DB_H
#define LEDGERBOX_DB_H

#include <sqlite3.h>

/* 0 for OK/ROW/DONE; -EBUSY, -EEXIST (constraint), -ENOMEM, -ENOSPC,
 * -EROFS, -EACCES, else -EIO. */
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

#endif
