/*
 * test_csv_refused: uploads that must fail (src/datasets): bad CSV with
 * the line where the bad record starts (and the delimiter it looks like),
 * columns whose decimal mark cannot be told, limits, bad names, names taken
 * before or during the upload, and aborts. After every one DATA_DIR must
 * be exactly as before: no dataset, no temporary folder.
 */
#include "ds_testlib.h"

#include "datasets/internal.h"

#include "util/banned.h"

#define BIG (1u << 30)

struct bad_case {
	const char *what;
	const char *csv;
	size_t len; /* 0: strlen(csv) */
	int rc;
	const char *message;
};

static const struct bad_case bad_cases[] = {
	{ "ragged row", "a,b\n1,2\n3\n", 0, -EINVAL, "line 3 has 1 field where the header has 2" },
	{ "ragged after a quoted line break", "a,b\n\"x\ny\",2\n3,4,5\n", 0, -EINVAL,
	  "line 4 has 3 fields where the header has 2" },
	{ "ragged, CRLF and a blank line", "a,b\r\n1,2\r\n\r\n3,4,5\r\n", 0, -EINVAL,
	  "line 4 has 3 fields where the header has 2" },
	{ "ragged, lone CR", "a,b\r1,2\r3\r", 0, -EINVAL,
	  "line 3 has 1 field where the header has 2" },
	{ "ragged after a BOM", "\xEF\xBB\xBF" "a,b\n1\n", 0, -EINVAL,
	  "line 2 has 1 field where the header has 2" },
	{ "ragged semicolon file", "name;amount\nrent;1200\nfood;3;4\n", 0, -EINVAL,
	  "line 3 has 3 fields where the header has 2" },
	{ "unterminated quote", "a,b\n1,2\n\"open,3\n4,5\n", 0, -EINVAL,
	  "line 3: unterminated quoted field" },
	{ "text after a closing quote", "a\n\"x\"y\n", 0, -EINVAL,
	  "line 2: text after a closing quote (inside a quoted field, write a quote as \"\")" },
	{ "invalid UTF-8", "a,b\n1,2\n3,caf\xe9\n", 0, -EINVAL,
	  "line 3: not valid UTF-8 (field 2): save the file as CSV UTF-8 "
	  "(exports in Windows-1252 or Latin-1 must be converted)" },
	{ "invalid UTF-8 in a quoted field", "a\n\"x\ny\"\n\"\xc0\xaf\"\n", 0, -EINVAL,
	  "line 4: not valid UTF-8 (field 1): save the file as CSV UTF-8 "
	  "(exports in Windows-1252 or Latin-1 must be converted)" },
	{ "invalid UTF-8 in the header", "a,\xff\n", 0, -EINVAL,
	  "line 1: not valid UTF-8 (field 2): save the file as CSV UTF-8 "
	  "(exports in Windows-1252 or Latin-1 must be converted)" },
	{ "NUL byte", "a\nx\0y\n", 6, -EINVAL, "line 2: field 1 holds a NUL byte (a file saved as UTF-16 or Unicode text has "
	  "them): save it as CSV UTF-8" },
	{ "UTF-16, as Excel saves Unicode text", "\xFF\xFE" "a\0\t\0b\0\n\0", 10, -EINVAL,
	  "line 1: field 1 holds a NUL byte (a file saved as UTF-16 or Unicode text has "
	  "them): save it as CSV UTF-8" },
	{ "duplicate header", "id,name, id\n1,a,2\n", 0, -EINVAL,
	  "line 1: column name \"id\" appears twice (columns 1 and 3; names are compared "
	  "ignoring case)" },
	{ "duplicate header ignoring case", "Amount,amount\n", 0, -EINVAL,
	  "line 1: column name \"amount\" appears twice (columns 1 and 2; names are compared "
	  "ignoring case)" },
	{ "empty header name", "a,,c\n1,2,3\n", 0, -EINVAL, "line 1: column 2 has no name" },
	{ "blank header name", "a,  ,c\n1,2,3\n", 0, -EINVAL, "line 1: column 2 has no name" },
	{ "control character in a name", "a,\"b\nc\"\n1,2\n", 0, -EINVAL,
	  "line 1: column 2's name holds a control character" },
	{ "empty upload", "", 0, -EINVAL,
	  "the upload is empty: its first line must be the header (the column names)" },
	{ "blank lines only", "\r\n\n", 0, -EINVAL,
	  "the upload is empty: its first line must be the header (the column names)" },
};

/* Uploads refused for how they are written, with the uploader's format. */
static const struct {
	const char *what, *csv;
	struct csv_import_format fmt;
	const char *message;
} format_cases[] = {
	{ "semicolon file read as commas", "name;amount\nrent;1200,50\nfood;3\n", { ',', 0, -1 },
	  "line 2 has 2 fields where the header has 1; the file looks semicolon-separated: "
	  "upload with delimiter=;" },
	{ "tab file read as commas", "a\tb\n1\t2,5\n", { ',', 0, -1 },
	  "line 1: column 1's name holds a control character (a tab: if the file is "
	  "tab-separated, upload with delimiter=tab)" },
	{ "pipe file read as semicolons", "a|b\n1|2;5\n", { ';', 0, -1 },
	  "line 2 has 2 fields where the header has 1; the file looks pipe-separated: upload "
	  "with delimiter=|" },
	/* A comma in a header name and a decimal comma in every record: split
	 * by ',' the amount would be 100 and the date "00;01.01.2025". */
	{ "comma and semicolon both fit", "Netto, EUR;Datum\n100,00;01.01.2025\n250,50;02.01.2025\n",
	  { 0, 0, -1 },
	  "the header and the first records split evenly both by comma (2 fields) and by "
	  "semicolon (2 fields), so the delimiter cannot be told: upload with delimiter=, or "
	  "delimiter=;" },
	{ "comma file given delimiter=;", "name,amount\nrent,1200\nfood,3\n", { ';', 0, -1 },
	  "with delimiter=; the header is one column (\"name,amount\"), but the file looks "
	  "comma-separated: upload with delimiter=, or leave delimiter= out" },
	{ "semicolon file given delimiter=,", "name;amount\nrent;1200\n", { ',', 0, -1 },
	  "with delimiter=, the header is one column (\"name;amount\"), but the file looks "
	  "semicolon-separated: upload with delimiter=; or leave delimiter= out" },
	{ "ambiguous thousands or decimal", "id,amount\n1,\"1,234\"\n2,\"5,678\"\n", { 0, 0, -1 },
	  "column \"amount\": \"1,234\" (line 2) could be a whole number with a thousands "
	  "separator or a decimal, and no other value or column shows which: upload with "
	  "decimal=. or decimal=," },
	{ "ambiguous dots, columns disagreeing", "a;b;c\n1.234;1,5;1.5\n", { 0, 0, -1 },
	  "column \"a\": \"1.234\" (line 2) could be a whole number with a thousands "
	  "separator or a decimal, and no other value or column shows which: upload with "
	  "decimal=. or decimal=," },
};

static void badly_written_uploads_say_what_to_send(void **state)
{
	char data[DS_PATH], err[512];
	struct csv_import_format bad = { 'x', 0, -1 };
	struct csv_import_limits limits = { BIG, 100 };
	struct csv_import *imp;
	(void)state;

	ds_scratch(data);
	for (size_t i = 0; i < sizeof(format_cases) / sizeof(format_cases[0]); i++) {
		char *before = ds_snapshot(data), *after;
		int rc;

		err[0] = '\0';
		rc = ds_import_as(data, "upload", format_cases[i].csv, &format_cases[i].fmt, NULL, err,
				  sizeof(err));
		if (rc != -EINVAL || strcmp(err, format_cases[i].message) != 0)
			fail_msg("%s: got %d \"%s\"", format_cases[i].what, rc, err);
		after = ds_snapshot(data);
		assert_string_equal(after, before);
		free(after);
		free(before);
	}
	/* A format the import does not know is refused before any byte. */
	assert_int_equal(csv_import_begin(data, "u", "t", &limits, &imp, err, sizeof(err)), 0);
	assert_int_equal(csv_import_set_format(imp, &bad), -EINVAL);
	bad = (struct csv_import_format){ 0, ';', -1 };
	assert_int_equal(csv_import_set_format(imp, &bad), -EINVAL);
	bad = (struct csv_import_format){ 0, 0, 2 };
	assert_int_equal(csv_import_set_format(imp, &bad), -EINVAL);
	csv_import_abort(imp);
	ds_rmtree(data);
}

static void bad_csv_is_refused_and_leaves_nothing(void **state)
{
	char data[DS_PATH], err[512];
	(void)state;

	ds_scratch(data);
	ds_mkdir(data, "existing");
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		size_t len = c->len ? c->len : strlen(c->csv);
		char *before = ds_snapshot(data), *after;
		int rc;

		/* Whole and byte by byte: the same answer. */
		for (size_t chunk = 0; chunk <= 1; chunk++) {
			err[0] = '\0';
			rc = ds_import(data, "upload", "t", c->csv, len, chunk, BIG, 100, NULL, err,
				       sizeof(err));
			if (rc != c->rc || strcmp(err, c->message) != 0)
				fail_msg("%s: got %d \"%s\", expected %d \"%s\"", c->what, rc, err,
					 c->rc, c->message);
			after = ds_snapshot(data);
			assert_string_equal(after, before);
			free(after);
		}
		free(before);
	}
	ds_rmtree(data);
}

static void long_column_names_and_records_are_refused(void **state)
{
	char data[DS_PATH], err[256], *csv = NULL, *before, *after;
	size_t len = 0;
	(void)state;

	ds_scratch(data);
	before = ds_snapshot(data);
	for (int i = 0; i < 129; i++)
		tl_append(&csv, &len, "n", 1);
	tl_append(&csv, &len, "\n1\n", 3);
	assert_int_equal(ds_import(data, "u", "t", csv, len, 0, BIG, 10, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "line 1: column 1's name is longer than 128 bytes");
	/* 128 bytes is fine. */
	memmove(csv, csv + 1, len);
	assert_int_equal(ds_import(data, "ok", "t", csv, len - 1, 0, BIG, 10, NULL, err,
				   sizeof(err)),
			 0);
	free(csv);
	csv = NULL;
	len = 0;
	ds_rmtree(data);
	ds_scratch(data);
	free(before);
	before = ds_snapshot(data);

	/* A quoted field one byte over the limit, on line 3. */
	len = 5 + CSV_MAX_RECORD_BYTES + 1 + 2;
	csv = malloc(len);
	assert_non_null(csv);
	memcpy(csv, "a\n1\n\"", 5);
	memset(csv + 5, 'x', CSV_MAX_RECORD_BYTES + 1);
	memcpy(csv + len - 2, "\"\n", 2);
	assert_int_equal(ds_import(data, "u", "t", csv, len, 0, BIG, 10, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "line 3: record longer than 16777216 bytes");
	after = ds_snapshot(data);
	assert_string_equal(after, before);
	free(after);
	free(before);
	free(csv);
	ds_rmtree(data);
}

static void byte_limit_is_enforced(void **state)
{
	static const char csv[] = "a,b\n1,2\n";
	struct csv_import_limits limits = { .max_bytes = 7, .max_rows = 10 };
	struct csv_import *imp = NULL;
	char data[DS_PATH], err[256], *before, *after;
	json_t *summary = NULL;
	(void)state;

	ds_scratch(data);
	before = ds_snapshot(data);
	/* Exactly max_bytes is fine. */
	assert_int_equal(ds_import(data, "exact", "t", csv, 8, 1, 8, 10, NULL, err, sizeof(err)), 0);
	ds_rmtree(data);
	ds_scratch(data);
	free(before);
	before = ds_snapshot(data);

	assert_int_equal(ds_import(data, "u", "t", csv, 8, 0, 7, 10, NULL, err, sizeof(err)),
			 -EFBIG);
	assert_string_equal(err, "upload larger than 7 bytes (LEDGERBOX_UPLOAD_MAX_BYTES)");
	/* Fed in pieces it fails on the byte past the limit, and stays dead. */
	assert_int_equal(csv_import_begin(data, "u", "t", &limits, &imp, err, sizeof(err)), 0);
	assert_int_equal(csv_import_feed(imp, csv, 4, err, sizeof(err)), 0);
	assert_int_equal(csv_import_feed(imp, csv + 4, 3, err, sizeof(err)), 0);
	assert_int_equal(csv_import_feed(imp, csv + 7, 1, err, sizeof(err)), -EFBIG);
	assert_int_equal(csv_import_feed(imp, "", 0, err, sizeof(err)), -EFBIG);
	err[0] = '\0';
	assert_int_equal(csv_import_finish(imp, &summary, err, sizeof(err)), -EFBIG);
	assert_string_equal(err, "upload larger than 7 bytes (LEDGERBOX_UPLOAD_MAX_BYTES)");
	assert_null(summary);
	after = ds_snapshot(data);
	assert_string_equal(after, before);
	free(after);
	free(before);
	ds_rmtree(data);
}

static void row_limit_is_enforced(void **state)
{
	static const char csv[] = "a\n1\n2\n3\n";
	char data[DS_PATH], err[256], *before, *after;
	(void)state;

	ds_scratch(data);
	before = ds_snapshot(data);
	assert_int_equal(ds_import(data, "u", "t", csv, sizeof(csv) - 1, 0, BIG, 2, NULL, err,
				   sizeof(err)),
			 -EFBIG);
	assert_string_equal(err, "more than 2 rows (LEDGERBOX_UPLOAD_MAX_ROWS)");
	after = ds_snapshot(data);
	assert_string_equal(after, before);
	free(after);
	free(before);
	assert_int_equal(ds_import(data, "u", "t", csv, sizeof(csv) - 1, 0, BIG, 3, NULL, err,
				   sizeof(err)),
			 0);
	ds_rmtree(data);
}

static void bad_names_are_refused(void **state)
{
	static const struct csv_import_limits limits = { .max_bytes = 100, .max_rows = 10 };
	char data[DS_PATH], err[256], *before, *after;
	struct csv_import *imp = NULL;
	(void)state;

	ds_scratch(data);
	before = ds_snapshot(data);
	assert_int_equal(csv_import_begin(data, "a.b", "t", &limits, &imp, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "not a valid dataset name"));
	assert_int_equal(csv_import_begin(data, "../up", "t", &limits, &imp, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(csv_import_begin(data, "ok", "x/y", &limits, &imp, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "not a valid table name"));
	assert_int_equal(csv_import_begin(data, "ok", "SQLite_master", &limits, &imp, err,
					  sizeof(err)),
			 -EINVAL);
	assert_int_equal(csv_import_begin(data, "ok", "t", NULL, &imp, err, sizeof(err)), -EINVAL);
	assert_null(imp);
	after = ds_snapshot(data);
	assert_string_equal(after, before);
	free(after);
	free(before);
	ds_rmtree(data);
}

static void taken_names_are_refused(void **state)
{
	static const struct csv_import_limits limits = { .max_bytes = 100, .max_rows = 10 };
	char data[DS_PATH], err[256], p[DS_PATH], *before, *after;
	struct csv_import *imp = NULL;
	json_t *summary = NULL;
	(void)state;

	ds_scratch(data);
	ds_mkdir(data, "taken");
	ds_write(data, "file", "x");
	ds_path(p, data, "link");
	assert_int_equal(symlink("nowhere", p), 0);
	before = ds_snapshot(data);
	assert_int_equal(csv_import_begin(data, "taken", "t", &limits, &imp, err, sizeof(err)),
			 -EEXIST);
	assert_string_equal(err, "dataset taken already exists: pick another name");
	assert_int_equal(csv_import_begin(data, "file", "t", &limits, &imp, err, sizeof(err)),
			 -EEXIST);
	assert_int_equal(csv_import_begin(data, "link", "t", &limits, &imp, err, sizeof(err)),
			 -EEXIST);
	assert_null(imp);

	/* The name appears while the upload runs: even an empty folder wins. */
	assert_int_equal(csv_import_begin(data, "later", "t", &limits, &imp, err, sizeof(err)), 0);
	assert_int_equal(csv_import_feed(imp, "a\n1\n", 4, err, sizeof(err)), 0);
	ds_mkdir(data, "later");
	assert_int_equal(csv_import_finish(imp, &summary, err, sizeof(err)), -EEXIST);
	assert_string_equal(err, "dataset later already exists: pick another name");
	assert_null(summary);
	/* The folder that won is untouched (still empty), nothing else is left. */
	ds_path(p, data, "later");
	assert_int_equal(rmdir(p), 0);
	after = ds_snapshot(data);
	assert_string_equal(after, before);
	free(after);
	free(before);
	ds_rmtree(data);
}

static void abort_leaves_nothing(void **state)
{
	static const struct csv_import_limits limits = { .max_bytes = 100, .max_rows = 10 };
	char data[DS_PATH], err[256], *before, *during, *after;
	struct csv_import *imp = NULL;
	json_t *list = NULL;
	(void)state;

	ds_scratch(data);
	ds_mkdir(data, "other");
	before = ds_snapshot(data);
	assert_int_equal(csv_import_begin(data, "u", "t", &limits, &imp, err, sizeof(err)), 0);
	assert_int_equal(csv_import_feed(imp, "a,b\n1,2\n", 8, err, sizeof(err)), 0);
	/* In progress: a hidden folder that is no dataset. */
	during = ds_snapshot(data);
	assert_non_null(strstr(during, "/.upload-"));
	assert_int_equal(dataset_list(data, &list, err, sizeof(err)), 0);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	csv_import_abort(imp);
	csv_import_abort(NULL);
	after = ds_snapshot(data);
	assert_string_equal(after, before);
	free(during);
	free(after);
	free(before);
	ds_rmtree(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bad_csv_is_refused_and_leaves_nothing),
		cmocka_unit_test(badly_written_uploads_say_what_to_send),
		cmocka_unit_test(long_column_names_and_records_are_refused),
		cmocka_unit_test(byte_limit_is_enforced),
		cmocka_unit_test(row_limit_is_enforced),
		cmocka_unit_test(bad_names_are_refused),
		cmocka_unit_test(taken_names_are_refused),
		cmocka_unit_test(abort_leaves_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
