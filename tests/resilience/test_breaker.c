/*
 * Tests of src/resilience/breaker: every transition (streak and rate rules,
 * open -> half-open -> closed or re-opened), cool-down growth and its cap,
 * the trial limit, trial timeouts, stale, repeated and unknown tickets, the
 * JSON view, refused configs, and concurrent callers that must never get
 * more trials than the limit.
 *
 * Time is injected, so nothing sleeps: T0 is an arbitrary start.
 */
#include "testlib.h"

#include <pthread.h>
#include <stdatomic.h>

#include <jansson.h>

#include "resilience/breaker.h"

#define T0 1000000u

static struct breaker_config base_config(void)
{
	return (struct breaker_config){
		.failure_threshold = 3,
		.window_calls = 100,
		.min_calls = 100,
		.failure_rate_percent = 100,
		.cooldown_ms = 1000,
		.cooldown_max_ms = 3000,
		.half_open_max_calls = 2,
		.half_open_successes = 2,
		.trial_timeout_ms = 500,
	};
}

static struct breaker *make(const struct breaker_config *cfg)
{
	struct breaker *b = NULL;

	assert_int_equal(breaker_new("llm", cfg, &b), 0);
	assert_non_null(b);
	return b;
}

static uint64_t take(struct breaker *b, uint64_t now)
{
	uint64_t ticket = 0;

	assert_int_equal(breaker_acquire(b, now, &ticket, NULL), 0);
	assert_true(ticket != 0);
	return ticket;
}

/* One call that happens and ends at once. */
static void call(struct breaker *b, uint64_t now, bool success)
{
	breaker_report(b, take(b, now), success, now);
}

static void refused(struct breaker *b, uint64_t now, uint64_t retry_after)
{
	uint64_t ticket = 77, wait = 0;

	assert_int_equal(breaker_acquire(b, now, &ticket, &wait), -EAGAIN);
	assert_int_equal(ticket, 77); /* untouched on refusal */
	assert_int_equal(wait, retry_after);
}

static struct breaker_snapshot snap(struct breaker *b, uint64_t now)
{
	struct breaker_snapshot s;

	breaker_snapshot(b, now, &s);
	return s;
}

/* Opens b (base config) at `now` with three failures. */
static void open_it(struct breaker *b, uint64_t now)
{
	for (int i = 0; i < 3; i++)
		call(b, now, false);
	assert_int_equal(snap(b, now).state, BREAKER_OPEN);
}

static void bad_config_is_refused(void **state)
{
	const struct breaker_config good = base_config();
	struct breaker_config c;
	struct breaker *b = (struct breaker *)&good; /* sentinel: must stay */
	char long_name[BREAKER_NAME_MAX + 2];
	(void)state;

#define REFUSED(field, value)                                              \
	do {                                                               \
		c = good;                                                  \
		c.field = value;                                           \
		assert_int_equal(breaker_new("x", &c, &b), -EINVAL);       \
		assert_ptr_equal(b, &good);                                \
	} while (0)
	REFUSED(failure_threshold, 0);
	REFUSED(window_calls, 99); /* below min_calls */
	REFUSED(window_calls, BREAKER_WINDOW_MAX + 1);
	REFUSED(min_calls, 0);
	REFUSED(failure_rate_percent, 0);
	REFUSED(failure_rate_percent, 101);
	REFUSED(cooldown_ms, 0);
	REFUSED(cooldown_max_ms, 999);
	REFUSED(half_open_max_calls, 0);
	REFUSED(half_open_max_calls, BREAKER_TRIALS_MAX + 1);
	REFUSED(half_open_successes, 0);
	REFUSED(half_open_successes, BREAKER_TRIALS_MAX + 1);
	REFUSED(trial_timeout_ms, 0);
#undef REFUSED
	assert_int_equal(breaker_new(NULL, &good, &b), -EINVAL);
	assert_int_equal(breaker_new("", &good, &b), -EINVAL);
	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(breaker_new(long_name, &good, &b), -EINVAL);
	assert_int_equal(breaker_new("x", NULL, &b), -EINVAL);
	assert_ptr_equal(b, &good);

	long_name[BREAKER_NAME_MAX] = '\0';
	b = NULL;
	assert_int_equal(breaker_new(long_name, &good, &b), 0);
	assert_string_equal(breaker_name(b), long_name);
	breaker_free(b);
	breaker_free(NULL);
}

static void consecutive_failures_open_it(void **state)
{
	struct breaker_config cfg = base_config();
	struct breaker *b = make(&cfg);
	struct breaker_snapshot s;
	(void)state;

	call(b, T0, false);
	call(b, T0, false);
	call(b, T0, true); /* breaks the streak */
	call(b, T0, false);
	call(b, T0, false);
	s = snap(b, T0);
	assert_int_equal(s.state, BREAKER_CLOSED);
	assert_int_equal(s.consecutive_failures, 2);
	assert_int_equal(s.window_calls, 5);
	assert_int_equal(s.window_failures, 4);
	assert_int_equal(s.open_until_ms, 0);

	call(b, T0 + 10, false);
	s = snap(b, T0 + 10);
	assert_int_equal(s.state, BREAKER_OPEN);
	assert_int_equal(s.opened_total, 1);
	assert_int_equal(s.open_until_ms, T0 + 10 + 1000);
	assert_int_equal(s.current_cooldown_ms, 1000);

	/* Open refuses and says how long to wait. */
	refused(b, T0 + 10, 1000);
	refused(b, T0 + 900, 110);
	refused(b, T0 + 1009, 1);
	s = snap(b, T0 + 1009);
	assert_int_equal(s.rejected_total, 3);
	assert_int_equal(s.state, BREAKER_OPEN);
	/* ... until open_until, when it is half-open. */
	s = snap(b, T0 + 1010);
	assert_int_equal(s.state, BREAKER_HALF_OPEN);
	assert_int_equal(s.open_until_ms, 0);
	breaker_free(b);
}

static void rate_rule_needs_min_calls(void **state)
{
	struct breaker_config cfg = base_config();
	struct breaker *b;
	(void)state;

	cfg.failure_threshold = 1000;
	cfg.window_calls = 10;
	cfg.min_calls = 5;
	cfg.failure_rate_percent = 50;
	b = make(&cfg);
	for (int i = 0; i < 4; i++)
		call(b, T0, false);
	/* 100% failures, but only 4 outcomes. */
	assert_int_equal(snap(b, T0).state, BREAKER_CLOSED);
	call(b, T0, true); /* 5 outcomes, 80% */
	assert_int_equal(snap(b, T0).state, BREAKER_OPEN);
	breaker_free(b);

	/* Exactly at the percentage opens it; just below does not. */
	b = make(&cfg);
	call(b, T0, true);
	call(b, T0, false);
	call(b, T0, true);
	call(b, T0, false);
	call(b, T0, true); /* 2 of 5: 40% */
	assert_int_equal(snap(b, T0).state, BREAKER_CLOSED);
	call(b, T0, false); /* 3 of 6: 50% */
	assert_int_equal(snap(b, T0).state, BREAKER_OPEN);
	breaker_free(b);
}

static void window_slides(void **state)
{
	struct breaker_config cfg = base_config();
	struct breaker *b;
	struct breaker_snapshot s;
	(void)state;

	cfg.failure_threshold = 1000;
	cfg.window_calls = 4;
	cfg.min_calls = 4;
	cfg.failure_rate_percent = 75;
	b = make(&cfg);
	call(b, T0, false);
	call(b, T0, true);
	call(b, T0, true);
	call(b, T0, true);
	call(b, T0, false); /* the first failure leaves the window */
	call(b, T0, false);
	s = snap(b, T0);
	assert_int_equal(s.window_calls, 4);
	assert_int_equal(s.window_failures, 2);
	assert_int_equal(s.state, BREAKER_CLOSED);
	call(b, T0, false); /* s f f f: 75% */
	s = snap(b, T0);
	assert_int_equal(s.state, BREAKER_OPEN);
	assert_int_equal(s.window_failures, 3);
	breaker_free(b);
}

static void half_open_limits_trials_and_closes(void **state)
{
	struct breaker_config cfg = base_config();
	struct breaker *b = make(&cfg);
	struct breaker_snapshot s;
	uint64_t t1, t2;
	(void)state;

	open_it(b, T0);
	t1 = take(b, T0 + 1000);
	t2 = take(b, T0 + 1100);
	assert_true(t1 != t2);
	s = snap(b, T0 + 1100);
	assert_int_equal(s.state, BREAKER_HALF_OPEN);
	assert_int_equal(s.trials_outstanding, 2);
	/* Every slot taken: wait until the first trial's deadline at most. */
	refused(b, T0 + 1200, 300);
	assert_int_equal(snap(b, T0 + 1200).rejected_total, 1);

	breaker_report(b, t1, true, T0 + 1300);
	s = snap(b, T0 + 1300);
	assert_int_equal(s.state, BREAKER_HALF_OPEN);
	assert_int_equal(s.trials_outstanding, 1);
	breaker_report(b, t2, true, T0 + 1300);
	s = snap(b, T0 + 1300);
	assert_int_equal(s.state, BREAKER_CLOSED);
	assert_int_equal(s.window_calls, 0);
	assert_int_equal(s.window_failures, 0);
	assert_int_equal(s.consecutive_failures, 0);
	assert_int_equal(s.current_cooldown_ms, 1000);
	assert_int_equal(s.opened_total, 1);
	/* Closed admits everyone again. */
	for (int i = 0; i < 10; i++)
		take(b, T0 + 1300);
	breaker_free(b);
}

static void trial_slot_frees_on_report(void **state)
{
	struct breaker_config cfg = base_config();
	struct breaker *b;
	uint64_t t1;
	(void)state;

	cfg.half_open_max_calls = 1;
	cfg.half_open_successes = 3;
	b = make(&cfg);
	open_it(b, T0);
	t1 = take(b, T0 + 1000);
	refused(b, T0 + 1000, 500);
	breaker_report(b, t1, true, T0 + 1010);
	/* The slot is free again; three sequential successes close it. */
	breaker_report(b, take(b, T0 + 1020), true, T0 + 1030);
	assert_int_equal(snap(b, T0 + 1030).state, BREAKER_HALF_OPEN);
	breaker_report(b, take(b, T0 + 1040), true, T0 + 1050);
	assert_int_equal(snap(b, T0 + 1050).state, BREAKER_CLOSED);
	breaker_free(b);
}

static void cooldown_doubles_and_is_capped(void **state)
{
	struct breaker_config cfg = base_config();
	struct breaker *b = make(&cfg);
	struct breaker_snapshot s;
	uint64_t now = T0;
	const uint64_t expected[] = { 2000, 3000, 3000 };
	(void)state;

	open_it(b, now);
	now += 1000;
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		breaker_report(b, take(b, now), false, now + 5);
		s = snap(b, now + 5);
		assert_int_equal(s.state, BREAKER_OPEN);
		assert_int_equal(s.current_cooldown_ms, expected[i]);
		assert_int_equal(s.open_until_ms, now + 5 + expected[i]);
		assert_int_equal(s.opened_total, i + 2);
		refused(b, now + 5 + expected[i] - 1, 1);
		now += 5 + expected[i];
	}
	/* Closing resets the cool-down; the next opening uses the base. */
	breaker_report(b, take(b, now), true, now);
	breaker_report(b, take(b, now), true, now);
	s = snap(b, now);
	assert_int_equal(s.state, BREAKER_CLOSED);
	assert_int_equal(s.current_cooldown_ms, 1000);
	open_it(b, now);
	assert_int_equal(snap(b, now).open_until_ms, now + 1000);
	breaker_free(b);
}

static void trial_timeout_is_a_failure(void **state)
{
	struct breaker_config cfg = base_config();
	struct breaker *b = make(&cfg);
	struct breaker_snapshot s;
	uint64_t t1, t2, start = T0 + 1000;
	(void)state;

	open_it(b, T0);
	t1 = take(b, start);
	t2 = take(b, start + 100);
	s = snap(b, start + 499);
	assert_int_equal(s.state, BREAKER_HALF_OPEN);
	assert_int_equal(s.trial_timeouts_total, 0);
	/* t1's deadline passed: a failure at that deadline, re-opened longer. */
	s = snap(b, start + 500);
	assert_int_equal(s.state, BREAKER_OPEN);
	assert_int_equal(s.trial_timeouts_total, 1);
	assert_int_equal(s.opened_total, 2);
	assert_int_equal(s.open_until_ms, start + 500 + 2000);
	assert_int_equal(s.window_failures, 4);
	/* t1 was counted already; t2 is now stale and cannot re-open it. */
	breaker_report(b, t1, true, start + 600);
	s = snap(b, start + 600);
	assert_int_equal(s.window_calls, 4);
	breaker_report(b, t2, false, start + 700);
	s = snap(b, start + 700);
	assert_int_equal(s.window_calls, 5);
	assert_int_equal(s.opened_total, 2);
	assert_int_equal(s.open_until_ms, start + 500 + 2000);
	breaker_free(b);
}

static void half_open_never_sticks(void **state)
{
	struct breaker_config cfg = base_config();
	struct breaker *b;
	struct breaker_snapshot s;
	uint64_t start = T0 + 1000;
	(void)state;

	cfg.half_open_max_calls = 1;
	b = make(&cfg);
	open_it(b, T0);
	(void)take(b, start); /* a trial whose caller never reports */
	refused(b, start + 100, 400);
	/* Long after: the acquire itself notices the expired trial, the
	 * re-opening (from the deadline) is over, and a new trial goes ahead. */
	(void)take(b, start + 10000);
	s = snap(b, start + 10000);
	assert_int_equal(s.state, BREAKER_HALF_OPEN);
	assert_int_equal(s.trials_outstanding, 1);
	assert_int_equal(s.trial_timeouts_total, 1);
	assert_int_equal(s.opened_total, 2);
	assert_int_equal(s.current_cooldown_ms, 2000);
	/* A report notices an expired trial too. */
	breaker_report(b, 999999, true, start + 10500);
	s = snap(b, start + 10500);
	assert_int_equal(s.state, BREAKER_OPEN);
	assert_int_equal(s.trial_timeouts_total, 2);
	breaker_free(b);
}

static void stale_repeated_and_unknown_tickets(void **state)
{
	struct breaker_config cfg = base_config();
	struct breaker *b;
	struct breaker_snapshot s;
	uint64_t old1, old2, old3, trial, now = T0;
	(void)state;

	cfg.half_open_successes = 1;
	b = make(&cfg);
	old1 = take(b, now);
	old2 = take(b, now);
	old3 = take(b, now);
	open_it(b, now);
	now += 1000;
	trial = take(b, now);
	/* A call from the closed epoch succeeding does not close it. */
	breaker_report(b, old1, true, now);
	s = snap(b, now);
	assert_int_equal(s.state, BREAKER_HALF_OPEN);
	assert_int_equal(s.window_calls, 4);
	breaker_report(b, trial, true, now);
	s = snap(b, now);
	assert_int_equal(s.state, BREAKER_CLOSED);
	assert_int_equal(s.window_calls, 0);
	/* Reporting the trial again, an unknown ticket or 0: ignored. */
	breaker_report(b, trial, false, now);
	breaker_report(b, 123456789, false, now);
	breaker_report(b, 0, false, now);
	breaker_report(b, old1, false, now);
	s = snap(b, now);
	assert_int_equal(s.window_calls, 0);
	assert_int_equal(s.consecutive_failures, 0);
	/* Stale failures still count toward the window and the streak. */
	breaker_report(b, old2, false, now);
	breaker_report(b, old3, false, now);
	s = snap(b, now);
	assert_int_equal(s.window_calls, 2);
	assert_int_equal(s.window_failures, 2);
	assert_int_equal(s.consecutive_failures, 2);
	call(b, now, false);
	assert_int_equal(snap(b, now).state, BREAKER_OPEN);
	breaker_free(b);
}

static void stale_trial_does_not_decide(void **state)
{
	struct breaker_config cfg = base_config();
	struct breaker *b = make(&cfg);
	struct breaker_snapshot s;
	uint64_t t1, t2, now = T0 + 1000;
	(void)state;

	open_it(b, T0);
	t1 = take(b, now);
	t2 = take(b, now);
	breaker_report(b, t2, false, now); /* re-opens for 2000 */
	now += 2000;
	assert_int_equal(snap(b, now).state, BREAKER_HALF_OPEN);
	breaker_report(b, t1, true, now); /* a trial of the previous half-open */
	s = snap(b, now);
	assert_int_equal(s.state, BREAKER_HALF_OPEN);
	assert_int_equal(s.trials_outstanding, 0);
	breaker_report(b, take(b, now), true, now);
	breaker_report(b, take(b, now), true, now);
	assert_int_equal(snap(b, now).state, BREAKER_CLOSED);
	breaker_free(b);
}

static void old_outstanding_tickets_are_forgotten(void **state)
{
	struct breaker_config cfg = base_config();
	struct breaker *b = make(&cfg);
	uint64_t first, last = 0;
	(void)state;

	first = take(b, T0);
	for (int i = 0; i < BREAKER_TICKETS_TRACKED; i++)
		last = take(b, T0);
	breaker_report(b, first, false, T0);
	assert_int_equal(snap(b, T0).window_calls, 0);
	breaker_report(b, last, false, T0);
	assert_int_equal(snap(b, T0).window_calls, 1);
	breaker_free(b);
}

static void json_view(void **state)
{
	struct breaker_config cfg = base_config();
	struct breaker *b = make(&cfg);
	json_t *j;
	(void)state;

	assert_string_equal(breaker_state_name(BREAKER_CLOSED), "closed");
	assert_string_equal(breaker_state_name(BREAKER_OPEN), "open");
	assert_string_equal(breaker_state_name(BREAKER_HALF_OPEN), "half_open");

	j = breaker_to_json(b, T0);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "name")), "llm");
	assert_string_equal(json_string_value(json_object_get(j, "state")), "closed");
	assert_int_equal(json_integer_value(json_object_get(j, "retryAfterMs")), 0);
	json_decref(j);

	open_it(b, T0);
	refused(b, T0 + 400, 600);
	j = breaker_to_json(b, T0 + 400);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 10);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "open");
	assert_int_equal(json_integer_value(json_object_get(j, "consecutiveFailures")), 3);
	assert_int_equal(json_integer_value(json_object_get(j, "windowCalls")), 3);
	assert_int_equal(json_integer_value(json_object_get(j, "windowFailures")), 3);
	assert_int_equal(json_integer_value(json_object_get(j, "retryAfterMs")), 600);
	assert_int_equal(json_integer_value(json_object_get(j, "cooldownMs")), 1000);
	assert_int_equal(json_integer_value(json_object_get(j, "openedTotal")), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "rejectedTotal")), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "trialTimeoutsTotal")), 0);
	json_decref(j);

	j = breaker_to_json(b, T0 + 1000);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "half_open");
	assert_int_equal(json_integer_value(json_object_get(j, "retryAfterMs")), 0);
	json_decref(j);
	breaker_free(b);
}

/* ---- concurrency -------------------------------------------------------- */

#define THREADS 4
#define ATTEMPTS 2000
#define HELD_MAX 3

struct worker {
	struct breaker *b;
	atomic_uint_fast64_t *clock;
	unsigned seed;
	bool report;      /* false: only acquire, never report */
	uint64_t admitted, refused;
	uint64_t half_open_seen;
	uint64_t violations; /* trials over the limit, or a bad ticket */
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	uint64_t held[HELD_MAX];
	unsigned n_held = 0;

	for (int i = 0; i < ATTEMPTS; i++) {
		uint64_t now = w->report ? atomic_fetch_add(w->clock, 1) : atomic_load(w->clock);
		uint64_t ticket = 0, wait = 0;
		struct breaker_snapshot s;

		if (breaker_acquire(w->b, now, &ticket, &wait) == 0) {
			w->admitted++;
			w->violations += ticket == 0;
			if (n_held < HELD_MAX)
				held[n_held++] = ticket;
		} else {
			w->refused++;
			w->violations += wait == 0;
		}
		breaker_snapshot(w->b, now, &s);
		w->violations += s.trials_outstanding > 3;
		w->half_open_seen += s.state == BREAKER_HALF_OPEN;
		/* Report the oldest held call now and then, some never (they
		 * time out as trials), failing about a third of them. */
		if (w->report && n_held > 0 && rand_r(&w->seed) % 4 != 0) {
			breaker_report(w->b, held[0], rand_r(&w->seed) % 3 != 0, now);
			memmove(held, held + 1, --n_held * sizeof(held[0]));
		} else if (w->report && n_held == HELD_MAX) {
			n_held--; /* abandoned */
		}
	}
	return NULL;
}

static uint64_t run_workers(struct breaker *b, atomic_uint_fast64_t *clock, bool report,
			    uint64_t *ret_admitted, uint64_t *ret_half_open_seen)
{
	pthread_t threads[THREADS];
	struct worker w[THREADS];
	uint64_t refused_sum = 0;

	*ret_admitted = *ret_half_open_seen = 0;
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .b = b, .clock = clock, .seed = 7u + (unsigned)i,
					.report = report };
		assert_int_equal(pthread_create(&threads[i], NULL, worker_run, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(threads[i], NULL), 0);
		assert_int_equal(w[i].violations, 0);
		refused_sum += w[i].refused;
		*ret_admitted += w[i].admitted;
		*ret_half_open_seen += w[i].half_open_seen;
	}
	return refused_sum;
}

static void concurrent_callers_respect_the_trial_limit(void **state)
{
	struct breaker_config cfg = base_config();
	struct breaker *b;
	atomic_uint_fast64_t clock = T0;
	uint64_t admitted, half_open_seen, refused_sum;
	struct breaker_snapshot s;
	(void)state;

	cfg.half_open_max_calls = 3;
	cfg.half_open_successes = 3;
	cfg.window_calls = 20;
	cfg.min_calls = 10;
	cfg.failure_rate_percent = 50;
	cfg.cooldown_ms = 20;
	cfg.cooldown_max_ms = 80;
	cfg.trial_timeout_ms = 15;
	b = make(&cfg);
	open_it(b, T0);
	atomic_store(&clock, T0 + 20);

	/* Everyone races for trial slots at one instant, nobody reports:
	 * exactly the limit gets through. */
	refused_sum = run_workers(b, &clock, false, &admitted, &half_open_seen);
	assert_int_equal(admitted, 3);
	assert_int_equal(refused_sum, THREADS * ATTEMPTS - 3);
	s = snap(b, atomic_load(&clock));
	assert_int_equal(s.trials_outstanding, 3);
	assert_int_equal(s.rejected_total, refused_sum);

	/* A mixed load with time moving: the breaker goes round its states
	 * many times and counts every refusal. */
	refused_sum += run_workers(b, &clock, true, &admitted, &half_open_seen);
	assert_true(half_open_seen > 0);
	assert_true(admitted > 0);
	s = snap(b, atomic_load(&clock));
	assert_int_equal(s.rejected_total, refused_sum);
	assert_true(s.opened_total > 2);
	assert_true(s.trial_timeouts_total > 0);
	assert_true(s.trials_outstanding <= 3);
	breaker_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bad_config_is_refused),
		cmocka_unit_test(consecutive_failures_open_it),
		cmocka_unit_test(rate_rule_needs_min_calls),
		cmocka_unit_test(window_slides),
		cmocka_unit_test(half_open_limits_trials_and_closes),
		cmocka_unit_test(trial_slot_frees_on_report),
		cmocka_unit_test(cooldown_doubles_and_is_capped),
		cmocka_unit_test(trial_timeout_is_a_failure),
		cmocka_unit_test(half_open_never_sticks),
		cmocka_unit_test(stale_repeated_and_unknown_tickets),
		cmocka_unit_test(stale_trial_does_not_decide),
		cmocka_unit_test(old_outstanding_tickets_are_forgotten),
		cmocka_unit_test(json_view),
		cmocka_unit_test(concurrent_callers_respect_the_trial_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
