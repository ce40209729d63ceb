/*
 * ready: whether this node can serve (GET /readyz), and the refusal of new
 * requests while it shuts down. Private to src/http/.
 */
#ifndef LEDGERBOX_HTTP_READY_H
#define LEDGERBOX_HTTP_READY_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

struct http_server;
struct request;

/* Seconds a client is told to wait (Retry-After) by a draining node. */
#define READY_DRAIN_RETRY_S 5u
/* Retry-After of a /readyz that fails: the checks are asked again at most
 * once a second, and most faults (a database restart) pass within it. */
#define READY_RETRY_S 5u

/* The node is shutting down: from now on /readyz fails and new requests
 * are answered 503 (ready_refuse_draining). Never undone. */
void ready_drain_begin(void);
bool ready_draining(void);
/* When the drain began (clock_mono_ms()), 0 before. */
uint64_t ready_drain_began_ms(void);
/* 503 "shutting_down" with Retry-After and Connection: close, so that a
 * kept-alive client reconnects (to another node) for its next request. */
enum MHD_Result ready_refuse_draining(struct request *rq);

/* Every readiness check as {"<name>": {"ok", "reason"?, "message"?}};
 * *ret_ready is whether all passed, and *ret_failed (may be NULL) the
 * first that did not: {"reason", "message"}, a new reference. The store's
 * write probe runs at most once a second; callers in between get its last
 * answer. */
json_t *ready_checks(struct http_server *srv, bool *ret_ready, json_t **ret_failed);

#endif
