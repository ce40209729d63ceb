/*
 * warm_pool: the server's pre-started Python sandboxes (docs/warm-pool.md).
 *
 * Each warm sandbox lives in a warm worker: a `ledgerbox sandbox-worker`
 * process of its own that starts one warm sandbox for one dataset, reports
 * it ready and then serves exactly one run. A background thread keeps
 * `target` of them starting or ready, between min and max: a run that finds
 * none ready raises the target by one, a minute without demand lowers it
 * by one. Sandboxes are warmed for the dataset of the latest Python run;
 * ones for another dataset are ended. Thread-safe.
 */
#ifndef LEDGERBOX_WARM_POOL_H
#define LEDGERBOX_WARM_POOL_H

#include <stdbool.h>
#include <sys/types.h>

struct warm_pool;

/* A warm worker handed to one run: its process and its socket. */
struct warm_worker {
	pid_t pid;
	int fd;
};

/* exe: the ledgerbox binary the workers run. 0 < max; min <= max. */
int warm_pool_start(const char *exe, unsigned min, unsigned max, struct warm_pool **ret);
/* For one Python run on data_path (NULL: no dataset): a ready warm worker,
 * which then belongs to the caller (end it with warm_worker_end after its
 * one run), or -ENOENT when none is ready: run cold at once. */
int warm_pool_take(struct warm_pool *wp, const char *data_path, struct warm_worker *ret);
/* Closes the worker's socket (it ends its sandbox and exits) and waits for
 * it. */
void warm_worker_end(struct warm_worker *w);
/* The same after a run, without waiting: the pool's thread reaps the
 * worker once its sandbox is gone, and warm_pool_stop waits for any left. */
void warm_pool_give_back(struct warm_pool *wp, struct warm_worker *w);
/* Sandboxes ready, starting, and the size the pool aims at. */
void warm_pool_counts(struct warm_pool *wp, unsigned *ret_ready, unsigned *ret_starting,
		      unsigned *ret_target);
/* Ends every warm worker and the thread, and frees the pool; accepts NULL. */
void warm_pool_stop(struct warm_pool *wp);

#endif
