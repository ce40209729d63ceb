/*
 * The parts of src/templates/ that the public header does not show: what
 * each template's code reads, its fixed texts, and the checked parameter
 * values the builder renders into them.
 *
 * tpl_infos[i] (the catalogue in tpl_table.c) and tpl_codes[i] (the code,
 * one file per template) describe the same template.
 */
#ifndef LEDGERBOX_TEMPLATES_INTERNAL_H
#define LEDGERBOX_TEMPLATES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "templates/templates.h"

/* Templates have at most this many parameters. */
#define TPL_MAX_PARAMS 8
/* The longest string parameter, in bytes. */
#define TPL_TEXT_MAX 64

/* A table the code reads and the columns it uses (NULL-terminated). */
struct tpl_need {
	const char *table;
	const char *const *columns;
};

/* A parameter that filters the data, for saying why a table is empty
 * (tpl_explain.c). Both queries are SELECTs that follow the params CTE. */
struct tpl_filter {
	/* One row: whether the value matches anything (0 or 1), and how the
	 * notice names it ("segment 'Retail'"). */
	const char *probe;
	/* The values that exist, one text per row, in order. */
	const char *values;
	/* What those values are: "segments in the data". */
	const char *intro;
};

struct tpl_code {
	const struct tpl_need *needs;
	size_t n_needs;
	/* In order: each whose probe finds nothing is named when the table is
	 * empty. A probe's subject is NULL for a parameter not given. */
	const struct tpl_filter *filters;
	size_t n_filters;
	/* SQL after "WITH params AS (...),": more CTEs, then the SELECT. */
	const char *sql;
	/* Python import lines, then the program after the parameter block and
	 * the DATABASE assignment. */
	const char *py_imports;
	const char *python;
	/* Two date parameters that must be in order, or NULL. */
	const char *date_first, *date_last;
};

extern const struct template_info tpl_infos[];
extern const struct tpl_code *const tpl_codes[];
extern const size_t tpl_count;

extern const struct tpl_code tpl_pnl_by_month;
extern const struct tpl_code tpl_cash_flow_summary;
extern const struct tpl_code tpl_ar_aging;
extern const struct tpl_code tpl_inventory_turnover;
extern const struct tpl_code tpl_budget_vs_actual;
extern const struct tpl_code tpl_top_customers;

/* The index of template id, or -ENOENT. */
int tpl_index(const char *id);

/* One checked parameter value: a number (integer, year) or text (date,
 * string). absent: an optional parameter that was not given. */
struct tpl_value {
	const struct template_param *param;
	bool absent;
	int64_t number;
	char text[TPL_TEXT_MAX + 1];
};

/* Checks params (an object or NULL) against template i and fills
 * values[0..n_params) in the order of its parameters. -EINVAL with err and
 * *ret_field set; -ENOMEM. */
int tpl_params_read(size_t i, json_t *params, struct tpl_value *values, char *err,
		    size_t err_len, const char **ret_field);

/* Renders the checked values as the code's parameter block: SQL
 * "WITH params AS (SELECT ... AS "name", ...)," or Python "name = value"
 * lines. Appends to b; -ENOMEM or -E2BIG. */
struct buf;
int tpl_render_sql_params(struct buf *b, const struct tpl_value *values, size_t n);
int tpl_render_python_params(struct buf *b, const struct tpl_value *values, size_t n);
/* Appends a Python string literal naming the read-only URI of
 * /data/FILE_NAME. */
int tpl_render_database_uri(struct buf *b, const char *file_name);

/* Appends a NUL-terminated string to b; -ENOMEM, or -E2BIG past its cap. */
int tpl_puts(struct buf *b, const char *s);

#endif
