/*
 * csv_types: the strict kind of a CSV value, and the names of column types.
 *
 * csv_type_of() is the plain reading (what a program's own CSV writer
 * produces); uploads are read more widely by csv_number.c and csv_date.c,
 * which accept what these rules accept and more (csv_column.c decides).
 *
 * The rules are strict on purpose, so that a value is stored as a number
 * only when nothing is lost or guessed:
 * - integer: an optional sign and digits, in int64 range. Leading or
 *   trailing blanks make it text.
 * - real: only digits, signs, '.', 'e' or 'E', with a '.' or an exponent,
 *   that strtod() reads completely without overflow or underflow. So
 *   "inf", "nan", hexadecimal and "1,5" stay text.
 * - date: YYYY-MM-DD naming a day that exists (Gregorian calendar).
 * A column is integer if every value is; real if every value is integer or
 * real; date if every value is a date; text otherwise, or when it has no
 * value at all. strtod() follows LC_NUMERIC; ledgerbox never calls
 * setlocale(), so the decimal point is '.'.
 */
#include "datasets/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool csv_parse_int64(const char *s, size_t len, int64_t *ret)
{
	size_t i = (len > 0 && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
	char *end;
	long long v;

	if (i == len)
		return false;
	for (size_t j = i; j < len; j++) {
		if (!is_digit(s[j]))
			return false;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == ERANGE || end != s + len)
		return false;
	*ret = v;
	return true;
}

bool csv_parse_real(const char *s, size_t len, double *ret)
{
	bool digit = false, point_or_exponent = false;
	char *end;
	double v;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (is_digit(c))
			digit = true;
		else if (c == '.' || c == 'e' || c == 'E')
			point_or_exponent = true;
		else if (c != '+' && c != '-')
			return false;
	}
	if (!digit || !point_or_exponent)
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno == ERANGE || end != s + len)
		return false;
	*ret = v;
	return true;
}

static int two_digits(const char *s)
{
	return (s[0] - '0') * 10 + (s[1] - '0');
}

static bool is_date(const char *s, size_t len)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int year, month, day, last;

	if (len != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (i != 4 && i != 7 && !is_digit(s[i]))
			return false;
	}
	year = two_digits(s) * 100 + two_digits(s + 2);
	month = two_digits(s + 5);
	day = two_digits(s + 8);
	if (month < 1 || month > 12)
		return false;
	last = days[month - 1];
	if (month == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
		last = 29;
	return day >= 1 && day <= last;
}

enum csv_type csv_type_of(const char *s, size_t len)
{
	int64_t i;
	double d;

	if (len == 0)
		return CSV_TYPE_EMPTY;
	if (csv_parse_int64(s, len, &i))
		return CSV_TYPE_INTEGER;
	if (csv_parse_real(s, len, &d))
		return CSV_TYPE_REAL;
	if (is_date(s, len))
		return CSV_TYPE_DATE;
	return CSV_TYPE_TEXT;
}

enum csv_type csv_type_merge(enum csv_type a, enum csv_type b)
{
	if (a == b || b == CSV_TYPE_EMPTY)
		return a;
	if (a == CSV_TYPE_EMPTY)
		return b;
	if ((a == CSV_TYPE_INTEGER && b == CSV_TYPE_REAL) ||
	    (a == CSV_TYPE_REAL && b == CSV_TYPE_INTEGER))
		return CSV_TYPE_REAL;
	return CSV_TYPE_TEXT;
}

const char *csv_type_name(enum csv_type t)
{
	switch (t) {
	case CSV_TYPE_INTEGER:
		return "integer";
	case CSV_TYPE_REAL:
		return "real";
	case CSV_TYPE_DATE:
		return "date";
	case CSV_TYPE_DATETIME:
		return "datetime";
	case CSV_TYPE_EMPTY:
	case CSV_TYPE_TEXT:
		break;
	}
	return "text";
}

const char *csv_type_sql(enum csv_type t)
{
	switch (t) {
	case CSV_TYPE_INTEGER:
		return "INTEGER";
	case CSV_TYPE_REAL:
		return "REAL";
	case CSV_TYPE_EMPTY:
	case CSV_TYPE_DATE:
	case CSV_TYPE_DATETIME:
	case CSV_TYPE_TEXT:
		break;
	}
	return "TEXT";
}
