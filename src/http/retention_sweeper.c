/*
 * retention_sweeper: the server's background thread that removes runs'
 * artifacts and tables older than LEDGERBOX_ARTIFACT_RETENTION_S, every
 * LEDGERBOX_RETENTION_SWEEP_MS (store_runs_expire(): run records and
 * audit entries stay; shared bytes go with their last reference).
 *
 * States: stopped (no thread) -> running -> asked to stop -> stopped. The
 * thread waits on a condition variable between sweeps, so a stop is
 * answered at once rather than after a whole interval. Each sweep works
 * in batches, so one sweep over many old runs never holds the store for
 * long; a failed sweep is logged and tried again at the next interval.
 * Each wake-up also removes retired dataset versions no run holds any more
 * (dataset_retired_sweep()): those a run on another node sharing DATA_DIR
 * let go, whose own sweep at the run's end this node does not see.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "http/dataset_access.h"
#include "http/retention_sweeper.h"
#include "obs/log.h"
#include "util/clock.h"
#include "util/banned.h"

#define SWEEP_BATCH 256
#define SWEEP_BATCHES_MAX 64 /* per wake-up: the rest waits for the next */

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool started, stopping;
} sweeper = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void sweep_once(struct http_server *srv)
{
	int64_t cutoff = clock_unix_ms() - (int64_t)srv->cfg->artifact_retention_s * 1000;
	int total = 0, runs = 0, r = 0;

	dataset_retired_sweep(srv->cfg->data_dir);
	for (int i = 0; i < SWEEP_BATCHES_MAX; i++) {
		r = store_runs_expire(srv->store, cutoff, SWEEP_BATCH, &runs);
		if (r < 0 || runs == 0)
			break;
		total += runs;
	}
	if (r < 0 || total > 0) {
		json_t *f = json_pack("{s:i,s:i}", "runs", total, "error", -r);
		log_event(r < 0 ? LOG_WARN : LOG_INFO, NULL, "retention.sweep", f);
		json_decref(f);
	}
}

static void *sweeper_main(void *arg)
{
	struct http_server *srv = arg;
	uint64_t interval_ms = srv->cfg->retention_sweep_ms;

	pthread_mutex_lock(&sweeper.mu);
	while (!sweeper.stopping) {
		struct timespec until;
		pthread_mutex_unlock(&sweeper.mu);
		sweep_once(srv);
		pthread_mutex_lock(&sweeper.mu);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t)(interval_ms / 1000);
		until.tv_nsec += (long)(interval_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!sweeper.stopping &&
		       pthread_cond_timedwait(&sweeper.cv, &sweeper.mu, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&sweeper.mu);
	return NULL;
}

int retention_sweeper_start(struct http_server *srv)
{
	int e;

	if (srv->cfg->artifact_retention_s == 0 || sweeper.started)
		return 0; /* kept for ever: nothing to sweep */
	sweeper.stopping = false;
	e = pthread_create(&sweeper.thread, NULL, sweeper_main, srv);
	if (e != 0)
		return -e;
	sweeper.started = true;
	return 0;
}

void retention_sweeper_stop(void)
{
	if (!sweeper.started)
		return;
	pthread_mutex_lock(&sweeper.mu);
	sweeper.stopping = true;
	pthread_cond_signal(&sweeper.cv);
	pthread_mutex_unlock(&sweeper.mu);
	pthread_join(sweeper.thread, NULL);
	sweeper.started = false;
}
