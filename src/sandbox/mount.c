/*
 * mount: builds the sandbox's root file system and pivots into it.
 *
 * Runs in the child, inside its new user and mount namespaces, between
 * clone() and exec: system calls only, no allocation, no stdio.
 *
 * Steps: make every mount private; mount a small staging tmpfs on /tmp and
 * pivot into it, so the host's root is reachable as /oldroot; mount the new
 * root (a tmpfs) at /newroot and fill it: read-only binds of /usr and a few
 * /etc entries, our own /etc/passwd and friends, a fresh /proc for the new
 * pid namespace, a tmpfs /dev holding only null, zero, random and urandom,
 * size-limited tmpfs at /tmp, /dev/shm and /out, the dataset read-only at
 * /data. Then pivot into /newroot, detach the old root entirely and make the
 * root read-only. Nothing of the host stays reachable but what was bound.
 *
 * In a user namespace a bind mount keeps the flags of its source that the
 * kernel locked (nosuid, nodev, noexec, atime): the read-only remount must
 * repeat them or it fails, so they are read from the source with statfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/internal.h"
#include "util/banned.h"

#define OLD "/oldroot"
#define NEW "/newroot"

/* Concatenates up to three parts; async-signal-safe. */
static int path3(char out[PATH_MAX], const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = c ? strlen(c) : 0;

	if (la + lb + lc + 1 > PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(out, a, la);
	memcpy(out + la, b, lb);
	if (c)
		memcpy(out + la + lb, c, lc);
	out[la + lb + lc] = '\0';
	return 0;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		tmp[i] = path[i];
	}
	return 0;
}

static int make_mountpoint(const char *dst, bool is_file)
{
	char parent[PATH_MAX];
	const char *slash = strrchr(dst, '/');
	int fd, r;

	if (!is_file)
		return mkdir_p(dst, 0755);
	if (!slash || (size_t)(slash - dst) >= sizeof(parent))
		return -EINVAL;
	memcpy(parent, dst, (size_t)(slash - dst));
	parent[slash - dst] = '\0';
	r = mkdir_p(parent, 0755);
	if (r < 0)
		return r;
	fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static unsigned long locked_flags(const char *src)
{
	struct statfs st;
	unsigned long flags = 0;

	if (statfs(src, &st) < 0)
		return 0;
	if (st.f_flags & ST_NOSUID)
		flags |= MS_NOSUID;
	if (st.f_flags & ST_NODEV)
		flags |= MS_NODEV;
	if (st.f_flags & ST_NOEXEC)
		flags |= MS_NOEXEC;
	if (st.f_flags & ST_NOATIME)
		flags |= MS_NOATIME;
	if (st.f_flags & ST_NODIRATIME)
		flags |= MS_NODIRATIME;
	if (st.f_flags & ST_RELATIME)
		flags |= MS_RELATIME;
	return flags;
}

/* Binds host path `src` read-only at `dst` in the new root, adding `flags`.
 * Returns 1 when an optional source is missing. */
static int bind_readonly(const struct plan_bind *b, unsigned long flags, const char **step)
{
	char src[PATH_MAX], dst[PATH_MAX];
	struct stat st;
	int r;

	if (path3(src, OLD, b->src, NULL) < 0 || path3(dst, NEW, b->dst, NULL) < 0)
		return -ENAMETOOLONG;
	if (stat(src, &st) < 0)
		return b->optional ? 1 : -errno;
	*step = "create a mount point in the new root";
	r = make_mountpoint(dst, b->is_file);
	if (r < 0)
		return r;
	*step = "bind-mount a host path";
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
		return -errno;
	*step = "make a bind mount read-only";
	if (mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | flags | locked_flags(src),
		  NULL) < 0)
		return -errno;
	return 0;
}

static int write_file(const struct plan_file *f)
{
	char dst[PATH_MAX];
	size_t off = 0;
	int fd, r;

	if (path3(dst, NEW, f->dst, NULL) < 0)
		return -ENAMETOOLONG;
	r = make_mountpoint(dst, true);
	if (r < 0)
		return r;
	fd = open(dst, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	while (off < f->len) {
		ssize_t n = write(fd, f->content + off, f->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			close(fd);
			return r;
		}
		off += (size_t)n;
	}
	r = fchmod(fd, f->mode) < 0 ? -errno : 0;
	close(fd);
	return r;
}

static int mount_tmpfs(const char *dst, const char *opts, unsigned long flags)
{
	char path[PATH_MAX];
	int r;

	if (path3(path, NEW, dst, NULL) < 0)
		return -ENAMETOOLONG;
	r = mkdir_p(path, 0755);
	if (r < 0)
		return r;
	if (mount("tmpfs", path, "tmpfs", flags, opts) < 0)
		return -errno;
	return 0;
}

static int send_out_dir(int ctl_fd)
{
	struct ctl_msg msg = { .kind = CTL_OUTDIR };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { &msg, sizeof(msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	int fd = open(NEW "/out", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	memset(control.buf, 0, sizeof(control.buf));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(ctl_fd, &mh, MSG_NOSIGNAL) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int build_dev(const char **step)
{
	static const char *const nodes[] = { "null", "zero", "random", "urandom" };
	static const char *const links[][2] = {
		{ "/proc/self/fd", "fd" }, { "/proc/self/fd/0", "stdin" },
		{ "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
	};
	char path[PATH_MAX];
	int r;

	*step = "mount /dev";
	r = mount_tmpfs("/dev", "mode=0755,size=64k", MS_NOSUID | MS_NOEXEC);
	for (size_t i = 0; r == 0 && i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		struct plan_bind b = { .is_file = true };
		if (path3(b.src, "/dev/", nodes[i], NULL) < 0 || path3(b.dst, "/dev/", nodes[i], NULL) < 0)
			return -ENAMETOOLONG;
		/* Device nodes need a mount without nodev: keep the host's. */
		r = bind_readonly(&b, MS_NOSUID | MS_NOEXEC, step);
	}
	for (size_t i = 0; r == 0 && i < sizeof(links) / sizeof(links[0]); i++) {
		*step = "create a /dev link";
		if (path3(path, NEW "/dev/", links[i][1], NULL) < 0)
			return -ENAMETOOLONG;
		if (symlink(links[i][0], path) < 0)
			r = -errno;
	}
	return r;
}

static int fill_root(const struct sandbox_plan *p, const char **step)
{
	char path[PATH_MAX];
	int r = 0;

	for (int i = 0; r >= 0 && i < p->n_binds; i++)
		r = bind_readonly(&p->binds[i], MS_NOSUID | MS_NODEV, step);
	for (int i = 0; r >= 0 && i < p->n_links; i++) {
		char *slash;
		*step = "create a link in the new root";
		if (path3(path, NEW, p->links[i].dst, NULL) < 0)
			return -ENAMETOOLONG;
		/* Its folder (/etc for /etc/localtime) may hold no bind. */
		slash = strrchr(path, '/');
		*slash = '\0';
		r = mkdir_p(path, 0755);
		*slash = '/';
		if (r == 0 && symlink(p->links[i].target, path) < 0)
			r = -errno;
	}
	for (int i = 0; r >= 0 && i < p->n_files; i++) {
		*step = "write a file into the new root";
		r = write_file(&p->files[i]);
	}
	return r < 0 ? r : 0;
}

/*
 * /proc entries that describe the host rather than the sandbox's own
 * processes, masked as container runtimes do: /dev/null bound over files,
 * an empty read-only tmpfs over folders. A missing entry (a kernel without
 * it) is skipped. docs/sandbox.md lists what stays and why.
 */
static const char *const proc_masked_files[] = {
	"/proc/cmdline",       "/proc/config.gz",     "/proc/locks",
	"/proc/kcore",	       "/proc/keys",	      "/proc/key-users",
	"/proc/timer_list",    "/proc/sched_debug",   "/proc/kallsyms",
	"/proc/modules",       "/proc/latency_stats", "/proc/sysrq-trigger",
	"/proc/kmsg",	       "/proc/kpagecount",    "/proc/kpageflags",
	"/proc/kpagecgroup",   "/proc/vmallocinfo",   "/proc/iomem",
	"/proc/ioports",       "/proc/partitions",    "/proc/diskstats",
	"/proc/swaps",	       "/proc/devices",	      "/proc/consoles",
	"/proc/mtrr",	       "/proc/buddyinfo",     "/proc/pagetypeinfo",
	"/proc/zoneinfo",      "/proc/slabinfo",      "/proc/softirqs",
	"/proc/interrupts",    "/proc/misc",	      "/proc/version",
	"/proc/sys/kernel/random/boot_id",
	/* Counts every cgroup on the host: each run has its own, so the
	 * count follows other runs starting and ending. */
	"/proc/cgroups",
};
static const char *const proc_masked_dirs[] = {
	"/proc/acpi", "/proc/scsi", "/proc/bus", "/proc/irq",	"/proc/fs",
	"/proc/driver", "/proc/tty", "/proc/sysvipc", "/proc/dynamic_debug", "/proc/fb",
};

static int proc_mask(const char **step)
{
	char path[PATH_MAX];
	struct stat st;
	const unsigned long ro = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;

	/* /proc/sys read-only, before its masks go on top: the limits of the
	 * run's own IPC and pid namespaces (kernel/shmmax, msgmni,
	 * shm_rmid_forced, fs/mqueue) belong to the run's root, which could
	 * otherwise change them; nothing a run does needs to. */
	*step = "make /proc/sys read-only";
	if (mount(NEW "/proc/sys", NEW "/proc/sys", NULL, MS_BIND, NULL) < 0 ||
	    mount(NULL, NEW "/proc/sys", NULL, MS_REMOUNT | MS_BIND | ro, NULL) < 0)
		return -errno;
	for (size_t i = 0; i < sizeof(proc_masked_files) / sizeof(proc_masked_files[0]); i++) {
		if (path3(path, NEW, proc_masked_files[i], NULL) < 0)
			return -ENAMETOOLONG;
		if (lstat(path, &st) < 0)
			continue;
		*step = "mask a /proc file with /dev/null";
		if (mount(NEW "/dev/null", path, NULL, MS_BIND, NULL) < 0)
			return -errno;
		/* Not nodev: reading the mask gives nothing rather than EACCES,
		 * as in a container. */
		if (mount(NULL, path, NULL,
			  MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC |
				  locked_flags(NEW "/dev/null"),
			  NULL) < 0)
			return -errno;
	}
	for (size_t i = 0; i < sizeof(proc_masked_dirs) / sizeof(proc_masked_dirs[0]); i++) {
		if (path3(path, NEW, proc_masked_dirs[i], NULL) < 0)
			return -ENAMETOOLONG;
		if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		*step = "mask a /proc folder with an empty tmpfs";
		if (mount("tmpfs", path, "tmpfs", ro, "size=4k,mode=0555") < 0)
			return -errno;
	}
	return 0;
}

static int mount_proc_and_dev(const struct sandbox_plan *p, const char **step)
{
	const unsigned long scratch = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	int r;

	*step = "mount /proc";
	r = mkdir_p(NEW "/proc", 0555);
	if (r == 0 && mount("proc", NEW "/proc", "proc", scratch, NULL) < 0)
		r = -errno;
	if (r == 0)
		r = build_dev(step);
	if (r == 0)
		r = proc_mask(step);
	if (r < 0)
		return r;
	*step = "mount /dev/shm";
	r = mount_tmpfs("/dev/shm", p->shm_opts, scratch);
	if (r < 0)
		return r;
	*step = "make /dev read-only";
	if (mount(NULL, NEW "/dev", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL) < 0)
		return -errno;
	return 0;
}

/* "/proc/self/fd/N" for fd, without stdio. */
static void fd_path(char out[PATH_MAX], int fd)
{
	char digits[12];
	int n = 0;

	do
		digits[n++] = (char)('0' + fd % 10);
	while ((fd /= 10) > 0 && n < 11);
	memcpy(out, "/proc/self/fd/", 14);
	for (int i = 0; i < n; i++)
		out[14 + i] = digits[n - 1 - i];
	out[14 + n] = '\0';
}

/*
 * A dataset folder is shown at /data through a read-only overlay rather
 * than a bind mount. A bind mount's entry in /proc/self/mountinfo names
 * the folder's path on the host (the root of the mount within its file
 * system), which says where and whose the data is. The overlay's layers
 * are staged under neutral names in the staging root, which is detached
 * at the pivot, so mountinfo shows only "lowerdir=/dataset:/empty".
 * Overlay needs two layers when it has no upper one; the second is empty.
 * A kernel that refuses overlay in a user namespace gets the bind mount.
 */
static int mount_data_overlay(const struct plan_bind *data, const char **step)
{
	char dst[PATH_MAX];
	int r;

	*step = "stage the dataset for its overlay";
	if (mkdir("/dataset", 0700) < 0 || mkdir("/empty", 0500) < 0)
		return -errno;
	if (path3(dst, OLD, data->src, NULL) < 0)
		return -ENAMETOOLONG;
	if (mount(dst, "/dataset", NULL, MS_BIND, NULL) < 0)
		return -errno;
	*step = "mount the dataset's overlay at /data";
	if (path3(dst, NEW, data->dst, NULL) < 0)
		return -ENAMETOOLONG;
	r = mkdir_p(dst, 0755);
	if (r < 0)
		return r;
	if (mount("overlay", dst, "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "lowerdir=/dataset:/empty") < 0)
		return -errno;
	return 0;
}

static int mount_runtime(const struct sandbox_plan *p, const int data_fds[1 + PLAN_DATA_SIDES],
			 const char **step)
{
	const unsigned long scratch = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	struct plan_bind data;
	int r = mount_proc_and_dev(p, step);

	if (r < 0)
		return r;
	*step = "mount /tmp";
	r = mount_tmpfs("/tmp", p->tmp_opts, scratch);
	if (r < 0)
		return r;
	*step = "mount /out";
	r = mount_tmpfs("/out", p->out_opts, scratch);
	if (r < 0)
		return r;
	*step = "hand /out to the supervisor";
	r = send_out_dir(p->ctl_fd);
	if (r < 0 || !p->data.dst[0])
		return r;
	*step = "mount the dataset at /data";
	data = p->data;
	fd_path(data.src, data_fds[0]);
	r = data.is_file ? 1 : mount_data_overlay(&data, step);
	if (r != 0)
		r = bind_readonly(&data, scratch, step);
	for (int i = 0; r >= 0 && i < PLAN_DATA_SIDES; i++) {
		if (data_fds[1 + i] < 0)
			continue;
		*step = "mount the dataset's -wal or -journal file at /data";
		data = p->data_side[i];
		fd_path(data.src, data_fds[1 + i]);
		r = bind_readonly(&data, scratch, step);
	}
	return r < 0 ? r : 0;
}

static int pivot_into(const char *dir)
{
	if (chdir(dir) < 0)
		return -errno;
	/* pivot_root(".", ".") stacks the old root on top of the new one;
	 * detaching it then leaves only the new root. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return -errno;
	if (umount2(".", MNT_DETACH) < 0)
		return -errno;
	if (chdir("/") < 0)
		return -errno;
	return 0;
}

int mount_build_root(const struct sandbox_plan *p, const int data_fds[1 + PLAN_DATA_SIDES],
		     const char **step)
{
	int r;

	*step = "make mounts private";
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	*step = "mount the staging tmpfs";
	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=64k") < 0)
		return -errno;
	*step = "pivot into the staging tmpfs";
	if (mkdir("/tmp" OLD, 0700) < 0 || syscall(SYS_pivot_root, "/tmp", "/tmp" OLD) < 0 ||
	    chdir("/") < 0)
		return -errno;
	*step = "mount the new root";
	if (mkdir(NEW, 0755) < 0 ||
	    mount("tmpfs", NEW, "tmpfs", MS_NOSUID | MS_NODEV, p->rootfs_opts) < 0)
		return -errno;
	r = fill_root(p, step);
	if (r == 0)
		r = mount_runtime(p, data_fds, step);
	if (r < 0)
		return r;
	*step = "pivot into the new root";
	r = pivot_into(NEW);
	if (r < 0)
		return r;
	*step = "make the root read-only";
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
		return -errno;
	return 0;
}
