/*
 * reconcile: settles, at start, every recorded run that has no ledger entry.
 *
 * The server records a run and then settles its cost, in two transactions
 * (the run store and the budget ledger are separate parts). A crash between
 * them leaves a run on record without its spend; settling those from the
 * cost recorded with the run makes the ledger equal the runs on record again.
 */
#ifndef LEDGERBOX_RECONCILE_H
#define LEDGERBOX_RECONCILE_H

#include <stddef.h>
#include <stdint.h>

#include "budget/budget.h"

/* Returns 0 (and how many runs it settled) or -errno with err filled. The
 * runs are read from the store at state_dir, or in PostgreSQL when
 * database_url is a postgres:// URL (then state_dir is not used). */
int budget_reconcile(struct budgets *b, const char *state_dir, const char *database_url,
		     size_t *ret_settled, char *err, size_t err_len);

/* reconcile_pg.c: the same over the store's tables in PostgreSQL. */
int budget_reconcile_pg(struct budgets *b, const char *database_url, size_t *ret_settled,
			char *err, size_t err_len);
/* Settles one recorded run's cost now (shared by both). cost_json (may be
 * NULL) is the recorded cost object, components included, kept in the
 * entry's detail as a live settlement keeps it, so the entry can still be
 * rebuilt charge by charge. */
int budget_reconcile_one(struct budgets *b, const char *ledger_id, const char *team,
			 const char *user, const char *session, int64_t micros,
			 const char *cost_json);

#endif
