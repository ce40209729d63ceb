/*
 * plan: everything the child will need, prepared in the parent.
 *
 * The child may not allocate or format strings, so every path, option
 * string, argument and environment variable is written here first. The
 * environment is built from nothing: no host variable, key or token reaches
 * the analyst's code.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/internal.h"
#include "util/banned.h"

/* src/runners/driver_blob.S */
extern const char python_driver_text[];
extern const uint64_t python_driver_size;

/*
 * The host's file system reaches the sandbox only through this allow-list:
 * what Python, pandas, numpy and matplotlib (and the shared libraries they
 * and the SQL runner load), fonts, time zones and the C.UTF-8 locale need.
 * /usr as a whole is never bound: /usr/local/etc, /usr/local/share, other
 * programs and anything a package or an administrator puts there stay out.
 * Python's own files (/usr/bin/python3.X, /usr/lib/python3.X) are added by
 * add_python_files() after the version /usr/bin/python3 points to.
 */
struct host_entry {
	const char *path;
	bool is_file;
};

#if defined(__x86_64__)
#define MULTIARCH "x86_64-linux-gnu"
#elif defined(__aarch64__)
#define MULTIARCH "aarch64-linux-gnu"
#elif defined(__i386__)
#define MULTIARCH "i386-linux-gnu"
#else
#error "set MULTIARCH: the Debian multiarch triplet of this architecture"
#endif

static const struct host_entry usr_binds[] = {
	/* Shared libraries and the dynamic loader (/lib64 links here). */
	{ "/usr/lib/" MULTIARCH, false },
	{ "/usr/lib64", false },
	/* Python's Debian packages: pandas, numpy, matplotlib and their deps. */
	{ "/usr/lib/python3", false },
	/* C.UTF-8 (LANG). */
	{ "/usr/lib/locale", false },
	/* matplotlib's data (Debian moves mpl-data here) and its fonts. */
	{ "/usr/share/matplotlib", false },
	{ "/usr/share/fonts", false },
	{ "/usr/share/fontconfig", false },
	/* zoneinfo for TZ, Python's zoneinfo and pandas' tz handling. */
	{ "/usr/share/zoneinfo", false },
};

/* Host /etc entries Python, pandas and matplotlib read. Debian points some
 * /usr files into /etc (BLAS through /etc/alternatives, matplotlibrc). */
static const struct host_entry etc_binds[] = {
	{ "/etc/ld.so.cache", true },	  { "/etc/ld.so.conf", true },
	{ "/etc/ld.so.conf.d", false },	  { "/etc/localtime", true },
	{ "/etc/timezone", true },	  { "/etc/alternatives", false },
	{ "/etc/matplotlibrc", true },	  { "/etc/python3", false },
	{ "/etc/python3.11", false },	  { "/etc/fonts", false },
	{ "/etc/mime.types", true },
};

/* Top-level entries that are links into /usr on merged-/usr systems and
 * directories on older ones. A directory is bound only for the multiarch
 * and loader folders (see add_top_dir). */
static const char *const top_dirs[] = { "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32" };

static const char etc_passwd[] = "analyst:x:0:0:analyst:/tmp:/usr/sbin/nologin\n"
				 "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
static const char etc_group[] = "analyst:x:0:\nnogroup:x:65534:\n";
static const char etc_hosts[] = "127.0.0.1\tlocalhost ledgerbox\n::1\tlocalhost ip6-localhost\n";
static const char etc_hostname[] = "ledgerbox\n";
static const char etc_nsswitch[] = "passwd: files\ngroup: files\nhosts: files\n";

static int add_bind(struct sandbox_plan *p, const char *src, const char *dst, bool is_file,
		    bool optional)
{
	struct plan_bind *b;

	if (p->n_binds >= PLAN_MAX_BINDS)
		return -E2BIG;
	b = &p->binds[p->n_binds++];
	snprintf(b->src, sizeof(b->src), "%s", src);
	snprintf(b->dst, sizeof(b->dst), "%s", dst);
	b->is_file = is_file;
	b->optional = optional;
	return 0;
}

static int add_file(struct sandbox_plan *p, const char *dst, const char *content, size_t len,
		    unsigned mode)
{
	struct plan_file *f;

	if (p->n_files >= PLAN_MAX_FILES)
		return -E2BIG;
	f = &p->files[p->n_files++];
	snprintf(f->dst, sizeof(f->dst), "%s", dst);
	f->content = content;
	f->len = len;
	f->mode = mode;
	return 0;
}

static int add_env(struct sandbox_plan *p, int *n, const char *name, const char *value)
{
	if (*n >= PLAN_MAX_ENV)
		return -E2BIG;
	snprintf(p->env_store[*n], PATH_MAX, "%s=%s", name, value);
	p->envp[*n] = p->env_store[*n];
	(*n)++;
	p->envp[*n] = NULL;
	return 0;
}

/* /usr/bin/python3 and the python3.X it points to: the interpreter bound
 * at both names, and its standard library /usr/lib/python3.X. */
static int add_python_files(struct sandbox_plan *p)
{
	char target[64], path[PATH_MAX];
	ssize_t n = readlink("/usr/bin/python3", target, sizeof(target) - 1);
	int r;

	if (n <= 0 || memchr(target, '/', (size_t)n)) {
		/* Not Debian's relative link: bind the file as it is. */
		return add_bind(p, "/usr/bin/python3", "/usr/bin/python3", true, true);
	}
	target[n] = '\0';
	snprintf(path, sizeof(path), "/usr/bin/%s", target);
	r = add_bind(p, path, "/usr/bin/python3", true, true);
	if (r == 0)
		r = add_bind(p, path, path, true, true);
	if (r == 0) {
		snprintf(path, sizeof(path), "/usr/lib/%s", target);
		r = add_bind(p, path, path, false, true);
	}
	return r;
}

/* The host's symbolic link `path`, recreated in the new root with the
 * same target; a link that cannot be read is left out. */
static int add_link_copy(struct sandbox_plan *p, const char *path)
{
	struct plan_link *l;
	ssize_t n;

	if (p->n_links >= PLAN_MAX_LINKS)
		return -E2BIG;
	l = &p->links[p->n_links];
	n = readlink(path, l->target, sizeof(l->target) - 1);
	if (n <= 0)
		return 0;
	l->target[n] = '\0';
	snprintf(l->dst, sizeof(l->dst), "%s", path);
	p->n_links++;
	return 0;
}

static int add_top_dir(struct sandbox_plan *p, const char *dir)
{
	struct stat st;

	if (lstat(dir, &st) < 0)
		return 0;
	if (S_ISDIR(st.st_mode)) {
		/* An older, unmerged system: /lib's libraries, not the whole
		 * folder; /lib64 and friends hold only loaders and libraries;
		 * /bin and /sbin are not needed. */
		char path[PATH_MAX];
		if (strcmp(dir, "/bin") == 0 || strcmp(dir, "/sbin") == 0)
			return 0;
		if (strcmp(dir, "/lib") != 0)
			return add_bind(p, dir, dir, false, true);
		snprintf(path, sizeof(path), "%s/%s", dir, MULTIARCH);
		return add_bind(p, path, path, false, true);
	}
	return S_ISLNK(st.st_mode) ? add_link_copy(p, dir) : 0;
}

/*
 * One allow-listed host path. A path that is a symbolic link on the host
 * (Debian's /etc/localtime points into /usr/share/zoneinfo) is recreated
 * as the same link in the new root, never bound: the child resolves a
 * bind's source in its staging root, where an absolute target is missing
 * (the entry was silently left out) and a relative one reaches any host
 * path (one outside the allow-list would have been bound). Inside the
 * sandbox the link resolves among the allow-listed paths, or dangles.
 */
static int add_host_entry(struct sandbox_plan *p, const struct host_entry *e)
{
	struct stat st;

	if (lstat(e->path, &st) == 0 && S_ISLNK(st.st_mode))
		return add_link_copy(p, e->path);
	return add_bind(p, e->path, e->path, e->is_file, true);
}

static int add_system(struct sandbox_plan *p)
{
	int r = add_python_files(p);

	for (size_t i = 0; r == 0 && i < sizeof(usr_binds) / sizeof(usr_binds[0]); i++)
		r = add_host_entry(p, &usr_binds[i]);
	for (size_t i = 0; r == 0 && i < sizeof(top_dirs) / sizeof(top_dirs[0]); i++)
		r = add_top_dir(p, top_dirs[i]);
	for (size_t i = 0; r == 0 && i < sizeof(etc_binds) / sizeof(etc_binds[0]); i++)
		r = add_host_entry(p, &etc_binds[i]);
	return r;
}

static int add_etc_files(struct sandbox_plan *p)
{
	int r = add_file(p, "/etc/passwd", etc_passwd, sizeof(etc_passwd) - 1, 0644);

	if (r == 0)
		r = add_file(p, "/etc/group", etc_group, sizeof(etc_group) - 1, 0644);
	if (r == 0)
		r = add_file(p, "/etc/hosts", etc_hosts, sizeof(etc_hosts) - 1, 0644);
	if (r == 0)
		r = add_file(p, "/etc/hostname", etc_hostname, sizeof(etc_hostname) - 1, 0644);
	if (r == 0)
		r = add_file(p, "/etc/nsswitch.conf", etc_nsswitch, sizeof(etc_nsswitch) - 1, 0644);
	return r;
}

/* The SQLite file's -wal (commits not yet in the file) and -journal (a
 * write that may have left the file torn), beside it under /data: the
 * child binds those that exist when it builds the root. */
static int add_data_sides(struct sandbox_plan *p, const char *real, const char *base)
{
	static const char *const suffix[PLAN_DATA_SIDES] = { "-wal", "-journal" };

	for (int i = 0; i < PLAN_DATA_SIDES; i++) {
		struct plan_bind *b = &p->data_side[i];
		if ((size_t)snprintf(b->src, sizeof(b->src), "%s%s", real, suffix[i]) >=
			    sizeof(b->src) ||
		    (size_t)snprintf(b->dst, sizeof(b->dst), "/data/%s%s", base, suffix[i]) >=
			    sizeof(b->dst))
			return -ENAMETOOLONG;
		b->is_file = true;
		b->optional = true;
	}
	return 0;
}

/* Whether real (data_path resolved, st its stat) is in the folder the
 * caller holds: the folder itself for Python, the SQLite file's folder
 * for SQL. */
static bool data_is_pinned(const struct sandbox_request *req, const char *real,
			   const struct stat *st)
{
	char folder[PATH_MAX];
	struct stat fst;
	char *slash;

	if (!req->data_pinned)
		return true;
	if (req->lang == SANDBOX_LANG_PYTHON)
		return st->st_dev == req->data_dev && st->st_ino == req->data_ino;
	snprintf(folder, sizeof(folder), "%s", real);
	slash = strrchr(folder, '/');
	if (!slash || slash == folder)
		return false;
	*slash = '\0';
	return stat(folder, &fst) == 0 && fst.st_dev == req->data_dev &&
	       fst.st_ino == req->data_ino;
}

static int add_data(struct sandbox_plan *p, const struct sandbox_request *req, char *err,
		    size_t err_len)
{
	char real[PATH_MAX];
	struct stat st;
	const char *base;

	if (!req->data_path)
		return 0;
	if (!realpath(req->data_path, real) || stat(real, &st) < 0) {
		int r = -errno;
		snprintf(err, err_len, "dataset %s: %s", req->data_path, strerror(errno));
		return r;
	}
	snprintf(p->data.src, sizeof(p->data.src), "%s", real);
	if (!data_is_pinned(req, real, &st)) {
		snprintf(err, err_len, "%s", SANDBOX_DATA_CHANGED);
		return -ESTALE;
	}
	p->data_dev = st.st_dev;
	p->data_ino = st.st_ino;
	if (req->lang == SANDBOX_LANG_PYTHON) {
		if (!S_ISDIR(st.st_mode)) {
			snprintf(err, err_len, "dataset %s: Python runs need a folder (mounted at /data)",
				 req->data_path);
			return -ENOTDIR;
		}
		snprintf(p->data.dst, sizeof(p->data.dst), "/data");
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, err_len, "dataset %s: SQL runs need a SQLite file", req->data_path);
		return -EINVAL;
	}
	base = strrchr(real, '/') + 1;
	snprintf(p->data.dst, sizeof(p->data.dst), "/data/%s", base);
	p->data.is_file = true;
	return add_data_sides(p, real, base);
}

/* Python: the driver, and the program as a file (a warm sandbox gets its
 * program over the hand-off socket instead). */
static int add_python(struct sandbox_plan *p, const struct sandbox_request *req, int *n)
{
	static char *const argv[] = { "python3", "-I", "-B", "/run/ledgerbox/driver.py",
				      "/run/ledgerbox/code.py", NULL };
	static char *const warm_argv[] = { "python3", "-I", "-B", "/run/ledgerbox/driver.py",
					   "--warm", NULL };
	int r;

	memcpy(p->argv, p->warm ? warm_argv : argv, sizeof(argv));
	snprintf(p->exec_path, sizeof(p->exec_path), "/usr/bin/python3");
	r = add_env(p, n, "MPLBACKEND", "Agg");
	if (r == 0)
		r = add_env(p, n, "MPLCONFIGDIR", "/tmp/.matplotlib");
	if (r == 0)
		r = add_env(p, n, "LEDGERBOX_OUT_DIR", "/out");
	if (r == 0 && req->compile_only && !p->warm)
		r = add_env(p, n, "LEDGERBOX_COMPILE_ONLY", "1");
	if (r == 0)
		r = add_file(p, "/run/ledgerbox/driver.py", python_driver_text,
			     (size_t)python_driver_size, 0444);
	if (r == 0 && !p->warm)
		r = add_file(p, "/run/ledgerbox/code.py", req->code, req->code_len, 0444);
	return r;
}

static int add_runner(struct sandbox_plan *p, const struct sandbox_request *req)
{
	const struct sandbox_limits *l = &req->limits;
	const char *tz = getenv("TZ");
	char text[32];
	int n = 0, r;

	snprintf(text, sizeof(text), "%" PRIu64, l->max_rows);
	r = add_env(p, &n, "PATH", "/usr/bin:/bin");
	if (r == 0)
		r = add_env(p, &n, "HOME", "/tmp");
	if (r == 0)
		r = add_env(p, &n, "TMPDIR", "/tmp");
	if (r == 0)
		r = add_env(p, &n, "LANG", "C.UTF-8");
	/* The caller's zone (the server's is the business's, LEDGERBOX_TZ):
	 * a run's local clock (Python's date.today(), SQLite's 'localtime')
	 * then turns the day when the prompt's date and the cache's day do. */
	if (r == 0 && tz && tz[0])
		r = add_env(p, &n, "TZ", tz);
	if (r == 0)
		r = add_env(p, &n, "LEDGERBOX_MAX_ROWS", text);
	if (r == 0)
		r = add_env(p, &n, "LEDGERBOX_RESULT_FD", "3");
	if (r < 0)
		return r;
	if (req->lang == SANDBOX_LANG_PYTHON)
		return add_python(p, req, &n);
	p->exec_self = true;
	p->argv[0] = "sql-runner";
	p->argv[1] = "--db";
	p->argv[2] = p->data.dst;
	p->argv[3] = "--query-file";
	p->argv[4] = "/run/ledgerbox/query.sql";
	p->argv[5] = NULL;
	/* The runner stops the query itself a little before the wall limit, so
	 * the analyst gets SQLite's clean "interrupted" rather than a kill. */
	snprintf(text, sizeof(text), "%" PRIu64, l->wall_ms > 200 ? l->wall_ms - 100 : l->wall_ms);
	r = add_env(p, &n, "LEDGERBOX_SQL_TIMEOUT_MS", text);
	if (r == 0)
		r = add_file(p, "/run/ledgerbox/query.sql", req->code, req->code_len, 0444);
	return r;
}

static uid_t sandbox_host_id(const char *env_name, uid_t fallback)
{
	const char *v = getenv(env_name);
	char *end;
	unsigned long id;

	if (!v || !*v)
		return fallback;
	errno = 0;
	id = strtoul(v, &end, 10);
	return (*end || errno || id == 0 || id > 0xfffffffeUL) ? fallback : (uid_t)id;
}

static void plan_ids(struct sandbox_plan *p)
{
	/* As root, the sandbox's root maps to an otherwise unused id; without
	 * privilege, a process can only map its own. */
	if (geteuid() == 0) {
		p->host_uid = sandbox_host_id("LEDGERBOX_SANDBOX_UID", 100000);
		p->host_gid = (gid_t)sandbox_host_id("LEDGERBOX_SANDBOX_GID", 100000);
		p->may_setgroups = true;
	} else {
		p->host_uid = geteuid();
		p->host_gid = getegid();
	}
}

static int cap_last_read(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int last = 63;

	if (f) {
		if (fscanf(f, "%d", &last) != 1)
			last = 63;
		fclose(f);
	}
	return last;
}

/* Fields 48 to 51 of /proc/self/stat: where the kernel reads this
 * process's /proc/PID/cmdline and environ from. The name (field 2) may hold
 * spaces and parentheses, so counting starts after its last ')'. */
static void args_area_read(struct sandbox_plan *p)
{
	char buf[2048], *s;
	FILE *f = fopen("/proc/self/stat", "re");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	unsigned long v[4];

	if (f)
		fclose(f);
	buf[n] = '\0';
	s = strrchr(buf, ')');
	if (!s)
		return;
	/* ')' ends field 2; the space before field N is the (N - 2)th after
	 * it, so stop at the one before field 48. */
	for (int field = 3; field <= 48 && s; field++)
		s = strchr(s + 1, ' ');
	if (s && sscanf(s, " %lu %lu %lu %lu", &v[0], &v[1], &v[2], &v[3]) == 4 && v[1] > v[0] &&
	    v[3] >= v[2]) {
		p->arg_start = v[0];
		p->arg_end = v[1];
		p->env_start = v[2];
		p->env_end = v[3];
	}
}

int plan_build(struct sandbox_plan *p, const struct sandbox_request *req,
	       const struct cgroup_run *cg, bool warm, char *err, size_t err_len)
{
	const struct sandbox_limits *l = &req->limits;
	int r;

	memset(p, 0, sizeof(*p));
	p->req = req;
	p->ctl_fd = p->exe_fd = p->stdout_w = p->stderr_w = p->result_w = p->warm_w = -1;
	p->warm = warm;
	plan_ids(p);
	p->cap_last = cap_last_read();
	args_area_read(p);
	p->memory_by_rlimit = !cg->has_memory;
	p->pids_by_rlimit = !cg->has_pids;
	p->use_cgroup_ns = cg->version != 0;
	snprintf(p->rootfs_opts, sizeof(p->rootfs_opts), "mode=0755,size=%zu",
		 req->code_len + (size_t)python_driver_size + (1u << 20));
	snprintf(p->tmp_opts, sizeof(p->tmp_opts), "mode=1777,size=%" PRIu64, l->tmp_bytes);
	snprintf(p->shm_opts, sizeof(p->shm_opts), "mode=1777,size=%" PRIu64, l->tmp_bytes);
	snprintf(p->out_opts, sizeof(p->out_opts), "mode=0755,size=%" PRIu64, l->out_bytes);
	r = add_data(p, req, err, err_len);
	if (r < 0)
		return r;
	r = add_system(p);
	if (r == 0)
		r = add_etc_files(p);
	if (r == 0)
		r = add_runner(p, req);
	if (r < 0)
		snprintf(err, err_len, "preparing the sandbox failed: %s", strerror(-r));
	return r;
}
