/*
 * keys_cmd: `ledgerbox keys create|list|revoke`, managing API keys on the
 * machine itself (the bootstrap: the first admin key cannot come from the
 * API).
 *
 * A new key is printed once, alone on stdout, so `KEY=$(ledgerbox keys
 * create ...)` captures exactly the key; everything meant for a person
 * goes to stderr. Also home of the state-directory helpers the store
 * commands share (store_commands.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <sodium.h>

#include "cli/store_commands.h"
#include "util/parse.h"
#include "util/banned.h"

static const char keys_usage[] =
	"usage: ledgerbox keys create --user USER --team TEAM --role analyst|admin\n"
	"       ledgerbox keys list\n"
	"       ledgerbox keys revoke ID\n"
	"\n"
	"Manages the API keys of the ledgerbox server.\n"
	"  create   makes a key for USER (created on first use; later keys for the\n"
	"           same user must name the same team and role). Prints the key once,\n"
	"           on stdout; it cannot be shown again, only revoked and replaced.\n"
	"  list     prints the active keys as JSON (id, user, team, role, created_at).\n"
	"  revoke   disables key ID (from 'list') at once.\n"
	"USER and TEAM: letters, digits, '.', '_' and '-', at most 63.\n"
	"\n"
	"Options:\n"
	"  --state-dir DIR  the server's state directory [$LEDGERBOX_STATE_DIR or ./state];\n"
	"                   run as the user the server runs as, so the files stay its own\n"
	"  --help           this text\n"
	"\n"
	"Exit status: 0 done, 1 failed, 64 bad usage.\n";

struct keys_opts {
	const char *state_dir, *user, *team, *role;
	const char *sub;
	const char *id;
};

static int keys_usage_error(const char *what)
{
	fprintf(stderr, "ledgerbox keys: %s\nTry 'ledgerbox keys --help'.\n", what);
	return STORE_CMD_EXIT_USAGE;
}

static int keys_option_error(const char *arg)
{
	fprintf(stderr, "ledgerbox keys: unknown option or missing value: '%s'\n"
			"Try 'ledgerbox keys --help'.\n", arg);
	return STORE_CMD_EXIT_USAGE;
}

const char *store_cmd_state_dir(const char *flag)
{
	const char *env = getenv("LEDGERBOX_STATE_DIR");

	if (flag)
		return flag;
	return env && *env ? env : STORE_CMD_DEFAULT_STATE_DIR;
}

const char *store_cmd_database_url(void)
{
	const char *url = getenv("LEDGERBOX_DATABASE_URL");
	return url && *url ? url : NULL;
}

int store_cmd_open(const char *cmd, const char *state_dir, bool must_exist, struct store **ret)
{
	const char *url = store_cmd_database_url();
	char err[512] = "", db[4096];
	struct stat st;
	int r;

	snprintf(db, sizeof(db), "%s/ledgerbox.db", state_dir);
	/* With PostgreSQL the state directory holds only the key pepper. */
	if (must_exist && !url && stat(db, &st) < 0) {
		fprintf(stderr,
			"ledgerbox %s: no state database at %s (%s); pass --state-dir DIR or set "
			"LEDGERBOX_STATE_DIR to the server's state directory\n",
			cmd, db, strerror(errno));
		return -ENOENT;
	}
	r = store_open_url(state_dir, url, ret, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, "ledgerbox %s: cannot open the state store%s%s: %s\n", cmd,
			url ? " in PostgreSQL (LEDGERBOX_DATABASE_URL)" : " in ",
			url ? "" : state_dir, err[0] ? err : strerror(-r));
	return r;
}

/* Options may come before or after the subcommand (getopt permutes). */
static int keys_parse(int argc, char **argv, struct keys_opts *o)
{
	static const struct option longopts[] = {
		{ "state-dir", required_argument, NULL, 'S' }, { "user", required_argument, NULL, 'u' },
		{ "team", required_argument, NULL, 't' },      { "role", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },            { NULL, 0, NULL, 0 },
	};
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (opt == 'S')
			o->state_dir = optarg;
		else if (opt == 'u')
			o->user = optarg;
		else if (opt == 't')
			o->team = optarg;
		else if (opt == 'r')
			o->role = optarg;
		else if (opt == 'h')
			return 1;
		else
			return keys_option_error(argv[optind - 1]);
	}
	if (optind >= argc)
		return keys_usage_error("expected a subcommand: create, list or revoke");
	o->sub = argv[optind++];
	if (optind < argc)
		o->id = argv[optind++];
	if (optind < argc)
		return keys_usage_error("too many arguments");
	return 0;
}

static int keys_create(const struct keys_opts *o)
{
	char key[STORE_KEY_MAX];
	enum store_role role;
	struct store *s;
	int64_t id;
	int r;

	if (!o->user || !o->team || !o->role || o->id)
		return keys_usage_error("create takes --user USER --team TEAM --role analyst|admin");
	if (!store_name_valid(o->user) || !store_name_valid(o->team))
		return keys_usage_error("USER and TEAM may hold letters, digits, '.', '_' and '-' (1 to 63)");
	if (store_role_parse(o->role, &role) < 0)
		return keys_usage_error("--role must be analyst or admin");
	if (store_cmd_open("keys", store_cmd_state_dir(o->state_dir), false, &s) < 0)
		return STORE_CMD_EXIT_FAILED;
	r = store_key_create(s, NULL, o->user, o->team, role, key, &id);
	store_close(s);
	if (r == -EEXIST) {
		fprintf(stderr,
			"ledgerbox keys: user '%s' already exists with another team or role; give "
			"the same team and role as before (see 'ledgerbox keys list') or another "
			"user name\n",
			o->user);
		return STORE_CMD_EXIT_FAILED;
	}
	if (r < 0) {
		fprintf(stderr, "ledgerbox keys: cannot create the key: %s\n", strerror(-r));
		return STORE_CMD_EXIT_FAILED;
	}
	if (printf("%s\n", key) < 0 || fflush(stdout) != 0) {
		fprintf(stderr,
			"ledgerbox keys: created key %lld but could not print it; revoke it with "
			"'ledgerbox keys revoke %lld' and create another\n",
			(long long)id, (long long)id);
		sodium_memzero(key, sizeof(key));
		return STORE_CMD_EXIT_FAILED;
	}
	sodium_memzero(key, sizeof(key));
	fprintf(stderr,
		"ledgerbox keys: created key %lld for %s (team %s, %s). It will not be shown "
		"again: store it now.\n",
		(long long)id, o->user, o->team, store_role_name(role));
	return STORE_CMD_EXIT_OK;
}

static int keys_list(const struct keys_opts *o)
{
	struct store *s;
	json_t *keys;
	int r;

	if (o->user || o->team || o->role || o->id)
		return keys_usage_error("list takes no arguments");
	if (store_cmd_open("keys", store_cmd_state_dir(o->state_dir), true, &s) < 0)
		return STORE_CMD_EXIT_FAILED;
	r = store_keys_list(s, &keys);
	store_close(s);
	if (r < 0) {
		fprintf(stderr, "ledgerbox keys: cannot list the keys: %s\n", strerror(-r));
		return STORE_CMD_EXIT_FAILED;
	}
	json_dumpf(keys, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(keys);
	return STORE_CMD_EXIT_OK;
}

static int keys_revoke(const struct keys_opts *o)
{
	struct store *s;
	uint64_t id;
	int r;

	if (o->user || o->team || o->role || !o->id)
		return keys_usage_error("revoke takes one key ID (see 'ledgerbox keys list')");
	if (parse_u64(o->id, &id) < 0 || id == 0 || id > INT64_MAX)
		return keys_usage_error("the key ID must be a positive whole number");
	if (store_cmd_open("keys", store_cmd_state_dir(o->state_dir), true, &s) < 0)
		return STORE_CMD_EXIT_FAILED;
	r = store_key_revoke(s, NULL, (int64_t)id);
	store_close(s);
	if (r == -ENOENT) {
		fprintf(stderr, "ledgerbox keys: no active key with ID %s (see 'ledgerbox keys list')\n",
			o->id);
		return STORE_CMD_EXIT_FAILED;
	}
	if (r < 0) {
		fprintf(stderr, "ledgerbox keys: cannot revoke key %s: %s\n", o->id, strerror(-r));
		return STORE_CMD_EXIT_FAILED;
	}
	printf("revoked key %s\n", o->id);
	return STORE_CMD_EXIT_OK;
}

int cmd_keys(int argc, char **argv)
{
	struct keys_opts o = { 0 };
	int r = keys_parse(argc, argv, &o);

	if (r == 1) {
		fputs(keys_usage, stdout);
		return STORE_CMD_EXIT_OK;
	}
	if (r != 0)
		return r;
	if (strcmp(o.sub, "create") == 0)
		return keys_create(&o);
	if (strcmp(o.sub, "list") == 0)
		return keys_list(&o);
	if (strcmp(o.sub, "revoke") == 0)
		return keys_revoke(&o);
	fprintf(stderr, "ledgerbox keys: unknown subcommand '%s'\nTry 'ledgerbox keys --help'.\n",
		o.sub);
	return STORE_CMD_EXIT_USAGE;
}
