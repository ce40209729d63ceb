/* demo_cmd: `ledgerbox demo-data DIR`, the synthetic small-business dataset. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "demo/demo_data.h"
#include "util/banned.h"

static const char demo_usage[] =
	"usage: ledgerbox demo-data DIR\n"
	"\n"
	"Writes a deterministic synthetic dataset of a small business into DIR:\n"
	"ledger.sqlite (for SQL) and one CSV file per table (for Python): chart of\n"
	"accounts, two years of general-ledger entries, customers, invoices,\n"
	"vendors, bills, products, inventory movements and monthly budgets.\n"
	"Existing files of the same names are replaced.\n";

int cmd_demo_data(int argc, char **argv)
{
	char err[512];

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(demo_usage, stdout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "ledgerbox demo-data: expected one folder\n%s", demo_usage);
		return 64;
	}
	err[0] = '\0';
	if (demo_data_write(argv[1], err, sizeof(err)) < 0) {
		fprintf(stderr, "ledgerbox demo-data: %s\n", err);
		return 1;
	}
	printf("demo data written to %s\n", argv[1]);
	return 0;
}
