/*
 * Tests of `ledgerbox exec` and `ledgerbox demo-data` as a user runs them:
 * help, bad input with clear messages, exit codes per status, standard
 * input, saved artifacts, and a run killed from outside.
 */
#include <dirent.h>

#include <jansson.h>

#include "testlib.h"

static json_t *run_exec_argv(const char *input, struct tl_output *o, char *const args[])
{
	char *argv[32] = { (char *)tl_bin(), "exec" };
	int n = 2;

	for (int i = 0; n < 31 && args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	tl_run(argv, input, o);
	return json_loads(o->out, 0, NULL);
}

/* run_exec(input, &output, "--lang", "python", "-") */
#define run_exec(input, o, ...) run_exec_argv(input, o, (char *const[]){ __VA_ARGS__, NULL })

static void help_is_there_for_every_command(void **state)
{
	const char *cmds[][3] = { { "--help", NULL }, { "exec", "--help" }, { "demo-data", "--help" } };
	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct tl_output o;
		char *argv[] = { (char *)tl_bin(), (char *)cmds[i][0], (char *)cmds[i][1], NULL };
		tl_run(argv, NULL, &o);
		assert_int_equal(o.exit_code, 0);
		assert_non_null(strstr(o.out, "usage: ledgerbox"));
		tl_output_free(&o);
	}
}

static void bad_usage_says_what_is_wrong(void **state)
{
	struct tl_output o;
	json_t *j;
	(void)state;

	j = run_exec(NULL, &o, "--lang", "ruby", "x.rb");
	assert_null(j);
	assert_int_equal(o.exit_code, 64);
	assert_non_null(strstr(o.err, "--lang must be python or sql"));
	tl_output_free(&o);

	json_decref(run_exec(NULL, &o, "--lang", "python", "--memory", "lots", "x.py"));
	assert_int_equal(o.exit_code, 64);
	assert_non_null(strstr(o.err, "bad value 'lots'"));
	tl_output_free(&o);

	json_decref(run_exec(NULL, &o, "--lang", "python", "/nonexistent/analysis.py"));
	assert_int_equal(o.exit_code, 64);
	assert_non_null(strstr(o.err, "/nonexistent/analysis.py"));
	tl_output_free(&o);

	j = run_exec("print(1)", &o, "--lang", "python", "--pids", "0", "-");
	assert_string_equal(json_string_value(json_object_get(j, "status")), "sandbox_error");
	json_decref(j);
	assert_int_equal(o.exit_code, 4);
	assert_non_null(strstr(o.err, "pids"));
	tl_output_free(&o);
}

static void exit_code_tells_the_outcome(void **state)
{
	static const struct {
		const char *code;
		int exit_code;
		const char *status;
	} cases[] = {
		{ "print('fine')", 0, "ok" },
		{ "1/0", 1, "runtime_error" },
		{ "while True: pass", 2, "cpu_limit" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tl_output o;
		json_t *j = run_exec(cases[i].code, &o, "--lang", "python", "--cpu", "500", "-");
		assert_non_null(j);
		assert_int_equal(o.exit_code, cases[i].exit_code);
		assert_string_equal(json_string_value(json_object_get(j, "status")), cases[i].status);
		json_decref(j);
		tl_output_free(&o);
	}
}

static void sql_reads_the_query_from_stdin(void **state)
{
	struct tl_output o;
	char *db;
	json_t *j;
	(void)state;

	assert_true(asprintf(&db, "%s/ledger.sqlite", tl_demo()) > 0);
	j = run_exec("SELECT 40 + 2 AS answer", &o, "--lang", "sql", "--data", db, "-");
	assert_non_null(j);
	assert_int_equal(o.exit_code, 0);
	assert_int_equal(json_integer_value(json_array_get(
				 json_array_get(json_object_get(json_object_get(j, "table"), "rows"), 0),
				 0)),
			 42);
	json_decref(j);
	tl_output_free(&o);
	free(db);
}

static void saved_artifacts_land_in_the_folder(void **state)
{
	struct tl_output o;
	char *dir, *path;
	json_t *j;
	struct stat st;
	(void)state;

	assert_true(asprintf(&dir, "%s/artifacts", tl_tmp()) > 0);
	j = run_exec("import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\n", &o, "--lang",
		     "python", "--save-artifacts", dir, "-");
	assert_non_null(j);
	assert_int_equal(o.exit_code, 0);
	assert_true(asprintf(&path, "%s/figure-1.png", dir) > 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size > 1000);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(j, "artifacts"), 0), "path")),
			    path);
	json_decref(j);
	tl_output_free(&o);
	free(dir);
	free(path);
}

static void pretty_output_is_indented_json(void **state)
{
	struct tl_output o;
	json_t *j = run_exec("print(1)", &o, "--lang", "python", "--pretty", "-");
	(void)state;
	assert_non_null(j);
	assert_non_null(strstr(o.out, "\n  \"status\": \"ok\""));
	json_decref(j);
	tl_output_free(&o);
}

static long parent_of(long pid)
{
	char path[64], stat[1024], *close_paren;
	FILE *f;
	size_t n;
	long ppid = -1;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(stat, 1, sizeof(stat) - 1, f);
	fclose(f);
	stat[n] = '\0';
	close_paren = strrchr(stat, ')');
	if (close_paren && sscanf(close_paren + 1, " %*c %ld", &ppid) != 1)
		ppid = -1;
	return ppid;
}

/* The analyst's process of the run this test started: its parent is the
 * sandbox's init, whose parent is `ledgerbox exec`, whose parent is the
 * test process (the killer's own parent). Other runs on the machine are
 * left alone. */
static bool is_our_analyst(long pid)
{
	long init = parent_of(pid), exec = init > 0 ? parent_of(init) : -1;

	return exec > 0 && parent_of(exec) == (long)getppid();
}

/* Finds the analyst's process from the host and kills it, the way an
 * operator or the OOM killer of another cgroup might. */
static void kill_analyst_process(void)
{
	for (int tries = 0; tries < 400; tries++) {
		DIR *d = opendir("/proc");
		struct dirent *de;
		while (d && (de = readdir(d))) {
			char path[300], cmd[512];
			FILE *f;
			size_t n;
			snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
			f = fopen(path, "r");
			if (!f)
				continue;
			n = fread(cmd, 1, sizeof(cmd) - 1, f);
			fclose(f);
			for (size_t i = 0; i < n; i++)
				cmd[i] = cmd[i] ? cmd[i] : ' ';
			cmd[n] = '\0';
			if (strstr(cmd, "/run/ledgerbox/code.py") &&
			    is_our_analyst(strtol(de->d_name, NULL, 10))) {
				kill((pid_t)strtol(de->d_name, NULL, 10), SIGKILL);
				closedir(d);
				_exit(0);
			}
		}
		if (d)
			closedir(d);
		usleep(25000);
	}
	_exit(1);
}

static void killed_from_outside_is_reported(void **state)
{
	struct tl_output o;
	int status;
	pid_t killer = fork();
	json_t *j;
	(void)state;

	assert_true(killer >= 0);
	if (killer == 0)
		kill_analyst_process();
	j = run_exec("import time\ntime.sleep(15)\n", &o, "--lang", "python", "-");
	assert_int_equal(waitpid(killer, &status, 0), killer);
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "killed");
	assert_int_equal(json_integer_value(json_object_get(j, "signal")), SIGKILL);
	assert_int_equal(o.exit_code, 3);
	json_decref(j);
	tl_output_free(&o);
}

static void oversized_code_is_refused(void **state)
{
	size_t size = (4u << 20) + 10;
	char *big = malloc(size + 1);
	struct tl_output o;
	(void)state;

	memset(big, '#', size);
	big[size] = '\0';
	json_decref(run_exec(big, &o, "--lang", "python", "-"));
	assert_int_equal(o.exit_code, 64);
	assert_non_null(strstr(o.err, "larger than 4 MiB"));
	tl_output_free(&o);
	free(big);
}

static void demo_data_refuses_a_bad_folder(void **state)
{
	struct tl_output o;
	char *file = tl_write_tmp("not-a-folder", "x"), *target;
	char *argv[] = { (char *)tl_bin(), "demo-data", NULL, NULL };
	(void)state;

	assert_true(asprintf(&target, "%s/sub", file) > 0);
	argv[2] = target;
	tl_run(argv, NULL, &o);
	assert_int_equal(o.exit_code, 1);
	assert_non_null(strstr(o.err, target));
	tl_output_free(&o);
	free(target);
	free(file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(help_is_there_for_every_command),
		cmocka_unit_test(bad_usage_says_what_is_wrong),
		cmocka_unit_test(exit_code_tells_the_outcome),
		cmocka_unit_test(sql_reads_the_query_from_stdin),
		cmocka_unit_test(saved_artifacts_land_in_the_folder),
		cmocka_unit_test(pretty_output_is_indented_json),
		cmocka_unit_test(killed_from_outside_is_reported),
		cmocka_unit_test(oversized_code_is_refused),
		cmocka_unit_test(demo_data_refuses_a_bad_folder),
	};
	return cmocka_run_group_tests_name("exec_cli", tests, NULL, NULL);
}
