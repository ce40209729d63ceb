/*
 * Template top_customers: customers ranked by what was invoiced to them in
 * a year (invoices.amount: products and services, before returns). Ties
 * go to the lower customer_id, so the ranking is the same every time and
 * in both languages. pct_of_revenue is the share of everything invoiced to
 * the customers considered (those of the segment, when one is given).
 */
#include "templates/internal.h"

#include "util/banned.h"

static const char *const invoices_columns[] = { "customer_id", "issue_date", "amount", NULL };
static const char *const customers_columns[] = { "customer_id", "name", "segment", NULL };

static const struct tpl_need needs[] = {
	{ "invoices", invoices_columns },
	{ "customers", customers_columns },
};

static const char sql[] =
	"sales AS (\n"
	"  -- Invoiced amounts (products and services, before returns), in whole cents.\n"
	"  SELECT i.customer_id,\n"
	"         count(*) AS invoices,\n"
	"         sum(CAST(round(i.amount * 100) AS INTEGER)) AS cents,\n"
	"         max(i.issue_date) AS last_invoice_date\n"
	"  FROM invoices i\n"
	"  JOIN params p ON i.issue_date BETWEEN printf('%04d-01-01', p.year)\n"
	"                                    AND printf('%04d-12-31', p.year)\n"
	"  GROUP BY i.customer_id\n"
	"),\n"
	"ranked AS (\n"
	"  SELECT row_number() OVER (ORDER BY s.cents DESC, s.customer_id) AS rank,\n"
	"         c.customer_id, c.name, c.segment, s.invoices, s.cents, s.last_invoice_date,\n"
	"         sum(s.cents) OVER () AS all_cents\n"
	"  FROM sales s\n"
	"  JOIN customers c ON c.customer_id = s.customer_id\n"
	"  JOIN params p ON p.segment IS NULL OR c.segment = p.segment\n"
	")\n"
	"SELECT r.rank,\n"
	"       r.customer_id,\n"
	"       r.name AS customer,\n"
	"       r.segment,\n"
	"       r.invoices,\n"
	"       r.cents / 100.0 AS revenue,\n"
	"       round(100.0 * r.cents / r.all_cents, 1) AS pct_of_revenue,\n"
	"       -- Rounded to the nearest cent, half up, in whole numbers.\n"
	"       ((2 * r.cents + r.invoices) / (2 * r.invoices)) / 100.0 AS avg_invoice,\n"
	"       r.last_invoice_date\n"
	"FROM ranked r\n"
	"JOIN params p ON r.rank <= p.\"limit\"\n"
	"ORDER BY r.rank;\n";

static const char py_imports[] =
	"import sqlite3\n"
	"\n"
	"import pandas as pd\n";

static const char python[] =
	"con = sqlite3.connect(DATABASE, uri=True)\n"
	"invoices = pd.read_sql(\n"
	"    \"SELECT customer_id, issue_date, amount FROM invoices\"\n"
	"    \" WHERE issue_date BETWEEN ? AND ?\",\n"
	"    con,\n"
	"    params=(f\"{year:04d}-01-01\", f\"{year:04d}-12-31\"),\n"
	")\n"
	"customers = pd.read_sql(\"SELECT customer_id, name, segment FROM customers\", con)\n"
	"con.close()\n"
	"\n"
	"# Invoiced amounts (products and services, before returns).\n"
	"invoices[\"cents\"] = cents(invoices[\"amount\"])\n"
	"sales = invoices.groupby(\"customer_id\").agg(\n"
	"    invoices=(\"cents\", \"size\"),\n"
	"    cents=(\"cents\", \"sum\"),\n"
	"    last_invoice_date=(\"issue_date\", \"max\"),\n"
	").reset_index().merge(customers, on=\"customer_id\")\n"
	"if segment is not None:\n"
	"    sales = sales[sales[\"segment\"] == segment]\n"
	"sales = sales.sort_values([\"cents\", \"customer_id\"], ascending=[False, True])\n"
	"all_cents = sales[\"cents\"].sum()\n"
	"top = sales.head(limit).reset_index(drop=True)\n"
	"\n"
	"result = pd.DataFrame({\n"
	"    \"rank\": range(1, len(top) + 1),\n"
	"    \"customer_id\": top[\"customer_id\"],\n"
	"    \"customer\": top[\"name\"],\n"
	"    \"segment\": top[\"segment\"],\n"
	"    \"invoices\": top[\"invoices\"],\n"
	"    \"revenue\": top[\"cents\"] / 100,\n"
	"    \"pct_of_revenue\": (100 * top[\"cents\"] / all_cents).round(1),\n"
	"    # Rounded to the nearest cent, half up, in whole numbers.\n"
	"    \"avg_invoice\": (2 * top[\"cents\"] + top[\"invoices\"]) // (2 * top[\"invoices\"]) / 100,\n"
	"    \"last_invoice_date\": top[\"last_invoice_date\"],\n"
	"})\n"
	"\n"
	"result\n";

const struct tpl_code tpl_top_customers = {
	.needs = needs,
	.n_needs = sizeof(needs) / sizeof(needs[0]),
	.sql = sql,
	.py_imports = py_imports,
	.python = python,
};
