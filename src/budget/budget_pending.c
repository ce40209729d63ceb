/*
 * budget_pending: releases and settlements that could not be written.
 *
 * Releasing a reservation is a write; when the state disk is full it
 * fails, and the run's worst case would stay reserved until the next
 * start sweeps it, shrinking a hard budget for nothing. So a release that
 * failed is remembered here (at most BUDGET_PENDING_MAX run ids; beyond
 * that the start-up sweep is the fallback) and tried again, each as its
 * own statement, before the next reservation, release or settlement:
 * once there is room again, no decision counts the dead run's money.
 *
 * On PostgreSQL the database can also go away around a commit, leaving
 * its outcome unknown. A reservation in that state is released (by run
 * id, which is idempotent) through the same list; a settlement is kept
 * whole (scopes, amount, time, detail) and tried again until it lands
 * (settling is at most once per run id, so a retry after a commit that
 * did land changes nothing). Until then the run stays live, so its lease
 * is renewed and its money stays held, and a release of that run id is a
 * no-op: the settlement will replace the reservation. Any other release
 * takes the run out of the renewed set at once, landed or not, so a
 * release that could not be kept (the list full) ends with its lease. The
 * renewer thread (budget_pg_lease.c) flushes both lists, so they land once
 * the database is back even without a request.
 *
 * Callers hold b->lock and have no transaction open: a retry inside a
 * reservation's transaction would be rolled back with a refusal. The
 * release list serves both back ends; only the statement differs.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "budget/budget_internal.h"
#include "util/banned.h"

static int release_one(struct budgets *b, const char *run_id)
{
	sqlite3_stmt *st;
	int r;

	if (b->pg) {
		r = budget_pg_release_locked(b->pg, run_id);
		if (r == 0)
			budget_pg_live_remove(b->pg, run_id);
		return r;
	}
	r = db_prepare(b->db, "DELETE FROM reservations WHERE run_id = ?1", &st);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
	return budget_sql_run(st);
}

void budget_pending_add_locked(struct budgets *b, const char *run_id)
{
	for (size_t i = 0; i < b->n_pending; i++)
		if (strcmp(b->pending[i], run_id) == 0)
			return;
	if (b->n_pending == BUDGET_PENDING_MAX)
		return;
	snprintf(b->pending[b->n_pending++], sizeof(b->pending[0]), "%s", run_id);
}

static bool settle_pending(const struct budgets *b, const char *run_id)
{
	for (size_t i = 0; i < b->n_settles; i++)
		if (strcmp(b->settles[i].run_id, run_id) == 0)
			return true;
	return false;
}

int budget_pending_settle_add_locked(struct budgets *b, const struct budget_entry *e,
				     const struct scope_list *list)
{
	struct budget_pending_settle *p;

	if (settle_pending(b, e->run_id))
		return 0;
	if (b->n_settles == BUDGET_PENDING_MAX)
		return -ENOMEM; /* the run's lease, not renewed, is the fallback */
	p = &b->settles[b->n_settles];
	p->detail = NULL;
	if (e->detail) {
		p->detail = strdup(e->detail);
		if (!p->detail)
			return -ENOMEM;
	}
	snprintf(p->run_id, sizeof(p->run_id), "%s", e->run_id);
	p->list = *list;
	p->amount_micros = e->amount_micros;
	p->at_ms = e->at_ms;
	b->n_settles++;
	return 0;
}

/* Tries the kept settlements again, in order; those that land leave the
 * list and their run's lease. */
static void settles_flush_locked(struct budgets *b)
{
	struct budget_status status[BUDGET_SCOPES_MAX];
	size_t kept = 0, n = 0;

	for (size_t i = 0; i < b->n_settles; i++) {
		struct budget_pending_settle *p = &b->settles[i];
		struct budget_entry e = { p->run_id, p->amount_micros, p->at_ms, p->detail };

		if (budget_pg_settle_locked(b->pg, &e, &p->list, status, &n) == 0) {
			budget_pg_live_remove(b->pg, p->run_id);
			free(p->detail);
			continue;
		}
		if (kept != i)
			b->settles[kept] = *p;
		kept++;
	}
	b->n_settles = kept;
}

void budget_pending_free(struct budgets *b)
{
	for (size_t i = 0; i < b->n_settles; i++)
		free(b->settles[i].detail);
	b->n_settles = 0;
}

void budget_pending_flush_locked(struct budgets *b)
{
	size_t kept = 0;

	if (b->pg)
		settles_flush_locked(b);

	for (size_t i = 0; i < b->n_pending; i++) {
		if (release_one(b, b->pending[i]) == 0)
			continue;
		if (kept != i)
			memcpy(b->pending[kept], b->pending[i], sizeof(b->pending[0]));
		kept++;
	}
	b->n_pending = kept;
}

int budget_release_locked(struct budgets *b, const char *run_id)
{
	int r;

	budget_pending_flush_locked(b);
	if (settle_pending(b, run_id))
		return 0; /* its settlement will replace the reservation */
	/* A released run needs no money, whether or not the delete lands:
	 * never renewed again, a reservation left behind (the list full, the
	 * database away) ends with its lease instead of living as long as
	 * this node. */
	if (b->pg)
		budget_pg_live_remove(b->pg, run_id);
	r = release_one(b, run_id);
	if (r < 0)
		budget_pending_add_locked(b, run_id);
	return r;
}
