/*
 * Tests of src/cache/date_dependence: which questions and programs give
 * another answer on another day. The tables are the test: DATED_QUESTIONS
 * and CLOCK_CODE must all be caught (a miss serves a stale number), the
 * FIXED_* tables name their period or read no clock and must not be (a
 * false alarm only costs a cache miss, but a detector that flags everything
 * would make the day boundary meaningless).
 */
#include "testlib.h"

#include "cache/date_dependence.h"

static const char *const DATED_QUESTIONS[] = {
	"revenue last month",
	"Revenue LAST MONTH?",
	"what did we sell today",
	"today's sales",
	"sales yesterday",
	"expected cash tomorrow",
	"expenses this week",
	"expenses this month by category",
	"profit this quarter",
	"revenue this year",
	"revenue this fiscal year",
	"costs last week",
	"margin last quarter",
	"revenue last year vs the year before",
	"budget for next month",
	"invoices due next week",
	"revenue in the previous month",
	"spend in the prior quarter",
	"the current month's payroll",
	"current year revenue",
	"revenue YTD",
	"revenue year-to-date",
	"expenses MTD",
	"QTD gross margin",
	"sales in the last 30 days",
	"orders over the past 7 days",
	"payments in the past three weeks",
	"revenue over the past 12 months",
	"the last couple of months",
	"trailing twelve months revenue",
	"TTM EBITDA",
	"rolling 90 days of sales",
	"revenue within 30 days",
	"invoices due within the next 14 days",
	"recent invoices",
	"customers who paid recently",
	"the latest balance",
	"what is the cash balance now",
	"inventory currently on hand",
	"revenue so far",
	"sales to date",
	"expenses since January",
	"sales 3 months ago",
	"orders a year ago",
	"overdue invoices",
	"past-due invoices",
	"AR aging",
	"sales last Monday",
	"revenue last December",
	"payroll for the coming month",
	"revenue in the upcoming quarter",
	"what happened last weekend",
	"new customers this half",
	"hours logged this morning",
	"subscriptions expiring",
	/* Short forms, windows glued to their length, periods without a year,
	 * and words that measure from today. */
	"revenue yday",
	"expected receipts tmrw",
	"sales last 7d",
	"sales in the last 24h",
	"revenue L30D",
	"revenue T12M",
	"revenue two months back",
	"revenue in the week before last",
	"revenue in the month just ended",
	"revenue from the beginning of the year",
	"revenue from start of the month",
	"revenue for the present quarter",
	"revenue in the ongoing quarter",
	"revenue for the running month",
	"revenue in November",
	"expenses for Q3",
	"sales on Monday",
	"how many days until invoice 5 is due",
	"invoices older than 60 days",
	"how old is each open invoice",
	"late invoices",
	"revenue in the last 30",
	NULL
};

static const char *const FIXED_QUESTIONS[] = {
	"revenue in 2025",
	"revenue by month for 2025",
	"expenses in March 2025",
	"top 10 customers by revenue in Q3 2025",
	"total invoices per customer",
	"average invoice amount",
	"last invoice of ACME",
	"revenue between 2025-01-01 and 2025-06-30",
	"monthly revenue in 2024",
	"gross margin by product",
	"payroll for december 2025",
	"who are the vendors we pay the most",
	"count of accounts by type",
	"revenue in March 2025",
	"expenses for Q3 FY25",
	"sales in q3 of fy2025",
	"the last 10 invoices",
	"open invoices by customer",
	"",
	NULL
};

static const char *const CLOCK_CODE[] = {
	"SELECT sum(amount) FROM invoices WHERE date >= date('now', 'start of month', '-1 month')",
	"SELECT * FROM invoices WHERE issued > DATE( 'now' , '-30 days')",
	"select datetime('now')",
	"SELECT julianday('now') - julianday(due_date) FROM invoices",
	"SELECT strftime('%Y', 'now')",
	"SELECT * FROM t WHERE strftime('%Y-%m', d) = strftime('%Y-%m')",
	"SELECT date() AS d",
	"SELECT unixepoch()",
	"SELECT * FROM t WHERE d = CURRENT_DATE",
	"SELECT CURRENT_TIMESTAMP",
	"select current_time",
	"SELECT now()",
	"SELECT localtimestamp",
	"SELECT 'today'::date",
	"SELECT age(due_date) FROM invoices",
	"SELECT * FROM t WHERE d > 'now'::timestamp - interval '1 month'",
	"from datetime import datetime\nprint(datetime.now())",
	"import datetime as dt\nx = dt.datetime.utcnow()",
	"from datetime import date\ncutoff = date.today()",
	"import pandas as pd\nnow = pd.Timestamp.now()",
	"import pandas as pd\nt = pd.Timestamp.today().normalize()",
	"import pandas as pd\nt = pd.to_datetime('today')",
	"import pandas as pd\nt = pd.to_datetime(\"now\")",
	"import time\nprint(time.time())",
	"import time\nprint(time.localtime().tm_year)",
	"import time\nprint(time.gmtime())",
	"import time\nprint(time.strftime('%Y-%m-%d'))",
	"import time\nprint(time.time_ns())",
	"from time import time\nstart = time()",
	"import numpy as np\nd = np.datetime64('today')",
	"import numpy as np\nd = np.datetime64( 'now' )",
	"import pandas as pd\np = pd.Period.now('M')",
	"print(f\"as of {datetime.now():%Y-%m-%d}\")",
	/* The time module under another name, and a file's times. */
	"import time as t\nx = t.time()",
	"from time import time as T\nx = T()",
	"t = __import__('time').time()",
	"import os, time\nprint(time.monotonic())",
	"from time import perf_counter\nperf_counter()",
	"import os\nprint(os.stat('/tmp').st_mtime)",
	"import os\nprint(os.path.getmtime('/out/a.csv'))",
	NULL
};

static const char *const FIXED_CODE[] = {
	"SELECT sum(amount) FROM invoices WHERE date BETWEEN '2025-01-01' AND '2025-12-31'",
	"SELECT strftime('%Y-%m', issued) AS month, sum(amount) FROM invoices GROUP BY 1",
	"SELECT date(issued, '+30 days') FROM invoices",
	"SELECT julianday(paid) - julianday(issued) FROM invoices",
	"import pandas as pd\ndf = pd.read_csv('/data/invoices.csv', parse_dates=['date'])\n"
	"df['month'] = df['date'].dt.strftime('%Y-%m')\nprint(df.groupby('month').amount.sum())",
	"import pandas as pd\nt = pd.Timestamp('2025-03-01').date()",
	"import datetime\nd = datetime.date(2025, 1, 31)",
	"SELECT known, nowhere, todays_total FROM t",
	"from datetime import datetime, time\nprint(time(9, 30))",
	"SELECT time(created) FROM t",
	"SELECT 1",
	"",
	NULL
};

static void dated_questions_are_caught(void **state)
{
	(void)state;
	for (size_t i = 0; DATED_QUESTIONS[i]; i++)
		if (!date_dependent_question(DATED_QUESTIONS[i]))
			fail_msg("not seen as date-dependent: \"%s\"", DATED_QUESTIONS[i]);
}

static void fixed_questions_are_not(void **state)
{
	(void)state;
	for (size_t i = 0; FIXED_QUESTIONS[i]; i++)
		if (date_dependent_question(FIXED_QUESTIONS[i]))
			fail_msg("seen as date-dependent: \"%s\"", FIXED_QUESTIONS[i]);
	assert_false(date_dependent_question(NULL));
}

static void clock_code_is_caught(void **state)
{
	(void)state;
	for (size_t i = 0; CLOCK_CODE[i]; i++)
		if (!date_dependent_code(CLOCK_CODE[i]))
			fail_msg("not seen as reading the clock: %s", CLOCK_CODE[i]);
}

static void fixed_code_is_not(void **state)
{
	(void)state;
	for (size_t i = 0; FIXED_CODE[i]; i++)
		if (date_dependent_code(FIXED_CODE[i]))
			fail_msg("seen as reading the clock: %s", FIXED_CODE[i]);
	assert_false(date_dependent_code(NULL));
}

/* A year in the model's code that the question does not name came from the
 * date in its prompt. */
static const struct {
	const char *question, *code;
	bool inferred;
} INFERRED[] = {
	{ "revenue in the current period", "SELECT sum(a) FROM t WHERE d >= '2026-12-01'", true },
	{ "umsatz im aktuellen monat", "df[df.date >= pd.Timestamp(2026, 12, 1)]", true },
	{ "ventas de este mes", "x = 20261201", true },
	{ "revenue for March", "SELECT sum(a) FROM t WHERE d LIKE '2026-03-%'", true },
	{ "revenue in 2025", "SELECT sum(a) FROM t WHERE strftime('%Y', d) = '2025'", false },
	{ "revenue in 2024", "SELECT sum(a) FROM t WHERE d >= '2024-01-01' AND d < '2025-01-01'",
	  false },
	{ "revenue FY25", "SELECT sum(a) FROM t WHERE d BETWEEN '2025-01-01' AND '2025-12-31'",
	  false },
	{ "revenue in '25", "SELECT sum(a) FROM t WHERE d >= '2025-01-01'", false },
	{ "invoices over 2000", "SELECT * FROM t WHERE a > 2000.50", false },
	{ "total", "SELECT 1900.5, x2025, 0.2025, 2026.5 FROM t", false },
	{ "total", "SELECT sum(amount) FROM invoices", false },
};

static void model_years_not_asked_for(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(INFERRED) / sizeof(INFERRED[0]); i++)
		if (date_inferred_code(INFERRED[i].question, INFERRED[i].code) != INFERRED[i].inferred)
			fail_msg("\"%s\" answered by %s: %s", INFERRED[i].question, INFERRED[i].code,
				 INFERRED[i].inferred ? "its year was not seen as the model's"
						      : "seen as a year the question did not name");
	assert_false(date_inferred_code(NULL, "SELECT 2026"));
	assert_false(date_inferred_code("x", NULL));
}

/* Long and odd input: no overrun, and a late clock call is still found. */
static void long_and_odd_input(void **state)
{
	size_t n = 200000;
	char *text = malloc(n + 64);
	(void)state;

	assert_non_null(text);
	memset(text, '(', n);
	text[n] = '\0';
	assert_false(date_dependent_code(text));
	assert_false(date_dependent_question(text));
	memset(text, 'x', n);
	memcpy(text + n, " now()", 7);
	assert_true(date_dependent_code(text));
	memcpy(text + n, " today", 7);
	assert_true(date_dependent_question(text));
	assert_false(date_dependent_code("strftime('%Y'"));
	assert_false(date_dependent_question("\xc3\xa9t\xc3\xa9 2025"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dated_questions_are_caught),
		cmocka_unit_test(fixed_questions_are_not),
		cmocka_unit_test(clock_code_is_caught),
		cmocka_unit_test(fixed_code_is_not),
		cmocka_unit_test(model_years_not_asked_for),
		cmocka_unit_test(long_and_odd_input),
	};
	return cmocka_run_group_tests_name("date_dependence", tests, NULL, NULL);
}
