/* main: `ledgerbox COMMAND ...`; dispatches to src/cli/ and nothing else. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/store_commands.h"
#include "runners/sql_runner.h"
#include "util/banned.h"

static const char main_usage[] =
	"usage: ledgerbox COMMAND [ARGS]\n"
	"\n"
	"Commands:\n"
	"  serve       serve the analysis API over HTTP\n"
	"  exec        run Python or SQL in a fresh sandbox and print the result as JSON\n"
	"  keys        create, list and revoke API keys\n"
	"  audit       verify the tamper-evident audit log, or print its head\n"
	"  budget      set, list and remove budgets\n"
	"  spend       what was spent, by scope and time, as JSON or CSV\n"
	"  config      print a sample configuration file, or check one\n"
	"  demo-data   write the synthetic small-business dataset\n"
	"\n"
	"'ledgerbox COMMAND --help' tells more about each.\n";

/* `ledgerbox serve` is ledgerbox-server, beside this binary: only the
 * server loads the HTTP library. The process (and its pid) stays the same. */
static int cmd_serve_exec(int argc, char **argv)
{
	char self[PATH_MAX], server[PATH_MAX + 32], *slash;
	char **args = calloc((size_t)argc + 2, sizeof(char *));

	if (!args || !realpath("/proc/self/exe", self) || !(slash = strrchr(self, '/'))) {
		fprintf(stderr, "ledgerbox serve: cannot find its own binary\n");
		free(args);
		return 1;
	}
	*slash = '\0';
	snprintf(server, sizeof(server), "%s/ledgerbox-server", self);
	args[0] = "ledgerbox-server";
	for (int i = 0; i < argc; i++)
		args[i + 1] = argv[i];
	execv(server, args);
	fprintf(stderr, "ledgerbox serve: cannot start %s: %s (build or reinstall ledgerbox)\n",
		server, strerror(errno));
	free(args);
	return 1;
}

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "serve", cmd_serve_exec },
	{ "exec", cmd_exec },
	{ "keys", cmd_keys },
	{ "audit", cmd_audit },
	{ "budget", cmd_budget },
	{ "spend", cmd_spend },
	{ "config", cmd_config },
	{ "demo-data", cmd_demo_data },
	/* Internal: the SQL runner (the sandbox runs ledgerbox-sql-runner, the
	 * same code as a small program of its own). */
	{ "sql-runner", sql_runner_main },
};

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(main_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 64 : 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "ledgerbox: unknown command '%s'\n%s", argv[1], main_usage);
	return 64;
}
