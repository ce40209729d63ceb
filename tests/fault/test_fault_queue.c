/*
 * Fault: the first-come-first-served run queue when a queued request ends
 * without ever running, over real HTTP against a server with one run slot.
 *
 * - Clients that hang up while their runs wait (a JSON request and an
 *   event stream) leave the queue: /readyz stops counting them, their
 *   places go to new requests (a queue full of requests nobody waits for
 *   answered every newcomer 429 until the runs ahead ended), and the slot
 *   still goes on to the next live waiter.
 * - A client that hangs up at the moment its slot comes (the run ahead is
 *   cancelled by its own client at the same time) leaves no slot busy.
 * - SIGTERM with runs queued behind a run that outlasts the grace period:
 *   the queued runs are answered 503 shutting_down with Retry-After; none
 *   is started only to be cancelled (answered 200 `killed` and billed,
 *   one slot at a time, after the grace).
 *
 * Waits are bounded polls of /readyz; nothing asserts on time.
 */
#include "fault/faultlib.h"
#include "load/rawlib.h"

#define QUEUED 2
#define GRACE_MS 1000
#define EXIT_MARGIN_MS 20000

static struct server srv;
static char *erin;
static char *env_vars[] = { "LEDGERBOX_MAX_RUNS=1", "LEDGERBOX_QUEUE_MAX=2", "LEDGERBOX_CACHE=off",
			    "LEDGERBOX_SHUTDOWN_GRACE_MS=1000", "LEDGERBOX_KEY_CONCURRENT=100",
			    "LEDGERBOX_USER_CONCURRENT=100", NULL };

static int setup(void **state)
{
	(void)state;
	hl_prepare(&srv, "fault-queue", env_vars);
	erin = hl_key_create(&srv, "erin", "ops", "analyst");
	hl_start(&srv);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (srv.pid > 0)
		hl_stop(&srv, SIGTERM);
	free(erin);
	curl_global_cleanup();
	return 0;
}

/* A Python run sleeping `seconds`, tagged so no two bodies are the same. */
static void run_body(char *out, size_t len, int seconds, const char *tag)
{
	snprintf(out, len,
		 "{\"language\":\"python\",\"code\":\"import time\\ntime.sleep(%d)\\nprint(1)\\n# "
		 "%s\"}",
		 seconds, tag);
}

/* Sends a run on a connection of its own and leaves it open: closing the
 * returned socket is the client hanging up. `events`: asks for the
 * answer as server-sent events, whose analysis runs in a thread of its
 * own. */
static int raw_run_as(int seconds, const char *tag, bool events)
{
	char body[256], req[1024];
	int fd = rl_connect(srv.port), n;

	run_body(body, sizeof(body), seconds, tag);
	n = snprintf(req, sizeof(req),
		     "POST /api/analyze HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
		     "%sContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		     erin, events ? "Accept: text/event-stream\r\n" : "", strlen(body), body);
	assert_true(rl_send(fd, req, (size_t)n));
	return fd;
}

static int raw_run(int seconds, const char *tag)
{
	return raw_run_as(seconds, tag, false);
}

static void load_start(struct fl_load *l, pthread_t *t, int seconds, const char *tag)
{
	*l = (struct fl_load){ .srv = &srv, .key = erin, .timeout_ms = 120000 };
	run_body(l->body, sizeof(l->body), seconds, tag);
	assert_int_equal(pthread_create(t, NULL, fl_load_main, l), 0);
}

static void queued_clients_that_hang_up_leave_the_queue(void **state)
{
	struct fl_load late;
	pthread_t late_thread;
	int holder, queued[QUEUED];
	(void)state;

	holder = raw_run(120, "holder");
	fl_load_reached(&srv, 1, 0, "the holder's run");
	for (int i = 0; i < QUEUED; i++) {
		char tag[32];

		snprintf(tag, sizeof(tag), "gone %d", i);
		/* One plain request, one event stream. */
		queued[i] = raw_run_as(1, tag, i == 1);
		fl_load_reached(&srv, 1, i + 1, "a queued run");
	}
	for (int i = 0; i < QUEUED; i++)
		close(queued[i]);
	/* Nobody waits any more, and the slot's run goes on. */
	fl_load_reached(&srv, 1, 0, "after the queued clients hung up");
	/* Their places are free: a new run is queued, not refused 429. */
	load_start(&late, &late_thread, 0, "late");
	fl_load_reached(&srv, 1, 1, "a run sent after they left");
	/* The holder hangs up: its run is cancelled and the slot goes to the
	 * live waiter, the only one left. */
	close(holder);
	pthread_join(late_thread, NULL);
	if (late.status != 200 || strcmp(late.run_status, "ok") != 0)
		fail_msg("the run queued after the others left: %ld %s %s %s", late.status,
			 late.run_status, late.error_code, late.error_message);
	fl_load_reached(&srv, 0, 0, "after every run ended");
}

static void hang_up_as_the_slot_comes_leaves_no_slot_busy(void **state)
{
	struct fl_load after;
	pthread_t after_thread;
	int holder, queued;
	(void)state;

	for (int round = 0; round < 3; round++) {
		holder = raw_run(120, "holder");
		fl_load_reached(&srv, 1, 0, "the holder's run");
		queued = raw_run(1, "queued");
		fl_load_reached(&srv, 1, 1, "the queued run");
		/* The holder's cancel frees the slot while the queued client
		 * is going too: whichever way the race goes, the slot is
		 * handed on or given back. */
		close(queued);
		close(holder);
		fl_load_reached(&srv, 0, 0, "after both hung up");
	}
	load_start(&after, &after_thread, 0, "after");
	pthread_join(after_thread, NULL);
	if (after.status != 200 || strcmp(after.run_status, "ok") != 0)
		fail_msg("a run after the hang-ups: %ld %s %s %s", after.status, after.run_status,
			 after.error_code, after.error_message);
}

/* Runs last: it stops the server. */
static void sigterm_refuses_runs_still_queued_after_the_grace(void **state)
{
	struct fl_load holder, queued[QUEUED];
	pthread_t holder_thread, queued_thread[QUEUED];
	int code;
	(void)state;

	load_start(&holder, &holder_thread, 60, "holder");
	fl_load_reached(&srv, 1, 0, "the holder's run");
	for (int i = 0; i < QUEUED; i++) {
		char tag[32];

		snprintf(tag, sizeof(tag), "queued %d", i);
		load_start(&queued[i], &queued_thread[i], 60, tag);
		fl_load_reached(&srv, 1, i + 1, "a queued run");
	}
	assert_int_equal(kill(srv.pid, SIGTERM), 0);
	code = fl_wait_exit(&srv, GRACE_MS + EXIT_MARGIN_MS);
	if (code != 0)
		fail_msg("after SIGTERM the server %s; log in %s",
			 code == -2 ? "did not exit in time" : "did not exit with status 0", srv.log);
	pthread_join(holder_thread, NULL);
	for (int i = 0; i < QUEUED; i++)
		pthread_join(queued_thread[i], NULL);
	/* The running one outlasted the grace and was cancelled. */
	if (holder.status != 200 || strcmp(holder.run_status, "killed") != 0)
		fail_msg("the running run: %ld %s %s", holder.status, holder.run_status,
			 holder.error_code);
	for (int i = 0; i < QUEUED; i++) {
		const struct fl_load *l = &queued[i];

		if (l->status != 503 || !l->retry_after || strcmp(l->error_code, "shutting_down") != 0)
			fail_msg("queued run %d, still queued when the grace ended: %ld %s %s (want "
				 "503 shutting_down, never started)",
				 i, l->status, l->run_status[0] ? l->run_status : l->error_code,
				 l->error_message);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(queued_clients_that_hang_up_leave_the_queue),
		cmocka_unit_test(hang_up_as_the_slot_comes_leaves_no_slot_busy),
		cmocka_unit_test(sigterm_refuses_runs_still_queued_after_the_grace),
	};
	return cmocka_run_group_tests_name("fault_queue", tests, setup, teardown);
}
