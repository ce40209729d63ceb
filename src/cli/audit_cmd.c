/*
 * audit_cmd: `ledgerbox audit verify`, checking the audit log's hash chain.
 *
 * The verdict goes to stdout in one line either way ("audit log intact: N
 * entries" or "audit log broken at entry ID: reason"), since it is the
 * answer the command was asked for; the exit status tells intact (0),
 * broken (1) and could-not-check (2) apart for scripts and cron.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli/store_commands.h"
#include "util/banned.h"

static const char audit_usage[] =
	"usage: ledgerbox audit verify [--state-dir DIR]\n"
	"\n"
	"Checks the audit log: every entry's SHA-256 hash, the link to the entry\n"
	"before it, that no entry is missing, and that the log ends where its head\n"
	"record says. Prints 'audit log intact: N entries', or 'audit log broken at\n"
	"entry ID: reason' for the first entry that fails.\n"
	"\n"
	"Options:\n"
	"  --state-dir DIR  the server's state directory [$LEDGERBOX_STATE_DIR or ./state]\n"
	"  --help           this text\n"
	"\n"
	"Exit status: 0 intact, 1 broken, 2 the log could not be read, 64 bad usage.\n";

static int audit_usage_error(const char *what)
{
	fprintf(stderr, "ledgerbox audit: %s\nTry 'ledgerbox audit --help'.\n", what);
	return STORE_CMD_EXIT_USAGE;
}

static int audit_verify(const char *state_dir)
{
	char err[512] = "";
	int64_t entries = 0, bad_id = 0;
	struct store *s;
	int r;

	if (store_cmd_open("audit", state_dir, true, &s) < 0)
		return STORE_CMD_EXIT_UNCHECKED;
	r = store_audit_verify(s, &entries, &bad_id, err, sizeof(err));
	store_close(s);
	if (r == -EBADMSG) {
		printf("audit log broken at entry %lld: %s\n", (long long)bad_id, err);
		return STORE_CMD_EXIT_FAILED;
	}
	if (r < 0) {
		fprintf(stderr, "ledgerbox audit: cannot verify the audit log in %s: %s\n", state_dir,
			err[0] ? err : strerror(-r));
		return STORE_CMD_EXIT_UNCHECKED;
	}
	printf("audit log intact: %lld %s\n", (long long)entries, entries == 1 ? "entry" : "entries");
	return STORE_CMD_EXIT_OK;
}

int cmd_audit(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "state-dir", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state_dir = NULL;
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (opt == 'S') {
			state_dir = optarg;
		} else if (opt == 'h') {
			fputs(audit_usage, stdout);
			return STORE_CMD_EXIT_OK;
		} else {
			fprintf(stderr, "ledgerbox audit: unknown option or missing value: '%s'\n"
					"Try 'ledgerbox audit --help'.\n", argv[optind - 1]);
			return STORE_CMD_EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || strcmp(argv[optind], "verify") != 0)
		return audit_usage_error("expected the subcommand 'verify'");
	return audit_verify(store_cmd_state_dir(state_dir));
}
