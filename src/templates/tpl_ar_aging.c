/*
 * Template ar_aging: receivables on a day by days past their due date.
 * An invoice is open on the day when it was issued by then and not paid by
 * then, so a past day shows what was open at the time. All five buckets
 * are always listed, in order; their amounts add up to the receivables
 * balance on that day. On a day before the first invoice the table is
 * empty (the notice says when invoices begin), not five zeros.
 */
#include "templates/internal.h"

#include "util/banned.h"

static const char *const invoices_columns[] = {
	"issue_date", "due_date", "paid_date", "amount", NULL,
};

static const struct tpl_need needs[] = {
	{ "invoices", invoices_columns },
};

static const char sql[] =
	"open_invoices AS (\n"
	"  -- Invoices issued by the day and not paid by then, in whole cents.\n"
	"  SELECT CAST(round(i.amount * 100) AS INTEGER) AS cents,\n"
	"         CAST(julianday(p.as_of) - julianday(i.due_date) AS INTEGER)\n"
	"           AS days_past_due\n"
	"  FROM invoices i\n"
	"  JOIN params p ON i.issue_date <= p.as_of\n"
	"  WHERE i.paid_date IS NULL OR i.paid_date > p.as_of\n"
	"),\n"
	"buckets (position, bucket, low, high) AS (\n"
	"  VALUES (1, 'current', NULL, 0), (2, '1-30', 1, 30), (3, '31-60', 31, 60),\n"
	"         (4, '61-90', 61, 90), (5, '90+', 91, NULL)\n"
	"),\n"
	"aged AS (\n"
	"  SELECT b.position, b.bucket,\n"
	"         count(o.cents) AS invoices,\n"
	"         coalesce(sum(o.cents), 0) AS cents\n"
	"  FROM buckets b\n"
	"  LEFT JOIN open_invoices o\n"
	"    ON (b.low IS NULL OR o.days_past_due >= b.low)\n"
	"   AND (b.high IS NULL OR o.days_past_due <= b.high)\n"
	"  GROUP BY b.position, b.bucket\n"
	")\n"
	"SELECT bucket,\n"
	"       invoices,\n"
	"       cents / 100.0 AS amount,\n"
	"       -- Per cent to one decimal, half away from zero, in whole numbers.\n"
	"       CASE WHEN t.total <> 0 THEN\n"
	"         (CASE WHEN ((1000 * cents) < 0) = (t.total < 0) THEN 1 ELSE -1 END)\n"
	"         * ((2 * abs(1000 * cents) + abs(t.total))\n"
	"           / (2 * abs(t.total))) / 10.0 END\n"
	"         AS pct_of_total\n"
	"FROM aged, (SELECT sum(cents) AS total FROM aged) t\n"
	"-- Before the first invoice there is nothing to age: no rows, not zeros.\n"
	"WHERE EXISTS (SELECT 1 FROM invoices i, params p WHERE i.issue_date <= p.as_of)\n"
	"ORDER BY position;\n";

static const char py_imports[] =
	"import sqlite3\n"
	"\n"
	"import numpy as np\n"
	"import pandas as pd\n";

static const char python[] =
	"BUCKETS = [\"current\", \"1-30\", \"31-60\", \"61-90\", \"90+\"]\n"
	"DAYS_PAST_DUE_EDGES = [-float(\"inf\"), 0, 30, 60, 90, float(\"inf\")]\n"
	"\n"
	"\n"
	"con = sqlite3.connect(DATABASE, uri=True)\n"
	"open_invoices = pd.read_sql(\n"
	"    \"SELECT due_date, amount FROM invoices\"\n"
	"    \" WHERE issue_date <= ? AND (paid_date IS NULL OR paid_date > ?)\",\n"
	"    con,\n"
	"    params=(as_of, as_of),\n"
	")\n"
	"issued = con.execute(\"SELECT count(*) FROM invoices WHERE issue_date <= ?\", (as_of,))\n"
	"any_issued = issued.fetchone()[0] > 0\n"
	"con.close()\n"
	"\n"
	"due = pd.to_datetime(open_invoices[\"due_date\"])\n"
	"days_past_due = (pd.Timestamp(as_of) - due).dt.days\n"
	"open_invoices[\"cents\"] = cents(open_invoices[\"amount\"])\n"
	"open_invoices[\"bucket\"] = pd.cut(days_past_due, DAYS_PAST_DUE_EDGES, labels=BUCKETS)\n"
	"aged = open_invoices.groupby(\"bucket\", observed=False)[\"cents\"].agg([\"count\", \"sum\"])\n"
	"aged = aged.reindex(BUCKETS, fill_value=0)\n"
	"amount = aged[\"sum\"].to_numpy(dtype=\"int64\")\n"
	"total = amount.sum()\n"
	"\n"
	"result = pd.DataFrame({\n"
	"    \"bucket\": BUCKETS,\n"
	"    \"invoices\": aged[\"count\"].to_numpy(dtype=\"int64\"),\n"
	"    \"amount\": amount / 100,\n"
	"    \"pct_of_total\": ratio(100 * amount, total, 1) if total else [None] * len(BUCKETS),\n"
	"})\n"
	"# Before the first invoice there is nothing to age: no rows, not zeros.\n"
	"if not any_issued:\n"
	"    result = result.iloc[0:0]\n"
	"\n"
	"result\n";

static const struct tpl_filter filters[] = {
	{ "SELECT EXISTS (SELECT 1 FROM invoices i WHERE i.issue_date <= p.as_of),\n"
	  "       printf('as_of %s (before any invoice)', p.as_of)\n"
	  "FROM params p",
	  "SELECT min(issue_date) || ' to ' || max(issue_date) FROM invoices",
	  "invoice issue dates in the data" },
};

const struct tpl_code tpl_ar_aging = {
	.needs = needs,
	.n_needs = sizeof(needs) / sizeof(needs[0]),
	.filters = filters,
	.n_filters = sizeof(filters) / sizeof(filters[0]),
	.sql = sql,
	.py_imports = py_imports,
	.python = python,
};
