/*
 * abuselib: what the abuse checks (test_abuse.c) attack with and look
 * with: requests over libcurl or raw sockets, chunked and endless bodies,
 * JSON bombs, clients that send a byte at a time, requests from other
 * loopback addresses; and the checks that nothing leaked (a needle absent
 * from a file or a tree, log lines counted, inotify watching the state
 * folder, listings of the scratch folder before and after).
 *
 * Every helper talks to `srv`, the one server of the including test.
 */
#ifndef LEDGERBOX_TEST_ABUSELIB_H
#define LEDGERBOX_TEST_ABUSELIB_H

#include <dirent.h>
#include <ftw.h>
#include <sys/inotify.h>

#include "http/httplib.h"
#include "load/rawlib.h"

static struct server srv;

static long ab_request(const char *method, const char *path, const char *key, const char *ctype,
		       const char *body, char *out, size_t out_len)
{
	size_t blen = body ? strlen(body) : 0, hlen;
	char *req = malloc(strlen(path) + blen + 512);
	long status;

	assert_non_null(req);
	hlen = (size_t)snprintf(req, strlen(path) + 512,
				"%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
				"Authorization: Bearer %s\r\nContent-Type: %s\r\n"
				"Content-Length: %zu\r\n\r\n",
				method, path, key, ctype ? ctype : "application/json", blen);
	memcpy(req + hlen, body ? body : "", blen + 1);
	status = rl_request(srv.port, req, hlen + blen, 10000, out, out_len);
	free(req);
	return status;
}

/* 404 or 400, and nothing that looks like a file from elsewhere. */
static void ab_expect_refused(const char *method, const char *path, const char *key)
{
	char body[4096];
	long status = ab_request(method, path, key, NULL, NULL, body, sizeof(body));

	if (status != 404 && status != 400)
		fail_msg("%s %s: %ld %s", method, path, status, body);
	assert_null(strstr(body, "SQLite format 3"));
	assert_null(strstr(body, "root:"));
}

static void ab_healthy(void)
{
	struct reply r;

	hl_call_timeout(&srv, "GET", "/healthz", NULL, NULL, 0, NULL, 5000, &r);
	assert_int_equal(r.status, 200);
	hl_reply_free(&r);
}

/* Neither needle nor any `window` characters of it appear in the file. */
static void ab_assert_absent_file(const char *path, const char *needle, size_t window)
{
	size_t len, nl = strlen(needle);
	char *text = rl_slurp(path, &len);

	if (memmem(text, len, needle, nl))
		fail_msg("%s holds a secret in full", path);
	for (size_t i = 0; window <= nl && i + window <= nl; i++)
		if (memmem(text, len, needle + i, window))
			fail_msg("%s holds %zu characters of a secret", path, window);
	free(text);
}

static const char *tree_needle;
static size_t tree_window;
static int tree_files;

static int tree_visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_F) {
		ab_assert_absent_file(path, tree_needle, tree_window);
		tree_files++;
	}
	return 0;
}

static void ab_assert_absent_tree(const char *dir, const char *needle, size_t window)
{
	tree_needle = needle;
	tree_window = window;
	tree_files = 0;
	assert_int_equal(nftw(dir, tree_visit, 16, FTW_PHYS), 0);
	assert_true(tree_files >= 3); /* the database, the pepper, artifacts */
}

static int ab_log_count(const char *needle)
{
	size_t len;
	char *text = rl_slurp(srv.log, &len);
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(text);
	return n;
}

/* Opens of anything in the state folder (and two levels under it) or in
 * the folder above it, seen by inotify between watch and end. */
static int watch_fd = -1;

static void watch_add(const char *dir, int depth)
{
	DIR *d;
	struct dirent *de;

	assert_true(inotify_add_watch(watch_fd, dir, IN_OPEN) >= 0);
	if (depth == 0 || !(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		char sub[1024];
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
		watch_add(sub, depth - 1);
	}
	closedir(d);
}

/* Reads the pending events; returns how many, printing them if asked. */
static int watch_drain(bool print)
{
	char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
	int opens = 0;
	ssize_t n;

	while ((n = read(watch_fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
			if (print)
				printf("# opened: %s\n", ev->len ? ev->name : "(a watched folder)");
			opens++;
			p += sizeof(*ev) + ev->len;
		}
	return opens;
}

static void ab_watch_opens(const char *state_dir)
{
	watch_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	assert_true(watch_fd >= 0);
	watch_add(state_dir, 2);
	watch_add(tl_tmp(), 0);
	watch_drain(false); /* the walk above opened the folders itself */
}

static int ab_watch_end(void)
{
	int opens;

	usleep(200000);
	opens = watch_drain(true);
	close(watch_fd);
	watch_fd = -1;
	return opens;
}

/* Every path under the test's scratch folder (the data and state folders
 * and their neighbours), minus the ones the server rewrites anyway. */
struct ab_listing {
	char *text;
	size_t len;
};

static struct ab_listing *listing_now;

static int listing_visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	if (strstr(path, "-state/artifacts/") || strstr(path, ".db-") || strstr(path, ".log"))
		return 0;
	tl_append(&listing_now->text, &listing_now->len, path, strlen(path));
	tl_append(&listing_now->text, &listing_now->len, "\n", 1);
	return 0;
}

static void ab_listing_take(struct ab_listing *l)
{
	memset(l, 0, sizeof(*l));
	listing_now = l;
	assert_int_equal(nftw(tl_tmp(), listing_visit, 16, FTW_PHYS), 0);
}

static void ab_listing_assert_equal(const struct ab_listing *a, const struct ab_listing *b)
{
	if (a->len != b->len || memcmp(a->text, b->text, a->len) != 0)
		fail_msg("files changed:\nbefore:\n%s\nafter:\n%s", a->text, b->text);
}

static void ab_listing_free(struct ab_listing *l)
{
	free(l->text);
	memset(l, 0, sizeof(*l));
}

/* Sends `total` bytes of body in 64 KiB chunks, then the last chunk, and
 * reads the answer (0: the connection was closed first). */
static long ab_chunked(const char *path, const char *key, const char *ctype, size_t total,
		       char *body, size_t body_len, size_t *ret_sent)
{
	static char chunk[65536 + 16];
	char head[512];
	int fd = rl_connect(srv.port);
	size_t sent = 0, hl;
	long status;

	hl = (size_t)snprintf(chunk, sizeof(chunk), "10000\r\n");
	for (size_t i = 0; i < 65536; i++)
		chunk[hl + i] = i % 64 == 63 ? '\n' : 'x';
	memcpy(chunk + hl + 65536, "\r\n", 2);
	snprintf(head, sizeof(head),
		 "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n", path, key, ctype);
	assert_true(rl_send(fd, head, strlen(head)));
	while (sent < total && rl_send(fd, chunk, hl + 65536 + 2))
		sent += 65536;
	if (sent >= total)
		(void)rl_send(fd, "0\r\n\r\n", 5);
	status = rl_answer(fd, 10000, body, body_len);
	close(fd);
	*ret_sent = sent;
	return status;
}

/* POSTs a hostile JSON body to /api/analyze with key: the answer must come within
 * 5 s, with `want` and the error code, and the server must stay up. */
static void ab_bomb(const char *key, const char *json, long want, const char *code)
{
	char head[512], out[4096];
	size_t len = strlen(json), off = 0;
	struct timespec t0;
	int fd = rl_connect(srv.port);
	long status, ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	snprintf(head, sizeof(head),
		 "POST /api/analyze HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
		 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n", key, len);
	assert_true(rl_send(fd, head, strlen(head)));
	/* Send the body until the server answers (it may not wait for it). */
	while (off < len) {
		struct pollfd p = { fd, POLLIN, 0 };
		size_t n = len - off < 65536 ? len - off : 65536;
		if (poll(&p, 1, 0) > 0 || !rl_send(fd, json + off, n))
			break;
		off += n;
	}
	status = rl_answer(fd, 10000, out, sizeof(out));
	ms = rl_elapsed_ms(&t0);
	close(fd);
	printf("# JSON bomb of %zu bytes (%zu sent): %ld in %ld ms\n", len, off, status, ms);
	if (status != want || (code && !strstr(out, code)))
		fail_msg("wanted %ld %s, got %ld %s", want, code ? code : "", status, out);
	assert_true(ms < 5000);
	ab_healthy();
}

/* A client that sends a byte at a time. */
struct ab_slow {
	int fd;
	long cut_ms; /* when the server closed it; -1 while open */
};

static void ab_slow_start(struct ab_slow *s, const char *head)
{
	s->fd = rl_connect(srv.port);
	s->cut_ms = -1;
	assert_true(rl_send(s->fd, head, strlen(head)));
}

static bool slow_closed(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char c[256];

	if (poll(&p, 1, 0) <= 0)
		return false;
	return recv(fd, c, sizeof(c), MSG_DONTWAIT) <= 0;
}

static void ab_slow_drip(struct ab_slow *s, int n, long max_ms)
{
	struct timespec t0;
	int open = n;
	long next_probe = 2000;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (open > 0 && rl_elapsed_ms(&t0) < max_ms) {
		usleep(250000);
		for (int i = 0; i < n; i++) {
			if (s[i].cut_ms >= 0)
				continue;
			if (slow_closed(s[i].fd) || send(s[i].fd, "a", 1, MSG_NOSIGNAL) != 1) {
				s[i].cut_ms = rl_elapsed_ms(&t0);
				close(s[i].fd);
				open--;
			}
		}
		if (rl_elapsed_ms(&t0) >= next_probe) {
			ab_healthy(); /* others are served meanwhile */
			next_probe += 2000;
		}
	}
	for (int i = 0; i < n; i++)
		if (s[i].cut_ms < 0)
			close(s[i].fd);
}

/* GET path with a bearer key from a given loopback address; returns the
 * status and the time it took. */
static size_t hl_discard(char *data, size_t size, size_t n, void *ctx)
{
	(void)data;
	(void)ctx;
	return size * n;
}

static long ab_call_from(const char *src, const char *path, const char *key, long *ret_ms)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[256], auth[256], iface[64];
	struct timespec t0;
	long status = 0;

	assert_non_null(c);
	snprintf(url, sizeof(url), "%s%s", srv.base, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
	snprintf(iface, sizeof(iface), "host!%s", src);
	h = curl_slist_append(h, auth);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_INTERFACE, iface);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, hl_discard);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	*ret_ms = rl_elapsed_ms(&t0);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return status;
}

#endif
