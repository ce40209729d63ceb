/*
 * http: the REST API of `ledgerbox serve` on libmicrohttpd.
 *
 * Connections wait in a few event loops without a thread each; a handler
 * that may block runs on a bounded lane thread with its connection
 * suspended (server.c, lane.c), so it may wait for its run in a sandbox
 * worker and watch its client's socket meanwhile: a client that goes away
 * cancels its run. Every
 * response is JSON (or a file), carries X-Request-Id, and every error is
 * {"error": {"code", "message", "field"?}}.
 */
#ifndef LEDGERBOX_HTTP_H
#define LEDGERBOX_HTTP_H

#include <microhttpd.h>
#include <stdbool.h>

#include "budget/budget.h"
#include "budget/pricing.h"
#include "config/config.h"
#include "llm/llm.h"
#include "resilience/breaker.h"
#include "runs/pool.h"
#include "store/store.h"

struct http_server {
	const struct config *cfg;
	struct store *store;
	struct pool *pool;
	const struct pricing *pricing;
	struct budgets *budgets;
	struct llm_config llm;          /* from cfg, for the natural-language mode */
	bool llm_samples;               /* sample values may go to the model */
	struct breaker *llm_breaker;    /* one per back end */
	struct breaker *sandbox_breaker;
	struct trace_exporter *tracer;  /* NULL: tracing off */
	struct cache *cache;            /* NULL: LEDGERBOX_CACHE=off */
	struct MHD_Daemon *daemon;
};

struct trace_exporter;
struct cache;

/* Sets up the LLM client's settings, the circuit breakers and the trace
 * exporter from cfg. 0 or -errno with err filled. */
int http_backends_start(struct http_server *srv, char *err, size_t err_len);
/* Frees them (flushing traces briefly); safe to call twice. */
void http_backends_stop(struct http_server *srv);
/* Starts listening on cfg's address. */
int http_start(struct http_server *srv, char *err, size_t err_len);
/* Begins the shutdown: the node keeps listening, but answers new requests
 * and /readyz with 503 "shutting_down" and Retry-After; requests already
 * admitted go on. */
void http_drain_begin(struct http_server *srv);
/* Stops accepting new connections; connections in flight go on. */
void http_quiesce(struct http_server *srv);
/* The served routes (method and template), for the test that keeps
 * docs/openapi.yaml in sync. */
size_t http_routes(const char *const **ret_methods, const char *const **ret_names);
/* Requests being handled now (not idle keep-alive connections). */
int http_in_flight(void);
/* Closes every connection and the listener. */
void http_stop(struct http_server *srv);

#endif
