/*
 * demo_stock: the warehouse of the demo business: opening stock, weekly
 * replenishment from the suppliers, month-end cycle counts.
 *
 * All stock is valued at the product's standard cost (products.unit_cost),
 * so the Inventory account always equals SUM(quantity * unit_cost) over
 * inventory_movements. Every stock change goes through demo_stock_move,
 * which refuses to take stock below zero.
 */
#include "demo/demo_model.h"

#include <errno.h>
#include <stdio.h>

#include "util/banned.h"

#define STOCK_OPEN_DAYS 45   /* opening stock covers this many days */
#define STOCK_REORDER_DAYS 28 /* reorder when cover falls to this */
#define STOCK_TARGET_DAYS 60  /* and order up to this */
#define STOCK_COUNTED_PER_MONTH 6

static struct demo_product *stock_product(const struct demo_model *m, int i)
{
	return demo_vec_at(&m->products, (size_t)i);
}

int demo_stock_move(struct demo_model *m, int product, int day, int type, int qty, const char *ref)
{
	struct demo_movement *mv;

	if (qty == 0 || m->stock[product] + qty < 0)
		return -EPROTO;
	mv = demo_vec_push(&m->movements);
	if (!mv)
		return -ENOMEM;
	mv->product = product;
	mv->day = day;
	mv->type = type;
	mv->qty = qty;
	mv->unit_cost_cents = stock_product(m, product)->unit_cost_cents;
	(void)snprintf(mv->ref, sizeof(mv->ref), "%s", ref);
	m->stock[product] += qty;
	return 0;
}

static int stock_round_up(int qty, int pack)
{
	return (qty + pack - 1) / pack * pack;
}

int demo_stock_open(struct demo_model *m, int64_t *value_cents)
{
	*value_cents = 0;
	for (size_t i = 0; i < m->products.len; i++) {
		const struct demo_product *p = stock_product(m, (int)i);
		int qty = stock_round_up(m->demand_est[i] * STOCK_OPEN_DAYS / DEMO_DEMAND_WINDOW,
					 p->case_pack);
		int r;
		if (qty < 2 * p->case_pack)
			qty = 2 * p->case_pack;
		r = demo_stock_move(m, (int)i, DEMO_DAY_START, MOVE_ADJUSTMENT, qty, "OPENING");
		if (r < 0)
			return r;
		*value_cents += qty * p->unit_cost_cents;
	}
	return 0;
}

void demo_stock_new_day(struct demo_model *m, int day)
{
	size_t slot = (size_t)(day % DEMO_DEMAND_WINDOW);

	for (size_t p = 0; p < m->products.len; p++) {
		int *cell = &m->demand_ring[p * DEMO_DEMAND_WINDOW + slot];
		m->demand_sum[p] -= *cell;
		*cell = 0;
	}
}

/* Units asked for over the last window; the part of the window before the
 * first day is filled in from the up-front estimate. */
static int64_t stock_window_demand(const struct demo_model *m, int p, int day)
{
	int elapsed = day - DEMO_DAY_START;

	if (elapsed >= DEMO_DEMAND_WINDOW)
		return m->demand_sum[p];
	return m->demand_sum[p] +
	       (int64_t)m->demand_est[p] * (DEMO_DEMAND_WINDOW - elapsed) / DEMO_DEMAND_WINDOW;
}

/* Deterministic, no randomness: the same answer when asked twice. */
static int stock_order_qty(const struct demo_model *m, int p, int day)
{
	int y, mo, d, y2, mo2, d2;
	int64_t window, ahead_pm, reorder, target;

	demo_day_split(day, &y, &mo, &d);
	demo_day_split(day + DEMO_DEMAND_WINDOW, &y2, &mo2, &d2);
	ahead_pm = (int64_t)demo_season_pm(mo2) * 1000 / demo_season_pm(mo);
	window = stock_window_demand(m, p, day) * ahead_pm / 1000;
	reorder = window * STOCK_REORDER_DAYS / DEMO_DEMAND_WINDOW;
	target = window * STOCK_TARGET_DAYS / DEMO_DEMAND_WINDOW;
	if (m->stock[p] > reorder || target <= m->stock[p])
		return 0;
	return stock_round_up((int)(target - m->stock[p]), stock_product(m, p)->case_pack);
}

static int64_t stock_order_value(const struct demo_model *m, int vendor, int day)
{
	int64_t total = 0;

	for (size_t i = 0; i < m->products.len; i++) {
		const struct demo_product *p = stock_product(m, (int)i);
		if (p->vendor == vendor)
			total += stock_order_qty(m, (int)i, day) * p->unit_cost_cents;
	}
	return total;
}

static int stock_receive(struct demo_model *m, int vendor, int day, const char *ref)
{
	for (size_t i = 0; i < m->products.len; i++) {
		int qty;
		if (stock_product(m, (int)i)->vendor != vendor)
			continue;
		qty = stock_order_qty(m, (int)i, day);
		if (qty > 0) {
			int r = demo_stock_move(m, (int)i, day, MOVE_PURCHASE, qty, ref);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* One purchase order per supplier per week, received and billed the same
 * day, plus one inbound freight bill for the week's deliveries. */
static int stock_order_from(struct demo_model *m, int vendor, int day)
{
	int64_t value = stock_order_value(m, vendor, day);
	const struct demo_bill *bill;
	int b;

	if (value == 0)
		return 0;
	b = demo_bill_add(m, vendor, day, value, ACC_INVENTORY, "Stock received");
	if (b < 0)
		return b;
	bill = demo_vec_at(&m->bills, (size_t)b);
	m->week_purchases_cents += value;
	return stock_receive(m, vendor, day, bill->number);
}

static int stock_freight(struct demo_model *m, int day)
{
	int carrier = demo_vendor_find(m, BCAT_FREIGHT, demo_rng_between(&m->rng, 0, 1));
	int64_t cents = demo_scale_pm(m->week_purchases_cents, demo_rng_between(&m->rng, 24, 34));

	m->week_purchases_cents = 0;
	if (cents == 0 || carrier < 0)
		return 0;
	return demo_bill_add(m, carrier, day, cents, ACC_FREIGHT_IN, "Inbound freight");
}

static bool stock_first_business_day_of_week(int day)
{
	int monday = day - demo_day_weekday(day);

	return demo_day_is_business(day) && demo_day_prev_business(day - 1) < monday;
}

int demo_stock_replenish(struct demo_model *m, int day)
{
	int r;

	if (!stock_first_business_day_of_week(day))
		return 0;
	for (size_t v = 0; v < m->vendors.len; v++) {
		const struct demo_vendor *vendor = demo_vec_at(&m->vendors, v);
		if (vendor->category != BCAT_INVENTORY)
			continue;
		r = stock_order_from(m, (int)v, day);
		if (r < 0)
			return r;
	}
	r = stock_freight(m, day);
	return r < 0 ? r : 0;
}

static int stock_count_delta(struct demo_model *m, int p)
{
	int most = stock_product(m, p)->typical_qty;

	if (m->stock[p] == 0)
		return 0;
	if (demo_rng_chance(&m->rng, 200))
		return demo_rng_between(&m->rng, 1, 3); /* found stock */
	if (most > m->stock[p])
		most = m->stock[p];
	return -demo_rng_between(&m->rng, 1, most);
}

static int stock_post_count(struct demo_model *m, int p, int day, int delta, const char *ref)
{
	const struct demo_product *prod = stock_product(m, p);
	int64_t value = (delta < 0 ? -delta : delta) * prod->unit_cost_cents;
	int r = demo_stock_move(m, p, day, MOVE_ADJUSTMENT, delta, ref);

	if (r == 0 && delta < 0)
		r = demo_gl_debit(m, ACC_SHRINKAGE, value, "Count shortage %s", prod->sku);
	if (r == 0 && delta < 0)
		r = demo_gl_credit(m, ACC_INVENTORY, value, "Count shortage %s", prod->sku);
	if (r == 0 && delta > 0)
		r = demo_gl_debit(m, ACC_INVENTORY, value, "Count surplus %s", prod->sku);
	if (r == 0 && delta > 0)
		r = demo_gl_credit(m, ACC_SHRINKAGE, value, "Count surplus %s", prod->sku);
	return r;
}

/* Cycle count on the last business day of each month. */
int demo_stock_count(struct demo_model *m, int day)
{
	char ref[DEMO_REF_LEN];
	int y, mo, d, r;

	if (day != demo_day_prev_business(demo_day_month_end(day)))
		return 0;
	demo_day_split(day, &y, &mo, &d);
	(void)snprintf(ref, sizeof(ref), "CNT-%04d-%02d", y % 10000, mo % 100);
	r = demo_gl_begin(m, day, SRC_INVENTORY, ref);
	for (int i = 0; r == 0 && i < STOCK_COUNTED_PER_MONTH; i++) {
		int p = demo_rng_between(&m->rng, 0, (int)m->products.len - 1);
		int delta = stock_count_delta(m, p);
		if (delta != 0)
			r = stock_post_count(m, p, day, delta, ref);
	}
	return r == 0 ? demo_gl_end(m) : r;
}
