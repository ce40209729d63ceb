/*
 * utf8: makes arbitrary bytes safe to put in JSON strings.
 *
 * Analysts' programs print anything; JSON needs valid UTF-8. Invalid
 * sequences (bad lead bytes, truncated, overlong, surrogates, > U+10FFFF)
 * become U+FFFD; NUL bytes also become U+FFFD so C strings stay whole.
 */
#ifndef LEDGERBOX_UTF8_H
#define LEDGERBOX_UTF8_H

#include <stddef.h>

/* Returns a malloc'd NUL-terminated copy (length in *ret_len), or NULL when
 * out of memory. */
char *utf8_sanitize(const char *data, size_t len, size_t *ret_len);

#endif
