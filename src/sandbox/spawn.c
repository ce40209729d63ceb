/*
 * spawn: sandbox_run(), the parent's side of a run from start to cleanup.
 *
 * Order matters: the run's cgroups exist before the child does; the child
 * is cloned into all its namespaces at once and waits; its uid/gid maps are
 * written, and it is moved into the cgroups before it may start anything of
 * the analyst's, so every process of the run is counted and limited. Whatever happens, the
 * child is killed and reaped and the cgroups removed before returning.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/internal.h"
#include "sandbox/verdict.h"
#include "util/banned.h"

#define CLONE_FLAGS \
	(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)

static char runner_exe[PATH_MAX];

void sandbox_set_runner_exe(const char *path)
{
	snprintf(runner_exe, sizeof(runner_exe), "%s", path ? path : "");
}

/* ledgerbox-sql-runner beside this process's own binary, unless set. */
static const char *runner_path(void)
{
	char self[PATH_MAX];
	char *slash;

	if (runner_exe[0])
		return runner_exe;
	if (!realpath("/proc/self/exe", self) || !(slash = strrchr(self, '/')))
		return "ledgerbox-sql-runner";
	*slash = '\0';
	snprintf(runner_exe, sizeof(runner_exe), "%.4000s/ledgerbox-sql-runner", self);
	return runner_exe;
}

struct run_fds {
	int stdout_p[2], stderr_p[2], result_p[2], ctl[2], warm[2];
	int exe_fd;
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void fds_close_all(struct run_fds *f)
{
	int *all[] = { &f->stdout_p[0], &f->stdout_p[1], &f->stderr_p[0], &f->stderr_p[1],
		       &f->result_p[0], &f->result_p[1], &f->ctl[0],	  &f->ctl[1],
		       &f->warm[0],	&f->warm[1],	 &f->exe_fd };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		close_fd(all[i]);
}

static int fds_open(struct run_fds *f, bool need_exe, bool warm)
{
	memset(f, -1, sizeof(*f));
	if (pipe2(f->stdout_p, O_CLOEXEC) < 0 || pipe2(f->stderr_p, O_CLOEXEC) < 0 ||
	    pipe2(f->result_p, O_CLOEXEC) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, f->ctl) < 0)
		return -errno;
	if (warm && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->warm) < 0)
		return -errno;
	/* A larger pipe means fewer wake-ups for chatty programs. */
	fcntl(f->stdout_p[0], F_SETPIPE_SZ, 1 << 20);
	if (need_exe && (f->exe_fd = open(runner_path(), O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	return 0;
}

static int write_proc(pid_t pid, const char *file, const char *text)
{
	char path[64];
	size_t len = strlen(text);
	int fd, r = 0;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		r = errno ? -errno : -EIO;
	close(fd);
	return r;
}

static int ids_map(const struct sandbox_plan *p, pid_t pid)
{
	char map[64];
	int r;

	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)p->host_uid);
	r = write_proc(pid, "uid_map", map);
	if (r == 0 && !p->may_setgroups)
		r = write_proc(pid, "setgroups", "deny");
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)p->host_gid);
	if (r == 0)
		r = write_proc(pid, "gid_map", map);
	return r;
}

static void fail(struct sandbox_result *res, int err, const char *what)
{
	res->status = SANDBOX_SANDBOX_ERROR;
	if (!res->error[0])
		snprintf(res->error, sizeof(res->error), "%s: %s", what, strerror(err < 0 ? -err : err));
}

/* Lets the child go. On any failure before "joined" the child is killed and
 * reaped. */
static int start_child(const struct sandbox_plan *plan, struct cgroup_run *cg,
		       struct spawn_run *run, struct sandbox_result *res)
{
	struct ctl_msg go = { .kind = CTL_GO }, joined = { .kind = CTL_JOINED };
	int r;

	run->pidfd = (int)syscall(SYS_pidfd_open, run->pid, 0);
	r = run->pidfd < 0 ? -errno : 0;
	if (r == 0 && (r = ids_map(plan, run->pid)) < 0)
		fail(res, r, "writing the user namespace id maps");
	/* The child builds its root while we move it into the cgroups; it
	 * waits for "joined" before anything of the analyst's runs. A failed
	 * send means the child already ended: the supervisor then collects
	 * the reason it reported. */
	if (r == 0)
		send(run->ctl, &go, sizeof(go), MSG_NOSIGNAL);
	if (r == 0) {
		r = cgroup_run_attach(cg, run->pid);
		if (r == -ESRCH) /* the child is gone already */
			r = 0;
		else if (r < 0)
			fail(res, r, "moving the sandbox into its cgroup");
	}
	if (r == 0)
		send(run->ctl, &joined, sizeof(joined), MSG_NOSIGNAL);
	if (r < 0)
		fail(res, r, "starting the sandbox");
	return r;
}

void spawn_run_close(struct spawn_run *run)
{
	int *fds[] = { &run->pidfd, &run->ctl, &run->stdout_r, &run->stderr_r, &run->result_r,
		       &run->warm };

	if (run->pid > 0) {
		kill(run->pid, SIGKILL);
		waitpid(run->pid, NULL, 0);
		run->pid = 0;
	}
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		close_fd(fds[i]);
}

static void run_take_fds(struct spawn_run *run, struct run_fds *f)
{
	run->ctl = f->ctl[0];
	run->stdout_r = f->stdout_p[0];
	run->stderr_r = f->stderr_p[0];
	run->result_r = f->result_p[0];
	run->warm = f->warm[0];
	f->ctl[0] = f->stdout_p[0] = f->stderr_p[0] = f->result_p[0] = f->warm[0] = -1;
}

int spawn_start(struct sandbox_plan *plan, struct cgroup_run *cg, struct spawn_run *run,
		struct sandbox_result *res)
{
	struct run_fds f;
	int r = fds_open(&f, plan->exec_self, plan->warm);

	memset(run, -1, sizeof(*run));
	run->pid = 0;
	if (r < 0 && plan->exec_self && f.exe_fd < 0 && r == -ENOENT) {
		snprintf(res->error, sizeof(res->error),
			 "the SQL runner %s is missing: build or reinstall ledgerbox", runner_path());
		res->status = SANDBOX_SANDBOX_ERROR;
		goto out_close;
	}
	if (r < 0) {
		fail(res, r, "creating the sandbox's pipes");
		goto out_close;
	}
	plan->ctl_fd = f.ctl[1];
	plan->exe_fd = f.exe_fd;
	plan->stdout_w = f.stdout_p[1];
	plan->stderr_w = f.stderr_p[1];
	plan->result_w = f.result_p[1];
	plan->warm_w = f.warm[1];
	/* A fork-like clone: the child continues on a copy of this stack. */
	run->pid = (pid_t)syscall(SYS_clone, CLONE_FLAGS | SIGCHLD, NULL, NULL, NULL, NULL);
	if (run->pid < 0) {
		r = -errno;
		run->pid = 0;
		fail(res, r, "creating the sandbox's namespaces (clone)");
		goto out_close;
	}
	if (run->pid == 0)
		sandbox_child_main(plan);
	run_take_fds(run, &f);
	fds_close_all(&f);
	r = start_child(plan, cg, run, res);
	if (r < 0)
		spawn_run_close(run);
	return r;
out_close:
	fds_close_all(&f);
	return r;
}

int spawn_watch(struct spawn_run *run, const struct sandbox_request *req,
		const struct cgroup_run *cg, bool finish_on_result, struct sandbox_result *res,
		struct supervise_outcome *out)
{
	struct supervise_io io = { .stdout_r = run->stdout_r, .stderr_r = run->stderr_r,
				   .result_r = run->result_r, .ctl_fd = run->ctl,
				   .pidfd = run->pidfd, .init_pid = run->pid,
				   .cancel_fd = req->cancel_fd > 0 ? req->cancel_fd : -1,
				   .finish_on_result = finish_on_result,
				   .limits = &req->limits, .cg = cg,
				   .on_stdout = req->on_stdout, .on_stdout_ctx = req->on_stdout_ctx };
	int r;

	/* supervise_run closes the read ends and reaps init, unless the run
	 * finished on its result: then init is dying and still ours to reap. */
	run->stdout_r = run->stderr_r = run->result_r = -1;
	r = supervise_run(&io, res, out);
	if (r < 0)
		fail(res, r, "watching the sandbox");
	if (!out->finished_on_result)
		run->pid = 0;
	return r;
}

int sandbox_request_check(const struct sandbox_request *req, struct sandbox_result *res)
{
	int r = sandbox_limits_check(&req->limits, res->error, sizeof(res->error));

	if (r < 0)
		return r;
	if (!req->code || req->code_len > SANDBOX_CODE_MAX_BYTES) {
		snprintf(res->error, sizeof(res->error), "code is missing or larger than %u bytes",
			 SANDBOX_CODE_MAX_BYTES);
		return -EINVAL;
	}
	if (req->lang == SANDBOX_LANG_SQL && !req->data_path) {
		snprintf(res->error, sizeof(res->error),
			 "SQL runs need a dataset: the SQLite file to query");
		return -EINVAL;
	}
	return 0;
}

int sandbox_run(const struct sandbox_request *req, struct sandbox_result *res)
{
	struct sandbox_plan *plan = NULL;
	struct supervise_outcome out = { .out_dirfd = -1 };
	struct spawn_run run;
	struct cgroup_run cg;
	const void *prog;
	int r;

	memset(res, 0, sizeof(*res));
	memset(&cg, 0, sizeof(cg));
	r = sandbox_request_check(req, res);
	if (r == 0)
		r = seccomp_filter_get(&prog, res->error, sizeof(res->error));
	if (r < 0) {
		res->status = SANDBOX_SANDBOX_ERROR;
		return r;
	}
	r = cgroup_run_create(&cg, &req->limits);
	if (r < 0) {
		memset(&cg, 0, sizeof(cg));
		snprintf(cg.why_not, sizeof(cg.why_not), "creating the run's cgroup failed: %s",
			 strerror(-r));
	}
	plan = calloc(1, sizeof(*plan));
	if (!plan) {
		fail(res, -ENOMEM, "preparing the sandbox");
		r = -ENOMEM;
		goto out_cgroup;
	}
	r = plan_build(plan, req, &cg, false, res->error, sizeof(res->error));
	if (r < 0) {
		res->status = SANDBOX_SANDBOX_ERROR;
		goto out_cgroup;
	}
	plan->seccomp_prog = prog;
	r = spawn_start(plan, &cg, &run, res);
	if (r == 0) {
		r = spawn_watch(&run, req, &cg, false, res, &out);
		spawn_run_close(&run);
	}
	if (r == 0)
		r = verdict_decide(req, &cg, &out, res);
	if (out.out_dirfd >= 0) {
		if (r == 0)
			artifacts_collect(out.out_dirfd, req->limits.out_bytes, res);
		close(out.out_dirfd);
	}
out_cgroup:
	cgroup_run_destroy(&cg);
	free(plan);
	return r;
}
