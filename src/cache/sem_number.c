/*
 * sem_number: canonical text for amounts, so "$1,000", "$1k" and "$1000"
 * are one value and "$1,000" and "$10,000" never are.
 *
 * Numbers stay decimal strings: no floating point, so no rounding can make
 * two different amounts equal. A leading zero makes a code (below); digits
 * after the point are kept as written ("5.0" stays apart from "5", a miss
 * rather than a guess about what the writer meant). The sign, the currency
 * sign and '%' are part of the value: "5%" is not 5 and "$5" is not "EUR 5".
 * A whole part with a leading zero ("0012") is a code, not a number, and a
 * bare "m" suffix ("6m") may be months: both are kept as written.
 */
#include "cache/sem_internal.h"

#include <string.h>
#include <strings.h>

#include "util/banned.h"

struct num {
	char prefix[8]; /* "-", a currency sign, or both */
	char digits[SEM_VAL_MAX];
	size_t int_len, len; /* digits[0..int_len) before the point */
	bool percent;
};

static bool num_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The whole part: plain digits, or groups of three after ','. */
static bool num_whole(const char *s, size_t len, size_t *p, struct num *n)
{
	size_t run = 0;

	while (*p < len && (num_digit(s[*p]) || s[*p] == ',')) {
		if (s[*p] == ',') {
			/* "1,000": a separator only before exactly three digits. */
			if (run == 0 || (n->int_len > run ? run != 3 : run > 3))
				return false;
			run = 0;
		} else {
			n->digits[n->int_len++] = s[*p];
			run++;
		}
		(*p)++;
	}
	/* "0012" and "007" are codes (an account, a zip code), stored as text
	 * with their zeros: kept as written, never equal to 12 or 7. */
	if (n->int_len > 1 && n->digits[0] == '0')
		return false;
	return run > 0 && (n->int_len == run || run == 3);
}

static bool num_fraction(const char *s, size_t len, size_t *p, struct num *n)
{
	n->len = n->int_len;
	if (*p >= len || s[*p] != '.')
		return true;
	(*p)++;
	while (*p < len && num_digit(s[*p]))
		n->digits[n->len++] = s[(*p)++];
	return n->len > n->int_len;
}

/* k, m, mm, b, bn (any case): how many zeros they add. */
static int num_suffix(const char *s, size_t len, size_t *p)
{
	static const struct {
		const char *text;
		int zeros;
	} suffixes[] = { { "bn", 9 }, { "mm", 6 }, { "k", 3 }, { "m", 6 }, { "b", 9 } };
	size_t end = *p;

	while (end < len && s[end] != '%')
		end++;
	if (end == *p)
		return 0;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t n = strlen(suffixes[i].text);

		if (end - *p == n && strncasecmp(s + *p, suffixes[i].text, n) == 0) {
			*p = end;
			return suffixes[i].zeros;
		}
	}
	return -1;
}

/* The sign and currency sign, in the order "-$"; false for two signs
 * ("--5" is not "-5" to a reader, and not 5 either: keep it literal). */
static bool num_prefix(const char *s, size_t len, size_t *p, struct num *n)
{
	size_t cur = 0, cur_at = 0, at = 0;
	int signs = 0;

	for (int step = 0; step < 3 && *p < len; step++) {
		unsigned char c = (unsigned char)s[*p];

		if (c == '-' || c == '+') {
			signs++;
			if (c == '-')
				n->prefix[at++] = '-';
			(*p)++;
		} else if (!cur && (c == '$' || c == 0xC2 || c == 0xE2)) {
			cur = c == '$' ? 1 : c == 0xC2 ? 2 : 3;
			cur_at = *p;
			*p += cur;
		}
	}
	memcpy(n->prefix + at, s + cur_at, cur);
	n->prefix[at + cur] = '\0';
	return signs <= 1;
}

static bool currency(const struct num *n)
{
	return n->prefix[0] && (n->prefix[0] != '-' || n->prefix[1]);
}

/* Moves the point right by zeros places; false when it does not fit. */
static bool num_shift(struct num *n, unsigned zeros)
{
	size_t point = n->int_len + zeros;

	if (point >= sizeof(n->digits))
		return false;
	while (n->len < point)
		n->digits[n->len++] = '0';
	n->int_len = point;
	return true;
}

static bool num_print(const struct num *n, char out[SEM_VAL_MAX])
{
	size_t skip = 0, pre = strlen(n->prefix), w;

	while (skip + 1 < n->int_len && n->digits[skip] == '0')
		skip++;
	w = pre + (n->int_len - skip) + (n->len > n->int_len) + (n->len - n->int_len) + n->percent;
	if (w >= SEM_VAL_MAX)
		return false;
	memcpy(out, n->prefix, pre);
	memcpy(out + pre, n->digits + skip, n->int_len - skip);
	w = pre + n->int_len - skip;
	if (n->len > n->int_len) {
		out[w++] = '.';
		memcpy(out + w, n->digits + n->int_len, n->len - n->int_len);
		w += n->len - n->int_len;
	}
	if (n->percent)
		out[w++] = '%';
	out[w] = '\0';
	return true;
}

bool sem_number_canon(const char *s, size_t len, char out[SEM_VAL_MAX])
{
	struct num n;
	size_t p = 0, at;
	int zeros;

	memset(&n, 0, sizeof(n));
	if (len >= SEM_VAL_MAX)
		return false;
	if (!num_prefix(s, len, &p, &n) || !num_whole(s, len, &p, &n) ||
	    !num_fraction(s, len, &p, &n))
		return false;
	at = p;
	zeros = num_suffix(s, len, &p);
	if (zeros < 0 || (zeros && !num_shift(&n, (unsigned)zeros)))
		return false;
	/* A bare "6m" may be six months or minutes: it is a million only
	 * after a currency sign ("$6m"). */
	if (p == at + 1 && (s[at] | 0x20) == 'm' && !currency(&n))
		return false;
	n.percent = p < len && s[p] == '%';
	if (p + n.percent != len || (n.percent && zeros))
		return false;
	return num_print(&n, out);
}

/* Splits a canonical value back into its parts. */
static bool num_parse_canon(const char *v, struct num *n)
{
	size_t p = 0, len = strlen(v);

	memset(n, 0, sizeof(*n));
	if (!num_prefix(v, len, &p, n))
		return false;
	while (p < len && num_digit(v[p]))
		n->digits[n->int_len++] = v[p++];
	if (!num_fraction(v, len, &p, n))
		return false;
	return p == len && n->int_len > 0;
}

bool sem_number_scale(char v[SEM_VAL_MAX], unsigned zeros)
{
	struct num n;

	if (!num_parse_canon(v, &n) || !num_shift(&n, zeros))
		return false;
	return num_print(&n, v);
}
