/*
 * retry: the retry loop shared by chat and embeddings.
 *
 * Between attempts it waits a full-jitter backoff (uniform in [0, cap],
 * cap = min(backoff_max_ms, backoff_base_ms * 2^n)) so many clients that
 * failed together do not come back together, or, when a 429/503 said
 * Retry-After in seconds, exactly that. It never sleeps past the call's
 * deadline: a wait that does not fit ends the call at once. Sleeps poll
 * the cancel callback every 100 ms.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llm/client_internal.h"
#include "util/clock.h"
#include "util/banned.h"

#define RETRY_POLL_MS 100
#define RETRY_CAP_DEFAULT_MS (10u * 60u * 1000u) /* when backoff_max_ms is 0 */

uint64_t llm_backoff_ms(uint64_t base_ms, uint64_t max_ms, unsigned n)
{
	uint64_t cap = max_ms ? max_ms : RETRY_CAP_DEFAULT_MS;

	if (base_ms < cap && n < 63 && (base_ms << n) >> n == base_ms && (base_ms << n) < cap)
		cap = base_ms << n;
	if (cap > UINT32_MAX - 1)
		cap = UINT32_MAX - 1;
	return arc4random_uniform((uint32_t)cap + 1);
}

int llm_sleep_ms(uint64_t ms, llm_cancel_fn cancelled, void *ctx)
{
	uint64_t end = clock_mono_ms() + ms;

	for (;;) {
		uint64_t now = clock_mono_ms(), slice;
		struct timespec ts;

		if (cancelled && cancelled(ctx))
			return -ECANCELED;
		if (now >= end)
			return 0;
		slice = end - now < RETRY_POLL_MS ? end - now : RETRY_POLL_MS;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)slice * 1000000L;
		nanosleep(&ts, NULL);
	}
}

/* Rewrites f as the deadline ending the call, keeping the last failure's text. */
static void retry_deadline(struct llm_fail *f)
{
	char last[sizeof(f->what)];

	snprintf(last, sizeof(last), "%s", f->what);
	llm_fail_set(f, LLM_ERR_DEADLINE, false, "did not answer before the deadline (last: %s)", last);
}

/* Appends a note to f->what. */
static void retry_note(struct llm_fail *f, const char *note)
{
	size_t n = strlen(f->what);

	snprintf(f->what + n, sizeof(f->what) - n, "%s", note);
}

/* Waits before retry number n (0-based); 0, or f->ret when the call must end. */
static int retry_wait(const struct llm_config *cfg, const struct llm_ctl *ctl, unsigned n,
		      struct llm_fail *f)
{
	uint64_t wait = llm_backoff_ms(cfg->backoff_base_ms, cfg->backoff_max_ms, n);
	uint64_t now = clock_mono_ms();

	if (f->retry_after_s) {
		wait = (uint64_t)f->retry_after_s * 1000;
		if (f->retry_after_s > LLM_RETRY_AFTER_MAX_S) {
			retry_note(f, " (not retried: the wait asked for is too long)");
			return f->ret;
		}
		if (ctl->deadline_mono_ms && now + wait >= ctl->deadline_mono_ms) {
			retry_note(f, " (not retried: the wait asked for is past the deadline)");
			return f->ret;
		}
	} else if (ctl->deadline_mono_ms && now + wait >= ctl->deadline_mono_ms) {
		retry_deadline(f);
		return f->ret;
	}
	if (llm_sleep_ms(wait, ctl->cancelled, ctl->ctx) < 0) {
		llm_fail_set(f, LLM_ERR_CANCELLED, false, "was not waited for: the request was cancelled");
		return f->ret;
	}
	return 0;
}

/* Before an attempt: has the caller given up, or has time run out? */
static int retry_check(const struct llm_ctl *ctl, unsigned attempts, struct llm_fail *f)
{
	if (ctl->cancelled && ctl->cancelled(ctl->ctx)) {
		llm_fail_set(f, LLM_ERR_CANCELLED, false, "was not waited for: the request was cancelled");
		return f->ret;
	}
	if (ctl->deadline_mono_ms && clock_mono_ms() >= ctl->deadline_mono_ms) {
		if (attempts)
			retry_deadline(f);
		else
			llm_fail_set(f, LLM_ERR_DEADLINE, false, "was not called: the deadline had passed");
		return f->ret;
	}
	return 0;
}

int llm_retry_run(const struct llm_config *cfg, const struct llm_ctl *ctl, llm_attempt_fn fn,
		  void *actx, struct llm_fail *f, unsigned *ret_attempts)
{
	unsigned attempts = 0;
	int r;

	memset(f, 0, sizeof(*f));
	for (;;) {
		r = retry_check(ctl, attempts, f);
		if (r < 0)
			break;
		attempts++;
		r = fn(actx, f);
		if (r == 0 || !f->transient || attempts > cfg->retries)
			break;
		r = retry_wait(cfg, ctl, attempts - 1, f);
		if (r < 0)
			break;
	}
	*ret_attempts = attempts;
	return r;
}
