/*
 * httplib: the end-to-end tests' side of the wire: start a real
 * `ledgerbox serve` on a free loopback port with its own state and data
 * folders, make keys with the real CLI, and call it over HTTP with libcurl.
 */
#ifndef LEDGERBOX_TEST_HTTPLIB_H
#define LEDGERBOX_TEST_HTTPLIB_H

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <jansson.h>

#include "testlib.h"
#include "support/pgtest.h"

struct server {
	pid_t pid;
	int port;
	char base[64];
	char state[512];
	char data[512];
	char log[600];
	char *extra_env[24];
	/* LEDGERBOX_TEST_BACKEND=postgres: a fresh database per server, as
	 * "LEDGERBOX_DATABASE_URL=..." (else empty: SQLite in `state`). */
	char db_env[600];
};

struct reply {
	long status;
	char *body;
	size_t len;
	char *headers;
	size_t headers_len;
	json_t *json;
};

static inline size_t hl_collect(char *data, size_t size, size_t n, void *ctx)
{
	char **parts = ctx; /* [0] buffer, [1] (char *)length */
	size_t *len = (size_t *)(void *)parts[1];
	tl_append(&parts[0], len, data, size * n);
	return size * n;
}

static inline int hl_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* Calls the server. body may be NULL; content_type defaults to JSON. */
/* The same with one extra request header ("Accept: text/event-stream"),
 * or none when extra_header is NULL. */
static inline void hl_call_header(struct server *s, const char *method, const char *path,
				  const char *key, const char *body, size_t body_len,
				  const char *content_type, long timeout_ms, const char *extra_header,
				  struct reply *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[1024], auth[256], ctype[128];
	size_t blen = 0, hlen = 0;
	char *bparts[2] = { NULL, (char *)(void *)&blen };
	char *hparts[2] = { NULL, (char *)(void *)&hlen };
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	assert_non_null(c);
	snprintf(url, sizeof(url), "%s%s", s->base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, hl_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, bparts);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, hl_collect);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, hparts);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (key) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
		h = curl_slist_append(h, auth);
	}
	if (body) {
		snprintf(ctype, sizeof(ctype), "Content-Type: %s",
			 content_type ? content_type : "application/json");
		h = curl_slist_append(h, ctype);
		h = curl_slist_append(h, "Expect:");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
	if (extra_header)
		h = curl_slist_append(h, extra_header);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	else
		r->status = -(long)rc;
	r->body = bparts[0] ? bparts[0] : strdup("");
	r->len = blen;
	r->headers = hparts[0] ? hparts[0] : strdup("");
	r->headers_len = hlen;
	r->json = json_loadb(r->body, r->len, 0, NULL);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

static inline void hl_call_timeout(struct server *s, const char *method, const char *path,
				   const char *key, const char *body, size_t body_len,
				   const char *content_type, long timeout_ms, struct reply *r)
{
	hl_call_header(s, method, path, key, body, body_len, content_type, timeout_ms, NULL, r);
}

static inline void hl_call(struct server *s, const char *method, const char *path, const char *key,
			   const char *body, struct reply *r)
{
	hl_call_timeout(s, method, path, key, body, body ? strlen(body) : 0, NULL, 60000, r);
}

static inline void hl_reply_free(struct reply *r)
{
	free(r->body);
	free(r->headers);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

static inline const char *hl_str(json_t *j, const char *key)
{
	return json_string_value(json_object_get(j, key));
}

static inline char *hl_header(const struct reply *r, const char *name)
{
	size_t nl = strlen(name);

	for (const char *line = r->headers; line && *line; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			const char *v = line + nl + 1, *end;
			while (*v == ' ')
				v++;
			end = strpbrk(v, "\r\n");
			return strndup(v, end ? (size_t)(end - v) : strlen(v));
		}
	}
	return NULL;
}

/* True when tests/run asks for the end-to-end tests on PostgreSQL. */
static inline bool hl_on_postgres(void)
{
	const char *b = getenv("LEDGERBOX_TEST_BACKEND");
	return b && strcmp(b, "postgres") == 0;
}

/* The server's database in this process's environment (for the server
 * and the CLI commands run against its state). */
static inline void hl_db_env_apply(struct server *s)
{
	if (s->db_env[0])
		setenv("LEDGERBOX_DATABASE_URL", strchr(s->db_env, '=') + 1, 1);
	else
		unsetenv("LEDGERBOX_DATABASE_URL");
}

static inline void hl_env_apply(struct server *s)
{
	setenv("LEDGERBOX_STATE_DIR", s->state, 1);
	setenv("LEDGERBOX_DATA_DIR", s->data, 1);
	hl_db_env_apply(s);
	for (int i = 0; s->extra_env[i]; i++)
		putenv(s->extra_env[i]);
}

/* Creates a key with the CLI at bin and returns it (malloc'd). */
static inline char *hl_key_create_by(const char *bin, struct server *s, const char *user,
				     const char *team, const char *role)
{
	char *argv[] = { (char *)bin, "keys", "create", "--user", (char *)user, "--team",
			 (char *)team, "--role", (char *)role, "--state-dir", s->state, NULL };
	struct tl_output o;
	char *key;

	hl_db_env_apply(s);
	tl_run(argv, NULL, &o);
	if (o.exit_code != 0)
		fail_msg("keys create failed: %s", o.err);
	key = strndup(o.out, strcspn(o.out, "\r\n"));
	tl_output_free(&o);
	assert_true(strncmp(key, "lbx_", 4) == 0);
	return key;
}

/* Creates a key with the CLI under test and returns it (malloc'd). */
static inline char *hl_key_create(struct server *s, const char *user, const char *team,
				  const char *role)
{
	return hl_key_create_by(tl_bin(), s, user, team, role);
}

/* Folders under LEDGERBOX_TEST_TMP named after `name`, the demo dataset
 * in DATA_DIR/demo, and the server's extra environment (NULL-terminated,
 * at most 23 entries). */
static inline void hl_prepare(struct server *s, const char *name, char *const env[])
{
	char *argv[] = { (char *)tl_bin(), "demo-data", NULL, NULL };
	char demo[600];
	struct tl_output o;
	int n = 0;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	/* The PostgreSQL pass runs in the same scratch folder as the SQLite
	 * one: its folders get their own names. */
	const char *pass = hl_on_postgres() ? "-pg" : "";

	snprintf(s->state, sizeof(s->state), "%s/%s%s-state", tl_tmp(), name, pass);
	snprintf(s->data, sizeof(s->data), "%s/%s%s-data", tl_tmp(), name, pass);
	snprintf(s->log, sizeof(s->log), "%s/%s%s-server.log", tl_tmp(), name, pass);
	mkdir(s->data, 0755);
	snprintf(demo, sizeof(demo), "%s/demo", s->data);
	argv[2] = demo;
	tl_run(argv, NULL, &o);
	assert_int_equal(o.exit_code, 0);
	tl_output_free(&o);
	while (n < 23 && env[n]) {
		s->extra_env[n] = env[n];
		n++;
	}
	s->extra_env[n] = NULL;
	s->db_env[0] = '\0';
	if (hl_on_postgres()) {
		char prefix[48], url[PGT_URL_MAX];
		size_t i = 0;

		/* Database names: lower-case letters, digits and '_'. */
		for (const char *p = name; *p && i < sizeof(prefix) - 1; p++)
			prefix[i++] = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ? *p : '_';
		prefix[i] = '\0';
		pgt_db_create(prefix[0] ? prefix : "e2e", url);
		snprintf(s->db_env, sizeof(s->db_env), "LEDGERBOX_DATABASE_URL=%s", url);
	}
}

/* Starts `ledgerbox serve` on a free port without waiting for it (a test
 * of a server that must refuse to start waits itself). */
static inline void hl_spawn(struct server *s)
{
	char listen[64];

	s->port = hl_free_port();
	snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%d", s->port);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", s->port);
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		char *argv[] = { (char *)tl_bin(), "serve", NULL };
		dup2(fd, 2);
		hl_env_apply(s);
		setenv("LEDGERBOX_LISTEN", listen, 1);
		execv(argv[0], argv);
		_exit(127);
	}
}

static inline void hl_start(struct server *s)
{
	struct reply r;

	hl_spawn(s);
	for (int i = 0; i < 200; i++) {
		hl_call_timeout(s, "GET", "/healthz", NULL, NULL, 0, NULL, 1000, &r);
		if (r.status == 200) {
			hl_reply_free(&r);
			return;
		}
		hl_reply_free(&r);
		usleep(50000);
	}
	fail_msg("ledgerbox serve did not start; see %s", s->log);
}

/* Stops the server with `sig` and returns its exit status (-1 if killed). */
static inline int hl_stop(struct server *s, int sig)
{
	int status;

	if (s->pid <= 0)
		return -1;
	kill(s->pid, sig);
	assert_int_equal(waitpid(s->pid, &status, 0), s->pid);
	s->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Stops the server with SIGTERM for a group teardown: 0 when it exited
 * cleanly (so also without a leak reported under LeakSanitizer), else -1
 * with a TAP line pointing at its log. */
static inline int hl_stop_clean(struct server *s)
{
	int status = hl_stop(s, SIGTERM);

	if (status != 0)
		printf("not ok - the server exited with status %d; see %s\n", status, s->log);
	return status == 0 ? 0 : -1;
}

/* hl_stop_clean() for a group that also set up libcurl. */
static inline int hl_finish(struct server *s)
{
	curl_global_cleanup();
	return hl_stop_clean(s);
}

#endif
