/*
 * commands: the `ledgerbox` subcommands. Each takes the arguments after its
 * name (argv[0] is the command name) and returns the process exit code.
 */
#ifndef LEDGERBOX_COMMANDS_H
#define LEDGERBOX_COMMANDS_H

int cmd_exec(int argc, char **argv);
int cmd_demo_data(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_budget(int argc, char **argv);
int cmd_spend(int argc, char **argv);
int cmd_config(int argc, char **argv);

/* Exit codes of `ledgerbox exec`, also documented in its --help. */
enum exec_exit {
	EXEC_EXIT_OK = 0,
	EXEC_EXIT_CODE_ERROR = 1,
	EXEC_EXIT_LIMIT = 2,
	EXEC_EXIT_KILLED = 3,
	EXEC_EXIT_SANDBOX = 4,
	EXEC_EXIT_USAGE = 64,
};

#endif
