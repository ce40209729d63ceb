/*
 * client_http: one HTTP exchange with the model server over libcurl.
 *
 * The transfer runs on a private multi handle so this thread can poll the
 * caller's cancel callback and the deadline every 100 ms, whatever the
 * server does; curl's own progress callback checks cancellation too while
 * bytes flow. A 2xx body goes to the caller's sink as it arrives (at most
 * LLM_WIRE_MAX bytes); any other body is kept up to LLM_ERROR_BODY_MAX for
 * its error text. The attempt's timeouts are cut to what the deadline
 * leaves, and a timeout that the deadline caused is reported as such.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config/llm_local.h"
#include "llm/client_internal.h"
#include "util/clock.h"
#include "util/banned.h"

#define XFER_POLL_MS 100
#define XFER_RETRY_AFTER_CAP 86400u

struct xfer_run {
	struct llm_xfer *x;
	CURL *easy;
};

static unsigned xfer_retry_after(const char *v, size_t len)
{
	uint64_t s = 0;
	size_t i = 0, digits = 0;

	while (i < len && (v[i] == ' ' || v[i] == '\t'))
		i++;
	for (; i < len && v[i] >= '0' && v[i] <= '9'; i++, digits++)
		if (s < XFER_RETRY_AFTER_CAP)
			s = s * 10 + (uint64_t)(v[i] - '0');
	while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n'))
		i++;
	if (!digits || i != len)
		return 0; /* the HTTP-date form, or junk: no hint */
	return s > XFER_RETRY_AFTER_CAP ? XFER_RETRY_AFTER_CAP : (unsigned)s;
}

static size_t xfer_header(char *data, size_t size, size_t n, void *userdata)
{
	struct xfer_run *run = userdata;
	size_t len = size * n;

	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0)
		run->x->retry_after_s = 0; /* a new response (after a 100) starts */
	else if (len > 12 && strncasecmp(data, "retry-after:", 12) == 0)
		run->x->retry_after_s = xfer_retry_after(data + 12, len - 12);
	return len;
}

static void xfer_response_info(struct xfer_run *run)
{
	struct llm_xfer *x = run->x;
	char *ct = NULL;

	curl_easy_getinfo(run->easy, CURLINFO_RESPONSE_CODE, &x->status);
	if (curl_easy_getinfo(run->easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
		snprintf(x->content_type, sizeof(x->content_type), "%s", ct);
}

static size_t xfer_write(char *data, size_t size, size_t n, void *userdata)
{
	struct xfer_run *run = userdata;
	struct llm_xfer *x = run->x;
	size_t len = size * n;

	if (!x->headers_seen) {
		x->headers_seen = true;
		xfer_response_info(run);
	}
	x->wire_bytes += len;
	if (x->status < 200 || x->status > 299) {
		/* Only the start of an error body is read: its text is all we use. */
		if (buf_append(&x->error_body, data, len) < 0 || x->error_body.truncated)
			return 0;
		return len;
	}
	if (!x->on_body)
		return len; /* nobody wants it (readiness): drop it */
	if (x->wire_bytes > LLM_WIRE_MAX) {
		x->wire_too_large = true;
		return 0;
	}
	int r = x->on_body(x->sink, data, len);
	if (r < 0) {
		x->sink_err = r;
		return 0;
	}
	return len;
}

static int xfer_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
			 curl_off_t ulnow)
{
	struct llm_xfer *x = ((struct xfer_run *)userdata)->x;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	if (x->cancelled && x->cancelled(x->ctx)) {
		x->cancel_hit = true;
		return 1;
	}
	return 0;
}

static int xfer_headers(const struct llm_xfer *x, struct curl_slist **ret)
{
	char auth[300];
	struct curl_slist *h = NULL, *t;
	const char *lines[] = { "Accept: application/json, application/x-ndjson, text/event-stream",
				"Expect:", x->body ? "Content-Type: application/json" : NULL };

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		if (!lines[i])
			continue;
		t = curl_slist_append(h, lines[i]);
		if (!t)
			goto fail;
		h = t;
	}
	if (x->key && *x->key) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", x->key);
		t = curl_slist_append(h, auth);
		if (!t)
			goto fail;
		h = t;
	}
	*ret = h;
	return 0;
fail:
	curl_slist_free_all(h);
	return -ENOMEM;
}

static long xfer_ms(uint64_t ms)
{
	return ms > (uint64_t)LONG_MAX ? LONG_MAX : (long)ms;
}

static void xfer_timeouts(struct xfer_run *run)
{
	struct llm_xfer *x = run->x;
	uint64_t total = x->timeout_ms, connect = x->connect_timeout_ms;

	if (x->deadline_mono_ms) {
		uint64_t now = clock_mono_ms();
		uint64_t left = x->deadline_mono_ms > now ? x->deadline_mono_ms - now : 1;
		if (!total || left < total)
			total = left;
		if (!connect || left < connect)
			connect = left;
	}
	curl_easy_setopt(run->easy, CURLOPT_TIMEOUT_MS, xfer_ms(total));
	curl_easy_setopt(run->easy, CURLOPT_CONNECTTIMEOUT_MS, xfer_ms(connect));
}

static int xfer_setup(struct xfer_run *run, struct curl_slist *headers)
{
	CURL *e = run->easy;
	struct llm_xfer *x = run->x;

	if (curl_easy_setopt(e, CURLOPT_URL, x->url) != CURLE_OK)
		return -ENOMEM;
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	/* Whatever counts as local (config/llm_local.h) never goes through a
	 * proxy, which would carry it off this machine. Decided by the same
	 * rule, not by a NOPROXY list of spellings: libcurl's list does not
	 * match every loopback spelling the rule accepts ([::ffff:7f00:1]). */
	if (llm_url_is_local(x->url))
		curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_USERAGENT, "ledgerbox");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->curl_error);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, xfer_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, run);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, xfer_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, run);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, xfer_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, run);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	xfer_timeouts(run);
	if (x->body) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body);
	} else {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	}
	return 0;
}

/* Drives the transfer to its end, a cancel or the deadline. */
static void xfer_loop(struct xfer_run *run, CURLM *multi)
{
	struct llm_xfer *x = run->x;

	for (;;) {
		int running = 0, queued;
		CURLMsg *m;

		if (curl_multi_perform(multi, &running) != CURLM_OK) {
			x->code = CURLE_OUT_OF_MEMORY;
			return;
		}
		if (!running) {
			m = curl_multi_info_read(multi, &queued);
			x->code = m && m->msg == CURLMSG_DONE ? m->data.result : CURLE_RECV_ERROR;
			return;
		}
		if (x->cancelled && x->cancelled(x->ctx)) {
			x->cancel_hit = true;
			x->code = CURLE_ABORTED_BY_CALLBACK;
			return;
		}
		if (x->deadline_mono_ms && clock_mono_ms() >= x->deadline_mono_ms) {
			x->deadline_hit = true;
			x->code = CURLE_OPERATION_TIMEDOUT;
			return;
		}
		if (curl_multi_poll(multi, NULL, 0, XFER_POLL_MS, NULL) != CURLM_OK) {
			x->code = CURLE_OUT_OF_MEMORY;
			return;
		}
	}
}

static void xfer_reset(struct llm_xfer *x)
{
	x->code = CURLE_OK;
	x->status = 0;
	x->retry_after_s = 0;
	x->content_type[0] = '\0';
	x->wire_bytes = 0;
	x->sink_err = 0;
	x->wire_too_large = x->cancel_hit = x->deadline_hit = x->headers_seen = false;
	x->wall_ms = 0;
	x->curl_error[0] = '\0';
	buf_init(&x->error_body, LLM_ERROR_BODY_MAX);
}

int llm_xfer_run(struct llm_xfer *x)
{
	struct xfer_run run = { .x = x };
	struct curl_slist *headers = NULL;
	uint64_t start = clock_mono_ms();
	CURLM *multi = NULL;
	int r;

	xfer_reset(x);
	run.easy = curl_easy_init();
	multi = curl_multi_init();
	r = run.easy && multi ? xfer_headers(x, &headers) : -ENOMEM;
	if (r == 0)
		r = xfer_setup(&run, headers);
	if (r == 0 && curl_multi_add_handle(multi, run.easy) != CURLM_OK)
		r = -ENOMEM;
	if (r == 0) {
		xfer_loop(&run, multi);
		curl_multi_remove_handle(multi, run.easy);
		if (!x->headers_seen)
			xfer_response_info(&run);
		if (x->code == CURLE_OPERATION_TIMEDOUT && x->deadline_mono_ms &&
		    clock_mono_ms() + 2 >= x->deadline_mono_ms)
			x->deadline_hit = true;
		x->wall_ms = clock_mono_ms() - start;
	}
	curl_multi_cleanup(multi);
	curl_easy_cleanup(run.easy);
	curl_slist_free_all(headers);
	return r;
}

void llm_xfer_release(struct llm_xfer *x)
{
	if (x)
		buf_release(&x->error_body);
}

bool llm_key_valid(const char *key)
{
	for (const char *p = key; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

/* Copies url without "user:password@" and without a query or fragment. */
static void url_display(const char *url, char display[LLM_URL_MAX])
{
	const char *host = strstr(url, "://"), *end, *at = NULL;
	size_t n;

	host = host ? host + 3 : url;
	end = host + strcspn(host, "/?#");
	for (const char *p = host; p < end; p++)
		if (*p == '@')
			at = p;
	n = (size_t)(host - url);
	snprintf(display, LLM_URL_MAX, "%.*s%.*s", (int)n, url, (int)strcspn(at ? at + 1 : host, "?#"),
		 at ? at + 1 : host);
}

int llm_url(const struct llm_config *cfg, const char *path, char url[LLM_URL_MAX],
	    char display[LLM_URL_MAX])
{
	size_t n = strnlen(cfg->url, sizeof(cfg->url));

	if (n == 0 || n == sizeof(cfg->url))
		return -EINVAL;
	while (n && cfg->url[n - 1] == '/')
		n--;
	/* OpenAI clients are often given the ".../v1" base: do not double it. */
	if (cfg->api == LLM_API_OPENAI && n >= 3 && memcmp(cfg->url + n - 3, "/v1", 3) == 0 &&
	    strncmp(path, "/v1/", 4) == 0)
		path += 3;
	if (snprintf(url, LLM_URL_MAX, "%.*s%s", (int)n, cfg->url, path) >= LLM_URL_MAX)
		return -EINVAL;
	url_display(url, display);
	return 0;
}
