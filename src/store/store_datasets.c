/*
 * store_datasets: who owns each dataset, its version and the bytes it
 * takes, and the team quota those bytes count against (SQLite; the
 * PostgreSQL twin is store_pg_datasets.c).
 *
 * Invariants:
 * - A record's key is its name in ASCII lower case (PRIMARY KEY), so two
 *   names that differ only in case can never both be recorded; lookups by
 *   any spelling find the one record.
 * - A quota is checked inside the same write transaction that records the
 *   new bytes (BEGIN IMMEDIATE), so two uploads of one team cannot both
 *   pass the check with only room for one.
 * - Only team datasets count against a quota; the organisation's
 *   (team NULL) do not.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/store_internal.h"
#include "store/store_pg.h"
#include "util/banned.h"

int store_dataset_key(const char *name, char ret[STORE_DATASET_NAME_MAX])
{
	size_t len;

	if (!name)
		return -EINVAL;
	len = strlen(name);
	if (len == 0 || len >= STORE_DATASET_NAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i <= len; i++)
		ret[i] = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] - 'A' + 'a') : name[i];
	return 0;
}

static int row_fill(sqlite3_stmt *st, struct store_dataset *ret)
{
	const unsigned char *name = sqlite3_column_text(st, 0), *team = sqlite3_column_text(st, 1);

	if (!name)
		return -EIO;
	snprintf(ret->name, sizeof(ret->name), "%s", (const char *)name);
	snprintf(ret->team, sizeof(ret->team), "%s", team ? (const char *)team : "");
	ret->version = sqlite3_column_int64(st, 2);
	ret->bytes = sqlite3_column_int64(st, 3);
	return 0;
}

static int get_locked(struct store *s, const char *key, struct store_dataset *ret)
{
	sqlite3_stmt *st;
	int r = db_prepare(s->db,
			   "SELECT name, team, version, bytes FROM datasets WHERE name_key = ?", &st);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	r = db_step(st);
	if (r == 1)
		r = row_fill(st, ret);
	else if (r == 0)
		r = -ENOENT;
	sqlite3_finalize(st);
	return r;
}

int store_dataset_get(struct store *s, const char *name, struct store_dataset *ret)
{
	char key[STORE_DATASET_NAME_MAX];
	struct store_dataset d;
	int r;

	if (!s || !ret || store_dataset_key(name, key) < 0)
		return -EINVAL;
	if (s->pg)
		return store_pg_dataset_get(s, key, ret);
	store_lock(s);
	r = get_locked(s, key, &d);
	store_unlock(s);
	if (r == 0)
		*ret = d;
	return r;
}

/* The team's bytes, leaving out the dataset `except_key` (NULL: none). */
static int team_bytes_locked(struct store *s, const char *team, const char *except_key,
			     int64_t *ret)
{
	sqlite3_stmt *st;
	int r = db_prepare(s->db,
			   "SELECT coalesce(sum(bytes), 0) FROM datasets"
			   " WHERE team = ?1 AND name_key IS NOT ?2",
			   &st);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, team, -1, SQLITE_STATIC);
	if (except_key)
		sqlite3_bind_text(st, 2, except_key, -1, SQLITE_STATIC);
	r = db_step(st);
	if (r == 1) {
		*ret = sqlite3_column_int64(st, 0);
		r = 0;
	} else if (r == 0) {
		r = -EIO;
	}
	sqlite3_finalize(st);
	return r;
}

int store_quota_verdict(int64_t used_bytes, int64_t bytes, int64_t quota_bytes,
			struct store_quota *ret_quota)
{
	if (used_bytes + bytes <= quota_bytes)
		return 0;
	if (ret_quota)
		*ret_quota = (struct store_quota){ used_bytes, quota_bytes };
	return -EDQUOT;
}

static int quota_check_locked(struct store *s, const char *team, const char *except_key,
			      int64_t bytes, int64_t quota_bytes, struct store_quota *ret_quota)
{
	int64_t used = 0;
	int r;

	if (!team || !*team)
		return 0;
	r = team_bytes_locked(s, team, except_key, &used);
	return r < 0 ? r : store_quota_verdict(used, bytes, quota_bytes, ret_quota);
}

static int claim_tx(struct store *s, const char *key, const struct store_dataset *d,
		    int64_t quota_bytes, struct store_quota *ret_quota)
{
	struct store_dataset old;
	sqlite3_stmt *st;
	int r = get_locked(s, key, &old);

	if (r == 0)
		return -EEXIST;
	if (r != -ENOENT)
		return r;
	r = quota_check_locked(s, d->team, NULL, d->bytes, quota_bytes, ret_quota);
	if (r < 0)
		return r;
	r = db_prepare(s->db,
		       "INSERT INTO datasets (name_key, name, team, version, bytes, created_ms,"
		       " updated_ms) VALUES (?1, ?2, ?3, 1, ?4, ?5, ?5)",
		       &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, d->name, -1, SQLITE_STATIC);
	if (d->team[0])
		sqlite3_bind_text(st, 3, d->team, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, d->bytes);
	sqlite3_bind_int64(st, 5, clock_unix_ms());
	r = db_step(st);
	sqlite3_finalize(st);
	return r < 0 ? r : 0;
}

int store_dataset_claim(struct store *s, const struct store_dataset *d, int64_t quota_bytes,
			struct store_quota *ret_quota)
{
	char key[STORE_DATASET_NAME_MAX];
	int r;

	if (!s || !d || d->bytes < 0 || store_dataset_key(d->name, key) < 0 ||
	    (d->team[0] && !store_name_valid(d->team)))
		return -EINVAL;
	if (s->pg)
		return store_pg_dataset_claim(s, key, d, quota_bytes, ret_quota);
	store_lock(s);
	r = store_tx_begin(s);
	if (r == 0)
		r = db_tx_end(s->db, claim_tx(s, key, d, quota_bytes, ret_quota));
	store_unlock(s);
	return r;
}

static int revise_tx(struct store *s, const char *key, const char *name, int64_t bytes,
		     int64_t quota_bytes, struct store_quota *ret_quota, struct store_dataset *ret)
{
	struct store_dataset old = { .team = "" };
	sqlite3_stmt *st;
	int r = get_locked(s, key, &old);

	if (r < 0 && r != -ENOENT)
		return r;
	r = quota_check_locked(s, old.team, key, bytes, quota_bytes, ret_quota);
	if (r < 0)
		return r;
	/* A dataset without a record was version 1 of the organisation's. */
	r = db_prepare(s->db,
		       "INSERT INTO datasets (name_key, name, team, version, bytes, created_ms,"
		       " updated_ms) VALUES (?1, ?2, NULL, 2, ?3, ?4, ?4)"
		       " ON CONFLICT (name_key) DO UPDATE SET version = version + 1,"
		       " bytes = excluded.bytes, updated_ms = excluded.updated_ms",
		       &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, bytes);
	sqlite3_bind_int64(st, 4, clock_unix_ms());
	r = db_step(st);
	sqlite3_finalize(st);
	if (r < 0)
		return r;
	return get_locked(s, key, ret);
}

int store_dataset_revise(struct store *s, const char *name, int64_t bytes, int64_t quota_bytes,
			 struct store_quota *ret_quota, struct store_dataset *ret)
{
	char key[STORE_DATASET_NAME_MAX];
	struct store_dataset d;
	int r;

	if (!s || bytes < 0 || store_dataset_key(name, key) < 0)
		return -EINVAL;
	if (s->pg)
		r = store_pg_dataset_revise(s, key, name, bytes, quota_bytes, ret_quota, &d);
	else {
		store_lock(s);
		r = store_tx_begin(s);
		if (r == 0)
			r = db_tx_end(s->db, revise_tx(s, key, name, bytes, quota_bytes, ret_quota,
						       &d));
		store_unlock(s);
	}
	if (r == 0 && ret)
		*ret = d;
	return r;
}

/* One statement with the key as ?1 and, when given, the name as ?2. */
static int exec_keyed(struct store *s, const char *sql, const char *key, const char *name)
{
	sqlite3_stmt *st;
	int r;

	store_lock(s);
	r = db_prepare(s->db, sql, &st);
	if (r == 0) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		if (name)
			sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, clock_unix_ms());
		r = db_step(st);
		sqlite3_finalize(st);
	}
	store_unlock(s);
	return r < 0 ? r : 0;
}

int store_dataset_forget(struct store *s, const char *name)
{
	char key[STORE_DATASET_NAME_MAX];

	if (!s || store_dataset_key(name, key) < 0)
		return -EINVAL;
	if (s->pg)
		return store_pg_dataset_forget(s, key);
	return exec_keyed(s, "DELETE FROM datasets WHERE name_key = ?1", key,
			  NULL);
}

int store_dataset_publish(struct store *s, const char *name)
{
	char key[STORE_DATASET_NAME_MAX];

	if (!s || store_dataset_key(name, key) < 0)
		return -EINVAL;
	if (s->pg)
		return store_pg_dataset_publish(s, key, name);
	return exec_keyed(s,
			  "INSERT INTO datasets (name_key, name, team, version, bytes, created_ms,"
			  " updated_ms) VALUES (?1, ?2, NULL, 1, 0, ?3, ?3)"
			  " ON CONFLICT (name_key) DO UPDATE SET team = NULL,"
			  " updated_ms = excluded.updated_ms",
			  key, name);
}

int store_team_dataset_bytes(struct store *s, const char *team, int64_t *ret)
{
	int64_t bytes = 0;
	int r;

	if (!s || !ret || !store_name_valid(team))
		return -EINVAL;
	if (s->pg)
		return store_pg_team_dataset_bytes(s, team, ret);
	store_lock(s);
	r = team_bytes_locked(s, team, NULL, &bytes);
	store_unlock(s);
	if (r == 0)
		*ret = bytes;
	return r;
}
