/*
 * Tests of shared artifacts and retention in src/store, on SQLite and (when
 * a PostgreSQL cluster is given) PostgreSQL: a run answered from the cache
 * shares the bytes of the run it came from (no file of its own), a team is
 * counted only the bytes it wrote, an expired run answers -ESTALE while
 * the newer run sharing its bytes still serves them, and the bytes go
 * with the last run that refers to them.
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

static void sqlite_shares_and_expires(void **state)
{
	char *dir = state_path("share");
	struct store *s;
	(void)state;

	s = store_at(dir);
	shared_then_expired(s, dir);
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
