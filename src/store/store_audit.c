/*
 * store_audit: the append-only, hash-chained audit log.
 *
 * Canonical text of an entry, the exact bytes that are hashed:
 *
 *     <id>|<at_ms>|<actor>|<action>|<subject>|<detail>|<prev_hash>
 *
 * id and at_ms in base 10 (printf "%lld": no '+', no leading zeros); actor, action and
 * subject as stored (UTF-8, 0..256 bytes, never containing '|' or a control
 * character: append refuses such values and verify treats a stored one as
 * tampering, which keeps the split into fields unambiguous); detail as
 * stored, compact JSON with sorted keys, "{}" when there is none (it may
 * contain '|', but it is the only such field and prev_hash after it has a
 * fixed length); prev_hash as 64 lowercase hex digits. No trailing newline.
 * hash = lowercase hex SHA-256 of that text. The first entry has id 1 and
 * prev_hash of 64 zeros; entry N+1 has id N+1 and prev_hash = hash of N.
 *
 * audit_head (one row) holds the entry count and the newest hash, updated
 * in the same transaction as each append, so a deleted tail is noticed too.
 *
 * What verification catches: an edited field (the hash no longer matches),
 * an edited and rehashed entry (the next entry's prev_hash no longer
 * matches), a deleted entry anywhere (a gap in ids or a broken link), a
 * deleted tail (fewer entries than the head records). What it cannot
 * catch: someone with write access to the file who rewrites an entry and
 * every later one and audit_head consistently, or who deletes a tail and
 * rewinds audit_head to match; the chain is unkeyed, so anyone can compute
 * it. Copying the head hash somewhere else from time to time (a ticket,
 * an email) is what turns that into a detectable change.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "util/banned.h"

static const char zero_hash[STORE_HASH_HEX_LEN + 1] =
	"0000000000000000000000000000000000000000000000000000000000000000";

struct audit_entry {
	int64_t id;
	int64_t at_ms;
	const char *actor, *action, *subject, *detail, *prev_hash;
};

static bool audit_field_ok(const char *text, bool required)
{
	size_t len;

	if (!text)
		return false;
	len = strlen(text);
	if ((required && len == 0) || len > STORE_AUDIT_FIELD_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c < 0x20 || c == 0x7f || c == '|')
			return false;
	}
	return true;
}

static void hash_part(crypto_hash_sha256_state *h, const char *text, bool last)
{
	crypto_hash_sha256_update(h, (const unsigned char *)text, strlen(text));
	if (!last)
		crypto_hash_sha256_update(h, (const unsigned char *)"|", 1);
}

/* ret: 64 lowercase hex digits and a NUL. */
static void audit_hash(const struct audit_entry *e, char ret[STORE_HASH_HEX_LEN + 1])
{
	unsigned char digest[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state h;
	char num[24];

	crypto_hash_sha256_init(&h);
	snprintf(num, sizeof(num), "%lld", (long long)e->id);
	hash_part(&h, num, false);
	snprintf(num, sizeof(num), "%lld", (long long)e->at_ms);
	hash_part(&h, num, false);
	hash_part(&h, e->actor, false);
	hash_part(&h, e->action, false);
	hash_part(&h, e->subject, false);
	hash_part(&h, e->detail, false);
	hash_part(&h, e->prev_hash, true);
	crypto_hash_sha256_final(&h, digest);
	sodium_bin2hex(ret, STORE_HASH_HEX_LEN + 1, digest, sizeof(digest));
}

/* The head: entry count and newest hash. */
static int head_read(struct store *s, int64_t *ret_entries, char ret_hash[STORE_HASH_HEX_LEN + 1])
{
	sqlite3_stmt *st;
	int r = db_prepare(s->db, "SELECT entries, last_hash FROM audit_head WHERE id = 1", &st);

	if (r < 0)
		return r;
	r = db_step(st);
	if (r == 1) {
		const char *hash = (const char *)sqlite3_column_text(st, 1);
		*ret_entries = sqlite3_column_int64(st, 0);
		r = hash && strlen(hash) == STORE_HASH_HEX_LEN ? 0 : -EBADMSG;
		if (r == 0)
			memcpy(ret_hash, hash, STORE_HASH_HEX_LEN + 1);
	} else if (r == 0) {
		r = -EBADMSG;
	}
	sqlite3_finalize(st);
	return r;
}

static int entry_insert(struct store *s, const struct audit_entry *e, const char *hash)
{
	sqlite3_stmt *st;
	int r = db_prepare(s->db,
				  "INSERT INTO audit (id, at_ms, actor, action, subject, detail,"
				  " prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
				  &st);

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, e->id);
	sqlite3_bind_int64(st, 2, e->at_ms);
	sqlite3_bind_text(st, 3, e->actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, e->action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, e->subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, e->detail, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, e->prev_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, hash, -1, SQLITE_STATIC);
	r = db_step(st);
	sqlite3_finalize(st);
	return r < 0 ? r : 0;
}

static int head_advance(struct store *s, int64_t entries, const char *hash)
{
	sqlite3_stmt *st;
	int r = db_prepare(s->db,
				  "UPDATE audit_head SET entries = ?1, last_hash = ?2 WHERE id = 1", &st);

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, entries);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
	r = db_step(st);
	sqlite3_finalize(st);
	if (r < 0)
		return r;
	return sqlite3_changes(s->db) == 1 ? 0 : -EIO;
}

static int detail_text(json_t *detail, char **ret)
{
	char *text;

	if (detail && !json_is_object(detail))
		return -EINVAL;
	text = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
	if (!text)
		return -ENOMEM;
	if (strlen(text) > STORE_AUDIT_DETAIL_MAX) {
		free(text);
		return -E2BIG;
	}
	*ret = text;
	return 0;
}

int store_audit_append_tx(struct store *s, const char *actor, const char *action,
			  const char *subject, json_t *detail)
{
	char prev[STORE_HASH_HEX_LEN + 1], hash[STORE_HASH_HEX_LEN + 1];
	struct audit_entry e = { .actor = actor, .action = action, .subject = subject ? subject : "" };
	char *text = NULL;
	int64_t entries;
	int r;

	if (!audit_field_ok(e.actor, true) || !audit_field_ok(e.action, true) ||
	    !audit_field_ok(e.subject, false))
		return -EINVAL;
	r = detail_text(detail, &text);
	if (r == 0)
		r = head_read(s, &entries, prev);
	if (r == 0) {
		e.id = entries + 1;
		e.at_ms = clock_unix_ms();
		e.detail = text;
		e.prev_hash = prev;
		audit_hash(&e, hash);
		r = entry_insert(s, &e, hash);
	}
	if (r == 0)
		r = head_advance(s, e.id, hash);
	free(text);
	return r;
}

int store_audit_append(struct store *s, const char *actor, const char *action,
		       const char *subject, json_t *detail)
{
	int r;

	if (!s)
		return -EINVAL;
	store_lock(s);
	r = store_tx_begin(s);
	if (r == 0)
		r = db_tx_end(s->db, store_audit_append_tx(s, actor, action, subject, detail));
	store_unlock(s);
	return r;
}

/* Where the walk is: the id and prev_hash the next entry must have. */
struct audit_walk {
	int64_t next_id;
	char prev[STORE_HASH_HEX_LEN + 1];
	int64_t bad_id;
	char *err;
	size_t err_len;
};

static int walk_fail(struct audit_walk *w, int64_t bad_id, const char *reason)
{
	w->bad_id = bad_id;
	store_err(w->err, w->err_len, "%s", reason);
	return -EBADMSG;
}

/* A text column as a C string, or NULL when it is not text or holds a NUL
 * byte (which would hide bytes from the hash). */
static const char *walk_text(sqlite3_stmt *st, int col)
{
	const char *text;

	if (sqlite3_column_type(st, col) != SQLITE_TEXT)
		return NULL;
	text = (const char *)sqlite3_column_text(st, col);
	if (!text || strlen(text) != (size_t)sqlite3_column_bytes(st, col))
		return NULL;
	return text;
}

static bool walk_fields_ok(sqlite3_stmt *st, struct audit_entry *e, const char **hash)
{
	/* The type first: reading a value as another type converts it. */
	if (sqlite3_column_type(st, 1) != SQLITE_INTEGER)
		return false;
	e->at_ms = sqlite3_column_int64(st, 1);
	e->actor = walk_text(st, 2);
	e->action = walk_text(st, 3);
	e->subject = walk_text(st, 4);
	e->detail = walk_text(st, 5);
	e->prev_hash = walk_text(st, 6);
	*hash = walk_text(st, 7);
	return audit_field_ok(e->actor, true) &&
	       audit_field_ok(e->action, true) && audit_field_ok(e->subject, false) && e->detail &&
	       e->prev_hash && *hash;
}

static int walk_entry(sqlite3_stmt *st, struct audit_walk *w)
{
	char computed[STORE_HASH_HEX_LEN + 1], reason[160];
	struct audit_entry e = { .id = sqlite3_column_int64(st, 0) };
	const char *hash;

	if (e.id != w->next_id) {
		snprintf(reason, sizeof(reason), "the entry is missing (the next entry is %lld)",
			 (long long)e.id);
		return walk_fail(w, w->next_id, reason);
	}
	if (!walk_fields_ok(st, &e, &hash))
		return walk_fail(w, e.id, "a field holds a value no append writes "
					  "('|', a control character, too long or not text)");
	audit_hash(&e, computed);
	if (strcmp(computed, hash) != 0)
		return walk_fail(w, e.id, "its hash does not match its contents (the entry was edited)");
	if (strcmp(e.prev_hash, w->prev) != 0) {
		if (e.id == 1)
			return walk_fail(w, e.id, "its prev_hash is not 64 zeros, as the first entry's must be");
		snprintf(reason, sizeof(reason),
			 "its prev_hash is not the hash of entry %lld (that entry was edited and "
			 "rehashed, or this one was replaced)",
			 (long long)(e.id - 1));
		return walk_fail(w, e.id, reason);
	}
	memcpy(w->prev, hash, STORE_HASH_HEX_LEN + 1);
	w->next_id++;
	return 0;
}

static int walk_entries(struct store *s, struct audit_walk *w)
{
	sqlite3_stmt *st;
	int r = db_prepare(s->db,
				  "SELECT id, at_ms, actor, action, subject, detail, prev_hash, hash"
				  " FROM audit ORDER BY id",
				  &st);

	if (r < 0)
		return r;
	while ((r = db_step(st)) == 1 && (r = walk_entry(st, w)) == 0)
		;
	sqlite3_finalize(st);
	return r;
}

/* The walk ended cleanly; does it end where the head says? */
static int walk_check_head(struct store *s, struct audit_walk *w)
{
	char head_hash[STORE_HASH_HEX_LEN + 1], reason[200];
	int64_t head_entries, entries = w->next_id - 1;
	int r = head_read(s, &head_entries, head_hash);

	if (r == -EBADMSG)
		return walk_fail(w, 0, "the audit_head row is missing or damaged");
	if (r < 0)
		return r;
	if (head_entries > entries) {
		snprintf(reason, sizeof(reason),
			 "the entry is missing: the log ends at entry %lld but audit_head records "
			 "%lld entries (the newest entries were deleted)",
			 (long long)entries, (long long)head_entries);
		return walk_fail(w, entries + 1, reason);
	}
	if (head_entries < entries) {
		snprintf(reason, sizeof(reason),
			 "audit_head records only %lld entries: this and later entries were added "
			 "outside ledgerbox",
			 (long long)head_entries);
		return walk_fail(w, head_entries + 1, reason);
	}
	if (strcmp(head_hash, w->prev) != 0)
		return walk_fail(w, entries, "its hash differs from the newest hash in audit_head "
					     "(the newest entry was replaced)");
	return 0;
}

int store_audit_verify(struct store *s, int64_t *ret_entries, int64_t *ret_bad_id, char *err,
		       size_t err_len)
{
	struct audit_walk w = { .next_id = 1, .err = err, .err_len = err_len };
	int r;

	if (!s || !ret_entries || !ret_bad_id)
		return -EINVAL;
	memcpy(w.prev, zero_hash, sizeof(zero_hash));
	store_lock(s);
	/* One read transaction: the walk and the head come from the same
	 * snapshot, so an append by another process cannot look like a break. */
	r = db_exec(s->db, "BEGIN");
	if (r == 0) {
		r = walk_entries(s, &w);
		if (r == 0)
			r = walk_check_head(s, &w);
		(void)db_tx_end(s->db, 0);
	}
	if (r < 0 && r != -EBADMSG)
		store_err(err, err_len, "cannot read the audit log: %s", sqlite3_errmsg(s->db));
	store_unlock(s);
	if (r == -EBADMSG)
		*ret_bad_id = w.bad_id;
	else if (r == 0)
		*ret_entries = w.next_id - 1;
	return r;
}
