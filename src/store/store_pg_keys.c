/*
 * store_pg_keys: principals and API keys in PostgreSQL. store_keys.c
 * checks the arguments, makes and hashes keys; this keeps the rows.
 *
 * Nodes may create the same principal at once: the insert is ON CONFLICT
 * DO NOTHING followed by a read (read committed sees the winner's row), so
 * the loser finds the principal instead of failing, and team and role are
 * compared as in SQLite (-EEXIST when they differ). The first key also
 * records the pepper's fingerprint (store_pg_pepper.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/store_pg.h"
#include "util/banned.h"

static int principal_ensure(struct store *s, const char *user, const char *team,
			    enum store_role role, int64_t *ret_id, bool *ret_created)
{
	char now[PG_INT_TEXT];
	const char *params[4] = { user, team, store_role_name(role),
				  pg_i64_text(clock_unix_ms(), now) };
	PGresult *res;
	int r = store_pg_query(s,
			 "INSERT INTO principals (user_name, team, role, created_ms)"
			 " VALUES ($1, $2, $3, $4) ON CONFLICT (user_name) DO NOTHING RETURNING id",
			 4, params, &res, NULL, 0);

	if (r < 0)
		return r;
	*ret_created = PQntuples(res) == 1;
	if (*ret_created) {
		r = pg_get_i64(res, 0, 0, ret_id) < 0 ? -EIO : 0;
		PQclear(res);
		return r;
	}
	PQclear(res);
	r = store_pg_query(s, "SELECT id, team, role FROM principals WHERE user_name = $1", 1, params,
		     &res, NULL, 0);
	if (r < 0)
		return r;
	if (PQntuples(res) != 1 || pg_get_i64(res, 0, 0, ret_id) < 0)
		r = -EIO;
	else if (strcmp(PQgetvalue(res, 0, 1), team) != 0 ||
		 strcmp(PQgetvalue(res, 0, 2), store_role_name(role)) != 0)
		r = -EEXIST;
	PQclear(res);
	return r;
}

static int key_row_insert(struct store *s, int64_t principal_id,
			  const unsigned char hash[STORE_KEY_HASH_BYTES], int64_t *ret_id)
{
	char id[PG_INT_TEXT], now[PG_INT_TEXT], hex[STORE_PG_HASH_PARAM];
	const char *params[3] = { pg_i64_text(principal_id, id), hex,
				  pg_i64_text(clock_unix_ms(), now) };
	PGresult *res;
	int r;

	store_pg_hash_param(hash, hex);
	r = store_pg_query(s,
		     "INSERT INTO api_keys (principal_id, key_hash, created_ms)"
		     " VALUES ($1, $2::bytea, $3) RETURNING id",
		     3, params, &res, NULL, 0);
	if (r < 0)
		return r;
	r = PQntuples(res) == 1 && pg_get_i64(res, 0, 0, ret_id) == 0 ? 0 : -EIO;
	PQclear(res);
	return r;
}

static int key_create_tx(struct store *s, const char *actor, const char *user, const char *team,
			 enum store_role role, const unsigned char hash[STORE_KEY_HASH_BYTES],
			 int64_t *ret_key_id)
{
	char subject[32];
	int64_t principal_id = 0, key_id = 0;
	bool created = false;
	json_t *detail;
	int r = store_pg_pepper_claim_tx(s);

	if (r == 0)
		r = principal_ensure(s, user, team, role, &principal_id, &created);
	if (r == 0)
		r = key_row_insert(s, principal_id, hash, &key_id);
	if (r < 0)
		return r;
	snprintf(subject, sizeof(subject), "key:%lld", (long long)key_id);
	detail = store_key_audit_detail(user, team, role, created);
	if (!detail)
		return -ENOMEM;
	r = store_pg_audit_append_tx(s, actor ? actor : "cli", "key.create", subject, detail);
	json_decref(detail);
	if (r == 0)
		*ret_key_id = key_id;
	return r;
}

int store_pg_key_create(struct store *s, const char *actor, const char *user, const char *team,
			enum store_role role, const unsigned char hash[STORE_KEY_HASH_BYTES],
			int64_t *ret_key_id)
{
	int64_t key_id = 0;
	int r = store_pg_lock(s);

	if (r < 0)
		return r;
	r = store_pg_tx_begin(s);
	if (r == 0)
		r = pg_tx_end(s->pg, key_create_tx(s, actor, user, team, role, hash, &key_id));
	store_audit_anchor_settle(s, r);
	store_unlock(s);
	if (r == 0)
		*ret_key_id = key_id;
	return r;
}

static int principal_fill(const PGresult *res, struct principal *p)
{
	const char *user = PQgetvalue(res, 0, 2), *team = PQgetvalue(res, 0, 3);

	if (pg_get_i64(res, 0, 1, &p->id) < 0 || !store_name_valid(user) ||
	    !store_name_valid(team) || store_role_parse(PQgetvalue(res, 0, 4), &p->role) < 0)
		return -EIO;
	snprintf(p->user, sizeof(p->user), "%s", user);
	snprintf(p->team, sizeof(p->team), "%s", team);
	return 0;
}

int store_pg_key_find(struct store *s, const unsigned char hash[STORE_KEY_HASH_BYTES],
		      struct principal *ret)
{
	char hex[STORE_PG_HASH_PARAM];
	const char *params[1] = { hex };
	struct principal p = { 0 };
	PGresult *res;
	int r;

	store_pg_hash_param(hash, hex);
	r = store_pg_lock(s);
	if (r < 0)
		return r;
	/* A hash made with another pepper than the keys' means nothing: the
	 * node serves no key until the peppers agree again. */
	if (s->pepper_mismatch) {
		store_unlock(s);
		return -EKEYREJECTED;
	}
	r = store_pg_query(s,
		     "SELECT encode(k.key_hash, 'hex'), p.id, p.user_name, p.team, p.role, k.id"
		     " FROM api_keys k"
		     " JOIN principals p ON p.id = k.principal_id"
		     " WHERE k.key_hash = $1::bytea AND k.revoked_ms IS NULL",
		     1, params, &res, NULL, 0);
	/* The query may have reconnected, and found the peppers apart. */
	if (r == 0 && s->pepper_mismatch) {
		PQclear(res);
		r = -EKEYREJECTED;
	}
	store_unlock(s);
	if (r < 0)
		return r;
	/* Compared once more, in constant time, as the SQLite lookup does;
	 * encode() keeps the text independent of the bytea_output setting. */
	if (PQntuples(res) != 1 || PQgetlength(res, 0, 0) != STORE_PG_HASH_PARAM - 3 ||
	    sodium_memcmp(PQgetvalue(res, 0, 0), hex + 2, STORE_PG_HASH_PARAM - 3) != 0)
		r = -ENOENT;
	else
		r = principal_fill(res, &p);
	if (r == 0 && pg_get_i64(res, 0, 5, &p.key_id) < 0)
		r = -EIO;
	PQclear(res);
	if (r == 0)
		*ret = p;
	return r;
}

static int key_revoke_tx(struct store *s, const char *actor, int64_t key_id)
{
	char subject[32], now[PG_INT_TEXT], id[PG_INT_TEXT];
	const char *params[2] = { pg_i64_text(clock_unix_ms(), now), pg_i64_text(key_id, id) };
	PGresult *res;
	json_t *detail = NULL;
	int r = store_pg_query(s,
			 "UPDATE api_keys k SET revoked_ms = $1 FROM principals p"
			 " WHERE k.id = $2 AND k.revoked_ms IS NULL AND p.id = k.principal_id"
			 " RETURNING p.user_name",
			 2, params, &res, NULL, 0);

	if (r < 0)
		return r;
	if (PQntuples(res) == 1) {
		detail = json_pack("{s:s}", "user", PQgetvalue(res, 0, 0));
		r = detail ? 0 : -ENOMEM;
	} else {
		r = -ENOENT;
	}
	PQclear(res);
	if (r < 0)
		return r;
	snprintf(subject, sizeof(subject), "key:%lld", (long long)key_id);
	r = store_pg_audit_append_tx(s, actor ? actor : "cli", "key.revoke", subject, detail);
	json_decref(detail);
	return r;
}

int store_pg_key_revoke(struct store *s, const char *actor, int64_t key_id)
{
	int r = store_pg_lock(s);

	if (r < 0)
		return r;
	r = store_pg_tx_begin(s);
	if (r == 0)
		r = pg_tx_end(s->pg, key_revoke_tx(s, actor, key_id));
	store_audit_anchor_settle(s, r);
	store_unlock(s);
	return r;
}

static json_t *key_list_row(const PGresult *res, int row)
{
	char created[CLOCK_TEXT_MAX];
	int64_t id, created_ms;

	if (pg_get_i64(res, row, 0, &id) < 0 || pg_get_i64(res, row, 4, &created_ms) < 0)
		return NULL;
	clock_format(created_ms, created);
	return json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)id, "user",
			 PQgetvalue(res, row, 1), "team", PQgetvalue(res, row, 2), "role",
			 PQgetvalue(res, row, 3), "created_at", created);
}

int store_pg_keys_list(struct store *s, json_t **ret)
{
	PGresult *res;
	json_t *array;
	int r = store_pg_lock(s);

	if (r < 0)
		return r;
	r = store_pg_query(s,
		     "SELECT k.id, p.user_name, p.team, p.role, k.created_ms FROM api_keys k"
		     " JOIN principals p ON p.id = k.principal_id"
		     " WHERE k.revoked_ms IS NULL ORDER BY k.id",
		     0, NULL, &res, NULL, 0);
	store_unlock(s);
	if (r < 0)
		return r;
	array = json_array();
	for (int i = 0; array && i < PQntuples(res); i++) {
		json_t *row = key_list_row(res, i);
		if (!row || json_array_append_new(array, row) < 0) {
			json_decref(array);
			array = NULL;
		}
	}
	PQclear(res);
	if (!array)
		return -ENOMEM;
	*ret = array;
	return 0;
}

int store_pg_admin_key_count(struct store *s, int64_t *ret)
{
	PGresult *res;
	int64_t count;
	int r = store_pg_lock(s);

	if (r < 0)
		return r;
	r = store_pg_query(s,
		     "SELECT count(*) FROM api_keys k JOIN principals p ON p.id = k.principal_id"
		     " WHERE p.role = 'admin' AND k.revoked_ms IS NULL",
		     0, NULL, &res, NULL, 0);
	store_unlock(s);
	if (r < 0)
		return r;
	r = PQntuples(res) == 1 && pg_get_i64(res, 0, 0, &count) == 0 ? 0 : -EIO;
	PQclear(res);
	if (r == 0)
		*ret = count;
	return r;
}
