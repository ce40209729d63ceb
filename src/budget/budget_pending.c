/*
 * budget_pending: releases that could not be written.
 *
 * Releasing a reservation is a write; when the state disk is full it
 * fails, and the run's worst case would stay reserved until the next
 * start sweeps it, shrinking a hard budget for nothing. So a release that
 * failed is remembered here (at most BUDGET_PENDING_MAX run ids; beyond
 * that the start-up sweep is the fallback) and tried again, each as its
 * own statement, before the next reservation, release or settlement:
 * once there is room again, no decision counts the dead run's money.
 *
 * Callers hold b->lock and have no transaction open: a retry inside a
 * reservation's transaction would be rolled back with a refusal. The list
 * serves both back ends; only the statement differs.
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

	if (b->pg)
		return budget_pg_release_locked(b->pg, run_id);
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

void budget_pending_flush_locked(struct budgets *b)
{
	size_t kept = 0;

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
	r = release_one(b, run_id);
	if (r < 0)
		budget_pending_add_locked(b, run_id);
	return r;
}
