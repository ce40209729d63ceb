/*
 * pool: see pool.h.
 *
 * States of a worker slot: idle (in the free list), busy (lent to one
 * request), dead (its process failed; replaced before it is lent again).
 * `admitted` counts requests running or waiting, so draining knows when the
 * last one is done. Workers are started with fork and an immediate exec, so
 * nothing of this threaded process runs in the child.
 *
 * The queue is first come, first served: waiters stand in a FIFO, and a
 * released slot is handed straight to the oldest one (it stays busy, so no
 * request arriving meanwhile can take it). A request finds a slot at once
 * only when nobody waits. Were the slot freed for all to grab, a request
 * that came later, or a newcomer retrying after a 429, could win it again
 * and again, and a queued run could wait far past its place in the queue.
 *
 * A waiter leaves the queue in two ways besides being handed a slot: its
 * client hangs up (it looks every QUEUE_WATCH_MS), or the drain refuses
 * every waiter left at the end of the grace period. Either way it is
 * unlinked under the lock before it is told, so a slot is never handed to
 * a request that is no longer there; one handed a slot whose client has
 * already gone gives the slot back before starting anything.
 */
#include "runs/pool.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runs/frame.h"
#include "runs/warm_pool.h"
#include "runs/worker.h"
#include "util/banned.h"

/* How often a queued request looks whether its client is still there. */
#define QUEUE_WATCH_MS 200

struct slot {
	pid_t pid;
	int fd;
	bool busy;
	uint64_t seq; /* of the last request sent */
};

/* A request waiting in the queue; lives on its thread's stack. */
struct waiter {
	struct waiter *next;
	pthread_cond_t handed; /* signalled once `slot` or `refused` is set */
	struct slot *slot;     /* the slot handed over; NULL while waiting */
	int refused;           /* -ESHUTDOWN or -ECANCELED: left without a slot */
};

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct waiter *first, *last; /* the queue, oldest first */
	char *exe;
	struct slot *slots;
	unsigned n_slots;
	unsigned queue_max;
	unsigned waiting;
	unsigned admitted;
	bool draining;
	bool cancel_all;
	struct warm_pool *warm; /* NULL: every run is cold */
};

static int slot_spawn(struct pool *p, struct slot *s)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int r = -errno;
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (pid == 0) {
		char *argv[] = { "ledgerbox", "sandbox-worker", NULL };
		sigset_t none;
		/* A replacement is forked from an HTTP thread, whose signal mask
		 * blocks SIGINT and SIGTERM: the worker starts with none. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (dup2(sv[1], WORKER_FD) < 0)
			_exit(127);
		execv(p->exe, argv);
		_exit(127);
	}
	close(sv[1]);
	s->pid = pid;
	s->fd = sv[0];
	s->busy = false;
	return 0;
}

static void slot_end(struct slot *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->pid > 0) {
		/* Closing the socket makes an idle worker exit; a busy one
		 * cancels its run first. */
		waitpid(s->pid, NULL, 0);
	}
	s->pid = 0;
}

/* The conditions waited on with a deadline (the drain's grace, a
 * waiter's look at its client): measured on CLOCK_MONOTONIC, so a wall
 * clock stepped back (NTP, an operator's date -s) cannot stretch them by
 * the step. */
static void cond_init_monotonic(pthread_cond_t *c)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(c, &attr);
	pthread_condattr_destroy(&attr);
}

int pool_start(const char *exe, unsigned max_runs, unsigned queue_max, unsigned warm_min,
	       unsigned warm_max, struct pool **ret)
{
	struct pool *p = calloc(1, sizeof(*p));
	int r = 0;

	if (!p || !(p->slots = calloc(max_runs, sizeof(*p->slots))) || !(p->exe = strdup(exe))) {
		pool_stop(p);
		return -ENOMEM;
	}
	pthread_mutex_init(&p->lock, NULL);
	cond_init_monotonic(&p->changed);
	p->queue_max = queue_max;
	for (unsigned i = 0; i < max_runs; i++)
		p->slots[i].fd = -1;
	for (; r == 0 && p->n_slots < max_runs; p->n_slots++)
		r = slot_spawn(p, &p->slots[p->n_slots]);
	if (r == 0 && warm_max > 0)
		r = warm_pool_start(exe, warm_min, warm_max, &p->warm);
	if (r < 0) {
		pool_stop(p);
		return r;
	}
	*ret = p;
	return 0;
}

static struct slot *slot_idle(struct pool *p)
{
	for (unsigned i = 0; i < p->n_slots; i++)
		if (!p->slots[i].busy)
			return &p->slots[i];
	return NULL;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void deadline_after(struct timespec *ts, uint64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts); /* the clock of the pool's conditions */
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Whether the client on fd (when >= 0) has hung up. */
static bool client_hung_up(int fd)
{
	struct pollfd pfd = { fd, POLLRDHUP, 0 };

	return fd >= 0 && poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* Under p->lock: takes w out of the queue, wherever it stands. */
static void queue_unlink_locked(struct pool *p, struct waiter *w)
{
	struct waiter **at = &p->first, *before = NULL;

	while (*at != w) {
		before = *at;
		at = &before->next;
	}
	*at = w->next;
	if (p->last == w)
		p->last = before;
	p->waiting--;
}

/* Under p->lock: stands w at the end of the queue until slot_release
 * hands it a slot (0), the drain refuses it (-ESHUTDOWN) or its client
 * hangs up (-ECANCELED). Whoever ends the wait unlinks w first, so w (on
 * the caller's stack) is out of the queue on return. */
static int queue_wait_locked(struct pool *p, struct waiter *w, int client_fd)
{
	cond_init_monotonic(&w->handed);
	if (p->last)
		p->last->next = w;
	else
		p->first = w;
	p->last = w;
	p->waiting++;
	while (!w->slot && !w->refused) {
		struct timespec look;

		deadline_after(&look, QUEUE_WATCH_MS);
		if (pthread_cond_timedwait(&w->handed, &p->lock, &look) == ETIMEDOUT && !w->slot &&
		    !w->refused && client_hung_up(client_fd)) {
			queue_unlink_locked(p, w);
			w->refused = -ECANCELED;
		}
	}
	pthread_cond_destroy(&w->handed);
	return w->slot ? 0 : w->refused;
}

/* Under p->lock: turns every waiter away without a slot (-ESHUTDOWN). */
static void queue_refuse_all_locked(struct pool *p)
{
	while (p->first) {
		struct waiter *w = p->first;

		queue_unlink_locked(p, w);
		w->refused = -ESHUTDOWN;
		pthread_cond_signal(&w->handed);
	}
}

/* Takes a slot: an idle one when nobody waits, else the place at the end of
 * the queue if there is room, until a release hands this request its slot. */
static int slot_acquire(struct pool *p, int client_fd, struct slot **ret)
{
	struct waiter me = { 0 };
	struct slot *s;
	int r;

	pthread_mutex_lock(&p->lock);
	if (p->draining) {
		pthread_mutex_unlock(&p->lock);
		return -ESHUTDOWN;
	}
	s = p->first ? NULL : slot_idle(p);
	if (!s && p->waiting >= p->queue_max) {
		pthread_mutex_unlock(&p->lock);
		return -EAGAIN;
	}
	p->admitted++;
	if (!s) {
		r = queue_wait_locked(p, &me, client_fd);
		if (r < 0) {
			p->admitted--;
			pthread_cond_broadcast(&p->changed);
			pthread_mutex_unlock(&p->lock);
			return r;
		}
		s = me.slot;
	}
	s->busy = true;
	pthread_mutex_unlock(&p->lock);
	*ret = s;
	return 0;
}

static void slot_release(struct pool *p, struct slot *s, bool broken)
{
	struct waiter *next;

	if (broken) {
		/* Replace the worker; a failure leaves the slot dead (fd -1),
		 * and the next request on it fails with -EIO and retries. */
		slot_end(s);
		if (slot_spawn(p, s) < 0)
			s->fd = -1;
	}
	pthread_mutex_lock(&p->lock);
	next = p->first;
	if (next) {
		/* Straight to the oldest waiter: the slot never looks idle. */
		queue_unlink_locked(p, next);
		next->slot = s;
		pthread_cond_signal(&next->handed);
	} else {
		s->busy = false;
	}
	p->admitted--;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
}

static bool cancel_wanted(struct pool *p)
{
	bool v;

	pthread_mutex_lock(&p->lock);
	v = p->cancel_all;
	pthread_mutex_unlock(&p->lock);
	return v;
}

/* Waits for the worker's answer; sends one cancel when the client hangs up
 * or the pool gives up on draining. */
static int wait_answer(struct pool *p, struct slot *s, int client_fd)
{
	bool cancelled = false;

	for (;;) {
		struct pollfd pfd[2] = { { s->fd, POLLIN, 0 }, { cancelled ? -1 : client_fd, POLLRDHUP, 0 } };
		int n = poll(pfd, 2, 200);

		if (n < 0 && errno != EINTR)
			return -errno;
		if (pfd[0].revents)
			return 0;
		if (!cancelled && ((n > 0 && pfd[1].revents) || cancel_wanted(p))) {
			json_t *cancel = json_pack("{s:b}", "cancel", 1);
			int r = frame_write_json(s->fd, cancel);
			json_decref(cancel);
			if (r < 0)
				return r;
			cancelled = true;
		}
	}
}

static int read_artifacts(int fd, struct pool_result *out)
{
	json_t *list = json_object_get(out->result, "artifacts"), *a;
	size_t i, n = json_array_size(list);

	out->artifacts = calloc(n ? n : 1, sizeof(*out->artifacts));
	if (!out->artifacts)
		return -ENOMEM;
	json_array_foreach(list, i, a) {
		struct pool_artifact *pa = &out->artifacts[i];
		char *data;
		size_t len;
		int r = frame_read(fd, &data, &len);
		if (r < 0)
			return r;
		pa->data = (unsigned char *)data;
		pa->bytes = len;
		pa->name = strdup(json_string_value(json_object_get(a, "name")) ?: "");
		pa->mime = strdup(json_string_value(json_object_get(a, "mime")) ?: "");
		out->n_artifacts++;
		if (!pa->name || !pa->mime)
			return -ENOMEM;
	}
	return 0;
}

/* Reads the answer, handing lines of live output to on_output first. */
static int read_answer(struct pool *p, struct slot *s, int client_fd,
		       const struct pool_output *live, json_t **ret)
{
	for (;;) {
		json_t *msg;
		const char *line;
		int r = wait_answer(p, s, client_fd);

		if (r == 0)
			r = frame_read_json(s->fd, &msg);
		if (r < 0)
			return r;
		line = json_string_value(json_object_get(msg, "live_stdout"));
		if (!line) {
			*ret = msg;
			return 0;
		}
		if (live && live->on_output)
			live->on_output(live->ctx, line);
		json_decref(msg);
	}
}

static int exchange(struct pool *p, struct slot *s, json_t *request, int client_fd,
		    const struct pool_output *live, struct pool_result *out)
{
	int r;

	json_t *seq;

	if (s->fd < 0)
		return -EIO;
	json_object_set_new(request, "seq", json_integer((json_int_t)++s->seq));
	r = frame_write_json(s->fd, request);
	if (r == 0)
		r = read_answer(p, s, client_fd, live, &out->result);
	/* An answer to anything but this request means the stream is out of
	 * step: the slot is replaced, never reused. */
	seq = r == 0 ? json_object_get(out->result, "seq") : NULL;
	if (r == 0 && (!json_is_integer(seq) || (uint64_t)json_integer_value(seq) != s->seq))
		r = -EPROTO;
	if (r == 0)
		r = read_artifacts(s->fd, out);
	if (r == 0)
		json_object_del(out->result, "seq");
	return r;
}

int pool_run(struct pool *p, json_t *request, int client_fd, struct pool_result *ret)
{
	return pool_run_live(p, request, client_fd, NULL, ret);
}

/* A Python run takes a ready warm worker when there is one. The run still
 * holds its slot, so warm runs count against max_runs like cold ones. */
static int exchange_warm(struct pool *p, json_t *request, int client_fd,
			 const struct pool_output *live, struct pool_result *out)
{
	json_t *run = json_object_get(request, "run");
	const char *lang = json_string_value(json_object_get(run, "language"));
	struct warm_worker w;
	struct slot tmp = { 0 };
	int r;

	if (!p->warm || !lang || strcmp(lang, "python") != 0 ||
	    warm_pool_take(p->warm, json_string_value(json_object_get(run, "data_path")), &w) < 0)
		return -ENOENT;
	tmp.pid = w.pid;
	tmp.fd = w.fd;
	tmp.busy = true;
	r = exchange(p, &tmp, request, client_fd, live, out);
	warm_pool_give_back(p->warm, &w);
	return r;
}

int pool_run_live(struct pool *p, json_t *request, int client_fd, const struct pool_output *live,
		  struct pool_result *ret)
{
	struct pool_result out = { 0 };
	struct slot *s;
	uint64_t queued_at = mono_ms();
	int r = slot_acquire(p, client_fd, &s);
	uint64_t queue_ms = mono_ms() - queued_at;

	if (r < 0)
		return r;
	/* Gone while it waited, or at the very moment the slot came: the
	 * slot goes on to the next waiter, and nothing runs for nobody. */
	if (client_hung_up(client_fd)) {
		slot_release(p, s, false);
		return -ECANCELED;
	}
	r = exchange_warm(p, request, client_fd, live, &out);
	if (r == -ENOENT) {
		r = exchange(p, s, request, client_fd, live, &out);
		slot_release(p, s, r < 0);
	} else {
		slot_release(p, s, false);
	}
	if (r < 0) {
		pool_result_release(&out);
		return -EIO;
	}
	/* Time waiting for a slot: apart from the sandbox's wall_ms, which
	 * counts (and bills) only the run itself. */
	json_object_set_new(out.result, "queue_ms", json_integer((json_int_t)queue_ms));
	*ret = out;
	return 0;
}

void pool_result_release(struct pool_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_artifacts; i++) {
		free(r->artifacts[i].name);
		free(r->artifacts[i].mime);
		free(r->artifacts[i].data);
	}
	free(r->artifacts);
	json_decref(r->result);
	memset(r, 0, sizeof(*r));
}

void pool_load(struct pool *p, int *ret_active, int *ret_waiting)
{
	pthread_mutex_lock(&p->lock);
	*ret_waiting = (int)p->waiting;
	*ret_active = (int)(p->admitted - p->waiting);
	pthread_mutex_unlock(&p->lock);
}

unsigned pool_dead_slots(struct pool *p, unsigned *ret_slots)
{
	unsigned dead = 0;

	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < p->n_slots; i++)
		if (!p->slots[i].busy && p->slots[i].fd < 0)
			dead++;
	*ret_slots = p->n_slots;
	pthread_mutex_unlock(&p->lock);
	return dead;
}

void pool_drain(struct pool *p, uint64_t grace_ms)
{
	struct timespec deadline;

	deadline_after(&deadline, grace_ms);
	pthread_mutex_lock(&p->lock);
	p->draining = true;
	/* A request still queued when the drain begins never starts: its
	 * client is answered at once (and retries elsewhere) instead of
	 * waiting out the grace period for a run that would be cancelled. */
	queue_refuse_all_locked(p);
	while (p->admitted > 0)
		if (pthread_cond_timedwait(&p->changed, &p->lock, &deadline) == ETIMEDOUT)
			break;
	p->cancel_all = true;
	while (p->admitted > 0)
		pthread_cond_wait(&p->changed, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

void pool_stop(struct pool *p)
{
	if (!p)
		return;
	warm_pool_stop(p->warm);
	for (unsigned i = 0; p->slots && i < p->n_slots; i++)
		slot_end(&p->slots[i]);
	if (p->slots) {
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->changed);
	}
	free(p->slots);
	free(p->exe);
	free(p);
}
