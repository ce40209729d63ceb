/*
 * store_pg_audit: the hash-chained audit log in PostgreSQL. The canonical
 * text, hash and walk checks are store_audit_chain.c's, so a chain here
 * means exactly what it means in SQLite.
 *
 * One linear chain across many nodes: an append first locks the
 * audit_head row (SELECT ... FOR UPDATE) inside its transaction. Another
 * node's append waits there until this transaction ends and then, read
 * committed, locks and reads the head as it was left, so entry N+1 always
 * links to entry N whichever node wrote either. Appending is the last
 * step of every write transaction, so the lock is held only briefly and
 * always last: no lock-order cycle between nodes.
 *
 * Verification walks the entries in id order through a cursor (bounded
 * memory for any length of log) inside one repeatable-read snapshot, and
 * reads the head from the same snapshot, so appends by other nodes during
 * the walk cannot look like a break.
 */
#include <errno.h>
#include <string.h>

#include "store/store_pg.h"
#include "util/banned.h"

#define WALK_BATCH "1000"

/* The head, locked until the transaction ends. */
static int head_lock(struct store *s, int64_t *ret_entries, char ret_hash[STORE_HASH_HEX_LEN + 1])
{
	PGresult *res;
	int r = store_pg_query(s, "SELECT entries, last_hash FROM audit_head WHERE id = 1 FOR UPDATE",
			 0, NULL, &res, NULL, 0);

	if (r < 0)
		return r;
	if (PQntuples(res) != 1 || pg_get_i64(res, 0, 0, ret_entries) < 0 ||
	    PQgetlength(res, 0, 1) != STORE_HASH_HEX_LEN)
		r = -EBADMSG;
	else
		memcpy(ret_hash, PQgetvalue(res, 0, 1), STORE_HASH_HEX_LEN + 1);
	PQclear(res);
	return r;
}

static int entry_insert(struct store *s, const struct store_audit_entry *e, const char *hash)
{
	char id[PG_INT_TEXT], at[PG_INT_TEXT];
	const char *params[8] = { pg_i64_text(e->id, id), pg_i64_text(e->at_ms, at), e->actor,
				  e->action, e->subject, e->detail, e->prev_hash, hash };

	return store_pg_query(s,
			"INSERT INTO audit (id, at_ms, actor, action, subject, detail, prev_hash, hash)"
			" VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
			8, params, NULL, NULL, 0);
}

static int head_advance(struct store *s, int64_t entries, const char *hash)
{
	char num[PG_INT_TEXT];
	const char *params[2] = { pg_i64_text(entries, num), hash };
	PGresult *res;
	int r = store_pg_query(s, "UPDATE audit_head SET entries = $1, last_hash = $2 WHERE id = 1", 2,
			 params, &res, NULL, 0);

	if (r < 0)
		return r;
	r = strcmp(PQcmdTuples(res), "1") == 0 ? 0 : -EIO;
	PQclear(res);
	return r;
}

static const struct store_audit_backend backend = { head_lock, entry_insert, head_advance };

int store_pg_audit_append_tx(struct store *s, const char *actor, const char *action,
			     const char *subject, json_t *detail)
{
	return store_audit_chain_append(s, &backend, actor, action, subject, detail);
}

int store_pg_audit_append(struct store *s, const char *actor, const char *action,
			  const char *subject, json_t *detail)
{
	int r = store_pg_lock(s);

	if (r < 0)
		return r;
	r = store_pg_tx_begin(s);
	if (r == 0)
		r = pg_tx_end(s->pg, store_pg_audit_append_tx(s, actor, action, subject, detail));
	store_audit_anchor_settle(s, r);
	store_unlock(s);
	return r;
}

static int walk_row(const PGresult *res, int row, struct store_audit_walk *w)
{
	struct store_audit_entry e = { 0 };
	/* Every column is NOT NULL and text cannot hold a NUL byte, so what
	 * libpq returns is exactly what is stored. */
	bool readable = pg_get_i64(res, row, 0, &e.id) == 0 && pg_get_i64(res, row, 1, &e.at_ms) == 0;

	e.actor = PQgetvalue(res, row, 2);
	e.action = PQgetvalue(res, row, 3);
	e.subject = PQgetvalue(res, row, 4);
	e.detail = PQgetvalue(res, row, 5);
	e.prev_hash = PQgetvalue(res, row, 6);
	if (!readable && e.id == 0)
		e.id = w->next_id; /* an unreadable id is reported where it stands */
	return store_audit_walk_entry(w, &e, PQgetvalue(res, row, 7), readable);
}

static int walk_entries(struct store *s, struct store_audit_walk *w)
{
	PGresult *res;
	int r = pg_exec(s->pg, "DECLARE audit_walk NO SCROLL CURSOR FOR"
			       " SELECT id, at_ms, actor, action, subject, detail, prev_hash, hash"
			       " FROM audit ORDER BY id");

	while (r == 0) {
		int rows;

		r = store_pg_query(s, "FETCH FORWARD " WALK_BATCH " FROM audit_walk", 0, NULL, &res,
			     NULL, 0);
		if (r < 0)
			break;
		rows = PQntuples(res);
		for (int i = 0; i < rows && r == 0; i++)
			r = walk_row(res, i, w);
		PQclear(res);
		if (rows == 0)
			break;
	}
	return r;
}

static int walk_check_head(struct store *s, struct store_audit_walk *w)
{
	PGresult *res;
	int64_t entries = 0;
	const char *hash = NULL;
	int r = store_pg_query(s, "SELECT entries, last_hash FROM audit_head WHERE id = 1", 0, NULL,
			 &res, NULL, 0);

	if (r < 0)
		return r;
	if (PQntuples(res) == 1 && pg_get_i64(res, 0, 0, &entries) == 0)
		hash = PQgetvalue(res, 0, 1);
	r = store_audit_walk_end(w, entries, hash);
	PQclear(res);
	return r;
}

int store_pg_audit_verify(struct store *s, int64_t *ret_entries, int64_t *ret_bad_id, char *err,
			  size_t err_len)
{
	struct store_audit_walk w;
	int r;

	store_audit_walk_init(&w, err, err_len);
	r = store_pg_lock(s);
	if (r < 0) {
		store_err(err, err_len, "cannot reach PostgreSQL to read the audit log");
		return r;
	}
	r = store_pg_query(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, NULL, NULL, 0);
	if (r == 0) {
		r = walk_entries(s, &w);
		if (r == 0)
			r = walk_check_head(s, &w);
		(void)pg_tx_end(s->pg, -1); /* read only: nothing to commit */
	}
	if (r < 0 && r != -EBADMSG) {
		const char *why = PQerrorMessage(s->pg);
		store_err(err, err_len, "cannot read the audit log: %.*s", (int)strcspn(why, "\n"),
			  why);
	}
	store_unlock(s);
	if (r == -EBADMSG)
		*ret_bad_id = w.bad_id;
	else if (r == 0)
		*ret_entries = w.next_id - 1;
	return r;
}
