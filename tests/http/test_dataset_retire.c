/*
 * End-to-end tests of retired dataset versions over real HTTP and real
 * sandboxes. A replace or an append retires the old folder; it is removed
 * as soon as no run holds it, so appends in a loop do not pile copies of
 * the dataset up in DATA_DIR. A run holds the version it started on: it
 * reads that version's files to its end and says so, while a replace
 * makes the next version for the runs that start after it.
 */
#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>

#include "datasetlib.h"

static struct server srv;
static char *fin;
static char *env_vars[] = { "LEDGERBOX_MAX_RUNS=2", "LEDGERBOX_DATASET_QUOTA_BYTES=1M", NULL };

static int setup(void **state)
{
	(void)state;
	hl_prepare(&srv, "retire", env_vars);
	fin = hl_key_create(&srv, "fiona", "finance", "analyst");
	hl_start(&srv);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	hl_stop(&srv, SIGTERM);
	free(fin);
	curl_global_cleanup();
	return 0;
}

/* Retired folders in DATA_DIR, and (when bytes is not NULL) the bytes of
 * the files in dataset big's folder and in hidden folders (retired
 * versions, uploads): what appends to big can leave behind. */
static int retired_count(long long *bytes)
{
	DIR *dir = opendir(srv.data);
	struct dirent *de;
	int n = 0;

	assert_non_null(dir);
	if (bytes)
		*bytes = 0;
	while ((de = readdir(dir)) != NULL) {
		char path[1200];
		DIR *sub;
		struct dirent *f;

		n += strncmp(de->d_name, ".retired-", 9) == 0;
		if (!bytes || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    (de->d_name[0] != '.' && strcmp(de->d_name, "big") != 0))
			continue;
		snprintf(path, sizeof(path), "%s/%s", srv.data, de->d_name);
		if (!(sub = opendir(path)))
			continue;
		while ((f = readdir(sub)) != NULL) {
			char file[1500];
			struct stat st;
			snprintf(file, sizeof(file), "%s/%s", path, f->d_name);
			if (lstat(file, &st) == 0 && S_ISREG(st.st_mode))
				*bytes += st.st_size;
		}
		closedir(sub);
	}
	closedir(dir);
	return n;
}

/* Retired folders once the sweep after the last request had its turn (it
 * runs as a request ends, which may be after its answer was sent). */
static int retired_settled(void)
{
	int n = retired_count(NULL);

	for (int i = 0; i < 100 && n > 0; i++) {
		usleep(50000);
		n = retired_count(NULL);
	}
	return n;
}

/* 30 one-row appends to a dataset of about 100 KB: no retired folder is
 * left, and DATA_DIR holds about one copy of the dataset, not 30. */
static void appends_leave_no_retired_folder(void **state)
{
	char *csv = malloc(200000), row[64];
	size_t len = 0;
	long long before, after;
	int left;
	struct reply r;
	(void)state;

	assert_non_null(csv);
	len += (size_t)snprintf(csv + len, 200000 - len, "id,amount\n");
	for (int i = 0; i < 8000; i++)
		len += (size_t)snprintf(csv + len, 200000 - len, "%d,%d\n", i, i % 97);
	dl_upload(&srv, "big", fin, csv, 201);
	free(csv);
	assert_int_equal(retired_count(&before), 0);
	for (int i = 0; i < 30; i++) {
		snprintf(row, sizeof(row), "id,amount\n%d,1\n", 100000 + i);
		dl_send_csv(&srv, "POST", "/api/datasets/big/rows", fin, row, &r);
		if (r.status != 200)
			fail_msg("append %d: %ld %s", i, r.status, r.body);
		hl_reply_free(&r);
	}
	left = retired_settled();
	(void)retired_count(&after);
	print_message("# DATA_DIR: %lld bytes of big and hidden folders before, %lld after 30 "
		      "appends, %d retired folders left\n",
		      before, after, left);
	assert_int_equal(left, 0);
	/* One version of the dataset (plus the rows), not 31. */
	assert_true(after < before * 2);
}

struct held_run {
	const char *body;
	struct reply r;
};

static void *held_run_main(void *arg)
{
	struct held_run *h = arg;

	hl_call_timeout(&srv, "POST", "/api/analyze", fin, h->body, strlen(h->body), NULL, 60000,
			&h->r);
	return NULL;
}

static long long version_of(json_t *answer)
{
	return json_integer_value(json_object_get(json_object_get(answer, "datasetVersion"),
						  "version"));
}

/* A run started on version 1 reads version 1's rows to its end and says
 * version 1 while a replace makes version 2; its retired folder stays
 * while it runs and goes when it ends; a run started afterwards reads
 * version 2. */
static void a_run_keeps_its_version(void **state)
{
	const char *count = "{\"language\":\"python\",\"dataset\":\"held\",\"code\":\"import time\\n"
			    "time.sleep(%d)\\nprint(sum(1 for _ in open('/data/held.csv')) - 1)\\n\"}";
	char slow[300], quick[300];
	struct held_run h = { .body = slow };
	pthread_t t;
	struct reply r;
	(void)state;

	snprintf(slow, sizeof(slow), count, 4);
	snprintf(quick, sizeof(quick), count, 0);
	dl_upload(&srv, "held", fin, "item,qty\nbolt,3\nnut,4\nrod,5\n", 201);
	assert_int_equal(pthread_create(&t, NULL, held_run_main, &h), 0);
	/* The run takes hold of its version when its request is checked,
	 * long before its program's sleep ends. */
	usleep(1500000);
	dl_send_csv(&srv, "PUT", "/api/datasets/held", fin, "item,qty\nbolt,30\n", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "version")), 2);
	hl_reply_free(&r);
	/* Version 1's folder is retired, and held by the run. */
	assert_int_equal(retired_count(NULL), 1);
	assert_int_equal(pthread_join(t, NULL), 0);

	assert_int_equal(h.r.status, 200);
	assert_string_equal(hl_str(h.r.json, "status"), "ok");
	assert_int_equal(version_of(h.r.json), 1);
	assert_non_null(strstr(hl_str(h.r.json, "output"), "3"));
	hl_reply_free(&h.r);
	assert_int_equal(retired_settled(), 0);

	hl_call_timeout(&srv, "POST", "/api/analyze", fin, quick, strlen(quick), NULL, 60000, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(version_of(r.json), 2);
	assert_non_null(strstr(hl_str(r.json, "output"), "1"));
	hl_reply_free(&r);
}

/* A CSV of `rows` rows "id,amount" (to free). */
static char *rows_csv(int rows)
{
	size_t cap = (size_t)rows * 24 + 32, len = 0;
	char *csv = malloc(cap);

	assert_non_null(csv);
	len += (size_t)snprintf(csv + len, cap - len, "id,amount\n");
	for (int i = 0; i < rows; i++)
		len += (size_t)snprintf(csv + len, cap - len, "%d,%d\n", i, i % 97);
	return csv;
}

/* While a run holds version 1 of a dataset, version 1's bytes count
 * against the team's quota: a replace that fits the quota alone is
 * refused (413, saying how many bytes old versions hold), and fits again
 * once the run ended and the old version was swept. */
static void held_versions_count_against_the_quota(void **state)
{
	const char *slow = "{\"language\":\"python\",\"dataset\":\"wide\",\"code\":"
			   "\"import time\\ntime.sleep(5)\\nprint(len(open('/data/wide.csv').read()))\"}";
	struct held_run h = { .body = slow };
	long long others, wide;
	char *csv = rows_csv(30000);
	pthread_t t;
	struct reply r;
	(void)state;

	dl_upload(&srv, "wide", fin, csv, 201);
	wide = dl_db_value(&srv, "SELECT bytes FROM datasets WHERE name = 'wide'");
	others = dl_db_value(&srv, "SELECT sum(bytes) FROM datasets WHERE team = 'finance'") - wide;
	/* One version fits the quota of 1M beside the others, two do not. */
	if (!(others + wide <= 1000000 && others + 2 * wide > 1048576))
		fail_msg("sizes do not suit the test: others %lld, wide %lld", others, wide);

	assert_int_equal(pthread_create(&t, NULL, held_run_main, &h), 0);
	usleep(1500000);
	dl_send_csv(&srv, "PUT", "/api/datasets/wide", fin, csv, &r);
	assert_int_equal(r.status, 200);
	hl_reply_free(&r);
	dl_send_csv(&srv, "PUT", "/api/datasets/wide", fin, csv, &r);
	assert_int_equal(r.status, 413);
	assert_string_equal(hl_str(json_object_get(r.json, "error"), "code"), "quota_exceeded");
	assert_true(json_integer_value(json_object_get(json_object_get(r.json, "error"),
						       "retired_bytes")) > 0);
	hl_reply_free(&r);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(h.r.status, 200);
	hl_reply_free(&h.r);

	assert_int_equal(retired_settled(), 0);
	dl_send_csv(&srv, "PUT", "/api/datasets/wide", fin, csv, &r);
	assert_int_equal(r.status, 200);
	hl_reply_free(&r);
	free(csv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(appends_leave_no_retired_folder),
		cmocka_unit_test(a_run_keeps_its_version),
		cmocka_unit_test(held_versions_count_against_the_quota),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
