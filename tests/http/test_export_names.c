/*
 * What a run exports cannot mislead whoever opens it, over real HTTP and
 * real sandboxes: CSV cells a spreadsheet would read as formulas (also
 * behind a leading TAB or CR) are quoted; a %00 in a URL is refused, not
 * cut short; file names with bidirectional controls are refused when a
 * run writes them (with a note in the answer) and when a URL asks for one.
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
	hl_prepare(&srv, "export-names", env_vars);
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

/* Runs `body` and copies the run's id; returns the answer (caller frees). */
static void run(const char *body, char *id, size_t id_len, struct reply *r)
{
	hl_call(&srv, "POST", "/api/analyze", alice, body, r);
	if (r->status != 200)
		fail_msg("run: %ld %.300s", r->status, r->body);
	snprintf(id, id_len, "%s", hl_str(r->json, "id"));
}

static void expect_status(const char *path, long want, const char *code)
{
	struct reply r;

	hl_call(&srv, "GET", path, alice, NULL, &r);
	if (r.status != want)
		fail_msg("GET %s: %ld (wanted %ld) %.300s", path, r.status, want, r.body);
	if (code)
		assert_string_equal(hl_str(json_object_get(r.json, "error"), "code"), code);
	hl_reply_free(&r);
}

static void csv_quotes_formulas_behind_tab_and_cr(void **state)
{
	char id[64], path[128];
	struct reply r;
	const char *want = "a,b,c,d,e,f\r\n"
			   "'\t=1+1,\"'\r@SUM(A1)\",'\t-5,'=2,-3,\"'\r+cmd\"\r\n";
	(void)state;

	run("{\"language\":\"sql\",\"dataset\":\"demo\",\"code\":\"SELECT char(9) || '=1+1' AS a, "
	    "char(13) || '@SUM(A1)' AS b, char(9) || '-5' AS c, '=2' AS d, '-3' AS e, "
	    "char(13) || '+cmd' AS f\"}",
	    id, sizeof(id), &r);
	hl_reply_free(&r);
	snprintf(path, sizeof(path), "/api/runs/%s/table.csv", id);
	hl_call(&srv, "GET", path, alice, NULL, &r);
	assert_int_equal(r.status, 200);
	/* Cells holding a CR are quoted as well. */
	if (r.len != strlen(want) || memcmp(r.body, want, r.len) != 0)
		fail_msg("table.csv: %s", r.body);
	hl_reply_free(&r);
}

static const char *files_run =
	"{\"language\":\"python\",\"dataset\":\"demo\",\"code\":\""
	"open('/out/ok.txt', 'w').write('fine')\\n"
	"open('/out/invoice\\u202egnp.txt', 'w').write('x')\\n"
	"open('/out/a\\u2066b.txt', 'w').write('x')\\n"
	"open('/out/mark\\u061c.txt', 'w').write('x')\\n\"}";

static void nul_in_urls_refused(void **state)
{
	char id[64], path[256];
	struct reply r;
	(void)state;

	run(files_run, id, sizeof(id), &r);
	hl_reply_free(&r);
	/* Cut at the NUL, these would name the run and ok.txt. */
	snprintf(path, sizeof(path), "/api/runs/%s%%00x/table.csv", id);
	expect_status(path, 400, "invalid_url");
	snprintf(path, sizeof(path), "/api/runs/%s/artifacts/ok.txt%%00.png", id);
	expect_status(path, 400, "invalid_url");
	expect_status("/api/runs?user=alice%00x", 400, "invalid_url");
	/* Without the NUL the same paths are fine. */
	snprintf(path, sizeof(path), "/api/runs/%s/artifacts/ok.txt", id);
	expect_status(path, 200, NULL);
}

static void bidi_names_refused_when_written(void **state)
{
	char id[64];
	struct reply r;
	json_t *artifacts, *notices;
	(void)state;

	run(files_run, id, sizeof(id), &r);
	assert_string_equal(hl_str(r.json, "status"), "ok");
	artifacts = json_object_get(r.json, "artifacts");
	assert_int_equal(json_array_size(artifacts), 1);
	assert_string_equal(hl_str(json_array_get(artifacts, 0), "name"), "ok.txt");
	assert_int_equal(json_integer_value(json_object_get(r.json, "artifactsSkipped")), 3);
	notices = json_object_get(r.json, "notices");
	assert_int_equal(json_array_size(notices), 1);
	assert_non_null(strstr(json_string_value(json_array_get(notices, 0)), "3 files in /out"));
	assert_non_null(strstr(json_string_value(json_array_get(notices, 0)), "bidirectional"));
	hl_reply_free(&r);
}

static void bidi_names_refused_in_urls(void **state)
{
	const char *names[] = { "invoice%E2%80%AEgnp.txt", "a%E2%81%A6b.txt", "mark%D8%9C.txt",
				"x%E2%80%8F.txt", "%E2%80%AA", "y%E2%81%A9" };
	char id[64], path[256];
	struct reply r;
	(void)state;

	run("{\"language\":\"sql\",\"dataset\":\"demo\",\"code\":\"SELECT 1 AS n\"}", id, sizeof(id),
	    &r);
	hl_reply_free(&r);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "/api/runs/%s/artifacts/%s", id, names[i]);
		expect_status(path, 400, "invalid_name");
	}
	/* Other non-ASCII letters are names like any other. */
	snprintf(path, sizeof(path), "/api/runs/%s/artifacts/r%%C3%%A9sum%%C3%%A9.txt", id);
	expect_status(path, 404, "not_found");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(csv_quotes_formulas_behind_tab_and_cr),
		cmocka_unit_test(nul_in_urls_refused),
		cmocka_unit_test(bidi_names_refused_when_written),
		cmocka_unit_test(bidi_names_refused_in_urls),
	};

	return cmocka_run_group_tests_name("export names", tests, setup, teardown);
}
