/*
 * budget_sql: the SQLite plumbing every budget file shares: the lock,
 * transactions, statements, error mapping, clocks and text formats.
 *
 * Invariant: a transaction is only begun with b->lock held and always
 * ended by budget_tx_end() before the lock is released, so the connection
 * is never left inside a transaction between calls.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
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

int budget_tx_end(sqlite3 *db, int r)
{
	if (r == 0) {
		r = db_exec(db, "COMMIT");
		if (r == 0)
			return 0;
	}
	/* After a failed COMMIT SQLite may already have rolled back. */
	if (!sqlite3_get_autocommit(db))
		(void)db_exec(db, "ROLLBACK");
	return r;
}

int64_t budget_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void budget_time_format(int64_t unix_ms, char ret[BUDGET_TIME_TEXT_MAX])
{
	time_t secs = (time_t)(unix_ms / 1000);
	int ms = (int)(unix_ms % 1000);
	struct tm tm;
	char date[24];

	if (ms < 0) {
		ms += 1000;
		secs--;
	}
	if (!gmtime_r(&secs, &tm) || strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(ret, BUDGET_TIME_TEXT_MAX, "1970-01-01T00:00:00.000Z");
		return;
	}
	snprintf(ret, BUDGET_TIME_TEXT_MAX, "%s.%03dZ", date, ms);
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

void budget_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (!err || err_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}
