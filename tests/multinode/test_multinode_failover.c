/*
 * A node dies behind the balancer: two `ledgerbox serve` nodes on one
 * PostgreSQL behind nginx configured as shipped (packaging/nginx, through
 * tests/multinode/nginxlib.h), CLIENTS threads sending Python runs through
 * nginx without pause, and one node killed with SIGKILL in the middle.
 *
 * What must hold:
 * - the clients' failures (502, 504, a broken connection) are at most the
 *   requests in flight when the node died, one per client, and none of the
 *   requests sent later: nginx passes on a request whose connection to
 *   the dead node fails, stops choosing that node for fail_timeout
 *   (passive health), and passes on the request it tries the node with
 *   again after that, instead of answering it 502;
 * - no run is started twice: every request carries a marker of its own in
 *   its code, and no marker is in more than one row of the runs table; the
 *   requests answered 200 have exactly one row each;
 * - the reservations the dead node held stop counting, while the other
 *   node keeps serving, once their leases end: at most the run time limit
 *   (RUN_TIMEOUT_S) plus the lease (RESERVATION_LEASE_S) after the kill,
 *   give or take RELEASE_SLACK_S;
 * - the survivor and nginx stop cleanly and nothing stays reserved.
 *
 * LEDGERBOX_TEST_NGINX_DIR=/a/folder runs the same test against another
 * nginx configuration (its ledgerbox.conf and ledgerbox-proxy.conf), to
 * measure what a configuration without failover costs; docs/faults.md
 * has the figures.
 */
#include <pthread.h>
#include <time.h>

#include "http/httplib.h"
#include "multinode/nginxlib.h"
#include "multinode/nodeslib.h"
#include "support/pgtest.h"
#include "util/banned.h"

#define NODES 2
#define VICTIM 1
#define CLIENTS 8
#define REQUESTS_PER_CLIENT_MAX 4000
#define WARM_UP_ANSWERS (2 * CLIENTS)
#define LOAD_AFTER_KILL_MS 5000
#define TRICKLE_PAUSE_US 200000
/* nginx closes its idle connections to the dead node when it reads their
 * end; a request sent in that instant may still go down one of them. A
 * request sent later than this after the kill is not in flight on the
 * dead node and must not fail. */
#define IN_FLIGHT_GRACE_MS 2000
/* The load goes on past the shipped fail_timeout (10 s), after which nginx
 * tries the dead node again: that request must be passed on too. */
#define LOAD_PAST_FAIL_TIMEOUT_MS 15000
/* A reservation's lease ends the lease after its run's deadline; the
 * nodes are given a short run time limit and a short lease. */
#define RUN_TIMEOUT_S 10
#define RUN_TIMEOUT_TEXT "10000"
#define RESERVATION_LEASE_S 10
#define RESERVATION_LEASE_TEXT "10"
#define RELEASE_SLACK_S 20
#define NODE_LOCK_CLASS "71401128" /* BUDGET_PG_NODE_CLASS */

static char db_url[PGT_URL_MAX];
static char *node_env[] = { "LEDGERBOX_RESERVATION_LEASE_S=" RESERVATION_LEASE_TEXT,
			    "LEDGERBOX_RUN_TIMEOUT_MS=" RUN_TIMEOUT_TEXT,
			    /* The load must meet neither a full queue nor one
			     * key's admission limits. */
			    MN_ADMISSION_UNLIMITED,
			    NULL };
static struct server node[NODES];
static struct server lb;
static struct nginx ng;
static int node_port[NODES];
static char *root, *loader;

/* 0: every client sends; 1: client 0 alone, slowly (the survivor must
 * keep taking runs while the dead node's reservations are waited for);
 * 2: stop. */
static volatile int phase;

struct attempt {
	int seq;
	long status;
	long sent_ms, at_ms; /* since the test's start, monotonic */
};

struct client {
	int id;
	int n;
	struct attempt at[REQUESTS_PER_CLIENT_MAX];
};

static struct client clients[CLIENTS];
static struct timespec started;

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - started.tv_sec) * 1000 + (t.tv_nsec - started.tv_nsec) / 1000000;
}

static void marker_of(int client, int seq, char *ret, size_t len)
{
	snprintf(ret, len, "failover-%02d-%05d", client, seq);
}

static int setup(void **state)
{
	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &started);
	pgt_db_create("failover", db_url);
	hl_prepare(&node[0], "fo1", node_env);
	/* The database of both nodes, and of the CLI making the keys. */
	snprintf(node[0].db_env, sizeof(node[0].db_env), "LEDGERBOX_DATABASE_URL=%s", db_url);
	mn_node_prepare_like_first(&node[0], &node[1], "fo2");
	root = hl_key_create(&node[0], "root", "ops", "admin");
	loader = hl_key_create(&node[0], "loader", "load", "analyst");
	mn_start(node, node_port, NODES, &ng, &lb, "fo");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	phase = 2;
	mn_kill_all(&ng, node, NODES);
	free(root);
	free(loader);
	if (db_url[0])
		pgt_db_drop(db_url);
	curl_global_cleanup();
	return 0;
}

static void *client_loop(void *arg)
{
	struct client *c = arg;
	char marker[64], body[256];

	for (int seq = 0; phase < 2 && c->n < REQUESTS_PER_CLIENT_MAX; seq++) {
		struct attempt *a = &c->at[c->n];
		struct reply r;

		if (phase == 1 && c->id != 0)
			break;
		marker_of(c->id, seq, marker, sizeof(marker));
		snprintf(body, sizeof(body),
			 "{\"language\":\"python\",\"cache\":false,\"code\":\"print('%s')\"}", marker);
		a->sent_ms = now_ms();
		hl_call(&lb, "POST", "/api/analyze", loader, body, &r);
		a->seq = seq;
		a->status = r.status;
		a->at_ms = now_ms();
		__atomic_store_n(&c->n, c->n + 1, __ATOMIC_RELEASE);
		hl_reply_free(&r);
		if (phase == 1)
			usleep(TRICKLE_PAUSE_US);
	}
	return NULL;
}

static int answers_so_far(void)
{
	int n = 0;

	for (int i = 0; i < CLIENTS; i++)
		n += __atomic_load_n(&clients[i].n, __ATOMIC_ACQUIRE);
	return n;
}

/* The node ids whose lock is held in this database: the live nodes
 * (docs/postgres.md, "Crash safety per node"). Returns how many. */
static int live_node_ids(long ids[], int max)
{
	PGconn *c = PQconnectdb(db_url);
	PGresult *res = PQexec(c, "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory'"
				  " AND granted AND objsubid = 2 AND classid = " NODE_LOCK_CLASS
				  " AND database = (SELECT oid FROM pg_database"
				  "  WHERE datname = current_database()) ORDER BY 1");
	int n = 0;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("pg_locks: %s", PQerrorMessage(c));
	for (int i = 0; i < PQntuples(res) && n < max; i++)
		ids[n++] = strtol(PQgetvalue(res, i, 0), NULL, 10);
	PQclear(res);
	PQfinish(c);
	return n;
}

static long reserved_by(long node_id)
{
	char sql[128];

	/* An expired lease counts in no budget, whether or not a sweep has
	 * deleted its row yet. */
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM reservations WHERE node = %ld AND expires_at > now()",
		 node_id);
	return pgt_count(db_url, sql);
}

struct tally {
	long ok, failed, failed_after_kill, failed_sent_later, last_failure_ms, ok_after_kill;
};

static void tally_clients(long kill_ms, struct tally *t)
{
	memset(t, 0, sizeof(*t));
	t->last_failure_ms = -1;
	for (int i = 0; i < CLIENTS; i++)
		for (int k = 0; k < clients[i].n; k++) {
			const struct attempt *a = &clients[i].at[k];

			if (a->status == 200) {
				t->ok++;
				t->ok_after_kill += a->at_ms >= kill_ms;
			} else if (a->status == 502 || a->status == 504 || a->status < 0) {
				t->failed++;
				t->failed_after_kill += a->at_ms >= kill_ms;
				t->failed_sent_later += a->sent_ms > kill_ms + IN_FLIGHT_GRACE_MS;
				if (a->at_ms - kill_ms > t->last_failure_ms)
					t->last_failure_ms = a->at_ms - kill_ms;
			} else {
				fail_msg("client %d request %d answered %ld", i, a->seq, a->status);
			}
		}
}

/* Each marker is in at most one run; each request answered 200 in exactly
 * one. Returns the number of runs carrying a marker. */
static long runs_checked_for_markers(void)
{
	char sql[256], marker[64];
	long rows, twice;

	twice = pgt_count(db_url, "SELECT count(*) FROM (SELECT code FROM runs"
				  " WHERE code LIKE 'print(''failover-%' GROUP BY code"
				  " HAVING count(*) > 1) AS d");
	assert_int_equal(twice, 0);
	rows = pgt_count(db_url, "SELECT count(*) FROM runs WHERE code LIKE 'print(''failover-%'");
	for (int i = 0; i < CLIENTS; i++)
		for (int k = 0; k < clients[i].n; k++) {
			if (clients[i].at[k].status != 200)
				continue;
			marker_of(i, clients[i].at[k].seq, marker, sizeof(marker));
			snprintf(sql, sizeof(sql), "SELECT count(*) FROM runs WHERE code = 'print(''%s'')'",
				 marker);
			if (pgt_count(db_url, sql) != 1)
				fail_msg("the run of %s, answered 200, is not in exactly one row", marker);
		}
	return rows;
}

/* Requests nginx passed on to another node (several upstream addresses);
 * each must have been tried on the dead node first. */
static long passed_on_from_victim(void)
{
	FILE *f = fopen(ng.access_log, "r");
	char line[2048], victim[64];
	long n = 0;

	assert_non_null(f);
	snprintf(victim, sizeof(victim), " upstream=127.0.0.1:%d, ", node_port[VICTIM]);
	while (fgets(line, sizeof(line), f)) {
		const char *up = strstr(line, " upstream=");

		if (!up || !strchr(up, ','))
			continue;
		if (strncmp(up, victim, strlen(victim)) != 0)
			fail_msg("a request was passed on from a live node: %s", line);
		n++;
	}
	fclose(f);
	return n;
}

/* Once some runs are answered and both nodes hold reservations, kills the
 * victim, and returns the time of the kill once PostgreSQL has freed the
 * victim's node lock, with its node id in *ret_dead_id. */
static long victim_killed_mid_load(long *ret_dead_id)
{
	long live[4], kill_ms;

	assert_int_equal(live_node_ids(live, 4), NODES);
	for (int i = 0; i < 1200; i++) {
		if (answers_so_far() >= WARM_UP_ANSWERS &&
		    pgt_count(db_url, "SELECT count(DISTINCT node) FROM reservations") == NODES)
			break;
		usleep(50000);
	}
	kill_ms = now_ms(); /* before: a failure may be seen within the same ms */
	assert_int_equal(kill(node[VICTIM].pid, SIGKILL), 0);
	assert_int_equal(waitpid(node[VICTIM].pid, NULL, 0), node[VICTIM].pid);
	node[VICTIM].pid = 0;

	/* PostgreSQL ends the dead node's session, and so frees its lock, as
	 * soon as it sees the connection closed. */
	*ret_dead_id = 0;
	for (int i = 0; i < 200 && !*ret_dead_id; i++) {
		long now_live[4];

		if (live_node_ids(now_live, 4) == 1)
			*ret_dead_id = now_live[0] == live[0] ? live[1] : live[0];
		else
			usleep(50000);
	}
	if (!*ret_dead_id)
		fail_msg("the killed node's lock is still held");
	return kill_ms;
}

/* Keeps the survivor busy (one client) until the dead node's reservations
 * are gone and fail_timeout has passed, or bound_s after the kill; returns
 * when they were gone, in ms after the kill, or -1. */
static long dead_reservations_released_ms(long kill_ms, long dead_id, long bound_s)
{
	long released_ms = -1;

	while (now_ms() < kill_ms + LOAD_AFTER_KILL_MS)
		usleep(100000);
	phase = 1;
	while (now_ms() < kill_ms + bound_s * 1000) {
		if (released_ms < 0 && reserved_by(dead_id) == 0)
			released_ms = now_ms() - kill_ms;
		if (released_ms >= 0 && now_ms() >= kill_ms + LOAD_PAST_FAIL_TIMEOUT_MS)
			break;
		usleep(250000);
	}
	return released_ms;
}

static void node_killed_mid_load_costs_only_its_requests_in_flight(void **state)
{
	pthread_t t[CLIENTS];
	long dead_id, kill_ms, released_ms, bound_s, dead_reserved, runs, passed;
	char sql[160];
	struct tally tally;
	struct reply r;
	(void)state;

	/* A budget, so every run holds a reservation while it runs. */
	hl_call(&lb, "PUT", "/api/budgets/user/loader", root,
		"{\"limit\":\"1000\",\"period\":\"none\",\"softPercent\":100,\"hard\":true}", &r);
	if (r.status != 200)
		fail_msg("PUT budget: %ld %s", r.status, r.body);
	hl_reply_free(&r);
	bound_s = RUN_TIMEOUT_S + RESERVATION_LEASE_S + RELEASE_SLACK_S;

	for (int i = 0; i < CLIENTS; i++) {
		clients[i].id = i;
		assert_int_equal(pthread_create(&t[i], NULL, client_loop, &clients[i]), 0);
	}
	kill_ms = victim_killed_mid_load(&dead_id);
	dead_reserved = reserved_by(dead_id);
	printf("# killed node %d at %.1f s with %ld reservations\n", VICTIM + 1, kill_ms / 1000.0,
	       dead_reserved);
	assert_true(dead_reserved > 0);
	released_ms = dead_reservations_released_ms(kill_ms, dead_id, bound_s);
	phase = 2;
	for (int i = 0; i < CLIENTS; i++)
		pthread_join(t[i], NULL);

	tally_clients(kill_ms, &tally);
	runs = runs_checked_for_markers();
	passed = passed_on_from_victim();
	printf("# %ld answered 200 (%ld after the kill), %ld failed (%ld sent more than %d ms after "
	       "the kill), the last %ld ms after the kill; %ld passed on to the survivor; %ld runs "
	       "with a marker\n",
	       tally.ok, tally.ok_after_kill, tally.failed, tally.failed_sent_later,
	       IN_FLIGHT_GRACE_MS, tally.last_failure_ms, passed, runs);
	printf("# the dead node's reservations were released %ld ms after the kill (bound %ld s)\n",
	       released_ms, bound_s);
	assert_true(tally.ok_after_kill > 0);
	assert_int_equal(tally.failed, tally.failed_after_kill);
	if (tally.failed > CLIENTS)
		fail_msg("%ld requests failed: more than the %d that can be in flight", tally.failed,
			 CLIENTS);
	if (tally.failed_sent_later > 0)
		fail_msg("%ld requests sent after the node died failed", tally.failed_sent_later);
	/* At least the request that tried the dead node again after
	 * fail_timeout was passed on. */
	assert_true(passed > 0);
	/* A run the dead node finished and stored before its answer was lost
	 * has a row and a failed request. */
	assert_true(runs >= tally.ok && runs <= tally.ok + tally.failed);
	if (released_ms < 0)
		fail_msg("the dead node's reservations were still held %ld s after it died",
			 bound_s);

	/* Nothing of the survivor's stays reserved once its runs are done, and
	 * the dead node's rows (left for the sweep) count no more. */
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM reservations WHERE node <> %ld OR expires_at > now()",
		 dead_id);
	for (int i = 0; i < 200 && pgt_count(db_url, sql); i++)
		usleep(50000);
	assert_int_equal(pgt_count(db_url, sql), 0);
	assert_int_equal(nl_stop(&ng), 0);
	assert_int_equal(hl_stop(&node[0], SIGTERM), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(node_killed_mid_load_costs_only_its_requests_in_flight),
	};

	return cmocka_run_group_tests_name("multinode_failover", tests, setup, teardown);
}
