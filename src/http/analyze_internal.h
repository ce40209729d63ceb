/*
 * analyze_internal: what the files of POST /api/analyze share. Private to
 * src/http/analyze_*.c and routes_analyze.c.
 */
#ifndef LEDGERBOX_HTTP_ANALYZE_INTERNAL_H
#define LEDGERBOX_HTTP_ANALYZE_INTERNAL_H

#include "http/analyze.h"
#include "http/charge.h"
#include "runs/pool.h"

struct trace_span;

struct run_output {
	json_t *response;
	struct artifact_file files[257];
	size_t n_files;
	char *csv;
	size_t csv_len;
};

/* One sandbox run of `code` through the pool, behind the sandbox's circuit
 * breaker (a SQL query on a PostgreSQL dataset runs through analyze_pg_run
 * instead). Python is compiled first, in the same sandbox: code that does
 * not compile runs nothing and its result's runner_error has stage
 * "compile" (docs/python-driver.md). With ev (a streamed request), each
 * line the run prints is sent as a "stdout" event as it is printed. 0, or
 * -1 with *o set (429 queue full, 503 shutting down or breaker open, 500
 * worker failure). */
int analyze_sandbox(struct request *rq, const struct analyze_req *a, const char *code,
		    const struct analyze_events *ev, struct pool_result *ret, struct outcome *o);
/* A SQL run over a PostgreSQL dataset (analyze_pg.c): the query runs
 * from here through libpq, not in a sandbox, and *ret gets the same result
 * JSON a sandbox run gives. 0, or -1 with *o set (429 too many at once,
 * 500 dataset refused, 503 dataset unreachable). */
int analyze_pg_run(struct request *rq, const struct analyze_req *a, const char *code,
		   struct pool_result *ret, struct outcome *o);
/* The answer for a finished run (table cut for the response and kept as
 * CSV, artifacts listed); NULL response when out of memory. */
void analyze_response_build(const struct analyze_req *a, const char *code, struct pool_result *pr,
			    const char *id, int64_t duration_ms, const struct config *cfg,
			    struct run_output *out);
/* Records the run (with its artifacts and an audit entry), then settles
 * the charge under ledger_id and sets the 200 outcome; on failure sets a
 * 500 outcome. Takes the response from out. */
void analyze_record_and_settle(struct request *rq, const struct analyze_req *a, const char *code,
			       struct run_output *out, struct charge *c, const char *id,
			       const char *ledger_id, int64_t created, int64_t duration_ms,
			       struct outcome *o);
void run_output_release(struct run_output *out);
/* Whether a run's result says its code did not compile (the driver's
 * error with stage "compile"), so that nothing of it ran. */
bool analyze_compile_failed(json_t *result);

/* The natural-language mode: prompt, generate, check, run, repair. */
void analyze_query(struct request *rq, struct analyze_req *a, const struct analyze_events *ev,
		   const char *id, int64_t created, uint64_t t0, struct trace_span *span,
		   struct outcome *o);

#endif
