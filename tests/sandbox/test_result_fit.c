/*
 * result_fit: the sizes a result is held to are the sizes of its JSON
 * text, and whatever is over is cut with its flag, never refused.
 */
#include <jansson.h>

#include "testlib.h"

#include "sandbox/result_fit.h"

static size_t encoded_text(const char *s, size_t len)
{
	json_t *j = json_stringn(s, len);
	size_t n = result_encoded_size(j) - 2;

	json_decref(j);
	return n;
}

static void text_fit_counts_escapes(void **state)
{
	const char *mixed = "a\x01\"\n\xc3\xa9z"; /* 1 + 6 + 2 + 2 + 2 + 1 bytes encoded */
	(void)state;

	assert_int_equal(encoded_text(mixed, strlen(mixed)), 14);
	assert_int_equal(result_text_fit(mixed, strlen(mixed), 14), strlen(mixed));
	assert_int_equal(result_text_fit(mixed, strlen(mixed), 13), strlen(mixed) - 1);
	/* é takes two bytes of text and of JSON: never split in two. */
	assert_int_equal(result_text_fit(mixed, strlen(mixed), 12), 4);
	assert_int_equal(result_text_fit(mixed, strlen(mixed), 6), 1);
	assert_int_equal(result_text_fit(mixed, strlen(mixed), 7), 2);
	assert_int_equal(result_text_fit(mixed, strlen(mixed), 0), 0);
}

static json_t *float_table(size_t rows)
{
	json_t *t = json_pack("{s:[{s:s,s:s}],s:[],s:I,s:I,s:b}", "columns", "name", "x", "type",
			      "real", "rows", "row_count", (json_int_t)rows, "total_rows",
			      (json_int_t)rows, "truncated", 0);

	for (size_t i = 0; i < rows; i++)
		json_array_append_new(json_object_get(t, "rows"), json_pack("[f]", 0.1));
	return t;
}

static void table_fit_cuts_rows_and_says_so(void **state)
{
	json_t *t = float_table(1000);
	size_t size = result_encoded_size(t);
	(void)state;

	assert_false(result_table_fit(t, size));
	assert_true(result_table_fit(t, size / 2));
	assert_true(result_encoded_size(t) <= size / 2);
	assert_true(json_array_size(json_object_get(t, "rows")) > 400);
	assert_true(json_array_size(json_object_get(t, "rows")) < 500);
	assert_true(json_is_true(json_object_get(t, "truncated")));
	assert_int_equal(json_integer_value(json_object_get(t, "row_count")),
			 json_array_size(json_object_get(t, "rows")));
	assert_int_equal(json_integer_value(json_object_get(t, "total_rows")), 1000);
	json_decref(t);
}

static bool has(json_t *list, const char *name)
{
	for (size_t i = 0; i < json_array_size(list); i++)
		if (strcmp(json_string_value(json_array_get(list, i)), name) == 0)
			return true;
	return false;
}

/* The frame guard: table first, then the longer stream. */
static void result_fit_cuts_table_then_output(void **state)
{
	char *text = malloc(100000);
	json_t *r;
	(void)state;

	memset(text, '\x01', 100000);
	r = json_pack("{s:s,s:s%,s:b,s:s%,s:b,s:o,s:[s]}", "status", "ok", "stdout", text,
		      (size_t)100000, "stdout_truncated", 0, "stderr", text, (size_t)1000,
		      "stderr_truncated", 0, "table", float_table(1000), "limits_hit", "wall");
	assert_int_equal(result_fit(r, 1 << 20), 0);
	assert_false(json_is_true(json_object_get(r, "stdout_truncated")));
	assert_int_equal(result_fit(r, 400000), 0);
	assert_true(result_encoded_size(r) <= 400000);
	assert_true(json_is_true(json_object_get(json_object_get(r, "table"), "truncated")));
	assert_true(has(json_object_get(r, "limits_hit"), "rows"));
	assert_true(json_is_true(json_object_get(r, "stdout_truncated")));
	assert_false(json_is_true(json_object_get(r, "stderr_truncated")));
	assert_true(has(json_object_get(r, "limits_hit"), "output"));
	assert_true(has(json_object_get(r, "limits_hit"), "wall"));
	/* Nothing to cut is left: refused, not overrun. */
	assert_int_equal(result_fit(r, 100), -EMSGSIZE);
	json_decref(r);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(text_fit_counts_escapes),
		cmocka_unit_test(table_fit_cuts_rows_and_says_so),
		cmocka_unit_test(result_fit_cuts_table_then_output),
	};

	return cmocka_run_group_tests_name("result fit", tests, NULL, NULL);
}
