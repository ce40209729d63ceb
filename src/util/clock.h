/*
 * clock: the project's one source of time stamps: Unix milliseconds, a
 * monotonic clock for durations, and RFC 3339 UTC text.
 */
#ifndef LEDGERBOX_CLOCK_H
#define LEDGERBOX_CLOCK_H

#include <stdint.h>

#define CLOCK_TEXT_MAX 32

int64_t clock_unix_ms(void);
uint64_t clock_mono_ms(void);
/* "2026-11-26T07:41:43.123Z" (the epoch when the time cannot be shown). */
void clock_format(int64_t unix_ms, char ret[CLOCK_TEXT_MAX]);

#endif
