/*
 * store_keys: principals (who may call the API) and their API keys.
 *
 * A key is "lbx_" followed by the 32 random bytes in URL-safe base64
 * without padding (43 characters). It is shown once, at creation, and never
 * stored: the database holds BLAKE2b-256(raw bytes, key = pepper), where the
 * pepper is the secret in STATE_DIR/key-pepper (store_pepper.c). Lookup is
 * by that hash through its unique index; the index walk is not constant
 * time, but it compares keyed hashes an attacker cannot compute, so its
 * timing says nothing about the key. The full hash is then compared once
 * more with sodium_memcmp before the key is accepted.
 *
 * Every malformed key (wrong prefix, length or alphabet, non-canonical
 * base64) is -ENOENT, exactly like a wrong or revoked one, so callers
 * cannot tell the cases apart and never need to.
 *
 * A principal is created with its first key; later keys for the same user
 * must name the same team and role (-EEXIST otherwise), so a typo on the
 * command line cannot silently move someone to another team or make them
 * an admin.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/store_internal.h"
#include "store/store_pg.h"
#include "util/banned.h"

#define KEY_PREFIX "lbx_"
#define KEY_PREFIX_LEN 4
#define KEY_RAW_BYTES 32
#define KEY_B64_LEN 43 /* ceil(32 * 4 / 3), no padding */
#define KEY_VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING

static void key_hash(const struct store *s, const unsigned char raw[KEY_RAW_BYTES],
		     unsigned char ret[STORE_KEY_HASH_BYTES])
{
	crypto_generichash(ret, STORE_KEY_HASH_BYTES, raw, KEY_RAW_BYTES, s->pepper,
			   sizeof(s->pepper));
}

static bool b64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* The raw bytes of a well-formed key, or -ENOENT. */
static int key_decode(const char *key, unsigned char raw[KEY_RAW_BYTES])
{
	size_t len = key ? strnlen(key, STORE_KEY_MAX) : 0, raw_len = 0;

	if (len != KEY_PREFIX_LEN + KEY_B64_LEN || memcmp(key, KEY_PREFIX, KEY_PREFIX_LEN) != 0)
		return -ENOENT;
	for (size_t i = KEY_PREFIX_LEN; i < len; i++)
		if (!b64url_char(key[i]))
			return -ENOENT;
	/* libsodium refuses non-zero leftover bits, so each key has exactly
	 * one spelling. */
	if (sodium_base642bin(raw, KEY_RAW_BYTES, key + KEY_PREFIX_LEN, KEY_B64_LEN, NULL, &raw_len,
			      NULL, KEY_VARIANT) != 0 ||
	    raw_len != KEY_RAW_BYTES)
		return -ENOENT;
	return 0;
}

/* The principal for user: the existing one (team and role must match) or
 * a new one. */
static int principal_ensure(struct store *s, const char *user, const char *team,
			    enum store_role role, int64_t *ret_id, bool *ret_created)
{
	sqlite3_stmt *st;
	int r = db_prepare(s->db, "SELECT id, team, role FROM principals WHERE user = ?1", &st);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	r = db_step(st);
	if (r == 1) {
		const char *t = (const char *)sqlite3_column_text(st, 1);
		const char *ro = (const char *)sqlite3_column_text(st, 2);
		r = t && ro && strcmp(t, team) == 0 && strcmp(ro, store_role_name(role)) == 0 ? 0
											       : -EEXIST;
		*ret_id = sqlite3_column_int64(st, 0);
		*ret_created = false;
		sqlite3_finalize(st);
		return r;
	}
	sqlite3_finalize(st);
	if (r < 0)
		return r;
	r = db_prepare(s->db,
			      "INSERT INTO principals (user, team, role, created_ms) VALUES (?1, ?2, ?3, ?4)",
			      &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, team, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, store_role_name(role), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, clock_unix_ms());
	r = db_step(st);
	sqlite3_finalize(st);
	if (r < 0)
		return r;
	*ret_id = sqlite3_last_insert_rowid(s->db);
	*ret_created = true;
	return 0;
}

static int key_row_insert(struct store *s, int64_t principal_id,
			  const unsigned char hash[STORE_KEY_HASH_BYTES], int64_t *ret_id)
{
	sqlite3_stmt *st;
	int r = db_prepare(s->db,
				  "INSERT INTO api_keys (principal_id, key_hash, created_ms)"
				  " VALUES (?1, ?2, ?3)",
				  &st);

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, principal_id);
	sqlite3_bind_blob(st, 2, hash, STORE_KEY_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, clock_unix_ms());
	r = db_step(st);
	sqlite3_finalize(st);
	if (r < 0)
		return r;
	*ret_id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

static int key_create_tx(struct store *s, const char *actor, const char *user, const char *team,
			 enum store_role role, const unsigned char hash[STORE_KEY_HASH_BYTES],
			 int64_t *ret_key_id)
{
	char subject[32];
	int64_t principal_id, key_id;
	bool created;
	json_t *detail;
	int r = principal_ensure(s, user, team, role, &principal_id, &created);

	if (r == 0)
		r = key_row_insert(s, principal_id, hash, &key_id);
	if (r < 0)
		return r;
	snprintf(subject, sizeof(subject), "key:%lld", (long long)key_id);
	detail = store_key_audit_detail(user, team, role, created);
	if (!detail)
		return -ENOMEM;
	r = store_audit_append_tx(s, actor ? actor : "cli", "key.create", subject, detail);
	json_decref(detail);
	if (r == 0)
		*ret_key_id = key_id;
	return r;
}

int store_key_create(struct store *s, const char *actor, const char *user, const char *team,
		     enum store_role role, char *ret_key, int64_t *ret_key_id)
{
	unsigned char raw[KEY_RAW_BYTES], hash[STORE_KEY_HASH_BYTES];
	char b64[KEY_B64_LEN + 1];
	int64_t key_id = 0;
	int r;

	if (!s || !store_name_valid(user) || !store_name_valid(team) || !ret_key || !ret_key_id ||
	    (role != ROLE_ANALYST && role != ROLE_ADMIN))
		return -EINVAL;
	randombytes_buf(raw, sizeof(raw));
	key_hash(s, raw, hash);
	if (s->pg) {
		r = store_pg_key_create(s, actor, user, team, role, hash, &key_id);
	} else {
		store_lock(s);
		r = store_tx_begin(s);
		if (r == 0)
			r = db_tx_end(s->db, key_create_tx(s, actor, user, team, role, hash, &key_id));
		store_audit_anchor_settle(s, r);
		store_unlock(s);
	}
	if (r == 0) {
		sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw), KEY_VARIANT);
		snprintf(ret_key, STORE_KEY_MAX, "%s%s", KEY_PREFIX, b64);
		*ret_key_id = key_id;
	}
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(b64, sizeof(b64));
	return r;
}

static int principal_fill(sqlite3_stmt *st, int first, struct principal *p)
{
	const char *user = (const char *)sqlite3_column_text(st, first + 1);
	const char *team = (const char *)sqlite3_column_text(st, first + 2);
	const char *role = (const char *)sqlite3_column_text(st, first + 3);

	if (!store_name_valid(user) || !store_name_valid(team) ||
	    store_role_parse(role, &p->role) < 0)
		return -EIO;
	p->id = sqlite3_column_int64(st, first);
	snprintf(p->user, sizeof(p->user), "%s", user);
	snprintf(p->team, sizeof(p->team), "%s", team);
	return 0;
}

int store_key_authenticate(struct store *s, const char *key, struct principal *ret)
{
	unsigned char raw[KEY_RAW_BYTES], hash[STORE_KEY_HASH_BYTES];
	struct principal p = { 0 };
	sqlite3_stmt *st;
	int r;

	if (!s || !ret)
		return -EINVAL;
	if (key_decode(key, raw) < 0)
		return -ENOENT;
	key_hash(s, raw, hash);
	sodium_memzero(raw, sizeof(raw));
	if (s->pg)
		return store_pg_key_find(s, hash, ret);
	store_lock(s);
	r = db_prepare(s->db,
			      "SELECT k.key_hash, p.id, p.user, p.team, p.role, k.id FROM api_keys k"
			      " JOIN principals p ON p.id = k.principal_id"
			      " WHERE k.key_hash = ?1 AND k.revoked_ms IS NULL",
			      &st);
	if (r == 0) {
		sqlite3_bind_blob(st, 1, hash, sizeof(hash), SQLITE_STATIC);
		r = db_step(st);
		if (r == 1) {
			const void *stored = sqlite3_column_blob(st, 0);
			bool same = stored && sqlite3_column_bytes(st, 0) == STORE_KEY_HASH_BYTES &&
				    sodium_memcmp(stored, hash, sizeof(hash)) == 0;
			r = same ? principal_fill(st, 1, &p) : -ENOENT;
			p.key_id = sqlite3_column_int64(st, 5);
		} else if (r == 0) {
			r = -ENOENT;
		}
		sqlite3_finalize(st);
	}
	store_unlock(s);
	if (r == 0)
		*ret = p;
	return r;
}

static int key_revoke_tx(struct store *s, const char *actor, int64_t key_id)
{
	char subject[32];
	sqlite3_stmt *st;
	json_t *detail;
	int r = db_prepare(s->db,
				  "UPDATE api_keys SET revoked_ms = ?1 WHERE id = ?2 AND revoked_ms IS NULL"
				  " RETURNING (SELECT user FROM principals WHERE id = principal_id)",
				  &st);

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, clock_unix_ms());
	sqlite3_bind_int64(st, 2, key_id);
	r = db_step(st);
	detail = r == 1 ? json_pack("{s:s?}", "user", (const char *)sqlite3_column_text(st, 0))
			: NULL;
	if (r == 1 && !detail)
		r = -ENOMEM;
	sqlite3_finalize(st);
	if (r <= 0)
		return r == 0 ? -ENOENT : r;
	snprintf(subject, sizeof(subject), "key:%lld", (long long)key_id);
	r = store_audit_append_tx(s, actor ? actor : "cli", "key.revoke", subject, detail);
	json_decref(detail);
	return r;
}

int store_key_revoke(struct store *s, const char *actor, int64_t key_id)
{
	int r;

	if (!s || key_id <= 0)
		return -EINVAL;
	if (s->pg)
		return store_pg_key_revoke(s, actor, key_id);
	store_lock(s);
	r = store_tx_begin(s);
	if (r == 0)
		r = db_tx_end(s->db, key_revoke_tx(s, actor, key_id));
	store_audit_anchor_settle(s, r);
	store_unlock(s);
	return r;
}

static json_t *key_list_row(sqlite3_stmt *st)
{
	char created[CLOCK_TEXT_MAX];

	clock_format(sqlite3_column_int64(st, 4), created);
	return json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)sqlite3_column_int64(st, 0),
			 "user", sqlite3_column_text(st, 1), "team", sqlite3_column_text(st, 2),
			 "role", sqlite3_column_text(st, 3), "created_at", created);
}

int store_keys_list(struct store *s, json_t **ret)
{
	sqlite3_stmt *st = NULL;
	json_t *array;
	int r;

	if (!s || !ret)
		return -EINVAL;
	if (s->pg)
		return store_pg_keys_list(s, ret);
	array = json_array();
	if (!array)
		return -ENOMEM;
	store_lock(s);
	r = db_prepare(s->db,
			      "SELECT k.id, p.user, p.team, p.role, k.created_ms FROM api_keys k"
			      " JOIN principals p ON p.id = k.principal_id"
			      " WHERE k.revoked_ms IS NULL ORDER BY k.id",
			      &st);
	while (r == 0 && (r = db_step(st)) == 1) {
		json_t *row = key_list_row(st);
		r = row && json_array_append_new(array, row) == 0 ? 0 : -ENOMEM;
	}
	sqlite3_finalize(st);
	store_unlock(s);
	if (r < 0) {
		json_decref(array);
		return r;
	}
	*ret = array;
	return 0;
}

int store_admin_key_count(struct store *s, int64_t *ret)
{
	sqlite3_stmt *st;
	int r;

	if (!s || !ret)
		return -EINVAL;
	if (s->pg)
		return store_pg_admin_key_count(s, ret);
	store_lock(s);
	r = db_prepare(s->db,
			      "SELECT count(*) FROM api_keys k JOIN principals p ON p.id = k.principal_id"
			      " WHERE p.role = 'admin' AND k.revoked_ms IS NULL",
			      &st);
	if (r == 0) {
		r = db_step(st);
		if (r == 1)
			*ret = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	store_unlock(s);
	return r == 1 ? 0 : r < 0 ? r : -EIO;
}
