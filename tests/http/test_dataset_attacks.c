/*
 * Attacks on datasets over real HTTP, kept as regression tests: an
 * analyst of team sales with a valid key tries to reach team finance's
 * datasets through every route that names one, and the teams' own
 * analysts change a dataset from several requests at once, which must not
 * lose a change nor leave a record and a folder that disagree. Runs with
 * LEDGERBOX_TEST_BACKEND=postgres too.
 */
#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include "datasetlib.h"

static struct server srv;
static char *fin, *fin2, *sales, *root;
static char *env_vars[] = { "LEDGERBOX_MAX_RUNS=4", "LEDGERBOX_DATASET_QUOTA_BYTES=1G", NULL };

static int setup(void **state)
{
	(void)state;
	hl_prepare(&srv, "dsattacks", env_vars);
	fin = hl_key_create(&srv, "fiona", "finance", "analyst");
	fin2 = hl_key_create(&srv, "frank", "finance", "analyst");
	sales = hl_key_create(&srv, "sam", "sales", "analyst");
	root = hl_key_create(&srv, "root", "it", "admin");
	hl_start(&srv);
	return 0;
}

static int teardown(void **state)
{
	int rc;
	(void)state;

	rc = hl_stop_clean(&srv);
	free(fin);
	free(fin2);
	free(sales);
	free(root);
	curl_global_cleanup();
	return rc;
}

static void send_csv(const char *method, const char *path, const char *key, const char *csv,
		     struct reply *r)
{
	dl_send_csv(&srv, method, path, key, csv, r);
}

static void upload(const char *name, const char *key, const char *csv, long status)
{
	dl_upload(&srv, name, key, csv, status);
}

/* The one value SELECT `expr` FROM `name` gives to key's analyst. */
static long long sql_value(const char *key, const char *name, const char *expr)
{
	char body[400];
	struct reply r;
	long long v;

	snprintf(body, sizeof(body),
		 "{\"language\":\"sql\",\"dataset\":\"%s\",\"code\":\"SELECT %s FROM %s\"}", name,
		 expr, name);
	hl_call_timeout(&srv, "POST", "/api/analyze", key, body, strlen(body), NULL, 60000, &r);
	if (r.status != 200)
		fail_msg("SELECT %s FROM %s: %ld %s", expr, name, r.status, r.body);
	v = json_integer_value(json_array_get(
		json_array_get(json_object_get(json_object_get(r.json, "table"), "rows"), 0), 0));
	hl_reply_free(&r);
	return v;
}

/* Lines of NAME.csv as a Python run reads it. */
static long long csv_lines(const char *key, const char *name)
{
	char body[400];
	struct reply r;
	long long v;

	snprintf(body, sizeof(body),
		 "{\"language\":\"python\",\"dataset\":\"%s\",\"code\":"
		 "\"print(len(open('/data/%s.csv').read().splitlines()))\"}",
		 name, name);
	hl_call_timeout(&srv, "POST", "/api/analyze", key, body, strlen(body), NULL, 60000, &r);
	if (r.status != 200)
		fail_msg("lines of %s.csv: %ld %s", name, r.status, r.body);
	v = strtoll(hl_str(r.json, "output"), NULL, 10);
	hl_reply_free(&r);
	return v;
}

struct change {
	const char *method, *path, *key;
	char *csv;
	struct reply r;
};

static void *change_run(void *arg)
{
	struct change *c = arg;

	send_csv(c->method, c->path, c->key, c->csv ? c->csv : "", &c->r);
	return NULL;
}

/* Runs the changes at once and waits for them all. */
static void changes_at_once(struct change *c, size_t n)
{
	pthread_t t[16];

	assert_true(n <= 16);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(pthread_create(&t[i], NULL, change_run, &c[i]), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
}

/* A dataset big enough that a new version takes a while to build: the
 * time in which another change could slip in. */
static char *big_csv(long rows)
{
	char *csv = NULL;
	size_t len = 0;
	char line[64];

	tl_append(&csv, &len, "id,amount\n", 10);
	for (long i = 0; i < rows; i++) {
		int n = snprintf(line, sizeof(line), "%ld,%ld\n", i, i % 1000);
		tl_append(&csv, &len, line, (size_t)n);
	}
	return csv;
}

/* The 404 of analyze over a name, with the name replaced by NAME, so that
 * the answers over two names of one length compare. */
static char *analyze_404(const char *key, const char *fmt, const char *name)
{
	char body[600], *out, *at;
	struct reply r;
	json_t *json;

	snprintf(body, sizeof(body), fmt, name, name, name);
	hl_call_timeout(&srv, "POST", "/api/analyze", key, body, strlen(body), NULL, 60000, &r);
	if (r.status != 404)
		fail_msg("%s: %ld %s", body, r.status, r.body);
	while ((at = strstr(r.body, name)) != NULL)
		memset(at, '#', strlen(name));
	json = json_loads(r.body, 0, NULL);
	assert_non_null(json);
	/* Each answer has its own request id. */
	json_object_del(json, "request_id");
	json_object_del(json_object_get(json, "error"), "request_id");
	out = json_dumps(json, JSON_SORT_KEYS);
	json_decref(json);
	hl_reply_free(&r);
	return out;
}

/* Another team's dataset is answered exactly as one that does not exist,
 * in every analysis mode and in every route that names it, whatever the
 * spelling of its name. */
static void hidden_dataset_answers_as_missing(void **state)
{
	static const char *const modes[] = {
		"{\"language\":\"sql\",\"dataset\":\"%s\",\"code\":\"SELECT * FROM %s\"}",
		("{\"language\":\"python\",\"dataset\":\"%s\",\"code\":"
		 "\"print(open('/data/%s.csv').read())\"}"),
		"{\"template\":\"top_customers\",\"dataset\":\"%s\"}",
		"{\"query\":\"total amount in %s\",\"language\":\"sql\",\"dataset\":\"%s\"}",
	};
	static const char *const hidden[] = { "secret_fin", "SECRET_FIN", "Secret_Fin" };
	struct reply r;
	(void)state;

	upload("secret_fin", fin, "account,amount\nrent,100\n", 201);
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		char *missing = analyze_404(sales, modes[m], "absent_xyz");

		for (size_t h = 0; h < sizeof(hidden) / sizeof(hidden[0]); h++) {
			char *seen = analyze_404(sales, modes[m], hidden[h]);

			if (strcmp(seen, missing) != 0)
				fail_msg("mode %zu, %s: %s\nbut a missing dataset: %s", m, hidden[h],
					 seen, missing);
			free(seen);
		}
		free(missing);
	}
	for (size_t h = 0; h < sizeof(hidden) / sizeof(hidden[0]); h++) {
		char path[200];

		snprintf(path, sizeof(path), "/api/datasets/%s", hidden[h]);
		send_csv("PUT", path, sales, "account,amount\nx,1\n", &r);
		assert_int_equal(r.status, 404);
		hl_reply_free(&r);
		hl_call(&srv, "DELETE", path, sales, NULL, &r);
		assert_int_equal(r.status, 404);
		hl_reply_free(&r);
		snprintf(path, sizeof(path), "/api/datasets/%s/rows", hidden[h]);
		send_csv("POST", path, sales, "account,amount\nx,1\n", &r);
		assert_int_equal(r.status, 404);
		hl_reply_free(&r);
	}
	/* The files are finance's still. */
	assert_int_equal(sql_value(fin, "secret_fin", "sum(amount)"), 100);
}

/* Appends written differently from the upload: a byte order mark, the
 * header in upper case, CRLF line ends, a semicolon-separated file. Each
 * adds its rows, readable in SQL and as CSV rows in Python with the
 * dataset's columns; a header in another order or with another count of
 * columns changes nothing. */
static void appends_in_other_spellings_keep_the_csv_whole(void **state)
{
	static const char *const fits[] = {
		"\xEF\xBB\xBFitem,qty\nb1,1\n",
		"ITEM,QTY\nb2,2\n",
		"item,qty\r\nb3,3\r\n",
		"item;qty\nb4;4\n",
	};
	static const char *const refused[] = {
		"qty,item\n5,b5\n",
		"item,qty,extra\nb6,6,x\n",
		"item\nb7\n",
	};
	const char *py = "{\"language\":\"python\",\"dataset\":\"stock_fin\",\"code\":"
			 "\"import csv\\nrows = list(csv.reader(open('/data/stock_fin.csv', "
			 "newline='')))\\nprint(rows[0], len(rows), sum(int(r[1]) for r in rows[1:]), "
			 "all(len(r) == 2 for r in rows))\"}";
	struct reply r;
	(void)state;

	upload("stock_fin", fin, "item,qty\na0,10\n", 201);
	for (size_t i = 0; i < sizeof(fits) / sizeof(fits[0]); i++) {
		send_csv("POST", "/api/datasets/stock_fin/rows", fin, fits[i], &r);
		if (r.status != 200)
			fail_msg("append %zu: %ld %s", i, r.status, r.body);
		hl_reply_free(&r);
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		send_csv("POST", "/api/datasets/stock_fin/rows", fin, refused[i], &r);
		if (r.status != 400)
			fail_msg("append refused %zu: %ld %s", i, r.status, r.body);
		hl_reply_free(&r);
	}
	assert_int_equal(sql_value(fin, "stock_fin", "count(*)"), 5);
	assert_int_equal(sql_value(fin, "stock_fin", "sum(qty)"), 20);
	hl_call_timeout(&srv, "POST", "/api/analyze", fin, py, strlen(py), NULL, 60000, &r);
	if (r.status != 200)
		fail_msg("python: %ld %s", r.status, r.body);
	if (!strstr(hl_str(r.json, "output"), "['item', 'qty'] 6 20 True"))
		fail_msg("the CSV Python reads: %s", hl_str(r.json, "output"));
	hl_reply_free(&r);
}

#define BASE_ROWS 150000L
#define APPENDS 4

/* Appends by several analysts of the team at once each add their rows:
 * every append builds on the version the one before it made, in SQL and
 * in the CSV Python reads, and the versions count one per append. */
static void appends_at_once_lose_no_rows(void **state)
{
	char *base = big_csv(BASE_ROWS);
	struct change c[APPENDS];
	char rows[APPENDS][64];
	(void)state;

	upload("ledger_big", fin, base, 201);
	free(base);
	for (int i = 0; i < APPENDS; i++) {
		snprintf(rows[i], sizeof(rows[i]), "id,amount\n%ld,%d\n", BASE_ROWS + i, 7);
		c[i] = (struct change){ "POST", "/api/datasets/ledger_big/rows", i % 2 ? fin2 : fin,
					rows[i], { 0 } };
	}
	changes_at_once(c, APPENDS);
	for (int i = 0; i < APPENDS; i++) {
		if (c[i].r.status != 200)
			fail_msg("append %d: %ld %s", i, c[i].r.status, c[i].r.body);
		hl_reply_free(&c[i].r);
	}
	assert_int_equal(sql_value(fin, "ledger_big", "count(*)"), BASE_ROWS + APPENDS);
	assert_int_equal(sql_value(fin, "ledger_big", "count(DISTINCT id)"), BASE_ROWS + APPENDS);
	assert_int_equal(csv_lines(fin, "ledger_big"), BASE_ROWS + APPENDS + 1);
}

/* Bytes of the regular files in DATA_DIR/name, as the quota counts them. */
static long long folder_bytes(const char *name)
{
	char path[700], file[1000];
	long long bytes = 0;
	struct dirent *de;
	struct stat st;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", srv.data, name);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		if (lstat(file, &st) == 0 && S_ISREG(st.st_mode))
			bytes += st.st_size;
	}
	closedir(d);
	return bytes;
}

static long long recorded(const char *what, const char *name)
{
	char sql[200];

	snprintf(sql, sizeof(sql), "SELECT %s FROM datasets WHERE name = '%s'", what, name);
	return dl_db_value(&srv, sql);
}

/* The team's bytes follow its datasets' files through upload, append,
 * replace (with a smaller file) and delete, back to nothing. */
static void quota_bytes_follow_the_files(void **state)
{
	const char *team = "SELECT coalesce(sum(bytes), 0) FROM datasets WHERE team = 'sales'";
	struct reply r;
	(void)state;

	assert_int_equal(dl_db_value(&srv, team), 0);
	upload("leads_sales", sales, "lead;value\nacme;1,5\nglobex;2,5\n", 201);
	assert_int_equal(recorded("bytes", "leads_sales"), folder_bytes("leads_sales"));
	send_csv("POST", "/api/datasets/leads_sales/rows", sales, "lead,value\ninitech,3.5\n", &r);
	assert_int_equal(r.status, 200);
	hl_reply_free(&r);
	assert_int_equal(recorded("bytes", "leads_sales"), folder_bytes("leads_sales"));
	assert_int_equal(recorded("version", "leads_sales"), 2);
	send_csv("PUT", "/api/datasets/leads_sales", sales, "lead,value\nx,1\n", &r);
	assert_int_equal(r.status, 200);
	hl_reply_free(&r);
	assert_int_equal(recorded("bytes", "leads_sales"), folder_bytes("leads_sales"));
	assert_int_equal(dl_db_value(&srv, team), folder_bytes("leads_sales"));
	hl_call(&srv, "DELETE", "/api/datasets/leads_sales", sales, NULL, &r);
	assert_int_equal(r.status, 200);
	hl_reply_free(&r);
	assert_int_equal(dl_db_value(&srv, team), 0);
}

/* The server killed (SIGKILL) while an append of a big dataset is being
 * built: after a restart the record and the folder agree (the rows are
 * there exactly when the version counts them), and the dataset's change
 * lock, held by the dead process, does not stop the next append. */
static void a_kill_during_an_append_leaves_record_and_files_agreeing(void **state)
{
	char *base = big_csv(BASE_ROWS);
	struct change c = { "POST", "/api/datasets/crash_big/rows", fin, "id,amount\n-1,7\n", { 0 } };
	long long version;
	pthread_t t;
	struct reply r;
	(void)state;

	upload("crash_big", fin, base, 201);
	free(base);
	assert_int_equal(pthread_create(&t, NULL, change_run, &c), 0);
	usleep(100000);
	hl_stop(&srv, SIGKILL);
	assert_int_equal(pthread_join(t, NULL), 0);
	hl_reply_free(&c.r);
	hl_start(&srv);
	version = recorded("version", "crash_big");
	assert_true(version == 1 || version == 2);
	assert_int_equal(sql_value(fin, "crash_big", "count(*)"), BASE_ROWS + version - 1);
	assert_int_equal(csv_lines(fin, "crash_big"), BASE_ROWS + version);
	assert_int_equal(recorded("bytes", "crash_big"), folder_bytes("crash_big"));
	send_csv("POST", "/api/datasets/crash_big/rows", fin, "id,amount\n-2,7\n", &r);
	if (r.status != 200)
		fail_msg("append after the restart: %ld %s", r.status, r.body);
	assert_int_equal(json_integer_value(json_object_get(r.json, "version")), version + 1);
	hl_reply_free(&r);
}

/* An operator put a folder by hand beside a team's dataset, its name
 * differing only in case. Deleting that folder by its spelling must not
 * drop the record that still owns the team's folder: without it the
 * team's dataset would be the organisation's, readable by every team. */
static void deleting_a_case_twin_keeps_the_team_dataset_hidden(void **state)
{
	char path[700];
	struct reply r;
	FILE *f;
	(void)state;

	upload("Budget_fin", fin, "line,amount\nbonus,900\n", 201);
	snprintf(path, sizeof(path), "%s/budget_fin", srv.data);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/budget_fin/budget_fin.csv", srv.data);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("line,amount\nprinted,1\n", f);
	fclose(f);
	hl_call(&srv, "DELETE", "/api/datasets/budget_fin", root, NULL, &r);
	assert_int_equal(r.status, 200);
	hl_reply_free(&r);
	hl_call(&srv, "GET", "/api/datasets", sales, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_null(strstr(r.body, "udget_fin"));
	hl_reply_free(&r);
	assert_int_equal(sql_value(fin, "Budget_fin", "sum(amount)"), 900);
	hl_call_timeout(&srv, "POST", "/api/analyze", sales,
			"{\"language\":\"sql\",\"dataset\":\"Budget_fin\",\"code\":\"SELECT 1\"}",
			strlen("{\"language\":\"sql\",\"dataset\":\"Budget_fin\",\"code\":\"SELECT 1\"}"),
			NULL, 60000, &r);
	assert_int_equal(r.status, 404);
	hl_reply_free(&r);
}

/* A record whose folder is gone (a crash between recording an upload and
 * putting its folder in place, or an operator's rm): the owner team can
 * delete it, which frees the name; another team still gets the 404 of a
 * missing dataset. */
static void a_record_without_its_folder_can_be_deleted(void **state)
{
	char path[700], cmd[800];
	struct reply r;
	(void)state;

	upload("lost_fin", fin, "k,v\na,1\n", 201);
	snprintf(path, sizeof(path), "%s/lost_fin", srv.data);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
	upload("lost_fin", fin, "k,v\nb,2\n", 409);
	hl_call(&srv, "DELETE", "/api/datasets/lost_fin", sales, NULL, &r);
	assert_int_equal(r.status, 404);
	hl_reply_free(&r);
	hl_call(&srv, "DELETE", "/api/datasets/LOST_FIN", fin2, NULL, &r);
	if (r.status != 200)
		fail_msg("delete of a record without its folder: %ld %s", r.status, r.body);
	hl_reply_free(&r);
	assert_int_equal(recorded("count(*)", "lost_fin"), 0);
	upload("lost_fin", sales, "k,v\nc,3\n", 201);
	assert_int_equal(sql_value(sales, "lost_fin", "sum(v)"), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hidden_dataset_answers_as_missing),
		cmocka_unit_test(appends_at_once_lose_no_rows),
		cmocka_unit_test(appends_in_other_spellings_keep_the_csv_whole),
		cmocka_unit_test(quota_bytes_follow_the_files),
		cmocka_unit_test(deleting_a_case_twin_keeps_the_team_dataset_hidden),
		cmocka_unit_test(a_record_without_its_folder_can_be_deleted),
		cmocka_unit_test(a_kill_during_an_append_leaves_record_and_files_agreeing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
