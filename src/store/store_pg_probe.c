/*
 * store_pg_probe: store_probe_run()'s PostgreSQL part. The store's own
 * connection is used (reconnecting a lost one, as every call does), so the
 * answer is about the connection the node serves with; reading the key
 * pepper's fingerprint is the query that proves the database answers, and
 * sets the flag that stops keys being served when the peppers differ.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/store_pg.h"
#include "store/store_probe.h"
#include "util/banned.h"

static void unreachable(struct store_probe *ret, const char *why)
{
	size_t n;

	snprintf(ret->database_detail, sizeof(ret->database_detail),
		 "PostgreSQL (LEDGERBOX_DATABASE_URL) does not answer: %s", why);
	/* libpq's messages end in a newline. */
	n = strlen(ret->database_detail);
	while (n && (ret->database_detail[n - 1] == '\n' || ret->database_detail[n - 1] == ' '))
		ret->database_detail[--n] = '\0';
	snprintf(ret->database_detail + n, sizeof(ret->database_detail) - n,
		 "; check that it runs and is reachable from this node");
}

void store_pg_probe(struct store *s, struct store_probe *ret)
{
	char why[200] = "";
	int r = store_pg_lock(s);

	if (r < 0) {
		unreachable(ret, strerror(-r));
		return;
	}
	r = store_pg_pepper_verify_locked(s, why, sizeof(why));
	store_unlock(s);
	ret->database_reachable = r == 0 || r == -EKEYREJECTED;
	ret->pepper_matches = r != -EKEYREJECTED;
	if (!ret->database_reachable)
		unreachable(ret, why[0] ? why : strerror(-r));
	if (!ret->pepper_matches)
		snprintf(ret->pepper_detail, sizeof(ret->pepper_detail),
			 "the key pepper does not match the database: STATE_DIR/key-pepper is not "
			 "the pepper the API keys in PostgreSQL were made with; copy it from a node "
			 "that serves them (mode 0600) and restart this one");
}
