/*
 * warm: sandboxes started before their run (see sandbox.h and
 * docs/warm-pool.md).
 *
 * A warm sandbox is built exactly as a cold one (spawn.c, same plan, same
 * namespaces, seccomp filter, cgroup and rlimits, with default limits) but
 * its driver is started with --warm: it imports pandas, numpy and
 * matplotlib, writes one byte "R" on the hand-off socket (its stdin) and
 * blocks reading its program from it. States: starting -> ready -> handed
 * off (consumed) or freed. Nobody watches a warm sandbox's clock: the wall
 * clock, the CPU limit and the output limits start at hand-off, when the
 * supervisor takes over.
 *
 * Hand-off, in this order: the request's memory and pids limits go into
 * the cgroup and its rlimits onto the interpreter with prlimit(); the CPU
 * used so far becomes the baseline (cgroup and rusage) and the memory peak
 * is reset; whatever warming up printed is read and dropped; then the
 * program goes over the socket, which is closed, and the run is watched
 * like a cold one. A limit that cannot be applied leaves nothing run: the
 * caller gets -EAGAIN and runs the request cold.
 *
 * The run ends as soon as the driver has delivered its whole result and
 * closed its streams (supervise.c, finish_on_result): the sandbox is then
 * killed, but its teardown (the interpreter's exit, the reap, the cgroup's
 * removal) is left to sandbox_warm_free(), which the caller calls once it
 * has passed the result on. sandbox_warm_run() therefore never frees.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/internal.h"
#include "sandbox/verdict.h"
#include "util/banned.h"

struct sandbox_warm {
	struct sandbox_request req; /* the warm-up's: default limits, no code */
	char *data_path;
	dev_t data_dev;
	ino_t data_ino;
	struct sandbox_plan *plan;
	struct cgroup_run cg;
	struct spawn_run run;
	bool ready;
};

void sandbox_warm_free(struct sandbox_warm *w)
{
	if (!w)
		return;
	spawn_run_close(&w->run);
	cgroup_run_destroy(&w->cg);
	free(w->plan);
	free(w->data_path);
	free(w);
}

static int data_identity(const char *path, dev_t *ret_dev, ino_t *ret_ino)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	*ret_dev = st.st_dev;
	*ret_ino = st.st_ino;
	return 0;
}

static int warm_build(struct sandbox_warm *w, struct sandbox_result *res)
{
	const void *prog;
	int r = seccomp_filter_get(&prog, res->error, sizeof(res->error));

	if (r < 0)
		return r;
	if (cgroup_run_create(&w->cg, &w->req.limits) < 0) {
		/* As a cold run would: fall back to rlimits and say why. */
		memset(&w->cg, 0, sizeof(w->cg));
		snprintf(w->cg.why_not, sizeof(w->cg.why_not), "creating the run's cgroup failed");
	}
	w->plan = calloc(1, sizeof(*w->plan));
	if (!w->plan)
		return -ENOMEM;
	r = plan_build(w->plan, &w->req, &w->cg, true, res->error, sizeof(res->error));
	if (r < 0)
		return r;
	w->plan->seccomp_prog = prog;
	return spawn_start(w->plan, &w->cg, &w->run, res);
}

int sandbox_warm_start(const char *data_path, struct sandbox_warm **ret)
{
	struct sandbox_warm *w = calloc(1, sizeof(*w));
	struct sandbox_result res;
	int r = 0;

	if (!w)
		return -ENOMEM;
	memset(&w->run, -1, sizeof(w->run));
	w->run.pid = 0;
	memset(&res, 0, sizeof(res));
	sandbox_limits_default(&w->req.limits);
	w->req.lang = SANDBOX_LANG_PYTHON;
	w->req.code = "";
	if (data_path && !(w->data_path = strdup(data_path)))
		r = -ENOMEM;
	if (r == 0 && data_path)
		r = data_identity(data_path, &w->data_dev, &w->data_ino);
	w->req.data_path = w->data_path;
	if (r == 0)
		r = warm_build(w, &res);
	if (r < 0) {
		sandbox_warm_free(w);
		return r;
	}
	*ret = w;
	return 0;
}

int sandbox_warm_fd(const struct sandbox_warm *w)
{
	return w->run.warm;
}

int sandbox_warm_check(struct sandbox_warm *w)
{
	char c;
	ssize_t n;

	if (w->ready)
		return 1;
	n = recv(w->run.warm, &c, 1, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n != 1 || c != 'R')
		return n < 0 ? -errno : -EPIPE;
	w->ready = true;
	return 1;
}

bool sandbox_warm_fits(const struct sandbox_warm *w, const struct sandbox_request *req)
{
	dev_t dev;
	ino_t ino;

	if (!w->ready || req->lang != SANDBOX_LANG_PYTHON ||
	    req->limits.tmp_bytes != w->req.limits.tmp_bytes ||
	    req->limits.out_bytes != w->req.limits.out_bytes)
		return false;
	if (!req->data_path || !w->data_path)
		return !req->data_path && !w->data_path;
	/* The folder the caller holds is the one the warm-up mounted. */
	if (req->data_pinned && (req->data_dev != w->data_dev || req->data_ino != w->data_ino))
		return false;
	/* The same folder, not one put in its place since the warm-up. */
	return strcmp(req->data_path, w->data_path) == 0 &&
	       data_identity(req->data_path, &dev, &ino) == 0 && dev == w->data_dev &&
	       ino == w->data_ino;
}

/* The interpreter: init's only child while the sandbox is warm. */
static int payload_pid(pid_t init, pid_t *ret)
{
	char path[64], text[64];
	char *end;
	long pid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)init, (int)init);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (!fgets(text, sizeof(text), f))
		text[0] = '\0';
	fclose(f);
	pid = strtol(text, &end, 10);
	if (end == text || pid <= 0)
		return -ESRCH;
	*ret = (pid_t)pid;
	return 0;
}

/* User plus system CPU of one process, in ms (/proc/PID/stat, fields 14
 * and 15, after the command name's closing parenthesis). */
static int process_cpu_ms(pid_t pid, uint64_t *ret)
{
	char path[64], text[1024];
	unsigned long long utime, stime;
	long ticks = sysconf(_SC_CLK_TCK);
	const char *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	p = strrchr(text, ')');
	if (!p || ticks <= 0 ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
		   &stime) != 2)
		return -EPROTO;
	*ret = (utime + stime) * 1000 / (unsigned long long)ticks;
	return 0;
}

static int rlimit_put(pid_t pid, int resource, uint64_t soft, uint64_t hard)
{
	struct rlimit rl = { soft, hard };

	return prlimit(pid, resource, &rl, NULL) < 0 ? -errno : 0;
}

/* The rlimits child.c sets, with the request's values; the CPU backstop
 * counts from what the interpreter used warming up. */
static int rlimits_retarget(const struct sandbox_warm *w, pid_t pid,
			    const struct sandbox_limits *l, uint64_t used_ms)
{
	uint64_t cpu_s = (used_ms + l->cpu_ms + 999) / 1000;
	int r = rlimit_put(pid, RLIMIT_CPU, cpu_s + 1, cpu_s + 2);

	if (r == 0)
		r = rlimit_put(pid, RLIMIT_FSIZE, l->file_bytes, l->file_bytes);
	if (r == 0)
		r = rlimit_put(pid, RLIMIT_NOFILE, l->open_files, l->open_files);
	if (r == 0 && w->plan->memory_by_rlimit)
		r = rlimit_put(pid, RLIMIT_AS, l->memory_bytes, l->memory_bytes);
	if (r == 0 && w->plan->pids_by_rlimit)
		r = rlimit_put(pid, RLIMIT_NPROC, l->pids, l->pids);
	return r;
}

/* Reads and drops what warming up wrote (import warnings): the run's
 * output starts at hand-off. */
static void output_drop(const struct spawn_run *run)
{
	const int fds[3] = { run->stdout_r, run->stderr_r, run->result_r };
	char chunk[4096];

	for (int i = 0; i < 3; i++) {
		struct pollfd p = { fds[i], POLLIN, 0 };
		while (poll(&p, 1, 0) == 1 && (p.revents & POLLIN) &&
		       read(fds[i], chunk, sizeof(chunk)) > 0)
			;
	}
}

static int send_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The program, after one header line "MAX_ROWS COMPILE_ONLY"; the end of
 * the stream ends it. */
static int program_send(struct sandbox_warm *w, const struct sandbox_request *req)
{
	char header[64];
	int n = snprintf(header, sizeof(header), "%" PRIu64 " %d\n", req->limits.max_rows,
			 req->compile_only ? 1 : 0);
	int r = send_all(w->run.warm, header, (size_t)n);

	if (r == 0)
		r = send_all(w->run.warm, req->code, req->code_len);
	close(w->run.warm);
	w->run.warm = -1;
	return r;
}

static int handoff(struct sandbox_warm *w, const struct sandbox_request *req, uint64_t *ret_base_ms)
{
	pid_t pid = 0;
	int r = payload_pid(w->run.pid, &pid);

	if (r == 0)
		r = process_cpu_ms(pid, ret_base_ms);
	if (r == 0)
		r = cgroup_run_retarget(&w->cg, &req->limits);
	if (r == 0)
		r = rlimits_retarget(w, pid, &req->limits, *ret_base_ms);
	if (r < 0)
		return r;
	output_drop(&w->run);
	cgroup_run_handoff(&w->cg);
	return program_send(w, req);
}

/* Stops whatever still runs in the sandbox without waiting for it: the
 * reap and the cgroup's removal are sandbox_warm_free()'s. */
static void warm_kill(struct sandbox_warm *w)
{
	if (w->run.pid > 0)
		kill(w->run.pid, SIGKILL);
	w->ready = false;
}

int sandbox_warm_run(struct sandbox_warm *w, const struct sandbox_request *req,
		     struct sandbox_result *res)
{
	struct supervise_outcome out = { .out_dirfd = -1 };
	/* Readings taken at the result need the cgroup's CPU and memory; a
	 * run without them waits for init's rusage, as a cold one does. */
	bool early = w->cg.has_cpu && w->cg.has_memory;
	uint64_t base_ms = 0;
	int r;

	memset(res, 0, sizeof(*res));
	r = sandbox_request_check(req, res);
	if (r < 0) {
		res->status = SANDBOX_SANDBOX_ERROR;
		warm_kill(w);
		return r;
	}
	if (!sandbox_warm_fits(w, req) || handoff(w, req, &base_ms) < 0) {
		warm_kill(w);
		return -EAGAIN;
	}
	w->ready = false; /* used: never handed off again */
	r = spawn_watch(&w->run, req, &w->cg, early, res, &out);
	out.init_cpu_ms = out.init_cpu_ms > base_ms ? out.init_cpu_ms - base_ms : 0;
	if (r == 0)
		r = verdict_decide(req, &w->cg, &out, res);
	if (out.out_dirfd >= 0) {
		if (r == 0)
			artifacts_collect(out.out_dirfd, req->limits.out_bytes, res);
		close(out.out_dirfd);
	}
	res->warm = true;
	warm_kill(w);
	return r;
}
