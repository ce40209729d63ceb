/*
 * faultlib: what the fault-injection tests share.
 *
 * - Processes: a snapshot of everything a server started (its descendants
 *   by parent chain, each with its start time so a reused pid is never
 *   mistaken for it), then a bounded poll until none of them runs. A
 *   snapshot is taken while the server lives, because once it is killed
 *   its children are re-parented and can no longer be told apart from
 *   other servers' (other test programs may run at the same time).
 * - Control groups: the run cgroups a sandbox worker makes are named
 *   ledgerbox-run-<worker pid>-<n>, beneath the cgroup the server runs in
 *   (which the test process shares) in every v1 hierarchy and in the v2
 *   one; the tests count those of their own server's workers, and the
 *   processes still listed in them.
 * - HTTP: budgets, ledger sums and recorded costs, concurrent loads, and
 *   the server's own view of its slots (/readyz).
 *
 * Waits are bounded polls; nothing here asserts on time.
 */
#ifndef LEDGERBOX_TEST_FAULTLIB_H
#define LEDGERBOX_TEST_FAULTLIB_H

#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <time.h>

#include "http/httplib.h"

#define FL_PROCS_MAX 512
#define FL_BASES_MAX 16

struct fl_proc {
	pid_t pid, ppid;
	unsigned long long start; /* clock ticks after boot, field 22 of stat */
	char cmdline[160];        /* NULs turned into spaces */
};

struct fl_procs {
	struct fl_proc p[FL_PROCS_MAX];
	size_t n;
};

static inline void fl_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static inline uint64_t fl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reads a small file whole; false when it cannot be read. */
static inline bool fl_read_file(const char *path, char *buf, size_t size, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		return false;
	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	if (ret_len)
		*ret_len = len;
	return true;
}

/* The parent, state and start time of a process; false when it is gone. */
static inline bool fl_stat(pid_t pid, pid_t *ret_ppid, char *ret_state, unsigned long long *ret_start)
{
	char path[64], text[1024], *p;
	unsigned long long start = 0;
	int ppid = 0;
	char state = '?';

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!fl_read_file(path, text, sizeof(text), NULL) || !(p = strrchr(text, ')')))
		return false;
	/* After "(comm)": state ppid pgrp session tty tpgid flags minflt
	 * cminflt majflt cmajflt utime stime cutime cstime priority nice
	 * threads itrealvalue starttime. */
	if (sscanf(p + 1, " %c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
		   &state, &ppid, &start) != 3)
		return false;
	if (ret_ppid)
		*ret_ppid = (pid_t)ppid;
	if (ret_state)
		*ret_state = state;
	if (ret_start)
		*ret_start = start;
	return true;
}

static inline void fl_cmdline(pid_t pid, char *out, size_t size)
{
	char path[64];
	size_t len = 0;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if (!fl_read_file(path, out, size, &len))
		out[0] = '\0';
	for (size_t i = 0; i + 1 < len; i++)
		if (out[i] == '\0')
			out[i] = ' ';
}

/* Every process now running, with its parent. */
struct fl_table {
	pid_t *pid, *ppid;
	unsigned long long *start;
	size_t n;
};

static inline void fl_table_read(struct fl_table *t)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t cap = 0;

	memset(t, 0, sizeof(*t));
	assert_non_null(d);
	while ((de = readdir(d))) {
		pid_t pid = (pid_t)strtol(de->d_name, NULL, 10), ppid;
		unsigned long long start;
		char state;

		if (pid <= 0 || !fl_stat(pid, &ppid, &state, &start) || state == 'Z')
			continue;
		if (t->n == cap) {
			cap = cap ? cap * 2 : 1024;
			t->pid = realloc(t->pid, cap * sizeof(*t->pid));
			t->ppid = realloc(t->ppid, cap * sizeof(*t->ppid));
			t->start = realloc(t->start, cap * sizeof(*t->start));
			assert_true(t->pid && t->ppid && t->start);
		}
		t->pid[t->n] = pid;
		t->ppid[t->n] = ppid;
		t->start[t->n] = start;
		t->n++;
	}
	closedir(d);
}

static inline void fl_table_free(struct fl_table *t)
{
	free(t->pid);
	free(t->ppid);
	free(t->start);
	memset(t, 0, sizeof(*t));
}

static inline bool fl_procs_has(const struct fl_procs *s, pid_t pid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->p[i].pid == pid)
			return true;
	return false;
}

/* Adds every descendant of root (not root itself) to out. */
static inline void fl_descendants(pid_t root, struct fl_procs *out)
{
	struct fl_table t;
	bool grew = true;

	fl_table_read(&t);
	while (grew) {
		grew = false;
		for (size_t i = 0; i < t.n; i++) {
			if (fl_procs_has(out, t.pid[i]) ||
			    (t.ppid[i] != root && !fl_procs_has(out, t.ppid[i])))
				continue;
			assert_true(out->n < FL_PROCS_MAX);
			out->p[out->n].pid = t.pid[i];
			out->p[out->n].ppid = t.ppid[i];
			out->p[out->n].start = t.start[i];
			fl_cmdline(t.pid[i], out->p[out->n].cmdline, sizeof(out->p[out->n].cmdline));
			out->n++;
			grew = true;
		}
	}
	fl_table_free(&t);
}

/* Still the same process, and not a zombie. */
static inline bool fl_alive(const struct fl_proc *p)
{
	unsigned long long start;
	char state;

	return fl_stat(p->pid, NULL, &state, &start) && start == p->start && state != 'Z';
}

static inline size_t fl_count_alive(const struct fl_procs *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += fl_alive(&s->p[i]);
	return n;
}

/* The server's sandbox workers: its children running `sandbox-worker` (a
 * sandbox's init is a clone of a worker, with the same command line, one
 * level further down). */
static inline size_t fl_count_workers(const struct fl_procs *s, pid_t server)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += s->p[i].ppid == server && strstr(s->p[i].cmdline, "sandbox-worker") != NULL;
	return n;
}

/* Polls until none of the snapshot runs; returns how many still do. */
static inline size_t fl_wait_all_gone(const struct fl_procs *s, unsigned timeout_ms)
{
	uint64_t end = fl_now_ms() + timeout_ms;
	size_t n;

	while ((n = fl_count_alive(s)) > 0 && fl_now_ms() < end)
		fl_sleep_ms(50);
	return n;
}

/* Names the snapshot's processes that still run, for a failure message. */
static inline void fl_describe_alive(const struct fl_procs *s, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < s->n && used + 1 < size; i++) {
		if (!fl_alive(&s->p[i]))
			continue;
		int n = snprintf(out + used, size - used, "[%d %s] ", (int)s->p[i].pid, s->p[i].cmdline);
		if (n < 0)
			break;
		used += (size_t)n < size - used ? (size_t)n : size - used - 1;
	}
}

/* ---- control groups ---- */

/* The directories of this process's cgroup in every mounted hierarchy
 * (v1 controllers and the v2 unified one): where the server, started by
 * this process, makes its runs' cgroups. */
static inline size_t fl_cgroup_bases(char bases[FL_BASES_MAX][PATH_MAX])
{
	FILE *cg = fopen("/proc/self/cgroup", "re");
	char line[4096];
	size_t n = 0;

	assert_non_null(cg);
	while (n < FL_BASES_MAX && fgets(line, sizeof(line), cg)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL, *ctrl, *path;
		FILE *mi;
		char ml[4096];

		if (!c2)
			continue;
		*c2 = '\0';
		ctrl = c1 + 1;
		path = c2 + 1;
		path[strcspn(path, "\n")] = '\0';
		ctrl[strcspn(ctrl, ",")] = '\0'; /* one controller names the hierarchy */
		mi = fopen("/proc/self/mountinfo", "re");
		assert_non_null(mi);
		while (fgets(ml, sizeof(ml), mi)) {
			char root[PATH_MAX], mnt[PATH_MAX], fstype[64], opts[1024];
			char *dash = strstr(ml, " - "), *o;
			const char *rel = path;
			bool match = false;

			if (!dash || sscanf(ml, "%*s %*s %*s %4095s %4095s", root, mnt) != 2 ||
			    sscanf(dash + 3, "%63s %*s %1023s", fstype, opts) != 2)
				continue;
			if (!*ctrl) {
				match = strcmp(fstype, "cgroup2") == 0;
			} else if (strcmp(fstype, "cgroup") == 0) {
				for (o = strtok(opts, ","); o && !match; o = strtok(NULL, ","))
					match = strcmp(o, ctrl) == 0;
			}
			if (!match)
				continue;
			if (strcmp(root, "/") != 0 && strncmp(path, root, strlen(root)) == 0)
				rel = path + strlen(root);
			snprintf(bases[n++], PATH_MAX, "%s%s", mnt, rel);
			break;
		}
		fclose(mi);
	}
	fclose(cg);
	return n;
}

/* The worker pid a run cgroup's name carries, or 0. */
static inline pid_t fl_run_cgroup_owner(const char *name)
{
	if (strncmp(name, "ledgerbox-run-", 14) != 0)
		return 0;
	return (pid_t)strtol(name + 14, NULL, 10);
}

/* Run cgroups (directories) made by the snapshot's processes, and the
 * processes listed in them (when ret_procs is not NULL). */
static inline size_t fl_run_cgroups(const struct fl_procs *s, size_t *ret_procs)
{
	char bases[FL_BASES_MAX][PATH_MAX];
	size_t nb = fl_cgroup_bases(bases), dirs = 0, procs = 0;

	for (size_t b = 0; b < nb; b++) {
		DIR *d = opendir(bases[b]);
		struct dirent *de;

		while (d && (de = readdir(d))) {
			pid_t owner = fl_run_cgroup_owner(de->d_name);
			char path[PATH_MAX + 300], text[8192];

			if (owner <= 0 || !fl_procs_has(s, owner))
				continue;
			dirs++;
			snprintf(path, sizeof(path), "%.4095s/%.255s/cgroup.procs", bases[b], de->d_name);
			if (fl_read_file(path, text, sizeof(text), NULL))
				for (char *p = text; *p; p++)
					procs += *p == '\n';
		}
		if (d)
			closedir(d);
	}
	if (ret_procs)
		*ret_procs = procs;
	return dirs;
}

/* Processes anywhere on the machine whose cgroup is a run cgroup of one
 * of the snapshot's workers (a process that escaped its sandbox's pid
 * namespace would still be listed there). */
static inline size_t fl_procs_in_run_cgroups(const struct fl_procs *s)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		char path[300], text[4096];
		bool hit = false;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cgroup", de->d_name);
		if (!fl_read_file(path, text, sizeof(text), NULL))
			continue;
		for (const char *p = strstr(text, "ledgerbox-run-"); p && !hit;
		     p = strstr(p + 1, "ledgerbox-run-"))
			hit = fl_procs_has(s, fl_run_cgroup_owner(p));
		n += hit;
	}
	closedir(d);
	return n;
}

/* Waits for a server sent a stop signal to exit: its exit status, -1 when
 * a signal ended it, -2 when it did not exit in time (it is killed then). */
static inline int fl_wait_exit(struct server *s, unsigned timeout_ms)
{
	uint64_t end = fl_now_ms() + timeout_ms;
	int status;

	while (waitpid(s->pid, &status, WNOHANG) != s->pid) {
		if (fl_now_ms() >= end) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
			s->pid = 0;
			return -2;
		}
		fl_sleep_ms(20);
	}
	s->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- HTTP ---- */

/* A budget's standing (a new reference), or NULL when it has none. */
static inline json_t *fl_budget(struct server *s, const char *admin, const char *scope)
{
	struct reply r;
	json_t *b, *found = NULL;
	size_t i;

	hl_call(s, "GET", "/api/budgets", admin, NULL, &r);
	if (r.status != 200)
		fail_msg("GET /api/budgets: %ld %s", r.status, r.body);
	json_array_foreach(json_object_get(r.json, "budgets"), i, b)
		if (strcmp(hl_str(b, "scope"), scope) == 0)
			found = json_incref(b);
	hl_reply_free(&r);
	return found;
}

static inline json_int_t fl_int(json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);

	if (!json_is_integer(v))
		fail_msg("%s is not an integer", key);
	return json_integer_value(v);
}

static inline json_int_t fl_budget_int(struct server *s, const char *admin, const char *scope,
				       const char *key)
{
	json_t *b = fl_budget(s, admin, scope);
	json_int_t v;

	if (!b)
		fail_msg("no budget for %s", scope);
	v = fl_int(b, key);
	json_decref(b);
	return v;
}

static inline void fl_put_budget(struct server *s, const char *admin, const char *path,
				 const char *body)
{
	struct reply r;

	hl_call(s, "PUT", path, admin, body, &r);
	if (r.status != 200)
		fail_msg("PUT %s: %ld %s", path, r.status, r.body);
	hl_reply_free(&r);
}

/* The ledger's entries for a scope: their sum, and (run_id not NULL)
 * the sum of those of one ledger id. */
static inline int64_t fl_ledger_micros(struct server *s, const char *admin, const char *scope,
				       const char *run_id)
{
	char path[256];
	struct reply r;
	json_t *e;
	size_t i;
	int64_t total = 0;

	snprintf(path, sizeof(path), "/api/spend?scope=%s", scope);
	hl_call(s, "GET", path, admin, NULL, &r);
	if (r.status != 200)
		fail_msg("GET %s: %ld %s", path, r.status, r.body);
	json_array_foreach(json_object_get(r.json, "entries"), i, e) {
		if (run_id && strcmp(hl_str(e, "runId"), run_id) != 0)
			continue;
		total += fl_int(e, "amountMicros");
	}
	hl_reply_free(&r);
	return total;
}

/* The sum of the recorded cost of every run of a user. */
static inline int64_t fl_recorded_micros(struct server *s, const char *admin, const char *user)
{
	struct reply r, one;
	json_t *run;
	size_t i;
	int64_t total = 0;
	char path[200];

	snprintf(path, sizeof(path), "/api/runs?user=%s&limit=500", user);
	hl_call(s, "GET", path, admin, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(fl_int(r.json, "total") <= 500);
	json_array_foreach(json_object_get(r.json, "runs"), i, run) {
		snprintf(path, sizeof(path), "/api/runs/%s", hl_str(run, "id"));
		hl_call(s, "GET", path, admin, NULL, &one);
		assert_int_equal(one.status, 200);
		total += fl_int(json_object_get(one.json, "cost"), "totalMicros");
		hl_reply_free(&one);
	}
	hl_reply_free(&r);
	return total;
}

/* 200 when the run is on record. */
static inline long fl_run_status(struct server *s, const char *key, const char *id)
{
	char path[200];
	struct reply r;
	long status;

	snprintf(path, sizeof(path), "/api/runs/%.128s", id);
	hl_call(s, "GET", path, key, NULL, &r);
	status = r.status;
	hl_reply_free(&r);
	return status;
}

/* Runs admitted (running + waiting) as /readyz reports them; -1 when the
 * server does not answer. */
static inline int fl_admitted(struct server *s)
{
	struct reply r;
	int n = -1;

	hl_call_timeout(s, "GET", "/readyz", NULL, NULL, 0, NULL, 5000, &r);
	if (r.json)
		n = (int)(json_integer_value(json_object_get(r.json, "runs_active")) +
			  json_integer_value(json_object_get(r.json, "runs_waiting")));
	hl_reply_free(&r);
	return n;
}

/* Waits (up to 20 s, polling every 20 ms) until /readyz shows `active`
 * runs running and `waiting` queued; fails naming `what` otherwise. */
static inline void fl_load_reached(struct server *s, int active, int waiting, const char *what)
{
	uint64_t end = fl_now_ms() + 20000;

	for (;;) {
		struct reply r;
		json_int_t a, w;

		hl_call(s, "GET", "/readyz", NULL, NULL, &r);
		a = json_integer_value(json_object_get(r.json, "runs_active"));
		w = json_integer_value(json_object_get(r.json, "runs_waiting"));
		hl_reply_free(&r);
		if (a == active && w == waiting)
			return;
		if (fl_now_ms() >= end)
			fail_msg("%s: the server never showed %d running and %d waiting (last %lld, "
				 "%lld); log in %s",
				 what, active, waiting, (long long)a, (long long)w, s->log);
		fl_sleep_ms(20);
	}
}

/* One request of a concurrent load, answered in its own thread. */
struct fl_load {
	struct server *srv;
	const char *key;
	char body[512];
	long timeout_ms;
	volatile bool done;
	/* the answer */
	long status;       /* HTTP status, or minus the curl error */
	char id[64];       /* the run id of a 200 */
	char run_status[32];
	char error_code[64];
	char error_message[300];
	bool retry_after;  /* the answer carried Retry-After */
	int64_t cost_micros;
};

static inline void *fl_load_main(void *arg)
{
	struct fl_load *l = arg;
	struct reply r;
	char *ra;
	json_t *e;

	hl_call_timeout(l->srv, "POST", "/api/analyze", l->key, l->body, strlen(l->body), NULL,
			l->timeout_ms ? l->timeout_ms : 60000, &r);
	l->status = r.status;
	ra = hl_header(&r, "Retry-After");
	l->retry_after = ra != NULL;
	free(ra);
	snprintf(l->id, sizeof(l->id), "%s", hl_str(r.json, "id") ?: "");
	snprintf(l->run_status, sizeof(l->run_status), "%s", hl_str(r.json, "status") ?: "");
	e = json_object_get(r.json, "error");
	snprintf(l->error_code, sizeof(l->error_code), "%s", hl_str(e, "code") ?: "");
	snprintf(l->error_message, sizeof(l->error_message), "%s", hl_str(e, "message") ?: "");
	if (r.status == 200)
		l->cost_micros = json_integer_value(
			json_object_get(json_object_get(r.json, "cost"), "totalMicros"));
	hl_reply_free(&r);
	__atomic_store_n(&l->done, true, __ATOMIC_RELEASE);
	return NULL;
}

static inline size_t fl_loads_done(struct fl_load *loads, size_t n, long status)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += __atomic_load_n(&loads[i].done, __ATOMIC_ACQUIRE) &&
		     (status == 0 || loads[i].status == status);
	return k;
}

/* ---- Disk ---- */

/* Mounts a small tmpfs of the test's own on dir (created if missing; the
 * test needs root), so that filling it touches nothing else. */
static inline void fl_mount_small_tmpfs(const char *dir)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", dir, strerror(errno));
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=8m,mode=0700") < 0)
		fail_msg("mount tmpfs on %s: %s (the test needs root)", dir, strerror(errno));
}

static inline uint64_t fl_free_bytes(const char *dir)
{
	struct statvfs st;

	assert_int_equal(statvfs(dir, &st), 0);
	return (uint64_t)st.f_bavail * st.f_frsize;
}

/* Writes the file `filler` until the file system under `dir` refuses
 * another byte. */
static inline void fl_fill_disk(const char *dir, const char *filler)
{
	static char block[64 * 1024];
	int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t size = sizeof(block);

	assert_true(fd >= 0);
	memset(block, 'x', sizeof(block));
	while (size > 0) {
		ssize_t n = write(fd, block, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			assert_int_equal(errno, ENOSPC);
			size /= 2;
		}
	}
	close(fd);
	assert_true(fl_free_bytes(dir) < 4096);
}

#endif
