/*
 * otlp_collector: a small OTLP/HTTP collector on 127.0.0.1 for tests: a
 * raw-socket thread that answers every POST with a chosen status and keeps
 * what it received (every document, and every span in order).
 */
#ifndef LEDGERBOX_TEST_OTLP_COLLECTOR_H
#define LEDGERBOX_TEST_OTLP_COLLECTOR_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <strings.h>
#include <sys/socket.h>

#include <jansson.h>

#include "testlib.h"

#define REQUEST_MAX (8u << 20)

struct collector {
	int fd; /* listening */
	unsigned port;
	int stop[2];
	pthread_t thread;
	bool threaded;
	int status; /* what to answer */
	pthread_mutex_t lock;
	json_t *docs;  /* every body received, parsed */
	json_t *spans; /* every span of every body, in order */
	unsigned posts, bad;
	char request_line[256], content_type[128], authorization[128];
};

static inline int listen_loopback(unsigned *ret_port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*ret_port = ntohs(a.sin_port);
	return fd;
}

/* Waits for fd to be readable; false when told to stop. */
static inline bool wait_readable(struct collector *c, int fd)
{
	struct pollfd p[2] = { { fd, POLLIN, 0 }, { c->stop[0], POLLIN, 0 } };

	while (poll(p, 2, -1) < 0)
		if (errno != EINTR)
			return false;
	return !(p[1].revents & POLLIN);
}

static inline void header_copy(char *dst, size_t size, const char *value, size_t len)
{
	while (len > 0 && (*value == ' ' || *value == '\t')) {
		value++;
		len--;
	}
	snprintf(dst, size, "%.*s", (int)len, value);
}

/* Parses the head (request line and headers); returns the body length. */
static inline size_t head_parse(struct collector *c, const char *head, size_t head_len)
{
	const char *end = head + head_len, *line = head, *nl;
	size_t body_len = 0;

	nl = memchr(line, '\n', (size_t)(end - line));
	header_copy(c->request_line, sizeof(c->request_line), line, (size_t)(nl - line - 1));
	for (line = nl + 1; line < end && (nl = memchr(line, '\n', (size_t)(end - line))); line = nl + 1) {
		const char *colon = memchr(line, ':', (size_t)(nl - line));
		size_t name_len, value_len;

		if (!colon)
			continue;
		name_len = (size_t)(colon - line);
		value_len = (size_t)(nl - colon - 1);
		if (value_len > 0 && colon[value_len] == '\r')
			value_len--;
		if (name_len == 14 && strncasecmp(line, "Content-Length", 14) == 0)
			body_len = strtoul(colon + 1, NULL, 10);
		else if (name_len == 12 && strncasecmp(line, "Content-Type", 12) == 0)
			header_copy(c->content_type, sizeof(c->content_type), colon + 1, value_len);
		else if (name_len == 13 && strncasecmp(line, "Authorization", 13) == 0)
			header_copy(c->authorization, sizeof(c->authorization), colon + 1, value_len);
	}
	return body_len;
}

static inline void body_record(struct collector *c, const char *body, size_t len)
{
	json_t *doc = json_loadb(body, len, 0, NULL);
	json_t *rs_all = json_object_get(doc, "resourceSpans");

	c->posts++;
	if (!doc) {
		c->bad++;
		return;
	}
	for (size_t i = 0; i < json_array_size(rs_all); i++) {
		json_t *ss_all = json_object_get(json_array_get(rs_all, i), "scopeSpans");

		for (size_t j = 0; j < json_array_size(ss_all); j++) {
			json_t *spans = json_object_get(json_array_get(ss_all, j), "spans");

			for (size_t k = 0; k < json_array_size(spans); k++)
				json_array_append(c->spans, json_array_get(spans, k));
		}
	}
	json_array_append_new(c->docs, doc);
}

static inline bool write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n <= 0)
			return false;
		data += n;
		len -= (size_t)n;
	}
	return true;
}

/* Serves requests on one connection until it closes or the test stops. */
static inline void connection_serve(struct collector *c, int conn)
{
	char *buf = malloc(REQUEST_MAX);
	size_t len = 0;

	while (buf && len < REQUEST_MAX && wait_readable(c, conn)) {
		ssize_t n = recv(conn, buf + len, REQUEST_MAX - len, 0);
		char *head_end, answer[160];
		size_t head_len, body_len;

		if (n <= 0)
			break;
		len += (size_t)n;
		head_end = memmem(buf, len, "\r\n\r\n", 4);
		if (!head_end)
			continue;
		head_len = (size_t)(head_end - buf) + 4;
		pthread_mutex_lock(&c->lock);
		body_len = head_parse(c, buf, head_len);
		if (len < head_len + body_len) {
			pthread_mutex_unlock(&c->lock);
			continue;
		}
		body_record(c, buf + head_len, body_len);
		pthread_mutex_unlock(&c->lock);
		memmove(buf, buf + head_len + body_len, len - head_len - body_len);
		len -= head_len + body_len;
		snprintf(answer, sizeof(answer),
			 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
			 c->status);
		if (!write_all(conn, answer, strlen(answer)))
			break;
	}
	free(buf);
}

static inline void *collector_run(void *arg)
{
	struct collector *c = arg;

	while (wait_readable(c, c->fd)) {
		int conn = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);

		if (conn < 0)
			continue;
		connection_serve(c, conn);
		close(conn);
	}
	return NULL;
}

/* A collector answering `status`; with status 0 it never even accepts a
 * connection (a hung collector: the kernel completes the handshake, and
 * the request waits for an answer that never comes). */
static inline void collector_start(struct collector *c, int status)
{
	memset(c, 0, sizeof(*c));
	c->status = status;
	c->docs = json_array();
	c->spans = json_array();
	assert_int_equal(pthread_mutex_init(&c->lock, NULL), 0);
	assert_int_equal(pipe2(c->stop, O_CLOEXEC), 0);
	c->fd = listen_loopback(&c->port);
	if (status != 0) {
		assert_int_equal(pthread_create(&c->thread, NULL, collector_run, c), 0);
		c->threaded = true;
	}
}

static inline void collector_stop(struct collector *c)
{
	assert_int_equal(write(c->stop[1], "x", 1), 1);
	if (c->threaded)
		assert_int_equal(pthread_join(c->thread, NULL), 0);
	close(c->fd);
	close(c->stop[0]);
	close(c->stop[1]);
	json_decref(c->docs);
	json_decref(c->spans);
	pthread_mutex_destroy(&c->lock);
}

static inline char *collector_url(const struct collector *c)
{
	char *url;

	assert_true(asprintf(&url, "http://127.0.0.1:%u/v1/traces", c->port) > 0);
	return url;
}

#endif
