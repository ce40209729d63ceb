/*
 * test_datasets: dataset names, the paths a run mounts, the dataset list
 * and the sweep of abandoned uploads (src/datasets). Each test works in
 * its own folder under LEDGERBOX_TEST_TMP. CSV uploads are tested in
 * test_csv_import.c.
 */
#include "ds_testlib.h"

#include <sys/time.h>

#include "util/banned.h"

static void names_are_checked(void **state)
{
	char longest[66];
	(void)state;

	assert_true(dataset_name_valid("sales"));
	assert_true(dataset_name_valid("Sales_2024-Q1"));
	assert_true(dataset_name_valid("a"));
	assert_true(dataset_name_valid("-"));
	memset(longest, 'x', 64);
	longest[64] = '\0';
	assert_true(dataset_name_valid(longest));
	longest[64] = 'x';
	longest[65] = '\0';
	assert_false(dataset_name_valid(longest));
	assert_false(dataset_name_valid(""));
	assert_false(dataset_name_valid(NULL));
	assert_false(dataset_name_valid("../x"));
	assert_false(dataset_name_valid(".."));
	assert_false(dataset_name_valid("a/b"));
	assert_false(dataset_name_valid(".hidden"));
	assert_false(dataset_name_valid("a.b"));
	assert_false(dataset_name_valid("a b"));
	assert_false(dataset_name_valid("caf\xc3\xa9"));
	assert_false(dataset_name_valid("a\n"));
}

static void python_path_is_the_folder(void **state)
{
	char data[DS_PATH], want[DS_PATH], got[DS_PATH], err[256], link_path[DS_PATH];
	(void)state;

	ds_scratch(data);
	ds_mkdir(data, "shop");
	ds_write(data, "notes", "not a folder");
	ds_path(link_path, data, "link");
	assert_int_equal(symlink("shop", link_path), 0);

	assert_int_equal(dataset_path_for_python(data, "shop", got, sizeof(got), err, sizeof(err)), 0);
	ds_path(want, data, "shop");
	assert_string_equal(got, want);

	memcpy(got, "untouched", 10);
	assert_int_equal(dataset_path_for_python(data, "nope", got, sizeof(got), err, sizeof(err)),
			 -ENOENT);
	assert_string_equal(err, "no dataset nope: upload one or pick one from the list");
	assert_string_equal(got, "untouched");
	assert_int_equal(dataset_path_for_python(data, "link", got, sizeof(got), err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "symbolic link"));
	assert_int_equal(dataset_path_for_python(data, "notes", got, sizeof(got), err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(dataset_path_for_python(data, "../shop", got, sizeof(got), err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "not a valid dataset name"));
	assert_int_equal(dataset_path_for_python(data, "shop", got, 4, err, sizeof(err)),
			 -ENAMETOOLONG);
	assert_string_equal(got, "untouched");
	ds_rmtree(data);
}

/* The fingerprint the cache keys on: the same while nothing changes, new
 * when a file is rewritten (even with the same size), added or removed. */
static void fingerprint_follows_every_change(void **state)
{
	char data[DS_PATH], sub[DS_PATH], file[DS_PATH], err[256], a[65], b[65], c[65], d[65];
	struct timespec times[2] = { { 0, UTIME_OMIT }, { 1700000000, 123 } };
	(void)state;

	ds_scratch(data);
	ds_mkdir(data, "shop");
	ds_path(sub, data, "shop");
	ds_write(sub, "sales.csv", "a\n1\n");
	assert_int_equal(dataset_fingerprint(data, "shop", a, err, sizeof(err)), 0);
	assert_int_equal(strlen(a), 64);
	assert_int_equal(dataset_fingerprint(data, "shop", b, err, sizeof(err)), 0);
	assert_string_equal(a, b);
	/* Same size, same name, rewritten in place: the mtime tells. */
	ds_path(file, sub, "sales.csv");
	ds_write(sub, "sales.csv", "a\n2\n");
	assert_int_equal(utimensat(AT_FDCWD, file, times, 0), 0);
	assert_int_equal(dataset_fingerprint(data, "shop", c, err, sizeof(err)), 0);
	assert_string_not_equal(a, c);
	ds_write(sub, "more.csv", "b\n");
	assert_int_equal(dataset_fingerprint(data, "shop", d, err, sizeof(err)), 0);
	assert_string_not_equal(c, d);
	assert_int_equal(dataset_fingerprint(data, "nope", d, err, sizeof(err)), -ENOENT);
	assert_int_equal(dataset_fingerprint(data, "../shop", d, err, sizeof(err)), -EINVAL);
	ds_rmtree(data);
}

static void sql_path_is_the_one_sqlite_file(void **state)
{
	char data[DS_PATH], dir[DS_PATH], want[DS_PATH], got[DS_PATH], err[512], p[DS_PATH];
	(void)state;

	ds_scratch(data);
	ds_mkdir(data, "one");
	ds_path(dir, data, "one");
	ds_write(dir, "books.sqlite", "");
	ds_write(dir, "books.csv", "a\n1\n");
	assert_int_equal(dataset_path_for_sql(data, "one", got, sizeof(got), err, sizeof(err)), 0);
	ds_path(want, dir, "books.sqlite");
	assert_string_equal(got, want);

	/* None: only a CSV, a symlinked .sqlite, a folder named x.sqlite, a hidden one. */
	ds_mkdir(data, "none");
	ds_path(dir, data, "none");
	ds_write(dir, "a.csv", "a\n1\n");
	ds_write(dir, ".hidden.sqlite", "");
	ds_mkdir(dir, "folder.sqlite");
	ds_path(p, dir, "elsewhere.sqlite");
	assert_int_equal(symlink(want, p), 0);
	assert_int_equal(dataset_path_for_sql(data, "none", got, sizeof(got), err, sizeof(err)),
			 -ENOENT);
	assert_string_equal(err, "dataset none has no SQLite file: SQL needs one (upload a CSV "
				 "or add none.sqlite)");

	ds_mkdir(data, "two");
	ds_path(dir, data, "two");
	ds_write(dir, "b.sqlite", "");
	ds_write(dir, "a.sqlite", "");
	assert_int_equal(dataset_path_for_sql(data, "two", got, sizeof(got), err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "(a.sqlite, b.sqlite)"));

	assert_int_equal(dataset_path_for_sql(data, "missing", got, sizeof(got), err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(dataset_path_for_sql(data, "a/b", got, sizeof(got), err, sizeof(err)),
			 -EINVAL);
	/* A symlinked dataset folder is refused even when its target is fine. */
	ds_path(p, data, "alias");
	assert_int_equal(symlink("one", p), 0);
	assert_int_equal(dataset_path_for_sql(data, "alias", got, sizeof(got), err, sizeof(err)),
			 -ENOENT);
	ds_rmtree(data);
}

/* DATA_DIR with one good dataset, one without SQLite, one broken, and
 * junk that must not show. */
static void make_list_fixture(const char *data)
{
	char dir[DS_PATH], p[DS_PATH];

	ds_mkdir(data, "shop");
	ds_path(dir, data, "shop");
	ds_path(p, dir, "shop.sqlite");
	ds_sql_exec(p, "CREATE TABLE items (id INTEGER, name TEXT, extra);"
		       "INSERT INTO items VALUES (1, 'pen', NULL), (2, 'ink', 3.5), (3, 'cap', 'x');"
		       "CREATE TABLE \"empty one\" (\"when\" DATE);"
		       "CREATE INDEX items_name ON items(name);"
		       "CREATE VIEW cheap AS SELECT * FROM items;"
		       "CREATE TABLE t (x INTEGER PRIMARY KEY AUTOINCREMENT);");
	ds_write(dir, "notes.csv", "id,note\n1,hello\n");
	ds_write(dir, ".secret", "hidden");
	ds_mkdir(dir, "sub");

	ds_mkdir(data, "plain");
	ds_path(dir, data, "plain");
	ds_write(dir, "a.csv", "x\n1\n");

	ds_mkdir(data, "broken");
	ds_path(dir, data, "broken");
	ds_write(dir, "broken.sqlite", "this is not a database, just text that goes on for a while");

	ds_mkdir(data, ".hidden");
	ds_mkdir(data, ".upload-abc123");
	ds_mkdir(data, "bad.name");
	ds_write(data, "file.txt", "x");
	ds_path(p, data, "link");
	assert_int_equal(symlink("shop", p), 0);
}

static void list_shows_datasets_and_skips_junk(void **state)
{
	char data[DS_PATH], err[256];
	json_t *list = NULL, *shop, *tables, *items, *cols, *files, *broken, *plain;
	(void)state;

	ds_scratch(data);
	make_list_fixture(data);
	assert_int_equal(dataset_list(data, &list, err, sizeof(err)), 0);
	assert_int_equal(json_array_size(list), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "name")),
			    "broken");
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "name")),
			    "plain");
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 2), "name")),
			    "shop");

	shop = ds_find_named(list, "shop");
	assert_string_equal(json_string_value(json_object_get(shop, "sqlite")), "shop.sqlite");
	assert_null(json_object_get(shop, "error"));
	files = json_object_get(shop, "files");
	assert_int_equal(json_array_size(files), 2); /* not .secret, not sub/ */
	assert_int_equal(json_integer_value(json_object_get(ds_find_named(files, "notes.csv"), "bytes")),
			 16);
	assert_non_null(ds_find_named(files, "shop.sqlite"));
	tables = json_object_get(shop, "tables");
	/* Sorted; sqlite_sequence (from AUTOINCREMENT), the index and the view left out. */
	assert_int_equal(json_array_size(tables), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(tables, 0), "name")),
			    "empty one");
	assert_string_equal(json_string_value(json_object_get(json_array_get(tables, 1), "name")),
			    "items");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(tables, 0), "rows")), 0);
	items = ds_find_named(tables, "items");
	assert_int_equal(json_integer_value(json_object_get(items, "rows")), 3);
	cols = json_object_get(items, "columns");
	assert_int_equal(json_array_size(cols), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 0), "name")), "id");
	assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 0), "type")),
			    "INTEGER");
	assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 1), "type")), "TEXT");
	assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 2), "name")),
			    "extra");
	assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 2), "type")), "");

	broken = ds_find_named(list, "broken");
	assert_non_null(strstr(json_string_value(json_object_get(broken, "error")), "broken.sqlite"));
	assert_int_equal(json_array_size(json_object_get(broken, "tables")), 0);
	assert_int_equal(json_array_size(json_object_get(broken, "files")), 1);

	plain = ds_find_named(list, "plain");
	assert_true(json_is_null(json_object_get(plain, "sqlite")));
	assert_int_equal(json_array_size(json_object_get(plain, "tables")), 0);
	assert_null(json_object_get(plain, "error"));
	json_decref(list);
	ds_rmtree(data);
}

static void list_reports_a_missing_data_dir(void **state)
{
	char data[DS_PATH], missing[DS_PATH], err[256] = "";
	json_t *list = NULL;
	(void)state;

	ds_scratch(data);
	assert_int_equal(dataset_list(data, &list, err, sizeof(err)), 0);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	list = NULL;
	ds_path(missing, data, "nope");
	assert_int_equal(dataset_list(missing, &list, err, sizeof(err)), -ENOENT);
	assert_null(list);
	assert_non_null(strstr(err, "LEDGERBOX_DATA_DIR"));
	ds_rmtree(data);
}

/* A path with URI-special characters still opens as a plain file. */
static void list_escapes_odd_paths(void **state)
{
	char data[DS_PATH], odd[DS_PATH], dir[DS_PATH], p[DS_PATH], err[256];
	json_t *list = NULL, *t;
	(void)state;

	ds_scratch(data);
	ds_path(odd, data, "we?ird#dir%20 x&mode=rw");
	assert_int_equal(mkdir(odd, 0755), 0);
	ds_mkdir(odd, "d");
	ds_path(dir, odd, "d");
	ds_path(p, dir, "d.sqlite");
	ds_sql_exec(p, "CREATE TABLE t (a); INSERT INTO t VALUES (1), (2);");
	assert_int_equal(dataset_list(odd, &list, err, sizeof(err)), 0);
	t = json_array_get(json_object_get(json_array_get(list, 0), "tables"), 0);
	assert_non_null(t);
	assert_int_equal(json_integer_value(json_object_get(t, "rows")), 2);
	json_decref(list);
	ds_rmtree(data);
}

static void sweep_removes_only_stale_uploads(void **state)
{
	char data[DS_PATH], old[DS_PATH], fresh[DS_PATH], p[DS_PATH];
	struct timeval past[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	unsigned removed = 99;
	char *snap;
	(void)state;

	ds_scratch(data);
	ds_mkdir(data, ".upload-old");
	ds_path(old, data, ".upload-old");
	ds_write(old, "t.csv", "a\n1\n");
	ds_path(p, old, "t.csv");
	assert_int_equal(utimes(p, past), 0);
	assert_int_equal(utimes(old, past), 0);
	ds_mkdir(data, ".upload-new");
	ds_path(fresh, data, ".upload-new");
	ds_write(fresh, "t.csv", "a\n1\n");
	ds_mkdir(data, "shop");

	assert_int_equal(csv_import_sweep(data, 3600, &removed), 0);
	assert_int_equal(removed, 1);
	snap = ds_snapshot(data);
	assert_null(strstr(snap, ".upload-old"));
	assert_non_null(strstr(snap, ".upload-new/t.csv"));
	assert_non_null(strstr(snap, "/shop "));
	free(snap);
	ds_rmtree(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_are_checked),
		cmocka_unit_test(python_path_is_the_folder),
		cmocka_unit_test(sql_path_is_the_one_sqlite_file),
		cmocka_unit_test(fingerprint_follows_every_change),
		cmocka_unit_test(list_shows_datasets_and_skips_junk),
		cmocka_unit_test(list_reports_a_missing_data_dir),
		cmocka_unit_test(list_escapes_odd_paths),
		cmocka_unit_test(sweep_removes_only_stale_uploads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
