/*
 * supervise: the parent's watch over one run, from "go" until the
 * namespace's init has been reaped.
 *
 * One poll() loop reads stdout, stderr and the result channel into bounded
 * buffers (bytes past the cap are read and dropped so the writer never
 * blocks), takes control messages from the child, and wakes at least every
 * CPU_POLL_MS to check the wall clock and the cgroup's CPU time. A limit hit
 * kills the namespace's init with SIGKILL, which makes the kernel kill every
 * process in the namespace, whatever session or process group it is in.
 *
 * The loop ends when init has been reaped (all processes are gone then) and
 * every pipe has reached end of file. A warm run (finish_on_result) may end
 * sooner: once the driver's whole result line has arrived and stdout,
 * stderr and the result channel are all at end of file, nothing the
 * analyst wrote can still come, so the run is complete. The readings are
 * taken at that instant, the sandbox is sent SIGKILL, and init is left for
 * the caller to reap: the interpreter's exit (tens of milliseconds of
 * unmapping with pandas loaded) is neither waited for nor billed. A program
 * that ends any other way (os._exit, a signal, a process still holding a
 * pipe) sends no such line, or init reports first, and the run ends as
 * above.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/internal.h"
#include "util/buf.h"
#include "util/banned.h"

#define CPU_POLL_MS 20
#define READ_CHUNK (64 * 1024)

enum { W_STDOUT, W_STDERR, W_RESULT, W_CTL, W_PID, W_CANCEL, W_COUNT };

struct watch {
	const struct supervise_io *io;
	struct supervise_outcome *out;
	struct buf bufs[3];
	struct pollfd pfd[W_COUNT];
	uint64_t start_ms;
	bool init_done;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void watch_kill(struct watch *w, unsigned reason)
{
	if (w->init_done)
		return;
	if (!w->out->killed_for)
		w->out->killed_for = reason;
	kill(w->io->init_pid, SIGKILL);
	cgroup_run_kill(w->io->cg);
}

static int read_stream(struct watch *w, int i)
{
	char chunk[READ_CHUNK];
	ssize_t n = read(w->pfd[i].fd, chunk, sizeof(chunk));
	size_t kept;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		close(w->pfd[i].fd);
		w->pfd[i].fd = -1;
		return 0;
	}
	kept = w->bufs[i].len;
	if (buf_append(&w->bufs[i], chunk, (size_t)n) < 0)
		return -ENOMEM;
	kept = w->bufs[i].len - kept;
	if (i == W_STDOUT && kept > 0 && w->io->on_stdout)
		w->io->on_stdout(w->io->on_stdout_ctx, chunk, kept);
	/* Everything read counts, the result channel too: endless writes to
	 * it would otherwise cost the supervisor CPU until the wall limit. */
	if (w->bufs[W_STDOUT].seen_bytes + w->bufs[W_STDERR].seen_bytes +
		    w->bufs[W_RESULT].seen_bytes >
	    w->io->limits->output_drain_bytes + w->io->limits->table_bytes)
		watch_kill(w, LIMIT_HIT_OUTPUT);
	return 0;
}

static void take_outdir(struct watch *w, struct msghdr *mh)
{
	struct cmsghdr *cm = CMSG_FIRSTHDR(mh);
	int fd;

	if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
		return;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	if (w->out->out_dirfd >= 0)
		close(w->out->out_dirfd);
	w->out->out_dirfd = fd;
}

static void read_control(struct watch *w)
{
	struct ctl_msg msg;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { &msg, sizeof(msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf) };
	ssize_t n = recvmsg(w->pfd[W_CTL].fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n != (ssize_t)sizeof(msg)) {
		w->pfd[W_CTL].fd = -1; /* the caller owns and closes it */
		return;
	}
	if (msg.kind == CTL_OUTDIR) {
		take_outdir(w, &mh);
	} else if (msg.kind == CTL_STATUS) {
		w->out->have_payload_status = true;
		w->out->payload_status = msg.value;
	} else if (msg.kind == CTL_ERROR && !w->out->setup_errno) {
		w->out->setup_errno = msg.value ? msg.value : EIO;
		msg.text[sizeof(msg.text) - 1] = '\0';
		memcpy(w->out->setup_step, msg.text, sizeof(msg.text));
	}
}

static void reap_init(struct watch *w)
{
	struct rusage ru;
	int status;
	pid_t pid = wait4(w->io->init_pid, &status, WNOHANG, &ru);

	if (pid != w->io->init_pid)
		return;
	w->init_done = true;
	w->out->init_status = status;
	w->out->init_cpu_ms = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
			      (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
	w->out->init_maxrss_bytes = (uint64_t)ru.ru_maxrss * 1024;
	w->pfd[W_PID].fd = -1;
}

static void check_limits(struct watch *w)
{
	const struct sandbox_limits *l = w->io->limits;
	uint64_t cpu_ns;

	if (now_ms() - w->start_ms >= l->wall_ms)
		watch_kill(w, LIMIT_HIT_WALL);
	else if (cgroup_run_cpu_ns(w->io->cg, &cpu_ns) == 0 && cpu_ns / 1000000 >= l->cpu_ms)
		watch_kill(w, LIMIT_HIT_CPU);
}

static bool streams_open(const struct watch *w)
{
	return w->pfd[W_STDOUT].fd >= 0 || w->pfd[W_STDERR].fd >= 0 || w->pfd[W_RESULT].fd >= 0;
}

/* The exit status the warm driver put first in its one result line,
 * {"exit":N,...} followed by a newline and nothing else. */
static int result_exit_code(const struct buf *b, int *ret)
{
	static const char prefix[] = "{\"exit\":";
	const char *p;
	char *end;
	long code;

	if (b->truncated || b->len < sizeof(prefix) + 2 || memcmp(b->data, prefix, sizeof(prefix) - 1) ||
	    memchr(b->data, '\n', b->len) != b->data + b->len - 1)
		return -EPROTO;
	p = b->data + sizeof(prefix) - 1;
	if (*p < '0' || *p > '9')
		return -EPROTO;
	code = strtol(p, &end, 10);
	if (*end != ',' || code < 0 || code > 255)
		return -EPROTO;
	*ret = (int)code;
	return 0;
}

/* Ends a warm run whose result is complete (see the top of this file). */
static bool finish_on_result(struct watch *w)
{
	int code;

	if (!w->io->finish_on_result || w->init_done || w->out->killed_for ||
	    w->out->have_payload_status || streams_open(w) ||
	    result_exit_code(&w->bufs[W_RESULT], &code) < 0)
		return false;
	cgroup_run_stats(w->io->cg, &w->out->stats);
	w->out->have_stats = true;
	w->out->have_payload_status = true;
	w->out->payload_status = W_EXITCODE(code, 0);
	w->out->finished_on_result = true;
	kill(w->io->init_pid, SIGKILL);
	cgroup_run_kill(w->io->cg);
	return true;
}

static int watch_loop(struct watch *w)
{
	/* After init is gone every writer is gone; this only bounds a pipe
	 * held open by something unexpected. */
	uint64_t drain_deadline = 0;

	while (!w->init_done || streams_open(w)) {
		int timeout = w->init_done ? 50 : CPU_POLL_MS;
		int r;

		if (poll(w->pfd, W_COUNT, timeout) < 0 && errno != EINTR)
			return -errno;
		for (int i = W_STDOUT; i <= W_RESULT; i++)
			if (w->pfd[i].fd >= 0 && (w->pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    (r = read_stream(w, i)) < 0)
				return r;
		if (w->pfd[W_CTL].fd >= 0 && (w->pfd[W_CTL].revents & (POLLIN | POLLHUP)))
			read_control(w);
		if (w->pfd[W_PID].fd >= 0 && (w->pfd[W_PID].revents & POLLIN))
			reap_init(w);
		if (w->pfd[W_CANCEL].fd >= 0 && w->pfd[W_CANCEL].revents) {
			watch_kill(w, LIMIT_HIT_CANCELLED);
			w->pfd[W_CANCEL].fd = -1;
		}
		if (finish_on_result(w))
			break;
		if (!w->init_done) {
			check_limits(w);
			continue;
		}
		if (!drain_deadline)
			drain_deadline = now_ms() + 1000;
		if (now_ms() > drain_deadline)
			break;
	}
	return 0;
}

static void hand_over(struct watch *w, struct sandbox_result *res)
{
	res->stdout_truncated = w->bufs[W_STDOUT].truncated;
	res->stdout_data = buf_steal(&w->bufs[W_STDOUT], &res->stdout_len);
	res->stderr_truncated = w->bufs[W_STDERR].truncated;
	res->stderr_data = buf_steal(&w->bufs[W_STDERR], &res->stderr_len);
	res->result_truncated = w->bufs[W_RESULT].truncated;
	res->result_json = buf_steal(&w->bufs[W_RESULT], &res->result_json_len);
}

int supervise_run(const struct supervise_io *io, struct sandbox_result *res,
		  struct supervise_outcome *ret)
{
	struct watch w = { .io = io, .out = ret };
	const int fds[W_COUNT] = { io->stdout_r, io->stderr_r, io->result_r,
				   io->ctl_fd, io->pidfd,	io->cancel_fd };
	int r;

	memset(ret, 0, sizeof(*ret));
	ret->out_dirfd = -1;
	w.start_ms = now_ms();
	buf_init(&w.bufs[W_STDOUT], io->limits->output_bytes);
	buf_init(&w.bufs[W_STDERR], io->limits->output_bytes);
	buf_init(&w.bufs[W_RESULT], io->limits->table_bytes);
	for (int i = 0; i < W_COUNT; i++)
		w.pfd[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	r = watch_loop(&w);
	if (r < 0) {
		watch_kill(&w, 0);
		while (!w.init_done) {
			struct pollfd p = { io->pidfd, POLLIN, 0 };
			poll(&p, 1, 100);
			reap_init(&w);
		}
	}
	/* Control messages sent just before init exited are still queued. */
	while (w.pfd[W_CTL].fd >= 0) {
		errno = 0;
		read_control(&w);
		if (errno == EAGAIN || errno == EINTR)
			break;
	}
	for (int i = W_STDOUT; i <= W_RESULT; i++)
		if (w.pfd[i].fd >= 0)
			close(w.pfd[i].fd);
	ret->wall_ms = now_ms() - w.start_ms;
	hand_over(&w, res);
	for (int i = 0; i < 3; i++)
		buf_release(&w.bufs[i]);
	return r;
}
