/*
 * store_retention: shared artifact bytes and how they go away.
 *
 * An artifact row refers to the bytes it serves by (content_run, name):
 * a run that wrote its artifacts refers to its own (they live in
 * STATE_DIR/artifacts/<run id>/, or in its row's data on PostgreSQL); a
 * run answered from the cache refers to the run the answer came from, and
 * stores nothing of its own. The rows are the reference count: bytes are
 * removed when no row refers to them any more.
 *
 * Expiring a run (retention) marks it (runs.files_expired_ms) and deletes
 * its rows, except the rows that hold bytes a newer run still refers to:
 * those stay, unserved (the run is marked), until the last referring run
 * expires too; each expiry then collects the holding rows nobody refers
 * to. The run row and its audit entry always stay, so its answer can
 * still be read and its history checked.
 *
 * On SQLite the files are unlinked after the transaction commits: a crash
 * in between leaves files no row names (never served, never counted),
 * rather than a row whose file is gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "store/store_pg.h"
#include "util/banned.h"

/* The steps of one batch, marked with its time (?1), in this order:
 * mark the runs; delete the rows holding bytes that only this batch's
 * runs refer to, looking only at the runs just marked and at the runs
 * their rows refer to (every step uses an index, however many runs have
 * expired before); then delete this batch's references. A reference from
 * a run expired earlier was deleted by that batch, so only references
 * from runs still kept can hold bytes. store_pg_retention.c has the
 * same steps. */
static const char store_sql_expire_mark[] =
	"UPDATE runs SET files_expired_ms = ?1 WHERE id IN (SELECT id FROM runs"
	" WHERE files_expired_ms IS NULL AND created_ms < ?2 ORDER BY created_ms LIMIT ?3)";
static const char store_sql_expire_holders[] =
	"DELETE FROM artifacts AS h WHERE h.content_run = h.run_id"
	" AND h.run_id IN (SELECT id FROM runs WHERE files_expired_ms = ?1"
	" UNION SELECT a.content_run FROM artifacts a JOIN runs e ON e.id = a.run_id"
	" WHERE e.files_expired_ms = ?1)"
	" AND EXISTS (SELECT 1 FROM runs x WHERE x.id = h.run_id AND x.files_expired_ms IS NOT NULL)"
	" AND NOT EXISTS (SELECT 1 FROM artifacts b JOIN runs k ON k.id = b.run_id"
	" WHERE b.content_run = h.run_id AND b.name = h.name AND b.run_id <> h.run_id"
	" AND k.files_expired_ms IS NULL)"
	" RETURNING run_id, name";
static const char store_sql_expire_refs[] =
	"DELETE FROM artifacts WHERE content_run <> run_id"
	" AND run_id IN (SELECT id FROM runs WHERE files_expired_ms = ?1)";
static const char store_sql_team_bytes[] =
	"SELECT COALESCE(SUM(a.bytes), 0) FROM artifacts a JOIN runs r ON r.id = a.run_id"
	" JOIN principals p ON p.id = r.principal_id"
	" WHERE p.team = ?1 AND a.content_run = a.run_id";

/* The files to unlink once the transaction is committed. */
struct gone {
	char (*run)[STORE_RUN_ID_LEN + 1];
	char (*name)[STORE_ARTIFACT_NAME_MAX + 1];
	size_t n, cap;
};

static int gone_add(struct gone *g, const char *run, const char *name)
{
	if (!store_run_id_valid(run) || !store_artifact_name_valid(name))
		return 0; /* never a path built from a bad value */
	if (g->n == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 64;
		void *r = realloc(g->run, cap * sizeof(*g->run));
		if (!r)
			return -ENOMEM;
		g->run = r;
		r = realloc(g->name, cap * sizeof(*g->name));
		if (!r)
			return -ENOMEM;
		g->name = r;
		g->cap = cap;
	}
	snprintf(g->run[g->n], sizeof(g->run[g->n]), "%s", run);
	snprintf(g->name[g->n], sizeof(g->name[g->n]), "%s", name);
	g->n++;
	return 0;
}

static void gone_unlink(struct store *s, struct gone *g)
{
	for (size_t i = 0; i < g->n; i++) {
		int dir_fd = openat(s->artifacts_fd, g->run[i],
				    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dir_fd < 0)
			continue;
		(void)unlinkat(dir_fd, g->name[i], 0);
		close(dir_fd);
		/* Fails while other files of the run are still held: fine. */
		(void)unlinkat(s->artifacts_fd, g->run[i], AT_REMOVEDIR);
	}
	free(g->run);
	free(g->name);
}

static int expire_tx(struct store *s, int64_t now_ms, int64_t cutoff_ms, int limit,
		     int *ret_runs, struct gone *g)
{
	sqlite3_stmt *st;
	int r = db_prepare(s->db, store_sql_expire_mark, &st);

	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int64(st, 2, cutoff_ms);
	sqlite3_bind_int(st, 3, limit);
	r = db_step(st);
	sqlite3_finalize(st);
	if (r < 0)
		return r;
	*ret_runs = sqlite3_changes(s->db);
	r = db_prepare(s->db, store_sql_expire_holders, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, now_ms);
	while ((r = db_step(st)) == 1)
		if (gone_add(g, (const char *)sqlite3_column_text(st, 0),
			     (const char *)sqlite3_column_text(st, 1)) < 0) {
			r = -ENOMEM;
			break;
		}
	sqlite3_finalize(st);
	if (r < 0)
		return r;
	r = db_prepare(s->db, store_sql_expire_refs, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 1, now_ms);
	r = db_step(st);
	sqlite3_finalize(st);
	return r < 0 ? r : 0;
}

int store_runs_expire(struct store *s, int64_t cutoff_ms, int limit, int *ret_runs)
{
	struct gone g = { 0 };
	int64_t now_ms = clock_unix_ms();
	int runs = 0, r;

	if (!s || limit < 1 || !ret_runs)
		return -EINVAL;
	if (s->pg)
		return store_pg_runs_expire(s, now_ms, cutoff_ms, limit, ret_runs);
	store_lock(s);
	r = store_tx_begin(s);
	if (r == 0)
		r = db_tx_end(s->db, expire_tx(s, now_ms, cutoff_ms, limit, &runs, &g));
	store_unlock(s);
	if (r < 0)
		g.n = 0; /* rolled back: every row still refers to its file */
	gone_unlink(s, &g);
	if (r < 0)
		return r;
	*ret_runs = runs;
	return 0;
}

int store_team_artifact_bytes(struct store *s, const char *team, uint64_t *ret)
{
	sqlite3_stmt *st;
	int r;

	if (!s || !team || !ret)
		return -EINVAL;
	if (s->pg)
		return store_pg_team_artifact_bytes(s, team, ret);
	store_lock(s);
	r = db_prepare(s->db, store_sql_team_bytes, &st);
	if (r == 0) {
		sqlite3_bind_text(st, 1, team, -1, SQLITE_STATIC);
		r = db_step(st);
		if (r == 1)
			*ret = (uint64_t)sqlite3_column_int64(st, 0);
		r = r == 1 ? 0 : r < 0 ? r : -EIO;
		sqlite3_finalize(st);
	}
	store_unlock(s);
	return r;
}
