/*
 * nginxlib: Debian's nginx as a round-robin load balancer in front of
 * several `ledgerbox serve` nodes, for the multi-node tests.
 *
 * Everything nginx touches lives in one folder of the test's scratch
 * space: the generated configuration, the pid file, the error and access
 * logs and the temp paths, so a test never reads or writes /var/log/nginx
 * or /run. nginx runs in the foreground (`daemon off;`) as a child of the
 * test, so nl_stop() can wait for it; its master waits for its workers
 * before it exits, so after nl_stop() no nginx process of the test is left.
 *
 * The configuration around the nodes is the shipped one
 * (packaging/nginx/ledgerbox.conf's upstream block and
 * packaging/nginx/ledgerbox-proxy.conf), so the tests check what an
 * operator installs.
 *
 * The access log records, per request, the request line, the status and
 * $upstream_addr, the node that answered (several, comma-separated, when
 * nginx passed the request on): tests count by it how the load was
 * spread.
 */
#ifndef LEDGERBOX_TEST_NGINXLIB_H
#define LEDGERBOX_TEST_NGINXLIB_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "testlib.h"

#define NL_NGINX "/usr/sbin/nginx"
#define NL_UPSTREAMS_MAX 8

struct nginx {
	pid_t pid;
	int port;
	char base[64]; /* http://127.0.0.1:PORT */
	char dir[512]; /* the prefix: conf, logs, temp paths, pid */
	char conf[600];
	char access_log[600];
	char error_log[600];
};

static inline int nl_free_port(void)
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

/* True when something accepts TCP connections on 127.0.0.1:port. */
static inline bool nl_port_open(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool open_now;

	assert_true(fd >= 0);
	open_now = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return open_now;
}

/* The folder of the nginx configuration under test: the shipped one,
 * packaging/nginx of the source tree, unless LEDGERBOX_TEST_NGINX_DIR
 * names another folder holding a ledgerbox.conf and a
 * ledgerbox-proxy.conf (to measure an older configuration against it). */
static inline void nl_conf_dir(char *ret, size_t len)
{
	const char *other = getenv("LEDGERBOX_TEST_NGINX_DIR");

	if (other && *other)
		snprintf(ret, len, "%s", other);
	else
		snprintf(ret, len, "%s/packaging/nginx", tl_env("LEDGERBOX_SRC"));
}

/* Copies the body of the site file's `upstream ledgerbox` block to f, with
 * its first `server ADDRESS PARAMS;` line written once per test node (the
 * node's loopback address, the same PARAMS) and its other server lines
 * dropped: the test balances exactly its own nodes, with the shipped
 * health settings. */
static inline void nl_upstream_copy(FILE *f, const char *site_conf, const int *ports,
				    size_t n_ports)
{
	FILE *in = fopen(site_conf, "r");
	char line[1024];
	bool inside = false, closed = false, server_seen = false;

	if (!in) {
		fail_msg("cannot read %s: %s", site_conf, strerror(errno));
		return;
	}
	while (!closed && fgets(line, sizeof(line), in)) {
		const char *t = line + strspn(line, " \t");

		if (!inside) {
			inside = strncmp(t, "upstream ledgerbox {", 20) == 0;
		} else if (*t == '}') {
			closed = true;
		} else if (strncmp(t, "server ", 7) == 0) {
			const char *params = t + 7 + strspn(t + 7, " ");

			params += strcspn(params, " ;");
			for (size_t i = 0; i < n_ports && !server_seen; i++)
				fprintf(f, "    server 127.0.0.1:%d%s", ports[i], params);
			server_seen = true;
		} else if (*t != '#' && *t != '\n') {
			fprintf(f, "    %s", t);
		}
	}
	fclose(in);
	if (!closed || !server_seen)
		fail_msg("%s has no `upstream ledgerbox { server ...; }` block", site_conf);
}

/* The configuration: the test's own paths and logs around the shipped
 * upstream block (nl_upstream_copy) and the shipped location directives,
 * included as they are, so the test checks what is shipped. */
static inline void nl_write_conf(const struct nginx *ng, const int *ports, size_t n_ports,
				 int workers)
{
	char dir[512], site_conf[600];
	FILE *f = fopen(ng->conf, "w");

	assert_non_null(f);
	nl_conf_dir(dir, sizeof(dir));
	snprintf(site_conf, sizeof(site_conf), "%s/ledgerbox.conf", dir);
	fprintf(f,
		"%s"
		"daemon off;\n"
		"worker_processes %d;\n"
		"pid %s/nginx.pid;\n"
		"error_log %s info;\n"
		"events { worker_connections 2048; }\n"
		"http {\n"
		"  log_format lbx '$msec \"$request\" $status upstream=$upstream_addr "
		"upstream_status=$upstream_status rt=$request_time';\n"
		"  access_log %s lbx;\n"
		"  client_body_temp_path %s/client_body;\n"
		"  proxy_temp_path %s/proxy;\n"
		"  fastcgi_temp_path %s/fastcgi;\n"
		"  uwsgi_temp_path %s/uwsgi;\n"
		"  scgi_temp_path %s/scgi;\n"
		"  upstream ledgerbox {\n",
		geteuid() == 0 ? "user root;\n" : "", workers, ng->dir, ng->error_log, ng->access_log,
		ng->dir, ng->dir, ng->dir, ng->dir, ng->dir);
	nl_upstream_copy(f, site_conf, ports, n_ports);
	fprintf(f,
		"  }\n"
		"  server {\n"
		"    listen 127.0.0.1:%d;\n"
		"    location / {\n"
		"      include %s/ledgerbox-proxy.conf;\n"
		"    }\n"
		"  }\n"
		"}\n",
		ng->port, dir);
	assert_int_equal(fclose(f), 0);
}

/* Writes the configuration under LEDGERBOX_TEST_TMP/<name>-nginx and
 * starts nginx on a free loopback port in front of the nodes on `ports`,
 * returning once it accepts connections. */
static inline void nl_start(struct nginx *ng, const char *name, const int *ports, size_t n_ports,
			    int workers)
{
	char early_log[700];

	assert_true(n_ports > 0 && n_ports <= NL_UPSTREAMS_MAX);
	memset(ng, 0, sizeof(*ng));
	snprintf(ng->dir, sizeof(ng->dir), "%s/%s-nginx", tl_tmp(), name);
	snprintf(ng->conf, sizeof(ng->conf), "%s/nginx.conf", ng->dir);
	snprintf(ng->access_log, sizeof(ng->access_log), "%s/access.log", ng->dir);
	snprintf(ng->error_log, sizeof(ng->error_log), "%s/error.log", ng->dir);
	snprintf(early_log, sizeof(early_log), "%s/early-error.log", ng->dir);
	assert_int_equal(mkdir(ng->dir, 0700), 0);
	ng->port = nl_free_port();
	snprintf(ng->base, sizeof(ng->base), "http://127.0.0.1:%d", ng->port);
	nl_write_conf(ng, ports, n_ports, workers);
	ng->pid = fork();
	assert_true(ng->pid >= 0);
	if (ng->pid == 0) {
		/* -e: the log for messages before the configuration is read,
		 * which would otherwise go to /var/log/nginx. */
		char *argv[] = { NL_NGINX, "-p", ng->dir, "-c", ng->conf, "-e", early_log, NULL };
		int fd = open(ng->error_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

		if (fd >= 0)
			dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		int status;

		if (nl_port_open(ng->port))
			return;
		if (waitpid(ng->pid, &status, WNOHANG) == ng->pid) {
			ng->pid = 0;
			fail_msg("nginx exited at start; see %s and %s", ng->error_log, early_log);
		}
		usleep(50000);
	}
	fail_msg("nginx did not start listening; see %s", ng->error_log);
}

/* Stops nginx (SIGQUIT: finish the requests in flight, then exit) and
 * returns its exit status (-1 when it died by a signal). Safe to call
 * twice. */
static inline int nl_stop(struct nginx *ng)
{
	int status;

	if (ng->pid <= 0)
		return 0;
	kill(ng->pid, SIGQUIT);
	assert_int_equal(waitpid(ng->pid, &status, 0), ng->pid);
	ng->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Counts the access log's lines whose request line starts with `request`
 * ("POST /api/analyze") by the node that answered: counts[i] for
 * 127.0.0.1:ports[i]; *ret_other counts lines naming none of them (no
 * upstream, or several after a retry). */
static inline void nl_count_by_upstream(const struct nginx *ng, const char *request,
					const int *ports, size_t n_ports, long *counts,
					long *ret_other)
{
	FILE *f = fopen(ng->access_log, "r");
	char line[2048], want[64], quoted[256];

	assert_non_null(f);
	snprintf(quoted, sizeof(quoted), "\"%s", request);
	memset(counts, 0, n_ports * sizeof(*counts));
	*ret_other = 0;
	while (fgets(line, sizeof(line), f)) {
		const char *up = strstr(line, " upstream=");
		bool matched = false;

		if (!strstr(line, quoted))
			continue;
		for (size_t i = 0; up && i < n_ports && !matched; i++) {
			snprintf(want, sizeof(want), " upstream=127.0.0.1:%d ", ports[i]);
			if (strncmp(up, want, strlen(want)) == 0) {
				counts[i]++;
				matched = true;
			}
		}
		if (!matched)
			(*ret_other)++;
	}
	fclose(f);
}

#endif
