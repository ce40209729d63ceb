/*
 * breaker: a circuit breaker in front of one back end (the LLM service, a
 * trace collector, ...), so that a back end that keeps failing is given a
 * rest instead of being hammered, and callers fail fast meanwhile.
 *
 * States:
 *   closed     calls go ahead. It opens after failure_threshold consecutive
 *              failures, or when the sliding window (the last window_calls
 *              outcomes) holds at least min_calls outcomes of which at least
 *              failure_rate_percent failed.
 *   open       calls are refused (-EAGAIN, rejected_total counts them) until
 *              open_until_ms; then it is half-open.
 *   half_open  at most half_open_max_calls trial calls are outstanding at
 *              once. half_open_successes successful trials close it (the
 *              window and streak are cleared, the cool-down goes back to
 *              cooldown_ms); one failed trial re-opens it with the cool-down
 *              doubled, capped at cooldown_max_ms. A trial not reported by
 *              its acquire time + trial_timeout_ms is a failure (at that
 *              deadline) as soon as any call notices it, so the breaker can
 *              never stay half-open with every slot held forever.
 *
 * Every change of state starts a new epoch. Outcomes of calls admitted in an
 * earlier epoch still enter the window and the failure streak (and can open
 * a closed breaker), but only trials of the current half-open epoch close or
 * re-open it. A ticket is reported once: a second report, a ticket the
 * breaker never gave, or a trial already counted as timed out is ignored.
 * The breaker remembers the last BREAKER_TICKETS_TRACKED tickets; a call
 * still outstanding after that many newer calls were admitted is forgotten
 * and its report ignored (this keeps memory fixed when callers leak tickets).
 *
 * Time is passed in by the caller (any monotonic milliseconds), so tests
 * need no sleeping; a time older than one the breaker has already seen
 * counts as that one, so racing callers cannot move it backwards. Every
 * function is safe from any thread: one mutex guards each breaker.
 */
#ifndef LEDGERBOX_BREAKER_H
#define LEDGERBOX_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

/* Longest breaker name, in bytes. */
#define BREAKER_NAME_MAX 64
/* Largest sliding window and largest trial settings a config may ask for. */
#define BREAKER_WINDOW_MAX 10000
#define BREAKER_TRIALS_MAX 100
/* Tickets remembered for reporting (see above). */
#define BREAKER_TICKETS_TRACKED 1024

enum breaker_state { BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN };

struct breaker_config {
	unsigned failure_threshold;    /* consecutive failures that open it (>= 1) */
	unsigned window_calls;         /* sliding window: the last N outcomes (min_calls..BREAKER_WINDOW_MAX) */
	unsigned min_calls;            /* the rate rule needs at least this many outcomes (>= 1) */
	unsigned failure_rate_percent; /* open when failures/outcomes in the window >= this (1..100) */
	uint64_t cooldown_ms;          /* open -> half-open after this (>= 1) */
	uint64_t cooldown_max_ms;      /* the doubled cool-down is capped here (>= cooldown_ms) */
	unsigned half_open_max_calls;  /* trials outstanding at once while half-open (1..BREAKER_TRIALS_MAX) */
	unsigned half_open_successes;  /* successful trials that close it (1..BREAKER_TRIALS_MAX) */
	uint64_t trial_timeout_ms;     /* a trial not reported within this is a failure (>= 1) */
};

struct breaker;

/* Creates a closed breaker. name: 1..BREAKER_NAME_MAX bytes, copied.
 * Returns 0, -EINVAL (bad name or config) or -ENOMEM. */
int breaker_new(const char *name, const struct breaker_config *cfg, struct breaker **ret);
/* Accepts NULL. No other thread may be using the breaker. */
void breaker_free(struct breaker *b);

/* Asks to make a call at now_ms. Returns 0: go ahead, and *ret_ticket
 * identifies the call for breaker_report (never 0). Returns -EAGAIN when
 * refused (open, or half-open with every trial slot taken);
 * *ret_retry_after_ms (may be NULL) then gets the time until a trial may be
 * admitted at the latest (>= 1). */
int breaker_acquire(struct breaker *b, uint64_t now_ms, uint64_t *ret_ticket,
		    uint64_t *ret_retry_after_ms);

/* Reports the outcome of an acquired call; a timeout is a failure
 * (success=false). See above for stale, repeated and unknown tickets. */
void breaker_report(struct breaker *b, uint64_t ticket, bool success, uint64_t now_ms);

struct breaker_snapshot {
	enum breaker_state state;
	unsigned consecutive_failures;
	unsigned window_calls, window_failures; /* outcomes now in the window */
	unsigned trials_outstanding;            /* trials admitted and not yet resolved */
	uint64_t open_until_ms;                 /* 0 unless open */
	uint64_t current_cooldown_ms;           /* the cool-down the next opening uses */
	uint64_t opened_total, rejected_total, trial_timeouts_total;
};

/* Fills *ret as of now_ms, first carrying out the transitions time brings
 * (open -> half-open, expired trials -> failure). */
void breaker_snapshot(struct breaker *b, uint64_t now_ms, struct breaker_snapshot *ret);

const char *breaker_name(const struct breaker *b);
/* "closed", "open" or "half_open" ("unknown" for anything else). */
const char *breaker_state_name(enum breaker_state s);

/* {"name", "state", "consecutiveFailures", "windowCalls", "windowFailures",
 *  "retryAfterMs" (0 unless open), "cooldownMs", "openedTotal",
 *  "rejectedTotal", "trialTimeoutsTotal"} as of now_ms; a new reference, or
 * NULL when out of memory. */
json_t *breaker_to_json(struct breaker *b, uint64_t now_ms);

#endif
