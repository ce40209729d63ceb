/*
 * test_demo_data: the deterministic demo dataset (src/demo).
 *
 * Writes the dataset twice into LEDGERBOX_TEST_TMP, then checks the books
 * (journals balance, subledgers agree with the ledger, stock never goes
 * negative, aging and growth are there), the CSV export (same rows and
 * values as SQLite, RFC 4180 quoting, byte-identical between runs) and the
 * atomic write (bad paths fail cleanly, failures leave no files behind).
 */
#define _GNU_SOURCE /* testlib.h uses pipe2 and asprintf */
#include "testlib.h"

#include <dirent.h>
#include <sqlite3.h>
#include <sys/resource.h>

#include "demo/demo_data.h"
#include "demo/demo_model.h"

#include "util/banned.h"

#define PATH_BYTES 4096

static char dir_a[PATH_BYTES];
static char dir_b[PATH_BYTES];
static sqlite3 *db;

static const char *const output_files[] = {
	"accounts.csv", "bills.csv", "budgets.csv", "customers.csv", "gl_entries.csv",
	"inventory_movements.csv", "invoices.csv", "ledger.sqlite", "products.csv",
	"vendors.csv",
};
#define OUTPUT_FILES (sizeof(output_files) / sizeof(output_files[0]))

/* ---- helpers ------------------------------------------------------------ */

static void path_join(char *out, const char *dir, const char *name)
{
	int n = snprintf(out, PATH_BYTES, "%s/%s", dir, name);
	assert_true(n > 0 && n < PATH_BYTES);
}

/* Removes a folder and the plain files in it (what the tests create). */
static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[PATH_BYTES];

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		path_join(path, dir, e->d_name);
		(void)unlink(path);
	}
	closedir(d);
	(void)rmdir(dir);
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Asserts that dir holds exactly the output files plus `extra` (or NULL). */
static void assert_dir_holds_outputs(const char *dir, const char *extra)
{
	char *names[64] = { NULL };
	size_t n = 0, want = OUTPUT_FILES + (extra ? 1 : 0), k = 0;
	DIR *d = opendir(dir);
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		assert_true(n < 64);
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	assert_int_equal(n, want);
	qsort(names, n, sizeof(names[0]), compare_names);
	for (size_t i = 0; i < n; i++) {
		if (extra && strcmp(names[i], extra) == 0)
			continue;
		assert_string_equal(names[i], output_files[k]);
		k++;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	long size;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	assert_true(size >= 0);
	assert_int_equal(fseek(f, 0, SEEK_SET), 0);
	data = malloc((size_t)size + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)size, f), (size_t)size);
	data[size] = '\0';
	assert_int_equal(fclose(f), 0);
	*len = (size_t)size;
	return data;
}

static void assert_same_file(const char *dir1, const char *dir2, const char *name)
{
	char p1[PATH_BYTES], p2[PATH_BYTES];
	size_t n1, n2;
	char *a, *b;

	path_join(p1, dir1, name);
	path_join(p2, dir2, name);
	a = read_file(p1, &n1);
	b = read_file(p2, &n2);
	if (n1 != n2 || memcmp(a, b, n1) != 0)
		fail_msg("%s differs between %s and %s", name, dir1, dir2);
	free(a);
	free(b);
}

static void assert_same_outputs(const char *dir1, const char *dir2)
{
	for (size_t i = 0; i < OUTPUT_FILES; i++)
		assert_same_file(dir1, dir2, output_files[i]);
}

/* Runs a query that returns one integer. */
static int64_t q_int(const char *sql)
{
	sqlite3_stmt *st;
	int64_t v;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("prepare failed: %s: %s", sqlite3_errmsg(db), sql);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	return v;
}

static void write_demo(const char *dir)
{
	char err[1024] = "";
	int r = demo_data_write(dir, err, sizeof(err));

	if (r != 0)
		fail_msg("demo_data_write(%s) = %d: %s", dir, r, err);
}

/* ---- fixture ------------------------------------------------------------ */

static int setup_group(void **state)
{
	char path[PATH_BYTES];

	(void)state;
	path_join(dir_a, tl_tmp(), "demo-a");
	path_join(dir_b, tl_tmp(), "demo-b");
	remove_tree(dir_a);
	remove_tree(dir_b);
	if (demo_data_write(dir_a, NULL, 0) != 0 || demo_data_write(dir_b, NULL, 0) != 0)
		return -1;
	path_join(path, dir_a, DEMO_DATA_SQLITE_NAME);
	return sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK ? 0 : -1;
}

static int teardown_group(void **state)
{
	(void)state;
	sqlite3_close(db);
	remove_tree(dir_a);
	remove_tree(dir_b);
	return 0;
}

/* ---- the books ---------------------------------------------------------- */

static void test_tables_and_row_counts(void **state)
{
	(void)state;
	assert_int_equal(q_int("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
			       "('accounts','customers','vendors','products','invoices','bills',"
			       "'inventory_movements','gl_entries','budgets')"), 9);
	assert_int_equal(q_int("SELECT count(*) FROM accounts"), 31);
	assert_int_equal(q_int("SELECT count(*) FROM customers"), 480);
	assert_int_equal(q_int("SELECT count(*) FROM vendors"), 38);
	assert_int_equal(q_int("SELECT count(*) FROM products"), 240);
	/* 19 revenue and expense accounts x 24 months */
	assert_int_equal(q_int("SELECT count(*) FROM budgets"), 19 * 24);
	assert_in_range(q_int("SELECT count(*) FROM gl_entries"), 90000, 110000);
	assert_in_range(q_int("SELECT count(*) FROM invoices"), 12000, 18000);
	assert_in_range(q_int("SELECT count(*) FROM bills"), 1500, 2500);
	assert_in_range(q_int("SELECT count(*) FROM inventory_movements"), 35000, 60000);
}

static void test_sqlite_file_is_rollback_journal(void **state)
{
	char path[PATH_BYTES];
	size_t len;
	char *data;

	(void)state;
	path_join(path, dir_a, DEMO_DATA_SQLITE_NAME);
	data = read_file(path, &len);
	assert_true(len > 100);
	assert_memory_equal(data, "SQLite format 3", 16);
	/* header bytes 18 and 19: 1 = rollback journal (DELETE), 2 = WAL */
	assert_int_equal(data[18], 1);
	assert_int_equal(data[19], 1);
	free(data);
	assert_dir_holds_outputs(dir_a, NULL); /* no -journal or temporary file left */
}

static void test_every_journal_balances(void **state)
{
	(void)state;
	assert_int_equal(q_int("SELECT count(*) FROM (SELECT journal_id FROM gl_entries GROUP BY journal_id "
			       "HAVING sum(CAST(round(debit * 100) AS INTEGER)) <> "
			       "sum(CAST(round(credit * 100) AS INTEGER)))"), 0);
	assert_int_equal(q_int("SELECT count(*) FROM gl_entries WHERE (debit = 0) = (credit = 0) "
			       "OR debit < 0 OR credit < 0"), 0);
	assert_true(q_int("SELECT count(DISTINCT journal_id) FROM gl_entries") > 20000);
	/* a journal has one date, and entries are in date order */
	assert_int_equal(q_int("SELECT count(*) FROM (SELECT journal_id FROM gl_entries GROUP BY "
			       "journal_id HAVING count(DISTINCT entry_date) > 1)"), 0);
	assert_int_equal(q_int("SELECT count(*) FROM (SELECT entry_date < lag(entry_date) OVER "
			       "(ORDER BY entry_id) AS back FROM gl_entries) WHERE back"), 0);
	assert_int_equal(q_int("SELECT count(*) FROM gl_entries WHERE entry_date NOT BETWEEN "
			       "'2024-01-01' AND '2025-12-31'"), 0);
}

static void test_foreign_keys_hold(void **state)
{
	(void)state;
	assert_int_equal(q_int("SELECT count(*) FROM pragma_foreign_key_check"), 0);
	assert_int_equal(q_int("SELECT count(*) FROM gl_entries WHERE account_id NOT IN "
			       "(SELECT account_id FROM accounts)"), 0);
}

static void test_invoice_and_bill_dates(void **state)
{
	const char *tables[] = { "invoices", "bills" };
	char sql[512];

	(void)state;
	for (int i = 0; i < 2; i++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE due_date < issue_date OR "
			 "paid_date < issue_date OR paid_date > '2025-12-31' OR "
			 "issue_date NOT BETWEEN '2024-01-01' AND '2025-12-31'", tables[i]);
		assert_int_equal(q_int(sql), 0);
		/* status is relative to 2025-12-31 */
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE status <> CASE "
			 "WHEN paid_date IS NOT NULL THEN 'paid' WHEN due_date < '2025-12-31' "
			 "THEN 'overdue' ELSE 'open' END", tables[i]);
		assert_int_equal(q_int(sql), 0);
	}
	assert_true(q_int("SELECT count(*) FROM invoices WHERE status = 'open'") > 100);
	assert_true(q_int("SELECT count(*) FROM invoices WHERE status = 'overdue'") > 100);
	assert_true(q_int("SELECT count(*) FROM invoices WHERE paid_date > due_date") > 1000);
	/* nobody trades before they exist */
	assert_int_equal(q_int("SELECT count(*) FROM invoices JOIN customers USING (customer_id) "
			       "WHERE issue_date < created_date"), 0);
	assert_int_equal(q_int("SELECT count(*) FROM bills JOIN vendors USING (vendor_id) "
			       "WHERE issue_date < created_date"), 0);
}

static void test_stock_never_negative(void **state)
{
	(void)state;
	assert_int_equal(q_int("SELECT count(*) FROM (SELECT sum(quantity) OVER (PARTITION BY "
			       "product_id ORDER BY movement_date, movement_id) AS on_hand "
			       "FROM inventory_movements) WHERE on_hand < 0"), 0);
	assert_int_equal(q_int("SELECT count(*) FROM inventory_movements WHERE "
			       "(movement_type IN ('purchase','return') AND quantity <= 0) OR "
			       "(movement_type = 'sale' AND quantity >= 0)"), 0);
	assert_int_equal(q_int("SELECT count(DISTINCT product_id) FROM inventory_movements "
			       "WHERE movement_type = 'sale'"), 240);
}

static void test_subledgers_match_ledger(void **state)
{
	(void)state;
	/* AR = open invoices, AP = open bills, inventory = stock at cost */
	assert_int_equal(q_int("SELECT sum(round(debit * 100) - round(credit * 100)) FROM gl_entries "
			       "WHERE account_id = 1100"),
			 q_int("SELECT sum(round(amount * 100)) FROM invoices WHERE paid_date IS NULL"));
	assert_int_equal(q_int("SELECT sum(round(credit * 100) - round(debit * 100)) FROM gl_entries "
			       "WHERE account_id = 2000"),
			 q_int("SELECT sum(round(amount * 100)) FROM bills WHERE paid_date IS NULL"));
	assert_int_equal(q_int("SELECT sum(round(debit * 100) - round(credit * 100)) FROM gl_entries "
			       "WHERE account_id = 1200"),
			 q_int("SELECT sum(quantity * round(unit_cost * 100)) FROM inventory_movements"));
	/* each invoice posts exactly its amount to AR */
	assert_int_equal(q_int("SELECT count(*) FROM invoices i JOIN gl_entries g ON "
			       "g.reference = i.invoice_number AND g.source = 'invoice' AND "
			       "g.account_id = 1100 WHERE round(g.debit * 100) <> round(i.amount * 100)"), 0);
	assert_int_equal(q_int("SELECT count(*) FROM invoices WHERE invoice_number NOT IN "
			       "(SELECT reference FROM gl_entries WHERE source = 'invoice')"), 0);
	/* COGS on invoices = cost of the stock that left */
	assert_int_equal(q_int("SELECT sum(round(debit * 100)) FROM gl_entries WHERE source = "
			       "'invoice' AND account_id = 5000"),
			 q_int("SELECT -sum(quantity * round(unit_cost * 100)) FROM inventory_movements "
			       "WHERE movement_type = 'sale'"));
}

static void test_cash_never_negative(void **state)
{
	(void)state;
	assert_int_equal(q_int("SELECT count(*) FROM (SELECT sum(sum(round(debit * 100) - "
			       "round(credit * 100))) OVER (ORDER BY entry_date) AS balance FROM "
			       "gl_entries WHERE account_id = 1000 GROUP BY entry_date) "
			       "WHERE balance < 0"), 0);
}

/* Revenue in the account's normal direction, in cents, for a date prefix. */
static int64_t revenue_cents(const char *period)
{
	char sql[512];

	snprintf(sql, sizeof(sql), "SELECT sum(round(credit * 100) - round(debit * 100)) FROM "
		 "gl_entries g JOIN accounts a USING (account_id) WHERE a.type = 'revenue' AND "
		 "entry_date LIKE '%s%%'", period);
	return q_int(sql);
}

static int64_t net_income_cents(const char *year)
{
	char sql[512];

	snprintf(sql, sizeof(sql), "SELECT sum(round(credit * 100) - round(debit * 100)) FROM "
		 "gl_entries g JOIN accounts a USING (account_id) WHERE a.type IN "
		 "('revenue','expense') AND entry_date LIKE '%s%%'", year);
	return q_int(sql);
}

static void test_growth_seasonality_margin(void **state)
{
	int64_t r2024 = revenue_cents("2024"), r2025 = revenue_cents("2025");

	(void)state;
	assert_true(r2025 > r2024);
	assert_true(r2025 < r2024 * 13 / 10); /* mild growth, not a jump */
	assert_true(revenue_cents("2024-12") > revenue_cents("2024-01"));
	assert_true(revenue_cents("2025-12") > revenue_cents("2025-01"));
	assert_true(revenue_cents("2025-11") > revenue_cents("2024-11"));
	for (int y = 0; y < 2; y++) {
		const char *year = y ? "2025" : "2024";
		int64_t margin_pm = net_income_cents(year) * 1000 / revenue_cents(year);
		assert_in_range(margin_pm, 50, 200); /* 5% .. 20% */
	}
}

static void test_ar_aging_buckets_all_nonempty(void **state)
{
	static const char *const buckets[] = {
		"past_due <= 0", "past_due BETWEEN 1 AND 30", "past_due BETWEEN 31 AND 60",
		"past_due BETWEEN 61 AND 90", "past_due > 90",
	};
	char sql[512];

	(void)state;
	for (size_t i = 0; i < sizeof(buckets) / sizeof(buckets[0]); i++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM (SELECT CAST(julianday('2025-12-31') "
			 "- julianday(due_date) AS INTEGER) AS past_due FROM invoices WHERE "
			 "paid_date IS NULL) WHERE %s", buckets[i]);
		if (q_int(sql) == 0)
			fail_msg("AR aging bucket %s is empty", buckets[i]);
	}
}

static void test_budgets_cover_pl_accounts(void **state)
{
	(void)state;
	assert_int_equal(q_int("SELECT count(DISTINCT month) FROM budgets"), 24);
	assert_int_equal(q_int("SELECT count(*) FROM budgets b JOIN accounts a USING (account_id) "
			       "WHERE a.type NOT IN ('revenue','expense')"), 0);
	/* planned sales within 15% of actual sales for each year */
	assert_in_range(q_int("SELECT sum(amount) * 100 / (SELECT sum(credit - debit) FROM gl_entries "
			      "WHERE account_id = 4000) FROM budgets WHERE account_id = 4000"), 85, 115);
}

/* ---- CSV ------------------------------------------------------------------ */

struct csv_reader {
	const char *p, *end;
	char *field;
	size_t cap;
};

/* Reads one RFC 4180 field into r->field; returns the char that ended it
 * (',', '\n') or 0 at the end of the data. */
static int csv_read_field(struct csv_reader *r)
{
	size_t n = 0;
	bool quoted = r->p < r->end && *r->p == '"';

	if (quoted)
		r->p++;
	for (;;) {
		int c = r->p < r->end ? *r->p : -1;
		if (quoted && c == '"' && r->p + 1 < r->end && r->p[1] == '"') {
			r->p++;
		} else if (quoted && c == '"') {
			quoted = false;
			r->p++;
			continue;
		} else if (c == -1 || (!quoted && (c == ',' || c == '\n'))) {
			if (c != -1)
				r->p++;
			r->field[n] = '\0';
			return c == -1 ? 0 : c;
		}
		assert_true(c != -1);
		if (n + 2 > r->cap) {
			r->cap = r->cap * 2 + 64;
			r->field = realloc(r->field, r->cap);
			assert_non_null(r->field);
		}
		r->field[n++] = (char)c;
		r->p++;
	}
}

static void csv_expect_value(struct csv_reader *r, sqlite3_stmt *st, int col, const char *where)
{
	char want[128];

	switch (sqlite3_column_type(st, col)) {
	case SQLITE_NULL:
		want[0] = '\0';
		break;
	case SQLITE_INTEGER:
		snprintf(want, sizeof(want), "%lld", (long long)sqlite3_column_int64(st, col));
		break;
	case SQLITE_FLOAT:
		snprintf(want, sizeof(want), "%.2f", sqlite3_column_double(st, col));
		if (strtod(r->field, NULL) != sqlite3_column_double(st, col))
			fail_msg("%s: %s does not round-trip", where, r->field);
		break;
	default:
		if (strcmp(r->field, (const char *)sqlite3_column_text(st, col)) != 0)
			fail_msg("%s: column %d is '%s' in CSV", where, col, r->field);
		return;
	}
	if (strcmp(r->field, want) != 0)
		fail_msg("%s: column %d is '%s', want '%s'", where, col, r->field, want);
}

/* Compares a CSV file with its table, row by row and value by value. */
static void csv_check_table(const char *table)
{
	char path[PATH_BYTES], sql[256], name[128];
	struct csv_reader r = { NULL, NULL, NULL, 0 };
	sqlite3_stmt *st;
	size_t len;
	char *data;
	int64_t rows = 0;

	snprintf(name, sizeof(name), "%s.csv", table);
	path_join(path, dir_a, name);
	data = read_file(path, &len);
	r.p = data;
	r.end = data + len;
	snprintf(sql, sizeof(sql), "SELECT * FROM %s ORDER BY %s", table, demo_schema_order(table));
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	for (int c = 0; c < sqlite3_column_count(st); c++) {
		int end = csv_read_field(&r);
		assert_string_equal(r.field, sqlite3_column_name(st, c));
		assert_int_equal(end, c + 1 < sqlite3_column_count(st) ? ',' : '\n');
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		rows++;
		for (int c = 0; c < sqlite3_column_count(st); c++) {
			int end = csv_read_field(&r);
			csv_expect_value(&r, st, c, name);
			assert_int_equal(end, c + 1 < sqlite3_column_count(st) ? ',' : '\n');
		}
	}
	assert_true(r.p == r.end); /* exactly as many data rows as the table */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	assert_int_equal(rows, q_int(sql));
	sqlite3_finalize(st);
	free(r.field);
	free(data);
}

static void test_csv_matches_tables(void **state)
{
	(void)state;
	for (int i = 0; i < DEMO_DATA_TABLE_COUNT; i++)
		csv_check_table(demo_data_tables[i]);
}

static void test_csv_quoting(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(demo_csv_field("plain", 5, out, sizeof(out)), 5);
	assert_string_equal(out, "plain");
	demo_csv_field("Baker, Hale & Partners", 22, out, sizeof(out));
	assert_string_equal(out, "\"Baker, Hale & Partners\"");
	demo_csv_field("Chef Knife 10\"", 14, out, sizeof(out));
	assert_string_equal(out, "\"Chef Knife 10\"\"\"");
	demo_csv_field("two\nlines", 9, out, sizeof(out));
	assert_string_equal(out, "\"two\nlines\"");
	/* like snprintf: reports the full length, truncates, terminates */
	assert_int_equal(demo_csv_field("a,b", 3, out, 3), 5);
	assert_string_equal(out, "\"a");
}

static void test_two_runs_are_byte_identical(void **state)
{
	(void)state;
	assert_same_outputs(dir_a, dir_b);
}

/* FNV-1a over every CSV in table order. The generator promises the same
 * bytes on every machine and compiler (gcc for `make test`, clang for
 * `make asan`); a change here means the data changed: if that was meant,
 * update the constant and the numbers in docs/demo-data.md. */
#define GOLDEN_CSV_HASH 0x0617a3b59bb6ea2cULL

static void test_csv_bytes_match_golden_hash(void **state)
{
	uint64_t hash = 0xcbf29ce484222325ULL;

	(void)state;
	for (int i = 0; i < DEMO_DATA_TABLE_COUNT; i++) {
		char path[PATH_BYTES], name[128];
		size_t len;
		char *data;
		snprintf(name, sizeof(name), "%s.csv", demo_data_tables[i]);
		path_join(path, dir_a, name);
		data = read_file(path, &len);
		for (size_t k = 0; k < len; k++)
			hash = (hash ^ (unsigned char)data[k]) * 0x100000001b3ULL;
		free(data);
	}
	if (hash != GOLDEN_CSV_HASH)
		fail_msg("CSV bytes changed: hash is 0x%016llxULL", (unsigned long long)hash);
}

/* ---- the atomic write ----------------------------------------------------- */

static void test_parent_is_a_file(void **state)
{
	char *file = tl_write_tmp("demo-plain-file", "not a folder\n");
	char path[PATH_BYTES], err[1024] = "";
	struct stat st;
	int r;

	(void)state;
	path_join(path, file, "demo");
	r = demo_data_write(path, err, sizeof(err));
	assert_int_equal(r, -ENOTDIR);
	assert_non_null(strstr(err, path));
	assert_null(strchr(err, '\n'));
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_size, 13);
	/* and the path itself being a file */
	err[0] = '\0';
	assert_int_equal(demo_data_write(file, err, sizeof(err)), -ENOTDIR);
	assert_non_null(strstr(err, file));
	assert_int_equal(stat(file, &st), 0);
	assert_true(S_ISREG(st.st_mode) && st.st_size == 13);
	unlink(file);
	free(file);
}

static void test_bad_arguments(void **state)
{
	char err[256] = "";

	(void)state;
	assert_int_equal(demo_data_write(NULL, err, sizeof(err)), -EINVAL);
	assert_true(strlen(err) > 0);
	assert_int_equal(demo_data_write("", NULL, 0), -EINVAL);
}

static void test_rewrite_same_dir(void **state)
{
	char notes[PATH_BYTES];
	FILE *f;

	(void)state;
	path_join(notes, dir_b, "notes.txt");
	f = fopen(notes, "w");
	assert_non_null(f);
	fputs("mine\n", f);
	assert_int_equal(fclose(f), 0);
	write_demo(dir_b);
	assert_dir_holds_outputs(dir_b, "notes.txt");
	assert_same_outputs(dir_a, dir_b);
	assert_int_equal(unlink(notes), 0);
}

/* Runs demo_data_write in a child whose files may not exceed limit_bytes;
 * returns the child's result and copies its message into err. */
static int write_with_file_limit(const char *dir, rlim_t limit_bytes, char *err, size_t err_len)
{
	int fds[2], status;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { limit_bytes, limit_bytes };
		char msg[1024] = "";
		int r;
		signal(SIGXFSZ, SIG_IGN); /* write() then fails with EFBIG */
		if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
			_exit(100);
		r = demo_data_write(dir, msg, sizeof(msg));
		if (write(fds[1], msg, strlen(msg)) < 0)
			_exit(101);
		_exit(r < 0 && r > -100 ? -r : 102);
	}
	close(fds[1]);
	n = read(fds[0], err, err_len - 1);
	err[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return -WEXITSTATUS(status);
}

static void test_failure_leaves_nothing_behind(void **state)
{
	char dir[PATH_BYTES], err[1024];
	struct stat st;
	int r;

	(void)state;
	/* a new folder: removed again */
	path_join(dir, tl_tmp(), "demo-full");
	remove_tree(dir);
	r = write_with_file_limit(dir, 4 << 20, err, sizeof(err));
	assert_int_equal(r, -EFBIG);
	assert_non_null(strstr(err, dir));
	assert_int_equal(stat(dir, &st), -1);
	/* an existing dataset: untouched, and no temporary files */
	r = write_with_file_limit(dir_b, 4 << 20, err, sizeof(err));
	assert_int_equal(r, -EFBIG);
	assert_dir_holds_outputs(dir_b, NULL);
	assert_same_outputs(dir_a, dir_b);
}

/* ---- internals ------------------------------------------------------------ */

static void test_calendar(void **state)
{
	char date[DEMO_DATE_LEN];

	(void)state;
	assert_int_equal(demo_day(2024, 1, 1), DEMO_DAY_START);
	assert_int_equal(demo_day(2025, 12, 31), DEMO_DAY_END);
	assert_int_equal(demo_day_weekday(DEMO_DAY_START), 0); /* a Monday */
	demo_day_format(demo_day(2024, 2, 29), date);
	assert_string_equal(date, "2024-02-29");
	for (int day = demo_day(2015, 1, 1); day < demo_day(2027, 1, 1); day++) {
		int y, m, d;
		demo_day_split(day, &y, &m, &d);
		assert_int_equal(demo_day(y, m, d), day);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables_and_row_counts),
		cmocka_unit_test(test_sqlite_file_is_rollback_journal),
		cmocka_unit_test(test_every_journal_balances),
		cmocka_unit_test(test_foreign_keys_hold),
		cmocka_unit_test(test_invoice_and_bill_dates),
		cmocka_unit_test(test_stock_never_negative),
		cmocka_unit_test(test_subledgers_match_ledger),
		cmocka_unit_test(test_cash_never_negative),
		cmocka_unit_test(test_growth_seasonality_margin),
		cmocka_unit_test(test_ar_aging_buckets_all_nonempty),
		cmocka_unit_test(test_budgets_cover_pl_accounts),
		cmocka_unit_test(test_csv_matches_tables),
		cmocka_unit_test(test_csv_quoting),
		cmocka_unit_test(test_two_runs_are_byte_identical),
		cmocka_unit_test(test_csv_bytes_match_golden_hash),
		cmocka_unit_test(test_parent_is_a_file),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_rewrite_same_dir),
		cmocka_unit_test(test_failure_leaves_nothing_behind),
		cmocka_unit_test(test_calendar),
	};

	return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
