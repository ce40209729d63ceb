/*
 * budget_period: calendar periods in the process's local time zone.
 *
 * Boundaries are local midnights, found with mktime() on a struct tm whose
 * date fields were moved (a day, a week, a month) and whose tm_isdst is -1,
 * so the C library picks the offset in force at that instant. That is why
 * a day can be 23 or 25 hours long across a daylight-saving change, and
 * why mktime normalises "December + 1" into January of the next year. The
 * time zone is TZ as of the last tzset() (mktime calls it too); the server
 * sets TZ once at start.
 *
 * Invariant: for a calendar period, start <= now < end. If the C library
 * cannot place a boundary (a zone whose clocks skip midnight itself), the
 * bounds are widened to keep it, so no instant is ever outside its period.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "budget/budget_internal.h"
#include "util/banned.h"

#define DAY_S 86400

static const char *const period_names[] = {
	[PERIOD_NONE] = "none",
	[PERIOD_DAILY] = "daily",
	[PERIOD_WEEKLY] = "weekly",
	[PERIOD_MONTHLY] = "monthly",
};

bool budget_period_valid(enum budget_period p)
{
	return (unsigned)p <= PERIOD_MONTHLY;
}

const char *budget_period_name(enum budget_period p)
{
	return budget_period_valid(p) ? period_names[p] : "none";
}

int budget_period_parse(const char *name, enum budget_period *ret)
{
	if (!name || !ret)
		return -EINVAL;
	for (unsigned p = PERIOD_NONE; p <= PERIOD_MONTHLY; p++) {
		if (strcmp(name, period_names[p]) == 0) {
			*ret = (enum budget_period)p;
			return 0;
		}
	}
	return -EINVAL;
}

/* Local midnight starting the day `months` months and `days` days after
 * the date in `day`, in seconds (fields may leave their ranges: mktime
 * normalises them). */
static int64_t midnight_s(const struct tm *day, int days, int months)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = day->tm_year;
	tm.tm_mon = day->tm_mon + months;
	tm.tm_mday = day->tm_mday + days;
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

void budget_period_bounds(enum budget_period p, int64_t now_ms, int64_t *ret_start_ms,
			  int64_t *ret_end_ms)
{
	int64_t now_s = floor_div(now_ms, 1000), start_s, end_s;
	time_t t = (time_t)now_s;
	struct tm day;

	if (p == PERIOD_NONE || !budget_period_valid(p) || !localtime_r(&t, &day)) {
		*ret_start_ms = 0;
		*ret_end_ms = 0;
		return;
	}
	if (p == PERIOD_WEEKLY)
		day.tm_mday -= (day.tm_wday + 6) % 7; /* back to Monday */
	else if (p == PERIOD_MONTHLY)
		day.tm_mday = 1;
	start_s = midnight_s(&day, 0, 0);
	end_s = p == PERIOD_DAILY    ? midnight_s(&day, 1, 0)
		: p == PERIOD_WEEKLY ? midnight_s(&day, 7, 0)
				     : midnight_s(&day, 0, 1);
	if (start_s > now_s)
		start_s = now_s;
	if (end_s <= now_s)
		end_s = now_s + DAY_S;
	*ret_start_ms = start_s * 1000;
	*ret_end_ms = end_s * 1000;
}

void budget_period_sql_range(const struct budget_standing *st, int64_t *ret_from_ms,
			     int64_t *ret_to_ms)
{
	if (st->def.period == PERIOD_NONE) {
		*ret_from_ms = INT64_MIN;
		*ret_to_ms = INT64_MAX;
	} else {
		*ret_from_ms = st->period_start_ms;
		*ret_to_ms = st->period_end_ms;
	}
}
