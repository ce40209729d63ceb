/*
 * demo_store: writes the in-memory demo business into SQLite.
 *
 * One prepared INSERT per table, reused for every row; the caller wraps
 * the whole thing in one transaction. Ids are array positions + 1, money
 * goes in as cents / 100.0 (the nearest double to the exact decimal, so it
 * prints back exactly), and journal ids are numbered in ledger order.
 */
#include "demo/demo_model.h"

#include <stdio.h>

#include "util/banned.h"

struct store_row {
	sqlite3_stmt *st;
	int col;
	int rc;
};

static void row_int(struct store_row *r, int64_t v)
{
	if (r->rc == SQLITE_OK)
		r->rc = sqlite3_bind_int64(r->st, ++r->col, v);
}

/* NULL or "" is stored as NULL. */
static void row_text(struct store_row *r, const char *s)
{
	if (r->rc != SQLITE_OK)
		return;
	if (s && *s)
		r->rc = sqlite3_bind_text(r->st, ++r->col, s, -1, SQLITE_TRANSIENT);
	else
		r->rc = sqlite3_bind_null(r->st, ++r->col);
}

static void row_money(struct store_row *r, int64_t cents)
{
	if (r->rc == SQLITE_OK)
		r->rc = sqlite3_bind_double(r->st, ++r->col, (double)cents / 100.0);
}

/* day < 0 is stored as NULL. */
static void row_date(struct store_row *r, int day)
{
	char date[DEMO_DATE_LEN] = "";

	if (day >= 0)
		demo_day_format(day, date);
	row_text(r, date);
}

static const char *store_status(int due_day, int paid_day)
{
	if (paid_day >= 0)
		return "paid";
	return due_day < DEMO_DAY_END ? "overdue" : "open";
}

typedef void (*store_bind_fn)(struct store_row *r, const struct demo_model *m, size_t i,
			      void *state);

static void bind_account(struct store_row *r, const struct demo_model *m, size_t i, void *state)
{
	const struct demo_account *a = &demo_accounts[i];

	(void)m;
	(void)state;
	row_int(r, a->id);
	row_text(r, a->name);
	row_text(r, a->type);
	row_text(r, a->subtype);
	row_text(r, a->normal_balance);
}

static void bind_customer(struct store_row *r, const struct demo_model *m, size_t i, void *state)
{
	const struct demo_customer *c = demo_vec_at(&m->customers, i);

	(void)state;
	row_int(r, (int64_t)i + 1);
	row_text(r, c->name);
	row_text(r, demo_segment_label(c->segment));
	row_text(r, demo_cities[c->city].name);
	row_text(r, demo_cities[c->city].country);
	row_int(r, c->terms_days);
	row_money(r, c->credit_limit_cents);
	row_date(r, c->created_day);
}

static void bind_vendor(struct store_row *r, const struct demo_model *m, size_t i, void *state)
{
	const struct demo_vendor *v = demo_vec_at(&m->vendors, i);

	(void)state;
	row_int(r, (int64_t)i + 1);
	row_text(r, v->name);
	row_text(r, demo_bcat_label(v->category));
	row_text(r, demo_cities[v->city].name);
	row_text(r, demo_cities[v->city].country);
	row_int(r, v->terms_days);
	row_date(r, v->created_day);
}

static void bind_product(struct store_row *r, const struct demo_model *m, size_t i, void *state)
{
	const struct demo_product *p = demo_vec_at(&m->products, i);

	(void)state;
	row_int(r, (int64_t)i + 1);
	row_text(r, p->sku);
	row_text(r, p->name);
	row_text(r, demo_pcat_label(p->category));
	row_money(r, p->unit_cost_cents);
	row_money(r, p->unit_price_cents);
	row_int(r, (int64_t)p->vendor + 1);
}

static void bind_invoice(struct store_row *r, const struct demo_model *m, size_t i, void *state)
{
	const struct demo_invoice *inv = demo_vec_at(&m->invoices, i);

	(void)state;
	row_int(r, (int64_t)i + 1);
	row_text(r, inv->number);
	row_int(r, (int64_t)inv->customer + 1);
	row_date(r, inv->issue_day);
	row_date(r, inv->due_day);
	row_date(r, inv->paid_day);
	row_money(r, inv->amount_cents);
	row_text(r, store_status(inv->due_day, inv->paid_day));
}

static void bind_bill(struct store_row *r, const struct demo_model *m, size_t i, void *state)
{
	const struct demo_bill *b = demo_vec_at(&m->bills, i);

	(void)state;
	row_int(r, (int64_t)i + 1);
	row_text(r, b->number);
	row_int(r, (int64_t)b->vendor + 1);
	row_date(r, b->issue_day);
	row_date(r, b->due_day);
	row_date(r, b->paid_day);
	row_money(r, b->amount_cents);
	row_text(r, demo_bcat_label(b->category));
	row_text(r, store_status(b->due_day, b->paid_day));
}

static void bind_movement(struct store_row *r, const struct demo_model *m, size_t i, void *state)
{
	const struct demo_movement *mv = demo_vec_at(&m->movements, i);

	(void)state;
	row_int(r, (int64_t)i + 1);
	row_int(r, (int64_t)mv->product + 1);
	row_date(r, mv->day);
	row_text(r, demo_move_label(mv->type));
	row_int(r, mv->qty);
	row_money(r, mv->unit_cost_cents);
	row_text(r, mv->ref);
}

struct store_journal {
	int last_seq;
	int64_t journal_id;
};

static void bind_gl(struct store_row *r, const struct demo_model *m, size_t i, void *state)
{
	const struct demo_gl_line *l = demo_vec_at(&m->gl, i);
	struct store_journal *j = state;

	if (i == 0 || l->seq != j->last_seq)
		j->journal_id++;
	j->last_seq = l->seq;
	row_int(r, (int64_t)i + 1);
	row_int(r, j->journal_id);
	row_date(r, l->day);
	row_int(r, l->account);
	row_text(r, l->desc);
	row_money(r, l->debit_cents);
	row_money(r, l->credit_cents);
	row_text(r, demo_source_label(l->source));
	row_text(r, l->ref);
}

static void bind_budget(struct store_row *r, const struct demo_model *m, size_t i, void *state)
{
	const struct demo_budget *b = demo_vec_at(&m->budgets, i);
	char month[8];
	unsigned index = (unsigned)b->month_index;

	(void)state;
	(void)snprintf(month, sizeof(month), "%04u-%02u", (DEMO_FIRST_YEAR + index / 12) % 10000u,
		       index % 12 + 1);
	row_int(r, b->account);
	row_text(r, month);
	row_money(r, b->amount_cents);
}

static int store_rows(sqlite3 *db, const char *sql, size_t n, store_bind_fn bind,
		      const struct demo_model *m, void *state)
{
	struct store_row row = { NULL, 0, SQLITE_OK };
	int rc = sqlite3_prepare_v2(db, sql, -1, &row.st, NULL);

	for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
		row.col = 0;
		bind(&row, m, i, state);
		rc = row.rc;
		if (rc == SQLITE_OK)
			rc = sqlite3_step(row.st);
		if (rc == SQLITE_DONE)
			rc = sqlite3_reset(row.st);
	}
	if (sqlite3_finalize(row.st) != SQLITE_OK && rc == SQLITE_OK)
		rc = sqlite3_errcode(db);
	return rc;
}

int demo_store(sqlite3 *db, const struct demo_model *m)
{
	struct store_journal journal = { 0, 0 };
	const struct {
		const char *sql;
		size_t n;
		store_bind_fn bind;
	} tables[] = {
		{ "INSERT INTO accounts VALUES (?,?,?,?,?)", demo_account_count, bind_account },
		{ "INSERT INTO customers VALUES (?,?,?,?,?,?,?,?)", m->customers.len, bind_customer },
		{ "INSERT INTO vendors VALUES (?,?,?,?,?,?,?)", m->vendors.len, bind_vendor },
		{ "INSERT INTO products VALUES (?,?,?,?,?,?,?)", m->products.len, bind_product },
		{ "INSERT INTO invoices VALUES (?,?,?,?,?,?,?,?)", m->invoices.len, bind_invoice },
		{ "INSERT INTO bills VALUES (?,?,?,?,?,?,?,?,?)", m->bills.len, bind_bill },
		{ "INSERT INTO inventory_movements VALUES (?,?,?,?,?,?,?)", m->movements.len,
		  bind_movement },
		{ "INSERT INTO gl_entries VALUES (?,?,?,?,?,?,?,?,?)", m->gl.len, bind_gl },
		{ "INSERT INTO budgets VALUES (?,?,?)", m->budgets.len, bind_budget },
	};
	int rc = SQLITE_OK;

	for (size_t t = 0; rc == SQLITE_OK && t < sizeof(tables) / sizeof(tables[0]); t++)
		rc = store_rows(db, tables[t].sql, tables[t].n, tables[t].bind, m, &journal);
	return rc;
}
