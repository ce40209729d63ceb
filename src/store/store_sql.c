/*
 * store_sql: the small SQLite plumbing every store file shares: the lock,
 * transactions, statements, error mapping and clocks.
 *
 * Invariant: store_tx_begin() is only called with s->lock held, and every
 * begun transaction is ended by store_tx_end() before the lock is released,
 * so the connection is never left inside a transaction between calls.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store_internal.h"
#include "util/banned.h"

void store_lock(struct store *s)
{
	/* A default mutex only fails to lock on misuse (EDEADLK is not even
	 * reported for it); there is nothing sensible to do but go on. */
	(void)pthread_mutex_lock(&s->lock);
}

void store_unlock(struct store *s)
{
	(void)pthread_mutex_unlock(&s->lock);
}

int store_tx_begin(struct store *s)
{
	return db_exec(s->db, "BEGIN IMMEDIATE");
}

int store_tx_end(struct store *s, int r)
{
	if (r == 0) {
		r = db_exec(s->db, "COMMIT");
		if (r == 0)
			return 0;
	}
	/* After a failed COMMIT SQLite may already have rolled back; a
	 * second ROLLBACK then fails harmlessly. */
	if (!sqlite3_get_autocommit(s->db))
		(void)db_exec(s->db, "ROLLBACK");
	return r;
}

int store_sql_text_dup(sqlite3_stmt *st, int col, char **ret)
{
	const unsigned char *text = sqlite3_column_text(st, col);
	char *copy;

	if (!text) {
		if (sqlite3_column_type(st, col) != SQLITE_NULL)
			return -ENOMEM;
		*ret = NULL;
		return 0;
	}
	copy = strdup((const char *)text);
	if (!copy)
		return -ENOMEM;
	*ret = copy;
	return 0;
}

int64_t store_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void store_time_format(int64_t unix_ms, char ret[STORE_TIME_TEXT_MAX])
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
		snprintf(ret, STORE_TIME_TEXT_MAX, "1970-01-01T00:00:00.000Z");
		return;
	}
	snprintf(ret, STORE_TIME_TEXT_MAX, "%s.%03dZ", date, ms);
}

void store_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (!err || err_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}
