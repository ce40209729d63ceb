/*
 * Template pnl_by_month: a profit and loss statement for each month of a
 * year, from the general ledger. Accounts are grouped by accounts.type and
 * subtype: revenue (credits less debits, so returns on the contra-revenue
 * account come off), cost of sales (expense subtype cost_of_sales) and
 * operating expenses (every other expense). Months without ledger lines
 * have no row. The Python version also saves pnl_by_month.png.
 */
#include "templates/internal.h"

#include "util/banned.h"

static const char *const gl_entries_columns[] = {
	"entry_date", "account_id", "debit", "credit", NULL,
};
static const char *const accounts_columns[] = { "account_id", "type", "subtype", NULL };

static const struct tpl_need needs[] = {
	{ "gl_entries", gl_entries_columns },
	{ "accounts", accounts_columns },
};

static const char sql[] =
	"bounds AS (\n"
	"  SELECT printf('%04d-01-01', year) AS first_day,\n"
	"         printf('%04d-12-31', year) AS last_day\n"
	"  FROM params\n"
	"),\n"
	"lines AS (\n"
	"  -- Amounts become whole cents so that totals are exact.\n"
	"  SELECT substr(g.entry_date, 1, 7) AS month,\n"
	"         a.type,\n"
	"         a.subtype,\n"
	"         CAST(round(g.credit * 100) AS INTEGER)\n"
	"           - CAST(round(g.debit * 100) AS INTEGER) AS credit_cents\n"
	"  FROM gl_entries g\n"
	"  JOIN accounts a ON a.account_id = g.account_id\n"
	"  JOIN bounds ON g.entry_date BETWEEN bounds.first_day AND bounds.last_day\n"
	"  WHERE a.type IN ('revenue', 'expense')\n"
	"),\n"
	"pl AS (\n"
	"  SELECT month,\n"
	"         sum(CASE WHEN type = 'revenue' THEN credit_cents ELSE 0 END) AS revenue,\n"
	"         -sum(CASE WHEN type = 'expense' AND subtype = 'cost_of_sales'\n"
	"                   THEN credit_cents ELSE 0 END) AS cost_of_sales,\n"
	"         -sum(CASE WHEN type = 'expense' AND subtype <> 'cost_of_sales'\n"
	"                   THEN credit_cents ELSE 0 END) AS operating_expenses\n"
	"  FROM lines\n"
	"  GROUP BY month\n"
	"),\n"
	"results AS (\n"
	"  SELECT month, revenue, cost_of_sales,\n"
	"         revenue - cost_of_sales AS gross_profit,\n"
	"         operating_expenses,\n"
	"         revenue - cost_of_sales - operating_expenses AS net_income\n"
	"  FROM pl\n"
	")\n"
	"SELECT month,\n"
	"       revenue / 100.0 AS revenue,\n"
	"       cost_of_sales / 100.0 AS cost_of_sales,\n"
	"       gross_profit / 100.0 AS gross_profit,\n"
	"       -- Per cents to one decimal, half away from zero, in whole numbers.\n"
	"       CASE WHEN revenue <> 0 THEN\n"
	"         (CASE WHEN ((1000 * gross_profit) < 0) = (revenue < 0) THEN 1 ELSE -1 END)\n"
	"         * ((2 * abs(1000 * gross_profit) + abs(revenue))\n"
	"           / (2 * abs(revenue))) / 10.0 END AS gross_margin_pct,\n"
	"       operating_expenses / 100.0 AS operating_expenses,\n"
	"       net_income / 100.0 AS net_income,\n"
	"       CASE WHEN revenue <> 0 THEN\n"
	"         (CASE WHEN ((1000 * net_income) < 0) = (revenue < 0) THEN 1 ELSE -1 END)\n"
	"         * ((2 * abs(1000 * net_income) + abs(revenue))\n"
	"           / (2 * abs(revenue))) / 10.0 END AS net_margin_pct\n"
	"FROM results\n"
	"ORDER BY month;\n";

static const char py_imports[] =
	"import os\n"
	"import sqlite3\n"
	"\n"
	"import matplotlib.pyplot as plt\n"
	"import numpy as np\n"
	"import pandas as pd\n";

static const char python[] =
	"con = sqlite3.connect(DATABASE, uri=True)\n"
	"lines = pd.read_sql(\n"
	"    \"SELECT g.entry_date, g.debit, g.credit, a.type, a.subtype\"\n"
	"    \" FROM gl_entries g JOIN accounts a ON a.account_id = g.account_id\"\n"
	"    \" WHERE g.entry_date BETWEEN ? AND ? AND a.type IN ('revenue', 'expense')\",\n"
	"    con,\n"
	"    params=(f\"{year:04d}-01-01\", f\"{year:04d}-12-31\"),\n"
	")\n"
	"con.close()\n"
	"\n"
	"credit_cents = cents(lines[\"credit\"]) - cents(lines[\"debit\"])\n"
	"is_revenue = lines[\"type\"] == \"revenue\"\n"
	"is_expense = lines[\"type\"] == \"expense\"\n"
	"is_cost_of_sales = is_expense & (lines[\"subtype\"] == \"cost_of_sales\")\n"
	"pl = pd.DataFrame({\n"
	"    \"month\": lines[\"entry_date\"].str[:7],\n"
	"    \"revenue\": credit_cents.where(is_revenue, 0),\n"
	"    \"cost_of_sales\": -credit_cents.where(is_cost_of_sales, 0),\n"
	"    \"operating_expenses\": -credit_cents.where(is_expense & ~is_cost_of_sales, 0),\n"
	"}).groupby(\"month\", sort=True).sum().reset_index()\n"
	"\n"
	"gross_profit = pl[\"revenue\"] - pl[\"cost_of_sales\"]\n"
	"net_income = gross_profit - pl[\"operating_expenses\"]\n"
	"result = pd.DataFrame({\n"
	"    \"month\": pl[\"month\"],\n"
	"    \"revenue\": pl[\"revenue\"] / 100,\n"
	"    \"cost_of_sales\": pl[\"cost_of_sales\"] / 100,\n"
	"    \"gross_profit\": gross_profit / 100,\n"
	"    \"gross_margin_pct\": ratio(100 * gross_profit, pl[\"revenue\"], 1),\n"
	"    \"operating_expenses\": pl[\"operating_expenses\"] / 100,\n"
	"    \"net_income\": net_income / 100,\n"
	"    \"net_margin_pct\": ratio(100 * net_income, pl[\"revenue\"], 1),\n"
	"})\n"
	"\n"
	"fig, ax = plt.subplots(figsize=(10, 5))\n"
	"ax.bar(result[\"month\"], result[\"revenue\"], color=\"#c6dbef\", label=\"revenue\")\n"
	"ax.plot(result[\"month\"], result[\"gross_profit\"], marker=\"o\", label=\"gross profit\")\n"
	"ax.plot(result[\"month\"], result[\"net_income\"], marker=\"o\", label=\"net income\")\n"
	"ax.set_title(f\"Profit and loss by month, {year}\")\n"
	"ax.set_ylabel(\"amount\")\n"
	"ax.tick_params(axis=\"x\", labelrotation=45)\n"
	"ax.legend()\n"
	"out_dir = os.environ.get(\"LEDGERBOX_OUT_DIR\", \"/out\")\n"
	"fig.savefig(os.path.join(out_dir, \"pnl_by_month.png\"), dpi=100, bbox_inches=\"tight\")\n"
	"plt.close(fig)\n"
	"\n"
	"result\n";

static const struct tpl_filter filters[] = {
	{ "SELECT EXISTS (SELECT 1 FROM gl_entries g JOIN accounts a USING (account_id)\n"
	  "               WHERE a.type IN ('revenue', 'expense') AND g.entry_date\n"
	  "                 BETWEEN printf('%04d-01-01', p.year) AND printf('%04d-12-31', p.year)),\n"
	  "       printf('year %d', p.year)\n"
	  "FROM params p",
	  "SELECT DISTINCT substr(g.entry_date, 1, 4) FROM gl_entries g JOIN accounts a USING "
	  "(account_id) WHERE a.type IN ('revenue', 'expense') ORDER BY 1",
	  "years with revenue or expense lines in the data" },
};

const struct tpl_code tpl_pnl_by_month = {
	.needs = needs,
	.n_needs = sizeof(needs) / sizeof(needs[0]),
	.filters = filters,
	.n_filters = sizeof(filters) / sizeof(filters[0]),
	.sql = sql,
	.py_imports = py_imports,
	.python = python,
};
