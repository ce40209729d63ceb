/*
 * zone: see zone.h.
 *
 * A name is checked against the zone files themselves rather than trusted
 * to the C library, which silently falls back to UTC for a name it does not
 * know: a typo in the setting would otherwise move every day boundary.
 */
#include "util/zone.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "util/banned.h"

#define ZONEINFO_DIR "/usr/share/zoneinfo/"

static bool zone_char_ok(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '/' || c == '_' || c == '+' || c == '-';
}

bool zone_name_valid(const char *name)
{
	char path[sizeof(ZONEINFO_DIR) + ZONE_NAME_MAX];
	struct stat st;
	size_t len = strlen(name);

	if (len == 0 || len > ZONE_NAME_MAX || name[0] == '/' || strstr(name, ".."))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!zone_char_ok(name[i]))
			return false;
	snprintf(path, sizeof(path), ZONEINFO_DIR "%s", name);
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int zone_apply(const char *name)
{
	if (name[0]) {
		if (!zone_name_valid(name))
			return -EINVAL;
		if (setenv("TZ", name, 1) < 0)
			return -errno;
	}
	tzset();
	return 0;
}

void zone_day(int64_t unix_ms, char ret[ZONE_DAY_LEN])
{
	time_t t = (time_t)(unix_ms / 1000);
	struct tm tm;

	if (!localtime_r(&t, &tm) || strftime(ret, ZONE_DAY_LEN, "%Y-%m-%d", &tm) == 0)
		snprintf(ret, ZONE_DAY_LEN, "0000-00-00");
}

void zone_days(int64_t unix_ms, char ret[ZONE_DAYS_LEN])
{
	time_t t = (time_t)(unix_ms / 1000);
	char local[ZONE_DAY_LEN];
	struct tm tm;

	zone_day(unix_ms, local);
	if (!gmtime_r(&t, &tm) || strftime(ret + ZONE_DAY_LEN, ZONE_DAYS_LEN - ZONE_DAY_LEN,
					     "%Y-%m-%d", &tm) == 0)
		snprintf(ret + ZONE_DAY_LEN, ZONE_DAYS_LEN - ZONE_DAY_LEN, "0000-00-00");
	memcpy(ret, local, ZONE_DAY_LEN - 1);
	ret[ZONE_DAY_LEN - 1] = '/';
}

void zone_label(const char *configured, char *ret, size_t ret_len)
{
	time_t now = time(NULL);
	struct tm tm;

	if (configured && configured[0])
		snprintf(ret, ret_len, "%s", configured);
	else if (localtime_r(&now, &tm) && tm.tm_zone && tm.tm_zone[0])
		snprintf(ret, ret_len, "%s", tm.tm_zone);
	else
		snprintf(ret, ret_len, "the server's local time");
}
