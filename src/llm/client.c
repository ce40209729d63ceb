/*
 * client: llm_chat, the public entry: checks the call, builds the request
 * body once, runs attempts through the retry loop and turns the winning
 * attempt's reply into an llm_reply, estimating the counts the back end
 * left out (never 0, and marked as estimates).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/client_internal.h"
#include "util/banned.h"

struct chat_job {
	const struct llm_config *cfg;
	const struct llm_call *call;
	const struct llm_wire *w;
	const char *url;
	char *body;
	size_t body_len;
	struct llm_acc acc;
	uint64_t wall_ms;
	bool emitted; /* on_token got pieces since the last restart */
};

const struct llm_wire *llm_wire_for(enum llm_api api)
{
	switch (api) {
	case LLM_API_OLLAMA:
		return &llm_wire_ollama;
	case LLM_API_OPENAI:
		return &llm_wire_openai;
	}
	return NULL;
}

static int chat_try(void *actx, struct llm_fail *f)
{
	struct chat_job *j = actx;
	int r;

	if (j->emitted && j->call->on_restart)
		j->call->on_restart(j->call->ctx);
	j->emitted = false;
	llm_acc_release(&j->acc);
	llm_acc_init(&j->acc, j->call->on_token, j->call->ctx);
	r = llm_chat_attempt(j->cfg, j->call, j->w, j->url, j->body, j->body_len, &j->acc, &j->wall_ms, f);
	j->emitted = j->acc.emitted;
	return r;
}

static uint64_t chat_prompt_bytes(const struct llm_call *call)
{
	uint64_t n = 0;

	for (size_t i = 0; i < call->n_messages; i++)
		n += strlen(call->messages[i].content);
	return n;
}

static int chat_reply(struct chat_job *j, unsigned attempts, struct llm_reply *ret)
{
	struct llm_acc *a = &j->acc;
	size_t len;
	char *text = buf_steal(&a->text, &len);

	if (!text)
		text = calloc(1, 1);
	if (!text)
		return -ENOMEM;
	memset(ret, 0, sizeof(*ret));
	ret->text = text;
	ret->prompt_tokens = a->prompt_tokens;
	ret->completion_tokens = a->completion_tokens;
	if (!a->has_prompt) {
		ret->prompt_tokens = llm_estimate_tokens(NULL, chat_prompt_bytes(j->call));
		ret->prompt_estimated = true;
	}
	if (!a->has_completion) {
		ret->completion_tokens = llm_estimate_tokens(text, len);
		ret->completion_estimated = true;
	}
	ret->inference_ms = a->has_duration ? (a->total_duration_ns + 999999) / 1000000 : j->wall_ms;
	ret->http_attempts = attempts;
	snprintf(ret->finish_reason, sizeof(ret->finish_reason), "%s", a->finish_reason);
	return 0;
}

/* A call refused before anything is sent. */
static int chat_refuse(const struct llm_config *cfg, const char *display, int ret, const char *why,
		       struct llm_error *err)
{
	struct llm_fail f = { 0 };

	llm_fail_set(&f, ret == -ENOMEM ? LLM_ERR_NOMEM : LLM_ERR_CLIENT, false, "was not called: %s", why);
	f.ret = ret;
	llm_error_fill(err, &f, cfg ? llm_api_name(cfg->api) : "model", display, 0);
	return ret;
}

static const char *chat_invalid(const struct llm_config *cfg, const struct llm_call *call)
{
	if (!call->messages || call->n_messages == 0)
		return "the call has no messages";
	if (!llm_key_valid(cfg->key))
		return "the API key has spaces or control characters";
	if (!isfinite(cfg->temperature))
		return "the temperature is not a number";
	return NULL;
}

static int chat_prepare(struct chat_job *j, char display[LLM_URL_MAX], char url[LLM_URL_MAX],
			struct llm_error *err)
{
	const char *why;
	json_t *root;
	int r;

	if (!j->w || llm_url(j->cfg, j->w->chat_path, url, display) < 0)
		return chat_refuse(j->cfg, "(no valid URL)", -EINVAL,
				   "the URL or API is not set, or the URL is too long", err);
	why = chat_invalid(j->cfg, j->call);
	if (why)
		return chat_refuse(j->cfg, display, -EINVAL, why, err);
	r = j->w->chat_body(j->cfg, j->call, &root);
	if (r < 0)
		return chat_refuse(j->cfg, display, r, r == -ENOMEM ? "out of memory" : "a message lacks its role or content", err);
	j->body = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!j->body)
		return chat_refuse(j->cfg, display, -ENOMEM, "out of memory", err);
	j->body_len = strlen(j->body);
	j->url = url;
	return 0;
}

int llm_chat(const struct llm_config *cfg, const struct llm_call *call, struct llm_reply *ret,
	     struct llm_error *err)
{
	struct chat_job j = { .cfg = cfg, .call = call };
	char url[LLM_URL_MAX], display[LLM_URL_MAX];
	struct llm_ctl ctl;
	struct llm_fail f;
	unsigned attempts = 0;
	int r;

	if (!cfg || !call || !ret)
		return chat_refuse(cfg, "(none)", -EINVAL, "the call is incomplete", err);
	j.w = llm_wire_for(cfg->api);
	r = chat_prepare(&j, display, url, err);
	if (r < 0)
		return r;
	llm_acc_init(&j.acc, NULL, NULL);
	ctl = (struct llm_ctl){ call->cancelled, call->ctx, call->deadline_mono_ms };
	r = llm_retry_run(cfg, &ctl, chat_try, &j, &f, &attempts);
	if (r == 0)
		r = chat_reply(&j, attempts, ret);
	if (r == -ENOMEM && f.kind != LLM_ERR_NOMEM)
		llm_fail_set(&f, LLM_ERR_NOMEM, false, "could not be answered: out of memory");
	if (r < 0)
		llm_error_fill(err, &f, j.w->name, display, attempts);
	llm_acc_release(&j.acc);
	free(j.body);
	return r;
}

void llm_reply_release(struct llm_reply *r)
{
	if (!r)
		return;
	free(r->text);
	r->text = NULL;
}
