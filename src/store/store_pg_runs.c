/*
 * store_pg_runs: storing a finished run in PostgreSQL: the run row, its
 * artifacts with their bytes, and the audit entry, in one transaction.
 *
 * The bytes live in the database (artifacts.data) rather than under
 * STATE_DIR, because any node may be asked for them; so there are no
 * files to write first or to clean up after a failure, and a rolled-back
 * insert leaves nothing behind. The bytes are sent as binary parameters:
 * text would double them into hex on the way. A run answered from the
 * cache sends none: its rows refer to the bytes of the run the answer came
 * from (store_retention.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "store/store_pg.h"
#include "util/banned.h"

static int principal_names(struct store *s, int64_t principal_id, char ret_user[STORE_NAME_MAX],
			   char ret_team[STORE_NAME_MAX])
{
	char id[PG_INT_TEXT];
	const char *params[1] = { pg_i64_text(principal_id, id) };
	PGresult *res;
	int r = store_pg_query(s, "SELECT user_name, team FROM principals WHERE id = $1", 1, params,
			       &res, NULL, 0);

	if (r < 0)
		return r;
	if (PQntuples(res) != 1)
		r = -ENOENT;
	else if (snprintf(ret_user, STORE_NAME_MAX, "%s", PQgetvalue(res, 0, 0)) >= STORE_NAME_MAX ||
		 snprintf(ret_team, STORE_NAME_MAX, "%s", PQgetvalue(res, 0, 1)) >= STORE_NAME_MAX)
		r = -EIO;
	PQclear(res);
	return r;
}

static int run_row_insert(struct store *s, const struct run_record *run,
			  const struct run_result_text *result)
{
	char principal[PG_INT_TEXT], created[PG_INT_TEXT], duration[PG_INT_TEXT];
	const char *params[11] = {
		run->id,	  pg_i64_text(run->principal_id, principal),
		run->language, run->dataset,
		run->session, run->status,
		run->code,	  result->text,
		pg_i64_text(run->created_ms, created), pg_i64_text(run->duration_ms, duration),
		result->from[0] ? result->from : NULL,
	};

	return store_pg_query(s,
			"INSERT INTO runs (id, principal_id, language, dataset, session, status,"
			" code, result, created_ms, duration_ms, result_from)"
			" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
			11, params, NULL, NULL, 0);
}

int store_pg_share_base_get(struct store *s, const char *from,
			    char base_id[STORE_RUN_ID_LEN + 1], json_t **ret)
{
	const char *params[1] = { from };
	PGresult *res;
	int r = store_pg_lock(s);

	if (r < 0)
		return r;
	r = store_pg_query(s,
		     "SELECT coalesce(r.result_from, r.id), coalesce(b.result, r.result)"
		     " FROM runs r LEFT JOIN runs b ON b.id = r.result_from WHERE r.id = $1",
		     1, params, &res, NULL, 0);
	store_unlock(s);
	if (r < 0)
		return r;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return -ENOENT;
	}
	snprintf(base_id, STORE_RUN_ID_LEN + 1, "%s", PQgetvalue(res, 0, 0));
	*ret = PQgetisnull(res, 0, 1) ? NULL
				      : json_loads(PQgetvalue(res, 0, 1), JSON_DECODE_ANY, NULL);
	PQclear(res);
	return 0;
}

static int artifact_row_insert(struct store *s, const char *run_id, const struct artifact_file *a)
{
	char bytes[PG_INT_TEXT];
	const char *params[5] = { run_id, a->name, a->mime, pg_i64_text((int64_t)a->bytes, bytes),
				  a->bytes ? a->data : "" };
	int lengths[5] = { 0, 0, 0, 0, (int)a->bytes };
	int formats[5] = { 0, 0, 0, 0, 1 };

	/* libpq takes a parameter's length as an int; bytea holds at most
	 * 1 GiB anyway. */
	if (a->bytes > (size_t)INT32_MAX)
		return -EFBIG;
	return store_pg_query_bin(s->pg,
				  "INSERT INTO artifacts (run_id, name, mime, bytes, data, content_run)"
				  " VALUES ($1, $2, $3, $4, $5::bytea, $1)",
				  5, params, lengths, formats, false, NULL);
}

/* Rows for run_id referring to the bytes run `from`'s rows refer to. The
 * source's run row is locked FOR SHARE: an expiry on another node waits
 * for this transaction (and then sees the new references), or this one
 * sees the run already expired. */
static int shared_rows_insert(struct store *s, const char *run_id, const char *from,
			      size_t *ret_n)
{
	const char *params[2] = { run_id, from };
	PGresult *res;
	int r = store_pg_query(s,
			 "SELECT files_expired_ms IS NOT NULL FROM runs WHERE id = $1 FOR SHARE", 1,
			 params + 1, &res, NULL, 0);

	if (r < 0)
		return r;
	r = PQntuples(res) != 1 ? -ENOENT : PQgetvalue(res, 0, 0)[0] == 't' ? -ESTALE : 0;
	PQclear(res);
	if (r < 0)
		return r;
	r = store_pg_query(s,
		     "INSERT INTO artifacts (run_id, name, mime, bytes, data, content_run)"
		     " SELECT $1, name, mime, bytes, NULL, content_run FROM artifacts"
		     " WHERE run_id = $2",
		     2, params, &res, NULL, 0);
	if (r < 0)
		return r;
	*ret_n = (size_t)strtoull(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

static int run_insert_tx(struct store *s, const struct run_record *run,
			 const struct run_result_text *result,
			 const struct artifact_file *a, size_t n, const char *from)
{
	char user[STORE_NAME_MAX], team[STORE_NAME_MAX];
	json_t *detail;
	int r = principal_names(s, run->principal_id, user, team);

	if (r == 0)
		r = run_row_insert(s, run, result);
	if (r == 0 && from)
		r = shared_rows_insert(s, run->id, from, &n);
	for (size_t i = 0; i < n && r == 0 && !from; i++)
		r = artifact_row_insert(s, run->id, &a[i]);
	if (r < 0)
		return r;
	detail = store_run_facts(run, team, result, n);
	if (!detail)
		return -ENOMEM;
	r = store_pg_audit_append_tx(s, user, "run", run->id, detail);
	json_decref(detail);
	return r;
}

int store_pg_run_insert(struct store *s, const struct run_record *run,
			const struct run_result_text *result,
			const struct artifact_file *a, size_t n, const char *from)
{
	int r = store_pg_lock(s);

	if (r < 0)
		return r;
	r = store_pg_tx_begin(s);
	if (r == 0)
		r = pg_tx_end(s->pg, run_insert_tx(s, run, result, a, n, from));
	store_audit_anchor_settle(s, r);
	store_unlock(s);
	return r;
}
