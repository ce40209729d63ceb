/*
 * metrics: see metrics.h. One static registry under one mutex.
 *
 * Invariants:
 * - Labelled series live in fixed arrays; a series is added once and never
 *   removed (until metrics_reset), and a label value that does not fit goes
 *   to the "other" series, so the registry's size is fixed at compile time.
 * - A value equal to "other" is itself counted as "other", so the
 *   exposition never holds two series with the same labels.
 * - Histogram buckets are stored per bucket and summed when rendered, so an
 *   observation touches one counter; the sum is kept in whole milliseconds
 *   so it is exact and renders without floating point.
 * - metrics_render() copies the registry under the lock and formats the
 *   copy without it, so a scrape never holds up request threads while it
 *   allocates and formats.
 */
#include "obs/metrics.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/banned.h"

#define STATUS_CODES 600
#define N_BUCKETS 10
#define RENDER_MAX_BYTES (4u << 20)
#define OTHER "other"

static const uint64_t bucket_ms[N_BUCKETS] = { 50, 100, 250, 500, 1000, 2500, 5000, 10000,
					       30000, 60000 };
static const char *const bucket_le[N_BUCKETS] = { "0.05", "0.1", "0.25", "0.5", "1",
						  "2.5",  "5",	 "10",	 "30",	"60" };

struct request_series {
	char route[METRICS_LABEL_MAX + 1];
	int status;
	uint64_t count;
};

struct run_series {
	char status[METRICS_LABEL_MAX + 1];
	uint64_t count;
};

/* LLM call outcomes, a fixed set: anything else counts as "other". */
static const char *const llm_outcomes[] = { "ok", "connect", "timeout", "server", "rate_limited",
					    "client", "protocol", "cancelled", "deadline",
					    "breaker_open", "other" };
#define N_LLM_OUTCOMES (sizeof(llm_outcomes) / sizeof(llm_outcomes[0]))

struct registry {
	struct request_series requests[METRICS_ROUTES_MAX];
	size_t n_requests;
	uint64_t other_requests[STATUS_CODES]; /* route="other", by status */
	struct run_series runs[METRICS_RUN_STATUSES_MAX];
	size_t n_runs;
	uint64_t other_runs;
	uint64_t duration_buckets[N_BUCKETS + 1]; /* per bucket; the last is +Inf */
	uint64_t duration_sum_ms;
	uint64_t duration_count;
	int64_t queue_depth;
	int64_t runs_active;
	uint64_t sandbox_failures;
	uint64_t queue_rejected;
	uint64_t budget_refused;
	uint64_t budget_soft_crossed;
	uint64_t llm_calls[N_LLM_OUTCOMES];
	uint64_t llm_prompt_tokens, llm_completion_tokens;
	uint64_t repairs;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct registry registry;

/* A label value that cannot have a series of its own. */
static bool label_is_other(const char *value)
{
	return !value || strlen(value) > METRICS_LABEL_MAX || strcmp(value, OTHER) == 0;
}

static void request_count_locked(const char *route, int status)
{
	struct registry *r = &registry;

	if (!label_is_other(route)) {
		for (size_t i = 0; i < r->n_requests; i++) {
			if (r->requests[i].status == status &&
			    strcmp(r->requests[i].route, route) == 0) {
				r->requests[i].count++;
				return;
			}
		}
		if (r->n_requests < METRICS_ROUTES_MAX) {
			struct request_series *s = &r->requests[r->n_requests++];
			snprintf(s->route, sizeof(s->route), "%s", route);
			s->status = status;
			s->count = 1;
			return;
		}
	}
	r->other_requests[status]++;
}

void metrics_request(const char *route, int status)
{
	if (status < 100 || status >= STATUS_CODES)
		status = 0;
	pthread_mutex_lock(&registry_lock);
	request_count_locked(route, status);
	pthread_mutex_unlock(&registry_lock);
}

static void run_count_locked(const char *status)
{
	struct registry *r = &registry;

	if (!label_is_other(status)) {
		for (size_t i = 0; i < r->n_runs; i++) {
			if (strcmp(r->runs[i].status, status) == 0) {
				r->runs[i].count++;
				return;
			}
		}
		if (r->n_runs < METRICS_RUN_STATUSES_MAX) {
			struct run_series *s = &r->runs[r->n_runs++];
			snprintf(s->status, sizeof(s->status), "%s", status);
			s->count = 1;
			return;
		}
	}
	r->other_runs++;
}

void metrics_run(const char *status, uint64_t duration_ms)
{
	size_t b = 0;

	/* A bucket counts observations less than or equal to its bound. */
	while (b < N_BUCKETS && duration_ms > bucket_ms[b])
		b++;
	pthread_mutex_lock(&registry_lock);
	run_count_locked(status);
	registry.duration_buckets[b]++;
	registry.duration_sum_ms += duration_ms;
	registry.duration_count++;
	pthread_mutex_unlock(&registry_lock);
}

void metrics_queue_depth_set(int64_t depth)
{
	pthread_mutex_lock(&registry_lock);
	registry.queue_depth = depth;
	pthread_mutex_unlock(&registry_lock);
}

void metrics_runs_active_set(int64_t runs)
{
	pthread_mutex_lock(&registry_lock);
	registry.runs_active = runs;
	pthread_mutex_unlock(&registry_lock);
}

void metrics_sandbox_failure(void)
{
	pthread_mutex_lock(&registry_lock);
	registry.sandbox_failures++;
	pthread_mutex_unlock(&registry_lock);
}

void metrics_queue_rejected(void)
{
	pthread_mutex_lock(&registry_lock);
	registry.queue_rejected++;
	pthread_mutex_unlock(&registry_lock);
}

void metrics_llm_call(const char *outcome)
{
	size_t i = 0;

	while (i < N_LLM_OUTCOMES - 1 && (!outcome || strcmp(llm_outcomes[i], outcome) != 0))
		i++;
	pthread_mutex_lock(&registry_lock);
	registry.llm_calls[i]++;
	pthread_mutex_unlock(&registry_lock);
}

void metrics_llm_tokens(uint64_t prompt, uint64_t completion)
{
	pthread_mutex_lock(&registry_lock);
	registry.llm_prompt_tokens += prompt;
	registry.llm_completion_tokens += completion;
	pthread_mutex_unlock(&registry_lock);
}

void metrics_repair(void)
{
	pthread_mutex_lock(&registry_lock);
	registry.repairs++;
	pthread_mutex_unlock(&registry_lock);
}

void metrics_budget_refused(void)
{
	pthread_mutex_lock(&registry_lock);
	registry.budget_refused++;
	pthread_mutex_unlock(&registry_lock);
}

void metrics_budget_soft_crossed(void)
{
	pthread_mutex_lock(&registry_lock);
	registry.budget_soft_crossed++;
	pthread_mutex_unlock(&registry_lock);
}

void metrics_reset(void)
{
	pthread_mutex_lock(&registry_lock);
	memset(&registry, 0, sizeof(registry));
	pthread_mutex_unlock(&registry_lock);
}

struct render {
	struct buf out;
	bool failed;
};

__attribute__((format(printf, 2, 3))) static void emit(struct render *rd, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Lines are bounded by METRICS_LABEL_MAX, so a cut line is a bug;
	 * failing the render beats serving a corrupt exposition. */
	if (n < 0 || (size_t)n >= sizeof(line) || buf_append(&rd->out, line, (size_t)n) < 0)
		rd->failed = true;
}

static void emit_header(struct render *rd, const char *name, const char *type, const char *help)
{
	emit(rd, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values escape backslash, double quote and newline (format 0.0.4). */
static void label_escape(const char *value, char *out, size_t out_len)
{
	size_t o = 0;

	for (const char *p = value; *p && o + 3 <= out_len; p++) {
		char c = *p == '\n' ? 'n' : *p;
		if (*p == '\\' || *p == '"' || *p == '\n')
			out[o++] = '\\';
		out[o++] = c;
	}
	out[o] = '\0';
}

static void render_requests(struct render *rd, const struct registry *r)
{
	const char *name = "ledgerbox_http_requests_total";
	char route[2 * METRICS_LABEL_MAX + 2];

	emit_header(rd, name, "counter", "HTTP requests answered, by route template and status.");
	for (size_t i = 0; i < r->n_requests; i++) {
		label_escape(r->requests[i].route, route, sizeof(route));
		emit(rd, "%s{route=\"%s\",status=\"%d\"} %" PRIu64 "\n", name, route,
		     r->requests[i].status, r->requests[i].count);
	}
	for (int status = 0; status < STATUS_CODES; status++)
		if (r->other_requests[status])
			emit(rd, "%s{route=\"" OTHER "\",status=\"%d\"} %" PRIu64 "\n", name, status,
			     r->other_requests[status]);
}

static void render_runs(struct render *rd, const struct registry *r)
{
	const char *name = "ledgerbox_runs_total";
	char status[2 * METRICS_LABEL_MAX + 2];

	emit_header(rd, name, "counter", "Runs finished, by status.");
	for (size_t i = 0; i < r->n_runs; i++) {
		label_escape(r->runs[i].status, status, sizeof(status));
		emit(rd, "%s{status=\"%s\"} %" PRIu64 "\n", name, status, r->runs[i].count);
	}
	if (r->other_runs)
		emit(rd, "%s{status=\"" OTHER "\"} %" PRIu64 "\n", name, r->other_runs);
}

static void render_duration(struct render *rd, const struct registry *r)
{
	const char *name = "ledgerbox_run_duration_seconds";
	uint64_t cumulative = 0;

	emit_header(rd, name, "histogram", "Wall-clock time of finished runs.");
	for (size_t b = 0; b < N_BUCKETS; b++) {
		cumulative += r->duration_buckets[b];
		emit(rd, "%s_bucket{le=\"%s\"} %" PRIu64 "\n", name, bucket_le[b], cumulative);
	}
	emit(rd, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, r->duration_count);
	emit(rd, "%s_sum %" PRIu64 ".%03" PRIu64 "\n", name, r->duration_sum_ms / 1000,
	     r->duration_sum_ms % 1000);
	emit(rd, "%s_count %" PRIu64 "\n", name, r->duration_count);
}

static void render_scalars(struct render *rd, const struct registry *r)
{
	emit_header(rd, "ledgerbox_queue_depth", "gauge", "Runs waiting for a free slot.");
	emit(rd, "ledgerbox_queue_depth %" PRId64 "\n", r->queue_depth);
	emit_header(rd, "ledgerbox_runs_active", "gauge", "Runs executing now.");
	emit(rd, "ledgerbox_runs_active %" PRId64 "\n", r->runs_active);
	emit_header(rd, "ledgerbox_sandbox_failures_total", "counter",
		    "Runs whose sandbox could not be built.");
	emit(rd, "ledgerbox_sandbox_failures_total %" PRIu64 "\n", r->sandbox_failures);
	emit_header(rd, "ledgerbox_queue_rejected_total", "counter",
		    "Runs refused because the queue was full.");
	emit(rd, "ledgerbox_queue_rejected_total %" PRIu64 "\n", r->queue_rejected);
	emit_header(rd, "ledgerbox_budget_refused_total", "counter",
		    "Runs refused because a hard budget could not cover them.");
	emit(rd, "ledgerbox_budget_refused_total %" PRIu64 "\n", r->budget_refused);
	emit_header(rd, "ledgerbox_budget_soft_crossed_total", "counter",
		    "Soft budget thresholds crossed (once per scope and period).");
	emit(rd, "ledgerbox_budget_soft_crossed_total %" PRIu64 "\n", r->budget_soft_crossed);
	emit_header(rd, "ledgerbox_llm_calls_total", "counter",
		    "LLM calls by outcome (after retries).");
	for (size_t i = 0; i < N_LLM_OUTCOMES; i++)
		emit(rd, "ledgerbox_llm_calls_total{outcome=\"%s\"} %" PRIu64 "\n", llm_outcomes[i],
		     r->llm_calls[i]);
	emit_header(rd, "ledgerbox_llm_tokens_total", "counter", "Tokens the LLM reported.");
	emit(rd, "ledgerbox_llm_tokens_total{kind=\"prompt\"} %" PRIu64 "\n", r->llm_prompt_tokens);
	emit(rd, "ledgerbox_llm_tokens_total{kind=\"completion\"} %" PRIu64 "\n",
	     r->llm_completion_tokens);
	emit_header(rd, "ledgerbox_repairs_total", "counter",
		    "Corrected versions of generated code asked of the LLM.");
	emit(rd, "ledgerbox_repairs_total %" PRIu64 "\n", r->repairs);
}

char *metrics_render(size_t *ret_len)
{
	struct registry *snap = malloc(sizeof(*snap));
	struct render rd = { .failed = false };
	char *text;
	size_t len;

	if (!snap)
		return NULL;
	pthread_mutex_lock(&registry_lock);
	memcpy(snap, &registry, sizeof(*snap));
	pthread_mutex_unlock(&registry_lock);

	buf_init(&rd.out, RENDER_MAX_BYTES);
	render_requests(&rd, snap);
	render_runs(&rd, snap);
	render_duration(&rd, snap);
	render_scalars(&rd, snap);
	free(snap);
	if (rd.failed || rd.out.truncated) {
		buf_release(&rd.out);
		return NULL;
	}
	text = buf_steal(&rd.out, &len);
	if (ret_len)
		*ret_len = len;
	return text;
}
