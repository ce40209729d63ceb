/*
 * demo_finance: the balance-sheet side of the demo business: opening
 * balances, the bank loan, owner distributions, month-end adjustments
 * (depreciation, prepaid insurance) and bank fees.
 *
 * The books start on 2024-01-01 with no open invoices or bills, so AR and
 * AP start at zero; the opening journal carries cash, the opening stock,
 * the fixed assets, the loan and equity, with retained earnings as the
 * balancing figure.
 */
#include "demo/demo_model.h"

#include <stdio.h>

#include "util/banned.h"

#define FIN_OPENING_CASH 85000000
#define FIN_EQUIPMENT 28500000
#define FIN_ACCUM_DEPR 9600000
#define FIN_EQUIPMENT_MONTHLY_DEPR 515000
#define FIN_LOAN 24000000
#define FIN_LOAN_RATE_BP 650 /* 6.5% a year */
#define FIN_LOAN_PRINCIPAL 500000
#define FIN_OWNER_CAPITAL 20000000
#define FIN_BANK_FEE_BASE 4500
#define FIN_CARD_FEE_PER_10000 12 /* 0.12% of customer receipts */

int demo_finance_open(struct demo_model *m, int64_t stock_cents)
{
	int64_t debits = FIN_OPENING_CASH + stock_cents + FIN_EQUIPMENT;
	int64_t credits = FIN_ACCUM_DEPR + FIN_LOAN + FIN_OWNER_CAPITAL;
	int r = demo_gl_begin(m, DEMO_DAY_START, SRC_OPENING, NULL);
	struct demo_asset *a = &m->assets[m->n_assets++];

	a->from_month = 0;
	a->monthly_cents = FIN_EQUIPMENT_MONTHLY_DEPR;
	a->left_cents = FIN_EQUIPMENT - FIN_ACCUM_DEPR;
	m->loan_cents = FIN_LOAN;
	if (r == 0)
		r = demo_gl_debit(m, ACC_CASH, FIN_OPENING_CASH, "Opening balance");
	if (r == 0)
		r = demo_gl_debit(m, ACC_INVENTORY, stock_cents, "Opening balance");
	if (r == 0)
		r = demo_gl_debit(m, ACC_EQUIPMENT, FIN_EQUIPMENT, "Opening balance");
	if (r == 0)
		r = demo_gl_credit(m, ACC_ACCUM_DEPR, FIN_ACCUM_DEPR, "Opening balance");
	if (r == 0)
		r = demo_gl_credit(m, ACC_LOAN, FIN_LOAN, "Opening balance");
	if (r == 0)
		r = demo_gl_credit(m, ACC_OWNER_CAPITAL, FIN_OWNER_CAPITAL, "Opening balance");
	if (r == 0)
		r = demo_gl_credit(m, ACC_RETAINED, debits - credits, "Opening balance");
	return r == 0 ? demo_gl_end(m) : r;
}

static int finance_loan_payment(struct demo_model *m, int day)
{
	int64_t interest = (m->loan_cents * FIN_LOAN_RATE_BP + 60000) / 120000;
	int64_t principal = m->loan_cents < FIN_LOAN_PRINCIPAL ? m->loan_cents : FIN_LOAN_PRINCIPAL;
	int r = demo_gl_begin(m, day, SRC_BANK, NULL);

	m->loan_cents -= principal;
	if (r == 0)
		r = demo_gl_debit(m, ACC_INTEREST, interest, "Loan interest");
	if (r == 0)
		r = demo_gl_debit(m, ACC_LOAN, principal, "Loan principal repayment");
	if (r == 0)
		r = demo_gl_credit(m, ACC_CASH, interest + principal, "Loan instalment");
	return r == 0 ? demo_gl_end(m) : r;
}

static int finance_distribution(struct demo_model *m, int day, int year)
{
	int64_t cents = year == DEMO_FIRST_YEAR ? 15000000 : 20000000;
	int r = demo_gl_begin(m, day, SRC_EQUITY, NULL);

	if (r == 0)
		r = demo_gl_debit(m, ACC_DISTRIBUTIONS, cents, "Quarterly owner distribution");
	if (r == 0)
		r = demo_gl_credit(m, ACC_CASH, cents, "Quarterly owner distribution");
	return r == 0 ? demo_gl_end(m) : r;
}

static int64_t finance_depreciation(struct demo_model *m, int month)
{
	int64_t total = 0;

	for (int i = 0; i < m->n_assets; i++) {
		struct demo_asset *a = &m->assets[i];
		int64_t cents = a->monthly_cents < a->left_cents ? a->monthly_cents : a->left_cents;
		if (a->from_month > month)
			continue;
		a->left_cents -= cents;
		total += cents;
	}
	return total;
}

static int finance_month_end(struct demo_model *m, int day, int month)
{
	int64_t depr = finance_depreciation(m, demo_day_month_index(day));
	int64_t insurance = m->prepaid_cents / (13 - month); /* what is left, spread */
	int r = demo_gl_begin(m, day, SRC_ADJUSTMENT, NULL);

	m->prepaid_cents -= insurance;
	if (r == 0)
		r = demo_gl_debit(m, ACC_DEPRECIATION, depr, "Monthly depreciation");
	if (r == 0)
		r = demo_gl_credit(m, ACC_ACCUM_DEPR, depr, "Monthly depreciation");
	if (r == 0)
		r = demo_gl_debit(m, ACC_INSURANCE, insurance, "Insurance expense for the month");
	if (r == 0)
		r = demo_gl_credit(m, ACC_PREPAID, insurance, "Insurance expense for the month");
	return r == 0 ? demo_gl_end(m) : r;
}

int demo_finance_day(struct demo_model *m, int day)
{
	int y, mo, d, r = 0;

	demo_day_split(day, &y, &mo, &d);
	if (day == demo_day_prev_business(day - d + 28))
		r = finance_loan_payment(m, day);
	if (r == 0 && mo % 3 == 0 && day == demo_day_prev_business(day - d + 20))
		r = finance_distribution(m, day, y);
	if (r == 0 && day == demo_day_month_end(day))
		r = finance_month_end(m, day, mo);
	return r;
}

/* Needs every receipt of the month, so it runs after the daily loop. */
int demo_finance_bank_fees(struct demo_model *m)
{
	int64_t receipts[DEMO_MONTHS] = { 0 };
	int r = 0;

	for (size_t i = 0; i < m->gl.len; i++) {
		const struct demo_gl_line *l = demo_vec_at(&m->gl, i);
		if (l->source == SRC_PAYMENT && l->account == ACC_CASH)
			receipts[demo_day_month_index(l->day)] += l->debit_cents;
	}
	for (int mi = 0; r == 0 && mi < DEMO_MONTHS; mi++) {
		int day = demo_day_month_end(demo_month_first_day(mi));
		int64_t fee = FIN_BANK_FEE_BASE + (receipts[mi] * FIN_CARD_FEE_PER_10000 + 5000) / 10000;
		r = demo_gl_begin(m, day, SRC_BANK, NULL);
		if (r == 0)
			r = demo_gl_debit(m, ACC_BANK_FEES, fee, "Bank and card processing fees");
		if (r == 0)
			r = demo_gl_credit(m, ACC_CASH, fee, "Bank and card processing fees");
		if (r == 0)
			r = demo_gl_end(m);
	}
	return r;
}
