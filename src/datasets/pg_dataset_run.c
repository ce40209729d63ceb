/*
 * pg_dataset_run: one SQL run over a PostgreSQL dataset, answered in the
 * JSON form of a sandbox run (sandbox/result_json.c), so that the API
 * builds, records, caches and charges it the way it does any other run.
 *
 * Usage: the run's wall time is reported as its CPU time too (the work is
 * PostgreSQL's, which ledgerbox cannot measure per query) and memory as 0;
 * the wall limit covers connecting, the role check and the query.
 */
#include "datasets/pg_dataset.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/clock.h"

#include "util/banned.h"

static json_t *limits_json(const struct sandbox_limits *l)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "wall_ms",
			 (json_int_t)l->wall_ms, "cpu_ms", (json_int_t)l->cpu_ms, "memory_bytes",
			 (json_int_t)l->memory_bytes, "pids", (json_int_t)l->pids, "output_bytes",
			 (json_int_t)l->output_bytes, "tmp_bytes", (json_int_t)l->tmp_bytes,
			 "out_bytes", (json_int_t)l->out_bytes, "file_bytes", (json_int_t)l->file_bytes,
			 "max_rows", (json_int_t)l->max_rows, "open_files", (json_int_t)l->open_files);
}

/* Only the wall limit applies: PostgreSQL enforces it (statement_timeout);
 * nothing of the run's runs on this machine. */
static json_t *enforcement_json(void)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "wall", "postgresql", "cpu", "none",
			 "memory", "none", "pids", "none", "output", "none", "file_size", "none",
			 "tmp", "none");
}

static const char *status_of(int r)
{
	if (r == 0)
		return "ok";
	if (r == -ETIMEDOUT)
		return "timeout";
	return r == -ECANCELED ? "killed" : "runtime_error";
}

static json_t *result_json(int r, json_t *table, const struct pg_error *e,
			   const struct sandbox_limits *l, uint64_t wall_ms)
{
	char stderr_text[sizeof(e->message) + 16] = "";

	if (r < 0)
		snprintf(stderr_text, sizeof(stderr_text), "error: %s\n", e->message);
	return json_pack("{s:s,s:s,s:i,s:i,s:s?,s:I,s:I,s:i,s:s,s:b,s:s,s:b,s:o,s:o,s:[],s:i,"
			 "s:o,s:o,s:o}",
			 "status", status_of(r), "language", "sql", "exit_code",
			 r == 0 ? 0 : r == -ETIMEDOUT ? 3 : r == -ECANCELED ? -1 : 1, "signal", 0,
			 "error", r == -ECANCELED ? "cancelled" : NULL, "wall_ms", (json_int_t)wall_ms,
			 "cpu_ms", (json_int_t)wall_ms, "peak_memory_bytes", 0, "stdout", "",
			 "stdout_truncated", 0, "stderr", stderr_text, "stderr_truncated", 0, "table",
			 r == 0 ? json_incref(table) : json_null(), "runner_error",
			 r == 0 ? json_null() : pg_error_to_json(e), "artifacts", "artifacts_skipped",
			 0, "limits", limits_json(l), "limits_hit",
			 r == -ETIMEDOUT ? json_pack("[s]", "wall") : json_array(), "enforcement",
			 enforcement_json());
}

int pg_dataset_run(const char *data_dir, const char *name, const char *sql,
		   const struct sandbox_limits *limits, int cancel_fd, json_t **ret_result,
		   char *err, size_t err_len)
{
	uint64_t t0 = clock_mono_ms(), used;
	struct pg_query_limits ql = { .max_rows = limits->max_rows,
				      .max_bytes = limits->table_bytes, .cancel_fd = cancel_fd };
	struct pg_error e = { 0 };
	json_t *table = NULL, *result;
	PGconn *c = NULL;
	int r = pg_dataset_connect(data_dir, name, &c, err, err_len);

	if (r < 0)
		return r;
	used = clock_mono_ms() - t0;
	ql.timeout_ms = limits->wall_ms > used ? limits->wall_ms - used : 1;
	r = pg_dataset_query(c, sql, &ql, &table, &e);
	PQfinish(c);
	if (r == -ECONNRESET || r == -ENOMEM) {
		snprintf(err, err_len, "dataset %s: %s", name, e.message);
		return r == -ENOMEM ? r : -ECONNREFUSED;
	}
	result = result_json(r, table, &e, limits, clock_mono_ms() - t0);
	json_decref(table);
	if (!result) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	*ret_result = result;
	return 0;
}
