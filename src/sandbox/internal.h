/*
 * Private interfaces between the files of src/sandbox/. Nothing outside the
 * sandbox part includes this.
 *
 * A run goes: the parent (spawn.c) builds a `struct sandbox_plan` with every
 * path, string and filter the child will need, creates the run's cgroups
 * (cgroup.c), clones the child, maps its ids, moves it into the cgroups and
 * says "go" on the control socket. The child (child.c) builds the root
 * (mount.c) while the parent moves it into the cgroups (the first move into
 * a new cgroup waits for an RCU grace period, so the two overlap), then,
 * once told the cgroups are joined, drops privileges, loads the filter (seccomp.c), forks the
 * analyst's process and stays as its init. The parent watches output, time
 * and CPU (supervise.c), kills the pid namespace when a limit is hit, then
 * collects artifacts (artifacts.c) and statistics and removes the cgroups.
 *
 * The child only makes system calls and touches memory the parent prepared:
 * no allocation, no stdio, no locks.
 */
#ifndef LEDGERBOX_SANDBOX_INTERNAL_H
#define LEDGERBOX_SANDBOX_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox/sandbox.h"

#define PLAN_MAX_BINDS 40
#define PLAN_MAX_FILES 12
#define PLAN_DATA_SIDES 2
#define PLAN_MAX_LINKS 32
#define PLAN_MAX_ARGS 8
#define PLAN_MAX_ENV 16
#define SANDBOX_CODE_MAX_BYTES (4u << 20)
/* Signals a run may have queued at once (RLIMIT_SIGPENDING): the host
 * uid's pool is shared by all runs. */
#define SANDBOX_SIGPENDING_MAX 1024

/* Fixed descriptor numbers inside the analyst's process. */
#define SANDBOX_FD_RESULT 3

struct plan_bind {
	char src[PATH_MAX]; /* host path, seen below /oldroot in the child */
	char dst[PATH_MAX]; /* path inside the new root */
	bool is_file;
	bool optional; /* skip silently when the host has no such path */
};

struct plan_file {
	char dst[PATH_MAX];
	const char *content; /* owned by the request or static */
	size_t len;
	unsigned mode;
};

struct plan_link {
	char target[PATH_MAX];
	char dst[PATH_MAX];
};

/* Messages on the control socket (SOCK_SEQPACKET, one per send). */
enum ctl_kind {
	CTL_GO = 'G',     /* parent -> child: ids mapped, build the root */
	CTL_JOINED = 'J', /* parent -> child: cgroups joined, start the analyst */
	CTL_OUTDIR = 'O', /* child -> parent: the /out directory, as SCM_RIGHTS */
	CTL_ERROR = 'E',  /* child -> parent: setup failed */
	CTL_STATUS = 'S', /* child (init) -> parent: the analyst's wait status */
};

struct ctl_msg {
	char kind;
	int value;    /* errno for CTL_ERROR, wait status for CTL_STATUS */
	char text[200]; /* the step that failed, for CTL_ERROR */
};

struct sandbox_plan {
	const struct sandbox_request *req;
	uid_t host_uid;
	gid_t host_gid;
	bool may_setgroups; /* host root: clear supplementary groups */
	bool memory_by_rlimit;
	bool pids_by_rlimit;
	bool use_cgroup_ns;
	bool warm; /* a warm sandbox: the program comes at hand-off */
	int cap_last;
	/* The starting process's argument and environment areas (from
	 * /proc/self/stat), which the child blanks: as the sandbox's pid 1 it
	 * would otherwise show the host command line in /proc/1/cmdline.
	 * Zero when unknown. */
	unsigned long arg_start, arg_end, env_start, env_end;

	struct plan_bind binds[PLAN_MAX_BINDS];
	int n_binds;
	struct plan_file files[PLAN_MAX_FILES];
	int n_files;
	struct plan_link links[PLAN_MAX_LINKS];
	int n_links;
	struct plan_bind data; /* dataset, dst empty when none */
	/* SQL runs: the SQLite file's -wal and -journal, bound beside it when
	 * they exist, so that the runner reads WAL commits and sees a hot
	 * journal (util/sqlite_uri.h). src empty when unused. */
	struct plan_bind data_side[PLAN_DATA_SIDES];
	/* What data.src was when planned: the child mounts it only if what it
	 * opens is still that (a replace may swap the name in between). */
	dev_t data_dev;
	ino_t data_ino;

	char rootfs_opts[64];
	char tmp_opts[64];
	char shm_opts[64];
	char out_opts[64];

	bool exec_self; /* run /proc/self/exe (the SQL runner) instead of exec_path */
	char exec_path[PATH_MAX];
	char *argv[PLAN_MAX_ARGS + 1];
	char *envp[PLAN_MAX_ENV + 1];
	char env_store[PLAN_MAX_ENV][PATH_MAX];

	const void *seccomp_prog; /* struct sock_fprog */

	/* Descriptors, all O_CLOEXEC in the parent. */
	int ctl_fd;    /* child's end of the control socket */
	int exe_fd;    /* /proc/self/exe, for exec_self */
	int stdout_w, stderr_w, result_w;
	/* Warm sandboxes only: the child's end of the hand-off socket, the
	 * analyst's process's stdin until the driver has read its program
	 * (then it is /dev/null, as in a cold run). -1 otherwise. */
	int warm_w;
};

/* child.c: the entry point after clone(); never returns. */
_Noreturn void sandbox_child_main(const struct sandbox_plan *plan);
/* Sends a CTL_ERROR message; async-signal-safe. */
void ctl_send_error(int fd, const char *step, int err);

/* mount.c: builds the root and pivots into it; async-signal-safe. Sends the
 * /out directory to the parent. data_fds[0]: the dataset, data_fds[1 + i]:
 * plan->data_side[i], each opened with O_PATH (or -1: none), bound through
 * /proc/self/fd. Returns 0 or -errno with *ret_step set. */
int mount_build_root(const struct sandbox_plan *plan, const int data_fds[1 + PLAN_DATA_SIDES],
		     const char **ret_step);

/* seccomp.c: the filter program, built once per process. */
int seccomp_filter_get(const void **ret_prog, char *err, size_t err_len);
/* Loads it into the calling thread; async-signal-safe. */
int seccomp_filter_load(const void *prog);

/* cgroup.c */
struct cgroup_run {
	int version; /* 0 none, 1 or 2 */
	bool has_memory, has_pids, has_cpu;
	char memory_dir[PATH_MAX]; /* v2: the run's only directory */
	char pids_dir[PATH_MAX];
	char cpu_dir[PATH_MAX];
	char why_not[160]; /* when a controller is missing: why */
	/* CPU the cgroup had used at hand-off (warm sandboxes): subtracted
	 * from every reading, so warming up is neither billed nor limited. */
	uint64_t cpu_base_ns;
	/* A warm sandbox's memory in use at hand-off (the interpreter and its
	 * imports): not the analyst's, so not billed. 0 for a cold run. */
	uint64_t memory_base_bytes;
};
struct cgroup_stats {
	uint64_t cpu_ns;
	uint64_t peak_memory_bytes;
	uint64_t oom_kills;
	uint64_t pids_max_events;
	bool have_cpu, have_peak;
};
int cgroup_run_create(struct cgroup_run *cg, const struct sandbox_limits *l);
int cgroup_run_attach(const struct cgroup_run *cg, pid_t pid);
int cgroup_run_cpu_ns(const struct cgroup_run *cg, uint64_t *ret_ns);
void cgroup_run_stats(const struct cgroup_run *cg, struct cgroup_stats *ret);
void cgroup_run_kill(const struct cgroup_run *cg);
/* Removes the run's directories; returns 0 or the first -errno. */
int cgroup_run_destroy(struct cgroup_run *cg);
/* Hand-off of a warm sandbox (cgroup_warm.c): writes the request's memory
 * and pids limits into the running cgroup (-EBUSY when the memory in use is
 * above the new limit), then takes the CPU baseline and resets the memory
 * peak where the kernel allows it. */
int cgroup_run_retarget(const struct cgroup_run *cg, const struct sandbox_limits *l);
void cgroup_run_handoff(struct cgroup_run *cg);

/* supervise.c: watches the run until its init is gone, or for a warm run
 * (finish_on_result) until the driver's whole result and the end of every
 * stream, whichever comes first. Takes ownership of (and closes) the three
 * pipe read ends; ctl_fd and pidfd stay the caller's. */
struct supervise_io {
	int stdout_r, stderr_r, result_r, ctl_fd, pidfd;
	int cancel_fd; /* -1 when the run cannot be cancelled */
	bool finish_on_result;
	pid_t init_pid;
	const struct sandbox_limits *limits;
	const struct cgroup_run *cg;
	void (*on_stdout)(void *ctx, const char *data, size_t len);
	void *on_stdout_ctx;
};
struct supervise_outcome {
	int init_status;
	bool have_payload_status;
	int payload_status;
	unsigned killed_for; /* LIMIT_HIT_* that made the supervisor kill */
	int setup_errno;
	char setup_step[200];
	int out_dirfd;
	uint64_t wall_ms;
	uint64_t init_cpu_ms; /* from wait4, for runs without a cpu cgroup */
	uint64_t init_maxrss_bytes;
	/* Ended on the driver's result: init was sent SIGKILL but not reaped
	 * (the caller does that), and the cgroup's readings at that instant
	 * are in stats. */
	bool finished_on_result;
	bool have_stats;
	struct cgroup_stats stats;
};
int supervise_run(const struct supervise_io *io, struct sandbox_result *res,
		  struct supervise_outcome *ret);

/* artifacts.c: reads the files left in /out without following links. */
int artifacts_collect(int out_dirfd, uint64_t max_bytes, struct sandbox_result *res);

/* plan.c. For a warm sandbox, `warm` is set: the driver is started with
 * --warm and no program file; the program comes over the hand-off socket. */
int plan_build(struct sandbox_plan *plan, const struct sandbox_request *req,
	       const struct cgroup_run *cg, bool warm, char *err, size_t err_len);

/* spawn.c: checks a request's limits, code and dataset (res->error says
 * what is wrong). */
int sandbox_request_check(const struct sandbox_request *req, struct sandbox_result *res);
/* A started sandbox, from clone() until it is watched. The parent's
 * ends of the pipes and sockets, all O_CLOEXEC; -1 when closed. */
struct spawn_run {
	pid_t pid; /* the namespace's init */
	int pidfd, ctl, stdout_r, stderr_r, result_r;
	int warm; /* the hand-off socket, warm sandboxes only */
};
/* Creates the descriptors, clones the child, maps its ids, moves it into
 * the cgroups and lets it go. On failure the child is reaped, every
 * descriptor closed and res says why. */
int spawn_start(struct sandbox_plan *plan, struct cgroup_run *cg, struct spawn_run *run,
		struct sandbox_result *res);
/* Watches the run until init is reaped; closes the pipes' read ends. With
 * finish_on_result (warm runs) it may return once the result is complete,
 * with init killed but left in run for spawn_run_close to reap. */
int spawn_watch(struct spawn_run *run, const struct sandbox_request *req,
		const struct cgroup_run *cg, bool finish_on_result, struct sandbox_result *res,
		struct supervise_outcome *out);
/* Kills and reaps init if it still runs, closes what is left; accepts a
 * closed run. */
void spawn_run_close(struct spawn_run *run);

#endif
