/*
 * Tests of shared artifacts and retention in src/store, on SQLite and (when
 * a PostgreSQL cluster is given) PostgreSQL: a run answered from the cache
 * shares the bytes of the run it came from (no file of its own), a team is
 * counted only the bytes it wrote, an expired run answers -ESTALE while
 * the newer run sharing its bytes still serves them, and the bytes go
 * with the last run that refers to them; a hit's row stores only its own
 * fields of the answer, and reading it gives back the whole answer.
 */
#include "store_test.h"

#include <dirent.h>

#include "support/pgtest.h"

#define BIG 200000

static void read_all(int fd, unsigned char *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = read(fd, buf + off, len - off);
		assert_true(n > 0);
		off += (size_t)n;
	}
	close(fd);
}

static int open_artifact(struct store *s, const struct principal *who, const char *run,
			 uint64_t *bytes, int *fd)
{
	char mime[STORE_MIME_MAX];

	return store_artifact_open(s, who, run, "chart.png", fd, mime, sizeof(mime), bytes);
}

/* Folders under STATE_DIR/artifacts (SQLite only). */
static int artifact_folders(const char *dir)
{
	char path[600];
	const struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/artifacts", dir);
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void shared_then_expired(struct store *s, const char *dir)
{
	unsigned char *big = malloc(BIG), *back = malloc(BIG);
	struct artifact_file files[] = { { "chart.png", "image/png", big, BIG } };
	struct principal alice, carol, bob;
	struct run_record origin, hit, got;
	uint64_t bytes = 0;
	int fd = -1, runs = 0;

	for (size_t i = 0; i < BIG; i++)
		big[i] = (unsigned char)(i * 13 + (i >> 9));
	principal_of(s, "alice", "finance", ROLE_ANALYST, &alice);
	principal_of(s, "carol", "finance", ROLE_ANALYST, &carol);
	principal_of(s, "bob", "sales", ROLE_ANALYST, &bob);
	run_fill(&origin, &alice, 1000);
	assert_int_equal(store_run_insert(s, &origin, files, 1), 0);
	/* Carol's hit of alice's answer: rows only, no bytes. */
	run_fill(&hit, &carol, 5000);
	assert_int_equal(store_run_insert_shared(s, &hit, origin.id), 0);
	if (dir)
		assert_int_equal(artifact_folders(dir), 1);
	assert_int_equal(open_artifact(s, &carol, hit.id, &bytes, &fd), 0);
	assert_int_equal(bytes, BIG);
	read_all(fd, back, BIG);
	assert_memory_equal(back, big, BIG);
	/* Sharing does not show carol alice's run. */
	assert_int_equal(open_artifact(s, &carol, origin.id, &bytes, &fd), -ENOENT);
	/* The team is counted what it wrote, once. */
	assert_int_equal(store_team_artifact_bytes(s, "finance", &bytes), 0);
	assert_int_equal(bytes, BIG);
	assert_int_equal(store_team_artifact_bytes(s, "sales", &bytes), 0);
	assert_int_equal(bytes, 0);
	/* Alice's run expires: its files are gone for her, kept for carol. */
	assert_int_equal(store_runs_expire(s, 2000, 10, &runs), 0);
	assert_int_equal(runs, 1);
	assert_int_equal(open_artifact(s, &alice, origin.id, &bytes, &fd), -ESTALE);
	assert_int_equal(store_run_get(s, &alice, origin.id, &got), 0);
	assert_true(got.files_expired_ms > 0);
	store_run_record_release(&got);
	assert_int_equal(open_artifact(s, &carol, hit.id, &bytes, &fd), 0);
	read_all(fd, back, BIG);
	assert_memory_equal(back, big, BIG);
	/* Sharing an expired run's answer is refused: it is no answer now. */
	run_fill(&got, &bob, 6000);
	assert_int_equal(store_run_insert_shared(s, &got, origin.id), -ESTALE);
	/* The last reference goes: so do the bytes. */
	assert_int_equal(store_runs_expire(s, 9000, 10, &runs), 0);
	assert_int_equal(runs, 1);
	assert_int_equal(open_artifact(s, &carol, hit.id, &bytes, &fd), -ESTALE);
	assert_int_equal(store_team_artifact_bytes(s, "finance", &bytes), 0);
	assert_int_equal(bytes, 0);
	if (dir)
		assert_int_equal(artifact_folders(dir), 0);
	/* Nothing left to expire; a missing source is -ENOENT. */
	assert_int_equal(store_runs_expire(s, 9000, 10, &runs), 0);
	assert_int_equal(runs, 0);
	run_fill(&got, &bob, 7000);
	assert_int_equal(store_run_insert_shared(s, &got, "0123456789abcdef0123456789abcdef"),
			 -ENOENT);
	/* A run and the hit sharing it, expiring in one batch: both go,
	 * with the bytes. */
	run_fill(&origin, &alice, 10000);
	assert_int_equal(store_run_insert(s, &origin, files, 1), 0);
	run_fill(&hit, &carol, 11000);
	assert_int_equal(store_run_insert_shared(s, &hit, origin.id), 0);
	assert_int_equal(store_runs_expire(s, 20000, 10, &runs), 0);
	assert_int_equal(runs, 2);
	assert_int_equal(open_artifact(s, &carol, hit.id, &bytes, &fd), -ESTALE);
	assert_int_equal(store_team_artifact_bytes(s, "finance", &bytes), 0);
	assert_int_equal(bytes, 0);
	if (dir)
		assert_int_equal(artifact_folders(dir), 0);
	free(big);
	free(back);
}

#define ANSWER_ROWS_BYTES (1 << 20)

/* A one-number query on the run table of either back end. */
static long run_number(const char *dir, const char *url, const char *sql)
{
	char *path;
	sqlite3 *db;
	sqlite3_stmt *q;
	long n;

	if (url)
		return pgt_count(url, sql);
	assert_true(asprintf(&path, "%s/ledgerbox.db", dir) > 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	n = (long)sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	free(path);
	return n;
}

static long result_length(const char *dir, const char *url, const char *id)
{
	char sql[200];

	snprintf(sql, sizeof(sql), "SELECT length(result) FROM runs WHERE id = '%s'", id);
	return run_number(dir, url, sql);
}

/* Whether run id's row patches the answer of run from. */
static bool result_from_is(const char *dir, const char *url, const char *id, const char *from)
{
	char sql[200];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM runs WHERE id = '%s' AND result_from = '%s'",
		 id, from);
	return run_number(dir, url, sql) == 1;
}

/* An answer of about a MiB, as a run's answer holds its table. */
static json_t *big_answer(const char *id)
{
	char *rows = malloc(ANSWER_ROWS_BYTES + 1), url[100];
	json_t *answer;

	memset(rows, 'x', ANSWER_ROWS_BYTES);
	rows[ANSWER_ROWS_BYTES] = '\0';
	snprintf(url, sizeof(url), "/api/runs/%s/table.csv", id);
	answer = json_pack("{s:s,s:s,s:b,s:n,s:{s:[s],s:[[s]],s:s},s:[{s:s,s:s}],s:{s:I},s:{s:s},"
			   "s:[{s:s}],s:I}",
			   "id", id, "status", "ok", "cacheHit", 0, "cacheType", "table",
			   "columns", "a", "rows", rows, "csvUrl", url, "artifacts", "name",
			   "chart.png", "url", "/api/runs/x/artifacts/chart.png", "tokens",
			   "input", (json_int_t)1200, "budget", "state", "ok", "attempts",
			   "ledgerId", id, "durationMs", (json_int_t)900);
	free(rows);
	assert_non_null(answer);
	return answer;
}

/* The answer as a hit makes it of another run's (analyze_cache.c). */
static json_t *hit_answer(const json_t *source, const char *id, const char *from)
{
	json_t *answer = json_deep_copy(source);
	char url[100];

	snprintf(url, sizeof(url), "/api/runs/%s/table.csv", id);
	json_object_set_new(json_object_get(answer, "table"), "csvUrl", json_string(url));
	json_object_set_new(answer, "cachedFrom", from ? json_string(from) : json_null());
	json_object_set_new(answer, "id", json_string(id));
	json_object_set_new(answer, "cacheHit", json_true());
	json_object_set_new(answer, "cacheType", json_string("exact"));
	json_object_set_new(answer, "attempts", json_array());
	json_object_set_new(answer, "durationMs", json_integer(3));
	json_object_del(answer, "tokens");
	json_object_del(answer, "budget");
	return answer;
}

static void assert_answer(struct store *s, const struct principal *who, const char *id,
			  const json_t *want)
{
	struct run_record got;
	char *a, *b;

	assert_int_equal(store_run_get(s, who, id, &got), 0);
	a = json_dumps(got.result, JSON_COMPACT);
	b = json_dumps(want, JSON_COMPACT);
	assert_non_null(a);
	assert_string_equal(a, b);
	free(a);
	free(b);
	store_run_record_release(&got);
}

/* A hit stores its own fields only, over its source's answer; a hit of
 * that hit patches the same source; both read back whole, also once
 * retention removed the source's files (its row stays). */
static void hit_stores_its_own(struct store *s, const char *dir, const char *url)
{
	struct principal alice, carol;
	struct run_record origin, hit, hit2;
	json_t *answer, *hit_json, *hit2_json;
	int runs = 0;

	principal_of(s, "alice2", "finance", ROLE_ANALYST, &alice);
	principal_of(s, "carol2", "finance", ROLE_ANALYST, &carol);
	run_fill(&origin, &alice, 100000);
	answer = big_answer(origin.id);
	origin.result = answer;
	assert_int_equal(store_run_insert(s, &origin, NULL, 0), 0);
	run_fill(&hit, &carol, 100001);
	hit_json = hit_answer(answer, hit.id, origin.id);
	hit.result = hit_json;
	assert_int_equal(store_run_insert_shared(s, &hit, origin.id), 0);
	run_fill(&hit2, &carol, 100002);
	hit2_json = hit_answer(hit_json, hit2.id, NULL);
	hit2.result = hit2_json;
	assert_int_equal(store_run_insert_shared(s, &hit2, hit.id), 0);

	assert_true(result_length(dir, url, origin.id) > ANSWER_ROWS_BYTES);
	assert_true(result_length(dir, url, hit.id) < 2048);
	assert_true(result_length(dir, url, hit2.id) < 2048);
	assert_true(result_from_is(dir, url, hit.id, origin.id));
	assert_true(result_from_is(dir, url, hit2.id, origin.id));
	assert_answer(s, &carol, hit.id, hit_json);
	assert_answer(s, &carol, hit2.id, hit2_json);
	assert_answer(s, &alice, origin.id, answer);
	assert_int_equal(store_runs_expire(s, 200000, 10, &runs), 0);
	assert_true(runs >= 3);
	assert_answer(s, &carol, hit.id, hit_json);
	assert_answer(s, &carol, hit2.id, hit2_json);
	json_decref(answer);
	json_decref(hit_json);
	json_decref(hit2_json);
}

static void sqlite_shares_and_expires(void **state)
{
	char *dir = state_path("share");
	struct store *s;
	(void)state;

	s = store_at(dir);
	shared_then_expired(s, dir);
	hit_stores_its_own(s, dir, NULL);
	store_close(s);
	free(dir);
}

static void postgres_shares_and_expires(void **state)
{
	char url[PGT_URL_MAX], err[512] = "", *dir;
	struct store *s = NULL;
	(void)state;

	if (!getenv("LEDGERBOX_TEST_PG_URL"))
		skip(); /* PG=1 gives a cluster */
	dir = state_path("share-pg");
	pgt_db_create("store_share", url);
	if (store_open_url(dir, url, &s, err, sizeof(err)) < 0)
		fail_msg("store_open_url: %s", err);
	shared_then_expired(s, NULL);
	hit_stores_its_own(s, NULL, url);
	store_close(s);
	pgt_db_drop(url);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sqlite_shares_and_expires),
		cmocka_unit_test(postgres_shares_and_expires),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
