/*
 * metrics: ledgerbox's Prometheus metrics, kept in one process-wide
 * registry fixed at compile time, and their text exposition (format 0.0.4)
 * for GET /metrics.
 *
 * Every function is safe from any thread: one mutex guards the registry.
 * Memory is fixed: labelled series are bounded, and a label value past the
 * bound is counted under "other", so a client cannot grow the registry by
 * sending many different paths or statuses.
 *
 *   ledgerbox_http_requests_total{route,status}   counter
 *   ledgerbox_runs_total{status}                   counter
 *   ledgerbox_run_duration_seconds                 histogram, buckets
 *                       0.05 0.1 0.25 0.5 1 2.5 5 10 30 60 +Inf
 *   ledgerbox_queue_depth                          gauge
 *   ledgerbox_runs_active                          gauge
 *   ledgerbox_sandbox_failures_total               counter
 *   ledgerbox_queue_rejected_total                 counter
 *   ledgerbox_llm_calls_total{outcome}             counter
 *   ledgerbox_llm_tokens_total{kind}               counter
 *   ledgerbox_repairs_total                        counter
 *   ledgerbox_breaker_state{backend}               gauge (0 closed, 1 open, 2 half-open),
 *   ledgerbox_breaker_rejected_total{backend}      counter, and
 *   ledgerbox_breaker_opened_total{backend}        counter, from the HTTP layer
 */
#ifndef LEDGERBOX_METRICS_H
#define LEDGERBOX_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Distinct route x status pairs kept; later pairs count as route="other". */
#define METRICS_ROUTES_MAX 64
/* Distinct run statuses kept; later ones count as status="other". */
#define METRICS_RUN_STATUSES_MAX 16
/* Longest route or run status kept; a longer one counts as "other". */
#define METRICS_LABEL_MAX 95

/* Counts one answered request. route is the route template, such as
 * "/api/runs/{id}", never the raw path (NULL counts as "other"); a status
 * outside 100..599 is counted as 0. */
void metrics_request(const char *route, int status);
/* Counts one finished run by its status ("ok", "timeout", ...; NULL counts
 * as "other") and observes its wall time. */
void metrics_run(const char *status, uint64_t duration_ms);
void metrics_queue_depth_set(int64_t depth);
void metrics_runs_active_set(int64_t runs);
/* The sandbox could not be built (infrastructure, not the analyst's code). */
void metrics_sandbox_failure(void);
/* A run was refused because the queue was full. */
void metrics_queue_rejected(void);
/* Budget decisions: a hard refusal (402); a soft threshold crossed for the
 * first time in a scope's period. */
void metrics_budget_refused(void);
/* An LLM call ended: "ok" or an llm_error_kind_name(), or "breaker_open". */
void metrics_llm_call(const char *outcome);
void metrics_llm_tokens(uint64_t prompt, uint64_t completion);
/* A repair was asked for (a second or later attempt). */
void metrics_repair(void);
void metrics_budget_soft_crossed(void);

/* Renders every metric as text; the caller frees the result. *ret_len (may
 * be NULL) gets its length. Returns NULL when out of memory. */
char *metrics_render(size_t *ret_len);

/* Sets everything back to zero; for tests. */
void metrics_reset(void);

#endif
