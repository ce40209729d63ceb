/*
 * The run queue is first come, first served, over real HTTP: a server with
 * one run slot and a queue of QUEUED places gets one long run, then QUEUED
 * short runs sent one after another (each sent once the one before it is
 * seen waiting in GET /readyz), while another client keeps sending new runs
 * that the full queue refuses or, once places free up, admits behind them.
 *
 * With one slot, runs happen one at a time, so the time each run's program
 * reads at its start gives the order they were served in: the queued runs
 * must start in the order they were sent, and all of them before any run
 * admitted later. (A slot freed for every waiter and newcomer to grab
 * served them in any order and let newcomers in ahead.) Each run's answer
 * must also say how long it waited for its slot (usage.queueMs), apart from
 * its own wall time.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "fault/faultlib.h"
#include "util/banned.h"

#define QUEUED 6
#define LATE_MAX 64
#define SLOT_RUN_S 5

static struct server srv;
static char *analyst;
static char *env_vars[] = { "LEDGERBOX_MAX_RUNS=1", "LEDGERBOX_QUEUE_MAX=6", "LEDGERBOX_CACHE=off",
			    "LEDGERBOX_KEY_CONCURRENT=1000", "LEDGERBOX_USER_CONCURRENT=1000",
			    "LEDGERBOX_KEY_RATE_PER_MIN=1000000",
			    "LEDGERBOX_USER_RATE_PER_MIN=1000000", NULL };

/* One run sent from a thread of its own; checked on the main thread. */
struct sent {
	pthread_t thread;
	char body[256];
	struct reply reply;
};

/* The client that keeps sending runs while the queued ones wait. */
struct late {
	pthread_t thread;
	atomic_bool stop;
	int admitted;
	double started[LATE_MAX]; /* as the admitted runs' programs read it */
	long refused;
	long other; /* neither run nor refused: a failure */
};

static int setup(void **state)
{
	(void)state;
	hl_prepare(&srv, "queueorder", env_vars);
	analyst = hl_key_create(&srv, "queuer", "finance", "analyst");
	hl_start(&srv);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(analyst);
	return hl_finish(&srv);
}

/* A Python run that prints the time it started, tagged so no two bodies
 * are the same. */
static void short_run_body(char *out, size_t len, const char *tag)
{
	snprintf(out, len,
		 "{\"language\":\"python\",\"code\":\"import time\\nprint(repr(time.time()))\\n# %s\"}",
		 tag);
}

static void *send_run(void *arg)
{
	struct sent *s = arg;

	hl_call(&srv, "POST", "/api/analyze", analyst, s->body, &s->reply);
	return NULL;
}

/* The time a run's program printed; -1 when the answer is not such a run. */
static double started_at(const struct reply *r)
{
	const char *out = r->status == 200 ? hl_str(r->json, "output") : NULL;
	char *end;
	double t;

	if (!out)
		return -1;
	t = strtod(out, &end);
	return end != out ? t : -1;
}

static void *send_late(void *arg)
{
	struct late *l = arg;
	char body[256], tag[32];
	struct reply r;

	for (int i = 0; !atomic_load(&l->stop); i++) {
		snprintf(tag, sizeof(tag), "late %d", i);
		short_run_body(body, sizeof(body), tag);
		hl_call(&srv, "POST", "/api/analyze", analyst, body, &r);
		if (r.status == 429)
			l->refused++;
		else if (started_at(&r) < 0)
			l->other++;
		else if (l->admitted < LATE_MAX)
			l->started[l->admitted++] = started_at(&r);
		hl_reply_free(&r);
	}
	return NULL;
}

static void queued_runs_are_served_in_arrival_order(void **state)
{
	static struct sent first, queued[QUEUED];
	static struct late late;
	double prev = 0, last_queued = 0;

	(void)state;
	snprintf(first.body, sizeof(first.body),
		 "{\"language\":\"python\",\"code\":\"import time\\ntime.sleep(%d)\\nprint(1)\"}",
		 SLOT_RUN_S);
	assert_int_equal(pthread_create(&first.thread, NULL, send_run, &first), 0);
	fl_load_reached(&srv, 1, 0, "the long run");
	for (int i = 0; i < QUEUED; i++) {
		char tag[32];

		snprintf(tag, sizeof(tag), "queued %d", i);
		short_run_body(queued[i].body, sizeof(queued[i].body), tag);
		assert_int_equal(pthread_create(&queued[i].thread, NULL, send_run, &queued[i]), 0);
		fl_load_reached(&srv, 1, i + 1, "a queued run");
	}
	/* The queue is full and the slot busy: newcomers now meet a full
	 * queue until the slot frees, then may only join at the back. */
	assert_int_equal(pthread_create(&late.thread, NULL, send_late, &late), 0);
	pthread_join(first.thread, NULL);
	for (int i = 0; i < QUEUED; i++)
		pthread_join(queued[i].thread, NULL);
	atomic_store(&late.stop, true);
	pthread_join(late.thread, NULL);

	assert_int_equal(first.reply.status, 200);
	for (int i = 0; i < QUEUED; i++) {
		struct reply *r = &queued[i].reply;
		json_t *usage = json_object_get(r->json, "usage");
		double t = started_at(r);

		if (r->status != 200 || t < 0)
			fail_msg("queued run %d: status %ld, %.300s", i, r->status, r->body);
		if (!json_is_integer(json_object_get(usage, "queueMs")))
			fail_msg("queued run %d says nothing of its wait: %.300s", i, r->body);
		if (t < prev)
			fail_msg("queued run %d started at %.3f, before run %d (%.3f) queued ahead "
				 "of it",
				 i, t, i - 1, prev);
		prev = last_queued = t;
	}
	print_message("# %d late runs admitted, %ld refused\n", late.admitted, late.refused);
	assert_true(late.refused > 0);
	assert_int_equal(late.other, 0);
	for (int i = 0; i < late.admitted; i++)
		if (late.started[i] < last_queued)
			fail_msg("a run sent after the queue filled started at %.3f, before the last "
				 "queued run (%.3f)",
				 late.started[i], last_queued);
	hl_reply_free(&first.reply);
	for (int i = 0; i < QUEUED; i++)
		hl_reply_free(&queued[i].reply);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(queued_runs_are_served_in_arrival_order),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
