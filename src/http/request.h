/*
 * request: one HTTP request as the handlers see it, and the helpers they
 * answer with. Private to src/http/.
 */
#ifndef LEDGERBOX_HTTP_REQUEST_H
#define LEDGERBOX_HTTP_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "datasets/datasets.h"
#include "http/admission.h"
#include "http/http.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/clock.h"

#define ROUTE_PARAMS 2

struct sse_stream;

struct request {
	struct http_server *srv;
	struct MHD_Connection *conn;
	char id[17];
	char method[16];                    /* printable ASCII copy, for messages and logs */
	const char *route;                  /* template, e.g. "/api/runs/{id}" */
	char params[ROUTE_PARAMS][256];     /* the {…} parts, URL-decoded by MHD */
	struct buf body;
	bool body_too_large;
	struct csv_import *upload;          /* POST /api/datasets, PUT /api/datasets/{name}, rows */
	bool upload_publish;                /* POST ?publish=true: the organisation's */
	char upload_error[512];
	int upload_status;
	bool authenticated;
	struct principal who;
	int status;                         /* of the response, for logs and metrics */
	struct sse_stream *stream;          /* a streamed analysis, ended with the request */
	struct admission_ticket admitted;   /* an analyze request's places, left at its end */
	uint64_t started_ms;
	/* Set by a handler on a lane: its answer is sent no sooner than
	 * this (clock_mono_ms), without a thread held meanwhile (held.c). */
	uint64_t answer_held_until_ms;
};

/* An answer decided away from the connection's thread (a streamed
 * analysis runs in a thread of its own): status, body and Retry-After. */
struct outcome {
	unsigned status;
	json_t *body;             /* owned */
	unsigned retry_after_s;   /* > 0: sent as Retry-After */
	char warning[400];        /* non-empty: sent as X-Budget-Warning */
};
/* Sets an {"error": ...} outcome; `extra` (stolen, may be NULL) is merged
 * into the error object. */
void outcome_error(struct outcome *o, unsigned status, const char *code, const char *message,
		   const char *field, unsigned retry_after_s, json_t *extra);
/* Answers with the outcome and releases its body. */
enum MHD_Result respond_outcome(struct request *rq, struct outcome *o);
void outcome_release(struct outcome *o);

/* Answers with a JSON body (value borrowed). */
enum MHD_Result respond_json(struct request *rq, unsigned status, json_t *value);
/* The same with one extra header (skipped when header is NULL). */
enum MHD_Result respond_json_header(struct request *rq, unsigned status, json_t *value,
				    const char *header, const char *header_value);
/* {"error": {"code", "message", "field"?}}; field may be NULL. */
enum MHD_Result respond_error(struct request *rq, unsigned status, const char *code,
			      const char *message, const char *field);
/* The same with Retry-After (seconds). */
enum MHD_Result respond_retry(struct request *rq, unsigned status, const char *code,
			      const char *message, unsigned retry_after_s);
/* The same, also asking the client to close the connection after it. */
enum MHD_Result respond_retry_close(struct request *rq, unsigned status, const char *code,
				    const char *message, unsigned retry_after_s, bool close);
/* A file body, as a download: takes ownership of fd. */
enum MHD_Result respond_file(struct request *rq, int fd, uint64_t bytes, const char *mime,
			     const char *download_name);
/* The end of an error message about a write to the state directory that
 * failed: why, when its disk is full; "" otherwise (the log has more). */
const char *storage_why(int err);
/* Adds the headers every response carries. */
void respond_common_headers(struct request *rq, struct MHD_Response *resp);

/* The key of `Authorization: Bearer KEY` (the scheme in any case), ""
 * without one; points into the request's headers. */
const char *auth_bearer_key(struct request *rq);
/* Authenticates the bearer key; on failure answers 401 itself and returns
 * false (the caller returns MHD_YES then). */
bool auth_require(struct request *rq, enum MHD_Result *ret);
/* An admin-only route: answers 403 for analysts. */
bool auth_require_admin(struct request *rq, enum MHD_Result *ret);

enum MHD_Result route_page(struct request *rq);
enum MHD_Result route_asset(struct request *rq);
enum MHD_Result route_me(struct request *rq);
enum MHD_Result route_analyze(struct request *rq);
enum MHD_Result route_runs_list(struct request *rq);
enum MHD_Result route_run_get(struct request *rq);
enum MHD_Result route_run_artifact(struct request *rq);
enum MHD_Result route_run_table_csv(struct request *rq);
enum MHD_Result route_datasets_list(struct request *rq);
enum MHD_Result route_datasets_upload(struct request *rq);
enum MHD_Result route_dataset_replace(struct request *rq);
enum MHD_Result route_dataset_append(struct request *rq);
enum MHD_Result route_dataset_delete(struct request *rq);
enum MHD_Result route_dataset_publish(struct request *rq);
/* First call of an upload or a replace: authenticates, checks who may,
 * and starts the import, or answers. */
enum MHD_Result upload_begin(struct request *rq);
enum MHD_Result route_healthz(struct request *rq);
enum MHD_Result route_readyz(struct request *rq);
enum MHD_Result route_metrics(struct request *rq);
enum MHD_Result route_keys_list(struct request *rq);
enum MHD_Result route_pricing(struct request *rq);
enum MHD_Result route_budgets_list(struct request *rq);
enum MHD_Result route_budget_put(struct request *rq);
enum MHD_Result route_budget_delete(struct request *rq);
enum MHD_Result route_spend(struct request *rq);
enum MHD_Result route_templates_list(struct request *rq);
enum MHD_Result route_cache_clear(struct request *rq);
/* Appends the result cache's counters to the metrics text. */
bool cache_metrics_render(struct request *rq, struct buf *b);


#endif
