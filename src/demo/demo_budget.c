/*
 * demo_budget: monthly budgets for every revenue and expense account.
 *
 * Budgets are positive amounts in the account's normal direction (revenue
 * as credits, expenses and sales returns as debits). 2024 is budgeted close
 * to what happened, as if planned from 2023; 2025 is planned from 2024's
 * actuals plus growth, so the 2025 variance is what an analyst would look
 * at. Amounts are rounded to whole tens or hundreds like real plans.
 */
#include "demo/demo_model.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

static int budget_account_index(int account)
{
	for (size_t i = 0; i < demo_account_count; i++)
		if (demo_accounts[i].id == account)
			return (int)i;
	return -1;
}

static bool budget_is_pl(const struct demo_account *a)
{
	return strcmp(a->type, "revenue") == 0 || strcmp(a->type, "expense") == 0;
}

/* actual[account index][month]: net movement in the normal direction. */
static void budget_actuals(const struct demo_model *m, int64_t (*actual)[DEMO_MONTHS])
{
	for (size_t i = 0; i < m->gl.len; i++) {
		const struct demo_gl_line *l = demo_vec_at(&m->gl, i);
		int a = budget_account_index(l->account);
		int64_t net = l->debit_cents - l->credit_cents;
		if (a < 0)
			continue;
		if (strcmp(demo_accounts[a].normal_balance, "credit") == 0)
			net = -net;
		actual[a][demo_day_month_index(l->day)] += net;
	}
}

static int64_t budget_round(int64_t cents)
{
	int64_t unit = cents >= 100000 ? 10000 : 1000; /* $100 or $10 */

	if (cents <= 0)
		return 0;
	return (cents + unit / 2) / unit * unit;
}

static int budget_growth_pm(int account)
{
	if (account >= ACC_SALES && account <= ACC_FREIGHT_IN)
		return 1080; /* plan: 8% more sales */
	if (account == ACC_SALARIES || account == ACC_PAYROLL_TAX)
		return 1050;
	return 1030;
}

static int budget_add(struct demo_model *m, int account, int month, int64_t cents)
{
	struct demo_budget *b = demo_vec_push(&m->budgets);

	if (!b)
		return -ENOMEM;
	b->account = account;
	b->month_index = month;
	b->amount_cents = budget_round(cents);
	return 0;
}

static int budget_month(struct demo_model *m, int month, int64_t (*actual)[DEMO_MONTHS])
{
	for (size_t a = 0; a < demo_account_count; a++) {
		const struct demo_account *acc = &demo_accounts[a];
		int64_t base = actual[a][month % 12];
		int r;
		if (!budget_is_pl(acc))
			continue;
		if (month >= 12)
			base = demo_scale_pm(base > 0 ? base : 0, budget_growth_pm(acc->id));
		r = budget_add(m, acc->id, month,
			       demo_rng_jitter(&m->rng, base > 0 ? base : 0, month < 12 ? 70 : 50));
		if (r < 0)
			return r;
	}
	return 0;
}

int demo_budget_generate(struct demo_model *m)
{
	int64_t (*actual)[DEMO_MONTHS] = calloc(demo_account_count, sizeof(*actual));
	int r = 0;

	if (!actual)
		return -ENOMEM;
	budget_actuals(m, actual);
	for (int month = 0; r == 0 && month < DEMO_MONTHS; month++)
		r = budget_month(m, month, actual);
	free(actual);
	return r;
}
