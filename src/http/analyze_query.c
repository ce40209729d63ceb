/*
 * analyze_query: the natural-language mode of POST /api/analyze.
 *
 * Each attempt: build the prompt (the first from the dataset's schema, a
 * repair from the last code and its error), reserve its worst case, ask
 * the model, take the code out of the reply, check it with a real parser
 * and run it. SQL is prepared on the dataset here, before any run; Python
 * is compiled by the driver in the sandbox that then runs it, so code that
 * passes its check costs one run, and code that does not costs that one
 * sandbox, in which nothing of it ran. A failure at any step goes back to
 * the model as a repair, up to LEDGERBOX_REPAIR_ATTEMPTS times. Each charge
 * (an LLM call, a sandbox run) is a component listed in the attempt's and
 * the answer's cost, which they add up to. Every attempt is charged on its
 * own ledger id: the first the run's id, the k-th "<id>.<k>". Attempts that
 * lead to another are settled at once; the last is settled after the run
 * is recorded (as code runs are), and attempts[-1].ledgerId tells budget
 * reconciliation which entry the record stands for.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/pg_dataset.h"
#include "http/analyze_internal.h"
#include "http/analyze_llm.h"
#include "llm/extract.h"
#include "llm/redact.h"
#include "llm/schema.h"
#include "llm/validate.h"
#include "obs/metrics.h"
#include "obs/trace.h"
#include "util/clock.h"
#include "util/utf8.h"
#include "util/zone.h"
#include "util/banned.h"

#define ERROR_TEXT_MAX 2000

struct query {
	struct request *rq;
	struct analyze_req *a;
	const struct analyze_events *ev;
	struct trace_span *span;
	const char *id;
	uint64_t deadline_ms;
	struct schema schema;
	bool have_schema;
	json_t *attempts;
	struct charge sum;             /* the attempts' costs and components */
	uint64_t prompt_tokens, completion_tokens;
	bool estimated;
	char *code;                    /* the last code (owned) */
	char error[ERROR_TEXT_MAX + 1];/* the last error, whole: for the analyst */
	char model_error[ERROR_TEXT_MAX + 1]; /* the last error as the model may see it */
};

/* The state of one attempt. */
struct attempt {
	unsigned n;
	char ledger_id[80];
	struct charge charge;
	struct generation gen;
	struct usage llm_worst;        /* what the LLM call was reserved for */
	const char *stage;
	json_t *error;                 /* {"type", "message", "line"?} or NULL */
	const char *run_status;
	uint64_t t0;
};

static void ledger_id(const char *id, unsigned n, char *out, size_t len)
{
	if (n == 1)
		snprintf(out, len, "%s", id);
	else
		snprintf(out, len, "%s.%u", id, n);
}

static json_t *attempt_json(struct query *q, struct attempt *t)
{
	return json_pack("{s:I,s:s,s:s,s:s?,s:O?,s:s?,s:{s:I,s:I,s:b,s:b},s:I,s:o,s:I,s:I}", "attempt",
			 (json_int_t)t->n, "ledgerId", t->ledger_id, "stage", t->stage, "code",
			 q->code, "error", t->error, "status", t->run_status, "tokens", "prompt",
			 (json_int_t)t->gen.usage.prompt_tokens, "completion",
			 (json_int_t)t->gen.usage.completion_tokens, "promptEstimated",
			 t->gen.prompt_estimated, "completionEstimated", t->gen.completion_estimated,
			 "tokensUsed",
			 (json_int_t)(t->gen.usage.prompt_tokens + t->gen.usage.completion_tokens),
			 "cost", charge_cost_json(q->rq, &t->charge), "llmCalls",
			 (json_int_t)t->gen.http_attempts, "durationMs",
			 (json_int_t)(clock_mono_ms() - t->t0));
}

/* Adds the attempt to the list and the totals. */
static void attempt_note(struct query *q, struct attempt *t)
{
	json_array_append_new(q->attempts, attempt_json(q, t));
	charge_merge(&q->sum, &t->charge);
	q->prompt_tokens += t->gen.usage.prompt_tokens;
	q->completion_tokens += t->gen.usage.completion_tokens;
	q->estimated |= t->gen.prompt_estimated || t->gen.completion_estimated;
}

/* Settles an attempt that leads to another (or ends the request without a
 * run to record): charged at once, durably. */
static void attempt_settle_now(struct query *q, struct attempt *t)
{
	attempt_note(q, t);
	if (t->charge.actual.total_micros == 0)
		charge_release(q->rq, t->ledger_id, &t->charge);
	else if (charge_settle(q->rq, t->ledger_id, &t->charge) < 0)
		charge_release(q->rq, t->ledger_id, &t->charge);
	json_decref(t->error);
	t->error = NULL;
	generation_release(&t->gen);
	charge_free(&t->charge);
}

/* What the repair prompt says about the error: all of it when the model
 * may see data (LEDGERBOX_LLM_SEND_SAMPLES) or when the message was made
 * before any row was read (a parser's, or our own fixed text); else only
 * the parts redact.h allows. */
static void model_error_note(struct query *q, const char *type, const char *message,
			     json_int_t line, bool data_free)
{
	struct redact_error e = { .type = type, .line = (long)line, .message = message };

	if (data_free || q->rq->srv->llm_samples) {
		memcpy(q->model_error, q->error, sizeof(q->error));
		return;
	}
	redact_error_text(&e, sandbox_lang_name(q->a->lang), q->code,
			  q->have_schema ? &q->schema : NULL, q->model_error, sizeof(q->model_error));
}

/* data_free: the message was made without reading any row of the data. */
static void set_error(struct query *q, struct attempt *t, const char *type, const char *message,
		      json_int_t line, bool data_free)
{
	json_decref(t->error);
	t->error = line > 0 ? json_pack("{s:s,s:s%,s:I}", "type", type, "message", message,
					(size_t)utf8_cut(message, ERROR_TEXT_MAX), "line", line)
			    : json_pack("{s:s,s:s%}", "type", type, "message", message,
					(size_t)utf8_cut(message, ERROR_TEXT_MAX));
	if (line > 0)
		snprintf(q->error, sizeof(q->error), "%s at line %" JSON_INTEGER_FORMAT ": %.*s", type,
			 line, (int)utf8_cut(message, ERROR_TEXT_MAX - 100), message);
	else
		snprintf(q->error, sizeof(q->error), "%s: %.*s", type,
			 (int)utf8_cut(message, ERROR_TEXT_MAX - 100), message);
	model_error_note(q, type, message, line, data_free);
}

/* What the analyst (and, within model_error_note's rule, the model) is
 * told about a failed run: the runner's error, the end of stderr, and the
 * limit that was hit. data_free: the run only compiled the code. */
static void run_error_note(struct query *q, struct attempt *t, json_t *result, bool data_free)
{
	json_t *e = json_object_get(result, "runner_error");
	const char *status = json_string_value(json_object_get(result, "status"));
	const char *err = json_string_value(json_object_get(result, "stderr"));
	char msg[ERROR_TEXT_MAX + 1];
	size_t len = err ? strlen(err) : 0;

	if (json_is_object(e)) {
		const char *type = json_string_value(json_object_get(e, "type"));
		const char *m = json_string_value(json_object_get(e, "message"));
		set_error(q, t, type ? type : "Error", m ? m : "the program failed",
			  json_integer_value(json_object_get(e, "line")), data_free);
		return;
	}
	if (status && strcmp(status, "runtime_error") != 0) {
		snprintf(msg, sizeof(msg),
			 "the run was stopped (%s): write code that needs less time, memory or "
			 "output", status);
		set_error(q, t, "LimitExceeded", msg, 0, true); /* our text, a status name */
		return;
	}
	/* The end of stderr holds the traceback's last lines. */
	if (!err)
		err = "the program failed";
	snprintf(msg, sizeof(msg), "%s", len > 1500 ? err + len - 1500 : err);
	set_error(q, t, "Error", msg, 0, data_free);
}

static int prompt_for(struct query *q, unsigned n, struct prompt *p, struct outcome *o)
{
	const struct config *cfg = q->rq->srv->cfg;
	char today[ZONE_DAY_LEN], zone[ZONE_NAME_MAX + 1];
	struct prompt_options opt = { .language = sandbox_lang_name(q->a->lang),
				      .query = q->a->query,
				      .schema = q->have_schema ? &q->schema : NULL,
				      .include_samples = q->rq->srv->llm_samples,
				      .num_ctx = cfg->llm_num_ctx,
				      .max_tokens = cfg->llm_max_tokens,
				      .today = today,
				      .time_zone = zone };
	char err[512];
	int r;

	/* The business's day, the one the cache files dated answers under. */
	zone_day(clock_unix_ms(), today);
	zone_label(cfg->tz, zone, sizeof(zone));
	r = n == 1 ? prompt_build(&opt, p, err, sizeof(err))
		       : prompt_build_repair(&opt, q->code ? q->code : "", q->model_error, p, err,
					     sizeof(err));

	if (r == -E2BIG)
		outcome_error(o, 400, "prompt_too_large", err, "query", 0, NULL);
	else if (r < 0)
		outcome_error(o, 500, "prompt_failed", err, NULL, 0, NULL);
	return r;
}

/* Checks SQL by PostgreSQL's own parser on the dataset (PQprepare):
 * -EINVAL with err for the model, -EIO when the dataset cannot be used. */
static int validate_sql_postgres(struct query *q, char *err, size_t err_len)
{
	PGconn *c = NULL;
	int r = pg_dataset_connect(q->rq->srv->cfg->data_dir, q->a->dataset, &c, err, err_len);

	if (r < 0)
		return -EIO;
	r = pg_dataset_check_sql(c, q->code, err, err_len);
	PQfinish(c);
	return r == -EINVAL ? r : r < 0 ? -EIO : 0;
}

/* SQL's check, by a real parser on the dataset before any run (Python's
 * is the first step of its run: run_code). 0: the code passed; 1: it did
 * not (t->error set); -1: o set. */
static int code_check(struct query *q, struct attempt *t, struct outcome *o)
{
	struct trace_span *step;
	char err[1024];
	int r;

	if (q->a->lang != SANDBOX_LANG_SQL)
		return 0;
	step = trace_span_start(q->rq->srv->tracer, q->span, "validate");
	analyze_emit_status(q->ev, "validating", t->n);
	t->stage = "validate";
	r = q->a->postgres ? validate_sql_postgres(q, err, sizeof(err))
			   : validate_sql(q->a->sqlite_path, q->code, err, sizeof(err));
	if (r == -EIO || r == -EBUSY) {
		/* -EBUSY: a hot -journal; no repair can help. */
		outcome_error(o, r == -EBUSY ? 409 : 500, "dataset_unreadable", err, "dataset", 0,
			      NULL);
		r = -1;
	} else if (r < 0) {
		/* Preparing reads the schema, never a row. */
		set_error(q, t, "SQLError", err, 0, true);
		r = 1;
	}
	if (r)
		trace_span_error(step, r > 0 ? q->error : "the check did not complete");
	trace_span_end(step);
	return r;
}

static int generate(struct query *q, struct attempt *t, const struct prompt *p, struct outcome *o)
{
	struct trace_span *step = trace_span_start(q->rq->srv->tracer, q->span, "generate");
	char *code = NULL;
	int r;

	analyze_emit_status(q->ev, "generating", t->n);
	t->stage = "generate";
	r = llm_generate(q->rq, p, q->ev, q->deadline_ms, &t->gen, o);
	charge_add_llm(q->rq, &t->gen.usage, &t->llm_worst, &t->charge);
	trace_span_attr_str(step, "llm.model", q->rq->srv->llm.model);
	trace_span_attr_int(step, "llm.prompt_tokens", (int64_t)t->gen.usage.prompt_tokens);
	trace_span_attr_int(step, "llm.completion_tokens", (int64_t)t->gen.usage.completion_tokens);
	trace_span_attr_int(step, "cost_micros", (int64_t)t->charge.actual.total_micros);
	if (r == 0 && extract_code(t->gen.reply, sandbox_lang_name(q->a->lang), &code) < 0) {
		set_error(q, t, "NoCode", "the reply held no code", 0, true);
		r = 1;
	}
	if (code) {
		free(q->code);
		q->code = code;
	}
	if (r)
		trace_span_error(step, r > 0 ? q->error : "the LLM call failed");
	trace_span_end(step);
	return r;
}

/* Ends the request with an error after attempts that were charged: the
 * error says so and lists them. */
static void fail_with_attempts(struct query *q, struct outcome *o)
{
	json_t *err = json_object_get(o->body, "error");

	if (!err || json_array_size(q->attempts) == 0)
		return;
	json_object_set_new(err, "runId", json_string(q->id));
	json_object_set(err, "attempts", q->attempts);
	json_object_set_new(err, "cost", charge_cost_json(q->rq, &q->sum));
	json_object_set_new(err, "tokensUsed",
			    json_integer((json_int_t)(q->prompt_tokens + q->completion_tokens)));
}

static void final_answer(struct query *q, struct run_output *out)
{
	json_t *r = out->response;

	json_object_set(r, "attempts", q->attempts);
	json_object_set_new(r, "cost", charge_cost_json(q->rq, &q->sum));
	json_object_set_new(r, "tokensUsed",
			    json_integer((json_int_t)(q->prompt_tokens + q->completion_tokens)));
	json_object_set_new(r, "tokens", json_pack("{s:I,s:I,s:b}", "prompt",
						   (json_int_t)q->prompt_tokens, "completion",
						   (json_int_t)q->completion_tokens, "estimated",
						   q->estimated));
	json_object_set_new(r, "model", json_string(q->rq->srv->llm.model));
}

/* Runs the code (Python: compiles it first, in the same sandbox). 0:
 * finished (answered in *o); 1: did not compile, or failed and worth a
 * repair (t->error set; not recorded); -1: o set. */
static int run_code(struct query *q, struct attempt *t, bool last, int64_t created, uint64_t t0,
		    struct outcome *o)
{
	struct trace_span *step = trace_span_start(q->rq->srv->tracer, q->span, "run");
	struct pool_result pr = { 0 };
	struct run_output out = { 0 };
	const char *status;
	bool compiled;
	int r = 0;

	analyze_emit_status(q->ev, "running", t->n);
	t->stage = "run";
	if (analyze_sandbox(q->rq, q->a, q->code, q->ev, &pr, o) < 0) {
		trace_span_error(step, "the run did not complete");
		trace_span_end(step);
		return -1;
	}
	status = json_string_value(json_object_get(pr.result, "status"));
	t->run_status = status;
	/* Code that does not compile failed its check, which nothing ran past:
	 * it is never the answer, even on the last attempt. */
	compiled = !analyze_compile_failed(pr.result);
	if (!compiled)
		t->stage = "validate";
	trace_span_attr_str(step, "status", status);
	trace_span_attr_str(step, "stage", compiled ? "run" : "compile");
	trace_span_end(step);
	if (!compiled || (!last && status && strcmp(status, "ok") != 0 &&
			  strcmp(status, "killed") != 0 && strcmp(status, "sandbox_error") != 0)) {
		charge_add_run(q->rq, pr.result, &t->charge);
		run_error_note(q, t, pr.result, false);
		t->run_status = NULL;
		pool_result_release(&pr);
		return 1;
	}
	analyze_response_build(q->a, q->code, &pr, q->id, (int64_t)(clock_mono_ms() - t0),
			       q->rq->srv->cfg, &out);
	if (!out.response) {
		outcome_error(o, 500, "out_of_memory", "out of memory", NULL, 0, NULL);
		r = -1;
	} else {
		charge_add_run(q->rq, pr.result, &t->charge);
		if (status && strcmp(status, "ok") != 0)
			run_error_note(q, t, pr.result, false);
		attempt_note(q, t);
		final_answer(q, &out);
		step = trace_span_start(q->rq->srv->tracer, q->span, "settle");
		trace_span_attr_int(step, "cost_micros", (int64_t)q->sum.actual.total_micros);
		analyze_record_and_settle(q->rq, q->a, q->code, &out, &t->charge, q->id,
					  t->ledger_id, created, (int64_t)(clock_mono_ms() - t0), o);
		trace_span_end(step);
	}
	run_output_release(&out);
	pool_result_release(&pr);
	return r;
}

/* A PostgreSQL dataset's tables and columns, from its catalog (no sample
 * values: they would need queries of the data). */
static bool schema_prepare_postgres(struct query *q, struct outcome *o)
{
	char err[1024];
	json_t *tables = NULL;
	PGconn *c = NULL;
	int r = pg_dataset_connect(q->rq->srv->cfg->data_dir, q->a->dataset, &c, err, sizeof(err));

	if (r == 0) {
		r = pg_dataset_tables(c, PG_DATASET_LIST_MS, &tables);
		if (r < 0)
			snprintf(err, sizeof(err), "dataset %s: cannot read its tables: %s",
				 q->a->dataset, PQerrorMessage(c));
		PQfinish(c);
	}
	if (r == 0)
		r = schema_from_tables(q->a->dataset, tables, &q->schema, err, sizeof(err));
	json_decref(tables);
	if (r < 0) {
		outcome_error(o, r == -EACCES ? 500 : 503,
			      r == -EACCES ? "dataset_refused" : "dataset_unavailable", err, "dataset",
			      r == -EACCES ? 0 : 5, NULL);
		return false;
	}
	q->have_schema = true;
	return true;
}

static bool schema_prepare(struct query *q, struct outcome *o)
{
	char err[512];
	int r;

	if (q->a->postgres)
		return schema_prepare_postgres(q, o);
	if (!q->a->sqlite_path[0])
		return true;
	/* Values the model may not see are not even read. */
	r = schema_load(q->a->dataset, q->a->sqlite_path,
			q->rq->srv->llm_samples ? SCHEMA_MAX_SAMPLES : 0, &q->schema, err, sizeof(err));
	if (r < 0) {
		/* -EBUSY: a hot -journal, the file may be torn until its writer
		 * finishes or it is rolled back. */
		outcome_error(o, r == -EBUSY ? 409 : 500, "dataset_unreadable", err, "dataset", 0,
			      NULL);
		return false;
	}
	q->have_schema = true;
	return true;
}

/* One attempt. 0: the request is answered (o set); 1: go on repairing. */
static int attempt_once(struct query *q, unsigned n, bool last, int64_t created, uint64_t t0,
			struct outcome *o)
{
	struct attempt t = { .n = n, .stage = "generate", .t0 = clock_mono_ms() };
	struct prompt p = { 0 };
	struct trace_span *step;
	uint64_t extra;
	int r;

	ledger_id(q->id, n, t.ledger_id, sizeof(t.ledger_id));
	if (n > 1) {
		metrics_repair();
		analyze_emit_status(q->ev, "repairing", n);
	}
	if (prompt_for(q, n, &p, o) < 0)
		return 0;
	/* The LLM call and one run: a Python check is part of the run. */
	llm_worst_usage(q->rq, &p, &t.llm_worst);
	extra = llm_worst_micros(q->rq, &p);
	step = trace_span_start(q->rq->srv->tracer, q->span, "budget");
	trace_span_attr_str(step, "ledger.id", t.ledger_id);
	if (!charge_reserve(q->rq, q->a, t.ledger_id, extra, &t.charge, o)) {
		trace_span_error(step, "refused");
		trace_span_end(step);
		prompt_release(&p);
		return 0;
	}
	t.charge.attempt = n;
	trace_span_attr_int(step, "reserved_micros", (int64_t)t.charge.worst.total_micros);
	trace_span_end(step);
	analyze_emit_status(q->ev, "budget_reserved", n);
	r = generate(q, &t, &p, o);
	prompt_release(&p);
	if (r == 0)
		r = code_check(q, &t, o);
	if (r == 0)
		r = run_code(q, &t, last, created, t0, o);
	if (r == 0) {
		json_decref(t.error);
		generation_release(&t.gen);
		charge_free(&t.charge);
		return 0;
	}
	attempt_settle_now(q, &t);
	if (r < 0 || last) {
		if (r > 0) {
			char msg[ERROR_TEXT_MAX + 200];
			snprintf(msg, sizeof(msg),
				 "the model did not produce working code in %u attempts; the last "
				 "error: %s", n, q->error);
			outcome_error(o, 422, "generation_failed", msg, NULL, 0, NULL);
		}
		return 0;
	}
	return 1;
}

void analyze_query(struct request *rq, struct analyze_req *a, const struct analyze_events *ev,
		   const char *id, int64_t created, uint64_t t0, struct trace_span *span,
		   struct outcome *o)
{
	struct query q = { .rq = rq, .a = a, .ev = ev, .span = span, .id = id,
			   .deadline_ms = t0 + rq->srv->cfg->analyze_deadline_ms,
			   .attempts = json_array() };
	unsigned attempts = 1 + (unsigned)rq->srv->cfg->repair_attempts;

	if (!q.attempts) {
		outcome_error(o, 500, "out_of_memory", "out of memory", NULL, 0, NULL);
		return;
	}
	if (schema_prepare(&q, o)) {
		for (unsigned n = 1; n <= attempts; n++)
			if (attempt_once(&q, n, n == attempts, created, t0, o) == 0)
				break;
		if (o->status != 200)
			fail_with_attempts(&q, o);
	}
	trace_span_attr_int(span, "llm.tokens", (int64_t)(q.prompt_tokens + q.completion_tokens));
	trace_span_attr_int(span, "cost_micros", (int64_t)q.sum.actual.total_micros);
	trace_span_attr_int(span, "attempts", (int64_t)json_array_size(q.attempts));
	if (q.have_schema)
		schema_release(&q.schema);
	json_decref(q.attempts);
	charge_free(&q.sum);
	free(q.code);
}
