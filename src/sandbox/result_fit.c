/* result_fit: see result_fit.h. */
#include "sandbox/result_fit.h"

#include <errno.h>
#include <string.h>

#include "util/banned.h"

/* Room kept for what a cut adds to the result itself: a flag turning
 * true, a name added to "limits_hit". */
#define FIT_SLACK_BYTES 64

static int count_bytes(const char *buffer, size_t size, void *data)
{
	(void)buffer;
	*(size_t *)data += size;
	return 0;
}

size_t result_encoded_size(const json_t *value)
{
	size_t n = 0;

	json_dump_callback(value, count_bytes, &n, JSON_COMPACT | JSON_ENCODE_ANY);
	return n;
}

/* What jansson writes for one byte of a UTF-8 string (without
 * JSON_ENSURE_ASCII): quote and backslash and the five short escapes take
 * two bytes, any other control byte \u00XX six, everything else itself. */
static size_t byte_cost(unsigned char c)
{
	if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
		return 2;
	return c < 0x20 ? 6 : 1;
}

size_t result_text_fit(const char *s, size_t len, size_t max_encoded)
{
	size_t cost = 0, fit = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c & 0xC0) != 0x80) {
			/* A character starts here: the text before it is a
			 * candidate. */
			if (cost > max_encoded)
				return fit;
			fit = i;
		}
		cost += byte_cost(c);
	}
	return cost <= max_encoded ? len : fit;
}

bool result_table_fit(json_t *table, size_t max_encoded)
{
	json_t *rows = json_object_get(table, "rows");
	size_t n, kept = 0, base, used = 0;

	if (!json_is_array(rows) || result_encoded_size(table) <= max_encoded)
		return false;
	n = json_array_size(rows);
	/* Flags first, so the size measured is the size sent (row_count only
	 * gets shorter from here). */
	json_object_set_new(table, "truncated", json_true());
	json_object_set_new(table, "row_count", json_integer((json_int_t)n));
	base = result_encoded_size(table) - result_encoded_size(rows) + 2;
	while (kept < n && base <= max_encoded) {
		size_t row = result_encoded_size(json_array_get(rows, kept)) + (kept ? 1 : 0);
		if (used + row > max_encoded - base)
			break;
		used += row;
		kept++;
	}
	while (json_array_size(rows) > kept)
		json_array_remove(rows, json_array_size(rows) - 1);
	json_object_set_new(table, "row_count", json_integer((json_int_t)kept));
	return true;
}

static void limits_hit_add(json_t *result, const char *name)
{
	json_t *hit = json_object_get(result, "limits_hit"), *v;
	size_t i;

	if (!json_is_array(hit))
		return;
	json_array_foreach(hit, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
			return;
	}
	json_array_append_new(hit, json_string(name));
}

/* Cuts the string at `key` so that its encoding shrinks by at least
 * `over` bytes (to empty at most). Returns false when it was empty. */
static bool stream_cut(json_t *result, const char *key, const char *flag, size_t over)
{
	json_t *text = json_object_get(result, key);
	size_t len = json_string_length(text), size, fit;

	if (!json_is_string(text) || len == 0)
		return false;
	size = result_encoded_size(text) - 2;
	fit = result_text_fit(json_string_value(text), len, size > over ? size - over : 0);
	json_object_set_new(result, key, json_stringn(json_string_value(text), fit));
	json_object_set_new(result, flag, json_true());
	limits_hit_add(result, "output");
	return true;
}

static size_t over_by(json_t *result, size_t max_bytes)
{
	size_t total = result_encoded_size(result) + FIT_SLACK_BYTES;

	return total > max_bytes ? total - max_bytes : 0;
}

int result_fit(json_t *result, size_t max_bytes)
{
	json_t *table = json_object_get(result, "table");
	size_t over = over_by(result, max_bytes);

	if (over && json_is_object(table)) {
		size_t size = result_encoded_size(table);
		if (result_table_fit(table, size > over ? size - over : 0))
			limits_hit_add(result, "rows");
		over = over_by(result, max_bytes);
	}
	/* The longer stream first: it is the one that made the result large. */
	while (over) {
		json_t *out = json_object_get(result, "stdout"), *err = json_object_get(result, "stderr");
		bool cut = json_string_length(out) >= json_string_length(err)
				   ? stream_cut(result, "stdout", "stdout_truncated", over) ||
					     stream_cut(result, "stderr", "stderr_truncated", over)
				   : stream_cut(result, "stderr", "stderr_truncated", over) ||
					     stream_cut(result, "stdout", "stdout_truncated", over);
		if (!cut)
			return -EMSGSIZE;
		over = over_by(result, max_bytes);
	}
	return 0;
}
