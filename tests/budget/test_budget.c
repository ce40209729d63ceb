/*
 * Tests of src/budget on SQLite: the shared behaviours of budget_cases.h
 * (budgets, reservations, settlement, the ledger, periods, the invariant
 * under threads and two handles), run against a state directory, and what
 * only SQLite or no back end at all has: scope and period names, calendar
 * period bounds (also across daylight saving time), the owner lock that
 * sweeps a crashed process's reservations, and the database file itself.
 *
 * Every case works in its own state directory under
 * LEDGERBOX_TEST_TMP/budget-<pid>/. The process runs in TZ=UTC except where
 * a test sets a zone (its teardown puts UTC back).
 */
#include "testlib.h"

#include <sqlite3.h>

#include "budget/budget_cases.h"

/* ------------------------------------------------------------------ */
/* The fixture: a fresh state directory                                */

static int fx_setup(void **state)
{
	static int counter;
	struct budget_fx *fx = calloc(1, sizeof(*fx));
	char *base;

	assert_non_null(fx);
	assert_true(asprintf(&base, "%s/budget-%ld", tl_tmp(), (long)getpid()) > 0);
	if (mkdir(base, 0700) < 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", base, strerror(errno));
	assert_true(asprintf(&fx->dir, "%s/%d", base, ++counter) > 0);
	free(base);
	*state = fx;
	return 0;
}

static int fx_teardown(void **state)
{
	struct budget_fx *fx = *state;

	free(fx->dir);
	free(fx);
	return 0;
}

static void tz_set(const char *zone)
{
	assert_int_equal(setenv("TZ", zone, 1), 0);
	tzset();
}

static int tz_utc(void **state)
{
	(void)state;
	tz_set("UTC");
	return 0;
}

/* ------------------------------------------------------------------ */
/* Names                                                               */

static void names_and_periods(void **state)
{
	char long_name[200];
	enum budget_period p;
	(void)state;

	assert_true(budget_scope_valid("org"));
	assert_true(budget_scope_valid("team:finance"));
	assert_true(budget_scope_valid("user:a.b_c-9"));
	assert_true(budget_scope_valid("session:x"));
	assert_false(budget_scope_valid(NULL));
	assert_false(budget_scope_valid(""));
	assert_false(budget_scope_valid("Org"));
	assert_false(budget_scope_valid("org:x"));
	assert_false(budget_scope_valid("team:"));
	assert_false(budget_scope_valid("team:a b"));
	assert_false(budget_scope_valid("user:al/ice"));
	assert_false(budget_scope_valid("users:alice"));
	assert_false(budget_scope_valid("team:\xc3\xa9t\xc3\xa9"));

	snprintf(long_name, sizeof(long_name), "user:%063d", 0);
	assert_true(budget_scope_valid(long_name));
	snprintf(long_name, sizeof(long_name), "user:%064d", 0);
	assert_false(budget_scope_valid(long_name));
	snprintf(long_name, sizeof(long_name), "session:%0128d", 0);
	assert_true(budget_scope_valid(long_name));
	snprintf(long_name, sizeof(long_name), "session:%0129d", 0);
	assert_false(budget_scope_valid(long_name));

	for (int i = PERIOD_NONE; i <= PERIOD_MONTHLY; i++) {
		assert_int_equal(budget_period_parse(budget_period_name((enum budget_period)i), &p), 0);
		assert_int_equal(p, i);
	}
	assert_string_equal(budget_period_name(PERIOD_WEEKLY), "weekly");
	assert_int_equal(budget_period_parse("yearly", &p), -EINVAL);
	assert_int_equal(budget_period_parse("Daily", &p), -EINVAL);
	assert_int_equal(budget_period_parse(NULL, &p), -EINVAL);
}

/* ------------------------------------------------------------------ */
/* Period bounds                                                       */

static void expect_bounds(enum budget_period p, int64_t now_ms, int64_t start_ms, int64_t end_ms)
{
	int64_t start = -1, end = -1;

	budget_period_bounds(p, now_ms, &start, &end);
	if (start != start_ms || end != end_ms)
		fail_msg("%s around %" PRId64 ": got [%" PRId64 ", %" PRId64 "), want [%" PRId64
			 ", %" PRId64 ")",
			 budget_period_name(p), now_ms, start, end, start_ms, end_ms);
}

static void period_bounds_calendar(void **state)
{
	(void)state;
	tz_set("UTC");
	expect_bounds(PERIOD_NONE, NOW_MS, 0, 0);
	/* Month ends. */
	expect_bounds(PERIOD_MONTHLY, utc_ms(2026, 1, 31, 12, 0), utc_ms(2026, 1, 1, 0, 0),
		      utc_ms(2026, 2, 1, 0, 0));
	expect_bounds(PERIOD_DAILY, utc_ms(2026, 2, 1, 0, 0) - 1, utc_ms(2026, 1, 31, 0, 0),
		      utc_ms(2026, 2, 1, 0, 0));
	expect_bounds(PERIOD_DAILY, utc_ms(2026, 2, 1, 0, 0), utc_ms(2026, 2, 1, 0, 0),
		      utc_ms(2026, 2, 2, 0, 0));
	expect_bounds(PERIOD_MONTHLY, utc_ms(2027, 2, 28, 12, 0), utc_ms(2027, 2, 1, 0, 0),
		      utc_ms(2027, 3, 1, 0, 0));
	/* Leap day. */
	expect_bounds(PERIOD_DAILY, utc_ms(2028, 2, 29, 12, 0), utc_ms(2028, 2, 29, 0, 0),
		      utc_ms(2028, 3, 1, 0, 0));
	expect_bounds(PERIOD_MONTHLY, utc_ms(2028, 2, 29, 12, 0), utc_ms(2028, 2, 1, 0, 0),
		      utc_ms(2028, 3, 1, 0, 0));
	expect_bounds(PERIOD_WEEKLY, utc_ms(2028, 2, 29, 12, 0), utc_ms(2028, 2, 28, 0, 0),
		      utc_ms(2028, 3, 6, 0, 0));
	/* Year end: December rolls into January of the next year. */
	expect_bounds(PERIOD_MONTHLY, utc_ms(2026, 12, 31, 18, 0), utc_ms(2026, 12, 1, 0, 0),
		      utc_ms(2027, 1, 1, 0, 0));
	expect_bounds(PERIOD_DAILY, utc_ms(2026, 12, 31, 18, 0), utc_ms(2026, 12, 31, 0, 0),
		      utc_ms(2027, 1, 1, 0, 0));
	expect_bounds(PERIOD_WEEKLY, utc_ms(2026, 12, 31, 18, 0), utc_ms(2026, 12, 28, 0, 0),
		      utc_ms(2027, 1, 4, 0, 0));
	/* Weeks start on Monday 00:00 (2026-05-11 is a Monday). */
	expect_bounds(PERIOD_WEEKLY, utc_ms(2026, 5, 11, 0, 0), utc_ms(2026, 5, 11, 0, 0),
		      utc_ms(2026, 5, 18, 0, 0));
	expect_bounds(PERIOD_WEEKLY, utc_ms(2026, 5, 11, 0, 0) - 1, utc_ms(2026, 5, 4, 0, 0),
		      utc_ms(2026, 5, 11, 0, 0));
	expect_bounds(PERIOD_WEEKLY, NOW_MS, utc_ms(2026, 5, 11, 0, 0), utc_ms(2026, 5, 18, 0, 0));
	/* Before 1970 the milliseconds round down, not toward zero. */
	expect_bounds(PERIOD_DAILY, -1, utc_ms(1969, 12, 31, 0, 0), 0);

	/* Local time, not UTC: India is UTC+05:30 all year. */
	tz_set("Asia/Kolkata");
	expect_bounds(PERIOD_DAILY, utc_ms(2026, 5, 14, 20, 0), utc_ms(2026, 5, 14, 18, 30),
		      utc_ms(2026, 5, 15, 18, 30));
	expect_bounds(PERIOD_MONTHLY, utc_ms(2026, 5, 31, 19, 0), utc_ms(2026, 5, 31, 18, 30),
		      utc_ms(2026, 6, 30, 18, 30));
	tz_set("UTC");
}

static void period_bounds_dst(void **state)
{
	int64_t start, end, start2, end2;
	(void)state;

	tz_set("America/New_York");
	/* 2026-03-08: clocks go from 02:00 EST to 03:00 EDT; the day is 23 h. */
	expect_bounds(PERIOD_DAILY, utc_ms(2026, 3, 8, 16, 0), INT64_C(1772946000000),
		      INT64_C(1773028800000));
	budget_period_bounds(PERIOD_DAILY, utc_ms(2026, 3, 8, 6, 59), &start, &end);   /* 01:59 EST */
	budget_period_bounds(PERIOD_DAILY, utc_ms(2026, 3, 8, 7, 0), &start2, &end2); /* 03:00 EDT */
	assert_int_equal(start, start2);
	assert_int_equal(end, end2);
	assert_int_equal(end - start, 23 * HOUR_MS);
	/* 2026-11-01: back from 02:00 EDT to 01:00 EST; the day is 25 h. */
	expect_bounds(PERIOD_DAILY, utc_ms(2026, 11, 1, 17, 0), INT64_C(1793505600000),
		      INT64_C(1793595600000));
	budget_period_bounds(PERIOD_DAILY, utc_ms(2026, 11, 1, 17, 0), &start, &end);
	assert_int_equal(end - start, 25 * HOUR_MS);
	/* The week around the March change: Monday 2 (EST) to Monday 9 (EDT). */
	expect_bounds(PERIOD_WEEKLY, utc_ms(2026, 3, 8, 16, 0), utc_ms(2026, 3, 2, 5, 0),
		      utc_ms(2026, 3, 9, 4, 0));
	expect_bounds(PERIOD_MONTHLY, utc_ms(2026, 3, 20, 12, 0), utc_ms(2026, 3, 1, 5, 0),
		      utc_ms(2026, 4, 1, 4, 0));
	/* Still the 31st locally, although already April in UTC. */
	expect_bounds(PERIOD_MONTHLY, utc_ms(2026, 4, 1, 2, 0), utc_ms(2026, 3, 1, 5, 0),
		      utc_ms(2026, 4, 1, 4, 0));
}
/* ------------------------------------------------------------------ */
/* Crash recovery and the database file                                */

static void open_releases_stale_reservations(void **state)
{
	const struct budget_fx *fx = *state;
	struct budgets *b = fx_open(fx), *other;
	struct budget_status st[4];
	size_t n = 0;

	def_set(b, "org", 100, PERIOD_NONE, 100, true);
	assert_int_equal(reserve(b, "z1", &alice, 60, NOW_MS), 0);
	assert_int_equal(reserve(b, "z2", &alice, 30, NOW_MS), 0);
	assert_int_equal(settle(b, "z2", &alice, 30, NOW_MS), 0);
	assert_int_equal(reserved_total(b), 60);
	/* While this handle is open, another one must not take its live
	 * reservations for stale ones. */
	other = fx_open(fx);
	assert_int_equal(reserved_total(other), 60);
	budget_close(other);
	budget_close(b); /* "crash": z1 is never settled */

	b = fx_open(fx);
	assert_int_equal(reserved_total(b), 0);
	assert_int_equal(ledger_total(b), 3 * 30);
	assert_int_equal(reserve(b, "z3", &alice, 70, NOW_MS), 0);
	assert_int_equal(reserve(b, "z4", &alice, 1, NOW_MS), -EDQUOT);
	/* A late settlement of the swept run is still recorded. */
	assert_int_equal(budget_settle(b, "z1", &alice, 0, NULL, NOW_MS, st, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ledger_total(b), 3 * 30);
	budget_close(b);
}

static sqlite3 *raw_open(const char *dir)
{
	char *path;
	sqlite3 *db;

	assert_true(asprintf(&path, "%s/ledgerbox.db", dir) > 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	free(path);
	return db;
}

static const char *raw_text(sqlite3 *db, const char *sql, char *out, size_t len)
{
	sqlite3_stmt *q;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	snprintf(out, len, "%s", (const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	return out;
}

static void schema_is_versioned_apart(void **state)
{
	const struct budget_fx *fx = *state;
	const char *dir = fx->dir;
	char text[64], err[256] = "", *path;
	struct budgets *b = fx_open(fx), *none = NULL;
	sqlite3 *db;
	struct stat sb;

	assert_int_equal(settle(b, "q1", &alice, 5, NOW_MS), 0);
	budget_close(b);
	assert_true(asprintf(&path, "%s/ledgerbox.db", dir) > 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	free(path);

	db = raw_open(dir);
	assert_string_equal(raw_text(db, "PRAGMA journal_mode", text, sizeof(text)), "wal");
	assert_string_equal(raw_text(db, "SELECT version FROM budget_schema", text, sizeof(text)),
			    "1");
	assert_string_equal(raw_text(db, "PRAGMA user_version", text, sizeof(text)), "0");
	assert_string_equal(raw_text(db,
				     "SELECT group_concat(name || strict, ',') FROM"
				     " (SELECT name, strict FROM pragma_table_list WHERE name IN"
				     " ('budgets', 'reservations', 'ledger', 'soft_warnings')"
				     " ORDER BY name)",
				     text, sizeof(text)),
			    "budgets1,ledger1,reservations1,soft_warnings1");
	/* The ledger is append-only through SQL. */
	assert_int_not_equal(sqlite3_exec(db, "UPDATE ledger SET amount_micros = 0", NULL, NULL,
					  NULL),
			     SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM ledger", NULL, NULL, NULL), SQLITE_OK);
	/* The store owns user_version; reopening leaves it alone. */
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 3", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	b = fx_open(fx);
	assert_int_equal(ledger_total(b), 3 * 5);
	budget_close(b);
	db = raw_open(dir);
	assert_string_equal(raw_text(db, "PRAGMA user_version", text, sizeof(text)), "3");
	assert_string_equal(raw_text(db, "SELECT count(*) FROM budget_schema", text, sizeof(text)),
			    "1");
	/* Tables from a newer ledgerbox are refused, not guessed at. */
	assert_int_equal(sqlite3_exec(db, "UPDATE budget_schema SET version = 99", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(budget_open(dir, &none, err, sizeof(err)), -EPROTONOSUPPORT);
	assert_null(none);
	assert_non_null(strstr(err, "99"));
}

int main(void)
{
	const struct CMUnitTest shared[] = {
		BUDGET_CASES(fx_setup, fx_teardown),
	};
	const struct CMUnitTest own[] = {
		cmocka_unit_test(names_and_periods),
		cmocka_unit_test_teardown(period_bounds_calendar, tz_utc),
		cmocka_unit_test_teardown(period_bounds_dst, tz_utc),
		cmocka_unit_test_setup_teardown(open_releases_stale_reservations, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(schema_is_versioned_apart, fx_setup, fx_teardown),
	};
	int failed;

	tz_set("UTC");
	failed = cmocka_run_group_tests_name("budget (SQLite)", shared, NULL, NULL);
	failed += cmocka_run_group_tests_name("budget (SQLite only)", own, NULL, NULL);
	return failed;
}
