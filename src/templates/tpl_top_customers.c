/*
 * Template top_customers: customers ranked by their revenue in a year.
 * Every row shows three amounts: gross_invoiced (invoices issued in the
 * year, before returns), returns (the contra-revenue part the ledger books
 * in the year on the customer's invoices) and net_revenue (everything the
 * ledger books as revenue in the year on the customer's invoices, as the
 * P&L counts it, so over all customers it is the P&L's net revenue). The
 * parameter revenue (net by default, or gross) picks the amount that ranks
 * and that pct_of_total shares, and ranked_by repeats it in every row. Ties
 * go to the lower customer_id, so the ranking is the same every time and
 * in both languages.
 */
#include "templates/internal.h"

#include "util/banned.h"

static const char *const invoices_columns[] = {
	"invoice_number", "customer_id", "issue_date", "amount", NULL,
};
static const char *const customers_columns[] = { "customer_id", "name", "segment", NULL };
static const char *const gl_entries_columns[] = {
	"entry_date", "account_id", "debit", "credit", "reference", NULL,
};
static const char *const accounts_columns[] = { "account_id", "type", "normal_balance", NULL };

static const struct tpl_need needs[] = {
	{ "invoices", invoices_columns },
	{ "customers", customers_columns },
	{ "gl_entries", gl_entries_columns },
	{ "accounts", accounts_columns },
};

static const char sql[] =
	"bounds AS (\n"
	"  SELECT printf('%04d-01-01', year) AS first_day,\n"
	"         printf('%04d-12-31', year) AS last_day\n"
	"  FROM params\n"
	"),\n"
	"invoiced AS (\n"
	"  -- Invoices issued in the year (products and services, before returns).\n"
	"  SELECT i.customer_id,\n"
	"         count(*) AS invoices,\n"
	"         sum(CAST(round(i.amount * 100) AS INTEGER)) AS cents,\n"
	"         max(i.issue_date) AS last_invoice_date\n"
	"  FROM invoices i\n"
	"  JOIN bounds b ON i.issue_date BETWEEN b.first_day AND b.last_day\n"
	"  GROUP BY i.customer_id\n"
	"),\n"
	"booked AS (\n"
	"  -- What the ledger books as revenue in the year on the customer's\n"
	"  -- invoices, as the P&L counts it: credits less debits on revenue accounts.\n"
	"  -- Returns are the debit-balance (contra-revenue) accounts' part.\n"
	"  SELECT i.customer_id,\n"
	"         sum(CAST(round(g.credit * 100) AS INTEGER)\n"
	"             - CAST(round(g.debit * 100) AS INTEGER)) AS net,\n"
	"         sum(CASE WHEN a.normal_balance = 'debit'\n"
	"                  THEN CAST(round(g.debit * 100) AS INTEGER)\n"
	"                       - CAST(round(g.credit * 100) AS INTEGER) ELSE 0 END) AS returns\n"
	"  FROM gl_entries g\n"
	"  JOIN accounts a ON a.account_id = g.account_id AND a.type = 'revenue'\n"
	"  JOIN invoices i ON i.invoice_number = g.reference\n"
	"  JOIN bounds b ON g.entry_date BETWEEN b.first_day AND b.last_day\n"
	"  GROUP BY i.customer_id\n"
	"),\n"
	"sales AS (\n"
	"  SELECT c.customer_id, c.name, c.segment,\n"
	"         coalesce(v.invoices, 0) AS invoices,\n"
	"         coalesce(v.cents, 0) AS gross,\n"
	"         coalesce(k.returns, 0) AS returns,\n"
	"         coalesce(k.net, 0) AS net,\n"
	"         v.last_invoice_date,\n"
	"         CASE p.revenue WHEN 'gross' THEN coalesce(v.cents, 0)\n"
	"                        ELSE coalesce(k.net, 0) END AS ranked\n"
	"  FROM customers c\n"
	"  JOIN params p ON p.segment IS NULL OR c.segment = p.segment\n"
	"  LEFT JOIN invoiced v ON v.customer_id = c.customer_id\n"
	"  LEFT JOIN booked k ON k.customer_id = c.customer_id\n"
	"  WHERE v.customer_id IS NOT NULL OR k.customer_id IS NOT NULL\n"
	"),\n"
	"ranked AS (\n"
	"  SELECT row_number() OVER (ORDER BY ranked DESC, customer_id) AS rank, s.*,\n"
	"         sum(ranked) OVER () AS all_ranked\n"
	"  FROM sales s\n"
	")\n"
	"SELECT r.rank,\n"
	"       r.customer_id,\n"
	"       r.name AS customer,\n"
	"       r.segment,\n"
	"       p.revenue AS ranked_by,\n"
	"       r.invoices,\n"
	"       r.gross / 100.0 AS gross_invoiced,\n"
	"       r.returns / 100.0 AS returns,\n"
	"       r.net / 100.0 AS net_revenue,\n"
	"       -- Per cent to one decimal, half away from zero, in whole numbers.\n"
	"       CASE WHEN r.all_ranked <> 0 THEN\n"
	"         (CASE WHEN ((1000 * r.ranked) < 0) = (r.all_ranked < 0) THEN 1 ELSE -1 END)\n"
	"         * ((2 * abs(1000 * r.ranked) + abs(r.all_ranked))\n"
	"           / (2 * abs(r.all_ranked))) / 10.0 END AS pct_of_total,\n"
	"       -- Gross invoiced over invoices, rounded to the nearest cent, half up,\n"
	"       -- in whole numbers.\n"
	"       CASE WHEN r.invoices > 0 AND r.gross >= 0\n"
	"            THEN ((2 * r.gross + r.invoices) / (2 * r.invoices)) / 100.0 END AS avg_invoice,\n"
	"       r.last_invoice_date\n"
	"FROM ranked r\n"
	"JOIN params p ON r.rank <= p.\"limit\"\n"
	"ORDER BY r.rank;\n";

static const char py_imports[] =
	"import sqlite3\n"
	"\n"
	"import numpy as np\n"
	"import pandas as pd\n";

static const char python[] =
	"con = sqlite3.connect(DATABASE, uri=True)\n"
	"period = (f\"{year:04d}-01-01\", f\"{year:04d}-12-31\")\n"
	"# Invoices issued in the year (products and services, before returns).\n"
	"invoices = pd.read_sql(\n"
	"    \"SELECT customer_id, issue_date, amount FROM invoices WHERE issue_date BETWEEN ? AND ?\",\n"
	"    con,\n"
	"    params=period,\n"
	")\n"
	"# What the ledger books as revenue in the year on each customer's invoices,\n"
	"# as the P&L counts it: credits less debits on revenue accounts. Returns are\n"
	"# the debit-balance (contra-revenue) accounts' part.\n"
	"booked = pd.read_sql(\n"
	"    \"SELECT i.customer_id, g.debit, g.credit, a.normal_balance FROM gl_entries g\"\n"
	"    \" JOIN accounts a ON a.account_id = g.account_id AND a.type = 'revenue'\"\n"
	"    \" JOIN invoices i ON i.invoice_number = g.reference\"\n"
	"    \" WHERE g.entry_date BETWEEN ? AND ?\",\n"
	"    con,\n"
	"    params=period,\n"
	")\n"
	"customers = pd.read_sql(\"SELECT customer_id, name, segment FROM customers\", con)\n"
	"con.close()\n"
	"\n"
	"invoices[\"cents\"] = cents(invoices[\"amount\"])\n"
	"invoiced = invoices.groupby(\"customer_id\").agg(\n"
	"    invoices=(\"cents\", \"size\"),\n"
	"    gross=(\"cents\", \"sum\"),\n"
	"    last_invoice_date=(\"issue_date\", \"max\"),\n"
	")\n"
	"booked[\"net\"] = cents(booked[\"credit\"]) - cents(booked[\"debit\"])\n"
	"booked[\"returns\"] = (-booked[\"net\"]).where(booked[\"normal_balance\"] == \"debit\", 0)\n"
	"booked = booked.groupby(\"customer_id\")[[\"net\", \"returns\"]].sum()\n"
	"\n"
	"sales = customers.set_index(\"customer_id\").join([invoiced, booked], how=\"left\")\n"
	"sales = sales[sales[\"invoices\"].notna() | sales[\"net\"].notna()]\n"
	"if segment is not None:\n"
	"    sales = sales[sales[\"segment\"] == segment]\n"
	"for column in [\"invoices\", \"gross\", \"net\", \"returns\"]:\n"
	"    sales[column] = sales[column].fillna(0).astype(\"int64\")\n"
	"sales[\"ranked\"] = sales[\"gross\"] if revenue == \"gross\" else sales[\"net\"]\n"
	"sales = sales.reset_index().sort_values([\"ranked\", \"customer_id\"], ascending=[False, True])\n"
	"all_ranked = sales[\"ranked\"].sum()\n"
	"top = sales.head(limit).reset_index(drop=True)\n"
	"invoices_or_nan = top[\"invoices\"].where((top[\"invoices\"] > 0) & (top[\"gross\"] >= 0))\n"
	"\n"
	"result = pd.DataFrame({\n"
	"    \"rank\": range(1, len(top) + 1),\n"
	"    \"customer_id\": top[\"customer_id\"],\n"
	"    \"customer\": top[\"name\"],\n"
	"    \"segment\": top[\"segment\"],\n"
	"    \"ranked_by\": revenue,\n"
	"    \"invoices\": top[\"invoices\"],\n"
	"    \"gross_invoiced\": top[\"gross\"] / 100,\n"
	"    \"returns\": top[\"returns\"] / 100,\n"
	"    \"net_revenue\": top[\"net\"] / 100,\n"
	"    \"pct_of_total\": ratio(100 * top[\"ranked\"], all_ranked, 1),\n"
	"    # Gross invoiced over invoices, rounded to the nearest cent, half up,\n"
	"    # in whole numbers.\n"
	"    \"avg_invoice\": ((2 * top[\"gross\"] + invoices_or_nan) // (2 * invoices_or_nan)) / 100,\n"
	"    \"last_invoice_date\": top[\"last_invoice_date\"],\n"
	"})\n"
	"\n"
	"result\n";

static const struct tpl_filter filters[] = {
	{ "SELECT p.segment IS NULL\n"
	  "       OR EXISTS (SELECT 1 FROM customers c WHERE c.segment = p.segment),\n"
	  "       CASE WHEN p.segment IS NOT NULL THEN printf('segment ''%s''', p.segment) END\n"
	  "FROM params p",
	  "SELECT DISTINCT segment FROM customers ORDER BY 1",
	  "segments in the data (matched exactly, case included)" },
	{ "SELECT EXISTS (SELECT 1 FROM invoices i\n"
	  "               WHERE i.issue_date BETWEEN printf('%04d-01-01', p.year)\n"
	  "                                      AND printf('%04d-12-31', p.year)),\n"
	  "       printf('year %d', p.year)\n"
	  "FROM params p",
	  "SELECT DISTINCT substr(issue_date, 1, 4) FROM invoices ORDER BY 1",
	  "years with invoices in the data" },
};

const struct tpl_code tpl_top_customers = {
	.needs = needs,
	.n_needs = sizeof(needs) / sizeof(needs[0]),
	.filters = filters,
	.n_filters = sizeof(filters) / sizeof(filters[0]),
	.sql = sql,
	.py_imports = py_imports,
	.python = python,
};
