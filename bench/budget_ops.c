/*
 * budget_ops: what budget enforcement costs a request, against the least
 * durable work that recording the same spend needs.
 *
 * Two loops run interleaved in one process, on one file system, so that
 * drift in the disk's fsync latency over the run affects both alike:
 *
 *   pair  budget_reserve() then budget_settle() of one run through the real
 *         API, on a fresh STATE_DIR with one hard monthly budget on
 *         "user:bench" too large to ever refuse. This is what every run
 *         pays: two IMMEDIATE transactions, each fsynced (WAL,
 *         synchronous=FULL), plus the checks and standings around them.
 *   peer  one transaction of plain INSERTs of the rows budget_settle()
 *         appends (one per scope: org, team, user), committed with the same
 *         durability into a table of the ledger's shape, with its
 *         uniqueness constraint and indexes. Any durable spend ledger pays
 *         at least this, so the ratio of medians is the price of
 *         reservations and checks, not of durability itself.
 *
 * Usage: budget_ops [N]   N measured iterations of each (default 2000,
 * 10..1000000), after 50 warm-up iterations that fill caches and grow the
 * WAL files and are not counted. Percentiles are nearest-rank.
 * The temporary directory (under /tmp) is removed at exit, also on failure.
 */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "budget/budget.h"
#include "util/banned.h"

#define N_DEFAULT 2000
#define N_MIN 10
#define N_MAX 1000000
#define WARMUP 50
#define RESERVE_MICROS 1000
#define SETTLE_MICROS 700
#define PEER_DB "peer.db"

/* The scopes budget_settle() charges for {team "t", user "bench"}. */
static const char *const peer_scopes[] = { "org", "team:t", "user:bench" };
#define PEER_ROWS (sizeof(peer_scopes) / sizeof(peer_scopes[0]))

struct bench {
	char dir[64];
	bool dir_made;
	struct budgets *budgets;
	json_t *detail;
	char *detail_text; /* the same detail as compact JSON, for the peer */
	sqlite3 *peer;
	sqlite3_stmt *peer_insert;
	size_t n;
	int64_t *pair_ns, *peer_ns;
};

struct stats {
	double median_us, p90_us, mean_us;
};

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The budget API takes wall-clock time: it picks the budget period. */
static int64_t wall_ms(void)
{
	return clock_ns(CLOCK_REALTIME) / 1000000;
}

static int parse_n(int argc, char **argv, size_t *ret)
{
	char *end;
	long v;

	if (argc < 2) {
		*ret = N_DEFAULT;
		return 0;
	}
	errno = 0;
	v = strtol(argv[1], &end, 10);
	if (argc > 2 || errno != 0 || end == argv[1] || *end != '\0' || v < N_MIN ||
	    v > N_MAX) {
		fprintf(stderr, "usage: budget_ops [N]   (N is an integer in %d..%d)\n", N_MIN,
			N_MAX);
		return -EINVAL;
	}
	*ret = (size_t)v;
	return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	if (remove(path) < 0)
		fprintf(stderr, "budget_ops: cannot remove %s: %s\n", path, strerror(errno));
	return 0; /* keep going: remove as much as possible */
}

static int dir_make(struct bench *bn)
{
	snprintf(bn->dir, sizeof(bn->dir), "/tmp/budget_ops.XXXXXX");
	if (!mkdtemp(bn->dir)) {
		int r = -errno;

		fprintf(stderr, "budget_ops: cannot create a directory under /tmp: %s\n",
			strerror(-r));
		return r;
	}
	bn->dir_made = true;
	return 0;
}

static int budget_setup(struct bench *bn)
{
	struct budget_def def = { .scope = "user:bench",
				  .limit_micros = BUDGET_MICROS_MAX,
				  .period = PERIOD_MONTHLY,
				  .soft_percent = 100,
				  .hard = true };
	char err[256] = "";
	int r = budget_open(bn->dir, &bn->budgets, err, sizeof(err));

	if (r < 0) {
		fprintf(stderr, "budget_ops: budget_open(%s): %s\n", bn->dir, err);
		return r;
	}
	r = budget_set(bn->budgets, &def);
	if (r < 0)
		fprintf(stderr, "budget_ops: budget_set(user:bench): %s\n", strerror(-r));
	return r;
}

static int detail_make(struct bench *bn)
{
	bn->detail = json_pack("{s:i}", "cpu_ms", 1);
	if (bn->detail)
		bn->detail_text = json_dumps(bn->detail, JSON_COMPACT);
	if (!bn->detail || !bn->detail_text) {
		fprintf(stderr, "budget_ops: cannot build the settlement detail\n");
		return -ENOMEM;
	}
	return 0;
}

static int peer_exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	fprintf(stderr, "budget_ops: peer database: %s: %s\n", sql, sqlite3_errmsg(db));
	return -EIO;
}

/* The peer's durability must match the budget part's, or the comparison
 * would flatter the peer: refuse to run if WAL mode is not granted. */
static int peer_wal_enable(sqlite3 *db)
{
	sqlite3_stmt *st;
	const char *mode = NULL;
	int r = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL);

	if (r == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		mode = (const char *)sqlite3_column_text(st, 0);
	r = mode && strcmp(mode, "wal") == 0 ? 0 : -EIO;
	if (r < 0)
		fprintf(stderr, "budget_ops: peer database: cannot enable WAL mode: %s\n",
			sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return r;
}

static int peer_schema(sqlite3 *db)
{
	return peer_exec(db, "CREATE TABLE ledger ("
			     "  id INTEGER PRIMARY KEY,"
			     "  run_id TEXT NOT NULL,"
			     "  scope TEXT NOT NULL,"
			     "  amount_micros INTEGER NOT NULL,"
			     "  at_ms INTEGER NOT NULL,"
			     "  detail TEXT,"
			     "  UNIQUE (run_id, scope)"
			     ") STRICT;"
			     "CREATE INDEX ledger_scope_at ON ledger(scope, at_ms, amount_micros);"
			     "CREATE INDEX ledger_at ON ledger(at_ms);");
}

static int peer_prepare(struct bench *bn)
{
	static const char sql[] = "INSERT INTO ledger (run_id, scope, amount_micros, at_ms, detail)"
				  " VALUES (?1, ?2, ?3, ?4, ?5)";

	if (sqlite3_prepare_v2(bn->peer, sql, -1, &bn->peer_insert, NULL) == SQLITE_OK)
		return 0;
	fprintf(stderr, "budget_ops: peer database: %s: %s\n", sql, sqlite3_errmsg(bn->peer));
	return -EIO;
}

static int peer_setup(struct bench *bn)
{
	char path[128];
	int r;

	snprintf(path, sizeof(path), "%s/%s", bn->dir, PEER_DB);
	if (sqlite3_open(path, &bn->peer) != SQLITE_OK) {
		fprintf(stderr, "budget_ops: cannot open %s: %s\n", path,
			bn->peer ? sqlite3_errmsg(bn->peer) : "out of memory");
		return -EIO;
	}
	r = peer_wal_enable(bn->peer);
	if (r == 0)
		r = peer_exec(bn->peer, "PRAGMA synchronous = FULL");
	if (r == 0)
		r = peer_schema(bn->peer);
	if (r == 0)
		r = peer_prepare(bn);
	return r;
}

static void run_id_make(char *buf, size_t len, size_t i)
{
	snprintf(buf, len, "bench-%zu", i);
}

static int pair_once(struct bench *bn, size_t i)
{
	const struct budget_scopes scopes = { .team = "t", .user = "bench", .session = NULL };
	char run_id[32];
	int r;

	run_id_make(run_id, sizeof(run_id), i);
	r = budget_reserve(bn->budgets, run_id, &scopes, RESERVE_MICROS, wall_ms(), NULL, NULL,
			   NULL);
	if (r < 0) {
		fprintf(stderr, "budget_ops: budget_reserve(%s): %s\n", run_id, strerror(-r));
		return r;
	}
	r = budget_settle(bn->budgets, run_id, &scopes, SETTLE_MICROS, bn->detail, wall_ms(),
			  NULL, NULL);
	if (r < 0)
		fprintf(stderr, "budget_ops: budget_settle(%s): %s\n", run_id, strerror(-r));
	return r;
}

static int peer_insert_rows(struct bench *bn, const char *run_id)
{
	sqlite3_stmt *st = bn->peer_insert;
	int64_t at_ms = wall_ms();

	for (size_t k = 0; k < PEER_ROWS; k++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, peer_scopes[k], -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, SETTLE_MICROS);
		sqlite3_bind_int64(st, 4, at_ms);
		sqlite3_bind_text(st, 5, bn->detail_text, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) {
			fprintf(stderr, "budget_ops: peer insert of %s: %s\n", run_id,
				sqlite3_errmsg(bn->peer));
			sqlite3_reset(st);
			return -EIO;
		}
	}
	sqlite3_reset(st);
	return 0;
}

/* IMMEDIATE, like the budget part's transactions, so both take the write
 * lock the same way. */
static int peer_once(struct bench *bn, size_t i)
{
	char run_id[32];
	int r;

	run_id_make(run_id, sizeof(run_id), i);
	r = peer_exec(bn->peer, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	r = peer_insert_rows(bn, run_id);
	if (r == 0)
		return peer_exec(bn->peer, "COMMIT");
	(void)peer_exec(bn->peer, "ROLLBACK");
	return r;
}

static int samples_alloc(struct bench *bn)
{
	bn->pair_ns = calloc(bn->n, sizeof(*bn->pair_ns));
	bn->peer_ns = calloc(bn->n, sizeof(*bn->peer_ns));
	if (bn->pair_ns && bn->peer_ns)
		return 0;
	fprintf(stderr, "budget_ops: cannot allocate %zu samples\n", bn->n);
	return -ENOMEM;
}

/* Alternates the two so that neither runs only while the disk is slow.
 * The first WARMUP iterations of each are run but not recorded. */
static int measure(struct bench *bn)
{
	for (size_t i = 0; i < WARMUP + bn->n; i++) {
		int64_t t0 = clock_ns(CLOCK_MONOTONIC), t1, t2;

		if (pair_once(bn, i) < 0)
			return -EIO;
		t1 = clock_ns(CLOCK_MONOTONIC);
		if (peer_once(bn, i) < 0)
			return -EIO;
		t2 = clock_ns(CLOCK_MONOTONIC);
		if (i >= WARMUP) {
			bn->pair_ns[i - WARMUP] = t1 - t0;
			bn->peer_ns[i - WARMUP] = t2 - t1;
		}
	}
	return 0;
}

/* A settle that found its run already settled would return 0 having
 * written nothing, and make the pair look cheap: check that every pair
 * charged its three scopes and left no reservation behind. */
static int budget_verify(struct bench *bn)
{
	uint64_t ledger = 0, reserved = 0;
	uint64_t want = (uint64_t)(WARMUP + bn->n) * PEER_ROWS * SETTLE_MICROS;
	int r = budget_totals(bn->budgets, &ledger, &reserved);

	if (r < 0) {
		fprintf(stderr, "budget_ops: budget_totals: %s\n", strerror(-r));
		return r;
	}
	if (ledger == want && reserved == 0)
		return 0;
	fprintf(stderr,
		"budget_ops: ledger holds %" PRIu64 " micros and %" PRIu64
		" reserved, expected %" PRIu64 " and 0\n",
		ledger, reserved, want);
	return -EIO;
}

static int ns_compare(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest rank: the smallest sample with at least p percent at or below. */
static double percentile_us(const int64_t *sorted, size_t n, unsigned p)
{
	size_t rank = ((size_t)p * n + 99) / 100;

	return (double)sorted[rank ? rank - 1 : 0] / 1000.0;
}

static struct stats stats_of(int64_t *ns, size_t n)
{
	struct stats s;
	double sum = 0;

	qsort(ns, n, sizeof(*ns), ns_compare);
	for (size_t i = 0; i < n; i++)
		sum += (double)ns[i];
	s.median_us = percentile_us(ns, n, 50);
	s.p90_us = percentile_us(ns, n, 90);
	s.mean_us = sum / (double)n / 1000.0;
	return s;
}

static void stats_print_row(const char *name, const struct stats *s)
{
	printf("%-36s %12.1f %12.1f %12.0f\n", name, s->median_us, s->p90_us, 1e6 / s->mean_us);
}

static void report(struct bench *bn)
{
	struct stats pair = stats_of(bn->pair_ns, bn->n);
	struct stats peer = stats_of(bn->peer_ns, bn->n);

	printf("budget_ops: N = %zu per loop (after %d warm-up iterations), in %s (now removed)\n", bn->n,
	       WARMUP, bn->dir);
	printf("%-36s %12s %12s %12s\n", "", "median_us", "p90_us", "ops/s");
	stats_print_row("reserve+settle pair (budget API)", &pair);
	stats_print_row("plain insert tx (3 rows, durable)", &peer);
	printf("ratio of medians (pair / insert tx): %.2f\n", pair.median_us / peer.median_us);
	printf("latency a request gains (median of the pair): %.1f us\n", pair.median_us);
}

static void bench_release(struct bench *bn)
{
	budget_close(bn->budgets);
	sqlite3_finalize(bn->peer_insert);
	sqlite3_close(bn->peer);
	free(bn->detail_text);
	json_decref(bn->detail);
	free(bn->pair_ns);
	free(bn->peer_ns);
	/* Depth first and without following links: files before their
	 * directory, and nothing outside it. */
	if (bn->dir_made && nftw(bn->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS) < 0)
		fprintf(stderr, "budget_ops: cannot remove %s: %s\n", bn->dir, strerror(errno));
}

int main(int argc, char **argv)
{
	struct bench bn;
	int r;

	memset(&bn, 0, sizeof(bn));
	if (parse_n(argc, argv, &bn.n) < 0)
		return 2;
	r = samples_alloc(&bn);
	if (r == 0)
		r = detail_make(&bn);
	if (r == 0)
		r = dir_make(&bn);
	if (r == 0)
		r = budget_setup(&bn);
	if (r == 0)
		r = peer_setup(&bn);
	if (r == 0)
		r = measure(&bn);
	if (r == 0)
		r = budget_verify(&bn);
	if (r == 0)
		report(&bn);
	bench_release(&bn);
	return r == 0 ? 0 : 1;
}
