/*
 * Tests of the dataset fingerprint (src/datasets/fingerprint.c): it must
 * change on every change a run could read under /data, including the ones
 * a size-and-mtime check misses, and refuse a tree too big to vouch for.
 *
 * ctime is kept by the kernel with a coarse clock (a few milliseconds), so
 * each test waits a little (settle()) between making a file and changing
 * it, as happens to any real dataset; no assertion is about time.
 */
#include "ds_testlib.h"

#include <time.h>
#include <utime.h>

static char data[DS_PATH], shop[DS_PATH];

static int setup(void **state)
{
	(void)state;
	ds_scratch(data);
	ds_mkdir(data, "shop");
	ds_path(shop, data, "shop");
	ds_write(shop, "sales.csv", "a\n1\n");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ds_rmtree(data);
	return 0;
}

static void settle(void)
{
	usleep(30 * 1000);
}

static void fp(char out[65])
{
	char err[512];

	if (dataset_fingerprint(data, "shop", out, err, sizeof(err)) < 0)
		fail_msg("fingerprint: %s", err);
}

/* Asserts that the fingerprint moved from *before, and takes the new one. */
static void assert_changed(char before[65], const char *what)
{
	char now[65];

	fp(now);
	if (strcmp(now, before) == 0)
		fail_msg("the fingerprint did not change after %s", what);
	memcpy(before, now, 65);
}

/* Saves path's access and modification times, to put them back after a
 * write the way `touch -r copy path` does. */
static void times_save(const char *path, struct timespec out[2])
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	out[0] = st.st_atim;
	out[1] = st.st_mtim;
}

static void times_restore(const char *path, const struct timespec t[2])
{
	struct stat st;

	assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mtim.tv_sec, t[1].tv_sec);
	assert_int_equal(st.st_mtim.tv_nsec, t[1].tv_nsec);
}

static void stable_while_nothing_changes(void **state)
{
	char a[65], b[65];
	(void)state;

	ds_mkdir(shop, "extra");
	ds_write(shop, "extra/x.csv", "x\n1\n");
	fp(a);
	fp(b);
	assert_int_equal(strlen(a), 64);
	assert_string_equal(a, b);
}

/* /data/extra/x.csv rewritten (same size) and its times put back. */
static void subfolder_edit_changes_it(void **state)
{
	char path[DS_PATH], before[65];
	struct timespec t[2];
	(void)state;

	ds_path(path, shop, "extra/x.csv");
	fp(before);
	settle();
	ds_write(shop, "extra/x.csv", "x\n2\n");
	assert_changed(before, "a write in a subfolder");
	times_save(path, t);
	settle();
	ds_write(shop, "extra/x.csv", "x\n3\n");
	times_restore(path, t);
	assert_changed(before, "a write in a subfolder with touch -r");
	ds_mkdir(shop, "extra/deeper");
	assert_changed(before, "a new sub-subfolder");
	ds_write(shop, "extra/deeper/y.csv", "y\n");
	assert_changed(before, "a file two levels down");
}

static void hidden_files_count(void **state)
{
	char before[65];
	(void)state;

	fp(before);
	ds_write(shop, ".hidden.csv", "h\n1\n");
	assert_changed(before, "a new hidden file");
	settle();
	ds_write(shop, ".hidden.csv", "h\n2\n");
	assert_changed(before, "a write to a hidden file");
	ds_mkdir(shop, ".cache");
	ds_write(shop, ".cache/z.csv", "z\n");
	assert_changed(before, "a file in a hidden folder");
}

/* An in-place UPDATE with no journal file left behind (or made at all),
 * then the file's times put back: size, inode and mtime are all as
 * before; only ctime knows. */
static void sqlite_update_then_touch_r(void **state)
{
	char path[DS_PATH], before[65];
	struct timespec t[2];
	struct stat st0, st1;
	sqlite3 *db;
	(void)state;

	ds_path(path, shop, "ledger.sqlite");
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode=MEMORY;"
					  "CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('aaaa');",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	settle();
	times_save(path, t);
	assert_int_equal(stat(path, &st0), 0);
	fp(before);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode=MEMORY; UPDATE t SET v = 'bbbb';",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	times_restore(path, t);
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(st0.st_size, st1.st_size);
	assert_int_equal(st0.st_ino, st1.st_ino);
	assert_changed(before, "an SQLite UPDATE followed by touch -r");
}

/* SQLite's -wal (and -shm) appear while a writer holds the database open. */
static void wal_file_counts(void **state)
{
	char path[DS_PATH], before[65];
	sqlite3 *db;
	(void)state;

	ds_path(path, shop, "book.sqlite");
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (v INTEGER);", NULL, NULL, NULL), SQLITE_OK);
	fp(before);
	assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode=WAL; INSERT INTO t VALUES (1);", NULL,
				      NULL, NULL),
			 SQLITE_OK);
	ds_path(path, shop, "book.sqlite-wal");
	assert_int_equal(access(path, F_OK), 0);
	assert_changed(before, "a WAL file appearing");
	settle();
	assert_int_equal(sqlite3_exec(db, "INSERT INTO t VALUES (2);", NULL, NULL, NULL), SQLITE_OK);
	assert_changed(before, "a write into the WAL file");
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	assert_changed(before, "the WAL checkpointed and removed");
}

static void renames_and_links_count(void **state)
{
	char from[DS_PATH], to[DS_PATH], link[DS_PATH], before[65];
	(void)state;

	ds_path(from, shop, "sales.csv");
	ds_path(to, shop, "sales2.csv");
	fp(before);
	assert_int_equal(rename(from, to), 0);
	assert_changed(before, "a rename");
	assert_int_equal(rename(to, from), 0);
	assert_changed(before, "a rename back");
	ds_path(link, shop, "latest.csv");
	assert_int_equal(symlink("sales.csv", link), 0);
	assert_changed(before, "a new symbolic link");
	assert_int_equal(unlink(link), 0);
	assert_int_equal(symlink("extra/x.csv", link), 0);
	assert_changed(before, "a symbolic link pointing elsewhere");
}

/* The coarse clock as a file's ctime would be stamped now; whole seconds
 * when the file system keeps no more (ctime's nanoseconds are 0). */
static struct timespec coarse_now(bool fine)
{
	struct timespec t;

	assert_int_equal(clock_gettime(CLOCK_REALTIME_COARSE, &t), 0);
	if (!fine)
		t.tv_nsec = 0;
	return t;
}

static bool ts_after(struct timespec a, struct timespec b)
{
	return a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

/* A fingerprint taken in the tick of a write could not tell that write
 * from a second one in the same tick: the settled fingerprint refuses it,
 * and gives one once the tick has passed. Each try checks what the clock
 * says it must: refused when the tick did not pass by the end of the call,
 * given when it had passed before it. */
static void settled_only_after_the_tick(void **state)
{
	char path[DS_PATH], out[65], err[512];
	bool refused_seen = false;
	struct stat st;
	(void)state;

	ds_path(path, shop, "live.csv");
	for (int i = 0; i < 200 && !refused_seen; i++) {
		struct timespec before, after;
		bool fine;
		int r;
		ds_write(shop, "live.csv", i % 2 ? "b\n1\n" : "b\n2\n");
		assert_int_equal(stat(path, &st), 0);
		fine = st.st_ctim.tv_nsec != 0;
		before = coarse_now(fine);
		r = dataset_fingerprint_settled(data, "shop", out, err, sizeof(err));
		after = coarse_now(fine);
		if (!ts_after(after, st.st_ctim)) {
			assert_int_equal(r, -EAGAIN);
			assert_non_null(strstr(err, "changed a moment ago"));
			refused_seen = true;
		} else if (ts_after(before, st.st_ctim)) {
			assert_int_equal(r, 0);
		}
	}
	assert_true(refused_seen);
	while (!ts_after(coarse_now(st.st_ctim.tv_nsec != 0), st.st_ctim))
		usleep(1000);
	if (dataset_fingerprint_settled(data, "shop", out, err, sizeof(err)) < 0)
		fail_msg("not settled after the tick: %s", err);
	assert_int_equal(unlink(path), 0);
}

/* Past the bounds the walk refuses, with a message, instead of hashing a
 * part of the tree. */
static void too_deep_or_too_many_is_refused(void **state)
{
	char data2[DS_PATH], top[DS_PATH], path[DS_PATH], err[512] = "", out[65];
	size_t used;
	(void)state;

	ds_scratch(data2);
	ds_mkdir(data2, "deep");
	ds_path(top, data2, "deep");
	snprintf(path, sizeof(path), "%s", top);
	used = strlen(path);
	for (int i = 0; i <= DATASET_FP_MAX_DEPTH; i++) {
		used += (size_t)snprintf(path + used, sizeof(path) - used, "/d");
		assert_int_equal(mkdir(path, 0755), 0);
	}
	assert_int_equal(dataset_fingerprint(data2, "deep", out, err, sizeof(err)), -ELOOP);
	assert_non_null(strstr(err, "levels deep"));
	ds_mkdir(data2, "wide");
	ds_path(top, data2, "wide");
	for (int i = 0; i <= DATASET_FP_MAX_ENTRIES; i++) {
		char name[32];
		int fd;
		snprintf(name, sizeof(name), "f%d", i);
		fd = openat(AT_FDCWD, top, O_RDONLY | O_DIRECTORY);
		assert_true(fd >= 0);
		assert_int_equal(close(openat(fd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)), 0);
		close(fd);
	}
	err[0] = '\0';
	assert_int_equal(dataset_fingerprint(data2, "wide", out, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "more than"));
	ds_rmtree(data2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stable_while_nothing_changes),
		cmocka_unit_test(subfolder_edit_changes_it),
		cmocka_unit_test(hidden_files_count),
		cmocka_unit_test(sqlite_update_then_touch_r),
		cmocka_unit_test(wal_file_counts),
		cmocka_unit_test(renames_and_links_count),
		cmocka_unit_test(settled_only_after_the_tick),
		cmocka_unit_test(too_deep_or_too_many_is_refused),
	};
	return cmocka_run_group_tests_name("fingerprint", tests, setup, teardown);
}
