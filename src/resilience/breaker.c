/*
 * breaker: see breaker.h. One mutex per breaker guards all of its state.
 *
 * Invariants:
 * - Tickets are numbered from 1 and remembered in a ring indexed by
 *   ticket % BREAKER_TICKETS_TRACKED; a slot holds the ticket it was issued
 *   for until the ticket is reported, expires as a trial or is overwritten
 *   by the ticket BREAKER_TICKETS_TRACKED later. A report is honoured only
 *   when its slot still holds it, so each ticket counts at most once.
 * - A trial of the current epoch is never overwritten: one half-open epoch
 *   admits fewer than half_open_successes + half_open_max_calls
 *   (<= 2 * BREAKER_TRIALS_MAX < BREAKER_TICKETS_TRACKED) trials before its
 *   state changes.
 * - trials[] lists exactly the outstanding trials of the current epoch; it
 *   is emptied whenever the state changes, which is what makes a trial of
 *   an older epoch stale.
 * - Time only moves forward inside the breaker: a now_ms older than one
 *   already seen is treated as that one, so a caller that read the clock
 *   before taking the lock cannot undo a transition.
 */
#include "resilience/breaker.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

struct ticket_slot {
	uint64_t ticket; /* 0: free */
	uint64_t epoch;
	bool trial;
};

struct trial {
	uint64_t ticket;
	uint64_t deadline_ms;
};

struct breaker {
	pthread_mutex_t lock;
	char name[BREAKER_NAME_MAX + 1];
	struct breaker_config cfg;
	enum breaker_state state;
	uint64_t epoch;
	uint64_t last_ticket;
	uint64_t now_ms; /* the latest time seen */
	/* The sliding window: a ring of outcomes (1 = failure). */
	unsigned char *window;
	unsigned window_next, window_count, window_failures;
	unsigned consecutive_failures;
	uint64_t open_until_ms;
	uint64_t cooldown_ms;
	struct trial trials[BREAKER_TRIALS_MAX];
	unsigned n_trials;
	unsigned trial_successes;
	uint64_t opened_total, rejected_total, trial_timeouts_total;
	struct ticket_slot tickets[BREAKER_TICKETS_TRACKED];
};

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static bool config_valid(const struct breaker_config *c)
{
	return c->failure_threshold >= 1 && c->min_calls >= 1 && c->window_calls >= c->min_calls &&
	       c->window_calls <= BREAKER_WINDOW_MAX && c->failure_rate_percent >= 1 &&
	       c->failure_rate_percent <= 100 && c->cooldown_ms >= 1 &&
	       c->cooldown_max_ms >= c->cooldown_ms && c->half_open_max_calls >= 1 &&
	       c->half_open_max_calls <= BREAKER_TRIALS_MAX && c->half_open_successes >= 1 &&
	       c->half_open_successes <= BREAKER_TRIALS_MAX && c->trial_timeout_ms >= 1;
}

int breaker_new(const char *name, const struct breaker_config *cfg, struct breaker **ret)
{
	struct breaker *b;
	size_t name_len;

	if (!name || !cfg || !ret || !config_valid(cfg))
		return -EINVAL;
	name_len = strlen(name);
	if (name_len == 0 || name_len > BREAKER_NAME_MAX)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->window = calloc(cfg->window_calls, 1);
	if (!b->window) {
		free(b);
		return -ENOMEM;
	}
	if (pthread_mutex_init(&b->lock, NULL) != 0) {
		free(b->window);
		free(b);
		return -ENOMEM;
	}
	memcpy(b->name, name, name_len + 1);
	b->cfg = *cfg;
	b->state = BREAKER_CLOSED;
	b->cooldown_ms = cfg->cooldown_ms;
	*ret = b;
	return 0;
}

void breaker_free(struct breaker *b)
{
	if (!b)
		return;
	pthread_mutex_destroy(&b->lock);
	free(b->window);
	free(b);
}

const char *breaker_name(const struct breaker *b)
{
	return b ? b->name : "";
}

const char *breaker_state_name(enum breaker_state s)
{
	switch (s) {
	case BREAKER_CLOSED:
		return "closed";
	case BREAKER_OPEN:
		return "open";
	case BREAKER_HALF_OPEN:
		return "half_open";
	}
	return "unknown";
}

/* ---- outcomes ---------------------------------------------------------- */

static void window_push(struct breaker *b, bool failure)
{
	unsigned size = b->cfg.window_calls;

	if (b->window_count == size)
		b->window_failures -= b->window[b->window_next];
	else
		b->window_count++;
	b->window[b->window_next] = failure;
	b->window_failures += failure;
	b->window_next = (b->window_next + 1) % size;
}

static void window_clear(struct breaker *b)
{
	memset(b->window, 0, b->cfg.window_calls);
	b->window_next = b->window_count = b->window_failures = 0;
}

static void outcome_count(struct breaker *b, bool success)
{
	window_push(b, !success);
	if (success)
		b->consecutive_failures = 0;
	else if (b->consecutive_failures < UINT_MAX)
		b->consecutive_failures++;
}

static bool closed_should_open(const struct breaker *b)
{
	if (b->consecutive_failures >= b->cfg.failure_threshold)
		return true;
	return b->window_count >= b->cfg.min_calls &&
	       (uint64_t)b->window_failures * 100 >=
		       (uint64_t)b->cfg.failure_rate_percent * b->window_count;
}

/* ---- transitions ------------------------------------------------------- */

static void state_set(struct breaker *b, enum breaker_state s)
{
	b->state = s;
	b->epoch++;
	b->n_trials = 0;
	b->trial_successes = 0;
}

static void open_at(struct breaker *b, uint64_t at_ms)
{
	state_set(b, BREAKER_OPEN);
	b->open_until_ms = add_sat(at_ms, b->cooldown_ms);
	b->opened_total++;
}

/* A trial failed: rest longer this time. */
static void reopen_at(struct breaker *b, uint64_t at_ms)
{
	uint64_t max = b->cfg.cooldown_max_ms;

	b->cooldown_ms = b->cooldown_ms > max / 2 ? max : b->cooldown_ms * 2;
	open_at(b, at_ms);
}

static void close_now(struct breaker *b)
{
	state_set(b, BREAKER_CLOSED);
	window_clear(b);
	b->consecutive_failures = 0;
	b->cooldown_ms = b->cfg.cooldown_ms;
	b->open_until_ms = 0;
}

static void ticket_forget(struct breaker *b, uint64_t ticket)
{
	struct ticket_slot *slot = &b->tickets[ticket % BREAKER_TICKETS_TRACKED];

	if (slot->ticket == ticket)
		slot->ticket = 0;
}

static void trial_remove(struct breaker *b, unsigned i)
{
	b->trials[i] = b->trials[--b->n_trials];
}

/* Index of the trial with the earliest deadline; only when n_trials > 0. */
static unsigned trial_earliest(const struct breaker *b)
{
	unsigned best = 0;

	for (unsigned i = 1; i < b->n_trials; i++)
		if (b->trials[i].deadline_ms < b->trials[best].deadline_ms)
			best = i;
	return best;
}

/* Carries out what time alone brings, as of b->now_ms. Each pass either
 * leaves the loop or moves an open breaker's end past a trial deadline that
 * is not later than now, so the loop ends. */
static void advance(struct breaker *b, uint64_t now_ms)
{
	if (now_ms > b->now_ms)
		b->now_ms = now_ms;
	for (;;) {
		if (b->state == BREAKER_OPEN && b->now_ms >= b->open_until_ms) {
			state_set(b, BREAKER_HALF_OPEN);
			b->open_until_ms = 0;
		} else if (b->state == BREAKER_HALF_OPEN && b->n_trials > 0) {
			unsigned i = trial_earliest(b);
			struct trial t = b->trials[i];

			if (t.deadline_ms > b->now_ms)
				return;
			trial_remove(b, i);
			ticket_forget(b, t.ticket);
			b->trial_timeouts_total++;
			outcome_count(b, false);
			reopen_at(b, t.deadline_ms);
		} else {
			return;
		}
	}
}

/* ---- calls ------------------------------------------------------------- */

static uint64_t ticket_issue(struct breaker *b, bool trial)
{
	uint64_t ticket = ++b->last_ticket;
	struct ticket_slot *slot = &b->tickets[ticket % BREAKER_TICKETS_TRACKED];

	slot->ticket = ticket;
	slot->epoch = b->epoch;
	slot->trial = trial;
	if (trial) {
		b->trials[b->n_trials].ticket = ticket;
		b->trials[b->n_trials].deadline_ms = add_sat(b->now_ms, b->cfg.trial_timeout_ms);
		b->n_trials++;
	}
	return ticket;
}

/* 0 and a ticket, or -EAGAIN and how long until a trial may be admitted. */
static int acquire_locked(struct breaker *b, uint64_t *ret_ticket, uint64_t *ret_wait_ms)
{
	uint64_t until;

	switch (b->state) {
	case BREAKER_CLOSED:
		*ret_ticket = ticket_issue(b, false);
		return 0;
	case BREAKER_HALF_OPEN:
		if (b->n_trials < b->cfg.half_open_max_calls) {
			*ret_ticket = ticket_issue(b, true);
			return 0;
		}
		/* advance() expired every trial due by now, so this is later. */
		until = b->trials[trial_earliest(b)].deadline_ms;
		break;
	case BREAKER_OPEN:
	default:
		until = b->open_until_ms;
		break;
	}
	b->rejected_total++;
	*ret_wait_ms = until > b->now_ms ? until - b->now_ms : 1;
	return -EAGAIN;
}

int breaker_acquire(struct breaker *b, uint64_t now_ms, uint64_t *ret_ticket,
		    uint64_t *ret_retry_after_ms)
{
	uint64_t ticket = 0, wait_ms = 0;
	int r;

	if (!b || !ret_ticket)
		return -EINVAL;
	pthread_mutex_lock(&b->lock);
	advance(b, now_ms);
	r = acquire_locked(b, &ticket, &wait_ms);
	pthread_mutex_unlock(&b->lock);
	if (r == 0)
		*ret_ticket = ticket;
	else if (ret_retry_after_ms)
		*ret_retry_after_ms = wait_ms;
	return r;
}

static bool trial_take(struct breaker *b, uint64_t ticket)
{
	for (unsigned i = 0; i < b->n_trials; i++) {
		if (b->trials[i].ticket == ticket) {
			trial_remove(b, i);
			return true;
		}
	}
	return false;
}

static void report_locked(struct breaker *b, uint64_t ticket, bool success)
{
	struct ticket_slot *slot = &b->tickets[ticket % BREAKER_TICKETS_TRACKED];
	bool current_trial;

	if (ticket == 0 || slot->ticket != ticket)
		return;
	slot->ticket = 0;
	current_trial = slot->trial && slot->epoch == b->epoch && b->state == BREAKER_HALF_OPEN &&
			trial_take(b, ticket);
	outcome_count(b, success);
	if (current_trial) {
		if (!success)
			reopen_at(b, b->now_ms);
		else if (++b->trial_successes >= b->cfg.half_open_successes)
			close_now(b);
	} else if (b->state == BREAKER_CLOSED && closed_should_open(b)) {
		open_at(b, b->now_ms);
	}
}

void breaker_report(struct breaker *b, uint64_t ticket, bool success, uint64_t now_ms)
{
	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	advance(b, now_ms);
	report_locked(b, ticket, success);
	pthread_mutex_unlock(&b->lock);
}

/* ---- views ------------------------------------------------------------- */

static void snapshot_locked(const struct breaker *b, struct breaker_snapshot *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->state = b->state;
	ret->consecutive_failures = b->consecutive_failures;
	ret->window_calls = b->window_count;
	ret->window_failures = b->window_failures;
	ret->trials_outstanding = b->state == BREAKER_HALF_OPEN ? b->n_trials : 0;
	ret->open_until_ms = b->state == BREAKER_OPEN ? b->open_until_ms : 0;
	ret->current_cooldown_ms = b->cooldown_ms;
	ret->opened_total = b->opened_total;
	ret->rejected_total = b->rejected_total;
	ret->trial_timeouts_total = b->trial_timeouts_total;
}

void breaker_snapshot(struct breaker *b, uint64_t now_ms, struct breaker_snapshot *ret)
{
	if (!b || !ret)
		return;
	pthread_mutex_lock(&b->lock);
	advance(b, now_ms);
	snapshot_locked(b, ret);
	pthread_mutex_unlock(&b->lock);
}

/* JSON integers are signed 64-bit; nothing here gets near that, but clamp. */
static json_int_t json_u64(uint64_t v)
{
	return v > (uint64_t)LLONG_MAX ? LLONG_MAX : (json_int_t)v;
}

json_t *breaker_to_json(struct breaker *b, uint64_t now_ms)
{
	struct breaker_snapshot s;
	uint64_t now;

	if (!b)
		return NULL;
	pthread_mutex_lock(&b->lock);
	advance(b, now_ms);
	snapshot_locked(b, &s);
	now = b->now_ms;
	pthread_mutex_unlock(&b->lock);
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "name", b->name,
			 "state", breaker_state_name(s.state), "consecutiveFailures",
			 json_u64(s.consecutive_failures), "windowCalls", json_u64(s.window_calls),
			 "windowFailures", json_u64(s.window_failures), "retryAfterMs",
			 json_u64(s.open_until_ms > now ? s.open_until_ms - now : 0), "cooldownMs",
			 json_u64(s.current_cooldown_ms), "openedTotal", json_u64(s.opened_total),
			 "rejectedTotal", json_u64(s.rejected_total), "trialTimeoutsTotal",
			 json_u64(s.trial_timeouts_total));
}
