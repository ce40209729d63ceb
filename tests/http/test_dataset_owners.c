/*
 * End-to-end tests of dataset ownership over real HTTP: two teams'
 * analysts and an admin. A team's dataset is listed, queried, used by
 * templates and served from the cache only for its team (and admins); the
 * organisation's (the demo, published ones) for everyone. Names are
 * unique ignoring case; a dataset is replaced (a new version, with runs
 * and cache entries of the old one kept to it) and deleted by its team or
 * an admin only, each change audited; a team's uploads stop at its quota.
 * Runs with LEDGERBOX_TEST_BACKEND=postgres too.
 */
#include "datasetlib.h"

static struct server srv;
static char *fin, *fin2, *sales, *root;
/* A small quota, so that a few uploads reach it. */
static char *env_vars[] = { "LEDGERBOX_MAX_RUNS=2", "LEDGERBOX_DATASET_QUOTA_BYTES=64K", NULL };

static int setup(void **state)
{
	(void)state;
	hl_prepare(&srv, "owners", env_vars);
	fin = hl_key_create(&srv, "fiona", "finance", "analyst");
	fin2 = hl_key_create(&srv, "frank", "finance", "analyst");
	sales = hl_key_create(&srv, "sam", "sales", "analyst");
	root = hl_key_create(&srv, "root", "it", "admin");
	hl_start(&srv);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	hl_stop(&srv, SIGTERM);
	free(fin);
	free(fin2);
	free(sales);
	free(root);
	curl_global_cleanup();
	return 0;
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

static bool listed(const char *key, const char *name)
{
	struct reply r;
	json_t *list, *item;
	size_t i;
	bool found = false;

	hl_call(&srv, "GET", "/api/datasets", key, NULL, &r);
	assert_int_equal(r.status, 200);
	list = json_object_get(r.json, "datasets");
	json_array_foreach(list, i, item)
		found |= strcmp(hl_str(item, "name"), name) == 0;
	hl_reply_free(&r);
	return found;
}

static long analyze_status(const char *key, const char *body, struct reply *r)
{
	hl_call_timeout(&srv, "POST", "/api/analyze", key, body, strlen(body), NULL, 60000, r);
	return r->status;
}

/* Entries of the audit log with this action and subject, read from the
 * server's database (SQLite file or PostgreSQL). */
static long audit_count(const char *action, const char *subject)
{
	char sql[300];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit WHERE action = '%s' AND subject = '%s'",
		 action, subject);
	return (long)dl_db_value(&srv, sql);
}

/* A team's dataset is the team's: another team neither lists, nor
 * queries, nor runs a template or asks in words over it; the answer is
 * the same 404 as for a dataset that does not exist. */
static void team_datasets_stay_with_their_team(void **state)
{
	const char *csv = "account,amount\nrent,100\nsalaries,250\n";
	const char *sql = "{\"language\":\"sql\",\"dataset\":\"ledger_fin\",\"code\":"
			  "\"SELECT sum(amount) AS total FROM ledger_fin\"}";
	const char *py = "{\"language\":\"python\",\"dataset\":\"ledger_fin\",\"code\":"
			 "\"print(open('/data/ledger_fin.csv').read())\"}";
	const char *tpl = "{\"template\":\"top_customers\",\"dataset\":\"ledger_fin\"}";
	const char *ask = "{\"query\":\"total amount\",\"language\":\"sql\",\"dataset\":\"ledger_fin\"}";
	const char *none = "{\"language\":\"sql\",\"dataset\":\"no_such\",\"code\":\"SELECT 1\"}";
	struct reply r, missing;
	(void)state;

	upload("ledger_fin", fin, csv, 201);
	assert_true(listed(fin, "ledger_fin"));
	assert_true(listed(fin2, "ledger_fin"));
	assert_true(listed(root, "ledger_fin"));
	assert_false(listed(sales, "ledger_fin"));
	/* The organisation's demo is everyone's. */
	assert_true(listed(sales, "demo"));
	assert_true(listed(fin, "demo"));

	assert_int_equal(analyze_status(fin2, sql, &r), 200);
	assert_true(json_real_value(json_array_get(json_array_get(
			    json_object_get(json_object_get(r.json, "table"), "rows"), 0), 0)) == 350 ||
		    json_integer_value(json_array_get(json_array_get(
			    json_object_get(json_object_get(r.json, "table"), "rows"), 0), 0)) == 350);
	hl_reply_free(&r);
	assert_int_equal(analyze_status(root, sql, &r), 200);
	hl_reply_free(&r);

	assert_int_equal(analyze_status(sales, none, &missing), 404);
	for (int i = 0; i < 4; i++) {
		const char *body = i == 0 ? sql : i == 1 ? py : i == 2 ? tpl : ask;
		assert_int_equal(analyze_status(sales, body, &r), 404);
		assert_string_equal(hl_str(json_object_get(r.json, "error"), "code"), "unknown_dataset");
		assert_null(strstr(r.body, "finance"));
		hl_reply_free(&r);
	}
	hl_reply_free(&missing);
}

/* "DEMO" cannot be uploaded beside the demo, nor "LEDGER_FIN" beside a
 * team's dataset (even by another team that cannot see it). */
static void names_are_unique_ignoring_case(void **state)
{
	const char *csv = "a,b\n1,2\n";
	struct reply r;
	(void)state;

	send_csv("POST", "/api/datasets?name=DEMO", fin, csv, &r);
	assert_int_equal(r.status, 409);
	assert_string_equal(hl_str(json_object_get(r.json, "error"), "code"), "dataset_exists");
	assert_non_null(strstr(r.body, "ignoring case"));
	hl_reply_free(&r);
	upload("Owned_By_Fin", fin, csv, 201);
	upload("OWNED_BY_FIN", sales, csv, 409);
	upload("owned_by_fin", fin, csv, 409);
	assert_false(listed(fin, "OWNED_BY_FIN"));
}

/* Replace: a new version whose runs and cache entries are its own; the
 * old version's run keeps saying which version and files it ran on. */
static void replace_makes_a_new_version(void **state)
{
	const char *v1 = "item,qty\nbolt,3\nnut,4\n", *v2 = "item,qty\nbolt,30\nnut,40\nrod,5\n";
	const char *sql = "{\"language\":\"sql\",\"dataset\":\"stock_fin\",\"code\":"
			  "\"SELECT sum(qty) AS total FROM stock_fin\"}";
	char fp1[80], run1[64], path[128];
	json_t *ver;
	struct reply r;
	(void)state;

	upload("stock_fin", fin, v1, 201);
	/* Twice, until the answer is cached (a fingerprint settles within a
	 * clock tick of the upload). */
	bool cached = false;
	for (int i = 0; i < 50 && !cached; i++) {
		assert_int_equal(analyze_status(fin, sql, &r), 200);
		cached = json_is_true(json_object_get(r.json, "cacheHit"));
		assert_int_equal(json_integer_value(json_array_get(json_array_get(
					 json_object_get(json_object_get(r.json, "table"), "rows"), 0), 0)),
				 7);
		ver = json_object_get(r.json, "datasetVersion");
		assert_int_equal(json_integer_value(json_object_get(ver, "version")), 1);
		if (i == 0) {
			snprintf(run1, sizeof(run1), "%s", hl_str(r.json, "id"));
			snprintf(fp1, sizeof(fp1), "%s", hl_str(ver, "fingerprint"));
		}
		hl_reply_free(&r);
		if (!cached)
			usleep(50000);
	}
	assert_true(cached);
	/* The cached answer is the team's: another team is told there is no
	 * such dataset, not served the entry. */
	assert_int_equal(analyze_status(sales, sql, &r), 404);
	assert_false(json_is_true(json_object_get(r.json, "cacheHit")));
	hl_reply_free(&r);

	/* Another team may not replace it; the owner team may. */
	send_csv("PUT", "/api/datasets/stock_fin", sales, v2, &r);
	assert_int_equal(r.status, 404);
	hl_reply_free(&r);
	send_csv("PUT", "/api/datasets/stock_fin", fin2, v2, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "version")), 2);
	assert_int_equal(json_integer_value(json_object_get(r.json, "rows")), 3);
	hl_reply_free(&r);
	assert_true(audit_count("dataset.replace", "stock_fin") == 1);

	/* The new version is answered afresh, never from the old one's cache. */
	assert_int_equal(analyze_status(fin, sql, &r), 200);
	assert_false(json_is_true(json_object_get(r.json, "cacheHit")));
	assert_int_equal(json_integer_value(json_array_get(json_array_get(
				 json_object_get(json_object_get(r.json, "table"), "rows"), 0), 0)),
			 75);
	ver = json_object_get(r.json, "datasetVersion");
	assert_int_equal(json_integer_value(json_object_get(ver, "version")), 2);
	assert_string_not_equal(hl_str(ver, "fingerprint"), fp1);
	hl_reply_free(&r);

	/* The old run still names version 1 and its files. */
	snprintf(path, sizeof(path), "/api/runs/%s", run1);
	hl_call(&srv, "GET", path, fin, NULL, &r);
	assert_int_equal(r.status, 200);
	ver = json_object_get(r.json, "datasetVersion");
	if (!ver)
		ver = json_object_get(json_object_get(r.json, "result"), "datasetVersion");
	assert_int_equal(json_integer_value(json_object_get(ver, "version")), 1);
	assert_string_equal(hl_str(ver, "fingerprint"), fp1);
	hl_reply_free(&r);
}

/* Append: rows with the table's columns make the next version, in SQL and
 * in the CSV Python reads; a mismatch is refused with its line, and
 * nothing changes. */
static void append_adds_rows_or_says_which_line_does_not_fit(void **state)
{
	const char *v1 = "item,qty,price\nbolt,3,0.5\nnut,4,0.25\n";
	const char *more = "item,qty,price\nrod,5,2\nwasher,6,0.1\n";
	const char *text_in_int = "item,qty,price\npin,7,1\n\nclip,many,2\n";
	const char *fraction = "item,qty,price\npin,7.5,1\n";
	const char *other_cols = "item,count,price\npin,7,1\n";
	const char *sql = "{\"language\":\"sql\",\"dataset\":\"parts_fin\",\"code\":"
			  "\"SELECT count(*), sum(qty) FROM parts_fin\"}";
	const char *py = "{\"language\":\"python\",\"dataset\":\"parts_fin\",\"code\":"
			 "\"print(len(open('/data/parts_fin.csv').read().splitlines()))\"}";
	struct reply r;
	json_t *row;
	(void)state;

	upload("parts_fin", fin, v1, 201);
	send_csv("POST", "/api/datasets/parts_fin/rows", sales, more, &r);
	assert_int_equal(r.status, 404);
	hl_reply_free(&r);
	send_csv("POST", "/api/datasets/parts_fin/rows", fin2, more, &r);
	if (r.status != 200)
		fail_msg("append: %ld %s", r.status, r.body);
	assert_int_equal(json_integer_value(json_object_get(r.json, "rows")), 4);
	assert_int_equal(json_integer_value(json_object_get(r.json, "appended_rows")), 2);
	assert_int_equal(json_integer_value(json_object_get(r.json, "version")), 2);
	hl_reply_free(&r);
	assert_true(audit_count("dataset.append", "parts_fin") == 1);

	assert_int_equal(analyze_status(fin, sql, &r), 200);
	row = json_array_get(json_object_get(json_object_get(r.json, "table"), "rows"), 0);
	assert_int_equal(json_integer_value(json_array_get(row, 0)), 4);
	assert_int_equal(json_integer_value(json_array_get(row, 1)), 18);
	hl_reply_free(&r);
	assert_int_equal(analyze_status(fin, py, &r), 200);
	assert_non_null(strstr(hl_str(r.json, "output"), "5"));
	hl_reply_free(&r);

	/* Text in an integer column: refused at its physical line (4: the
	 * blank line counts). */
	send_csv("POST", "/api/datasets/parts_fin/rows", fin, text_in_int, &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "line 4: many"));
	assert_non_null(strstr(r.body, "qty"));
	hl_reply_free(&r);
	send_csv("POST", "/api/datasets/parts_fin/rows", fin, fraction, &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "line 2"));
	assert_non_null(strstr(r.body, "integer"));
	hl_reply_free(&r);
	send_csv("POST", "/api/datasets/parts_fin/rows", fin, other_cols, &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "line 1"));
	assert_non_null(strstr(r.body, "count"));
	hl_reply_free(&r);
	/* Nothing changed. */
	assert_int_equal(analyze_status(fin, sql, &r), 200);
	row = json_array_get(json_object_get(json_object_get(r.json, "table"), "rows"), 0);
	assert_int_equal(json_integer_value(json_array_get(row, 0)), 4);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r.json, "datasetVersion"),
							   "version")), 2);
	hl_reply_free(&r);
}

/* Delete: the owner team or an admin, audited; the organisation's only
 * by an admin. */
static void delete_is_for_the_owner_team_or_an_admin(void **state)
{
	const char *csv = "k,v\nx,1\n";
	struct reply r;
	(void)state;

	upload("temp_fin", fin, csv, 201);
	/* A dataset that does not exist is 404 to an analyst, not "the
	 * organisation's". */
	hl_call(&srv, "DELETE", "/api/datasets/no_such", fin, NULL, &r);
	assert_int_equal(r.status, 404);
	hl_reply_free(&r);
	send_csv("PUT", "/api/datasets/no_such", fin, csv, &r);
	assert_int_equal(r.status, 404);
	hl_reply_free(&r);
	hl_call(&srv, "DELETE", "/api/datasets/temp_fin", sales, NULL, &r);
	assert_int_equal(r.status, 404);
	hl_reply_free(&r);
	hl_call(&srv, "DELETE", "/api/datasets/demo", fin, NULL, &r);
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(r.body, "organisation"));
	hl_reply_free(&r);
	assert_true(listed(fin, "temp_fin"));
	hl_call(&srv, "DELETE", "/api/datasets/temp_fin", fin2, NULL, &r);
	assert_int_equal(r.status, 200);
	hl_reply_free(&r);
	assert_false(listed(fin, "temp_fin"));
	assert_true(audit_count("dataset.delete", "temp_fin") == 1);
	assert_true(audit_count("dataset.create", "temp_fin") == 1);
	/* The name is free again. */
	upload("temp_fin", sales, csv, 201);
	assert_false(listed(fin, "temp_fin"));
}

/* Publish: admins only; then every team reads it. */
static void an_admin_publishes_to_the_organisation(void **state)
{
	const char *csv = "k,v\nx,1\n";
	struct reply r;
	(void)state;

	upload("rates_fin", fin, csv, 201);
	hl_call(&srv, "POST", "/api/datasets/rates_fin/publish", fin, NULL, &r);
	assert_int_equal(r.status, 403);
	hl_reply_free(&r);
	assert_false(listed(sales, "rates_fin"));
	hl_call(&srv, "POST", "/api/datasets/rates_fin/publish", root, NULL, &r);
	assert_int_equal(r.status, 200);
	hl_reply_free(&r);
	assert_true(listed(sales, "rates_fin"));
	assert_true(audit_count("dataset.publish", "rates_fin") == 1);
	/* Now the organisation's: its former team may no longer delete it. */
	hl_call(&srv, "DELETE", "/api/datasets/rates_fin", fin, NULL, &r);
	assert_int_equal(r.status, 403);
	hl_reply_free(&r);
	/* publish=true on upload: admins only. */
	send_csv("POST", "/api/datasets?name=fx_org&publish=true", fin, csv, &r);
	assert_int_equal(r.status, 403);
	hl_reply_free(&r);
	send_csv("POST", "/api/datasets?name=fx_org&publish=true", root, csv, &r);
	assert_int_equal(r.status, 201);
	hl_reply_free(&r);
	assert_true(listed(sales, "fx_org"));
}

/* A team's datasets stop at its quota, with which quota, used and limit;
 * another team is not affected. */
static void uploads_stop_at_the_team_quota(void **state)
{
	size_t rows = 3000, len = 0;
	char *csv = malloc(rows * 20 + 32);
	struct reply r;
	json_t *e;
	(void)state;

	len += (size_t)sprintf(csv + len, "id,label\n");
	for (size_t i = 0; i < rows; i++)
		len += (size_t)sprintf(csv + len, "%zu,row%zu\n", i, i);
	send_csv("POST", "/api/datasets?name=big_sales", sales, csv, &r);
	assert_int_equal(r.status, 413);
	e = json_object_get(r.json, "error");
	assert_string_equal(hl_str(e, "code"), "quota_exceeded");
	assert_string_equal(hl_str(e, "quota"), "team_dataset_bytes");
	assert_int_equal(json_integer_value(json_object_get(e, "limit_bytes")), 65536);
	assert_true(json_integer_value(json_object_get(e, "used_bytes")) >= 0);
	assert_non_null(strstr(hl_str(e, "message"), "LEDGERBOX_DATASET_QUOTA_BYTES"));
	hl_reply_free(&r);
	assert_false(listed(sales, "big_sales"));
	/* The organisation's datasets count against no team. */
	send_csv("POST", "/api/datasets?name=big_org&publish=true", root, csv, &r);
	assert_int_equal(r.status, 201);
	hl_reply_free(&r);
	free(csv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(team_datasets_stay_with_their_team),
		cmocka_unit_test(names_are_unique_ignoring_case),
		cmocka_unit_test(replace_makes_a_new_version),
		cmocka_unit_test(append_adds_rows_or_says_which_line_does_not_fit),
		cmocka_unit_test(delete_is_for_the_owner_team_or_an_admin),
		cmocka_unit_test(an_admin_publishes_to_the_organisation),
		cmocka_unit_test(uploads_stop_at_the_team_quota),
	};

	return cmocka_run_group_tests_name("dataset_owners", tests, setup, teardown);
}
