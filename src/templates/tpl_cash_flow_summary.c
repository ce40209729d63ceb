/*
 * Template cash_flow_summary: the direct-method cash flow of a period,
 * month by month. Every ledger line on the cash account is put in a flow
 * by its gl_entries.source (and, for bill payments, the bill's category:
 * equipment is investing). Lines with source 'opening' are the books'
 * starting balances, so they count towards opening cash rather than a
 * flow. For every row opening_cash + net_change = closing_cash, and the
 * flows add up to net_change. A first or last month may be partial.
 */
#include "templates/internal.h"

#include "util/banned.h"

static const char *const gl_entries_columns[] = {
	"entry_date", "account_id", "debit", "credit", "source", "reference", NULL,
};
static const char *const bills_columns[] = { "bill_number", "category", NULL };

static const struct tpl_need needs[] = {
	{ "gl_entries", gl_entries_columns },
	{ "bills", bills_columns },
};

static const char sql[] =
	"cash AS (\n"
	"  -- Every line on the cash account up to the end date, in whole cents, with\n"
	"  -- what caused it. Equipment bills are investing; opening balances are not\n"
	"  -- a flow but part of the opening cash.\n"
	"  SELECT g.entry_date,\n"
	"         CAST(round(g.debit * 100) AS INTEGER)\n"
	"           - CAST(round(g.credit * 100) AS INTEGER) AS cents,\n"
	"         CASE\n"
	"           WHEN g.source = 'opening' THEN 'opening'\n"
	"           WHEN g.source IN ('payment', 'return') THEN 'customers'\n"
	"           WHEN g.source = 'bill_payment' AND b.category = 'equipment'\n"
	"             THEN 'investing'\n"
	"           WHEN g.source = 'bill_payment' THEN 'vendors'\n"
	"           WHEN g.source = 'payroll' THEN 'payroll'\n"
	"           WHEN g.source = 'bank' THEN 'bank_and_loan'\n"
	"           WHEN g.source = 'equity' THEN 'owner'\n"
	"           ELSE 'other'\n"
	"         END AS flow\n"
	"  FROM gl_entries g\n"
	"  JOIN params p ON g.account_id = p.cash_account AND g.entry_date <= p.end_date\n"
	"  LEFT JOIN bills b ON g.source = 'bill_payment' AND b.bill_number = g.reference\n"
	"),\n"
	"before_start AS (\n"
	"  SELECT coalesce(sum(c.cents), 0) AS cents\n"
	"  FROM cash c\n"
	"  JOIN params p ON c.entry_date < p.start_date\n"
	"),\n"
	"by_month AS (\n"
	"  SELECT substr(c.entry_date, 1, 7) AS month,\n"
	"         sum(CASE WHEN flow = 'customers' THEN cents ELSE 0 END) AS customers,\n"
	"         sum(CASE WHEN flow = 'vendors' THEN cents ELSE 0 END) AS vendors,\n"
	"         sum(CASE WHEN flow = 'payroll' THEN cents ELSE 0 END) AS payroll,\n"
	"         sum(CASE WHEN flow = 'bank_and_loan' THEN cents ELSE 0 END)\n"
	"           AS bank_and_loan,\n"
	"         sum(CASE WHEN flow = 'investing' THEN cents ELSE 0 END) AS investing,\n"
	"         sum(CASE WHEN flow = 'owner' THEN cents ELSE 0 END) AS owner,\n"
	"         sum(CASE WHEN flow = 'other' THEN cents ELSE 0 END) AS other,\n"
	"         sum(CASE WHEN flow <> 'opening' THEN cents ELSE 0 END) AS net_change,\n"
	"         sum(cents) AS total\n"
	"  FROM cash c\n"
	"  JOIN params p ON c.entry_date >= p.start_date\n"
	"  GROUP BY month\n"
	"),\n"
	"running AS (\n"
	"  SELECT m.*, b.cents + sum(m.total) OVER (ORDER BY m.month) AS closing\n"
	"  FROM by_month m, before_start b\n"
	")\n"
	"SELECT month,\n"
	"       (closing - net_change) / 100.0 AS opening_cash,\n"
	"       customers / 100.0 AS customers,\n"
	"       vendors / 100.0 AS vendors,\n"
	"       payroll / 100.0 AS payroll,\n"
	"       bank_and_loan / 100.0 AS bank_and_loan,\n"
	"       investing / 100.0 AS investing,\n"
	"       owner / 100.0 AS owner,\n"
	"       other / 100.0 AS other,\n"
	"       net_change / 100.0 AS net_change,\n"
	"       closing / 100.0 AS closing_cash\n"
	"FROM running\n"
	"ORDER BY month;\n";

static const char py_imports[] =
	"import sqlite3\n"
	"\n"
	"import numpy as np\n"
	"import pandas as pd\n";

static const char python[] =
	"FLOWS = [\"customers\", \"vendors\", \"payroll\", \"bank_and_loan\", \"investing\", \"owner\",\n"
	"         \"other\"]\n"
	"\n"
	"\n"
	"con = sqlite3.connect(DATABASE, uri=True)\n"
	"cash = pd.read_sql(\n"
	"    \"SELECT entry_date, debit, credit, source, reference FROM gl_entries\"\n"
	"    \" WHERE account_id = ? AND entry_date <= ?\",\n"
	"    con,\n"
	"    params=(cash_account, end_date),\n"
	")\n"
	"bills = pd.read_sql(\"SELECT bill_number, category FROM bills\", con)\n"
	"con.close()\n"
	"\n"
	"# What caused each line. Equipment bills are investing; opening balances\n"
	"# are not a flow but part of the opening cash.\n"
	"cash[\"cents\"] = cents(cash[\"debit\"]) - cents(cash[\"credit\"])\n"
	"source = cash[\"source\"]\n"
	"bill_category = cash[\"reference\"].map(bills.set_index(\"bill_number\")[\"category\"])\n"
	"cash[\"flow\"] = np.select(\n"
	"    [\n"
	"        source == \"opening\",\n"
	"        source.isin([\"payment\", \"return\"]),\n"
	"        (source == \"bill_payment\") & (bill_category == \"equipment\"),\n"
	"        source == \"bill_payment\",\n"
	"        source == \"payroll\",\n"
	"        source == \"bank\",\n"
	"        source == \"equity\",\n"
	"    ],\n"
	"    [\"opening\", \"customers\", \"investing\", \"vendors\", \"payroll\", \"bank_and_loan\",\n"
	"     \"owner\"],\n"
	"    default=\"other\",\n"
	")\n"
	"\n"
	"before_start = int(cash.loc[cash[\"entry_date\"] < start_date, \"cents\"].sum())\n"
	"period = cash[cash[\"entry_date\"] >= start_date].copy()\n"
	"period[\"month\"] = period[\"entry_date\"].str[:7]\n"
	"flows = period.pivot_table(index=\"month\", columns=\"flow\", values=\"cents\",\n"
	"                           aggfunc=\"sum\", fill_value=0)\n"
	"flows = flows.reindex(columns=FLOWS, fill_value=0)\n"
	"net_change = flows.sum(axis=1)\n"
	"total = period.groupby(\"month\")[\"cents\"].sum().reindex(flows.index)\n"
	"closing = before_start + total.cumsum()\n"
	"\n"
	"result = pd.DataFrame({\"opening_cash\": (closing - net_change) / 100})\n"
	"for flow in FLOWS:\n"
	"    result[flow] = flows[flow] / 100\n"
	"result[\"net_change\"] = net_change / 100\n"
	"result[\"closing_cash\"] = closing / 100\n"
	"result = result.rename_axis(\"month\").reset_index()\n"
	"\n"
	"result\n";

const struct tpl_code tpl_cash_flow_summary = {
	.needs = needs,
	.n_needs = sizeof(needs) / sizeof(needs[0]),
	.sql = sql,
	.py_imports = py_imports,
	.python = python,
	.date_first = "start_date",
	.date_last = "end_date",
};
