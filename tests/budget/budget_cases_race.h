/*
 * budget_cases_race: the shared budget cases for the invariant
 * spent_in_period + reserved <= limit under eight threads, on one handle
 * and on two handles ("nodes") of one database, with the race harness
 * they share (also used by test_budget_pg.c). Part of budget_cases.h,
 * which has the fixture and helpers and lists the cases for the programs.
 */
#ifndef LEDGERBOX_TESTS_BUDGET_CASES_RACE_H
#define LEDGERBOX_TESTS_BUDGET_CASES_RACE_H

#include "budget/budget_cases.h"

/* ------------------------------------------------------------------ */
/* The invariant under concurrency                                     */

#define RACE_THREADS 8
#define RACE_ATTEMPTS_MAX 50
#define RACE_LIMIT 100
#define RACE_STEP 10

struct race {
	struct budgets *node[RACE_THREADS];
	size_t n_nodes;
	int attempts; /* per thread, at most RACE_ATTEMPTS_MAX */
	struct budgets *checker; /* a separate handle, its own connection */
	const char *tag;
	pthread_barrier_t start;
};

struct racer {
	struct race *race;
	struct budgets *node;
	int id;
	unsigned seed;
	bool churn; /* settle or release right after each reservation */
	int ok, refused, failed, violations, bad_refusals;
	int settled, released;
	uint64_t cost_micros;
	char held[RACE_ATTEMPTS_MAX][48];
	int n_held;
};

static const struct budget_scopes race_scopes = { "t", "u", NULL };

/* Opens n_nodes handles ("nodes") and a checker on the fixture's budgets,
 * and sets the one budget: org, hard, RACE_LIMIT a month. */
static void race_open(struct race *race, const struct budget_fx *fx, size_t n_nodes,
		      int attempts, const char *tag)
{
	memset(race, 0, sizeof(*race));
	for (size_t i = 0; i < n_nodes; i++)
		race->node[i] = fx_open(fx);
	race->n_nodes = n_nodes;
	race->attempts = attempts;
	race->checker = fx_open(fx);
	race->tag = tag;
	def_set(race->node[n_nodes - 1], "org", RACE_LIMIT, PERIOD_MONTHLY, 80, true);
}

static void race_close(struct race *race)
{
	budget_close(race->checker);
	for (size_t i = 0; i < race->n_nodes; i++)
		budget_close(race->node[i]);
}

/* spent + reserved <= limit, seen through the checker's own connection,
 * both by its list and by the grand totals (org is the only budget, and a
 * settled run has one ledger entry on each of org, team and user). */
static bool invariant_holds(struct budgets *checker)
{
	uint64_t ledger = 0, reserved = 0;
	json_t *list, *org;
	bool ok;

	if (budget_list(checker, "org", NOW_MS, &list) < 0)
		return false;
	org = json_array_get(list, 0);
	ok = org && json_integer_value(json_object_get(org, "spentMicros")) +
				json_integer_value(json_object_get(org, "reservedMicros")) <=
			    RACE_LIMIT;
	json_decref(list);
	if (budget_totals(checker, &ledger, &reserved) < 0)
		return false;
	return ok && ledger % 3 == 0 && ledger / 3 + reserved <= RACE_LIMIT;
}

static void racer_check(struct racer *w)
{
	if (!invariant_holds(w->race->checker))
		w->violations++;
}

/* Settles (at a random cost <= the reservation) or releases a run. */
static void racer_finish(struct racer *w, const char *run_id, bool charge)
{
	uint64_t cost = (uint64_t)(rand_r(&w->seed) % (RACE_STEP + 1));
	int r;

	if (charge) {
		r = budget_settle(w->node, run_id, &race_scopes, cost, NULL, NOW_MS, NULL, NULL);
		w->settled += r == 0;
		w->cost_micros += r == 0 ? cost : 0;
	} else {
		r = budget_release(w->node, run_id);
		w->released += r == 0;
	}
	w->failed += r != 0;
	racer_check(w);
}

static void racer_reserve(struct racer *w, int i)
{
	struct budget_refusal f;
	char run_id[48];
	int r;

	snprintf(run_id, sizeof(run_id), "%s-%d-%d", w->race->tag, w->id, i);
	r = budget_reserve(w->node, run_id, &race_scopes, RACE_STEP, NOW_MS, &f, NULL, NULL);
	if (r == -EDQUOT) {
		w->refused++;
		/* Each refusal must be justified by its own numbers. */
		if (strcmp(f.scope, "org") != 0 || f.limit_micros != RACE_LIMIT ||
		    f.requested_micros != RACE_STEP ||
		    f.spent_micros + f.reserved_micros + f.requested_micros <= f.limit_micros)
			w->bad_refusals++;
	} else if (r == 0) {
		w->ok++;
		snprintf(w->held[w->n_held++], sizeof(w->held[0]), "%s", run_id);
	} else {
		w->failed++;
	}
	racer_check(w);
	if (r == 0 && w->churn) {
		w->n_held--;
		racer_finish(w, run_id, rand_r(&w->seed) % 2 == 0);
	}
}

static void *racer_reserve_all(void *arg)
{
	struct racer *w = arg;

	pthread_barrier_wait(&w->race->start);
	for (int i = 0; i < w->race->attempts; i++)
		racer_reserve(w, i);
	return NULL;
}

/* Settles the first half of what the racer holds, releases the rest. */
static void *racer_finish_all(void *arg)
{
	struct racer *w = arg;
	int half = (w->n_held + 1) / 2;

	pthread_barrier_wait(&w->race->start);
	for (int i = 0; i < w->n_held; i++)
		racer_finish(w, w->held[i], i < half);
	w->n_held = 0;
	return NULL;
}

static void race_run(struct race *race, struct racer *w, void *(*fn)(void *))
{
	pthread_t t[RACE_THREADS];

	assert_int_equal(pthread_barrier_init(&race->start, NULL, RACE_THREADS), 0);
	for (int i = 0; i < RACE_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, fn, &w[i]), 0);
	for (int i = 0; i < RACE_THREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	pthread_barrier_destroy(&race->start);
}

struct race_sum {
	int ok, refused, failed, violations, bad_refusals, settled, released;
	uint64_t cost_micros;
};

static struct race_sum race_sum(const struct racer *w)
{
	struct race_sum s;

	memset(&s, 0, sizeof(s));
	for (int i = 0; i < RACE_THREADS; i++) {
		s.ok += w[i].ok;
		s.refused += w[i].refused;
		s.failed += w[i].failed;
		s.violations += w[i].violations;
		s.bad_refusals += w[i].bad_refusals;
		s.settled += w[i].settled;
		s.released += w[i].released;
		s.cost_micros += w[i].cost_micros;
	}
	return s;
}

/* After every run is settled or released: the ledger is exactly the costs
 * settled, nothing is reserved, and exactly the remaining room can still
 * be reserved, no more. */
static void race_settled_check(struct budgets *b, uint64_t cost_micros, const char *tag)
{
	uint64_t room = RACE_LIMIT - cost_micros;
	char run_id[48];
	int ok = 0;

	assert_int_equal(ledger_total(b), 3 * cost_micros);
	assert_int_equal(spend_sum(b, "", 0, INT64_MAX), 3 * cost_micros);
	assert_int_equal(spend_sum(b, "org", 0, INT64_MAX), cost_micros);
	assert_int_equal(reserved_total(b), 0);
	for (int i = 0; i < 20; i++) {
		snprintf(run_id, sizeof(run_id), "%s-top-%d", tag, i);
		if (reserve(b, run_id, &race_scopes, RACE_STEP, NOW_MS) != 0)
			break;
		ok++;
	}
	assert_int_equal(ok, room / RACE_STEP);
}

static void racers_init(struct race *race, struct racer *w, bool churn)
{
	memset(w, 0, sizeof(*w) * RACE_THREADS);
	for (int i = 0; i < RACE_THREADS; i++) {
		w[i].race = race;
		w[i].node = race->node[(size_t)i % race->n_nodes];
		w[i].id = i;
		w[i].seed = 0x5eed0000u + (unsigned)i;
		w[i].churn = churn;
	}
}

/* 8 threads each making race->attempts reservations of 10 against a hard
 * limit of 100, nobody settling meanwhile: exactly 10 succeed, whatever
 * the interleaving; then half are settled and the rest released. */
static void race_contention(struct race *race)
{
	struct racer w[RACE_THREADS];
	struct race_sum s;

	racers_init(race, w, false);
	race_run(race, w, racer_reserve_all);
	s = race_sum(w);
	assert_int_equal(s.failed, 0);
	assert_int_equal(s.violations, 0);
	assert_int_equal(s.bad_refusals, 0);
	assert_int_equal(s.ok, RACE_LIMIT / RACE_STEP);
	assert_int_equal(s.refused, RACE_THREADS * race->attempts - RACE_LIMIT / RACE_STEP);
	assert_int_equal(reserved_total(race->checker), RACE_LIMIT);

	race_run(race, w, racer_finish_all);
	s = race_sum(w);
	assert_int_equal(s.failed, 0);
	assert_int_equal(s.violations, 0);
	assert_int_equal(s.settled + s.released, RACE_LIMIT / RACE_STEP);
	assert_true(s.settled >= s.released);
	race_settled_check(race->checker, s.cost_micros, race->tag);
}

static void race_one_node(void **state)
{
	struct race race;

	race_open(&race, *state, 1, RACE_ATTEMPTS_MAX, "one");
	race_contention(&race);
	race_close(&race);
}

/* Reserving and at once settling (at a random cost <= the reservation) or
 * releasing, from 8 threads: the invariant holds at every step, and every
 * refusal is accounted for and justified. */
static void race_churn(void **state)
{
	struct racer w[RACE_THREADS];
	struct race race;
	struct race_sum s;

	race_open(&race, *state, 1, RACE_ATTEMPTS_MAX, "churn");
	racers_init(&race, w, true);
	race_run(&race, w, racer_reserve_all);
	s = race_sum(w);
	assert_int_equal(s.failed, 0);
	assert_int_equal(s.violations, 0);
	assert_int_equal(s.bad_refusals, 0);
	assert_int_equal(s.ok + s.refused, RACE_THREADS * RACE_ATTEMPTS_MAX);
	assert_int_equal(s.settled + s.released, s.ok);
	assert_true(s.ok >= RACE_LIMIT / RACE_STEP);
	race_settled_check(race.checker, s.cost_micros, race.tag);
	race_close(&race);
}

/* Two handles on one database stand for two nodes: the limit holds across
 * them because the check and the insert share one transaction that
 * serializes with the other node's. */
static void race_two_nodes(void **state)
{
	struct race race;

	race_open(&race, *state, 2, RACE_ATTEMPTS_MAX, "two");
	race_contention(&race);
	race_close(&race);
}

#endif
