/*
 * store_audit_check: on SQLite, the audit log's head, the check of an
 * anchor taken outside the database, and the cross-check of run entries
 * against the runs table and the spend ledger (store_run_facts.c compares).
 *
 * The budget part keeps its ledger in the same ledgerbox.db; a database
 * the server never opened has no ledger table, and then there is nothing
 * to compare charges with. Each check reads inside one read transaction,
 * so a run committed meanwhile (row and entry together) is seen whole or
 * not at all.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/store_internal.h"
#include "store/store_pg.h"
#include "util/banned.h"

int store_audit_head(struct store *s, struct store_audit_anchor *ret)
{
	int r;

	if (!s || !ret)
		return -EINVAL;
	if (s->pg)
		return store_pg_audit_head(s, ret);
	store_lock(s);
	r = store_audit_head_read(s, &ret->seq, ret->hash);
	store_unlock(s);
	return r;
}

/* The hash stored for entry seq into ret; 1 found, 0 none. */
static int entry_hash(struct store *s, int64_t seq, char ret[STORE_HASH_HEX_LEN + 1])
{
	sqlite3_stmt *st;
	int r = db_prepare(s->db, "SELECT hash FROM audit WHERE id = ?1", &st);

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, seq);
	r = db_step(st);
	if (r == 1)
		snprintf(ret, STORE_HASH_HEX_LEN + 1, "%s",
			 sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
	sqlite3_finalize(st);
	return r;
}

int store_audit_anchor_check(struct store *s, const struct store_audit_anchor *a, char *err,
			     size_t err_len)
{
	struct store_audit_anchor head = { 0 };
	char hash[STORE_HASH_HEX_LEN + 1];
	int r;

	if (!s || !a)
		return -EINVAL;
	if (s->pg)
		return store_pg_audit_anchor_check(s, a, err, err_len);
	store_lock(s);
	r = db_exec(s->db, "BEGIN");
	if (r == 0) {
		r = store_audit_head_read(s, &head.seq, head.hash);
		if (r == 0)
			r = entry_hash(s, a->seq, hash);
		(void)db_tx_end(s->db, 0);
	}
	if (r >= 0)
		r = store_audit_anchor_verdict(a, r == 1 ? hash : NULL, head.seq, err, err_len);
	else if (r != -EBADMSG)
		store_err(err, err_len, "cannot read the audit log: %s", sqlite3_errmsg(s->db));
	store_unlock(s);
	return r;
}

/* ---- the cross-check ---------------------------------------------------- */

static int ledger_read(struct store *s, const char *ledger_id, struct store_ledger_charge *ret,
		       size_t *ret_n)
{
	sqlite3_stmt *st;
	int r = db_prepare(s->db, "SELECT scope, amount_micros FROM ledger WHERE run_id = ?1"
				  " ORDER BY scope LIMIT 8",
			   &st);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, ledger_id, -1, SQLITE_STATIC);
	*ret_n = 0;
	while (*ret_n < STORE_LEDGER_SCOPES_MAX && (r = db_step(st)) == 1) {
		const char *scope = (const char *)sqlite3_column_text(st, 0);
		snprintf(ret[*ret_n].scope, sizeof(ret[0].scope), "%s", scope ? scope : "");
		ret[(*ret_n)++].micros = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return r < 0 ? r : 0;
}

static const struct store_ledger_reader ledger = { ledger_read };

static int ledger_exists(struct store *s, bool *ret)
{
	sqlite3_stmt *st;
	int r = db_prepare(s->db,
			   "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger'", &st);

	if (r < 0)
		return r;
	r = db_step(st);
	sqlite3_finalize(st);
	*ret = r == 1;
	return r < 0 ? r : 0;
}

static const char entries_sql[] =
	"SELECT a.id, a.subject, a.detail, r.id, p.team, r.principal_id, r.language, r.dataset,"
	" r.session, r.status, r.code, r.result, r.created_ms, r.duration_ms, r.result_from,"
	" b.result, a.actor, p.user"
	" FROM audit a LEFT JOIN runs r ON r.id = a.subject"
	" LEFT JOIN principals p ON p.id = r.principal_id"
	" LEFT JOIN runs b ON b.id = r.result_from"
	" WHERE a.action = 'run' ORDER BY a.id";

static const char *col_text(sqlite3_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(st, col);
}

static int check_entry(struct store_run_check *c, sqlite3_stmt *st)
{
	struct store_run_row row = {
		.entry_id = sqlite3_column_int64(st, 0),
		.subject = col_text(st, 1) ? col_text(st, 1) : "",
		.detail = col_text(st, 2) ? col_text(st, 2) : "",
		.present = sqlite3_column_type(st, 3) != SQLITE_NULL,
		.actor = col_text(st, 16) ? col_text(st, 16) : "",
	};
	int r;

	if (row.present) {
		snprintf(row.run.id, sizeof(row.run.id), "%s", col_text(st, 3));
		row.team = col_text(st, 4);
		row.user = col_text(st, 17);
		row.run.principal_id = sqlite3_column_int64(st, 5);
		row.run.language = col_text(st, 6);
		row.run.dataset = col_text(st, 7);
		row.run.session = col_text(st, 8);
		row.run.status = col_text(st, 9);
		row.run.code = col_text(st, 10);
		row.stored.text = (char *)col_text(st, 11);
		row.run.created_ms = sqlite3_column_int64(st, 12);
		row.run.duration_ms = sqlite3_column_int64(st, 13);
		snprintf(row.stored.from, sizeof(row.stored.from), "%s",
			 col_text(st, 14) ? col_text(st, 14) : "");
		store_run_row_answer(&row, row.stored.text, col_text(st, 15));
	}
	r = store_run_check_row(c, &row);
	json_decref(row.run.result);
	return r;
}

static int check_entries(struct store_run_check *c)
{
	sqlite3_stmt *st;
	int r = db_prepare(c->s->db, entries_sql, &st);

	if (r < 0)
		return r;
	while ((r = db_step(st)) == 1 && (r = check_entry(c, st)) == 0)
		;
	sqlite3_finalize(st);
	return r;
}

static int check_orphans(struct store_run_check *c)
{
	sqlite3_stmt *st;
	int r = db_prepare(c->s->db,
			   "SELECT id FROM runs WHERE id NOT IN"
			   " (SELECT subject FROM audit WHERE action = 'run') ORDER BY created_ms",
			   &st);

	if (r < 0)
		return r;
	while ((r = db_step(st)) == 1)
		store_run_check_orphan(c, col_text(st, 0) ? col_text(st, 0) : "");
	sqlite3_finalize(st);
	return r;
}

int store_sqlite_audit_crosscheck(struct store *s, json_t **ret_problems, int64_t *ret_runs,
				  int64_t *ret_count, char *err, size_t err_len)
{
	struct store_run_check c;
	bool have_ledger = false;
	int r;

	store_lock(s);
	r = db_exec(s->db, "BEGIN");
	if (r == 0) {
		r = ledger_exists(s, &have_ledger);
		store_run_check_init(&c, s, have_ledger ? &ledger : NULL);
		if (r == 0)
			r = c.problems ? check_entries(&c) : -ENOMEM;
		if (r == 0)
			r = check_orphans(&c);
		(void)db_tx_end(s->db, 0);
		r = store_run_check_end(&c, r, ret_problems, ret_runs, ret_count);
	}
	if (r < 0)
		store_err(err, err_len, "cannot cross-check the runs: %s", sqlite3_errmsg(s->db));
	store_unlock(s);
	return r;
}
