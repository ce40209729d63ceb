/*
 * store_runs_query: reading runs and their artifacts back, with the
 * visibility rule applied in SQL.
 *
 * The rule: an analyst sees only runs of their own principal; an admin
 * sees every run. A run the viewer may not see is reported exactly like a
 * run that does not exist (-ENOENT, same code path, same query), so the
 * API cannot be used to learn which run ids exist. Malformed run ids are
 * -ENOENT too: they come from URLs and cannot name a run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "store/store_pg.h"
#include "util/banned.h"

#define LIST_LIMIT_MAX 500

static bool viewer_ok(const struct principal *viewer)
{
	return viewer && viewer->id > 0 && (viewer->role == ROLE_ANALYST || viewer->role == ROLE_ADMIN);
}

static void bind_viewer(sqlite3_stmt *st, int first, const struct principal *viewer)
{
	sqlite3_bind_int(st, first, viewer->role == ROLE_ADMIN);
	sqlite3_bind_int64(st, first + 1, viewer->id);
}

static int record_fill(sqlite3_stmt *st, struct run_record *run)
{
	char *texts[6] = { NULL };
	const char *id, *result;
	int r = 0;

	/* Columns 2..7: user, language, dataset, session, status, code. */
	for (int i = 0; i < 6 && r == 0; i++)
		r = store_sql_text_dup(st, 2 + i, &texts[i]);
	run->user = texts[0];
	run->language = texts[1];
	run->dataset = texts[2];
	run->session = texts[3];
	run->status = texts[4];
	run->code = texts[5];
	id = (const char *)sqlite3_column_text(st, 0);
	if (r == 0 && !id)
		r = -ENOMEM;
	snprintf(run->id, sizeof(run->id), "%s", id ? id : "");
	run->principal_id = sqlite3_column_int64(st, 1);
	result = (const char *)sqlite3_column_text(st, 8);
	if (r == 0 && result) {
		run->result = json_loads(result, JSON_DECODE_ANY, NULL);
		if (!run->result)
			r = -EIO;
	}
	run->created_ms = sqlite3_column_int64(st, 9);
	run->duration_ms = sqlite3_column_int64(st, 10);
	run->files_expired_ms = sqlite3_column_int64(st, 11);
	if (r == 0 && run->result && sqlite3_column_type(st, 12) != SQLITE_NULL)
		r = store_run_result_whole(run, (const char *)sqlite3_column_text(st, 12));
	return r;
}

int store_run_get(struct store *s, const struct principal *viewer, const char *id,
		  struct run_record *ret)
{
	struct run_record run = { 0 };
	sqlite3_stmt *st;
	int r;

	if (!s || !viewer_ok(viewer) || !ret)
		return -EINVAL;
	if (!store_run_id_valid(id))
		return -ENOENT;
	if (s->pg)
		return store_pg_run_get(s, viewer, id, ret);
	store_lock(s);
	r = db_prepare(s->db,
			      "SELECT r.id, r.principal_id, p.user, r.language, r.dataset, r.session,"
			      " r.status, r.code, r.result, r.created_ms, r.duration_ms,"
			      " r.files_expired_ms, b.result"
			      " FROM runs r JOIN principals p ON p.id = r.principal_id"
			      " LEFT JOIN runs b ON b.id = r.result_from"
			      " WHERE r.id = ?1 AND (?2 OR r.principal_id = ?3)",
			      &st);
	if (r == 0) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		bind_viewer(st, 2, viewer);
		r = db_step(st);
		r = r == 1 ? record_fill(st, &run) : r == 0 ? -ENOENT : r;
		sqlite3_finalize(st);
	}
	store_unlock(s);
	if (r < 0) {
		store_run_record_release(&run);
		return r;
	}
	*ret = run;
	return 0;
}

void store_run_record_release(struct run_record *run)
{
	if (!run)
		return;
	free((char *)run->user);
	free((char *)run->language);
	free((char *)run->dataset);
	free((char *)run->session);
	free((char *)run->status);
	free((char *)run->code);
	json_decref(run->result);
	memset(run, 0, sizeof(*run));
}

static const char *const list_where[] = {
	[STORE_LIST_OWN] = "r.principal_id = ?1",
	[STORE_LIST_USER] = "p.user = ?1",
	[STORE_LIST_ALL] = "?1 IS NULL",
};

static int list_prepare(struct store *s, enum store_list_shape shape, bool count,
			sqlite3_stmt **ret)
{
	char sql[512];

	if (count)
		snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM runs r JOIN principals p ON p.id = r.principal_id"
			 " WHERE %s",
			 list_where[shape]);
	else
		snprintf(sql, sizeof(sql),
			 "SELECT r.id, p.user, r.language, r.dataset, r.status, r.created_ms,"
			 " r.duration_ms FROM runs r JOIN principals p ON p.id = r.principal_id"
			 " WHERE %s ORDER BY r.created_ms DESC, r.rowid DESC LIMIT ?2 OFFSET ?3",
			 list_where[shape]);
	return db_prepare(s->db, sql, ret);
}

static void list_bind(sqlite3_stmt *st, enum store_list_shape shape, const struct principal *viewer,
		      const char *user)
{
	if (shape == STORE_LIST_OWN)
		sqlite3_bind_int64(st, 1, viewer->id);
	else if (shape == STORE_LIST_USER)
		sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 1);
}

static json_t *list_row(sqlite3_stmt *st)
{
	char created[CLOCK_TEXT_MAX];
	const char *dataset = (const char *)sqlite3_column_text(st, 3);

	clock_format(sqlite3_column_int64(st, 5), created);
	return json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s, s:I}", "id", sqlite3_column_text(st, 0),
			 "user", sqlite3_column_text(st, 1), "language", sqlite3_column_text(st, 2),
			 "dataset", dataset, "status", sqlite3_column_text(st, 4), "created_at",
			 created, "duration_ms", (json_int_t)sqlite3_column_int64(st, 6));
}

static int list_rows(struct store *s, enum store_list_shape shape, const struct principal *viewer,
		     const char *user, int limit, int offset, json_t *array)
{
	sqlite3_stmt *st;
	int r = list_prepare(s, shape, false, &st);

	if (r < 0)
		return r;
	list_bind(st, shape, viewer, user);
	sqlite3_bind_int(st, 2, limit);
	sqlite3_bind_int(st, 3, offset);
	while ((r = db_step(st)) == 1) {
		json_t *row = list_row(st);
		if (!row || json_array_append_new(array, row) < 0) {
			r = -ENOMEM;
			break;
		}
	}
	sqlite3_finalize(st);
	return r;
}

static int list_total(struct store *s, enum store_list_shape shape, const struct principal *viewer,
		      const char *user, int64_t *ret)
{
	sqlite3_stmt *st;
	int r = list_prepare(s, shape, true, &st);

	if (r < 0)
		return r;
	list_bind(st, shape, viewer, user);
	r = db_step(st);
	if (r == 1)
		*ret = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return r == 1 ? 0 : r < 0 ? r : -EIO;
}

static int list_query(struct store *s, enum store_list_shape shape, const struct principal *viewer,
		      const char *user, int limit, int offset, json_t *array, int64_t *total)
{
	int r;

	if (s->pg)
		return store_pg_runs_list(s, shape, viewer, user, limit, offset, array, total);
	store_lock(s);
	/* One read transaction: the page and the total come from the same
	 * snapshot even if another process is inserting. */
	r = db_exec(s->db, "BEGIN");
	if (r == 0) {
		r = list_rows(s, shape, viewer, user, limit, offset, array);
		if (r == 0)
			r = list_total(s, shape, viewer, user, total);
		r = db_tx_end(s->db, r);
	}
	store_unlock(s);
	return r;
}

int store_runs_list(struct store *s, const struct principal *viewer, const char *user,
		    int limit, int offset, json_t **ret_array, int64_t *ret_total)
{
	enum store_list_shape shape = STORE_LIST_ALL;
	int64_t total = 0;
	json_t *array;
	int r;

	if (!s || !viewer_ok(viewer) || limit < 1 || limit > LIST_LIMIT_MAX || offset < 0 ||
	    !ret_array || !ret_total)
		return -EINVAL;
	array = json_array();
	if (!array)
		return -ENOMEM;
	if (viewer->role == ROLE_ANALYST)
		shape = STORE_LIST_OWN;
	else if (user)
		shape = STORE_LIST_USER;
	/* An analyst asking for someone else's runs sees none, as if that
	 * user had none. */
	if (shape == STORE_LIST_OWN && user && strcmp(user, viewer->user) != 0)
		r = 0;
	else
		r = list_query(s, shape, viewer, user, limit, offset, array, &total);
	if (r < 0) {
		json_decref(array);
		return r;
	}
	*ret_array = array;
	*ret_total = total;
	return 0;
}

/* The artifact's row and the run that holds its bytes (content_run): the
 * run itself, or for a cache hit the run the answer came from. A visible
 * run whose files expired is -ESTALE whatever the name. */
static int artifact_row(struct store *s, const struct principal *viewer, const char *run_id,
			const char *name, char *mime, size_t mime_len, uint64_t *bytes,
			char content_run[STORE_RUN_ID_LEN + 1])
{
	sqlite3_stmt *st;
	int r = db_prepare(s->db,
				  "SELECT r.files_expired_ms IS NOT NULL, a.mime, a.bytes, a.content_run"
				  " FROM runs r LEFT JOIN artifacts a ON a.run_id = r.id AND a.name = ?2"
				  " WHERE r.id = ?1 AND (?3 OR r.principal_id = ?4)",
				  &st);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	bind_viewer(st, 3, viewer);
	r = db_step(st);
	if (r == 1 && sqlite3_column_int(st, 0)) {
		r = -ESTALE;
	} else if (r == 1 && sqlite3_column_type(st, 1) == SQLITE_NULL) {
		r = -ENOENT;
	} else if (r == 1) {
		const char *m = (const char *)sqlite3_column_text(st, 1);
		const char *c = (const char *)sqlite3_column_text(st, 3);
		r = m && (size_t)snprintf(mime, mime_len, "%s", m) < mime_len ? 0 : -ERANGE;
		*bytes = (uint64_t)sqlite3_column_int64(st, 2);
		if (r == 0 && !store_run_id_valid(c))
			r = -EIO;
		if (r == 0)
			snprintf(content_run, STORE_RUN_ID_LEN + 1, "%s", c);
	} else if (r == 0) {
		r = -ENOENT;
	}
	sqlite3_finalize(st);
	return r;
}

int store_artifact_open(struct store *s, const struct principal *viewer, const char *run_id,
			const char *name, int *ret_fd, char *ret_mime, size_t mime_len,
			uint64_t *ret_bytes)
{
	char mime[STORE_MIME_MAX], content_run[STORE_RUN_ID_LEN + 1];
	uint64_t row_bytes = 0, file_bytes = 0;
	int fd = -1, r;

	if (!s || !viewer_ok(viewer) || !name || !ret_fd || !ret_mime || mime_len == 0 ||
	    !ret_bytes)
		return -EINVAL;
	if (!store_run_id_valid(run_id) || !store_artifact_name_valid(name))
		return -ENOENT;
	if (s->pg)
		return store_pg_artifact_open(s, viewer, run_id, name, ret_fd, ret_mime, mime_len,
					      ret_bytes);
	store_lock(s);
	r = artifact_row(s, viewer, run_id, name, mime, sizeof(mime), &row_bytes, content_run);
	store_unlock(s);
	if (r == 0 && strlen(mime) >= mime_len)
		r = -ERANGE;
	if (r == 0) {
		r = store_files_open(s, content_run, name, &fd, &file_bytes);
		/* Retention may have removed the file since the row was read:
		 * then the run now says so, and the answer is that it expired. */
		if (r == -ENOENT) {
			store_lock(s);
			r = artifact_row(s, viewer, run_id, name, mime, sizeof(mime), &row_bytes,
					 content_run);
			store_unlock(s);
			r = r == -ESTALE ? -ESTALE : -ENOENT;
		}
		/* The row exists, so a missing file, or one that is not what
		 * was stored (truncated, replaced), is a damaged store and
		 * must not look like a missing artifact or be served. */
		if (r == -ENOENT || (r == 0 && file_bytes != row_bytes))
			r = -EIO;
	}
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	snprintf(ret_mime, mime_len, "%s", mime);
	*ret_fd = fd;
	*ret_bytes = file_bytes;
	return 0;
}
