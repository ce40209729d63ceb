/*
 * parse: strict number and size parsing for command-line flags and
 * configuration. Unlike atoi, every function rejects trailing junk, signs,
 * empty input and overflow with -EINVAL or -ERANGE.
 */
#ifndef LEDGERBOX_PARSE_H
#define LEDGERBOX_PARSE_H

#include <stdint.h>

/* Decimal unsigned integer. */
int parse_u64(const char *s, uint64_t *ret);
/* Byte size: a decimal number with an optional K, M, G or T suffix (powers of
 * 1024; "KiB", "MB" and the like are accepted as the same). */
int parse_bytes(const char *s, uint64_t *ret);

#endif
