/*
 * budget_cmd: `ledgerbox budget` and `ledgerbox spend`, the operator's side
 * of cost controls. Budget changes are audited like those made over HTTP.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "budget/budget.h"
#include "budget/pricing.h"
#include "cli/commands.h"
#include "store/store.h"
#include "util/parse.h"
#include "util/banned.h"

static const char budget_usage[] =
	"usage: ledgerbox budget set SCOPE AMOUNT [--period none|daily|weekly|monthly]\n"
	"                            [--soft PERCENT%] [--soft-only]\n"
	"       ledgerbox budget list\n"
	"       ledgerbox budget remove SCOPE\n"
	"       ledgerbox spend [--scope SCOPE] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--csv]\n"
	"\n"
	"SCOPE is org, team:NAME, user:NAME or session:ID. AMOUNT is in the currency of\n"
	"the pricing table, like 500 or 12.50. A budget is hard (refuses runs past its\n"
	"limit) unless --soft-only. Defaults: --period monthly --soft 80%.\n"
	"State: LEDGERBOX_STATE_DIR (default ./state).\n";

static const char *state_dir(void)
{
	const char *d = getenv("LEDGERBOX_STATE_DIR");
	return d && *d ? d : "./state";
}

/* The state is in PostgreSQL when LEDGERBOX_DATABASE_URL is set. */
static const char *database_url(void)
{
	const char *url = getenv("LEDGERBOX_DATABASE_URL");
	return url && *url ? url : NULL;
}

static int fail(const char *what, const char *detail)
{
	fprintf(stderr, "ledgerbox budget: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	return 64;
}

static int open_both(struct budgets **b, struct store **s)
{
	char err[512];

	*s = NULL;
	if (store_open_url(state_dir(), database_url(), s, err, sizeof(err)) < 0 ||
	    budget_open_url(state_dir(), database_url(), b, err, sizeof(err)) < 0) {
		fprintf(stderr, "ledgerbox budget: %s\n", err);
		store_close(*s);
		return -EIO;
	}
	return 0;
}

static int soft_parse(const char *v, unsigned *ret)
{
	char text[16];
	size_t len = strlen(v);
	uint64_t n;

	if (len == 0 || len >= sizeof(text))
		return -EINVAL;
	memcpy(text, v, len + 1);
	if (text[len - 1] == '%')
		text[len - 1] = '\0';
	if (parse_u64(text, &n) < 0 || n < 1 || n > 100)
		return -EINVAL;
	*ret = (unsigned)n;
	return 0;
}

static int budget_set_cmd(int argc, char **argv)
{
	struct budget_def def = { .period = PERIOD_MONTHLY, .soft_percent = 80, .hard = true };
	struct budgets *b = NULL;
	struct store *s = NULL;
	json_t *detail;
	int r;

	if (argc < 4 || !budget_scope_valid(argv[2]))
		return fail("expected a scope (org, team:NAME, user:NAME, session:ID) and an amount",
			    NULL);
	snprintf(def.scope, sizeof(def.scope), "%s", argv[2]);
	if (money_parse(argv[3], &def.limit_micros) < 0)
		return fail("the amount must look like 500 or 12.50", argv[3]);
	for (int i = 4; i < argc; i++) {
		if (strcmp(argv[i], "--period") == 0 && i + 1 < argc) {
			if (budget_period_parse(argv[++i], &def.period) < 0)
				return fail("--period must be none, daily, weekly or monthly", argv[i]);
		} else if (strcmp(argv[i], "--soft") == 0 && i + 1 < argc) {
			if (soft_parse(argv[++i], &def.soft_percent) < 0)
				return fail("--soft must be a percentage from 1% to 100%", argv[i]);
		} else if (strcmp(argv[i], "--soft-only") == 0) {
			def.hard = false;
		} else {
			return fail("unexpected argument", argv[i]);
		}
	}
	if (open_both(&b, &s) < 0)
		return 1;
	r = budget_set(b, &def);
	detail = json_pack("{s:s,s:i,s:b}", "period", budget_period_name(def.period),
			   "softPercent", (int)def.soft_percent, "hard", def.hard);
	json_object_set_new(detail, "limit", json_string(argv[3]));
	if (r == 0)
		r = store_audit_append(s, "cli", "budget.set", def.scope, detail);
	json_decref(detail);
	budget_close(b);
	store_close(s);
	if (r < 0)
		return fail("saving the budget failed", strerror(-r));
	printf("budget %s set to %s (%s, soft %u%%, %s)\n", def.scope, argv[3],
	       budget_period_name(def.period), def.soft_percent, def.hard ? "hard" : "soft only");
	return 0;
}

static int budget_simple_cmd(int argc, char **argv)
{
	struct budgets *b = NULL;
	struct store *s = NULL;
	json_t *list;
	int r;

	if (strcmp(argv[1], "remove") == 0 && (argc != 3 || !budget_scope_valid(argv[2])))
		return fail("expected one scope to remove", NULL);
	if (open_both(&b, &s) < 0)
		return 1;
	if (strcmp(argv[1], "remove") == 0) {
		r = budget_remove(b, argv[2]);
		if (r == 0)
			r = store_audit_append(s, "cli", "budget.remove", argv[2], NULL);
	} else {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		r = budget_list(b, "", (int64_t)now.tv_sec * 1000, &list);
		if (r == 0) {
			json_dumpf(list, stdout, JSON_INDENT(2));
			fputc('\n', stdout);
			json_decref(list);
		}
	}
	budget_close(b);
	store_close(s);
	if (r == -ENOENT)
		return fail("no such budget", argv[2]);
	return r < 0 ? fail("the budget store failed", strerror(-r)) : 0;
}

int cmd_budget(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fputs(budget_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 64 : 0;
	}
	if (strcmp(argv[1], "set") == 0)
		return budget_set_cmd(argc, argv);
	if (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "remove") == 0)
		return budget_simple_cmd(argc, argv);
	return fail("unknown subcommand (set, list, remove)", argv[1]);
}

static int day_ms(const char *v, int64_t *ret)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(v, "%Y-%m-%d", &tm);
	if (!end || *end)
		return -EINVAL;
	*ret = (int64_t)timegm(&tm) * 1000;
	return 0;
}

static void spend_print_csv(json_t *entries)
{
	json_t *e;
	size_t i;

	printf("run_id,scope,amount,at\n");
	json_array_foreach(entries, i, e) {
		printf("%s,%s,%s,%s\n", json_string_value(json_object_get(e, "runId")) ?: "",
		       json_string_value(json_object_get(e, "scope")) ?: "",
		       json_string_value(json_object_get(e, "amount")) ?: "",
		       json_string_value(json_object_get(e, "at")) ?: "");
	}
}

int cmd_spend(int argc, char **argv)
{
	const char *scope = "";
	int64_t from = 0, to = INT64_MAX / 2;
	bool csv = false;
	struct budgets *b = NULL;
	json_t *entries;
	char err[512];
	int r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			fputs(budget_usage, stdout);
			return 0;
		} else if (strcmp(argv[i], "--scope") == 0 && i + 1 < argc) {
			scope = argv[++i];
			if (!budget_scope_valid(scope))
				return fail("--scope must be org, team:NAME, user:NAME or session:ID", scope);
		} else if ((strcmp(argv[i], "--from") == 0 || strcmp(argv[i], "--to") == 0) &&
			   i + 1 < argc) {
			if (day_ms(argv[i + 1], argv[i][2] == 'f' ? &from : &to) < 0)
				return fail("dates look like 2026-01-31", argv[i + 1]);
			i++;
		} else if (strcmp(argv[i], "--csv") == 0) {
			csv = true;
		} else {
			return fail("unexpected argument", argv[i]);
		}
	}
	if (budget_open_url(state_dir(), database_url(), &b, err, sizeof(err)) < 0)
		return fail(err, NULL);
	r = budget_spend(b, scope, from, to, &entries);
	budget_close(b);
	if (r < 0)
		return fail("reading the ledger failed", strerror(-r));
	if (csv)
		spend_print_csv(entries);
	else {
		json_dumpf(entries, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
	}
	json_decref(entries);
	return 0;
}
