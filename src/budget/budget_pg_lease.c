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
 * The renewer renews on a session of its own and takes only live_lock
 * (never held across a query), so a budget call of this node that waits
 * for another node's write lock, holding b->lock for up to
 * BUDGET_BUSY_TIMEOUT_MS, cannot hold renewals back past a short lease.
 * When b->lock is free it also retries the pending releases and
 * settlements, so they land once the database is back even when no
 * request comes, and sweeps.
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

static bool live_has_locked(const struct budget_pg *pg, const char *run_id)
{
	for (size_t i = 0; i < pg->n_live; i++)
		if (strcmp(pg->live[i], run_id) == 0)
			return true;
	return false;
}

static int live_add_locked(struct budget_pg *pg, const char *run_id)
{
	if (live_has_locked(pg, run_id))
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

int budget_pg_live_add(struct budget_pg *pg, const char *run_id)
{
	int r;

	pthread_mutex_lock(&pg->live_lock);
	r = live_add_locked(pg, run_id);
	pthread_mutex_unlock(&pg->live_lock);
	return r;
}

void budget_pg_live_remove(struct budget_pg *pg, const char *run_id)
{
	pthread_mutex_lock(&pg->live_lock);
	for (size_t i = 0; i < pg->n_live; i++) {
		if (strcmp(pg->live[i], run_id) != 0)
			continue;
		/* Order does not matter: the last one takes the hole. */
		pg->n_live--;
		if (i != pg->n_live)
			memcpy(pg->live[i], pg->live[pg->n_live], sizeof(pg->live[0]));
		break;
	}
	pthread_mutex_unlock(&pg->live_lock);
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

/* What a renewal needs, copied under live_lock: the ids (*ret_ids stays
 * NULL when there are none) and how far to push. */
static int renew_args(struct budget_pg *pg, char lease_text[PG_INT_TEXT], char **ret_ids)
{
	int r = 0;

	pthread_mutex_lock(&pg->live_lock);
	if (pg->n_live) {
		*ret_ids = live_array_text(pg);
		if (!*ret_ids)
			r = -ENOMEM;
	}
	pg_i64_text((int64_t)(pg->lease_ms + 2 * RENEW_EVERY(pg->lease_ms)), lease_text);
	pthread_mutex_unlock(&pg->live_lock);
	return r;
}

int budget_pg_renew(struct budget_pg *pg, PGconn *conn)
{
	char lease_text[PG_INT_TEXT];
	const char *params[2];
	char *ids = NULL;
	int r = renew_args(pg, lease_text, &ids);

	if (r < 0 || !ids)
		return r;
	params[0] = ids;
	params[1] = lease_text;
	/* GREATEST: a renewal never shortens the first lease, which covers
	 * the run's whole deadline. */
	r = pg_query(conn,
		     "UPDATE reservations SET expires_at = GREATEST(expires_at,"
		     " now() + $2::bigint * interval '1 millisecond')"
		     " WHERE run_id = ANY($1::text[])",
		     2, params, NULL, NULL, 0);
	free(ids);
	return r;
}

/* The renewer's own session, so that no budget call of this node (one
 * waiting for another node's write lock holds b->lock up to
 * BUDGET_BUSY_TIMEOUT_MS) can hold renewals back. */
static PGconn *renew_session(struct budget_pg *pg)
{
	char err[200];

	if (!pg->renew_conn && pg_connect(pg->url, &pg->renew_conn, err, sizeof(err)) < 0)
		return NULL;
	return pg_ensure(pg->renew_conn) < 0 ? NULL : pg->renew_conn;
}

/* Renews first, on the own session; the pending lists and the sweep need
 * the node's connection, so they wait for a tick that finds it free. */
static void renew_tick(struct budgets *b)
{
	PGconn *conn = renew_session(b->pg);

	if (conn)
		(void)budget_pg_renew(b->pg, conn);
	if (pthread_mutex_trylock(&b->lock) != 0)
		return;
	budget_pending_flush_locked(b);
	budget_pg_sweep_maybe(b->pg);
	budget_unlock(b);
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
	struct budget_pg *pg = b->pg;
	struct timespec due;

	pthread_mutex_lock(&pg->live_lock);
	while (!b->renewer_stop) {
		deadline_after(&due, RENEW_EVERY(pg->lease_ms));
		while (!b->renewer_stop &&
		       pthread_cond_timedwait(&b->wake, &pg->live_lock, &due) != ETIMEDOUT)
			;
		if (b->renewer_stop)
			break;
		pthread_mutex_unlock(&pg->live_lock);
		renew_tick(b);
		pthread_mutex_lock(&pg->live_lock);
	}
	pthread_mutex_unlock(&pg->live_lock);
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
	if (!b->pg)
		return;
	pthread_mutex_lock(&b->pg->live_lock);
	b->renewer_stop = true;
	if (b->wake_ready)
		pthread_cond_broadcast(&b->wake);
	pthread_mutex_unlock(&b->pg->live_lock);
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
	/* Both locks: reservations read it under b->lock, the renewer under
	 * live_lock. */
	budget_lock(b);
	pthread_mutex_lock(&b->pg->live_lock);
	b->pg->lease_ms = lease_ms < BUDGET_LEASE_MIN_MS ? BUDGET_LEASE_MIN_MS : lease_ms;
	pthread_mutex_unlock(&b->pg->live_lock);
	budget_unlock(b);
}
