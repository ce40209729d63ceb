/*
 * store_commands: the `ledgerbox` subcommands that work on the state store
 * (src/store/). Like the others in cli/commands.h, each takes the arguments
 * after `ledgerbox` (argv[0] is the command name) and returns the process
 * exit code.
 *
 * Both find the state directory in --state-dir DIR, else the environment
 * variable LEDGERBOX_STATE_DIR, else ./state; the state is in PostgreSQL
 * when LEDGERBOX_DATABASE_URL is set (the directory then holds the key
 * pepper only).
 */
#ifndef LEDGERBOX_STORE_COMMANDS_H
#define LEDGERBOX_STORE_COMMANDS_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* `ledgerbox keys create|list|revoke`. Exit 0 done, 1 failed, 64 bad usage. */
int cmd_keys(int argc, char **argv);
/* `ledgerbox audit verify|head`. Exit 0 intact, 1 broken, 2 could not be
 * checked, 64 bad usage. */
int cmd_audit(int argc, char **argv);
/* For `ledgerbox serve`: logs the audit head now (event audit.head) and
 * each anchor that falls due every `every` entries (audit.anchor; 0: none). */
void audit_anchor_logging(struct store *s, uint64_t every);

enum store_cmd_exit {
	STORE_CMD_EXIT_OK = 0,
	STORE_CMD_EXIT_FAILED = 1, /* keys: it did not happen; audit: the log is broken */
	STORE_CMD_EXIT_UNCHECKED = 2, /* audit: the log could not be read */
	STORE_CMD_EXIT_USAGE = 64,
};

#define STORE_CMD_DEFAULT_STATE_DIR "./state"

/* Shared by the store commands (defined in keys_cmd.c): the state
 * directory from the flag (may be NULL), the environment or the default. */
const char *store_cmd_state_dir(const char *flag);
/* LEDGERBOX_DATABASE_URL when set and not empty (PostgreSQL), else NULL. */
const char *store_cmd_database_url(void);
/* Opens the store for command `cmd` ("keys", "audit"), printing what went
 * wrong on stderr. must_exist: refuse a state directory without a database
 * instead of creating one (a mistyped path should not look empty). */
int store_cmd_open(const char *cmd, const char *state_dir, bool must_exist, struct store **ret);

#endif
