/*
 * demo_names: the words of the demo dataset: labels stored for each
 * enumeration, the cities, and the word lists that customer and supplier
 * names are built from. Every name is made up; a few contain a comma, an
 * apostrophe or an ampersand on purpose, so the CSV quoting is exercised.
 */
#include "demo/demo_model.h"

#include <stdio.h>

#include "util/banned.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *names_label(const char *const *labels, size_t n, int i)
{
	return i >= 0 && (size_t)i < n ? labels[i] : "unknown";
}

const char *demo_segment_label(int segment)
{
	static const char *const labels[] = { "hospitality", "retail", "office", "healthcare",
					      "education" };
	return names_label(labels, COUNT(labels), segment);
}

const char *demo_pcat_label(int pcat)
{
	static const char *const labels[] = { "disposables", "paper", "cleaning", "kitchenware",
					      "packaging", "beverage" };
	return names_label(labels, COUNT(labels), pcat);
}

const char *demo_pcat_sku_prefix(int pcat)
{
	static const char *const labels[] = { "DSP", "PAP", "CLN", "KIT", "PKG", "BEV" };
	return names_label(labels, COUNT(labels), pcat);
}

const char *demo_bcat_label(int bcat)
{
	static const char *const labels[] = { "inventory", "freight", "rent", "utilities",
					      "marketing", "software", "travel", "vehicle",
					      "insurance", "professional_fees", "equipment" };
	return names_label(labels, COUNT(labels), bcat);
}

const char *demo_source_label(int source)
{
	static const char *const labels[] = { "opening", "invoice", "payment", "return",
					      "bill", "bill_payment", "payroll", "inventory",
					      "adjustment", "bank", "equity" };
	return names_label(labels, COUNT(labels), source);
}

const char *demo_move_label(int move)
{
	static const char *const labels[] = { "purchase", "sale", "adjustment", "return" };
	return names_label(labels, COUNT(labels), move);
}

/* Home market first: the generator picks low indexes more often. */
const struct demo_city demo_cities[] = {
	{ "Portland", "US" },   { "Beaverton", "US" }, { "Gresham", "US" },
	{ "Hillsboro", "US" },  { "Lake Oswego", "US" }, { "Salem", "US" },
	{ "Vancouver", "US" },  { "Eugene", "US" },    { "Seattle", "US" },
	{ "Tacoma", "US" },     { "Bend", "US" },      { "Olympia", "US" },
	{ "Spokane", "US" },    { "Boise", "US" },     { "Victoria", "CA" },
	{ "Kelowna", "CA" },
};
const size_t demo_city_count = COUNT(demo_cities);

static const char *const place_words[] = {
	"Harbor", "Copper", "Maple", "Cedar", "Willow", "Granite", "Silver", "Juniper",
	"Oak", "River", "Summit", "Lantern", "Bluebird", "Red Fox", "Meadow", "Stone",
	"Iron", "Golden", "Pine", "Elm", "Birch", "Lakeshore", "Alder", "Hawthorne",
	"North Star", "Sunrise", "Driftwood", "Evergreen", "Foxglove", "Heron",
};
static const char *const place_nouns[] = {
	"Lane", "Kettle", "Street", "Hill", "Creek", "Square", "Point", "Ridge",
	"Bridge", "Row", "Park", "Corner", "Field", "Gate", "Table", "Spoon",
	"Crossing", "Mill", "Wharf", "Grove", "Hollow", "Landing",
};
static const char *const surnames[] = {
	"Alvarez", "Baker", "Chen", "Dalton", "Eriksen", "Fischer", "Garcia", "Hale",
	"Ito", "Jensen", "Kowalski", "Larsen", "Moreau", "Nguyen", "O'Brien", "Patel",
	"Quinn", "Rossi", "Sato", "Tanaka", "Underwood", "Varga", "Walsh", "Young",
};

static const char *const kinds_hospitality[] = {
	"Bakery", "Cafe", "Bistro", "Grill", "Kitchen", "Tavern", "Diner", "Hotel",
	"Inn", "Catering", "Pizzeria", "Brewing Co.", "Deli", "Noodle Bar", "Bakery & Cafe",
};
static const char *const kinds_retail[] = {
	"Market", "General Store", "Grocers", "Pantry", "Mercantile", "Gift Shop",
	"Outfitters", "Home Goods", "Co-op", "Florist",
};
static const char *const kinds_office[] = {
	"Consulting", "Design Studio", "Law Group", "Architects", "Realty",
	"Insurance Agency", "Logistics", "Accounting", "Engineering",
};
static const char *const kinds_healthcare[] = {
	"Dental Clinic", "Family Practice", "Veterinary Hospital", "Physical Therapy",
	"Medical Center", "Care Home", "Pharmacy", "Eye Care",
};
static const char *const kinds_education[] = {
	"Academy", "Montessori School", "Learning Center", "Preparatory School",
	"Day Nursery", "Community College", "Charter School",
};

struct names_list {
	const char *const *words;
	size_t n;
};

static const char *names_pick(struct demo_rng *r, const char *const *words, size_t n)
{
	return words[demo_rng_between(r, 0, (int)n - 1)];
}

static struct names_list names_kinds(int segment)
{
	static const struct names_list kinds[DEMO_SEGMENTS] = {
		{ kinds_hospitality, COUNT(kinds_hospitality) },
		{ kinds_retail, COUNT(kinds_retail) },
		{ kinds_office, COUNT(kinds_office) },
		{ kinds_healthcare, COUNT(kinds_healthcare) },
		{ kinds_education, COUNT(kinds_education) },
	};
	return kinds[segment >= 0 && segment < DEMO_SEGMENTS ? segment : 0];
}

void demo_name_customer(struct demo_rng *r, int segment, char *out, size_t out_len)
{
	struct names_list kinds = names_kinds(segment);
	const char *kind = names_pick(r, kinds.words, kinds.n);
	int style = demo_rng_between(r, 0, 9);
	const char *a = names_pick(r, surnames, COUNT(surnames));
	const char *b = names_pick(r, surnames, COUNT(surnames));
	const char *place = names_pick(r, place_words, COUNT(place_words));
	const char *noun = names_pick(r, place_nouns, COUNT(place_nouns));

	/* Each draw is its own statement: the order in which a compiler
	 * evaluates function arguments is unspecified, and would change the
	 * names. Offices are often partnerships: "Baker, Hale & Partners". */
	if (segment == SEG_OFFICE && style < 4 && a != b)
		(void)snprintf(out, out_len, "%s, %s & Partners", a, b);
	else if (style < 3)
		(void)snprintf(out, out_len, "%s's %s", a, kind);
	else
		(void)snprintf(out, out_len, "%s %s %s", place, noun, kind);
}

void demo_name_supplier(struct demo_rng *r, int pcat, char *out, size_t out_len)
{
	static const char *const regions[] = { "Pacific", "Cascade", "Columbia", "Sierra",
					       "Ridgeline", "Keystone", "Prairie", "Atlas",
					       "Meridian", "Northwind", "Coastal", "Redwood" };
	/* Two trades per product category, in enum demo_pcat order. */
	static const char *const trades[DEMO_PCATS * 2] = {
		"Plastics", "Disposables", "Paper", "Fibre", "Chemical", "Sanitation",
		"Housewares", "Kitchenware", "Packaging", "Container", "Beverage",
		"Coffee & Tea",
	};
	static const char *const forms[] = { "Co.", "Inc.", "Supply", "Distributors",
					     "Manufacturing", "Ltd." };
	int cat = pcat >= 0 && pcat < DEMO_PCATS ? pcat : 0;
	const char *region = names_pick(r, regions, COUNT(regions));
	const char *trade = trades[cat * 2 + demo_rng_between(r, 0, 1)];
	const char *form = names_pick(r, forms, COUNT(forms));

	(void)snprintf(out, out_len, "%s %s %s", region, trade, form);
}
