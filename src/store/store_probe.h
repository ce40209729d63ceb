/*
 * store_probe: whether the store can serve right now, for /readyz.
 *
 * Three answers, each with a sentence for the operator when it fails:
 * the state directory takes a small write (a probe file, written, synced
 * and removed), the database answers a write (SQLite) or a query on the
 * store's own connection, reconnecting a lost one (PostgreSQL), and this
 * node's key pepper is the one the database's keys were made with
 * (PostgreSQL, where the database records the pepper's fingerprint; with
 * SQLite the pepper lives beside the database and is checked at open).
 *
 * A probe does real I/O: the caller rate-limits it (http/ready.c).
 */
#ifndef LEDGERBOX_STORE_PROBE_H
#define LEDGERBOX_STORE_PROBE_H

#include <stdbool.h>

#include "store/store.h"

#define STORE_PROBE_DETAIL_MAX 256

struct store_probe {
	bool state_writable;
	bool database_reachable;
	bool pepper_matches; /* true when not checked (database unreachable, SQLite) */
	char state_detail[STORE_PROBE_DETAIL_MAX];
	char database_detail[STORE_PROBE_DETAIL_MAX];
	char pepper_detail[STORE_PROBE_DETAIL_MAX];
};

/* Runs the three checks; never fails itself (every failure is an answer). */
void store_probe_run(struct store *s, struct store_probe *ret);

#endif
