/*
 * demo_master: master data of the demo business: customers, vendors and
 * the product catalogue.
 *
 * Customers get hidden behaviour (how often and how much they order, their
 * discount, how late they pay, whether they leave) that the sales step uses
 * but that is not stored: analysts discover it from the transactions.
 */
#include "demo/demo_model.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

#define MASTER_CUSTOMERS_OLD 330 /* customers before 2024 */
#define MASTER_CUSTOMERS_NEW 150 /* won during 2024 and 2025 */
#define MASTER_SUPPLIERS 14
#define MASTER_PRODUCTS_PER_CAT 40

/* ---- customers ---------------------------------------------------------- */

struct master_tier {
	int weight;
	int size_factor;
	int discount_lo_pm, discount_hi_pm;
	int64_t credit_cents;
};

/* small, medium, large, key account */
static const struct master_tier master_tiers[4] = {
	{ 10, 1, 0, 30, 500000 },
	{ 22, 2, 30, 80, 1500000 },
	{ 45, 3, 80, 120, 4000000 },
	{ 110, 5, 120, 180, 10000000 },
};

static int master_pick_terms(struct demo_rng *r, int segment)
{
	static const int terms[DEMO_SEGMENTS][3] = {
		{ 15, 30, 30 }, { 15, 15, 30 }, { 30, 30, 45 }, { 30, 45, 60 }, { 45, 60, 60 },
	};
	return terms[segment][demo_rng_between(r, 0, 2)];
}

static int master_pick_city(struct demo_rng *r)
{
	static const int weights[] = { 30, 12, 10, 10, 8, 10, 8, 8, 6, 5, 4, 3, 2, 2, 2, 1 };

	return (int)demo_rng_weighted(r, weights, sizeof(weights) / sizeof(weights[0]));
}

static bool master_name_taken(const struct demo_vec *v, size_t name_off, size_t n,
			      const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp((const char *)demo_vec_at(v, i) + name_off, name) == 0)
			return true;
	return false;
}

static void master_customer_name(struct demo_model *m, struct demo_customer *c, size_t index)
{
	for (int attempt = 0; attempt < 64; attempt++) {
		demo_name_customer(&m->rng, c->segment, c->name, sizeof(c->name));
		if (!master_name_taken(&m->customers, offsetof(struct demo_customer, name), index,
				       c->name))
			return;
	}
	/* Practically unreachable; a number still keeps names unique. */
	(void)snprintf(c->name, sizeof(c->name), "Customer %zu", index + 1);
}

static void master_customer_behaviour(struct demo_model *m, struct demo_customer *c)
{
	static const int tier_w[4] = { 50, 30, 15, 5 };
	static const int payer_w[DEMO_PAYERS] = { 55, 28, 13, 4 };
	const struct master_tier *t = &master_tiers[demo_rng_weighted(&m->rng, tier_w, 4)];

	c->weight = (int)demo_rng_jitter(&m->rng, t->weight, 300);
	c->size_factor = t->size_factor;
	c->discount_pm = demo_rng_between(&m->rng, t->discount_lo_pm, t->discount_hi_pm);
	c->credit_limit_cents = t->credit_cents * demo_rng_between(&m->rng, 2, 4) / 2;
	c->payer = (int)demo_rng_weighted(&m->rng, payer_w, DEMO_PAYERS);
}

static int master_add_customer(struct demo_model *m, int created_day, int churn_pm)
{
	static const int segment_w[DEMO_SEGMENTS] = { 40, 25, 15, 10, 10 };
	size_t index = m->customers.len;
	struct demo_customer *c = demo_vec_push(&m->customers);

	if (!c)
		return -ENOMEM;
	c->segment = (int)demo_rng_weighted(&m->rng, segment_w, DEMO_SEGMENTS);
	c->city = master_pick_city(&m->rng);
	c->terms_days = master_pick_terms(&m->rng, c->segment);
	c->created_day = created_day;
	master_customer_behaviour(m, c);
	if (demo_rng_chance(&m->rng, churn_pm)) {
		c->churn_day = demo_rng_between(&m->rng, DEMO_DAY_START + 60, DEMO_DAY_END - 30);
		if (c->churn_day < created_day + 120)
			c->churn_day = created_day + 120;
	}
	master_customer_name(m, c, index);
	return 0;
}

/* Spreads n creation dates evenly over [from, to) so ids follow dates. */
static int master_add_customers(struct demo_model *m, int n, int from, int to, int churn_pm)
{
	int step = (to - from) / n;

	for (int i = 0; i < n; i++) {
		int day = from + i * step + demo_rng_between(&m->rng, 0, step - 1);
		int r = master_add_customer(m, day, churn_pm);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- vendors ------------------------------------------------------------ */

struct master_fixed_vendor {
	const char *name;
	int bcat;
	int terms_days;
	int created_year; /* 0 = some time before 2024 */
	int created_month;
};

static const struct master_fixed_vendor master_fixed_vendors[] = {
	{ "Riverside Industrial Properties LLC", BCAT_RENT, 0, 0, 0 },
	{ "Metro Electric Utility", BCAT_UTILITIES, 21, 0, 0 },
	{ "City Water & Waste Services", BCAT_UTILITIES, 21, 0, 0 },
	{ "Brightline Media Agency", BCAT_MARKETING, 30, 0, 0 },
	{ "SearchPeak Ads", BCAT_MARKETING, 0, 0, 0 },
	{ "Printworks Local", BCAT_MARKETING, 30, 0, 0 },
	{ "Trade Expo Northwest", BCAT_MARKETING, 30, 2024, 1 },
	{ "LedgerCloud Accounting", BCAT_SOFTWARE, 0, 0, 0 },
	{ "StockTrack WMS", BCAT_SOFTWARE, 0, 0, 0 },
	{ "PipelineCRM", BCAT_SOFTWARE, 0, 0, 0 },
	{ "OfficeSuite Online", BCAT_SOFTWARE, 0, 0, 0 },
	{ "SecureNet IT Services", BCAT_SOFTWARE, 15, 0, 0 },
	{ "SkyWay Airlines", BCAT_TRAVEL, 0, 0, 0 },
	{ "Harborview Hotels Group", BCAT_TRAVEL, 15, 0, 0 },
	{ "Roadside Car Rental", BCAT_TRAVEL, 15, 0, 0 },
	{ "FleetFuel Card Services", BCAT_VEHICLE, 15, 0, 0 },
	{ "Ace Auto & Truck Repair", BCAT_VEHICLE, 30, 0, 0 },
	{ "Mutual Shield Insurance", BCAT_INSURANCE, 30, 0, 0 },
	{ "Baker, Hale & Partners LLP", BCAT_PROFESSIONAL, 30, 0, 0 },
	{ "Quinn Legal Group", BCAT_PROFESSIONAL, 30, 0, 0 },
	{ "Northwest Payroll Advisors", BCAT_PROFESSIONAL, 15, 0, 0 },
	{ "Interstate Freight Lines", BCAT_FREIGHT, 30, 0, 0 },
	{ "Rapid Route Logistics", BCAT_FREIGHT, 30, 0, 0 },
	{ "Cascade Truck & Equipment", BCAT_EQUIPMENT, 30, 2024, 7 },
};

static struct demo_vendor *master_push_vendor(struct demo_model *m, int bcat, int terms)
{
	static const int terms_choice[3] = { 30, 45, 60 };
	struct demo_vendor *v = demo_vec_push(&m->vendors);

	if (!v)
		return NULL;
	v->category = bcat;
	v->city = master_pick_city(&m->rng);
	v->terms_days = terms >= 0 ? terms : terms_choice[demo_rng_between(&m->rng, 0, 2)];
	v->created_day = demo_rng_between(&m->rng, demo_day(2015, 1, 1), demo_day(2023, 6, 30));
	v->pcat = -1;
	return v;
}

static int master_add_suppliers(struct demo_model *m)
{
	for (int i = 0; i < MASTER_SUPPLIERS; i++) {
		size_t index = m->vendors.len;
		struct demo_vendor *v = master_push_vendor(m, BCAT_INVENTORY, -1);
		if (!v)
			return -ENOMEM;
		v->pcat = i % DEMO_PCATS;
		do {
			demo_name_supplier(&m->rng, v->pcat, v->name, sizeof(v->name));
		} while (master_name_taken(&m->vendors, offsetof(struct demo_vendor, name), index,
					   v->name));
	}
	return 0;
}

static int master_add_fixed_vendors(struct demo_model *m)
{
	size_t n = sizeof(master_fixed_vendors) / sizeof(master_fixed_vendors[0]);

	for (size_t i = 0; i < n; i++) {
		const struct master_fixed_vendor *f = &master_fixed_vendors[i];
		struct demo_vendor *v = master_push_vendor(m, f->bcat, f->terms_days);
		if (!v)
			return -ENOMEM;
		(void)snprintf(v->name, sizeof(v->name), "%s", f->name);
		if (f->created_year)
			v->created_day = demo_day(f->created_year, f->created_month, 10);
	}
	return 0;
}

int demo_vendor_find(const struct demo_model *m, int bcat, int nth)
{
	for (size_t i = 0; i < m->vendors.len; i++) {
		const struct demo_vendor *v = demo_vec_at(&m->vendors, i);
		if (v->category == bcat && nth-- == 0)
			return (int)i;
	}
	return -1;
}

/* ---- products ----------------------------------------------------------- */

struct master_noun {
	const char *noun;
	int base_cost_cents;
};

struct master_catalogue {
	const char *adjectives[4];
	struct master_noun nouns[9];
	const char *variants[3];
	int variant_pm[3];
};

/* Indexed by enum demo_pcat. Kitchenware sizes in inches put a double
 * quote into some names, which CSV must escape. */
static const struct master_catalogue master_catalogue[DEMO_PCATS] = {
	{ { "Compostable", "Recyclable", "Heavy-Duty", "Classic" },
	  { { "Hot Cup", 4200 }, { "Cold Cup", 3900 }, { "Sip Lid", 2100 },
	    { "Clamshell Container", 5400 }, { "Soup Container", 4600 }, { "Cutlery Kit", 3800 },
	    { "Paper Straw", 2400 }, { "Portion Cup", 1900 }, { NULL, 0 } },
	  { "(250 ct)", "(500 ct)", "(1000 ct)" }, { 550, 1000, 1800 } },
	{ { "Premium", "Recycled", "Economy", "Unbleached" },
	  { { "Paper Towel Roll", 3600 }, { "Toilet Tissue", 4200 }, { "Kraft Bag", 2800 },
	    { "Receipt Roll", 2500 }, { "Dinner Napkin", 3100 }, { "Facial Tissue", 2900 },
	    { "Table Cover", 3400 }, { NULL, 0 }, { NULL, 0 } },
	  { "(6 pk)", "(12 pk)", "(24 pk)" }, { 550, 1000, 1850 } },
	{ { "Industrial", "Fragrance-Free", "Concentrated", "Green Seal" },
	  { { "Degreaser", 2400 }, { "Sanitizer", 2900 }, { "Floor Cleaner", 2600 },
	    { "Dish Detergent", 3200 }, { "Glass Cleaner", 1800 }, { "Nitrile Gloves", 1500 },
	    { "Trash Liners", 3300 }, { "Hand Soap", 2700 }, { NULL, 0 } },
	  { "Single", "4 Pack", "12 Pack" }, { 300, 1000, 2800 } },
	{ { "Commercial", "Stainless", "Professional", "Heavy-Gauge" },
	  { { "Chef Knife", 3400 }, { "Cutting Board", 2200 }, { "Sheet Pan", 1900 },
	    { "Stock Pot", 5800 }, { "Tongs", 700 }, { "Ladle", 900 },
	    { "Storage Container", 1300 }, { "Mixing Bowl", 1600 }, { "Skillet", 4200 } },
	  { "8\"", "10\"", "12\"" }, { 800, 1000, 1300 } },
	{ { "Standard", "Heavy-Duty", "Recycled", "Printed" },
	  { { "Shipping Box", 3800 }, { "Packing Tape", 2600 }, { "Bubble Wrap", 4100 },
	    { "Stretch Film", 5200 }, { "Shipping Label", 2300 }, { "Poly Mailer", 2900 },
	    { "Void Fill", 3500 }, { NULL, 0 }, { NULL, 0 } },
	  { "Small", "Medium", "Large" }, { 750, 1000, 1350 } },
	{ { "Organic", "House", "Fair Trade", "Premium" },
	  { { "Coffee Beans", 5600 }, { "Espresso Roast", 6200 }, { "Black Tea", 2800 },
	    { "Green Tea", 3000 }, { "Vanilla Syrup", 1700 }, { "Caramel Syrup", 1700 },
	    { "Sugar Packets", 2100 }, { "Oat Creamer", 3300 }, { "Hot Cocoa Mix", 2500 } },
	  { "Case of 6", "Case of 12", "Case of 24" }, { 550, 1000, 1900 } },
};

static int master_noun_count(const struct master_catalogue *cat)
{
	int n = 0;

	while (n < 9 && cat->nouns[n].noun)
		n++;
	return n;
}

static int master_pick_vendor(struct demo_model *m, int pcat)
{
	int found[MASTER_SUPPLIERS], n = 0;

	for (size_t i = 0; i < m->vendors.len && n < MASTER_SUPPLIERS; i++) {
		const struct demo_vendor *v = demo_vec_at(&m->vendors, i);
		if (v->category == BCAT_INVENTORY && v->pcat == pcat)
			found[n++] = (int)i;
	}
	return n ? found[demo_rng_between(&m->rng, 0, n - 1)] : 0;
}

static void master_price(struct demo_model *m, struct demo_product *p, int64_t cost_cents)
{
	int64_t price = demo_scale_pm(cost_cents, demo_rng_between(&m->rng, 1700, 2200));

	p->unit_cost_cents = cost_cents;
	p->unit_price_cents = price / 10 * 10 + 9; /* list prices end in 9 */
	p->typical_qty = (int)((22000 + p->unit_price_cents / 2) / p->unit_price_cents);
	if (p->typical_qty < 1)
		p->typical_qty = 1;
	if (p->typical_qty > 20)
		p->typical_qty = 20;
	p->case_pack = p->typical_qty >= 8 ? 12 : p->typical_qty >= 4 ? 6 : 2;
}

static int master_add_product(struct demo_model *m, int pcat, int combo, int serial)
{
	const struct master_catalogue *cat = &master_catalogue[pcat];
	int nouns = master_noun_count(cat);
	const struct master_noun *noun = &cat->nouns[combo / 12 % nouns];
	int adj = combo / 3 % 4, var = combo % 3;
	struct demo_product *p = demo_vec_push(&m->products);

	if (!p)
		return -ENOMEM;
	p->category = pcat;
	p->vendor = master_pick_vendor(m, pcat);
	(void)snprintf(p->sku, sizeof(p->sku), "%s-%04d", demo_pcat_sku_prefix(pcat),
		       1000 + serial % 9000);
	(void)snprintf(p->name, sizeof(p->name), "%s %s %s", cat->adjectives[adj], noun->noun,
		       cat->variants[var]);
	master_price(m, p, demo_rng_jitter(&m->rng,
					   demo_scale_pm(noun->base_cost_cents, cat->variant_pm[var]),
					   150));
	p->weight = demo_rng_between(&m->rng, 2, 10);
	if (demo_rng_chance(&m->rng, 100))
		p->weight *= 4; /* a best seller */
	return 0;
}

/* Picks MASTER_PRODUCTS_PER_CAT distinct (adjective, noun, variant) combos
 * by a partial shuffle, so names never repeat inside a category. */
static int master_add_category(struct demo_model *m, int pcat)
{
	int combos[9 * 4 * 3];
	int n = master_noun_count(&master_catalogue[pcat]) * 12;

	for (int i = 0; i < n; i++)
		combos[i] = i;
	for (int i = 0; i < MASTER_PRODUCTS_PER_CAT && i < n; i++) {
		int j = demo_rng_between(&m->rng, i, n - 1), t = combos[i], r;
		combos[i] = combos[j];
		combos[j] = t;
		r = master_add_product(m, pcat, combos[i], i + 1);
		if (r < 0)
			return r;
	}
	return 0;
}

int demo_master_generate(struct demo_model *m)
{
	int r = master_add_customers(m, MASTER_CUSTOMERS_OLD, demo_day(2016, 1, 1),
				     DEMO_DAY_START, 100);

	if (r == 0)
		r = master_add_customers(m, MASTER_CUSTOMERS_NEW, DEMO_DAY_START + 3,
					 DEMO_DAY_END - 20, 50);
	if (r == 0)
		r = master_add_suppliers(m);
	if (r == 0)
		r = master_add_fixed_vendors(m);
	for (int pcat = 0; r == 0 && pcat < DEMO_PCATS; pcat++)
		r = master_add_category(m, pcat);
	return r;
}
