/*
 * table_csv: a result table (columns and rows, as the runners produce it)
 * as RFC 4180 CSV, kept with the run so the whole result can be downloaded
 * even when the response shows only the first rows.
 */
#ifndef LEDGERBOX_TABLE_CSV_H
#define LEDGERBOX_TABLE_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Stored as an artifact under a name analysts' files cannot take (their
 * names starting with TABLE_CSV_PREFIX are dropped). */
#define TABLE_CSV_PREFIX ".ledgerbox-"
#define TABLE_CSV_NAME ".ledgerbox-table.csv"

/* SQLite's own limit on the columns of a table. */
#define TABLE_MAX_COLUMNS 2000

/* The runner's table comes from the analyst's process, which can write its
 * result channel itself: true only for {"columns": [{"name", "type"}...],
 * "rows": [[scalar x width]...], "row_count"?, "total_rows"?, "truncated"?}
 * with at most max_rows rows and TABLE_MAX_COLUMNS columns. */
bool table_valid(json_t *table, size_t max_rows);

/* Renders the table; NULL values are empty fields. Text that a spreadsheet
 * would run as a formula (starting with = + - @ and not a number) gets a
 * leading apostrophe. Returns 0 or -ENOMEM/-EINVAL. */
int table_csv_render(json_t *table, char **ret, size_t *ret_len);

#endif
