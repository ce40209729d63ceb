/*
 * nodeslib: several `ledgerbox serve` nodes on one PostgreSQL database
 * behind nginx, for the multi-node tests: the second and later nodes are
 * made like the first (its data folder and environment, a state folder and
 * log of their own, a copy of its key-pepper), all are started, then nginx
 * in front of them (nginxlib.h), reached through a `struct server` whose
 * base is nginx's so the httplib calls work through it.
 */
#ifndef LEDGERBOX_TEST_NODESLIB_H
#define LEDGERBOX_TEST_NODESLIB_H

#include "http/httplib.h"
#include "multinode/nginxlib.h"

#define MN_PEPPER_BYTES 32
/* Node settings (for hl_prepare's environment) under which a burst meets
 * neither a full queue nor one key's or user's admission limits. */
#define MN_ADMISSION_UNLIMITED                                                                \
	"LEDGERBOX_QUEUE_MAX=256", "LEDGERBOX_KEY_CONCURRENT=1000",                         \
		"LEDGERBOX_USER_CONCURRENT=1000", "LEDGERBOX_ANALYZE_INFLIGHT_MAX=1000",    \
		"LEDGERBOX_KEY_RATE_PER_MIN=1000000", "LEDGERBOX_USER_RATE_PER_MIN=1000000"

static inline void mn_file_write(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* Copies the key-pepper the first node's keys were made with, so that
 * another node hashes keys the same way. */
static inline void mn_pepper_copy(const char *from_state, const char *to_state)
{
	char path[700], buf[MN_PEPPER_BYTES + 1];
	int fd;

	snprintf(path, sizeof(path), "%s/key-pepper", from_state);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fail_msg("no key-pepper in %s after creating keys", from_state);
		return;
	}
	assert_int_equal(read(fd, buf, sizeof(buf)), MN_PEPPER_BYTES);
	close(fd);
	snprintf(path, sizeof(path), "%s/key-pepper", to_state);
	mn_file_write(path, buf, MN_PEPPER_BYTES);
}

/* A node after `first`: its data and environment, its own state folder
 * (empty) and log, named after `name`; not started. */
static inline void mn_node_prepare_like_first(const struct server *first, struct server *s,
					      const char *name)
{
	*s = *first;
	s->pid = 0;
	snprintf(s->state, sizeof(s->state), "%s/%s-state", tl_tmp(), name);
	snprintf(s->log, sizeof(s->log), "%s/%s-server.log", tl_tmp(), name);
	assert_int_equal(mkdir(s->state, 0700), 0);
}

/* Copies the first node's pepper to the others, starts every node, then
 * nginx (named `name`) in front of them; ports[i] is node i's port, and
 * lb calls go through nginx. */
static inline void mn_start(struct server *nodes, int *ports, size_t n, struct nginx *ng,
			    struct server *lb, const char *name)
{
	for (size_t i = 1; i < n; i++)
		mn_pepper_copy(nodes[0].state, nodes[i].state);
	for (size_t i = 0; i < n; i++) {
		hl_start(&nodes[i]);
		ports[i] = nodes[i].port;
	}
	nl_start(ng, name, ports, n, 1);
	memset(lb, 0, sizeof(*lb));
	snprintf(lb->base, sizeof(lb->base), "%s", ng->base);
}

/* Whatever an earlier failure left running goes: nginx, then the nodes. */
static inline void mn_kill_all(struct nginx *ng, struct server *nodes, size_t n)
{
	if (ng->pid > 0) {
		kill(ng->pid, SIGTERM);
		waitpid(ng->pid, NULL, 0);
		ng->pid = 0;
	}
	for (size_t i = 0; i < n; i++)
		if (nodes[i].pid > 0) {
			kill(nodes[i].pid, SIGKILL);
			waitpid(nodes[i].pid, NULL, 0);
			nodes[i].pid = 0;
		}
}

#endif
