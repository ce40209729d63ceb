/*
 * llm: the client for the language-model server (Ollama's native API or an
 * OpenAI-compatible one) over libcurl.
 *
 * One call is one chat completion: the request body is built from the
 * configuration and the messages, sent, and the reply (whole or streamed)
 * parsed into text and token counts. Transient failures are retried with
 * exponential backoff and full jitter inside an optional overall deadline;
 * every wait and transfer polls the caller's cancel callback at least every
 * 100 ms. Nothing here logs: failures come back as a kind, an HTTP status
 * and one line of text that says what failed, where and what to do.
 *
 * Every call uses its own curl handles, so calls may run on many threads
 * at once once llm_global_init() has run.
 */
#ifndef LEDGERBOX_LLM_H
#define LEDGERBOX_LLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Hard limits on what a reply may bring. */
#define LLM_TEXT_MAX (1024u * 1024u)        /* assistant content */
#define LLM_WIRE_MAX (4u * 1024u * 1024u)   /* response body bytes */
#define LLM_EMBED_DIM_MAX 65536u            /* floats in one embedding */
#define LLM_RETRY_AFTER_MAX_S 60u           /* a longer Retry-After is not waited for */
#define LLM_DEFAULT_NUM_CTX 8192u           /* ollama num_ctx sent when the config says 0 */

enum llm_api { LLM_API_OLLAMA, LLM_API_OPENAI };

struct llm_config {
	char url[512];               /* base URL, e.g. http://127.0.0.1:11434 (no trailing path;
	                              * for openai a trailing /v1 is tolerated) */
	enum llm_api api;
	char model[128];
	char key[256];               /* "" none; sent as Authorization: Bearer */
	uint64_t connect_timeout_ms; /* per HTTP attempt; 0: curl's default */
	uint64_t timeout_ms;         /* per HTTP attempt, whole exchange; 0: none */
	uint64_t max_tokens;         /* num_predict (ollama) / max_tokens (openai); 0: not sent */
	uint64_t num_ctx;            /* ollama options.num_ctx; always sent (0: LLM_DEFAULT_NUM_CTX) */
	unsigned retries;            /* extra attempts after the first, for transient failures */
	uint64_t backoff_base_ms, backoff_max_ms;
	double temperature;
};

struct llm_message {
	const char *role;    /* "system" | "user" | "assistant" */
	const char *content; /* invalid UTF-8 is repaired before sending */
};

typedef void (*llm_token_fn)(void *ctx, const char *piece, size_t len);
typedef bool (*llm_cancel_fn)(void *ctx); /* true: stop now */
typedef void (*llm_restart_fn)(void *ctx);

struct llm_call {
	const struct llm_message *messages;
	size_t n_messages;
	bool stream;           /* use the streamed wire form */
	llm_token_fn on_token; /* may be NULL; content pieces as they arrive (streamed or not; a
	                        * non-streamed reply comes as one piece) */
	llm_cancel_fn cancelled; /* may be NULL; polled at least every 100 ms during transfers
	                          * and backoff sleeps */
	void *ctx;
	uint64_t deadline_mono_ms; /* overall deadline incl. retries and backoff (clock_mono_ms());
	                            * 0: none besides the timeouts */
	llm_restart_fn on_restart; /* may be NULL; called before a retry when pieces of the failed
	                            * attempt were already given to on_token: forget them */
};

struct llm_reply {
	char *text; /* the assistant content, NUL-terminated, malloc'd; freed by llm_reply_release */
	uint64_t prompt_tokens, completion_tokens;
	bool prompt_estimated, completion_estimated; /* the back end gave no count: estimated from
	                                              * the text, never 0 */
	uint64_t inference_ms; /* ollama total_duration (ns to ms, rounded up) when given, else the
	                        * measured wall time of the successful attempt */
	unsigned http_attempts; /* attempts made, >= 1 */
	char finish_reason[32]; /* "stop", "length", ... or "" */
};

enum llm_error_kind {
	LLM_ERR_NONE,
	LLM_ERR_CONNECT,      /* refused, unreachable, name not resolved, TLS failure */
	LLM_ERR_TIMEOUT,      /* an attempt took longer than timeout_ms / connect_timeout_ms */
	LLM_ERR_SERVER,       /* 5xx, or an error the server reported inside a 2xx reply */
	LLM_ERR_RATE_LIMITED, /* 429 */
	LLM_ERR_CLIENT,       /* other 4xx; also a call the client refuses to make (-EINVAL) */
	LLM_ERR_PROTOCOL,     /* garbage, bad JSON, stream ended early, reply too large */
	LLM_ERR_CANCELLED,
	LLM_ERR_DEADLINE,
	LLM_ERR_NOMEM,
};

struct llm_error {
	enum llm_error_kind kind;
	long http_status;       /* last HTTP status, 0 when none */
	unsigned retry_after_s; /* from the last 429/503's Retry-After, 0 when none */
	unsigned http_attempts;
	char message[512]; /* one line for an analyst/operator: what failed, where (URL), what to do */
};

/* curl_global_init, once; call at program start. Returns 0 or -EIO. */
int llm_global_init(void);

/*
 * Chat completion with retries. Transient failures (connection refused or
 * failed, timeout, 5xx other than 501/505, 429, a stream that ended before
 * its final message) are retried up to cfg->retries times after a wait of
 * full jitter over min(backoff_max_ms, backoff_base_ms * 2^n); a 429/503's
 * Retry-After (seconds form) replaces that wait when it fits the deadline
 * and LLM_RETRY_AFTER_MAX_S, and ends the retries (kind stays
 * RATE_LIMITED/SERVER) when it does not. Other 4xx and garbage are never
 * retried. A wait or attempt the deadline cannot hold ends with
 * LLM_ERR_DEADLINE, without sleeping past it.
 *
 * Returns 0 and fills *ret, or -ECONNREFUSED (connect), -ETIMEDOUT (timeout,
 * deadline), -EIO (HTTP error, server-reported error), -EPROTO, -ECANCELED,
 * -ENOMEM, -EINVAL (no messages, bad key or temperature); *err (may be NULL)
 * is filled on failure.
 */
int llm_chat(const struct llm_config *cfg, const struct llm_call *call, struct llm_reply *ret,
	     struct llm_error *err);
/* Frees the text; accepts NULL. */
void llm_reply_release(struct llm_reply *r);

/*
 * Embedding of one text: ollama POST /api/embed {"model","input"} ->
 * "embeddings"[0]; openai POST /v1/embeddings -> data[0].embedding. model
 * NULL means cfg->model. Retried like llm_chat (no cancel, no deadline).
 * *ret_vec is malloc'd and the caller's to free. Same return codes.
 */
int llm_embed(const struct llm_config *cfg, const char *model, const char *text, float **ret_vec,
	      size_t *ret_dim, struct llm_error *err);

/* Readiness: ollama GET /api/tags, openai GET /v1/models, 2 s timeout, no
 * retry. 0 when the answer is 2xx, else as llm_chat. */
int llm_ready(const struct llm_config *cfg, struct llm_error *err);

const char *llm_api_name(enum llm_api a);               /* "ollama" | "openai" */
int llm_api_parse(const char *name, enum llm_api *ret); /* 0, or -EINVAL */
const char *llm_error_kind_name(enum llm_error_kind k); /* "connect", "timeout", ... */
uint64_t llm_estimate_tokens(const char *text, size_t len); /* ceil(bytes/4), at least 1 */

#endif
