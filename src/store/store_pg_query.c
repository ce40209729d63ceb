/*
 * store_pg_query: reading runs and their artifacts back from PostgreSQL,
 * with the same visibility rule as store_runs_query.c, applied in SQL: an
 * analyst sees only their own runs, an admin every run, and a run the
 * viewer may not see is -ENOENT exactly like a missing one.
 *
 * An artifact comes back as a descriptor, as with SQLite, but its bytes
 * are in the database: they are copied, a few MiB at a time, into a file
 * without a name in STATE_DIR (a sealed memfd where the file system has no
 * O_TMPFILE) and handed out through a read-only descriptor of it, so the
 * server never holds a whole artifact in memory to serve it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "store/store_pg.h"
#include "util/banned.h"

#define ARTIFACT_CHUNK ((uint64_t)4 << 20)

#define VIEWER_PARAMS(viewer, id_text) (viewer)->role == ROLE_ADMIN ? "true" : "false", \
	pg_i64_text((viewer)->id, id_text)

static int record_fill(const PGresult *res, struct run_record *run)
{
	char *texts[6] = { NULL };
	const char *result;
	int r = 0;

	/* Columns 2..7: user, language, dataset, session, status, code. */
	for (int i = 0; i < 6 && r == 0; i++)
		r = pg_get_text_dup(res, 0, 2 + i, &texts[i]);
	run->user = texts[0];
	run->language = texts[1];
	run->dataset = texts[2];
	run->session = texts[3];
	run->status = texts[4];
	run->code = texts[5];
	snprintf(run->id, sizeof(run->id), "%s", PQgetvalue(res, 0, 0));
	if (r == 0 && (pg_get_i64(res, 0, 1, &run->principal_id) < 0 ||
		       pg_get_i64(res, 0, 9, &run->created_ms) < 0 ||
		       pg_get_i64(res, 0, 10, &run->duration_ms) < 0 ||
		       (!PQgetisnull(res, 0, 11) && pg_get_i64(res, 0, 11, &run->files_expired_ms) < 0)))
		r = -EIO;
	result = PQgetisnull(res, 0, 8) ? NULL : PQgetvalue(res, 0, 8);
	if (r == 0 && result) {
		run->result = json_loads(result, JSON_DECODE_ANY, NULL);
		if (!run->result)
			r = -EIO;
	}
	if (r == 0 && run->result && !PQgetisnull(res, 0, 12))
		r = store_run_result_whole(run, PQgetvalue(res, 0, 12));
	return r;
}

int store_pg_run_get(struct store *s, const struct principal *viewer, const char *id,
		     struct run_record *ret)
{
	char viewer_id[PG_INT_TEXT];
	const char *params[3] = { id, VIEWER_PARAMS(viewer, viewer_id) };
	struct run_record run = { 0 };
	PGresult *res;
	int r = store_pg_lock(s);

	if (r < 0)
		return r;
	r = store_pg_query(s,
		     "SELECT r.id, r.principal_id, p.user_name, r.language, r.dataset, r.session,"
		     " r.status, r.code, r.result, r.created_ms, r.duration_ms, r.files_expired_ms,"
		     " b.result"
		     " FROM runs r JOIN principals p ON p.id = r.principal_id"
		     " LEFT JOIN runs b ON b.id = r.result_from"
		     " WHERE r.id = $1 AND ($2::boolean OR r.principal_id = $3)",
		     3, params, &res, NULL, 0);
	store_unlock(s);
	if (r < 0)
		return r;
	r = PQntuples(res) == 1 ? record_fill(res, &run) : -ENOENT;
	PQclear(res);
	if (r < 0) {
		store_run_record_release(&run);
		return r;
	}
	*ret = run;
	return 0;
}

static const char *const list_where[] = {
	[STORE_LIST_OWN] = "r.principal_id = $1::bigint",
	[STORE_LIST_USER] = "p.user_name = $1::text",
	[STORE_LIST_ALL] = "$1::text IS NULL",
};

static json_t *list_row(const PGresult *res, int row)
{
	char created[CLOCK_TEXT_MAX];
	int64_t created_ms, duration_ms;

	if (pg_get_i64(res, row, 5, &created_ms) < 0 || pg_get_i64(res, row, 6, &duration_ms) < 0)
		return NULL;
	clock_format(created_ms, created);
	return json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s, s:I}", "id", PQgetvalue(res, row, 0),
			 "user", PQgetvalue(res, row, 1), "language", PQgetvalue(res, row, 2),
			 "dataset", PQgetisnull(res, row, 3) ? NULL : PQgetvalue(res, row, 3),
			 "status", PQgetvalue(res, row, 4), "created_at", created, "duration_ms",
			 (json_int_t)duration_ms);
}

static int list_rows(struct store *s, enum store_list_shape shape, const char *const params[3],
		     json_t *array)
{
	char sql[512];
	PGresult *res = NULL;
	int r;

	snprintf(sql, sizeof(sql),
		 "SELECT r.id, p.user_name, r.language, r.dataset, r.status, r.created_ms,"
		 " r.duration_ms FROM runs r JOIN principals p ON p.id = r.principal_id"
		 " WHERE %s ORDER BY r.created_ms DESC, r.seq DESC LIMIT $2 OFFSET $3",
		 list_where[shape]);
	r = store_pg_query(s, sql, 3, params, &res, NULL, 0);
	for (int i = 0; r == 0 && i < PQntuples(res); i++) {
		json_t *row = list_row(res, i);
		if (!row || json_array_append_new(array, row) < 0)
			r = -ENOMEM;
	}
	PQclear(res);
	return r;
}

static int list_total(struct store *s, enum store_list_shape shape, const char *const params[1],
		      int64_t *ret)
{
	char sql[256];
	PGresult *res;
	int r;

	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM runs r JOIN principals p ON p.id = r.principal_id WHERE %s",
		 list_where[shape]);
	r = store_pg_query(s, sql, 1, params, &res, NULL, 0);
	if (r < 0)
		return r;
	r = PQntuples(res) == 1 && pg_get_i64(res, 0, 0, ret) == 0 ? 0 : -EIO;
	PQclear(res);
	return r;
}

int store_pg_runs_list(struct store *s, enum store_list_shape shape,
		       const struct principal *viewer, const char *user, int limit, int offset,
		       json_t *array, int64_t *ret_total)
{
	char who[PG_INT_TEXT], lim[PG_INT_TEXT], off[PG_INT_TEXT];
	const char *params[3] = { shape == STORE_LIST_OWN  ? pg_i64_text(viewer->id, who)
				  : shape == STORE_LIST_USER ? user
							     : NULL,
				  pg_i64_text(limit, lim), pg_i64_text(offset, off) };
	int r = store_pg_lock(s);

	if (r < 0)
		return r;
	/* One snapshot for the page and the total, even while other nodes
	 * insert. */
	r = store_pg_query(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, NULL, NULL, 0);
	if (r == 0) {
		r = list_rows(s, shape, params, array);
		if (r == 0)
			r = list_total(s, shape, params, ret_total);
		r = pg_tx_end(s->pg, r);
	}
	store_unlock(s);
	return r;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Where an artifact's bytes are put to be served: a file without a name
 * in STATE_DIR (disk, not the server's memory), or a memfd where the file
 * system has no O_TMPFILE. */
static int spill_create(struct store *s, int *ret_fd)
{
	int fd = openat(s->dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL))
		fd = memfd_create("ledgerbox-artifact", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

/* The filled spill, read from offset 0 through a read-only descriptor
 * (or, without /proc, a sealed memfd: no write, grow or shrink can
 * follow). Takes fd. */
static int spill_finish(int fd, int *ret_fd)
{
	char path[48];
	bool sealed = fcntl(fd, F_ADD_SEALS,
			    F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) == 0;
	int ro;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	if (ro >= 0) {
		close(fd);
		fd = ro;
	} else if (!sealed) {
		close(fd);
		return -EIO; /* never hand out a writable descriptor */
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return -errno;
	}
	*ret_fd = fd;
	return 0;
}

/* The row's facts, in text: expired ("t"/"f"), mime, bytes, and the
 * length of the bytes it refers to. mime is NULL when the run has no such
 * artifact; the length NULL when the bytes are missing (a damaged store). */
static int artifact_facts(const PGresult *res, char *ret_mime, size_t mime_len,
			  uint64_t *ret_bytes)
{
	const char *mime = PQgetvalue(res, 0, 1);
	uint64_t bytes, held;

	if (PQgetvalue(res, 0, 0)[0] == 't')
		return -ESTALE;
	if (PQgetisnull(res, 0, 1))
		return -ENOENT;
	if (strlen(mime) >= STORE_MIME_MAX)
		return -EIO;
	if (strlen(mime) >= mime_len)
		return -ERANGE;
	/* The row says how many bytes were stored: anything else is a
	 * damaged store, never served. */
	if (pg_get_u64(res, 0, 2, &bytes) < 0 || pg_get_u64(res, 0, 3, &held) < 0 ||
	    bytes != held)
		return -EIO;
	snprintf(ret_mime, mime_len, "%s", mime);
	*ret_bytes = bytes;
	return 0;
}

/* Copies the bytes, ARTIFACT_CHUNK at a time, into fd: at most one chunk
 * is in memory, whatever the artifact's size. */
static int artifact_copy(struct store *s, const char *run_id, const char *name, uint64_t bytes,
			 int fd)
{
	char from[PG_INT_TEXT], count[PG_INT_TEXT];
	const char *params[4] = { run_id, name, from, count };
	int r = 0;

	for (uint64_t off = 0; off < bytes && r == 0; off += ARTIFACT_CHUNK) {
		uint64_t want = bytes - off < ARTIFACT_CHUNK ? bytes - off : ARTIFACT_CHUNK;
		PGresult *res;

		pg_i64_text((int64_t)off + 1, from); /* substring counts from 1 */
		pg_i64_text((int64_t)want, count);
		r = store_pg_query_bin(s->pg,
				       "SELECT substring(h.data FROM $3::integer FOR $4::integer)"
				       " FROM artifacts a JOIN artifacts h"
				       " ON h.run_id = a.content_run AND h.name = a.name"
				       " WHERE a.run_id = $1 AND a.name = $2",
				       4, params, NULL, NULL, true, &res);
		if (r < 0)
			return r;
		if (PQntuples(res) != 1 || (uint64_t)PQgetlength(res, 0, 0) != want)
			r = -EIO;
		else
			r = write_all(fd, PQgetvalue(res, 0, 0), (size_t)want);
		PQclear(res);
	}
	return r;
}

/* In one snapshot, so a retention sweep on another node cannot remove the
 * bytes half-way through the copy. */
static int artifact_open_tx(struct store *s, const char *const params[4], int fd,
			    char *ret_mime, size_t mime_len, uint64_t *ret_bytes)
{
	PGresult *res;
	int r = store_pg_query(s,
			 "SELECT CASE WHEN r.files_expired_ms IS NULL THEN 'f' ELSE 't' END,"
			 " a.mime, a.bytes, octet_length(h.data) FROM runs r"
			 " LEFT JOIN artifacts a ON a.run_id = r.id AND a.name = $2"
			 " LEFT JOIN artifacts h ON h.run_id = a.content_run AND h.name = a.name"
			 " WHERE r.id = $1 AND ($3::boolean OR r.principal_id = $4)",
			 4, params, &res, NULL, 0);

	if (r < 0)
		return r;
	r = PQntuples(res) == 1 ? artifact_facts(res, ret_mime, mime_len, ret_bytes) : -ENOENT;
	PQclear(res);
	if (r == 0)
		r = artifact_copy(s, params[0], params[1], *ret_bytes, fd);
	return r;
}

int store_pg_artifact_open(struct store *s, const struct principal *viewer, const char *run_id,
			   const char *name, int *ret_fd, char *ret_mime, size_t mime_len,
			   uint64_t *ret_bytes)
{
	char viewer_id[PG_INT_TEXT], mime[STORE_MIME_MAX];
	const char *params[4] = { run_id, name, VIEWER_PARAMS(viewer, viewer_id) };
	uint64_t bytes = 0;
	int fd = -1, r = spill_create(s, &fd);

	if (r < 0)
		return r;
	r = store_pg_lock(s);
	if (r == 0) {
		r = store_pg_query(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, NULL, NULL, 0);
		if (r == 0)
			r = pg_tx_end(s->pg, artifact_open_tx(s, params, fd, mime,
							      mime_len < sizeof(mime) ? mime_len
										 : sizeof(mime),
							      &bytes));
		store_unlock(s);
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	r = spill_finish(fd, ret_fd);
	if (r < 0)
		return r;
	snprintf(ret_mime, mime_len, "%s", mime);
	*ret_bytes = bytes;
	return 0;
}
