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

#include "budget/budget.h"

/* Returns 0 (and how many runs it settled) or -errno with err filled. */
int budget_reconcile(struct budgets *b, const char *state_dir, size_t *ret_settled, char *err,
		     size_t err_len);

#endif
