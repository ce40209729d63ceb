/*
 * rawlib: what the load test and the abuse checks share. HTTP over a plain
 * socket, for requests whose exact bytes matter (a 64 KiB header line,
 * headers without their body, a chunked stream, one byte at a time), and
 * the server process's resident memory and open descriptors from /proc.
 */
#ifndef LEDGERBOX_TEST_RAWLIB_H
#define LEDGERBOX_TEST_RAWLIB_H

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include "support/stub_http.h"
#include "testlib.h"

static inline long rl_elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

static inline int rl_connect(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Sends everything; false once the server has closed (no SIGPIPE). */
static inline bool rl_send(int fd, const char *data, size_t len)
{
	return stub_send(fd, data, len);
}

/* Whether buf (len bytes, NUL-terminated) holds a whole answer: headers
 * and as much body as Content-Length says. */
static inline bool rl_answer_whole(const char *buf, size_t len)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4), *cl;

	if (!end)
		return false;
	cl = strcasestr(buf, "\r\nContent-Length:");
	return !cl || cl > end ||
	       (size_t)(buf + len - (end + 4)) >= (size_t)strtoul(cl + 17, NULL, 10);
}

/* Reads one answer: its status, 0 when the connection closed without one,
 * -1 on timeout. Its body (cut to fit) goes to body when not NULL. */
static inline long rl_answer(int fd, int timeout_ms, char *body, size_t body_len)
{
	char buf[65536];
	size_t len = 0;
	struct timespec t0;
	const char *b;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	buf[0] = '\0';
	while (len < sizeof(buf) - 1 && !rl_answer_whole(buf, len)) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, timeout_ms - (int)rl_elapsed_ms(&t0)) <= 0)
			return -1;
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	if (body) {
		b = strstr(buf, "\r\n\r\n");
		snprintf(body, body_len, "%s", b ? b + 4 : "");
	}
	return len > 12 && strncmp(buf, "HTTP/1.", 7) == 0 ? strtol(buf + 9, NULL, 10) : 0;
}

/* One request on a connection of its own, sent as given. A refused
 * request may be cut while it is still being sent; the answer counts. */
static inline long rl_request(int port, const char *req, size_t len, int timeout_ms, char *body,
			      size_t body_len)
{
	int fd = rl_connect(port);
	long status;

	(void)rl_send(fd, req, len);
	status = rl_answer(fd, timeout_ms, body, body_len);
	close(fd);
	return status;
}

/* A figure in kB of the process's /proc status ("VmRSS:", "VmHWM:"). */
static inline long rl_status_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t len = strlen(field);
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, len) == 0)
			kb = strtol(line + len, NULL, 10);
	fclose(f);
	assert_true(kb > 0);
	return kb;
}

static inline long rl_rss_kb(pid_t pid)
{
	return rl_status_kb(pid, "VmRSS:");
}

/* The peak resident memory since the process started. */
static inline long rl_peak_rss_kb(pid_t pid)
{
	return rl_status_kb(pid, "VmHWM:");
}

static inline long rl_fds(pid_t pid)
{
	char path[64];
	struct dirent *de;
	long n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* A whole file, NUL-terminated (malloc'd). */
static inline char *rl_slurp(const char *path, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char chunk[65536], *text = NULL;
	size_t len = 0;
	ssize_t n;

	assert_true(fd >= 0);
	tl_append(&text, &len, "", 0);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		tl_append(&text, &len, chunk, (size_t)n);
	close(fd);
	*ret_len = len;
	return text;
}

#endif
