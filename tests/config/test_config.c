/*
 * Tests of src/config: defaults, the environment, the file, the order
 * between them, and that every bad value is refused with a message naming
 * the variable (or file and line).
 *
 * Each test starts by clearing every LEDGERBOX_ variable but
 * LEDGERBOX_TEST_TMP, which holds the scratch folder, so no test sees
 * another's settings or the caller's.
 */
#include "testlib.h"

#include "config/config.h"

extern char **environ;

#define MiB (1024ull * 1024)
#define GiB (1024ull * MiB)

static int env_clear(void **state)
{
	char names[256][128];
	size_t n = 0;
	(void)state;

	/* Names are gathered first: unsetenv while walking environ skips some. */
	for (char **e = environ; *e && n < 256; e++) {
		const char *eq = strchr(*e, '=');
		size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
		if (strncmp(*e, "LEDGERBOX_", 10) != 0 || len >= sizeof(names[0]))
			continue;
		memcpy(names[n], *e, len);
		names[n][len] = '\0';
		if (strcmp(names[n], "LEDGERBOX_TEST_TMP") != 0)
			n++;
	}
	for (size_t i = 0; i < n; i++)
		unsetenv(names[i]);
	return 0;
}

static void load_ok(struct config *c, const char *path)
{
	char err[512] = "";
	int r = config_load(c, path, err, sizeof(err));
	if (r != 0)
		fail_msg("config_load: %d %s", r, err);
}

/* Loads, expects a failure, and checks the message holds `want` and, when
 * given, `want2`. */
static void load_fails(const char *path, const char *want, const char *want2)
{
	struct config c;
	char err[512] = "";
	int r;

	memset(&c, 0xab, sizeof(c));
	r = config_load(&c, path, err, sizeof(err));
	if (r >= 0)
		fail_msg("expected an error with '%s', loaded fine", want);
	if (!strstr(err, want) || (want2 && !strstr(err, want2)))
		fail_msg("message '%s' lacks '%s' / '%s'", err, want, want2 ? want2 : "");
	/* The out-param is written only on success. */
	for (size_t i = 0; i < sizeof(c); i++)
		assert_int_equal(((unsigned char *)&c)[i], 0xab);
}

static void defaults_are_documented_values(void **state)
{
	struct config c;
	struct sandbox_limits l;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	(void)state;

	load_ok(&c, NULL);
	assert_string_equal(c.listen_host, "127.0.0.1");
	assert_int_equal(c.listen_port, 8080);
	assert_string_equal(c.state_dir, "./state");
	assert_string_equal(c.data_dir, "./data");
	assert_int_equal(c.max_runs, cpus < 1 ? 1 : cpus > 1024 ? 1024 : cpus);
	assert_int_equal(c.queue_max, 16);
	assert_int_equal(c.max_body_bytes, 1 * MiB);
	assert_int_equal(c.upload_max_bytes, 100 * MiB);
	assert_int_equal(c.upload_max_rows, 1000000);
	assert_int_equal(c.table_rows, 1000);
	assert_int_equal(c.export_rows, 100000);
	assert_int_equal(c.shutdown_grace_ms, 30000);
	sandbox_limits_default(&l);
	assert_int_equal(c.limits.wall_ms, l.wall_ms);
	assert_int_equal(c.limits.cpu_ms, l.cpu_ms);
	assert_int_equal(c.limits.memory_bytes, l.memory_bytes);
	assert_int_equal(c.limits.pids, l.pids);
	assert_int_equal(c.limits.output_bytes, l.output_bytes);
	assert_int_equal(c.limits.tmp_bytes, l.tmp_bytes);
	assert_int_equal(c.limits.open_files, l.open_files);
	assert_int_equal(c.limits.max_rows, c.export_rows);
	assert_int_equal(c.max_limits.wall_ms, 300000);
	assert_int_equal(c.max_limits.cpu_ms, 300000);
	assert_int_equal(c.max_limits.memory_bytes, 4 * GiB);
	assert_int_equal(c.max_limits.pids, 256);
	assert_int_equal(c.max_limits.output_bytes, 16 * MiB);
	assert_int_equal(c.max_limits.tmp_bytes, 1 * GiB);
	assert_int_equal(c.max_limits.out_bytes, l.out_bytes);
	assert_int_equal(c.max_limits.file_bytes, l.file_bytes);
	assert_true(c.max_limits.output_drain_bytes >= 16 * c.max_limits.output_bytes);
	/* A request may raise only its output limit, up to the maximum. */
	l = c.limits;
	l.output_bytes = c.max_limits.output_bytes;
	assert_int_equal(sandbox_limits_check(&l, (char[128]){ 0 }, 128), 0);
	assert_int_equal(sandbox_limits_check(&c.limits, (char[128]){ 0 }, 128), 0);
	assert_int_equal(sandbox_limits_check(&c.max_limits, (char[128]){ 0 }, 128), 0);
}

/* The table's default texts, fed back as values, give the defaults: the
 * help text and docs cannot drift from the code. */
static void settings_table_matches_the_defaults(void **state)
{
	struct config want, got;
	size_t n = 0;
	const struct config_setting *s = config_settings(&n);
	(void)state;

	load_ok(&want, NULL);
	assert_true(n >= 20);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(strncmp(s[i].variable, "LEDGERBOX_", 10), 0);
		assert_true(strlen(s[i].description) > 10);
		assert_non_null(strchr(s[i].default_text, '\0'));
		if (strcmp(s[i].variable, "LEDGERBOX_CONFIG") == 0 ||
		    strcmp(s[i].variable, "LEDGERBOX_MAX_RUNS") == 0)
			continue;
		assert_int_equal(setenv(s[i].variable, s[i].default_text, 1), 0);
	}
	load_ok(&got, NULL);
	assert_memory_equal(&want, &got, sizeof(want));
}

static void environment_overrides_defaults(void **state)
{
	struct config c;
	(void)state;

	setenv("LEDGERBOX_LISTEN", "0.0.0.0:9000", 1);
	setenv("LEDGERBOX_STATE_DIR", "var/state", 1);
	setenv("LEDGERBOX_DATA_DIR", "/srv/data", 1);
	setenv("LEDGERBOX_MAX_RUNS", "3", 1);
	setenv("LEDGERBOX_QUEUE_MAX", "0", 1);
	setenv("LEDGERBOX_MAX_BODY_BYTES", "2M", 1);
	setenv("LEDGERBOX_UPLOAD_MAX_BYTES", "1G", 1);
	setenv("LEDGERBOX_UPLOAD_MAX_ROWS", "50", 1);
	setenv("LEDGERBOX_TABLE_ROWS", "10", 1);
	setenv("LEDGERBOX_EXPORT_ROWS", "20", 1);
	setenv("LEDGERBOX_SHUTDOWN_GRACE_MS", "0", 1);
	setenv("LEDGERBOX_RUN_TIMEOUT_MS", "5000", 1);
	setenv("LEDGERBOX_RUN_CPU_MS", "4000", 1);
	setenv("LEDGERBOX_RUN_MEMORY", "256M", 1);
	setenv("LEDGERBOX_RUN_PIDS", "16", 1);
	setenv("LEDGERBOX_RUN_OUTPUT", "64K", 1);
	setenv("LEDGERBOX_RUN_TMP", "8M", 1);
	setenv("LEDGERBOX_MAX_RUN_OUTPUT", "1G", 1);
	setenv("LEDGERBOX_MAX_RUN_MEMORY", "8G", 1);
	load_ok(&c, NULL);
	assert_string_equal(c.listen_host, "0.0.0.0");
	assert_int_equal(c.listen_port, 9000);
	assert_string_equal(c.state_dir, "var/state");
	assert_string_equal(c.data_dir, "/srv/data");
	assert_int_equal(c.max_runs, 3);
	assert_int_equal(c.queue_max, 0);
	assert_int_equal(c.max_body_bytes, 2 * MiB);
	assert_int_equal(c.upload_max_bytes, 1 * GiB);
	assert_int_equal(c.upload_max_rows, 50);
	assert_int_equal(c.table_rows, 10);
	assert_int_equal(c.export_rows, 20);
	assert_int_equal(c.shutdown_grace_ms, 0);
	assert_int_equal(c.limits.wall_ms, 5000);
	assert_int_equal(c.limits.cpu_ms, 4000);
	assert_int_equal(c.limits.memory_bytes, 256 * MiB);
	assert_int_equal(c.limits.pids, 16);
	assert_int_equal(c.limits.output_bytes, 64 * 1024);
	assert_int_equal(c.limits.tmp_bytes, 8 * MiB);
	assert_int_equal(c.limits.max_rows, 20);
	assert_int_equal(c.max_limits.max_rows, 20);
	assert_int_equal(c.max_limits.output_bytes, 1 * GiB);
	assert_int_equal(c.max_limits.output_drain_bytes, 16 * GiB);
	assert_int_equal(c.limits.output_drain_bytes, 16 * GiB);
	assert_int_equal(c.max_limits.memory_bytes, 8 * GiB);

	setenv("LEDGERBOX_LISTEN", "localhost:1", 1);
	load_ok(&c, NULL);
	assert_string_equal(c.listen_host, "127.0.0.1");
	assert_int_equal(c.listen_port, 1);
	setenv("LEDGERBOX_LISTEN", "10.0.0.7:65535", 1);
	load_ok(&c, NULL);
	assert_string_equal(c.listen_host, "10.0.0.7");
	assert_int_equal(c.listen_port, 65535);
}

static void file_is_parsed(void **state)
{
	struct config c;
	char *path = tl_write_tmp("parsed.conf",
				  "# ledgerbox settings\n"
				  "\n"
				  "listen = 127.0.0.1:9100\n"
				  "   state_dir=st#ate   # a '#' inside a value stays\n"
				  "\tDATA_DIR = /srv/ledger data\r\n"
				  "queue_max = 4\n"
				  "queue_max = 5\n"
				  "run_memory = 1G\n"
				  "max_run_memory = 2G");
	(void)state;

	load_ok(&c, path);
	assert_string_equal(c.listen_host, "127.0.0.1");
	assert_int_equal(c.listen_port, 9100);
	assert_string_equal(c.state_dir, "st#ate");
	assert_string_equal(c.data_dir, "/srv/ledger data");
	assert_int_equal(c.queue_max, 5); /* the last duplicate wins */
	assert_int_equal(c.limits.memory_bytes, 1 * GiB);
	assert_int_equal(c.max_limits.memory_bytes, 2 * GiB);

	/* The same file through LEDGERBOX_CONFIG. */
	setenv("LEDGERBOX_CONFIG", path, 1);
	load_ok(&c, NULL);
	assert_int_equal(c.listen_port, 9100);
	/* An empty LEDGERBOX_CONFIG is no file. */
	setenv("LEDGERBOX_CONFIG", "", 1);
	load_ok(&c, NULL);
	assert_int_equal(c.listen_port, 8080);
	free(path);
}

static void environment_beats_file(void **state)
{
	struct config c;
	char *path = tl_write_tmp("env.conf", "listen = 127.0.0.1:9100\nqueue_max = 4\n");
	(void)state;

	setenv("LEDGERBOX_CONFIG", path, 1);
	setenv("LEDGERBOX_QUEUE_MAX", "9", 1);
	load_ok(&c, NULL);
	assert_int_equal(c.listen_port, 9100);
	assert_int_equal(c.queue_max, 9);
	free(path);
}

static void file_errors_name_file_and_line(void **state)
{
	char want[512];
	char *path = tl_write_tmp("unknown.conf", "# first\nlisten = 127.0.0.1:1\nlisen = x\n");
	(void)state;

	snprintf(want, sizeof(want), "%s:3: unknown setting 'lisen'", path);
	load_fails(path, want, NULL);
	free(path);

	path = tl_write_tmp("badvalue.conf", "queue_max = 2\n\nqueue_max = lots\n");
	snprintf(want, sizeof(want), "%s:3: queue_max: expected a whole number from 0 to 100000", path);
	load_fails(path, want, "'lots'");
	free(path);

	path = tl_write_tmp("noequals.conf", "listen 127.0.0.1:80\n");
	snprintf(want, sizeof(want), "%s:1: expected name = value", path);
	load_fails(path, want, NULL);
	free(path);

	path = tl_write_tmp("config.conf", "config = other.conf\n");
	snprintf(want, sizeof(want), "%s:1: config: can only be set in the environment", path);
	load_fails(path, want, NULL);
	free(path);

	path = tl_write_tmp("limit.conf", "run_pids = 1\n");
	snprintf(want, sizeof(want), "%s:1: run_pids: ", path);
	load_fails(path, want, "pids");
	free(path);

	load_fails("/nonexistent/ledgerbox.conf", "/nonexistent/ledgerbox.conf: No such file", NULL);
}

static void file_must_be_small_text(void **state)
{
	char *path = tl_write_tmp("nul.conf", "queue_max = 4\n");
	FILE *f;
	(void)state;

	f = fopen(path, "a");
	assert_non_null(f);
	fputc('\0', f);
	fclose(f);
	load_fails(path, "NUL byte", NULL);
	free(path);

	path = tl_write_tmp("big.conf", "");
	f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 70000; i++)
		fputs("# a long comment\n", f);
	fclose(f);
	load_fails(path, "larger than", NULL);
	free(path);
}

struct bad_value {
	const char *variable, *value, *expected;
};

static void bad_values_name_the_variable(void **state)
{
	static char long_path[PATH_MAX + 10];
	const struct bad_value cases[] = {
		{ "LEDGERBOX_LISTEN", "abc", "expected host:port (like 127.0.0.1:8080)" },
		{ "LEDGERBOX_LISTEN", "1.2.3.4", "host:port" },
		{ "LEDGERBOX_LISTEN", "1.2.3.4:0", "host:port" },
		{ "LEDGERBOX_LISTEN", "1.2.3.4:70000", "host:port" },
		{ "LEDGERBOX_LISTEN", ":80", "host:port" },
		{ "LEDGERBOX_LISTEN", "host:80", "host:port" },
		{ "LEDGERBOX_LISTEN", "1.2.3.4:", "host:port" },
		{ "LEDGERBOX_LISTEN", "1.2.3.4:+80", "host:port" },
		{ "LEDGERBOX_LISTEN", "1.2.3:80", "host:port" },
		{ "LEDGERBOX_LISTEN", "[::1]:80", "host:port" },
		{ "LEDGERBOX_LISTEN", "", "host:port" },
		{ "LEDGERBOX_STATE_DIR", "", "a folder path" },
		{ "LEDGERBOX_LLM_URL", "ftp://x", "a base URL such as http://127.0.0.1:11434" },
		{ "LEDGERBOX_LLM_URL", "http://127.0.0.1:11434/api", "(no path)" },
		{ "LEDGERBOX_LLM_API", "anthropic", "ollama or openai" },
		{ "LEDGERBOX_LLM_SEND_SAMPLES", "maybe", "auto, yes or no" },
		{ "LEDGERBOX_LLM_KEY", "sk-secret\tkey", "(hidden)" },
		{ "LEDGERBOX_REPAIR_ATTEMPTS", "11", "from 0 to 10" },
		{ "LEDGERBOX_BREAKER_FAILURE_RATE", "0", "from 1 to 100" },
		{ "LEDGERBOX_CACHE", "yes", "on or off" },
		{ "LEDGERBOX_CACHE_MIN_SIMILARITY", "1.5", "from 0.00 to 1.00" },
		{ "LEDGERBOX_CACHE_MIN_SIMILARITY", "0.9x", "from 0.00 to 1.00" },
		{ "LEDGERBOX_CACHE_MIN_SIMILARITY", "1.01", "from 0.00 to 1.00" },
		{ "LEDGERBOX_OTLP_ENDPOINT", "collector:4318", "a URL such as" },
		{ "LEDGERBOX_DATA_DIR", long_path, "a folder path" },
		{ "LEDGERBOX_MAX_RUNS", "0", "a whole number from 1 to 1024" },
		{ "LEDGERBOX_MAX_RUNS", "1025", "from 1 to 1024" },
		{ "LEDGERBOX_MAX_RUNS", "two", "a whole number" },
		{ "LEDGERBOX_MAX_RUNS", "-1", "a whole number" },
		{ "LEDGERBOX_MAX_RUNS", "99999999999999999999999", "a whole number" },
		{ "LEDGERBOX_QUEUE_MAX", "100001", "from 0 to 100000" },
		{ "LEDGERBOX_QUEUE_MAX", " 4", "a whole number" },
		{ "LEDGERBOX_MAX_BODY_BYTES", "1023", "a size like 256M from 1K to 64G" },
		{ "LEDGERBOX_MAX_BODY_BYTES", "65G", "from 1K to 64G" },
		{ "LEDGERBOX_UPLOAD_MAX_BYTES", "12Q", "a size like 256M" },
		{ "LEDGERBOX_UPLOAD_MAX_BYTES", "1.5G", "a size like 256M" },
		{ "LEDGERBOX_UPLOAD_MAX_ROWS", "0", "a whole number from 1" },
		{ "LEDGERBOX_TABLE_ROWS", "0", "from 1 to 1000000" },
		{ "LEDGERBOX_TABLE_ROWS", "1000001", "from 1 to 1000000" },
		{ "LEDGERBOX_EXPORT_ROWS", "10000001", "to 10000000" },
		{ "LEDGERBOX_SHUTDOWN_GRACE_MS", "600001", "from 0 to 600000" },
		{ "LEDGERBOX_RUN_TIMEOUT_MS", "5s", "a whole number" },
		{ "LEDGERBOX_RUN_TIMEOUT_MS", "1", "wall_ms" },
		{ "LEDGERBOX_RUN_CPU_MS", "", "a whole number" },
		{ "LEDGERBOX_RUN_MEMORY", "1M", "memory_bytes" },
		{ "LEDGERBOX_RUN_MEMORY", "lots", "a size like 256M" },
		{ "LEDGERBOX_RUN_PIDS", "1", "pids" },
		{ "LEDGERBOX_RUN_OUTPUT", "2G", "output_bytes" },
		{ "LEDGERBOX_RUN_TMP", "1K", "tmp_bytes" },
		{ "LEDGERBOX_MAX_RUN_TIMEOUT_MS", "x", "a whole number" },
		{ "LEDGERBOX_MAX_RUN_CPU_MS", "999999999999", "cpu_ms" },
		{ "LEDGERBOX_MAX_RUN_MEMORY", "2T", "memory_bytes" },
		{ "LEDGERBOX_MAX_RUN_PIDS", "100000", "pids" },
		{ "LEDGERBOX_MAX_RUN_OUTPUT", "16X", "a size like 256M" },
		{ "LEDGERBOX_MAX_RUN_TMP", "65G", "tmp_bytes" },
	};
	(void)state;

	memset(long_path, 'a', sizeof(long_path) - 1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[128];
		env_clear(NULL);
		assert_int_equal(setenv(cases[i].variable, cases[i].value, 1), 0);
		snprintf(want, sizeof(want), "%s: ", cases[i].variable);
		load_fails(NULL, want, cases[i].expected);
	}
	/* The value is quoted back. */
	env_clear(NULL);
	setenv("LEDGERBOX_LISTEN", "abc", 1);
	load_fails(NULL, "LEDGERBOX_LISTEN: expected host:port (like 127.0.0.1:8080), got 'abc'",
		   NULL);
}

static void export_rows_below_table_rows_is_refused(void **state)
{
	struct config c;
	(void)state;

	setenv("LEDGERBOX_TABLE_ROWS", "5000", 1);
	setenv("LEDGERBOX_EXPORT_ROWS", "4000", 1);
	load_fails(NULL, "LEDGERBOX_EXPORT_ROWS (4000) must be at least LEDGERBOX_TABLE_ROWS (5000)",
		   NULL);
	setenv("LEDGERBOX_EXPORT_ROWS", "5000", 1);
	load_ok(&c, NULL);
	assert_int_equal(c.export_rows, 5000);
}

static void run_default_above_its_max_is_refused(void **state)
{
	struct config c;
	(void)state;

	setenv("LEDGERBOX_RUN_MEMORY", "8G", 1);
	load_fails(NULL, "LEDGERBOX_RUN_MEMORY (8G) is above LEDGERBOX_MAX_RUN_MEMORY (4G)", NULL);
	setenv("LEDGERBOX_MAX_RUN_MEMORY", "8G", 1);
	load_ok(&c, NULL);
	assert_int_equal(c.limits.memory_bytes, 8 * GiB);

	env_clear(NULL);
	setenv("LEDGERBOX_MAX_RUN_TIMEOUT_MS", "10000", 1);
	load_fails(NULL, "LEDGERBOX_RUN_TIMEOUT_MS (30000) is above LEDGERBOX_MAX_RUN_TIMEOUT_MS",
		   NULL);
	env_clear(NULL);
	setenv("LEDGERBOX_RUN_PIDS", "300", 1);
	load_fails(NULL, "LEDGERBOX_RUN_PIDS (300) is above LEDGERBOX_MAX_RUN_PIDS (256)", NULL);
	env_clear(NULL);
	setenv("LEDGERBOX_RUN_TMP", "2G", 1);
	load_fails(NULL, "LEDGERBOX_RUN_TMP", "LEDGERBOX_MAX_RUN_TMP");
}

static void warm_pool_bounds_are_checked(void **state)
{
	struct config c;
	(void)state;

	load_ok(&c, NULL);
	assert_int_equal(c.warm_pool_min, 1);
	assert_int_equal(c.warm_pool_max, 4);
	setenv("LEDGERBOX_WARM_POOL_MIN", "5", 1);
	load_fails(NULL, "LEDGERBOX_WARM_POOL_MIN (5) must be at most LEDGERBOX_WARM_POOL_MAX (4)",
		   NULL);
	/* MAX 0 turns the pool off, whatever MIN says. */
	setenv("LEDGERBOX_WARM_POOL_MAX", "0", 1);
	load_ok(&c, NULL);
	assert_int_equal(c.warm_pool_min, 0);
	assert_int_equal(c.warm_pool_max, 0);
	setenv("LEDGERBOX_WARM_POOL_MAX", "65", 1);
	load_fails(NULL, "LEDGERBOX_WARM_POOL_MAX", "0 to 64");
}

static void database_url_is_checked_and_never_echoed(void **state)
{
	struct config c;
	(void)state;

	load_ok(&c, NULL);
	assert_string_equal(c.database_url, "");
	setenv("LEDGERBOX_DATABASE_URL", "postgresql://lbx:s3cret@db.internal:5432/books", 1);
	load_ok(&c, NULL);
	assert_string_equal(c.database_url, "postgresql://lbx:s3cret@db.internal:5432/books");
	/* Another scheme is refused, and the message names the variable and
	 * what is expected but never the value: it may hold a password. */
	setenv("LEDGERBOX_DATABASE_URL", "mysql://lbx:s3cret@db.internal/books", 1);
	load_fails(NULL, "LEDGERBOX_DATABASE_URL", "postgres://");
	{
		char err[512] = "";
		struct config d;

		assert_true(config_load(&d, NULL, err, sizeof(err)) < 0);
		assert_null(strstr(err, "s3cret"));
		assert_non_null(strstr(err, "(hidden)"));
	}
	setenv("LEDGERBOX_DATABASE_URL", "postgres://lbx:s3cret@db internal/books", 1);
	load_fails(NULL, "LEDGERBOX_DATABASE_URL", NULL);
}

/* A user name or password in llm_url or otlp_endpoint is refused, with the
 * setting meant for it named and the password never echoed; a '@' after the
 * host (in otlp_endpoint's path) is not a credential. */
static void credentials_in_service_urls_are_refused(void **state)
{
	static const struct {
		const char *variable, *value, *instead;
	} cases[] = {
		{ "LEDGERBOX_LLM_URL", "http://bob:pw-7731@127.0.0.1:11434", "llm_key" },
		{ "LEDGERBOX_LLM_URL", "https://pw-7731@llm.example", "llm_key" },
		{ "LEDGERBOX_OTLP_ENDPOINT", "http://bob:pw-7731@127.0.0.1:4318/v1/traces",
		  "otlp_headers" },
	};
	struct config c;
	char *path;
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[512] = "";
		struct config d;

		setenv(cases[i].variable, cases[i].value, 1);
		load_fails(NULL, cases[i].variable, cases[i].instead);
		assert_true(config_load(&d, NULL, err, sizeof(err)) < 0);
		assert_non_null(strstr(err, "user:password@"));
		assert_null(strstr(err, "pw-7731"));
		unsetenv(cases[i].variable);
	}
	path = tl_write_tmp("llm-credentials.conf", "llm_url = http://bob:pw-7731@127.0.0.1:1\n");
	load_fails(path, "llm-credentials.conf:1: llm_url", "llm_key");
	free(path);
	setenv("LEDGERBOX_OTLP_ENDPOINT", "http://127.0.0.1:4318/v1/traces@x", 1);
	load_ok(&c, NULL);
}

/* LEDGERBOX_TZ is the one zone; LEDGERBOX_BUDGET_TZ, its older name, is
 * still read, and the two may not disagree. An unknown zone is refused
 * (the C library would take it for UTC without a word). */
static void business_zone_is_one_setting(void **state)
{
	struct config c;
	(void)state;

	load_ok(&c, NULL);
	assert_string_equal(c.tz, "");
	setenv("LEDGERBOX_TZ", "Europe/Berlin", 1);
	load_ok(&c, NULL);
	assert_string_equal(c.tz, "Europe/Berlin");
	unsetenv("LEDGERBOX_TZ");
	setenv("LEDGERBOX_BUDGET_TZ", "America/New_York", 1);
	load_ok(&c, NULL);
	assert_string_equal(c.tz, "America/New_York");
	setenv("LEDGERBOX_TZ", "America/New_York", 1);
	load_ok(&c, NULL);
	assert_string_equal(c.tz, "America/New_York");
	setenv("LEDGERBOX_TZ", "Europe/Berlin", 1);
	load_fails(NULL, "LEDGERBOX_TZ (Europe/Berlin) and LEDGERBOX_BUDGET_TZ (America/New_York)",
		   "set only LEDGERBOX_TZ");
	unsetenv("LEDGERBOX_BUDGET_TZ");
	setenv("LEDGERBOX_TZ", "Europe/Berln", 1);
	load_fails(NULL, "LEDGERBOX_TZ", "Europe/Berlin or UTC");
	setenv("LEDGERBOX_TZ", "../../etc/passwd", 1);
	load_fails(NULL, "LEDGERBOX_TZ", "time zone");
	setenv("LEDGERBOX_TZ", "/etc/localtime", 1);
	load_fails(NULL, "LEDGERBOX_TZ", "time zone");
	setenv("LEDGERBOX_TZ", "Europe", 1);
	load_fails(NULL, "LEDGERBOX_TZ", "time zone");
	unsetenv("LEDGERBOX_TZ");
	setenv("LEDGERBOX_BUDGET_TZ", "Mars/Olympus", 1);
	load_fails(NULL, "LEDGERBOX_BUDGET_TZ", "time zone");
}

#define TEST(name) cmocka_unit_test_setup(name, env_clear)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(defaults_are_documented_values),
		TEST(settings_table_matches_the_defaults),
		TEST(environment_overrides_defaults),
		TEST(file_is_parsed),
		TEST(environment_beats_file),
		TEST(file_errors_name_file_and_line),
		TEST(file_must_be_small_text),
		TEST(bad_values_name_the_variable),
		TEST(export_rows_below_table_rows_is_refused),
		TEST(run_default_above_its_max_is_refused),
		TEST(warm_pool_bounds_are_checked),
		TEST(database_url_is_checked_and_never_echoed),
		TEST(credentials_in_service_urls_are_refused),
		TEST(business_zone_is_one_setting),
	};
	(void)tl_tmp(); /* fails early, with a clear message, when it is unset */
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
