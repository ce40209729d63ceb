/* db: see db.h. */
#include "util/db.h"

#include <errno.h>
#include <stddef.h>
#include <strings.h>

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

int db_exec(sqlite3 *db, const char *sql)
{
	return db_errno(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

int db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK) {
		sqlite3_finalize(st);
		return db_errno(rc);
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
	rc = db_errno(rc);
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
