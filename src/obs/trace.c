/*
 * trace: the exporter (see trace.h): a fixed ring of finished spans and the
 * thread that sends them in batches.
 *
 * Invariants (under `lock`):
 * - held = spans in the ring + spans in the batch being sent <= queue_max,
 *   and the ring has queue_max slots, so enqueueing never allocates.
 * - The thread sends a batch when BATCH_MAX spans wait, or LINGER_MS after
 *   the oldest waiting one arrived, but never before resume_at_ms (the
 *   back-off after a failed POST).
 * - Once stopping: whatever is queued is sent at once, back-off ignored,
 *   until abort_at_ms; a failed POST then, or abort_at_ms passing, drops the
 *   rest. abort_at_ms is atomic because the sender reads it mid-POST.
 * - sent and dropped only grow; they are atomic so the getters need no lock.
 */
#include "obs/trace_internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "util/clock.h"
#include "util/utf8.h"
#include "util/banned.h"

#define BATCH_MAX 256
#define LINGER_MS 200
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define SCOPE_NAME "ledgerbox"

struct trace_exporter {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	struct trace_sender *sender;
	json_t *resource; /* {"attributes": [service.name]} */
	json_t **ring;
	size_t queue_max, ring_head, ring_count, held;
	uint64_t first_queued_ms;
	uint64_t resume_at_ms, backoff_ms;
	bool stopping, stop_failed;
	_Atomic uint64_t abort_at_ms;
	_Atomic uint64_t sent, dropped;
};

uint64_t trace_exporter_dropped(const struct trace_exporter *t)
{
	return t ? atomic_load(&t->dropped) : 0;
}

uint64_t trace_exporter_sent(const struct trace_exporter *t)
{
	return t ? atomic_load(&t->sent) : 0;
}

void trace_exporter_lost(struct trace_exporter *t)
{
	if (t)
		atomic_fetch_add(&t->dropped, 1);
}

/* ---- the queue ---------------------------------------------------------- */

void trace_exporter_enqueue(struct trace_exporter *t, json_t *span)
{
	if (!t) {
		json_decref(span);
		return;
	}
	pthread_mutex_lock(&t->lock);
	if (t->held >= t->queue_max || t->stopping) {
		pthread_mutex_unlock(&t->lock);
		atomic_fetch_add(&t->dropped, 1);
		json_decref(span);
		return;
	}
	t->ring[(t->ring_head + t->ring_count) % t->queue_max] = span;
	t->ring_count++;
	t->held++;
	if (t->ring_count == 1)
		t->first_queued_ms = clock_mono_ms();
	if (t->ring_count == 1 || t->ring_count == BATCH_MAX)
		pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
}

/* Moves up to BATCH_MAX spans from the ring to batch; they stay held. */
static size_t batch_take(struct trace_exporter *t, json_t **batch)
{
	size_t n = t->ring_count < BATCH_MAX ? t->ring_count : BATCH_MAX;

	for (size_t i = 0; i < n; i++) {
		batch[i] = t->ring[t->ring_head];
		t->ring_head = (t->ring_head + 1) % t->queue_max;
	}
	t->ring_count -= n;
	if (t->ring_count > 0)
		t->first_queued_ms = clock_mono_ms();
	return n;
}

static void wait_until(struct trace_exporter *t, uint64_t mono_ms)
{
	struct timespec ts = { .tv_sec = (time_t)(mono_ms / 1000),
			       .tv_nsec = (long)(mono_ms % 1000) * 1000000 };

	pthread_cond_timedwait(&t->wake, &t->lock, &ts);
}

/* Waits for the next batch to be due and takes it; 0 when the thread
 * should stop. */
static size_t batch_wait(struct trace_exporter *t, json_t **batch)
{
	for (;;) {
		uint64_t now = clock_mono_ms(), due;

		if (t->stopping) {
			if (t->ring_count == 0 || t->stop_failed || now >= atomic_load(&t->abort_at_ms))
				return 0;
			return batch_take(t, batch);
		}
		if (t->ring_count == 0) {
			pthread_cond_wait(&t->wake, &t->lock);
			continue;
		}
		due = t->ring_count >= BATCH_MAX ? now : t->first_queued_ms + LINGER_MS;
		if (due < t->resume_at_ms)
			due = t->resume_at_ms;
		if (now >= due)
			return batch_take(t, batch);
		wait_until(t, due);
	}
}

static void batch_done(struct trace_exporter *t, size_t n, int r)
{
	t->held -= n;
	if (r == 0) {
		atomic_fetch_add(&t->sent, n);
		t->backoff_ms = 0;
		return;
	}
	atomic_fetch_add(&t->dropped, n);
	if (t->backoff_ms == 0)
		t->backoff_ms = BACKOFF_MIN_MS;
	else if (t->backoff_ms < BACKOFF_MAX_MS / 2)
		t->backoff_ms *= 2;
	else
		t->backoff_ms = BACKOFF_MAX_MS;
	t->resume_at_ms = clock_mono_ms() + t->backoff_ms;
	if (t->stopping)
		t->stop_failed = true;
}

static void queue_drop_all(struct trace_exporter *t)
{
	while (t->ring_count > 0) {
		json_decref(t->ring[t->ring_head]);
		t->ring_head = (t->ring_head + 1) % t->queue_max;
		t->ring_count--;
		t->held--;
		atomic_fetch_add(&t->dropped, 1);
	}
}

/* ---- sending ------------------------------------------------------------ */

/* [item], taking item's reference; NULL when item is or memory is short.
 * (jansson's append_new releases the item even when it fails.) */
static json_t *array_of(json_t *item)
{
	json_t *a = json_array();

	if (json_array_append_new(a, item) < 0) {
		json_decref(a);
		return NULL;
	}
	return a;
}

/* The ExportTraceServiceRequest around spans (whose reference it takes). */
static json_t *document_json(json_t *resource, json_t *spans)
{
	json_t *scope_spans = trace_json_one("scope", trace_json_one("name", json_string(SCOPE_NAME)));
	json_t *resource_spans;
	int r = 0;

	r |= json_object_set_new(scope_spans, "spans", spans);
	resource_spans = trace_json_one("resource", json_incref(resource));
	r |= json_object_set_new(resource_spans, "scopeSpans", array_of(scope_spans));
	if (r < 0) {
		json_decref(resource_spans);
		return NULL;
	}
	return trace_json_one("resourceSpans", array_of(resource_spans));
}

/* POSTs the batch and releases its spans. */
static int batch_send(struct trace_exporter *t, json_t **batch, size_t n)
{
	json_t *spans = json_array(), *doc;
	char *body;
	int r;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(spans, batch[i]);
	if (json_array_size(spans) != n) {
		json_decref(spans);
		return -ENOMEM;
	}
	doc = document_json(t->resource, spans);
	body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!body)
		return -ENOMEM;
	r = trace_sender_post(t->sender, body, strlen(body), &t->abort_at_ms);
	free(body);
	return r;
}

static void *export_run(void *arg)
{
	struct trace_exporter *t = arg;
	json_t *batch[BATCH_MAX];
	size_t n;

	pthread_mutex_lock(&t->lock);
	while ((n = batch_wait(t, batch)) > 0) {
		int r;

		pthread_mutex_unlock(&t->lock);
		r = batch_send(t, batch, n);
		pthread_mutex_lock(&t->lock);
		batch_done(t, n, r);
	}
	queue_drop_all(t);
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

/* ---- life cycle --------------------------------------------------------- */

static bool text_ok(const char *s, size_t max)
{
	size_t len = strlen(s);
	char *fixed = NULL;
	size_t fixed_len;
	bool valid;

	if (len == 0 || len > max)
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	if (utf8_sanitize(s, len, &fixed, &fixed_len) < 0)
		return false;
	valid = fixed == NULL;
	free(fixed);
	return valid;
}

static int args_check(const char *endpoint, const char *service_name, const char *headers,
		      size_t queue_max)
{
	bool web = strncmp(endpoint, "http://", 7) == 0 || strncmp(endpoint, "https://", 8) == 0;

	if (!web || strchr(endpoint, ' ') || !text_ok(endpoint, TRACE_URL_MAX))
		return -EINVAL;
	if (!service_name || !text_ok(service_name, TRACE_NAME_MAX))
		return -EINVAL;
	if (headers && *headers &&
	    (!text_ok(headers, TRACE_HEADER_MAX) || headers[0] == ':' || !strchr(headers, ':')))
		return -EINVAL;
	return queue_max > TRACE_QUEUE_LIMIT ? -EINVAL : 0;
}

static int sync_init(struct trace_exporter *t)
{
	pthread_condattr_t attr;
	int r;

	if (pthread_condattr_init(&attr) != 0)
		return -ENOMEM;
	r = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (r == 0)
		r = pthread_cond_init(&t->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (r != 0)
		return -r;
	if (pthread_mutex_init(&t->lock, NULL) != 0) {
		pthread_cond_destroy(&t->wake);
		return -ENOMEM;
	}
	return 0;
}

/* The export thread takes no signals: they belong to the main thread. */
static int thread_start(struct trace_exporter *t)
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&t->thread, NULL, export_run, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r == 0 ? 0 : -EIO;
}

static void exporter_release(struct trace_exporter *t)
{
	trace_sender_free(t->sender);
	json_decref(t->resource);
	free(t->ring);
	free(t);
	curl_global_cleanup();
}

int trace_exporter_new(const char *endpoint, const char *service_name, const char *headers,
		       size_t queue_max, struct trace_exporter **ret)
{
	struct trace_exporter *t;
	int r;

	if (!ret)
		return -EINVAL;
	if (!endpoint || !*endpoint) {
		*ret = NULL;
		return 0;
	}
	r = args_check(endpoint, service_name, headers, queue_max);
	if (r < 0)
		return r;
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -EIO;
	t = calloc(1, sizeof(*t));
	if (!t) {
		curl_global_cleanup();
		return -ENOMEM;
	}
	t->queue_max = queue_max ? queue_max : TRACE_QUEUE_DEFAULT;
	t->abort_at_ms = UINT64_MAX;
	t->ring = calloc(t->queue_max, sizeof(*t->ring));
	t->resource = json_pack("{s:[{s:s, s:{s:s}}]}", "attributes", "key", "service.name",
				"value", "stringValue", service_name);
	r = -ENOMEM;
	if (!t->ring || !t->resource)
		goto out_release;
	r = trace_sender_new(endpoint, headers, &t->sender);
	if (r < 0)
		goto out_release;
	r = sync_init(t);
	if (r < 0)
		goto out_release;
	r = thread_start(t);
	if (r < 0)
		goto out_sync;
	*ret = t;
	return 0;
out_sync:
	pthread_cond_destroy(&t->wake);
	pthread_mutex_destroy(&t->lock);
out_release:
	exporter_release(t);
	return r;
}

void trace_exporter_free(struct trace_exporter *t, uint64_t timeout_ms)
{
	uint64_t now;

	if (!t)
		return;
	now = clock_mono_ms();
	pthread_mutex_lock(&t->lock);
	t->stopping = true;
	atomic_store(&t->abort_at_ms, timeout_ms > UINT64_MAX - now ? UINT64_MAX : now + timeout_ms);
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
	trace_sender_wake(t->sender);
	pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->wake);
	pthread_mutex_destroy(&t->lock);
	exporter_release(t);
}
