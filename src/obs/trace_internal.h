/*
 * trace_internal: what the parts of src/obs/trace*.c say to each other.
 * trace_span.c builds spans, trace.c queues them and runs the export
 * thread, trace_send.c speaks HTTP.
 */
#ifndef LEDGERBOX_TRACE_INTERNAL_H
#define LEDGERBOX_TRACE_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include <jansson.h>

#include "obs/trace.h"

/* Hands a finished OTLP span object to t's queue, which takes the
 * reference (and drops it, counted, when full). */
void trace_exporter_enqueue(struct trace_exporter *t, json_t *span);
/* Counts a span lost before it reached the queue (out of memory). */
void trace_exporter_lost(struct trace_exporter *t);

/* {name: value}, taking value's reference; NULL (value released) when
 * value is NULL or memory is short. */
json_t *trace_json_one(const char *name, json_t *value);

/* The HTTP side: one connection's worth of libcurl state, used by the
 * export thread only (trace_sender_wake excepted). */
struct trace_sender;

/* endpoint and header as trace_exporter_new() checked them. 0 or -ENOMEM /
 * -EIO. */
int trace_sender_new(const char *endpoint, const char *header, struct trace_sender **ret);
void trace_sender_free(struct trace_sender *s);
/* POSTs body (application/json) and waits for the answer: at most the
 * 2 s POST timeout, and not past *abort_at_ms (monotonic ms), which another
 * thread may lower meanwhile (then call trace_sender_wake). Returns 0 for a
 * 2xx answer, -EPROTO for another status, -ECANCELED when abort_at_ms came,
 * -EIO for a transport failure (refused, timed out, ...). */
int trace_sender_post(struct trace_sender *s, const char *body, size_t len,
		      const _Atomic uint64_t *abort_at_ms);
/* Makes a waiting trace_sender_post() look at abort_at_ms again; safe from
 * any thread. */
void trace_sender_wake(struct trace_sender *s);

#endif
