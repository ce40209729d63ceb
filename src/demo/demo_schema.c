/*
 * demo_schema: the SQL schema of the demo dataset.
 *
 * Money columns are REAL holding exact cents (x.yz), dates are ISO TEXT.
 * REAL is used for money and nothing else, which is how the CSV export
 * knows to print those values with exactly two decimals. Indexes are
 * created after the rows are in, which is faster than maintaining them
 * during the bulk insert.
 */
#include "demo/demo_data.h"
#include "demo/demo_model.h"

#include <string.h>

#include "util/banned.h"

const char *const demo_data_tables[DEMO_DATA_TABLE_COUNT] = {
	"accounts", "customers", "vendors", "products", "invoices",
	"bills", "inventory_movements", "gl_entries", "budgets",
};

static const char demo_schema_tables[] =
	"CREATE TABLE accounts ("
	" account_id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" type TEXT NOT NULL CHECK (type IN ('asset','liability','equity','revenue','expense')),"
	" subtype TEXT NOT NULL,"
	" normal_balance TEXT NOT NULL CHECK (normal_balance IN ('debit','credit')));"
	"CREATE TABLE customers ("
	" customer_id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" segment TEXT NOT NULL,"
	" city TEXT NOT NULL,"
	" country TEXT NOT NULL,"
	" payment_terms_days INTEGER NOT NULL CHECK (payment_terms_days IN (15,30,45,60)),"
	" credit_limit REAL NOT NULL CHECK (credit_limit > 0),"
	" created_date TEXT NOT NULL);"
	"CREATE TABLE vendors ("
	" vendor_id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" category TEXT NOT NULL,"
	" city TEXT NOT NULL,"
	" country TEXT NOT NULL,"
	" payment_terms_days INTEGER NOT NULL CHECK (payment_terms_days >= 0),"
	" created_date TEXT NOT NULL);"
	"CREATE TABLE products ("
	" product_id INTEGER PRIMARY KEY,"
	" sku TEXT NOT NULL UNIQUE,"
	" name TEXT NOT NULL,"
	" category TEXT NOT NULL,"
	" unit_cost REAL NOT NULL CHECK (unit_cost > 0),"
	" unit_price REAL NOT NULL CHECK (unit_price > unit_cost),"
	" vendor_id INTEGER NOT NULL REFERENCES vendors(vendor_id));"
	"CREATE TABLE invoices ("
	" invoice_id INTEGER PRIMARY KEY,"
	" invoice_number TEXT NOT NULL UNIQUE,"
	" customer_id INTEGER NOT NULL REFERENCES customers(customer_id),"
	" issue_date TEXT NOT NULL,"
	" due_date TEXT NOT NULL CHECK (due_date >= issue_date),"
	" paid_date TEXT CHECK (paid_date IS NULL OR paid_date >= issue_date),"
	" amount REAL NOT NULL CHECK (amount > 0),"
	" status TEXT NOT NULL CHECK (status IN ('paid','open','overdue')));"
	"CREATE TABLE bills ("
	" bill_id INTEGER PRIMARY KEY,"
	" bill_number TEXT NOT NULL UNIQUE,"
	" vendor_id INTEGER NOT NULL REFERENCES vendors(vendor_id),"
	" issue_date TEXT NOT NULL,"
	" due_date TEXT NOT NULL CHECK (due_date >= issue_date),"
	" paid_date TEXT CHECK (paid_date IS NULL OR paid_date >= issue_date),"
	" amount REAL NOT NULL CHECK (amount > 0),"
	" category TEXT NOT NULL,"
	" status TEXT NOT NULL CHECK (status IN ('paid','open','overdue')));"
	"CREATE TABLE inventory_movements ("
	" movement_id INTEGER PRIMARY KEY,"
	" product_id INTEGER NOT NULL REFERENCES products(product_id),"
	" movement_date TEXT NOT NULL,"
	" movement_type TEXT NOT NULL"
	"  CHECK (movement_type IN ('purchase','sale','adjustment','return')),"
	" quantity INTEGER NOT NULL CHECK (quantity <> 0),"
	" unit_cost REAL NOT NULL,"
	" reference TEXT);"
	"CREATE TABLE gl_entries ("
	" entry_id INTEGER PRIMARY KEY,"
	" journal_id INTEGER NOT NULL,"
	" entry_date TEXT NOT NULL,"
	" account_id INTEGER NOT NULL REFERENCES accounts(account_id),"
	" description TEXT NOT NULL,"
	" debit REAL NOT NULL CHECK (debit >= 0),"
	" credit REAL NOT NULL CHECK (credit >= 0),"
	" source TEXT NOT NULL,"
	" reference TEXT,"
	" CHECK ((debit = 0) <> (credit = 0)));"
	"CREATE TABLE budgets ("
	" account_id INTEGER NOT NULL REFERENCES accounts(account_id),"
	" month TEXT NOT NULL,"
	" amount REAL NOT NULL CHECK (amount >= 0),"
	" PRIMARY KEY (account_id, month));";

static const char demo_schema_indexes[] =
	"CREATE INDEX gl_entries_date ON gl_entries(entry_date);"
	"CREATE INDEX gl_entries_account_date ON gl_entries(account_id, entry_date);"
	"CREATE INDEX gl_entries_journal ON gl_entries(journal_id);"
	"CREATE INDEX gl_entries_reference ON gl_entries(reference);"
	"CREATE INDEX invoices_customer ON invoices(customer_id);"
	"CREATE INDEX invoices_issue_date ON invoices(issue_date);"
	"CREATE INDEX invoices_due_date ON invoices(due_date);"
	"CREATE INDEX bills_vendor ON bills(vendor_id);"
	"CREATE INDEX bills_issue_date ON bills(issue_date);"
	"CREATE INDEX inventory_movements_product_date"
	" ON inventory_movements(product_id, movement_date);"
	"CREATE INDEX inventory_movements_date ON inventory_movements(movement_date);"
	"CREATE INDEX budgets_month ON budgets(month);"
	"ANALYZE;";

int demo_schema_create(sqlite3 *db)
{
	return sqlite3_exec(db, demo_schema_tables, NULL, NULL, NULL);
}

int demo_schema_index(sqlite3 *db)
{
	return sqlite3_exec(db, demo_schema_indexes, NULL, NULL, NULL);
}

const char *demo_schema_order(const char *table)
{
	/* budgets has a composite key and is inserted month by month. */
	if (strcmp(table, "budgets") == 0)
		return "month, account_id";
	return "rowid";
}
