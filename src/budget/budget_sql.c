/*
 * budget_sql: the SQLite plumbing every budget file shares: the lock,
 * transactions, statements, error mapping, clocks and text formats.
 *
 * Invariant: a transaction is only begun with b->lock held and always
 * ended by db_tx_end() before the lock is released, so the connection
 * is never left inside a transaction between calls.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "budget/budget_internal.h"
#include "util/banned.h"

void budget_lock(struct budgets *b)
{
	/* A default mutex only fails on misuse; there is nothing better to
	 * do than go on. */
	(void)pthread_mutex_lock(&b->lock);
}

void budget_unlock(struct budgets *b)
{
	(void)pthread_mutex_unlock(&b->lock);
}

int budget_sql_run(sqlite3_stmt *st)
{
	int r = db_step(st);

	sqlite3_finalize(st);
	return r > 0 ? -EIO : r;
}

int budget_tx_begin(sqlite3 *db)
{
	return db_exec(db, "BEGIN IMMEDIATE");
}

int budget_tx_read_begin(sqlite3 *db)
{
	return db_exec(db, "BEGIN DEFERRED");
}

void budget_money_format(uint64_t micros, char ret[BUDGET_MONEY_TEXT_MAX])
{
	snprintf(ret, BUDGET_MONEY_TEXT_MAX, "%" PRIu64 ".%06" PRIu64, micros / 1000000,
		 micros % 1000000);
}

uint64_t budget_add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}
