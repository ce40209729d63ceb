/*
 * seccomp: the system-call filter every sandboxed process runs under.
 *
 * An allow list on top of namespaces and dropped capabilities: a call the
 * list does not name fails with ENOSYS, the answer a kernel too old for it
 * gives, so programs take their usual fall-back path instead of crashing,
 * and a system call added to the kernel after this list was written stays
 * out of reach until someone reads it and adds it here (docs/sandbox.md
 * says how). The list holds what Python with pandas, numpy and matplotlib,
 * the SQL runner, the CPython tests that run in the sandbox and the
 * sandbox's own init need, and the calls behind Python's os, select,
 * signal, socket and time functions, grouped by purpose.
 *
 * Some allowed calls are allowed only with safe arguments: clone without
 * namespace flags, socket and socketpair for AF_UNIX, AF_INET and AF_INET6,
 * ioctl except terminal input injection, personality only to read it or
 * keep the plain Linux one. The calls that have been the door of a
 * container escape or a kernel exploit are refused by name with EPERM
 * (EAFNOSUPPORT for socket families), so the error says "not permitted"
 * rather than "not implemented", and clone3 answers ENOSYS so the C library
 * falls back to clone(), whose flags the filter can read.
 *
 * Only the native ABI (x86_64 here) is allowed: any call made through another
 * ABI (32-bit `int 0x80`, x32) kills the process, because a filter written
 * for one ABI's numbers would otherwise be walked around through another.
 *
 * The filter is compiled once per process with libseccomp, exported as BPF
 * and kept; the child loads it with a plain prctl, which is safe after
 * clone().
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sandbox/internal.h"
#include "util/banned.h"

/* Calls a program may make with any arguments. A name libseccomp does not
 * know (a call newer than it, or not on this architecture) is skipped: the
 * call then fails with ENOSYS like any other that is not listed. */
static const char *const allowed_calls[] = {
	/* Starting and ending processes and threads (clone is allowed below,
	 * without namespace flags). */
	"fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4",
	"waitid", "set_tid_address", "set_robust_list", "rseq", "futex",
	"arch_prctl", "prctl", "restart_syscall",
	/* Who and where a process is, inside the sandbox's own namespaces;
	 * sysinfo also tells the machine's memory, which the C library's
	 * sysconf(_SC_PHYS_PAGES) reads. */
	"getpid", "getppid", "gettid", "getpgid", "getpgrp", "getsid", "setpgid",
	"setsid", "getuid", "geteuid", "getgid", "getegid", "getresuid",
	"getresgid", "getgroups", "uname", "sysinfo", "getcpu", "getrandom",
	"capget",
	/* Changing ids and capabilities: with no capability left, a process may
	 * only give up what it has (CPython's tests and subprocess try). */
	"setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid",
	"setgroups", "setfsuid", "setfsgid", "capset",
	/* Scheduling and resource limits of the run's own processes: the
	 * cgroup bounds the whole, and without CAP_SYS_NICE or
	 * CAP_SYS_RESOURCE nothing can be raised. numpy's BLAS pins threads. */
	"sched_yield", "sched_getaffinity", "sched_setaffinity",
	"sched_getparam", "sched_setparam", "sched_getscheduler",
	"sched_setscheduler", "sched_get_priority_max", "sched_get_priority_min",
	"sched_rr_get_interval", "sched_getattr", "getpriority", "setpriority",
	"getrlimit", "setrlimit", "prlimit64", "getrusage", "times",
	/* Memory. */
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "msync",
	"memfd_create",
	/* Files and folders: the mounts decide what can be seen and written. */
	"open", "openat", "creat", "close", "close_range", "read",
	"write", "pread64", "pwrite64", "readv", "writev", "preadv", "pwritev",
	"preadv2", "pwritev2", "lseek", "stat", "fstat", "lstat", "newfstatat",
	"statx", "statfs", "fstatfs", "access", "faccessat", "faccessat2",
	"readlink", "readlinkat", "getdents", "getdents64", "getcwd", "chdir",
	"fchdir", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename",
	"renameat", "renameat2", "link", "linkat", "symlink", "symlinkat",
	"mknod", "mknodat", "chmod", "fchmod", "fchmodat", "chown", "fchown",
	"lchown", "fchownat", "truncate", "ftruncate", "fallocate", "fadvise64",
	"fsync", "fdatasync", "flock", "utime", "utimes", "utimensat",
	"futimesat", "umask", "sendfile", "copy_file_range", "splice", "tee",
	/* Extended attributes: shutil.copy2 copies them and treats only
	 * "not supported" as absent, not ENOSYS. */
	"getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr",
	"flistxattr", "setxattr", "lsetxattr", "fsetxattr", "removexattr",
	"lremovexattr", "fremovexattr",
	/* Descriptors, pipes and waiting on them (asyncio, subprocess). */
	"fcntl", "dup", "dup2", "dup3", "pipe", "pipe2", "select", "pselect6",
	"poll", "ppoll", "epoll_create", "epoll_create1", "epoll_ctl",
	"epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2",
	/* Signals, within the run's pid namespace. */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigsuspend",
	"rt_sigpending", "rt_sigtimedwait", "rt_sigqueueinfo",
	"rt_tgsigqueueinfo", "sigaltstack", "signalfd", "signalfd4", "kill",
	"tkill", "tgkill", "pause", "pidfd_open", "pidfd_send_signal",
	/* Clocks and timers (reading the clock only; setting it is refused). */
	"clock_gettime", "clock_getres", "clock_nanosleep", "gettimeofday",
	"time", "nanosleep", "alarm", "getitimer", "setitimer", "timer_create",
	"timer_settime", "timer_gettime", "timer_getoverrun", "timer_delete",
	"timerfd_create", "timerfd_settime", "timerfd_gettime",
	/* Sockets (socket and socketpair are allowed below for three families
	 * only); the network namespace has nothing but its own loopback. */
	"bind", "listen", "accept", "accept4", "connect", "getsockname",
	"getpeername", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg",
	"recvmmsg", "shutdown", "setsockopt", "getsockopt",
};

/* Calls no analysis needs and that reach into the kernel's or other
 * processes' state: refused with EPERM, named so the error says so (any
 * other call that is not allowed fails with ENOSYS). */
static const char *const denied_calls[] = {
	/* Reading or changing other processes. */
	"ptrace", "process_vm_readv", "process_vm_writev", "process_madvise",
	"pidfd_getfd", "kcmp",
	/* File system and namespace changes: the root stays as built. */
	"mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree",
	"fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "unshare",
	"setns",
	/* Kernel keyrings are not namespaced. */
	"keyctl", "add_key", "request_key",
	/* Large kernel attack surface, never needed by analyses. */
	"bpf", "perf_event_open", "userfaultfd", "io_uring_setup",
	"io_uring_enter", "io_uring_register", "fanotify_init",
	/* inotify instances count against the user that owns the sandbox's
	 * user namespace, which is the supervisor's: a run could use them up. */
	"inotify_init", "inotify_init1",
	/* Machine administration. */
	"kexec_load", "kexec_file_load", "init_module", "finit_module",
	"delete_module", "reboot", "swapon", "swapoff", "acct", "quotactl",
	"quotactl_fd", "syslog", "vhangup", "iopl", "ioperm", "settimeofday",
	"clock_settime", "clock_adjtime", "adjtimex", "sethostname",
	"setdomainname", "lookup_dcookie", "uselib", "nfsservctl",
	/* File handles bypass path checks (the "shocker" escape). */
	"open_by_handle_at", "name_to_handle_at",
	/* Moving other processes' memory between NUMA nodes. */
	"migrate_pages", "move_pages",
};

/* clone() flags that would make a new namespace. */
static const unsigned long clone_ns_flags[] = {
	CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
	CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP,
};

/* The socket families a run may open. */
static const int socket_families[] = { AF_UNIX, AF_INET, AF_INET6 };

/* Adds one rule per name; names libseccomp does not know are skipped. */
static int rules_add_by_name(scmp_filter_ctx ctx, uint32_t action, const char *const *names,
			     size_t n_names)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < n_names; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		if (nr != __NR_SCMP_ERROR)
			r = seccomp_rule_add(ctx, action, nr, 0);
	}
	return r;
}

/* clone() without any namespace flag; with one, EPERM. The kernel reads
 * only the low 32 bits of the flags, as do the masks. */
static int clone_rules_add(scmp_filter_ctx ctx)
{
	unsigned long all_ns = 0;
	int r = 0;

	for (size_t i = 0; r == 0 && i < sizeof(clone_ns_flags) / sizeof(clone_ns_flags[0]); i++) {
		all_ns |= clone_ns_flags[i];
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, clone_ns_flags[i], clone_ns_flags[i]));
	}
	/* clone3 passes its flags in memory the filter cannot read: it is not
	 * allowed, so it fails with ENOSYS (the default, which libseccomp
	 * refuses to repeat as a rule) and the C library falls back to
	 * clone(), whose flags are checked here. */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, all_ns, 0));
	return r;
}

/* ioctl, except TIOCSTI, which pushes input into a terminal, and
 * TIOCLINUX, which does the same on a Linux console: the sandbox has no
 * terminal, but the check is cheap. The kernel reads the request's low 32
 * bits, so the refusals compare only those. The allowing rule carries an
 * always-true comparison rather than none: libseccomp lets an
 * unconditional rule override every conditional one of the same call, and
 * it checks the refusals' exact values before this range. */
static int ioctl_rules_add(scmp_filter_ctx ctx)
{
	int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
				 SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_GE, 0, 0));
	return r;
}

/* Sockets: only AF_UNIX, AF_INET and AF_INET6. The network namespace has
 * nothing but a loopback interface, so IP reaches only the sandbox itself;
 * every other family (netlink, packet, vsock, bluetooth, ...) is refused
 * with EAFNOSUPPORT, whatever the upper bits of the argument hold. */
static int socket_rules_add(scmp_filter_ctx ctx, int call)
{
	const uint32_t deny = SCMP_ACT_ERRNO(EAFNOSUPPORT);
	int r = seccomp_rule_add(ctx, deny, call, 1, SCMP_A0(SCMP_CMP_EQ, AF_UNSPEC, 0));

	for (int family = AF_INET + 1; r == 0 && family < AF_INET6; family++)
		r = seccomp_rule_add(ctx, deny, call, 1, SCMP_A0(SCMP_CMP_EQ, family, 0));
	if (r == 0)
		r = seccomp_rule_add(ctx, deny, call, 1, SCMP_A0(SCMP_CMP_GT, AF_INET6, 0));
	for (size_t i = 0; r == 0 && i < sizeof(socket_families) / sizeof(socket_families[0]); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, call, 1,
				     SCMP_A0(SCMP_CMP_EQ, socket_families[i], 0));
	return r;
}

/* personality: reading it (0xffffffff) and setting plain Linux. Other
 * personalities change how the kernel treats the process (no address
 * randomisation, executable data, 32-bit emulation), which only an exploit
 * wants: EPERM. */
static int personality_rules_add(scmp_filter_ctx ctx)
{
	int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(personality), 1,
				 SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, PER_LINUX));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(personality), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, 0xffffffffu));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1,
				     SCMP_A0(SCMP_CMP_GE, 0, 0));
	return r;
}

static int filter_rules_add(scmp_filter_ctx ctx)
{
	int r = rules_add_by_name(ctx, SCMP_ACT_ALLOW, allowed_calls,
				  sizeof(allowed_calls) / sizeof(allowed_calls[0]));

	if (r == 0)
		r = rules_add_by_name(ctx, SCMP_ACT_ERRNO(EPERM), denied_calls,
				      sizeof(denied_calls) / sizeof(denied_calls[0]));
	if (r == 0)
		r = clone_rules_add(ctx);
	if (r == 0)
		r = ioctl_rules_add(ctx);
	if (r == 0)
		r = socket_rules_add(ctx, SCMP_SYS(socket));
	if (r == 0)
		r = socket_rules_add(ctx, SCMP_SYS(socketpair));
	if (r == 0)
		r = personality_rules_add(ctx);
	return r;
}

static int filter_export(scmp_filter_ctx ctx, struct sock_fprog **ret)
{
	int fd = memfd_create("ledgerbox-seccomp", MFD_CLOEXEC);
	struct sock_fprog *prog = NULL;
	off_t size;
	int r;

	if (fd < 0)
		return -errno;
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		goto out_close;
	size = lseek(fd, 0, SEEK_END);
	if (size <= 0 || size % (off_t)sizeof(struct sock_filter) != 0) {
		r = -EINVAL;
		goto out_close;
	}
	prog = calloc(1, sizeof(*prog) + (size_t)size);
	if (!prog) {
		r = -ENOMEM;
		goto out_close;
	}
	prog->filter = (struct sock_filter *)(prog + 1);
	prog->len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
	if (pread(fd, prog->filter, (size_t)size, 0) != size) {
		free(prog);
		r = -EIO;
		goto out_close;
	}
	*ret = prog;
	r = 0;
out_close:
	close(fd);
	return r;
}

static int filter_build(struct sock_fprog **ret)
{
	/* Whatever the lists do not name fails as a kernel without it would. */
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(ENOSYS));
	int r;

	if (!ctx)
		return -ENOMEM;
	/* Any call through a foreign ABI kills the whole process. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r == 0)
		r = filter_rules_add(ctx);
	if (r == 0)
		r = filter_export(ctx, ret);
	seccomp_release(ctx);
	return r;
}

int seccomp_filter_get(const void **ret_prog, char *err, size_t err_len)
{
	static struct sock_fprog *cached;
	int r;

	if (!cached) {
		r = filter_build(&cached);
		if (r < 0) {
			snprintf(err, err_len, "building the seccomp filter failed: %s", strerror(-r));
			return r;
		}
	}
	*ret_prog = cached;
	return 0;
}

int seccomp_filter_load(const void *prog)
{
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog, 0, 0) < 0)
		return -errno;
	return 0;
}
