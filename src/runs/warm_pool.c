/*
 * warm_pool: see warm_pool.h.
 *
 * Entries: free, starting (the worker was started and told its dataset; its
 * "warm_ready" has not come), ready (may be taken). Only the pool's thread
 * starts workers and reads from starting ones; a run's thread takes a ready
 * entry under the lock, which makes it free at once, so the thread never
 * touches a socket a run owns: after each poll it checks, under the lock,
 * that an entry it polled is still what it was. A ready worker has nothing
 * to say, so anything on its socket means it died. Workers to end are
 * collected under the lock and ended outside it (ending waits for the
 * worker to remove its sandbox). A failed warm-up backs off, doubling from
 * RETRY_MIN_MS up to RETRY_MAX_MS, so a machine without Python does not
 * spin.
 */
#include "runs/warm_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runs/frame.h"
#include "runs/worker.h"
#include "util/banned.h"

#define WARM_MAX 64
#define IDLE_SHRINK_MS 60000
#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 60000
#define TICK_MS 1000
#define REAP_MAX 256
#define REAP_TICK_MS 20

enum entry_state { ENTRY_FREE, ENTRY_STARTING, ENTRY_READY };

struct entry {
	enum entry_state state;
	struct warm_worker w;
	char *data_path;
};

struct warm_pool {
	pthread_mutex_t lock;
	pthread_t thread;
	bool thread_started;
	int wake[2];
	char *exe;
	unsigned min, max, target;
	char *want_path; /* the dataset to warm for; NULL: none */
	bool stopping;
	uint64_t last_demand_ms;
	uint64_t retry_at_ms;
	unsigned retry_ms;
	struct entry e[WARM_MAX];
	/* Used workers tearing their sandbox down, reaped by the thread so no
	 * run waits for a teardown (an interpreter with pandas loaded takes
	 * ~20 ms to exit). */
	pid_t used[REAP_MAX];
	unsigned n_used;
};

/* Workers to end once the lock is released. */
struct retired {
	struct warm_worker w[WARM_MAX];
	unsigned n;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool same_path(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

void warm_worker_end(struct warm_worker *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	if (w->pid > 0)
		waitpid(w->pid, NULL, 0);
	w->pid = 0;
}

static void wake_thread(struct warm_pool *wp)
{
	char c = 1;

	if (write(wp->wake[1], &c, 1) < 0) {
		/* Full pipe: the thread has wake-ups pending already. */
	}
}

static void entry_clear(struct entry *e)
{
	free(e->data_path);
	memset(e, 0, sizeof(*e));
	e->w.fd = -1;
}

static void entry_retire(struct entry *e, struct retired *out)
{
	out->w[out->n++] = e->w;
	entry_clear(e);
}

/* Starts one worker and tells it its dataset: fork and an immediate exec,
 * so nothing of this threaded process runs in the child. */
static int worker_start(struct warm_pool *wp, struct warm_worker *ret)
{
	json_t *msg = json_pack("{s:{s:s?}}", "warm", "data_path", wp->want_path);
	int sv[2], r;
	pid_t pid;

	if (!msg)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		json_decref(msg);
		return -errno;
	}
	pid = fork();
	if (pid == 0) {
		char *argv[] = { "ledgerbox", "sandbox-worker", NULL };
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (dup2(sv[1], WORKER_FD) < 0)
			_exit(127);
		execv(wp->exe, argv);
		_exit(127);
	}
	r = pid < 0 ? -errno : 0;
	close(sv[1]);
	if (r == 0)
		r = frame_write_json(sv[0], msg);
	json_decref(msg);
	ret->pid = pid > 0 ? pid : 0;
	ret->fd = sv[0];
	if (r < 0)
		warm_worker_end(ret);
	return r;
}

static unsigned count_live(const struct warm_pool *wp)
{
	unsigned n = 0;

	for (unsigned i = 0; i < wp->max; i++)
		n += wp->e[i].state != ENTRY_FREE;
	return n;
}

static void backoff(struct warm_pool *wp)
{
	wp->retry_ms = wp->retry_ms ? wp->retry_ms * 2 : RETRY_MIN_MS;
	if (wp->retry_ms > RETRY_MAX_MS)
		wp->retry_ms = RETRY_MAX_MS;
	wp->retry_at_ms = now_ms() + wp->retry_ms;
}

/* Lowers the target after a quiet spell, ends entries for another dataset
 * and those over the target, then starts what is missing. */
static void maintain(struct warm_pool *wp, struct retired *out)
{
	uint64_t now = now_ms();
	unsigned live;

	if (wp->target > wp->min && now - wp->last_demand_ms >= IDLE_SHRINK_MS) {
		wp->target--;
		wp->last_demand_ms = now;
	}
	for (unsigned i = 0; i < wp->max; i++)
		if (wp->e[i].state != ENTRY_FREE && !same_path(wp->e[i].data_path, wp->want_path))
			entry_retire(&wp->e[i], out);
	live = count_live(wp);
	for (unsigned i = 0; i < wp->max && live > wp->target; i++)
		if (wp->e[i].state != ENTRY_FREE) {
			entry_retire(&wp->e[i], out);
			live--;
		}
	for (unsigned i = 0; i < wp->max && live < wp->target && now >= wp->retry_at_ms; i++) {
		struct entry *e = &wp->e[i];
		if (e->state != ENTRY_FREE)
			continue;
		if ((wp->want_path && !(e->data_path = strdup(wp->want_path))) ||
		    worker_start(wp, &e->w) < 0) {
			free(e->data_path);
			e->data_path = NULL;
			backoff(wp);
			break;
		}
		e->state = ENTRY_STARTING;
		live++;
	}
}

/* A starting worker spoke (or closed): ready, or failed. */
static void entry_heard(struct warm_pool *wp, struct entry *e, struct retired *out)
{
	json_t *msg = NULL;

	if (e->state == ENTRY_STARTING && frame_read_json(e->w.fd, &msg) == 0 &&
	    json_is_true(json_object_get(msg, "warm_ready"))) {
		e->state = ENTRY_READY;
		wp->retry_ms = 0;
	} else {
		if (e->state == ENTRY_STARTING)
			backoff(wp);
		entry_retire(e, out);
	}
	json_decref(msg);
}

static void retired_end(struct retired *r)
{
	for (unsigned i = 0; i < r->n; i++)
		warm_worker_end(&r->w[i]);
	r->n = 0;
}

/* Reaps used workers that have exited; under the lock. */
static void used_reap(struct warm_pool *wp)
{
	unsigned kept = 0;

	for (unsigned i = 0; i < wp->n_used; i++)
		if (waitpid(wp->used[i], NULL, WNOHANG) == 0)
			wp->used[kept++] = wp->used[i];
	wp->n_used = kept;
}

static void *warm_thread(void *arg)
{
	struct warm_pool *wp = arg;
	struct retired out = { .n = 0 };

	pthread_mutex_lock(&wp->lock);
	while (!wp->stopping) {
		struct pollfd pfd[WARM_MAX + 1];
		unsigned idx[WARM_MAX + 1] = { 0 }, n = 1;
		char drain[64];
		int timeout;

		maintain(wp, &out);
		pfd[0] = (struct pollfd){ wp->wake[0], POLLIN, 0 };
		for (unsigned i = 0; i < wp->max; i++)
			if (wp->e[i].state != ENTRY_FREE) {
				idx[n] = i;
				pfd[n++] = (struct pollfd){ wp->e[i].w.fd, POLLIN, 0 };
			}
		used_reap(wp);
		timeout = wp->n_used ? REAP_TICK_MS : TICK_MS;
		pthread_mutex_unlock(&wp->lock);
		retired_end(&out);
		poll(pfd, n, timeout);
		while (read(wp->wake[0], drain, sizeof(drain)) > 0)
			;
		pthread_mutex_lock(&wp->lock);
		for (unsigned k = 1; k < n; k++) {
			struct entry *e = &wp->e[idx[k]];
			/* Taken by a run since (free, or started again) or quiet. */
			if (!pfd[k].revents || e->state == ENTRY_FREE || e->w.fd != pfd[k].fd)
				continue;
			entry_heard(wp, e, &out);
		}
	}
	pthread_mutex_unlock(&wp->lock);
	retired_end(&out);
	return NULL;
}

int warm_pool_start(const char *exe, unsigned min, unsigned max, struct warm_pool **ret)
{
	struct warm_pool *wp;

	if (max == 0 || max > WARM_MAX || min > max)
		return -EINVAL;
	wp = calloc(1, sizeof(*wp));
	if (!wp)
		return -ENOMEM;
	wp->wake[0] = wp->wake[1] = -1;
	for (unsigned i = 0; i < WARM_MAX; i++)
		wp->e[i].w.fd = -1;
	pthread_mutex_init(&wp->lock, NULL);
	wp->min = min;
	wp->max = max;
	wp->target = min;
	wp->last_demand_ms = now_ms();
	if (!(wp->exe = strdup(exe)) || pipe2(wp->wake, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    pthread_create(&wp->thread, NULL, warm_thread, wp) != 0) {
		warm_pool_stop(wp);
		return -ENOMEM;
	}
	wp->thread_started = true;
	*ret = wp;
	return 0;
}

/* A ready worker whose socket shows anything has died. */
static bool worker_alive(const struct warm_worker *w)
{
	struct pollfd p = { w->fd, POLLIN, 0 };

	return poll(&p, 1, 0) == 0;
}

static int take_locked(struct warm_pool *wp, const char *data_path, struct retired *out,
		       struct warm_worker *ret)
{
	if (!same_path(data_path, wp->want_path)) {
		char *copy = data_path ? strdup(data_path) : NULL;
		if (data_path && !copy)
			return -ENOMEM;
		free(wp->want_path);
		wp->want_path = copy;
	}
	wp->last_demand_ms = now_ms();
	for (unsigned i = 0; i < wp->max; i++) {
		struct entry *e = &wp->e[i];
		if (e->state != ENTRY_READY || !same_path(e->data_path, data_path))
			continue;
		if (!worker_alive(&e->w)) {
			entry_retire(e, out);
			continue;
		}
		*ret = e->w;
		entry_clear(e);
		return 0;
	}
	if (wp->target < wp->max)
		wp->target++;
	return -ENOENT;
}

int warm_pool_take(struct warm_pool *wp, const char *data_path, struct warm_worker *ret)
{
	struct retired out = { .n = 0 };
	int r;

	pthread_mutex_lock(&wp->lock);
	r = take_locked(wp, data_path, &out, ret);
	pthread_mutex_unlock(&wp->lock);
	wake_thread(wp);
	retired_end(&out);
	return r;
}

void warm_pool_give_back(struct warm_pool *wp, struct warm_worker *w)
{
	bool queued = false;

	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	if (w->pid <= 0)
		return;
	pthread_mutex_lock(&wp->lock);
	if (wp->n_used < REAP_MAX) {
		wp->used[wp->n_used++] = w->pid;
		queued = true;
	}
	pthread_mutex_unlock(&wp->lock);
	if (queued)
		wake_thread(wp);
	else
		waitpid(w->pid, NULL, 0); /* the list is full: wait here */
	w->pid = 0;
}

void warm_pool_counts(struct warm_pool *wp, unsigned *ret_ready, unsigned *ret_starting,
		      unsigned *ret_target)
{
	unsigned ready = 0, starting = 0;

	pthread_mutex_lock(&wp->lock);
	for (unsigned i = 0; i < wp->max; i++) {
		ready += wp->e[i].state == ENTRY_READY;
		starting += wp->e[i].state == ENTRY_STARTING;
	}
	*ret_target = wp->target;
	pthread_mutex_unlock(&wp->lock);
	*ret_ready = ready;
	*ret_starting = starting;
}

void warm_pool_stop(struct warm_pool *wp)
{
	struct retired out = { .n = 0 };

	if (!wp)
		return;
	if (wp->thread_started) {
		pthread_mutex_lock(&wp->lock);
		wp->stopping = true;
		pthread_mutex_unlock(&wp->lock);
		wake_thread(wp);
		pthread_join(wp->thread, NULL);
	}
	for (unsigned i = 0; i < WARM_MAX; i++)
		if (wp->e[i].state != ENTRY_FREE)
			entry_retire(&wp->e[i], &out);
	retired_end(&out);
	/* No used worker outlives the pool: wait for their teardowns. */
	for (unsigned i = 0; i < wp->n_used; i++)
		waitpid(wp->used[i], NULL, 0);
	wp->n_used = 0;
	if (wp->wake[0] >= 0)
		close(wp->wake[0]);
	if (wp->wake[1] >= 0)
		close(wp->wake[1]);
	pthread_mutex_destroy(&wp->lock);
	free(wp->want_path);
	free(wp->exe);
	free(wp);
}
