/*
 * prompt_text: the fixed wording of prompts — the rules of the SQL dialect
 * and of the Python sandbox, and the worked examples.
 *
 * The rules say only what docs/python-driver.md and docs/sql-runner.md
 * promise. The examples use a made-up table, example_orders, and say so:
 * examples built from the real schema would have to guess what its columns
 * mean, and a wrong guess teaches the model a wrong query.
 */
#include "llm/prompt.h"

#include <errno.h>
#include <string.h>

#include "util/buf.h"

#include "util/banned.h"

static const char sql_rules[] =
	"Rules:\n"
	"- Dialect: SQLite 3. Dates are usually TEXT 'YYYY-MM-DD': use strftime('%Y-%m', d),"
	" date(), julianday() and substr(). There is no DATE_TRUNC, EXTRACT, ILIKE, TOP or NOW().\n"
	"- Exactly one read-only statement: SELECT, or WITH ... SELECT. The database is read-only:"
	" never INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, ATTACH, PRAGMA or transactions.\n"
	"- Use only the tables and columns listed under Schema, spelled exactly; put double quotes"
	" around a name that is not a plain word.\n"
	"- The rows the query returns are shown to the analyst as a table (the first 1000 rows)."
	" SQL cannot draw charts: when a chart is asked for, return the columns it would plot, in"
	" order.\n"
	"- Name computed columns with AS; round money with round(x, 2).\n"
	"- Reply with exactly one fenced code block that starts with ```sql and holds the whole"
	" query. No other code blocks.\n";

/* For a dataset in PostgreSQL (schema->postgres). The worked examples
 * that follow are shared with SQLite, so the rules say how to read them. */
static const char pg_sql_rules[] =
	"Rules:\n"
	"- Dialect: PostgreSQL 15. Dates are usually DATE or TIMESTAMP columns: use"
	" date_trunc('month', d), to_char(d, 'YYYY-MM'), EXTRACT(YEAR FROM d), CURRENT_DATE and"
	" intervals (d - INTERVAL '30 days'). There is no strftime(), julianday() or date('now').\n"
	"- Exactly one read-only statement: SELECT, or WITH ... SELECT. The database is read-only:"
	" never INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, COPY, SET, nextval() or transactions.\n"
	"- Use only the tables and columns listed under Schema, spelled exactly; put double quotes"
	" around a name that is not a plain lower-case word (unquoted names are folded to lower"
	" case).\n"
	"- The rows the query returns are shown to the analyst as a table (the first 1000 rows)."
	" SQL cannot draw charts: when a chart is asked for, return the columns it would plot, in"
	" order.\n"
	"- Name computed columns with AS; round money with round(x::numeric, 2) (round() with"
	" digits needs numeric).\n"
	"- The examples below are written for SQLite: in PostgreSQL write to_char(d, 'YYYY-MM')"
	" for strftime('%Y-%m', d) and round(x::numeric, 2) for round(x, 2).\n"
	"- Reply with exactly one fenced code block that starts with ```sql and holds the whole"
	" query. No other code blocks.\n";

static const char python_rules[] =
	"The program runs in a sandbox, like one notebook cell:\n"
	"- Available: the Python standard library, pandas, numpy and matplotlib. Nothing can be"
	" installed and there is no network.\n";

static const char python_output_rules[] =
	"- Write files only to /out (charts, exports); /tmp is scratch space.\n"
	"- print() what the analyst should read. When the program's last line is an expression that"
	" gives a pandas DataFrame or Series, it is shown to the analyst as a table: end with it"
	" instead of printing it.\n"
	"- Charts: draw with matplotlib (import matplotlib.pyplot as plt). Every open figure is saved"
	" as a PNG automatically, or save one yourself with plt.savefig(\"/out/name.png\");"
	" plt.show() is not needed.\n"
	"- Reply with exactly one fenced code block that starts with ```python and holds the whole"
	" program. No other code blocks.\n";

static const char sql_examples[] =
	"Examples (on a made-up table example_orders(order_date TEXT, region TEXT, amount REAL);"
	" your query must use the tables under Schema):\n"
	"\n"
	"Request: total amount by region\n"
	"```sql\n"
	"SELECT region, round(sum(amount), 2) AS total\n"
	"FROM example_orders\n"
	"GROUP BY region\n"
	"ORDER BY total DESC;\n"
	"```\n"
	"\n"
	"Request: amount by month for 2025 with a chart\n"
	"```sql\n"
	"SELECT strftime('%Y-%m', order_date) AS month, round(sum(amount), 2) AS total\n"
	"FROM example_orders\n"
	"WHERE order_date >= '2025-01-01' AND order_date < '2026-01-01'\n"
	"GROUP BY month\n"
	"ORDER BY month;\n"
	"```\n"
	"\n"
	"Request: share of each region in the total, largest first\n"
	"```sql\n"
	"WITH totals AS (\n"
	"  SELECT region, sum(amount) AS amount FROM example_orders GROUP BY region\n"
	")\n"
	"SELECT region, round(amount, 2) AS amount,\n"
	"       round(100.0 * amount / (SELECT sum(amount) FROM totals), 1) AS percent\n"
	"FROM totals\n"
	"ORDER BY amount DESC;\n"
	"```\n";

static const char python_examples[] =
	"Examples (on a made-up table example_orders(order_date, region, amount), in"
	" /data/example_orders.csv and /data/example.sqlite; your program must use the files and"
	" tables of this dataset):\n"
	"\n"
	"Request: total amount by region\n"
	"```python\n"
	"import pandas as pd\n"
	"\n"
	"orders = pd.read_csv(\"/data/example_orders.csv\", keep_default_na=False, na_values=[\"\"])\n"
	"orders.groupby(\"region\", as_index=False)[\"amount\"].sum().sort_values(\"amount\","
	" ascending=False)\n"
	"```\n"
	"\n"
	"Request: amount by month for 2025 with a chart\n"
	"```python\n"
	"import pandas as pd\n"
	"import matplotlib.pyplot as plt\n"
	"\n"
	"orders = pd.read_csv(\"/data/example_orders.csv\", parse_dates=[\"order_date\"])\n"
	"orders = orders[orders[\"order_date\"].dt.year == 2025]\n"
	"monthly = orders.groupby(orders[\"order_date\"].dt.strftime(\"%Y-%m\"))[\"amount\"].sum()\n"
	"monthly = monthly.rename_axis(\"month\").reset_index()\n"
	"ax = monthly.plot(x=\"month\", y=\"amount\", kind=\"bar\", legend=False,"
	" title=\"Amount by month, 2025\")\n"
	"ax.set_ylabel(\"amount\")\n"
	"plt.tight_layout()\n"
	"monthly\n"
	"```\n"
	"\n"
	"Request: number of orders per region, from the SQLite file\n"
	"```python\n"
	"import sqlite3\n"
	"import pandas as pd\n"
	"\n"
	"con = sqlite3.connect(\"file:/data/example.sqlite?mode=ro&immutable=1\", uri=True)\n"
	"counts = pd.read_sql_query(\n"
	"    \"SELECT region, count(*) AS orders FROM example_orders GROUP BY region\", con)\n"
	"print(f\"{len(counts)} regions\")\n"
	"counts\n"
	"```\n";

const char *prompt_examples(const char *language)
{
	if (language && strcmp(language, "sql") == 0)
		return sql_examples;
	if (language && strcmp(language, "python") == 0)
		return python_examples;
	return "";
}

static int append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

/* Names go in double quotes with any double quote doubled, so a name is
 * always one unambiguous token of the prompt. */
static int append_quoted(struct buf *b, const char *s)
{
	int r = buf_append(b, "\"", 1);

	for (const char *q; r == 0 && (q = strchr(s, '"')); s = q + 1) {
		r = buf_append(b, s, (size_t)(q - s) + 1);
		if (r == 0)
			r = buf_append(b, "\"", 1);
	}
	if (r == 0)
		r = append_str(b, s);
	return r ? r : buf_append(b, "\"", 1);
}

static int sql_intro(struct buf *b, const struct schema *s)
{
	int r = append_str(b, "You are the SQL assistant of ledgerbox, a data analysis service. You"
			      " write one ");

	if (r == 0)
		r = append_str(b, s && s->postgres ? "PostgreSQL" : "SQLite");
	if (r == 0)
		r = append_str(b, " query that answers an analyst's request about the dataset");

	if (r == 0 && s && s->dataset && *s->dataset) {
		r = append_str(b, " ");
		if (r == 0)
			r = append_quoted(b, s->dataset);
	}
	if (r == 0 && s && s->sqlite_file) {
		r = append_str(b, " (SQLite file ");
		if (r == 0)
			r = append_quoted(b, s->sqlite_file);
		if (r == 0)
			r = append_str(b, ")");
	}
	return r ? r : append_str(b, ".\n\n");
}

static int python_files(struct buf *b, const struct schema *s)
{
	int r;

	if (!s) {
		return append_str(b, "- No dataset is attached: /data is empty. Work only with data"
				     " given in the request or made in the program.\n");
	}
	r = append_str(b, "- The dataset's files are read-only in /data:");
	for (size_t i = 0; r == 0 && i < s->n_files; i++) {
		r = append_str(b, i ? ", " : " ");
		if (r == 0)
			r = append_str(b, s->files[i]);
	}
	if (r == 0 && s->n_files == 0 && s->sqlite_file) {
		r = append_str(b, " ");
		if (r == 0)
			r = append_str(b, s->sqlite_file);
	}
	if (r == 0)
		r = append_str(b, ".\n- Read a table from its CSV file when the schema names one"
				  " (pd.read_csv); otherwise query the SQLite file with"
				  " sqlite3.connect(\"file:/data/");
	if (r == 0)
		r = append_str(b, s->sqlite_file ? s->sqlite_file : "");
	if (r == 0)
		r = append_str(b, "?mode=ro&immutable=1\", uri=True) and pd.read_sql_query (SQLite"
				  " dialect). Dates are usually text 'YYYY-MM-DD': parse them with"
				  " parse_dates=[...] or pd.to_datetime. Read a CSV as SQL sees it:"
				  " keep_default_na=False, na_values=[\"\"] (only an empty cell is"
				  " missing, as NULL) and dtype=str for its TEXT columns (codes such as"
				  " 00123 keep their zeros).\n");
	return r;
}

static int python_intro(struct buf *b, const struct schema *s)
{
	int r = append_str(b, "You are the Python assistant of ledgerbox, a data analysis service."
			      " You write one Python 3 program that answers an analyst's request");

	if (r == 0 && s) {
		r = append_str(b, " about the dataset");
		if (r == 0 && s->dataset && *s->dataset) {
			r = append_str(b, " ");
			if (r == 0)
				r = append_quoted(b, s->dataset);
		}
	}
	return r ? r : append_str(b, ".\n\n");
}

int prompt_rules_append(struct buf *b, const struct prompt_options *o)
{
	int r;

	if (strcmp(o->language, "sql") == 0) {
		r = sql_intro(b, o->schema);
		return r ? r : append_str(b, o->schema && o->schema->postgres ? pg_sql_rules : sql_rules);
	}
	r = python_intro(b, o->schema);
	if (r == 0)
		r = append_str(b, python_rules);
	if (r == 0)
		r = python_files(b, o->schema);
	return r ? r : append_str(b, python_output_rules);
}
