/*
 * End-to-end tests of cost controls over real HTTP: prices in every answer,
 * budgets that only admins change, a hard budget that 200 concurrent
 * requests cannot overspend, soft warnings, and a kill -9 in the middle of
 * a load after which the ledger still equals the runs on record.
 */
#include <pthread.h>

#include "httplib.h"

static struct server srv;
static char *alice, *root, *dora;

/* CPU at 1.00 a second, no memory price, 0.01 a run: a run limited to one
 * CPU-second may cost up to 1.01. */
static char *env_vars[] = { "LEDGERBOX_MAX_RUNS=2", "LEDGERBOX_QUEUE_MAX=400",
			    "LEDGERBOX_PRICE_CPU_PER_S=1", "LEDGERBOX_PRICE_MEM_PER_GB_S=0",
			    "LEDGERBOX_PRICE_RUN=0.01", "LEDGERBOX_BUDGET_TZ=UTC",
			    "LEDGERBOX_SOFT_POLICY_PERCENT=50", "LEDGERBOX_CACHE=off",
			    /* 200 requests of one key at once must meet the budget,
			     * not the key's admission limits. */
			    "LEDGERBOX_KEY_CONCURRENT=1000", "LEDGERBOX_USER_CONCURRENT=1000",
			    "LEDGERBOX_KEY_RATE_PER_MIN=1000000", "LEDGERBOX_USER_RATE_PER_MIN=1000000",
			    NULL };
static const char *cheap_run = "{\"language\":\"sql\",\"dataset\":\"demo\",\"code\":\"SELECT 1\","
			       "\"limits\":{\"cpuMs\":1000,\"timeoutMs\":2000}}";
#define WORST_MICROS 1010000

static int setup(void **state)
{
	(void)state;
	hl_prepare(&srv, "budget", env_vars);
	alice = hl_key_create(&srv, "alice", "finance", "analyst");
	root = hl_key_create(&srv, "root", "it", "admin");
	dora = hl_key_create(&srv, "dora", "ops", "analyst");
	hl_start(&srv);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	hl_stop(&srv, SIGTERM);
	free(alice);
	free(root);
	free(dora);
	curl_global_cleanup();
	return 0;
}

static void put_budget(const char *path, const char *body, long want)
{
	struct reply r;

	hl_call(&srv, "PUT", path, root, body, &r);
	if (r.status != want)
		fail_msg("PUT %s: %ld %s", path, r.status, r.body);
	hl_reply_free(&r);
}

/* The budget's standing, or NULL when there is none or (quiet) the server
 * does not answer. */
static json_t *budget_find(const char *scope, bool quiet)
{
	struct reply r;
	json_t *b, *found = NULL;
	size_t i;

	hl_call_timeout(&srv, "GET", "/api/budgets", root, NULL, 0, NULL, 2000, &r);
	if (quiet && r.status != 200) {
		hl_reply_free(&r);
		return NULL;
	}
	assert_int_equal(r.status, 200);
	json_array_foreach(json_object_get(r.json, "budgets"), i, b) {
		if (strcmp(hl_str(b, "scope"), scope) == 0)
			found = json_incref(b);
	}
	hl_reply_free(&r);
	return found;
}

static json_t *budget_of(const char *scope)
{
	return budget_find(scope, false);
}

static void prices_come_with_every_run(void **state)
{
	struct reply r;
	json_t *cost;
	(void)state;

	hl_call(&srv, "GET", "/api/pricing", alice, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(json_object_get(r.json, "models"));
	hl_reply_free(&r);
	hl_call(&srv, "POST", "/api/analyze", alice, cheap_run, &r);
	assert_int_equal(r.status, 200);
	cost = json_object_get(r.json, "cost");
	/* The run fee at least, and never more than the worst case. */
	assert_true(json_integer_value(json_object_get(cost, "totalMicros")) >= 10000);
	assert_true(json_integer_value(json_object_get(cost, "totalMicros")) <= WORST_MICROS);
	assert_non_null(json_object_get(r.json, "budget"));
	hl_reply_free(&r);
}

static void only_admins_change_budgets(void **state)
{
	struct reply r;
	(void)state;

	hl_call(&srv, "PUT", "/api/budgets/user/alice", alice, "{\"limit\":\"1000\"}", &r);
	assert_int_equal(r.status, 403);
	hl_reply_free(&r);
	put_budget("/api/budgets/user/alice", "{\"limit\":\"lots\"}", 400);
	put_budget("/api/budgets/user/alice", "{\"limit\":\"5\",\"period\":\"yearly\"}", 400);
	put_budget("/api/budgets/planet/earth", "{\"limit\":\"5\"}", 404);
	hl_call(&srv, "DELETE", "/api/budgets/team/nobody", root, NULL, &r);
	assert_int_equal(r.status, 404);
	hl_reply_free(&r);
}

struct load {
	long status;
	char *code, *scope;
	int64_t cost_micros;
};

/* The page asks who a key is, shows the budget of its own session, and
 * lists spend totals by scope: each total is the sum of its entries. */
static void page_sees_me_session_budget_and_spend_totals(void **state)
{
	struct reply r;
	json_t *e, *t;
	size_t i;
	long long by_entries = 0;
	bool seen = false;
	(void)state;

	hl_call(&srv, "GET", "/api/me", dora, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(hl_str(r.json, "user"), "dora");
	assert_string_equal(hl_str(r.json, "team"), "ops");
	assert_string_equal(hl_str(r.json, "role"), "analyst");
	hl_reply_free(&r);
	hl_call(&srv, "GET", "/api/me", NULL, NULL, &r);
	assert_int_equal(r.status, 401);
	hl_reply_free(&r);

	put_budget("/api/budgets/session/desk-7", "{\"limit\":\"5.00\"}", 200);
	hl_call(&srv, "GET", "/api/budgets", dora, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "budgets")), 0);
	hl_reply_free(&r);
	hl_call(&srv, "GET", "/api/budgets?session=desk-7", dora, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "budgets")), 1);
	assert_string_equal(hl_str(json_array_get(json_object_get(r.json, "budgets"), 0), "scope"),
			    "session:desk-7");
	hl_reply_free(&r);
	hl_call(&srv, "GET", "/api/budgets?session=..%2Fx", dora, NULL, &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(hl_str(json_object_get(r.json, "error"), "field"), "session");
	hl_reply_free(&r);

	for (int n = 0; n < 2; n++) {
		hl_call(&srv, "POST", "/api/analyze", dora,
			"{\"language\":\"sql\",\"dataset\":\"demo\",\"code\":\"SELECT 1\","
			"\"session\":\"desk-7\",\"limits\":{\"cpuMs\":1000,\"timeoutMs\":2000}}", &r);
		assert_int_equal(r.status, 200);
		hl_reply_free(&r);
	}
	hl_call(&srv, "GET", "/api/spend?scope=session:desk-7", dora, NULL, &r);
	assert_int_equal(r.status, 403); /* a session's spend is for admins */
	hl_reply_free(&r);
	hl_call(&srv, "GET", "/api/spend", root, NULL, &r);
	assert_int_equal(r.status, 200);
	json_array_foreach(json_object_get(r.json, "entries"), i, e)
		if (strcmp(hl_str(e, "scope"), "session:desk-7") == 0)
			by_entries += json_integer_value(json_object_get(e, "amountMicros"));
	json_array_foreach(json_object_get(r.json, "totals"), i, t) {
		if (strcmp(hl_str(t, "scope"), "session:desk-7") != 0)
			continue;
		seen = true;
		assert_int_equal(json_integer_value(json_object_get(t, "entries")), 2);
		assert_int_equal(json_integer_value(json_object_get(t, "amountMicros")), by_entries);
		assert_true(by_entries > 0);
	}
	assert_true(seen);
	hl_reply_free(&r);
}

static void *load_one(void *arg)
{
	struct load *l = arg;
	struct reply r;

	hl_call(&srv, "POST", "/api/analyze", alice, cheap_run, &r);
	l->status = r.status;
	if (r.status == 402) {
		json_t *e = json_object_get(r.json, "error");
		l->code = strdup(hl_str(e, "code") ?: "");
		l->scope = strdup(hl_str(e, "scope") ?: "");
	} else if (r.status == 200) {
		l->cost_micros = json_integer_value(
			json_object_get(json_object_get(r.json, "cost"), "totalMicros"));
	}
	hl_reply_free(&r);
	return NULL;
}

static volatile int monitoring;
static int64_t worst_in_flight;
static bool invariant_broken;

/* Watches the budget while the load runs: spent + reserved <= limit. */
static void *monitor(void *arg)
{
	(void)arg;
	while (monitoring) {
		json_t *b = budget_find("user:alice", true);
		if (b) {
			int64_t spent = json_integer_value(json_object_get(b, "spentMicros"));
			int64_t reserved = json_integer_value(json_object_get(b, "reservedMicros"));
			if (spent + reserved > json_integer_value(json_object_get(b, "limitMicros")))
				invariant_broken = true;
			if (reserved / WORST_MICROS > worst_in_flight)
				worst_in_flight = reserved / WORST_MICROS;
			json_decref(b);
		}
		usleep(10000);
	}
	return NULL;
}

static int64_t ledger_micros(const char *scope)
{
	char path[128];
	struct reply r;
	json_t *e;
	size_t i;
	int64_t total = 0;

	snprintf(path, sizeof(path), "/api/spend?scope=%s", scope);
	hl_call(&srv, "GET", path, root, NULL, &r);
	assert_int_equal(r.status, 200);
	json_array_foreach(json_object_get(r.json, "entries"), i, e) {
		total += json_integer_value(json_object_get(e, "amountMicros"));
	}
	hl_reply_free(&r);
	return total;
}

static void hard_budget_holds_under_200_concurrent_requests(void **state)
{
	enum { N = 200 };
	static struct load loads[N];
	pthread_t t[N], mon;
	int64_t before = ledger_micros("user:alice"), settled = 0;
	char limit[160];
	int ok = 0, refused = 0;
	json_t *b;
	(void)state;

	/* Room for ten worst cases on top of what alice spent in the tests
	 * before, so at least ten fit even when all 200 arrive before the
	 * first one settles. */
	snprintf(limit, sizeof(limit),
		 "{\"limit\":\"%.6f\",\"period\":\"monthly\",\"softPercent\":100,\"hard\":true}",
		 (double)(before + 10 * WORST_MICROS + 100000) / 1e6);
	put_budget("/api/budgets/user/alice", limit, 200);
	monitoring = 1;
	pthread_create(&mon, NULL, monitor, NULL);
	for (int i = 0; i < N; i++)
		assert_int_equal(pthread_create(&t[i], NULL, load_one, &loads[i]), 0);
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	monitoring = 0;
	pthread_join(mon, NULL);
	for (int i = 0; i < N; i++) {
		if (loads[i].status == 200) {
			ok++;
			settled += loads[i].cost_micros;
		} else if (loads[i].status == 402) {
			refused++;
			assert_string_equal(loads[i].code, "budget_exceeded");
			assert_string_equal(loads[i].scope, "user:alice");
		} else {
			fail_msg("request %d answered %ld", i, loads[i].status);
		}
		free(loads[i].code);
		free(loads[i].scope);
	}
	assert_int_equal(ok + refused, N);
	assert_true(ok >= 10);
	assert_true(refused > 0);
	assert_false(invariant_broken);
	assert_true(worst_in_flight <= 10);
	/* The ledger holds exactly what the answered runs cost. */
	assert_int_equal(ledger_micros("user:alice") - before, settled);
	b = budget_of("user:alice");
	assert_true(json_integer_value(json_object_get(b, "spentMicros")) <=
		    json_integer_value(json_object_get(b, "limitMicros")));
	assert_int_equal(json_integer_value(json_object_get(b, "reservedMicros")), 0);
	json_decref(b);
}

/* Audit entries of one action about one subject (a scope), read with
 * sqlite3 or psql from the state database. The hard budget test can fill
 * user:alice's budget to exactly its limit, which crosses its (100%) soft
 * threshold too, so counts are per subject. */
static int audit_count(const char *action, const char *subject)
{
	char sql[200], db[700];
	char *sqlite_argv[] = { "/usr/bin/sqlite3", db, sql, NULL };
	char *psql_argv[] = { "/usr/bin/psql", db, "-Atc", sql, NULL };
	char **argv = srv.db_env[0] ? psql_argv : sqlite_argv;
	struct tl_output o;
	int n;

	if (srv.db_env[0])
		snprintf(db, sizeof(db), "%s", strchr(srv.db_env, '=') + 1);
	else
		snprintf(db, sizeof(db), "%s/ledgerbox.db", srv.state);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit WHERE action = '%s' AND subject = '%s'",
		 action, subject);
	tl_run(argv, NULL, &o);
	assert_int_equal(o.exit_code, 0);
	n = (int)strtol(o.out, NULL, 10);
	tl_output_free(&o);
	return n;
}

static void soft_threshold_warns(void **state)
{
	struct reply r;
	char *warning;
	(void)state;

	put_budget("/api/budgets/team/finance",
		   "{\"limit\":\"0.02\",\"softPercent\":50,\"hard\":false}", 200);
	hl_call(&srv, "DELETE", "/api/budgets/user/alice", root, NULL, &r);
	assert_int_equal(r.status, 200);
	hl_reply_free(&r);
	hl_call(&srv, "POST", "/api/analyze", alice, cheap_run, &r);
	assert_int_equal(r.status, 200); /* soft: warns, never refuses */
	assert_non_null(strstr(hl_str(r.json, "budgetWarning"), "team:finance"));
	warning = hl_header(&r, "X-Budget-Warning");
	assert_non_null(warning);
	free(warning);
	/* The soft policy cut the run's limits to half (2000 -> 1000 ms). */
	assert_string_equal(hl_str(json_object_get(r.json, "budgetPolicy"), "action"),
			    "limits_lowered");
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(json_object_get(r.json, "usage"), "limits"), "wall_ms")),
			 1000);
	hl_reply_free(&r);
	/* The crossing is in the audit log, once. */
	assert_int_equal(audit_count("budget.soft_threshold", "team:finance"), 1);
	hl_call(&srv, "POST", "/api/analyze", alice, cheap_run, &r);
	assert_int_equal(r.status, 200);
	hl_reply_free(&r);
	assert_int_equal(audit_count("budget.soft_threshold", "team:finance"), 1);
	hl_call(&srv, "DELETE", "/api/budgets/team/finance", root, NULL, &r);
	assert_int_equal(r.status, 200);
	hl_reply_free(&r);
}

static int64_t recorded_cost_micros(void)
{
	struct reply r, one;
	json_t *run;
	size_t i;
	int64_t total = 0;
	char path[128];

	hl_call(&srv, "GET", "/api/runs?user=alice&limit=500", root, NULL, &r);
	assert_int_equal(r.status, 200);
	json_array_foreach(json_object_get(r.json, "runs"), i, run) {
		snprintf(path, sizeof(path), "/api/runs/%s", hl_str(run, "id"));
		hl_call(&srv, "GET", path, root, NULL, &one);
		assert_int_equal(one.status, 200);
		total += json_integer_value(
			json_object_get(json_object_get(one.json, "cost"), "totalMicros"));
		hl_reply_free(&one);
	}
	hl_reply_free(&r);
	return total;
}

static void kill_9_under_load_keeps_the_ledger_right(void **state)
{
	enum { N = 120 };
	static struct load loads[N];
	pthread_t t[N], mon;
	json_t *b;
	(void)state;

	put_budget("/api/budgets/user/alice",
		   "{\"limit\":\"20.20\",\"softPercent\":100,\"hard\":true}", 200);
	invariant_broken = false;
	monitoring = 1;
	pthread_create(&mon, NULL, monitor, NULL);
	for (int i = 0; i < N; i++)
		pthread_create(&t[i], NULL, load_one, &loads[i]);
	usleep(300000);
	hl_stop(&srv, SIGKILL);
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		free(loads[i].code);
		free(loads[i].scope);
	}
	hl_start(&srv);
	usleep(200000);
	monitoring = 0;
	pthread_join(mon, NULL);
	assert_false(invariant_broken);
	b = budget_of("user:alice");
	assert_non_null(b);
	assert_int_equal(json_integer_value(json_object_get(b, "reservedMicros")), 0);
	assert_true(json_integer_value(json_object_get(b, "spentMicros")) <=
		    json_integer_value(json_object_get(b, "limitMicros")));
	json_decref(b);
	/* Every run on record is settled exactly once, and nothing else is. */
	assert_int_equal(ledger_micros("user:alice"), recorded_cost_micros());
}

/* A run stopped at its CPU limit used a little more than the limit by the
 * time it was stopped (the supervisor looks every few milliseconds, and
 * four processes spin at once): it is billed for at most its limits, shows
 * what it used, and a hard budget one micro-unit above its worst case
 * (no soft crossing, so no limits lowered) is never overspent. */
static void a_run_past_its_cpu_limit_is_billed_at_most_its_reservation(void **state)
{
	static const char *spin =
		"{\"language\":\"python\",\"code\":\"import os\\nfor _ in range(3):\\n"
		"    if os.fork() == 0:\\n        break\\nwhile True:\\n    pass\","
		"\"limits\":{\"cpuMs\":300,\"timeoutMs\":10000}}";
	char *erin = hl_key_create(&srv, "erin", "lab", "analyst");
	struct reply r;
	json_t *c, *b, *e;
	(void)state;

	/* CPU 300 ms at 1.00 a second and the 0.01 fee: 0.31 at most. */
	put_budget("/api/budgets/user/erin",
		   "{\"limit\":\"0.310001\",\"period\":\"none\",\"softPercent\":100,\"hard\":true}",
		   200);
	hl_call_timeout(&srv, "POST", "/api/analyze", erin, spin, strlen(spin), NULL, 60000, &r);
	assert_int_equal(r.status, 200);
	assert_null(json_object_get(r.json, "budgetPolicy"));
	assert_string_equal(hl_str(r.json, "status"), "cpu_limit");
	c = json_array_get(json_object_get(json_object_get(r.json, "cost"), "components"), 0);
	assert_non_null(c);
	assert_true(json_integer_value(json_object_get(c, "cpuMs")) <= 300);
	if (json_integer_value(json_object_get(json_object_get(r.json, "usage"), "cpuMs")) > 300) {
		/* Past the limit: billed the limit, the measure shown. */
		assert_true(json_is_true(json_object_get(c, "capped")));
		assert_int_equal(json_integer_value(json_object_get(c, "reportedCpuMs")),
				 json_integer_value(json_object_get(json_object_get(r.json, "usage"),
								    "cpuMs")));
	}
	assert_true(json_integer_value(json_object_get(json_object_get(r.json, "cost"),
						       "totalMicros")) <= 310000);
	hl_reply_free(&r);
	hl_call(&srv, "GET", "/api/spend?scope=user:erin", root, NULL, &r);
	assert_int_equal(r.status, 200);
	e = json_array_get(json_object_get(r.json, "entries"), 0);
	assert_non_null(e);
	assert_string_equal(hl_str(json_object_get(e, "detail"), "worstCase"), "0.31");
	assert_true(json_integer_value(json_object_get(e, "amountMicros")) <= 310000);
	hl_reply_free(&r);
	b = budget_of("user:erin");
	assert_non_null(b);
	assert_true(json_integer_value(json_object_get(b, "spentMicros")) <=
		    json_integer_value(json_object_get(b, "limitMicros")));
	json_decref(b);
	free(erin);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(prices_come_with_every_run),
		cmocka_unit_test(only_admins_change_budgets),
		cmocka_unit_test(page_sees_me_session_budget_and_spend_totals),
		cmocka_unit_test(hard_budget_holds_under_200_concurrent_requests),
		cmocka_unit_test(soft_threshold_warns),
		cmocka_unit_test(kill_9_under_load_keeps_the_ledger_right),
		cmocka_unit_test(a_run_past_its_cpu_limit_is_billed_at_most_its_reservation),
	};
	return cmocka_run_group_tests_name("budget_api", tests, setup, teardown);
}
