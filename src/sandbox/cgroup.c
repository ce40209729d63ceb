/*
 * cgroup: per-run control groups for memory, processes and CPU accounting.
 *
 * Detected at run time, once per process:
 *  - cgroup v2 when the unified hierarchy offers the memory and pids
 *    controllers to ledgerbox's own cgroup;
 *  - otherwise cgroup v1, controller by controller (memory, pids, cpuacct),
 *    which is what hybrid machines with an empty v2 mount have;
 *  - otherwise none, and the sandbox falls back to rlimits and says so.
 * Each run's cgroup is made beneath the cgroup ledgerbox itself runs in (the
 * subtree that systemd's Delegate= hands a service), never elsewhere.
 *
 * v2 forbids processes in a cgroup that hands controllers to children. When
 * ledgerbox's own cgroup holds only ledgerbox, it moves itself into a leaf
 * "supervisor" child first; when it shares the cgroup with other processes
 * (an interactive shell), v2 limits are not used.
 *
 * Not thread-safe: called from the single-threaded supervisor only.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/cgroup_fs.h"
#include "sandbox/internal.h"
#include "util/banned.h"

enum { CTRL_MEMORY, CTRL_PIDS, CTRL_CPU, N_CTRL };
static const char *const v1_names[N_CTRL] = { "memory", "pids", "cpuacct" };

struct cgroup_host {
	bool detected;
	int version;
	char v2_base[PATH_MAX];
	char v1_base[N_CTRL][PATH_MAX]; /* empty when the controller is unusable */
	char why_not[160];
};

static struct cgroup_host host;
static unsigned long run_seq;

static bool has_token(const char *list, const char *token, char sep)
{
	size_t len = strlen(token);

	for (const char *p = list; p && *p;) {
		if (strncmp(p, token, len) == 0 && (p[len] == sep || p[len] == '\0' || p[len] == '\n' ||
						    p[len] == ' '))
			return true;
		p = strchr(p, sep);
		if (p)
			p++;
	}
	return false;
}

/* Finds the mount point of the cgroup hierarchy holding `controller` (v1) or
 * of the unified hierarchy (controller NULL), and the mount's root. */
static int mount_find(const char *controller, char *ret_mnt, char *ret_root)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (r < 0 && fgets(line, sizeof(line), f)) {
		char root[PATH_MAX], mnt[PATH_MAX], fstype[64], superopts[1024];
		char *dash = strstr(line, " - ");

		if (!dash || sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2 ||
		    sscanf(dash + 3, "%63s %*s %1023s", fstype, superopts) != 2)
			continue;
		if (controller ? (strcmp(fstype, "cgroup") == 0 && has_token(superopts, controller, ','))
			       : strcmp(fstype, "cgroup2") == 0) {
			snprintf(ret_mnt, PATH_MAX, "%s", mnt);
			snprintf(ret_root, PATH_MAX, "%s", root);
			r = 0;
		}
	}
	fclose(f);
	return r;
}

/* Our own cgroup path in the hierarchy of `controller` ("" for v2). */
static int own_path(const char *controller, char *ret)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[4096];
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (r < 0 && fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2)
			continue;
		char *path = c2 + 1;

		path[strcspn(path, "\n")] = '\0';
		*c2 = '\0';
		if (controller ? has_token(c1 + 1, controller, ',') : (c1[1] == '\0' && line[0] == '0')) {
			snprintf(ret, PATH_MAX, "%s", path);
			r = 0;
		}
	}
	fclose(f);
	return r;
}

static int base_dir(const char *controller, char *ret)
{
	char mnt[PATH_MAX], root[PATH_MAX], path[PATH_MAX];
	const char *rel;
	int r = mount_find(controller, mnt, root);

	if (r < 0 || (r = own_path(controller, path)) < 0)
		return r;
	rel = path;
	if (strcmp(root, "/") != 0 && strncmp(path, root, strlen(root)) == 0)
		rel = path + strlen(root);
	return cgfs_join(ret, PATH_MAX, mnt, rel);
}

/* A v1 controller is usable when we may make child cgroups in it. A run
 * whose cgroup cannot be made after all falls back to rlimits then. */
static bool v1_usable(const char *dir)
{
	return access(dir, W_OK) == 0;
}

/* v2: moves us into a leaf when our cgroup holds only us, then hands the
 * memory and pids controllers to our children. */
static int v2_enable(const char *dir)
{
	char leaf[PATH_MAX], procs[4096], path[PATH_MAX], self[32];
	int r = cgfs_write(dir, "cgroup.subtree_control", "+memory +pids");

	if (r != -EBUSY)
		return r;
	if (cgfs_join(path, sizeof(path), dir, "cgroup.procs") < 0 ||
	    cgfs_read(path, procs, sizeof(procs)) < 0)
		return -EBUSY;
	snprintf(self, sizeof(self), "%d\n", (int)getpid());
	if (strcmp(procs, self) != 0)
		return -EBUSY; /* shared with other processes: leave them be */
	if (cgfs_join(leaf, sizeof(leaf), dir, "supervisor") < 0 ||
	    (mkdir(leaf, 0755) < 0 && errno != EEXIST))
		return -errno;
	r = cgfs_write(leaf, "cgroup.procs", "0");
	if (r < 0)
		return r;
	return cgfs_write(dir, "cgroup.subtree_control", "+memory +pids");
}

/* Workers of `ledgerbox serve` share the service's cgroup with the server,
 * so they cannot delegate from it themselves: the server does it once
 * (sandbox_cgroup_delegate) and names the base in the environment. */
static bool v2_inherited(void)
{
	const char *base = getenv("LEDGERBOX_CGROUP_V2_BASE");
	char path[PATH_MAX], enabled[512];

	if (!base || !*base || cgfs_join(path, sizeof(path), base, "cgroup.subtree_control") < 0 ||
	    cgfs_read(path, enabled, sizeof(enabled)) < 0 || !has_token(enabled, "memory", ' ') ||
	    !has_token(enabled, "pids", ' '))
		return false;
	snprintf(host.v2_base, sizeof(host.v2_base), "%s", base);
	return true;
}

static bool v2_detect(void)
{
	char path[PATH_MAX], controllers[512];

	if (v2_inherited())
		return true;
	if (base_dir(NULL, host.v2_base) < 0 ||
	    cgfs_join(path, sizeof(path), host.v2_base, "cgroup.controllers") < 0 ||
	    cgfs_read(path, controllers, sizeof(controllers)) < 0)
		return false;
	if (!has_token(controllers, "memory", ' ') || !has_token(controllers, "pids", ' '))
		return false;
	if (v2_enable(host.v2_base) < 0) {
		snprintf(host.why_not, sizeof(host.why_not),
			 "cgroup v2: cannot delegate controllers below %.80s (it holds other processes)",
			 host.v2_base);
		return false;
	}
	return true;
}

/* Removes run cgroups left by a supervisor that died (their pid is gone);
 * one in use cannot be removed and stays. */
static void sweep_stale(const char *base)
{
	DIR *d = opendir(base);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char path[PATH_MAX];
		long pid;
		if (strncmp(de->d_name, "ledgerbox-run-", 14) != 0)
			continue;
		pid = strtol(de->d_name + 14, NULL, 10);
		if (pid <= 0 || (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
			continue;
		if (cgfs_join(path, sizeof(path), base, de->d_name) == 0)
			rmdir(path);
	}
	if (d)
		closedir(d);
}

static void host_detect(void)
{
	host.detected = true;
	if (v2_detect()) {
		host.version = 2;
		sweep_stale(host.v2_base);
		return;
	}
	for (int c = 0; c < N_CTRL; c++) {
		if (base_dir(v1_names[c], host.v1_base[c]) < 0 || !v1_usable(host.v1_base[c])) {
			host.v1_base[c][0] = '\0';
		} else {
			host.version = 1;
			sweep_stale(host.v1_base[c]);
		}
	}
	if (host.version == 0 && !host.why_not[0])
		snprintf(host.why_not, sizeof(host.why_not),
			 "no usable cgroup (no v2 memory+pids delegation, no writable v1 controllers)");
}

static int v2_create(struct cgroup_run *cg, const struct sandbox_limits *l, const char *name)
{
	int r = cgfs_join(cg->memory_dir, PATH_MAX, host.v2_base, name);

	if (r < 0 || (mkdir(cg->memory_dir, 0755) < 0 && (r = -errno) < 0))
		return r;
	snprintf(cg->pids_dir, PATH_MAX, "%s", cg->memory_dir);
	snprintf(cg->cpu_dir, PATH_MAX, "%s", cg->memory_dir);
	cg->has_memory = cg->has_pids = cg->has_cpu = true;
	r = cgfs_write_u64(cg->memory_dir, "memory.max", l->memory_bytes);
	if (r == 0)
		r = cgfs_write_u64(cg->memory_dir, "pids.max", l->pids);
	/* No swap, so the memory limit is the whole story; and an OOM kill
	 * takes the whole run down, not one process of it. */
	cgfs_write(cg->memory_dir, "memory.swap.max", "0");
	cgfs_write(cg->memory_dir, "memory.oom.group", "1");
	return r;
}

static int v1_create_one(char *dir, int ctrl, const char *name)
{
	if (!host.v1_base[ctrl][0])
		return 0;
	if (cgfs_join(dir, PATH_MAX, host.v1_base[ctrl], name) < 0)
		return -ENAMETOOLONG;
	if (mkdir(dir, 0755) < 0) {
		int r = -errno;
		dir[0] = '\0';
		return r;
	}
	return 1;
}

static int v1_create(struct cgroup_run *cg, const struct sandbox_limits *l, const char *name)
{
	int r;

	r = v1_create_one(cg->memory_dir, CTRL_MEMORY, name);
	if (r > 0) {
		cg->has_memory = true;
		r = cgfs_write_u64(cg->memory_dir, "memory.limit_in_bytes", l->memory_bytes);
		/* memsw includes swap; absent when swap accounting is off. */
		cgfs_write_u64(cg->memory_dir, "memory.memsw.limit_in_bytes", l->memory_bytes);
	}
	if (r >= 0 && (r = v1_create_one(cg->pids_dir, CTRL_PIDS, name)) > 0) {
		cg->has_pids = true;
		r = cgfs_write_u64(cg->pids_dir, "pids.max", l->pids);
	}
	if (r >= 0 && (r = v1_create_one(cg->cpu_dir, CTRL_CPU, name)) > 0)
		cg->has_cpu = true;
	return r < 0 ? r : 0;
}

void sandbox_cgroup_delegate(void)
{
	if (!host.detected)
		host_detect();
	if (host.version == 2)
		setenv("LEDGERBOX_CGROUP_V2_BASE", host.v2_base, 1);
}

int cgroup_run_create(struct cgroup_run *cg, const struct sandbox_limits *l)
{
	char name[64];
	int r;

	memset(cg, 0, sizeof(*cg));
	if (!host.detected)
		host_detect();
	cg->version = host.version;
	snprintf(cg->why_not, sizeof(cg->why_not), "%s", host.why_not);
	if (host.version == 0)
		return 0;
	snprintf(name, sizeof(name), "ledgerbox-run-%d-%lu", (int)getpid(), ++run_seq);
	r = host.version == 2 ? v2_create(cg, l, name) : v1_create(cg, l, name);
	if (r < 0)
		cgroup_run_destroy(cg);
	return r;
}

int cgroup_run_attach(const struct cgroup_run *cg, pid_t pid)
{
	const char *dirs[] = { cg->memory_dir, cg->pids_dir, cg->cpu_dir };
	char text[32];
	int r = 0;

	snprintf(text, sizeof(text), "%d", (int)pid);
	for (size_t i = 0; r == 0 && i < 3; i++) {
		if (!dirs[i][0] || (i > 0 && strcmp(dirs[i], dirs[0]) == 0))
			continue;
		r = cgfs_write(dirs[i], "cgroup.procs", text);
	}
	return r;
}

int cgroup_run_cpu_ns(const struct cgroup_run *cg, uint64_t *ret_ns)
{
	uint64_t ns, usec;
	int r;

	if (!cg->has_cpu)
		return -ENOENT;
	if (cg->version == 1) {
		r = cgfs_read_u64(cg->cpu_dir, "cpuacct.usage", &ns);
	} else {
		r = cgfs_read_keyed(cg->cpu_dir, "cpu.stat", "usage_usec", &usec);
		ns = usec * 1000;
	}
	if (r == 0)
		*ret_ns = ns > cg->cpu_base_ns ? ns - cg->cpu_base_ns : 0;
	return r;
}

void cgroup_run_stats(const struct cgroup_run *cg, struct cgroup_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->have_cpu = cgroup_run_cpu_ns(cg, &ret->cpu_ns) == 0;
	if (cg->has_memory) {
		if (cg->version == 2) {
			ret->have_peak = cgfs_read_u64(cg->memory_dir, "memory.peak",
						       &ret->peak_memory_bytes) == 0;
			cgfs_read_keyed(cg->memory_dir, "memory.events", "oom_kill", &ret->oom_kills);
		} else {
			ret->have_peak = cgfs_read_u64(cg->memory_dir, "memory.max_usage_in_bytes",
						       &ret->peak_memory_bytes) == 0;
			cgfs_read_keyed(cg->memory_dir, "memory.oom_control", "oom_kill",
					&ret->oom_kills);
		}
	}
	if (cg->has_pids)
		cgfs_read_keyed(cg->pids_dir, "pids.events", "max", &ret->pids_max_events);
}

/* Kills whatever is still listed in the run's cgroup. The pid namespace's
 * end already does this; this covers a process that escaped it. */
void cgroup_run_kill(const struct cgroup_run *cg)
{
	const char *dir = cg->pids_dir[0] ? cg->pids_dir : cg->memory_dir;
	char path[PATH_MAX], procs[8192];

	if (!dir[0])
		return;
	if (cg->version == 2 && cgfs_write(dir, "cgroup.kill", "1") == 0)
		return;
	if (cgfs_join(path, sizeof(path), dir, "cgroup.procs") < 0 ||
	    cgfs_read(path, procs, sizeof(procs)) < 0)
		return;
	for (char *p = procs; *p;) {
		char *end;
		long pid = strtol(p, &end, 10);
		if (end == p)
			break;
		if (pid > 0)
			kill((pid_t)pid, SIGKILL);
		p = end;
	}
}

static int remove_dir(char *dir)
{
	struct timespec pause = { 0, 2 * 1000 * 1000 };
	int r = 0;

	if (!dir[0])
		return 0;
	/* Processes that were just killed leave the cgroup a moment later. */
	for (int tries = 0; tries < 500; tries++) {
		if (rmdir(dir) == 0 || errno == ENOENT) {
			r = 0;
			break;
		}
		r = -errno;
		if (r != -EBUSY)
			break;
		nanosleep(&pause, NULL);
	}
	dir[0] = '\0';
	return r;
}

int cgroup_run_destroy(struct cgroup_run *cg)
{
	int r = 0, r2;
	bool shared;

	if (!cg)
		return 0;
	shared = cg->version == 2;
	r2 = remove_dir(cg->memory_dir);
	r = r ? r : r2;
	if (shared) {
		cg->pids_dir[0] = cg->cpu_dir[0] = '\0';
		return r;
	}
	r2 = remove_dir(cg->pids_dir);
	r = r ? r : r2;
	r2 = remove_dir(cg->cpu_dir);
	return r ? r : r2;
}
