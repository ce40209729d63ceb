/*
 * testlib: small helpers shared by the cmocka test programs.
 *
 * Tests start the real `ledgerbox` binary. tests/run exports LEDGERBOX_BIN
 * (the binary under test), LEDGERBOX_DEMO (the demo data folder) and
 * LEDGERBOX_TEST_TMP (a scratch folder removed after the run).
 */
#ifndef LEDGERBOX_TESTLIB_H
#define LEDGERBOX_TESTLIB_H

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

struct tl_output {
	char *out;
	size_t out_len;
	char *err;
	size_t err_len;
	int exit_code; /* -1 when killed by a signal */
	pid_t pid;     /* the process that ran */
};

static inline const char *tl_env(const char *name)
{
	const char *v = getenv(name);
	if (!v || !*v) {
		fprintf(stderr, "testlib: %s is not set; run tests through tests/run\n", name);
		abort();
	}
	return v;
}

static inline const char *tl_bin(void) { return tl_env("LEDGERBOX_BIN"); }
static inline const char *tl_demo(void) { return tl_env("LEDGERBOX_DEMO"); }
static inline const char *tl_tmp(void) { return tl_env("LEDGERBOX_TEST_TMP"); }

/* Grows the buffer by half again when full, so a body of tens of MiB
 * arriving in small pieces is not copied once per piece (ASan's realloc
 * always moves, which made that quadratic and stalled the client long
 * enough for the server to cut it). */
static inline void tl_append(char **buf, size_t *len, const char *data, size_t n)
{
	size_t need = *len + n + 1;
	char *grown = *buf;

	if (!grown || malloc_usable_size(grown) < need) {
		grown = realloc(*buf, need + need / 2);
		assert_non_null(grown);
	}
	memcpy(grown + *len, data, n);
	*len += n;
	grown[*len] = '\0';
	*buf = grown;
}

/* Runs argv (argv[0] is a path), feeding `input` (may be NULL) on stdin,
 * and collects stdout, stderr and the exit code. */
static inline void tl_run(char *const argv[], const char *input, struct tl_output *ret)
{
	int in[2], out[2], err[2];
	pid_t pid;
	int status;
	size_t input_off = 0, input_len = input ? strlen(input) : 0;

	memset(ret, 0, sizeof(*ret));
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	if (input_len == 0) {
		close(in[1]);
		in[1] = -1;
	}
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		struct pollfd p[3] = { { out[0], POLLIN, 0 }, { err[0], POLLIN, 0 }, { in[1], POLLOUT, 0 } };
		int open_fds = (out[0] >= 0) + (err[0] >= 0);
		if (!open_fds)
			break;
		if (poll(p, 3, -1) < 0 && errno != EINTR)
			fail_msg("poll: %s", strerror(errno));
		for (int i = 0; i < 2; i++) {
			char chunk[65536];
			ssize_t n;
			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			n = read(p[i].fd, chunk, sizeof(chunk));
			if (n <= 0) {
				close(p[i].fd);
				if (i == 0)
					out[0] = -1;
				else
					err[0] = -1;
			} else if (i == 0) {
				tl_append(&ret->out, &ret->out_len, chunk, (size_t)n);
			} else {
				tl_append(&ret->err, &ret->err_len, chunk, (size_t)n);
			}
		}
		if (in[1] >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t n = write(in[1], input + input_off, input_len - input_off);
			if (n > 0)
				input_off += (size_t)n;
			if (n < 0 || input_off == input_len) {
				close(in[1]);
				in[1] = -1;
			}
		}
	}
	if (in[1] >= 0)
		close(in[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	ret->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	ret->pid = pid;
	if (!ret->out)
		tl_append(&ret->out, &ret->out_len, "", 0);
	if (!ret->err)
		tl_append(&ret->err, &ret->err_len, "", 0);
}

static inline void tl_output_free(struct tl_output *o)
{
	free(o->out);
	free(o->err);
	memset(o, 0, sizeof(*o));
}

/* Writes a file under LEDGERBOX_TEST_TMP and returns its malloc'd path. */
static inline char *tl_write_tmp(const char *name, const char *content)
{
	char *path;
	FILE *f;
	assert_true(asprintf(&path, "%s/%s", tl_tmp(), name) > 0);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, strlen(content), f), strlen(content));
	assert_int_equal(fclose(f), 0);
	return path;
}

#endif
