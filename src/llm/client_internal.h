/*
 * client_internal: the pieces llm_chat, llm_embed and llm_ready are built
 * from, shared by src/llm/client*.c, wire_*.c and retry.c only.
 *
 *   wire_*.c      request bodies and reply shapes of each API (no I/O)
 *   client_http.c one HTTP exchange over libcurl, cancellable every 100 ms
 *   client_chat.c one chat attempt: the exchange plus reply parsing
 *   retry.c       the retry loop, backoff with jitter, waits and deadlines
 *   client_error.c failures: kinds, return codes and the operator's message
 *
 * Parsers report shape problems with these codes: -EBADMSG (not the JSON
 * the API sends), -E2BIG (over a cap), -EIO (the server reported an error,
 * its text in llm_acc.server_error), -ENOMEM.
 */
#ifndef LEDGERBOX_LLM_CLIENT_INTERNAL_H
#define LEDGERBOX_LLM_CLIENT_INTERNAL_H

#include <curl/curl.h>
#include <jansson.h>

#include "llm/llm.h"
#include "util/buf.h"

#define LLM_ERROR_BODY_MAX (64u * 1024u) /* kept of a non-2xx body, for its message */
#define LLM_LINE_MAX (LLM_TEXT_MAX + 64u * 1024u) /* one streamed line or event */
#define LLM_URL_MAX 640
#define LLM_READY_TIMEOUT_MS 2000u

/* Why an attempt, or the whole call, failed. */
struct llm_fail {
	enum llm_error_kind kind;
	bool transient; /* worth another attempt */
	int ret;        /* the -errno the call returns */
	long http_status;
	unsigned retry_after_s;
	char what[320]; /* completes "the ollama server at URL ...": "answered HTTP 500: boom" */
};

void llm_fail_set(struct llm_fail *f, enum llm_error_kind kind, bool transient, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Maps a parser's code (see above) to a failure. */
void llm_fail_parse(struct llm_fail *f, int err, const char *api, const char *server_error);
/* Writes the operator's message for f into *err (may be NULL). */
void llm_error_fill(struct llm_error *err, const struct llm_fail *f, const char *api,
		    const char *display_url, unsigned attempts);
/* Server text made fit for a one-line message: control characters become
 * spaces, invalid UTF-8 is repaired, the end is cut on a character. */
void llm_text_clean(const char *s, size_t len, char *out, size_t out_size);

/* What a reply has said so far. */
struct llm_acc {
	struct buf text;
	uint64_t prompt_tokens, completion_tokens, total_duration_ns;
	bool has_prompt, has_completion, has_duration;
	bool done;     /* the final message came */
	bool finished; /* a finish_reason came: an OpenAI stream may end without [DONE] */
	char finish_reason[32];
	char server_error[256];
	llm_token_fn on_token;
	void *ctx;
	bool emitted; /* on_token has been given something */
};

void llm_acc_init(struct llm_acc *a, llm_token_fn on_token, void *ctx);
/* Appends a piece of content and hands it to on_token; -E2BIG past LLM_TEXT_MAX. */
int llm_acc_piece(struct llm_acc *a, const char *piece, size_t len);
void llm_acc_release(struct llm_acc *a);

/* One API's request bodies and reply shapes. */
struct llm_wire {
	const char *name;
	const char *chat_path, *embed_path, *ready_path;
	bool sse; /* streams are server-sent events (else NDJSON) */
	int (*chat_body)(const struct llm_config *cfg, const struct llm_call *call, json_t **ret);
	int (*chat_whole)(json_t *root, struct llm_acc *acc); /* a non-streamed reply */
	int (*chat_event)(json_t *root, struct llm_acc *acc); /* one streamed line or event */
	json_t *(*embed_body)(const char *model, const char *text);
	json_t *(*embed_vector)(json_t *root); /* borrowed array of numbers, or NULL */
};

extern const struct llm_wire llm_wire_ollama;
extern const struct llm_wire llm_wire_openai;
const struct llm_wire *llm_wire_for(enum llm_api api);

/* JSON helpers shared by the wire files. */
int llm_json_load(const char *s, size_t len, json_t **ret); /* 0 or -EBADMSG */
bool llm_json_count(json_t *obj, const char *key, uint64_t *ret);
void llm_json_copy_string(json_t *obj, const char *key, char *out, size_t out_size);
/* The text of an error reply: {"error":"..."}, {"error":{"message":...}}, {"message":...}. */
void llm_json_error_text(json_t *root, char *out, size_t out_size);
/* A JSON string of s, repaired to valid UTF-8; NULL when out of memory. */
json_t *llm_json_text(const char *s);
/* The role/content array of a call, content repaired to valid UTF-8. */
int llm_json_messages(const struct llm_call *call, json_t **ret);
int llm_json_floats(json_t *array, float **ret_vec, size_t *ret_dim);

/* The URL of a path on the configured server, and the same without
 * credentials or query for messages. */
int llm_url(const struct llm_config *cfg, const char *path, char url[LLM_URL_MAX],
	    char display[LLM_URL_MAX]);

/* Whether key can go into an Authorization header (printable ASCII, no spaces). */
bool llm_key_valid(const char *key);

/* A 2xx body as it arrives; a negative return stops the transfer. With no
 * on_body the body is read and dropped. */
typedef int (*llm_body_fn)(void *sink, const char *data, size_t len);

struct llm_xfer {
	/* in */
	const char *url;
	const char *body; /* NULL: GET */
	size_t body_len;
	const char *key;
	uint64_t connect_timeout_ms, timeout_ms, deadline_mono_ms;
	llm_cancel_fn cancelled;
	void *ctx;
	llm_body_fn on_body;
	void *sink;
	/* out */
	CURLcode code;
	long status;
	unsigned retry_after_s;
	char content_type[96];
	struct buf error_body; /* a non-2xx body, its first LLM_ERROR_BODY_MAX bytes */
	uint64_t wire_bytes;
	int sink_err;          /* on_body's error that stopped the transfer */
	bool wire_too_large, cancel_hit, deadline_hit, headers_seen;
	uint64_t wall_ms;
	char curl_error[CURL_ERROR_SIZE];
};

/* Runs the exchange; 0 when it ran, whatever came of it, or -ENOMEM. */
int llm_xfer_run(struct llm_xfer *x);
/* 0 when the exchange succeeded (2xx, body taken); else fills f and returns
 * f->ret. server_error (may be NULL) is the text behind a sink's -EIO. */
int llm_xfer_outcome(const struct llm_xfer *x, const char *api, const char *server_error,
		     struct llm_fail *f);
void llm_xfer_release(struct llm_xfer *x);

/* One chat attempt against url; fills acc and *ret_wall_ms on success. */
int llm_chat_attempt(const struct llm_config *cfg, const struct llm_call *call,
		     const struct llm_wire *w, const char *url, const char *body, size_t body_len,
		     struct llm_acc *acc, uint64_t *ret_wall_ms, struct llm_fail *f);

/* Cancellation and deadline of a call. */
struct llm_ctl {
	llm_cancel_fn cancelled;
	void *ctx;
	uint64_t deadline_mono_ms;
};

typedef int (*llm_attempt_fn)(void *actx, struct llm_fail *f);

/* Runs fn until it succeeds or fails for good (see llm_chat); 0 or f->ret. */
int llm_retry_run(const struct llm_config *cfg, const struct llm_ctl *ctl, llm_attempt_fn fn,
		  void *actx, struct llm_fail *f, unsigned *ret_attempts);
/* Full jitter: uniform in [0, min(max_ms, base_ms * 2^n)]. */
uint64_t llm_backoff_ms(uint64_t base_ms, uint64_t max_ms, unsigned n);
/* Sleeps ms, polling cancelled every <= 100 ms; 0 or -ECANCELED. */
int llm_sleep_ms(uint64_t ms, llm_cancel_fn cancelled, void *ctx);

#endif
