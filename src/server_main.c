/*
 * ledgerbox-server: `ledgerbox serve` and its sandbox workers. Kept apart
 * from the `ledgerbox` command line so that only the server loads the HTTP
 * library (libmicrohttpd brings GnuTLS): every `ledgerbox exec` starts
 * faster for it. `ledgerbox serve` executes this program.
 */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "runs/worker.h"
#include "util/banned.h"

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "sandbox-worker") == 0)
		return cmd_sandbox_worker(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	fprintf(stderr, "usage: ledgerbox-server serve [--config FILE] [--bootstrap]\n"
			"(started by `ledgerbox serve`)\n");
	return 64;
}
