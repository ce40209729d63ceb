/*
 * Template budget_vs_actual: each revenue and expense account's budget
 * against what the ledger shows, from January to a chosen month of a year.
 * Both are in the account's normal direction (credits for revenue, debits
 * for expenses and for contra-revenue), as budgets are. variance is actual
 * less budget; assessment is "favorable" when that is good news (more on a
 * credit account, less on a debit account), "unfavorable" when it is bad
 * news, and "on budget" when the two are equal to the cent. Accounts with neither budget nor
 * ledger lines in the period are left out. The Python version also saves
 * budget_vs_actual.png.
 */
#include "templates/internal.h"

#include "util/banned.h"

static const char *const budgets_columns[] = { "account_id", "month", "amount", NULL };
static const char *const gl_entries_columns[] = {
	"entry_date", "account_id", "debit", "credit", NULL,
};
static const char *const accounts_columns[] = {
	"account_id", "name", "type", "normal_balance", NULL,
};

static const struct tpl_need needs[] = {
	{ "budgets", budgets_columns },
	{ "gl_entries", gl_entries_columns },
	{ "accounts", accounts_columns },
};

static const char sql[] =
	"bounds AS (\n"
	"  -- Dates are YYYY-MM-DD text, so every day of the last month sorts on or\n"
	"  -- before its \"-31\".\n"
	"  SELECT printf('%04d-01', year) AS first_month,\n"
	"         printf('%04d-%02d', year, through_month) AS last_month,\n"
	"         printf('%04d-01-01', year) AS first_day,\n"
	"         printf('%04d-%02d-31', year, through_month) AS last_day\n"
	"  FROM params\n"
	"),\n"
	"budget AS (\n"
	"  SELECT b.account_id, sum(CAST(round(b.amount * 100) AS INTEGER)) AS cents\n"
	"  FROM budgets b\n"
	"  JOIN bounds ON b.month BETWEEN bounds.first_month AND bounds.last_month\n"
	"  GROUP BY b.account_id\n"
	"),\n"
	"actual AS (\n"
	"  SELECT g.account_id,\n"
	"         sum(CAST(round(g.debit * 100) AS INTEGER)\n"
	"             - CAST(round(g.credit * 100) AS INTEGER)) AS debit_cents\n"
	"  FROM gl_entries g\n"
	"  JOIN bounds ON g.entry_date BETWEEN bounds.first_day AND bounds.last_day\n"
	"  GROUP BY g.account_id\n"
	"),\n"
	"lines AS (\n"
	"  -- Budgets are in each account's normal direction, so actuals are too.\n"
	"  SELECT a.account_id, a.name, a.type, a.normal_balance,\n"
	"         coalesce(bu.cents, 0) AS budget,\n"
	"         CASE a.normal_balance WHEN 'credit' THEN -coalesce(ac.debit_cents, 0)\n"
	"                               ELSE coalesce(ac.debit_cents, 0) END AS actual\n"
	"  FROM accounts a\n"
	"  LEFT JOIN budget bu ON bu.account_id = a.account_id\n"
	"  LEFT JOIN actual ac ON ac.account_id = a.account_id\n"
	"  WHERE a.type IN ('revenue', 'expense')\n"
	"    AND (bu.account_id IS NOT NULL OR ac.account_id IS NOT NULL)\n"
	")\n"
	"SELECT account_id,\n"
	"       name AS account,\n"
	"       type,\n"
	"       budget / 100.0 AS budget,\n"
	"       actual / 100.0 AS actual,\n"
	"       (actual - budget) / 100.0 AS variance,\n"
	"       -- Per cent to one decimal, half away from zero, in whole numbers.\n"
	"       CASE WHEN budget <> 0 THEN\n"
	"         (CASE WHEN ((1000 * (actual - budget)) < 0) = (budget < 0) THEN 1 ELSE -1 END)\n"
	"         * ((2 * abs(1000 * (actual - budget)) + abs(budget))\n"
	"           / (2 * abs(budget))) / 10.0 END AS variance_pct,\n"
	"       -- Good news is more on a credit account, less on a debit account; no\n"
	"       -- difference at all is neither.\n"
	"       CASE WHEN actual = budget THEN 'on budget'\n"
	"            WHEN (normal_balance = 'credit') = (actual > budget) THEN 'favorable'\n"
	"            ELSE 'unfavorable' END AS assessment\n"
	"FROM lines\n"
	"ORDER BY account_id;\n";

static const char py_imports[] =
	"import os\n"
	"import sqlite3\n"
	"\n"
	"import matplotlib.pyplot as plt\n"
	"import numpy as np\n"
	"import pandas as pd\n";

static const char python[] =
	"con = sqlite3.connect(DATABASE, uri=True)\n"
	"accounts = pd.read_sql(\n"
	"    \"SELECT account_id, name, type, normal_balance FROM accounts\"\n"
	"    \" WHERE type IN ('revenue', 'expense') ORDER BY account_id\",\n"
	"    con,\n"
	")\n"
	"budgets = pd.read_sql(\n"
	"    \"SELECT account_id, amount FROM budgets WHERE month BETWEEN ? AND ?\",\n"
	"    con,\n"
	"    params=(f\"{year:04d}-01\", f\"{year:04d}-{through_month:02d}\"),\n"
	")\n"
	"# Dates are YYYY-MM-DD text, so every day of the last month sorts on or\n"
	"# before its \"-31\".\n"
	"lines = pd.read_sql(\n"
	"    \"SELECT account_id, debit, credit FROM gl_entries\"\n"
	"    \" WHERE entry_date BETWEEN ? AND ?\",\n"
	"    con,\n"
	"    params=(f\"{year:04d}-01-01\", f\"{year:04d}-{through_month:02d}-31\"),\n"
	")\n"
	"con.close()\n"
	"\n"
	"budget = cents(budgets[\"amount\"]).groupby(budgets[\"account_id\"]).sum()\n"
	"lines[\"debit_cents\"] = cents(lines[\"debit\"]) - cents(lines[\"credit\"])\n"
	"debit_cents = lines.groupby(\"account_id\")[\"debit_cents\"].sum()\n"
	"\n"
	"# Budgets are in each account's normal direction, so actuals are too.\n"
	"ids = accounts[\"account_id\"]\n"
	"table = accounts[ids.isin(budget.index) | ids.isin(debit_cents.index)]\n"
	"table = table.reset_index(drop=True)\n"
	"sign = table[\"normal_balance\"].map({\"credit\": -1}).fillna(1).astype(\"int64\")\n"
	"budget_cents = table[\"account_id\"].map(budget).fillna(0).astype(\"int64\")\n"
	"actual_cents = sign * table[\"account_id\"].map(debit_cents).fillna(0).astype(\"int64\")\n"
	"variance = actual_cents - budget_cents\n"
	"# Good news is more on a credit account, less on a debit account; no\n"
	"# difference at all is neither.\n"
	"assessment = np.where(variance == 0, \"on budget\",\n"
	"                      np.where((sign < 0) == (variance > 0), \"favorable\", \"unfavorable\"))\n"
	"\n"
	"result = pd.DataFrame({\n"
	"    \"account_id\": table[\"account_id\"],\n"
	"    \"account\": table[\"name\"],\n"
	"    \"type\": table[\"type\"],\n"
	"    \"budget\": budget_cents / 100,\n"
	"    \"actual\": actual_cents / 100,\n"
	"    \"variance\": variance / 100,\n"
	"    \"variance_pct\": ratio(100 * variance, budget_cents, 1),\n"
	"    \"assessment\": assessment,\n"
	"})\n"
	"\n"
	"fig, ax = plt.subplots(figsize=(10, max(3, 0.4 * len(result))))\n"
	"COLORS = {\"favorable\": \"#2ca25f\", \"unfavorable\": \"#de2d26\", \"on budget\": \"#969696\"}\n"
	"colors = [COLORS[a] for a in result[\"assessment\"]]\n"
	"ax.barh(result[\"account\"], result[\"variance_pct\"].fillna(0), color=colors)\n"
	"ax.axvline(0, color=\"black\", linewidth=0.8)\n"
	"ax.invert_yaxis()\n"
	"ax.set_xlabel(\"variance against budget, %\")\n"
	"ax.set_title(f\"Budget against actual, {year}-01 to {year}-{through_month:02d}\"\n"
	"             \" (green: favorable, red: unfavorable, grey: on budget)\")\n"
	"out_dir = os.environ.get(\"LEDGERBOX_OUT_DIR\", \"/out\")\n"
	"fig.savefig(os.path.join(out_dir, \"budget_vs_actual.png\"), dpi=100, bbox_inches=\"tight\")\n"
	"plt.close(fig)\n"
	"\n"
	"result\n";

static const struct tpl_filter filters[] = {
	{ "SELECT EXISTS (SELECT 1 FROM budgets b WHERE b.month\n"
	  "                 BETWEEN printf('%04d-01', p.year) AND printf('%04d-12', p.year))\n"
	  "       OR EXISTS (SELECT 1 FROM gl_entries g JOIN accounts a USING (account_id)\n"
	  "                  WHERE a.type IN ('revenue', 'expense') AND g.entry_date\n"
	  "                    BETWEEN printf('%04d-01-01', p.year) AND printf('%04d-12-31', p.year)),\n"
	  "       printf('year %d', p.year)\n"
	  "FROM params p",
	  "SELECT substr(month, 1, 4) FROM budgets\n"
	  "UNION\n"
	  "SELECT substr(g.entry_date, 1, 4) FROM gl_entries g JOIN accounts a USING (account_id)\n"
	  "WHERE a.type IN ('revenue', 'expense')\n"
	  "ORDER BY 1",
	  "years with budgets or revenue and expense lines in the data" },
};

const struct tpl_code tpl_budget_vs_actual = {
	.needs = needs,
	.n_needs = sizeof(needs) / sizeof(needs[0]),
	.filters = filters,
	.n_filters = sizeof(filters) / sizeof(filters[0]),
	.sql = sql,
	.py_imports = py_imports,
	.python = python,
};
