/*
 * backends: the server's outside dependencies for POST /api/analyze, set
 * up from the configuration: the LLM client's settings, one circuit
 * breaker per back end (LLM, sandbox), and the trace exporter.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "http/analyze_llm.h"
#include "http/http.h"
#include "cache/cache.h"
#include "config/llm_local.h"
#include "obs/trace.h"
#include "util/banned.h"

static void llm_config_from(const struct config *cfg, struct llm_config *l)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->url, sizeof(l->url), "%s", cfg->llm_url);
	llm_api_parse(cfg->llm_api, &l->api); /* checked by config_load */
	snprintf(l->model, sizeof(l->model), "%s", cfg->llm_model);
	snprintf(l->key, sizeof(l->key), "%s", cfg->llm_key);
	l->connect_timeout_ms = cfg->llm_connect_timeout_ms;
	l->timeout_ms = cfg->llm_timeout_ms;
	l->max_tokens = cfg->llm_max_tokens;
	l->num_ctx = cfg->llm_num_ctx;
	l->retries = (unsigned)cfg->llm_retries;
	l->backoff_base_ms = cfg->llm_backoff_ms;
	l->backoff_max_ms = cfg->llm_backoff_max_ms;
	l->temperature = 0.0; /* the same request should get the same code */
}

static void breaker_config_from(const struct config *cfg, uint64_t trial_timeout_ms,
				struct breaker_config *b)
{
	*b = (struct breaker_config){
		.failure_threshold = (unsigned)cfg->breaker_failures,
		.window_calls = (unsigned)cfg->breaker_window,
		.min_calls = (unsigned)cfg->breaker_min_calls,
		.failure_rate_percent = (unsigned)cfg->breaker_failure_rate,
		.cooldown_ms = cfg->breaker_cooldown_ms,
		.cooldown_max_ms = cfg->breaker_cooldown_max_ms,
		.half_open_max_calls = (unsigned)cfg->breaker_trials,
		.half_open_successes = (unsigned)cfg->breaker_trials,
		.trial_timeout_ms = trial_timeout_ms,
	};
}

int http_backends_start(struct http_server *srv, char *err, size_t err_len)
{
	const struct config *cfg = srv->cfg;
	struct breaker_config bc;
	int r;

	if (llm_global_init() < 0) {
		snprintf(err, err_len, "libcurl could not be initialised");
		return -EIO;
	}
	llm_config_from(cfg, &srv->llm);
	srv->llm_samples = llm_samples_allowed(cfg->llm_send_samples, cfg->llm_url);
	/* A trial call ends by its own deadline; a little past that, it is
	 * taken for failed, so half-open cannot last forever. */
	breaker_config_from(cfg, cfg->analyze_deadline_ms + 5000, &bc);
	r = breaker_new("llm", &bc, &srv->llm_breaker);
	if (r == 0) {
		breaker_config_from(cfg, cfg->max_limits.wall_ms + 30000, &bc);
		r = breaker_new("sandbox", &bc, &srv->sandbox_breaker);
	}
	if (r == 0)
		r = trace_exporter_new(cfg->otlp_endpoint, "ledgerbox",
				       cfg->otlp_headers[0] ? cfg->otlp_headers : NULL, 4096,
				       &srv->tracer);
	if (r < 0) {
		snprintf(err, err_len, "setting up the circuit breakers and tracing failed: %s",
			 strerror(-r));
		http_backends_stop(srv);
		return r;
	}
	if (strcmp(cfg->cache, "on") == 0) {
		struct cache_limits l = { .ttl_ms = cfg->cache_ttl_s * 1000,
					  .max_entries = cfg->cache_max_entries };
		r = cache_open_url(cfg->state_dir, cfg->database_url, &l, &srv->cache, err, err_len);
		if (r < 0)
			http_backends_stop(srv);
	}
	return r;
}

void http_backends_stop(struct http_server *srv)
{
	cache_close(srv->cache);
	srv->cache = NULL;
	trace_exporter_free(srv->tracer, 2000);
	srv->tracer = NULL;
	breaker_free(srv->llm_breaker);
	breaker_free(srv->sandbox_breaker);
	srv->llm_breaker = srv->sandbox_breaker = NULL;
}
