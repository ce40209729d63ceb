/*
 * trace_send: POSTs one OTLP batch to the collector with libcurl.
 *
 * The transfer runs on a multi handle rather than curl_easy_perform() so
 * the export thread can give up at a deadline another thread sets (the
 * exporter being freed): curl_multi_poll() waits in short slices and
 * curl_multi_wakeup() cuts a slice short. The easy handle is kept between
 * POSTs so the connection to the collector is reused.
 */
#include "obs/trace_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "util/clock.h"
#include "util/banned.h"

#define POST_TIMEOUT_MS 2000L
/* Longest wait inside one curl_multi_poll() call. */
#define POLL_SLICE_MS 250
/* The collector's answer is not needed; reading more than this of it is
 * a misbehaving collector. */
#define ANSWER_MAX_BYTES (64u << 10)

struct trace_sender {
	CURLM *multi;
	CURL *easy;
	struct curl_slist *headers;
	size_t answer_bytes;
};

static size_t answer_discard(char *data, size_t size, size_t n, void *arg)
{
	struct trace_sender *s = arg;

	(void)data;
	s->answer_bytes += size * n;
	return s->answer_bytes > ANSWER_MAX_BYTES ? 0 : size * n;
}

static int headers_build(const char *header, struct curl_slist **ret)
{
	struct curl_slist *list = NULL, *next;
	const char *lines[] = { "Content-Type: application/json", "Expect:", header };

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		if (!lines[i] || !*lines[i])
			continue;
		next = curl_slist_append(list, lines[i]);
		if (!next) {
			curl_slist_free_all(list);
			return -ENOMEM;
		}
		list = next;
	}
	*ret = list;
	return 0;
}

static int easy_setup(struct trace_sender *s, const char *endpoint)
{
	CURL *e = s->easy;
	CURLcode c = CURLE_OK;

	c |= curl_easy_setopt(e, CURLOPT_URL, endpoint);
	c |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	c |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	c |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, POST_TIMEOUT_MS);
	c |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, POST_TIMEOUT_MS);
	c |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->headers);
	c |= curl_easy_setopt(e, CURLOPT_USERAGENT, "ledgerbox");
	c |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, answer_discard);
	c |= curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
	c |= curl_easy_setopt(e, CURLOPT_POST, 1L);
	return c == CURLE_OK ? 0 : -EIO;
}

int trace_sender_new(const char *endpoint, const char *header, struct trace_sender **ret)
{
	struct trace_sender *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	r = headers_build(header, &s->headers);
	if (r < 0)
		goto out_free;
	s->multi = curl_multi_init();
	s->easy = curl_easy_init();
	r = -EIO;
	if (!s->multi || !s->easy)
		goto out_free;
	r = easy_setup(s, endpoint);
	if (r < 0)
		goto out_free;
	*ret = s;
	return 0;
out_free:
	trace_sender_free(s);
	return r;
}

void trace_sender_free(struct trace_sender *s)
{
	if (!s)
		return;
	if (s->easy)
		curl_easy_cleanup(s->easy);
	if (s->multi)
		curl_multi_cleanup(s->multi);
	curl_slist_free_all(s->headers);
	free(s);
}

void trace_sender_wake(struct trace_sender *s)
{
	if (s)
		curl_multi_wakeup(s->multi);
}

/* The finished transfer's verdict. */
static int transfer_result(struct trace_sender *s)
{
	CURLMsg *msg;
	int left = 0;
	long status = 0;

	while ((msg = curl_multi_info_read(s->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE || msg->easy_handle != s->easy)
			continue;
		if (msg->data.result != CURLE_OK)
			return -EIO;
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
		return status >= 200 && status <= 299 ? 0 : -EPROTO;
	}
	return -EIO;
}

/* Drives the transfer until it ends or *abort_at_ms comes. */
static int transfer_run(struct trace_sender *s, const _Atomic uint64_t *abort_at_ms)
{
	for (;;) {
		int running = 0;
		uint64_t now, abort_at;
		int slice;

		if (curl_multi_perform(s->multi, &running) != CURLM_OK)
			return -EIO;
		if (running == 0)
			return transfer_result(s);
		now = clock_mono_ms();
		abort_at = atomic_load(abort_at_ms);
		if (now >= abort_at)
			return -ECANCELED;
		slice = abort_at - now < POLL_SLICE_MS ? (int)(abort_at - now) : POLL_SLICE_MS;
		if (curl_multi_poll(s->multi, NULL, 0, slice, NULL) != CURLM_OK)
			return -EIO;
	}
}

int trace_sender_post(struct trace_sender *s, const char *body, size_t len,
		      const _Atomic uint64_t *abort_at_ms)
{
	int r;

	s->answer_bytes = 0;
	if (curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len) != CURLE_OK ||
	    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, body) != CURLE_OK)
		return -EIO;
	if (curl_multi_add_handle(s->multi, s->easy) != CURLM_OK)
		return -EIO;
	r = transfer_run(s, abort_at_ms);
	curl_multi_remove_handle(s->multi, s->easy);
	/* The body belongs to the caller and is about to be freed. */
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, NULL);
	return r;
}
