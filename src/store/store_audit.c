/*
 * store_audit: the append-only, hash-chained audit log in SQLite. The
 * canonical text, the hash and the checks of a walk are shared with the
 * PostgreSQL back end (store_audit_chain.c describes the text).
 *
 * audit_head (one row) holds the entry count and the newest hash, updated
 * in the same transaction as each append, so a deleted tail is noticed too.
 *
 * What verification catches: an edited field (the hash no longer matches),
 * an edited and rehashed entry (the next entry's prev_hash no longer
 * matches), a deleted entry anywhere (a gap in ids or a broken link), a
 * deleted tail (fewer entries than the head records). What the walk alone
 * cannot catch: someone with write access to the file who rewrites an
 * entry and every later one and audit_head consistently, or who deletes a
 * tail and rewinds audit_head to match; the chain is unkeyed, so anyone
 * can compute it. An anchor (store_audit_head() written down elsewhere,
 * checked by store_audit_anchor_check() in store_audit_check.c) is what
 * turns that into a detectable change.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/store_internal.h"
#include "store/store_pg.h"
#include "util/banned.h"

int store_audit_head_read(struct store *s, int64_t *ret_entries,
			  char ret_hash[STORE_HASH_HEX_LEN + 1])
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

static int entry_insert(struct store *s, const struct store_audit_entry *e, const char *hash)
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

static const struct store_audit_backend backend = { store_audit_head_read, entry_insert, head_advance };

int store_audit_append_tx(struct store *s, const char *actor, const char *action,
			  const char *subject, json_t *detail)
{
	return store_audit_chain_append(s, &backend, actor, action, subject, detail);
}

int store_audit_append(struct store *s, const char *actor, const char *action,
		       const char *subject, json_t *detail)
{
	int r;

	if (!s)
		return -EINVAL;
	if (s->pg)
		return store_pg_audit_append(s, actor, action, subject, detail);
	store_lock(s);
	r = store_tx_begin(s);
	if (r == 0)
		r = db_tx_end(s->db, store_audit_append_tx(s, actor, action, subject, detail));
	store_audit_anchor_settle(s, r);
	store_unlock(s);
	return r;
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

static int walk_row(sqlite3_stmt *st, struct store_audit_walk *w)
{
	struct store_audit_entry e = { .id = sqlite3_column_int64(st, 0) };
	/* The type first: reading a value as another type converts it. */
	bool readable = sqlite3_column_type(st, 1) == SQLITE_INTEGER;

	e.at_ms = sqlite3_column_int64(st, 1);
	e.actor = walk_text(st, 2);
	e.action = walk_text(st, 3);
	e.subject = walk_text(st, 4);
	e.detail = walk_text(st, 5);
	e.prev_hash = walk_text(st, 6);
	return store_audit_walk_entry(w, &e, walk_text(st, 7), readable);
}

static int walk_entries(struct store *s, struct store_audit_walk *w)
{
	sqlite3_stmt *st;
	int r = db_prepare(s->db,
				  "SELECT id, at_ms, actor, action, subject, detail, prev_hash, hash"
				  " FROM audit ORDER BY id",
				  &st);

	if (r < 0)
		return r;
	while ((r = db_step(st)) == 1 && (r = walk_row(st, w)) == 0)
		;
	sqlite3_finalize(st);
	return r;
}

/* The walk ended cleanly; does it end where the head says? */
static int walk_check_head(struct store *s, struct store_audit_walk *w)
{
	char head_hash[STORE_HASH_HEX_LEN + 1];
	int64_t head_entries = 0;
	int r = store_audit_head_read(s, &head_entries, head_hash);

	if (r < 0 && r != -EBADMSG)
		return r;
	return store_audit_walk_end(w, head_entries, r == 0 ? head_hash : NULL);
}

int store_audit_verify(struct store *s, int64_t *ret_entries, int64_t *ret_bad_id, char *err,
		       size_t err_len)
{
	struct store_audit_walk w;
	int r;

	if (!s || !ret_entries || !ret_bad_id)
		return -EINVAL;
	if (s->pg)
		return store_pg_audit_verify(s, ret_entries, ret_bad_id, err, err_len);
	store_audit_walk_init(&w, err, err_len);
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
