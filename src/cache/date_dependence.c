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
#include <stdlib.h>
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
	"ageing", "expiring", "expired", "ytd", "mtd", "qtd", "wtd", "fytd", "ttm", "ltm",
	/* Short forms, and words that measure from today ("two months back",
	 * "days until due", "late invoices", "how old is each invoice"). */
	"yday", "yest", "tmrw", "tmr", "tonite", "back", "until", "till", "late", "old", "older",
	"aged", "age", "ongoing", "running", NULL
};

/* The first word of a relative phrase, and what may follow it. */
static const char *const phrases[][2] = {
	{ "so", "far" },      { "thus", "far" },  { "to", "date" },     { "till", "date" },
	{ "til", "date" },    { "until", "date" }, { "past", "due" },   { "at", "present" },
	{ "as", "yet" },      { "this", "time" },  { "as", "now" },     { "before", "last" },
	{ "after", "next" },  { "just", "ended" }, { "just", "passed" },
};

static const char *const relative_lead[] = {
	"this", "last", "past", "previous", "prior", "next", "coming", "current", "trailing",
	"rolling", "preceding", "following", "within", "these", "recent", "latest", "present",
	"start", "beginning", "begin", "newer", NULL
};

static const char *const fillers[] = {
	"the", "a", "an", "of", "few", "couple", "several", "full", "whole", "complete", "entire",
	"calendar", "fiscal", "financial", "business", "working", "one", "two", "three", "four",
	"five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "fifteen", "twenty",
	"thirty", "sixty", "ninety", "hundred", "than", NULL
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

/* A period named without its year resolves to the latest one before
 * today: "revenue in March", "expenses for Q3", "sales on Monday". */
static const char *const yearless[] = {
	"q1", "q2", "q3", "q4", "h1", "h2", "monday", "tuesday", "wednesday", "thursday",
	"friday", "saturday", "sunday", "january", "february", "march", "april", "may", "june",
	"july", "august", "september", "october", "november", "december", "jan", "feb", "mar",
	"apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", NULL
};

/* A year: 1900 to 2199 ("2025"), or one glued to "fy" ("fy2025",
 * "fy25"), or two digits after a quote ("'25", seen as "25" after one). */
static bool is_year(const char *w, bool after_quote)
{
	bool fy = strncmp(w, "fy", 2) == 0;
	size_t digits;

	w += fy ? 2 : 0;
	digits = strspn(w, "0123456789");
	if (digits != strlen(w))
		return false;
	if (digits == 4)
		return (w[0] == '1' && w[1] == '9') || w[0] == '2';
	return digits == 2 && (after_quote || fy);
}

/* Copies the next word of *p into w (lower case, cut at WORD_MAX - 1) and
 * moves *p past it; false at the end of the text. *quoted: whether a quote
 * mark is right before the word. */
static bool word_next(const char **p, char w[WORD_MAX], bool *quoted)
{
	const unsigned char *s = (const unsigned char *)*p;
	size_t n = 0;

	*quoted = false;
	while (*s && !isalnum(*s) && *s < 0x80)
		*quoted = *s++ == '\'';
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

/* A window glued to its length: "7d", "24h", "12m", "3mo", "2wks" (a
 * period after a relative word: "last 7d"). */
static bool is_glued_period(const char *w)
{
	static const char *const units[] = { "d", "h", "w", "m", "y", "q", "mo", "mos", "wk",
					     "wks", "yr", "yrs", "hr", "hrs", "mth", "mths", NULL };
	size_t digits = strspn(w, "0123456789");

	return digits > 0 && in_list(w + digits, units);
}

/* A trailing window on its own: "l30d", "t12m" (last 30 days, trailing 12
 * months). */
static bool is_window_token(const char *w)
{
	return (w[0] == 'l' || w[0] == 't') && is_glued_period(w + 1);
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
	bool named = false, year = false, quoted;

	if (!text)
		return false;
	while (word_next(&text, w, &quoted)) {
		year = year || is_year(w, quoted);
		named = named || in_list(w, yearless);
		if (in_list(w, relative_alone) || is_window_token(w) || phrase_ends(prev, w))
			return true;
		if (since_lead >= 0) {
			if (in_list(w, periods) || is_glued_period(w))
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
	/* "the last 30", the question cut short after its window. */
	return (named && !year) || (since_lead > 0 && is_number(prev));
}

/* ---- code ---------------------------------------------------------------- */

static const char *const clock_names[] = {
	"now", "utcnow", "today", "yesterday", "tomorrow", "current_date", "current_time",
	"current_timestamp", "localtimestamp", "localtime", "gmtime", "sysdate", "systimestamp",
	"sysdatetime", "getdate", "getutcdate", "curdate", "curtime", "utc_date", "utc_timestamp",
	"clock_timestamp", "statement_timestamp", "transaction_timestamp", "timeofday",
	"time_ns",
	/* A file's times: those of files the run makes are the time it ran. */
	"st_mtime", "st_atime", "st_ctime", "st_birthtime", "st_mtime_ns", "st_atime_ns",
	"st_ctime_ns", "getmtime", "getatime", "getctime", NULL
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
	/* x.time() is the time module under another name (import time as t,
	 * __import__('time')) as often as a datetime's time of day. */
	if (*after != '(' || (strcmp(name, "time") != 0 && method_not_on_time(text, start)))
		return false;
	if (no_args) {
		for (after++; isspace((unsigned char)*after); after++)
			;
		return *after == ')';
	}
	return args_count(after) == 1;
}

/* Whether the identifier that ends at p is the module imported: the time
 * module brought in by `import time`, `import os, time` or `from time
 * import ...` (its functions may then go by any name). */
static bool imports_time(const char *code, const char *start, const char *name)
{
	const char *p = start;

	if (strcmp(name, "time") != 0)
		return false;
	/* Back over the statement so far, on this line: "import a, b, " or "from". */
	while (p > code && p[-1] != '\n' && p[-1] != ';')
		p--;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncmp(p, "from", 4) == 0 && isspace((unsigned char)p[4])) {
		for (p += 4; isspace((unsigned char)*p); p++)
			;
		return p == start;
	}
	return strncmp(p, "import", 6) == 0 && isspace((unsigned char)p[6]);
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
		if (in_list(name, clock_names) || clock_call(code, start, name, p) ||
		    imports_time(code, start, name))
			return true;
	}
	return false;
}

/* ---- years the model was not given ------------------------------------- */

#define YEARS_MAX 32

static int year_of(const char *digits, size_t n)
{
	int y = 0, m;

	if (n != 4 && n != 6 && n != 8)
		return 0;
	for (size_t i = 0; i < 4; i++)
		y = y * 10 + (digits[i] - '0');
	if (y < 1900 || y > 2199)
		return 0;
	/* 202503 and 20250331 are a year and a month; 202513 is no date. */
	m = n > 4 ? (digits[4] - '0') * 10 + (digits[5] - '0') : 1;
	return m >= 1 && m <= 12 ? y : 0;
}

/* The years the question names, as digit runs anywhere ("2025",
 * "fy2025", "2025-03") and two digits after "fy" or a quote ("FY25",
 * "'25"): the more it is seen to name, the fewer answers are filed by day. */
static size_t question_years(const char *q, int years[YEARS_MAX])
{
	size_t n = 0;

	for (const char *p = q; *p && n < YEARS_MAX;) {
		size_t len = strspn(p, "0123456789");
		if (len == 0) {
			p++;
			continue;
		}
		if (len >= 4 && year_of(p, len == 8 || len == 6 ? len : 4))
			years[n++] = year_of(p, len == 8 || len == 6 ? len : 4);
		else if (len == 2 && p > q &&
			 (p[-1] == '\'' || (p - q >= 2 && strncasecmp(p - 2, "fy", 2) == 0) ||
			  (p - q >= 3 && strncasecmp(p - 3, "fy ", 3) == 0)))
			years[n++] = 2000 + (p[0] - '0') * 10 + (p[1] - '0');
		p += len;
	}
	return n;
}

bool date_inferred_code(const char *question, const char *code)
{
	int years[YEARS_MAX];
	size_t n;

	if (!question || !code)
		return false;
	n = question_years(question, years);
	for (const char *p = code; *p;) {
		size_t len = strspn(p, "0123456789");
		bool bounded;
		int y;
		if (len == 0) {
			p++;
			continue;
		}
		/* A whole number: not part of a name (x2025), a decimal (0.2025,
		 * 2025.50) or a longer number. */
		bounded = (p == code || (!ident_char(p[-1]) && p[-1] != '.')) &&
			  !ident_char(p[len]) && !(p[len] == '.' && isdigit((unsigned char)p[len + 1]));
		y = bounded ? year_of(p, len) : 0;
		if (y) {
			/* A named year's neighbours are bounds of its own period
			 * (d < '2025-01-01' for 2024) or of a comparison with it. */
			size_t i;
			for (i = 0; i < n && abs(years[i] - y) > 1; i++)
				;
			if (i == n)
				return true;
		}
		p += len;
	}
	return false;
}
