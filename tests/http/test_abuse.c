/*
 * Abuse checks against a real `ledgerbox serve` on loopback: secrets kept
 * out of the log and the state folder, path traversal through artifact and
 * dataset names, oversized headers and bodies, JSON bombs, slow clients and
 * key guessing. Requests whose exact bytes matter go over raw sockets; the
 * rest through httplib's libcurl client.
 *
 * The order matters: key guessing runs last and from its own loopback
 * addresses (127.0.0.2, 127.0.0.3) so that no other check is slowed down.
 */
#include <pthread.h>

#include "http/abuselib.h"
#include "support/llm_stub.h"
#include "util/banned.h"

static struct llm_stub *stub;
static char *alice, *root;
static char url_env[128], llm_key_env[128];
static char llm_key[64];

static char *env_vars[] = { url_env, llm_key_env, "LEDGERBOX_CACHE=off", "LEDGERBOX_MAX_RUNS=2",
			    "LEDGERBOX_UPLOAD_MAX_BYTES=256K", "LEDGERBOX_LLM_RETRIES=0",
			    NULL };

static const char *sql_run = "{\"language\":\"sql\",\"dataset\":\"demo\","
			     "\"code\":\"SELECT count(*) AS n FROM accounts\"}";

static int setup(void **state)
{
	(void)state;
	stub = llm_stub_start();
	snprintf(url_env, sizeof(url_env), "LEDGERBOX_LLM_URL=http://127.0.0.1:%d",
		 llm_stub_port(stub));
	snprintf(llm_key, sizeof(llm_key), "llm-marker-%d-QmFyYmF6UXV4", (int)getpid());
	snprintf(llm_key_env, sizeof(llm_key_env), "LEDGERBOX_LLM_KEY=%s", llm_key);
	hl_prepare(&srv, "abuse", env_vars);
	alice = hl_key_create(&srv, "alice", "finance", "analyst");
	root = hl_key_create(&srv, "root", "it", "admin");
	hl_start(&srv);
	return 0;
}

static int teardown(void **state)
{
	/* A clean exit also means no leak was reported under LeakSanitizer. */
	int status = hl_stop(&srv, SIGTERM);

	(void)state;
	llm_stub_stop(stub);
	free(alice);
	free(root);
	curl_global_cleanup();
	if (status != 0)
		printf("not ok - the server exited with status %d; see %s\n", status, srv.log);
	return status == 0 ? 0 : -1;
}

/* ---- secrets ---- */

static void call_expect(const char *method, const char *path, const char *key, const char *body,
			long want)
{
	struct reply r;

	hl_call(&srv, method, path, key, body, &r);
	if (r.status != want)
		fail_msg("%s %s: %ld (wanted %ld) %s", method, path, r.status, want, r.body);
	hl_reply_free(&r);
}

/* Requests that carry the keys the right way and the wrong ways. */
static void secrets_exercise(void)
{
	char hdr[256], path[256];
	struct reply r;

	call_expect("POST", "/api/analyze", alice, sql_run, 200);
	call_expect("POST", "/api/analyze", alice,
		    "{\"query\":\"how many accounts are there?\",\"language\":\"sql\","
		    "\"dataset\":\"demo\"}", 200);
	hl_call_timeout(&srv, "POST", "/api/datasets?name=sales", alice, "day,amount\n1,2.5\n2,3\n",
			strlen("day,amount\n1,2.5\n2,3\n"), "text/csv", 30000, &r);
	assert_int_equal(r.status, 201);
	hl_reply_free(&r);
	call_expect("GET", "/api/keys", root, NULL, 200);
	call_expect("PUT", "/api/budgets/user/alice", root,
		    "{\"limit\":\"50.00\",\"period\":\"weekly\",\"softPercent\":80,\"hard\":true}", 200);
	call_expect("GET", "/api/spend", root, NULL, 200);
	call_expect("GET", "/readyz", NULL, NULL, 200);
	call_expect("GET", "/metrics", NULL, NULL, 200);
	/* The key in the query string, next to a right header and alone. */
	snprintf(path, sizeof(path), "/api/runs?key=%s", alice);
	call_expect("GET", path, alice, NULL, 200);
	call_expect("GET", path, NULL, NULL, 401);
	/* The key in the wrong header, and without "Bearer ". */
	snprintf(hdr, sizeof(hdr), "X-Api-Key: %s", root);
	hl_call_header(&srv, "GET", "/api/keys", NULL, NULL, 0, NULL, 30000, hdr, &r);
	assert_int_equal(r.status, 401);
	hl_reply_free(&r);
	snprintf(hdr, sizeof(hdr), "Authorization: %s", root);
	hl_call_header(&srv, "GET", "/api/keys", NULL, NULL, 0, NULL, 30000, hdr, &r);
	assert_int_equal(r.status, 401);
	hl_reply_free(&r);
}

static void secrets_stay_out_of_logs_and_state(void **state)
{
	char auth[512];
	const char *keys[] = { alice, root, llm_key };
	(void)state;

	secrets_exercise();
	/* The LLM key was really used: the stub got it. */
	llm_stub_last_auth(stub, auth, sizeof(auth));
	assert_true(strncmp(auth, "Bearer ", 7) == 0);
	assert_string_equal(auth + 7, llm_key);
	assert_true(llm_stub_calls(stub, "/api/chat") >= 1);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		/* The whole key, its secret part and any 12 characters of it. */
		const char *secret = strncmp(keys[i], "lbx_", 4) == 0 ? keys[i] + 4 : keys[i];
		ab_assert_absent_file(srv.log, keys[i], 12);
		ab_assert_absent_tree(srv.state, secret, 12);
	}
}

/* ---- path traversal ---- */

static void artifact_names_cannot_escape(void **state)
{
	char run[64], path[512];
	struct reply r;
	const char *names[] = {
		"..%2F..%2Fledgerbox.db", "%2e%2e%2f%2e%2e%2fledgerbox.db", "%2e%2e", "..",
		"../../ledgerbox.db", "%2Fetc%2Fpasswd", "/etc/passwd", "%2F..%2F..%2Fledgerbox.db",
		"table.csv%00.png", "%00", "..%5C..%5Cledgerbox.db", "..\\..\\ledgerbox.db",
		"%2e%2e%5c%2e%2e%5cledgerbox.db", ".ledgerbox-table.csv", "..%2Fartifacts",
	};
	int opens;
	(void)state;

	hl_call(&srv, "POST", "/api/analyze", alice, sql_run, &r);
	assert_int_equal(r.status, 200);
	snprintf(run, sizeof(run), "%s", hl_str(r.json, "id"));
	hl_reply_free(&r);
	ab_watch_opens(srv.state);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "/api/runs/%s/artifacts/%s", run, names[i]);
		ab_expect_refused("GET", path, alice);
	}
	/* The run id is a path segment too. */
	ab_expect_refused("GET", "/api/runs/%2e%2e/table.csv", alice);
	ab_expect_refused("GET", "/api/runs/..%2F..%2Fledgerbox.db/table.csv", alice);
	ab_expect_refused("GET", "/api/runs/..%2Fartifacts/artifacts/x", alice);
	opens = ab_watch_end();
	/* Nothing in the state folder (database, pepper, artifacts) was
	 * opened on behalf of these requests. */
	assert_int_equal(opens, 0);
}

static void upload_name(const char *query)
{
	char path[8192], out[4096];
	long status;

	snprintf(path, sizeof(path), "/api/datasets?%s", query);
	status = ab_request("POST", path, alice, "text/csv", "a,b\n1,2\n", out, sizeof(out));
	if (status != 400)
		fail_msg("upload ?%.80s: %ld %s", query, status, out);
}

static void analyze_dataset(const char *name)
{
	char body[8192];
	json_t *j = json_pack("{s:s,s:s,s:s}", "language", "sql", "dataset", name, "code",
			      "SELECT 1");
	char *text = json_dumps(j, JSON_COMPACT);
	struct reply r;

	snprintf(body, sizeof(body), "%s", text);
	free(text);
	json_decref(j);
	hl_call(&srv, "POST", "/api/analyze", alice, body, &r);
	if (r.status != 400 && r.status != 404)
		fail_msg("dataset '%.40s': %ld %s", name, r.status, r.body);
	hl_reply_free(&r);
}

static void dataset_names_cannot_escape(void **state)
{
	char longname[5001], query[5100];
	struct ab_listing before, after;
	const char *names[] = { "../x", "a/b", ".hidden", "..", ".", "demo/../demo", "/etc",
				"demo\\..\\x", "x\n", "" };
	(void)state;

	ab_listing_take(&before);
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	upload_name("name=..%2Fx");
	upload_name("name=a%2Fb");
	upload_name("name=.hidden");
	upload_name("name=..");
	upload_name("name=a%00b");
	upload_name("name=a%5Cb");
	upload_name("name=ok&table=..%2F..%2Fx");
	upload_name("name=ok2&table=.hidden");
	snprintf(query, sizeof(query), "name=%.65s", longname);
	upload_name(query);
	snprintf(query, sizeof(query), "name=%s", longname);
	upload_name(query);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		analyze_dataset(names[i]);
	analyze_dataset(longname);
	/* Nothing was created anywhere: not in the data folder, not beside it. */
	ab_listing_take(&after);
	ab_listing_assert_equal(&before, &after);
	ab_listing_free(&before);
	ab_listing_free(&after);
}

/* ---- oversized headers and bodies ---- */

static void oversized_headers_refused(void **state)
{
	size_t big = 64 * 1024;
	char *line = malloc(big + 64), *many = malloc(5000 * 16 + 64);
	long rss0 = rl_rss_kb(srv.pid), rss1;
	size_t off;
	(void)state;

	assert_non_null(line);
	assert_non_null(many);
	off = (size_t)snprintf(line, 64, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(line + off, 'a', big);
	memcpy(line + off + big, "\r\n\r\n", 5);
	off = (size_t)snprintf(many, 64, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < 5000; i++)
		off += (size_t)snprintf(many + off, 17, "X-H%04d: vvvvv\r\n", i);
	memcpy(many + off, "\r\n", 3);
	for (int i = 0; i < 20; i++) {
		long a = rl_request(srv.port, line, strlen(line), 10000, NULL, 0);
		long b = rl_request(srv.port, many, strlen(many), 10000, NULL, 0);
		/* 431, or the connection closed without an answer (0). */
		if ((a != 431 && a != 0) || (b != 431 && b != 0))
			fail_msg("oversized headers answered %ld and %ld", a, b);
	}
	rss1 = rl_rss_kb(srv.pid);
	printf("# oversized headers x40: RSS %ld -> %ld KiB\n", rss0, rss1);
	assert_true(rss1 - rss0 < 16 * 1024);
	ab_healthy();
	/* libmicrohttpd's refusals reach the log as JSON events, not raw text. */
	assert_true(ab_log_count("\"event\":\"http.library\"") >= 20);
	assert_int_equal(ab_log_count("\nError processing request"), 0);
	free(line);
	free(many);
}

static void declared_huge_body_refused_before_sent(void **state)
{
	char head[512], body[512];
	struct ab_listing before, after;
	(void)state;

	ab_listing_take(&before);
	snprintf(head, sizeof(head),
		 "POST /api/analyze HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
		 "Content-Type: application/json\r\nContent-Length: 10737418240\r\n\r\n", alice);
	/* Only the headers are sent: the answer must not wait for the body. */
	assert_int_equal(rl_request(srv.port, head, strlen(head), 5000, body, sizeof(body)), 413);
	assert_non_null(strstr(body, "\"body_too_large\""));
	snprintf(head, sizeof(head),
		 "POST /api/datasets?name=huge HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
		 "Content-Type: text/csv\r\nContent-Length: 10737418240\r\n\r\n", alice);
	assert_int_equal(rl_request(srv.port, head, strlen(head), 5000, body, sizeof(body)), 413);
	ab_listing_take(&after);
	ab_listing_assert_equal(&before, &after);
	ab_listing_free(&before);
	ab_listing_free(&after);
}

static void chunked_bodies_past_limit_refused(void **state)
{
	char body[512];
	struct ab_listing before, after;
	long rss0 = rl_rss_kb(srv.pid), rss1;
	size_t sent;
	(void)state;

	ab_listing_take(&before);
	/* Just past the 1 MiB body limit: read to its end, then 413. */
	assert_int_equal(ab_chunked("/api/analyze", alice, "application/json", 1024 * 1024 + 65536,
				    body, sizeof(body), &sent),
			 413);
	assert_non_null(strstr(body, "\"body_too_large\""));
	/* Past the 256 KiB upload limit: 413, and nothing of it is kept. */
	assert_int_equal(ab_chunked("/api/datasets?name=chunky", alice, "text/csv", 300 * 1024,
				    body, sizeof(body), &sent),
			 413);
	assert_non_null(strstr(body, "\"upload_too_large\""));
	/* Endless: the connection is closed after a bounded amount. */
	assert_int_equal(ab_chunked("/api/analyze", alice, "application/json", 256u * 1024 * 1024,
				    body, sizeof(body), &sent),
			 0);
	printf("# endless chunked body: cut after %zu bytes sent\n", sent);
	assert_true(sent < 16u * 1024 * 1024);
	rss1 = rl_rss_kb(srv.pid);
	printf("# chunked bodies: RSS %ld -> %ld KiB\n", rss0, rss1);
	assert_true(rss1 - rss0 < 16 * 1024);
	ab_listing_take(&after);
	ab_listing_assert_equal(&before, &after);
	ab_listing_free(&before);
	ab_listing_free(&after);
	ab_healthy();
}

/* ---- JSON bombs ---- */

static char *repeat(const char *prefix, const char *unit, size_t n, const char *suffix)
{
	size_t pl = strlen(prefix), ul = strlen(unit), sl = strlen(suffix);
	char *s = malloc(pl + ul * n + sl + 1), *p = s;

	assert_non_null(s);
	memcpy(p, prefix, pl);
	p += pl;
	for (size_t i = 0; i < n; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, suffix, sl + 1);
	return s;
}

static char *many_keys(size_t n)
{
	char *s = malloc(n * 12 + 16);
	size_t off = 1;

	assert_non_null(s);
	s[0] = '{';
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(s + off, 13, "%s\"k%zu\":0", i ? "," : "", i);
	memcpy(s + off, "}", 2);
	return s;
}

static void json_bombs_refused_quickly(void **state)
{
	char *deep = repeat("", "[", 100000, "");
	char *deep_obj = repeat("", "{\"a\":", 100000, "");
	char *keys_fit = many_keys(80000), *keys_huge = many_keys(1000000);
	char *str_huge = repeat("{\"code\":\"", "x", 2 * 1024 * 1024, "\"}");
	char *query_big = repeat("{\"language\":\"sql\",\"dataset\":\"demo\",\"query\":\"", "x",
				 1000000, "\"}");
	(void)state;

	assert_true(strlen(keys_fit) < 1024 * 1024);
	ab_bomb(alice, deep, 400, "invalid_json");
	ab_bomb(alice, deep_obj, 400, "invalid_json");
	ab_bomb(alice, keys_fit, 400, "unknown_field");
	ab_bomb(alice, keys_huge, 413, "body_too_large");
	ab_bomb(alice, str_huge, 413, "body_too_large");
	ab_bomb(alice, query_big, 400, NULL);
	free(deep);
	free(deep_obj);
	free(keys_fit);
	free(keys_huge);
	free(str_huge);
	free(query_big);
}

/* ---- slow clients ---- */

static void slow_clients_cut_off(void **state)
{
	char head[512];
	struct ab_slow slow[2];
	(void)state;

	snprintf(head, sizeof(head),
		 "POST /api/analyze HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
		 "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n", alice);
	ab_slow_start(&slow[0], "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ");
	ab_slow_start(&slow[1], head);
	/* A byte every 250 ms on each, for up to 25 s; the server must stay
	 * responsive and cut both within HEADER_DEADLINE / BODY_GRACE (10 s)
	 * plus its sweep period. */
	ab_slow_drip(slow, 2, 25000);
	for (int i = 0; i < 2; i++) {
		printf("# slow %s: cut after %ld ms\n", i ? "body" : "headers", slow[i].cut_ms);
		assert_true(slow[i].cut_ms >= 5000 && slow[i].cut_ms <= 20000);
	}
	assert_true(ab_log_count("\"event\":\"http.slow_client_cut\"") >= 1);
	ab_healthy();
}

/* ---- key guessing ---- */

struct guess {
	const char *src;
	char key[64];
	long status;
	long ms;
};

static void *guess_main(void *arg)
{
	struct guess *g = arg;

	g->status = ab_call_from(g->src, "/api/me", g->key, &g->ms);
	return NULL;
}

/* auth.c: five failures a minute are free, then 200 ms doubling to 5 s. */
static long guess_delay_ms(int nth)
{
	if (nth <= 5)
		return 0;
	return nth - 5 >= 6 ? 5000 : 100L << (nth - 5);
}

static int long_cmp(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

static void key_guessing_slowed_per_address(void **state)
{
	struct guess g[20], other = { .src = "127.0.0.3" };
	pthread_t t[20];
	long ms[20], right_ms;
	(void)state;

	for (int i = 0; i < 20; i++) {
		g[i].src = "127.0.0.2";
		snprintf(g[i].key, sizeof(g[i].key), "lbx_guess%02dguessguessguessguessguessguessguessgu",
			 i);
		assert_int_equal(pthread_create(&t[i], NULL, guess_main, &g[i]), 0);
	}
	usleep(1500000); /* the first ones answered, the rest held */
	/* The right key from the same address is never held up. */
	assert_int_equal(ab_call_from("127.0.0.2", "/api/me", alice, &right_ms), 200);
	/* Another address has its own count: its first wrong key is quick. */
	snprintf(other.key, sizeof(other.key), "lbx_otherotherotherotherotherotherotherother");
	assert_int_equal(ab_call_from(other.src, "/api/me", other.key, &other.ms), 401);
	for (int i = 0; i < 20; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(g[i].status, 401);
		ms[i] = g[i].ms;
	}
	qsort(ms, 20, sizeof(ms[0]), long_cmp);
	printf("# 20 wrong keys at once: fastest %ld ms, median %ld ms, slowest %ld ms; right key "
	       "meanwhile %ld ms, other address %ld ms\n",
	       ms[0], ms[10], ms[19], right_ms, other.ms);
	/* The k-th quickest answer waited at least the k-th delay. */
	for (int i = 0; i < 20; i++)
		assert_true(ms[i] >= guess_delay_ms(i + 1) - 5);
	assert_true(ms[19] < 5000 + 10000); /* capped at 5 s, generous */
	assert_true(right_ms < 2000);
	assert_true(other.ms < 2000);
	/* Logged once, with the address, never with a key. */
	assert_int_equal(ab_log_count("\"event\":\"auth.slowed_down\""), 1);
	assert_int_equal(ab_log_count("\"client\":\"127.0.0.2\""), 1);
	for (int i = 0; i < 20; i++)
		ab_assert_absent_file(srv.log, g[i].key, 12);
	ab_assert_absent_file(srv.log, other.key, 12);
	ab_assert_absent_file(srv.log, alice, 12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(secrets_stay_out_of_logs_and_state),
		cmocka_unit_test(artifact_names_cannot_escape),
		cmocka_unit_test(dataset_names_cannot_escape),
		cmocka_unit_test(oversized_headers_refused),
		cmocka_unit_test(declared_huge_body_refused_before_sent),
		cmocka_unit_test(chunked_bodies_past_limit_refused),
		cmocka_unit_test(json_bombs_refused_quickly),
		cmocka_unit_test(slow_clients_cut_off),
		cmocka_unit_test(key_guessing_slowed_per_address),
	};

	return cmocka_run_group_tests_name("abuse", tests, setup, teardown);
}
