/*
 * store_runs: run ids and storing a finished run with its artifacts.
 *
 * A stored run is all or nothing: the artifact files are written and
 * fsynced first (outside the lock, since fsync is the slow part and every
 * run has its own folder), then one transaction inserts the run row, the
 * artifact rows and the audit entry. If the transaction fails the files are
 * removed again; if the process dies in between, the folder has no row and
 * is swept at the next open (store_files.c). Readers only find artifacts
 * through rows, so a folder without a row is never served.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "store/store_pg.h"
#include "util/banned.h"

#define RUN_TEXT_MAX 256 /* status, dataset and session */

void store_run_id_new(char ret[STORE_RUN_ID_LEN + 1])
{
	unsigned char bytes[STORE_RUN_ID_LEN / 2];

	/* Idempotent and cheap after the first call; makes this safe to call
	 * before store_open(). */
	if (sodium_init() < 0)
		abort();
	randombytes_buf(bytes, sizeof(bytes));
	sodium_bin2hex(ret, STORE_RUN_ID_LEN + 1, bytes, sizeof(bytes));
}

bool store_run_id_valid(const char *id)
{
	size_t i;

	if (!id)
		return false;
	for (i = 0; i < STORE_RUN_ID_LEN; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return id[i] == '\0';
}

static bool text_ok(const char *s, bool required)
{
	size_t len;

	if (!s)
		return !required;
	len = strlen(s);
	return len <= RUN_TEXT_MAX && (len > 0 || !required);
}

static bool mime_ok(const char *mime)
{
	size_t len = mime ? strlen(mime) : 0;

	if (len == 0 || len >= STORE_MIME_MAX)
		return false;
	/* Printable ASCII: it goes into a Content-Type header as it is
	 * ("text/csv; charset=utf-8" is fine). */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)mime[i] < 0x20 || (unsigned char)mime[i] >= 0x7f)
			return false;
	return true;
}

static bool artifacts_ok(const struct artifact_file *a, size_t n)
{
	if (n > STORE_ARTIFACTS_MAX || (n > 0 && !a))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!store_artifact_name_valid(a[i].name) || !mime_ok(a[i].mime) ||
		    (a[i].bytes > 0 && !a[i].data))
			return false;
		for (size_t j = 0; j < i; j++)
			if (strcmp(a[i].name, a[j].name) == 0)
				return false;
	}
	return true;
}

static bool run_ok(const struct run_record *run)
{
	if (!store_run_id_valid(run->id) || run->principal_id <= 0)
		return false;
	if (!run->language || (strcmp(run->language, "python") != 0 && strcmp(run->language, "sql") != 0))
		return false;
	return text_ok(run->status, true) && text_ok(run->dataset, false) &&
	       text_ok(run->session, false) && run->code && run->created_ms >= 0 &&
	       run->duration_ms >= 0;
}

/* The user and team names of a principal (STORE_NAME_MAX bytes each). */
static int principal_names(struct store *s, int64_t principal_id, char *ret_user, char *ret_team)
{
	sqlite3_stmt *st;
	int r = db_prepare(s->db, "SELECT user, team FROM principals WHERE id = ?1", &st);

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, principal_id);
	r = db_step(st);
	if (r == 1) {
		const char *user = (const char *)sqlite3_column_text(st, 0);
		const char *team = (const char *)sqlite3_column_text(st, 1);
		r = user && team && snprintf(ret_user, STORE_NAME_MAX, "%s", user) < STORE_NAME_MAX &&
				    snprintf(ret_team, STORE_NAME_MAX, "%s", team) < STORE_NAME_MAX
			    ? 0
			    : -EIO;
	} else if (r == 0) {
		r = -ENOENT;
	}
	sqlite3_finalize(st);
	return r;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *text)
{
	if (text)
		sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static int run_row_insert(struct store *s, const struct run_record *run,
			  const struct run_result_text *result)
{
	sqlite3_stmt *st;
	int r = db_prepare(s->db,
				  "INSERT INTO runs (id, principal_id, language, dataset, session,"
				  " status, code, result, created_ms, duration_ms, result_from)"
				  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
				  &st);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, run->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, run->principal_id);
	sqlite3_bind_text(st, 3, run->language, -1, SQLITE_STATIC);
	bind_text_or_null(st, 4, run->dataset);
	bind_text_or_null(st, 5, run->session);
	sqlite3_bind_text(st, 6, run->status, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, run->code, -1, SQLITE_STATIC);
	bind_text_or_null(st, 8, result->text);
	sqlite3_bind_int64(st, 9, run->created_ms);
	sqlite3_bind_int64(st, 10, run->duration_ms);
	bind_text_or_null(st, 11, result->from[0] ? result->from : NULL);
	r = db_step(st);
	sqlite3_finalize(st);
	return r < 0 ? r : 0;
}

static int artifact_rows_insert(struct store *s, const char *run_id,
				const struct artifact_file *a, size_t n)
{
	sqlite3_stmt *st = NULL;
	char path[STORE_RUN_ID_LEN + STORE_ARTIFACT_NAME_MAX + 16];
	int r;

	if (n == 0)
		return 0;
	r = db_prepare(s->db,
			      "INSERT INTO artifacts (run_id, name, mime, bytes, path, content_run)"
			      " VALUES (?1, ?2, ?3, ?4, ?5, ?1)",
			      &st);
	for (size_t i = 0; i < n && r == 0; i++) {
		/* Kept for people reading the database; the code rebuilds the
		 * path from run id and name and never trusts this column. */
		snprintf(path, sizeof(path), "artifacts/%s/%s", run_id, a[i].name);
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, a[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, a[i].mime, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)a[i].bytes);
		sqlite3_bind_text(st, 5, path, -1, SQLITE_TRANSIENT);
		r = db_step(st);
		r = r < 0 ? r : 0;
	}
	sqlite3_finalize(st);
	return r;
}

json_t *store_key_audit_detail(const char *user, const char *team, enum store_role role,
			       bool principal_created)
{
	return json_pack("{s:s, s:s, s:s, s:b}", "user", user, "team", team, "role",
			 store_role_name(role), "principal_created", principal_created);
}

/* Whether run `from` exists with its files kept: -ENOENT, -ESTALE, 0. */
static int share_source_check(struct store *s, const char *from)
{
	sqlite3_stmt *st;
	int r = db_prepare(s->db, "SELECT files_expired_ms IS NOT NULL FROM runs WHERE id = ?1",
			   &st);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, from, -1, SQLITE_STATIC);
	r = db_step(st);
	if (r == 1)
		r = sqlite3_column_int(st, 0) ? -ESTALE : 0;
	else if (r == 0)
		r = -ENOENT;
	sqlite3_finalize(st);
	return r;
}

/* New rows for run_id referring to the bytes run `from`'s rows refer to. */
static int shared_rows_insert(struct store *s, const char *run_id, const char *from, size_t *ret_n)
{
	sqlite3_stmt *st;
	int r = share_source_check(s, from);

	if (r == 0)
		r = db_prepare(s->db,
			       "INSERT INTO artifacts (run_id, name, mime, bytes, path, content_run)"
			       " SELECT ?1, name, mime, bytes, path, content_run FROM artifacts"
			       " WHERE run_id = ?2",
			       &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, from, -1, SQLITE_STATIC);
	r = db_step(st);
	sqlite3_finalize(st);
	if (r < 0)
		return r;
	*ret_n = (size_t)sqlite3_changes(s->db);
	return 0;
}

/* The run with either its own artifacts (a, n) or those of `from`. */
static int run_insert_tx(struct store *s, const struct run_record *run,
			 const struct run_result_text *result,
			 const struct artifact_file *a, size_t n, const char *from)
{
	char user[STORE_NAME_MAX], team[STORE_NAME_MAX];
	json_t *detail;
	int r = principal_names(s, run->principal_id, user, team);

	if (r == 0)
		r = run_row_insert(s, run, result);
	if (r == 0)
		r = from ? shared_rows_insert(s, run->id, from, &n)
			 : artifact_rows_insert(s, run->id, a, n);
	if (r < 0)
		return r;
	detail = store_run_facts(run, team, result, n);
	if (!detail)
		return -ENOMEM;
	r = store_audit_append_tx(s, user, "run", run->id, detail);
	json_decref(detail);
	return r;
}

/* The transaction of an insert, on SQLite: files (if any) are written
 * before it. */
static int run_insert_commit(struct store *s, const struct run_record *run,
			     const struct run_result_text *result,
			     const struct artifact_file *a, size_t n, const char *from)
{
	int r;

	store_lock(s);
	/* This one commit skips its own fsync (see store.h): it survives
	 * the process dying at once, and the settle of the run's cost,
	 * a synchronous=FULL commit to the same WAL file right after,
	 * puts it on disk before the answer goes out. */
	r = db_exec(s->db, "PRAGMA synchronous = NORMAL");
	if (r == 0)
		r = store_tx_begin(s);
	if (r == 0)
		r = db_tx_end(s->db, run_insert_tx(s, run, result, a, n, from));
	store_audit_anchor_settle(s, r);
	if (db_exec(s->db, "PRAGMA synchronous = FULL") < 0 && r == 0)
		r = -EIO;
	store_unlock(s);
	return r;
}

static int result_text(const struct run_record *run, struct run_result_text *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (!run->result)
		return 0;
	ret->text = json_dumps(run->result, JSON_COMPACT | JSON_ENCODE_ANY);
	return ret->text ? 0 : -ENOMEM;
}

/* The answer run `from` stores whole, on SQLite: from's own, or (from is
 * itself answered from another run) that of the run from's patches. */
static int share_base_get(struct store *s, const char *from, char base_id[STORE_RUN_ID_LEN + 1],
			  json_t **ret)
{
	sqlite3_stmt *st;
	int r;

	store_lock(s);
	r = db_prepare(s->db,
		       "SELECT coalesce(r.result_from, r.id), coalesce(b.result, r.result)"
		       " FROM runs r LEFT JOIN runs b ON b.id = r.result_from WHERE r.id = ?1",
		       &st);
	if (r == 0) {
		sqlite3_bind_text(st, 1, from, -1, SQLITE_STATIC);
		r = db_step(st);
		if (r == 1) {
			const char *id = (const char *)sqlite3_column_text(st, 0);
			const char *text = (const char *)sqlite3_column_text(st, 1);

			snprintf(base_id, STORE_RUN_ID_LEN + 1, "%s", id ? id : "");
			*ret = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
			r = 0;
		} else if (r == 0) {
			r = -ENOENT;
		}
		sqlite3_finalize(st);
	}
	store_unlock(s);
	return r;
}

/* A shared run's answer as a patch over the answer it shares, when that
 * answer is there and a patch rebuilds this one exactly; else whole. */
static int shared_result_text(struct store *s, const struct run_record *run, const char *from,
			      struct run_result_text *ret)
{
	char base_id[STORE_RUN_ID_LEN + 1] = "";
	json_t *base = NULL, *patch;
	int r = s->pg ? store_pg_share_base_get(s, from, base_id, &base)
		      : share_base_get(s, from, base_id, &base);

	if (r < 0)
		return r;
	patch = base && run->result && store_run_id_valid(base_id)
			? store_result_patch(base, run->result) : NULL;
	json_decref(base);
	if (!patch)
		return result_text(run, ret);
	memset(ret, 0, sizeof(*ret));
	ret->text = json_dumps(patch, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(patch);
	if (!ret->text)
		return -ENOMEM;
	memcpy(ret->from, base_id, sizeof(ret->from));
	return 0;
}

int store_run_insert(struct store *s, const struct run_record *run,
		     const struct artifact_file *artifacts, size_t n_artifacts)
{
	struct run_result_text result;
	int r;

	if (!s || !run || !run_ok(run) || !artifacts_ok(artifacts, n_artifacts))
		return -EINVAL;
	if (result_text(run, &result) < 0)
		return -ENOMEM;
	if (s->pg) {
		r = store_pg_run_insert(s, run, &result, artifacts, n_artifacts, NULL);
		free(result.text);
		return r;
	}
	r = store_files_write(s, run->id, artifacts, n_artifacts);
	if (r == 0) {
		r = run_insert_commit(s, run, &result, artifacts, n_artifacts, NULL);
		if (r < 0)
			store_files_remove(s, run->id, artifacts, n_artifacts);
	}
	free(result.text);
	return r;
}

int store_run_insert_shared(struct store *s, const struct run_record *run, const char *from)
{
	struct run_result_text result;
	int r;

	if (!s || !run || !run_ok(run) || !store_run_id_valid(from) || strcmp(from, run->id) == 0)
		return -EINVAL;
	r = shared_result_text(s, run, from, &result);
	if (r < 0)
		return r;
	if (s->pg)
		r = store_pg_run_insert(s, run, &result, NULL, 0, from);
	else
		r = run_insert_commit(s, run, &result, NULL, 0, from);
	free(result.text);
	return r;
}
