/*
 * seccomp: the system-call filter every sandboxed process runs under.
 *
 * A deny list on top of namespaces and dropped capabilities: the kernel
 * already refuses most of these calls to a process without capabilities, but
 * each one has been the door of a container escape or a kernel exploit, so
 * the filter refuses them before any kernel code for them runs. Denied calls
 * fail with EPERM (EAFNOSUPPORT for socket families, ENOSYS for clone3) so
 * programs see an ordinary error, not a crash.
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
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sandbox/internal.h"
#include "util/banned.h"

/* Calls no analysis needs and that reach into the kernel's or other
 * processes' state. Unknown names (not on this architecture) are skipped. */
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

static int deny_by_name(scmp_filter_ctx ctx, const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR)
		return 0;
	return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
}

static int deny_clone_namespaces(scmp_filter_ctx ctx)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < sizeof(clone_ns_flags) / sizeof(clone_ns_flags[0]); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, clone_ns_flags[i], clone_ns_flags[i]));
	/* clone3 passes its flags in memory the filter cannot read: refuse it
	 * with ENOSYS so the C library falls back to clone(), which we check. */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	return r;
}

/* TIOCSTI pushes input into a terminal; TIOCLINUX does the same on a Linux
 * console. The sandbox has no terminal, but the kernel check is cheap. */
static int deny_terminal_injection(scmp_filter_ctx ctx)
{
	int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
				 SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX));
	return r;
}

/* Sockets: only AF_UNIX, AF_INET and AF_INET6. The network namespace has
 * nothing but a loopback interface, so IP reaches only the sandbox itself;
 * every other family (netlink, packet, vsock, bluetooth, ...) is refused. */
static int deny_socket_families(scmp_filter_ctx ctx, int call)
{
	const int deny = SCMP_ACT_ERRNO(EAFNOSUPPORT);
	int r = seccomp_rule_add(ctx, deny, call, 1, SCMP_A0(SCMP_CMP_EQ, AF_UNSPEC, 0));

	for (int family = AF_INET + 1; r == 0 && family < AF_INET6; family++)
		r = seccomp_rule_add(ctx, deny, call, 1, SCMP_A0(SCMP_CMP_EQ, family, 0));
	if (r == 0)
		r = seccomp_rule_add(ctx, deny, call, 1, SCMP_A0(SCMP_CMP_GT, AF_INET6, 0));
	return r;
}

static int filter_rules_add(scmp_filter_ctx ctx)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < sizeof(denied_calls) / sizeof(denied_calls[0]); i++)
		r = deny_by_name(ctx, denied_calls[i]);
	if (r == 0)
		r = deny_clone_namespaces(ctx);
	if (r == 0)
		r = deny_terminal_injection(ctx);
	if (r == 0)
		r = deny_socket_families(ctx, SCMP_SYS(socket));
	if (r == 0)
		r = deny_socket_families(ctx, SCMP_SYS(socketpair));
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
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
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
