/*
 * store_pg_audit_check: on PostgreSQL, the audit log's head, the check of
 * an anchor, and the cross-check of run entries against the runs table
 * and the spend ledger (store_run_facts.c compares), as
 * store_audit_check.c does on SQLite.
 *
 * The budget part's ledger is in the same database when the server runs
 * with it; to_regclass tells whether it is there. The cross-check reads in
 * one repeatable-read snapshot, the entries through a cursor so a log of
 * any length is read in bounded memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_pg.h"
#include "util/banned.h"

#define CHECK_BATCH "500"

static int head_get(struct store *s, struct store_audit_anchor *ret)
{
	PGresult *res;
	int r = pg_query(s->pg, "SELECT entries, last_hash FROM audit_head WHERE id = 1", 0, NULL,
			 &res, NULL, 0);

	if (r < 0)
		return r;
	if (PQntuples(res) != 1 || pg_get_i64(res, 0, 0, &ret->seq) < 0 ||
	    PQgetlength(res, 0, 1) != STORE_HASH_HEX_LEN)
		r = -EBADMSG;
	else
		memcpy(ret->hash, PQgetvalue(res, 0, 1), STORE_HASH_HEX_LEN + 1);
	PQclear(res);
	return r;
}

int store_pg_audit_head(struct store *s, struct store_audit_anchor *ret)
{
	int r = store_pg_lock(s);

	if (r < 0)
		return r;
	r = head_get(s, ret);
	store_unlock(s);
	return r;
}

/* Reads the head and entry a->seq's hash in one snapshot, then judges. */
static int anchor_read(struct store *s, const struct store_audit_anchor *a, char *err,
		       size_t err_len)
{
	struct store_audit_anchor head = { 0 };
	char seq[PG_INT_TEXT];
	const char *params[1] = { pg_i64_text(a->seq, seq) };
	PGresult *res = NULL;
	int r = head_get(s, &head);

	if (r == 0)
		r = pg_query(s->pg, "SELECT hash FROM audit WHERE id = $1", 1, params, &res, NULL,
			     0);
	if (r < 0)
		return r;
	r = store_audit_anchor_verdict(a, PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : NULL,
				       head.seq, err, err_len);
	PQclear(res);
	return r;
}

int store_pg_audit_anchor_check(struct store *s, const struct store_audit_anchor *a, char *err,
				size_t err_len)
{
	int r = store_pg_lock(s);

	if (r < 0) {
		store_err(err, err_len, "cannot reach PostgreSQL to read the audit log");
		return r;
	}
	r = pg_exec(s->pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	if (r == 0) {
		r = anchor_read(s, a, err, err_len);
		(void)pg_tx_end(s->pg, -1); /* read only: nothing to commit */
	}
	if (r < 0 && r != -EBADMSG)
		store_err(err, err_len, "cannot read the audit log: %.*s",
			  (int)strcspn(PQerrorMessage(s->pg), "\n"), PQerrorMessage(s->pg));
	store_unlock(s);
	return r;
}

/* ---- the cross-check ---------------------------------------------------- */

static int ledger_read(struct store *s, const char *ledger_id, struct store_ledger_charge *ret,
		       size_t *ret_n)
{
	const char *params[1] = { ledger_id };
	PGresult *res;
	int r = pg_query(s->pg,
			 "SELECT scope, amount_micros FROM ledger WHERE run_id = $1"
			 " ORDER BY scope LIMIT 8",
			 1, params, &res, NULL, 0);

	if (r < 0)
		return r;
	*ret_n = 0;
	for (int i = 0; i < PQntuples(res) && *ret_n < STORE_LEDGER_SCOPES_MAX; i++) {
		snprintf(ret[*ret_n].scope, sizeof(ret[0].scope), "%s", PQgetvalue(res, i, 0));
		if (pg_get_i64(res, i, 1, &ret[*ret_n].micros) == 0)
			(*ret_n)++;
	}
	PQclear(res);
	return 0;
}

static const struct store_ledger_reader ledger = { ledger_read };

static int ledger_exists(struct store *s, bool *ret)
{
	PGresult *res;
	int r = pg_query(s->pg, "SELECT to_regclass('ledger') IS NOT NULL", 0, NULL, &res, NULL, 0);

	if (r < 0)
		return r;
	*ret = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return 0;
}

static const char *col_text(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static int check_entry(struct store_run_check *c, const PGresult *res, int i)
{
	struct store_run_row row = {
		.subject = PQgetvalue(res, i, 1),
		.detail = PQgetvalue(res, i, 2),
		.present = !PQgetisnull(res, i, 3),
		.actor = PQgetvalue(res, i, 16),
	};
	int r = pg_get_i64(res, i, 0, &row.entry_id);

	if (r == 0 && row.present) {
		snprintf(row.run.id, sizeof(row.run.id), "%s", PQgetvalue(res, i, 3));
		row.team = col_text(res, i, 4);
		row.user = col_text(res, i, 17);
		r = pg_get_i64(res, i, 5, &row.run.principal_id);
		row.run.language = col_text(res, i, 6);
		row.run.dataset = col_text(res, i, 7);
		row.run.session = col_text(res, i, 8);
		row.run.status = col_text(res, i, 9);
		row.run.code = col_text(res, i, 10);
		row.stored.text = (char *)col_text(res, i, 11);
		if (r == 0)
			r = pg_get_i64(res, i, 12, &row.run.created_ms);
		if (r == 0)
			r = pg_get_i64(res, i, 13, &row.run.duration_ms);
		snprintf(row.stored.from, sizeof(row.stored.from), "%s",
			 col_text(res, i, 14) ? col_text(res, i, 14) : "");
		store_run_row_answer(&row, row.stored.text, col_text(res, i, 15));
	}
	if (r == 0)
		r = store_run_check_row(c, &row);
	json_decref(row.run.result);
	return r;
}

/* Walks a cursor already declared, batch by batch. */
static int cursor_walk(struct store_run_check *c, const char *fetch,
		       int (*each)(struct store_run_check *c, const PGresult *res, int i))
{
	PGresult *res;
	int r = 0, rows;

	do {
		r = pg_query(c->s->pg, fetch, 0, NULL, &res, NULL, 0);
		if (r < 0)
			return r;
		rows = PQntuples(res);
		for (int i = 0; i < rows && r == 0; i++)
			r = each(c, res, i);
		PQclear(res);
	} while (r == 0 && rows > 0);
	return r;
}

static int check_orphan(struct store_run_check *c, const PGresult *res, int i)
{
	store_run_check_orphan(c, PQgetvalue(res, i, 0));
	return 0;
}

static int check_all(struct store_run_check *c)
{
	int r = pg_exec(c->s->pg,
			"DECLARE run_check NO SCROLL CURSOR FOR"
			" SELECT a.id, a.subject, a.detail, r.id, p.team, r.principal_id, r.language,"
			" r.dataset, r.session, r.status, r.code, r.result, r.created_ms,"
			" r.duration_ms, r.result_from, b.result, a.actor, p.user_name"
			" FROM audit a LEFT JOIN runs r ON r.id = a.subject"
			" LEFT JOIN principals p ON p.id = r.principal_id"
			" LEFT JOIN runs b ON b.id = r.result_from"
			" WHERE a.action = 'run' ORDER BY a.id");

	if (r == 0)
		r = cursor_walk(c, "FETCH FORWARD " CHECK_BATCH " FROM run_check", check_entry);
	if (r == 0)
		r = pg_exec(c->s->pg,
			    "DECLARE run_orphans NO SCROLL CURSOR FOR"
			    " SELECT r.id FROM runs r WHERE NOT EXISTS (SELECT 1 FROM audit a"
			    " WHERE a.action = 'run' AND a.subject = r.id) ORDER BY r.seq");
	if (r == 0)
		r = cursor_walk(c, "FETCH FORWARD " CHECK_BATCH " FROM run_orphans", check_orphan);
	return r;
}

int store_pg_audit_crosscheck(struct store *s, json_t **ret_problems, int64_t *ret_runs,
			      int64_t *ret_count, char *err, size_t err_len)
{
	struct store_run_check c;
	bool have_ledger = false;
	int r = store_pg_lock(s);

	if (r < 0) {
		store_err(err, err_len, "cannot reach PostgreSQL to read the runs");
		return r;
	}
	r = pg_exec(s->pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	if (r == 0) {
		r = ledger_exists(s, &have_ledger);
		store_run_check_init(&c, s, have_ledger ? &ledger : NULL);
		if (r == 0)
			r = c.problems ? check_all(&c) : -ENOMEM;
		(void)pg_tx_end(s->pg, -1); /* read only: nothing to commit */
		r = store_run_check_end(&c, r, ret_problems, ret_runs, ret_count);
	}
	if (r < 0)
		store_err(err, err_len, "cannot cross-check the runs: %.*s",
			  (int)strcspn(PQerrorMessage(s->pg), "\n"), PQerrorMessage(s->pg));
	store_unlock(s);
	return r;
}
