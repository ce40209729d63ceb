/*
 * Template cash_flow_summary: the direct-method cash flow of a period,
 * month by month, in the three activities of a cash flow statement.
 *
 * A journal that moves the cash account balances, so the credits less
 * debits of its other lines add up to the cash it moved; each of those
 * lines is classified by its account (and source): equity is financing
 * (owner), a long-term liability is financing (loan principal), any line
 * of a journal that books a fixed asset (a purchase, or a sale with its
 * accumulated depreciation and gain) or the payment of a bill booked to a
 * fixed asset is investing, and everything else (customers, vendors,
 * payroll, interest, fees) is operating. So a loan instalment splits into
 * principal (financing) and interest (operating), and the proceeds of a
 * sold van are investing as a whole. What is capital comes from the
 * ledger's accounts, never from a bill's category name.
 * Journals with source 'opening' are the books' starting balances: they
 * count towards opening cash rather than a flow. For every row
 * opening_cash + net_change = closing_cash, operating + investing +
 * financing = net_change, and a first or last month may be partial.
 */
#include "templates/internal.h"

#include "util/banned.h"

static const char *const gl_entries_columns[] = {
	"journal_id", "entry_date", "account_id", "debit", "credit", "source", "reference", NULL,
};
static const char *const accounts_columns[] = { "account_id", "type", "subtype", NULL };

static const struct tpl_need needs[] = {
	{ "gl_entries", gl_entries_columns },
	{ "accounts", accounts_columns },
};

static const char sql[] =
	"cash_journals AS (\n"
	"  -- Journals that move the cash account, up to the end date.\n"
	"  SELECT DISTINCT g.journal_id\n"
	"  FROM gl_entries g\n"
	"  JOIN params p ON g.account_id = p.cash_account AND g.entry_date <= p.end_date\n"
	"),\n"
	"fixed_asset_lines AS (\n"
	"  -- Lines on a fixed asset: their journals buy or sell equipment, and a\n"
	"  -- bill booked to one is capital spending.\n"
	"  SELECT g.journal_id, g.source, g.reference\n"
	"  FROM gl_entries g\n"
	"  JOIN accounts a ON a.account_id = g.account_id AND a.subtype = 'fixed_asset'\n"
	"),\n"
	"lines AS (\n"
	"  -- The other lines of those journals. A journal balances, so their credits\n"
	"  -- less debits add up to the cash it moved; each line's account says why.\n"
	"  SELECT g.entry_date,\n"
	"         CAST(round(g.credit * 100) AS INTEGER)\n"
	"           - CAST(round(g.debit * 100) AS INTEGER) AS cents,\n"
	"         CASE\n"
	"           WHEN g.source = 'opening' THEN 'opening'\n"
	"           WHEN a.type = 'equity' THEN 'owner'\n"
	"           WHEN a.type = 'liability' AND a.subtype = 'long_term_liability' THEN 'loan'\n"
	"           WHEN g.journal_id IN (SELECT journal_id FROM fixed_asset_lines)\n"
	"             OR (g.source = 'bill_payment' AND g.reference IN\n"
	"                 (SELECT reference FROM fixed_asset_lines WHERE source = 'bill'))\n"
	"             THEN 'investing'\n"
	"           WHEN g.source IN ('payment', 'return') THEN 'customers'\n"
	"           WHEN g.source = 'bill_payment' THEN 'vendors'\n"
	"           WHEN g.source = 'payroll' THEN 'payroll'\n"
	"           ELSE 'other_operating'\n"
	"         END AS flow\n"
	"  FROM cash_journals j\n"
	"  JOIN gl_entries g ON g.journal_id = j.journal_id\n"
	"  JOIN params p ON g.account_id <> p.cash_account\n"
	"  JOIN accounts a ON a.account_id = g.account_id\n"
	"),\n"
	"before_start AS (\n"
	"  SELECT coalesce(sum(l.cents), 0) AS cents\n"
	"  FROM lines l\n"
	"  JOIN params p ON l.entry_date < p.start_date\n"
	"),\n"
	"by_month AS (\n"
	"  SELECT substr(l.entry_date, 1, 7) AS month,\n"
	"         sum(CASE WHEN flow = 'customers' THEN cents ELSE 0 END) AS customers,\n"
	"         sum(CASE WHEN flow = 'vendors' THEN cents ELSE 0 END) AS vendors,\n"
	"         sum(CASE WHEN flow = 'payroll' THEN cents ELSE 0 END) AS payroll,\n"
	"         sum(CASE WHEN flow = 'other_operating' THEN cents ELSE 0 END)\n"
	"           AS other_operating,\n"
	"         sum(CASE WHEN flow = 'investing' THEN cents ELSE 0 END) AS investing,\n"
	"         sum(CASE WHEN flow = 'loan' THEN cents ELSE 0 END) AS loan,\n"
	"         sum(CASE WHEN flow = 'owner' THEN cents ELSE 0 END) AS owner,\n"
	"         sum(CASE WHEN flow <> 'opening' THEN cents ELSE 0 END) AS net_change,\n"
	"         sum(cents) AS total\n"
	"  FROM lines l\n"
	"  JOIN params p ON l.entry_date >= p.start_date\n"
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
	"       other_operating / 100.0 AS other_operating,\n"
	"       (customers + vendors + payroll + other_operating) / 100.0 AS operating,\n"
	"       investing / 100.0 AS investing,\n"
	"       loan / 100.0 AS loan,\n"
	"       owner / 100.0 AS owner,\n"
	"       (loan + owner) / 100.0 AS financing,\n"
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
	"OPERATING = [\"customers\", \"vendors\", \"payroll\", \"other_operating\"]\n"
	"FINANCING = [\"loan\", \"owner\"]\n"
	"FLOWS = OPERATING + [\"investing\"] + FINANCING\n"
	"\n"
	"\n"
	"con = sqlite3.connect(DATABASE, uri=True)\n"
	"# The other lines of the journals that move the cash account. A journal\n"
	"# balances, so their credits less debits add up to the cash it moved; each\n"
	"# line's account says why.\n"
	"lines = pd.read_sql(\n"
	"    \"SELECT g.journal_id, g.entry_date, g.debit, g.credit, g.source, g.reference,\"\n"
	"    \" a.type, a.subtype\"\n"
	"    \" FROM gl_entries g JOIN accounts a ON a.account_id = g.account_id\"\n"
	"    \" WHERE g.account_id <> ? AND g.journal_id IN\"\n"
	"    \" (SELECT journal_id FROM gl_entries WHERE account_id = ? AND entry_date <= ?)\",\n"
	"    con,\n"
	"    params=(cash_account, cash_account, end_date),\n"
	")\n"
	"# Lines on a fixed asset: their journals buy or sell equipment, and a bill\n"
	"# booked to one is capital spending.\n"
	"fixed = pd.read_sql(\n"
	"    \"SELECT g.journal_id, g.source, g.reference FROM gl_entries g\"\n"
	"    \" JOIN accounts a ON a.account_id = g.account_id AND a.subtype = 'fixed_asset'\",\n"
	"    con,\n"
	")\n"
	"con.close()\n"
	"\n"
	"lines[\"cents\"] = cents(lines[\"credit\"]) - cents(lines[\"debit\"])\n"
	"source = lines[\"source\"]\n"
	"capital_bills = fixed.loc[(fixed[\"source\"] == \"bill\") & fixed[\"reference\"].notna(), \"reference\"]\n"
	"capital = lines[\"journal_id\"].isin(fixed[\"journal_id\"]) | (\n"
	"    (source == \"bill_payment\") & lines[\"reference\"].isin(capital_bills))\n"
	"lines[\"flow\"] = np.select(\n"
	"    [\n"
	"        source == \"opening\",\n"
	"        lines[\"type\"] == \"equity\",\n"
	"        (lines[\"type\"] == \"liability\") & (lines[\"subtype\"] == \"long_term_liability\"),\n"
	"        capital,\n"
	"        source.isin([\"payment\", \"return\"]),\n"
	"        source == \"bill_payment\",\n"
	"        source == \"payroll\",\n"
	"    ],\n"
	"    [\"opening\", \"owner\", \"loan\", \"investing\", \"customers\", \"vendors\", \"payroll\"],\n"
	"    default=\"other_operating\",\n"
	")\n"
	"\n"
	"before_start = int(lines.loc[lines[\"entry_date\"] < start_date, \"cents\"].sum())\n"
	"period = lines[lines[\"entry_date\"] >= start_date].copy()\n"
	"period[\"month\"] = period[\"entry_date\"].str[:7]\n"
	"flows = period.pivot_table(index=\"month\", columns=\"flow\", values=\"cents\",\n"
	"                           aggfunc=\"sum\", fill_value=0)\n"
	"flows = flows.reindex(columns=FLOWS, fill_value=0).astype(\"int64\")\n"
	"net_change = flows.sum(axis=1)\n"
	"total = period.groupby(\"month\")[\"cents\"].sum().reindex(flows.index)\n"
	"closing = before_start + total.cumsum()\n"
	"\n"
	"result = pd.DataFrame({\"opening_cash\": (closing - net_change) / 100})\n"
	"for flow in OPERATING:\n"
	"    result[flow] = flows[flow] / 100\n"
	"result[\"operating\"] = flows[OPERATING].sum(axis=1) / 100\n"
	"result[\"investing\"] = flows[\"investing\"] / 100\n"
	"for flow in FINANCING:\n"
	"    result[flow] = flows[flow] / 100\n"
	"result[\"financing\"] = flows[FINANCING].sum(axis=1) / 100\n"
	"result[\"net_change\"] = net_change / 100\n"
	"result[\"closing_cash\"] = closing / 100\n"
	"result = result.rename_axis(\"month\").reset_index()\n"
	"\n"
	"result\n";

static const struct tpl_filter filters[] = {
	{ "SELECT EXISTS (SELECT 1 FROM gl_entries g WHERE g.account_id = p.cash_account),\n"
	  "       printf('cash account %d', p.cash_account)\n"
	  "FROM params p",
	  "SELECT a.account_id || ' ' || a.name FROM accounts a WHERE a.type = 'asset'\n"
	  "  AND EXISTS (SELECT 1 FROM gl_entries g WHERE g.account_id = a.account_id)\n"
	  "ORDER BY a.account_id",
	  "asset accounts with ledger lines" },
	/* An account with no lines at all is the account's fault, not the
	 * period's: the period is then not named as well. */
	{ "SELECT NOT EXISTS (SELECT 1 FROM gl_entries g WHERE g.account_id = p.cash_account)\n"
	  "       OR EXISTS (SELECT 1 FROM gl_entries g WHERE g.account_id = p.cash_account\n"
	  "                  AND g.entry_date BETWEEN p.start_date AND p.end_date),\n"
	  "       printf('the period %s to %s', p.start_date, p.end_date)\n"
	  "FROM params p",
	  "SELECT min(g.entry_date) || ' to ' || max(g.entry_date) FROM gl_entries g, params p\n"
	  "WHERE g.account_id = p.cash_account",
	  "dates of the cash account's lines in the data" },
};

const struct tpl_code tpl_cash_flow_summary = {
	.needs = needs,
	.n_needs = sizeof(needs) / sizeof(needs[0]),
	.filters = filters,
	.n_filters = sizeof(filters) / sizeof(filters[0]),
	.sql = sql,
	.py_imports = py_imports,
	.python = python,
	.date_first = "start_date",
	.date_last = "end_date",
};
