/*
 * serve_cmd: `ledgerbox serve`, the HTTP API.
 *
 * Start order matters: configuration, store, then the sandbox workers
 * (forked while this process has no threads yet), then the HTTP threads.
 * SIGINT and SIGTERM are blocked in every thread and taken by the main
 * thread with sigwait, which then shuts down gracefully: answer new
 * requests and /readyz 503 with Retry-After, refuse the runs still queued,
 * let running runs finish within LEDGERBOX_SHUTDOWN_GRACE_MS (then cancel
 * them), stop listening, close connections, close the database cleanly.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "budget/budget.h"
#include "budget/pricing.h"
#include "budget/reconcile.h"
#include "cli/store_commands.h"
#include "config/config.h"
#include "datasets/datasets.h"
#include "demo/demo_data.h"
#include "http/http.h"
#include "obs/log.h"
#include "runs/pool.h"
#include "sandbox/sandbox.h"
#include "store/store.h"
#include "util/zone.h"
#include "util/banned.h"

static void usage_print(FILE *out)
{
	size_t n;
	const struct config_setting *s = config_settings(&n);

	fputs("usage: ledgerbox serve [--config FILE] [--bootstrap]\n\n"
	      "Serves the analysis API. --bootstrap first writes the demo dataset into\n"
	      "DATA_DIR/demo and creates an admin key when there is none (make run does).\n\n"
	      "Settings (environment, or the file without the LEDGERBOX_ prefix):\n", out);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "  %-30s %-12s %s\n", s[i].variable, s[i].default_text, s[i].description);
}

static int bootstrap_demo(const struct config *cfg)
{
	char dir[PATH_MAX + 16], err[512];
	struct stat st;

	if (mkdir(cfg->data_dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "ledgerbox serve: cannot create %s (LEDGERBOX_DATA_DIR): %s\n",
			cfg->data_dir, strerror(errno));
		return -errno;
	}
	snprintf(dir, sizeof(dir), "%s/demo", cfg->data_dir);
	if (stat(dir, &st) == 0)
		return 0;
	if (demo_data_write(dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "ledgerbox serve: %s\n", err);
		return -EIO;
	}
	fprintf(stderr, "ledgerbox: demo dataset written to %s\n", dir);
	return 0;
}

/* The first admin key is kept (mode 0600) in the state directory so that
 * `make run` can show it again; revoke it once real keys exist. */
static int bootstrap_key(const struct config *cfg, struct store *store)
{
	char path[PATH_MAX + 32], key[STORE_KEY_MAX];
	int64_t admins = 0, id;
	FILE *f;

	snprintf(path, sizeof(path), "%s/bootstrap-admin.key", cfg->state_dir);
	if (store_admin_key_count(store, &admins) == 0 && admins > 0) {
		/* Shown to the person at the terminal, not written to the log. */
		f = isatty(STDOUT_FILENO) ? fopen(path, "re") : NULL;
		if (f && fgets(key, sizeof(key), f))
			printf("ledgerbox: admin key (from %s): %s", path, key);
		if (f)
			fclose(f);
		return 0;
	}
	if (store_key_create(store, "system", "admin", "admin", ROLE_ADMIN, key, &id) < 0)
		return -EIO;
	umask(077);
	f = fopen(path, "we");
	if (f) {
		fprintf(f, "%s\n", key);
		fclose(f);
	}
	printf("ledgerbox: created an admin key (kept in %s): %s\n", path, key);
	fflush(stdout);
	return 0;
}

static int wait_for_signal(void)
{
	sigset_t set;
	int sig = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigwait(&set, &sig);
	return sig;
}

static void signals_block(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Refuses new requests (503, still listening, so clients are told to go
 * elsewhere rather than refused) and runs still queued, lets the running
 * ones finish within the grace period (then cancels them), stops
 * listening, and waits for their answers to be sent before connections
 * close. */
static void shutdown_drain(struct http_server *srv, uint64_t grace_ms)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	uint64_t waited_ms = 0;

	http_drain_begin(srv);
	pool_drain(srv->pool, grace_ms);
	http_quiesce(srv);
	while (http_in_flight() > 0 && waited_ms < grace_ms + 5000) {
		nanosleep(&pause, NULL);
		waited_ms += 10;
	}
}

/* Budget periods and the cache's day are calendar periods in LEDGERBOX_TZ
 * (default: the machine's zone). Set before any thread exists, as TZ is
 * process-wide. config_load() has checked the name already. */
static int business_zone_set(const struct config *cfg)
{
	if (zone_apply(cfg->tz) < 0) {
		fprintf(stderr, "ledgerbox serve: LEDGERBOX_TZ: unknown time zone '%s' (use a name "
				"like Europe/Berlin or UTC)\n", cfg->tz);
		return -EINVAL;
	}
	return 0;
}

/* Pricing, the budget tables, and the spend of runs recorded by a process
 * that died before settling them. */
static int budgets_start(const struct config *cfg, struct pricing *pricing,
			 struct budgets **ret)
{
	char err[512];
	size_t settled = 0;
	int e;

	if (business_zone_set(cfg) < 0)
		return -EINVAL;
	if (pricing_load(pricing, err, sizeof(err)) < 0 ||
	    budget_open_url(cfg->state_dir, cfg->database_url, ret, err, sizeof(err)) < 0) {
		fprintf(stderr, "ledgerbox serve: %s\n", err);
		return -EINVAL;
	}
	budget_lease_set(*ret, cfg->reservation_lease_s * 1000);
	e = budget_reconcile(*ret, cfg->state_dir, cfg->database_url, &settled, err, sizeof(err));
	/* A full or read-only state disk does not keep the server from
	 * starting: reads work, writes answer 503, and the runs still to be
	 * settled are settled at the next start that can write. */
	if (e == -ENOSPC || e == -EROFS) {
		fprintf(stderr, "ledgerbox serve: %s; starting anyway (writes will answer 503 until "
			"the state disk can be written)\n", err);
	} else if (e < 0) {
		fprintf(stderr, "ledgerbox serve: %s\n", err);
		budget_close(*ret);
		return -EIO;
	}
	if (settled)
		fprintf(stderr, "ledgerbox: settled the spend of %zu recorded runs\n", settled);
	return 0;
}

static int serve(const struct config *cfg, bool bootstrap)
{
	static struct pricing pricing;
	struct http_server srv = { .cfg = cfg, .pricing = &pricing };
	char err[512], exe[PATH_MAX];
	json_t *f;
	int r, sig;

	if (!realpath("/proc/self/exe", exe)) {
		fprintf(stderr, "ledgerbox serve: cannot find its own binary: %s\n", strerror(errno));
		return 1;
	}
	if (store_open_url(cfg->state_dir, cfg->database_url, &srv.store, err, sizeof(err)) < 0) {
		fprintf(stderr, "ledgerbox serve: %s\n", err);
		return 1;
	}
	audit_anchor_logging(srv.store, cfg->audit_anchor_every);
	if (budgets_start(cfg, &pricing, &srv.budgets) < 0) {
		store_close(srv.store);
		return 1;
	}
	/* Uploads cut short by a crash leave temporary folders behind. */
	csv_import_sweep(cfg->data_dir, 3600, NULL);
	if (bootstrap && (bootstrap_demo(cfg) < 0 || bootstrap_key(cfg, srv.store) < 0)) {
		budget_close(srv.budgets);
		store_close(srv.store);
		return 1;
	}
	sandbox_cgroup_delegate();
	r = pool_start(exe, cfg->max_runs, cfg->queue_max, (unsigned)cfg->warm_pool_min,
		       (unsigned)cfg->warm_pool_max, &srv.pool);
	if (r < 0) {
		fprintf(stderr, "ledgerbox serve: cannot start sandbox workers: %s\n", strerror(-r));
		budget_close(srv.budgets);
		store_close(srv.store);
		return 1;
	}
	if (http_backends_start(&srv, err, sizeof(err)) < 0) {
		fprintf(stderr, "ledgerbox serve: %s\n", err);
		pool_stop(srv.pool);
		budget_close(srv.budgets);
		store_close(srv.store);
		return 1;
	}
	signals_block();
	if (http_start(&srv, err, sizeof(err)) < 0) {
		fprintf(stderr, "ledgerbox serve: %s\n", err);
		http_backends_stop(&srv);
		pool_stop(srv.pool);
		budget_close(srv.budgets);
		store_close(srv.store);
		return 1;
	}
	fprintf(stderr, "ledgerbox: serving on http://%s:%u/\n", cfg->listen_host, cfg->listen_port);
	f = json_pack("{s:s,s:i,s:i,s:s,s:s}", "host", cfg->listen_host, "port", cfg->listen_port,
		      "run_slots", (int)cfg->max_runs, "state_dir", cfg->state_dir, "data_dir",
		      cfg->data_dir);
	log_event(LOG_INFO, NULL, "serve.start", f);
	json_decref(f);
	sig = wait_for_signal();
	f = json_pack("{s:i,s:I}", "signal", sig, "grace_ms", (json_int_t)cfg->shutdown_grace_ms);
	log_event(LOG_INFO, NULL, "serve.shutdown", f);
	json_decref(f);
	shutdown_drain(&srv, cfg->shutdown_grace_ms);
	http_stop(&srv);
	http_backends_stop(&srv);
	pool_stop(srv.pool);
	budget_close(srv.budgets);
	store_close(srv.store);
	log_event(LOG_INFO, NULL, "serve.stopped", NULL);
	return 0;
}

int cmd_serve(int argc, char **argv)
{
	const char *config_path = NULL;
	bool bootstrap = false;
	struct config cfg;
	char err[512];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			usage_print(stdout);
			return 0;
		} else if (strcmp(argv[i], "--bootstrap") == 0) {
			bootstrap = true;
		} else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			config_path = argv[++i];
		} else {
			fprintf(stderr, "ledgerbox serve: unexpected argument '%s'\n", argv[i]);
			usage_print(stderr);
			return 64;
		}
	}
	if (config_load(&cfg, config_path, err, sizeof(err)) < 0) {
		fprintf(stderr, "ledgerbox serve: %s\n", err);
		return 64;
	}
	return serve(&cfg, bootstrap);
}
