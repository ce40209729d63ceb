/*
 * Tests of the dataset owner records (store_dataset_*): names unique
 * ignoring case, versions, publishing, forgetting, and team quotas, whose
 * check and write are one step even for two handles (two nodes) racing
 * on one database. Each test runs on SQLite and, when
 * LEDGERBOX_TEST_PG_URL is set, on PostgreSQL too.
 */
#include "store_test.h"

#include <pthread.h>

#include "support/pgtest.h"

typedef void (*body_fn)(struct store *a, struct store *b);

static struct store *open_url(const char *dir, const char *url)
{
	char err[512] = "";
	struct store *s = NULL;
	int r = store_open_url(dir, url, &s, err, sizeof(err));

	if (r < 0)
		fail_msg("store_open_url(%s): %d %s", dir, r, err);
	return s;
}

/* Runs body with two handles on one fresh store: SQLite, then PostgreSQL
 * when a server is given. */
static void on_both(const char *name, body_fn body)
{
	char *dir = state_path(name);
	struct store *a = store_at(dir), *b = store_at(dir);

	body(a, b);
	store_close(a);
	store_close(b);
	free(dir);
	if (getenv("LEDGERBOX_TEST_PG_URL")) {
		char url[PGT_URL_MAX];
		pgt_db_create("store_ds", url);
		dir = state_path(name);
		a = open_url(dir, url);
		b = open_url(dir, url);
		body(a, b);
		store_close(a);
		store_close(b);
		free(dir);
		pgt_db_drop(url);
	}
}

static struct store_dataset record(const char *name, const char *team, int64_t bytes)
{
	struct store_dataset d = { .version = 1, .bytes = bytes };

	snprintf(d.name, sizeof(d.name), "%s", name);
	snprintf(d.team, sizeof(d.team), "%s", team);
	return d;
}

static void names_body(struct store *s, struct store *other)
{
	struct store_dataset d = record("Sales", "sales", 10), got;

	assert_int_equal(store_dataset_claim(s, &d, 1000, NULL), 0);
	assert_int_equal(store_dataset_get(other, "SALES", &got), 0);
	assert_string_equal(got.name, "Sales");
	assert_string_equal(got.team, "sales");
	assert_int_equal(got.version, 1);
	d = record("sALES", "finance", 10);
	assert_int_equal(store_dataset_claim(other, &d, 1000, NULL), -EEXIST);
	assert_int_equal(store_dataset_get(s, "nothing", &got), -ENOENT);
	assert_int_equal(store_dataset_get(s, "a/b/../../x", &got), -ENOENT);
}

static void names_are_unique_ignoring_case(void **state)
{
	(void)state;
	on_both("names", names_body);
}

static void versions_body(struct store *s, struct store *other)
{
	struct store_dataset d = record("ledger", "finance", 100), got;
	int64_t bytes = -1;

	assert_int_equal(store_dataset_claim(s, &d, 1000, NULL), 0);
	assert_int_equal(store_dataset_revise(other, "LEDGER", 300, 1000, NULL, &got), 0);
	assert_int_equal(got.version, 2);
	assert_int_equal(got.bytes, 300);
	assert_string_equal(got.team, "finance");
	assert_int_equal(store_team_dataset_bytes(s, "finance", &bytes), 0);
	assert_int_equal(bytes, 300);
	/* Published: the organisation's, counted against no team. */
	assert_int_equal(store_dataset_publish(s, "ledger"), 0);
	assert_int_equal(store_dataset_get(other, "ledger", &got), 0);
	assert_string_equal(got.team, "");
	assert_int_equal(got.version, 2);
	assert_int_equal(store_team_dataset_bytes(s, "finance", &bytes), 0);
	assert_int_equal(bytes, 0);
	/* A dataset without a record (the demo) gets one at its first change. */
	assert_int_equal(store_dataset_revise(s, "demo", 50, 1000, NULL, &got), 0);
	assert_int_equal(got.version, 2);
	assert_string_equal(got.team, "");
	assert_int_equal(store_dataset_forget(other, "DEMO"), 0);
	assert_int_equal(store_dataset_get(s, "demo", &got), -ENOENT);
	assert_int_equal(store_dataset_forget(s, "demo"), 0);
}

static void versions_publish_and_forget(void **state)
{
	(void)state;
	on_both("versions", versions_body);
}

static void quota_body(struct store *s, struct store *other)
{
	struct store_dataset d = record("a", "sales", 600), got;
	struct store_quota q = { -1, -1 };

	assert_int_equal(store_dataset_claim(s, &d, 1000, &q), 0);
	d = record("b", "sales", 500);
	assert_int_equal(store_dataset_claim(other, &d, 1000, &q), -EDQUOT);
	assert_int_equal(q.used_bytes, 600);
	assert_int_equal(q.limit_bytes, 1000);
	assert_int_equal(store_dataset_get(s, "b", &got), -ENOENT);
	/* Another team and the organisation are not held back. */
	d = record("b", "finance", 500);
	assert_int_equal(store_dataset_claim(other, &d, 1000, NULL), 0);
	d = record("big", "", 50000);
	assert_int_equal(store_dataset_claim(other, &d, 1000, NULL), 0);
	/* A new version counts instead of the old one. */
	assert_int_equal(store_dataset_revise(s, "a", 1000, 1000, &q, &got), 0);
	assert_int_equal(store_dataset_revise(s, "a", 1001, 1000, &q, &got), -EDQUOT);
	assert_int_equal(q.used_bytes, 0);
	assert_int_equal(store_dataset_get(s, "a", &got), 0);
	assert_int_equal(got.bytes, 1000);
	assert_int_equal(got.version, 2);
}

static void quotas_count_a_teams_bytes(void **state)
{
	(void)state;
	on_both("quota", quota_body);
}

struct claim_call {
	struct store *s;
	const char *name;
	int rc;
};

static void *claim_thread(void *arg)
{
	struct claim_call *c = arg;
	struct store_dataset d = record(c->name, "sales", 600);

	c->rc = store_dataset_claim(c->s, &d, 1000, NULL);
	return NULL;
}

static void race_body(struct store *s, struct store *other)
{
	for (int round = 0; round < 5; round++) {
		char n1[32], n2[32];
		struct claim_call c[2] = { { s, n1, 1 }, { other, n2, 1 } };
		pthread_t t[2];

		snprintf(n1, sizeof(n1), "r%d_one", round);
		snprintf(n2, sizeof(n2), "r%d_two", round);
		for (int i = 0; i < 2; i++)
			pthread_create(&t[i], NULL, claim_thread, &c[i]);
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		/* Room for one: exactly one wins, the other is over quota. */
		assert_int_equal((c[0].rc == 0) + (c[1].rc == 0), 1);
		assert_int_equal((c[0].rc == -EDQUOT) + (c[1].rc == -EDQUOT), 1);
		assert_int_equal(store_dataset_forget(s, c[0].rc == 0 ? n1 : n2), 0);
	}
}

static void two_nodes_cannot_both_pass_a_quota(void **state)
{
	(void)state;
	on_both("race", race_body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_are_unique_ignoring_case),
		cmocka_unit_test(versions_publish_and_forget),
		cmocka_unit_test(quotas_count_a_teams_bytes),
		cmocka_unit_test(two_nodes_cannot_both_pass_a_quota),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
