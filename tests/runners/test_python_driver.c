/*
 * Tests for src/runners/python_driver.py, run directly with Debian's
 * /usr/bin/python3 outside the sandbox: each case writes the analyst's code
 * to a fresh folder, runs the driver with the sandbox's clean environment
 * and fd 3 redirected to a file, then checks stdout, stderr, the exit code
 * and the result JSON.
 *
 * The driver is found at src/runners/python_driver.py under $LEDGERBOX_SRC,
 * or under the current directory.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "testlib.h"

#include <jansson.h>

#include "util/banned.h"

#define PYTHON "/usr/bin/python3"

struct run {
	struct tl_output out;
	char *dir;      /* this case's folder: code.py, result, out/ */
	char *out_dir;  /* LEDGERBOX_OUT_DIR */
	char *raw;      /* what the driver wrote to fd 3 ("" if nothing) */
	json_t *result; /* raw parsed, NULL if nothing was written */
};

struct options {
	const char *max_rows; /* LEDGERBOX_MAX_ROWS, NULL to leave it unset */
	int no_result_fd;     /* run without fd 3, as when run by hand */
	int compile_only;     /* LEDGERBOX_COMPILE_ONLY=1 */
};

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t len = 0, n;
	char chunk[4096];

	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		tl_append(&data, &len, chunk, n);
	fclose(f);
	if (!data)
		tl_append(&data, &len, "", 0);
	return data;
}

static char *fmt(const char *format, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *format, ...)
{
	va_list ap;
	char *s;

	va_start(ap, format);
	assert_true(vasprintf(&s, format, ap) >= 0);
	va_end(ap);
	return s;
}

static char *driver_path(void)
{
	const char *root = getenv("LEDGERBOX_SRC");
	char *relative = fmt("%s/src/runners/python_driver.py", root && *root ? root : ".");
	char *path = realpath(relative, NULL);
	if (!path)
		fail_msg("driver not found at %s (set LEDGERBOX_SRC to the repository root)", relative);
	free(relative);
	return path;
}

static void run_with(const char *code, const struct options *opt, struct run *r)
{
	char *driver = driver_path();
	char *template = fmt("%s/case-XXXXXX", tl_tmp());
	char *name, *code_path, *result_path, *env_home, *env_tmp, *env_mpl, *env_out, *env_rows = NULL;
	json_error_t jerr;

	memset(r, 0, sizeof(*r));
	assert_non_null(mkdtemp(template));
	r->dir = template;
	r->out_dir = fmt("%s/out", r->dir);
	assert_int_equal(mkdir(r->out_dir, 0755), 0);
	name = fmt("%s/code.py", r->dir + strlen(tl_tmp()) + 1);
	code_path = tl_write_tmp(name, code);
	free(name);
	result_path = fmt("%s/result", r->dir);
	env_home = fmt("HOME=%s", tl_tmp());
	env_tmp = fmt("TMPDIR=%s", tl_tmp());
	/* Shared by all cases so matplotlib builds its font cache only once. */
	env_mpl = fmt("MPLCONFIGDIR=%s/matplotlib", tl_tmp());
	env_out = fmt("LEDGERBOX_OUT_DIR=%s", r->out_dir);
	if (opt && opt->max_rows)
		env_rows = fmt("LEDGERBOX_MAX_ROWS=%s", opt->max_rows);

	{
		/* sh opens fd 3 on the result file, then becomes the driver. */
		const char *script = opt && opt->no_result_fd
			? "exec " PYTHON " -I -B \"$2\" \"$3\""
			: "exec 3>\"$1\"; exec " PYTHON " -I -B \"$2\" \"$3\"";
		char *argv[24];
		size_t n = 0;

		argv[n++] = "/usr/bin/env";
		argv[n++] = "-i";
		argv[n++] = "PATH=/usr/bin:/bin";
		argv[n++] = env_home;
		argv[n++] = env_tmp;
		argv[n++] = "LANG=C.UTF-8";
		argv[n++] = "MPLBACKEND=Agg";
		argv[n++] = env_mpl;
		argv[n++] = env_out;
		argv[n++] = "LEDGERBOX_RESULT_FD=3";
		if (env_rows)
			argv[n++] = env_rows;
		if (opt && opt->compile_only)
			argv[n++] = "LEDGERBOX_COMPILE_ONLY=1";
		argv[n++] = "/bin/sh";
		argv[n++] = "-c";
		argv[n++] = (char *)script;
		argv[n++] = "sh";
		argv[n++] = result_path;
		argv[n++] = driver;
		argv[n++] = code_path;
		argv[n] = NULL;
		tl_run(argv, NULL, &r->out);
	}

	r->raw = read_all(result_path);
	if (!r->raw)
		r->raw = fmt("%s", "");
	if (*r->raw) {
		r->result = json_loads(r->raw, 0, &jerr);
		if (!r->result)
			fail_msg("result is not one JSON object: %s\n%s", jerr.text, r->raw);
		/* One line: the JSON text then a single newline. */
		assert_ptr_equal(strchr(r->raw, '\n'), r->raw + strlen(r->raw) - 1);
	}
	free(driver);
	free(code_path);
	free(result_path);
	free(env_home);
	free(env_tmp);
	free(env_mpl);
	free(env_out);
	free(env_rows);
}

static void run_code(const char *code, struct run *r)
{
	run_with(code, NULL, r);
}

static void run_free(struct run *r)
{
	tl_output_free(&r->out);
	json_decref(r->result);
	free(r->raw);
	free(r->out_dir);
	free(r->dir);
}

/* Looks up a dotted path such as "table.rows.0.1" (numbers index arrays). */
static json_t *jget(json_t *node, const char *path)
{
	char *copy = fmt("%s", path), *save = NULL;

	for (char *key = strtok_r(copy, ".", &save); key && node; key = strtok_r(NULL, ".", &save)) {
		if (json_is_array(node))
			node = json_array_get(node, strtoul(key, NULL, 10));
		else
			node = json_object_get(node, key);
	}
	free(copy);
	if (!node)
		fail_msg("no %s in the result", path);
	return node;
}

static void expect_str(json_t *root, const char *path, const char *want)
{
	json_t *v = jget(root, path);
	if (!json_is_string(v))
		fail_msg("%s is not a string", path);
	assert_string_equal(json_string_value(v), want);
}

static void expect_int(json_t *root, const char *path, long long want)
{
	json_t *v = jget(root, path);
	if (!json_is_integer(v))
		fail_msg("%s is not an integer", path);
	assert_int_equal(json_integer_value(v), want);
}

static void expect_real(json_t *root, const char *path, double want)
{
	json_t *v = jget(root, path);
	if (!json_is_real(v))
		fail_msg("%s is not a real", path);
	assert_float_equal(json_real_value(v), want, 1e-9);
}

static void expect_bool(json_t *root, const char *path, int want)
{
	json_t *v = jget(root, path);
	if (!json_is_boolean(v))
		fail_msg("%s is not a boolean", path);
	assert_int_equal(json_is_true(v), want);
}

static void expect_null(json_t *root, const char *path)
{
	if (!json_is_null(jget(root, path)))
		fail_msg("%s is not null", path);
}

static void expect_size(json_t *root, const char *path, size_t want)
{
	assert_int_equal(json_array_size(jget(root, path)), want);
}

/* Succeeded: exit 0, a result with no error. */
static void expect_success(struct run *r)
{
	if (r->out.exit_code != 0)
		fail_msg("exit %d, stderr:\n%s", r->out.exit_code, r->out.err);
	assert_non_null(r->result);
	expect_null(r->result, "error");
}

static void expect_column(json_t *root, size_t i, const char *name, const char *type)
{
	char *path = fmt("table.columns.%zu.name", i);
	expect_str(root, path, name);
	free(path);
	path = fmt("table.columns.%zu.type", i);
	expect_str(root, path, type);
	free(path);
}

static void test_print_goes_to_stdout(void **state)
{
	struct run r;
	(void)state;
	run_code("print('hello ledger')\nx = 2\nprint(x * 21)\n", &r);
	expect_success(&r);
	assert_string_equal(r.out.out, "hello ledger\n42\n");
	assert_string_equal(r.out.err, "");
	expect_null(r.result, "table");
	expect_size(r.result, "figures", 0);
	run_free(&r);
}

static void test_last_dataframe_is_table(void **state)
{
	struct run r;
	(void)state;
	run_code("import pandas as pd\n"
		 "df = pd.DataFrame({'account': ['4000', '5100'], 'amount': [1250.5, -80.25],\n"
		 "                   'lines': [3, 1], 'posted': [True, False],\n"
		 "                   'day': pd.to_datetime(['2024-01-31', '2024-02-29'])})\n"
		 "df\n",
		 &r);
	expect_success(&r);
	assert_string_equal(r.out.out, ""); /* a table, not printed */
	expect_size(r.result, "table.columns", 5);
	expect_column(r.result, 0, "account", "text");
	expect_column(r.result, 1, "amount", "real");
	expect_column(r.result, 2, "lines", "integer");
	expect_column(r.result, 3, "posted", "boolean");
	expect_column(r.result, 4, "day", "datetime");
	expect_size(r.result, "table.rows", 2);
	expect_str(r.result, "table.rows.0.0", "4000");
	expect_real(r.result, "table.rows.0.1", 1250.5);
	expect_int(r.result, "table.rows.0.2", 3);
	expect_bool(r.result, "table.rows.0.3", 1);
	expect_str(r.result, "table.rows.0.4", "2024-01-31T00:00:00");
	expect_real(r.result, "table.rows.1.1", -80.25);
	expect_bool(r.result, "table.rows.1.3", 0);
	expect_int(r.result, "table.row_count", 2);
	expect_int(r.result, "table.total_rows", 2);
	expect_bool(r.result, "table.truncated", 0);
	run_free(&r);
}

static void test_groupby_index_becomes_column(void **state)
{
	struct run r;
	(void)state;
	run_code("import pandas as pd\n"
		 "df = pd.DataFrame({'region': ['north', 'south', 'north'], 'sales': [10, 5, 7]})\n"
		 "df.groupby('region')['sales'].sum().to_frame()\n",
		 &r);
	expect_success(&r);
	expect_size(r.result, "table.columns", 2);
	expect_column(r.result, 0, "region", "text");
	expect_column(r.result, 1, "sales", "integer");
	expect_str(r.result, "table.rows.0.0", "north");
	expect_int(r.result, "table.rows.0.1", 17);
	expect_str(r.result, "table.rows.1.0", "south");
	expect_int(r.result, "table.rows.1.1", 5);
	run_free(&r);
}

static void test_series_is_one_column_table(void **state)
{
	struct run r;
	(void)state;
	run_code("import pandas as pd\npd.Series([1.5, 2.5])\n", &r);
	expect_success(&r);
	expect_size(r.result, "table.columns", 1);
	expect_column(r.result, 0, "value", "real");
	expect_real(r.result, "table.rows.1.0", 2.5);
	run_free(&r);

	run_code("import pandas as pd\npd.Series([3, 4], name='count')\n", &r);
	expect_success(&r);
	expect_column(r.result, 0, "count", "integer");
	expect_int(r.result, "table.rows.0.0", 3);
	run_free(&r);
}

static void test_row_cap_truncates(void **state)
{
	struct options opt = { .max_rows = "3" };
	struct run r;
	(void)state;
	run_with("import pandas as pd\npd.DataFrame({'n': range(10)})\n", &opt, &r);
	expect_success(&r);
	expect_size(r.result, "table.rows", 3);
	expect_int(r.result, "table.rows.2.0", 2);
	expect_int(r.result, "table.row_count", 3);
	expect_int(r.result, "table.total_rows", 10);
	expect_bool(r.result, "table.truncated", 1);
	run_free(&r);
}

static void test_missing_values_and_timestamps(void **state)
{
	struct run r;
	(void)state;
	run_code("import pandas as pd, numpy as np\n"
		 "pd.DataFrame({'x': [np.nan, np.inf, 1.0],\n"
		 "              'memo': [None, 'ok', pd.NA],\n"
		 "              'at': [pd.NaT, pd.Timestamp('2024-03-01 09:30:05'), pd.Timestamp('2024-03-02')],\n"
		 "              'n': pd.array([1, None, 3], dtype='Int64')})\n",
		 &r);
	expect_success(&r);
	expect_column(r.result, 0, "x", "real");
	expect_column(r.result, 1, "memo", "text");
	expect_column(r.result, 2, "at", "datetime");
	expect_column(r.result, 3, "n", "integer");
	expect_null(r.result, "table.rows.0.0");
	expect_null(r.result, "table.rows.1.0"); /* inf */
	expect_real(r.result, "table.rows.2.0", 1.0);
	expect_null(r.result, "table.rows.0.1");
	expect_str(r.result, "table.rows.1.1", "ok");
	expect_null(r.result, "table.rows.2.1");
	expect_null(r.result, "table.rows.0.2");
	expect_str(r.result, "table.rows.1.2", "2024-03-01T09:30:05");
	expect_null(r.result, "table.rows.1.3");
	expect_int(r.result, "table.rows.2.3", 3);
	run_free(&r);
}

static void test_other_last_value_is_printed(void **state)
{
	struct run r;
	(void)state;
	run_code("totals = {'rent': 1200, 'fees': 35.5}\ntotals\n", &r);
	expect_success(&r);
	assert_string_equal(r.out.out, "{'rent': 1200, 'fees': 35.5}\n");
	expect_null(r.result, "table");
	run_free(&r);

	/* Only the last statement is displayed, and None is not. */
	run_code("'not shown'\nNone\n", &r);
	expect_success(&r);
	assert_string_equal(r.out.out, "");
	run_free(&r);
}

static void test_syntax_error(void **state)
{
	struct run r;
	(void)state;
	run_code("total = 0\nfor x in range(3)\n    total += x\n", &r);
	assert_int_equal(r.out.exit_code, 1);
	assert_non_null(r.result);
	expect_str(r.result, "error.type", "SyntaxError");
	expect_int(r.result, "error.line", 2);
	assert_true(json_is_integer(jget(r.result, "error.offset")));
	assert_non_null(strstr(r.out.err, "File \"<analysis>\", line 2"));
	assert_non_null(strstr(r.out.err, "SyntaxError: "));
	assert_non_null(strstr(r.out.err, "for x in range(3)"));
	expect_null(r.result, "table");
	run_free(&r);
}

/* The whole program is compiled before any of it runs: code that does not
 * compile runs nothing (not even its lines before the error) and says so
 * with stage "compile"; what fails while running says stage "run". This
 * lets one sandbox be both the check of generated code and its run. */
static void test_compile_failure_runs_nothing(void **state)
{
	struct run r;
	char *marker = fmt("%s/compile-failure-marker", tl_tmp());
	char *code = fmt("print('ran')\nopen('%s', 'w').write('x')\n"
			 "def f():\n    pass\nreturn 3\n", marker);
	(void)state;

	run_code(code, &r);
	assert_int_equal(r.out.exit_code, 1);
	assert_string_equal(r.out.out, "");
	assert_int_equal(access(marker, F_OK), -1);
	/* 'return' outside a function is found by the compiler, not the
	 * parser: still a compile failure, at the analyst's line. */
	expect_str(r.result, "error.type", "SyntaxError");
	expect_str(r.result, "error.stage", "compile");
	expect_int(r.result, "error.line", 5);
	assert_non_null(strstr(json_string_value(jget(r.result, "error.message")), "return"));
	expect_null(r.result, "table");
	expect_size(r.result, "figures", 0);
	run_free(&r);

	run_code("print('ran')\nx = (1,\n", &r);
	assert_string_equal(r.out.out, "");
	expect_str(r.result, "error.type", "SyntaxError");
	expect_str(r.result, "error.stage", "compile");
	run_free(&r);

	run_code("print('ran')\n1 / 0\n", &r);
	assert_string_equal(r.out.out, "ran\n");
	expect_str(r.result, "error.type", "ZeroDivisionError");
	expect_str(r.result, "error.stage", "run");
	run_free(&r);
	free(code);
	free(marker);
}

/* The check before a run: a program that compiles is not run (no output,
 * no file written), one that does not gets the same error as a run. */
static void test_compile_only_runs_nothing(void **state)
{
	struct options opt = { .compile_only = 1 };
	struct run r;
	char *marker;
	(void)state;

	marker = fmt("%s/compile-only-marker", tl_tmp());
	{
		char *code = fmt("print('ran')\nopen(%s, 'w').write('x')\nt = (1,)\n", "'" "MARK" "'");
		char *p = strstr(code, "MARK");
		char *full = fmt("%.*s%s%s", (int)(p - code), code, marker, p + 4);
		run_with(full, &opt, &r);
		free(code);
		free(full);
	}
	assert_int_equal(r.out.exit_code, 0);
	assert_non_null(r.result);
	expect_null(r.result, "error");
	assert_null(strstr(r.out.out, "ran"));
	assert_int_equal(access(marker, F_OK), -1);
	run_free(&r);

	run_with("x = (1,\nprint(x)\n", &opt, &r);
	assert_int_equal(r.out.exit_code, 1);
	expect_str(r.result, "error.type", "SyntaxError");
	run_free(&r);
	free(marker);
}

static void test_runtime_error_points_at_analyst_line(void **state)
{
	struct run r;
	(void)state;
	run_code("def margin(revenue, cost):\n"
		 "    profit = revenue - cost\n"
		 "    return profit / revenue\n"
		 "print('before')\n"
		 "margin(0, 10)\n",
		 &r);
	assert_int_equal(r.out.exit_code, 1);
	assert_string_equal(r.out.out, "before\n");
	expect_str(r.result, "error.type", "ZeroDivisionError");
	expect_str(r.result, "error.message", "division by zero");
	expect_int(r.result, "error.line", 3);
	assert_non_null(strstr(r.out.err, "Traceback (most recent call last):"));
	assert_non_null(strstr(r.out.err, "File \"<analysis>\", line 5, in <module>"));
	assert_non_null(strstr(r.out.err, "File \"<analysis>\", line 3, in margin"));
	assert_non_null(strstr(r.out.err, "return profit / revenue"));
	assert_non_null(strstr(r.out.err, "ZeroDivisionError: division by zero"));
	/* The traceback starts at the analyst's code: no driver frames. */
	assert_null(strstr(r.out.err, "python_driver"));
	assert_null(strstr(r.out.err, "exec("));
	run_free(&r);
}

static void test_sys_exit(void **state)
{
	struct run r;
	(void)state;
	run_code("import sys\nprint('done')\nsys.exit(0)\nprint('not reached')\n", &r);
	expect_success(&r);
	assert_string_equal(r.out.out, "done\n");
	run_free(&r);

	run_code("import sys\nsys.exit(3)\n", &r);
	assert_int_equal(r.out.exit_code, 3);
	expect_str(r.result, "error.type", "SystemExit");
	expect_int(r.result, "error.line", 2);
	run_free(&r);
}

static int is_png(const char *path)
{
	static const unsigned char magic[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	unsigned char head[8];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return 0;
	n = fread(head, 1, sizeof(head), f);
	fclose(f);
	return n == sizeof(head) && memcmp(head, magic, sizeof(magic)) == 0;
}

static void test_figure_saved_as_png(void **state)
{
	struct run r;
	char *path;
	(void)state;
	run_code("import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('cash')\n", &r);
	expect_success(&r);
	expect_size(r.result, "figures", 1);
	expect_str(r.result, "figures.0", "figure-1.png");
	path = fmt("%s/figure-1.png", r.out_dir);
	assert_true(is_png(path));
	free(path);
	run_free(&r);
}

static void test_figure_never_overwrites_analyst_file(void **state)
{
	struct run r;
	char *path, *content;
	(void)state;
	run_code("import os\n"
		 "import matplotlib.pyplot as plt\n"
		 "with open(os.environ['LEDGERBOX_OUT_DIR'] + '/figure-1.png', 'w') as f:\n"
		 "    f.write('analyst file')\n"
		 "plt.bar(['q1', 'q2'], [4, 6])\n",
		 &r);
	expect_success(&r);
	expect_size(r.result, "figures", 1);
	expect_str(r.result, "figures.0", "figure-2.png");
	path = fmt("%s/figure-1.png", r.out_dir);
	content = read_all(path);
	assert_non_null(content);
	assert_string_equal(content, "analyst file");
	free(content);
	free(path);
	path = fmt("%s/figure-2.png", r.out_dir);
	assert_true(is_png(path));
	free(path);
	run_free(&r);
}

static void test_figures_saved_after_error(void **state)
{
	struct run r;
	char *path;
	(void)state;
	run_code("import matplotlib.pyplot as plt\nplt.plot([1, 2])\nraise ValueError('bad ledger')\n", &r);
	assert_int_equal(r.out.exit_code, 1);
	expect_str(r.result, "error.type", "ValueError");
	expect_str(r.result, "error.message", "bad ledger");
	expect_str(r.result, "figures.0", "figure-1.png");
	path = fmt("%s/figure-1.png", r.out_dir);
	assert_true(is_png(path));
	free(path);
	run_free(&r);
}

static void test_result_fd_is_private(void **state)
{
	struct run r;
	(void)state;
	run_code("import os, subprocess\n"
		 "try:\n"
		 "    os.write(3, b'{\"forged\": true}\\n')\n"
		 "    print('wrote')\n"
		 "except OSError:\n"
		 "    print('blocked')\n"
		 "child = subprocess.run(['/bin/sh', '-c', 'echo forged >&3'], capture_output=True)\n"
		 "print('child', child.returncode)\n"
		 "import pandas as pd\n"
		 "pd.DataFrame({'ok': [1]})\n",
		 &r);
	expect_success(&r);
	assert_non_null(strstr(r.out.out, "blocked\n"));
	assert_null(strstr(r.out.out, "child 0"));
	assert_null(strstr(r.raw, "forged"));
	expect_int(r.result, "table.rows.0.0", 1);
	run_free(&r);
}

static void test_closed_stdout_and_junk(void **state)
{
	struct run r;
	(void)state;
	run_code("import os, sys\n"
		 "sys.stdout.buffer.write(bytes(range(256)))\n"
		 "sys.stdout.flush()\n"
		 "sys.stderr.write('\\udcff half a line')\n"
		 "os.close(1)\n"
		 "print('lost')\n"
		 "import pandas as pd\n"
		 "pd.DataFrame({'n': [7]})\n",
		 &r);
	expect_success(&r);
	assert_int_equal(r.out.out_len, 256);
	expect_int(r.result, "table.rows.0.0", 7);
	run_free(&r);

	run_code("import sys\nsys.stdout.close()\nsys.stderr.close()\nraise KeyError('gone')\n", &r);
	assert_int_equal(r.out.exit_code, 1);
	expect_str(r.result, "error.type", "KeyError");
	expect_int(r.result, "error.line", 4);
	/* Driver messages bypass the closed sys.stderr. */
	assert_non_null(strstr(r.out.err, "KeyError: 'gone'"));
	run_free(&r);
}

static void test_monkeypatching_does_not_break_result(void **state)
{
	struct run r;
	(void)state;
	run_code("import builtins, json, os\n"
		 "json.dumps = lambda *a, **k: 'not json'\n"
		 "json.JSONEncoder = None\n"
		 "os.write = os.close = lambda *a: 0\n"
		 "builtins.isinstance = lambda *a: True\n"
		 "builtins.len = builtins.str = None\n"
		 "print('patched')\n"
		 "undefined_name\n",
		 &r);
	assert_int_equal(r.out.exit_code, 1);
	assert_string_equal(r.out.out, "patched\n");
	expect_str(r.result, "error.type", "NameError");
	expect_int(r.result, "error.line", 8);
	run_free(&r);
}

static void test_fork_reports_once(void **state)
{
	struct run r;
	(void)state;
	/* The child falls through to the end of the code; run_with fails on a
	 * second result line. */
	run_code("import os\n"
		 "pid = os.fork()\n"
		 "if pid:\n"
		 "    os.waitpid(pid, 0)\n"
		 "'parent' if pid else 'child'\n",
		 &r);
	expect_success(&r);
	assert_string_equal(r.out.out, "'child'\n'parent'\n");
	run_free(&r);
}

static void test_unclosed_file_is_flushed(void **state)
{
	struct run r;
	char *path, *content;
	(void)state;
	run_code("import os\n"
		 "notes = open(os.environ['LEDGERBOX_OUT_DIR'] + '/notes.txt', 'w')\n"
		 "notes.write('kept')\n",
		 &r);
	expect_success(&r);
	path = fmt("%s/notes.txt", r.out_dir);
	content = read_all(path);
	assert_non_null(content);
	assert_string_equal(content, "kept");
	free(content);
	free(path);
	run_free(&r);
}

static void test_without_result_fd(void **state)
{
	struct options opt = { .no_result_fd = 1 };
	struct run r;
	(void)state;
	run_with("print('by hand')\n", &opt, &r);
	assert_int_equal(r.out.exit_code, 0);
	assert_string_equal(r.out.out, "by hand\n");
	assert_string_equal(r.out.err, "");
	assert_null(r.result);
	run_free(&r);
}

static void test_bad_max_rows_is_misuse(void **state)
{
	struct options opt = { .max_rows = "lots" };
	struct run r;
	(void)state;
	run_with("print('never runs')\n", &opt, &r);
	assert_int_equal(r.out.exit_code, 2);
	assert_string_equal(r.out.out, "");
	assert_non_null(strstr(r.out.err, "LEDGERBOX_MAX_ROWS must be an integer"));
	assert_non_null(strstr(r.out.err, "'lots'"));
	assert_null(r.result);
	run_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_print_goes_to_stdout),
		cmocka_unit_test(test_last_dataframe_is_table),
		cmocka_unit_test(test_groupby_index_becomes_column),
		cmocka_unit_test(test_series_is_one_column_table),
		cmocka_unit_test(test_row_cap_truncates),
		cmocka_unit_test(test_missing_values_and_timestamps),
		cmocka_unit_test(test_other_last_value_is_printed),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_compile_failure_runs_nothing),
		cmocka_unit_test(test_compile_only_runs_nothing),
		cmocka_unit_test(test_runtime_error_points_at_analyst_line),
		cmocka_unit_test(test_sys_exit),
		cmocka_unit_test(test_figure_saved_as_png),
		cmocka_unit_test(test_figure_never_overwrites_analyst_file),
		cmocka_unit_test(test_figures_saved_after_error),
		cmocka_unit_test(test_result_fd_is_private),
		cmocka_unit_test(test_closed_stdout_and_junk),
		cmocka_unit_test(test_monkeypatching_does_not_break_result),
		cmocka_unit_test(test_fork_reports_once),
		cmocka_unit_test(test_unclosed_file_is_flushed),
		cmocka_unit_test(test_without_result_fd),
		cmocka_unit_test(test_bad_max_rows_is_misuse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
