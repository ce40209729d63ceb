/*
 * table_csv: a result table (columns and rows, as the runners produce it)
 * as RFC 4180 CSV, kept with the run so the whole result can be downloaded
 * even when the response shows only the first rows.
 */
#ifndef LEDGERBOX_TABLE_CSV_H
#define LEDGERBOX_TABLE_CSV_H

#include <stddef.h>

#include <jansson.h>

/* Stored as an artifact under a name analysts' files cannot take (their
 * names starting with TABLE_CSV_PREFIX are dropped). */
#define TABLE_CSV_PREFIX ".ledgerbox-"
#define TABLE_CSV_NAME ".ledgerbox-table.csv"

/* Renders the table; NULL values are empty fields. Text that a spreadsheet
 * would run as a formula (starting with = + - @ and not a number) gets a
 * leading apostrophe. Returns 0 or -ENOMEM/-EINVAL. */
int table_csv_render(json_t *table, char **ret, size_t *ret_len);

#endif
