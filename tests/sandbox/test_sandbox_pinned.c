/*
 * Tests of a run pinned to the dataset folder its caller holds
 * (sandbox_request.data_pinned): the sandbox mounts the data path only if
 * it leads to that folder (Python: the folder itself; SQL: the SQLite
 * file's folder), and otherwise refuses the run without starting the
 * program, so a version swapped in under the name is never read under
 * another version's number.
 */
#include <sys/stat.h>

#include "testlib.h"

#include "sandbox/sandbox.h"

static void pinned_request(struct sandbox_request *req, enum sandbox_lang lang, const char *code,
			   const char *data_path, const char *pinned_folder)
{
	struct stat st;

	memset(req, 0, sizeof(*req));
	req->lang = lang;
	req->code = code;
	req->code_len = strlen(code);
	req->data_path = data_path;
	sandbox_limits_default(&req->limits);
	req->limits.wall_ms = 20000;
	assert_int_equal(stat(pinned_folder, &st), 0);
	req->data_pinned = true;
	req->data_dev = st.st_dev;
	req->data_ino = st.st_ino;
}

static void the_held_folder_is_mounted(void **state)
{
	struct sandbox_request req;
	struct sandbox_result res;
	char *db;
	(void)state;

	pinned_request(&req, SANDBOX_LANG_PYTHON, "import os\nprint(len(os.listdir('/data')))\n",
		       tl_demo(), tl_demo());
	assert_int_equal(sandbox_run(&req, &res), 0);
	assert_int_equal(res.status, SANDBOX_OK);
	sandbox_result_release(&res);

	assert_true(asprintf(&db, "%s/ledger.sqlite", tl_demo()) > 0);
	pinned_request(&req, SANDBOX_LANG_SQL, "SELECT 41 + 1 AS answer", db, tl_demo());
	assert_int_equal(sandbox_run(&req, &res), 0);
	assert_int_equal(res.status, SANDBOX_OK);
	sandbox_result_release(&res);
	free(db);
}

static void another_folder_is_refused(void **state)
{
	struct sandbox_request req;
	struct sandbox_result res;
	char *db;
	(void)state;

	/* Pinned to another folder: what the name leads to now is not the
	 * version the caller holds. */
	pinned_request(&req, SANDBOX_LANG_PYTHON, "print('ran')\n", tl_demo(), tl_tmp());
	assert_true(sandbox_run(&req, &res) < 0);
	assert_int_equal(res.status, SANDBOX_SANDBOX_ERROR);
	assert_non_null(strstr(res.error, SANDBOX_DATA_CHANGED));
	assert_true(res.stdout_data == NULL || strstr(res.stdout_data, "ran") == NULL);
	sandbox_result_release(&res);

	assert_true(asprintf(&db, "%s/ledger.sqlite", tl_demo()) > 0);
	pinned_request(&req, SANDBOX_LANG_SQL, "SELECT 1", db, tl_tmp());
	assert_true(sandbox_run(&req, &res) < 0);
	assert_int_equal(res.status, SANDBOX_SANDBOX_ERROR);
	assert_non_null(strstr(res.error, SANDBOX_DATA_CHANGED));
	sandbox_result_release(&res);
	free(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_held_folder_is_mounted),
		cmocka_unit_test(another_folder_is_refused),
	};

	sandbox_set_runner_exe(tl_env("LEDGERBOX_RUNNER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
