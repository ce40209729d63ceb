/*
 * child: the sandbox's side of a run, from clone() to exec.
 *
 * The cloned child is pid 1 of the new pid namespace. It waits for the
 * parent's "go" (ids mapped, cgroups joined), builds the root, gives up every
 * privilege, loads the seccomp filter and forks the analyst's process. It
 * then stays as that process's init: it reaps orphans so zombies never fill
 * the pids limit, and when the analyst's process ends it reports the wait
 * status and exits, which makes the kernel kill everything else in the
 * namespace: nothing the analyst started survives the run.
 *
 * System calls only: no allocation, no stdio. Errors go to the parent as a
 * CTL_ERROR message naming the step, then _exit().
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/internal.h"
#include "util/banned.h"

void ctl_send_error(int fd, const char *step, int err)
{
	struct ctl_msg msg = { .kind = CTL_ERROR, .value = err };
	size_t len = strlen(step);

	if (len >= sizeof(msg.text))
		len = sizeof(msg.text) - 1;
	memcpy(msg.text, step, len);
	send(fd, &msg, sizeof(msg), MSG_NOSIGNAL);
}

static _Noreturn void child_fail(const struct sandbox_plan *p, const char *step, int err)
{
	ctl_send_error(p->ctl_fd, step, err < 0 ? -err : err);
	_exit(126);
}

/* Closes every descriptor the child did not ask for: whatever the process
 * that started the sandbox had open (sockets, databases) is gone before
 * anything else happens. */
static int fds_close_others(const struct sandbox_plan *p)
{
	int keep[6] = { p->ctl_fd, p->exe_fd, p->stdout_w, p->stderr_w, p->result_w, p->warm_w };
	unsigned next = 0;

	/* Sort the six (insertion sort; -1 entries sort first and are skipped). */
	for (int i = 1; i < 6; i++)
		for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (int i = 0; i < 6; i++) {
		if (keep[i] < 0 || (unsigned)keep[i] < next)
			continue;
		if ((unsigned)keep[i] > next && syscall(SYS_close_range, next, keep[i] - 1, 0) < 0)
			return -errno;
		next = (unsigned)keep[i] + 1;
	}
	return syscall(SYS_close_range, next, ~0U, 0) < 0 ? -errno : 0;
}

static int wait_for(int fd, char kind)
{
	struct ctl_msg msg;
	ssize_t n;

	do
		n = recv(fd, &msg, sizeof(msg), 0);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(msg) && msg.kind == kind ? 0 : -EPIPE;
}

static int loopback_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int r = 0;

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		r = -errno;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (r == 0 && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int limit_set(int resource, uint64_t soft, uint64_t hard)
{
	struct rlimit rl = { soft, hard };

	return setrlimit(resource, &rl) < 0 ? -errno : 0;
}

/* The rlimits a run's request sets. rlimits are per process; cgroups
 * (when present) bound the whole run. */
static int limits_apply_run(const struct sandbox_plan *p)
{
	const struct sandbox_limits *l = &p->req->limits;
	uint64_t cpu_s = (l->cpu_ms + 999) / 1000;
	/* A backstop: the supervisor stops the run at cpu_ms across all its
	 * processes; this stops one process that somehow outlives that. */
	int r = limit_set(RLIMIT_CPU, cpu_s + 1, cpu_s + 2);

	if (r == 0)
		r = limit_set(RLIMIT_FSIZE, l->file_bytes, l->file_bytes);
	if (r == 0)
		r = limit_set(RLIMIT_NOFILE, l->open_files, l->open_files);
	if (r == 0 && p->memory_by_rlimit)
		r = limit_set(RLIMIT_AS, l->memory_bytes, l->memory_bytes);
	/* RLIMIT_NPROC counts every process of the host uid, so it is only a
	 * fallback for machines without a pids cgroup. */
	if (r == 0 && p->pids_by_rlimit)
		r = limit_set(RLIMIT_NPROC, l->pids, l->pids);
	return r;
}

/* A warm sandbox's run is not known yet: its rlimits are set at hand-off
 * with prlimit() (warm.c), which may lower what is inherited here but not
 * raise what a default would have lowered. */
static int limits_apply(const struct sandbox_plan *p)
{
	int r = limit_set(RLIMIT_CORE, 0, 0);

	if (r == 0)
		r = limit_set(RLIMIT_MEMLOCK, 0, 0);
	if (r == 0)
		r = limit_set(RLIMIT_MSGQUEUE, 0, 0);
	/* Real-time scheduling and a raised priority are never a run's, even
	 * when the service that started the supervisor was given them. */
	if (r == 0)
		r = limit_set(RLIMIT_RTPRIO, 0, 0);
	if (r == 0)
		r = limit_set(RLIMIT_NICE, 0, 0);
	/* Queued signals are counted at each level of user namespaces, and
	 * above the run's own the count is its host uid's, which every run
	 * shares: without a run-sized limit one run could queue them all and
	 * leave other runs' sigqueue() and timer_create() failing. */
	if (r == 0)
		r = limit_set(RLIMIT_SIGPENDING, SANDBOX_SIGPENDING_MAX, SANDBOX_SIGPENDING_MAX);
	if (r == 0 && !p->warm)
		r = limits_apply_run(p);
	return r;
}

static int privileges_drop(const struct sandbox_plan *p)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	for (int cap = 0; cap <= p->cap_last; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	/* uid 0 in the namespace must not regain capabilities on exec. */
	if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
					     SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
					     SECBIT_NO_CAP_AMBIENT_RAISE |
					     SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
		  0, 0, 0) < 0)
		return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return -errno;
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

static int identity_set(const struct sandbox_plan *p)
{
	if (p->may_setgroups && setgroups(0, NULL) < 0)
		return -errno;
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return -errno;
	return 0;
}

/* Moves fd to a fixed number; keeps close-on-exec when asked. */
static int fd_place(int fd, int target, bool cloexec)
{
	if (fd == target)
		return fcntl(fd, F_SETFD, cloexec ? FD_CLOEXEC : 0) < 0 ? -errno : 0;
	return dup3(fd, target, cloexec ? O_CLOEXEC : 0) < 0 ? -errno : 0;
}

static void signals_reset(void)
{
	struct sigaction sa;
	sigset_t none;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The analyst's process: stdio on the pipes, result channel on fd 3, the
 * control socket (close-on-exec) on fd 4 to report a failed exec, nothing
 * else open. stdin is /dev/null, or in a warm sandbox the hand-off socket
 * the driver reads its program from (it then puts /dev/null there). */
static _Noreturn void payload_exec(const struct sandbox_plan *p)
{
	int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int high[5] = { p->warm_w >= 0 ? p->warm_w : null_fd, p->stdout_w, p->stderr_w,
			p->result_w, p->ctl_fd };
	int exe = -1;

	signals_reset();
	if (null_fd < 0)
		child_fail(p, "open /dev/null", errno);
	/* Lift every descriptor above the slots first so no dup3 clobbers one
	 * still needed. */
	for (int i = 0; i < 5; i++)
		if ((high[i] = fcntl(high[i], F_DUPFD_CLOEXEC, 8)) < 0)
			child_fail(p, "move descriptors", errno);
	if (p->exec_self && (exe = fcntl(p->exe_fd, F_DUPFD_CLOEXEC, 8)) < 0)
		child_fail(p, "move descriptors", errno);
	for (int i = 0; i < 5; i++)
		if (fd_place(high[i], i, i == 4) < 0)
			child_fail(p, "place descriptors", errno);
	if (exe >= 0 && fd_place(exe, 5, true) < 0)
		child_fail(p, "place descriptors", errno);
	if (syscall(SYS_close_range, exe >= 0 ? 6 : 5, ~0U, 0) < 0)
		child_fail(p, "close inherited descriptors", errno);
	if (p->exec_self)
		syscall(SYS_execveat, 5, "", p->argv, p->envp, AT_EMPTY_PATH);
	else
		execve(p->exec_path, p->argv, p->envp);
	ctl_send_error(4, "start the runner (exec)", errno);
	_exit(127);
}

static _Noreturn void init_loop(const struct sandbox_plan *p, pid_t payload)
{
	struct ctl_msg msg = { .kind = CTL_STATUS };

	close(p->stdout_w);
	close(p->stderr_w);
	close(p->result_w);
	if (p->warm_w >= 0)
		close(p->warm_w);
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, 0);

		if (pid < 0 && errno == EINTR)
			continue;
		if (pid == payload) {
			msg.value = status;
			send(p->ctl_fd, &msg, sizeof(msg), MSG_NOSIGNAL);
			_exit(0);
		}
		if (pid < 0)
			_exit(0);
	}
}

/* The dataset and the sides of it that exist (a side that is missing, or
 * is not a regular file, is left out: SQLite would not read it either as a
 * -wal or -journal of ours). Fails the child when the dataset itself
 * cannot be opened. */
static void open_data(const struct sandbox_plan *p, int fds[1 + PLAN_DATA_SIDES])
{
	struct stat data_st;

	for (int i = 0; i <= PLAN_DATA_SIDES; i++)
		fds[i] = -1;
	if (!p->data.dst[0])
		return;
	if ((fds[0] = open(p->data.src, O_PATH | O_CLOEXEC)) < 0)
		child_fail(p, "open the dataset", errno);
	/* What was planned, not a version swapped in under its name since. */
	if (fstat(fds[0], &data_st) < 0 || data_st.st_dev != p->data_dev ||
	    data_st.st_ino != p->data_ino)
		child_fail(p, SANDBOX_DATA_CHANGED, ESTALE);
	for (int i = 0; i < PLAN_DATA_SIDES; i++) {
		struct stat st;
		int fd;
		if (!p->data_side[i].src[0])
			continue;
		fd = open(p->data_side[i].src, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
			close(fd);
			fd = -1;
		}
		fds[1 + i] = fd;
	}
}

/* This process is a copy of the one that started the sandbox, so its
 * /proc/1/cmdline, environ and comm would show that process's command line
 * (host paths of the dataset and the program). Blank them in this copy and
 * give it a neutral name; the starting process keeps its own. */
static void title_neutral(const struct sandbox_plan *p)
{
	static const char title[] = "ledgerbox-init";

	if (p->env_end > p->env_start)
		memset((void *)p->env_start, 0, p->env_end - p->env_start);
	if (p->arg_end > p->arg_start) {
		size_t len = p->arg_end - p->arg_start;
		memset((void *)p->arg_start, 0, len);
		memcpy((void *)p->arg_start, title, len > sizeof(title) ? sizeof(title) : len - 1);
	}
	prctl(PR_SET_NAME, title, 0, 0, 0);
}

_Noreturn void sandbox_child_main(const struct sandbox_plan *p)
{
	const char *step = "wait for the supervisor";
	pid_t payload;
	int r, data_fds[1 + PLAN_DATA_SIDES];

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || fds_close_others(p) < 0 ||
	    wait_for(p->ctl_fd, CTL_GO) < 0)
		_exit(125);
	title_neutral(p);
	/* Opened while this process still has the caller's host ids: a
	 * dataset below a folder only its owner may search stays reachable,
	 * while everything the sandbox reads later is checked against the
	 * unprivileged uid it runs as. */
	open_data(p, data_fds);
	if ((r = identity_set(p)) < 0)
		child_fail(p, "set ids in the user namespace", r);
	/* Changing the effective uid clears the parent-death signal: set it
	 * again. A parent that died in between is seen below, as the control
	 * socket's end, before anything of the analyst's runs. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		child_fail(p, "ask to die with the supervisor", errno);
	if ((r = mount_build_root(p, data_fds, &step)) < 0)
		child_fail(p, step, r);
	for (int i = 0; i <= PLAN_DATA_SIDES; i++) {
		if (data_fds[i] >= 0)
			close(data_fds[i]);
	}
	if (sethostname("ledgerbox", 9) < 0)
		child_fail(p, "set the host name", errno);
	if ((r = loopback_up()) < 0)
		child_fail(p, "bring up the loopback interface", r);
	/* Nothing of the analyst's runs before the cgroups are joined. */
	if (wait_for(p->ctl_fd, CTL_JOINED) < 0)
		_exit(125);
	if (p->use_cgroup_ns && unshare(CLONE_NEWCGROUP) < 0)
		child_fail(p, "enter a new cgroup namespace", errno);
	if (setsid() < 0)
		child_fail(p, "start a new session", errno);
	if ((r = limits_apply(p)) < 0)
		child_fail(p, "set rlimits", r);
	if ((r = privileges_drop(p)) < 0)
		child_fail(p, "drop privileges", r);
	if ((r = seccomp_filter_load(p->seccomp_prog)) < 0)
		child_fail(p, "load the seccomp filter", r);
	/* Not dumpable: the analyst's process (same uid) cannot open init's
	 * /proc files or memory. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	payload = fork();
	if (payload < 0)
		child_fail(p, "start the analyst's process", errno);
	if (payload == 0)
		payload_exec(p);
	init_loop(p, payload);
}
