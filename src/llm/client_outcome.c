/*
 * client_outcome: what a finished HTTP exchange amounts to. The order
 * matters: the caller's cancel and deadline come first, then the HTTP
 * status (an error status explains whatever the transfer did after it),
 * then the reply's own problems, then transport failures.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "llm/client_internal.h"
#include "util/banned.h"

static void outcome_error_text(const struct llm_xfer *x, char *out, size_t out_size)
{
	json_t *root;

	out[0] = '\0';
	if (!x->error_body.len)
		return;
	if (llm_json_load(x->error_body.data, x->error_body.len, &root) == 0) {
		llm_json_error_text(root, out, out_size);
		json_decref(root);
	}
	if (!out[0]) /* not JSON (a proxy's page, plain text): its first line */
		llm_text_clean(x->error_body.data, strcspn(x->error_body.data, "\r\n"), out, out_size);
}

static void outcome_http(const struct llm_xfer *x, struct llm_fail *f)
{
	char text[200], hint[40] = "";
	const char *sep;
	long s = x->status;

	outcome_error_text(x, text, sizeof(text));
	sep = text[0] ? ": " : "";
	if (f->retry_after_s)
		snprintf(hint, sizeof(hint), ", retry after %u s", f->retry_after_s);
	if (s == 429)
		llm_fail_set(f, LLM_ERR_RATE_LIMITED, true, "is rate limiting requests (HTTP 429%s)%s%s",
			     hint, sep, text);
	else if (s >= 500)
		llm_fail_set(f, LLM_ERR_SERVER, s != 501 && s != 505, "answered HTTP %ld%s%s%s", s, hint,
			     sep, text);
	else if (s >= 400)
		llm_fail_set(f, LLM_ERR_CLIENT, false, "refused the request with HTTP %ld%s%s", s, sep,
			     text);
	else
		llm_fail_set(f, LLM_ERR_PROTOCOL, false, "answered HTTP %ld, which is not a reply%s%s", s,
			     sep, text);
}

static void outcome_curl(const struct llm_xfer *x, struct llm_fail *f)
{
	const char *why = x->curl_error[0] ? x->curl_error : curl_easy_strerror(x->code);

	switch (x->code) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		llm_fail_set(f, LLM_ERR_CONNECT, true, "could not be reached (%s)", why);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		llm_fail_set(f, LLM_ERR_TIMEOUT, true, "did not answer in time (%s)", why);
		break;
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
		llm_fail_set(f, LLM_ERR_PROTOCOL, true, "closed the connection before the reply was complete (%s)",
			     why);
		break;
	case CURLE_OUT_OF_MEMORY:
		llm_fail_set(f, LLM_ERR_NOMEM, false, "could not be called: out of memory");
		break;
	case CURLE_URL_MALFORMAT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		llm_fail_set(f, LLM_ERR_CONNECT, false, "could not be called (%s)", why);
		break;
	default:
		llm_fail_set(f, LLM_ERR_PROTOCOL, false, "sent a reply that is not HTTP the client understands (%s)",
			     why);
		break;
	}
}

int llm_xfer_outcome(const struct llm_xfer *x, const char *api, const char *server_error,
		     struct llm_fail *f)
{
	memset(f, 0, sizeof(*f));
	f->http_status = x->status;
	f->retry_after_s = x->status == 429 || x->status == 503 ? x->retry_after_s : 0;
	if (x->cancel_hit)
		llm_fail_set(f, LLM_ERR_CANCELLED, false, "was not waited for: the request was cancelled");
	else if (x->deadline_hit)
		llm_fail_set(f, LLM_ERR_DEADLINE, false, "did not answer before the deadline");
	else if (x->status >= 300 || (x->status && x->status < 200))
		outcome_http(x, f);
	else if (x->wire_too_large)
		llm_fail_parse(f, -E2BIG, api, NULL);
	else if (x->sink_err)
		llm_fail_parse(f, x->sink_err, api, server_error);
	else if (x->code != CURLE_OK)
		outcome_curl(x, f);
	else
		return 0;
	return f->ret;
}
