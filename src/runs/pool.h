/*
 * pool: the server's bounded set of sandbox workers and its wait queue.
 *
 * max_runs workers (each a `ledgerbox sandbox-worker` process) run one
 * sandbox each; up to queue_max more requests wait for one, served first
 * come, first served; beyond that a request is refused at once (-EAGAIN:
 * the caller answers 429). A worker
 * that dies is replaced, and its request fails with -EIO. Thread-safe.
 * A Python run may go to a warm worker instead of its slot's worker
 * (docs/warm-pool.md); the result's "sandbox" says "warm" or "cold".
 */
#ifndef LEDGERBOX_POOL_H
#define LEDGERBOX_POOL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct pool;

struct pool_artifact {
	char *name;
	char *mime;
	unsigned char *data;
	size_t bytes;
};

struct pool_result {
	json_t *result; /* the run's result JSON */
	struct pool_artifact *artifacts;
	size_t n_artifacts;
};

/* exe: the ledgerbox binary the workers run. warm_max > 0 keeps between
 * warm_min and warm_max warm Python sandboxes (runs/warm_pool.h); a Python
 * run takes one when it can and otherwise runs cold at once. */
int pool_start(const char *exe, unsigned max_runs, unsigned queue_max, unsigned warm_min,
	       unsigned warm_max, struct pool **ret);
/* Runs one request ({"run": {...}}, see worker.h). While it runs, a hang-up
 * on client_fd (when >= 0) cancels it; while it waits, a hang-up takes it
 * out of the queue before it starts (-ECANCELED). The result's "queue_ms"
 * is how long the request waited for a slot. -EAGAIN: queue full;
 * -ESHUTDOWN: the pool is draining, or still queued when the drain's grace
 * ended; -EIO: the worker failed. */
int pool_run(struct pool *p, json_t *request, int client_fd, struct pool_result *ret);
/* The same, with the run's stdout handed to on_output line by line while
 * it runs (the request asks the worker with "stream_output": true). The
 * lines come from the calling thread, before pool_run_live returns. */
struct pool_output {
	void (*on_output)(void *ctx, const char *line);
	void *ctx;
};
int pool_run_live(struct pool *p, json_t *request, int client_fd, const struct pool_output *live,
		  struct pool_result *ret);
void pool_result_release(struct pool_result *r);
/* Runs in progress and requests waiting. */
void pool_load(struct pool *p, int *ret_active, int *ret_waiting);
/* Idle run slots whose worker is gone and could not be replaced (the
 * sandbox worker cannot start): with every slot so, no run can start. */
unsigned pool_dead_slots(struct pool *p, unsigned *ret_slots);
/* Refuses new requests and those still queued (-ESHUTDOWN), waits up to
 * grace_ms for the running ones to finish, then cancels what is left and
 * waits for it. */
void pool_drain(struct pool *p, uint64_t grace_ms);
/* Ends the workers and frees the pool; accepts NULL. */
void pool_stop(struct pool *p);

#endif
