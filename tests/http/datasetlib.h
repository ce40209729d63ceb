/*
 * datasetlib: what the end-to-end dataset tests share on top of httplib:
 * sending a CSV, uploading one as a new dataset, and reading one number
 * from the server's own database (its SQLite file, or its PostgreSQL
 * database under LEDGERBOX_TEST_BACKEND=postgres).
 */
#ifndef LEDGERBOX_TEST_DATASETLIB_H
#define LEDGERBOX_TEST_DATASETLIB_H

#include <sqlite3.h>

#include "httplib.h"

static inline void dl_send_csv(struct server *s, const char *method, const char *path,
			       const char *key, const char *csv, struct reply *r)
{
	hl_call_timeout(s, method, path, key, csv, strlen(csv), "text/csv", 60000, r);
}

/* POST /api/datasets?name=NAME with csv; fails the test unless the answer
 * has `status`. */
static inline void dl_upload(struct server *s, const char *name, const char *key,
			     const char *csv, long status)
{
	char path[200];
	struct reply r;

	snprintf(path, sizeof(path), "/api/datasets?name=%s", name);
	dl_send_csv(s, "POST", path, key, csv, &r);
	if (r.status != status)
		fail_msg("upload %s: %ld %s", name, r.status, r.body);
	hl_reply_free(&r);
}

/* The first column of the one row `sql` gives in the server's database
 * (-1 when SQLite gives none). */
static inline long long dl_db_value(struct server *s, const char *sql)
{
	char path[600];
	sqlite3 *db;
	sqlite3_stmt *st;
	long long n = -1;

	if (s->db_env[0])
		return pgt_count(strchr(s->db_env, '=') + 1, sql);
	snprintf(path, sizeof(path), "%s/ledgerbox.db", s->state);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

#endif
