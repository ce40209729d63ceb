/*
 * Template inventory_turnover: cost of sales over average stock, by
 * product category and for all of them, in a year.
 *
 * Cost of sales is the P&L's: debits less credits on the expense accounts
 * of subtype cost_of_sales (goods sold, shrinkage, freight in). The part
 * the stock movements explain (sales less returns at cost, and count
 * adjustments) is each category's goods_cost; the rest (freight in, in the
 * demo) is spread over the categories in proportion to their goods cost,
 * so the categories add up to the P&L's figure to the cent. Average stock
 * is (opening + closing) / 2, or with average = monthly the mean of the
 * twelve month-end values; opening stock movements (reference 'OPENING')
 * count as before the year. The "All categories" row comes last. Days on
 * hand use the year's real length. A year with no movement and no cost of
 * sales has no rows.
 */
#include "templates/internal.h"

#include "util/banned.h"

static const char *const inventory_movements_columns[] = {
	"product_id", "movement_date", "movement_type", "quantity", "unit_cost", "reference", NULL,
};
static const char *const products_columns[] = { "product_id", "category", NULL };
static const char *const gl_entries_columns[] = {
	"entry_date", "account_id", "debit", "credit", NULL,
};
static const char *const accounts_columns[] = { "account_id", "type", "subtype", NULL };

static const struct tpl_need needs[] = {
	{ "inventory_movements", inventory_movements_columns },
	{ "products", products_columns },
	{ "gl_entries", gl_entries_columns },
	{ "accounts", accounts_columns },
};

static const char sql[] =
	"bounds AS (\n"
	"  SELECT printf('%04d-01-01', year) AS first_day,\n"
	"         printf('%04d-12-31', year) AS last_day,\n"
	"         julianday(printf('%04d-01-01', year + 1))\n"
	"           - julianday(printf('%04d-01-01', year)) AS days\n"
	"  FROM params\n"
	"),\n"
	"month_ends (n, month) AS (\n"
	"  SELECT 1, printf('%04d-01', year) FROM params\n"
	"  UNION ALL\n"
	"  SELECT n + 1, printf('%04d-%02d', p.year, n + 1)\n"
	"  FROM month_ends, params p\n"
	"  WHERE n < 12\n"
	"),\n"
	"moves AS (\n"
	"  -- Stock movements up to the end of the year, each valued in whole cents\n"
	"  -- (quantity times unit cost, then rounded: a unit cost may have more than\n"
	"  -- two decimals).\n"
	"  -- Opening stock (reference 'OPENING') belongs before the books' first day.\n"
	"  SELECT pr.category, m.movement_type,\n"
	"         CASE WHEN m.reference = 'OPENING' THEN '0000-00-00'\n"
	"              ELSE m.movement_date END AS movement_date,\n"
	"         CASE WHEN m.reference = 'OPENING' THEN '0000-00'\n"
	"              ELSE substr(m.movement_date, 1, 7) END AS month,\n"
	"         CAST(round(m.quantity * m.unit_cost * 100) AS INTEGER) AS cents\n"
	"  FROM inventory_movements m\n"
	"  JOIN products pr ON pr.product_id = m.product_id\n"
	"  JOIN bounds b ON m.movement_date <= b.last_day\n"
	"),\n"
	"pl_cost AS (\n"
	"  -- Cost of sales as the P&L counts it: debits less credits on expense\n"
	"  -- accounts of subtype cost_of_sales in the year.\n"
	"  SELECT coalesce(sum(CAST(round(g.debit * 100) AS INTEGER)\n"
	"                      - CAST(round(g.credit * 100) AS INTEGER)), 0) AS cents,\n"
	"         count(*) AS lines\n"
	"  FROM gl_entries g\n"
	"  JOIN accounts a ON a.account_id = g.account_id\n"
	"  JOIN bounds b ON g.entry_date BETWEEN b.first_day AND b.last_day\n"
	"  WHERE a.type = 'expense' AND a.subtype = 'cost_of_sales'\n"
	"),\n"
	"stock AS (\n"
	"  -- goods: stock that left in the year as sales, came back as returns or\n"
	"  -- was found short or over at a count (shrinkage), at cost.\n"
	"  SELECT m.category,\n"
	"         -sum(CASE WHEN m.movement_type IN ('sale', 'return', 'adjustment')\n"
	"                    AND m.movement_date >= b.first_day THEN m.cents ELSE 0 END) AS goods,\n"
	"         sum(CASE WHEN m.movement_date < b.first_day THEN m.cents ELSE 0 END) AS opening,\n"
	"         sum(m.cents) AS closing,\n"
	"         sum(m.movement_date >= b.first_day) AS in_year\n"
	"  FROM moves m, bounds b\n"
	"  GROUP BY m.category\n"
	"),\n"
	"month_end_sums AS (\n"
	"  -- The stock value at each of the year's twelve month ends, added up.\n"
	"  SELECT m.category, sum(m.cents) AS cents\n"
	"  FROM moves m, month_ends e\n"
	"  WHERE m.month <= e.month\n"
	"  GROUP BY m.category\n"
	"),\n"
	"spread AS (\n"
	"  -- The P&L's cost of sales that no movement explains (freight in, in the\n"
	"  -- demo) goes to categories in proportion to their goods cost: each gets\n"
	"  -- the difference of the rounded running shares, so the parts add up to\n"
	"  -- the whole exactly.\n"
	"  SELECT s.category, s.goods, s.opening, s.closing, ms.cents AS month_end_sum,\n"
	"         pc.cents - sum(s.goods) OVER () AS other,\n"
	"         sum(s.goods) OVER (ORDER BY s.category) AS running,\n"
	"         sum(s.goods) OVER () AS all_goods\n"
	"  FROM stock s\n"
	"  JOIN month_end_sums ms ON ms.category = s.category\n"
	"  CROSS JOIN pl_cost pc\n"
	"),\n"
	"per_category AS (\n"
	"  SELECT category, goods, opening, closing, month_end_sum,\n"
	"         CASE WHEN all_goods > 0 THEN\n"
	"           (CASE WHEN other * running >= 0\n"
	"                 THEN (2 * other * running + all_goods) / (2 * all_goods)\n"
	"                 ELSE -((-2 * other * running + all_goods) / (2 * all_goods)) END)\n"
	"           - (CASE WHEN other * (running - goods) >= 0\n"
	"                   THEN (2 * other * (running - goods) + all_goods) / (2 * all_goods)\n"
	"                   ELSE -((-2 * other * (running - goods) + all_goods) / (2 * all_goods)) END)\n"
	"         ELSE 0 END AS other\n"
	"  FROM spread\n"
	"),\n"
	"with_total AS (\n"
	"  SELECT 0 AS is_total, category, goods, other, goods + other AS cost,\n"
	"         opening, closing, month_end_sum\n"
	"  FROM per_category\n"
	"  UNION ALL\n"
	"  -- The total is the P&L's figure, whatever the categories explain.\n"
	"  SELECT 1, 'All categories', sum(goods), (SELECT cents FROM pl_cost) - sum(goods),\n"
	"         (SELECT cents FROM pl_cost), sum(opening), sum(closing), sum(month_end_sum)\n"
	"  FROM per_category\n"
	"  HAVING count(*) > 0\n"
	"),\n"
	"averaged AS (\n"
	"  SELECT t.*,\n"
	"         CASE p.average WHEN 'monthly' THEN t.month_end_sum\n"
	"                        ELSE t.opening + t.closing END AS stock_sum,\n"
	"         CASE p.average WHEN 'monthly' THEN 12 ELSE 2 END AS points\n"
	"  FROM with_total t, params p\n"
	"  -- A year with no movement and no cost of sales has nothing to report.\n"
	"  WHERE (SELECT sum(in_year) FROM stock) > 0 OR (SELECT lines FROM pl_cost) > 0\n"
	")\n"
	"SELECT category,\n"
	"       goods / 100.0 AS goods_cost,\n"
	"       other / 100.0 AS freight_and_other,\n"
	"       cost / 100.0 AS cost_of_sales,\n"
	"       opening / 100.0 AS opening_inventory,\n"
	"       closing / 100.0 AS closing_inventory,\n"
	"       -- Ratios rounded half away from zero, in whole numbers: the average to\n"
	"       -- the cent, turnover to two decimals, days on hand to one.\n"
	"       (CASE WHEN stock_sum < 0 THEN -1 ELSE 1 END)\n"
	"         * ((2 * abs(stock_sum) + points) / (2 * points)) / 100.0 AS avg_inventory,\n"
	"       CASE WHEN stock_sum <> 0 THEN\n"
	"         (CASE WHEN ((100 * points * cost) < 0) = (stock_sum < 0) THEN 1 ELSE -1 END)\n"
	"         * ((2 * abs(100 * points * cost) + abs(stock_sum))\n"
	"           / (2 * abs(stock_sum))) / 100.0 END AS turnover,\n"
	"       CASE WHEN cost <> 0 THEN\n"
	"         (CASE WHEN ((10 * days * stock_sum) < 0) = (cost < 0) THEN 1 ELSE -1 END)\n"
	"         * ((2 * abs(10 * days * stock_sum) + abs(points * cost))\n"
	"           / (2 * abs(points * cost))) / 10.0 END AS days_on_hand\n"
	"FROM averaged, (SELECT CAST(days AS INTEGER) AS days FROM bounds)\n"
	"ORDER BY is_total, category;\n";

static const char py_imports[] =
	"import calendar\n"
	"import sqlite3\n"
	"\n"
	"import numpy as np\n"
	"import pandas as pd\n";

static const char python[] =
	"con = sqlite3.connect(DATABASE, uri=True)\n"
	"moves = pd.read_sql(\n"
	"    \"SELECT p.category, m.movement_date, m.movement_type, m.quantity, m.unit_cost, m.reference\"\n"
	"    \" FROM inventory_movements m JOIN products p ON p.product_id = m.product_id\"\n"
	"    \" WHERE m.movement_date <= ?\",\n"
	"    con,\n"
	"    params=(f\"{year:04d}-12-31\",),\n"
	")\n"
	"# Cost of sales as the P&L counts it: debits less credits on expense\n"
	"# accounts of subtype cost_of_sales in the year.\n"
	"pl_lines = pd.read_sql(\n"
	"    \"SELECT g.debit, g.credit FROM gl_entries g JOIN accounts a ON a.account_id = g.account_id\"\n"
	"    \" WHERE a.type = 'expense' AND a.subtype = 'cost_of_sales' AND g.entry_date BETWEEN ? AND ?\",\n"
	"    con,\n"
	"    params=(f\"{year:04d}-01-01\", f\"{year:04d}-12-31\"),\n"
	")\n"
	"con.close()\n"
	"pl_cost = int((cents(pl_lines[\"debit\"]) - cents(pl_lines[\"credit\"])).sum())\n"
	"\n"
	"\n"
	"def round_div(a, b):\n"
	"    \"\"\"a / b rounded to the nearest whole number, half away from zero (b > 0).\"\"\"\n"
	"    return np.where(a >= 0, (2 * a + b) // (2 * b), -((-2 * a + b) // (2 * b)))\n"
	"\n"
	"\n"
	"# Each movement valued in whole cents (quantity times unit cost, then\n"
	"# rounded: a unit cost may have more than two decimals).\n"
	"moves[\"cents\"] = cents(moves[\"quantity\"] * moves[\"unit_cost\"])\n"
	"# Opening stock (reference 'OPENING') belongs before the books' first day.\n"
	"opening_stock = moves[\"reference\"] == \"OPENING\"\n"
	"moves[\"month\"] = moves[\"movement_date\"].str[:7].where(~opening_stock, \"0000-00\")\n"
	"categories = sorted(moves[\"category\"].unique())\n"
	"before = moves[\"month\"] < f\"{year:04d}-01\"\n"
	"in_year = ~before\n"
	"\n"
	"\n"
	"def by_category(rows):\n"
	"    return rows.groupby(\"category\")[\"cents\"].sum().reindex(categories, fill_value=0)\n"
	"\n"
	"\n"
	"# goods: stock that left in the year as sales, came back as returns or was\n"
	"# found short or over at a count (shrinkage), at cost.\n"
	"is_goods = moves[\"movement_type\"].isin([\"sale\", \"return\", \"adjustment\"])\n"
	"table = pd.DataFrame({\n"
	"    \"goods\": -by_category(moves[in_year & is_goods]),\n"
	"    \"opening\": by_category(moves[before]),\n"
	"    \"closing\": by_category(moves),\n"
	"}, dtype=\"int64\")\n"
	"# The stock value at each of the year's twelve month ends, added up.\n"
	"table[\"month_end_sum\"] = 0\n"
	"for month in range(1, 13):\n"
	"    table[\"month_end_sum\"] += by_category(moves[moves[\"month\"] <= f\"{year:04d}-{month:02d}\"])\n"
	"\n"
	"# The P&L's cost of sales that no movement explains (freight in, in the\n"
	"# demo) goes to categories in proportion to their goods cost: each gets the\n"
	"# difference of the rounded running shares, so the parts add up exactly.\n"
	"all_goods = int(table[\"goods\"].sum())\n"
	"other = pl_cost - all_goods\n"
	"if all_goods > 0:\n"
	"    running = table[\"goods\"].cumsum().to_numpy()\n"
	"    shares = round_div(other * running, all_goods)\n"
	"    table[\"other\"] = shares - np.concatenate(([0], shares[:-1]))\n"
	"else:\n"
	"    table[\"other\"] = 0\n"
	"table[\"cost\"] = table[\"goods\"] + table[\"other\"]\n"
	"if len(table):\n"
	"    total = table.sum()\n"
	"    # The total is the P&L's figure, whatever the categories explain.\n"
	"    total[\"other\"] = other\n"
	"    total[\"cost\"] = pl_cost\n"
	"    table = pd.concat([table, total.to_frame(\"All categories\").T])\n"
	"# A year with no movement and no cost of sales has nothing to report.\n"
	"if not in_year.any() and pl_lines.empty:\n"
	"    table = table.iloc[0:0]\n"
	"\n"
	"if average == \"monthly\":\n"
	"    stock_sum, points = table[\"month_end_sum\"], 12\n"
	"else:\n"
	"    stock_sum, points = table[\"opening\"] + table[\"closing\"], 2\n"
	"days_in_year = 366 if calendar.isleap(year) else 365\n"

	"\n"
	"result = pd.DataFrame({\n"
	"    \"category\": table.index,\n"
	"    \"goods_cost\": table[\"goods\"].to_numpy() / 100,\n"
	"    \"freight_and_other\": table[\"other\"].to_numpy() / 100,\n"
	"    \"cost_of_sales\": table[\"cost\"].to_numpy() / 100,\n"
	"    \"opening_inventory\": table[\"opening\"].to_numpy() / 100,\n"
	"    \"closing_inventory\": table[\"closing\"].to_numpy() / 100,\n"
	"    # Ratios rounded half away from zero, in whole numbers: the average to\n"
	"    # the cent, turnover to two decimals, days on hand to one.\n"
	"    \"avg_inventory\": ratio(stock_sum, points, 0) / 100,\n"
	"    \"turnover\": ratio(points * table[\"cost\"], stock_sum, 2),\n"
	"    \"days_on_hand\": ratio(days_in_year * stock_sum, points * table[\"cost\"], 1),\n"
	"})\n"
	"\n"
	"result\n";

static const struct tpl_filter filters[] = {
	{ "SELECT EXISTS (SELECT 1 FROM inventory_movements m\n"
	  "               WHERE m.movement_date BETWEEN printf('%04d-01-01', p.year)\n"
	  "                                         AND printf('%04d-12-31', p.year))\n"
	  "       OR EXISTS (SELECT 1 FROM gl_entries g JOIN accounts a USING (account_id)\n"
	  "                  WHERE a.type = 'expense' AND a.subtype = 'cost_of_sales'\n"
	  "                    AND g.entry_date BETWEEN printf('%04d-01-01', p.year)\n"
	  "                                         AND printf('%04d-12-31', p.year)),\n"
	  "       printf('year %d', p.year)\n"
	  "FROM params p",
	  "SELECT DISTINCT substr(movement_date, 1, 4) FROM inventory_movements ORDER BY 1",
	  "years with stock movements in the data" },
};

const struct tpl_code tpl_inventory_turnover = {
	.needs = needs,
	.n_needs = sizeof(needs) / sizeof(needs[0]),
	.filters = filters,
	.n_filters = sizeof(filters) / sizeof(filters[0]),
	.sql = sql,
	.py_imports = py_imports,
	.python = python,
};
