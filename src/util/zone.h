/*
 * zone: the business's time zone, one setting (LEDGERBOX_TZ) that decides
 * where a calendar day, month or year begins: for budget periods, for the
 * result cache's day boundary and for the date the model is told.
 *
 * The zone is the process's TZ, set once by zone_apply() before any thread
 * starts (TZ is process-wide and localtime_r() reads it); every other
 * function only reads it.
 */
#ifndef LEDGERBOX_UTIL_ZONE_H
#define LEDGERBOX_UTIL_ZONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZONE_NAME_MAX 63  /* bytes of a zone name such as America/Argentina/Buenos_Aires */
#define ZONE_DAY_LEN 11   /* "2026-12-07" and its NUL */
#define ZONE_DAYS_LEN 22  /* "2026-12-07/2026-12-06" and its NUL */

/* Whether name is a zone this machine knows: a file under
 * /usr/share/zoneinfo, named with letters, digits, '/', '_', '+', '-'
 * only, with no "..". "" is not one. */
bool zone_name_valid(const char *name);

/* Makes name ("" keeps the machine's zone) the process's zone. Call before
 * any thread exists. -EINVAL for a name zone_name_valid() refuses. */
int zone_apply(const char *name);

/* The calendar day of unix_ms in the process's zone, "YYYY-MM-DD". */
void zone_day(int64_t unix_ms, char ret[ZONE_DAY_LEN]);

/* The day of unix_ms as every clock a run can read sees it: in the
 * process's zone (the business's, and the sandbox's local time), then in
 * UTC (SQLite's 'now', numpy's 'today', utcnow()), as "YYYY-MM-DD/YYYY-MM-DD".
 * It changes at either midnight. */
void zone_days(int64_t unix_ms, char ret[ZONE_DAYS_LEN]);

/* How to name the zone to a reader: configured when it is not "", else
 * the abbreviation the C library uses for it now ("UTC", "CET"). */
void zone_label(const char *configured, char *ret, size_t ret_len);

#endif
