/*
 * analyze_pg: a SQL run of POST /api/analyze over a PostgreSQL dataset.
 *
 * Sandboxes have no network, so the query is sent from this thread through
 * libpq (src/datasets/pg_dataset*.c: read-only role, read-only transaction,
 * statement_timeout, row cap). The answer is the JSON a sandbox run gives,
 * so everything after the run (the answer, the record, the charge) is the
 * same as for SQLite. At most LEDGERBOX_MAX_RUNS such runs go at once, as
 * for sandboxes; beyond that the request gets 429 at once.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "datasets/pg_dataset.h"
#include "http/analyze_internal.h"
#include "obs/metrics.h"

#include "util/banned.h"

static atomic_uint active_runs;

static int connection_fd(struct request *rq)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CONNECTION_FD);

	return ci ? ci->connect_fd : -1;
}

/* The limits a sandbox run would get (routes_analyze.c, worker_request):
 * every row the CSV export keeps, about 1 KiB a row at most. */
static void run_limits(const struct analyze_req *a, const struct config *cfg,
		       struct sandbox_limits *l)
{
	*l = a->limits;
	l->max_rows = cfg->export_rows;
	l->table_bytes = cfg->export_rows * 1024 < (200u << 20) ? cfg->export_rows * 1024 : (200u << 20);
	if (l->table_bytes < (1u << 20))
		l->table_bytes = 1u << 20;
}

static void refused(int e, const char *why, struct outcome *o)
{
	if (e == -EACCES)
		outcome_error(o, 500, "dataset_refused", why, "dataset", 0, NULL);
	else if (e == -ENOMEM)
		outcome_error(o, 500, "out_of_memory", "out of memory", NULL, 0, NULL);
	else
		outcome_error(o, 503, "dataset_unavailable", why, "dataset", 5, NULL);
}

int analyze_pg_run(struct request *rq, const struct analyze_req *a, const char *code,
		   struct pool_result *ret, struct outcome *o)
{
	const struct config *cfg = rq->srv->cfg;
	struct sandbox_limits l;
	char why[1024] = "";
	json_t *result = NULL;
	int e;

	if (atomic_fetch_add(&active_runs, 1) >= cfg->max_runs) {
		atomic_fetch_sub(&active_runs, 1);
		metrics_queue_rejected();
		outcome_error(o, 429, "queue_full",
			      "every run slot is busy; retry shortly", NULL, 2, NULL);
		return -1;
	}
	run_limits(a, cfg, &l);
	e = pg_dataset_run(cfg->data_dir, a->dataset, code, &l, connection_fd(rq), &result, why,
			   sizeof(why));
	atomic_fetch_sub(&active_runs, 1);
	if (e < 0) {
		refused(e, why, o);
		return -1;
	}
	memset(ret, 0, sizeof(*ret));
	ret->result = result;
	return 0;
}
