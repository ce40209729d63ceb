/*
 * client_error: what a failure is called, what the call returns for it,
 * and the one line an operator reads: "<what happened> at <where>; <what
 * to do>". Server text quoted in it is cleaned to one line of valid UTF-8.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/client_internal.h"
#include "util/utf8.h"
#include "util/banned.h"

static int llm_kind_errno(enum llm_error_kind kind)
{
	switch (kind) {
	case LLM_ERR_NONE:
		return 0;
	case LLM_ERR_CONNECT:
		return -ECONNREFUSED;
	case LLM_ERR_TIMEOUT:
	case LLM_ERR_DEADLINE:
		return -ETIMEDOUT;
	case LLM_ERR_SERVER:
	case LLM_ERR_RATE_LIMITED:
	case LLM_ERR_CLIENT:
		return -EIO;
	case LLM_ERR_PROTOCOL:
		return -EPROTO;
	case LLM_ERR_CANCELLED:
		return -ECANCELED;
	case LLM_ERR_NOMEM:
		return -ENOMEM;
	}
	return -EIO;
}

const char *llm_error_kind_name(enum llm_error_kind k)
{
	static const char *const names[] = {
		[LLM_ERR_NONE] = "none",	 [LLM_ERR_CONNECT] = "connect",
		[LLM_ERR_TIMEOUT] = "timeout",	 [LLM_ERR_SERVER] = "server",
		[LLM_ERR_RATE_LIMITED] = "rate_limited", [LLM_ERR_CLIENT] = "client",
		[LLM_ERR_PROTOCOL] = "protocol", [LLM_ERR_CANCELLED] = "cancelled",
		[LLM_ERR_DEADLINE] = "deadline", [LLM_ERR_NOMEM] = "nomem",
	};

	if ((unsigned)k >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[k];
}

void llm_fail_set(struct llm_fail *f, enum llm_error_kind kind, bool transient, const char *fmt, ...)
{
	va_list ap;

	f->kind = kind;
	f->transient = transient;
	f->ret = llm_kind_errno(kind);
	va_start(ap, fmt);
	vsnprintf(f->what, sizeof(f->what), fmt, ap);
	va_end(ap);
}

void llm_fail_parse(struct llm_fail *f, int err, const char *api, const char *server_error)
{
	switch (err) {
	case -ENOMEM:
		llm_fail_set(f, LLM_ERR_NOMEM, false, "could not be answered: out of memory");
		break;
	case -E2BIG:
		llm_fail_set(f, LLM_ERR_PROTOCOL, false,
			     "sent a reply too large (over %u KiB of text or %u KiB in all)",
			     LLM_TEXT_MAX / 1024, LLM_WIRE_MAX / 1024);
		break;
	case -EIO:
		/* An error inside a 2xx reply: the model runner failed after the
		 * server accepted the request, which another attempt may not hit. */
		llm_fail_set(f, LLM_ERR_SERVER, true, "reported an error: %s",
			     server_error && *server_error ? server_error : "(no text)");
		break;
	default:
		llm_fail_set(f, LLM_ERR_PROTOCOL, false, "sent a reply that is not %s API JSON", api);
		break;
	}
}

static const char *llm_advice(const struct llm_fail *f)
{
	switch (f->kind) {
	case LLM_ERR_CONNECT:
		return "check that the model server is running and that the URL is right";
	case LLM_ERR_TIMEOUT:
		return "the model may be loading or overloaded: raise the timeout or use a smaller model";
	case LLM_ERR_SERVER:
		return "check the model server's log";
	case LLM_ERR_RATE_LIMITED:
		return "wait and try again, or raise the quota";
	case LLM_ERR_CLIENT:
		return "check the model name, the key and the URL";
	case LLM_ERR_PROTOCOL:
		return f->transient ? "the model server may have stopped or restarted; check its log"
				    : "check that the URL points to a server of that API, and its log";
	case LLM_ERR_DEADLINE:
		return "try again later or allow more time";
	case LLM_ERR_NOMEM:
		return "the machine is short of memory";
	case LLM_ERR_CANCELLED:
	case LLM_ERR_NONE:
		break;
	}
	return "";
}

void llm_error_fill(struct llm_error *err, const struct llm_fail *f, const char *api,
		    const char *display_url, unsigned attempts)
{
	const char *advice = llm_advice(f);
	char tries[40] = "";

	if (!err)
		return;
	memset(err, 0, sizeof(*err));
	err->kind = f->kind;
	err->http_status = f->http_status;
	err->retry_after_s = f->retry_after_s;
	err->http_attempts = attempts;
	if (attempts > 1)
		snprintf(tries, sizeof(tries), " (%u attempts)", attempts);
	snprintf(err->message, sizeof(err->message), "the %s server at %s %s%s%s%s", api, display_url,
		 f->what, tries, *advice ? "; " : "", advice);
}

void llm_text_clean(const char *s, size_t len, char *out, size_t out_size)
{
	char *fixed = NULL;
	size_t fixed_len = len, cut;

	if (out_size == 0)
		return;
	if (utf8_sanitize(s, len, &fixed, &fixed_len) == 0 && fixed)
		s = fixed;
	else
		fixed_len = len;
	while (fixed_len && (s[fixed_len - 1] == '\n' || s[fixed_len - 1] == '\r' || s[fixed_len - 1] == ' '))
		fixed_len--;
	cut = fixed_len;
	if (cut > out_size - 1) {
		/* s[cut] starts the part left out: do not split the character it continues. */
		cut = out_size - 1;
		while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
			cut--;
	}
	for (size_t i = 0; i < cut; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
	out[cut] = '\0';
	free(fixed);
}
