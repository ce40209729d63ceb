/*
 * A sample of CPython's own regression tests, run inside a real sandbox:
 * the system-call filter is an allow list (src/sandbox/seccomp.c), and
 * these modules exercise much of what Python programs ask of the kernel
 * (processes, threads, files, descriptors, signals, timers, sockets on
 * the loopback). Every one must pass, as regrtest's summary says.
 *
 * The tests come from Debian's libpython3.11-testsuite (scripts/deps).
 * Tests that need network or privileges skip themselves (regrtest enables
 * no resources by default). A test that fails because the sandbox refuses
 * something on purpose is ignored here, one test case at a time, each with
 * the reason: the sandbox is never loosened to make CPython's tests pass.
 */
#include <jansson.h>

#include "testlib.h"

#define CPYTHON_TESTS "/usr/lib/python3.11/test"

static const char *const modules[] = {
	"test_subprocess", "test_threading", "test_os", "test_tempfile", "test_json", "test_re",
};

/* Test cases the sandbox makes fail by design. */
static const struct {
	const char *pattern; /* regrtest --ignore glob */
	const char *reason;
} ignored[] = {
	/* The user namespace maps a single uid and gid (the run's own):
	 * chown to, or running a child as, any other id answers EINVAL. */
	{ "test.test_os.ChownFileTests.test_chown_with_root", "one uid mapped" },
	{ "test.test_subprocess.POSIXProcessTestCase.test_user", "one uid mapped" },
	{ "test.test_subprocess.POSIXProcessTestCase.test_group", "one gid mapped" },
	/* /dev holds no pseudo-terminal multiplexer: a run has no terminal. */
	{ "test.test_os.FDInheritanceTests.test_openpty", "no /dev/ptmx" },
	/* /tmp is mounted noexec: a run cannot execute a file it wrote. */
	{ "test.test_subprocess.POSIXProcessTestCase.test_args_string", "/tmp is noexec" },
	{ "test.test_subprocess.POSIXProcessTestCase.test_call_string", "/tmp is noexec" },
	/* The root binds Python and its libraries only (docs/sandbox.md, "What
	 * of the host a run can see"): no /bin/sh for shell=True, no cat. */
	{ "test.test_subprocess.MiscTests.test_getoutput", "no /bin/sh" },
	{ "test.test_subprocess.POSIXProcessTestCase.test_bytes_program", "no /bin/sh" },
	{ "test.test_subprocess.POSIXProcessTestCase.test_shell_sequence", "no /bin/sh" },
	{ "test.test_subprocess.POSIXProcessTestCase.test_shell_string", "no /bin/sh" },
	{ "test.test_subprocess.RunFuncTestCase.test_run_with_shell_timeout_and_capture_output",
	  "no /bin/sh" },
	{ "test.test_subprocess.RunFuncTestCase.test_encoding_warning", "no /bin/sh" },
	{ "test.test_subprocess.POSIXProcessTestCase.test_restore_signals", "no cat" },
};

static void append_line(char **text, size_t *len, const char *line)
{
	tl_append(text, len, line, strlen(line));
}

/* The program run in the sandbox: regrtest in a child process, its output
 * (a line per module, a failing test's output in full) on the run's stdout. */
static char *program_text(void)
{
	char *text = NULL;
	size_t len = 0;
	char line[512];

	append_line(&text, &len, "import subprocess, sys\n");
	append_line(&text, &len, "argv = [sys.executable, '-m', 'test', '-W', '--timeout', '300']\n");
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
		snprintf(line, sizeof(line), "argv += ['--ignore', '%s']  # %s\n", ignored[i].pattern,
			 ignored[i].reason);
		append_line(&text, &len, line);
	}
	for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]); i++) {
		snprintf(line, sizeof(line), "argv.append('%s')\n", modules[i]);
		append_line(&text, &len, line);
	}
	append_line(&text, &len, "sys.exit(subprocess.run(argv).returncode)\n");
	return text;
}

static void cpython_sample_passes_in_the_sandbox(void **state)
{
	char *program = program_text();
	char *argv[] = { (char *)tl_bin(), "exec", "--lang", "python",
			 /* Bounds the whole run; the sample takes about two
			  * minutes on a quiet machine. */
			 "--timeout", "600000", "--cpu", "600000", "--memory", "1G", "--pids", "256",
			 "-", NULL };
	char all_ok[64];
	struct tl_output o;
	json_t *result;
	const char *out, *status;

	(void)state;
	if (access(CPYTHON_TESTS "/test_os.py", R_OK) != 0)
		fail_msg("%s/test_os.py is missing: install libpython3.11-testsuite (scripts/deps)",
			 CPYTHON_TESTS);
	tl_run(argv, program, &o);
	result = json_loads(o.out, 0, NULL);
	if (!result)
		fail_msg("no JSON from ledgerbox exec (exit %d)\nstderr: %.2000s", o.exit_code, o.err);
	out = json_string_value(json_object_get(result, "stdout"));
	status = json_string_value(json_object_get(result, "status"));
	assert_non_null(out);
	assert_non_null(status);
	snprintf(all_ok, sizeof(all_ok), "All %zu tests OK.", sizeof(modules) / sizeof(modules[0]));
	if (strcmp(status, "ok") != 0 || !strstr(out, all_ok) || !strstr(out, "Tests result: SUCCESS"))
		fail_msg("status %s, error %s\nstdout (last part): %s\nstderr: %.2000s", status,
			 json_string_value(json_object_get(result, "error")),
			 strlen(out) > 12000 ? out + strlen(out) - 12000 : out,
			 json_string_value(json_object_get(result, "stderr")));
	json_decref(result);
	tl_output_free(&o);
	free(program);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cpython_sample_passes_in_the_sandbox),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
