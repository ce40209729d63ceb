/*
 * demo_payroll: semi-monthly payroll for the demo business's ~40 staff.
 *
 * Paid on the 15th and the last day of the month (the business day before,
 * when that is a weekend). Each run posts gross wages per department, sales
 * commission on the previous month's product sales (first run of a month),
 * employer taxes and benefits, the net pay out of cash and the withholdings
 * owed; a few days later the withholdings are remitted.
 */
#include "demo/demo_model.h"

#include <stdio.h>

#include "util/banned.h"

#define PAYROLL_EMPLOYER_PM 150    /* employer taxes and benefits on gross */
#define PAYROLL_WITHHELD_PM 230    /* employee taxes withheld from gross */
#define PAYROLL_COMMISSION_PM 10   /* 1% of product sales */
#define PAYROLL_RAISE_2025_PM 1035 /* 3.5% raise from January 2025 */
#define PAYROLL_REMIT_DAYS 3

struct payroll_department {
	const char *name;
	int staff[2]; /* 2024, 2025 */
	int64_t monthly_cents; /* average gross per person per month in 2024 */
	bool peak_overtime;    /* extra hours in November and December */
};

static const struct payroll_department payroll_departments[] = {
	{ "Sales", { 7, 8 }, 520000, false },
	{ "Warehouse and Delivery", { 16, 17 }, 370000, true },
	{ "Customer Service", { 5, 5 }, 390000, true },
	{ "Purchasing", { 3, 3 }, 480000, false },
	{ "Finance and Admin", { 4, 4 }, 500000, false },
	{ "Management", { 3, 3 }, 950000, false },
};

#define PAYROLL_DEPARTMENTS (sizeof(payroll_departments) / sizeof(payroll_departments[0]))

static int64_t payroll_gross(const struct payroll_department *d, int year, int month)
{
	int64_t cents = d->staff[year - DEMO_FIRST_YEAR] * d->monthly_cents / 2;

	if (year > DEMO_FIRST_YEAR)
		cents = demo_scale_pm(cents, PAYROLL_RAISE_2025_PM);
	if (d->peak_overtime && month >= 11)
		cents = demo_scale_pm(cents, 1150);
	return cents;
}

/* 0 = not a pay day, 1 = mid-month run, 2 = month-end run. */
static int payroll_run_kind(int day)
{
	int y, mo, d;

	demo_day_split(day, &y, &mo, &d);
	if (day == demo_day_prev_business(day - d + 15))
		return 1;
	if (day == demo_day_prev_business(demo_day_month_end(day)))
		return 2;
	return 0;
}

static int64_t payroll_commission(const struct demo_model *m, int day, int kind)
{
	int month = demo_day_month_index(day);

	if (kind != 1 || month == 0)
		return 0;
	return demo_scale_pm(m->product_revenue_cents[month - 1], PAYROLL_COMMISSION_PM);
}

static int payroll_post_wages(struct demo_model *m, int year, int month, int64_t *gross)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < PAYROLL_DEPARTMENTS; i++) {
		const struct payroll_department *d = &payroll_departments[i];
		int64_t cents = payroll_gross(d, year, month);
		r = demo_gl_debit(m, ACC_SALARIES, cents, "Gross wages - %s (%d staff)", d->name,
				  d->staff[year - DEMO_FIRST_YEAR]);
		*gross += cents;
	}
	return r;
}

static int payroll_remit(struct demo_model *m, int day, const char *ref, int64_t cents)
{
	int when = demo_day_next_business(day + PAYROLL_REMIT_DAYS);
	int r;

	if (when > DEMO_DAY_END)
		return 0; /* still owed at year end */
	r = demo_gl_begin(m, when, SRC_PAYROLL, ref);
	if (r == 0)
		r = demo_gl_debit(m, ACC_PAYROLL_LIAB, cents, "Payroll tax remittance %s", ref);
	if (r == 0)
		r = demo_gl_credit(m, ACC_CASH, cents, "Payroll tax remittance %s", ref);
	return r == 0 ? demo_gl_end(m) : r;
}

int demo_payroll_day(struct demo_model *m, int day)
{
	int kind = payroll_run_kind(day), y, mo, d, r;
	int64_t gross = 0, commission, employer, withheld;
	char ref[DEMO_REF_LEN];

	if (kind == 0)
		return 0;
	demo_day_split(day, &y, &mo, &d);
	(void)snprintf(ref, sizeof(ref), "PR-%04d-%02d-%02d", y % 10000, mo % 100, d % 100);
	r = demo_gl_begin(m, day, SRC_PAYROLL, ref);
	if (r == 0)
		r = payroll_post_wages(m, y, mo, &gross);
	commission = payroll_commission(m, day, kind);
	gross += commission;
	employer = demo_scale_pm(gross, PAYROLL_EMPLOYER_PM);
	withheld = demo_scale_pm(gross, PAYROLL_WITHHELD_PM);
	if (r == 0)
		r = demo_gl_debit(m, ACC_SALARIES, commission, "Sales commission");
	if (r == 0)
		r = demo_gl_debit(m, ACC_PAYROLL_TAX, employer, "Employer taxes and benefits");
	if (r == 0)
		r = demo_gl_credit(m, ACC_CASH, gross - withheld, "Net pay");
	if (r == 0)
		r = demo_gl_credit(m, ACC_PAYROLL_LIAB, withheld + employer, "Taxes withheld and employer share");
	if (r == 0)
		r = demo_gl_end(m);
	return r == 0 ? payroll_remit(m, day, ref, withheld + employer) : r;
}
