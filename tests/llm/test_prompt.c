/*
 * test_prompt: the schema a prompt is built from (read from the demo data
 * and from small SQLite files made here) and the prompts themselves: what
 * they say, what they must never say (samples when not allowed), and how
 * they are cut to fit a context. Needs LEDGERBOX_DEMO and LEDGERBOX_TEST_TMP.
 */
#include "testlib.h"

#include <sqlite3.h>

#include "llm/prompt.h"
#include "llm/schema.h"
#include "util/buf.h"
#include "util/utf8.h"

static char *demo_db;
static struct schema demo; /* loaded once, 5 samples per column */

static int setup(void **state)
{
	char err[256];

	(void)state;
	if (asprintf(&demo_db, "%s/ledger.sqlite", tl_demo()) < 0)
		return -1;
	if (schema_load("demo", demo_db, 5, &demo, err, sizeof(err)) < 0) {
		fprintf(stderr, "schema_load: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	schema_release(&demo);
	free(demo_db);
	return 0;
}

/* ---- helpers ---------------------------------------------------------- */

static void exec_sql(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg ? msg : "?");
}

static int64_t count_of(sqlite3 *db, const char *table)
{
	char *sql = sqlite3_mprintf("SELECT count(*) FROM \"%w\"", table);
	sqlite3_stmt *st;
	int64_t n;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_free(sql);
	return n;
}

static const struct schema_table *table_named(const struct schema *s, const char *name)
{
	for (size_t i = 0; i < s->n_tables; i++) {
		if (strcmp(s->tables[i].name, name) == 0)
			return &s->tables[i];
	}
	return NULL;
}

static const struct schema_column *column_named(const struct schema_table *t, const char *name)
{
	for (size_t i = 0; t && i < t->n_columns; i++) {
		if (strcmp(t->columns[i].name, name) == 0)
			return &t->columns[i];
	}
	return NULL;
}

static bool prompt_has(const struct prompt *p, const char *needle)
{
	for (size_t i = 0; i < p->n_messages; i++) {
		if (strstr(p->messages[i].content, needle))
			return true;
	}
	return false;
}

static uint64_t tokens_of(const struct prompt *p)
{
	uint64_t total = 0;

	for (size_t i = 0; i < p->n_messages; i++)
		total += (strlen(p->messages[i].content) + 3) / 4;
	return total;
}

static bool utf8_ok(const char *s)
{
	char *fixed = NULL;
	size_t n;

	assert_int_equal(utf8_sanitize(s, strlen(s), &fixed, &n), 0);
	free(fixed);
	return fixed == NULL;
}

static struct prompt_options options(const char *language, const char *query, bool samples,
				     uint64_t num_ctx)
{
	struct prompt_options o = { language, query, &demo, samples, num_ctx, 512, NULL, NULL };
	return o;
}

/* ---- schema ----------------------------------------------------------- */

static void test_schema_demo_tables(void **state)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	size_t n = 0;

	(void)state;
	assert_int_equal(sqlite3_open_v2(demo_db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_string_equal(demo.dataset, "demo");
	assert_string_equal(demo.sqlite_file, "ledger.sqlite");
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT name FROM sqlite_schema WHERE type = 'table' AND"
					    " name NOT LIKE 'sqlite%' ORDER BY name",
					    -1, &st, NULL),
			 SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);

		assert_true(n < demo.n_tables);
		assert_string_equal(demo.tables[n].name, name);
		assert_int_equal(demo.tables[n].rows, count_of(db, name));
		n++;
	}
	sqlite3_finalize(st);
	assert_int_equal(n, demo.n_tables);
	assert_int_equal(n, 9);
	assert_null(table_named(&demo, "sqlite_stat1"));
	assert_true(table_named(&demo, "gl_entries")->rows > 1000);
	sqlite3_close(db);
}

static void test_schema_demo_columns(void **state)
{
	const struct schema_table *inv = table_named(&demo, "invoices");
	static const char *const names[] = { "invoice_id", "invoice_number", "customer_id",
					     "issue_date", "due_date", "paid_date", "amount",
					     "status" };
	static const char *const types[] = { "INTEGER", "TEXT", "INTEGER", "TEXT",
					     "TEXT", "TEXT", "REAL", "TEXT" };

	(void)state;
	assert_non_null(inv);
	assert_int_equal(inv->n_columns, 8);
	for (size_t i = 0; i < 8; i++) {
		assert_string_equal(inv->columns[i].name, names[i]);
		assert_string_equal(inv->columns[i].type, types[i]);
	}
	/* status holds exactly three values in the demo data. */
	assert_true(column_named(inv, "status")->n_samples >= 2);
	assert_true(column_named(inv, "status")->n_samples <= 3);
	assert_int_equal(column_named(inv, "invoice_id")->n_samples, 5);
}

static void test_schema_samples_distinct_and_cut(void **state)
{
	const struct schema_column *desc;
	bool cut_seen = false;

	(void)state;
	for (size_t i = 0; i < demo.n_tables; i++) {
		for (size_t j = 0; j < demo.tables[i].n_columns; j++) {
			const struct schema_column *c = &demo.tables[i].columns[j];

			assert_true(c->n_samples <= 5);
			for (size_t k = 0; k < c->n_samples; k++) {
				assert_true(strlen(c->samples[k]) <= SCHEMA_SAMPLE_MAX_BYTES);
				assert_true(strlen(c->samples[k]) > 0);
				for (size_t m = 0; m < k; m++)
					assert_string_not_equal(c->samples[k], c->samples[m]);
			}
		}
	}
	/* Descriptions are longer than 40 bytes: some sample must be cut. */
	desc = column_named(table_named(&demo, "gl_entries"), "description");
	assert_non_null(desc);
	for (size_t k = 0; k < desc->n_samples; k++)
		cut_seen = cut_seen || strlen(desc->samples[k]) == SCHEMA_SAMPLE_MAX_BYTES;
	assert_true(cut_seen);
}

static char *make_db(const char *name, const char *sql)
{
	char *path;
	sqlite3 *db;

	assert_true(asprintf(&path, "%s/%s", tl_tmp(), name) > 0);
	unlink(path);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	exec_sql(db, sql);
	sqlite3_close(db);
	return path;
}

static void test_schema_samples_utf8_nulls_blobs(void **state)
{
	/* 30 x "é" is 60 bytes: cut to 20 characters. The two long values
	 * share their first 40 bytes, so they are one sample after cutting. */
	char *path = make_db("samples.sqlite",
			     "CREATE TABLE t (a TEXT, b BLOB, c, \"odd name\" INT);"
			     "INSERT INTO t VALUES (NULL, x'00ff', NULL, 1);"
			     "INSERT INTO t VALUES (printf('%.30c', 'x'), x'01', 'line\none', 1);"
			     "INSERT INTO t VALUES (replace(printf('%.30c', '_'), '_', 'é'), NULL,"
			     " 'bad' || x'ff', 2);"
			     "INSERT INTO t VALUES (replace(printf('%.30c', '_'), '_', 'é') || 'zz',"
			     " NULL, NULL, 3);"
			     "CREATE TABLE empty (k INTEGER PRIMARY KEY, v);");
	struct schema s;
	const struct schema_column *a, *b, *c;
	char err[256], want[64] = "";

	(void)state;
	assert_int_equal(schema_load(NULL, path, 9, &s, err, sizeof(err)), 0);
	assert_string_equal(s.dataset, "");
	assert_string_equal(s.sqlite_file, "samples.sqlite");
	assert_int_equal(s.n_tables, 2);
	assert_string_equal(s.tables[0].name, "empty");
	assert_int_equal(s.tables[0].rows, 0);
	assert_int_equal(s.tables[0].columns[1].n_samples, 0);
	assert_string_equal(s.tables[0].columns[1].type, "");
	a = column_named(&s.tables[1], "a");
	b = column_named(&s.tables[1], "b");
	c = column_named(&s.tables[1], "c");
	assert_int_equal(s.tables[1].rows, 4);
	assert_non_null(column_named(&s.tables[1], "odd name"));
	assert_int_equal(a->n_samples, 2);
	for (int i = 0; i < 20; i++)
		strncat(want, "é", sizeof(want) - strlen(want) - 1);
	assert_string_equal(a->samples[1], want);
	assert_int_equal(b->n_samples, 0); /* blobs are never samples */
	assert_int_equal(c->n_samples, 2);
	assert_string_equal(c->samples[0], "line one");
	assert_string_equal(c->samples[1], "bad\xEF\xBF\xBD");
	for (size_t i = 0; i < a->n_samples; i++)
		assert_true(utf8_ok(a->samples[i]));
	schema_release(&s);

	/* No samples read at all when none are asked for. */
	assert_int_equal(schema_load("x", path, 0, &s, err, sizeof(err)), 0);
	assert_int_equal(column_named(&s.tables[1], "a")->n_samples, 0);
	schema_release(&s);
	schema_release(NULL);
	free(path);
}

/* A status that appears only after the first rows the quick pass reads
 * is found by the whole-table read; lists say whether they are complete;
 * primary and foreign keys reach the CREATE TABLE. */
static void test_schema_samples_whole_table_and_keys(void **state)
{
	char *path = make_db("whole.sqlite",
			     "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);"
			     "INSERT INTO customers VALUES (1, 'Ann'), (2, 'Bob');"
			     "CREATE TABLE inv (id INTEGER PRIMARY KEY, status TEXT, note TEXT,"
			     " code TEXT, bits BLOB, customer_id INTEGER REFERENCES customers(id),"
			     " other INTEGER REFERENCES customers);"
			     "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)"
			     " INSERT INTO inv SELECT i, CASE WHEN i > 2900 THEN 'open' WHEN i % 2 THEN"
			     " 'paid' ELSE 'overdue' END, 'n' || i, printf('%.50c', 'x'),"
			     " CASE WHEN i = 2999 THEN x'00' ELSE 'b' END, 1 + i % 2, 1 FROM n;"
			     "CREATE TABLE pairs (a TEXT, b TEXT, PRIMARY KEY (b, a));");
	const struct schema_table *inv;
	const struct schema_column *status, *note, *code, *bits, *cust;
	struct buf b;
	struct schema s;
	char err[256];

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(schema_load("w", path, 5, &s, err, sizeof(err)), 0);
	inv = table_named(&s, "inv");
	status = column_named(inv, "status");
	note = column_named(inv, "note");
	code = column_named(inv, "code");
	bits = column_named(inv, "bits");
	cust = column_named(inv, "customer_id");
	assert_int_equal(status->n_samples, 3);
	assert_string_equal(status->samples[2], "open"); /* only in rows 2901 to 3000 */
	assert_true(status->samples_complete);
	assert_true(cust->samples_complete);		/* 2 and 1 */
	assert_false(note->samples_complete);		/* 3000 values */
	assert_int_equal(note->n_samples, 5);
	assert_false(code->samples_complete);		/* one value, but cut */
	assert_false(bits->samples_complete);		/* a blob in row 2999 */
	assert_int_equal(column_named(inv, "id")->pk, 1);
	assert_string_equal(cust->ref_table, "customers");
	assert_string_equal(cust->ref_column, "id");
	assert_string_equal(column_named(inv, "other")->ref_table, "customers");
	assert_null(column_named(inv, "other")->ref_column);
	assert_int_equal(prompt_table_append(&b, &s, inv, false, true), 0);
	assert_non_null(strstr(b.data, "  id INTEGER PRIMARY KEY, -- e.g. 1, 2, 3, 4, 5\n"));
	assert_non_null(strstr(b.data, "  status TEXT, -- one of 'paid', 'overdue', 'open'\n"));
	assert_non_null(strstr(b.data, "  note TEXT, -- e.g. 'n1', "));
	assert_non_null(strstr(b.data, "  customer_id INTEGER REFERENCES customers(id), -- one of "));
	assert_non_null(strstr(b.data, "  other INTEGER REFERENCES customers -- one of 1\n"));
	buf_release(&b);
	buf_init(&b, 1 << 20);
	assert_int_equal(prompt_table_append(&b, &s, table_named(&s, "pairs"), false, true), 0);
	assert_non_null(strstr(b.data, "  a TEXT,\n  b TEXT,\n  PRIMARY KEY (b, a)\n);\n"));
	buf_release(&b);
	schema_release(&s);
	free(path);
}

/* The demo's invoices: 'open' is in none of the first 2,000 rows. */
static void test_schema_demo_status_complete(void **state)
{
	const struct schema_column *status = column_named(table_named(&demo, "invoices"), "status");
	bool open = false;

	(void)state;
	for (size_t i = 0; i < status->n_samples; i++)
		open = open || strcmp(status->samples[i], "open") == 0;
	assert_true(open);
	assert_true(status->samples_complete);
	assert_false(column_named(table_named(&demo, "invoices"), "invoice_id")->samples_complete);
}

static void test_schema_files_listed(void **state)
{
	bool csv = false, sqlite = false;

	(void)state;
	for (size_t i = 0; i < demo.n_files; i++) {
		csv = csv || strcmp(demo.files[i], "invoices.csv") == 0;
		sqlite = sqlite || strcmp(demo.files[i], "ledger.sqlite") == 0;
		assert_true(demo.files[i][0] != '.');
		if (i)
			assert_true(strcmp(demo.files[i - 1], demo.files[i]) < 0);
	}
	assert_true(csv && sqlite);
}

static void test_schema_open_failures(void **state)
{
	struct schema s = { 0 };
	char err[512] = "", *missing, *garbage;

	(void)state;
	assert_true(asprintf(&missing, "%s/none.sqlite", tl_tmp()) > 0);
	assert_int_equal(schema_load("x", missing, 3, &s, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, missing));
	assert_null(s.tables);
	garbage = tl_write_tmp("not-a-db.sqlite", "plain text, not SQLite\n");
	assert_int_equal(schema_load("x", garbage, 3, &s, err, sizeof(err)), -EIO);
	assert_int_equal(schema_load("x", NULL, 3, &s, err, sizeof(err)), -EINVAL);
	free(missing);
	free(garbage);
}

/* ---- prompts ---------------------------------------------------------- */

static void test_prompt_sql_contents(void **state)
{
	const char *query = "revenue by month for 2025 with a chart";
	struct prompt_options o = options("sql", query, true, 32768);
	struct prompt p;
	char err[256], rows[64];

	(void)state;
	assert_int_equal(prompt_build(&o, &p, err, sizeof(err)), 0);
	assert_int_equal(p.n_messages, 2);
	assert_string_equal(p.messages[0].role, "system");
	assert_string_equal(p.messages[1].role, "user");
	assert_string_equal(p.messages[1].content, query);
	assert_non_null(strstr(p.messages[0].content, "SQLite"));
	assert_non_null(strstr(p.messages[0].content, "read-only"));
	assert_non_null(strstr(p.messages[0].content, "```sql"));
	assert_non_null(strstr(p.messages[0].content, "exactly one fenced code block"));
	assert_non_null(strstr(p.messages[0].content, "Request: "));
	for (size_t i = 0; i < demo.n_tables; i++) {
		char head[128];

		snprintf(head, sizeof(head), "CREATE TABLE %s ( -- %lld rows", demo.tables[i].name,
			 (long long)demo.tables[i].rows);
		assert_non_null(strstr(p.messages[0].content, head));
	}
	snprintf(rows, sizeof(rows), "invoice_number TEXT,");
	assert_non_null(strstr(p.messages[0].content, rows));
	assert_non_null(strstr(p.messages[0].content, "amount REAL,"));
	assert_false(p.samples_dropped);
	assert_int_equal(p.tables_dropped, 0);
	assert_int_equal(p.estimated_tokens, tokens_of(&p));
	assert_true(utf8_ok(p.messages[0].content));
	prompt_release(&p);
	prompt_release(&p); /* zeroed: a second release is harmless */
	prompt_release(NULL);
}

static void test_prompt_python_contents(void **state)
{
	struct prompt_options o = options("python", "overdue invoices by customer segment", false,
					  32768);
	struct prompt p;
	char err[256];
	const char *sys;

	(void)state;
	assert_int_equal(prompt_build(&o, &p, err, sizeof(err)), 0);
	sys = p.messages[0].content;
	assert_non_null(strstr(sys, "read-only in /data"));
	assert_non_null(strstr(sys, "invoices.csv"));
	assert_non_null(strstr(sys, "ledger.sqlite"));
	assert_non_null(strstr(sys, "no network"));
	assert_non_null(strstr(sys, "matplotlib"));
	assert_non_null(strstr(sys, "/out"));
	assert_non_null(strstr(sys, "DataFrame"));
	assert_non_null(strstr(sys, "print()"));
	assert_non_null(strstr(sys, "```python"));
	assert_non_null(strstr(sys, "CSV: /data/invoices.csv"));
	assert_non_null(strstr(sys, "CREATE TABLE customers"));
	/* CSVs read as SQL reads the table: text stays text ("NA", "00123"). */
	assert_non_null(strstr(sys, "keep_default_na=False, na_values=[\"\"]"));
	assert_non_null(strstr(sys, "dtype=str for its TEXT columns"));
	assert_null(strstr(sys, "```sql"));
	prompt_release(&p);
}

static void test_prompt_python_without_dataset(void **state)
{
	struct prompt_options o = options("python", "simulate 100 dice rolls", true, 8192);
	struct prompt p;
	char err[256] = "";

	(void)state;
	o.schema = NULL;
	assert_int_equal(prompt_build(&o, &p, err, sizeof(err)), 0);
	assert_non_null(strstr(p.messages[0].content, "/data is empty"));
	assert_null(strstr(p.messages[0].content, "CREATE TABLE"));
	assert_false(p.samples_dropped);
	prompt_release(&p);
	o.language = "sql";
	assert_int_equal(prompt_build(&o, &p, err, sizeof(err)), -EINVAL);
	assert_true(err[0] != '\0');
}

static void test_prompt_bad_options(void **state)
{
	struct prompt_options o = options("R", "x", false, 8192);
	struct prompt p;
	char err[256];
	char *big = malloc(PROMPT_QUERY_MAX_BYTES + 2);

	(void)state;
	assert_int_equal(prompt_build(&o, &p, err, sizeof(err)), -EINVAL);
	o.language = "sql";
	o.query = " \n ";
	assert_int_equal(prompt_build(&o, &p, err, sizeof(err)), -EINVAL);
	o.query = NULL;
	assert_int_equal(prompt_build(&o, &p, err, sizeof(err)), -EINVAL);
	memset(big, 'a', PROMPT_QUERY_MAX_BYTES + 1);
	big[PROMPT_QUERY_MAX_BYTES + 1] = '\0';
	o.query = big;
	o.num_ctx = 1u << 20;
	assert_int_equal(prompt_build(&o, &p, err, sizeof(err)), -E2BIG);
	free(big);
	/* Invalid UTF-8 in the request is repaired, not passed on. */
	o.query = "caf\xe9 sales";
	assert_int_equal(prompt_build(&o, &p, err, sizeof(err)), 0);
	assert_string_equal(p.messages[1].content, "caf\xEF\xBF\xBD sales");
	prompt_release(&p);
}

static void test_prompt_samples_only_when_allowed(void **state)
{
	const struct schema_column *name = column_named(table_named(&demo, "customers"), "name");
	struct prompt_options o = options("sql", "customers by city", false, 32768);
	struct prompt p;
	char err[256];

	(void)state;
	assert_non_null(name);
	assert_true(name->n_samples > 0);
	/* A customer's name is distinctive and appears nowhere else. */
	assert_int_equal(prompt_build(&o, &p, err, sizeof(err)), 0);
	for (size_t t = 0; t < demo.n_tables; t++) {
		for (size_t c = 0; c < demo.tables[t].n_columns; c++) {
			const struct schema_column *col = &demo.tables[t].columns[c];

			/* Names, descriptions, dates, numbers like BILL-2024-00001:
			 * values that no rule or example text contains. */
			for (size_t k = 0; k < col->n_samples; k++) {
				const char *v = col->samples[k];

				if (strlen(v) >= 8 && strpbrk(v, " -"))
					assert_false(prompt_has(&p, v));
			}
		}
	}
	assert_false(prompt_has(&p, name->samples[0]));
	assert_false(prompt_has(&p, "e.g."));
	assert_false(p.samples_dropped);
	prompt_release(&p);
	o.include_samples = true;
	assert_int_equal(prompt_build(&o, &p, err, sizeof(err)), 0);
	assert_true(prompt_has(&p, name->samples[0]));
	prompt_release(&p);
	/* The repair prompt follows the same rule. */
	o.include_samples = false;
	assert_int_equal(prompt_build_repair(&o, "SELECT 1 FROMM x", "syntax error", &p, err,
					     sizeof(err)),
			 0);
	assert_false(prompt_has(&p, name->samples[0]));
	prompt_release(&p);
}

static uint64_t full_tokens(const char *language, const char *query, bool samples)
{
	struct prompt_options o = options(language, query, samples, 1u << 20);
	struct prompt p;
	char err[256];
	uint64_t n;

	assert_int_equal(prompt_build(&o, &p, err, sizeof(err)), 0);
	assert_false(p.samples_dropped);
	assert_int_equal(p.tables_dropped, 0);
	n = p.estimated_tokens;
	prompt_release(&p);
	return n;
}

static void test_prompt_fit_drops_samples_first(void **state)
{
	const char *query = "total invoice amount by month";
	uint64_t with = full_tokens("sql", query, true), without = full_tokens("sql", query, false);
	struct prompt_options o = options("sql", query, true, 0);
	struct prompt p;
	char err[256];

	(void)state;
	assert_true(with > without);
	/* Exactly enough for everything but the samples. */
	o.num_ctx = without + o.max_tokens;
	assert_int_equal(prompt_build(&o, &p, err, sizeof(err)), 0);
	assert_true(p.samples_dropped);
	assert_int_equal(p.tables_dropped, 0);
	assert_false(prompt_has(&p, "e.g."));
	assert_int_equal(p.estimated_tokens, without);
	assert_true(p.estimated_tokens + o.max_tokens <= o.num_ctx);
	prompt_release(&p);
	/* Exactly enough for everything. */
	o.num_ctx = with + o.max_tokens;
	assert_int_equal(prompt_build(&o, &p, err, sizeof(err)), 0);
	assert_false(p.samples_dropped);
	prompt_release(&p);
	/* One token less: a table must go. */
	o.num_ctx = without + o.max_tokens - 1;
	assert_int_equal(prompt_build(&o, &p, err, sizeof(err)), 0);
	assert_true(p.samples_dropped);
	assert_true(p.tables_dropped >= 1);
	assert_true(p.estimated_tokens + o.max_tokens <= o.num_ctx);
	assert_true(prompt_has(&p, "more table"));
	prompt_release(&p);
}

static size_t tables_in(const struct prompt *p)
{
	size_t n = 0;

	for (const char *s = p->messages[0].content; (s = strstr(s, "CREATE TABLE ")); s++)
		n++;
	return n;
}

static void test_prompt_fit_keeps_most_relevant(void **state)
{
	const char *query = "list unpaid invoices";
	struct prompt_options o = options("sql", query, true, full_tokens("sql", query, false) + 512);
	struct prompt p, last = { 0 };
	char err[256];
	size_t previous_dropped = 0;
	int r;

	(void)state;
	/* Shrink the context until nothing fits; every prompt on the way fits
	 * its context, drops more tables as it shrinks and keeps invoices. */
	while ((r = prompt_build(&o, &p, err, sizeof(err))) == 0) {
		assert_true(p.estimated_tokens + o.max_tokens <= o.num_ctx);
		assert_true(p.tables_dropped >= previous_dropped);
		assert_int_equal(tables_in(&p), demo.n_tables - p.tables_dropped);
		assert_non_null(strstr(p.messages[0].content, "CREATE TABLE invoices ("));
		previous_dropped = p.tables_dropped;
		prompt_release(&last);
		last = p;
		o.num_ctx -= 16;
	}
	assert_int_equal(r, -E2BIG);
	assert_non_null(strstr(err, "does not fit"));
	/* The smallest prompt that fitted kept only the most relevant table. */
	assert_int_equal(last.tables_dropped, demo.n_tables - 1);
	assert_true(last.samples_dropped);
	assert_null(strstr(last.messages[0].content, "CREATE TABLE customers"));
	assert_null(strstr(last.messages[0].content, "CREATE TABLE gl_entries"));
	prompt_release(&last);
}

static void test_prompt_hopeless(void **state)
{
	struct prompt_options o = options("sql", "invoices", false, 700);
	struct prompt p;
	char err[256] = "";

	(void)state;
	assert_int_equal(prompt_build(&o, &p, err, sizeof(err)), -E2BIG);
	assert_true(err[0] != '\0');
	o.num_ctx = 1u << 20;
	o.max_tokens = o.num_ctx;
	assert_int_equal(prompt_build(&o, &p, err, sizeof(err)), -E2BIG);
	o.max_tokens = o.num_ctx + 1;
	assert_int_equal(prompt_build_repair(&o, "SELECT 1", "x", &p, err, sizeof(err)), -E2BIG);
}

static void test_relevance(void **state)
{
	const struct schema_table *inv = table_named(&demo, "invoices");
	const struct schema_table *gl = table_named(&demo, "gl_entries");
	const struct schema_table *products = table_named(&demo, "products");
	size_t order[SCHEMA_MAX_TABLES];

	(void)state;
	/* Singular and plural match both ways; table names count most. */
	assert_true(prompt_table_relevance(inv, "one invoice") > prompt_table_relevance(inv, "x"));
	assert_true(prompt_table_relevance(gl, "ledger entry for rent") > 0);
	assert_true(prompt_table_relevance(products, "margin by categories") > 0);
	assert_int_equal(prompt_table_relevance(products, "the of and 2025"), 0);
	assert_true(prompt_table_relevance(inv, "invoices") >
		    prompt_table_relevance(inv, "customer"));
	assert_int_equal(prompt_rank_tables(&demo, "revenue by customer segment", order), 0);
	assert_string_equal(demo.tables[order[0]].name, "customers");
	assert_int_equal(prompt_rank_tables(&demo, "vendor bills paid late", order), 0);
	assert_string_equal(demo.tables[order[0]].name, "bills");
	/* No match at all: schema order. */
	assert_int_equal(prompt_rank_tables(&demo, "zzz", order), 0);
	for (size_t i = 0; i < demo.n_tables; i++)
		assert_int_equal(order[i], i);
}

static void test_repair_prompt(void **state)
{
	struct prompt_options o = options("python", "revenue by month", true, 32768);
	const char *code = "import pandas as pd\nmd = '```'\nt = (1,)\npd.read_csv('/data/nope.csv')";
	struct prompt p;
	struct buf long_error;
	char err[256], *error;

	(void)state;
	assert_int_equal(prompt_build_repair(&o, code, "FileNotFoundError: /data/nope.csv", &p, err,
					     sizeof(err)),
			 0);
	assert_int_equal(p.n_messages, 4);
	assert_string_equal(p.messages[1].role, "user");
	assert_string_equal(p.messages[1].content, "revenue by month");
	assert_string_equal(p.messages[2].role, "assistant");
	assert_string_equal(p.messages[3].role, "user");
	assert_non_null(strstr(p.messages[2].content, code));
	/* The code holds ``` so the fence around it is longer. */
	assert_memory_equal(p.messages[2].content, "````python\n", 11);
	assert_non_null(strstr(p.messages[3].content, "FileNotFoundError: /data/nope.csv"));
	assert_non_null(strstr(p.messages[3].content, "corrected complete program"));
	assert_non_null(strstr(p.messages[3].content, "```python"));
	assert_int_equal(p.estimated_tokens, tokens_of(&p));
	prompt_release(&p);

	/* A long error keeps its start and its end, within 2000 bytes. */
	buf_init(&long_error, 1 << 20);
	assert_int_equal(buf_append(&long_error, "Traceback START-MARK\n", 21), 0);
	for (int i = 0; i < 400; i++)
		assert_int_equal(buf_append(&long_error, "  frame MIDDLE-MARK\n", 20), 0);
	assert_int_equal(buf_append(&long_error, "ValueError: END-MARK", 20), 0);
	error = buf_steal(&long_error, NULL);
	o.language = "sql";
	assert_int_equal(prompt_build_repair(&o, "SELECT 1", error, &p, err, sizeof(err)), 0);
	assert_non_null(strstr(p.messages[3].content, "START-MARK"));
	assert_non_null(strstr(p.messages[3].content, "ValueError: END-MARK"));
	assert_non_null(strstr(p.messages[3].content, "[...]"));
	assert_true(strlen(p.messages[3].content) < PROMPT_ERROR_MAX_BYTES + 200);
	assert_non_null(strstr(p.messages[3].content, "corrected complete query"));
	assert_string_equal(p.messages[2].content, "```sql\nSELECT 1\n```");
	prompt_release(&p);
	free(error);
	assert_int_equal(prompt_build_repair(&o, NULL, "x", &p, err, sizeof(err)), -EINVAL);
}

/* The model is told today's date and zone, in every language and in a
 * repair too, so "last month" can be written; no line without a date. */
static void test_prompt_says_today(void **state)
{
	static const char *const languages[] = { "sql", "python" };
	const char *line = "Today is 2026-12-07 (Europe/Berlin).";
	struct prompt p;
	char err[256];

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct prompt_options o = options(languages[i], "revenue last month", false, 32768);
		o.today = "2026-12-07";
		o.time_zone = "Europe/Berlin";
		assert_int_equal(prompt_build(&o, &p, err, sizeof(err)), 0);
		assert_non_null(strstr(p.messages[0].content, line));
		assert_int_equal(p.estimated_tokens, tokens_of(&p));
		prompt_release(&p);
		assert_int_equal(prompt_build_repair(&o, "SELECT 1", "no such column: x", &p, err,
						     sizeof(err)),
				 0);
		assert_non_null(strstr(p.messages[0].content, line));
		prompt_release(&p);
		o.today = NULL;
		assert_int_equal(prompt_build(&o, &p, err, sizeof(err)), 0);
		assert_null(strstr(p.messages[0].content, "Today is"));
		prompt_release(&p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schema_demo_tables),
		cmocka_unit_test(test_schema_demo_columns),
		cmocka_unit_test(test_schema_samples_distinct_and_cut),
		cmocka_unit_test(test_schema_samples_utf8_nulls_blobs),
		cmocka_unit_test(test_schema_samples_whole_table_and_keys),
		cmocka_unit_test(test_schema_demo_status_complete),
		cmocka_unit_test(test_schema_files_listed),
		cmocka_unit_test(test_schema_open_failures),
		cmocka_unit_test(test_prompt_sql_contents),
		cmocka_unit_test(test_prompt_python_contents),
		cmocka_unit_test(test_prompt_python_without_dataset),
		cmocka_unit_test(test_prompt_bad_options),
		cmocka_unit_test(test_prompt_samples_only_when_allowed),
		cmocka_unit_test(test_prompt_fit_drops_samples_first),
		cmocka_unit_test(test_prompt_fit_keeps_most_relevant),
		cmocka_unit_test(test_prompt_hopeless),
		cmocka_unit_test(test_relevance),
		cmocka_unit_test(test_repair_prompt),
		cmocka_unit_test(test_prompt_says_today),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
