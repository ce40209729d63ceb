/* held: see held.h. The list is kept in order of due time; it holds at
 * most one entry per connection, so the connection cap bounds it. Due
 * times are on the monotonic clock; the thread waits on the wall clock
 * at most WAIT_MAX_MS at a time, so a step of the wall clock delays an
 * answer by that much at most. */
#include "http/held.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "http/lane.h"
#include "util/clock.h"
#include "util/banned.h"

#define WAIT_MAX_MS 250

struct held_conn {
	struct held_conn *next;
	struct MHD_Connection *conn;
	uint64_t due_ms;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct held_conn *head;
	pthread_t thread;
	bool running;
	bool stop;
} held = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

void held_resume_at(struct MHD_Connection *conn, uint64_t due_ms)
{
	struct held_conn *h = malloc(sizeof(*h)), **at;

	pthread_mutex_lock(&held.lock);
	if (!h || !held.running || held.stop) {
		pthread_mutex_unlock(&held.lock);
		free(h);
		conn_unpark(conn); /* answered now rather than never */
		return;
	}
	h->conn = conn;
	h->due_ms = due_ms;
	for (at = &held.head; *at && (*at)->due_ms <= due_ms; at = &(*at)->next)
		;
	h->next = *at;
	*at = h;
	pthread_cond_signal(&held.wake);
	pthread_mutex_unlock(&held.lock);
}

/* Under held.lock: takes the first entry when it is due (or stopping). */
static struct held_conn *held_take_due(void)
{
	struct held_conn *h = held.head;

	if (!h || (!held.stop && h->due_ms > clock_mono_ms()))
		return NULL;
	held.head = h->next;
	return h;
}

static void *held_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&held.lock);
	for (;;) {
		struct held_conn *h = held_take_due();
		struct timespec ts;
		uint64_t now_ms, wait_ms;

		if (h) {
			/* Resumed outside the lock: held_resume_at is called
			 * from lane threads. */
			pthread_mutex_unlock(&held.lock);
			conn_unpark(h->conn);
			free(h);
			pthread_mutex_lock(&held.lock);
			continue;
		}
		if (held.stop)
			break;
		if (!held.head) {
			pthread_cond_wait(&held.wake, &held.lock);
			continue;
		}
		now_ms = clock_mono_ms();
		wait_ms = held.head->due_ms > now_ms ? held.head->due_ms - now_ms : 0;
		if (wait_ms > WAIT_MAX_MS)
			wait_ms = WAIT_MAX_MS;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)wait_ms * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&held.wake, &held.lock, &ts);
	}
	pthread_mutex_unlock(&held.lock);
	return NULL;
}

int held_start(void)
{
	int e;

	held.stop = false;
	e = pthread_create(&held.thread, NULL, held_main, NULL);
	if (e != 0)
		return -e;
	held.running = true;
	return 0;
}

void held_stop(void)
{
	if (!held.running)
		return;
	pthread_mutex_lock(&held.lock);
	held.stop = true;
	pthread_cond_signal(&held.wake);
	pthread_mutex_unlock(&held.lock);
	pthread_join(held.thread, NULL);
	pthread_mutex_lock(&held.lock);
	held.running = false;
	pthread_mutex_unlock(&held.lock);
}
