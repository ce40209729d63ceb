/*
 * config: builds struct config from defaults, an optional file and the
 * LEDGERBOX_* environment, in that order, so a later source wins.
 *
 * One table (SETTINGS below) drives everything: the names in the file and
 * in the environment, how each value is parsed, its range, and the text
 * config_settings() hands to `ledgerbox serve --help` and the docs. Adding
 * a setting is one line there plus its default in config_defaults().
 *
 * Invariants:
 * - config_load() writes *ret only when every value parsed and the values
 *   agree with each other: each run default is at most its maximum,
 *   export_rows >= table_rows, and both limit sets pass
 *   sandbox_limits_check().
 * - Every message starts with where the value came from: the variable's
 *   name (LEDGERBOX_LISTEN: ...) or FILE:LINE and the file's name for it.
 * - The file is read whole under a size cap, so a huge or endless file
 *   (a FIFO, /dev/zero) cannot grow memory without bound.
 *
 * Derived limits, set after all sources are read so they follow the
 * settings rather than the sandbox's defaults:
 * - output_drain_bytes (output read and dropped before a run is stopped)
 *   is at least 16 times MAX_RUN_OUTPUT in both limits and max_limits (16
 *   times, as `ledgerbox exec` does), so a request may raise its output
 *   limit to the maximum without touching the drain;
 * - max_rows (rows of the result table the sandbox keeps) is export_rows
 *   in both, so the CSV export can have every row it promises.
 */
#include "config/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/parse.h"
#include "util/zone.h"
#include "util/banned.h"

#define KiB (1024ull)
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)
#define CONFIG_FILE_MAX_BYTES (1 * MiB)
#define ENV_PREFIX "LEDGERBOX_"
#define DRAIN_PER_OUTPUT 16

enum kind {
	KIND_FILE,	   /* LEDGERBOX_CONFIG: only in the environment */
	KIND_LISTEN,	   /* host:port into listen_host and listen_port */
	KIND_PATH,	   /* char[PATH_MAX] */
	KIND_UINT,	   /* unsigned int */
	KIND_U64,	   /* uint64_t, a count or milliseconds */
	KIND_BYTES,	   /* uint64_t, a size such as 256M */
	KIND_LIMIT_U64,	   /* a field of struct sandbox_limits */
	KIND_LIMIT_BYTES,
	KIND_TEXT,	   /* char[max + 1]; at least min bytes; checked by text_check() */
};

#define OFF(field) offsetof(struct config, field)
#define NO_FIELD 0

/* X(suffix, kind, offset, min, max, default text, description) */
#define SETTINGS(X)                                                                             \
	X("CONFIG", KIND_FILE, NO_FIELD, 0, UINT64_MAX, "(none)",                               \
	  "a file of `name = value` lines read before the environment")                         \
	X("LISTEN", KIND_LISTEN, NO_FIELD, 0, UINT64_MAX, "127.0.0.1:8080",                     \
	  "address of the HTTP server: an IPv4 address or localhost, a colon, a port")          \
	X("STATE_DIR", KIND_PATH, OFF(state_dir), 0, UINT64_MAX, "./state",                     \
	  "folder of the state database and the runs' artifacts")                               \
	X("DATA_DIR", KIND_PATH, OFF(data_dir), 0, UINT64_MAX, "./data",                        \
	  "folder of the datasets runs can read")                                               \
	X("DATABASE_URL", KIND_TEXT, OFF(database_url), 0, 1023, "",                            \
	  "PostgreSQL for the state, postgres://user:password@host:port/db (none: SQLite)")     \
	X("WARM_POOL_MIN", KIND_U64, OFF(warm_pool_min), 0, 64, "1",                            \
	  "pre-started Python sandboxes kept ready at least (0 to WARM_POOL_MAX)")              \
	X("WARM_POOL_MAX", KIND_U64, OFF(warm_pool_max), 0, 64, "4",                            \
	  "pre-started Python sandboxes kept ready at most; 0 turns the pool off (0 to 64)")    \
	X("MAX_RUNS", KIND_UINT, OFF(max_runs), 1, 1024, "number of CPUs",                      \
	  "runs at the same time (1 to 1024)")                                                  \
	X("QUEUE_MAX", KIND_UINT, OFF(queue_max), 0, 100000, "16",                              \
	  "runs waiting for a free slot before more are refused (0 to 100000)")                 \
	X("KEY_RATE_PER_MIN", KIND_U64, OFF(key_rate_per_min), 1, 1000000, "600",              \
	  "analyze requests per minute one API key may make, cache hits included (1 to 1000000)") \
	X("USER_RATE_PER_MIN", KIND_U64, OFF(user_rate_per_min), 1, 1000000, "600",            \
	  "analyze requests per minute one user may make, all keys together (1 to 1000000)")    \
	X("KEY_CONCURRENT", KIND_U64, OFF(key_concurrent), 1, 10000, "8",                       \
	  "analyze requests one API key may have in progress at once (1 to 10000)")             \
	X("USER_CONCURRENT", KIND_U64, OFF(user_concurrent), 1, 10000, "16",                    \
	  "analyze requests one user may have in progress at once (1 to 10000)")                \
	X("ANALYZE_INFLIGHT_MAX", KIND_U64, OFF(analyze_inflight_max), 1, 1000, "256",          \
	  "analyze requests in progress at once on this server, all users (1 to 1000)")         \
	X("TEAM_ARTIFACT_QUOTA", KIND_BYTES, OFF(team_artifact_quota), 1 * KiB, 1024 * GiB, "10G", \
	  "artifact and table bytes a team's runs may keep stored (1K to 1024G)")              \
	X("ARTIFACT_RETENTION_S", KIND_U64, OFF(artifact_retention_s), 0, 3153600000ULL, "7776000", \
	  "seconds a run's artifacts and table are kept (0: for ever); the run's record stays") \
	X("RETENTION_SWEEP_MS", KIND_U64, OFF(retention_sweep_ms), 100, 86400000, "3600000",    \
	  "how often the server removes expired artifacts (100 to 86400000)")                   \
	X("AUDIT_ANCHOR_EVERY", KIND_U64, OFF(audit_anchor_every), 0, 1000000000, "1000",        \
	  "log the audit head as an anchor every N entries (0: never; 1 to 1000000000)")        \
	X("MAX_BODY_BYTES", KIND_BYTES, OFF(max_body_bytes), 1 * KiB, 64 * GiB, "1M",           \
	  "largest JSON request body (1K to 64G)")                                              \
	X("UPLOAD_MAX_BYTES", KIND_BYTES, OFF(upload_max_bytes), 1 * KiB, 64 * GiB, "100M",     \
	  "largest dataset upload (1K to 64G)")                                                 \
	X("UPLOAD_MAX_ROWS", KIND_U64, OFF(upload_max_rows), 1, 100000000, "1000000",           \
	  "most rows in an uploaded dataset (1 to 100000000)")                                  \
	X("DATASET_QUOTA_BYTES", KIND_BYTES, OFF(dataset_quota_bytes), 1 * KiB, 1024 * GiB, "1G", \
	  "bytes of datasets one team may own (1K to 1024G)")                                   \
	X("TABLE_ROWS", KIND_U64, OFF(table_rows), 1, 1000000, "1000",                          \
	  "rows of a result table shown in a response (1 to 1000000)")                          \
	X("EXPORT_ROWS", KIND_U64, OFF(export_rows), 1, 10000000, "100000",                     \
	  "rows of a result table kept for CSV export (TABLE_ROWS to 10000000)")                \
	X("SHUTDOWN_GRACE_MS", KIND_U64, OFF(shutdown_grace_ms), 0, 600000, "30000",            \
	  "how long shutdown waits for running runs (0 to 600000)")                             \
	X("TZ", KIND_TEXT, OFF(tz), 0, ZONE_NAME_MAX, "",                                      \
	  "time zone of the business's calendar: budget periods, the cache's day, the date the model is told (none: the machine's)") \
	X("BUDGET_TZ", KIND_TEXT, OFF(budget_tz), 0, ZONE_NAME_MAX, "",                        \
	  "older name of TZ, still read; it must agree with TZ when both are set")            \
	X("SOFT_POLICY_PERCENT", KIND_U64, OFF(soft_policy_percent), 1, 100, "100",              \
	  "past a soft budget threshold, runs get this % of their limits (100: unchanged)")    \
	X("RESERVATION_LEASE_S", KIND_U64, OFF(reservation_lease_s), 2, 3600, "60",             \
	  "PostgreSQL: how long a run's budget reservation outlasts its deadline unless its node renews it (2 to 3600)") \
	X("LLM_URL", KIND_TEXT, OFF(llm_url), 8, 511, "http://127.0.0.1:11434",                 \
	  "base URL of the LLM server (http:// or https://, no path, no user or password)")     \
	X("LLM_API", KIND_TEXT, OFF(llm_api), 1, 15, "ollama",                                  \
	  "wire protocol of the LLM server: ollama or openai (any OpenAI-compatible server)")   \
	X("LLM_MODEL", KIND_TEXT, OFF(llm_model), 1, 127, "llama3.1",                           \
	  "model that writes the code")                                                         \
	X("LLM_KEY", KIND_TEXT, OFF(llm_key), 0, 255, "",                                 \
	  "API key sent as a bearer token to the LLM server")                                   \
	X("LLM_SEND_SAMPLES", KIND_TEXT, OFF(llm_send_samples), 1, 7, "auto",                   \
	  "send sample values and whole error messages to the model: auto (only to localhost "  \
	  "or a loopback address), yes, no")                                                    \
	X("LLM_CONNECT_TIMEOUT_MS", KIND_U64, OFF(llm_connect_timeout_ms), 1, 600000, "2000",   \
	  "time to connect to the LLM server, per attempt (1 to 600000)")                       \
	X("LLM_TIMEOUT_MS", KIND_U64, OFF(llm_timeout_ms), 1, 3600000, "120000",                \
	  "time for one LLM reply, per attempt (1 to 3600000)")                                 \
	X("LLM_MAX_TOKENS", KIND_U64, OFF(llm_max_tokens), 16, 1000000, "1024",                 \
	  "most tokens the model may write per reply (16 to 1000000)")                          \
	X("LLM_NUM_CTX", KIND_U64, OFF(llm_num_ctx), 512, 10000000, "8192",                     \
	  "context size of the model in tokens; prompts are cut to fit (512 to 10000000)")      \
	X("LLM_RETRIES", KIND_U64, OFF(llm_retries), 0, 10, "2",                                \
	  "retries of a transient LLM failure (0 to 10)")                                       \
	X("LLM_BACKOFF_MS", KIND_U64, OFF(llm_backoff_ms), 1, 60000, "250",                     \
	  "first retry delay, doubled each retry, with jitter (1 to 60000)")                    \
	X("LLM_BACKOFF_MAX_MS", KIND_U64, OFF(llm_backoff_max_ms), 1, 600000, "4000",           \
	  "longest retry delay (1 to 600000)")                                                  \
	X("REPAIR_ATTEMPTS", KIND_U64, OFF(repair_attempts), 0, 10, "2",                        \
	  "corrected versions asked of the model after a failure (0 to 10)")                    \
	X("ANALYZE_DEADLINE_MS", KIND_U64, OFF(analyze_deadline_ms), 1000, 3600000, "300000",   \
	  "overall time for one natural-language request (1000 to 3600000)")                    \
	X("BREAKER_FAILURES", KIND_U64, OFF(breaker_failures), 1, 1000, "5",                    \
	  "consecutive failures that open a back end's circuit breaker (1 to 1000)")            \
	X("BREAKER_WINDOW", KIND_U64, OFF(breaker_window), 1, 10000, "20",                      \
	  "calls in a breaker's sliding window (1 to 10000)")                                   \
	X("BREAKER_MIN_CALLS", KIND_U64, OFF(breaker_min_calls), 1, 10000, "10",                \
	  "calls in the window before the failure rate can open it (1 to BREAKER_WINDOW)")      \
	X("BREAKER_FAILURE_RATE", KIND_U64, OFF(breaker_failure_rate), 1, 100, "50",            \
	  "failure percentage in the window that opens it (1 to 100)")                          \
	X("BREAKER_COOLDOWN_MS", KIND_U64, OFF(breaker_cooldown_ms), 1, 3600000, "5000",        \
	  "time open before trial calls, doubled on each failed trial (1 to 3600000)")          \
	X("BREAKER_COOLDOWN_MAX_MS", KIND_U64, OFF(breaker_cooldown_max_ms), 1, 86400000, "60000", \
	  "longest cool-down (BREAKER_COOLDOWN_MS to 86400000)")                                \
	X("BREAKER_TRIALS", KIND_U64, OFF(breaker_trials), 1, 100, "1",                         \
	  "trial calls admitted half-open; as many successes close it (1 to 100)")              \
	X("CACHE", KIND_TEXT, OFF(cache), 2, 3, "on",                                          \
	  "the result cache: on or off")                                                        \
	X("CACHE_TTL_S", KIND_U64, OFF(cache_ttl_s), 0, 31536000, "86400",                      \
	  "seconds a cached result lives (0: until evicted; at most a year)")                   \
	X("CACHE_MAX_ENTRIES", KIND_U64, OFF(cache_max_entries), 1, 10000000, "10000",          \
	  "cached results kept; the least recently used go first (1 to 10000000)")              \
	X("CACHE_MIN_SIMILARITY", KIND_TEXT, OFF(cache_min_similarity), 1, 7, "auto",           \
	  "similarity (0.00 to 1.00, higher is stricter) for a semantic hit; auto: tuned value") \
	X("EMBED_MODEL", KIND_TEXT, OFF(embed_model), 0, 127, "",                               \
	  "embedding model of the LLM server for the semantic cache (none: built-in)")          \
	X("OTLP_ENDPOINT", KIND_TEXT, OFF(otlp_endpoint), 0, 511, "",                     \
	  "OTLP/HTTP JSON traces URL, e.g. http://127.0.0.1:4318/v1/traces (none: no tracing)") \
	X("OTLP_HEADERS", KIND_TEXT, OFF(otlp_headers), 0, 511, "",                       \
	  "one extra header for the trace collector, as Name: value")                           \
	X("RUN_TIMEOUT_MS", KIND_LIMIT_U64, OFF(limits.wall_ms), 0, UINT64_MAX, "30000",        \
	  "wall-clock limit of a run that asks for none")                                       \
	X("RUN_CPU_MS", KIND_LIMIT_U64, OFF(limits.cpu_ms), 0, UINT64_MAX, "20000",             \
	  "CPU time of all a run's processes, for a run that asks for none")                    \
	X("RUN_MEMORY", KIND_LIMIT_BYTES, OFF(limits.memory_bytes), 0, UINT64_MAX, "512M",      \
	  "memory of a run that asks for none")                                                 \
	X("RUN_PIDS", KIND_LIMIT_U64, OFF(limits.pids), 0, UINT64_MAX, "64",                    \
	  "processes and threads of a run that asks for none")                                  \
	X("RUN_OUTPUT", KIND_LIMIT_BYTES, OFF(limits.output_bytes), 0, UINT64_MAX, "1M",        \
	  "stdout and stderr kept, each, for a run that asks for none")                         \
	X("RUN_TMP", KIND_LIMIT_BYTES, OFF(limits.tmp_bytes), 0, UINT64_MAX, "64M",             \
	  "size of /tmp of a run that asks for none")                                           \
	X("MAX_RUN_TIMEOUT_MS", KIND_LIMIT_U64, OFF(max_limits.wall_ms), 0, UINT64_MAX, "300000", \
	  "the most wall-clock time a request may ask for")                                     \
	X("MAX_RUN_CPU_MS", KIND_LIMIT_U64, OFF(max_limits.cpu_ms), 0, UINT64_MAX, "300000",    \
	  "the most CPU time a request may ask for")                                            \
	X("MAX_RUN_MEMORY", KIND_LIMIT_BYTES, OFF(max_limits.memory_bytes), 0, UINT64_MAX, "4G", \
	  "the most memory a request may ask for")                                              \
	X("MAX_RUN_PIDS", KIND_LIMIT_U64, OFF(max_limits.pids), 0, UINT64_MAX, "256",           \
	  "the most processes and threads a request may ask for")                               \
	X("MAX_RUN_OUTPUT", KIND_LIMIT_BYTES, OFF(max_limits.output_bytes), 0, UINT64_MAX, "16M", \
	  "the most output per stream a request may ask for")                                   \
	X("MAX_RUN_TMP", KIND_LIMIT_BYTES, OFF(max_limits.tmp_bytes), 0, UINT64_MAX, "1G",      \
	  "the largest /tmp a request may ask for")

struct spec {
	enum kind kind;
	size_t offset;
	uint64_t min, max;
};

#define SETTING_DOC(suffix, kind, offset, min, max, def, desc) { ENV_PREFIX suffix, def, desc },
#define SETTING_SPEC(suffix, kind, offset, min, max, def, desc) { kind, offset, min, max },

/* settings[i] documents specs[i]: both come from the one list. */
static const struct config_setting settings[] = { SETTINGS(SETTING_DOC) };
static const struct spec specs[] = { SETTINGS(SETTING_SPEC) };
#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

const struct config_setting *config_settings(size_t *ret_count)
{
	if (ret_count)
		*ret_count = N_SETTINGS;
	return settings;
}

static void config_defaults(struct config *c)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	memset(c, 0, sizeof(*c));
	snprintf(c->listen_host, sizeof(c->listen_host), "127.0.0.1");
	c->listen_port = 8080;
	snprintf(c->state_dir, sizeof(c->state_dir), "./state");
	snprintf(c->data_dir, sizeof(c->data_dir), "./data");
	c->max_runs = cpus < 1 ? 1 : cpus > 1024 ? 1024 : (unsigned)cpus;
	c->queue_max = 16;
	c->key_rate_per_min = 600;
	c->user_rate_per_min = 600;
	c->key_concurrent = 8;
	c->user_concurrent = 16;
	c->analyze_inflight_max = 256;
	c->team_artifact_quota = 10 * GiB;
	c->artifact_retention_s = 7776000;
	c->retention_sweep_ms = 3600000;
	c->audit_anchor_every = 1000;
	c->warm_pool_min = 1;
	c->warm_pool_max = 4;
	c->max_body_bytes = 1 * MiB;
	c->upload_max_bytes = 100 * MiB;
	c->upload_max_rows = 1000000;
	c->dataset_quota_bytes = 1 * GiB;
	c->table_rows = 1000;
	c->export_rows = 100000;
	c->shutdown_grace_ms = 30000;
	c->soft_policy_percent = 100;
	c->reservation_lease_s = 60;
	snprintf(c->llm_url, sizeof(c->llm_url), "http://127.0.0.1:11434");
	snprintf(c->llm_api, sizeof(c->llm_api), "ollama");
	snprintf(c->llm_model, sizeof(c->llm_model), "llama3.1");
	snprintf(c->llm_send_samples, sizeof(c->llm_send_samples), "auto");
	c->llm_connect_timeout_ms = 2000;
	c->llm_timeout_ms = 120000;
	c->llm_max_tokens = 1024;
	c->llm_num_ctx = 8192;
	c->llm_retries = 2;
	c->llm_backoff_ms = 250;
	c->llm_backoff_max_ms = 4000;
	c->repair_attempts = 2;
	c->analyze_deadline_ms = 300000;
	c->breaker_failures = 5;
	c->breaker_window = 20;
	c->breaker_min_calls = 10;
	c->breaker_failure_rate = 50;
	c->breaker_cooldown_ms = 5000;
	c->breaker_cooldown_max_ms = 60000;
	c->breaker_trials = 1;
	snprintf(c->cache, sizeof(c->cache), "on");
	c->cache_ttl_s = 86400;
	c->cache_max_entries = 10000;
	snprintf(c->cache_min_similarity, sizeof(c->cache_min_similarity), "auto");
	sandbox_limits_default(&c->limits);
	c->max_limits = c->limits;
	c->max_limits.wall_ms = 300000;
	c->max_limits.cpu_ms = 300000;
	c->max_limits.memory_bytes = 4 * GiB;
	c->max_limits.pids = 256;
	c->max_limits.output_bytes = 16 * MiB;
	c->max_limits.tmp_bytes = 1 * GiB;
}

static bool kind_is_bytes(enum kind k)
{
	return k == KIND_BYTES || k == KIND_LIMIT_BYTES;
}

static bool kind_is_limit(enum kind k)
{
	return k == KIND_LIMIT_U64 || k == KIND_LIMIT_BYTES;
}

/* Writes 64G, 1K or 1000: the shortest exact form, for messages. */
static void bytes_format(uint64_t v, char *out, size_t out_len)
{
	static const char units[] = "TGMK";

	for (unsigned i = 0; i < 4; i++) {
		unsigned shift = 10 * (4 - i);
		if (v && v % (1ull << shift) == 0) {
			snprintf(out, out_len, "%" PRIu64 "%c", v >> shift, units[i]);
			return;
		}
	}
	snprintf(out, out_len, "%" PRIu64, v);
}

/* A number as a person would write it in the setting: 8G or 30000. */
static void value_format(const struct spec *s, uint64_t v, char *out, size_t out_len)
{
	if (kind_is_bytes(s->kind))
		bytes_format(v, out, out_len);
	else
		snprintf(out, out_len, "%" PRIu64, v);
}

static int value_error(char *err, size_t err_len, const char *where, const char *expected,
		       const char *value, int r)
{
	snprintf(err, err_len, "%s: expected %s, got '%.200s'", where, expected, value);
	return r;
}

static int listen_apply(struct config *c, const char *value, const char *where, char *err,
			size_t err_len)
{
	const char *colon = strrchr(value, ':');
	char host[64];
	struct in_addr addr;
	uint64_t port;
	size_t host_len = colon ? (size_t)(colon - value) : 0;

	if (host_len == 0 || host_len >= sizeof(host) || parse_u64(colon + 1, &port) < 0 ||
	    port == 0 || port > 65535)
		goto bad;
	memcpy(host, value, host_len);
	host[host_len] = '\0';
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &addr) != 1)
		goto bad;
	/* Stored in inet_ntop's canonical form, which always fits. */
	inet_ntop(AF_INET, &addr, c->listen_host, sizeof(c->listen_host));
	c->listen_port = (uint16_t)port;
	return 0;
bad:
	return value_error(err, err_len, where, "host:port (like 127.0.0.1:8080)", value, -EINVAL);
}

static int path_apply(struct config *c, const struct spec *s, const char *value,
		      const char *where, char *err, size_t err_len)
{
	char *field = (char *)c + s->offset;

	if (*value == '\0' || strlen(value) >= PATH_MAX)
		return value_error(err, err_len, where, "a folder path", value, -EINVAL);
	snprintf(field, PATH_MAX, "%s", value);
	return 0;
}

/* "0", "1", "0.9", "0.925", "1.00": a number from 0 to 1, at most 3
 * decimals. */
static bool similarity_valid(const char *v)
{
	size_t digits;

	if ((v[0] != '0' && v[0] != '1') || (v[1] != '\0' && v[1] != '.'))
		return false;
	if (v[1] == '\0')
		return true;
	digits = strspn(v + 2, "0123456789");
	if (digits < 1 || digits > 3 || v[2 + digits] != '\0')
		return false;
	return v[0] == '0' || strspn(v + 2, "0") == digits;
}

/* The length of the "http://" or "https://" value starts with, else 0. */
static size_t web_scheme_len(const char *value)
{
	if (strncmp(value, "http://", 7) == 0)
		return 7;
	return strncmp(value, "https://", 8) == 0 ? 8 : 0;
}

/* What a text setting accepts, by the field it fills. */
static const char *text_expected(const struct spec *s, const char *value)
{
	size_t scheme = web_scheme_len(value);
	bool web = scheme > 0;

	/* A host must follow the scheme, and after it at most a port: the
	 * search for a path starts right at the host, never past the end. */
	if (s->offset == OFF(llm_url))
		return web && value[scheme] != '\0' && !strchr(value + scheme, '/') &&
			       !strpbrk(value, " ?#")
			       ? NULL
			       : "a base URL such as http://127.0.0.1:11434 (no path)";
	if (s->offset == OFF(otlp_endpoint))
		return *value == '\0' || (web && !strpbrk(value, " #"))
			       ? NULL
			       : "a URL such as http://127.0.0.1:4318/v1/traces";
	if (s->offset == OFF(database_url))
		return *value == '\0' || ((strncmp(value, "postgres://", 11) == 0 ||
					    strncmp(value, "postgresql://", 13) == 0) &&
					   !strchr(value, ' '))
			       ? NULL
			       : "a URL such as postgres://ledgerbox@127.0.0.1:5432/ledgerbox";
	if (s->offset == OFF(llm_api))
		return strcmp(value, "ollama") == 0 || strcmp(value, "openai") == 0
			       ? NULL
			       : "ollama or openai";
	if (s->offset == OFF(llm_send_samples))
		return strcmp(value, "auto") == 0 || strcmp(value, "yes") == 0 ||
				       strcmp(value, "no") == 0
			       ? NULL
			       : "auto, yes or no";
	if (s->offset == OFF(cache))
		return strcmp(value, "on") == 0 || strcmp(value, "off") == 0 ? NULL : "on or off";
	if (s->offset == OFF(cache_min_similarity))
		return strcmp(value, "auto") == 0 || similarity_valid(value)
			       ? NULL
			       : "auto or a similarity from 0.00 to 1.00 such as 0.90";
	if (s->offset == OFF(tz) || s->offset == OFF(budget_tz))
		return *value == '\0' || zone_name_valid(value)
			       ? NULL
			       : "a time zone such as Europe/Berlin or UTC (a file under /usr/share/zoneinfo)";
	if (s->offset == OFF(otlp_headers))
		return *value == '\0' || (strchr(value, ':') && value[0] != ':') ? NULL
										 : "one header as Name: value";
	return NULL;
}

/* Whether a web URL carries "user:password@" before its host. */
static bool url_has_userinfo(const char *value)
{
	size_t scheme = web_scheme_len(value);
	size_t authority = scheme ? strcspn(value + scheme, "/?#") : 0;

	return scheme && memchr(value + scheme, '@', authority) != NULL;
}

/*
 * Credentials in the LLM's or the trace collector's URL would be shown
 * wherever the URL is: /readyz (which needs no key), analysts' error
 * messages, logs. They are refused here, with the setting meant for them.
 * database_url is different: a PostgreSQL URL legitimately holds its
 * password, so it is accepted and never shown anywhere instead.
 */
static int url_credentials_refuse(const struct spec *s, const char *value, const char *where,
				  char *err, size_t err_len)
{
	const char *instead;

	if (s->offset == OFF(llm_url))
		instead = "put the key in llm_key (LEDGERBOX_LLM_KEY)";
	else if (s->offset == OFF(otlp_endpoint))
		instead = "put them in otlp_headers (LEDGERBOX_OTLP_HEADERS), e.g. "
			  "'Authorization: Basic ...'";
	else
		return 0;
	if (!url_has_userinfo(value))
		return 0;
	snprintf(err, err_len,
		 "%s: a user name or password in the URL is refused, as the URL is shown by "
		 "/readyz, in error messages and in logs: give the URL without "
		 "'user:password@' and %s",
		 where, instead);
	return -EINVAL;
}

static int text_apply(struct config *c, const struct spec *s, const char *value,
		      const char *where, char *err, size_t err_len)
{
	const char *expected = text_expected(s, value);
	size_t len = strlen(value);
	int r;

	for (const char *p = value; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return value_error(err, err_len, where, "text without control characters",
					   "(hidden)", -EINVAL);
	r = url_credentials_refuse(s, value, where, err, err_len);
	if (r < 0)
		return r;
	if (len < s->min || len > s->max || expected) {
		char what[200];
		snprintf(what, sizeof(what), "%s, %" PRIu64 " to %" PRIu64 " bytes",
			 expected ? expected : "text", s->min, s->max);
		/* A key is never echoed back. */
		return value_error(err, err_len, where, what,
				   s->offset == OFF(llm_key) || s->offset == OFF(database_url)
					   ? "(hidden)"
					   : value,
				   -EINVAL);
	}
	memcpy((char *)c + s->offset, value, len + 1);
	return 0;
}

/* The drain (output read and dropped before a run is stopped) grows with
 * the output limit, as in `ledgerbox exec`: the sandbox's fixed default is
 * too small for a large output limit and sandbox_limits_check refuses it. */
static void limits_derive(struct sandbox_limits *l, uint64_t output_bytes)
{
	/* An output limit this large is refused by the range check anyway. */
	if (output_bytes > UINT64_MAX / DRAIN_PER_OUTPUT)
		return;
	if (l->output_drain_bytes < DRAIN_PER_OUTPUT * output_bytes)
		l->output_drain_bytes = DRAIN_PER_OUTPUT * output_bytes;
}

/* Checks one limit on its own, against the sandbox's own ranges, so the
 * message can name the variable that is wrong. */
static int limit_check(const struct spec *s, uint64_t v, const char *value, const char *where,
		       char *err, size_t err_len)
{
	size_t base = s->offset >= OFF(max_limits) ? OFF(max_limits) : OFF(limits);
	struct sandbox_limits l;
	char why[256];

	sandbox_limits_default(&l);
	memcpy((char *)&l + (s->offset - base), &v, sizeof(v));
	limits_derive(&l, l.output_bytes);
	if (sandbox_limits_check(&l, why, sizeof(why)) < 0) {
		snprintf(err, err_len, "%s: %s (got '%.100s')", where, why, value);
		return -ERANGE;
	}
	return 0;
}

/* What a number setting takes, for messages: "a whole number from 1 to
 * 1024", "a size like 256M from 1K to 64G". */
static void expected_format(const struct spec *s, char *out, size_t out_len)
{
	const char *what = kind_is_bytes(s->kind) ? "a size like 256M" : "a whole number";
	char lo[32], hi[32];

	if (s->max == UINT64_MAX) {
		snprintf(out, out_len, "%s", what);
		return;
	}
	value_format(s, s->min, lo, sizeof(lo));
	value_format(s, s->max, hi, sizeof(hi));
	snprintf(out, out_len, "%s from %s to %s", what, lo, hi);
}

static int number_apply(struct config *c, const struct spec *s, const char *value,
			const char *where, char *err, size_t err_len)
{
	uint64_t v;
	int r = kind_is_bytes(s->kind) ? parse_bytes(value, &v) : parse_u64(value, &v);

	if (r == 0 && (v < s->min || v > s->max))
		r = -ERANGE;
	if (r < 0) {
		char expected[128];
		expected_format(s, expected, sizeof(expected));
		return value_error(err, err_len, where, expected, value, r);
	}
	if (kind_is_limit(s->kind)) {
		r = limit_check(s, v, value, where, err, err_len);
		if (r < 0)
			return r;
	}
	if (s->kind == KIND_UINT) {
		unsigned u = (unsigned)v;
		memcpy((char *)c + s->offset, &u, sizeof(u));
	} else {
		memcpy((char *)c + s->offset, &v, sizeof(v));
	}
	return 0;
}

static int spec_apply(struct config *c, const struct spec *s, const char *value,
		      const char *where, char *err, size_t err_len)
{
	switch (s->kind) {
	case KIND_FILE:
		snprintf(err, err_len, "%s: can only be set in the environment", where);
		return -EINVAL;
	case KIND_LISTEN:
		return listen_apply(c, value, where, err, err_len);
	case KIND_PATH:
		return path_apply(c, s, value, where, err, err_len);
	case KIND_TEXT:
		return text_apply(c, s, value, where, err, err_len);
	default:
		return number_apply(c, s, value, where, err, err_len);
	}
}

/* The file's name for a setting is the variable without its prefix; case
 * does not matter, so `LISTEN` and `listen` are the same setting. */
static const struct spec *spec_find_file_name(const char *name)
{
	for (size_t i = 0; i < N_SETTINGS; i++)
		if (strcasecmp(settings[i].variable + strlen(ENV_PREFIX), name) == 0)
			return &specs[i];
	return NULL;
}

static const char *spec_variable(const struct spec *s)
{
	return settings[s - specs].variable;
}

static char *text_trim(char *s)
{
	size_t len;

	while (isspace((unsigned char)*s))
		s++;
	len = strlen(s);
	while (len && isspace((unsigned char)s[len - 1]))
		s[--len] = '\0';
	return s;
}

/* A '#' starts a comment at the start of a line or after white space, so a
 * value such as `./data#2` keeps its '#'. */
static void comment_strip(char *line)
{
	for (char *p = line; *p; p++) {
		if (*p == '#' && (p == line || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			return;
		}
	}
}

static int line_apply(struct config *c, const char *path, unsigned line_no, char *line,
		      char *err, size_t err_len)
{
	char where[PATH_MAX + 128];
	const struct spec *s;
	char *eq, *name, *value;

	comment_strip(line);
	line = text_trim(line);
	if (*line == '\0')
		return 0;
	eq = strchr(line, '=');
	if (!eq) {
		snprintf(err, err_len, "%s:%u: expected name = value, got '%.200s'", path, line_no,
			 line);
		return -EINVAL;
	}
	*eq = '\0';
	name = text_trim(line);
	value = text_trim(eq + 1);
	s = spec_find_file_name(name);
	if (!s) {
		snprintf(err, err_len, "%s:%u: unknown setting '%.100s'", path, line_no, name);
		return -EINVAL;
	}
	snprintf(where, sizeof(where), "%s:%u: %s", path, line_no, name);
	return spec_apply(c, s, value, where, err, err_len);
}

/* Reads the whole file into b, which the caller has set up with its cap. */
static int file_read(const char *path, struct buf *b, char *err, size_t err_len)
{
	char chunk[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		int r = -errno;
		snprintf(err, err_len, "%s: %s", path, strerror(-r));
		return r;
	}
	while (!b->truncated && (n = read(fd, chunk, sizeof(chunk))) != 0) {
		int r = n < 0 ? (errno == EINTR ? 0 : -errno) : buf_append(b, chunk, (size_t)n);
		if (r < 0) {
			snprintf(err, err_len, "%s: %s", path, strerror(-r));
			close(fd);
			return r;
		}
	}
	close(fd);
	if (b->truncated) {
		snprintf(err, err_len, "%s: larger than %llu bytes", path, CONFIG_FILE_MAX_BYTES);
		return -EFBIG;
	}
	return 0;
}

static int file_apply(struct config *c, const char *path, char *err, size_t err_len)
{
	struct buf b;
	char *line, *next;
	unsigned line_no = 0;
	int r;

	buf_init(&b, CONFIG_FILE_MAX_BYTES);
	r = file_read(path, &b, err, err_len);
	if (r < 0)
		goto out;
	if (b.len && memchr(b.data, '\0', b.len)) {
		snprintf(err, err_len, "%s: holds a NUL byte; not a text file", path);
		r = -EINVAL;
		goto out;
	}
	for (line = b.data; line && r == 0; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		r = line_apply(c, path, ++line_no, line, err, err_len);
	}
out:
	buf_release(&b);
	return r;
}

static int env_apply(struct config *c, char *err, size_t err_len)
{
	for (size_t i = 0; i < N_SETTINGS; i++) {
		const char *value = getenv(settings[i].variable);
		int r;

		if (!value || specs[i].kind == KIND_FILE)
			continue;
		r = spec_apply(c, &specs[i], value, settings[i].variable, err, err_len);
		if (r < 0)
			return r;
	}
	return 0;
}

static uint64_t field_u64(const struct config *c, size_t offset)
{
	uint64_t v;

	memcpy(&v, (const char *)c + offset, sizeof(v));
	return v;
}

/* Each LEDGERBOX_RUN_X must be at most its LEDGERBOX_MAX_RUN_X. */
static int limits_against_max(const struct config *c, char *err, size_t err_len)
{
	for (size_t i = 0; i < N_SETTINGS; i++) {
		const char *var = settings[i].variable;
		char max_var[64];
		const struct spec *max;
		uint64_t v, top;

		if (strncmp(var, ENV_PREFIX "RUN_", strlen(ENV_PREFIX "RUN_")) != 0)
			continue;
		snprintf(max_var, sizeof(max_var), "MAX_%s", var + strlen(ENV_PREFIX));
		max = spec_find_file_name(max_var);
		if (!max)
			continue;
		v = field_u64(c, specs[i].offset);
		top = field_u64(c, max->offset);
		if (v > top) {
			char v_text[32], top_text[32];
			value_format(&specs[i], v, v_text, sizeof(v_text));
			value_format(max, top, top_text, sizeof(top_text));
			snprintf(err, err_len, "%s (%s) is above %s (%s)", var, v_text,
				 spec_variable(max), top_text);
			return -ERANGE;
		}
	}
	return 0;
}

/* One zone for the business: LEDGERBOX_BUDGET_TZ is the older name of
 * LEDGERBOX_TZ, so both set to different zones is a contradiction, not a
 * choice to make silently. */
static int zone_resolve(struct config *c, char *err, size_t err_len)
{
	if (c->tz[0] && c->budget_tz[0] && strcmp(c->tz, c->budget_tz) != 0) {
		snprintf(err, err_len,
			 ENV_PREFIX "TZ (%s) and " ENV_PREFIX "BUDGET_TZ (%s) name different zones;"
				    " set only " ENV_PREFIX "TZ (" ENV_PREFIX "BUDGET_TZ is its older name)",
			 c->tz, c->budget_tz);
		return -EINVAL;
	}
	if (!c->tz[0])
		memcpy(c->tz, c->budget_tz, sizeof(c->tz));
	return 0;
}

static int config_check(struct config *c, char *err, size_t err_len)
{
	char why[256];
	int r = zone_resolve(c, err, err_len);

	if (r < 0)
		return r;

	if (c->export_rows < c->table_rows) {
		snprintf(err, err_len,
			 ENV_PREFIX "EXPORT_ROWS (%" PRIu64 ") must be at least " ENV_PREFIX
				    "TABLE_ROWS (%" PRIu64 ")",
			 c->export_rows, c->table_rows);
		return -ERANGE;
	}
	if (c->breaker_min_calls > c->breaker_window || c->breaker_cooldown_max_ms < c->breaker_cooldown_ms ||
	    c->llm_backoff_max_ms < c->llm_backoff_ms) {
		snprintf(err, err_len, ENV_PREFIX "BREAKER_MIN_CALLS must be at most " ENV_PREFIX
			 "BREAKER_WINDOW, and each _MAX_MS setting at least its base (" ENV_PREFIX
			 "BREAKER_COOLDOWN_MS, " ENV_PREFIX "LLM_BACKOFF_MS)");
		return -ERANGE;
	}
	/* MAX 0 turns the pool off whatever MIN says. */
	if (c->warm_pool_max == 0)
		c->warm_pool_min = 0;
	if (c->warm_pool_min > c->warm_pool_max) {
		snprintf(err, err_len,
			 ENV_PREFIX "WARM_POOL_MIN (%" PRIu64 ") must be at most " ENV_PREFIX
				    "WARM_POOL_MAX (%" PRIu64 ")",
			 c->warm_pool_min, c->warm_pool_max);
		return -ERANGE;
	}
	if (c->llm_max_tokens >= c->llm_num_ctx) {
		snprintf(err, err_len, ENV_PREFIX "LLM_MAX_TOKENS (%" PRIu64 ") must be below "
			 ENV_PREFIX "LLM_NUM_CTX (%" PRIu64 "): the prompt needs room too",
			 c->llm_max_tokens, c->llm_num_ctx);
		return -ERANGE;
	}
	c->limits.max_rows = c->max_limits.max_rows = c->export_rows;
	/* Sized for the largest output a request may ask for, so a request
	 * that starts from the defaults and raises only its output limit
	 * still passes sandbox_limits_check. */
	limits_derive(&c->limits, c->max_limits.output_bytes);
	limits_derive(&c->max_limits, c->max_limits.output_bytes);
	r = limits_against_max(c, err, err_len);
	if (r < 0)
		return r;
	if (sandbox_limits_check(&c->limits, why, sizeof(why)) < 0) {
		snprintf(err, err_len, "run limits: %s", why);
		return -ERANGE;
	}
	if (sandbox_limits_check(&c->max_limits, why, sizeof(why)) < 0) {
		snprintf(err, err_len, "maximum run limits: %s", why);
		return -ERANGE;
	}
	return 0;
}

int config_load(struct config *ret, const char *path, char *err, size_t err_len)
{
	struct config c;
	int r = 0;

	config_defaults(&c);
	if (!path) {
		path = getenv(ENV_PREFIX "CONFIG");
		/* An empty LEDGERBOX_CONFIG means no file, as when it is unset. */
		if (path && *path == '\0')
			path = NULL;
	}
	if (path)
		r = file_apply(&c, path, err, err_len);
	if (r == 0)
		r = env_apply(&c, err, err_len);
	if (r == 0)
		r = config_check(&c, err, err_len);
	if (r == 0)
		*ret = c;
	return r;
}
