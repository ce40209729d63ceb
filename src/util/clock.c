/* clock: see clock.h. */
#include "util/clock.h"

#include <stdio.h>
#include <time.h>

#include "util/banned.h"

int64_t clock_unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t clock_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void clock_format(int64_t unix_ms, char ret[CLOCK_TEXT_MAX])
{
	time_t secs = (time_t)(unix_ms / 1000);
	int ms = (int)(unix_ms % 1000);
	struct tm tm;
	char date[24];

	if (ms < 0) {
		ms += 1000;
		secs--;
	}
	if (!gmtime_r(&secs, &tm) || strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(ret, CLOCK_TEXT_MAX, "1970-01-01T00:00:00.000Z");
		return;
	}
	snprintf(ret, CLOCK_TEXT_MAX, "%s.%03dZ", date, ms);
}
