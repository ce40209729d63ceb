/*
 * End-to-end tests over real HTTP that cache hits are requests like any
 * other: many concurrent identical hits of a run with a large artifact
 * share its bytes (no disk per hit, the server's peak memory bounded),
 * every analyze request passes a per-key and per-user admission (429 with
 * Retry-After past the rate or the number in progress), a hit names the
 * run it came from only to whoever may read it, a team past its artifact
 * quota is refused with 507 quota_exceeded, and retention removes old
 * runs' files while their records stay (410 expired); a hit's run row
 * holds only its own fields, and reading the run answers exactly what the
 * hit's request did.
 *
 * Each test starts its own server: their settings differ.
 */
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>

#include "httplib.h"
#include "load/rawlib.h"

#define BIG_MIB 24
#define HITS 48
/* The most the server's peak resident memory may grow while HITS
 * identical hits of a run with a BIG_MIB artifact are answered at once
 * (docs/hardening.md). Copying the artifact per hit grows it by about
 * BIG_MIB per hit in progress. */
#define HITS_PEAK_GROWTH_KB (64L << 10)

static struct server srv;

/* A run whose one artifact is BIG_MIB of random bytes: the same code
 * every time, so the second request on is an exact hit. */
static const char big_body[] =
	"{\"language\":\"python\",\"code\":\"import os\\n"
	"open('/out/big.bin', 'wb').write(os.urandom(24 << 20))\\nprint('written')\"}";

static void server_start(const char *name, char *const env[])
{
	hl_prepare(&srv, name, env);
}

static void server_stop(void)
{
	hl_stop(&srv, SIGTERM);
	curl_global_cleanup();
}

static void analyze(const char *key, const char *body, struct reply *r)
{
	hl_call_timeout(&srv, "POST", "/api/analyze", key, body, strlen(body), NULL, 120000, r);
}

static uint64_t tree_bytes;

static int tree_add(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (type == FTW_F && S_ISREG(st->st_mode))
		tree_bytes += (uint64_t)st->st_size;
	return 0;
}

/* Bytes of the files under STATE_DIR/artifacts (SQLite keeps them there). */
static uint64_t artifact_disk_bytes(void)
{
	char dir[600];

	snprintf(dir, sizeof(dir), "%s/artifacts", srv.state);
	tree_bytes = 0;
	assert_int_equal(nftw(dir, tree_add, 16, FTW_PHYS), 0);
	return tree_bytes;
}

struct hit_call {
	const char *key;
	pthread_t thread;
	struct reply r;
};

static void *hit_thread(void *arg)
{
	struct hit_call *c = arg;

	analyze(c->key, big_body, &c->r);
	return NULL;
}

static const char *error_code(const struct reply *r)
{
	return json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
}

static void concurrent_hits_share_bytes_and_memory_stays_bounded(void **state)
{
	char *env[] = { "LEDGERBOX_KEY_CONCURRENT=64", "LEDGERBOX_USER_CONCURRENT=64",
			"LEDGERBOX_KEY_RATE_PER_MIN=1000", "LEDGERBOX_USER_RATE_PER_MIN=1000",
			"LEDGERBOX_MAX_RUNS=2", "LEDGERBOX_QUEUE_MAX=16", NULL };
	struct hit_call *calls = calloc(HITS, sizeof(*calls));
	struct reply first, file;
	uint64_t disk_before = 0;
	long peak_before, peak_after;
	char *alice;
	(void)state;

	assert_non_null(calls);
	server_start("hits-share", env);
	alice = hl_key_create(&srv, "alice", "finance", "analyst");
	hl_start(&srv);
	analyze(alice, big_body, &first);
	if (first.status != 200)
		fail_msg("the first run: %ld %s", first.status, first.body);
	if (!hl_on_postgres())
		disk_before = artifact_disk_bytes();
	peak_before = rl_peak_rss_kb(srv.pid);
	for (int i = 0; i < HITS; i++) {
		calls[i].key = alice;
		assert_int_equal(pthread_create(&calls[i].thread, NULL, hit_thread, &calls[i]), 0);
	}
	for (int i = 0; i < HITS; i++)
		assert_int_equal(pthread_join(calls[i].thread, NULL), 0);
	peak_after = rl_peak_rss_kb(srv.pid);
	for (int i = 0; i < HITS; i++) {
		if (calls[i].r.status != 200)
			fail_msg("hit %d: %ld %s", i, calls[i].r.status, calls[i].r.body);
		assert_true(json_is_true(json_object_get(calls[i].r.json, "cacheHit")));
	}
	print_message("# peak RSS %ld kB before %d concurrent hits, %ld kB after\n", peak_before,
		      HITS, peak_after);
	assert_true(peak_after - peak_before < HITS_PEAK_GROWTH_KB);
	/* Not one byte more on disk for all those runs... */
	if (!hl_on_postgres())
		assert_true(artifact_disk_bytes() == disk_before);
	/* ...and each of them still serves the whole artifact. */
	hl_call(&srv, "GET",
		hl_str(json_array_get(json_object_get(calls[HITS - 1].r.json, "artifacts"), 0), "url"),
		alice, NULL, &file);
	assert_int_equal(file.status, 200);
	assert_int_equal(file.len, (size_t)BIG_MIB << 20);
	hl_reply_free(&file);
	for (int i = 0; i < HITS; i++)
		hl_reply_free(&calls[i].r);
	free(calls);
	hl_reply_free(&first);
	free(alice);
	server_stop();
}

static void refused_429(const struct reply *r, const char *setting)
{
	char *retry = hl_header(r, "Retry-After");

	if (r->status != 429)
		fail_msg("expected 429 naming %s: %ld %s", setting, r->status, r->body);
	assert_string_equal(error_code(r), "rate_limited");
	assert_non_null(strstr(r->body, setting));
	assert_non_null(retry);
	assert_true(strtol(retry, NULL, 10) >= 1);
	free(retry);
}

struct slow_call {
	const char *key;
	pthread_t thread;
	struct reply r;
};

static void *slow_thread(void *arg)
{
	struct slow_call *c = arg;
	const char *body = "{\"language\":\"python\",\"cache\":false,"
			   "\"code\":\"import time\\ntime.sleep(3)\\nprint('slept')\"}";

	analyze(c->key, body, &c->r);
	return NULL;
}

static void admission_limits_hits_and_runs_per_key_and_user(void **state)
{
	char *env[] = { "LEDGERBOX_KEY_RATE_PER_MIN=5", "LEDGERBOX_USER_RATE_PER_MIN=8",
			"LEDGERBOX_KEY_CONCURRENT=2", "LEDGERBOX_USER_CONCURRENT=16",
			"LEDGERBOX_MAX_RUNS=4", "LEDGERBOX_QUEUE_MAX=16", NULL };
	const char *body = "{\"language\":\"sql\",\"dataset\":\"demo\","
			   "\"code\":\"SELECT count(*) AS n FROM invoices\"}";
	struct slow_call slow[4] = { 0 };
	char *alice, *alice2, *bob;
	struct reply r;
	int ok = 0, refused = 0;
	(void)state;

	server_start("hits-admission", env);
	alice = hl_key_create(&srv, "alice", "finance", "analyst");
	alice2 = hl_key_create(&srv, "alice", "finance", "analyst");
	bob = hl_key_create(&srv, "bob", "finance", "analyst");
	hl_start(&srv);
	/* One run, then hits: five requests a minute for a key, hits or not. */
	for (int i = 0; i < 5; i++) {
		analyze(alice, body, &r);
		if (r.status != 200)
			fail_msg("request %d: %ld %s", i, r.status, r.body);
		assert_true(i == 0 || json_is_true(json_object_get(r.json, "cacheHit")));
		hl_reply_free(&r);
	}
	analyze(alice, body, &r);
	refused_429(&r, "LEDGERBOX_KEY_RATE_PER_MIN");
	hl_reply_free(&r);
	/* Her other key has its own five, but the user has eight in all. */
	for (int i = 0; i < 3; i++) {
		analyze(alice2, body, &r);
		assert_int_equal(r.status, 200);
		hl_reply_free(&r);
	}
	analyze(alice2, body, &r);
	refused_429(&r, "LEDGERBOX_USER_RATE_PER_MIN");
	hl_reply_free(&r);
	/* Someone else is not held back by her. */
	analyze(bob, body, &r);
	assert_int_equal(r.status, 200);
	hl_reply_free(&r);
	/* In progress at once: two per key, even with run slots free. */
	for (int i = 0; i < 4; i++) {
		slow[i].key = bob;
		assert_int_equal(pthread_create(&slow[i].thread, NULL, slow_thread, &slow[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(slow[i].thread, NULL), 0);
		if (slow[i].r.status == 200) {
			ok++;
		} else {
			refused_429(&slow[i].r, "LEDGERBOX_KEY_CONCURRENT");
			refused++;
		}
		hl_reply_free(&slow[i].r);
	}
	assert_int_equal(ok, 2);
	assert_int_equal(refused, 2);
	free(alice);
	free(alice2);
	free(bob);
	server_stop();
}

static void cached_from_is_shown_only_to_who_may_read_it(void **state)
{
	char *env[] = { NULL };
	const char *body = "{\"language\":\"sql\",\"dataset\":\"demo\","
			   "\"code\":\"SELECT count(*) AS m FROM invoices\"}";
	struct reply a, own, mate, admin;
	char *alice, *carol, *root;
	(void)state;

	server_start("hits-from", env);
	alice = hl_key_create(&srv, "alice", "finance", "analyst");
	carol = hl_key_create(&srv, "carol", "finance", "analyst");
	root = hl_key_create(&srv, "root", "finance", "admin");
	hl_start(&srv);
	analyze(alice, body, &a);
	analyze(alice, body, &own);
	analyze(carol, body, &mate);
	analyze(root, body, &admin);
	assert_int_equal(a.status, 200);
	assert_true(json_is_true(json_object_get(mate.json, "cacheHit")));
	assert_string_equal(hl_str(own.json, "cachedFrom"), hl_str(a.json, "id"));
	assert_string_equal(hl_str(admin.json, "cachedFrom"), hl_str(a.json, "id"));
	/* A teammate gets the answer, not the id of alice's run. */
	assert_true(json_is_null(json_object_get(mate.json, "cachedFrom")));
	assert_null(strstr(mate.body, hl_str(a.json, "id")));
	hl_reply_free(&a);
	hl_reply_free(&own);
	hl_reply_free(&mate);
	hl_reply_free(&admin);
	free(alice);
	free(carol);
	free(root);
	server_stop();
}

/* A run writing `kib` KiB into /out/<name>. */
static void artifact_body(char *buf, size_t len, const char *name, int kib)
{
	snprintf(buf, len,
		 "{\"language\":\"python\",\"code\":\"import os\\n"
		 "open('/out/%s', 'wb').write(os.urandom(%d << 10))\\nprint('ok')\"}",
		 name, kib);
}

static void team_past_its_artifact_quota_is_refused_with_507(void **state)
{
	char *env[] = { "LEDGERBOX_TEAM_ARTIFACT_QUOTA=1M", NULL };
	char body1[300], body2[300];
	struct reply r, again;
	json_t *err;
	char *alice, *bob;
	(void)state;

	server_start("hits-quota", env);
	alice = hl_key_create(&srv, "alice", "finance", "analyst");
	bob = hl_key_create(&srv, "bob", "sales", "analyst");
	hl_start(&srv);
	artifact_body(body1, sizeof(body1), "a.bin", 700);
	artifact_body(body2, sizeof(body2), "b.bin", 700);
	analyze(alice, body1, &r);
	assert_int_equal(r.status, 200);
	hl_reply_free(&r);
	/* 700 KiB more would pass 1 MiB: nothing is kept, and it says why. */
	analyze(alice, body2, &r);
	if (r.status != 507)
		fail_msg("expected 507: %ld %s", r.status, r.body);
	err = json_object_get(r.json, "error");
	assert_string_equal(error_code(&r), "quota_exceeded");
	assert_string_equal(hl_str(err, "quota"), "team_artifact_bytes");
	assert_int_equal(json_integer_value(json_object_get(err, "used")), 700 << 10);
	assert_int_equal(json_integer_value(json_object_get(err, "adding")), 700 << 10);
	assert_int_equal(json_integer_value(json_object_get(err, "limit")), 1 << 20);
	assert_non_null(strstr(hl_str(err, "message"), "LEDGERBOX_TEAM_ARTIFACT_QUOTA"));
	hl_reply_free(&r);
	/* A hit stores nothing new: still answered. */
	analyze(alice, body1, &again);
	assert_int_equal(again.status, 200);
	assert_true(json_is_true(json_object_get(again.json, "cacheHit")));
	hl_reply_free(&again);
	/* Another team has its own quota. */
	analyze(bob, body2, &r);
	assert_int_equal(r.status, 200);
	hl_reply_free(&r);
	free(alice);
	free(bob);
	server_stop();
}

static void retention_removes_old_files_and_keeps_the_record(void **state)
{
	char *env[] = { "LEDGERBOX_ARTIFACT_RETENTION_S=1", "LEDGERBOX_RETENTION_SWEEP_MS=200",
			NULL };
	const char *body = "{\"language\":\"python\",\"code\":\"import pandas as pd\\n"
			   "open('/out/note.txt', 'w').write('kept a while')\\n"
			   "pd.DataFrame({'a': [1, 2]})\"}";
	char path[300], csv_path[300];
	struct reply run, r;
	char *alice;
	(void)state;

	server_start("hits-retention", env);
	alice = hl_key_create(&srv, "alice", "finance", "analyst");
	hl_start(&srv);
	analyze(alice, body, &run);
	if (run.status != 200)
		fail_msg("the run: %ld %s", run.status, run.body);
	snprintf(path, sizeof(path), "%s",
		 hl_str(json_array_get(json_object_get(run.json, "artifacts"), 0), "url"));
	assert_non_null(hl_str(json_object_get(run.json, "table"), "csvUrl"));
	snprintf(csv_path, sizeof(csv_path), "%s",
		 hl_str(json_object_get(run.json, "table"), "csvUrl"));
	/* Bounded wait for the sweeper (every 200 ms, files older than 1 s). */
	for (int i = 0; i < 100; i++) {
		hl_call(&srv, "GET", path, alice, NULL, &r);
		if (r.status != 200)
			break;
		hl_reply_free(&r);
		usleep(100000);
	}
	if (r.status != 410)
		fail_msg("expected 410 once expired: %ld %s", r.status, r.body);
	assert_string_equal(error_code(&r), "expired");
	hl_reply_free(&r);
	hl_call(&srv, "GET", csv_path, alice, NULL, &r);
	assert_int_equal(r.status, 410);
	assert_string_equal(error_code(&r), "expired");
	hl_reply_free(&r);
	/* The record stays and says when its files went. */
	snprintf(path, sizeof(path), "/api/runs/%s", hl_str(run.json, "id"));
	hl_call(&srv, "GET", path, alice, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(hl_str(r.json, "filesExpiredAt"));
	assert_string_equal(hl_str(r.json, "code"), hl_str(run.json, "code"));
	hl_reply_free(&r);
	/* The files are unlinked just after the expiry commits (a crash in
	 * between leaves unnamed files, never a row without its file), so a
	 * 410 can be answered a moment before they are gone: a bounded wait. */
	if (!hl_on_postgres()) {
		for (int i = 0; i < 100 && artifact_disk_bytes() != 0; i++)
			usleep(50000);
		assert_true(artifact_disk_bytes() == 0);
	}
	/* The request runs afresh: an expired run is no cached answer. */
	analyze(alice, body, &r);
	assert_int_equal(r.status, 200);
	assert_false(json_is_true(json_object_get(r.json, "cacheHit")));
	hl_reply_free(&r);
	hl_reply_free(&run);
	free(alice);
	server_stop();
}

/* The length of the run's stored result column, read from the server's
 * database itself. */
static long stored_result_length(const char *id)
{
	char sql[200], path[700];
	sqlite3 *db;
	sqlite3_stmt *q;
	long n;

	snprintf(sql, sizeof(sql), "SELECT length(result) FROM runs WHERE id = '%s'", id);
	if (hl_on_postgres())
		return pgt_count(strchr(srv.db_env, '=') + 1, sql);
	snprintf(path, sizeof(path), "%s/ledgerbox.db", srv.state);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	n = (long)sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return n;
}

static void hit_row_holds_its_own_fields_and_reads_back_whole(void **state)
{
	char *env[] = { NULL };
	/* An answer of about 900 KB: its output. */
	const char *body = "{\"language\":\"python\",\"code\":\"print('x' * 900000)\"}";
	struct reply a, hit, again, got;
	char path[200];
	char *alice, *carol;
	(void)state;

	server_start("hits-rows", env);
	alice = hl_key_create(&srv, "alice", "finance", "analyst");
	carol = hl_key_create(&srv, "carol", "finance", "analyst");
	hl_start(&srv);
	analyze(alice, body, &a);
	analyze(carol, body, &hit);
	analyze(alice, body, &again);
	if (a.status != 200 || hit.status != 200 || again.status != 200)
		fail_msg("analyze: %ld %ld %ld", a.status, hit.status, again.status);
	assert_true(json_is_true(json_object_get(hit.json, "cacheHit")));
	assert_true(json_is_true(json_object_get(again.json, "cacheHit")));
	print_message("# hit-rows: the source's result %ld bytes, a hit's %ld\n",
		      stored_result_length(hl_str(a.json, "id")),
		      stored_result_length(hl_str(hit.json, "id")));
	assert_true(stored_result_length(hl_str(a.json, "id")) > 900000);
	assert_true(stored_result_length(hl_str(hit.json, "id")) < 4096);
	assert_true(stored_result_length(hl_str(again.json, "id")) < 4096);
	/* Reading the hit's run answers what its request did, byte for byte. */
	snprintf(path, sizeof(path), "/api/runs/%s", hl_str(hit.json, "id"));
	hl_call(&srv, "GET", path, carol, NULL, &got);
	assert_int_equal(got.status, 200);
	assert_string_equal(got.body, hit.body);
	hl_reply_free(&got);
	snprintf(path, sizeof(path), "/api/runs/%s", hl_str(again.json, "id"));
	hl_call(&srv, "GET", path, alice, NULL, &got);
	assert_int_equal(got.status, 200);
	assert_string_equal(got.body, again.body);
	hl_reply_free(&got);
	hl_reply_free(&a);
	hl_reply_free(&hit);
	hl_reply_free(&again);
	free(alice);
	free(carol);
	server_stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(concurrent_hits_share_bytes_and_memory_stays_bounded),
		cmocka_unit_test(admission_limits_hits_and_runs_per_key_and_user),
		cmocka_unit_test(cached_from_is_shown_only_to_who_may_read_it),
		cmocka_unit_test(hit_row_holds_its_own_fields_and_reads_back_whole),
		cmocka_unit_test(team_past_its_artifact_quota_is_refused_with_507),
		cmocka_unit_test(retention_removes_old_files_and_keeps_the_record),
	};

	return cmocka_run_group_tests_name("tenant_hits", tests, NULL, NULL);
}
