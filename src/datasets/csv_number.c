/*
 * csv_number: numbers as spreadsheets and accounting exports write them.
 *
 * A cell is read in two steps. csv_number_split() peels the decoration off
 * the digits: blanks (ASCII, no-break and thin spaces), one sign (a leading
 * or trailing '-', a leading '+', U+2212) or accounting parentheses
 * "(25.50)", one currency (a symbol such as $ € £ ¥ or an ISO code such as
 * USD, before or after, with or without a space) and one trailing '%'.
 * csv_number_value() then reads the digits under one decimal mark:
 * - the mark ('.' or ',') appears at most once, with at least one digit
 *   before or after it;
 * - any other of '.', ',', ' ', '\'', '’', no-break or thin space is a
 *   thousands separator: one kind per value, the first group 1 to 3 digits
 *   not starting with 0, every later group exactly 3 digits;
 * - an exponent (1e3) only with '.' as the mark and no separators;
 * - the integer part must fit int64 when there is no fraction, so a long
 *   account number is never rounded into a double.
 * So "1,234" reads as 1234 with mark '.' and as 1.234 with mark ','; the
 * column decides which (csv_column.c). Nothing here allocates.
 */
#include "datasets/internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

#define NUM_MAX_CORE 100 /* digits and separators; longer is text */

/* Longer spellings first, so "US$" is not read as "US" + "$". */
static const char *const currencies[] = {
	"US$", "HK$", "NZ$", "R$", "C$", "A$", "S$", "$", "€", "£", "¥", "₹", "₩", "₽", "₺",
	"₪",   "₫",   "฿",   "₱", "₦", "USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD",
	"CNY", "HKD", "SGD", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "INR", "BRL", "MXN", "ZAR",
	"TRY", "KRW", "ILS", "AED", "SAR", "THB", "IDR", "MYR", "PHP", "RUB",
};

#define CURRENCY_COUNT (sizeof(currencies) / sizeof(currencies[0]))

const char *csv_currency_name(int index)
{
	return index >= 0 && (size_t)index < CURRENCY_COUNT ? currencies[index] : "";
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_letter(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Whether a currency can start (or end) with this byte: '$', an upper-case
 * letter or a UTF-8 byte. Spares most cells the search. */
static bool currency_byte(char c)
{
	return c == '$' || (c >= 'A' && c <= 'Z') || (unsigned char)c >= 0x80;
}

/* The bytes of a blank at s (0 when none): ASCII blanks, U+00A0, U+2009,
 * U+202F. */
static size_t blank_at(const char *s, size_t len)
{
	if (len >= 1 && (s[0] == ' ' || s[0] == '\t'))
		return 1;
	if (len >= 2 && memcmp(s, "\xC2\xA0", 2) == 0)
		return 2;
	if (len >= 3 && (memcmp(s, "\xE2\x80\x89", 3) == 0 || memcmp(s, "\xE2\x80\xAF", 3) == 0))
		return 3;
	return 0;
}

/* The same, for a blank that ends s[0..len). */
static size_t blank_before(const char *s, size_t len)
{
	for (size_t n = 1; n <= 3 && n <= len; n++) {
		if (blank_at(s + len - n, n) == n)
			return n;
	}
	return 0;
}

void csv_trim(const char **s, size_t *len)
{
	size_t n;

	while ((n = blank_at(*s, *len)) > 0) {
		*s += n;
		*len -= n;
	}
	while ((n = blank_before(*s, *len)) > 0)
		*len -= n;
}

/* A currency at the start of s (bytes, or 0), which must not run into a
 * letter: "USD12" is a currency, "USDA" is not. */
static size_t currency_at(const char *s, size_t len, int *ret)
{
	if (len == 0 || !currency_byte(s[0]))
		return 0;
	for (size_t i = 0; i < CURRENCY_COUNT; i++) {
		size_t n = strlen(currencies[i]);
		if (n <= len && memcmp(s, currencies[i], n) == 0 && !(n < len && is_letter(s[n]))) {
			*ret = (int)i;
			return n;
		}
	}
	return 0;
}

/* The same at the end of s. */
static size_t currency_before(const char *s, size_t len, int *ret)
{
	if (len == 0 || !currency_byte(s[len - 1]))
		return 0;
	for (size_t i = 0; i < CURRENCY_COUNT; i++) {
		size_t n = strlen(currencies[i]);
		if (n <= len && memcmp(s + len - n, currencies[i], n) == 0 &&
		    !(n < len && is_letter(s[len - n - 1]))) {
			*ret = (int)i;
			return n;
		}
	}
	return 0;
}

/* One piece of decoration off the front: 1 when something went. */
static bool peel_front(const char **s, size_t *len, struct csv_num_cell *c)
{
	size_t n;
	int cur;

	if (*len > 0 && (**s == '-' || **s == '+') && !c->signed_) {
		c->signed_ = true;
		c->negative = **s == '-';
		n = 1;
	} else if (*len >= 3 && memcmp(*s, "\xE2\x88\x92", 3) == 0 && !c->signed_) {
		c->signed_ = c->negative = true;
		n = 3;
	} else if (c->currency < 0 && (n = currency_at(*s, *len, &cur)) > 0) {
		c->currency = cur;
	} else if ((n = blank_at(*s, *len)) == 0) {
		return false;
	}
	*s += n;
	*len -= n;
	return true;
}

/* One piece of decoration off the back. */
static bool peel_back(const char *s, size_t *len, struct csv_num_cell *c)
{
	size_t n;
	int cur;

	if (*len > 0 && s[*len - 1] == '-' && !c->signed_) {
		c->signed_ = c->negative = true;
		n = 1;
	} else if (*len > 0 && s[*len - 1] == '%' && !c->percent) {
		c->percent = true;
		n = 1;
	} else if (c->currency < 0 && (n = currency_before(s, *len, &cur)) > 0) {
		c->currency = cur;
	} else if ((n = blank_before(s, *len)) == 0) {
		return false;
	}
	*len -= n;
	return true;
}

bool csv_number_split(const char *s, size_t len, struct csv_num_cell *ret)
{
	struct csv_num_cell c = { .currency = -1 };

	csv_trim(&s, &len);
	while (peel_front(&s, &len, &c))
		;
	while (peel_back(s, &len, &c))
		;
	if (len >= 2 && s[0] == '(' && s[len - 1] == ')') {
		if (c.signed_)
			return false; /* "-(5)" says minus twice */
		c.parens = c.signed_ = c.negative = true;
		s++;
		len -= 2;
		while (peel_front(&s, &len, &c))
			;
		while (peel_back(s, &len, &c))
			;
		if (!c.negative)
			return false; /* "(+5)" */
	}
	if (len == 0 || len > NUM_MAX_CORE || c.percent + (c.currency >= 0) > 1)
		return false;
	c.core = s;
	c.core_len = len;
	*ret = c;
	return true;
}

/* A thousands separator at s other than the decimal mark: its bytes, and a
 * code telling kinds apart; 0 when there is none. */
static size_t separator_at(const char *s, size_t len, char mark, int *code)
{
	size_t n = blank_at(s, len);

	if (n > 0 && s[0] != '\t') {
		*code = n == 1 ? ' ' : (unsigned char)s[n - 1];
		return n;
	}
	if (len >= 3 && memcmp(s, "\xE2\x80\x99", 3) == 0) {
		*code = '\'';
		return 3;
	}
	if ((s[0] == '.' || s[0] == ',' || s[0] == '\'') && s[0] != mark) {
		*code = s[0];
		return 1;
	}
	return 0;
}

/* The integer part up to the mark, an 'e' or the end, as digits into buf. */
static bool read_integer(const char *s, size_t len, char mark, size_t *at, char *buf,
			 size_t *n, struct csv_number *ret)
{
	size_t i = *at, group = 0, digits = 0, sep_len;
	int sep_code, kind = 0;

	while (i < len && s[i] != mark && s[i] != 'e' && s[i] != 'E') {
		if (is_digit(s[i])) {
			buf[(*n)++] = s[i++];
			group++;
			digits++;
			continue;
		}
		sep_len = separator_at(s + i, len - i, mark, &sep_code);
		if (sep_len == 0 || (kind && sep_code != kind))
			return false;
		/* The first group is 1 to 3 digits and no "0,123"; then 3 each. */
		if (kind ? group != 3 : (group < 1 || group > 3 || s[*at] == '0'))
			return false;
		kind = sep_code;
		group = 0;
		i += sep_len;
	}
	if (kind && group != 3)
		return false;
	ret->separator = kind;
	ret->leading_zero = digits > 1 && s[*at] == '0';
	*at = i;
	return true;
}

/* The fraction and exponent after the integer part. */
static bool read_rest(const char *s, size_t len, char mark, size_t *at, char *buf, size_t *n,
		      struct csv_number *ret, size_t int_digits)
{
	size_t i = *at, frac = 0;

	if (i < len && s[i] == mark) {
		buf[(*n)++] = '.';
		for (i++; i < len && is_digit(s[i]); i++, frac++)
			buf[(*n)++] = s[i];
		if (frac == 0 && int_digits == 0)
			return false;
		ret->fraction = true;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		size_t exp_digits = 0;
		if (mark != '.' || ret->separator || int_digits + frac == 0)
			return false;
		buf[(*n)++] = 'e';
		if (++i < len && (s[i] == '+' || s[i] == '-'))
			buf[(*n)++] = s[i++];
		for (; i < len && is_digit(s[i]); i++, exp_digits++)
			buf[(*n)++] = s[i];
		if (exp_digits == 0)
			return false;
		ret->fraction = true;
	}
	*at = i;
	return i == len && int_digits + frac > 0;
}

bool csv_number_value(const struct csv_num_cell *c, char mark, struct csv_number *ret)
{
	struct csv_number v = { 0 };
	char buf[NUM_MAX_CORE + 8]; /* sign, point, 'e-2', NUL */
	size_t at = 0, n = 0, int_digits;
	char *end;

	if (c->negative)
		buf[n++] = '-';
	if (!read_integer(c->core, c->core_len, mark, &at, buf, &n, &v))
		return false;
	int_digits = n - (c->negative ? 1 : 0);
	if (!read_rest(c->core, c->core_len, mark, &at, buf, &n, &v, int_digits))
		return false;
	/* A percent moves the point two places in the text, so 12.3% reads
	 * as 0.123 exactly as written (12.3 / 100 is 0.12300000000000001).
	 * An exponent and a percent together are not a number anyone writes. */
	if (c->percent) {
		if (memchr(buf, 'e', n))
			return false;
		memcpy(buf + n, "e-2", 3);
		n += 3;
	}
	buf[n] = '\0';
	errno = 0;
	if (!v.fraction && !c->percent) {
		v.integer = true;
		v.i = strtoll(buf, &end, 10);
		v.d = (double)v.i;
	} else {
		v.d = strtod(buf, &end);
	}
	if (errno == ERANGE || *end != '\0' || !isfinite(v.d))
		return false;
	*ret = v;
	return true;
}
