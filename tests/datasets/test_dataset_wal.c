/*
 * test_dataset_wal: every reader of a dataset's SQLite file reads exactly
 * its committed state. A WAL-mode file whose last commits are still in its
 * -wal file (and has no -shm) is read with those commits by the SQL run in
 * the real sandbox (`ledgerbox exec`), the dataset listing's row counts,
 * the schema the prompt is built from and SQL validation; none of them
 * writes a byte into the dataset folder. A file with a hot -journal (a
 * writer died half-way) is refused by each, with a message that says what
 * to do.
 */
#include "ds_testlib.h"

#include <jansson.h>

#include "llm/schema.h"
#include "llm/validate.h"
#include "support/sqlite_sides.h"
#include "templates/templates.h"

#define SUM_QUERY "SELECT count(*), sum(x) FROM t"

struct fixture {
	char data_dir[DS_PATH];
	char db[DS_PATH];
};

/* DATA/books/books.sqlite, built by make() */
static int setup(void **state, void (*make)(const char *))
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	ds_scratch(f->data_dir);
	ds_mkdir(f->data_dir, "books");
	assert_true(snprintf(f->db, sizeof(f->db), "%s/books/books.sqlite", f->data_dir) > 0);
	make(f->db);
	*state = f;
	return 0;
}

static int setup_wal(void **state)
{
	return setup(state, sides_make_wal);
}

static int setup_hot(void **state)
{
	return setup(state, sides_make_hot_journal);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ds_rmtree(f->data_dir);
	free(f);
	return 0;
}

/* `ledgerbox exec --lang sql` on db: the parsed JSON (caller releases). */
static json_t *exec_sql(const char *db, const char *sql, struct tl_output *o)
{
	char *argv[] = { (char *)tl_bin(), "exec", "--lang", "sql", "--data", (char *)db,
			 (char *)sql, NULL };
	json_t *j;

	tl_run(argv, NULL, o);
	j = json_loads(o->out, 0, NULL);
	assert_non_null(j);
	return j;
}

static json_int_t cell(json_t *result, size_t row, size_t col)
{
	json_t *rows = json_object_get(json_object_get(result, "table"), "rows");
	return json_integer_value(json_array_get(json_array_get(rows, row), col));
}

static void sql_run_in_the_sandbox_reads_wal_commits(void **state)
{
	struct fixture *f = *state;
	char *before = ds_snapshot(f->data_dir), *after;
	struct tl_output o;
	json_t *j = exec_sql(f->db, SUM_QUERY, &o);

	assert_int_equal(o.exit_code, 0);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
	assert_int_equal(cell(j, 0, 0), 3); /* without the -wal: 1 */
	assert_int_equal(cell(j, 0, 1), 6);
	json_decref(j);
	tl_output_free(&o);

	/* A table that only the -wal creates is there too. */
	j = exec_sql(f->db, "SELECT y FROM late", &o);
	assert_int_equal(o.exit_code, 0);
	assert_string_equal(json_string_value(json_array_get(
				    json_array_get(json_object_get(json_object_get(j, "table"), "rows"),
						   0),
				    0)),
			    "w");
	json_decref(j);
	tl_output_free(&o);

	after = ds_snapshot(f->data_dir);
	assert_string_equal(after, before); /* no -shm, nothing checkpointed */
	free(before);
	free(after);
}

static void host_readers_see_wal_commits_and_write_nothing(void **state)
{
	struct fixture *f = *state;
	char *before = ds_snapshot(f->data_dir), *after, err[512];
	struct schema s;
	json_t *list, *books;

	assert_int_equal(dataset_list(f->data_dir, &list, err, sizeof(err)), 0);
	books = ds_find_named(list, "books");
	assert_null(json_object_get(books, "error"));
	assert_int_equal(json_integer_value(json_object_get(
				 ds_find_named(json_object_get(books, "tables"), "t"), "rows")),
			 3);
	assert_int_equal(json_integer_value(json_object_get(
				 ds_find_named(json_object_get(books, "tables"), "late"), "rows")),
			 1);
	json_decref(list);

	assert_int_equal(schema_load("books", f->db, 5, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n_tables, 2);
	assert_string_equal(s.tables[0].name, "late");
	assert_int_equal(s.tables[1].rows, 3);
	schema_release(&s);

	assert_int_equal(validate_sql(f->db, "SELECT y FROM late", err, sizeof(err)), 0);

	after = ds_snapshot(f->data_dir);
	assert_string_equal(after, before); /* no -shm created on the host either */
	free(before);
	free(after);
}

static void hot_journal_is_refused_by_every_reader(void **state)
{
	struct fixture *f = *state;
	char err[512];
	struct tl_output o;
	struct schema s;
	json_t *j, *list, *books;
	const char *msg;

	j = exec_sql(f->db, SUM_QUERY, &o);
	assert_int_not_equal(o.exit_code, 0);
	assert_true(json_is_null(json_object_get(j, "table")));
	msg = json_string_value(json_object_get(json_object_get(j, "runner_error"), "message"));
	assert_non_null(msg);
	assert_non_null(strstr(msg, "books.sqlite"));
	assert_non_null(strstr(msg, "-journal"));
	assert_non_null(strstr(msg, "half-written"));
	json_decref(j);
	tl_output_free(&o);

	assert_int_equal(dataset_list(f->data_dir, &list, err, sizeof(err)), 0);
	books = ds_find_named(list, "books");
	assert_non_null(strstr(json_string_value(json_object_get(books, "error")), "-journal"));
	assert_int_equal(json_array_size(json_object_get(books, "tables")), 0);
	json_decref(list);

	assert_int_equal(schema_load("books", f->db, 5, &s, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "books.sqlite"));
	assert_non_null(strstr(err, "half-written"));
	assert_int_equal(validate_sql(f->db, SUM_QUERY, err, sizeof(err)), -EBUSY);
	assert_int_equal(template_check_dataset("top_customers", f->db, err, sizeof(err)),
			 -EBUSY);
	assert_non_null(strstr(err, "-journal"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(sql_run_in_the_sandbox_reads_wal_commits, setup_wal,
						teardown),
		cmocka_unit_test_setup_teardown(host_readers_see_wal_commits_and_write_nothing,
						setup_wal, teardown),
		cmocka_unit_test_setup_teardown(hot_journal_is_refused_by_every_reader, setup_hot,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
