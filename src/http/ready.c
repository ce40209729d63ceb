/*
 * ready: see ready.h.
 *
 * A node is ready when it can serve a request end to end: it is not
 * shutting down, its state takes writes (a full or read-only disk fails
 * every run's record), its database answers, its key pepper is the one the
 * database's keys were made with (else every valid key gets 401), and a
 * sandbox can start. The checks are ordered by what an operator should
 * fix first; each failing one names itself ("reason", a few fixed words a
 * balancer or a person can match) and says what to do ("message").
 *
 * The store's probe writes to disk and queries the database, so it runs
 * at most once per PROBE_EVERY_MS and one at a time: callers in between
 * share the last answer, and a flood of /readyz costs the disk and the
 * database one probe a second. The other checks read memory only and run
 * every time.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/ready.h"
#include "http/request.h"
#include "store/store_probe.h"
#include "util/banned.h"

#define PROBE_EVERY_MS 1000
/* A probe still running after this long means a database that takes
 * connections but answers nothing (stopped, or stuck on a lock): the node
 * is not ready, though the probe itself has no answer yet. */
#define PROBE_STUCK_MS 3000

static atomic_bool draining;
static _Atomic uint64_t drain_began_ms; /* clock_mono_ms(); 0: not draining */
static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t probe_done = PTHREAD_COND_INITIALIZER;
static struct store_probe last_probe; /* under probe_lock, like the rest */
static uint64_t last_probe_ms;
static uint64_t probe_started_ms;
static bool probed;  /* last_probe holds an answer */
static bool probing; /* a probe is running, outside the lock */

void ready_drain_begin(void)
{
	uint64_t none = 0;

	atomic_compare_exchange_strong(&drain_began_ms, &none, clock_mono_ms());
	atomic_store(&draining, true);
}

uint64_t ready_drain_began_ms(void)
{
	return atomic_load(&drain_began_ms);
}

bool ready_draining(void)
{
	return atomic_load(&draining);
}

enum MHD_Result ready_refuse_draining(struct request *rq)
{
	/* Connection: close, so a client's next request opens a connection
	 * a balancer can send to another node. */
	return respond_retry_close(rq, 503, "shutting_down",
				   "the server is shutting down; retry on another node or later",
				   READY_DRAIN_RETRY_S, true);
}

/* The answer while a probe has been waiting waited_ms for the store. */
static void probe_stuck(struct store_probe *ret, uint64_t waited_ms)
{
	ret->database_reachable = false;
	snprintf(ret->database_detail, sizeof(ret->database_detail),
		 "the state database has not answered for %llu s (stopped, overloaded, a "
		 "lock held, or the network path lost): check that it runs and answers; "
		 "requests that need it wait meanwhile",
		 (unsigned long long)(waited_ms / 1000));
}

/* The last probe's answer, or a fresh one when it is older than
 * PROBE_EVERY_MS. One probe runs at a time; while it does, callers get the
 * previous answer rather than wait (a database that does not answer can
 * hold a probe for its connect timeout, or for as long as it is stopped),
 * except before the first answer; once it has run PROBE_STUCK_MS, that
 * answer says the database does not answer. */
static void store_probe_cached(struct store *s, struct store_probe *ret)
{
	struct store_probe fresh;

	pthread_mutex_lock(&probe_lock);
	while (probing && !probed)
		pthread_cond_wait(&probe_done, &probe_lock);
	if (probing || (probed && clock_mono_ms() - last_probe_ms < PROBE_EVERY_MS)) {
		*ret = last_probe;
		if (probing && clock_mono_ms() - probe_started_ms >= PROBE_STUCK_MS)
			probe_stuck(ret, clock_mono_ms() - probe_started_ms);
		pthread_mutex_unlock(&probe_lock);
		return;
	}
	probing = true;
	probe_started_ms = clock_mono_ms();
	pthread_mutex_unlock(&probe_lock);
	store_probe_run(s, &fresh);
	pthread_mutex_lock(&probe_lock);
	last_probe = fresh;
	last_probe_ms = clock_mono_ms();
	probed = true;
	probing = false;
	pthread_cond_broadcast(&probe_done);
	pthread_mutex_unlock(&probe_lock);
	*ret = fresh;
}

/* Adds check `name` to checks; a failure is also kept in *first_failed
 * when it is the first. */
static void check_add(json_t *checks, json_t **first_failed, const char *name, bool ok,
		      const char *reason, const char *message)
{
	json_t *c = ok ? json_pack("{s:b}", "ok", 1)
		       : json_pack("{s:b,s:s,s:s}", "ok", 0, "reason", reason, "message", message);

	json_object_set_new(checks, name, c);
	if (!ok && !*first_failed)
		*first_failed = json_pack("{s:s,s:s}", "reason", reason, "message", message);
}

/* No run can start: the sandbox breaker is open (sandboxes have been
 * failing to start), or no run slot has a worker. */
static bool sandbox_ok(struct http_server *srv, char *why, size_t len)
{
	struct breaker_snapshot snap;
	unsigned slots = 0, dead = pool_dead_slots(srv->pool, &slots);
	uint64_t now = clock_mono_ms();

	breaker_snapshot(srv->sandbox_breaker, now, &snap);
	if (snap.state == BREAKER_OPEN) {
		snprintf(why, len,
			 "sandboxes have been failing to start (%u failures in a row), so runs "
			 "are paused for %llu ms; see the server log's sandbox errors (cgroups, "
			 "namespaces, the runner binaries)",
			 snap.consecutive_failures,
			 (unsigned long long)(snap.open_until_ms > now ? snap.open_until_ms - now : 0));
		return false;
	}
	if (slots > 0 && dead == slots) {
		snprintf(why, len,
			 "no sandbox worker could be started for any of the %u run slots; see the "
			 "server log and check that the ledgerbox binary can run",
			 slots);
		return false;
	}
	return true;
}

json_t *ready_checks(struct http_server *srv, bool *ret_ready, json_t **ret_failed)
{
	json_t *checks = json_object(), *failed = NULL;
	struct store_probe p;
	char why[400];

	store_probe_cached(srv->store, &p);
	check_add(checks, &failed, "shutting_down", !ready_draining(), "shutting down",
		  "the server is shutting down (SIGTERM): runs in progress finish, new requests "
		  "are refused; send them to another node");
	check_add(checks, &failed, "state_writable", p.state_writable, "state not writable",
		  p.state_detail);
	check_add(checks, &failed, "database", p.database_reachable, "database unreachable",
		  p.database_detail);
	check_add(checks, &failed, "key_pepper", p.pepper_matches,
		  "key pepper does not match the database", p.pepper_detail);
	check_add(checks, &failed, "sandbox", sandbox_ok(srv, why, sizeof(why)),
		  "sandbox unavailable", why);
	*ret_ready = failed == NULL;
	if (ret_failed)
		*ret_failed = failed;
	else
		json_decref(failed);
	return checks;
}
