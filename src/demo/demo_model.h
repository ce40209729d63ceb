/*
 * demo_model: internal types shared by the demo dataset generator.
 *
 * The generator first builds the whole business in memory (struct
 * demo_model), then stores it in SQLite and exports CSV from there. Money is
 * int64 cents everywhere, dates are day numbers (days since 1970-01-01), and
 * every random choice comes from struct demo_rng, so the output depends on
 * nothing but the code.
 */
#ifndef LEDGERBOX_DEMO_MODEL_H
#define LEDGERBOX_DEMO_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/* ---- calendar (demo_calendar.c) ---------------------------------------- */

#define DEMO_DAY_START 19723 /* 2024-01-01 */
#define DEMO_DAY_END 20453   /* 2025-12-31, the "as of" date */
#define DEMO_FIRST_YEAR 2024
#define DEMO_MONTHS 24
#define DEMO_DATE_LEN 11 /* "YYYY-MM-DD" + NUL */

int demo_day(int year, int month, int mday);
void demo_day_split(int day, int *year, int *month, int *mday);
void demo_day_format(int day, char out[DEMO_DATE_LEN]);
int demo_day_weekday(int day); /* 0 = Monday .. 6 = Sunday */
bool demo_day_is_business(int day);
int demo_day_next_business(int day); /* day itself when it is one */
int demo_day_prev_business(int day);
int demo_day_month_end(int day);
/* Months since 2024-01 (0..23 inside the simulated period). */
int demo_day_month_index(int day);
int demo_month_first_day(int month_index);
/* Seasonal demand factor of a calendar month (1..12), per mille. */
int demo_season_pm(int month);

/* ---- random numbers (demo_rng.c) --------------------------------------- */

struct demo_rng {
	uint64_t s[4];
};

void demo_rng_seed(struct demo_rng *r, uint64_t seed);
uint64_t demo_rng_next(struct demo_rng *r);
int demo_rng_between(struct demo_rng *r, int lo, int hi); /* inclusive */
bool demo_rng_chance(struct demo_rng *r, int per_mille);
/* Index picked with probability weights[i] / sum; n > 0, sum > 0. */
size_t demo_rng_weighted(struct demo_rng *r, const int *weights, size_t n);
/* cents scaled by a random factor in [1000 - spread_pm, 1000 + spread_pm]. */
int64_t demo_rng_jitter(struct demo_rng *r, int64_t cents, int spread_pm);

/* cents * pm / 1000, rounded half up (cents >= 0). */
int64_t demo_scale_pm(int64_t cents, int64_t pm);

/* ---- growable arrays (demo_vec.c) -------------------------------------- */

struct demo_vec {
	unsigned char *data;
	size_t len;
	size_t cap;
	size_t elem_size;
};

void demo_vec_init(struct demo_vec *v, size_t elem_size);
/* Appends a zeroed element and returns it, or NULL when out of memory. */
void *demo_vec_push(struct demo_vec *v);
void *demo_vec_at(const struct demo_vec *v, size_t i);
void demo_vec_free(struct demo_vec *v);

/* ---- enumerations and their labels (demo_names.c) ---------------------- */

enum demo_segment { SEG_HOSPITALITY, SEG_RETAIL, SEG_OFFICE, SEG_HEALTHCARE, SEG_EDUCATION, DEMO_SEGMENTS };
enum demo_pcat { PCAT_DISPOSABLES, PCAT_PAPER, PCAT_CLEANING, PCAT_KITCHENWARE, PCAT_PACKAGING, PCAT_BEVERAGE, DEMO_PCATS };
enum demo_bcat {
	BCAT_INVENTORY, BCAT_FREIGHT, BCAT_RENT, BCAT_UTILITIES, BCAT_MARKETING, BCAT_SOFTWARE,
	BCAT_TRAVEL, BCAT_VEHICLE, BCAT_INSURANCE, BCAT_PROFESSIONAL, BCAT_EQUIPMENT, DEMO_BCATS
};
enum demo_source {
	SRC_OPENING, SRC_INVOICE, SRC_PAYMENT, SRC_RETURN, SRC_BILL, SRC_BILL_PAYMENT,
	SRC_PAYROLL, SRC_INVENTORY, SRC_ADJUSTMENT, SRC_BANK, SRC_EQUITY, DEMO_SOURCES
};
enum demo_move { MOVE_PURCHASE, MOVE_SALE, MOVE_ADJUSTMENT, MOVE_RETURN, DEMO_MOVES };
enum demo_payer { PAYER_PROMPT, PAYER_NORMAL, PAYER_SLOW, PAYER_PROBLEM, DEMO_PAYERS };

const char *demo_segment_label(int segment);
const char *demo_pcat_label(int pcat);
const char *demo_pcat_sku_prefix(int pcat);
const char *demo_bcat_label(int bcat);
const char *demo_source_label(int source);
const char *demo_move_label(int move);

struct demo_city {
	const char *name;
	const char *country;
};

extern const struct demo_city demo_cities[];
extern const size_t demo_city_count;

/* Writes a business name for a customer of `segment` into out. */
void demo_name_customer(struct demo_rng *r, int segment, char *out, size_t out_len);
/* Writes the name of a supplier of products of category pcat. */
void demo_name_supplier(struct demo_rng *r, int pcat, char *out, size_t out_len);

/* ---- chart of accounts (demo_accounts.c) ------------------------------- */

enum {
	ACC_CASH = 1000, ACC_AR = 1100, ACC_INVENTORY = 1200, ACC_PREPAID = 1300,
	ACC_EQUIPMENT = 1500, ACC_ACCUM_DEPR = 1510,
	ACC_AP = 2000, ACC_PAYROLL_LIAB = 2100, ACC_LOAN = 2500,
	ACC_OWNER_CAPITAL = 3000, ACC_RETAINED = 3100, ACC_DISTRIBUTIONS = 3200,
	ACC_SALES = 4000, ACC_SERVICE = 4100, ACC_RETURNS = 4900,
	ACC_COGS = 5000, ACC_SHRINKAGE = 5100, ACC_FREIGHT_IN = 5200,
	ACC_SALARIES = 6000, ACC_PAYROLL_TAX = 6010, ACC_RENT = 6100, ACC_UTILITIES = 6200,
	ACC_MARKETING = 6300, ACC_SOFTWARE = 6400, ACC_TRAVEL = 6500, ACC_VEHICLE = 6550,
	ACC_INSURANCE = 6600, ACC_DEPRECIATION = 6700, ACC_PROFESSIONAL = 6800,
	ACC_BANK_FEES = 6900, ACC_INTEREST = 7000
};

struct demo_account {
	int id;
	const char *name;
	const char *type; /* asset, liability, equity, revenue, expense */
	const char *subtype;
	const char *normal_balance; /* debit or credit */
};

extern const struct demo_account demo_accounts[];
extern const size_t demo_account_count;

/* ---- the business in memory ------------------------------------------- */

#define DEMO_REF_LEN 20
#define DEMO_NAME_LEN 72
#define DEMO_DESC_LEN 128

struct demo_customer {
	char name[DEMO_NAME_LEN];
	int segment;
	int city;
	int terms_days;
	int64_t credit_limit_cents;
	int created_day;
	/* behaviour, not stored */
	int weight;       /* how often it orders */
	int size_factor;  /* how much per order line */
	int discount_pm;  /* off list price */
	int payer;        /* enum demo_payer */
	int churn_day;    /* stops ordering from this day; 0 = never */
};

struct demo_vendor {
	char name[DEMO_NAME_LEN];
	int category; /* enum demo_bcat */
	int city;
	int terms_days;
	int created_day;
	int pcat; /* product category supplied, -1 when not a stock supplier */
};

struct demo_product {
	char sku[DEMO_REF_LEN];
	char name[DEMO_NAME_LEN];
	int category; /* enum demo_pcat */
	int vendor;   /* index into vendors */
	int64_t unit_cost_cents;
	int64_t unit_price_cents;
	int weight;      /* popularity inside its category */
	int typical_qty; /* units on a line for the smallest customers */
	int case_pack;   /* purchase quantities are multiples of this */
};

struct demo_invoice {
	char number[DEMO_REF_LEN];
	int customer;
	int issue_day;
	int due_day;
	int paid_day; /* -1 = unpaid on DEMO_DAY_END */
	int64_t amount_cents;
	size_t first_line;
	int n_lines;
	bool returned;
};

struct demo_sale_line {
	int product;
	int qty;
	int64_t unit_price_cents;
};

struct demo_bill {
	char number[DEMO_REF_LEN];
	int vendor;
	int category;
	int issue_day;
	int due_day;
	int paid_day; /* -1 = unpaid on DEMO_DAY_END */
	int64_t amount_cents;
};

struct demo_movement {
	int product;
	int day;
	int type; /* enum demo_move */
	int qty;  /* > 0 into stock, < 0 out of stock */
	int64_t unit_cost_cents;
	char ref[DEMO_REF_LEN];
};

struct demo_gl_line {
	int day;
	int seq; /* journal, in creation order */
	size_t ord;
	int account;
	int source;
	int64_t debit_cents;
	int64_t credit_cents;
	char ref[DEMO_REF_LEN]; /* "" = NULL */
	char desc[DEMO_DESC_LEN];
};

struct demo_budget {
	int account;
	int month_index;
	int64_t amount_cents;
};

/* Journal under construction (demo_ledger.c). */
struct demo_journal {
	bool open;
	int day;
	int seq;
	int source;
	char ref[DEMO_REF_LEN];
	int64_t debit_cents;
	int64_t credit_cents;
};

#define DEMO_DEMAND_WINDOW 28
#define DEMO_MAX_ASSETS 8

struct demo_asset {
	int from_month; /* first month index depreciated */
	int64_t monthly_cents;
	int64_t left_cents;
};

struct demo_model {
	struct demo_rng rng;
	struct demo_vec customers, vendors, products;
	struct demo_vec invoices, sale_lines, bills, movements, gl, budgets;
	struct demo_journal journal;
	int next_seq;
	int invoice_seq[2]; /* per year */
	int bill_seq[2];

	/* stock simulation, one slot per product */
	int *stock;
	int *demand_ring; /* units asked for, per product per day of the window */
	int *demand_sum;  /* sum over the window */
	int *demand_est;  /* expected units per window before history exists */
	int *customer_weight; /* today's ordering weight per customer */
	int cat_first[DEMO_PCATS]; /* products are stored grouped by category */
	int cat_count[DEMO_PCATS];

	/* values that later steps need */
	int64_t product_revenue_cents[DEMO_MONTHS];
	int64_t week_purchases_cents;
	int64_t prepaid_cents;
	int64_t loan_cents;
	struct demo_asset assets[DEMO_MAX_ASSETS];
	int n_assets;
	long lost_lines; /* order lines not filled for lack of stock */
};

int demo_model_init(struct demo_model *m);
void demo_model_free(struct demo_model *m);

/* ---- ledger (demo_ledger.c) -------------------------------------------- */

/* ref may be NULL. Lines with a zero amount are skipped. */
int demo_gl_begin(struct demo_model *m, int day, int source, const char *ref);
int demo_gl_debit(struct demo_model *m, int account, int64_t cents, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int demo_gl_credit(struct demo_model *m, int account, int64_t cents, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Closes the journal; -EPROTO when it does not balance (a generator bug). */
int demo_gl_end(struct demo_model *m);
/* Orders the ledger by date, then by journal, then by line. */
void demo_gl_sort(struct demo_model *m);

/* ---- generator steps --------------------------------------------------- */

int demo_master_generate(struct demo_model *m);        /* demo_master.c */
int demo_sales_estimate_demand(struct demo_model *m);  /* demo_sales.c */
int demo_sales_day(struct demo_model *m, int day);
int demo_sales_returns(struct demo_model *m, int day);
int demo_stock_open(struct demo_model *m, int64_t *value_cents); /* demo_stock.c */
int demo_stock_replenish(struct demo_model *m, int day);
int demo_stock_count(struct demo_model *m, int day);
void demo_stock_new_day(struct demo_model *m, int day);
int demo_stock_move(struct demo_model *m, int product, int day, int type, int qty, const char *ref);
int demo_bill_add(struct demo_model *m, int vendor, int day, int64_t cents, int account,
		  const char *what); /* demo_bills.c; returns bill index or -errno */
int demo_vendor_find(const struct demo_model *m, int bcat, int nth);
int demo_expenses_day(struct demo_model *m, int day);   /* demo_expenses.c */
int demo_payroll_day(struct demo_model *m, int day);    /* demo_payroll.c */
int demo_finance_open(struct demo_model *m, int64_t stock_cents); /* demo_finance.c */
int demo_finance_day(struct demo_model *m, int day);
int demo_finance_bank_fees(struct demo_model *m);
int demo_budget_generate(struct demo_model *m);         /* demo_budget.c */
int demo_generate(struct demo_model *m);                /* demo_generate.c */

/* ---- output ------------------------------------------------------------ */

/* demo_schema.c: tables, then (after the rows) indexes. */
int demo_schema_create(sqlite3 *db);
int demo_schema_index(sqlite3 *db);
/* ORDER BY clause that lists a table's rows in insertion order. */
const char *demo_schema_order(const char *table);

/* demo_store.c: inserts the model; returns 0 or an SQLite result code. */
int demo_store(sqlite3 *db, const struct demo_model *m);

/* demo_csv.c: writes one table as CSV to fd. Returns 0, -errno, or a
 * positive SQLite result code. */
int demo_csv_export(sqlite3 *db, const char *table, int fd);
/* Writes one CSV field (quoted when needed) into out, NUL-terminated and
 * truncated to out_len like snprintf; returns the full length. Exposed for
 * tests. */
size_t demo_csv_field(const char *text, size_t text_len, char *out, size_t out_len);

#endif
