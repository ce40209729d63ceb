/* routes_ops: /healthz, /readyz and /metrics, for operators and probes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/llm_local.h"
#include "http/ready.h"
#include "http/request.h"
#include "http/store_fault.h"
#include "obs/metrics.h"
#include "templates/templates.h"
#include "util/buf.h"
#include "util/banned.h"

enum MHD_Result route_healthz(struct request *rq)
{
	json_t *body = json_pack("{s:s}", "status", "ok");
	enum MHD_Result r = respond_json(rq, 200, body);

	json_decref(body);
	return r;
}

/* The LLM back end: reachable now (a short probe), where, and what of the
 * data may go to it (local: on this machine by llm_url_is_local();
 * samples: sample values and full error messages go to it). */
static json_t *llm_status(struct request *rq)
{
	const struct config *cfg = rq->srv->cfg;
	struct llm_error e = { 0 };
	bool ok = llm_ready(&rq->srv->llm, &e) == 0;

	return json_pack("{s:s,s:s,s:s,s:b,s:s?,s:b,s:b,s:s}", "url", rq->srv->llm.url, "api",
			 llm_api_name(rq->srv->llm.api), "model", rq->srv->llm.model, "reachable", ok,
			 "error", ok ? NULL : e.message, "local", llm_url_is_local(cfg->llm_url),
			 "samples", rq->srv->llm_samples, "privacy",
			 llm_privacy_summary(cfg->llm_send_samples, cfg->llm_url));
}

/* Ready when every check of ready.c passes: 503 otherwise, with the first
 * failing check's reason and what to do, and Retry-After as on every 503. The LLM and the breakers are
 * reported but do not decide, since code and templates work without the
 * LLM. */
enum MHD_Result route_readyz(struct request *rq)
{
	int active, waiting;
	uint64_t now = clock_mono_ms();
	json_t *failed = NULL, *checks, *body;
	bool ready;
	enum MHD_Result r;

	checks = ready_checks(rq->srv, &ready, &failed);
	pool_load(rq->srv->pool, &active, &waiting);
	body = json_pack("{s:s,s:o,s:b,s:i,s:i,s:i,s:o,s:{s:o,s:o}}", "status",
			 ready ? "ready" : "not_ready", "checks", checks, "store",
			 json_is_true(json_object_get(json_object_get(checks, "database"), "ok")),
			 "runs_active", active, "runs_waiting", waiting, "run_slots",
			 (int)rq->srv->cfg->max_runs, "llm", llm_status(rq), "breakers", "llm",
			 breaker_to_json(rq->srv->llm_breaker, now), "sandbox",
			 breaker_to_json(rq->srv->sandbox_breaker, now));
	if (body && failed)
		json_object_update(body, failed);
	json_decref(failed);
	if (ready) {
		r = respond_json(rq, 200, body);
	} else {
		char retry[16];

		snprintf(retry, sizeof(retry), "%u", READY_RETRY_S);
		r = respond_json_header(rq, 503, body, "Retry-After", retry);
	}
	json_decref(body);
	return r;
}

static void buf_puts(struct buf *b, const char *text)
{
	buf_append(b, text, strlen(text));
}

/* The breakers' state, appended to the registry's text. Takes text. */
static char *breakers_render(struct request *rq, char *text, size_t *len)
{
	struct breaker *list[2] = { rq->srv->llm_breaker, rq->srv->sandbox_breaker };
	struct breaker_snapshot snap[2];
	struct buf b;
	char line[256];

	buf_init(&b, *len + 4096);
	buf_append(&b, text, *len);
	free(text);
	for (size_t i = 0; i < 2; i++)
		breaker_snapshot(list[i], clock_mono_ms(), &snap[i]);
	buf_puts(&b, "# HELP ledgerbox_breaker_state Circuit breaker state: 0 closed, 1 open, "
		       "2 half-open.\n# TYPE ledgerbox_breaker_state gauge\n");
	for (size_t i = 0; i < 2; i++) {
		int n = snprintf(line, sizeof(line), "ledgerbox_breaker_state{backend=\"%s\"} %d\n",
				 breaker_name(list[i]), (int)snap[i].state);
		buf_append(&b, line, (size_t)n);
	}
	buf_puts(&b, "# HELP ledgerbox_breaker_rejected_total Calls refused by an open "
		       "breaker.\n# TYPE ledgerbox_breaker_rejected_total counter\n");
	for (size_t i = 0; i < 2; i++) {
		int n = snprintf(line, sizeof(line),
				 "ledgerbox_breaker_rejected_total{backend=\"%s\"} %llu\n",
				 breaker_name(list[i]), (unsigned long long)snap[i].rejected_total);
		buf_append(&b, line, (size_t)n);
	}
	buf_puts(&b, "# HELP ledgerbox_breaker_opened_total Times a breaker opened.\n"
		       "# TYPE ledgerbox_breaker_opened_total counter\n");
	for (size_t i = 0; i < 2; i++) {
		int n = snprintf(line, sizeof(line),
				 "ledgerbox_breaker_opened_total{backend=\"%s\"} %llu\n",
				 breaker_name(list[i]), (unsigned long long)snap[i].opened_total);
		buf_append(&b, line, (size_t)n);
	}
	if (!cache_metrics_render(rq, &b) || b.truncated) {
		buf_release(&b);
		return NULL;
	}
	return buf_steal(&b, len);
}

enum MHD_Result route_metrics(struct request *rq)
{
	int active, waiting;
	size_t len;
	char *text;
	struct MHD_Response *resp;
	enum MHD_Result r;

	pool_load(rq->srv->pool, &active, &waiting);
	metrics_runs_active_set(active);
	metrics_queue_depth_set(waiting);
	text = metrics_render(&len);
	if (!text)
		return MHD_NO;
	text = breakers_render(rq, text, &len);
	if (!text)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4");
	respond_common_headers(rq, resp);
	rq->status = 200;
	r = MHD_queue_response(rq->conn, 200, resp);
	MHD_destroy_response(resp);
	return r;
}

/* Admins only: the active keys (never their secrets). */
enum MHD_Result route_keys_list(struct request *rq)
{
	json_t *keys, *body;
	enum MHD_Result r;
	int e;

	if (!auth_require_admin(rq, &r))
		return r;
	e = store_keys_list(rq->srv->store, &keys);
	if (e < 0)
		return respond_store_fault(rq, e, "store_failed", "reading the keys failed");
	body = json_pack("{s:o}", "keys", keys);
	r = respond_json(rq, 200, body);
	json_decref(body);
	return r;
}

/* The built-in analyses and their parameters. */
enum MHD_Result route_templates_list(struct request *rq)
{
	json_t *body;
	enum MHD_Result r;

	if (!auth_require(rq, &r))
		return r;
	body = json_pack("{s:o}", "templates", templates_to_json());
	if (!body)
		return respond_error(rq, 500, "out_of_memory", "out of memory", NULL);
	r = respond_json(rq, 200, body);
	json_decref(body);
	return r;
}
