/*
 * stub_http: the HTTP/1.1 of the test servers that stand in for other
 * programs on loopback (tests/support/llm_stub.h): reading one request
 * (head and Content-Length body, with a bound on each and a stop flag the
 * owner sets to end waits), and writing heads, JSON and chunked bodies.
 */
#ifndef LEDGERBOX_TEST_STUB_HTTP_H
#define LEDGERBOX_TEST_STUB_HTTP_H

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <jansson.h>

#define STUB_HTTP_HEAD_MAX (64 * 1024)
#define STUB_HTTP_BODY_MAX (16 * 1024 * 1024)

struct stub_req {
	char method[16];
	char path[256];
	char auth[512];
	char *buf; /* head and body */
	size_t head_len, body_len;
	bool expect_continue, chunked;
	long content_length;
};

/* ---- the wire ---- */

static inline bool stub_send(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		data += n;
		len -= (size_t)n;
	}
	return true;
}

static inline const char *stub_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return "Status";
	}
}

/* The head of a response; body_len < 0 means chunked. */
static inline bool stub_head(int fd, int status, const char *ctype, long body_len, const char *retry_after)
{
	char head[1024], length[64], retry[128] = "";

	if (body_len < 0)
		snprintf(length, sizeof(length), "Transfer-Encoding: chunked");
	else
		snprintf(length, sizeof(length), "Content-Length: %ld", body_len);
	if (retry_after)
		snprintf(retry, sizeof(retry), "Retry-After: %s\r\n", retry_after);
	snprintf(head, sizeof(head),
		 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nDate: Mon, 01 Jul 2024 12:00:00 GMT\r\n"
		 "%s\r\n%sConnection: close\r\n\r\n",
		 status, stub_reason(status), ctype, length, retry);
	return stub_send(fd, head, strlen(head));
}

static inline bool stub_json(int fd, int status, json_t *body, const char *retry_after)
{
	char *text = json_dumps(body, JSON_COMPACT);
	bool ok;

	json_decref(body);
	if (!text)
		return false;
	ok = stub_head(fd, status, "application/json; charset=utf-8", (long)strlen(text), retry_after) &&
	     stub_send(fd, text, strlen(text));
	free(text);
	return ok;
}

static inline bool stub_chunk(int fd, const char *data, size_t len)
{
	char size[32];

	snprintf(size, sizeof(size), "%zx\r\n", len);
	return stub_send(fd, size, strlen(size)) && stub_send(fd, data, len) && stub_send(fd, "\r\n", 2);
}

/* One NDJSON line or SSE event (prefix "data: ", suffix "\n\n") as a chunk. */
static inline bool stub_chunk_json(int fd, json_t *v, const char *prefix, const char *suffix)
{
	char *text = json_dumps(v, JSON_COMPACT), *framed;
	bool ok;

	json_decref(v);
	if (!text)
		return false;
	ok = asprintf(&framed, "%s%s%s", prefix, text, suffix) > 0;
	free(text);
	if (!ok)
		return false;
	ok = stub_chunk(fd, framed, strlen(framed));
	free(framed);
	return ok;
}

/* ---- reading a request ---- */

static inline const char *stub_find(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(hay + i, needle, n) == 0)
			return hay + i;
	return NULL;
}

static inline void stub_parse_head(struct stub_req *rq)
{
	char *line = rq->buf, *end, *q;

	end = strstr(line, "\r\n");
	*end = '\0';
	if (sscanf(line, "%15s %255s", rq->method, rq->path) != 2)
		rq->method[0] = '\0';
	q = strchr(rq->path, '?');
	if (q)
		*q = '\0';
	rq->content_length = 0;
	for (line = end + 2; (end = strstr(line, "\r\n")) && end != line; line = end + 2) {
		*end = '\0';
		if (strncasecmp(line, "content-length:", 15) == 0)
			rq->content_length = strtol(line + 15, NULL, 10);
		else if (strncasecmp(line, "authorization:", 14) == 0)
			snprintf(rq->auth, sizeof(rq->auth), "%s", line + 14 + strspn(line + 14, " "));
		else if (strncasecmp(line, "expect:", 7) == 0 && strcasestr(line, "100-continue"))
			rq->expect_continue = true;
		else if (strncasecmp(line, "transfer-encoding:", 18) == 0 && strcasestr(line, "chunked"))
			rq->chunked = true;
	}
}

/* Waits for input, giving up when the stub stops or after 10 s. */
static inline bool stub_wait_readable(const bool *stopping, int fd)
{
	for (int waited = 0; waited < 10000 && !__atomic_load_n(stopping, __ATOMIC_ACQUIRE);
	     waited += 50) {
		struct pollfd p = { fd, POLLIN, 0 };
		int n = poll(&p, 1, 50);
		if (n > 0)
			return true;
		if (n < 0 && errno != EINTR)
			return false;
	}
	return false;
}

/* Reads the head and a Content-Length body. 0, or an HTTP status to refuse
 * with (-1: just close). */
static inline int stub_read_request(const bool *stopping, int fd, struct stub_req *rq)
{
	size_t len = 0, cap = STUB_HTTP_HEAD_MAX + 1, want = 0;
	bool have_head = false;

	rq->buf = malloc(cap);
	if (!rq->buf)
		return -1;
	for (;;) {
		ssize_t n;

		if (have_head && len >= want)
			break;
		if (len == cap)
			return have_head ? -1 : 413;
		if (!stub_wait_readable(stopping, fd))
			return -1;
		n = recv(fd, rq->buf + len, cap - len, 0);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		if (!have_head) {
			const char *e = stub_find(rq->buf, len, "\r\n\r\n");
			char *grown;
			if (!e)
				continue;
			have_head = true;
			rq->head_len = (size_t)(e - rq->buf) + 4;
			rq->buf[rq->head_len - 2] = '\0'; /* the head as a string, ending at its last CRLF */
			stub_parse_head(rq);
			if (rq->chunked)
				return 411;
			if (rq->content_length < 0 || rq->content_length > STUB_HTTP_BODY_MAX)
				return 413;
			want = rq->head_len + (size_t)rq->content_length;
			grown = realloc(rq->buf, want + 1);
			if (!grown)
				return -1;
			rq->buf = grown;
			cap = want + 1;
			if (rq->expect_continue && len < want &&
			    !stub_send(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25))
				return -1;
		}
	}
	rq->body_len = (size_t)rq->content_length;
	rq->buf[want] = '\0';
	return 0;
}

#endif
