/* utf8: see utf8.h. Well-formed sequences follow Unicode's table 3-7. */
#include "util/utf8.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

/* Length of the well-formed UTF-8 sequence at s[0..avail), or 0 when it is
 * ill-formed; then *ret_bad is the length of its maximal subpart (the bytes
 * one U+FFFD replaces, as Unicode and WHATWG recommend). */
static size_t utf8_sequence(const unsigned char *s, size_t avail, size_t *ret_bad)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t need;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 3;
		lo = c == 0xE0 ? 0xA0 : 0x80; /* no overlong forms */
		hi = c == 0xED ? 0x9F : 0xBF; /* no surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 4;
		lo = c == 0xF0 ? 0x90 : 0x80;
		hi = c == 0xF4 ? 0x8F : 0xBF; /* nothing above U+10FFFF */
	} else {
		*ret_bad = 1;
		return 0;
	}
	for (size_t i = 1; i < need; i++) {
		if (i >= avail || s[i] < lo || s[i] > hi) {
			*ret_bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xBF;
	}
	return need;
}

static bool utf8_valid(const unsigned char *s, size_t len)
{
	size_t bad, i = 0;

	while (i < len) {
		size_t n = utf8_sequence(s + i, len - i, &bad);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

int utf8_sanitize(const char *s, size_t len, char **ret, size_t *ret_len)
{
	const unsigned char *in = (const unsigned char *)s;
	char *out;
	size_t i = 0, n = 0;

	*ret = NULL;
	*ret_len = len;
	if (utf8_valid(in, len))
		return 0;
	/* Each input byte yields at most 3 output bytes (one U+FFFD). */
	if (len > (SIZE_MAX - 1) / 3)
		return -ENOMEM;
	out = malloc(len * 3 + 1);
	if (!out)
		return -ENOMEM;
	while (i < len) {
		size_t bad = 0, good = utf8_sequence(in + i, len - i, &bad);

		if (good) {
			memcpy(out + n, in + i, good);
			n += good;
			i += good;
		} else {
			memcpy(out + n, "\xEF\xBF\xBD", 3);
			n += 3;
			i += bad;
		}
	}
	out[n] = '\0';
	*ret = out;
	*ret_len = n;
	return 0;
}

size_t utf8_cut(const char *s, size_t max)
{
	size_t len = strnlen(s, max);

	if (len < max || s[len] == '\0')
		return len;
	/* s[len] starts the part cut off: back off while it continues a
	 * sequence that began inside the prefix. */
	while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
		len--;
	return len;
}
