/*
 * templates: built-in analyses an analyst can run by name, with no code
 * to write and no language model involved.
 *
 * Each template (pnl_by_month, cash_flow_summary, ar_aging,
 * inventory_turnover, budget_vs_actual, top_customers) has a fixed text in
 * two languages: one SQLite SELECT, and a pandas program that reads the
 * dataset's SQLite file read-only and ends with the result DataFrame
 * (pnl_by_month and budget_vs_actual also save a chart to /out). Both give
 * the same table. Money is summed in whole cents and shown as currency
 * units with two decimals.
 *
 * Parameters are checked strictly and only their validated values reach
 * the code, rendered as literals in one block at the top: a `params` CTE
 * in SQL, plain assignments in Python. Every parameter has a default (or
 * is optional), so each template runs on the demo data with no parameters.
 * docs/templates.md lists the templates, their parameters and columns.
 *
 * Types: "year" (a JSON integer from 1900 to 2200), "integer" (a JSON
 * integer from min to max), "date" (a JSON string YYYY-MM-DD naming a real
 * day in years 1900 to 2200), "string" (a JSON string of min to max bytes
 * of UTF-8 without control characters; some accept only a fixed set of
 * values). JSON null means "not given".
 */
#ifndef LEDGERBOX_TEMPLATES_H
#define LEDGERBOX_TEMPLATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct template_param {
	const char *name;
	const char *type;         /* "date", "integer", "string" or "year" */
	const char *description;
	const char *default_text; /* the default as text ("2025", "2025-12-31"), or NULL */
	bool required;
	int64_t min, max;         /* integer and year: value bounds; string: length in bytes */
	/* string: the only values accepted (NULL-terminated), or NULL for any. */
	const char *const *choices;
};

struct template_info {
	const char *id;
	const char *title;
	const char *description;
	const struct template_param *params;
	size_t n_params;
};

/* Every template, in a fixed order; the array is static. */
const struct template_info *templates_list(size_t *ret_count);
/* The template with this id, or NULL when none. */
const struct template_info *template_find(const char *id);

/* [{"id", "title", "description", "languages": ["sql", "python"],
 *   "params": [{"name", "type", "required", "default", "description",
 *               "min"?, "max"? (integer and year), "maxLength"? (string),
 *               "enum"? (a string with a fixed set of values)}],
 *   "requires": {"table": ["column", ...]}}]
 * "default" is a JSON integer for integer and year, a string for date and
 * string, null when there is none. The caller owns the result; NULL when
 * memory runs out. */
json_t *templates_to_json(void);

/*
 * Builds the code of template `id` in `language` ("sql" or "python").
 * params: a JSON object of parameter values, or NULL for all defaults.
 * sqlite_file_name: the dataset's SQLite file name (no folder) as mounted
 * at /data; needed for Python only, may be NULL for SQL.
 *
 * On success *ret_code is the malloc'd program text (the caller frees it).
 * -ENOENT: no such template. -EINVAL: a bad language, file name or
 * parameter; err says which parameter, what was wrong and what is
 * expected, and *ret_field (ret_field may be NULL) names it: "params.NAME",
 * "params", "language" or "dataset". The field text is static or lives in
 * storage of the calling thread that the next call replaces. -ENOMEM.
 */
int template_build(const char *id, json_t *params, const char *language,
		   const char *sqlite_file_name, char **ret_code, char *err, size_t err_len,
		   const char **ret_field);

/*
 * Checks that the SQLite file at sqlite_path (a host path, opened read-only)
 * has every table and column template `id` reads. Names compare ignoring
 * ASCII case, as SQLite's do. -ENOENT: no such template. -EINVAL: something
 * is missing; err names every missing table and column, then what the
 * template needs. -EIO: the file cannot be opened or read as SQLite.
 */
int template_check_dataset(const char *id, const char *sqlite_path, char *err, size_t err_len);

/*
 * Says why template `id` run with `params` gave an empty table, when a
 * filter value matches nothing in the dataset at sqlite_path (opened
 * read-only): notice gets "no rows for segment 'Retail'; segments in the
 * data (matched exactly, case included): education, ..., retail" (and ".
 * Also no rows for year 2030; ..." for each other such value) and the
 * result is 1. When two or more values each match on their own, the notice
 * says no data matches them together, and the result is 1. 0: nothing to
 * say (notice untouched).
 * -ENOENT: no such template; -EINVAL: bad params (as template_build says);
 * -EIO: the file cannot be opened or queried; -ENOMEM.
 */
int template_explain_empty(const char *id, json_t *params, const char *sqlite_path,
			   char *notice, size_t notice_len);

#endif
