/*
 * Attacks on the HTTP server's edges, over real HTTP against a real
 * server and real sandboxes: URLs whose escapes try to reach another
 * route (an encoded '/', double encoding, broken escapes) get a clear
 * 4xx, and CSV cells a spreadsheet could still read as formulas (behind
 * a line feed, or written with fullwidth signs) are quoted.
 */
#include "http/httplib.h"
#include "util/banned.h"

static struct server srv;
static char *alice;

static char *env_vars[] = { "LEDGERBOX_CACHE=off", "LEDGERBOX_MAX_RUNS=2",
			    "LEDGERBOX_WARM_POOL_MIN=0", NULL };

static int setup(void **state)
{
	(void)state;
	hl_prepare(&srv, "server-attacks", env_vars);
	alice = hl_key_create(&srv, "alice", "finance", "analyst");
	hl_start(&srv);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(alice);
	return hl_finish(&srv);
}

static void run_sql(const char *sql, char *id, size_t id_len)
{
	char body[1024];
	struct reply r;

	snprintf(body, sizeof(body), "{\"language\":\"sql\",\"dataset\":\"demo\",\"code\":\"%s\"}",
		 sql);
	hl_call(&srv, "POST", "/api/analyze", alice, body, &r);
	if (r.status != 200)
		fail_msg("run: %ld %.300s", r.status, r.body);
	snprintf(id, id_len, "%s", hl_str(r.json, "id"));
	hl_reply_free(&r);
}

/* Answers 4xx, with code when given, and never a body of another route. */
static void expect_refused(const char *method, const char *path, long want, const char *code)
{
	struct reply r;

	hl_call(&srv, method, path, alice, NULL, &r);
	if (r.status != want)
		fail_msg("%s %s: %ld (wanted %ld) %.300s", method, path, r.status, want, r.body);
	if (code)
		assert_string_equal(hl_str(json_object_get(r.json, "error"), "code"), code);
	hl_reply_free(&r);
}

static void encoded_slash_never_routes_elsewhere(void **state)
{
	char id[64], path[256];
	struct reply r;
	(void)state;

	run_sql("SELECT 1 AS n", id, sizeof(id));
	/* Unescaped before routing, these would be the run's table, a
	 * dataset's publication and a dataset's rows. */
	snprintf(path, sizeof(path), "/api/runs/%s%%2Ftable.csv", id);
	expect_refused("GET", path, 400, "invalid_url");
	snprintf(path, sizeof(path), "/api/runs/%s%%2ftable.csv", id);
	expect_refused("GET", path, 400, "invalid_url");
	expect_refused("POST", "/api/datasets/demo%2Fpublish", 400, "invalid_url");
	expect_refused("POST", "/api/datasets/demo%2Frows", 400, "invalid_url");
	/* Double encoding is unescaped once: a name holding "%00", not found. */
	snprintf(path, sizeof(path), "/api/runs/%s%%2500", id);
	expect_refused("GET", path, 404, NULL);
	snprintf(path, sizeof(path), "/api/runs/%s%%252Ftable.csv", id);
	expect_refused("GET", path, 404, NULL);
	/* Broken escapes are kept as written: names that do not exist. */
	snprintf(path, sizeof(path), "/api/runs/%s%%", id);
	expect_refused("GET", path, 404, NULL);
	snprintf(path, sizeof(path), "/api/runs/%s%%zz", id);
	expect_refused("GET", path, 404, NULL);
	/* A '/' encoded in a query value is still a value. */
	hl_call(&srv, "GET", "/api/runs?user=a%2Fb", alice, NULL, &r);
	assert_int_not_equal(r.status, 500);
	assert_int_not_equal(r.status, 400);
	hl_reply_free(&r);
	/* The same run without the escapes is served. */
	snprintf(path, sizeof(path), "/api/runs/%s/table.csv", id);
	expect_refused("GET", path, 200, NULL);
}

static void csv_quotes_formulas_behind_lf_and_fullwidth_signs(void **state)
{
	char id[64], path[128];
	struct reply r;
	/* ＝ ＋ － ＠ (U+FF1D, U+FF0B, U+FF0D, U+FF20): spreadsheets in East
	 * Asian locales turn them into = + - @ as text is entered. */
	const char *want = "a,b,c,d,e\r\n"
			   "\"'\n-1+1\",'\xef\xbc\x9d" "1+1,'\xef\xbc\x8b" "cmd,'\xef\xbc\x8d" "2,"
			   "'\xef\xbc\xa0SUM(A1)\r\n";
	(void)state;

	run_sql("SELECT char(10) || '-1+1' AS a, char(65309) || '1+1' AS b, "
		"char(65291) || 'cmd' AS c, char(65293) || '2' AS d, "
		"char(65312) || 'SUM(A1)' AS e",
		id, sizeof(id));
	snprintf(path, sizeof(path), "/api/runs/%s/table.csv", id);
	hl_call(&srv, "GET", path, alice, NULL, &r);
	assert_int_equal(r.status, 200);
	if (r.len != strlen(want) || memcmp(r.body, want, r.len) != 0)
		fail_msg("table.csv: %s", r.body);
	hl_reply_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encoded_slash_never_routes_elsewhere),
		cmocka_unit_test(csv_quotes_formulas_behind_lf_and_fullwidth_signs),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
