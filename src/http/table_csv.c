/* table_csv: see table_csv.h. */
#include "http/table_csv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/banned.h"

#define CSV_MAX_BYTES (256ull << 20)

static bool looks_numeric(const char *s)
{
	char *end;

	if (!*s)
		return false;
	(void)strtod(s, &end);
	return *end == '\0';
}

/* The fullwidth = + - @ (U+FF1D, U+FF0B, U+FF0D, U+FF20), which an East
 * Asian input method turns into their ASCII signs as a cell is edited. */
static bool starts_with_fullwidth_sign(const char *s, size_t len)
{
	return len >= 3 && (unsigned char)s[0] == 0xef && (unsigned char)s[1] == 0xbc &&
	       memchr("\x9d\x8b\x8d\xa0", s[2], 4) != NULL;
}

static int put_text(struct buf *b, const char *s, size_t len)
{
	bool quote = strpbrk(s, ",\"\r\n") != NULL || (len && (s[0] == ' ' || s[len - 1] == ' '));
	/* Spreadsheets read a cell starting with = + - @ as a formula, and
	 * skip a leading TAB, CR or LF before reading it: such a cell gets a
	 * quote mark first, unless it is a plain number; so does one starting
	 * with a fullwidth sign. */
	bool formula = len && (s[0] == '\t' || s[0] == '\r' || s[0] == '\n' ||
			       (strchr("=+-@", s[0]) && !looks_numeric(s)) ||
			       starts_with_fullwidth_sign(s, len));
	int r = 0;

	if (quote && (r = buf_append(b, "\"", 1)) < 0)
		return r;
	if (formula && (r = buf_append(b, "'", 1)) < 0)
		return r;
	for (size_t i = 0; r == 0 && i < len; i++)
		r = s[i] == '"' ? buf_append(b, "\"\"", 2) : buf_append(b, &s[i], 1);
	if (r == 0 && quote)
		r = buf_append(b, "\"", 1);
	return r;
}

static int put_value(struct buf *b, json_t *v)
{
	char num[40];
	int n;

	if (json_is_string(v))
		return put_text(b, json_string_value(v), json_string_length(v));
	if (json_is_integer(v))
		n = snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v)) {
		/* The shortest of 15 or 17 digits that reads back the same. */
		n = snprintf(num, sizeof(num), "%.15g", json_real_value(v));
		if (strtod(num, NULL) != json_real_value(v))
			n = snprintf(num, sizeof(num), "%.17g", json_real_value(v));
	} else if (json_is_boolean(v))
		n = snprintf(num, sizeof(num), "%s", json_is_true(v) ? "true" : "false");
	else
		return 0; /* null: empty field */
	return buf_append(b, num, (size_t)n);
}

static int put_row(struct buf *b, json_t *row, size_t width)
{
	int r = 0;

	/* Stop at the cap at once rather than walk the rest of the table. */
	if (b->truncated)
		return -EFBIG;
	for (size_t i = 0; r == 0 && i < width; i++) {
		if (i && (r = buf_append(b, ",", 1)) < 0)
			break;
		r = put_value(b, json_array_get(row, i));
	}
	return r ? r : buf_append(b, "\r\n", 2);
}

int table_csv_render(json_t *table, char **ret, size_t *ret_len)
{
	json_t *columns = json_object_get(table, "columns"), *rows = json_object_get(table, "rows");
	json_t *header, *c, *row;
	size_t i, width = json_array_size(columns);
	struct buf b;
	int r;

	if (!json_is_array(columns) || !json_is_array(rows))
		return -EINVAL;
	header = json_array();
	json_array_foreach(columns, i, c) {
		json_array_append(header, json_object_get(c, "name"));
	}
	buf_init(&b, CSV_MAX_BYTES);
	r = put_row(&b, header, width);
	json_decref(header);
	json_array_foreach(rows, i, row) {
		if (r < 0)
			break;
		r = put_row(&b, row, width);
	}
	if (r == 0 && b.truncated)
		r = -EFBIG;
	if (r < 0) {
		buf_release(&b);
		return r;
	}
	*ret = buf_steal(&b, ret_len);
	return 0;
}

static bool cell_ok(json_t *v)
{
	return json_is_string(v) || json_is_number(v) || json_is_boolean(v) || json_is_null(v);
}

static bool columns_ok(json_t *columns)
{
	json_t *c;
	size_t i;

	if (!json_is_array(columns) || json_array_size(columns) == 0 ||
	    json_array_size(columns) > TABLE_MAX_COLUMNS)
		return false;
	json_array_foreach(columns, i, c) {
		if (!json_is_object(c) || !json_is_string(json_object_get(c, "name")) ||
		    !json_is_string(json_object_get(c, "type")) || json_object_size(c) != 2)
			return false;
	}
	return true;
}

bool table_valid(json_t *table, size_t max_rows)
{
	static const char *const keys[] = { "columns", "rows", "row_count", "total_rows",
					    "truncated" };
	json_t *columns = json_object_get(table, "columns"), *rows = json_object_get(table, "rows");
	json_t *row, *cell, *v;
	const char *key;
	size_t i, j, width;

	if (!json_is_object(table) || !columns_ok(columns) || !json_is_array(rows) ||
	    json_array_size(rows) > max_rows)
		return false;
	json_object_foreach(table, key, v) {
		bool known = false;
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			known |= strcmp(key, keys[k]) == 0;
		if (!known)
			return false;
	}
	width = json_array_size(columns);
	json_array_foreach(rows, i, row) {
		if (!json_is_array(row) || json_array_size(row) != width)
			return false;
		json_array_foreach(row, j, cell) {
			if (!cell_ok(cell))
				return false;
		}
	}
	return true;
}
