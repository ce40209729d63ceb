/*
 * Tests of the sandbox API called in-process: what a run returns, and that
 * it leaves nothing behind in the calling process (descriptors, children,
 * mounts) or on the machine (cgroups).
 */
#include <dirent.h>

#include <jansson.h>

#include "testlib.h"

#include "sandbox/result_json.h"
#include "sandbox/sandbox.h"

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static int count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0, c;

	assert_non_null(f);
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void python_request(struct sandbox_request *req, const char *code)
{
	memset(req, 0, sizeof(*req));
	req->lang = SANDBOX_LANG_PYTHON;
	req->code = code;
	req->code_len = strlen(code);
	sandbox_limits_default(&req->limits);
	req->limits.wall_ms = 20000;
}

static void run_leaves_nothing_behind(void **state)
{
	struct sandbox_request req;
	struct sandbox_result res;
	int fds = count_entries("/proc/self/fd"), mounts = count_lines("/proc/self/mountinfo");
	(void)state;

	python_request(&req, "import os\nos.fork() or print('child')\nprint('hi')\n");
	assert_int_equal(sandbox_run(&req, &res), 0);
	assert_int_equal(res.status, SANDBOX_OK);
	assert_non_null(strstr(res.stdout_data, "hi"));
	sandbox_result_release(&res);
	assert_int_equal(count_entries("/proc/self/fd"), fds);
	assert_int_equal(count_lines("/proc/self/mountinfo"), mounts);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static void stdin_is_empty_and_exit_code_is_kept(void **state)
{
	struct sandbox_request req;
	struct sandbox_result res;
	(void)state;

	python_request(&req, "import sys\nprint(repr(sys.stdin.read()))\nsys.exit(7)\n");
	assert_int_equal(sandbox_run(&req, &res), 0);
	assert_int_equal(res.status, SANDBOX_RUNTIME_ERROR);
	assert_int_equal(res.exit_code, 7);
	assert_string_equal(res.stdout_data, "''\n");
	sandbox_result_release(&res);
}

/* A run's local time is the caller's zone (the server's is the business's),
 * not the machine's: its date.today() turns when the prompt's date does. */
static void run_keeps_the_callers_zone(void **state)
{
	const char *before = getenv("TZ");
	char *saved = before ? strdup(before) : NULL;
	struct sandbox_request req;
	struct sandbox_result res;
	(void)state;

	assert_int_equal(setenv("TZ", "Pacific/Kiritimati", 1), 0);
	python_request(&req, "import time\nprint(time.strftime('%z'))\n");
	assert_int_equal(sandbox_run(&req, &res), 0);
	assert_int_equal(res.status, SANDBOX_OK);
	assert_string_equal(res.stdout_data, "+1400\n");
	sandbox_result_release(&res);
	if (saved)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	free(saved);
}

static void bad_limits_are_refused_by_name(void **state)
{
	struct sandbox_request req;
	struct sandbox_result res;
	(void)state;

	python_request(&req, "print(1)\n");
	req.limits.pids = 0;
	assert_int_equal(sandbox_run(&req, &res), -ERANGE);
	assert_int_equal(res.status, SANDBOX_SANDBOX_ERROR);
	assert_non_null(strstr(res.error, "pids"));
	sandbox_result_release(&res);
}

static void sql_needs_a_dataset(void **state)
{
	struct sandbox_request req;
	struct sandbox_result res;
	(void)state;

	python_request(&req, "SELECT 1");
	req.lang = SANDBOX_LANG_SQL;
	assert_int_equal(sandbox_run(&req, &res), -EINVAL);
	assert_non_null(strstr(res.error, "dataset"));
	sandbox_result_release(&res);
}

static void missing_dataset_is_named(void **state)
{
	struct sandbox_request req;
	struct sandbox_result res;
	(void)state;

	python_request(&req, "print(1)\n");
	req.data_path = "/nonexistent/ledgerbox-data";
	assert_true(sandbox_run(&req, &res) < 0);
	assert_int_equal(res.status, SANDBOX_SANDBOX_ERROR);
	assert_non_null(strstr(res.error, "/nonexistent/ledgerbox-data"));
	sandbox_result_release(&res);
}

static void python_dataset_must_be_a_folder(void **state)
{
	struct sandbox_request req;
	struct sandbox_result res;
	char *db;
	(void)state;

	assert_true(asprintf(&db, "%s/ledger.sqlite", tl_demo()) > 0);
	python_request(&req, "print(1)\n");
	req.data_path = db;
	assert_int_equal(sandbox_run(&req, &res), -ENOTDIR);
	assert_non_null(strstr(res.error, "folder"));
	sandbox_result_release(&res);
	free(db);
}

static void invalid_utf8_output_becomes_valid_json(void **state)
{
	struct sandbox_request req;
	struct sandbox_result res;
	json_t *j;
	const char *out;
	(void)state;

	python_request(&req, "import sys\nn = sys.stdout.buffer.write(b'ok\\xff\\xfe\\x00end')\n");
	assert_int_equal(sandbox_run(&req, &res), 0);
	j = result_to_json(&req, &res);
	out = json_string_value(json_object_get(j, "stdout"));
	assert_non_null(out);
	assert_int_equal(json_string_length(json_object_get(j, "stdout")), 12);
	assert_memory_equal(out, "ok\xef\xbf\xbd\xef\xbf\xbd\0end", 12);
	json_decref(j);
	sandbox_result_release(&res);
}

static void artifacts_carry_type_and_bytes(void **state)
{
	struct sandbox_request req;
	struct sandbox_result res;
	(void)state;

	python_request(&req, "open('/out/b.csv','w').write('x,y\\n1,2\\n')\n"
			     "open('/out/a.png','wb').write(b'\\x89PNG\\r\\n\\x1a\\n' + bytes(10))\n"
			     "open('/out/c.bin','wb').write(bytes(3))\n");
	assert_int_equal(sandbox_run(&req, &res), 0);
	assert_int_equal(res.status, SANDBOX_OK);
	assert_int_equal(res.n_artifacts, 3);
	assert_string_equal(res.artifacts[0].name, "a.png");
	assert_string_equal(res.artifacts[0].mime, "image/png");
	assert_int_equal(res.artifacts[0].bytes, 18);
	assert_string_equal(res.artifacts[1].mime, "text/csv");
	assert_memory_equal(res.artifacts[1].data, "x,y\n1,2\n", 8);
	assert_string_equal(res.artifacts[2].mime, "application/octet-stream");
	sandbox_result_release(&res);
}

static void artifacts_over_the_out_size_are_refused(void **state)
{
	struct sandbox_request req;
	struct sandbox_result res;
	(void)state;

	python_request(&req, "try:\n open('/out/big','wb').write(bytes(2<<20))\n"
			     "except OSError as e:\n print('FULL', e.errno)\n");
	req.limits.out_bytes = 1 << 20;
	assert_int_equal(sandbox_run(&req, &res), 0);
	assert_non_null(strstr(res.stdout_data, "FULL 28"));
	sandbox_result_release(&res);
}

static void sql_runs_through_the_runner(void **state)
{
	struct sandbox_request req;
	struct sandbox_result res;
	char *db;
	json_t *j, *table;
	(void)state;

	assert_true(asprintf(&db, "%s/ledger.sqlite", tl_demo()) > 0);
	python_request(&req, "SELECT count(*) AS n FROM accounts");
	req.lang = SANDBOX_LANG_SQL;
	req.data_path = db;
	assert_int_equal(sandbox_run(&req, &res), 0);
	assert_int_equal(res.status, SANDBOX_OK);
	j = result_to_json(&req, &res);
	table = json_object_get(j, "table");
	assert_non_null(table);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(table, "columns"), 0), "name")),
			    "n");
	assert_true(json_integer_value(json_array_get(
			    json_array_get(json_object_get(table, "rows"), 0), 0)) > 10);
	json_decref(j);
	sandbox_result_release(&res);
	free(db);
}

static void enforcement_is_reported(void **state)
{
	struct sandbox_request req;
	struct sandbox_result res;
	(void)state;

	python_request(&req, "pass\n");
	assert_int_equal(sandbox_run(&req, &res), 0);
	assert_int_equal(res.enforced_wall, ENFORCER_SUPERVISOR);
	assert_int_equal(res.enforced_tmp, ENFORCER_TMPFS);
	if (res.enforced_memory == ENFORCER_RLIMIT)
		assert_non_null(strstr(res.error, "rlimit"));
	else
		assert_true(res.enforced_memory == ENFORCER_CGROUP_V1 ||
			    res.enforced_memory == ENFORCER_CGROUP_V2);
	assert_true(res.peak_memory_bytes > 1 << 20);
	sandbox_result_release(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(run_leaves_nothing_behind),
		cmocka_unit_test(stdin_is_empty_and_exit_code_is_kept),
		cmocka_unit_test(run_keeps_the_callers_zone),
		cmocka_unit_test(bad_limits_are_refused_by_name),
		cmocka_unit_test(sql_needs_a_dataset),
		cmocka_unit_test(missing_dataset_is_named),
		cmocka_unit_test(python_dataset_must_be_a_folder),
		cmocka_unit_test(invalid_utf8_output_becomes_valid_json),
		cmocka_unit_test(artifacts_carry_type_and_bytes),
		cmocka_unit_test(artifacts_over_the_out_size_are_refused),
		cmocka_unit_test(sql_runs_through_the_runner),
		cmocka_unit_test(enforcement_is_reported),
	};
	sandbox_set_runner_exe(tl_env("LEDGERBOX_RUNNER"));
	return cmocka_run_group_tests_name("sandbox_api", tests, NULL, NULL);
}
