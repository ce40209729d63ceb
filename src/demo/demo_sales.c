/*
 * demo_sales: the sales side of the demo business: invoices, customer
 * payments and returns, with the inventory they move.
 *
 * Each invoice posts AR against product and service revenue plus COGS
 * against inventory, and issues stock through inventory_movements at the
 * product's standard cost, so the ledger, the invoices and the stock always
 * agree. Orders only take what is in stock, which keeps stock >= 0.
 */
#include "demo/demo_model.h"

#include <errno.h>
#include <stdio.h>

#include "util/banned.h"

/* Invoices per business day x 1000 at season 1.0, before growth. */
#define SALES_BASE_MILLI 26500
#define SALES_GROWTH_PM 160 /* demand grows 16% over the two years */
#define SALES_MAX_LINES 6
#define SALES_ESTIMATE_SAMPLES 20000
#define SALES_RETURN_LOOKBACK 2000 /* invoices */

static const int sales_line_count_w[SALES_MAX_LINES] = { 20, 25, 25, 15, 10, 5 };

/* Share of each product category in a segment's orders, per enum demo_pcat. */
static const int sales_segment_mix[DEMO_SEGMENTS][DEMO_PCATS] = {
	{ 30, 15, 15, 20, 5, 15 },  /* hospitality */
	{ 15, 15, 10, 10, 35, 15 }, /* retail */
	{ 10, 25, 25, 5, 10, 25 },  /* office */
	{ 15, 25, 40, 5, 5, 10 },   /* healthcare */
	{ 20, 25, 30, 10, 5, 10 },  /* education */
};

static struct demo_customer *sales_customer(const struct demo_model *m, int i)
{
	return demo_vec_at(&m->customers, (size_t)i);
}

static struct demo_product *sales_product(const struct demo_model *m, int i)
{
	return demo_vec_at(&m->products, (size_t)i);
}

static bool sales_customer_active(const struct demo_customer *c, int day)
{
	return c->created_day <= day && (c->churn_day == 0 || day < c->churn_day);
}

static int sales_pick_customer(struct demo_model *m)
{
	return (int)demo_rng_weighted(&m->rng, m->customer_weight, m->customers.len);
}

static void sales_fill_weights(struct demo_model *m, int day)
{
	for (size_t i = 0; i < m->customers.len; i++) {
		const struct demo_customer *c = sales_customer(m, (int)i);
		m->customer_weight[i] = sales_customer_active(c, day) ? c->weight : 0;
	}
}

static int sales_pick_product(struct demo_model *m, int segment)
{
	int pcat = (int)demo_rng_weighted(&m->rng, sales_segment_mix[segment], DEMO_PCATS);
	int first = m->cat_first[pcat], n = m->cat_count[pcat], total = 0, pick;

	for (int i = 0; i < n; i++)
		total += sales_product(m, first + i)->weight;
	pick = demo_rng_between(&m->rng, 0, total - 1);
	for (int i = 0; i < n; i++) {
		pick -= sales_product(m, first + i)->weight;
		if (pick < 0)
			return first + i;
	}
	return first + n - 1;
}

static int sales_pick_qty(struct demo_model *m, const struct demo_customer *c,
			  const struct demo_product *p)
{
	int qty = (int)demo_scale_pm(p->typical_qty * c->size_factor,
				     demo_rng_between(&m->rng, 500, 1500));
	return qty < 1 ? 1 : qty;
}

/* Expected units per product per demand window, from a large sample of
 * order lines, so the opening stock and the first purchase orders fit the
 * demand before any history exists. */
int demo_sales_estimate_demand(struct demo_model *m)
{
	int64_t lines_x100 = 0, weights = 0;

	for (int k = 0; k < SALES_MAX_LINES; k++) {
		lines_x100 += (int64_t)(k + 1) * sales_line_count_w[k] * 100;
		weights += sales_line_count_w[k];
	}
	sales_fill_weights(m, DEMO_DAY_START);
	for (int s = 0; s < SALES_ESTIMATE_SAMPLES; s++) {
		const struct demo_customer *c = sales_customer(m, sales_pick_customer(m));
		int p = sales_pick_product(m, c->segment);
		m->demand_est[p] += sales_pick_qty(m, c, sales_product(m, p));
	}
	/* units per sample line x lines per calendar day x window length */
	for (size_t p = 0; p < m->products.len; p++)
		m->demand_est[p] = (int)((int64_t)m->demand_est[p] * SALES_BASE_MILLI * 5 *
					 lines_x100 / weights * DEMO_DEMAND_WINDOW /
					 (7LL * 1000 * 100 * SALES_ESTIMATE_SAMPLES));
	return 0;
}

static int sales_invoice_count(struct demo_model *m, int day)
{
	static const int weekday_pm[5] = { 1100, 1050, 1000, 1000, 850 };
	int y, mo, d;
	int64_t rate;

	demo_day_split(day, &y, &mo, &d);
	rate = (int64_t)SALES_BASE_MILLI * demo_season_pm(mo) / 1000;
	rate = rate * (1000 + (int64_t)(day - DEMO_DAY_START) * SALES_GROWTH_PM /
			       (DEMO_DAY_END - DEMO_DAY_START)) / 1000;
	rate = rate * weekday_pm[demo_day_weekday(day)] / 1000;
	rate = demo_rng_jitter(&m->rng, rate, 120);
	return (int)(rate / 1000) + (demo_rng_chance(&m->rng, (int)(rate % 1000)) ? 1 : 0);
}

static bool sales_has_product(const struct demo_model *m, size_t first, int product)
{
	for (size_t i = first; i < m->sale_lines.len; i++)
		if (((const struct demo_sale_line *)demo_vec_at(&m->sale_lines, i))->product == product)
			return true;
	return false;
}

static void sales_note_demand(struct demo_model *m, int product, int day, int qty)
{
	m->demand_ring[(size_t)product * DEMO_DEMAND_WINDOW + (size_t)(day % DEMO_DEMAND_WINDOW)] += qty;
	m->demand_sum[product] += qty;
}

/* Adds one order line; the quantity is cut to what is in stock. */
static int sales_add_line(struct demo_model *m, const struct demo_customer *c, int day,
			  size_t first)
{
	int p = sales_pick_product(m, c->segment);
	const struct demo_product *prod = sales_product(m, p);
	struct demo_sale_line *line;
	int qty;

	if (sales_has_product(m, first, p))
		return 0;
	qty = sales_pick_qty(m, c, prod);
	sales_note_demand(m, p, day, qty);
	if (qty > m->stock[p])
		qty = m->stock[p];
	if (qty == 0) {
		m->lost_lines++;
		return 0;
	}
	line = demo_vec_push(&m->sale_lines);
	if (!line)
		return -ENOMEM;
	line->product = p;
	line->qty = qty;
	line->unit_price_cents = demo_scale_pm(prod->unit_price_cents, 1000 - c->discount_pm);
	return 0;
}

static int64_t sales_service_cents(struct demo_model *m, const struct demo_customer *c)
{
	static const int64_t prices[] = { 4500, 8500, 15000, 27500, 48000, 95000 };
	int chance = c->segment == SEG_HOSPITALITY || c->segment == SEG_HEALTHCARE ? 140 : 80;

	if (!demo_rng_chance(&m->rng, chance))
		return 0;
	return prices[demo_rng_between(&m->rng, 0, 5)];
}

static int sales_paid_day(struct demo_model *m, const struct demo_customer *c, int issue)
{
	int delay, t = c->terms_days;

	switch (c->payer) {
	case PAYER_PROMPT: delay = t + demo_rng_between(&m->rng, -10, 2); break;
	case PAYER_NORMAL: delay = t + demo_rng_between(&m->rng, -2, 20); break;
	case PAYER_SLOW: delay = t + demo_rng_between(&m->rng, 15, 75); break;
	default:
		if (demo_rng_chance(&m->rng, 250))
			return -1; /* never pays */
		delay = t + demo_rng_between(&m->rng, 40, 170);
		break;
	}
	if (delay < 2)
		delay = 2;
	delay = demo_day_next_business(issue + delay);
	return delay > DEMO_DAY_END ? -1 : delay;
}

struct sales_totals {
	int64_t product_cents;
	int64_t service_cents;
	int64_t cost_cents;
};

static int sales_issue_stock(struct demo_model *m, const struct demo_invoice *inv,
			     struct sales_totals *t)
{
	for (size_t i = inv->first_line; i < inv->first_line + (size_t)inv->n_lines; i++) {
		const struct demo_sale_line *l = demo_vec_at(&m->sale_lines, i);
		const struct demo_product *p = sales_product(m, l->product);
		int r = demo_stock_move(m, l->product, inv->issue_day, MOVE_SALE, -l->qty, inv->number);
		if (r < 0)
			return r;
		t->product_cents += l->qty * l->unit_price_cents;
		t->cost_cents += l->qty * p->unit_cost_cents;
	}
	return 0;
}

static int sales_post_invoice(struct demo_model *m, const struct demo_invoice *inv,
			      const struct sales_totals *t)
{
	const char *who = sales_customer(m, inv->customer)->name;
	int r = demo_gl_begin(m, inv->issue_day, SRC_INVOICE, inv->number);

	if (r == 0)
		r = demo_gl_debit(m, ACC_AR, inv->amount_cents, "Invoice %s - %s", inv->number, who);
	if (r == 0)
		r = demo_gl_credit(m, ACC_SALES, t->product_cents, "Product sales %s", inv->number);
	if (r == 0)
		r = demo_gl_credit(m, ACC_SERVICE, t->service_cents, "Service charges %s", inv->number);
	if (r == 0)
		r = demo_gl_debit(m, ACC_COGS, t->cost_cents, "Cost of goods sold %s", inv->number);
	if (r == 0)
		r = demo_gl_credit(m, ACC_INVENTORY, t->cost_cents, "Stock issued %s", inv->number);
	return r == 0 ? demo_gl_end(m) : r;
}

static int sales_post_payment(struct demo_model *m, const struct demo_invoice *inv)
{
	const char *who = sales_customer(m, inv->customer)->name;
	int r;

	if (inv->paid_day < 0)
		return 0;
	r = demo_gl_begin(m, inv->paid_day, SRC_PAYMENT, inv->number);
	if (r == 0)
		r = demo_gl_debit(m, ACC_CASH, inv->amount_cents, "Receipt %s - %s", inv->number, who);
	if (r == 0)
		r = demo_gl_credit(m, ACC_AR, inv->amount_cents, "Payment of %s", inv->number);
	return r == 0 ? demo_gl_end(m) : r;
}

static int sales_record_invoice(struct demo_model *m, int cust, int day, size_t first,
				int64_t service_cents)
{
	const struct demo_customer *c = sales_customer(m, cust);
	struct sales_totals t = { 0, service_cents, 0 };
	int year = day >= demo_day(2025, 1, 1);
	struct demo_invoice *inv = demo_vec_push(&m->invoices);
	int r;

	if (!inv)
		return -ENOMEM;
	(void)snprintf(inv->number, sizeof(inv->number), "INV-%d-%05d", DEMO_FIRST_YEAR + year,
		       ++m->invoice_seq[year] % 100000);
	inv->customer = cust;
	inv->issue_day = day;
	inv->due_day = day + c->terms_days;
	inv->first_line = first;
	inv->n_lines = (int)(m->sale_lines.len - first);
	r = sales_issue_stock(m, inv, &t);
	if (r < 0)
		return r;
	inv->amount_cents = t.product_cents + t.service_cents;
	inv->paid_day = sales_paid_day(m, c, day);
	m->product_revenue_cents[demo_day_month_index(day)] += t.product_cents;
	r = sales_post_invoice(m, inv, &t);
	return r < 0 ? r : sales_post_payment(m, inv);
}

static int sales_issue_invoice(struct demo_model *m, int day)
{
	int cust = sales_pick_customer(m);
	const struct demo_customer *c = sales_customer(m, cust);
	size_t first = m->sale_lines.len;
	int lines = 1 + (int)demo_rng_weighted(&m->rng, sales_line_count_w, SALES_MAX_LINES);
	int64_t service;

	for (int i = 0; i < lines; i++) {
		int r = sales_add_line(m, c, day, first);
		if (r < 0)
			return r;
	}
	service = sales_service_cents(m, c);
	if (m->sale_lines.len == first && service == 0)
		return 0; /* nothing in stock and nothing else to bill */
	return sales_record_invoice(m, cust, day, first, service);
}

int demo_sales_day(struct demo_model *m, int day)
{
	int n = sales_invoice_count(m, day);

	sales_fill_weights(m, day);
	for (int i = 0; i < n; i++) {
		int r = sales_issue_invoice(m, day);
		if (r < 0)
			return r;
	}
	return 0;
}

/* A customer sends part of one line back after paying; the refund goes out
 * in cash, so open invoices still add up to the AR balance. */
static int sales_post_return(struct demo_model *m, struct demo_invoice *inv, int day)
{
	const struct demo_sale_line *l = demo_vec_at(
		&m->sale_lines, inv->first_line + (size_t)demo_rng_between(&m->rng, 0, inv->n_lines - 1));
	int qty = demo_rng_between(&m->rng, 1, l->qty / 3 > 1 ? l->qty / 3 : 1);
	int64_t refund = qty * l->unit_price_cents;
	int64_t cost = qty * sales_product(m, l->product)->unit_cost_cents;
	int r = demo_stock_move(m, l->product, day, MOVE_RETURN, qty, inv->number);

	inv->returned = true;
	if (r == 0)
		r = demo_gl_begin(m, day, SRC_RETURN, inv->number);
	if (r == 0)
		r = demo_gl_debit(m, ACC_RETURNS, refund, "Return on %s", inv->number);
	if (r == 0)
		r = demo_gl_credit(m, ACC_CASH, refund, "Refund %s - %s", inv->number,
				   sales_customer(m, inv->customer)->name);
	if (r == 0)
		r = demo_gl_debit(m, ACC_INVENTORY, cost, "Returned stock %s", inv->number);
	if (r == 0)
		r = demo_gl_credit(m, ACC_COGS, cost, "Cost reversed %s", inv->number);
	return r == 0 ? demo_gl_end(m) : r;
}

int demo_sales_returns(struct demo_model *m, int day)
{
	size_t n = m->invoices.len;

	/* Look back over roughly the last three months of invoices. */
	if (n < SALES_RETURN_LOOKBACK || !demo_rng_chance(&m->rng, 500))
		return 0;
	for (int attempt = 0; attempt < 8; attempt++) {
		size_t back = (size_t)demo_rng_between(&m->rng, 0, SALES_RETURN_LOOKBACK - 1);
		struct demo_invoice *inv = demo_vec_at(&m->invoices, n - 1 - back);
		if (!inv->returned && inv->n_lines > 0 && inv->paid_day >= 0 && inv->paid_day < day)
			return sales_post_return(m, inv, day);
	}
	return 0;
}
