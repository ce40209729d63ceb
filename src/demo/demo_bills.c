/*
 * demo_bills: the purchase side's subledger: vendor bills and their
 * payments.
 *
 * A bill posts the expense (or inventory, prepaid, equipment) against
 * Accounts Payable on its issue date; its payment clears AP against cash.
 * Bills unpaid on 2025-12-31 stay in AP, so open bills add up to the AP
 * balance.
 */
#include "demo/demo_model.h"

#include <errno.h>
#include <stdio.h>

#include "util/banned.h"

/* The company pays most bills just before they are due, some late. */
static int bills_paid_day(struct demo_model *m, int issue, int due, int terms)
{
	int day, kind = demo_rng_between(&m->rng, 0, 99);

	if (terms == 0)
		day = demo_day_next_business(issue); /* direct debit */
	else if (kind < 85)
		day = demo_day_prev_business(due - demo_rng_between(&m->rng, 0, 3));
	else if (kind < 97)
		day = demo_day_next_business(due + demo_rng_between(&m->rng, 1, 20));
	else
		day = demo_day_next_business(due + demo_rng_between(&m->rng, 20, 45));
	if (day < issue)
		day = demo_day_next_business(issue);
	return day > DEMO_DAY_END ? -1 : day;
}

static int bills_post(struct demo_model *m, const struct demo_bill *b, int account,
		      const char *what, const char *vendor)
{
	int r = demo_gl_begin(m, b->issue_day, SRC_BILL, b->number);

	if (r == 0)
		r = demo_gl_debit(m, account, b->amount_cents, "%s - %s", what, vendor);
	if (r == 0)
		r = demo_gl_credit(m, ACC_AP, b->amount_cents, "Bill %s - %s", b->number, vendor);
	if (r == 0)
		r = demo_gl_end(m);
	if (r < 0 || b->paid_day < 0)
		return r;
	r = demo_gl_begin(m, b->paid_day, SRC_BILL_PAYMENT, b->number);
	if (r == 0)
		r = demo_gl_debit(m, ACC_AP, b->amount_cents, "Payment of %s", b->number);
	if (r == 0)
		r = demo_gl_credit(m, ACC_CASH, b->amount_cents, "Payment %s - %s", b->number, vendor);
	return r == 0 ? demo_gl_end(m) : r;
}

int demo_bill_add(struct demo_model *m, int vendor, int day, int64_t cents, int account,
		  const char *what)
{
	const struct demo_vendor *v = demo_vec_at(&m->vendors, (size_t)vendor);
	int year = day >= demo_day(2025, 1, 1);
	size_t index = m->bills.len;
	struct demo_bill *b;
	int r;

	if (cents <= 0)
		return -EPROTO;
	b = demo_vec_push(&m->bills);
	if (!b)
		return -ENOMEM;
	(void)snprintf(b->number, sizeof(b->number), "BILL-%d-%05d", DEMO_FIRST_YEAR + year,
		       ++m->bill_seq[year] % 100000);
	b->vendor = vendor;
	b->category = v->category;
	b->issue_day = day;
	b->due_day = day + v->terms_days;
	b->amount_cents = cents;
	b->paid_day = bills_paid_day(m, day, b->due_day, v->terms_days);
	r = bills_post(m, b, account, what, v->name);
	return r < 0 ? r : (int)index;
}
