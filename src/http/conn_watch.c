/*
 * conn_watch: the slow-client watchdog.
 *
 * libmicrohttpd's CONNECTION_TIMEOUT is an idle timeout that every byte
 * received restarts, so a client trickling its headers a byte at a time
 * would keep its connection, a descriptor and a place under the
 * connection cap, forever. Each connection is therefore tracked in a phase (head:
 * waiting for a request's headers; body; handling) and a watchdog thread
 * cuts, with shutdown(2), a connection whose headers are not complete
 * HEADER_DEADLINE_MS after it opened or its previous request ended, and one
 * whose body has arrived slower than BODY_MIN_BYTES_PER_S once
 * BODY_GRACE_MS have passed. A request being handled is never cut. The
 * watchdog touches a socket only under the lock that the close
 * notification takes before libmicrohttpd closes the descriptor, so it
 * never shuts down a reused one.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include <jansson.h>

#include "http/conn_watch.h"
#include "obs/log.h"
#include "util/clock.h"
#include "util/banned.h"

/* Fixed for now; settings would let an operator behind a slow link widen
 * them. */
#define HEADER_DEADLINE_MS 10000
#define BODY_GRACE_MS 10000
#define BODY_MIN_BYTES_PER_S 1024
#define WATCH_PERIOD_MS 250

/* One per connection, from libmicrohttpd's start notification to its
 * close notification; phase, since_ms and body_bytes change under
 * watch.lock. */
struct conn {
	struct conn *prev, *next;
	MHD_socket fd;
	enum conn_phase phase;
	uint64_t since_ms;   /* when the phase began */
	uint64_t body_bytes; /* of the current request */
	bool cut;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct conn *head;
	pthread_t thread;
	bool running;
	bool stop;
} watch = { .lock = PTHREAD_MUTEX_INITIALIZER };

void conn_watch_notify(void *cls, struct MHD_Connection *connection, void **socket_context,
			enum MHD_ConnectionNotificationCode code)
{
	const union MHD_ConnectionInfo *info;
	struct conn *c = *socket_context;

	(void)cls;
	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (!c)
			return;
		pthread_mutex_lock(&watch.lock);
		if (c->prev)
			c->prev->next = c->next;
		else
			watch.head = c->next;
		if (c->next)
			c->next->prev = c->prev;
		pthread_mutex_unlock(&watch.lock);
		free(c);
		*socket_context = NULL;
		return;
	}
	info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
	/* Without memory the connection goes unwatched: the idle timeout
	 * still applies, and a refused body closes it at once. */
	if (!info || !(c = calloc(1, sizeof(*c))))
		return;
	c->fd = info->connect_fd;
	c->phase = CONN_PHASE_HEAD;
	c->since_ms = clock_mono_ms();
	pthread_mutex_lock(&watch.lock);
	c->next = watch.head;
	if (watch.head)
		watch.head->prev = c;
	watch.head = c;
	pthread_mutex_unlock(&watch.lock);
	*socket_context = c;
}

struct conn *conn_watch_of(struct MHD_Connection *connection)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info ? info->socket_context : NULL;
}

void conn_watch_enter(struct conn *c, enum conn_phase phase)
{
	if (!c)
		return;
	pthread_mutex_lock(&watch.lock);
	c->phase = phase;
	c->since_ms = clock_mono_ms();
	if (phase != CONN_PHASE_HANDLING)
		c->body_bytes = 0;
	pthread_mutex_unlock(&watch.lock);
}

uint64_t conn_watch_body(struct conn *c, size_t len)
{
	uint64_t total;

	if (!c)
		return UINT64_MAX;
	pthread_mutex_lock(&watch.lock);
	c->body_bytes += len;
	total = c->body_bytes;
	pthread_mutex_unlock(&watch.lock);
	return total;
}

static bool conn_overdue(const struct conn *c, uint64_t now_ms)
{
	uint64_t age_ms = now_ms - c->since_ms;

	if (c->cut)
		return false;
	if (c->phase == CONN_PHASE_HEAD)
		return age_ms > HEADER_DEADLINE_MS;
	if (c->phase == CONN_PHASE_BODY)
		return age_ms > BODY_GRACE_MS &&
		       c->body_bytes * 1000 < (uint64_t)BODY_MIN_BYTES_PER_S * age_ms;
	return false;
}

/* Cuts the overdue connections; returns how many (of each phase). */
static void watch_sweep(unsigned *ret_head, unsigned *ret_body)
{
	uint64_t now_ms = clock_mono_ms();

	for (struct conn *c = watch.head; c; c = c->next) {
		if (!conn_overdue(c, now_ms))
			continue;
		/* Its event loop sees the end of the stream and closes it. */
		shutdown(c->fd, SHUT_RDWR);
		c->cut = true;
		if (c->phase == CONN_PHASE_HEAD)
			(*ret_head)++;
		else
			(*ret_body)++;
	}
}

static void *watch_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&watch.lock);
	while (!watch.stop) {
		struct timespec ts;
		unsigned head = 0, body = 0;
		json_t *f;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += WATCH_PERIOD_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&watch.wake, &watch.lock, &ts);
		if (watch.stop)
			break;
		watch_sweep(&head, &body);
		if (!head && !body)
			continue;
		/* Logged outside the lock: a blocked log must not hold up
		 * every connection's phase change. */
		pthread_mutex_unlock(&watch.lock);
		f = json_pack("{s:i,s:i,s:i,s:i}", "waiting_for_headers", head, "body_too_slow",
			      body, "header_deadline_ms", HEADER_DEADLINE_MS,
			      "body_min_bytes_per_s", BODY_MIN_BYTES_PER_S);
		log_event(LOG_WARN, NULL, "http.slow_client_cut", f);
		json_decref(f);
		pthread_mutex_lock(&watch.lock);
	}
	pthread_mutex_unlock(&watch.lock);
	return NULL;
}

void conn_watch_cut_all(void)
{
	pthread_mutex_lock(&watch.lock);
	for (struct conn *c = watch.head; c; c = c->next) {
		shutdown(c->fd, SHUT_RDWR);
		c->cut = true;
	}
	pthread_mutex_unlock(&watch.lock);
}

int conn_watch_start(void)
{
	pthread_condattr_t attr;
	int e;

	if ((e = pthread_condattr_init(&attr)) != 0)
		return -e;
	e = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (e == 0)
		e = pthread_cond_init(&watch.wake, &attr);
	pthread_condattr_destroy(&attr);
	if (e != 0)
		return -e;
	watch.stop = false;
	e = pthread_create(&watch.thread, NULL, watch_main, NULL);
	if (e != 0) {
		pthread_cond_destroy(&watch.wake);
		return -e;
	}
	watch.running = true;
	return 0;
}

void conn_watch_stop(void)
{
	if (!watch.running)
		return;
	pthread_mutex_lock(&watch.lock);
	watch.stop = true;
	pthread_cond_signal(&watch.wake);
	pthread_mutex_unlock(&watch.lock);
	pthread_join(watch.thread, NULL);
	pthread_cond_destroy(&watch.wake);
	watch.running = false;
}
