/*
 * analyze_stream: POST /api/analyze as server-sent events.
 *
 * The analysis runs in a thread of its own (analyze_execute with an event
 * sink) while libmicrohttpd's event loop takes the bytes from a
 * content-reader callback. The reader must not block the loop: with
 * nothing to send it suspends the connection (conn_park), and the next
 * event, or the analysis's end, resumes it. Events:
 *   status  {"stage", "attempt"}  budget_reserved, generating, validating,
 *                                 running, repairing
 *   token   {"text"}              pieces of generated code as they arrive
 *   stdout  {"text"}              the run's output, a line per event
 *   result  the answer a JSON request gets (200)
 *   error   {"status", "error": {...}, "retryAfter"} the answer's status,
 *                                 error and Retry-After seconds (0: none)
 *
 * Lifetime: the stream is shared by the request and the response (two
 * references). The request's end (sse_stream_end, from the server's
 * completion callback) joins the thread before the request is freed, and
 * a client that hangs up makes the analysis stop at its next check.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/analyze.h"
#include "http/lane.h"
#include "util/banned.h"

/* Bytes waiting for a slow client; past this, events are dropped (the
 * final event is always sent). */
#define SSE_PENDING_MAX (64u << 20)

struct sse_stream {
	pthread_mutex_t mu;
	char *data;
	size_t head, len, cap;
	bool done;
	bool parked; /* the connection waits for the next event */
	bool thread_started, joined;
	int refs;
	pthread_t thread;
	struct request *rq;
	struct analyze_req a;
};

static int pending_append(struct sse_stream *s, const char *bytes, size_t n, bool must)
{
	if (s->head > 0 && s->head == s->len)
		s->head = s->len = 0;
	if (!must && s->len - s->head + n > SSE_PENDING_MAX)
		return -ENOBUFS;
	if (s->len + n > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		char *p;
		if (s->head > 0) {
			memmove(s->data, s->data + s->head, s->len - s->head);
			s->len -= s->head;
			s->head = 0;
		}
		while (cap < s->len + n)
			cap *= 2;
		p = realloc(s->data, cap);
		if (!p)
			return -ENOMEM;
		s->data = p;
		s->cap = cap;
	}
	memcpy(s->data + s->len, bytes, n);
	s->len += n;
	return 0;
}

/* Under s->mu: whether the caller must resume the connection (outside
 * the lock) now that there is something to send. */
static bool unpark_due(struct sse_stream *s)
{
	bool due = s->parked;

	s->parked = false;
	return due;
}

static void emit(void *ctx, const char *event, json_t *data)
{
	struct sse_stream *s = ctx;
	char *text = json_dumps(data, JSON_COMPACT);
	char head[64];
	bool final = strcmp(event, "result") == 0 || strcmp(event, "error") == 0;
	bool unpark;

	json_decref(data);
	if (!text)
		return;
	/* JSON text has no raw newline, so one data line carries it. */
	snprintf(head, sizeof(head), "event: %s\ndata: ", event);
	pthread_mutex_lock(&s->mu);
	if (pending_append(s, head, strlen(head), final) == 0 &&
	    pending_append(s, text, strlen(text), final) == 0)
		pending_append(s, "\n\n", 2, true);
	unpark = unpark_due(s);
	pthread_mutex_unlock(&s->mu);
	if (unpark)
		conn_unpark(s->rq->conn);
	free(text);
}

static void *analysis_thread(void *arg)
{
	struct sse_stream *s = arg;
	struct analyze_events ev = { .emit = emit, .ctx = s };
	struct outcome o = { 0 };
	bool unpark;

	analyze_execute(s->rq, &s->a, &ev, &o);
	if (o.status == 200)
		emit(s, "result", json_incref(o.body));
	else
		emit(s, "error", json_pack("{s:I,s:O?,s:I}", "status", (json_int_t)o.status, "error",
					   json_object_get(o.body, "error"), "retryAfter",
					   (json_int_t)o.retry_after_s));
	outcome_release(&o);
	analyze_req_release(&s->a);
	pthread_mutex_lock(&s->mu);
	s->done = true;
	unpark = unpark_due(s);
	pthread_mutex_unlock(&s->mu);
	if (unpark)
		conn_unpark(s->rq->conn);
	return NULL;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct sse_stream *s = cls;
	size_t n;

	(void)pos;
	pthread_mutex_lock(&s->mu);
	if (s->head == s->len && !s->done) {
		/* Suspended under the lock, so an event cannot slip in
		 * between and find nothing to resume. */
		s->parked = true;
		conn_park(s->rq->conn);
		pthread_mutex_unlock(&s->mu);
		return 0;
	}
	n = s->len - s->head < max ? s->len - s->head : max;
	memcpy(buf, s->data + s->head, n);
	s->head += n;
	pthread_mutex_unlock(&s->mu);
	return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void stream_unref(struct sse_stream *s)
{
	bool last;

	pthread_mutex_lock(&s->mu);
	last = --s->refs == 0;
	pthread_mutex_unlock(&s->mu);
	if (!last)
		return;
	pthread_mutex_destroy(&s->mu);
	free(s->data);
	free(s);
}

static void response_freed(void *cls)
{
	stream_unref(cls);
}

void sse_stream_end(struct sse_stream *s)
{
	if (!s)
		return;
	if (s->thread_started && !s->joined) {
		pthread_join(s->thread, NULL);
		s->joined = true;
	}
	stream_unref(s);
}

enum MHD_Result sse_analyze(struct request *rq, struct analyze_req *a)
{
	struct sse_stream *s = calloc(1, sizeof(*s));
	struct MHD_Response *resp;
	enum MHD_Result r;

	if (!s) {
		analyze_req_release(a);
		return respond_error(rq, 500, "out_of_memory", "out of memory", NULL);
	}
	pthread_mutex_init(&s->mu, NULL);
	s->rq = rq;
	s->a = *a;
	s->refs = 2;
	rq->stream = s;
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, reader, s,
						 response_freed);
	if (!resp) {
		s->refs = 1;
		analyze_req_release(&s->a);
		return MHD_NO;
	}
	if (pthread_create(&s->thread, NULL, analysis_thread, s) != 0) {
		MHD_destroy_response(resp);
		analyze_req_release(&s->a);
		return respond_retry(rq, 503, "busy", "no thread for the stream; retry shortly", 1);
	}
	s->thread_started = true;
	MHD_add_response_header(resp, "Content-Type", "text/event-stream");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	respond_common_headers(rq, resp);
	rq->status = 200;
	r = MHD_queue_response(rq->conn, 200, resp);
	MHD_destroy_response(resp);
	return r;
}
