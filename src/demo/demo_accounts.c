/*
 * demo_accounts: the chart of accounts of the demo business.
 *
 * Numbered the way small-business ledgers usually are (1xxx assets, 2xxx
 * liabilities, 3xxx equity, 4xxx revenue, 5xxx cost of sales, 6xxx-7xxx
 * expenses) so analysts can group by range as well as by type.
 */
#include "demo/demo_model.h"

#include "util/banned.h"

const struct demo_account demo_accounts[] = {
	{ ACC_CASH, "Cash - Operating Account", "asset", "current_asset", "debit" },
	{ ACC_AR, "Accounts Receivable", "asset", "current_asset", "debit" },
	{ ACC_INVENTORY, "Inventory", "asset", "current_asset", "debit" },
	{ ACC_PREPAID, "Prepaid Insurance", "asset", "current_asset", "debit" },
	{ ACC_EQUIPMENT, "Equipment and Vehicles", "asset", "fixed_asset", "debit" },
	/* Contra asset: an asset account whose balance is a credit. */
	{ ACC_ACCUM_DEPR, "Accumulated Depreciation", "asset", "contra_asset", "credit" },
	{ ACC_AP, "Accounts Payable", "liability", "current_liability", "credit" },
	{ ACC_PAYROLL_LIAB, "Payroll Liabilities", "liability", "current_liability", "credit" },
	{ ACC_LOAN, "Bank Loan", "liability", "long_term_liability", "credit" },
	{ ACC_OWNER_CAPITAL, "Owner's Capital", "equity", "contributed_capital", "credit" },
	{ ACC_RETAINED, "Retained Earnings", "equity", "retained_earnings", "credit" },
	{ ACC_DISTRIBUTIONS, "Owner Distributions", "equity", "distributions", "debit" },
	{ ACC_SALES, "Sales Revenue", "revenue", "operating_revenue", "credit" },
	{ ACC_SERVICE, "Service Revenue", "revenue", "operating_revenue", "credit" },
	{ ACC_RETURNS, "Sales Returns and Allowances", "revenue", "contra_revenue", "debit" },
	{ ACC_COGS, "Cost of Goods Sold", "expense", "cost_of_sales", "debit" },
	{ ACC_SHRINKAGE, "Inventory Shrinkage", "expense", "cost_of_sales", "debit" },
	{ ACC_FREIGHT_IN, "Freight In", "expense", "cost_of_sales", "debit" },
	{ ACC_SALARIES, "Salaries and Wages", "expense", "payroll", "debit" },
	{ ACC_PAYROLL_TAX, "Payroll Taxes and Benefits", "expense", "payroll", "debit" },
	{ ACC_RENT, "Rent", "expense", "occupancy", "debit" },
	{ ACC_UTILITIES, "Utilities", "expense", "occupancy", "debit" },
	{ ACC_MARKETING, "Marketing and Advertising", "expense", "sales_and_marketing", "debit" },
	{ ACC_SOFTWARE, "Software and IT", "expense", "general_and_admin", "debit" },
	{ ACC_TRAVEL, "Travel", "expense", "sales_and_marketing", "debit" },
	{ ACC_VEHICLE, "Vehicles and Fuel", "expense", "operations", "debit" },
	{ ACC_INSURANCE, "Insurance", "expense", "general_and_admin", "debit" },
	{ ACC_DEPRECIATION, "Depreciation", "expense", "depreciation", "debit" },
	{ ACC_PROFESSIONAL, "Professional Fees", "expense", "general_and_admin", "debit" },
	{ ACC_BANK_FEES, "Bank Fees", "expense", "general_and_admin", "debit" },
	{ ACC_INTEREST, "Interest Expense", "expense", "other_expense", "debit" },
};
const size_t demo_account_count = sizeof(demo_accounts) / sizeof(demo_accounts[0]);
