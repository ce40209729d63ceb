/*
 * csv_date: dates as exports write them, stored as ISO 8601.
 *
 * A cell is a date when, after trimming, it is Y-M-D (year first, with
 * '-', '/' or '.') or A/B/YYYY (with '/', '.' or '-'), with 1 or 2 digit
 * day and month and a 4 digit year, optionally followed by a time
 * ("T" or a space, then HH:MM or HH:MM:SS). csv_date_split() says which
 * orders the cell fits: year first, day first (31/12/2025), month first
 * (12/31/2025); "05/06/2025" fits both of the last two, and only the
 * column (or the uploader) can tell which. Every order is checked against
 * the calendar (leap years included). Two-digit years are never dates:
 * "01/02/03" cannot be read safely.
 */
#include "datasets/internal.h"

#include <stdio.h>
#include <string.h>

#include "util/banned.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* 1 or 2 digits (min..max of them) at s[*at]: the number, or -1. */
static int read_digits(const char *s, size_t len, size_t *at, size_t min, size_t max)
{
	size_t n = 0;
	int v = 0;

	while (*at + n < len && n < max && is_digit(s[*at + n]))
		v = v * 10 + (s[*at + n++] - '0');
	if (n < min)
		return -1;
	*at += n;
	return v;
}

static bool day_exists(int year, int month, int day)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int last;

	if (year < 1 || month < 1 || month > 12)
		return false;
	last = days[month - 1];
	if (month == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
		last = 29;
	return day >= 1 && day <= last;
}

/* " HH:MM[:SS]" or "THH:MM[:SS]" from s[at] to the end. */
static bool read_time(const char *s, size_t len, size_t at, struct csv_date_cell *c)
{
	if (at == len)
		return true;
	if (s[at] != ' ' && s[at] != 'T')
		return false;
	at++;
	c->time = true;
	c->hour = read_digits(s, len, &at, 2, 2);
	if (c->hour < 0 || c->hour > 23 || at >= len || s[at++] != ':')
		return false;
	c->minute = read_digits(s, len, &at, 2, 2);
	if (c->minute < 0 || c->minute > 59)
		return false;
	if (at < len && s[at] == ':') {
		at++;
		c->second = read_digits(s, len, &at, 2, 2);
		if (c->second < 0 || c->second > 59)
			return false;
	}
	return at == len;
}

static bool is_date_sep(char c)
{
	return c == '-' || c == '/' || c == '.';
}

bool csv_date_split(const char *s, size_t len, struct csv_date_cell *ret)
{
	struct csv_date_cell c = { 0 };
	size_t at = 0;
	int first, second, third;

	csv_trim(&s, &len);
	first = read_digits(s, len, &at, 1, 4);
	if (first < 0 || at == 3 || at >= len || !is_date_sep(s[at]))
		return false;
	c.year_first = at == 4;
	c.sep = s[at++];
	second = read_digits(s, len, &at, 1, 2);
	if (second < 0 || at >= len || s[at++] != c.sep)
		return false;
	third = c.year_first ? read_digits(s, len, &at, 1, 2) : read_digits(s, len, &at, 4, 4);
	if (third < 0 || !read_time(s, len, at, &c))
		return false;
	if (c.year_first) {
		c.year = first;
		c.a = second;
		c.b = third;
		c.orders = day_exists(first, second, third) ? CSV_DATE_YMD : 0;
	} else {
		c.year = third;
		c.a = first;
		c.b = second;
		c.orders = (day_exists(third, second, first) ? CSV_DATE_DMY : 0) |
			   (day_exists(third, first, second) ? CSV_DATE_MDY : 0);
	}
	if (c.orders == 0)
		return false;
	*ret = c;
	return true;
}

size_t csv_date_iso(const struct csv_date_cell *c, unsigned order, char out[CSV_DATE_ISO_MAX])
{
	int month = order == CSV_DATE_DMY ? c->b : c->a;
	int day = order == CSV_DATE_DMY ? c->a : c->b;
	int n;

	if (c->time)
		n = snprintf(out, CSV_DATE_ISO_MAX, "%04d-%02d-%02d %02d:%02d:%02d", c->year, month,
			     day, c->hour, c->minute, c->second);
	else
		n = snprintf(out, CSV_DATE_ISO_MAX, "%04d-%02d-%02d", c->year, month, day);
	return n > 0 ? (size_t)n : 0;
}
