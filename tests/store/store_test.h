/*
 * store_test: helpers shared by the store test programs: scratch state
 * directories, raw SQLite access for tampering, a principal and a run in
 * one call.
 */
#ifndef LEDGERBOX_STORE_TEST_H
#define LEDGERBOX_STORE_TEST_H

#include "testlib.h"

#include <sodium.h>
#include <sqlite3.h>

#include "store/store.h"
#include "store/store_internal.h"

/* A fresh, not yet existing state directory; malloc'd. */
static inline char *state_path(const char *name)
{
	static int counter;
	char *path;

	assert_true(asprintf(&path, "%s/store-%ld-%d-%s", tl_tmp(), (long)getpid(), ++counter,
			     name) > 0);
	return path;
}

static inline struct store *store_at(const char *dir)
{
	char err[512] = "";
	struct store *s = NULL;
	int r = store_open(dir, &s, err, sizeof(err));

	if (r < 0)
		fail_msg("store_open(%s): %d %s", dir, r, err);
	return s;
}

static inline void sql_raw(const char *dir, const char *sql)
{
	char *path, *msg = NULL;
	sqlite3 *db;

	assert_true(asprintf(&path, "%s/ledgerbox.db", dir) > 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
	free(path);
}

/* Runs sql and returns its SQLite result code (for statements that must fail). */
static inline int sql_raw_rc(const char *dir, const char *sql)
{
	char *path;
	sqlite3 *db;
	int rc;

	assert_true(asprintf(&path, "%s/ledgerbox.db", dir) > 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	free(path);
	return rc;
}

static inline void principal_of(struct store *s, const char *user, const char *team,
			 enum store_role role, struct principal *ret)
{
	char key[STORE_KEY_MAX];
	int64_t id;

	assert_int_equal(store_key_create(s, NULL, user, team, role, key, &id), 0);
	assert_int_equal(store_key_authenticate(s, key, ret), 0);
}

static inline void run_fill(struct run_record *run, const struct principal *p, int64_t created_ms)
{
	memset(run, 0, sizeof(*run));
	store_run_id_new(run->id);
	run->principal_id = p->id;
	run->language = "sql";
	run->dataset = "demo";
	run->status = "ok";
	run->code = "SELECT 1";
	run->created_ms = created_ms;
	run->duration_ms = 12;
}


static inline bool file_contains(const char *path, const void *needle, size_t len)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t n = 0;
	bool found;

	if (!f)
		return false;
	{
		char chunk[65536];
		size_t got;
		while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
			tl_append(&data, &n, chunk, got);
	}
	fclose(f);
	found = data && memmem(data, n, needle, len) != NULL;
	free(data);
	return found;
}

#endif
