/*
 * store_sql: the small SQLite plumbing every store file shares: the lock,
 * transactions, statements, error mapping and clocks.
 *
 * Invariant: store_tx_begin() is only called with s->lock held, and every
 * begun transaction is ended by db_tx_end() before the lock is released,
 * so the connection is never left inside a transaction between calls.
 */
#include <errno.h>
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
