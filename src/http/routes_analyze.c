/*
 * routes_analyze: POST /api/analyze, a run from request to record.
 *
 * The request is parsed and checked on the connection's thread; the work
 * (analyze_execute) then runs there too, or, when the client asked for
 * text/event-stream, in a thread of its own that sends events as it goes.
 * Runs go to a sandbox worker through the pool (429 when the queue is
 * full, 503 while shutting down or while the sandbox's circuit breaker is
 * open); a client that hangs up cancels its run.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/analyze_cache.h"
#include "http/analyze_internal.h"
#include "http/artifact_quota.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "obs/trace.h"
#include "runs/worker.h"
#include "util/banned.h"

static int client_fd(struct request *rq)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CONNECTION_FD);

	return ci ? ci->connect_fd : -1;
}

bool analyze_client_gone(struct request *rq)
{
	struct pollfd p = { .fd = client_fd(rq), .events = POLLRDHUP };

	if (p.fd < 0)
		return false;
	return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

void analyze_emit(const struct analyze_events *ev, const char *event, json_t *data)
{
	if (ev && ev->emit && data)
		ev->emit(ev->ctx, event, data);
	else
		json_decref(data);
}

void analyze_emit_status(const struct analyze_events *ev, const char *stage, unsigned attempt)
{
	if (ev)
		analyze_emit(ev, "status", json_pack("{s:s,s:I}", "stage", stage, "attempt",
						     (json_int_t)attempt));
}

static json_t *worker_request(const struct analyze_req *a, const char *code, bool live,
			      const struct config *cfg)
{
	struct sandbox_limits l = a->limits;

	l.max_rows = cfg->export_rows;
	/* Room for the whole exported table: about 1 KiB a row at most. */
	l.table_bytes = cfg->export_rows * 1024 < (200u << 20) ? cfg->export_rows * 1024 : (200u << 20);
	if (l.table_bytes < (1u << 20))
		l.table_bytes = 1u << 20;
	json_t *req = json_pack("{s:{s:s,s:s,s:s?,s:o,s:b}}", "run", "language",
				sandbox_lang_name(a->lang), "code", code, "data_path",
				a->data_path[0] ? a->data_path : NULL, "limits",
				worker_limits_to_json(&l), "stream_output", live);

	/* The sandbox mounts only the folder this request holds. */
	if (req && a->hold.fd >= 0 && a->data_path[0]) {
		json_t *run = json_object_get(req, "run");
		json_object_set_new(run, "data_dev", json_integer((json_int_t)a->hold.dev));
		json_object_set_new(run, "data_ino", json_integer((json_int_t)a->hold.ino));
	}
	return req;
}

/* A run the sandbox refused because a replace swapped the dataset's name
 * between this request's hold and the mount: no fault of the sandbox. */
static bool dataset_moved(const struct analyze_req *a, int e, const struct pool_result *pr)
{
	const char *status, *error;

	if (e < 0 || a->hold.fd < 0 || dataset_hold_current(a->data_dir, a->dataset, &a->hold))
		return false;
	status = json_string_value(json_object_get(pr->result, "status"));
	error = json_string_value(json_object_get(pr->result, "error"));
	return status && strcmp(status, "sandbox_error") == 0 && error &&
	       strstr(error, SANDBOX_DATA_CHANGED);
}

/* The sandbox itself failing (not the analyst's code) counts against its
 * breaker: a worker that dies or whose stream goes out of step (-EIO), the
 * server out of memory, or a sandbox that could not be built
 * ("sandbox_error"). What a program can cause ends otherwise: a result
 * too large is cut by the worker, a limit hit or a crash has its own
 * status, so no tenant can pause runs for everyone. */
static bool sandbox_broke(int e, const struct pool_result *pr)
{
	const char *status;

	if (e == -EIO || e == -ENOMEM)
		return true;
	if (e < 0)
		return false;
	status = json_string_value(json_object_get(pr->result, "status"));
	return status && strcmp(status, "sandbox_error") == 0;
}

static void sandbox_refused(int e, struct outcome *o)
{
	if (e == -EAGAIN) {
		metrics_queue_rejected();
		outcome_error(o, 429, "queue_full",
			      "every run slot is busy and the wait queue is full; retry shortly", NULL,
			      2, NULL);
	} else if (e == -ECANCELED) {
		/* The client hung up while its run waited for a slot. */
		outcome_error(o, 499, "cancelled", "the client went away; the request was stopped",
			      NULL, 0, NULL);
	} else if (e == -ESHUTDOWN) {
		outcome_error(o, 503, "shutting_down",
			      "the server is shutting down; retry on another node or later", NULL, 5,
			      NULL);
	} else {
		metrics_sandbox_failure();
		outcome_error(o, 500, "sandbox_failed",
			      "the sandbox worker failed; the run did not complete", NULL, 0, NULL);
	}
}

static void stdout_line(void *ctx, const char *line)
{
	analyze_emit(ctx, "stdout", json_pack("{s:s}", "text", line));
}

int analyze_sandbox(struct request *rq, const struct analyze_req *a, const char *code,
		    const struct analyze_events *ev, struct pool_result *ret, struct outcome *o)
{
	struct pool_output live = { .on_output = stdout_line, .ctx = (void *)ev };
	bool streaming = ev != NULL;
	uint64_t ticket, retry_ms = 0;
	json_t *req;
	int e;

	/* A PostgreSQL dataset is queried from here: sandboxes have no network. */
	if (a->postgres)
		return analyze_pg_run(rq, a, code, ret, o);
	if (breaker_acquire(rq->srv->sandbox_breaker, clock_mono_ms(), &ticket, &retry_ms) < 0) {
		outcome_error(o, 503, "sandbox_unavailable",
			      "sandboxes have been failing to start, so runs are paused for a moment "
			      "(circuit breaker open); retry after the time in Retry-After", NULL,
			      (unsigned)((retry_ms + 999) / 1000), NULL);
		return -1;
	}
	req = worker_request(a, code, streaming, rq->srv->cfg);
	memset(ret, 0, sizeof(*ret));
	e = req ? pool_run_live(rq->srv->pool, req, client_fd(rq), streaming ? &live : NULL, ret)
		: -ENOMEM;
	json_decref(req);
	if (dataset_moved(a, e, ret)) {
		breaker_report(rq->srv->sandbox_breaker, ticket, true, clock_mono_ms());
		pool_result_release(ret);
		outcome_error(o, 409, "dataset_changed", SANDBOX_DATA_CHANGED, "dataset", 0, NULL);
		return -1;
	}
	breaker_report(rq->srv->sandbox_breaker, ticket, !sandbox_broke(e, ret), clock_mono_ms());
	if (e < 0) {
		sandbox_refused(e, o);
		return -1;
	}
	return 0;
}

/* Code and template modes, and a question answered with cached code: one
 * reservation, one run. `annotation` (borrowed, may be NULL) is merged into
 * the answer. */
static void analyze_code(struct request *rq, struct analyze_req *a, const struct analyze_events *ev,
			 const char *id, int64_t created, uint64_t t0, struct trace_span *span,
			 json_t *annotation, struct outcome *o)
{
	struct pool_result pr = { 0 };
	struct run_output out = { 0 };
	struct charge charge;
	struct trace_span *step;

	step = trace_span_start(rq->srv->tracer, span, "budget");
	if (!charge_reserve(rq, a, id, 0, &charge, o)) {
		trace_span_error(step, "refused");
		trace_span_end(step);
		return;
	}
	trace_span_attr_int(step, "reserved_micros", (int64_t)charge.worst.total_micros);
	trace_span_end(step);
	analyze_emit_status(ev, "budget_reserved", 1);
	analyze_emit_status(ev, "running", 1);
	step = trace_span_start(rq->srv->tracer, span, "run");
	if (analyze_sandbox(rq, a, a->code, ev, &pr, o) < 0) {
		trace_span_error(step, "the run did not complete");
		trace_span_end(step);
		charge_release(rq, id, &charge);
		charge_free(&charge);
		return;
	}
	trace_span_attr_str(step, "status", json_string_value(json_object_get(pr.result, "status")));
	trace_span_end(step);
	analyze_response_build(a, a->code, &pr, id, (int64_t)(clock_mono_ms() - t0), rq->srv->cfg,
			       &out);
	if (!out.response) {
		outcome_error(o, 500, "out_of_memory", "out of memory", NULL, 0, NULL);
	} else {
		if (annotation)
			json_object_update(out.response, annotation);
		charge_price(rq, pr.result, out.response, &charge);
		step = trace_span_start(rq->srv->tracer, span, "settle");
		trace_span_attr_int(step, "cost_micros", (int64_t)charge.actual.total_micros);
		analyze_record_and_settle(rq, a, a->code, &out, &charge, id, id, created,
					  (int64_t)(clock_mono_ms() - t0), o);
		trace_span_end(step);
	}
	charge_release(rq, id, &charge);
	charge_free(&charge);
	run_output_release(&out);
	pool_result_release(&pr);
}

static const char *mode_name(enum analyze_mode m)
{
	return m == ANALYZE_QUERY ? "query" : m == ANALYZE_TEMPLATE ? "template" : "code";
}

/* The cache first (an exact hit answers at once; a semantic hit gives the
 * code to run), then the real work; a successful answer is kept. */
static void analyze_cached_or_fresh(struct request *rq, struct analyze_req *a,
				    const struct analyze_events *ev, const char *id, int64_t created,
				    uint64_t t0, struct trace_span *span, struct outcome *o)
{
	struct trace_span *step = trace_span_start(rq->srv->tracer, span, "cache");
	struct cache_probe probe;
	json_t *annotation = NULL;
	char *code = NULL;

	cache_probe_prepare(rq, a, &probe);
	if (probe.enabled && cache_answer_exact(rq, a, &probe, id, created, t0, o)) {
		trace_span_attr_str(step, "cache.result", "exact");
		trace_span_end(step);
		analyze_emit_status(ev, "cache_hit", 0);
		cache_probe_release(&probe);
		return;
	}
	/* Past the exact cache, something will run and store files. */
	if (!artifact_quota_room(rq, 0, o)) {
		trace_span_end(step);
		cache_probe_release(&probe);
		return;
	}
	code = cache_find_semantic(rq, a, &probe, &annotation);
	if (probe.enabled && !code)
		cache_note_miss(rq->srv->cache);
	trace_span_attr_str(step, "cache.result", !probe.enabled ? "off" : code ? "semantic" : "miss");
	trace_span_end(step);
	if (code) {
		analyze_emit_status(ev, "cache_hit", 0);
		free(a->owned_code);
		a->owned_code = code;
		a->code = code;
		analyze_code(rq, a, ev, id, created, t0, span, annotation, o);
	} else if (a->mode == ANALYZE_QUERY) {
		analyze_query(rq, a, ev, id, created, t0, span, o);
	} else {
		analyze_code(rq, a, ev, id, created, t0, span, NULL, o);
	}
	if (o->status == 200)
		cache_store(rq, a, &probe, o->body);
	json_decref(annotation);
	cache_probe_release(&probe);
}

void analyze_execute(struct request *rq, struct analyze_req *a, const struct analyze_events *ev,
		     struct outcome *o)
{
	char id[STORE_RUN_ID_LEN + 1];
	int64_t created = clock_unix_ms();
	uint64_t t0 = clock_mono_ms();
	struct trace_span *span = trace_span_start(rq->srv->tracer, NULL, "analyze");

	store_run_id_new(id);
	trace_span_attr_str(span, "run.id", id);
	trace_span_attr_str(span, "mode", mode_name(a->mode));
	trace_span_attr_str(span, "language", sandbox_lang_name(a->lang));
	trace_span_attr_str(span, "request.id", rq->id);
	analyze_cached_or_fresh(rq, a, ev, id, created, t0, span, o);
	trace_span_attr_int(span, "http.status", (int64_t)o->status);
	if (o->status >= 400)
		trace_span_error(span, json_string_value(json_object_get(
					       json_object_get(o->body, "error"), "message")));
	trace_span_end(span);
}

/* Every analyze request, a cache hit as much as a run, takes its places
 * here first; they are given back when the request ends (server.c), a
 * streamed one when its thread has finished. The places are counted by
 * the key itself, not the header: the scheme's spelling is free ("Bearer",
 * "bearer", ...), and each spelling would otherwise count as a key of its
 * own. */
static bool analyze_admit(struct request *rq, enum MHD_Result *ret)
{
	const char *key = auth_bearer_key(rq);
	unsigned retry_s = 1;
	char why[400];

	if (admission_enter(rq->srv->cfg, key, rq->who.id, &rq->admitted, &retry_s, why,
			    sizeof(why)))
		return true;
	*ret = respond_retry(rq, 429, "rate_limited", why, retry_s);
	return false;
}

enum MHD_Result route_analyze(struct request *rq)
{
	struct analyze_req a;
	struct outcome o = { 0 };
	enum MHD_Result r;

	if (!auth_require(rq, &r) || !analyze_admit(rq, &r))
		return r;
	if (!analyze_parse(rq, &a, &r)) {
		analyze_req_release(&a);
		return r;
	}
	if (a.stream)
		return sse_analyze(rq, &a); /* takes a */
	analyze_execute(rq, &a, NULL, &o);
	analyze_req_release(&a);
	return respond_outcome(rq, &o);
}
