/*
 * The sandbox security suite. Each case in tests/security/cases/ is a real
 * program that tries to break out (or does ordinary work), with its
 * expectations in header comments:
 *
 *   # status: timeout            the exact status it must get
 *   # args: --timeout 1000       extra `ledgerbox exec` flags
 *   # stdout-has: TEXT           must appear in stdout (repeatable)
 *   # stdout-lacks: TEXT         must not appear in stdout (repeatable)
 *   # stderr-has: TEXT           must appear in stderr
 *   # limits-hit: pids           must be listed in limits_hit
 *   # signal: 31                 the signal that ended it
 *   # signal-without-ia32: 11    instead, on a kernel without 32-bit emulation
 *   # artifacts: a.png,b.csv     exactly these artifacts, in order
 *   # stdout-bytes: N            exact length of the kept stdout
 *   # table-rows-min: N          the result table has at least N rows
 *   # listener: yes              open a TCP listener on the host's
 *                                127.0.0.1; it must see no connection
 *
 * Placeholders in the program and args: {{PORT}} (that listener),
 * {{HOST_PID}} (this test process), {{SECRET_FILE}} (a host file holding a
 * secret), {{HOME}}, {{STATE_DIR}}, {{DEMO}} (the demo dataset folder).
 *
 * After every case the host must be untouched: no process of the sandbox
 * uid left, no run cgroup left, the same mounts, the secret in no output.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <jansson.h>

#include "testlib.h"

#define SECRET "ledgerbox-host-secret-4f1c9a"

struct sec_case {
	char name[256];
	char path[8192];
	char *text;
};

static char **vars_names, **vars_values;
static size_t n_vars;

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0;
	char chunk[4096];
	size_t n;

	assert_non_null(f);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		tl_append(&text, &len, chunk, n);
	fclose(f);
	if (!text)
		tl_append(&text, &len, "", 0);
	return text;
}

/* Replaces every {{NAME}} of the variables table. */
static char *substitute(const char *in)
{
	char *out = NULL;
	size_t len = 0;

	while (*in) {
		const char *open = strstr(in, "{{");
		const char *close = open ? strstr(open, "}}") : NULL;
		bool done = false;
		if (!open || !close) {
			tl_append(&out, &len, in, strlen(in));
			break;
		}
		tl_append(&out, &len, in, (size_t)(open - in));
		for (size_t i = 0; i < n_vars; i++) {
			size_t nl = strlen(vars_names[i]);
			if ((size_t)(close - open - 2) == nl && strncmp(open + 2, vars_names[i], nl) == 0) {
				tl_append(&out, &len, vars_values[i], strlen(vars_values[i]));
				done = true;
			}
		}
		if (!done)
			fail_msg("unknown placeholder in case: %.*s", (int)(close - open + 2), open);
		in = close + 2;
	}
	if (!out)
		tl_append(&out, &len, "", 0);
	return out;
}

static void var_set(const char *name, const char *value)
{
	char **names = realloc(vars_names, (n_vars + 1) * sizeof(char *));
	char **values;

	assert_non_null(names);
	vars_names = names;
	values = realloc(vars_values, (n_vars + 1) * sizeof(char *));
	assert_non_null(values);
	vars_values = values;
	for (size_t i = 0; i < n_vars; i++) {
		if (strcmp(vars_names[i], name) == 0) {
			free(vars_values[i]);
			vars_values[i] = strdup(value);
			return;
		}
	}
	vars_names[n_vars] = strdup(name);
	vars_values[n_vars] = strdup(value);
	n_vars++;
}

/* Calls fn(value) for each "# key: value" header line. */
static void each_header(const char *text, const char *key, void (*fn)(const char *, void *),
			void *ctx)
{
	size_t klen = strlen(key);

	for (const char *line = text; line && *line; line = strchr(line, '\n')) {
		char value[2048];
		const char *end;
		if (*line == '\n')
			line++;
		if (strncmp(line, "# ", 2) != 0 && strncmp(line, "-- ", 3) != 0)
			continue;
		line += line[0] == '#' ? 2 : 3;
		if (strncmp(line, key, klen) != 0 || line[klen] != ':')
			continue;
		line += klen + 1;
		while (*line == ' ')
			line++;
		end = strchr(line, '\n');
		if (!end)
			end = line + strlen(line);
		snprintf(value, sizeof(value), "%.*s", (int)(end - line), line);
		fn(value, ctx);
	}
}

static void take_first(const char *value, void *ctx)
{
	char **out = ctx;
	if (!*out)
		*out = strdup(value);
}

static char *header(const char *text, const char *key)
{
	char *v = NULL;
	each_header(text, key, take_first, &v);
	return v;
}

/* Processes left behind by a run: this test program is a child subreaper
 * (main), so anything a finished `ledgerbox exec` left running is
 * reparented to it, and nothing another program runs on this machine is
 * counted. */
static int orphans_left(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int count = 0;
	char want[32];

	assert_non_null(d);
	snprintf(want, sizeof(want), "\nPPid:\t%d\n", (int)getpid());
	while ((de = readdir(d))) {
		char path[300], status[4096];
		FILE *f;
		size_t n;
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/status", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		n = fread(status, 1, sizeof(status) - 1, f);
		fclose(f);
		status[n] = '\0';
		if (strstr(status, want))
			count++;
	}
	closedir(d);
	return count;
}

/* The run cgroups that one `ledgerbox exec` (pid) made and left: their
 * names carry the pid of the process that made them. */
static int run_cgroups_left(pid_t pid)
{
	struct tl_output o;
	char name[64];
	char *argv[] = { "/usr/bin/find", "/sys/fs/cgroup", "-maxdepth", "6", "-name", name, NULL };
	int count = 0;

	snprintf(name, sizeof(name), "ledgerbox-run-%d-*", (int)pid);
	tl_run(argv, NULL, &o);
	for (char *p = o.out; (p = strchr(p, '\n')); p++)
		count++;
	tl_output_free(&o);
	return count;
}

static int mount_count(void)
{
	char *text = read_file("/proc/self/mountinfo");
	int count = 0;

	for (char *p = text; (p = strchr(p, '\n')); p++)
		count++;
	free(text);
	return count;
}

/* Whether this kernel runs 32-bit system calls made with `int 0x80`
 * (IA32 emulation): tried once, in a child, outside any sandbox. */
static bool kernel_has_ia32(void)
{
	static int known = -1;
	int status;
	pid_t pid;

	if (known >= 0)
		return known;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		long r = 20; /* getpid in the 32-bit table */

		signal(SIGSEGV, SIG_DFL); /* cmocka's handler would catch it */
		__asm__ volatile("int $0x80" : "+a"(r) : : "memory");
		_exit(r > 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	known = !(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
	return known;
}

struct check_ctx {
	const char *haystack;
	const char *what;
	json_t *result;
};

static void check_has(const char *value, void *ctx)
{
	struct check_ctx *c = ctx;
	char *want = substitute(value);
	if (!strstr(c->haystack, want))
		fail_msg("%s lacks \"%s\"", c->what, want);
	free(want);
}

static void check_lacks(const char *value, void *ctx)
{
	struct check_ctx *c = ctx;
	char *bad = substitute(value);
	if (strstr(c->haystack, bad))
		fail_msg("%s contains \"%s\"", c->what, bad);
	free(bad);
}

static void check_limit_hit(const char *value, void *ctx)
{
	struct check_ctx *c = ctx;
	json_t *hits = json_object_get(c->result, "limits_hit"), *v;
	size_t i;

	json_array_foreach(hits, i, v) if (strcmp(json_string_value(v), value) == 0) return;
	fail_msg("limits_hit lacks %s", value);
}

static void check_artifacts(const char *value, json_t *result)
{
	json_t *list = json_object_get(result, "artifacts"), *a;
	char names[4096] = "";
	size_t i;

	json_array_foreach(list, i, a) {
		size_t len = strlen(names);
		snprintf(names + len, sizeof(names) - len, "%s%s", i ? "," : "",
			 json_string_value(json_object_get(a, "name")));
	}
	assert_string_equal(names, value);
}

static void check_result(const char *text, json_t *r, const struct tl_output *o)
{
	const char *out = json_string_value(json_object_get(r, "stdout"));
	const char *err = json_string_value(json_object_get(r, "stderr"));
	struct check_ctx so = { out, "stdout", r }, se = { err, "stderr", r };
	char *v;

	assert_non_null(out);
	assert_non_null(err);
	v = header(text, "status");
	assert_non_null(v);
	if (strcmp(v, json_string_value(json_object_get(r, "status"))) != 0)
		fail_msg("status %s, expected %s\nstdout: %.2000s\nstderr: %.2000s\nerror: %s",
			 json_string_value(json_object_get(r, "status")), v, out, err,
			 json_string_value(json_object_get(r, "error")));
	free(v);
	each_header(text, "stdout-has", check_has, &so);
	each_header(text, "stdout-lacks", check_lacks, &so);
	each_header(text, "stderr-has", check_has, &se);
	each_header(text, "limits-hit", check_limit_hit, &so);
	/* A kernel built without 32-bit emulation answers `int 0x80` with
	 * SIGSEGV before any filter sees it: the call is refused either way. */
	if ((v = header(text, kernel_has_ia32() ? "signal" : "signal-without-ia32")) ||
	    (v = header(text, "signal"))) {
		assert_int_equal(json_integer_value(json_object_get(r, "signal")), strtol(v, NULL, 10));
		free(v);
	}
	if ((v = header(text, "artifacts"))) {
		check_artifacts(strcmp(v, "none") == 0 ? "" : v, r);
		free(v);
	}
	if ((v = header(text, "stdout-bytes"))) {
		assert_int_equal(strlen(out), strtoul(v, NULL, 10));
		assert_true(json_is_true(json_object_get(r, "stdout_truncated")));
		free(v);
	}
	if ((v = header(text, "table-rows-min"))) {
		json_t *rows = json_object_get(json_object_get(r, "table"), "rows");
		assert_true(json_array_size(rows) >= strtoul(v, NULL, 10));
		free(v);
	}
	/* The secret is in this process's environment and in a host file:
	 * it must never reach the run's output. */
	assert_null(strstr(o->out, SECRET));
	assert_null(strstr(o->err, SECRET));
}

static int listener_open(int *ret_port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	*ret_port = ntohs(a.sin_port);
	return fd;
}

static char **exec_argv(const char *text, const char *lang, const char *code_path)
{
	char *args = header(text, "args"), *sub, *save = NULL;
	char **argv = calloc(64, sizeof(char *));
	int n = 0;

	assert_non_null(argv);
	argv[n++] = strdup(tl_bin());
	argv[n++] = strdup("exec");
	argv[n++] = strdup("--lang");
	argv[n++] = strdup(lang);
	sub = substitute(args ? args : "");
	for (char *tok = strtok_r(sub, " ", &save); tok && n < 60; tok = strtok_r(NULL, " ", &save))
		argv[n++] = strdup(tok);
	/* The program goes in on standard input, as a query would. */
	argv[n++] = strdup("-");
	(void)code_path;
	free(sub);
	free(args);
	return argv;
}

static void run_case(void **state)
{
	struct sec_case *c = *state;
	bool is_sql = strstr(c->name, ".sql") != NULL;
	char *listener = header(c->text, "listener"), *code, *code_path, **argv;
	int lfd = -1, port = 0, mounts = mount_count();
	int leak_fd;
	struct tl_output o;
	json_t *result;
	char port_text[16];

	if (listener) {
		lfd = listener_open(&port);
		snprintf(port_text, sizeof(port_text), "%d", port);
		var_set("PORT", port_text);
	}
	code = substitute(c->text);
	code_path = tl_write_tmp(c->name, code);
	argv = exec_argv(c->text, is_sql ? "sql" : "python", code_path);
	/* An inherited descriptor to the secret: the sandbox must not see it. */
	leak_fd = open(vars_values[0], O_RDONLY);
	assert_true(leak_fd >= 0);
	tl_run(argv, code, &o);
	close(leak_fd);
	result = json_loads(o.out, 0, NULL);
	if (!result)
		fail_msg("no JSON from ledgerbox exec (exit %d)\nstdout: %.2000s\nstderr: %.2000s",
			 o.exit_code, o.out, o.err);
	check_result(c->text, result, &o);
	if (lfd >= 0) {
		int conn = accept(lfd, NULL, NULL);
		assert_true(conn < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
		close(lfd);
	}
	assert_int_equal(orphans_left(), 0);
	assert_int_equal(run_cgroups_left(o.pid), 0);
	assert_int_equal(mount_count(), mounts);
	json_decref(result);
	tl_output_free(&o);
	for (int i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
	free(code);
	free(code_path);
	free(listener);
}

static void vars_init(void)
{
	char pid[16], *secret_path, *state;
	const char *home = getenv("HOME") ? getenv("HOME") : "/root";

	secret_path = tl_write_tmp("host-secret.txt", SECRET "\n");
	var_set("SECRET_FILE", secret_path); /* first: run_case opens vars_values[0] */
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	var_set("HOST_PID", pid);
	var_set("HOME", home);
	assert_true(asprintf(&state, "%s/state", tl_tmp()) > 0);
	mkdir(state, 0700);
	free(tl_write_tmp("state/ledgerbox.db", SECRET "\n"));
	var_set("STATE_DIR", state);
	var_set("DEMO", tl_demo());
	var_set("PORT", "0");
	setenv("LEDGERBOX_TEST_SECRET", SECRET, 1);
	free(secret_path);
	free(state);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int main(void)
{
	const char *src = getenv("LEDGERBOX_SRC") ? getenv("LEDGERBOX_SRC") : ".";
	char dir[4096];
	struct dirent **names;
	struct CMUnitTest *tests;
	struct sec_case *cases;
	int n, count = 0, failed;

	vars_init();
	/* Orphans of a run come to this process, where orphans_left sees them. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
		perror("prctl(PR_SET_CHILD_SUBREAPER)");
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s/tests/security/cases", src);
	n = scandir(dir, &names, NULL, by_name);
	if (n < 0) {
		fprintf(stderr, "cannot read %s\n", dir);
		return 1;
	}
	tests = calloc((size_t)n, sizeof(*tests));
	cases = calloc((size_t)n, sizeof(*cases));
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			struct sec_case *c = &cases[count];
			snprintf(c->name, sizeof(c->name), "%.200s", names[i]->d_name);
			snprintf(c->path, sizeof(c->path), "%.4000s/%.200s", dir, names[i]->d_name);
			c->text = read_file(c->path);
			tests[count] = (struct CMUnitTest){ .name = c->name, .test_func = run_case,
							     .initial_state = c };
			count++;
		}
		free(names[i]);
	}
	free(names);
	failed = _cmocka_run_group_tests("security", tests, (size_t)count, NULL, NULL);
	for (int i = 0; i < count; i++)
		free(cases[i].text);
	free(cases);
	free(tests);
	return failed;
}
