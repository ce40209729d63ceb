/*
 * admission: whether an analyze request may start now. Every request,
 * whether the cache answers it or a sandbox runs it, passes here first:
 * a rate limit and a limit of requests in progress per API key and per
 * user, and a limit of requests in progress on the whole server (which
 * bounds the server's memory whatever the number of keys). A refusal is
 * 429 with Retry-After; fresh runs then still meet the run queue
 * (LEDGERBOX_MAX_RUNS, LEDGERBOX_QUEUE_MAX) behind this.
 *
 * The state is in memory, per server process, in a table of fixed size:
 * an entry goes when it is idle (nothing in progress, bucket full), so the
 * table never grows with the number of keys seen.
 */
#ifndef LEDGERBOX_HTTP_ADMISSION_H
#define LEDGERBOX_HTTP_ADMISSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* What admission_enter() took, given back by admission_leave(). */
struct admission_ticket {
	bool held;
	uint32_t key_slot, user_slot;
};

/* Admits a request of the API key `key` (the bearer token as sent; only a
 * hash of it is kept) of principal `user_id`. true: *t holds the places
 * taken. false: *ret_retry_s is when to retry (at least 1) and why (a
 * sentence for the analyst) says which limit and its value. */
bool admission_enter(const struct config *cfg, const char *key, int64_t user_id,
		     struct admission_ticket *t, unsigned *ret_retry_s, char *why, size_t why_len);
/* Gives the places back; a ticket not held is ignored. */
void admission_leave(struct admission_ticket *t);

#endif
