/*
 * analyze_llm: see analyze_llm.h.
 *
 * What an LLM call is charged: the counts the back end reported, or (when
 * it left one out) an estimate from the text, marked as such and never
 * zero. A call that reached the model and then failed (too slow, cut off)
 * is charged its prompt (estimated) and the time it took, since a local
 * model spent that work; a call that never connected costs nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/analyze_llm.h"
#include "obs/metrics.h"
#include "util/banned.h"

void llm_worst_usage(struct request *rq, const struct prompt *p, struct usage *ret)
{
	const struct config *cfg = rq->srv->cfg;

	*ret = (struct usage){
		.model = rq->srv->llm.model,
		.prompt_tokens = p->estimated_tokens + p->estimated_tokens / 2 + 64,
		.completion_tokens = cfg->llm_max_tokens,
		.inference_ms = cfg->llm_timeout_ms * (cfg->llm_retries + 1),
	};
}

uint64_t llm_worst_micros(struct request *rq, const struct prompt *p)
{
	struct usage worst;
	struct cost c;

	llm_worst_usage(rq, p, &worst);
	pricing_cost(rq->srv->pricing, &worst, &c);
	return c.total_micros;
}

struct token_sink {
	const struct analyze_events *ev;
	struct request *rq;
};

static void on_token(void *ctx, const char *piece, size_t len)
{
	struct token_sink *t = ctx;

	analyze_emit(t->ev, "token", json_pack("{s:s%}", "text", piece, len));
}

static void on_restart(void *ctx)
{
	struct token_sink *t = ctx;

	/* The pieces sent so far belong to an attempt that failed. */
	analyze_emit(t->ev, "status", json_pack("{s:s}", "stage", "generation_restarted"));
}

static bool cancelled(void *ctx)
{
	struct token_sink *t = ctx;

	return analyze_client_gone(t->rq);
}

static void failure_outcome(struct request *rq, const struct llm_error *e, struct outcome *o)
{
	char msg[1400];
	const char *api = rq->srv->cfg->llm_api;

	switch (e->kind) {
	case LLM_ERR_CONNECT:
		snprintf(msg, sizeof(msg),
			 "no LLM answered at %s (%s API): %s. Start one (for Ollama: `ollama serve`, "
			 "then `ollama pull %s`) or set LEDGERBOX_LLM_URL and LEDGERBOX_LLM_API to "
			 "your OpenAI-compatible server. Code and template requests work without it.",
			 rq->srv->llm.url, api, e->message, rq->srv->llm.model);
		outcome_error(o, 503, "llm_unavailable", msg, NULL, 5, NULL);
		return;
	case LLM_ERR_TIMEOUT:
	case LLM_ERR_DEADLINE:
		snprintf(msg, sizeof(msg),
			 "the model did not answer in time: %s. Ask for something simpler, or raise "
			 "LEDGERBOX_LLM_TIMEOUT_MS / LEDGERBOX_ANALYZE_DEADLINE_MS", e->message);
		outcome_error(o, 504, "llm_timeout", msg, NULL, 0, NULL);
		return;
	case LLM_ERR_SERVER:
	case LLM_ERR_RATE_LIMITED:
		snprintf(msg, sizeof(msg), "the LLM server failed: %s", e->message);
		outcome_error(o, 503, "llm_failed", msg, NULL,
			      e->retry_after_s ? e->retry_after_s : 5, NULL);
		return;
	case LLM_ERR_CLIENT:
		snprintf(msg, sizeof(msg),
			 "the LLM server refused the request: %s. Check LEDGERBOX_LLM_MODEL (is the "
			 "model pulled?) and LEDGERBOX_LLM_KEY", e->message);
		outcome_error(o, 502, "llm_refused", msg, NULL, 0, NULL);
		return;
	case LLM_ERR_CANCELLED:
		outcome_error(o, 499, "cancelled", "the client went away; the request was stopped",
			      NULL, 0, NULL);
		return;
	default:
		snprintf(msg, sizeof(msg), "the LLM server sent a reply ledgerbox cannot read: %s",
			 e->message);
		outcome_error(o, 502, "llm_bad_reply", msg, NULL, 0, NULL);
	}
}

/* Failures that say the back end is unwell; a refused request (4xx) or a
 * client that hung up says nothing about it. */
static bool backend_failed(enum llm_error_kind k)
{
	return k != LLM_ERR_CLIENT && k != LLM_ERR_CANCELLED && k != LLM_ERR_NONE &&
	       k != LLM_ERR_NOMEM;
}

static uint64_t prompt_tokens_estimate(const struct prompt *p)
{
	uint64_t n = 0;

	for (size_t i = 0; i < p->n_messages; i++)
		n += llm_estimate_tokens(p->messages[i].content, strlen(p->messages[i].content));
	return n ? n : 1;
}

int llm_generate(struct request *rq, const struct prompt *p, const struct analyze_events *ev,
		 uint64_t deadline_ms, struct generation *g, struct outcome *o)
{
	struct token_sink sink = { ev, rq };
	struct llm_call call = { .messages = p->messages, .n_messages = p->n_messages,
				 .stream = ev != NULL, .on_token = ev ? on_token : NULL,
				 .cancelled = cancelled, .ctx = &sink,
				 .deadline_mono_ms = deadline_ms,
				 .on_restart = ev ? on_restart : NULL };
	struct llm_reply reply = { 0 };
	struct llm_error e = { 0 };
	uint64_t ticket, retry_ms = 0, t0 = clock_mono_ms();
	int r;

	memset(g, 0, sizeof(*g));
	g->usage.model = rq->srv->llm.model;
	if (breaker_acquire(rq->srv->llm_breaker, clock_mono_ms(), &ticket, &retry_ms) < 0) {
		metrics_llm_call("breaker_open");
		outcome_error(o, 503, "llm_unavailable",
			      "the LLM back end has been failing, so requests to it are paused for a "
			      "moment (circuit breaker open); retry after the time in Retry-After. "
			      "Code and template requests still work.", NULL,
			      (unsigned)((retry_ms + 999) / 1000), NULL);
		return -1;
	}
	r = llm_chat(&rq->srv->llm, &call, &reply, &e);
	breaker_report(rq->srv->llm_breaker, ticket, r == 0 || !backend_failed(e.kind),
		       clock_mono_ms());
	if (r < 0) {
		metrics_llm_call(llm_error_kind_name(e.kind));
		/* A slow or cut-off reply still used the model. */
		if (e.kind == LLM_ERR_TIMEOUT || e.kind == LLM_ERR_DEADLINE ||
		    e.kind == LLM_ERR_PROTOCOL || e.kind == LLM_ERR_CANCELLED) {
			g->usage.prompt_tokens = prompt_tokens_estimate(p);
			g->usage.inference_ms = clock_mono_ms() - t0;
			g->prompt_estimated = true;
		}
		g->http_attempts = e.http_attempts;
		failure_outcome(rq, &e, o);
		return -1;
	}
	metrics_llm_call("ok");
	metrics_llm_tokens(reply.prompt_tokens, reply.completion_tokens);
	g->reply = reply.text;
	reply.text = NULL;
	g->usage.prompt_tokens = reply.prompt_tokens;
	g->usage.completion_tokens = reply.completion_tokens;
	g->usage.inference_ms = reply.inference_ms;
	g->prompt_estimated = reply.prompt_estimated;
	g->completion_estimated = reply.completion_estimated;
	g->http_attempts = reply.http_attempts;
	llm_reply_release(&reply);
	return 0;
}

void generation_release(struct generation *g)
{
	free(g->reply);
	g->reply = NULL;
}
