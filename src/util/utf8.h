/*
 * utf8: makes arbitrary bytes safe to put in JSON strings.
 *
 * Analysts' programs print anything and datasets hold anything; JSON needs
 * valid UTF-8. Each ill-formed sequence (bad lead byte, cut short, overlong,
 * surrogate, past U+10FFFF) becomes one U+FFFD per maximal subpart, as
 * Unicode and WHATWG recommend. NUL bytes are valid and kept (JSON writes
 * them as \u0000).
 */
#ifndef LEDGERBOX_UTF8_H
#define LEDGERBOX_UTF8_H

#include <stddef.h>

/* Sets *ret to a malloc'd, NUL-terminated repaired copy and *ret_len to its
 * length; when the input is already valid, *ret is NULL and *ret_len is len
 * (use the input as it is). Returns 0 or -ENOMEM. */
int utf8_sanitize(const char *s, size_t len, char **ret, size_t *ret_len);

/* The longest prefix of s (at most max bytes) that does not cut a UTF-8
 * sequence in two, for messages that quote client text. */
size_t utf8_cut(const char *s, size_t max);

#endif
