/*
 * audit_cmd: `ledgerbox audit verify` checks the audit log's hash chain,
 * that every run agrees with its chained entry and the spend ledger, and
 * optionally that the log still holds an anchor written down earlier;
 * `ledgerbox audit head` prints the anchor to write down now.
 *
 * The verdict goes to stdout either way, since it is the answer the
 * command was asked for: first "audit log intact: N entries" or "audit log
 * broken at entry ID: reason", then one line per run that differs, then
 * the anchor's verdict. The exit status tells intact (0), broken (1) and
 * could-not-check (2) apart for scripts and cron.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli/store_commands.h"
#include "obs/log.h"
#include "util/banned.h"

static const char audit_usage[] =
	"usage: ledgerbox audit verify [--against SEQ:HASH] [--state-dir DIR]\n"
	"       ledgerbox audit head [--state-dir DIR]\n"
	"\n"
	"verify checks the audit log: every entry's SHA-256 hash, the link to the\n"
	"entry before it, that no entry is missing, and that the log ends where its\n"
	"head record says. It then checks every run against its chained entry (a\n"
	"field edited in the runs table, a run row deleted or added), and the spend\n"
	"ledger's charges against the cost each run's entry records. With\n"
	"--against it also checks that entry SEQ is still there with that hash: a\n"
	"log cut back below it, or rewritten up to it with every later hash\n"
	"recomputed, is caught only this way.\n"
	"\n"
	"head prints the newest entry as SEQ:HASH, one line to keep outside the\n"
	"database (a ticket, a log archive) and give to --against later.\n"
	"\n"
	"Options:\n"
	"  --against SEQ:HASH  an anchor printed by 'audit head' or logged by the\n"
	"                      server (event audit.anchor)\n"
	"  --state-dir DIR     the server's state directory [$LEDGERBOX_STATE_DIR or ./state]\n"
	"  --help              this text\n"
	"\n"
	"Exit status: 0 intact, 1 broken or a difference found, 2 the log could not\n"
	"be read, 64 bad usage.\n";

static int audit_usage_error(const char *what)
{
	fprintf(stderr, "ledgerbox audit: %s\nTry 'ledgerbox audit --help'.\n", what);
	return STORE_CMD_EXIT_USAGE;
}

static int unchecked(const char *state_dir, const char *what, const char *err, int r)
{
	fprintf(stderr, "ledgerbox audit: cannot %s in %s: %s\n", what, state_dir,
		err[0] ? err : strerror(-r));
	return STORE_CMD_EXIT_UNCHECKED;
}

/* The hash chain alone. */
static int verify_chain(struct store *s, const char *state_dir)
{
	char err[512] = "";
	int64_t entries = 0, bad_id = 0;
	int r = store_audit_verify(s, &entries, &bad_id, err, sizeof(err));

	if (r == -EBADMSG) {
		printf("audit log broken at entry %lld: %s\n", (long long)bad_id, err);
		return STORE_CMD_EXIT_FAILED;
	}
	if (r < 0)
		return unchecked(state_dir, "verify the audit log", err, r);
	printf("audit log intact: %lld %s\n", (long long)entries, entries == 1 ? "entry" : "entries");
	return STORE_CMD_EXIT_OK;
}

/* Runs against their entries and the ledger. */
static int verify_runs(struct store *s, const char *state_dir)
{
	char err[512] = "";
	int64_t runs = 0, count = 0;
	json_t *problems = NULL;
	int r = store_audit_crosscheck(s, &problems, &runs, &count, err, sizeof(err));

	if (r < 0)
		return unchecked(state_dir, "cross-check the runs", err, r);
	for (size_t i = 0; i < json_array_size(problems); i++)
		printf("%s\n", json_string_value(json_array_get(problems, i)));
	if ((size_t)count > json_array_size(problems))
		printf("... and %lld more differences\n",
		       (long long)(count - (int64_t)json_array_size(problems)));
	json_decref(problems);
	if (count > 0) {
		printf("runs differ from the audit log: %lld %s in %lld chained runs\n",
		       (long long)count, count == 1 ? "difference" : "differences", (long long)runs);
		return STORE_CMD_EXIT_FAILED;
	}
	printf("runs match the audit log and the ledger: %lld %s\n", (long long)runs,
	       runs == 1 ? "run" : "runs");
	return STORE_CMD_EXIT_OK;
}

static int verify_anchor(struct store *s, const char *state_dir,
			 const struct store_audit_anchor *anchor)
{
	char err[512] = "";
	int r = store_audit_anchor_check(s, anchor, err, sizeof(err));

	if (r == -EBADMSG) {
		printf("anchor %lld does not match: %s\n", (long long)anchor->seq, err);
		return STORE_CMD_EXIT_FAILED;
	}
	if (r < 0)
		return unchecked(state_dir, "check the anchor", err, r);
	printf("anchor %lld matches: entries 1 to %lld are those it was taken from\n",
	       (long long)anchor->seq, (long long)anchor->seq);
	return STORE_CMD_EXIT_OK;
}

static int worst(int a, int b)
{
	/* Could-not-check outranks broken: the answer is not known. */
	if (a == STORE_CMD_EXIT_UNCHECKED || b == STORE_CMD_EXIT_UNCHECKED)
		return STORE_CMD_EXIT_UNCHECKED;
	return a != STORE_CMD_EXIT_OK ? a : b;
}

static int audit_verify(const char *state_dir, const struct store_audit_anchor *anchor)
{
	struct store *s;
	int rc;

	if (store_cmd_open("audit", state_dir, true, &s) < 0)
		return STORE_CMD_EXIT_UNCHECKED;
	rc = verify_chain(s, state_dir);
	/* The cross-check means something even on a broken chain: it names
	 * the runs that differ. */
	if (rc != STORE_CMD_EXIT_UNCHECKED)
		rc = worst(rc, verify_runs(s, state_dir));
	if (anchor && rc != STORE_CMD_EXIT_UNCHECKED)
		rc = worst(rc, verify_anchor(s, state_dir, anchor));
	store_close(s);
	return rc;
}

static int audit_head(const char *state_dir)
{
	char err[1] = "", text[STORE_AUDIT_ANCHOR_TEXT_MAX];
	struct store_audit_anchor head;
	struct store *s;
	int r;

	if (store_cmd_open("audit", state_dir, true, &s) < 0)
		return STORE_CMD_EXIT_UNCHECKED;
	r = store_audit_head(s, &head);
	store_close(s);
	if (r < 0)
		return unchecked(state_dir, "read the audit head", err, r);
	store_audit_anchor_format(&head, text);
	printf("%s\n", text);
	return STORE_CMD_EXIT_OK;
}

int cmd_audit(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "state-dir", required_argument, NULL, 'S' },
		{ "against", required_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct store_audit_anchor anchor;
	const char *state_dir = NULL, *against = NULL;
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (opt == 'S') {
			state_dir = optarg;
		} else if (opt == 'A') {
			against = optarg;
		} else if (opt == 'h') {
			fputs(audit_usage, stdout);
			return STORE_CMD_EXIT_OK;
		} else {
			fprintf(stderr, "ledgerbox audit: unknown option or missing value: '%s'\n"
					"Try 'ledgerbox audit --help'.\n", argv[optind - 1]);
			return STORE_CMD_EXIT_USAGE;
		}
	}
	if (optind != argc - 1)
		return audit_usage_error("expected the subcommand 'verify' or 'head'");
	if (strcmp(argv[optind], "head") == 0 && !against)
		return audit_head(store_cmd_state_dir(state_dir));
	if (strcmp(argv[optind], "verify") != 0)
		return audit_usage_error("expected the subcommand 'verify' or 'head' (--against "
					 "goes with 'verify')");
	if (against && store_audit_anchor_parse(against, &anchor) < 0)
		return audit_usage_error("--against takes SEQ:HASH as 'ledgerbox audit head' prints "
					 "it (an entry number, ':', 64 lowercase hex digits)");
	return audit_verify(store_cmd_state_dir(state_dir), against ? &anchor : NULL);
}

/* ---- the server's anchors ------------------------------------------------ */

static void anchor_log(void *ctx, const struct store_audit_anchor *a)
{
	const char *event = ctx;
	char text[STORE_AUDIT_ANCHOR_TEXT_MAX];
	json_t *f;

	store_audit_anchor_format(a, text);
	f = json_pack("{s:I,s:s,s:s}", "seq", (json_int_t)a->seq, "hash", a->hash, "anchor", text);
	log_event(LOG_INFO, NULL, event, f);
	json_decref(f);
}

void audit_anchor_logging(struct store *s, uint64_t every)
{
	static char anchor_event[] = "audit.anchor", head_event[] = "audit.head";
	struct store_audit_anchor head;

	/* The head as the server finds it: an anchor for whatever happened
	 * before this start, however few entries the interval has seen. */
	if (store_audit_head(s, &head) == 0)
		anchor_log(head_event, &head);
	store_audit_anchor_every(s, (int64_t)every, anchor_log, anchor_event);
}
