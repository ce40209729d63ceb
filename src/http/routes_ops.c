/* routes_ops: /healthz, /readyz and /metrics, for operators and probes. */
#include <stdlib.h>
#include <string.h>

#include "http/request.h"
#include "obs/metrics.h"
#include "util/banned.h"

enum MHD_Result route_healthz(struct request *rq)
{
	json_t *body = json_pack("{s:s}", "status", "ok");
	enum MHD_Result r = respond_json(rq, 200, body);

	json_decref(body);
	return r;
}

/* Ready when the store answers and a sandbox worker slot exists. */
enum MHD_Result route_readyz(struct request *rq)
{
	int active, waiting;
	bool store_ok = store_ping(rq->srv->store) == 0;
	json_t *body;
	enum MHD_Result r;

	pool_load(rq->srv->pool, &active, &waiting);
	body = json_pack("{s:s,s:b,s:i,s:i,s:i}", "status", store_ok ? "ready" : "not_ready",
			 "store", store_ok, "runs_active", active, "runs_waiting", waiting,
			 "run_slots", (int)rq->srv->cfg->max_runs);
	r = respond_json(rq, store_ok ? 200 : 503, body);
	json_decref(body);
	return r;
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

	if (!auth_require_admin(rq, &r))
		return r;
	if (store_keys_list(rq->srv->store, &keys) < 0)
		return respond_error(rq, 500, "store_failed", "reading the keys failed", NULL);
	body = json_pack("{s:o}", "keys", keys);
	r = respond_json(rq, 200, body);
	json_decref(body);
	return r;
}
