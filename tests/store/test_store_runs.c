/*
 * Tests of runs and artifacts in src/store: paging newest first, the
 * visibility rules (an analyst's view, an admin's filter), artifact files
 * written, fsynced and read back, bad names and failed inserts leaving no
 * file, and the sweep of folders an interrupted insert left behind.
 */
#include "store_test.h"

#include <time.h>

static const char *list_id(json_t *list, size_t i)
{
	return json_string_value(json_object_get(json_array_get(list, i), "id"));
}

static void runs_list_pages_newest_first_with_visibility(void **state)
{
	char *dir = state_path("runs");
	struct principal alice, bob, admin;
	struct run_record runs[5], got;
	struct store *s;
	json_t *list;
	int64_t total;
	(void)state;

	s = store_at(dir);
	principal_of(s, "alice", "finance", ROLE_ANALYST, &alice);
	principal_of(s, "bob", "sales", ROLE_ANALYST, &bob);
	principal_of(s, "root", "it", ROLE_ADMIN, &admin);
	for (int i = 0; i < 5; i++) {
		run_fill(&runs[i], i < 3 ? &alice : &bob, 1000 * (i + 1));
		assert_int_equal(store_run_insert(s, &runs[i], NULL, 0), 0);
	}
	/* Alice: her three, newest first, two per page. */
	assert_int_equal(store_runs_list(s, &alice, NULL, 2, 0, &list, &total), 0);
	assert_int_equal(total, 3);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(list_id(list, 0), runs[2].id);
	assert_string_equal(list_id(list, 1), runs[1].id);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "user")), "alice");
	json_decref(list);
	assert_int_equal(store_runs_list(s, &alice, NULL, 2, 2, &list, &total), 0);
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(list_id(list, 0), runs[0].id);
	json_decref(list);
	/* An analyst cannot list or read another's runs. */
	assert_int_equal(store_runs_list(s, &alice, "bob", 10, 0, &list, &total), 0);
	assert_int_equal(total, 0);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(store_run_get(s, &alice, runs[3].id, &got), -ENOENT);
	assert_int_equal(store_run_get(s, &bob, runs[3].id, &got), 0);
	store_run_record_release(&got);
	assert_int_equal(store_run_get(s, &alice, "not-a-run-id", &got), -ENOENT);
	/* Admin: everything, or one user's. */
	assert_int_equal(store_runs_list(s, &admin, NULL, 500, 0, &list, &total), 0);
	assert_int_equal(total, 5);
	assert_string_equal(list_id(list, 0), runs[4].id);
	json_decref(list);
	assert_int_equal(store_runs_list(s, &admin, "bob", 10, 0, &list, &total), 0);
	assert_int_equal(total, 2);
	assert_string_equal(list_id(list, 0), runs[4].id);
	assert_string_equal(list_id(list, 1), runs[3].id);
	json_decref(list);
	assert_int_equal(store_run_get(s, &admin, runs[0].id, &got), 0);
	assert_string_equal(got.user, "alice");
	assert_string_equal(got.dataset, "demo");
	assert_null(got.session);
	assert_int_equal(got.created_ms, 1000);
	store_run_record_release(&got);
	/* Bad arguments. */
	assert_int_equal(store_runs_list(s, &admin, NULL, 0, 0, &list, &total), -EINVAL);
	assert_int_equal(store_runs_list(s, &admin, NULL, 501, 0, &list, &total), -EINVAL);
	assert_int_equal(store_runs_list(s, &admin, NULL, 1, -1, &list, &total), -EINVAL);
	assert_int_equal(store_run_insert(s, &runs[0], NULL, 0), -EEXIST);
	store_close(s);
	free(dir);
}

static void read_fd(int fd, char *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = read(fd, buf + off, len - off);
		assert_true(n > 0);
		off += (size_t)n;
	}
}

static bool exists_under(const char *dir, const char *run_id)
{
	char *path;
	struct stat st;
	bool yes;

	assert_true(asprintf(&path, "%s/artifacts/%s", dir, run_id) > 0);
	yes = lstat(path, &st) == 0;
	free(path);
	return yes;
}

static void artifacts_are_written_and_read_back(void **state)
{
	char *dir = state_path("artifacts"), *path, mime[64], buf[16];
	static const unsigned char png[] = { 0x89, 'P', 'N', 'G', 0, 1, 2, 3 };
	struct artifact_file files[] = {
		{ "chart.png", "image/png", png, sizeof(png) },
		{ "totals.csv", "text/csv", "a,b\n1,2\n", 8 },
		{ "empty.txt", "text/plain", NULL, 0 },
	};
	struct principal alice, bob;
	struct run_record run;
	struct store *s;
	struct stat st;
	uint64_t bytes;
	int fd;
	(void)state;

	s = store_at(dir);
	principal_of(s, "alice", "finance", ROLE_ANALYST, &alice);
	principal_of(s, "bob", "sales", ROLE_ANALYST, &bob);
	run_fill(&run, &alice, 5);
	assert_int_equal(store_run_insert(s, &run, files, 3), 0);
	assert_true(asprintf(&path, "%s/artifacts/%s/chart.png", dir, run.id) > 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, sizeof(png));
	assert_true(file_contains(path, png, sizeof(png)));

	assert_int_equal(store_artifact_open(s, &alice, run.id, "chart.png", &fd, mime, sizeof(mime),
					     &bytes),
			 0);
	assert_string_equal(mime, "image/png");
	assert_int_equal(bytes, sizeof(png));
	read_fd(fd, buf, sizeof(png));
	assert_memory_equal(buf, png, sizeof(png));
	close(fd);
	assert_int_equal(store_artifact_open(s, &alice, run.id, "empty.txt", &fd, mime, sizeof(mime),
					     &bytes),
			 0);
	assert_int_equal(bytes, 0);
	close(fd);
	/* Another analyst, a missing name, a path in the name. */
	assert_int_equal(store_artifact_open(s, &bob, run.id, "chart.png", &fd, mime, sizeof(mime), &bytes),
			 -ENOENT);
	assert_int_equal(store_artifact_open(s, &alice, run.id, "nope.png", &fd, mime, sizeof(mime),
					     &bytes),
			 -ENOENT);
	assert_int_equal(store_artifact_open(s, &alice, run.id, "../../ledgerbox.db", &fd, mime,
					     sizeof(mime), &bytes),
			 -ENOENT);
	/* A file changed behind the store's back is not served. */
	assert_int_equal(truncate(path, 2), 0);
	assert_int_equal(store_artifact_open(s, &alice, run.id, "chart.png", &fd, mime, sizeof(mime),
					     &bytes),
			 -EIO);
	free(path);
	store_close(s);
	free(dir);
}

static void bad_artifacts_or_failed_insert_leave_no_files(void **state)
{
	char *dir = state_path("badartifacts");
	struct artifact_file good = { "ok.txt", "text/plain", "x", 1 };
	const char *bad_names[] = { "../x", "a/b", ".", "..", "", "tab\there" };
	struct artifact_file two[2] = { good, good };
	struct principal alice;
	struct run_record run;
	struct store *s;
	(void)state;

	s = store_at(dir);
	principal_of(s, "alice", "finance", ROLE_ANALYST, &alice);
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		struct artifact_file files[2] = { good, { bad_names[i], "text/plain", "y", 1 } };
		run_fill(&run, &alice, 1);
		assert_int_equal(store_run_insert(s, &run, files, 2), -EINVAL);
		assert_false(exists_under(dir, run.id));
	}
	/* Duplicate names. */
	run_fill(&run, &alice, 1);
	assert_int_equal(store_run_insert(s, &run, two, 2), -EINVAL);
	assert_false(exists_under(dir, run.id));
	/* The transaction fails (no such principal): the files go again. */
	run_fill(&run, &alice, 1);
	run.principal_id = 424242;
	assert_int_equal(store_run_insert(s, &run, &good, 1), -ENOENT);
	assert_false(exists_under(dir, run.id));
	/* A duplicate run id whose first run had no artifacts. */
	run_fill(&run, &alice, 1);
	assert_int_equal(store_run_insert(s, &run, NULL, 0), 0);
	assert_int_equal(store_run_insert(s, &run, &good, 1), -EEXIST);
	assert_false(exists_under(dir, run.id));
	store_close(s);
	free(dir);
}

static void interrupted_insert_is_swept_at_open(void **state)
{
	char *dir = state_path("sweep"), *old_dir, *new_dir, *file;
	char old_id[STORE_RUN_ID_LEN + 1], new_id[STORE_RUN_ID_LEN + 1];
	struct timespec times[2] = { { .tv_sec = time(NULL) - 7200 }, { .tv_sec = time(NULL) - 7200 } };
	struct store *s;
	(void)state;

	s = store_at(dir);
	store_close(s);
	store_run_id_new(old_id);
	store_run_id_new(new_id);
	assert_true(asprintf(&old_dir, "%s/artifacts/%s", dir, old_id) > 0);
	assert_true(asprintf(&new_dir, "%s/artifacts/%s", dir, new_id) > 0);
	assert_true(asprintf(&file, "%s/chart.png", old_dir) > 0);
	assert_int_equal(mkdir(old_dir, 0700), 0);
	assert_int_equal(mkdir(new_dir, 0700), 0);
	{
		FILE *f = fopen(file, "w");
		assert_non_null(f);
		fclose(f);
	}
	assert_int_equal(utimensat(AT_FDCWD, old_dir, times, 0), 0);
	s = store_at(dir);
	store_close(s);
	assert_false(exists_under(dir, old_id));
	assert_true(exists_under(dir, new_id)); /* may be an insert in progress */
	free(old_dir);
	free(new_dir);
	free(file);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(runs_list_pages_newest_first_with_visibility),
		cmocka_unit_test(artifacts_are_written_and_read_back),
		cmocka_unit_test(bad_artifacts_or_failed_insert_leave_no_files),
		cmocka_unit_test(interrupted_insert_is_swept_at_open),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
