/*
 * date_dependence: whether a question or a program gives another answer on
 * another day, with the data unchanged. The result cache files such an
 * answer under the business's calendar day, so it is never served on the
 * next one (docs/cache-matching.md, "Date dependence").
 *
 * Both checks are pure functions of the text and err on the side of "yes":
 * a false "yes" costs a cache miss the next day, a false "no" serves a
 * stale number. So they look for words and calls, not for meaning:
 *   question  relative days and periods (today, yesterday, this month, last
 *             quarter, the past 30 days, three weeks ago, YTD, so far, to
 *             date, recent, latest, current, overdue, ...);
 *   code      calls and values that read the clock, in SQL (date('now'),
 *             date() with no argument, CURRENT_DATE, now(), ...) and in
 *             Python (datetime.now(), date.today(), pd.Timestamp.now(),
 *             pd.to_datetime('today'), time.time(), ...), wherever they
 *             appear, comments and strings included.
 * A question that names its period ("revenue in March 2025") is not
 * date-dependent.
 */
#ifndef LEDGERBOX_CACHE_DATE_DEPENDENCE_H
#define LEDGERBOX_CACHE_DATE_DEPENDENCE_H

#include <stdbool.h>

/* Whether the analyst's question (any text; NULL: no) refers to the
 * current date. */
bool date_dependent_question(const char *text);

/* Whether the program (Python or SQL; NULL: no) reads the current date or
 * time. */
bool date_dependent_code(const char *code);

/* Whether the program the model wrote for the question holds a year (as
 * 2025, or the first part of 2025-03-31, 202503 or 20250331) that the
 * question does not name. The model knows today's date from its prompt,
 * so such a year came from it ("revenue in the current period", "sales in
 * March", a question in any language): the answer holds only today.
 * NULL question or code: no. */
bool date_inferred_code(const char *question, const char *code);

#endif
