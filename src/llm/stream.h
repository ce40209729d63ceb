/*
 * stream: incremental parsers for the two streamed reply framings, fed
 * arbitrary byte chunks as they come off the wire.
 *
 * - NDJSON (Ollama): one JSON document per line. Lines end with LF; a CR
 *   before the LF is dropped; blank lines are skipped.
 * - SSE (OpenAI), per the WHATWG event-stream rules: lines end with CRLF,
 *   LF or CR; a leading BOM is skipped; ":" lines are comments; "data"
 *   lines accumulate (joined with LF) until a blank line dispatches the
 *   event; "event" names it ("message" when unnamed); "id", "retry" and
 *   unknown fields are ignored.
 *
 * Both are pure (no I/O, no globals) and keep at most one line (and for
 * SSE one event's data) in memory, under hard caps. Feeding a line or an
 * event over its cap fails with -E2BIG. The first error — a cap, -ENOMEM or
 * a callback's negative return — is sticky: every later feed and finish
 * returns it, and the parser should be released.
 */
#ifndef LEDGERBOX_LLM_STREAM_H
#define LEDGERBOX_LLM_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

#define STREAM_EVENT_NAME_MAX 64 /* SSE event names, with the NUL */

/* A line without its terminator; not NUL-terminated. Return 0 to go on,
 * a negative errno to stop the parser (feed returns it). */
typedef int (*ndjson_line_fn)(void *ctx, const char *line, size_t len);

struct ndjson {
	struct buf line; /* the unfinished line */
	size_t max_line;
	int err;
};

void ndjson_init(struct ndjson *p, size_t max_line);
/* Returns 0, -E2BIG, -ENOMEM or the callback's error. */
int ndjson_feed(struct ndjson *p, const char *data, size_t len, ndjson_line_fn fn, void *ctx);
/* The input ended: 0 when nothing is pending, -EPIPE when it stopped inside a
 * line (the line is not delivered), or the sticky error. */
int ndjson_finish(struct ndjson *p);
/* Accepts NULL. */
void ndjson_release(struct ndjson *p);

/* One dispatched event: data is NUL-terminated (len excludes the NUL) and
 * has its final LF removed. Return as for ndjson_line_fn. */
typedef int (*sse_event_fn)(void *ctx, const char *event, const char *data, size_t len);

struct sse {
	struct buf line; /* the unfinished line */
	struct buf data; /* the current event's data lines, each followed by LF */
	size_t max_line, max_data;
	char event[STREAM_EVENT_NAME_MAX];
	bool skip_lf;   /* the last line ended with CR: a following LF belongs to it */
	bool started;   /* a line was seen: no BOM to skip any more */
	int err;
};

void sse_init(struct sse *p, size_t max_line, size_t max_data);
/* Returns 0, -E2BIG (line, data or event name too long), -ENOMEM or the
 * callback's error. */
int sse_feed(struct sse *p, const char *data, size_t len, sse_event_fn fn, void *ctx);
/* The input ended: 0 when nothing is pending, -EPIPE when a line or an
 * event was unfinished (it is not dispatched), or the sticky error. */
int sse_finish(struct sse *p);
/* Accepts NULL. */
void sse_release(struct sse *p);

#endif
