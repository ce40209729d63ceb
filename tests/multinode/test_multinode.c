/*
 * Two nodes, one PostgreSQL: two real `ledgerbox serve` processes on their
 * own loopback ports, with their own state folders (holding the same
 * key-pepper) and one shared data folder, both pointed at a fresh database
 * by LEDGERBOX_DATABASE_URL, behind Debian's nginx balancing round robin
 * (tests/multinode/nginxlib.h).
 *
 * What must hold, whichever node answers:
 * - a hard budget that fits exactly RUNS_FIT runs admits exactly that many
 *   of BURST concurrent requests sent through nginx and refuses the rest
 *   with 402, though both nodes took part (nginx's access log says which
 *   node answered each request); while the burst runs, spent + reserved
 *   never passes the limit as either node reports it; afterwards both nodes
 *   report the same ledger: spent equal to the admitted runs' costs, nothing
 *   reserved;
 * - runs, their artifacts and the audit chain are the same from either
 *   node; a budget set through one node is enforced by the other;
 * - a node whose key-pepper differs refuses to start;
 * - at the end nginx and both nodes exit cleanly and no reservation is
 *   left.
 *
 * "Exactly" needs a run's cost to equal what it reserved: the nodes price
 * CPU and memory at 0 and a run at a flat fee, so the worst case reserved
 * and the cost settled are both the fee.
 */
#include <pthread.h>

#include "http/httplib.h"
#include "multinode/nginxlib.h"
#include "multinode/nodeslib.h"
#include "support/pgtest.h"
#include "util/banned.h"

#define NODES 2
#define BURST 200
#define RUNS_FIT 10
#define RUN_FEE_MICROS 1000
#define RUN_FEE_TEXT "0.001"
#define BURST_LIMIT_TEXT "0.01" /* RUNS_FIT x the fee */

static char db_url[PGT_URL_MAX];
static char db_env[PGT_URL_MAX + 32];
static char *node_env[] = { db_env,
			    "LEDGERBOX_PRICE_CPU_PER_S=0",
			    "LEDGERBOX_PRICE_MEM_PER_GB_S=0",
			    "LEDGERBOX_PRICE_RUN=" RUN_FEE_TEXT,
			    /* The burst must meet the budget, never a full queue
			     * or one key's admission limits. */
			    MN_ADMISSION_UNLIMITED,
			    NULL };
static struct server node[NODES];
static struct server lb; /* nginx, called through the same helpers */
static struct nginx ng;
static int node_port[NODES];
static char *root, *burster, *carol, *dave;
static char burst_ids[RUNS_FIT][64];

static const char burst_run[] = "{\"language\":\"sql\",\"dataset\":\"demo\","
				"\"code\":\"SELECT count(*) FROM accounts\",\"cache\":false}";
static const char cheap_run[] = "{\"language\":\"sql\",\"dataset\":\"demo\",\"code\":\"SELECT 1\","
				"\"cache\":false}";

/* Runs the CLI against the shared database, as seen from `state`. */
static void cli_run(const char *state, char *const args[], struct tl_output *o)
{
	char *argv[16] = { (char *)tl_bin() };
	int n = 1;

	for (int i = 0; args[i] && n < 13; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	setenv("LEDGERBOX_DATABASE_URL", db_url, 1);
	setenv("LEDGERBOX_STATE_DIR", state, 1);
	tl_run(argv, NULL, o);
}

static char *key_create(const char *user, const char *team, const char *role)
{
	char *args[] = { "keys", "create", "--user", (char *)user, "--team", (char *)team,
			 "--role", (char *)role, NULL };
	struct tl_output o;
	char *key;

	cli_run(node[0].state, args, &o);
	if (o.exit_code != 0)
		fail_msg("keys create failed: %s", o.err);
	key = strndup(o.out, strcspn(o.out, "\r\n"));
	tl_output_free(&o);
	assert_true(strncmp(key, "lbx_", 4) == 0);
	return key;
}

static int setup(void **state)
{
	(void)state;
	pgt_db_create("multinode", db_url);
	snprintf(db_env, sizeof(db_env), "LEDGERBOX_DATABASE_URL=%s", db_url);
	hl_prepare(&node[0], "node1", node_env);
	mn_node_prepare_like_first(&node[0], &node[1], "node2");
	root = key_create("root", "ops", "admin");
	burster = key_create("burst", "load", "analyst");
	carol = key_create("carol", "finance", "analyst");
	dave = key_create("dave", "finance", "analyst");
	mn_start(node, node_port, NODES, &ng, &lb, "lb");
	return 0;
}

/* Whatever an earlier failure left running goes; the database too. */
static int teardown(void **state)
{
	(void)state;
	mn_kill_all(&ng, node, NODES);
	free(root);
	free(burster);
	free(carol);
	free(dave);
	if (db_url[0])
		pgt_db_drop(db_url);
	curl_global_cleanup();
	return 0;
}

/* The entry of `array` (a member of obj) whose `field` is `value`. */
static json_t *find_by(json_t *obj, const char *array, const char *field, const char *value)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(obj, array), i, e)
		if (hl_str(e, field) && strcmp(hl_str(e, field), value) == 0)
			return e;
	return NULL;
}

static int64_t int_of(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v))
		fail_msg("no integer \"%s\" in %s", key, json_dumps(obj, JSON_COMPACT));
	return json_integer_value(v);
}

static bool is_burst_id(const char *id)
{
	for (int i = 0; i < RUNS_FIT; i++)
		if (id && strcmp(burst_ids[i], id) == 0)
			return true;
	return false;
}

/* A node with its own pepper would hash keys differently from the others:
 * it must refuse to start rather than reject every key. */
static void node_with_another_pepper_refuses_to_start(void **state)
{
	struct server odd;
	unsigned char pepper[MN_PEPPER_BYTES];
	char path[700];
	int status = 0;
	bool exited = false;
	(void)state;

	mn_node_prepare_like_first(&node[0], &odd, "odd");
	for (size_t i = 0; i < sizeof(pepper); i++)
		pepper[i] = (unsigned char)(0xa5 ^ (i * 37));
	snprintf(path, sizeof(path), "%s/key-pepper", odd.state);
	mn_file_write(path, pepper, sizeof(pepper));
	odd.port = nl_free_port();
	odd.pid = fork();
	assert_true(odd.pid >= 0);
	if (odd.pid == 0) {
		char *argv[] = { (char *)tl_bin(), "serve", NULL };
		char listen[64];
		int fd = open(odd.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

		snprintf(listen, sizeof(listen), "127.0.0.1:%d", odd.port);
		dup2(fd, 2);
		hl_env_apply(&odd);
		setenv("LEDGERBOX_LISTEN", listen, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	/* A bound on the wait, not a timing check: a node that starts
	 * serving instead fails at once. */
	for (int i = 0; i < 600 && !exited; i++) {
		exited = waitpid(odd.pid, &status, WNOHANG) == odd.pid;
		if (!exited && nl_port_open(odd.port)) {
			kill(odd.pid, SIGKILL);
			waitpid(odd.pid, NULL, 0);
			fail_msg("a node with another key-pepper started serving");
		}
		if (!exited)
			usleep(50000);
	}
	if (!exited) {
		kill(odd.pid, SIGKILL);
		waitpid(odd.pid, NULL, 0);
		fail_msg("a node with another key-pepper neither served nor exited");
	}
	assert_true(WIFEXITED(status));
	assert_int_not_equal(WEXITSTATUS(status), 0);
}

struct attempt {
	long status;
	char *code, *scope, *id;
	int64_t cost_micros;
};

static void *burst_one(void *arg)
{
	struct attempt *a = arg;
	struct reply r;

	hl_call(&lb, "POST", "/api/analyze", burster, burst_run, &r);
	a->status = r.status;
	if (r.status == 402) {
		json_t *e = json_object_get(r.json, "error");
		a->code = strdup(hl_str(e, "code") ?: "");
		a->scope = strdup(hl_str(e, "scope") ?: "");
	} else if (r.status == 200) {
		a->id = strdup(hl_str(r.json, "id") ?: "");
		a->cost_micros =
			json_integer_value(json_object_get(json_object_get(r.json, "cost"), "totalMicros"));
	} else {
		a->code = strndup(r.body, 300);
	}
	hl_reply_free(&r);
	return NULL;
}

static volatile int watching;
static bool overspent_seen;
static long watch_reads[NODES];

/* While the burst runs: spent + reserved <= limit, read from each node in
 * turn, so each node sees the reservations the other made. */
static void *watch_budget(void *arg)
{
	(void)arg;
	for (unsigned n = 0; watching; n++) {
		struct reply r;
		json_t *b;

		hl_call_timeout(&node[n % NODES], "GET", "/api/budgets", root, NULL, 0, NULL, 10000, &r);
		b = r.status == 200 ? find_by(r.json, "budgets", "scope", "user:burst") : NULL;
		if (b) {
			json_int_t used = json_integer_value(json_object_get(b, "spentMicros")) +
					  json_integer_value(json_object_get(b, "reservedMicros"));
			if (used > json_integer_value(json_object_get(b, "limitMicros")))
				overspent_seen = true;
			watch_reads[n % NODES]++;
		}
		hl_reply_free(&r);
		usleep(5000);
	}
	return NULL;
}

/* One node's view of the burst's ledger: the budget is spent to its limit
 * with nothing reserved; the spend entries and the runs are the admitted
 * ones. */
static void ledger_seen_from(struct server *s)
{
	struct reply r;
	json_t *b, *e;
	size_t i, entries = 0;

	hl_call(s, "GET", "/api/budgets", root, NULL, &r);
	assert_int_equal(r.status, 200);
	b = find_by(r.json, "budgets", "scope", "user:burst");
	assert_non_null(b);
	assert_int_equal(int_of(b, "limitMicros"), RUNS_FIT * RUN_FEE_MICROS);
	assert_int_equal(int_of(b, "spentMicros"), RUNS_FIT * RUN_FEE_MICROS);
	assert_int_equal(int_of(b, "reservedMicros"), 0);
	hl_reply_free(&r);

	hl_call(s, "GET", "/api/spend?scope=user:burst", root, NULL, &r);
	assert_int_equal(r.status, 200);
	b = find_by(r.json, "totals", "scope", "user:burst");
	assert_non_null(b);
	assert_int_equal(int_of(b, "entries"), RUNS_FIT);
	assert_int_equal(int_of(b, "amountMicros"), RUNS_FIT * RUN_FEE_MICROS);
	json_array_foreach(json_object_get(r.json, "entries"), i, e) {
		if (!hl_str(e, "scope") || strcmp(hl_str(e, "scope"), "user:burst") != 0)
			continue;
		assert_true(is_burst_id(hl_str(e, "runId")));
		assert_int_equal(int_of(e, "amountMicros"), RUN_FEE_MICROS);
		entries++;
	}
	assert_int_equal(entries, RUNS_FIT);
	hl_reply_free(&r);

	hl_call(s, "GET", "/api/runs?user=burst&limit=500", root, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "runs")), RUNS_FIT);
	json_array_foreach(json_object_get(r.json, "runs"), i, e) {
		assert_true(is_burst_id(hl_str(e, "id")));
	}
	hl_reply_free(&r);
}

static void burst_through_nginx_spends_exactly_the_hard_budget(void **state)
{
	static struct attempt at[BURST];
	pthread_t t[BURST], watcher;
	struct reply r;
	long served[NODES], other;
	int ok = 0, refused = 0;
	(void)state;

	hl_call(&lb, "PUT", "/api/budgets/user/burst", root,
		"{\"limit\":\"" BURST_LIMIT_TEXT "\",\"period\":\"none\",\"softPercent\":100,"
		"\"hard\":true}", &r);
	if (r.status != 200)
		fail_msg("PUT budget: %ld %s", r.status, r.body);
	hl_reply_free(&r);

	watching = 1;
	assert_int_equal(pthread_create(&watcher, NULL, watch_budget, NULL), 0);
	for (int i = 0; i < BURST; i++)
		assert_int_equal(pthread_create(&t[i], NULL, burst_one, &at[i]), 0);
	for (int i = 0; i < BURST; i++)
		pthread_join(t[i], NULL);
	watching = 0;
	pthread_join(watcher, NULL);

	for (int i = 0; i < BURST; i++) {
		if (at[i].status == 200) {
			assert_int_equal(at[i].cost_micros, RUN_FEE_MICROS);
			if (ok < RUNS_FIT)
				snprintf(burst_ids[ok], sizeof(burst_ids[0]), "%s", at[i].id);
			ok++;
		} else if (at[i].status == 402) {
			assert_string_equal(at[i].code, "budget_exceeded");
			assert_string_equal(at[i].scope, "user:burst");
			refused++;
		} else {
			fail_msg("request %d answered %ld: %s", i, at[i].status, at[i].code);
		}
		free(at[i].code);
		free(at[i].scope);
		free(at[i].id);
	}
	printf("# burst: %d admitted, %d refused\n", ok, refused);
	assert_int_equal(ok, RUNS_FIT);
	assert_int_equal(refused, BURST - RUNS_FIT);
	assert_false(overspent_seen);
	assert_true(watch_reads[0] > 0 && watch_reads[1] > 0);

	nl_count_by_upstream(&ng, "POST /api/analyze", node_port, NODES, served, &other);
	printf("# nginx sent %ld requests to node 1, %ld to node 2, %ld elsewhere\n", served[0],
	       served[1], other);
	assert_int_equal(other, 0);
	assert_int_equal(served[0] + served[1], BURST);
	assert_true(served[0] > 0);
	assert_true(served[1] > 0);

	for (int i = 0; i < NODES; i++)
		ledger_seen_from(&node[i]);
}

static const char chart_and_csv[] =
	"{\"language\":\"python\",\"cache\":false,\"code\":\""
	"import matplotlib.pyplot as plt\\n"
	"import pandas as pd\\n"
	"df = pd.DataFrame({'month': [1, 2, 3], 'revenue': [10, 20, 15]})\\n"
	"df.to_csv('/out/revenue.csv', index=False)\\n"
	"_ = plt.plot(df['month'], df['revenue'])\\n"
	"print('saved')\\n\"}";

static void get_artifact(struct server *s, const char *url, struct reply *r)
{
	hl_call(s, "GET", url, carol, NULL, r);
	if (r->status != 200)
		fail_msg("GET %s on %s: %ld %s", url, s->base, r->status, r->body);
}

/* A run made on node 1 is listed, read and its files downloaded on both;
 * another analyst sees it on neither. */
static void runs_and_artifacts_are_served_by_either_node(void **state)
{
	struct reply r, got[NODES];
	char id[64], png_url[256] = "", csv_url[256] = "", path[300];
	json_t *art;
	size_t i;
	(void)state;

	hl_call(&node[0], "POST", "/api/analyze", carol, chart_and_csv, &r);
	if (r.status != 200)
		fail_msg("python run: %ld %s", r.status, r.body);
	assert_string_equal(hl_str(r.json, "status"), "ok");
	snprintf(id, sizeof(id), "%s", hl_str(r.json, "id"));
	json_array_foreach(json_object_get(r.json, "artifacts"), i, art) {
		const char *name = hl_str(art, "name") ?: "";

		if (strcmp(name, "figure-1.png") == 0)
			snprintf(png_url, sizeof(png_url), "%s", hl_str(art, "url"));
		else if (strcmp(name, "revenue.csv") == 0)
			snprintf(csv_url, sizeof(csv_url), "%s", hl_str(art, "url"));
	}
	hl_reply_free(&r);
	assert_true(png_url[0] && csv_url[0]);

	for (int n = 0; n < NODES; n++) {
		snprintf(path, sizeof(path), "/api/runs/%s", id);
		hl_call(&node[n], "GET", path, carol, NULL, &r);
		assert_int_equal(r.status, 200);
		assert_string_equal(hl_str(r.json, "output"), "saved\n");
		hl_reply_free(&r);
		hl_call(&node[n], "GET", path, dave, NULL, &r);
		assert_int_equal(r.status, 404);
		hl_reply_free(&r);
		hl_call(&node[n], "GET", "/api/runs", carol, NULL, &r);
		assert_int_equal(r.status, 200);
		assert_non_null(find_by(r.json, "runs", "id", id));
		hl_reply_free(&r);
		hl_call(&node[n], "GET", csv_url, dave, NULL, &r);
		assert_int_equal(r.status, 404);
		hl_reply_free(&r);
		get_artifact(&node[n], csv_url, &r);
		assert_int_equal(r.len, strlen("month,revenue\n1,10\n2,20\n3,15\n"));
		assert_memory_equal(r.body, "month,revenue\n1,10\n2,20\n3,15\n", r.len);
		hl_reply_free(&r);
		get_artifact(&node[n], png_url, &got[n]);
		assert_true(got[n].len > 1000);
		assert_memory_equal(got[n].body, "\x89PNG", 4);
	}
	assert_int_equal(got[0].len, got[1].len);
	assert_memory_equal(got[0].body, got[1].body, got[0].len);
	for (int n = 0; n < NODES; n++)
		hl_reply_free(&got[n]);
}

static void expect_refused(struct server *s, const char *scope)
{
	struct reply r;

	hl_call(s, "POST", "/api/analyze", dave, cheap_run, &r);
	if (r.status != 402)
		fail_msg("%s answered %ld, not 402: %s", s->base, r.status, r.body);
	assert_string_equal(hl_str(json_object_get(r.json, "error"), "code"), "budget_exceeded");
	assert_string_equal(hl_str(json_object_get(r.json, "error"), "scope"), scope);
	hl_reply_free(&r);
}

static void expect_run(struct server *s)
{
	struct reply r;

	hl_call(s, "POST", "/api/analyze", dave, cheap_run, &r);
	if (r.status != 200)
		fail_msg("%s answered %ld, not 200: %s", s->base, r.status, r.body);
	hl_reply_free(&r);
}

/* A budget set, or removed, through one node binds the other at once. */
static void budget_set_on_one_node_is_enforced_by_the_other(void **state)
{
	struct reply r;
	(void)state;

	hl_call(&node[0], "PUT", "/api/budgets/user/dave", root,
		"{\"limit\":\"" RUN_FEE_TEXT "\",\"period\":\"none\",\"softPercent\":100,\"hard\":true}",
		&r);
	assert_int_equal(r.status, 200);
	hl_reply_free(&r);
	expect_run(&node[1]);
	expect_refused(&node[1], "user:dave");
	expect_refused(&node[0], "user:dave");

	hl_call(&node[1], "DELETE", "/api/budgets/user/dave", root, NULL, &r);
	assert_int_equal(r.status, 200);
	hl_reply_free(&r);
	expect_run(&node[0]);
}

/* One chain for all nodes: each node's runs and both nodes' budget changes
 * are entries of it, and it verifies the same from either state folder. */
static void audit_chain_is_intact_from_either_node(void **state)
{
	char *args[] = { "audit", "verify", NULL };
	long long entries[NODES];
	(void)state;

	for (int n = 0; n < NODES; n++) {
		struct tl_output o;

		cli_run(node[n].state, args, &o);
		if (o.exit_code != 0)
			fail_msg("audit verify from node %d: %d %s %s", n + 1, o.exit_code, o.out, o.err);
		assert_int_equal(sscanf(o.out, "audit log intact: %lld", &entries[n]), 1);
		tl_output_free(&o);
	}
	assert_int_equal(entries[0], entries[1]);
	/* 4 keys, 10 burst runs, the Python run, dave's 2 runs, 3 budget changes. */
	assert_true(entries[0] >= 4 + RUNS_FIT + 1 + 2 + 3);
}

/* nginx and the nodes exit cleanly, nothing listens any more, and the
 * database holds no reservation. */
static void everything_stops_with_nothing_reserved(void **state)
{
	char *args[] = { "budget", "list", NULL };
	struct tl_output o;
	json_t *list, *b;
	size_t i;
	bool burst_listed = false;
	(void)state;

	assert_int_equal(nl_stop(&ng), 0);
	assert_false(nl_port_open(ng.port));
	for (int n = 0; n < NODES; n++) {
		assert_int_equal(hl_stop(&node[n], SIGTERM), 0);
		assert_false(nl_port_open(node_port[n]));
	}
	cli_run(node[0].state, args, &o);
	if (o.exit_code != 0)
		fail_msg("budget list: %s", o.err);
	list = json_loads(o.out, 0, NULL);
	assert_true(json_is_array(list));
	json_array_foreach(list, i, b) {
		assert_int_equal(int_of(b, "reservedMicros"), 0);
		if (hl_str(b, "scope") && strcmp(hl_str(b, "scope"), "user:burst") == 0) {
			assert_int_equal(int_of(b, "spentMicros"), RUNS_FIT * RUN_FEE_MICROS);
			burst_listed = true;
		}
	}
	assert_true(burst_listed);
	json_decref(list);
	tl_output_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(node_with_another_pepper_refuses_to_start),
		cmocka_unit_test(burst_through_nginx_spends_exactly_the_hard_budget),
		cmocka_unit_test(runs_and_artifacts_are_served_by_either_node),
		cmocka_unit_test(budget_set_on_one_node_is_enforced_by_the_other),
		cmocka_unit_test(audit_chain_is_intact_from_either_node),
		cmocka_unit_test(everything_stops_with_nothing_reserved),
	};

	return cmocka_run_group_tests_name("multinode", tests, setup, teardown);
}
