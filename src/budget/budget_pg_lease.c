/*
 * budget_pg_lease: the leases of the runs this node reserved on
 * PostgreSQL, and the thread that keeps them.
 *
 * A reservation counts only until its expires_at, on the database's clock
 * (node clocks may disagree; the database's is one for all). It is made
 * to last the run's deadline plus the lease, and while the run lives (it
 * is in the live set: reserved here, neither settled nor released) or its
 * settlement waits for the database (budget_pending.c), the renewer pushes
 * it to at least now + lease + 2 * RENEW_EVERY every RENEW_EVERY (a sixth
 * of the lease). The two intervals are the margin that makes an outage
 * shorter than the lease safe: the last renewal before it came at most one
 * interval before it began, and the first after it comes at most one
 * interval after it ended; were the push only now + lease, an outage of
 * two thirds of the lease could end a live run's lease, and another node
 * could take its money before this one renews. So:
 *  - a node that dies stops renewing, and its reservations end at most
 *    the lease after its runs' deadlines or a third more than the lease
 *    after its last renewal, whichever is later (its runs died with it);
 *  - a database restart ends no session-bound state: leases go on as
 *    stored, and the node renews them as soon as it is back;
 *  - a reservation whose outcome is unknown (the reply to its COMMIT was
 *    lost) is not in the live set, so it is never renewed: the pending
 *    release removes it once the database is back, the lease otherwise.
 *
 * The renewer also retries the pending releases and settlements, so they
 * land once the database is back even when no request comes, and sweeps.
 * It runs with b->lock held, like every other user of the connection.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "budget/budget_pg.h"
#include "util/banned.h"

/* How often the renewer runs, and so the margin a renewal adds. */
#define RENEW_EVERY(lease_ms) ((lease_ms) / 6)

/* Room for one quoted run id and its comma in the array literal. */
#define LIVE_ITEM_TEXT (BUDGET_RUN_ID_MAX + 1)

int budget_pg_live_add(struct budget_pg *pg, const char *run_id)
{
	if (budget_pg_live_has(pg, run_id))
		return 0;
	if (pg->n_live == pg->cap_live) {
		size_t cap = pg->cap_live ? pg->cap_live * 2 : 64;
		char(*grown)[BUDGET_RUN_ID_MAX + 1];

		if (cap > BUDGET_PG_LIVE_MAX)
			return -ENOMEM;
		grown = realloc(pg->live, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		pg->live = grown;
		pg->cap_live = cap;
	}
	snprintf(pg->live[pg->n_live++], sizeof(pg->live[0]), "%s", run_id);
	return 0;
}

void budget_pg_live_remove(struct budget_pg *pg, const char *run_id)
{
	for (size_t i = 0; i < pg->n_live; i++) {
		if (strcmp(pg->live[i], run_id) != 0)
			continue;
		/* Order does not matter: the last one takes the hole. */
		pg->n_live--;
		if (i != pg->n_live)
			memcpy(pg->live[i], pg->live[pg->n_live], sizeof(pg->live[0]));
		return;
	}
}

bool budget_pg_live_has(const struct budget_pg *pg, const char *run_id)
{
	for (size_t i = 0; i < pg->n_live; i++)
		if (strcmp(pg->live[i], run_id) == 0)
			return true;
	return false;
}

void budget_pg_live_free(struct budget_pg *pg)
{
	free(pg->live);
	pg->live = NULL;
	pg->n_live = pg->cap_live = 0;
}

/* The live run ids as a PostgreSQL array literal, {a,b,c}: run ids are
 * [A-Za-z0-9._-], which need no quoting there. */
static char *live_array_text(const struct budget_pg *pg)
{
	size_t len = 3 + pg->n_live * LIVE_ITEM_TEXT, at = 0;
	char *text = malloc(len);

	if (!text)
		return NULL;
	text[at++] = '{';
	for (size_t i = 0; i < pg->n_live; i++)
		at += (size_t)snprintf(text + at, len - at, "%s%s", i ? "," : "", pg->live[i]);
	snprintf(text + at, len - at, "}");
	return text;
}

int budget_pg_renew(struct budget_pg *pg)
{
	char lease_text[PG_INT_TEXT];
	const char *params[2];
	char *ids;
	int r;

	if (pg->n_live == 0)
		return 0;
	ids = live_array_text(pg);
	if (!ids)
		return -ENOMEM;
	params[0] = ids;
	params[1] = pg_i64_text((int64_t)(pg->lease_ms + 2 * RENEW_EVERY(pg->lease_ms)), lease_text);
	/* GREATEST: a renewal never shortens the first lease, which covers
	 * the run's whole deadline. */
	r = budget_pg_query(pg,
			    "UPDATE reservations SET expires_at = GREATEST(expires_at,"
			    " now() + $2::bigint * interval '1 millisecond')"
			    " WHERE run_id = ANY($1::text[])",
			    2, params, NULL);
	free(ids);
	return r;
}

static void renew_tick_locked(struct budgets *b)
{
	budget_pending_flush_locked(b);
	if (budget_pg_ensure(b->pg) == 0)
		(void)budget_pg_renew(b->pg);
	budget_pg_sweep_maybe(b->pg);
}

static void deadline_after(struct timespec *ts, uint64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void *renewer_main(void *arg)
{
	struct budgets *b = arg;
	struct timespec due;

	budget_lock(b);
	while (!b->renewer_stop) {
		deadline_after(&due, RENEW_EVERY(b->pg->lease_ms));
		while (!b->renewer_stop &&
		       pthread_cond_timedwait(&b->wake, &b->lock, &due) != ETIMEDOUT)
			;
		if (!b->renewer_stop)
			renew_tick_locked(b);
	}
	budget_unlock(b);
	return NULL;
}

void budget_lease_renewer_start_locked(struct budgets *b)
{
	pthread_condattr_t attr;

	if (b->renewer_started || !b->pg)
		return;
	if (!b->wake_ready) {
		if (pthread_condattr_init(&attr) != 0)
			return;
		/* Monotonic: a step of the wall clock must not stall renewals. */
		if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
		    pthread_cond_init(&b->wake, &attr) == 0)
			b->wake_ready = true;
		pthread_condattr_destroy(&attr);
		if (!b->wake_ready)
			return;
	}
	b->renewer_stop = false;
	b->renewer_started = pthread_create(&b->renewer, NULL, renewer_main, b) == 0;
}

void budget_lease_renewer_stop(struct budgets *b)
{
	budget_lock(b);
	b->renewer_stop = true;
	if (b->wake_ready)
		pthread_cond_broadcast(&b->wake);
	budget_unlock(b);
	if (b->renewer_started)
		pthread_join(b->renewer, NULL);
	b->renewer_started = false;
	if (b->wake_ready)
		pthread_cond_destroy(&b->wake);
	b->wake_ready = false;
}

void budget_lease_set(struct budgets *b, uint64_t lease_ms)
{
	if (!b || !b->pg)
		return;
	budget_lock(b);
	b->pg->lease_ms = lease_ms < BUDGET_LEASE_MIN_MS ? BUDGET_LEASE_MIN_MS : lease_ms;
	budget_unlock(b);
}
