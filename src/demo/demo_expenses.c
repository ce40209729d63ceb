/*
 * demo_expenses: the operating bills of the demo business: rent, utilities,
 * marketing, software, travel, vehicles, insurance, professional fees and
 * the two equipment purchases.
 *
 * Recurring bills come from a table (vendor, day of month, amount, yearly
 * raise, noise, season) so the cost structure can be read in one place;
 * irregular ones (travel, repairs, legal) are drawn per business day.
 */
#include "demo/demo_model.h"

#include <errno.h>
#include <stdio.h>

#include "util/banned.h"

enum { SEASON_NONE, SEASON_UTILITIES, SEASON_MARKETING, SEASON_SALES };

struct expenses_monthly {
	int bcat;
	int nth; /* nth vendor of that category */
	int mday;
	int64_t cents;    /* 2024 amount */
	int raise_pm;     /* 2025 amount = 2024 amount * raise_pm / 1000 */
	int spread_pm;    /* random noise around the amount */
	int season;
	int account;
	const char *what;
};

static const struct expenses_monthly expenses_monthly[] = {
	{ BCAT_RENT, 0, 1, 1650000, 1030, 0, SEASON_NONE, ACC_RENT, "Warehouse and office rent" },
	{ BCAT_UTILITIES, 0, 8, 210000, 1040, 80, SEASON_UTILITIES, ACC_UTILITIES, "Electricity" },
	{ BCAT_UTILITIES, 1, 10, 65000, 1050, 50, SEASON_NONE, ACC_UTILITIES, "Water and waste" },
	{ BCAT_MARKETING, 0, 15, 400000, 1000, 0, SEASON_NONE, ACC_MARKETING, "Agency retainer" },
	{ BCAT_MARKETING, 1, 28, 300000, 1100, 150, SEASON_MARKETING, ACC_MARKETING, "Online advertising" },
	{ BCAT_SOFTWARE, 0, 2, 145000, 1050, 0, SEASON_NONE, ACC_SOFTWARE, "Accounting and ERP subscription" },
	{ BCAT_SOFTWARE, 1, 2, 98000, 1050, 0, SEASON_NONE, ACC_SOFTWARE, "Warehouse management subscription" },
	{ BCAT_SOFTWARE, 2, 3, 62000, 1050, 0, SEASON_NONE, ACC_SOFTWARE, "CRM subscription" },
	{ BCAT_SOFTWARE, 3, 3, 76000, 1080, 0, SEASON_NONE, ACC_SOFTWARE, "Office suite licences" },
	{ BCAT_SOFTWARE, 4, 20, 120000, 1000, 100, SEASON_NONE, ACC_SOFTWARE, "Managed IT support" },
	{ BCAT_VEHICLE, 0, 6, 340000, 1060, 100, SEASON_SALES, ACC_VEHICLE, "Fleet fuel" },
	{ BCAT_PROFESSIONAL, 2, 25, 35000, 1000, 0, SEASON_NONE, ACC_PROFESSIONAL, "Payroll service fee" },
};

struct expenses_dated {
	int month;
	int mday;
	int year; /* 0 = both years */
	int bcat;
	int nth;
	int64_t cents;
	int account;
	const char *what;
	int life_months; /* equipment: straight-line depreciation period */
};

static const struct expenses_dated expenses_dated[] = {
	{ 1, 5, 2024, BCAT_INSURANCE, 0, 4680000, ACC_PREPAID, "Annual insurance premium 2024", 0 },
	{ 1, 5, 2025, BCAT_INSURANCE, 0, 4920000, ACC_PREPAID, "Annual insurance premium 2025", 0 },
	{ 3, 4, 2024, BCAT_MARKETING, 3, 950000, ACC_MARKETING, "Trade show booth", 0 },
	{ 3, 3, 2025, BCAT_MARKETING, 3, 1020000, ACC_MARKETING, "Trade show booth", 0 },
	{ 3, 10, 0, BCAT_PROFESSIONAL, 0, 650000, ACC_PROFESSIONAL, "Annual accounts and tax return", 0 },
	{ 1, 20, 0, BCAT_PROFESSIONAL, 0, 240000, ACC_PROFESSIONAL, "Quarterly bookkeeping review", 0 },
	{ 4, 20, 0, BCAT_PROFESSIONAL, 0, 240000, ACC_PROFESSIONAL, "Quarterly bookkeeping review", 0 },
	{ 7, 20, 0, BCAT_PROFESSIONAL, 0, 240000, ACC_PROFESSIONAL, "Quarterly bookkeeping review", 0 },
	{ 10, 20, 0, BCAT_PROFESSIONAL, 0, 240000, ACC_PROFESSIONAL, "Quarterly bookkeeping review", 0 },
	{ 8, 12, 2024, BCAT_EQUIPMENT, 0, 1850000, ACC_EQUIPMENT, "Warehouse pallet racking", 84 },
	{ 3, 12, 2025, BCAT_EQUIPMENT, 0, 5200000, ACC_EQUIPMENT, "Delivery van", 60 },
};

/* Irregular bills: chance per business day, amount range, vendors. */
struct expenses_random {
	int chance_pm;
	int bcat;
	int first, vendors; /* picks one of `vendors` vendors from the first-th */
	int lo_dollars, hi_dollars;
	int account;
	const char *what;
};

static const struct expenses_random expenses_random[] = {
	{ 220, BCAT_TRAVEL, 0, 3, 150, 1400, ACC_TRAVEL, "Sales travel" },
	{ 60, BCAT_VEHICLE, 1, 1, 250, 2500, ACC_VEHICLE, "Vehicle repair and service" },
	{ 40, BCAT_MARKETING, 2, 1, 600, 3200, ACC_MARKETING, "Printed catalogues and flyers" },
	{ 8, BCAT_PROFESSIONAL, 1, 1, 1200, 4500, ACC_PROFESSIONAL, "Legal advice" },
};

static int expenses_season_pm(int kind, int month)
{
	static const int utilities[12] = { 1300, 1250, 1050, 950, 900, 1000,
					   1200, 1250, 1000, 950, 1050, 1300 };
	static const int marketing[12] = { 900, 900, 1000, 1000, 950, 900,
					   850, 900, 1300, 1500, 1400, 1000 };

	switch (kind) {
	case SEASON_UTILITIES: return utilities[month - 1];
	case SEASON_MARKETING: return marketing[month - 1];
	case SEASON_SALES: return demo_season_pm(month);
	default: return 1000;
	}
}

static int expenses_bill(struct demo_model *m, int bcat, int nth, int day, int64_t cents,
			 int account, const char *what)
{
	int vendor = demo_vendor_find(m, bcat, nth);
	int r;

	if (vendor < 0)
		return -EPROTO;
	r = demo_bill_add(m, vendor, day, cents, account, what);
	return r < 0 ? r : 0;
}

static int expenses_run_monthly(struct demo_model *m, const struct expenses_monthly *e, int day,
				int year, int month)
{
	static const char *const months[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
						"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	char what[DEMO_DESC_LEN];
	int64_t cents = year > DEMO_FIRST_YEAR ? demo_scale_pm(e->cents, e->raise_pm) : e->cents;

	cents = demo_scale_pm(cents, expenses_season_pm(e->season, month));
	cents = demo_rng_jitter(&m->rng, cents, e->spread_pm);
	(void)snprintf(what, sizeof(what), "%s %s %d", e->what, months[month - 1], year);
	return expenses_bill(m, e->bcat, e->nth, day, cents, e->account, what);
}

static int expenses_run_dated(struct demo_model *m, const struct expenses_dated *e, int day)
{
	int r = expenses_bill(m, e->bcat, e->nth, day, e->cents, e->account, e->what);
	struct demo_asset *a;

	if (r < 0)
		return r;
	/* Insurance is paid a year ahead and expensed month by month. */
	if (e->account == ACC_PREPAID)
		m->prepaid_cents += e->cents;
	if (e->life_months == 0)
		return 0;
	if (m->n_assets >= DEMO_MAX_ASSETS)
		return -EPROTO;
	/* Depreciation starts the month after the purchase. */
	a = &m->assets[m->n_assets++];
	a->from_month = demo_day_month_index(day) + 1;
	a->monthly_cents = e->cents / e->life_months;
	a->left_cents = e->cents;
	return 0;
}

static int expenses_run_random(struct demo_model *m, const struct expenses_random *e, int day,
			       int month)
{
	int chance = e->bcat == BCAT_TRAVEL && month <= 3 ? e->chance_pm * 3 / 2 : e->chance_pm;
	int64_t cents;

	if (!demo_rng_chance(&m->rng, chance))
		return 0;
	cents = (int64_t)demo_rng_between(&m->rng, e->lo_dollars * 100, e->hi_dollars * 100);
	return expenses_bill(m, e->bcat, e->first + demo_rng_between(&m->rng, 0, e->vendors - 1),
			     day, cents, e->account, e->what);
}

int demo_expenses_day(struct demo_model *m, int day)
{
	size_t n_monthly = sizeof(expenses_monthly) / sizeof(expenses_monthly[0]);
	size_t n_dated = sizeof(expenses_dated) / sizeof(expenses_dated[0]);
	size_t n_random = sizeof(expenses_random) / sizeof(expenses_random[0]);
	int y, mo, d, r = 0;

	demo_day_split(day, &y, &mo, &d);
	for (size_t i = 0; r == 0 && i < n_monthly; i++)
		if (expenses_monthly[i].mday == d)
			r = expenses_run_monthly(m, &expenses_monthly[i], day, y, mo);
	for (size_t i = 0; r == 0 && i < n_dated; i++) {
		const struct expenses_dated *e = &expenses_dated[i];
		if (e->month == mo && e->mday == d && (e->year == 0 || e->year == y))
			r = expenses_run_dated(m, e, day);
	}
	for (size_t i = 0; r == 0 && demo_day_is_business(day) && i < n_random; i++)
		r = expenses_run_random(m, &expenses_random[i], day, mo);
	return r;
}
