/*
 * Attacks on datasets over real HTTP, kept as regression tests: an
 * analyst of team sales with a valid key tries to reach team finance's
 * datasets through every route that names one, and the teams' own
 * analysts change a dataset from several requests at once, which must not
 * lose a change nor leave a record and a folder that disagree. Runs with
 * LEDGERBOX_TEST_BACKEND=postgres too.
 */
#include <pthread.h>
#include <sqlite3.h>

#include "httplib.h"

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
	hl_call_timeout(&srv, method, path, key, csv, strlen(csv), "text/csv", 60000, r);
}

static void upload(const char *name, const char *key, const char *csv, long status)
{
	char path[200];
	struct reply r;

	snprintf(path, sizeof(path), "/api/datasets?name=%s", name);
	send_csv("POST", path, key, csv, &r);
	if (r.status != status)
		fail_msg("upload %s: %ld %s", name, r.status, r.body);
	hl_reply_free(&r);
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
		"{\"language\":\"python\",\"dataset\":\"%s\",\"code\":"
		"\"print(open('/data/%s.csv').read())\"}",
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hidden_dataset_answers_as_missing),
		cmocka_unit_test(appends_at_once_lose_no_rows),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
