/*
 * config: ledgerbox's settings, from defaults, an optional configuration
 * file and LEDGERBOX_* environment variables (later wins).
 *
 * The file (LEDGERBOX_CONFIG, or the path given) has one `name = value` per
 * line, '#' comments and blank lines; names are the variables' names
 * without the LEDGERBOX_ prefix, in lower case (`listen = 127.0.0.1:8080`).
 * Every value is checked: a bad one is refused with a message naming the
 * variable (or file and line), the value and what is expected.
 */
#ifndef LEDGERBOX_CONFIG_H
#define LEDGERBOX_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox/sandbox.h"

struct config {
	char listen_host[64];      /* LEDGERBOX_LISTEN host part, default 127.0.0.1 */
	uint16_t listen_port;      /* LEDGERBOX_LISTEN port part, default 8080 */
	char state_dir[PATH_MAX];  /* LEDGERBOX_STATE_DIR, default ./state */
	char data_dir[PATH_MAX];   /* LEDGERBOX_DATA_DIR, default ./data */
	/* LEDGERBOX_DATABASE_URL: "" (default) keeps state in SQLite under
	 * state_dir; postgres://... or postgresql://... puts it in PostgreSQL,
	 * which several nodes may share. Never logged (it may hold a password). */
	char database_url[1024];
	/* Warm pool: pre-started Python sandboxes per server (docs/warm-pool.md). */
	uint64_t warm_pool_min;    /* LEDGERBOX_WARM_POOL_MIN, default 1 */
	uint64_t warm_pool_max;    /* LEDGERBOX_WARM_POOL_MAX, default 4 (0: no pool) */
	unsigned max_runs;         /* LEDGERBOX_MAX_RUNS, default: number of cores */
	unsigned queue_max;        /* LEDGERBOX_QUEUE_MAX, default 16 */
	/* Admission of analyze requests, cache hits included (docs/hardening.md). */
	uint64_t key_rate_per_min;     /* LEDGERBOX_KEY_RATE_PER_MIN, default 600 */
	uint64_t user_rate_per_min;    /* LEDGERBOX_USER_RATE_PER_MIN, default 600 */
	uint64_t key_concurrent;       /* LEDGERBOX_KEY_CONCURRENT, default 8 */
	uint64_t user_concurrent;      /* LEDGERBOX_USER_CONCURRENT, default 16 */
	uint64_t analyze_inflight_max; /* LEDGERBOX_ANALYZE_INFLIGHT_MAX, default 256 */
	/* Artifact storage. */
	uint64_t team_artifact_quota;  /* LEDGERBOX_TEAM_ARTIFACT_QUOTA bytes, default 10G */
	uint64_t artifact_retention_s; /* LEDGERBOX_ARTIFACT_RETENTION_S, default 90 days; 0: for ever */
	uint64_t retention_sweep_ms;   /* LEDGERBOX_RETENTION_SWEEP_MS, default 3600000 */
	uint64_t audit_anchor_every;   /* LEDGERBOX_AUDIT_ANCHOR_EVERY entries, default 1000; 0: off */
	uint64_t max_body_bytes;   /* LEDGERBOX_MAX_BODY_BYTES, default 1M (JSON requests) */
	uint64_t upload_max_bytes; /* LEDGERBOX_UPLOAD_MAX_BYTES, default 100M */
	uint64_t upload_max_rows;  /* LEDGERBOX_UPLOAD_MAX_ROWS, default 1000000 */
	uint64_t dataset_quota_bytes; /* LEDGERBOX_DATASET_QUOTA_BYTES per team, default 1G */
	uint64_t table_rows;       /* LEDGERBOX_TABLE_ROWS shown in a response, default 1000 */
	uint64_t export_rows;      /* LEDGERBOX_EXPORT_ROWS kept for CSV, default 100000 */
	uint64_t shutdown_grace_ms; /* LEDGERBOX_SHUTDOWN_GRACE_MS, default 30000 */
	/* LEDGERBOX_TZ: the business's time zone ("" = the machine's); after
	 * config_load() it also holds LEDGERBOX_BUDGET_TZ, its older name,
	 * when only that one was set (both set must agree). */
	char tz[64];
	char budget_tz[64];        /* LEDGERBOX_BUDGET_TZ as given; read tz instead */
	/* LEDGERBOX_SOFT_POLICY_PERCENT, default 100: once a scope is past its
	 * soft threshold, a run's time and memory limits are cut to this
	 * percentage (so it reserves, and can spend, less). */
	uint64_t soft_policy_percent;
	uint64_t reservation_lease_s; /* PostgreSQL budget leases (budget_lease_set) */
	/* The LLM back end (see docs/configuration.md). */
	char llm_url[512];         /* LEDGERBOX_LLM_URL, default http://127.0.0.1:11434 */
	char llm_api[16];          /* LEDGERBOX_LLM_API: "ollama" (default) or "openai" */
	char llm_model[128];       /* LEDGERBOX_LLM_MODEL, default llama3.1 */
	char llm_key[256];         /* LEDGERBOX_LLM_KEY, default none; never logged */
	char llm_send_samples[8];  /* LEDGERBOX_LLM_SEND_SAMPLES: auto (default), yes, no */
	uint64_t llm_connect_timeout_ms; /* LEDGERBOX_LLM_CONNECT_TIMEOUT_MS, default 2000 */
	uint64_t llm_timeout_ms;   /* LEDGERBOX_LLM_TIMEOUT_MS, default 120000 */
	uint64_t llm_max_tokens;   /* LEDGERBOX_LLM_MAX_TOKENS, default 1024 */
	uint64_t llm_num_ctx;      /* LEDGERBOX_LLM_NUM_CTX, default 8192 */
	uint64_t llm_retries;      /* LEDGERBOX_LLM_RETRIES, default 2 */
	uint64_t llm_backoff_ms;   /* LEDGERBOX_LLM_BACKOFF_MS, default 250 */
	uint64_t llm_backoff_max_ms; /* LEDGERBOX_LLM_BACKOFF_MAX_MS, default 4000 */
	uint64_t repair_attempts;  /* LEDGERBOX_REPAIR_ATTEMPTS, default 2 */
	uint64_t analyze_deadline_ms; /* LEDGERBOX_ANALYZE_DEADLINE_MS, default 300000 */
	/* Circuit breakers (one per back end, same settings). */
	uint64_t breaker_failures;      /* LEDGERBOX_BREAKER_FAILURES, default 5 */
	uint64_t breaker_window;        /* LEDGERBOX_BREAKER_WINDOW, default 20 */
	uint64_t breaker_min_calls;     /* LEDGERBOX_BREAKER_MIN_CALLS, default 10 */
	uint64_t breaker_failure_rate;  /* LEDGERBOX_BREAKER_FAILURE_RATE (percent), default 50 */
	uint64_t breaker_cooldown_ms;   /* LEDGERBOX_BREAKER_COOLDOWN_MS, default 5000 */
	uint64_t breaker_cooldown_max_ms; /* LEDGERBOX_BREAKER_COOLDOWN_MAX_MS, default 60000 */
	uint64_t breaker_trials;        /* LEDGERBOX_BREAKER_TRIALS, default 1 */
	/* The result cache (docs/cache.md). */
	char cache[4];             /* LEDGERBOX_CACHE: on (default) or off */
	uint64_t cache_ttl_s;      /* LEDGERBOX_CACHE_TTL_S, default 86400 (0: never expires) */
	uint64_t cache_max_entries; /* LEDGERBOX_CACHE_MAX_ENTRIES, default 10000 */
	char cache_min_similarity[8]; /* LEDGERBOX_CACHE_MIN_SIMILARITY: auto or 0.00 to 1.00 */
	char embed_model[128];     /* LEDGERBOX_EMBED_MODEL: "" = the built-in embedding */
	char otlp_endpoint[512];   /* LEDGERBOX_OTLP_ENDPOINT, default none (no tracing) */
	char otlp_headers[512];    /* LEDGERBOX_OTLP_HEADERS: one "Name: value" header, default none */
	struct sandbox_limits limits;     /* defaults for a run: LEDGERBOX_RUN_TIMEOUT_MS,
					     _RUN_CPU_MS, _RUN_MEMORY, _RUN_PIDS, _RUN_OUTPUT */
	struct sandbox_limits max_limits; /* what a request may ask for at most:
					     LEDGERBOX_MAX_RUN_TIMEOUT_MS, ... */
};

/* Loads defaults, then the file (path, or $LEDGERBOX_CONFIG when path is
 * NULL, or none), then the environment. */
int config_load(struct config *ret, const char *path, char *err, size_t err_len);
/* The table of every setting: [{"variable", "default", "description"}],
 * used by `ledgerbox serve --help` and the README. */
const struct config_setting {
	const char *variable;
	const char *default_text;
	const char *description;
} *config_settings(size_t *ret_count);

#endif
