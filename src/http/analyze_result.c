/*
 * analyze_result: from a finished sandbox run to the answer and the record.
 *
 * The answer shows the first LEDGERBOX_TABLE_ROWS rows of the table and
 * says plainly when and where it was cut; the whole table (up to
 * LEDGERBOX_EXPORT_ROWS) is kept as CSV with the run. The run, its
 * artifacts and an audit entry are stored in one transaction before the
 * answer goes out, so a 200 means it is on the record.
 *
 * A run that finished while the store was briefly away (the database
 * restarting, its file system read-only, the database busy) is not thrown
 * away at once: the record, and then the settlement of its cost, are tried
 * again with growing pauses until the request's deadline
 * (LEDGERBOX_ANALYZE_DEADLINE_MS from its start). A full disk is not
 * waited for: it needs someone to free space. When the record cannot be
 * made, nothing was charged (the reservation is released, or expires) and
 * the answer says so: 503 with Retry-After when the store is away.
 */
#include <errno.h>
#include <inttypes.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/analyze_internal.h"
#include "http/artifact_quota.h"
#include "http/ready.h"
#include "http/store_fault.h"
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
	 * on a PostgreSQL dataset, which uses no sandbox. queueMs: the time
	 * spent waiting for a run slot, apart from (and never billed in)
	 * wallMs; absent there too. */
	return json_pack("{s:O?,s:O?,s:O?,s:O*,s:O?,s:O?,s:O?,s:O*,s:O*}", "wallMs",
			 json_object_get(r, "wall_ms"), "cpuMs", json_object_get(r, "cpu_ms"),
			 "peakMemoryBytes", json_object_get(r, "peak_memory_bytes"),
			 "memoryBaseBytes", json_object_get(r, "memory_base_bytes"), "limitsHit",
			 json_object_get(r, "limits_hit"), "enforcement",
			 json_object_get(r, "enforcement"), "limits", json_object_get(r, "limits"),
			 "sandbox", json_object_get(r, "sandbox"), "queueMs",
			 json_object_get(r, "queue_ms"));
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

#define STORE_RETRY_FIRST_MS 100
#define STORE_RETRY_MAX_MS 2000

/* After a step that failed because the store is away: true once a pause
 * has passed and there is time to try again before the request's
 * deadline, false to give up now. Pauses double from STORE_RETRY_FIRST_MS
 * up to STORE_RETRY_MAX_MS. A node shutting down waits no longer than its
 * grace period: the shutdown waits for this request, and a run that was
 * allowed to finish must not hold the node for the rest of its deadline. */
static bool store_retry_pause(struct request *rq, unsigned *pause_ms)
{
	uint64_t deadline = rq->started_ms + rq->srv->cfg->analyze_deadline_ms;
	uint64_t drain_began = ready_drain_began_ms();
	struct timespec ts;

	if (drain_began && drain_began + rq->srv->cfg->shutdown_grace_ms < deadline)
		deadline = drain_began + rq->srv->cfg->shutdown_grace_ms;
	if (!*pause_ms)
		*pause_ms = STORE_RETRY_FIRST_MS;
	if (clock_mono_ms() + *pause_ms >= deadline)
		return false;
	ts.tv_sec = *pause_ms / 1000;
	ts.tv_nsec = (long)(*pause_ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	*pause_ms = *pause_ms * 2 > STORE_RETRY_MAX_MS ? STORE_RETRY_MAX_MS : *pause_ms * 2;
	return true;
}

/* store_retry_pause() after a write that failed with err, when err is
 * worth waiting out: the store is away, not broken, and not full (a full
 * disk waits for someone to free space). */
static bool store_retry_wait(struct request *rq, int err, unsigned *pause_ms)
{
	return store_error_passing(err) && err != -ENOSPC && store_retry_pause(rq, pause_ms);
}

/* The team's artifact quota, asked again while the store is away. */
static bool quota_room(struct request *rq, uint64_t adding, struct outcome *o)
{
	unsigned pause_ms = 0;

	while (!artifact_quota_room(rq, adding, o)) {
		if (o->status != 503 || !store_retry_pause(rq, &pause_ms))
			return false;
		outcome_release(o);
	}
	return true;
}

/* Stores the run, trying again while the store is briefly away. A
 * try whose commit reached the database though its answer was lost
 * (the connection dropped) leaves the run stored: the next try's -EEXIST
 * for the same fresh id is that success. */
static int record_run(struct request *rq, const struct run_record *rec, struct run_output *out)
{
	unsigned pause_ms = 0;
	bool retried = false;
	int e;

	for (;;) {
		e = store_run_insert(rq->srv->store, rec, out->files, out->n_files);
		if (e == -EEXIST && retried)
			return 0;
		if (e == 0 || !store_retry_wait(rq, e, &pause_ms))
			return e;
		retried = true;
	}
}

static int settle_cost(struct request *rq, const char *ledger_id, struct charge *c)
{
	unsigned pause_ms = 0;
	int e;

	while ((e = charge_settle(rq, ledger_id, c)) < 0 && store_retry_wait(rq, e, &pause_ms))
		;
	return e;
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
	char msg[300], msg2[700];
	int e;

	memcpy(rec.id, id, sizeof(rec.id));
	rec.status = status ? status : "sandbox_error";
	metrics_run(rec.status, (uint64_t)duration_ms);
	if (!quota_room(rq, run_output_bytes(out), o)) {
		charge_release(rq, ledger_id, c);
		return;
	}
	e = record_run(rq, &rec, out);
	if (e < 0) {
		/* No ledger entry was written: releasing the reservation (or,
		 * when that cannot be written either, its expiry) leaves the
		 * run uncharged. */
		charge_release(rq, ledger_id, c);
		store_fault_outcome(o, e, "store_failed",
				    "the run finished but could not be recorded, so its result was "
				    "not kept and nothing was charged");
		return;
	}
	e = settle_cost(rq, ledger_id, c);
	if (e < 0) {
		snprintf(msg, sizeof(msg),
			 "the run is recorded (GET /api/runs/%s) but its cost could not be settled "
			 "yet; it will be at the next start", id);
		/* The run is on record: the message and runId say so, so that
		 * a client does not run it again. */
		store_fault_message(e, msg, msg2, sizeof(msg2));
		outcome_error(o, store_error_passing(e) ? 503 : 500,
			      store_error_passing(e) ? STORE_FAULT_CODE : "budget_failed", msg2,
			      NULL, store_error_passing(e) ? store_fault_retry_s(e) : 0,
			      json_pack("{s:s}", "runId", id));
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
