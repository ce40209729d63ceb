/*
 * The catalogue of templates: ids, titles, descriptions and parameters,
 * in the order templates_list() gives them. Entry i of tpl_infos and of
 * tpl_codes describe the same template. Defaults are chosen so that each
 * template runs on the demo data (books for 2024 and 2025) as it is.
 */
#include "templates/internal.h"

#include "util/banned.h"

#define YEAR_PARAM(desc) \
	{ "year", "year", desc, "2025", false, 1900, 2200, NULL }

static const struct template_param pnl_params[] = {
	YEAR_PARAM("Calendar year to report, month by month."),
};

static const struct template_param cash_flow_params[] = {
	{ "start_date", "date", "First day of the period (YYYY-MM-DD).", "2025-01-01", false, 0, 0,
	  NULL },
	{ "end_date", "date", "Last day of the period (YYYY-MM-DD), on or after start_date.",
	  "2025-12-31", false, 0, 0, NULL },
	{ "cash_account", "integer", "Account number of the cash account in accounts.", "1000",
	  false, 1, 999999999, NULL },
};

static const struct template_param ar_aging_params[] = {
	{ "as_of", "date",
	  "Day the aging is taken on (YYYY-MM-DD): invoices issued by then and not paid by then.",
	  "2025-12-31", false, 0, 0, NULL },
};

static const char *const average_choices[] = { "endpoints", "monthly", NULL };
static const char *const revenue_choices[] = { "net", "gross", NULL };

static const struct template_param inventory_params[] = {
	YEAR_PARAM("Calendar year: its cost of sales and its stock values."),
	{ "average", "string",
	  "How average stock is taken: endpoints ((opening + closing) / 2) or monthly (the mean "
	  "of the twelve month-end values).",
	  "endpoints", false, 1, 16, average_choices },
};

static const struct template_param budget_params[] = {
	YEAR_PARAM("Calendar year of the budget."),
	{ "through_month", "integer",
	  "Last month included (1 to 12): the report covers January to this month.", "12", false,
	  1, 12, NULL },
};

static const struct template_param top_customers_params[] = {
	YEAR_PARAM("Calendar year whose invoices count."),
	{ "limit", "integer", "How many customers to list.", "10", false, 1, 1000, NULL },
	{ "segment", "string",
	  "Only customers of this segment (customers.segment, exact match); all when not given.",
	  NULL, false, 1, TPL_TEXT_MAX, NULL },
	{ "revenue", "string",
	  "net: revenue the ledger books for the customer in the year, after returns (as the "
	  "P&L counts it); gross: the amount of the invoices issued in the year, before returns.",
	  "net", false, 1, 16, revenue_choices },
};

#define PARAMS(a) a, sizeof(a) / sizeof((a)[0])

const struct template_info tpl_infos[] = {
	{ "pnl_by_month", "Profit and loss by month",
	  "Revenue (after returns), cost of sales, gross profit, operating expenses and net income "
	  "for each month of a year, from the general ledger. The Python version also draws a "
	  "chart.",
	  PARAMS(pnl_params) },
	{ "cash_flow_summary", "Cash flow summary",
	  "Money in and out of the cash account for each month of a period, as operating "
	  "(customers, vendors, payroll, other), investing and financing (loan principal, owner) "
	  "activities, with opening and closing cash. Interest is operating.",
	  PARAMS(cash_flow_params) },
	{ "ar_aging", "Accounts receivable aging",
	  "Invoices unpaid on a day, by days past due (current, 1-30, 31-60, 61-90, 90+): how "
	  "many, how much, and each bucket's share.",
	  PARAMS(ar_aging_params) },
	{ "inventory_turnover", "Inventory turnover",
	  "Cost of sales as the P&L counts it (goods at cost, shrinkage, freight in) over average "
	  "stock, and days on hand, for each product category and for all of them, in a year.",
	  PARAMS(inventory_params) },
	{ "budget_vs_actual", "Budget against actual",
	  "Budget, actual amount, variance and whether it is favorable, unfavorable or on budget "
	  "for each revenue and expense account, from January to a month of a year. The Python "
	  "version also draws a chart.",
	  PARAMS(budget_params) },
	{ "top_customers", "Top customers",
	  "Customers ranked by their revenue in a year, net of returns (as the P&L counts it) or "
	  "gross invoiced, optionally within one segment, with invoice count, share, average "
	  "invoice and last invoice date.",
	  PARAMS(top_customers_params) },
};

const struct tpl_code *const tpl_codes[] = {
	&tpl_pnl_by_month,     &tpl_cash_flow_summary, &tpl_ar_aging,
	&tpl_inventory_turnover, &tpl_budget_vs_actual, &tpl_top_customers,
};

const size_t tpl_count = sizeof(tpl_infos) / sizeof(tpl_infos[0]);

_Static_assert(sizeof(tpl_infos) / sizeof(tpl_infos[0]) ==
		       sizeof(tpl_codes) / sizeof(tpl_codes[0]),
	       "every template has its code");
