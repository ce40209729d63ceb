/*
 * llm_stub: a scriptable model server for tests, speaking Ollama's native
 * API and the OpenAI-compatible one the way the real servers do: the same
 * JSON shapes, chunked NDJSON (application/x-ndjson) and SSE
 * (text/event-stream) streams, Retry-After on demand.
 *
 * It is a real HTTP/1.1 server on 127.0.0.1 (an ephemeral port) running in
 * threads of the test process: one acceptor, one detached thread per
 * connection, so a slow reply never holds up another request. Each
 * connection carries one request and closes. Chat replies come from a FIFO
 * the test fills (llm_stub_push), then from the default reply. Everything
 * the test reads back (calls per path, chat request bodies, the last
 * Authorization header, and every request received: head and body as they
 * arrived plus the decoded strings of a JSON body) is kept under one mutex.
 *
 * Served: POST /api/chat, POST /v1/chat/completions (streamed or not per
 * the body's "stream"; Ollama streams when it is absent), GET /api/tags,
 * GET /v1/models, POST /api/embed, POST /v1/embeddings (a deterministic
 * LLM_STUB_EMBED_DIM vector, see llm_stub_embedding). Anything else: 404.
 */
#ifndef LEDGERBOX_TEST_LLM_STUB_H
#define LEDGERBOX_TEST_LLM_STUB_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "support/stub_http.h"
#include "testlib.h"

#define LLM_STUB_FIFO_MAX 64
#define LLM_STUB_EMBED_DIM 8
#define LLM_STUB_DEFAULT_CONTENT "```sql\nSELECT 1;\n```"
#define LLM_STUB_MODEL_NAME "llama3.1:latest"

struct stub_reply {
	int status;              /* 0 -> 200 */
	const char *content;     /* the assistant text (several pieces when streamed); on an error
	                          * status, the error message */
	const char *raw;         /* when set: exactly these bytes are the whole HTTP response */
	const char *retry_after; /* header value on this reply, or NULL */
	unsigned delay_ms;       /* sleep before answering (slow model) */
	bool omit_prompt_count;  /* ollama: no prompt_eval_count; openai: no usage */
	bool die_mid_stream;     /* send part of the stream then close the socket */
	unsigned prompt_tokens, completion_tokens; /* 0 -> derived from the text (bytes/4) */
	const char *finish_reason; /* NULL -> "stop" */
};

/* A reply with its strings copied. */
struct stub_owned {
	struct stub_reply r;
	char *content, *raw, *retry_after, *finish_reason;
};

struct llm_stub {
	int fd, port;
	bool listening;
	pthread_t acceptor;
	pthread_mutex_t mu;
	pthread_cond_t idle;
	unsigned active; /* connection threads alive */
	bool stopping;
	struct stub_owned fifo[LLM_STUB_FIFO_MAX];
	size_t head, count;
	struct stub_owned def;
	json_t *calls;  /* path -> count */
	unsigned total;
	json_t *bodies; /* chat request bodies, in order */
	char last_auth[512];
	char *received; /* every request of any path, see stub_record */
	size_t received_len;
};

enum stub_api { STUB_OLLAMA, STUB_OPENAI };

static inline bool stub_stopping(struct llm_stub *s)
{
	return __atomic_load_n(&s->stopping, __ATOMIC_ACQUIRE);
}

static inline char *stub_strdup(const char *v)
{
	char *c;

	if (!v)
		return NULL;
	c = strdup(v);
	assert_non_null(c);
	return c;
}

static inline void stub_own(struct stub_owned *o, const struct stub_reply *r)
{
	o->r = *r;
	o->r.content = o->content = stub_strdup(r->content);
	o->r.raw = o->raw = stub_strdup(r->raw);
	o->r.retry_after = o->retry_after = stub_strdup(r->retry_after);
	o->r.finish_reason = o->finish_reason = stub_strdup(r->finish_reason);
}

static inline void stub_disown(struct stub_owned *o)
{
	free(o->content);
	free(o->raw);
	free(o->retry_after);
	free(o->finish_reason);
	memset(o, 0, sizeof(*o));
}

/* A copy made under the lock, so a connection thread never reads strings
 * the test replaces meanwhile. */
static inline void stub_copy(struct stub_owned *dst, const struct stub_owned *src)
{
	stub_own(dst, &src->r);
}

static inline void stub_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static inline uint64_t stub_estimate(size_t bytes)
{
	return bytes ? (bytes + 3) / 4 : 1;
}

/* The embedding the stub answers for text: LLM_STUB_EMBED_DIM values in
 * [-0.5, 0.5) from an FNV-1a hash, exact in binary. */
static inline void llm_stub_embedding(const char *text, float out[LLM_STUB_EMBED_DIM])
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		h = (h ^ *p) * 16777619u;
	for (int i = 0; i < LLM_STUB_EMBED_DIM; i++)
		out[i] = (float)((h >> (i * 4)) & 15u) / 16.0f - 0.5f;
}

/* ---- the answers ---- */

static inline json_t *stub_error_body(enum stub_api api, int status, const char *text)
{
	if (api == STUB_OLLAMA)
		return json_pack("{s:s}", "error", text);
	return json_pack("{s:{s:s,s:s,s:n,s:n}}", "error", "message", text, "type",
			 status == 429 ? "rate_limit_exceeded" : status >= 500 ? "server_error"
									 : "invalid_request_error",
			 "param", "code");
}

struct stub_counts {
	uint64_t prompt, completion;
	const char *model, *finish;
	bool omit;
};

static inline size_t stub_piece_len(const char *s, size_t left)
{
	size_t n = left < 4 ? left : 4;

	while (n < left && ((unsigned char)s[n] & 0xc0) == 0x80)
		n++;
	return n;
}

static inline json_t *stub_ollama_line(const struct stub_counts *c, const char *piece, size_t len, bool done)
{
	json_t *v = json_pack("{s:s,s:s,s:{s:s,s:s%},s:b}", "model", c->model, "created_at",
			      "2024-07-01T12:00:00.000000Z", "message", "role", "assistant", "content", piece,
			      len, "done", (int)done);

	if (!done)
		return v;
	json_object_set_new(v, "done_reason", json_string(c->finish));
	json_object_set_new(v, "total_duration", json_integer(1500000));
	json_object_set_new(v, "load_duration", json_integer(250000));
	if (!c->omit) {
		json_object_set_new(v, "prompt_eval_count", json_integer((json_int_t)c->prompt));
		json_object_set_new(v, "prompt_eval_duration", json_integer(500000));
	}
	json_object_set_new(v, "eval_count", json_integer((json_int_t)c->completion));
	json_object_set_new(v, "eval_duration", json_integer(700000));
	return v;
}

static inline json_t *stub_openai_usage(const struct stub_counts *c)
{
	return json_pack("{s:I,s:I,s:I}", "prompt_tokens", (json_int_t)c->prompt, "completion_tokens",
			 (json_int_t)c->completion, "total_tokens", (json_int_t)(c->prompt + c->completion));
}

static inline json_t *stub_openai_chunk(const struct stub_counts *c, json_t *choices, bool usage_null)
{
	json_t *v = json_pack("{s:s,s:s,s:i,s:s,s:s,s:o}", "id", "chatcmpl-stub", "object",
			      "chat.completion.chunk", "created", 1720000000, "model", c->model,
			      "system_fingerprint", "fp_stub", "choices", choices);

	if (usage_null)
		json_object_set_new(v, "usage", json_null());
	return v;
}

static inline json_t *stub_openai_delta(json_t *delta, const char *finish)
{
	return json_pack("[{s:i,s:o,s:n,s:o}]", "index", 0, "delta", delta, "logprobs", "finish_reason",
			 finish ? json_string(finish) : json_null());
}

static inline void stub_stream_ollama(int fd, const struct stub_counts *c, const char *text, bool die)
{
	size_t len = strlen(text), off = 0, sent = 0, pieces = 0;

	for (size_t o = 0; o < len; o += stub_piece_len(text + o, len - o))
		pieces++;
	if (!stub_head(fd, 200, "application/x-ndjson", -1, NULL))
		return;
	while (off < len) {
		size_t n = stub_piece_len(text + off, len - off);
		if (die && sent >= (pieces + 1) / 2)
			return;
		if (!stub_chunk_json(fd, stub_ollama_line(c, text + off, n, false), "", "\n"))
			return;
		off += n;
		sent++;
	}
	if (die)
		return;
	if (stub_chunk_json(fd, stub_ollama_line(c, "", 0, true), "", "\n"))
		stub_send(fd, "0\r\n\r\n", 5);
}

static inline void stub_stream_openai(int fd, const struct stub_counts *c, const char *text, bool die,
				      bool include_usage)
{
	size_t len = strlen(text), off = 0, sent = 0, pieces = 0;

	for (size_t o = 0; o < len; o += stub_piece_len(text + o, len - o))
		pieces++;
	if (!stub_head(fd, 200, "text/event-stream; charset=utf-8", -1, NULL) ||
	    !stub_chunk_json(fd,
			     stub_openai_chunk(c, stub_openai_delta(json_pack("{s:s,s:s}", "role", "assistant",
									     "content", ""),
								    NULL),
					       include_usage),
			     "data: ", "\n\n"))
		return;
	while (off < len) {
		size_t n = stub_piece_len(text + off, len - off);
		if (die && sent >= (pieces + 1) / 2)
			return;
		if (!stub_chunk_json(fd,
				     stub_openai_chunk(c, stub_openai_delta(json_pack("{s:s%}", "content",
										     text + off, n),
									    NULL),
						       include_usage),
				     "data: ", "\n\n"))
			return;
		off += n;
		sent++;
	}
	if (die)
		return;
	if (!stub_chunk_json(fd, stub_openai_chunk(c, stub_openai_delta(json_object(), c->finish), include_usage),
			     "data: ", "\n\n"))
		return;
	if (include_usage && !c->omit) {
		json_t *last = stub_openai_chunk(c, json_array(), false);
		json_object_set_new(last, "usage", stub_openai_usage(c));
		if (!stub_chunk_json(fd, last, "data: ", "\n\n"))
			return;
	}
	if (stub_chunk(fd, "data: [DONE]\n\n", 14))
		stub_send(fd, "0\r\n\r\n", 5);
}

static inline void stub_whole(int fd, enum stub_api api, const struct stub_counts *c, const char *text)
{
	json_t *v;

	if (api == STUB_OLLAMA) {
		stub_json(fd, 200, stub_ollama_line(c, text, strlen(text), true), NULL);
		return;
	}
	v = json_pack("{s:s,s:s,s:i,s:s,s:s,s:[{s:i,s:{s:s,s:s},s:n,s:s}]}", "id", "chatcmpl-stub", "object",
		      "chat.completion", "created", 1720000000, "model", c->model, "system_fingerprint",
		      "fp_stub", "choices", "index", 0, "message", "role", "assistant", "content", text,
		      "logprobs", "finish_reason", c->finish);
	if (!c->omit)
		json_object_set_new(v, "usage", stub_openai_usage(c));
	stub_json(fd, 200, v, NULL);
}

static inline size_t stub_prompt_bytes(json_t *body)
{
	size_t i, n = 0;
	json_t *m;

	json_array_foreach(json_object_get(body, "messages"), i, m)
		n += json_string_length(json_object_get(m, "content"));
	return n;
}

/* Takes the next scripted reply (a copy the caller owns). */
static inline void stub_next(struct llm_stub *s, struct stub_owned *out)
{
	pthread_mutex_lock(&s->mu);
	if (s->count) {
		*out = s->fifo[s->head];
		memset(&s->fifo[s->head], 0, sizeof(s->fifo[s->head]));
		s->head = (s->head + 1) % LLM_STUB_FIFO_MAX;
		s->count--;
	} else {
		stub_copy(out, &s->def);
	}
	pthread_mutex_unlock(&s->mu);
}

static inline bool stub_delay(struct llm_stub *s, unsigned ms)
{
	for (unsigned waited = 0; waited < ms; waited += 10) {
		if (stub_stopping(s))
			return false;
		stub_sleep_ms(ms - waited < 10 ? ms - waited : 10);
	}
	return !stub_stopping(s);
}

static inline void stub_chat(struct llm_stub *s, int fd, enum stub_api api, json_t *body)
{
	struct stub_owned o;
	struct stub_counts c;
	const char *text;
	json_t *stream = json_object_get(body, "stream");
	bool streamed = api == STUB_OLLAMA ? !json_is_false(stream) : json_is_true(stream);
	int status;

	stub_next(s, &o);
	if (!stub_delay(s, o.r.delay_ms))
		goto out;
	if (o.r.raw) {
		stub_send(fd, o.r.raw, strlen(o.r.raw));
		goto out;
	}
	status = o.r.status ? o.r.status : 200;
	text = o.r.content ? o.r.content : "";
	if (status != 200) {
		stub_json(fd, status, stub_error_body(api, status, *text ? text : "stub failure"), o.r.retry_after);
		goto out;
	}
	c.model = json_string_value(json_object_get(body, "model"));
	c.model = c.model ? c.model : "";
	c.finish = o.r.finish_reason ? o.r.finish_reason : "stop";
	c.omit = o.r.omit_prompt_count;
	c.prompt = o.r.prompt_tokens ? o.r.prompt_tokens : stub_estimate(stub_prompt_bytes(body));
	c.completion = o.r.completion_tokens ? o.r.completion_tokens : stub_estimate(strlen(text));
	if (!streamed)
		stub_whole(fd, api, &c, text);
	else if (api == STUB_OLLAMA)
		stub_stream_ollama(fd, &c, text, o.r.die_mid_stream);
	else
		stub_stream_openai(fd, &c, text, o.r.die_mid_stream,
				   json_is_true(json_object_get(json_object_get(body, "stream_options"),
								"include_usage")));
out:
	stub_disown(&o);
}

static inline json_t *stub_vector(const char *text)
{
	float v[LLM_STUB_EMBED_DIM];
	json_t *a = json_array();

	llm_stub_embedding(text, v);
	for (int i = 0; i < LLM_STUB_EMBED_DIM; i++)
		json_array_append_new(a, json_real(v[i]));
	return a;
}

static inline void stub_embed(int fd, enum stub_api api, json_t *body)
{
	json_t *in = json_object_get(body, "input");
	const char *model = json_string_value(json_object_get(body, "model"));
	const char *text = json_is_array(in) ? json_string_value(json_array_get(in, 0)) : json_string_value(in);
	json_int_t n;

	if (!text || !model) {
		stub_json(fd, 400, stub_error_body(api, 400, "model and input are required"), NULL);
		return;
	}
	n = (json_int_t)stub_estimate(strlen(text));
	if (api == STUB_OLLAMA)
		stub_json(fd, 200, json_pack("{s:s,s:[o],s:i,s:i,s:I}", "model", model, "embeddings",
					     stub_vector(text), "total_duration", 2000000, "load_duration", 100000,
					     "prompt_eval_count", n),
			  NULL);
	else
		stub_json(fd, 200, json_pack("{s:s,s:[{s:s,s:i,s:o}],s:s,s:{s:I,s:I}}", "object", "list", "data",
					     "object", "embedding", "index", 0, "embedding", stub_vector(text),
					     "model", model, "usage", "prompt_tokens", n, "total_tokens", n),
			  NULL);
}

static inline void stub_models(int fd, enum stub_api api)
{
	if (api == STUB_OLLAMA)
		stub_json(fd, 200, json_pack("{s:[{s:s,s:s,s:s,s:I,s:s,s:{s:s,s:s,s:s}}]}", "models", "name",
					     LLM_STUB_MODEL_NAME, "model", LLM_STUB_MODEL_NAME, "modified_at",
					     "2024-07-01T12:00:00Z", "size", (json_int_t)4920753328LL, "digest",
					     "stubdigest", "details", "format", "gguf", "family", "llama",
					     "parameter_size", "8.0B"),
			  NULL);
	else
		stub_json(fd, 200, json_pack("{s:s,s:[{s:s,s:s,s:i,s:s}]}", "object", "list", "data", "id",
					     LLM_STUB_MODEL_NAME, "object", "model", "created", 1720000000,
					     "owned_by", "library"),
			  NULL);
}

/* Appends every string of v (object keys too), one a line: what a JSON
 * body says once its escapes (\u00e9, \") are undone. */
static inline void stub_strings(json_t *v, char **buf, size_t *len)
{
	const char *key;
	json_t *x;
	size_t i;

	if (json_is_string(v)) {
		tl_append(buf, len, json_string_value(v), json_string_length(v));
		tl_append(buf, len, "\n", 1);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x) {
			stub_strings(x, buf, len);
		}
	} else if (json_is_object(v)) {
		json_object_foreach(v, key, x) {
			tl_append(buf, len, key, strlen(key));
			tl_append(buf, len, "\n", 1);
			stub_strings(x, buf, len);
		}
	}
}

/* Counts the request; keeps a chat request's body; adds the whole request
 * (head and body as received, then a JSON body's decoded strings) to
 * s->received, whatever its path. */
static inline void stub_record(struct llm_stub *s, const struct stub_req *rq, json_t *chat_body)
{
	json_t *n, *any = json_loadb(rq->buf + rq->head_len, rq->body_len, 0, NULL);
	size_t start;

	pthread_mutex_lock(&s->mu);
	start = s->received_len;
	tl_append(&s->received, &s->received_len, rq->buf, rq->head_len + rq->body_len);
	tl_append(&s->received, &s->received_len, "\n", 1);
	/* The head was cut into strings in place: its NULs become line ends,
	 * so that the whole request can be searched as one string. */
	for (size_t i = start; i < s->received_len; i++) {
		if (s->received[i] == '\0')
			s->received[i] = '\n';
	}
	stub_strings(any, &s->received, &s->received_len);
	json_decref(any);
	s->total++;
	n = json_object_get(s->calls, rq->path);
	json_object_set_new(s->calls, rq->path, json_integer(n ? json_integer_value(n) + 1 : 1));
	if (chat_body)
		json_array_append(s->bodies, chat_body);
	snprintf(s->last_auth, sizeof(s->last_auth), "%s", rq->auth);
	pthread_mutex_unlock(&s->mu);
}

static inline void stub_route(struct llm_stub *s, int fd, const struct stub_req *rq)
{
	bool post = strcmp(rq->method, "POST") == 0, get = strcmp(rq->method, "GET") == 0;
	bool chat_o = strcmp(rq->path, "/api/chat") == 0, chat_a = strcmp(rq->path, "/v1/chat/completions") == 0;
	bool emb_o = strcmp(rq->path, "/api/embed") == 0, emb_a = strcmp(rq->path, "/v1/embeddings") == 0;
	enum stub_api api = strncmp(rq->path, "/v1/", 4) == 0 ? STUB_OPENAI : STUB_OLLAMA;
	json_t *body = NULL;

	if (post && (chat_o || chat_a || emb_o || emb_a)) {
		json_error_t e;
		body = json_loadb(rq->buf + rq->head_len, rq->body_len, 0, &e);
		stub_record(s, rq, (chat_o || chat_a) ? body : NULL);
		if (!json_is_object(body))
			stub_json(fd, 400, stub_error_body(api, 400, "invalid JSON body"), NULL);
		else if (chat_o || chat_a)
			stub_chat(s, fd, api, body);
		else
			stub_embed(fd, api, body);
		json_decref(body);
		return;
	}
	stub_record(s, rq, NULL);
	if (get && (strcmp(rq->path, "/api/tags") == 0 || strcmp(rq->path, "/v1/models") == 0))
		stub_models(fd, api);
	else if (chat_o || chat_a || emb_o || emb_a || strcmp(rq->path, "/api/tags") == 0 ||
		 strcmp(rq->path, "/v1/models") == 0)
		stub_json(fd, 405, stub_error_body(api, 405, "method not allowed"), NULL);
	else
		stub_json(fd, 404, stub_error_body(api, 404, "404 page not found"), NULL);
}

/* ---- threads ---- */

struct stub_conn {
	struct llm_stub *s;
	int fd;
};

/* Half-closes and waits briefly for the client to close, so the last
 * bytes are not lost to a reset. */
static inline void stub_close(int fd)
{
	char sink[512];

	shutdown(fd, SHUT_WR);
	for (int i = 0; i < 10; i++) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 10) <= 0)
			continue;
		if (recv(fd, sink, sizeof(sink), 0) <= 0)
			break;
	}
	close(fd);
}

static inline void *stub_conn_main(void *arg)
{
	struct stub_conn *c = arg;
	struct llm_stub *s = c->s;
	struct stub_req rq;
	int one = 1, r;

	memset(&rq, 0, sizeof(rq));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	r = stub_read_request(&s->stopping, c->fd, &rq);
	if (r > 0)
		stub_json(c->fd, r, json_pack("{s:s}", "error", stub_reason(r)), NULL);
	else if (r == 0)
		stub_route(s, c->fd, &rq);
	free(rq.buf);
	stub_close(c->fd);
	free(c);
	pthread_mutex_lock(&s->mu);
	s->active--;
	pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static inline void *stub_accept_main(void *arg)
{
	struct llm_stub *s = arg;

	for (;;) {
		pthread_attr_t attr;
		pthread_t t;
		struct stub_conn *c;
		int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL; /* shut down */
		}
		c = malloc(sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->s = s;
		c->fd = fd;
		pthread_mutex_lock(&s->mu);
		s->active++;
		pthread_mutex_unlock(&s->mu);
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &attr, stub_conn_main, c) != 0) {
			close(fd);
			free(c);
			pthread_mutex_lock(&s->mu);
			s->active--;
			pthread_cond_broadcast(&s->idle);
			pthread_mutex_unlock(&s->mu);
		}
		pthread_attr_destroy(&attr);
	}
}

/* ---- the test's side ---- */

static inline struct llm_stub *llm_stub_start(void)
{
	struct llm_stub *s = calloc(1, sizeof(*s));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	struct stub_reply def = { .content = LLM_STUB_DEFAULT_CONTENT };
	int one = 1;

	assert_non_null(s);
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->fd >= 0);
	/* So that llm_stub_reopen can listen on the port again while closed
	 * connections linger. */
	assert_int_equal(setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 64), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &alen), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_mutex_init(&s->mu, NULL), 0);
	assert_int_equal(pthread_cond_init(&s->idle, NULL), 0);
	s->calls = json_object();
	s->bodies = json_array();
	assert_non_null(s->calls);
	assert_non_null(s->bodies);
	stub_own(&s->def, &def);
	assert_int_equal(pthread_create(&s->acceptor, NULL, stub_accept_main, s), 0);
	s->listening = true;
	return s;
}

static inline int llm_stub_port(struct llm_stub *s)
{
	return s->port;
}

static inline void llm_stub_url(struct llm_stub *s, char *out, size_t len)
{
	snprintf(out, len, "http://127.0.0.1:%d", s->port);
}

static inline void llm_stub_push(struct llm_stub *s, const struct stub_reply *r)
{
	pthread_mutex_lock(&s->mu);
	assert_true(s->count < LLM_STUB_FIFO_MAX);
	stub_own(&s->fifo[(s->head + s->count) % LLM_STUB_FIFO_MAX], r);
	s->count++;
	pthread_mutex_unlock(&s->mu);
}

/* Queues a plain 200 reply whose text is content. */
static inline void llm_stub_push_content(struct llm_stub *s, const char *content)
{
	struct stub_reply r = { .content = content };

	llm_stub_push(s, &r);
}

static inline void llm_stub_default(struct llm_stub *s, const struct stub_reply *r)
{
	pthread_mutex_lock(&s->mu);
	stub_disown(&s->def);
	stub_own(&s->def, r);
	pthread_mutex_unlock(&s->mu);
}

static inline unsigned llm_stub_calls(struct llm_stub *s, const char *path)
{
	unsigned n;

	pthread_mutex_lock(&s->mu);
	if (!path || !*path)
		n = s->total;
	else
		n = (unsigned)json_integer_value(json_object_get(s->calls, path));
	pthread_mutex_unlock(&s->mu);
	return n;
}

static inline json_t *llm_stub_last_body(struct llm_stub *s)
{
	json_t *b;

	pthread_mutex_lock(&s->mu);
	b = json_incref(json_array_get(s->bodies, json_array_size(s->bodies) - 1));
	pthread_mutex_unlock(&s->mu);
	return b;
}

static inline json_t *llm_stub_bodies(struct llm_stub *s)
{
	json_t *b;

	pthread_mutex_lock(&s->mu);
	b = json_deep_copy(s->bodies);
	pthread_mutex_unlock(&s->mu);
	return b;
}

/* Everything received so far (see stub_record), as one string; the
 * caller frees it. */
static inline char *llm_stub_received(struct llm_stub *s)
{
	char *copy;

	pthread_mutex_lock(&s->mu);
	copy = strndup(s->received ? s->received : "", s->received_len);
	pthread_mutex_unlock(&s->mu);
	assert_non_null(copy);
	return copy;
}

/* The Authorization header of the last request ("" when none). */
static inline void llm_stub_last_auth(struct llm_stub *s, char *out, size_t len)
{
	pthread_mutex_lock(&s->mu);
	snprintf(out, len, "%s", s->last_auth);
	pthread_mutex_unlock(&s->mu);
}

static inline void llm_stub_close_listener(struct llm_stub *s)
{
	if (!s->listening)
		return;
	shutdown(s->fd, SHUT_RDWR); /* wakes the acceptor */
	pthread_join(s->acceptor, NULL);
	close(s->fd);
	s->fd = -1;
	s->listening = false;
}

/* Listens again on the same port after llm_stub_close_listener: the back
 * end comes back where the server under test expects it. */
static inline void llm_stub_reopen(struct llm_stub *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)s->port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1;

	if (s->listening)
		return;
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->fd >= 0);
	assert_int_equal(setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	/* A connection still closing can hold the port for a moment. */
	for (int i = 0; i < 100 && bind(s->fd, (struct sockaddr *)&a, sizeof(a)) < 0; i++) {
		assert_int_equal(errno, EADDRINUSE);
		assert_true(i < 99);
		stub_sleep_ms(50);
	}
	assert_int_equal(listen(s->fd, 64), 0);
	assert_int_equal(pthread_create(&s->acceptor, NULL, stub_accept_main, s), 0);
	s->listening = true;
}

static inline void llm_stub_stop(struct llm_stub *s)
{
	if (!s)
		return;
	llm_stub_close_listener(s);
	pthread_mutex_lock(&s->mu);
	__atomic_store_n(&s->stopping, true, __ATOMIC_RELEASE);
	while (s->active > 0)
		pthread_cond_wait(&s->idle, &s->mu);
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < s->count; i++)
		stub_disown(&s->fifo[(s->head + i) % LLM_STUB_FIFO_MAX]);
	stub_disown(&s->def);
	json_decref(s->calls);
	json_decref(s->bodies);
	free(s->received);
	pthread_cond_destroy(&s->idle);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

#endif
