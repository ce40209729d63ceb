/*
 * analyze_result: from a finished sandbox run to the answer and the record.
 *
 * The answer shows the first LEDGERBOX_TABLE_ROWS rows of the table and
 * says plainly when and where it was cut; the whole table (up to
 * LEDGERBOX_EXPORT_ROWS) is kept as CSV with the run. The run, its
 * artifacts and an audit entry are stored in one transaction before the
 * answer goes out, so a 200 means it is on the record.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/analyze_internal.h"
#include "http/artifact_quota.h"
#include "http/table_csv.h"
#include "obs/metrics.h"
#include "templates/templates.h"
#include "util/banned.h"

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

/* An empty table from a template whose filter value matches nothing in the
 * data says so, with the values that exist, in table.notice (which the
 * page shows) and in the answer's "notices". A failed look-up leaves the
 * answer as it is: the table itself is right either way. */
static void template_empty_explain(const struct analyze_req *a, json_t *table, json_t *response)
{
	char notice[1024];

	if (!a->template_id || !a->sqlite_path[0] || !json_is_object(table) ||
	    json_array_size(json_object_get(table, "rows")) > 0)
		return;
	if (template_explain_empty(a->template_id, json_object_get(a->body, "params"),
				   a->sqlite_path, notice, sizeof(notice)) != 1)
		return;
	json_object_set_new(table, "notice", json_string(notice));
	json_object_set_new(response, "notices", json_pack("[s]", notice));
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

/* Files the run wrote but may not keep: how many, and why where the
 * sandbox said (in "notices", beside any other). */
static void artifacts_notes_present(json_t *r, json_t *response)
{
	json_t *notes = json_object_get(r, "artifacts_notes"), *notices, *n;
	size_t i;

	json_object_set_new(response, "artifactsSkipped",
			    json_integer(json_integer_value(json_object_get(r, "artifacts_skipped"))));
	if (!json_array_size(notes))
		return;
	notices = json_object_get(response, "notices");
	if (!json_is_array(notices)) {
		notices = json_array();
		json_object_set_new(response, "notices", notices);
	}
	json_array_foreach(notes, i, n) {
		json_array_append(notices, n);
	}
}

static json_t *usage_of(json_t *r)
{
	/* sandbox: "warm" (from the pool) or "cold"; absent for a query run
	 * on a PostgreSQL dataset, which uses no sandbox. */
	return json_pack("{s:O?,s:O?,s:O?,s:O*,s:O?,s:O?,s:O?,s:O*}", "wallMs",
			 json_object_get(r, "wall_ms"), "cpuMs", json_object_get(r, "cpu_ms"),
			 "peakMemoryBytes", json_object_get(r, "peak_memory_bytes"),
			 "memoryBaseBytes", json_object_get(r, "memory_base_bytes"), "limitsHit",
			 json_object_get(r, "limits_hit"), "enforcement",
			 json_object_get(r, "enforcement"), "limits", json_object_get(r, "limits"),
			 "sandbox", json_object_get(r, "sandbox"));
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

static const char *mode_name(enum analyze_mode m)
{
	return m == ANALYZE_QUERY ? "query" : m == ANALYZE_TEMPLATE ? "template" : "code";
}

void analyze_response_build(const struct analyze_req *a, const char *code, struct pool_result *pr,
			    const char *id, int64_t duration_ms, const struct config *cfg,
			    struct run_output *out)
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
		"{s:s,s:O?,s:s,s:s,s:s,s:s?,s:s?,s:O?,s:O?,s:O?,s:O?,s:O,s:o,s:o,s:o,s:o,s:b,s:i,s:i,s:I,s:[]}",
		"id", id, "status", json_object_get(r, "status"), "mode", mode_name(a->mode),
		"language", sandbox_lang_name(a->lang), "code", code, "dataset", a->dataset,
		"session", a->session, "output", json_object_get(r, "stdout"), "outputTruncated",
		json_object_get(r, "stdout_truncated"), "stderr", json_object_get(r, "stderr"),
		"stderrTruncated", json_object_get(r, "stderr_truncated"), "table",
		json_is_object(table) ? table : json_null(), "error", error_of(r), "artifacts",
		artifacts_present(pr, id, out), "usage", usage_of(r), "exitCode",
		json_integer(json_integer_value(json_object_get(r, "exit_code"))), "cacheHit", 0,
		"cost", 0, "tokensUsed", 0, "durationMs", (json_int_t)duration_ms, "attempts");
	if (out->response)
		template_empty_explain(a, table, out->response);
	if (out->response)
		artifacts_notes_present(r, out->response);
	if (out->response && a->template_id)
		json_object_set_new(out->response, "template",
				    json_pack("{s:s,s:O?}", "id", a->template_id, "params",
					      json_object_get(a->body, "params")));
	if (out->response && a->query)
		json_object_set_new(out->response, "query", json_string(a->query));
	if (out->response && a->dataset && a->access_store)
		json_object_set_new(out->response, "datasetVersion",
				    json_pack("{s:I,s:s?}", "version",
					      (json_int_t)a->dataset_record.version, "fingerprint",
					      a->dataset_fingerprint[0] ? a->dataset_fingerprint
									: NULL));
	if (out->response && out->csv)
		out->files[out->n_files++] = (struct artifact_file){ TABLE_CSV_NAME, "text/csv", out->csv,
								     out->csv_len };
}

static uint64_t run_output_bytes(const struct run_output *out)
{
	uint64_t bytes = 0;

	for (size_t i = 0; i < out->n_files; i++)
		bytes += out->files[i].bytes;
	return bytes;
}

/* Records the run, then settles its cost: a crash between the two leaves a
 * recorded run without its ledger entry, which the next start settles from
 * the recorded cost (budget reconciliation), so the ledger always ends up
 * equal to the runs on record. */
void analyze_record_and_settle(struct request *rq, const struct analyze_req *a, const char *code,
			       struct run_output *out, struct charge *c, const char *id,
			       const char *ledger_id, int64_t created, int64_t duration_ms,
			       struct outcome *o)
{
	struct run_record rec = { .principal_id = rq->who.id, .key_id = rq->who.key_id,
				  .language = sandbox_lang_name(a->lang),
				  .dataset = a->dataset, .session = a->session, .code = code,
				  .result = out->response, .created_ms = created,
				  .duration_ms = duration_ms };
	const char *status = json_string_value(json_object_get(out->response, "status"));
	const char *warning;
	char msg[300];
	int e;

	memcpy(rec.id, id, sizeof(rec.id));
	rec.status = status ? status : "sandbox_error";
	metrics_run(rec.status, (uint64_t)duration_ms);
	if (!artifact_quota_room(rq, run_output_bytes(out), o)) {
		charge_release(rq, ledger_id, c);
		return;
	}
	e = store_run_insert(rq->srv->store, &rec, out->files, out->n_files);
	if (e < 0) {
		charge_release(rq, ledger_id, c);
		snprintf(msg, sizeof(msg),
			 "the run finished but could not be recorded; nothing was kept%s",
			 storage_why(e));
		outcome_error(o, 500, "store_failed", msg, NULL, 0, NULL);
		return;
	}
	e = charge_settle(rq, ledger_id, c);
	if (e < 0) {
		snprintf(msg, sizeof(msg),
			 "the run is recorded but its cost could not be settled yet; it will be at "
			 "the next start%s", storage_why(e));
		outcome_error(o, 500, "budget_failed", msg, NULL, 0, NULL);
		return;
	}
	charge_annotate(rq, c, out->response);
	warning = json_string_value(json_object_get(out->response, "budgetWarning"));
	if (warning)
		snprintf(o->warning, sizeof(o->warning), "%s", warning);
	outcome_release(o);
	o->status = 200;
	o->body = out->response;
	out->response = NULL;
}

void run_output_release(struct run_output *out)
{
	json_decref(out->response);
	out->response = NULL;
	free(out->csv);
	out->csv = NULL;
}

bool analyze_compile_failed(json_t *result)
{
	const char *stage = json_string_value(
		json_object_get(json_object_get(result, "runner_error"), "stage"));

	return stage && strcmp(stage, "compile") == 0;
}
