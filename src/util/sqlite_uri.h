/*
 * sqlite_uri: how ledgerbox names a dataset's SQLite file to SQLite, so
 * that every reader (the SQL runner in the sandbox, the schema for prompts,
 * SQL validation, dataset listings, template notices) reads exactly the
 * file's committed state, and never changes a byte of the dataset folder.
 *
 * Three states of the files beside PATH decide the URI:
 * - no "PATH-wal", or an empty one: every commit is in PATH itself, which is
 *   opened read-only and immutable (SQLite neither locks it nor looks for
 *   -wal/-shm files);
 * - a non-empty "PATH-wal": commits not yet copied back (checkpointed) are
 *   in it; PATH is opened read-only through the sqlite_private_shm VFS,
 *   which rebuilds the WAL-index in private memory, so no -shm file is read,
 *   needed or created;
 * - a hot "PATH-journal" (non-empty, header not zeroed): a write in
 *   rollback-journal mode is running or died half-way, so PATH may be
 *   torn; reading is refused (-EBUSY) rather than answered from it.
 */
#ifndef LEDGERBOX_SQLITE_URI_H
#define LEDGERBOX_SQLITE_URI_H

#include <stddef.h>

#include <sqlite3.h>

/* The VFS name that sqlite_private_shm_register() adds. */
#define SQLITE_PRIVATE_SHM_VFS "ledgerbox-private-shm"

/* What to tell the analyst after -EBUSY, after "<file>: ". */
#define SQLITE_HOT_JOURNAL_TEXT                                                               \
	"a write to this SQLite file is running or stopped half-way (its -journal file is "  \
	"hot), so the file may be half-written; let the writing application finish, or open " \
	"the file once read-write with sqlite3 (which rolls the unfinished write back), then " \
	"run again"

/* Registers the VFS once per process (thread-safe; not the default VFS).
 * 0, or -ENOMEM when SQLite could not be initialised. */
int sqlite_private_shm_register(void);

/* *ret_uri = "file:PATH?mode=ro&immutable=1" or, when a non-empty PATH-wal
 * exists, "file:PATH?mode=ro&vfs=ledgerbox-private-shm" (the VFS is then
 * registered). Every byte of PATH but letters, digits and "-._~/" is
 * escaped as %XX, so any file name survives; an absolute path gets an empty
 * authority ("file://" + "/x") so that a path starting with "//" is never
 * read as a host name. Open it with SQLITE_OPEN_READONLY | SQLITE_OPEN_URI.
 * 0 and a malloc'd *ret_uri; -EBUSY for a hot PATH-journal (see
 * SQLITE_HOT_JOURNAL_TEXT); -ENOMEM. */
int sqlite_ro_uri(const char *path, char **ret_uri);

/* Opens PATH with sqlite_ro_uri() (SQLITE_OPEN_READONLY | SQLITE_OPEN_URI |
 * SQLITE_OPEN_NOMUTEX). 0 and *ret_db (close with sqlite3_close()), or
 * -EBUSY (hot journal), -ENOMEM, -EIO, with err saying why. Opening is lazy:
 * a file that is not a database fails at its first statement. */
int sqlite_ro_open(const char *path, sqlite3 **ret_db, char *err, size_t err_len);

#endif
