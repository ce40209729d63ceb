/*
 * routes_analyze: POST /api/analyze, a run from request to record.
 *
 * The run goes to a sandbox worker through the pool (429 when the queue is
 * full, 503 while shutting down); a client that hangs up cancels it. The
 * answer shows the first LEDGERBOX_TABLE_ROWS rows of the table and says
 * plainly when and where it was cut; the whole table (up to
 * LEDGERBOX_EXPORT_ROWS) is kept as CSV with the run. The run, its artifacts
 * and an audit entry are stored in one transaction before the answer goes
 * out, so a 200 means it is on the record.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/analyze.h"
#include "http/charge.h"
#include "http/table_csv.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "runs/worker.h"
#include "util/banned.h"

struct run_output {
	json_t *response;
	struct artifact_file files[257];
	size_t n_files;
	char *csv;
	size_t csv_len;
};

static json_t *worker_request(const struct analyze_req *a, const struct config *cfg)
{
	struct sandbox_limits l = a->limits;

	l.max_rows = cfg->export_rows;
	/* Room for the whole exported table: about 1 KiB a row at most. */
	l.table_bytes = cfg->export_rows * 1024 < (200u << 20) ? cfg->export_rows * 1024 : (200u << 20);
	if (l.table_bytes < (1u << 20))
		l.table_bytes = 1u << 20;
	return json_pack("{s:{s:s,s:s,s:s?,s:o}}", "run", "language", sandbox_lang_name(a->lang),
			 "code", a->code, "data_path", a->data_path[0] ? a->data_path : NULL,
			 "limits", worker_limits_to_json(&l));
}

static int client_fd(struct request *rq)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CONNECTION_FD);

	return ci ? ci->connect_fd : -1;
}

/* Cuts the table for the response and keeps the whole of it as CSV. */
static void table_present(json_t *table, const char *run_id, const struct config *cfg,
			  struct run_output *out)
{
	json_t *rows = json_object_get(table, "rows");
	size_t kept = json_array_size(rows);
	json_t *total = json_object_get(table, "total_rows");
	bool export_cut = json_is_true(json_object_get(table, "truncated"));
	char url[128], notice[400];

	snprintf(url, sizeof(url), "/api/runs/%s/table.csv", run_id);
	/* Only a CSV that was rendered is promised. */
	if (table_csv_render(table, &out->csv, &out->csv_len) == 0)
		json_object_set_new(table, "csvUrl", json_string(url));
	else
		export_cut = true;
	if (kept > cfg->table_rows) {
		while (json_array_size(rows) > cfg->table_rows)
			json_array_remove(rows, json_array_size(rows) - 1);
		json_object_set_new(table, "truncated", json_true());
	}
	json_object_set_new(table, "shownRows", json_integer((json_int_t)json_array_size(rows)));
	json_object_set_new(table, "exportRows", json_integer((json_int_t)kept));
	json_object_set_new(table, "row_count", json_integer((json_int_t)json_array_size(rows)));
	if (!json_is_true(json_object_get(table, "truncated")))
		return;
	if (json_is_integer(total))
		snprintf(notice, sizeof(notice),
			 "Showing the first %zu of %" JSON_INTEGER_FORMAT " rows. %s", json_array_size(rows),
			 json_integer_value(total),
			 export_cut ? "The CSV download holds the first rows up to the export limit "
				      "(LEDGERBOX_EXPORT_ROWS)."
				    : "The CSV download holds all of them.");
	else
		snprintf(notice, sizeof(notice),
			 "Showing the first %zu rows of more than %zu (counting stopped at the time "
			 "limit). The CSV download holds %zu.", json_array_size(rows), kept, kept);
	json_object_set_new(table, "notice", json_string(notice));
}

static json_t *artifacts_present(struct pool_result *pr, const char *run_id, struct run_output *out)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i < pr->n_artifacts && out->n_files < 256; i++) {
		struct pool_artifact *a = &pr->artifacts[i];
		char url[400];
		if (strncmp(a->name, TABLE_CSV_PREFIX, strlen(TABLE_CSV_PREFIX)) == 0)
			continue;
		out->files[out->n_files++] = (struct artifact_file){ a->name, a->mime, a->data, a->bytes };
		snprintf(url, sizeof(url), "/api/runs/%s/artifacts/%s", run_id, a->name);
		json_array_append_new(list, json_pack("{s:s,s:I,s:s,s:s}", "name", a->name, "bytes",
						      (json_int_t)a->bytes, "mime", a->mime, "url", url));
	}
	return list;
}

static json_t *usage_of(json_t *r)
{
	return json_pack("{s:O?,s:O?,s:O?,s:O?,s:O?,s:O?}", "wallMs", json_object_get(r, "wall_ms"),
			 "cpuMs", json_object_get(r, "cpu_ms"), "peakMemoryBytes",
			 json_object_get(r, "peak_memory_bytes"), "limitsHit",
			 json_object_get(r, "limits_hit"), "enforcement",
			 json_object_get(r, "enforcement"), "limits", json_object_get(r, "limits"));
}

static json_t *error_of(json_t *r)
{
	json_t *runner = json_object_get(r, "runner_error");

	if (json_is_object(runner))
		return json_incref(runner);
	if (json_is_string(json_object_get(r, "error")))
		return json_pack("{s:s,s:O}", "type", "sandbox", "message", json_object_get(r, "error"));
	return json_null();
}

static void response_build(const struct analyze_req *a, struct pool_result *pr, const char *id,
			   int64_t duration_ms, const struct config *cfg, struct run_output *out)
{
	json_t *r = pr->result, *table = json_object_get(r, "table");

	if (!json_is_null(table) && table && !table_valid(table, cfg->export_rows)) {
		json_object_set_new(r, "runner_error",
				    json_pack("{s:s,s:s}", "type", "bad_result", "message",
					      "the program wrote a malformed result table; it was "
					      "dropped"));
		table = NULL;
	}
	if (json_is_object(table))
		table_present(table, id, cfg, out);
	out->response = json_pack(
		"{s:s,s:O?,s:s,s:s,s:s?,s:s?,s:O?,s:O?,s:O?,s:O?,s:O,s:o,s:o,s:o,s:o,s:b,s:i,s:i,s:I,s:[]}",
		"id", id, "status", json_object_get(r, "status"), "language",
		sandbox_lang_name(a->lang), "code", a->code, "dataset", a->dataset, "session",
		a->session, "output", json_object_get(r, "stdout"), "outputTruncated",
		json_object_get(r, "stdout_truncated"), "stderr", json_object_get(r, "stderr"),
		"stderrTruncated", json_object_get(r, "stderr_truncated"), "table",
		json_is_object(table) ? table : json_null(), "error", error_of(r), "artifacts",
		artifacts_present(pr, id, out), "usage", usage_of(r), "exitCode",
		json_integer(json_integer_value(json_object_get(r, "exit_code"))), "cacheHit", 0,
		"cost", 0, "tokensUsed", 0, "durationMs", (json_int_t)duration_ms, "attempts");
	if (out->response && out->csv)
		out->files[out->n_files++] = (struct artifact_file){ TABLE_CSV_NAME, "text/csv", out->csv,
								     out->csv_len };
}

static enum MHD_Result run_failed(struct request *rq, int r)
{
	if (r == -EAGAIN) {
		metrics_queue_rejected();
		return respond_retry(rq, 429, "queue_full",
				     "every run slot is busy and the wait queue is full; retry shortly",
				     2);
	}
	if (r == -ESHUTDOWN)
		return respond_retry(rq, 503, "shutting_down",
				     "the server is shutting down; retry on another node or later", 5);
	metrics_sandbox_failure();
	return respond_error(rq, 500, "sandbox_failed",
			     "the sandbox worker failed; the run did not complete", NULL);
}

/* Records the run, then settles its cost: a crash between the two leaves a
 * recorded run without its ledger entry, which the next start settles from
 * the recorded cost (budget reconciliation), so the ledger always ends up
 * equal to the runs on record. */
static enum MHD_Result record_and_answer(struct request *rq, const struct analyze_req *a,
					 struct run_output *out, struct charge *c, const char *id,
					 int64_t created, int64_t duration_ms)
{
	struct run_record rec = { .principal_id = rq->who.id, .language = sandbox_lang_name(a->lang),
				  .dataset = a->dataset, .session = a->session, .code = a->code,
				  .result = out->response, .created_ms = created,
				  .duration_ms = duration_ms };
	const char *status = json_string_value(json_object_get(out->response, "status"));
	const char *warning;

	memcpy(rec.id, id, sizeof(rec.id));
	rec.status = status ? status : "sandbox_error";
	metrics_run(rec.status, (uint64_t)duration_ms);
	if (store_run_insert(rq->srv->store, &rec, out->files, out->n_files) < 0) {
		charge_release(rq, id, c);
		return respond_error(rq, 500, "store_failed",
				     "the run finished but could not be recorded; nothing was kept",
				     NULL);
	}
	if (charge_settle(rq, id, c) < 0)
		return respond_error(rq, 500, "budget_failed",
				     "the run is recorded but its cost could not be settled yet; "
				     "it will be at the next start", NULL);
	charge_annotate(rq, c, out->response);
	warning = json_string_value(json_object_get(out->response, "budgetWarning"));
	return respond_json_header(rq, 200, out->response, warning ? "X-Budget-Warning" : NULL,
				   warning);
}

enum MHD_Result route_analyze(struct request *rq)
{
	struct analyze_req a;
	struct pool_result pr = { 0 };
	struct run_output out = { 0 };
	struct charge charge;
	char id[STORE_RUN_ID_LEN + 1];
	int64_t created = clock_unix_ms();
	uint64_t t0 = clock_mono_ms();
	enum MHD_Result r;
	json_t *req;
	int e;

	if (!auth_require(rq, &r))
		return r;
	if (!analyze_parse(rq, &a, &r)) {
		analyze_req_release(&a);
		return r;
	}
	store_run_id_new(id);
	if (!charge_reserve(rq, &a, id, &charge, &r)) {
		analyze_req_release(&a);
		return r;
	}
	req = worker_request(&a, rq->srv->cfg);
	e = req ? pool_run(rq->srv->pool, req, client_fd(rq), &pr) : -ENOMEM;
	json_decref(req);
	if (e < 0) {
		charge_release(rq, id, &charge);
		analyze_req_release(&a);
		return run_failed(rq, e);
	}
	response_build(&a, &pr, id, (int64_t)(clock_mono_ms() - t0), rq->srv->cfg, &out);
	if (out.response)
		charge_price(rq, pr.result, out.response, &charge);
	r = out.response ? record_and_answer(rq, &a, &out, &charge, id, created,
					     (int64_t)(clock_mono_ms() - t0))
			 : respond_error(rq, 500, "out_of_memory", "out of memory", NULL);
	charge_release(rq, id, &charge);
	json_decref(out.response);
	free(out.csv);
	pool_result_release(&pr);
	analyze_req_release(&a);
	return r;
}
