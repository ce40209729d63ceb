/*
 * date_dependence: see date_dependence.h.
 *
 * Questions are read as lower-case words (letters and digits; anything
 * else separates). A question depends on the date when it holds
 *   - a word that is relative on its own (today, yesterday, now, current,
 *     recent, latest, ago, since, YTD, overdue, ...), or
 *   - one of a few two-word phrases (so far, to date, past due, ...), or
 *   - a relative word (this, last, past, next, previous, trailing, within,
 *     ...) followed, after at most FILLER_MAX fillers (numbers, "few",
 *     "couple", "of", "fiscal", "the", ...), by a period word (day, week,
 *     month, quarter, year, a weekday, a month's name, ...).
 * "last invoice" is not one (no period follows), "last 30 days" is.
 *
 * Code is read as identifiers ([A-Za-z_][A-Za-z0-9_]*, case ignored)
 * anywhere in the text, strings and comments included, so 'now' as an SQL
 * time value, a PostgreSQL 'today'::date and pd.to_datetime("today") are
 * all the identifier they hold. An identifier reads the clock when it is
 *   - a clock name (now, today, utcnow, current_date, localtime, ...), or
 *   - a function that means "now" without arguments (SQLite's date(),
 *     datetime(), julianday(), unixepoch(), Python's time()), or
 *   - a function that means "now" with one argument (SQLite's
 *     strftime(format), PostgreSQL's age(t)).
 * A method (x.date(), s.dt.strftime("%Y")) is not a clock call, except on
 * the time module (time.time(), time.strftime("%Y")).
 */
#include "cache/date_dependence.h"

#include <ctype.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "util/banned.h"

#define WORD_MAX 32    /* longer words are none of ours */
#define FILLER_MAX 4   /* "the last couple of full months": of, couple, full */
#define ARGS_SCAN_MAX 256 /* bytes looked at for a one-argument call */

static bool in_list(const char *w, const char *const *list)
{
	for (size_t i = 0; list[i]; i++)
		if (strcmp(w, list[i]) == 0)
			return true;
	return false;
}

/* ---- questions ----------------------------------------------------------- */

static const char *const relative_alone[] = {
	"today", "todays", "tonight", "yesterday", "yesterdays", "tomorrow", "tomorrows", "now",
	"nowadays", "currently", "current", "presently", "recent", "recently", "lately", "latest",
	"newest", "ago", "since", "todate", "soon", "upcoming", "future", "overdue", "aging",
	"ageing", "expiring", "expired", "ytd", "mtd", "qtd", "wtd", "fytd", "ttm", "ltm", NULL
};

/* The first word of a relative phrase, and what may follow it. */
static const char *const phrases[][2] = {
	{ "so", "far" },      { "thus", "far" },  { "to", "date" },     { "till", "date" },
	{ "til", "date" },    { "until", "date" }, { "past", "due" },   { "at", "present" },
	{ "as", "yet" },      { "this", "time" },  { "as", "now" },
};

static const char *const relative_lead[] = {
	"this", "last", "past", "previous", "prior", "next", "coming", "current", "trailing",
	"rolling", "preceding", "following", "within", "these", "recent", "latest", NULL
};

static const char *const fillers[] = {
	"the", "a", "an", "of", "few", "couple", "several", "full", "whole", "complete", "entire",
	"calendar", "fiscal", "financial", "business", "working", "one", "two", "three", "four",
	"five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "fifteen", "twenty",
	"thirty", "sixty", "ninety", "hundred", NULL
};

static const char *const periods[] = {
	"day", "days", "daily", "week", "weeks", "weekly", "weekend", "weekends", "fortnight",
	"fortnights", "month", "months", "monthly", "quarter", "quarters", "quarterly", "qtr",
	"qtrs", "q", "q1", "q2", "q3", "q4", "h1", "h2", "year", "years", "yearly", "annual", "yr",
	"yrs", "fy", "mo", "mos", "wk", "wks", "hour", "hours", "hr", "hrs", "minute", "minutes",
	"morning", "afternoon", "evening", "night", "period", "periods", "season", "seasons",
	"semester", "half", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
	"sunday", "mondays", "fridays", "january", "february", "march", "april", "may", "june",
	"july", "august", "september", "october", "november", "december", "jan", "feb", "mar",
	"apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", NULL
};

/* Copies the next word of *p into w (lower case, cut at WORD_MAX - 1) and
 * moves *p past it; false at the end of the text. */
static bool word_next(const char **p, char w[WORD_MAX])
{
	const unsigned char *s = (const unsigned char *)*p;
	size_t n = 0;

	while (*s && !isalnum(*s) && *s < 0x80)
		s++;
	if (!*s)
		return false;
	for (; *s && (isalnum(*s) || *s >= 0x80); s++)
		if (n < WORD_MAX - 1)
			w[n++] = (char)tolower(*s);
	w[n] = '\0';
	*p = (const char *)s;
	return true;
}

static bool is_number(const char *w)
{
	return w[0] && strspn(w, "0123456789") == strlen(w);
}

static bool phrase_ends(const char *prev, const char *w)
{
	for (size_t i = 0; i < sizeof(phrases) / sizeof(phrases[0]); i++)
		if (strcmp(prev, phrases[i][0]) == 0 && strcmp(w, phrases[i][1]) == 0)
			return true;
	return false;
}

bool date_dependent_question(const char *text)
{
	char w[WORD_MAX], prev[WORD_MAX] = "";
	int since_lead = -1; /* words since a relative lead word, -1: none */

	if (!text)
		return false;
	while (word_next(&text, w)) {
		if (in_list(w, relative_alone) || phrase_ends(prev, w))
			return true;
		if (since_lead >= 0) {
			if (in_list(w, periods))
				return true;
			if (since_lead < FILLER_MAX && (is_number(w) || in_list(w, fillers)))
				since_lead++;
			else
				since_lead = -1;
		}
		if (in_list(w, relative_lead))
			since_lead = 0;
		memcpy(prev, w, sizeof(prev));
	}
	return false;
}

/* ---- code ---------------------------------------------------------------- */

static const char *const clock_names[] = {
	"now", "utcnow", "today", "yesterday", "tomorrow", "current_date", "current_time",
	"current_timestamp", "localtimestamp", "localtime", "gmtime", "sysdate", "systimestamp",
	"sysdatetime", "getdate", "getutcdate", "curdate", "curtime", "utc_date", "utc_timestamp",
	"clock_timestamp", "statement_timestamp", "transaction_timestamp", "timeofday",
	"time_ns", NULL
};

/* "Now" when called with no argument. */
static const char *const clock_no_args[] = {
	"date", "time", "datetime", "julianday", "unixepoch", "ctime", "asctime", NULL
};

/* "Now" when called with one argument. */
static const char *const clock_one_arg[] = { "strftime", "age", NULL };

static bool ident_start(char c)
{
	return isalpha((unsigned char)c) || c == '_';
}

static bool ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* The arguments of a call whose '(' is at open: how many (0, 1, or 2 for
 * two or more); 2 as well when the ')' is not within ARGS_SCAN_MAX bytes,
 * which keeps a program full of calls linear to scan. */
static int args_count(const char *open)
{
	int depth = 0, commas = 0;
	bool empty = true;
	char quote = 0;

	for (size_t i = 1; i < ARGS_SCAN_MAX && open[i]; i++) {
		char c = open[i];
		if (quote) {
			quote = c == quote ? 0 : quote;
			empty = false;
			continue;
		}
		if (c == ')' && depth == 0)
			return empty ? 0 : commas >= 1 ? 2 : 1;
		if (c == '\'' || c == '"')
			quote = c;
		else if (c == '(')
			depth++;
		else if (c == ')')
			depth--;
		else if (c == ',' && depth == 0)
			commas++;
		if (!isspace((unsigned char)c))
			empty = false;
	}
	return 2;
}

/* Whether the identifier at start (len bytes, in text) is a method call on
 * something other than the time module. */
static bool method_not_on_time(const char *text, const char *start)
{
	const char *p = start, *end;

	while (p > text && isspace((unsigned char)p[-1]))
		p--;
	if (p == text || p[-1] != '.')
		return false;
	p--;
	while (p > text && isspace((unsigned char)p[-1]))
		p--;
	end = p;
	while (p > text && ident_char(p[-1]))
		p--;
	return !(end - p == 4 && strncasecmp(p, "time", 4) == 0);
}

static bool clock_call(const char *text, const char *start, const char *name, const char *after)
{
	bool no_args = in_list(name, clock_no_args), one_arg = in_list(name, clock_one_arg);

	if (!no_args && !one_arg)
		return false;
	while (isspace((unsigned char)*after))
		after++;
	if (*after != '(' || method_not_on_time(text, start))
		return false;
	if (no_args) {
		for (after++; isspace((unsigned char)*after); after++)
			;
		return *after == ')';
	}
	return args_count(after) == 1;
}

bool date_dependent_code(const char *code)
{
	const char *p = code;
	char name[WORD_MAX];

	if (!code)
		return false;
	while (*p) {
		const char *start = p;
		size_t n = 0;
		if (!ident_char(*p)) {
			p++;
			continue;
		}
		while (ident_char(*p))
			p++;
		/* A number or a word glued to digits is no identifier of ours. */
		if (!ident_start(*start) || (size_t)(p - start) >= WORD_MAX)
			continue;
		for (const char *q = start; q < p; q++)
			name[n++] = (char)tolower((unsigned char)*q);
		name[n] = '\0';
		if (in_list(name, clock_names) || clock_call(code, start, name, p))
			return true;
	}
	return false;
}
