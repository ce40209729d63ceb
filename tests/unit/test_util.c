/* Unit tests of src/util: bounded buffers, strict parsing, UTF-8 cleaning. */
#include "testlib.h"

#include "util/buf.h"
#include "util/parse.h"
#include "util/utf8.h"

static void buf_keeps_up_to_max_and_counts_the_rest(void **state)
{
	struct buf b;
	(void)state;
	buf_init(&b, 5);
	assert_int_equal(buf_append(&b, "abc", 3), 0);
	assert_false(b.truncated);
	assert_int_equal(buf_append(&b, "defgh", 5), 0);
	assert_true(b.truncated);
	assert_int_equal(b.len, 5);
	assert_int_equal(b.seen_bytes, 8);
	assert_string_equal(b.data, "abcde");
	buf_release(&b);
	buf_release(NULL);
}

static void buf_steal_hands_over_the_data(void **state)
{
	struct buf b;
	size_t len;
	char *data;
	(void)state;
	buf_init(&b, 100);
	assert_null(buf_steal(&b, &len));
	assert_int_equal(len, 0);
	assert_int_equal(buf_append(&b, "hello", 5), 0);
	data = buf_steal(&b, &len);
	assert_string_equal(data, "hello");
	assert_int_equal(len, 5);
	assert_null(b.data);
	free(data);
}

static void parse_u64_is_strict(void **state)
{
	uint64_t v = 7;
	(void)state;
	assert_int_equal(parse_u64("42", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_u64("", &v), -EINVAL);
	assert_int_equal(parse_u64("-1", &v), -EINVAL);
	assert_int_equal(parse_u64("+1", &v), -EINVAL);
	assert_int_equal(parse_u64("12x", &v), -EINVAL);
	assert_int_equal(parse_u64(" 1", &v), -EINVAL);
	assert_int_equal(parse_u64("99999999999999999999999", &v), -ERANGE);
	assert_int_equal(v, 42);
}

static void parse_bytes_takes_suffixes(void **state)
{
	uint64_t v;
	(void)state;
	assert_int_equal(parse_bytes("256M", &v), 0);
	assert_int_equal(v, 256ull << 20);
	assert_int_equal(parse_bytes("1G", &v), 0);
	assert_int_equal(v, 1ull << 30);
	assert_int_equal(parse_bytes("64k", &v), 0);
	assert_int_equal(v, 64ull << 10);
	assert_int_equal(parse_bytes("2MiB", &v), 0);
	assert_int_equal(v, 2ull << 20);
	assert_int_equal(parse_bytes("1000", &v), 0);
	assert_int_equal(v, 1000);
	assert_int_equal(parse_bytes("1X", &v), -EINVAL);
	assert_int_equal(parse_bytes("M", &v), -EINVAL);
	assert_int_equal(parse_bytes("99999999999T", &v), -ERANGE);
}

static void utf8_keeps_valid_text(void **state)
{
	const char *text = "caf\xc3\xa9 \xe2\x82\xac 10 \xf0\x9f\x93\x88 a\0b";
	size_t len = strlen(text) + 2;
	char *out;
	size_t out_len;
	(void)state;
	assert_int_equal(utf8_sanitize(text, len, &out, &out_len), 0);
	assert_null(out);
	assert_int_equal(out_len, len);
}

static void utf8_replaces_every_bad_sequence(void **state)
{
	/* lone continuation, overlong '/', surrogate, past U+10FFFF, cut
	 * sequence: one U+FFFD per maximal subpart */
	const char in[] = "a\x80" "b\xc0\xaf" "c\xed\xa0\x80" "d\xf4\x90\x80\x80" "e\xe2\x82" "f";
	const char want[] = "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
			    "d\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "e\xef\xbf\xbd" "f";
	char *out;
	size_t len;
	(void)state;
	assert_int_equal(utf8_sanitize(in, sizeof(in) - 1, &out, &len), 0);
	assert_non_null(out);
	assert_int_equal(len, sizeof(want) - 1);
	assert_memory_equal(out, want, len);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buf_keeps_up_to_max_and_counts_the_rest),
		cmocka_unit_test(buf_steal_hands_over_the_data),
		cmocka_unit_test(parse_u64_is_strict),
		cmocka_unit_test(parse_bytes_takes_suffixes),
		cmocka_unit_test(utf8_keeps_valid_text),
		cmocka_unit_test(utf8_replaces_every_bad_sequence),
	};
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
