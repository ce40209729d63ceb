/*
 * analyze_llm: one call to the LLM for POST /api/analyze, behind its
 * circuit breaker, with what it cost. Private to src/http/.
 */
#ifndef LEDGERBOX_HTTP_ANALYZE_LLM_H
#define LEDGERBOX_HTTP_ANALYZE_LLM_H

#include "http/analyze.h"
#include "llm/prompt.h"

struct generation {
	char *reply;                 /* the model's whole reply (owned) */
	struct usage usage;          /* what to charge: tokens and inference time */
	bool prompt_estimated, completion_estimated;
	unsigned http_attempts;
};

/* The most an LLM call with this prompt is charged for: the prompt's
 * tokens with a margin for tokenizers that count more than the estimate,
 * the most tokens the model may write, and the longest it may take. The
 * call is reserved at that and billed for no more (charge_add_llm). */
void llm_worst_usage(struct request *rq, const struct prompt *p, struct usage *ret);
/* What llm_worst_usage() costs. */
uint64_t llm_worst_micros(struct request *rq, const struct prompt *p);

/* Asks the model. Pieces of the reply go to ev as "token" events. On
 * failure sets *o (503 with Retry-After when the back end is unreachable or
 * its breaker open, 504 when it was too slow, 502 for a bad reply) and
 * returns -1; g->usage then holds what a call that reached the model may
 * have used (its prompt and time), else zeros. */
int llm_generate(struct request *rq, const struct prompt *p, const struct analyze_events *ev,
		 uint64_t deadline_ms, struct generation *g, struct outcome *o);
void generation_release(struct generation *g);

#endif
