/*
 * test_csv_import: streamed CSV uploads into new datasets (src/datasets):
 * the record parser, type inference, the SQLite content of a good upload
 * (whole or fed byte by byte), and bad uploads, limits, name clashes and
 * aborts, each of which must leave DATA_DIR exactly as it was.
 */
#include "ds_testlib.h"

#include "datasets/csv_parse.h"
#include "datasets/internal.h"

#include "util/banned.h"

#define BIG (1u << 30)

/* ---- the parser and the types ------------------------------------------ */

static void parser_reads_rfc4180(void **state)
{
	static const char text[] = "a,\"b\"\"c\",\r\n\"x\ny\"\rz,,q\"r\n\n";
	FILE *f = fmemopen((void *)text, sizeof(text) - 1, "r");
	struct csv_reader r;
	struct csv_record rec;
	(void)state;

	assert_non_null(f);
	csv_reader_init(&r, f, 1024, 16);
	assert_int_equal(csv_reader_next(&r, &rec), 1);
	assert_int_equal(rec.line, 1);
	assert_int_equal(rec.count, 3);
	assert_string_equal(rec.fields[0].data, "a");
	assert_string_equal(rec.fields[1].data, "b\"c");
	assert_int_equal(rec.fields[2].len, 0);
	assert_int_equal(csv_reader_next(&r, &rec), 1);
	assert_int_equal(rec.line, 2);
	assert_int_equal(rec.count, 1);
	assert_string_equal(rec.fields[0].data, "x\ny");
	assert_int_equal(csv_reader_next(&r, &rec), 1);
	assert_int_equal(rec.line, 4);
	assert_int_equal(rec.count, 3);
	assert_string_equal(rec.fields[2].data, "q\"r");
	assert_int_equal(csv_reader_next(&r, &rec), 0);
	csv_reader_release(&r);
	fclose(f);
}

static void parser_enforces_its_limits(void **state)
{
	static const char text[] = "a,b,c\n";
	FILE *f = fmemopen((void *)text, sizeof(text) - 1, "r");
	struct csv_reader r;
	struct csv_record rec;
	(void)state;

	csv_reader_init(&r, f, 1024, 2);
	assert_int_equal(csv_reader_next(&r, &rec), -EINVAL);
	assert_int_equal(r.error, CSV_ERR_TOO_MANY_FIELDS);
	csv_reader_release(&r);
	rewind(f);
	csv_reader_init(&r, f, 4, 16);
	assert_int_equal(csv_reader_next(&r, &rec), -EINVAL);
	assert_int_equal(r.error, CSV_ERR_TOO_LONG);
	csv_reader_release(&r);
	fclose(f);
}

static void types_are_strict(void **state)
{
	static const struct {
		const char *value;
		enum csv_type type;
	} cases[] = {
		{ "", CSV_TYPE_EMPTY },
		{ "0", CSV_TYPE_INTEGER },
		{ "-12", CSV_TYPE_INTEGER },
		{ "+7", CSV_TYPE_INTEGER },
		{ "9223372036854775807", CSV_TYPE_INTEGER },
		{ "-9223372036854775808", CSV_TYPE_INTEGER },
		{ "9223372036854775808", CSV_TYPE_TEXT },
		{ "1.5", CSV_TYPE_REAL },
		{ "-.5", CSV_TYPE_REAL },
		{ "3.", CSV_TYPE_REAL },
		{ "1e3", CSV_TYPE_REAL },
		{ "2.5E-3", CSV_TYPE_REAL },
		{ "1e999", CSV_TYPE_TEXT },
		{ "1e", CSV_TYPE_TEXT },
		{ ".", CSV_TYPE_TEXT },
		{ "1.2.3", CSV_TYPE_TEXT },
		{ "nan", CSV_TYPE_TEXT },
		{ "inf", CSV_TYPE_TEXT },
		{ "0x1p3", CSV_TYPE_TEXT },
		{ "1,5", CSV_TYPE_TEXT },
		{ " 12", CSV_TYPE_TEXT },
		{ "12 ", CSV_TYPE_TEXT },
		{ "-", CSV_TYPE_TEXT },
		{ "2024-02-29", CSV_TYPE_DATE },
		{ "2000-02-29", CSV_TYPE_DATE },
		{ "1900-02-29", CSV_TYPE_TEXT },
		{ "2023-02-29", CSV_TYPE_TEXT },
		{ "2024-04-31", CSV_TYPE_TEXT },
		{ "2024-13-01", CSV_TYPE_TEXT },
		{ "2024-00-10", CSV_TYPE_TEXT },
		{ "2024-1-01", CSV_TYPE_TEXT },
		{ "2024/01/01", CSV_TYPE_TEXT },
		{ "abc", CSV_TYPE_TEXT },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum csv_type t = csv_type_of(cases[i].value, strlen(cases[i].value));
		if (t != cases[i].type)
			fail_msg("\"%s\": type %d, expected %d", cases[i].value, t, cases[i].type);
	}
	assert_int_equal(csv_type_merge(CSV_TYPE_INTEGER, CSV_TYPE_REAL), CSV_TYPE_REAL);
	assert_int_equal(csv_type_merge(CSV_TYPE_REAL, CSV_TYPE_INTEGER), CSV_TYPE_REAL);
	assert_int_equal(csv_type_merge(CSV_TYPE_EMPTY, CSV_TYPE_DATE), CSV_TYPE_DATE);
	assert_int_equal(csv_type_merge(CSV_TYPE_DATE, CSV_TYPE_EMPTY), CSV_TYPE_DATE);
	assert_int_equal(csv_type_merge(CSV_TYPE_DATE, CSV_TYPE_INTEGER), CSV_TYPE_TEXT);
	assert_string_equal(csv_type_name(CSV_TYPE_EMPTY), "text");
	assert_string_equal(csv_type_sql(CSV_TYPE_DATE), "TEXT");
}

/* ---- a good upload --------------------------------------------------------- */

static const char good_csv[] =
	"\xEF\xBB\xBF id ,amount,day,note,empty,mixed\r\n"
	"1,12.50,2024-01-31,\"Smith, John\",,7\r\n"
	"-2,5,2024-02-29,\"He said \"\"hi\"\"\",,x\r\n"
	"3,,2023-12-01,\"line one\r\nline two\",,\r\n"
	",1e3,,plain,,8\r\n";

static const char good_rows[] =
	"1|integer|12.5|real|2024-01-31|text|Smith, John|NULL|7|text\n"
	"-2|integer|5.0|real|2024-02-29|text|He said \"hi\"|NULL|x|text\n"
	"3|integer|NULL|null|2023-12-01|text|line one\r\nline two|NULL|NULL|null\n"
	"NULL|null|1000.0|real|NULL|null|plain|NULL|8|text\n";

static void check_good_dataset(const char *data, const char *name, json_t *summary)
{
	static const char *const types[] = { "integer", "real", "date", "text", "text", "text" };
	static const char *const names[] = { "id", "amount", "day", "note", "empty", "mixed" };
	char dir[DS_PATH], db[DS_PATH], file[DS_PATH], csv[DS_PATH], *got;
	json_t *columns = json_object_get(summary, "columns");
	struct stat st;

	assert_string_equal(json_string_value(json_object_get(summary, "name")), name);
	assert_string_equal(json_string_value(json_object_get(summary, "table")), "sales");
	assert_int_equal(json_integer_value(json_object_get(summary, "rows")), 4);
	assert_int_equal(json_array_size(columns), 6);
	for (size_t i = 0; i < 6; i++) {
		json_t *c = json_array_get(columns, i);
		assert_string_equal(json_string_value(json_object_get(c, "name")), names[i]);
		assert_string_equal(json_string_value(json_object_get(c, "type")), types[i]);
	}

	ds_path(dir, data, name);
	snprintf(file, sizeof(file), "%s.sqlite", name);
	ds_path(db, dir, file);
	got = ds_query(db, "SELECT id, typeof(id), amount, typeof(amount), day, typeof(day), note, "
			   "empty, mixed, typeof(mixed) FROM sales ORDER BY rowid");
	assert_string_equal(got, good_rows);
	free(got);
	got = ds_query(db, "SELECT name, type FROM pragma_table_info('sales') ORDER BY cid");
	assert_string_equal(got, "id|INTEGER\namount|REAL\nday|TEXT\nnote|TEXT\nempty|TEXT\n"
				 "mixed|TEXT\n");
	free(got);
	got = ds_query(db, "PRAGMA journal_mode");
	assert_string_equal(got, "delete\n");
	free(got);

	/* The header name " id " is trimmed, so Python gets a CSV with "id"
	 * and the upload is kept as sent beside it; everything is readable by
	 * the sandbox. */
	ds_path(csv, dir, "sales.csv");
	{
		FILE *f = fopen(csv, "rb");
		char head[64] = "";
		assert_non_null(f);
		assert_non_null(fgets(head, sizeof(head), f));
		fclose(f);
		assert_string_equal(head, "id,amount,day,note,empty,mixed\n");
		assert_int_equal(stat(csv, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0644);
	}
	ds_path(csv, dir, "sales.original.csv");
	assert_int_equal(stat(csv, &st), 0);
	assert_int_equal(st.st_size, sizeof(good_csv) - 1);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(stat(db, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);
	{
		FILE *f = fopen(csv, "rb");
		char back[sizeof(good_csv)];
		assert_non_null(f);
		assert_int_equal(fread(back, 1, sizeof(back), f), sizeof(good_csv) - 1);
		fclose(f);
		assert_memory_equal(back, good_csv, sizeof(good_csv) - 1);
	}
}

static void good_upload_becomes_a_dataset(void **state)
{
	char data[DS_PATH], err[256] = "", got[DS_PATH], *snap;
	json_t *summary = NULL, *list = NULL;
	(void)state;

	ds_scratch(data);
	assert_int_equal(ds_import(data, "q1", "sales", good_csv, sizeof(good_csv) - 1, 0, BIG, 100,
				   &summary, err, sizeof(err)),
			 0);
	check_good_dataset(data, "q1", summary);
	json_decref(summary);

	snap = ds_snapshot(data);
	assert_null(strstr(snap, ".upload-"));
	assert_null(strstr(snap, "journal"));
	free(snap);
	assert_int_equal(dataset_path_for_sql(data, "q1", got, sizeof(got), err, sizeof(err)), 0);
	assert_int_equal(dataset_list(data, &list, err, sizeof(err)), 0);
	assert_int_equal(json_array_size(list), 1);
	/* sales.csv, sales.original.csv and q1.sqlite. */
	assert_int_equal(json_array_size(json_object_get(json_array_get(list, 0), "files")), 3);
	json_decref(list);
	ds_rmtree(data);
}

static void byte_by_byte_gives_the_same_dataset(void **state)
{
	static const size_t chunks[] = { 1, 2, 3, 7 };
	char data[DS_PATH], err[256] = "", name[16];
	(void)state;

	ds_scratch(data);
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		json_t *summary = NULL;
		snprintf(name, sizeof(name), "c%zu", chunks[i]);
		assert_int_equal(ds_import(data, name, "sales", good_csv, sizeof(good_csv) - 1,
					   chunks[i], BIG, 100, &summary, err, sizeof(err)),
				 0);
		check_good_dataset(data, name, summary);
		json_decref(summary);
	}
	ds_rmtree(data);
}

/* Many rows cross the parser's 64 KiB read buffer at every kind of byte. */
static void large_upload_is_complete(void **state)
{
	char data[DS_PATH], err[256] = "", db[DS_PATH], *csv = NULL, *got, line[128];
	size_t len = 0;
	json_t *summary = NULL;
	(void)state;

	tl_append(&csv, &len, "id,note,price\n", 14);
	for (int i = 1; i <= 20000; i++) {
		int n = snprintf(line, sizeof(line), "%d,\"note \"\"%d\"\"\r\nend\",%d.25\n", i, i, i);
		tl_append(&csv, &len, line, (size_t)n);
	}
	ds_scratch(data);
	assert_int_equal(ds_import(data, "big", "t", csv, len, 4093, BIG, 20000, &summary, err,
				   sizeof(err)),
			 0);
	assert_int_equal(json_integer_value(json_object_get(summary, "rows")), 20000);
	json_decref(summary);
	ds_path(db, data, "big/big.sqlite");
	got = ds_query(db, "SELECT count(*), sum(id), sum(price), "
			   "sum(note = 'note \"' || id || '\"' || char(13, 10) || 'end') FROM t");
	assert_string_equal(got, "20000|200010000|200015000.0|20000\n");
	free(got);
	free(csv);
	ds_rmtree(data);
}

static void odd_but_valid_uploads(void **state)
{
	char data[DS_PATH], err[256] = "", db[DS_PATH], *got;
	json_t *summary = NULL;
	static const char quoted_names[] = "\"say \"\"hi\"\"\",a b\n1,2\n";
	static const char blank_lines[] = "\n\nv\n1\n\n2\n\n\n";
	static const char no_final_newline[] = "a,b\n1,2";
	(void)state;

	ds_scratch(data);
	assert_int_equal(ds_import(data, "names", "t", quoted_names, sizeof(quoted_names) - 1, 0,
				   BIG, 10, NULL, err, sizeof(err)),
			 0);
	ds_path(db, data, "names/names.sqlite");
	got = ds_query(db, "SELECT \"say \"\"hi\"\"\", \"a b\" FROM t");
	assert_string_equal(got, "1|2\n");
	free(got);

	assert_int_equal(ds_import(data, "blanks", "t", blank_lines, sizeof(blank_lines) - 1, 0, BIG,
				   10, &summary, err, sizeof(err)),
			 0);
	assert_int_equal(json_integer_value(json_object_get(summary, "rows")), 2);
	json_decref(summary);

	assert_int_equal(ds_import(data, "tail", "t", no_final_newline,
				   sizeof(no_final_newline) - 1, 0, BIG, 10, &summary, err,
				   sizeof(err)),
			 0);
	assert_int_equal(json_integer_value(json_object_get(summary, "rows")), 1);
	json_decref(summary);

	/* A header alone is a table without rows; its columns are text. */
	assert_int_equal(ds_import(data, "header", "t", "a,b\n", 4, 0, BIG, 10, &summary, err,
				   sizeof(err)),
			 0);
	assert_int_equal(json_integer_value(json_object_get(summary, "rows")), 0);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(summary, "columns"), 0), "type")),
			    "text");
	json_decref(summary);
	ds_rmtree(data);
}

static void widest_table_fits(void **state)
{
	char data[DS_PATH], err[256] = "", *csv = NULL, *wider = NULL, col[16];
	size_t len = 0, wider_len = 0;
	(void)state;

	for (int i = 1; i <= CSV_MAX_COLUMNS; i++) {
		int n = snprintf(col, sizeof(col), "%sc%d", i > 1 ? "," : "", i);
		tl_append(&csv, &len, col, (size_t)n);
	}
	tl_append(&csv, &len, "\n", 1);
	for (int i = 1; i <= CSV_MAX_COLUMNS; i++)
		tl_append(&csv, &len, i > 1 ? ",1" : "1", i > 1 ? 2 : 1);
	ds_scratch(data);
	assert_int_equal(ds_import(data, "wide", "t", csv, len, 0, BIG, 10, NULL, err, sizeof(err)),
			 0);
	/* One more column is refused before SQLite sees it. */
	tl_append(&wider, &wider_len, "x0,", 3);
	tl_append(&wider, &wider_len, csv, len);
	assert_int_equal(ds_import(data, "wider", "t", wider, wider_len, 0, BIG, 10, NULL, err,
				   sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "line 1: more than 2000 columns");
	free(wider);
	free(csv);
	ds_rmtree(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parser_reads_rfc4180),
		cmocka_unit_test(parser_enforces_its_limits),
		cmocka_unit_test(types_are_strict),
		cmocka_unit_test(good_upload_becomes_a_dataset),
		cmocka_unit_test(byte_by_byte_gives_the_same_dataset),
		cmocka_unit_test(large_upload_is_complete),
		cmocka_unit_test(odd_but_valid_uploads),
		cmocka_unit_test(widest_table_fits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
