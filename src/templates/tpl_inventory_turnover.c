/*
 * Template inventory_turnover: cost of goods sold over average stock, by
 * product category and for all of them, from the stock movements. Cost of
 * goods sold is sales at cost less customer returns in the year; average
 * stock is the mean of the twelve month-end stock values (every movement
 * up to that month's end, quantity times unit cost). The "All categories"
 * row comes last. Days on hand use the year's real length.
 */
#include "templates/internal.h"

#include "util/banned.h"

static const char *const inventory_movements_columns[] = {
	"product_id", "movement_date", "movement_type", "quantity", "unit_cost", NULL,
};
static const char *const products_columns[] = { "product_id", "category", NULL };

static const struct tpl_need needs[] = {
	{ "inventory_movements", inventory_movements_columns },
	{ "products", products_columns },
};

static const char sql[] =
	"month_ends (n, month) AS (\n"
	"  SELECT 1, printf('%04d-01', year) FROM params\n"
	"  UNION ALL\n"
	"  SELECT n + 1, printf('%04d-%02d', p.year, n + 1)\n"
	"  FROM month_ends, params p\n"
	"  WHERE n < 12\n"
	"),\n"
	"moves AS (\n"
	"  -- Stock movements up to the end of the year, valued in whole cents.\n"
	"  SELECT pr.category,\n"
	"         substr(m.movement_date, 1, 7) AS month,\n"
	"         m.movement_type,\n"
	"         m.quantity * CAST(round(m.unit_cost * 100) AS INTEGER) AS cents\n"
	"  FROM inventory_movements m\n"
	"  JOIN products pr ON pr.product_id = m.product_id\n"
	"  JOIN params p ON m.movement_date <= printf('%04d-12-31', p.year)\n"
	"),\n"
	"monthly AS (\n"
	"  -- Cost of goods sold: sales at cost less customer returns.\n"
	"  SELECT category, month,\n"
	"         sum(cents) AS net_cents,\n"
	"         -sum(CASE WHEN movement_type IN ('sale', 'return') THEN cents ELSE 0 END)\n"
	"           AS cogs_cents\n"
	"  FROM moves\n"
	"  GROUP BY category, month\n"
	"),\n"
	"per_category AS (\n"
	"  -- stock_sum: the stock value at each of the year's twelve month ends,\n"
	"  -- added up.\n"
	"  SELECT c.category,\n"
	"         (SELECT coalesce(sum(x.cogs_cents), 0)\n"
	"          FROM monthly x, params p\n"
	"          WHERE x.category = c.category\n"
	"            AND x.month >= printf('%04d-01', p.year)) AS cogs,\n"
	"         (SELECT sum(x.net_cents)\n"
	"          FROM monthly x, month_ends e\n"
	"          WHERE x.category = c.category AND x.month <= e.month) AS stock_sum,\n"
	"         (SELECT sum(x.net_cents)\n"
	"          FROM monthly x\n"
	"          WHERE x.category = c.category) AS closing\n"
	"  FROM (SELECT DISTINCT category FROM monthly) c\n"
	"),\n"
	"with_total AS (\n"
	"  SELECT 0 AS is_total, category, cogs, stock_sum, closing FROM per_category\n"
	"  UNION ALL\n"
	"  SELECT 1, 'All categories', sum(cogs), sum(stock_sum), sum(closing)\n"
	"  FROM per_category\n"
	"  HAVING count(*) > 0\n"
	"),\n"
	"year_days AS (\n"
	"  SELECT julianday(printf('%04d-01-01', year + 1))\n"
	"         - julianday(printf('%04d-01-01', year)) AS n\n"
	"  FROM params\n"
	")\n"
	"SELECT category,\n"
	"       cogs / 100.0 AS cogs,\n"
	"       ((2 * stock_sum + 12) / 24) / 100.0 AS avg_inventory,\n"
	"       closing / 100.0 AS closing_inventory,\n"
	"       round(12.0 * cogs / nullif(stock_sum, 0), 2) AS turnover,\n"
	"       round((SELECT n FROM year_days) * stock_sum / 12.0 / nullif(cogs, 0), 1)\n"
	"         AS days_on_hand\n"
	"FROM with_total\n"
	"ORDER BY is_total, category;\n";

static const char py_imports[] =
	"import calendar\n"
	"import sqlite3\n"
	"\n"
	"import pandas as pd\n";

static const char python[] =
	"con = sqlite3.connect(DATABASE, uri=True)\n"
	"moves = pd.read_sql(\n"
	"    \"SELECT p.category, m.movement_date, m.movement_type, m.quantity, m.unit_cost\"\n"
	"    \" FROM inventory_movements m JOIN products p ON p.product_id = m.product_id\"\n"
	"    \" WHERE m.movement_date <= ?\",\n"
	"    con,\n"
	"    params=(f\"{year:04d}-12-31\",),\n"
	")\n"
	"con.close()\n"
	"\n"
	"moves[\"cents\"] = moves[\"quantity\"].astype(\"int64\") * cents(moves[\"unit_cost\"])\n"
	"moves[\"month\"] = moves[\"movement_date\"].str[:7]\n"
	"categories = sorted(moves[\"category\"].unique())\n"
	"\n"
	"# Cost of goods sold: sales at cost less customer returns, in the year.\n"
	"in_year = moves[\"month\"] >= f\"{year:04d}-01\"\n"
	"is_cogs = moves[\"movement_type\"].isin([\"sale\", \"return\"])\n"
	"cogs = -moves[in_year & is_cogs].groupby(\"category\")[\"cents\"].sum()\n"
	"\n"
	"# The stock value at each of the year's twelve month ends, added up.\n"
	"stock_sum = pd.Series(0, index=categories, dtype=\"int64\")\n"
	"for month in range(1, 13):\n"
	"    upto = moves[moves[\"month\"] <= f\"{year:04d}-{month:02d}\"]\n"
	"    stock_sum += upto.groupby(\"category\")[\"cents\"].sum().reindex(categories, fill_value=0)\n"
	"\n"
	"closing = moves.groupby(\"category\")[\"cents\"].sum()\n"
	"\n"
	"table = pd.DataFrame({\n"
	"    \"cogs\": cogs.reindex(categories, fill_value=0),\n"
	"    \"stock_sum\": stock_sum,\n"
	"    \"closing\": closing.reindex(categories, fill_value=0),\n"
	"})\n"
	"if len(table):\n"
	"    table = pd.concat([table, table.sum().to_frame(\"All categories\").T])\n"
	"days_in_year = 366 if calendar.isleap(year) else 365\n"
	"stock_or_nan = table[\"stock_sum\"].where(table[\"stock_sum\"] != 0)\n"
	"cogs_or_nan = table[\"cogs\"].where(table[\"cogs\"] != 0)\n"
	"\n"
	"result = pd.DataFrame({\n"
	"    \"category\": table.index,\n"
	"    \"cogs\": table[\"cogs\"].to_numpy() / 100,\n"
	"    \"avg_inventory\": ((2 * table[\"stock_sum\"] + 12) // 24).to_numpy() / 100,\n"
	"    \"closing_inventory\": table[\"closing\"].to_numpy() / 100,\n"
	"    \"turnover\": (12 * table[\"cogs\"] / stock_or_nan).round(2).to_numpy(),\n"
	"    \"days_on_hand\": (days_in_year * table[\"stock_sum\"] / 12 / cogs_or_nan).round(1)\n"
	"    .to_numpy(),\n"
	"})\n"
	"\n"
	"result\n";

const struct tpl_code tpl_inventory_turnover = {
	.needs = needs,
	.n_needs = sizeof(needs) / sizeof(needs[0]),
	.sql = sql,
	.py_imports = py_imports,
	.python = python,
};
