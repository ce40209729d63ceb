/*
 * trace: distributed tracing, exported as OTLP/HTTP JSON to a collector
 * (Jaeger, Tempo, the OpenTelemetry Collector, ...).
 *
 * A request builds spans in its own thread: trace_span_start() opens one
 * (a new trace, or a child of a parent span), attributes and an error status
 * are added, and trace_span_end() stamps the end time and hands the span to
 * the exporter. The exporter's one background thread batches finished spans
 * and POSTs them as
 *   {"resourceSpans":[{"resource":{"attributes":[service.name]},
 *     "scopeSpans":[{"scope":{"name":"ledgerbox"},"spans":[...]}]}]}
 * with ids in hex, times in nanoseconds since the epoch and 64-bit integers
 * as decimal strings, as OTLP's JSON encoding wants.
 *
 * Tracing must never hurt the service it watches:
 * - trace_span_end() never waits for the network: it takes a lock and
 *   appends. At most queue_max spans are held (queued or being sent); past
 *   that a span is dropped and counted.
 * - A POST gives up after 2 s. A failed or refused POST loses its batch
 *   (counted as dropped) and the exporter waits before the next one, one
 *   second at first and doubling up to 30 s, so a dead collector sees a
 *   trickle of attempts, not a storm.
 * - trace_exporter_free() waits at most its timeout for the last POSTs.
 * - Span names, attribute keys and values and error messages are cut to
 *   fixed maxima (and made valid UTF-8), and a span keeps at most
 *   TRACE_ATTRS_MAX attributes, so one span's size is bounded.
 *
 * Tracing off is a NULL exporter: every function accepts NULL exporters and
 * spans and then does nothing.
 */
#ifndef LEDGERBOX_TRACE_H
#define LEDGERBOX_TRACE_H

#include <stddef.h>
#include <stdint.h>

/* Spans held when queue_max is 0, and the largest queue_max accepted. */
#define TRACE_QUEUE_DEFAULT 2048
#define TRACE_QUEUE_LIMIT 65536
/* Longest endpoint URL and extra header line accepted. */
#define TRACE_URL_MAX 2048
#define TRACE_HEADER_MAX 1024
/* Per span: longest name, key, string value and error message (bytes);
 * most attributes kept (later new keys are ignored). */
#define TRACE_NAME_MAX 256
#define TRACE_KEY_MAX 128
#define TRACE_VALUE_MAX 1024
#define TRACE_ATTRS_MAX 32

struct trace_exporter;
struct trace_span;

/* endpoint: the full URL, such as http://127.0.0.1:4318/v1/traces; NULL or
 * "" returns 0 with *ret set to NULL (tracing off). service_name: the
 * resource's service.name (1..TRACE_NAME_MAX bytes). headers: NULL, "" or
 * one extra header line such as "Authorization: Basic ...". queue_max: spans
 * held at most (0: TRACE_QUEUE_DEFAULT). Starts the export thread.
 * Returns 0, -EINVAL (bad argument), -ENOMEM or -EIO (libcurl, libsodium or
 * the thread could not start). */
int trace_exporter_new(const char *endpoint, const char *service_name, const char *headers,
		       size_t queue_max, struct trace_exporter **ret);
/* Sends what is queued, waiting at most timeout_ms for it (what is not sent
 * by then is dropped), stops the thread and frees. Accepts NULL. Every span
 * of this exporter must have ended first. */
void trace_exporter_free(struct trace_exporter *t, uint64_t timeout_ms);

/* Spans lost: dropped because the queue was full, or in a POST that failed
 * or was not answered with 2xx, or still queued when the exporter was freed
 * past its timeout. */
uint64_t trace_exporter_dropped(const struct trace_exporter *t);
/* Spans the collector acknowledged with a 2xx answer. */
uint64_t trace_exporter_sent(const struct trace_exporter *t);

/* Starts a span now: a new trace (random 16-byte trace id) when parent is
 * NULL, else a child of parent in parent's trace; its own id is a random 8
 * bytes. Returns NULL when t or name is NULL or memory is short. A span
 * belongs to one thread; its parent must not end before it starts. */
struct trace_span *trace_span_start(struct trace_exporter *t, const struct trace_span *parent,
				    const char *name);
/* Sets an attribute; setting a key again replaces its value. */
void trace_span_attr_str(struct trace_span *s, const char *key, const char *value);
void trace_span_attr_int(struct trace_span *s, const char *key, int64_t value);
/* Marks the span failed: status code ERROR with this message. */
void trace_span_error(struct trace_span *s, const char *message);
/* Ends the span (end time now), queues it for export and frees it. */
void trace_span_end(struct trace_span *s);
/* The span's trace id in lowercase hex; "" when s is NULL. */
void trace_span_trace_id(const struct trace_span *s, char out[33]);

#endif
