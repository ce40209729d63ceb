/*
 * sem_normalize: the exact cache key's form of a question (see semantic.h).
 *
 * Only ASCII letters change case: lower-casing other bytes one at a time
 * would break multi-byte characters, and locale-dependent case mapping
 * would make the key differ between machines. A quoted string is copied
 * byte for byte, case and spaces included: a SQL filter on 'ACME' and one
 * on 'acme' can return different rows, so the two are different questions.
 */
#include "cache/semantic.h"
#include "cache/sem_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"

#include "util/banned.h"

static bool norm_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool norm_trailing(char c)
{
	return norm_space(c) || c == '?' || c == '.' || c == '!';
}

/* Copies s into out lower-cased with white space runs made one space and no
 * leading space, quoted strings as written; returns the length written. */
static size_t norm_copy(const char *s, size_t len, char *out)
{
	size_t n = 0, quote_end;
	bool gap = false;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (norm_space(c)) {
			gap = n > 0;
			continue;
		}
		if (gap)
			out[n++] = ' ';
		gap = false;
		quote_end = sem_quote_end(s, len, i);
		if (quote_end) {
			memcpy(out + n, s + i, quote_end - i);
			n += quote_end - i;
			i = quote_end - 1;
			continue;
		}
		out[n++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	return n;
}

int sem_normalize(const char *query, char **ret)
{
	char *fixed = NULL, *out;
	size_t len, fixed_len, n;
	int r;

	if (!query || !ret)
		return -EINVAL;
	len = strnlen(query, SEM_QUERY_MAX_BYTES + 1);
	if (len > SEM_QUERY_MAX_BYTES)
		return -E2BIG;
	r = utf8_sanitize(query, len, &fixed, &fixed_len);
	if (r < 0)
		return r;
	out = malloc(fixed_len + 1);
	if (!out) {
		free(fixed);
		return -ENOMEM;
	}
	n = norm_copy(fixed ? fixed : query, fixed_len, out);
	free(fixed);
	/* "revenue ?" and "revenue?!" both end as "revenue". */
	while (n > 0 && norm_trailing(out[n - 1]))
		n--;
	out[n] = '\0';
	*ret = out;
	return 0;
}
