/*
 * demo_data: writes the deterministic synthetic demo dataset.
 *
 * The dataset is the books of "Brightwater Supply Co.", a made-up wholesale
 * and retail distributor of food-service, cleaning and packaging supplies
 * with about 40 staff, for the calendar years 2024 and 2025. It is meant for
 * trying ledgerbox: P&L by month, AR aging, cash flow, inventory turnover,
 * budget against actuals. docs/demo-data.md describes every table.
 *
 * The data is generated from a fixed seed with integer arithmetic only, so
 * every run writes the same rows, and the CSV files are byte-identical from
 * run to run and from machine to machine.
 */
#ifndef LEDGERBOX_DEMO_DATA_H
#define LEDGERBOX_DEMO_DATA_H

#include <stddef.h>

/* Name of the SQLite file written into the demo folder. */
#define DEMO_DATA_SQLITE_NAME "ledger.sqlite"

/* Number of tables; each gets one SQLite table and one <table>.csv file. */
#define DEMO_DATA_TABLE_COUNT 9

/* Table names, in the order they are created (parents before children). */
extern const char *const demo_data_tables[DEMO_DATA_TABLE_COUNT];

/*
 * Writes the demo dataset into `dir`:
 *   dir/ledger.sqlite     all tables, indexes, journal_mode DELETE
 *   dir/<table>.csv       one per table: header row, same rows and column
 *                         order as SQLite, money with exactly 2 decimals,
 *                         NULL as an empty field, RFC 4180 quoting, LF ends
 *
 * `dir` is created when missing (one level only, mode 0755). Files already
 * there with those names are replaced; other files are left alone.
 *
 * Atomic: everything is first written to hidden temporary files in `dir`
 * and renamed into place only once all of it was written and synced. On
 * failure no temporary file is left behind, the previous files (if any)
 * are untouched, and a folder that this call created is removed again.
 *
 * Returns 0, or a negative errno (-ENOTDIR, -EACCES, -ENOSPC, -ENOMEM, ...).
 * On failure, when err is not NULL and err_len > 0, err receives a one-line,
 * NUL-terminated message saying what failed, on which path, and what to do.
 * Nothing is printed.
 */
int demo_data_write(const char *dir, char *err, size_t err_len);

#endif
