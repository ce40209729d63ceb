/*
 * lane: a bounded set of handler threads fed from a queue of suspended
 * connections.
 *
 * libmicrohttpd serves every connection from a few event-loop threads, so
 * a handler that blocks there stalls all the connections of its thread.
 * A blocking handler is therefore handed off: the access handler suspends
 * the connection (it leaves the event loop and costs no thread while it
 * waits), a lane thread runs the handler, which queues its answer (the
 * library allows that from any thread while the connection is suspended),
 * and resumes the connection, whose loop then sends the answer; an answer
 * to be held back (a wrong key's) is resumed later by held.c instead.
 *
 * Threads start on demand, when a job finds none idle, up to the lane's
 * maximum, and stay; past it jobs wait in the queue. The queue holds at
 * most one job per connection, so the connection limit bounds it.
 *
 * States of a lane: running -> stopping (no new jobs, queued ones still
 * run) -> joined -> freed after the daemon stopped.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http/held.h"
#include "http/lane.h"
#include "http/request.h"
#include "obs/log.h"
#include "util/banned.h"

struct job {
	struct job *next;
	struct request *rq;
	lane_handler handler;
	enum MHD_Result *ret_result; /* may be NULL */
};

struct lane {
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct job *head, *tail;
	bool stopping;
	const char *name;
	unsigned idle;        /* threads waiting for a job */
	unsigned queued;      /* jobs no thread has taken yet */
	unsigned threads, max_threads;
	pthread_t thread[];
};

static atomic_int parked;

void conn_park(struct MHD_Connection *conn)
{
	atomic_fetch_add(&parked, 1);
	MHD_suspend_connection(conn);
}

void conn_unpark(struct MHD_Connection *conn)
{
	MHD_resume_connection(conn);
	atomic_fetch_sub(&parked, 1);
}

int conn_parked(void)
{
	return atomic_load(&parked);
}

static void job_run(struct job *j)
{
	struct MHD_Connection *conn = j->rq->conn;

	/* Read by the access handler once the connection is resumed, which
	 * orders this write before it. */
	enum MHD_Result r = j->handler(j->rq);
	/* Read now: once resumed, the request may end and be freed. */
	uint64_t held_until_ms = j->rq->answer_held_until_ms;

	j->rq->answer_held_until_ms = 0;
	if (j->ret_result)
		*j->ret_result = r;
	free(j);
	if (held_until_ms)
		held_resume_at(conn, held_until_ms);
	else
		conn_unpark(conn);
}

static void *lane_main(void *arg)
{
	struct lane *l = arg;

	pthread_mutex_lock(&l->lock);
	for (;;) {
		struct job *j = l->head;

		if (!j) {
			if (l->stopping)
				break;
			l->idle++;
			pthread_cond_wait(&l->work, &l->lock);
			l->idle--;
			continue;
		}
		l->head = j->next;
		if (!l->head)
			l->tail = NULL;
		l->queued--;
		pthread_mutex_unlock(&l->lock);
		job_run(j);
		pthread_mutex_lock(&l->lock);
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

/* Under l->lock: one more thread when the jobs waiting outnumber the
 * idle threads (a woken thread stays counted idle until it takes its
 * job). A lane that has threads keeps going without one more, so a
 * failure is only logged. */
static void lane_grow_locked(struct lane *l, const char *request_id)
{
	json_t *f;
	int e;

	if (l->queued <= l->idle || l->threads >= l->max_threads)
		return;
	e = pthread_create(&l->thread[l->threads], NULL, lane_main, l);
	if (e == 0) {
		l->threads++;
		return;
	}
	f = json_pack("{s:s,s:i,s:s}", "lane", l->name, "threads", (int)l->threads, "error",
		      strerror(e));
	log_event(LOG_WARN, request_id, "http.lane_thread_failed", f);
	json_decref(f);
}

int lane_start(const char *name, unsigned max_threads, struct lane **ret)
{
	struct lane *l = calloc(1, sizeof(*l) + max_threads * sizeof(pthread_t));
	int e;

	if (!l)
		return -ENOMEM;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->work, NULL);
	l->name = name;
	l->max_threads = max_threads;
	/* The first thread now, so that a lane that cannot have any fails
	 * at start rather than on its first request. */
	e = pthread_create(&l->thread[0], NULL, lane_main, l);
	if (e != 0) {
		lane_free(l);
		return -e;
	}
	l->threads = 1;
	*ret = l;
	return 0;
}

enum MHD_Result lane_hand_off(struct lane *l, struct request *rq, lane_handler handler,
			      enum MHD_Result *ret_result)
{
	struct job *j = calloc(1, sizeof(*j));
	json_t *f;

	if (!j)
		return MHD_NO;
	j->rq = rq;
	j->handler = handler;
	j->ret_result = ret_result;
	pthread_mutex_lock(&l->lock);
	if (l->stopping) {
		pthread_mutex_unlock(&l->lock);
		free(j);
		f = json_pack("{s:s}", "lane", l->name);
		log_event(LOG_WARN, rq->id, "http.lane_closed", f);
		json_decref(f);
		return MHD_NO;
	}
	/* Suspended before any lane thread can see the job, since the
	 * handler may queue its answer only on a suspended connection. */
	conn_park(rq->conn);
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	l->queued++;
	lane_grow_locked(l, rq->id);
	pthread_cond_signal(&l->work);
	pthread_mutex_unlock(&l->lock);
	return MHD_YES;
}

void lane_stop(struct lane *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	l->stopping = true;
	pthread_cond_broadcast(&l->work);
	pthread_mutex_unlock(&l->lock);
	for (unsigned i = 0; i < l->threads; i++)
		pthread_join(l->thread[i], NULL);
	l->threads = 0;
}

void lane_free(struct lane *l)
{
	if (!l)
		return;
	pthread_cond_destroy(&l->work);
	pthread_mutex_destroy(&l->lock);
	free(l);
}
