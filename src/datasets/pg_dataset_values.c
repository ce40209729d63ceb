/*
 * pg_dataset_values: PostgreSQL values (text format) as the SQLite runner
 * writes its values, so a table reads the same from either engine.
 *
 * - integers (int2, int4, int8, oid) are JSON integers;
 * - float4, float8 and numeric are JSON numbers with 15 significant digits,
 *   as the SQLite runner writes REAL (SQLite keeps DECIMAL columns as REAL
 *   too); a numeric whose fraction is zero and that fits 64 bits is an
 *   integer, as SQLite stores it;
 *   NaN and infinities are null;
 * - boolean is true or false; bytea is "<blob N bytes>";
 * - everything else (text, dates and times, money, uuid, json, arrays, ...)
 *   is its text form, made valid UTF-8.
 * Column types use the runner's names: integer, real, numeric, boolean,
 * datetime, blob, text.
 */
#include "datasets/pg_dataset.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"

#include "util/banned.h"

/* Type oids are fixed by PostgreSQL (catalog/pg_type.dat). */
enum {
	OID_BOOL = 16, OID_BYTEA = 17, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23,
	OID_OID = 26, OID_FLOAT4 = 700, OID_FLOAT8 = 701, OID_DATE = 1082,
	OID_TIME = 1083, OID_TIMESTAMP = 1114, OID_TIMESTAMPTZ = 1184, OID_TIMETZ = 1266,
	OID_NUMERIC = 1700,
};

const char *pgd_type_name(Oid type)
{
	switch (type) {
	case OID_INT2: case OID_INT4: case OID_INT8: case OID_OID:
		return "integer";
	case OID_FLOAT4: case OID_FLOAT8:
		return "real";
	case OID_NUMERIC:
		return "numeric";
	case OID_BOOL:
		return "boolean";
	case OID_DATE: case OID_TIME: case OID_TIMESTAMP: case OID_TIMESTAMPTZ: case OID_TIMETZ:
		return "datetime";
	case OID_BYTEA:
		return "blob";
	default:
		return "text";
	}
}

static json_t *text_json(const char *text, size_t len)
{
	char *fixed = NULL;
	size_t fixed_len;
	json_t *v;

	if (utf8_sanitize(text, len, &fixed, &fixed_len) < 0)
		return NULL;
	v = json_stringn(fixed ? fixed : text, fixed ? fixed_len : len);
	free(fixed);
	return v;
}

/* A whole number of at most 64 bits, or false. */
static bool as_integer(const char *text, long long *ret)
{
	const char *p = text + (text[0] == '-');
	char *end;

	if (*p < '0' || *p > '9' || strspn(p, "0123456789") != strlen(p))
		return false;
	errno = 0;
	*ret = strtoll(text, &end, 10);
	return errno == 0 && *end == '\0';
}

/* A numeric whose fraction is all zeros ("100.00") and fits 64 bits: SQLite
 * keeps such a DECIMAL value as an INTEGER, so it is one here too. */
static bool as_whole(const char *text, long long *ret)
{
	char whole[32];
	const char *dot = strchr(text, '.');
	size_t n = dot ? (size_t)(dot - text) : strlen(text);

	if (dot && strspn(dot + 1, "0") != strlen(dot + 1))
		return false;
	if (n == 0 || n >= sizeof(whole))
		return false;
	memcpy(whole, text, n);
	whole[n] = '\0';
	return as_integer(whole, ret);
}

/* The number rounded to 15 significant digits, the way the SQLite runner
 * writes REAL, so 0.1 stays 0.1; null when not finite. */
static json_t *real_json(const char *text)
{
	char digits[40];
	double d;

	d = strtod(text, NULL);
	if (!isfinite(d))
		return json_null();
	snprintf(digits, sizeof(digits), "%.15g", d);
	return json_real(strtod(digits, NULL));
}

static json_t *blob_json(size_t len)
{
	char label[64];

	/* bytea's text form is "\x" and two hex digits a byte. */
	snprintf(label, sizeof(label), "<blob %zu bytes>", len >= 2 ? (len - 2) / 2 : 0);
	return json_string(label);
}

json_t *pgd_value_json(Oid type, const char *text, size_t len)
{
	long long n;

	switch (type) {
	case OID_INT2: case OID_INT4: case OID_INT8: case OID_OID:
		return as_integer(text, &n) ? json_integer(n) : text_json(text, len);
	case OID_NUMERIC:
		if (as_whole(text, &n))
			return json_integer(n);
		return real_json(text); /* NaN, Infinity: null */
	case OID_FLOAT4: case OID_FLOAT8:
		return real_json(text);
	case OID_BOOL:
		return json_boolean(text[0] == 't');
	case OID_BYTEA:
		return blob_json(len);
	default:
		return text_json(text, len);
	}
}
