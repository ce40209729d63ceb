/*
 * client_chat: one chat attempt. The reply body is routed by its
 * Content-Type as it arrives: event-stream to the SSE parser, x-ndjson to
 * the line splitter, JSON (or anything else when no stream was asked for)
 * into one buffer parsed at the end. A stream is complete only when its
 * final message came (Ollama's done:true, OpenAI's [DONE] or at least a
 * finish_reason); one that stops short means the server went away, which
 * another attempt may fix.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "llm/client_internal.h"
#include "llm/stream.h"
#include "util/banned.h"

enum sink_mode { SINK_UNDECIDED, SINK_WHOLE, SINK_NDJSON, SINK_SSE };

struct chat_sink {
	const struct llm_wire *w;
	const struct llm_xfer *x;
	struct llm_acc *acc;
	bool stream_requested;
	enum sink_mode mode;
	struct buf whole;
	struct ndjson nd;
	struct sse sse;
};

void llm_acc_init(struct llm_acc *a, llm_token_fn on_token, void *ctx)
{
	memset(a, 0, sizeof(*a));
	buf_init(&a->text, LLM_TEXT_MAX);
	a->on_token = on_token;
	a->ctx = ctx;
}

int llm_acc_piece(struct llm_acc *a, const char *piece, size_t len)
{
	int r;

	if (len == 0)
		return 0;
	if (len > LLM_TEXT_MAX - a->text.len)
		return -E2BIG;
	r = buf_append(&a->text, piece, len);
	if (r < 0)
		return r;
	if (a->on_token) {
		a->on_token(a->ctx, piece, len);
		a->emitted = true;
	}
	return 0;
}

void llm_acc_release(struct llm_acc *a)
{
	if (a)
		buf_release(&a->text);
}

static enum sink_mode sink_mode_for(const struct chat_sink *s)
{
	const char *ct = s->x->content_type;

	if (strncasecmp(ct, "text/event-stream", 17) == 0)
		return SINK_SSE;
	if (strncasecmp(ct, "application/x-ndjson", 20) == 0)
		return SINK_NDJSON;
	if (strncasecmp(ct, "application/json", 16) == 0 || !s->stream_requested)
		return SINK_WHOLE;
	return s->w->sse ? SINK_SSE : SINK_NDJSON;
}

static int sink_line(void *ctx, const char *line, size_t len)
{
	struct chat_sink *s = ctx;
	json_t *root;
	int r = llm_json_load(line, len, &root);

	if (r < 0)
		return r;
	r = s->w->chat_event(root, s->acc);
	json_decref(root);
	return r;
}

static int sink_event(void *ctx, const char *event, const char *data, size_t len)
{
	struct chat_sink *s = ctx;
	json_t *root;

	if (s->acc->done)
		return 0;
	if (strcmp(event, "error") == 0) {
		if (llm_json_load(data, len, &root) == 0) {
			llm_json_error_text(root, s->acc->server_error, sizeof(s->acc->server_error));
			json_decref(root);
		}
		if (!s->acc->server_error[0])
			llm_text_clean(data, len, s->acc->server_error, sizeof(s->acc->server_error));
		return -EIO;
	}
	if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
		s->acc->done = true;
		return 0;
	}
	return sink_line(s, data, len);
}

static int sink_body(void *ctx, const char *data, size_t len)
{
	struct chat_sink *s = ctx;

	if (s->mode == SINK_UNDECIDED)
		s->mode = sink_mode_for(s);
	switch (s->mode) {
	case SINK_NDJSON:
		return ndjson_feed(&s->nd, data, len, sink_line, s);
	case SINK_SSE:
		return sse_feed(&s->sse, data, len, sink_event, s);
	default:
		if (buf_append(&s->whole, data, len) < 0)
			return -ENOMEM;
		return s->whole.truncated ? -E2BIG : 0;
	}
}

static int sink_finish_whole(struct chat_sink *s, struct llm_fail *f)
{
	json_t *root;
	int r = llm_json_load(s->whole.data ? s->whole.data : "", s->whole.len, &root);

	if (r == 0) {
		r = s->w->chat_whole(root, s->acc);
		json_decref(root);
	}
	if (r < 0)
		llm_fail_parse(f, r, s->w->name, s->acc->server_error);
	return r < 0 ? f->ret : 0;
}

/* The transfer ended well: is the reply complete? */
static int sink_finish(struct chat_sink *s, struct llm_fail *f)
{
	int r;

	if (s->mode == SINK_UNDECIDED)
		s->mode = sink_mode_for(s);
	if (s->mode == SINK_WHOLE)
		return sink_finish_whole(s, f);
	r = s->mode == SINK_SSE ? sse_finish(&s->sse) : ndjson_finish(&s->nd);
	if (s->acc->done || (s->acc->finished && r == 0))
		return 0;
	llm_fail_set(f, LLM_ERR_PROTOCOL, true,
		     "ended the reply stream before its final message (the model server may have stopped)");
	return f->ret;
}

int llm_chat_attempt(const struct llm_config *cfg, const struct llm_call *call,
		     const struct llm_wire *w, const char *url, const char *body, size_t body_len,
		     struct llm_acc *acc, uint64_t *ret_wall_ms, struct llm_fail *f)
{
	struct chat_sink s = { .w = w, .acc = acc, .stream_requested = call->stream };
	struct llm_xfer x = {
		.url = url, .body = body, .body_len = body_len, .key = cfg->key,
		.connect_timeout_ms = cfg->connect_timeout_ms, .timeout_ms = cfg->timeout_ms,
		.deadline_mono_ms = call->deadline_mono_ms, .cancelled = call->cancelled,
		.ctx = call->ctx, .on_body = sink_body, .sink = &s,
	};
	int r;

	s.x = &x;
	buf_init(&s.whole, LLM_WIRE_MAX);
	ndjson_init(&s.nd, LLM_LINE_MAX);
	sse_init(&s.sse, LLM_LINE_MAX, LLM_LINE_MAX);
	r = llm_xfer_run(&x);
	if (r < 0) {
		memset(f, 0, sizeof(*f));
		llm_fail_set(f, LLM_ERR_NOMEM, false, "could not be called: out of memory");
	} else {
		r = llm_xfer_outcome(&x, w->name, acc->server_error, f);
		if (r == 0)
			r = sink_finish(&s, f);
		else if (acc->done && f->kind == LLM_ERR_PROTOCOL && f->transient)
			r = 0; /* the connection broke after the final message: nothing is missing */
	}
	if (r == 0)
		*ret_wall_ms = x.wall_ms;
	llm_xfer_release(&x);
	buf_release(&s.whole);
	ndjson_release(&s.nd);
	sse_release(&s.sse);
	return r;
}
