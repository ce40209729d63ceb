/*
 * demo_generate: runs the demo business day by day from 2024-01-01 to
 * 2025-12-31 and leaves the result in a struct demo_model.
 *
 * The order of the steps inside a day is fixed (stock arrives, invoices go
 * out, returns, bills, payroll, count, month-end) because it decides both
 * what is in stock for each order and the order of journals within a day.
 */
#include "demo/demo_model.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

/* Changing the seed changes every row; the tests and docs quote numbers
 * produced by this one. */
#define DEMO_SEED 0x4c656467657242ULL

int demo_model_init(struct demo_model *m)
{
	memset(m, 0, sizeof(*m));
	demo_rng_seed(&m->rng, DEMO_SEED);
	demo_vec_init(&m->customers, sizeof(struct demo_customer));
	demo_vec_init(&m->vendors, sizeof(struct demo_vendor));
	demo_vec_init(&m->products, sizeof(struct demo_product));
	demo_vec_init(&m->invoices, sizeof(struct demo_invoice));
	demo_vec_init(&m->sale_lines, sizeof(struct demo_sale_line));
	demo_vec_init(&m->bills, sizeof(struct demo_bill));
	demo_vec_init(&m->movements, sizeof(struct demo_movement));
	demo_vec_init(&m->gl, sizeof(struct demo_gl_line));
	demo_vec_init(&m->budgets, sizeof(struct demo_budget));
	return 0;
}

void demo_model_free(struct demo_model *m)
{
	struct demo_vec *vecs[] = { &m->customers, &m->vendors, &m->products,
				    &m->invoices, &m->sale_lines, &m->bills,
				    &m->movements, &m->gl, &m->budgets };

	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++)
		demo_vec_free(vecs[i]);
	free(m->stock);
	free(m->demand_ring);
	free(m->demand_sum);
	free(m->demand_est);
	free(m->customer_weight);
	m->stock = m->demand_ring = m->demand_sum = m->demand_est = m->customer_weight = NULL;
}

static int generate_alloc(struct demo_model *m)
{
	size_t n = m->products.len;

	m->stock = calloc(n, sizeof(int));
	m->demand_ring = calloc(n * DEMO_DEMAND_WINDOW, sizeof(int));
	m->demand_sum = calloc(n, sizeof(int));
	m->demand_est = calloc(n, sizeof(int));
	m->customer_weight = calloc(m->customers.len, sizeof(int));
	if (!m->stock || !m->demand_ring || !m->demand_sum || !m->demand_est ||
	    !m->customer_weight)
		return -ENOMEM;
	return 0;
}

/* Products are generated category by category; remember where each starts. */
static int generate_categories(struct demo_model *m)
{
	for (size_t i = 0; i < m->products.len; i++) {
		const struct demo_product *p = demo_vec_at(&m->products, i);
		if (m->cat_count[p->category]++ == 0)
			m->cat_first[p->category] = (int)i;
		if (m->cat_first[p->category] + m->cat_count[p->category] != (int)i + 1)
			return -EPROTO;
	}
	for (int c = 0; c < DEMO_PCATS; c++)
		if (m->cat_count[c] == 0)
			return -EPROTO;
	return 0;
}

static int generate_day(struct demo_model *m, int day)
{
	int r = 0;

	demo_stock_new_day(m, day);
	if (demo_day_is_business(day)) {
		r = demo_stock_replenish(m, day);
		if (r == 0)
			r = demo_sales_day(m, day);
		if (r == 0)
			r = demo_sales_returns(m, day);
	}
	if (r == 0)
		r = demo_expenses_day(m, day);
	if (r == 0)
		r = demo_payroll_day(m, day);
	if (r == 0)
		r = demo_stock_count(m, day);
	if (r == 0)
		r = demo_finance_day(m, day);
	return r;
}

static int generate_setup(struct demo_model *m)
{
	int64_t stock_cents;
	int r = demo_master_generate(m);

	if (r == 0)
		r = generate_alloc(m);
	if (r == 0)
		r = generate_categories(m);
	if (r == 0)
		r = demo_sales_estimate_demand(m);
	if (r == 0)
		r = demo_stock_open(m, &stock_cents);
	if (r == 0)
		r = demo_finance_open(m, stock_cents);
	return r;
}

int demo_generate(struct demo_model *m)
{
	int r = generate_setup(m);

	for (int day = DEMO_DAY_START; r == 0 && day <= DEMO_DAY_END; day++)
		r = generate_day(m, day);
	if (r == 0)
		r = demo_finance_bank_fees(m);
	if (r == 0)
		r = demo_budget_generate(m);
	if (r == 0)
		demo_gl_sort(m);
	return r;
}
