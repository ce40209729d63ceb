/*
 * Tests of `make install` and `make uninstall` (install.mk), staged into a
 * DESTDIR under LEDGERBOX_TEST_TMP with PREFIX=/usr, from the build folder
 * the binary under test comes from.
 *
 * They check the layout and modes, the systemd unit (real paths, the
 * options the sandbox needs, none of those that break it, and
 * `systemd-analyze verify` when it is there), the sample configuration
 * against config_settings() and `ledgerbox config check`, then start the
 * INSTALLED server the way the unit would (through the bin link, with the
 * sample as its --config, umask 077, no_new_privs and the unit's capability
 * bounding set) and run SQL and Python through it, which only works when
 * ledgerbox-server and ledgerbox-sql-runner are found beside it. Last,
 * uninstall removes what install put and keeps a hand-written config.
 *
 * The tests run in order and share the one install made by the setup.
 */
#include <ctype.h>
#include <limits.h>
#include <linux/capability.h>
#include <sys/prctl.h>

#include <sqlite3.h>

#include "config/config.h"
#include "http/httplib.h"
#include "util/banned.h"

struct install {
	char src[PATH_MAX];   /* the source tree, where make runs */
	char build[PATH_MAX]; /* BUILD= for make: the binary under test's folder */
	char root[PATH_MAX];  /* this test's scratch folder */
	char dest[PATH_MAX];  /* DESTDIR */
	char bin[PATH_MAX];   /* DESTDIR/usr/bin/ledgerbox, the link */
	char lib[PATH_MAX];   /* DESTDIR/usr/lib/ledgerbox */
	char unit[PATH_MAX];
	char sample[PATH_MAX];
	char conf[PATH_MAX];  /* the sample with its settings uncommented */
	struct server srv;
};

static struct install I;

/* snprintf into an array, failing the test rather than cutting a path. */
#define PATH_SET(buf, ...) assert_true((size_t)snprintf(buf, sizeof(buf), __VA_ARGS__) < sizeof(buf))

static char *file_read(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "re");
	char *text = NULL, chunk[65536];
	size_t len = 0, n;

	if (!f) {
		fail_msg("cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		tl_append(&text, &len, chunk, n);
	fclose(f);
	if (!text)
		tl_append(&text, &len, "", 0);
	if (ret_len)
		*ret_len = len;
	return text;
}

static void file_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

/* Runs make TARGET with DESTDIR, PREFIX and BUILD; fails with its output.
 * `-o all`: the binaries the other tests ran are installed as they are,
 * never rebuilt here (with other flags, or from a tree edited since). */
/* make TARGET DESTDIR=dest, with PREFIX=prefix unless prefix is NULL (the
 * Makefile's default). */
static void make_run_in(const char *target, const char *dest, const char *prefix)
{
	char destdir[PATH_MAX + 16], build[PATH_MAX + 16], prefix_arg[PATH_MAX + 16];
	char *argv[] = { "/usr/bin/make", "-C", I.src, "--no-print-directory", "-o", "all",
			 (char *)target, destdir, build, prefix ? prefix_arg : NULL, NULL };
	struct tl_output o;

	snprintf(prefix_arg, sizeof(prefix_arg), "PREFIX=%s", prefix ? prefix : "");
	snprintf(destdir, sizeof(destdir), "DESTDIR=%s", dest);
	snprintf(build, sizeof(build), "BUILD=%s", I.build);
	tl_run(argv, NULL, &o);
	if (o.exit_code != 0)
		fail_msg("make %s failed (%d):\n%s\n%s", target, o.exit_code, o.out, o.err);
	tl_output_free(&o);
}

static void make_run(const char *target)
{
	make_run_in(target, I.dest, "/usr");
}

/* BUILD as make saw it when it built the binary: relative to the source
 * tree when inside it, so the dependency files still match. */
static void build_dir_find(void)
{
	char bin[PATH_MAX], *slash;
	size_t src_len;

	assert_non_null(realpath(tl_env("LEDGERBOX_SRC"), I.src));
	assert_non_null(realpath(tl_bin(), bin));
	slash = strrchr(bin, '/');
	assert_non_null(slash);
	*slash = '\0';
	src_len = strlen(I.src);
	if (strncmp(bin, I.src, src_len) == 0 && bin[src_len] == '/')
		snprintf(I.build, sizeof(I.build), "%s", bin + src_len + 1);
	else
		snprintf(I.build, sizeof(I.build), "%s", bin);
}

static int group_setup(void **state)
{
	(void)state;
	/* A make above this test (make test) must not pass its flags, jobs
	 * or variables down to this one. */
	unsetenv("MAKEFLAGS");
	unsetenv("MFLAGS");
	unsetenv("MAKELEVEL");
	unsetenv("MAKEOVERRIDES");
	unsetenv("GNUMAKEFLAGS");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	build_dir_find();
	snprintf(I.root, sizeof(I.root), "%s/install-XXXXXX", tl_tmp());
	assert_non_null(mkdtemp(I.root));
	PATH_SET(I.dest, "%s/dest", I.root);
	PATH_SET(I.bin, "%s/usr/bin/ledgerbox", I.dest);
	PATH_SET(I.lib, "%s/usr/lib/ledgerbox", I.dest);
	PATH_SET(I.unit, "%s/usr/lib/systemd/system/ledgerbox.service", I.dest);
	PATH_SET(I.sample, "%s/etc/ledgerbox/ledgerbox.conf.sample", I.dest);
	PATH_SET(I.conf, "%s/ledgerbox.conf", I.root);
	make_run("install");
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (I.srv.pid > 0) {
		kill(I.srv.pid, SIGKILL);
		waitpid(I.srv.pid, NULL, 0);
		I.srv.pid = 0;
	}
	return 0;
}

static void assert_mode(const char *path, mode_t type, mode_t mode)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		fail_msg("%s: %s", path, strerror(errno));
	if ((st.st_mode & S_IFMT) != type || (st.st_mode & 07777) != mode)
		fail_msg("%s: mode %o, expected %o", path, (unsigned)st.st_mode,
			 (unsigned)(type | mode));
}

static void assert_gone(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0 || errno != ENOENT)
		fail_msg("%s is still there", path);
}

static void files_are_in_place_with_their_modes(void **state)
{
	static const char *const programs[] = { "ledgerbox", "ledgerbox-server",
						"ledgerbox-sql-runner" };
	char path[PATH_MAX + 64], built[PATH_MAX * 2 + 64], target[PATH_MAX];
	struct stat via_link, real;
	ssize_t n;
	(void)state;

	for (size_t i = 0; i < 3; i++) {
		char *a, *b;
		size_t a_len, b_len;

		snprintf(path, sizeof(path), "%s/%s", I.lib, programs[i]);
		assert_mode(path, S_IFREG, 0755);
		/* The very files the build made. */
		snprintf(built, sizeof(built), "%s/%s/%s", I.src, I.build, programs[i]);
		if (I.build[0] == '/')
			snprintf(built, sizeof(built), "%s/%s", I.build, programs[i]);
		a = file_read(path, &a_len);
		b = file_read(built, &b_len);
		assert_true(a_len == b_len && memcmp(a, b, a_len) == 0);
		free(a);
		free(b);
	}
	n = readlink(I.bin, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_string_equal(target, "../lib/ledgerbox/ledgerbox");
	snprintf(path, sizeof(path), "%s/ledgerbox", I.lib);
	assert_int_equal(stat(I.bin, &via_link), 0);
	assert_int_equal(stat(path, &real), 0);
	assert_true(via_link.st_ino == real.st_ino && via_link.st_dev == real.st_dev);
	/* The folder and the files of the configuration are owner-only: the
	 * live ledgerbox.conf beside the sample holds database_url and llm_key. */
	snprintf(path, sizeof(path), "%s/etc/ledgerbox", I.dest);
	assert_mode(path, S_IFDIR, 0700);
	assert_mode(I.sample, S_IFREG, 0600);
	assert_mode(I.unit, S_IFREG, 0644);
	/* The live configuration is the administrator's: install never writes it. */
	snprintf(path, sizeof(path), "%s/etc/ledgerbox/ledgerbox.conf", I.dest);
	assert_gone(path);
}

/* The value of the last `key=` line of the unit, or NULL (malloc'd). */
static char *unit_value(const char *unit, const char *key)
{
	size_t key_len = strlen(key);
	char *found = NULL;

	for (const char *line = unit; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);

		if (len > key_len && strncmp(line, key, key_len) == 0 && line[key_len] == '=') {
			free(found);
			found = strndup(line + key_len + 1, len - key_len - 1);
		}
		line = end ? end + 1 : NULL;
	}
	return found;
}

static bool unit_has_line(const char *unit, const char *line)
{
	size_t len = strlen(line);

	for (const char *p = strstr(unit, line); p; p = strstr(p + 1, line))
		if ((p == unit || p[-1] == '\n') && (p[len] == '\n' || p[len] == '\0'))
			return true;
	return false;
}

static uint64_t setting_default_u64(const char *variable)
{
	size_t n;
	const struct config_setting *s = config_settings(&n);

	for (size_t i = 0; i < n; i++)
		if (strcmp(s[i].variable, variable) == 0)
			return strtoull(s[i].default_text, NULL, 10);
	fail_msg("no setting %s", variable);
	return 0;
}

static void unit_exec_start_is_valid_shell(const char *unit)
{
	char *exec = unit_value(unit, "ExecStart");
	char *open_q, *close_q, *script;
	struct tl_output o;

	assert_non_null(exec);
	assert_non_null(strstr(exec, "[ -e /etc/ledgerbox/ledgerbox.conf ]"));
	assert_non_null(strstr(exec, "exec /usr/bin/ledgerbox serve --config "
				     "/etc/ledgerbox/ledgerbox.conf;"));
	assert_non_null(strstr(exec, "exec /usr/bin/ledgerbox serve'"));
	open_q = strchr(exec, '\'');
	close_q = strrchr(exec, '\'');
	assert_true(open_q && close_q > open_q);
	script = strndup(open_q + 1, (size_t)(close_q - open_q - 1));
	{
		char *argv[] = { "/bin/sh", "-n", "-c", script, NULL };
		tl_run(argv, NULL, &o);
	}
	assert_int_equal(o.exit_code, 0);
	tl_output_free(&o);
	free(script);
	free(exec);
}

static void unit_verifies(void)
{
	char *argv[] = { "/usr/bin/systemd-analyze", "verify", I.unit, NULL };
	struct tl_output o;

	if (access(argv[0], X_OK) < 0) {
		fprintf(stderr, "# systemd-analyze is not installed: unit not verified\n");
		return;
	}
	tl_run(argv, NULL, &o);
	if (o.exit_code != 0 || strstr(o.err, "ledgerbox.service"))
		fail_msg("systemd-analyze verify (%d): %s", o.exit_code, o.err);
	tl_output_free(&o);
}

/* An @NAME@ that make install should have replaced. */
static bool unit_has_placeholder(const char *unit)
{
	for (const char *p = strchr(unit, '@'); p; p = strchr(p + 1, '@')) {
		const char *q = p + 1;
		while (isupper((unsigned char)*q) || *q == '_')
			q++;
		if (q > p + 1 && *q == '@')
			return true;
	}
	return false;
}

static void unit_has_paths_and_the_options_the_sandbox_needs(void **state)
{
	static const char *const expected[][2] = {
		{ "Type", "simple" },
		{ "Delegate", "yes" },
		{ "StateDirectory", "ledgerbox ledgerbox/data" },
		{ "KillMode", "mixed" },
		{ "Restart", "on-failure" },
		{ "UMask", "0077" },
		{ "NoNewPrivileges", "yes" },
		{ "ProtectSystem", "strict" },
		{ "ProtectHome", "yes" },
		{ "PrivateTmp", "yes" },
		{ "ProtectClock", "yes" },
		{ "LockPersonality", "yes" },
		{ "RestrictRealtime", "yes" },
		{ "RestrictSUIDSGID", "yes" },
		{ "RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6 AF_NETLINK" },
		{ "SystemCallArchitectures", "native" },
		{ "WantedBy", "multi-user.target" },
	};
	/* Each of these stops sandboxes from starting, or takes their cgroup
	 * limits away (see the unit's comments). */
	static const char *const absent[] = {
		"User", "DynamicUser", "PrivateUsers", "RestrictNamespaces",
		"ProtectKernelTunables", "ProtectKernelLogs", "ProtectKernelModules",
		"ProtectHostname", "ProtectControlGroups", "PrivateNetwork", "ProcSubset",
	};
	char *unit = file_read(I.unit, NULL), *v;
	(void)state;

	assert_false(unit_has_placeholder(unit));
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		v = unit_value(unit, expected[i][0]);
		if (!v || strcmp(v, expected[i][1]) != 0)
			fail_msg("%s=%s, expected %s", expected[i][0], v ? v : "(none)",
				 expected[i][1]);
		free(v);
	}
	for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
		v = unit_value(unit, absent[i]);
		if (v)
			fail_msg("%s=%s must not be set", absent[i], v);
	}
	assert_true(unit_has_line(unit, "Environment=LEDGERBOX_STATE_DIR=/var/lib/ledgerbox"));
	assert_true(unit_has_line(unit, "Environment=LEDGERBOX_DATA_DIR=/var/lib/ledgerbox/data"));
	v = unit_value(unit, "LimitNOFILE");
	assert_non_null(v);
	assert_true(strtoull(v, NULL, 10) >= 4096);
	free(v);
	/* Stopping must leave the server its whole grace period and then some. */
	v = unit_value(unit, "TimeoutStopSec");
	assert_non_null(v);
	assert_true(strtoull(v, NULL, 10) * 1000 >
		    setting_default_u64("LEDGERBOX_SHUTDOWN_GRACE_MS") + 5000);
	free(v);
	unit_exec_start_is_valid_shell(unit);
	unit_verifies();
	free(unit);
}

/* The sample with every `#name = value` line uncommented; *ret_count is
 * how many. */
static char *sample_uncomment(const char *sample, size_t *ret_count)
{
	char *out = NULL;
	size_t len = 0, count = 0;

	for (const char *line = sample; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t n = end ? (size_t)(end - line + 1) : strlen(line);

		if (line[0] == '#' && islower((unsigned char)line[1])) {
			line++;
			n--;
			count++;
		}
		tl_append(&out, &len, line, n);
		line = end ? end + 1 : NULL;
	}
	*ret_count = count;
	return out;
}

/* 1-based number of the line of text starting with `start`, or 0. */
static unsigned line_number(const char *text, const char *start)
{
	unsigned no = 1;

	for (const char *line = text; line && *line; no++) {
		if (strncmp(line, start, strlen(start)) == 0)
			return no;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return 0;
}

static void config_check_run(const char *path, struct tl_output *o)
{
	char *argv[] = { I.bin, "config", "check", (char *)path, NULL };

	tl_run(argv, NULL, o);
}

static void sample_lists_every_setting(void **state)
{
	char *argv[] = { I.bin, "config", "sample", NULL };
	char *sample = file_read(I.sample, NULL), *conf;
	size_t n, values = 0, uncommented;
	const struct config_setting *s = config_settings(&n);
	struct tl_output o;
	(void)state;

	/* Generated by the binary, not written by hand. */
	tl_run(argv, NULL, &o);
	assert_int_equal(o.exit_code, 0);
	assert_string_equal(o.out, sample);
	tl_output_free(&o);
	for (size_t i = 0; i < n; i++) {
		char line[256], name[64];
		size_t k = 0;

		if (!strstr(sample, s[i].variable) || !strstr(sample, s[i].description))
			fail_msg("the sample lacks %s or its help", s[i].variable);
		/* A default such as "number of CPUs" or "(none)" is not a value. */
		if (strpbrk(s[i].default_text, " ("))
			continue;
		for (const char *p = s[i].variable + strlen("LEDGERBOX_"); *p && k < 63; p++)
			name[k++] = (char)tolower((unsigned char)*p);
		name[k] = '\0';
		snprintf(line, sizeof(line), s[i].default_text[0] ? "#%s = %s" : "#%s =", name,
			 s[i].default_text);
		if (!unit_has_line(sample, line))
			fail_msg("the sample lacks the line '%s'", line);
		values++;
	}
	assert_true(values > 40);
	conf = sample_uncomment(sample, &uncommented);
	assert_int_equal(uncommented, values);
	file_write(I.conf, conf);
	/* The environment is not what is checked. */
	setenv("LEDGERBOX_QUEUE_MAX", "lots", 1);
	config_check_run(I.conf, &o);
	unsetenv("LEDGERBOX_QUEUE_MAX");
	if (o.exit_code != 0)
		fail_msg("config check refused the sample: %s", o.err);
	assert_non_null(strstr(o.out, ": ok"));
	tl_output_free(&o);
	free(conf);
	free(sample);
}

static void config_check_names_the_bad_line(void **state)
{
	char *conf = file_read(I.conf, NULL), *bad = NULL, path[PATH_MAX + 16], want[PATH_MAX + 64];
	const char *at = strstr(conf, "\nqueue_max = 16\n");
	size_t len = 0;
	unsigned line;
	struct tl_output o;
	(void)state;

	assert_non_null(at);
	line = line_number(conf, "queue_max = 16");
	assert_true(line > 1);
	tl_append(&bad, &len, conf, (size_t)(at - conf) + 1);
	tl_append(&bad, &len, "queue_max = lots", strlen("queue_max = lots"));
	tl_append(&bad, &len, at + strlen("\nqueue_max = 16"), strlen(at + strlen("\nqueue_max = 16")));
	snprintf(path, sizeof(path), "%s/bad-value.conf", I.root);
	file_write(path, bad);
	config_check_run(path, &o);
	assert_int_equal(o.exit_code, 1);
	snprintf(want, sizeof(want), "%s:%u: queue_max:", path, line);
	if (!strstr(o.err, want) || !strstr(o.err, "'lots'"))
		fail_msg("expected '%s' and the value in: %s", want, o.err);
	tl_output_free(&o);

	snprintf(path, sizeof(path), "%s/unknown.conf", I.root);
	file_write(path, "# a comment\nlisten = 127.0.0.1:8080\n\nmax_run = 3\n");
	config_check_run(path, &o);
	assert_int_equal(o.exit_code, 1);
	snprintf(want, sizeof(want), "%s:4: unknown setting 'max_run'", path);
	if (!strstr(o.err, want))
		fail_msg("expected '%s' in: %s", want, o.err);
	tl_output_free(&o);

	config_check_run("", &o);
	assert_int_equal(o.exit_code, 64);
	tl_output_free(&o);
	free(bad);
	free(conf);
}

#define CAP_NAME(c) { #c, c }
static const struct {
	const char *name;
	int cap;
} cap_names[] = {
	CAP_NAME(CAP_SYS_MODULE),   CAP_NAME(CAP_SYS_RAWIO),       CAP_NAME(CAP_SYS_BOOT),
	CAP_NAME(CAP_SYS_TIME),     CAP_NAME(CAP_WAKE_ALARM),      CAP_NAME(CAP_SYSLOG),
	CAP_NAME(CAP_SYS_PACCT),    CAP_NAME(CAP_SYS_TTY_CONFIG),  CAP_NAME(CAP_LINUX_IMMUTABLE),
	CAP_NAME(CAP_MAC_ADMIN),    CAP_NAME(CAP_MAC_OVERRIDE),    CAP_NAME(CAP_AUDIT_CONTROL),
	CAP_NAME(CAP_AUDIT_READ),   CAP_NAME(CAP_AUDIT_WRITE),     CAP_NAME(CAP_NET_ADMIN),
	CAP_NAME(CAP_NET_RAW),      CAP_NAME(CAP_BPF),             CAP_NAME(CAP_PERFMON),
	CAP_NAME(CAP_BLOCK_SUSPEND), CAP_NAME(CAP_LEASE),          CAP_NAME(CAP_MKNOD),
	CAP_NAME(CAP_SYS_NICE),     CAP_NAME(CAP_IPC_LOCK),        CAP_NAME(CAP_SYS_RESOURCE),
	CAP_NAME(CAP_CHECKPOINT_RESTORE),
};

static int cap_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++)
		if (strcmp(cap_names[i].name, name) == 0)
			return cap_names[i].cap;
	return -1;
}

/* The capabilities the unit's `CapabilityBoundingSet=~...` takes away, as
 * numbers, ending with -1. */
static void unit_dropped_caps(int *caps, size_t max)
{
	char *unit = file_read(I.unit, NULL), *v = unit_value(unit, "CapabilityBoundingSet");
	size_t n = 0;

	assert_non_null(v);
	assert_true(v[0] == '~');
	for (char *save = NULL, *tok = strtok_r(v + 1, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		int cap = cap_from_name(tok);

		if (cap < 0)
			fail_msg("the test does not know %s", tok);
		assert_true(n + 1 < max);
		caps[n++] = cap;
	}
	caps[n] = -1;
	free(v);
	free(unit);
}

/* Starts the installed server as the unit would: through the bin link,
 * with the configuration file, the state and data folders in the
 * environment, umask 077, no_new_privs and the unit's bounding set. */
static void server_start(const char *data)
{
	char listen[64], log_path[PATH_MAX + 16];
	int caps[64];

	unit_dropped_caps(caps, 64);
	I.srv.port = hl_free_port();
	snprintf(I.srv.base, sizeof(I.srv.base), "http://127.0.0.1:%d", I.srv.port);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", I.srv.port);
	snprintf(log_path, sizeof(log_path), "%s/server.log", I.root);
	I.srv.pid = fork();
	assert_true(I.srv.pid >= 0);
	if (I.srv.pid == 0) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		char *argv[] = { I.bin, "serve", "--config", I.conf, NULL };

		dup2(fd, 1);
		dup2(fd, 2);
		setenv("LEDGERBOX_STATE_DIR", I.srv.state, 1);
		setenv("LEDGERBOX_DATA_DIR", data, 1);
		setenv("LEDGERBOX_LISTEN", listen, 1);
		setenv("LEDGERBOX_MAX_RUNS", "2", 1);
		umask(077);
		for (int i = 0; caps[i] >= 0; i++)
			if (prctl(PR_CAPBSET_DROP, caps[i], 0, 0, 0) < 0 && errno != EINVAL)
				_exit(126);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		struct reply r;
		int status;

		hl_call_timeout(&I.srv, "GET", "/healthz", NULL, NULL, 0, NULL, 1000, &r);
		if (r.status == 200) {
			hl_reply_free(&r);
			return;
		}
		hl_reply_free(&r);
		if (waitpid(I.srv.pid, &status, WNOHANG) == I.srv.pid) {
			I.srv.pid = 0;
			fail_msg("the installed server exited; see %s", log_path);
		}
		usleep(50000);
	}
	fail_msg("the installed server did not start; see %s", log_path);
}

static char *key_create(void)
{
	return hl_key_create_by(I.bin, &I.srv, "ops", "ops", "admin");
}

static int64_t demo_account_count(void)
{
	char path[PATH_MAX + 32];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t n = -1;

	snprintf(path, sizeof(path), "%s/ledger.sqlite", tl_demo());
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM accounts", -1, &st, NULL),
			 SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	assert_true(n > 0);
	return n;
}

static json_t *analyze(const char *key, const char *body)
{
	struct reply r;
	json_t *j;
	const char *status;

	hl_call(&I.srv, "POST", "/api/analyze", key, body, &r);
	status = r.json ? hl_str(r.json, "status") : NULL;
	if (r.status != 200 || !status || strcmp(status, "ok") != 0)
		fail_msg("analyze: %ld %s", r.status, r.body);
	j = json_incref(r.json);
	hl_reply_free(&r);
	return j;
}

static void installed_server_runs_sql_and_python(void **state)
{
	char data[PATH_MAX + 16], demo[PATH_MAX + 32], exe[PATH_MAX], lib_real[PATH_MAX];
	char want[PATH_MAX + 32];
	char proc[64], expected[32], *key;
	char *cp[] = { "/bin/cp", "-R", (char *)tl_demo(), demo, NULL };
	int64_t accounts = demo_account_count();
	struct tl_output o;
	json_t *j, *cell;
	ssize_t n;
	(void)state;

	PATH_SET(I.srv.state, "%s/state", I.root);
	snprintf(data, sizeof(data), "%s/data", I.root);
	snprintf(demo, sizeof(demo), "%s/demo", data);
	assert_int_equal(mkdir(data, 0755), 0);
	tl_run(cp, NULL, &o);
	assert_int_equal(o.exit_code, 0);
	tl_output_free(&o);
	server_start(data);

	/* It is the installed server that answers, not the build's. */
	snprintf(proc, sizeof(proc), "/proc/%d/exe", (int)I.srv.pid);
	n = readlink(proc, exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	assert_non_null(realpath(I.lib, lib_real));
	snprintf(want, sizeof(want), "%s/ledgerbox-server", lib_real);
	assert_string_equal(exe, want);

	key = key_create();
	j = analyze(key, "{\"language\":\"sql\",\"dataset\":\"demo\","
			 "\"code\":\"SELECT count(*) AS n FROM accounts\"}");
	cell = json_array_get(json_array_get(json_object_get(json_object_get(j, "table"), "rows"), 0),
			      0);
	assert_true(json_is_integer(cell));
	assert_int_equal(json_integer_value(cell), accounts);
	json_decref(j);

	/* Python: the driver comes from the installed binary itself. */
	j = analyze(key, "{\"language\":\"python\",\"dataset\":\"demo\",\"code\":"
			 "\"import pandas as pd\\nprint(len(pd.read_csv('/data/accounts.csv')))\"}");
	snprintf(expected, sizeof(expected), "%lld\n", (long long)accounts);
	assert_non_null(hl_str(j, "output"));
	assert_string_equal(hl_str(j, "output"), expected);
	json_decref(j);
	free(key);

	assert_int_equal(hl_stop(&I.srv, SIGTERM), 0);
}

/* The default PREFIX (/usr/local) once put the configuration in
 * /usr/local/etc, below the /usr that sandboxes looked into: it now goes to
 * /etc/ledgerbox, owner-only, whatever the prefix, and the unit reads it
 * there. */
static void default_prefix_keeps_configuration_in_etc(void **state)
{
	char dest[PATH_MAX + 32], path[PATH_MAX + 128], *unit, *exec;
	size_t len;
	(void)state;

	snprintf(dest, sizeof(dest), "%s/dest-default-prefix", I.root);
	make_run_in("install", dest, NULL);
	snprintf(path, sizeof(path), "%s/etc/ledgerbox", dest);
	assert_mode(path, S_IFDIR, 0700);
	snprintf(path, sizeof(path), "%s/etc/ledgerbox/ledgerbox.conf.sample", dest);
	assert_mode(path, S_IFREG, 0600);
	snprintf(path, sizeof(path), "%s/usr/local/etc", dest);
	assert_gone(path);
	snprintf(path, sizeof(path), "%s/usr/local/lib/systemd/system/ledgerbox.service", dest);
	unit = file_read(path, &len);
	exec = unit_value(unit, "ExecStart");
	assert_non_null(exec);
	assert_non_null(strstr(exec, "[ -e /etc/ledgerbox/ledgerbox.conf ]"));
	assert_non_null(strstr(exec, "exec /usr/local/bin/ledgerbox serve --config "
				     "/etc/ledgerbox/ledgerbox.conf;"));
	assert_null(strstr(unit, "/usr/local/etc"));
	free(exec);
	free(unit);
	make_run_in("uninstall", dest, NULL);
}

/* `config sample --output FILE` makes FILE owner-only whatever the umask
 * (a shell redirect under umask 022 made it world-readable), writes what
 * the plain command prints, and never replaces a file that exists. */
static void config_sample_output_is_owner_only(void **state)
{
	char path[PATH_MAX + 32], *printed, *written;
	char *print_argv[] = { (char *)tl_bin(), "config", "sample", NULL };
	char *write_argv[] = { (char *)tl_bin(), "config", "sample", "--output", path, NULL };
	struct tl_output p, w;
	size_t len;
	mode_t old = umask(022);
	(void)state;

	snprintf(path, sizeof(path), "%s/sample-output.conf", I.root);
	tl_run(print_argv, NULL, &p);
	assert_int_equal(p.exit_code, 0);
	tl_run(write_argv, NULL, &w);
	assert_int_equal(w.exit_code, 0);
	tl_output_free(&w);
	assert_mode(path, S_IFREG, 0600);
	written = file_read(path, &len);
	printed = p.out;
	assert_true(len == p.out_len && memcmp(written, printed, len) == 0);
	/* A second time: refused, the file left as it was. */
	tl_run(write_argv, NULL, &w);
	assert_int_equal(w.exit_code, 1);
	assert_non_null(strstr(w.err, "never overwritten"));
	tl_output_free(&w);
	assert_mode(path, S_IFREG, 0600);
	free(written);
	written = file_read(path, &len);
	assert_int_equal(len, p.out_len);
	free(written);
	tl_output_free(&p);
	unlink(path);
	umask(old);
}

static void uninstall_removes_what_install_put(void **state)
{
	char conf[PATH_MAX + 64], path[PATH_MAX + 64], *text;
	static const char *const programs[] = { "ledgerbox", "ledgerbox-server",
						"ledgerbox-sql-runner" };
	(void)state;

	/* The administrator's own configuration stays. */
	snprintf(conf, sizeof(conf), "%s/etc/ledgerbox/ledgerbox.conf", I.dest);
	file_write(conf, "listen = 0.0.0.0:8080\n");
	make_run("uninstall");
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", I.lib, programs[i]);
		assert_gone(path);
	}
	assert_gone(I.lib);
	assert_gone(I.bin);
	assert_gone(I.sample);
	assert_gone(I.unit);
	text = file_read(conf, NULL);
	assert_string_equal(text, "listen = 0.0.0.0:8080\n");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(files_are_in_place_with_their_modes),
		cmocka_unit_test(unit_has_paths_and_the_options_the_sandbox_needs),
		cmocka_unit_test(sample_lists_every_setting),
		cmocka_unit_test(config_check_names_the_bad_line),
		cmocka_unit_test(installed_server_runs_sql_and_python),
		cmocka_unit_test(default_prefix_keeps_configuration_in_etc),
		cmocka_unit_test(config_sample_output_is_owner_only),
		cmocka_unit_test(uninstall_removes_what_install_put),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
