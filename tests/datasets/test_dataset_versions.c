/*
 * Tests of a dataset's later life (dataset_change.c, csv_append.c): names
 * unique ignoring case, a new version swapped in whole while a reader of
 * the old one keeps its files, a new fingerprint per version, appended
 * rows checked and merged, deletion, and the sweep of retired folders.
 */
#include "ds_testlib.h"

#include <dirent.h>

/* A new version of NAME from csv (append: rows added), built and
 * published; the summary is dropped. */
static int new_version(const char *data, const char *name, const char *csv, bool append,
		       char *err, size_t err_len)
{
	struct csv_import_limits limits = { .max_bytes = 1u << 20, .max_rows = 1000 };
	struct csv_import *imp = NULL;
	json_t *summary = NULL;
	uint64_t bytes = 0;
	int rc = append ? csv_import_begin_append(data, name, name, &limits, &imp, err, err_len)
			: csv_import_begin_version(data, name, name, &limits, &imp, err, err_len);

	if (rc < 0)
		return rc;
	rc = csv_import_feed(imp, csv, strlen(csv), err, err_len);
	if (rc == 0)
		rc = csv_import_build(imp, &summary, &bytes, err, err_len);
	if (rc < 0) {
		csv_import_abort(imp);
		return rc;
	}
	assert_true(bytes > 0);
	json_decref(summary);
	return csv_import_publish(imp, err, err_len);
}

/* The answer of ds_query() against want, freed. */
static void query_is(const char *db, const char *sql, const char *want)
{
	char *got = ds_query(db, sql);

	assert_string_equal(got, want);
	free(got);
}

/* Hidden folders of DATA_DIR whose names start with prefix. */
static int hidden_count(const char *data, const char *prefix)
{
	DIR *d = opendir(data);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

static void names_are_unique_ignoring_case(void **state)
{
	static const struct csv_import_limits limits = { .max_bytes = 100, .max_rows = 10 };
	char data[DS_PATH], err[256];
	struct csv_import *imp = NULL;
	(void)state;

	ds_scratch(data);
	ds_mkdir(data, "demo");
	assert_int_equal(csv_import_begin(data, "DEMO", "t", &limits, &imp, err, sizeof(err)),
			 -EEXIST);
	assert_string_equal(err, "dataset DEMO already exists as demo (names are the same ignoring "
				 "case): pick another name");
	assert_null(imp);
	assert_int_equal(dataset_name_free(data, "dEmO", err, sizeof(err)), -EEXIST);
	assert_int_equal(dataset_name_free(data, "demo2", err, sizeof(err)), 0);
	ds_rmtree(data);
}

static void a_replace_swaps_the_whole_folder_and_readers_keep_theirs(void **state)
{
	char data[DS_PATH], err[512], fp1[65], fp2[65], old_csv[DS_PATH], buf[64];
	int fd;
	ssize_t n;
	unsigned removed = 0;
	(void)state;

	ds_scratch(data);
	assert_int_equal(ds_import(data, "stock", "stock", "item,qty\nbolt,3\n", 16, 0, 1 << 20,
				   100, NULL, err, sizeof(err)), 0);
	assert_int_equal(dataset_fingerprint(data, "stock", fp1, err, sizeof(err)), 0);
	/* A run that mounted the old version: its folder, held open. */
	ds_path(old_csv, data, "stock");
	fd = open(old_csv, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);

	assert_int_equal(new_version(data, "stock", "item,qty\nbolt,30\nnut,4\n", false, err,
				     sizeof(err)), 0);
	assert_int_equal(dataset_fingerprint(data, "stock", fp2, err, sizeof(err)), 0);
	assert_string_not_equal(fp1, fp2);
	ds_path(old_csv, data, "stock/stock.sqlite");
	query_is(old_csv, "SELECT sum(qty) FROM stock", "34\n");
	/* The old folder still has the old files, hidden and retired. */
	int csv_fd = openat(fd, "stock.csv", O_RDONLY);
	assert_true(csv_fd >= 0);
	n = read(csv_fd, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "item,qty\nbolt,3\n");
	close(csv_fd);
	close(fd);
	assert_int_equal(hidden_count(data, ".retired-"), 1);
	assert_int_equal(hidden_count(data, ".upload-"), 0);
	assert_int_equal(csv_import_sweep(data, 0, &removed), 0);
	assert_int_equal(removed, 1);
	assert_int_equal(hidden_count(data, ".retired-"), 0);

	/* A version of a dataset that does not exist. */
	assert_int_equal(new_version(data, "nothing", "a\n1\n", false, err, sizeof(err)), -ENOENT);
	ds_rmtree(data);
}

static void appended_rows_are_checked_then_merged(void **state)
{
	char data[DS_PATH], err[512], db[DS_PATH], csv[DS_PATH];
	FILE *f;
	char text[256];
	size_t n;
	(void)state;

	ds_scratch(data);
	assert_int_equal(ds_import(data, "parts", "parts", "item,qty,price\nbolt,3,0.5\n", 26, 0,
				   1 << 20, 100, NULL, err, sizeof(err)), 0);
	assert_int_equal(new_version(data, "parts", "item,qty,price\nrod,5,2\n", true, err,
				     sizeof(err)), 0);
	ds_path(db, data, "parts/parts.sqlite");
	query_is(db, "SELECT item, qty, price FROM parts ORDER BY rowid", "bolt|3|0.5\nrod|5|2.0\n");
	ds_path(csv, data, "parts/parts.csv");
	f = fopen(csv, "r");
	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	assert_string_equal(text, "item,qty,price\nbolt,3,0.5\nrod,5,2\n");

	/* Refused with the line, nothing changed. */
	assert_int_equal(new_version(data, "parts", "item,qty,price\n\nnut,x,1\n", true, err,
				     sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 3: x does not fit column qty, which is integer"));
	assert_int_equal(new_version(data, "parts", "item,price,qty\nnut,1,2\n", true, err,
				     sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 1: column 2 is price, but in dataset parts it is qty"));
	assert_int_equal(new_version(data, "parts", "item,qty\nnut,1\n", true, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "has 2 columns"));
	query_is(db, "SELECT count(*) FROM parts", "2\n");
	assert_int_equal(hidden_count(data, ".upload-"), 0);
	ds_rmtree(data);
}

static void delete_frees_the_name_and_retires_the_folder(void **state)
{
	char data[DS_PATH], err[512];
	unsigned removed = 0;
	struct dataset_hold run;
	(void)state;

	ds_scratch(data);
	assert_int_equal(ds_import(data, "gone", "gone", "a\n1\n", 4, 0, 1 << 20, 100, NULL, err,
				   sizeof(err)), 0);
	/* A run holds the folder, as one started before the delete does. */
	assert_int_equal(dataset_hold(data, "gone", &run, err, sizeof(err)), 0);
	assert_true(dataset_hold_current(data, "gone", &run));
	assert_int_equal(dataset_delete(data, "gone", err, sizeof(err)), 0);
	assert_int_equal(dataset_name_free(data, "gone", err, sizeof(err)), 0);
	assert_int_equal(hidden_count(data, ".retired-"), 1);
	assert_int_equal(dataset_delete(data, "gone", err, sizeof(err)), -ENOENT);
	assert_int_equal(dataset_delete(data, "../x", err, sizeof(err)), -EINVAL);
	assert_false(dataset_hold_current(data, "gone", &run));
	/* A retired folder is kept while a run holds it, and goes once none
	 * does. */
	assert_int_equal(csv_import_sweep(data, 3600, &removed), 0);
	assert_int_equal(removed, 0);
	assert_int_equal(hidden_count(data, ".retired-"), 1);
	dataset_release(&run);
	assert_int_equal(csv_import_sweep(data, 3600, &removed), 0);
	assert_int_equal(removed, 1);
	assert_int_equal(hidden_count(data, ".retired-"), 0);
	ds_rmtree(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_are_unique_ignoring_case),
		cmocka_unit_test(a_replace_swaps_the_whole_folder_and_readers_keep_theirs),
		cmocka_unit_test(appended_rows_are_checked_then_merged),
		cmocka_unit_test(delete_frees_the_name_and_retires_the_folder),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
