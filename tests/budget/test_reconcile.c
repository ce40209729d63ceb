/*
 * Reconciliation at start: a run recorded in the store whose cost never
 * reached the ledger (a crash between the two) is settled from the cost
 * recorded with it, once, on SQLite and on PostgreSQL alike. A natural-
 * language run stands for its last attempt's ledger id; an exact cache hit
 * is never charged.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testlib.h"
#include "support/pgtest.h"

#include "budget/budget.h"
#include "budget/reconcile.h"
#include "store/store.h"

struct backend {
	char state[PATH_MAX];
	char url[PGT_URL_MAX]; /* "" for SQLite */
};

static void backend_make(struct backend *be, const char *name, bool postgres)
{
	snprintf(be->state, sizeof(be->state), "%s/reconcile-%s", tl_tmp(), name);
	be->url[0] = '\0';
	if (postgres)
		pgt_db_create("reconcile", be->url);
}

static void run_insert(struct store *s, int64_t principal, const char *id, const char *result)
{
	struct run_record run = { .principal_id = principal, .language = "python",
				  .status = "ok", .code = "print(1)", .created_ms = 1700000000000,
				  .duration_ms = 5 };
	json_error_t je;

	snprintf(run.id, sizeof(run.id), "%s", id);
	run.result = json_loads(result, 0, &je);
	assert_non_null(run.result);
	assert_int_equal(store_run_insert(s, &run, NULL, 0), 0);
	json_decref(run.result);
}

/* A reconciled entry keeps the recorded cost, its components included, as
 * a live settlement does: the charges stay visible in GET /api/spend. */
static void check_details(struct budgets *b)
{
	json_t *entries = NULL, *e, *cost;
	size_t i, seen = 0;

	assert_int_equal(budget_spend(b, "user:ann", 0, INT64_MAX, &entries), 0);
	json_array_foreach(entries, i, e) {
		cost = json_object_get(json_object_get(e, "detail"), "cost");
		assert_true(json_is_true(json_object_get(json_object_get(e, "detail"), "reconciled")));
		assert_int_equal(json_integer_value(json_object_get(cost, "totalMicros")),
				 json_integer_value(json_object_get(e, "amountMicros")));
		if (strcmp(json_string_value(json_object_get(e, "runId")), "x1.2") == 0) {
			assert_int_equal(json_array_size(json_object_get(cost, "components")), 2);
			seen++;
		}
	}
	assert_int_equal(json_array_size(entries), 2);
	assert_int_equal(seen, 1);
	json_decref(entries);
}

static void check_backend(struct backend *be)
{
	const char *url = be->url[0] ? be->url : NULL;
	char err[512] = "", key[STORE_KEY_MAX];
	struct store *s = NULL;
	struct budgets *b = NULL;
	struct principal p;
	uint64_t ledger = 0, reserved = 1;
	size_t settled = 99;
	int64_t key_id;

	assert_int_equal(store_open_url(be->state, url, &s, err, sizeof(err)), 0);
	assert_int_equal(budget_open_url(be->state, url, &b, err, sizeof(err)), 0);
	assert_int_equal(store_key_create(s, NULL, "ann", "finance", ROLE_ANALYST, key, &key_id), 0);
	assert_int_equal(store_key_authenticate(s, key, &p), 0);
	/* A plain run, a repaired natural-language run, an exact cache hit. */
	run_insert(s, p.id, "0123456789abcdef0123456789abcdef", "{\"cost\":{\"totalMicros\":700}}");
	run_insert(s, p.id, "11111111111111111111111111111111",
		   "{\"cost\":{\"totalMicros\":9000},\"attempts\":[{\"ledgerId\":\"x1\","
		   "\"cost\":{\"totalMicros\":100}},{\"ledgerId\":\"x1.2\",\"cost\":{\"totalMicros\":250,"
		   "\"components\":[{\"kind\":\"llm\",\"micros\":50},{\"kind\":\"run\",\"micros\":200}]}}]}");
	run_insert(s, p.id, "22222222222222222222222222222222",
		   "{\"cacheType\":\"exact\",\"cost\":{\"totalMicros\":0}}");

	assert_int_equal(budget_reconcile(b, be->state, url, &settled, err, sizeof(err)), 0);
	assert_int_equal(settled, 2);
	assert_int_equal(budget_totals(b, &ledger, &reserved), 0);
	/* Each run is charged to org, team and user: three entries each. */
	assert_int_equal(ledger, 3 * (700 + 250));
	assert_int_equal(reserved, 0);
	check_details(b);
	/* Settled once: a second pass finds nothing. */
	assert_int_equal(budget_reconcile(b, be->state, url, &settled, err, sizeof(err)), 0);
	assert_int_equal(settled, 0);
	assert_int_equal(budget_totals(b, &ledger, &reserved), 0);
	assert_int_equal(ledger, 3 * (700 + 250));
	budget_close(b);
	store_close(s);
	if (url)
		pgt_db_drop(be->url);
}

static void sqlite_runs_are_settled_once(void **state)
{
	struct backend be = { .url = "" };
	(void)state;

	backend_make(&be, "sqlite", false);
	check_backend(&be);
}

static void postgres_runs_are_settled_once(void **state)
{
	struct backend be = { .url = "" };
	(void)state;

	backend_make(&be, "postgres", true);
	check_backend(&be);
}

static void unreachable_postgres_is_a_clear_error(void **state)
{
	struct backend be = { .url = "" };
	struct budgets *b = NULL;
	char err[512] = "";
	size_t settled = 7;
	(void)state;

	backend_make(&be, "unreachable", false);
	assert_int_equal(budget_open_url(be.state, NULL, &b, err, sizeof(err)), 0);
	assert_true(budget_reconcile(b, be.state, "postgres://nobody@127.0.0.1:1/none", &settled, err,
				     sizeof(err)) < 0);
	assert_non_null(strstr(err, "PostgreSQL"));
	assert_int_equal(settled, 7);
	budget_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sqlite_runs_are_settled_once),
		cmocka_unit_test(postgres_runs_are_settled_once),
		cmocka_unit_test(unreachable_postgres_is_a_clear_error),
	};
	return cmocka_run_group_tests_name("reconcile", tests, NULL, NULL);
}
