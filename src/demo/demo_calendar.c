/*
 * demo_calendar: day numbers (days since 1970-01-01) for the demo generator.
 *
 * Only dates from 1970 on are needed (the data spans 2015 to 2026). Years
 * are found by counting leap days, months by walking the month lengths.
 */
#include "demo/demo_model.h"

#include <stdio.h>

#include "util/banned.h"

static bool cal_is_leap(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int cal_month_days(int year, int month)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (month == 2 && cal_is_leap(year))
		return 29;
	return days[month - 1];
}

/* Leap years in [1, year]: every 4th, except centuries not divisible by 400. */
static int cal_leaps_through(int year)
{
	return year / 4 - year / 100 + year / 400;
}

static int cal_year_start(int year)
{
	return 365 * (year - 1970) + cal_leaps_through(year - 1) - cal_leaps_through(1969);
}

int demo_day(int year, int month, int mday)
{
	int day = cal_year_start(year);

	for (int mo = 1; mo < month; mo++)
		day += cal_month_days(year, mo);
	return day + mday - 1;
}

void demo_day_split(int day, int *year, int *month, int *mday)
{
	int y = 1970 + day / 365, mo = 1; /* never too small; step back */

	while (cal_year_start(y) > day)
		y--;
	day -= cal_year_start(y);
	while (day >= cal_month_days(y, mo))
		day -= cal_month_days(y, mo++);
	*year = y;
	*month = mo;
	*mday = day + 1;
}

void demo_day_format(int day, char out[DEMO_DATE_LEN])
{
	int y, mo, d;

	demo_day_split(day, &y, &mo, &d);
	/* The values are bounded (year < 10000), so this never truncates. */
	(void)snprintf(out, DEMO_DATE_LEN, "%04u-%02u-%02u", (unsigned)y % 10000u,
		       (unsigned)mo % 100u, (unsigned)d % 100u);
}

int demo_day_weekday(int day)
{
	return (day + 3) % 7; /* 1970-01-01 was a Thursday */
}

static bool cal_is_holiday(int day)
{
	int y, mo, d;

	demo_day_split(day, &y, &mo, &d);
	return (mo == 1 && d == 1) || (mo == 12 && d == 25) || (mo == 7 && d == 4);
}

bool demo_day_is_business(int day)
{
	return demo_day_weekday(day) < 5 && !cal_is_holiday(day);
}

int demo_day_next_business(int day)
{
	while (!demo_day_is_business(day))
		day++;
	return day;
}

int demo_day_prev_business(int day)
{
	while (!demo_day_is_business(day))
		day--;
	return day;
}

int demo_day_month_end(int day)
{
	int y, mo, d;

	demo_day_split(day, &y, &mo, &d);
	return day - d + cal_month_days(y, mo);
}

int demo_day_month_index(int day)
{
	int y, mo, d;

	demo_day_split(day, &y, &mo, &d);
	return (y - DEMO_FIRST_YEAR) * 12 + mo - 1;
}

int demo_month_first_day(int month_index)
{
	return demo_day(DEMO_FIRST_YEAR + month_index / 12, month_index % 12 + 1, 1);
}

int demo_season_pm(int month)
{
	/* Food service and retail peak before the holidays; January is slow. */
	static const int season[12] = { 800, 840, 940, 970, 1000, 1030,
					980, 960, 1000, 1080, 1240, 1330 };

	return season[(month - 1) % 12];
}
