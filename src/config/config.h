/*
 * config: ledgerbox's settings, from defaults, an optional configuration
 * file and LEDGERBOX_* environment variables (later wins).
 *
 * The file (LEDGERBOX_CONFIG, or the path given) has one `name = value` per
 * line, '#' comments and blank lines; names are the variables' names
 * without the LEDGERBOX_ prefix, in lower case (`listen = 127.0.0.1:8080`).
 * Every value is checked: a bad one is refused with a message naming the
 * variable (or file and line), the value and what is expected.
 */
#ifndef LEDGERBOX_CONFIG_H
#define LEDGERBOX_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox/sandbox.h"

struct config {
	char listen_host[64];      /* LEDGERBOX_LISTEN host part, default 127.0.0.1 */
	uint16_t listen_port;      /* LEDGERBOX_LISTEN port part, default 8080 */
	char state_dir[PATH_MAX];  /* LEDGERBOX_STATE_DIR, default ./state */
	char data_dir[PATH_MAX];   /* LEDGERBOX_DATA_DIR, default ./data */
	unsigned max_runs;         /* LEDGERBOX_MAX_RUNS, default: number of cores */
	unsigned queue_max;        /* LEDGERBOX_QUEUE_MAX, default 16 */
	uint64_t max_body_bytes;   /* LEDGERBOX_MAX_BODY_BYTES, default 1M (JSON requests) */
	uint64_t upload_max_bytes; /* LEDGERBOX_UPLOAD_MAX_BYTES, default 100M */
	uint64_t upload_max_rows;  /* LEDGERBOX_UPLOAD_MAX_ROWS, default 1000000 */
	uint64_t table_rows;       /* LEDGERBOX_TABLE_ROWS shown in a response, default 1000 */
	uint64_t export_rows;      /* LEDGERBOX_EXPORT_ROWS kept for CSV, default 100000 */
	uint64_t shutdown_grace_ms; /* LEDGERBOX_SHUTDOWN_GRACE_MS, default 30000 */
	/* LEDGERBOX_SOFT_POLICY_PERCENT, default 100: once a scope is past its
	 * soft threshold, a run's time and memory limits are cut to this
	 * percentage (so it reserves, and can spend, less). */
	uint64_t soft_policy_percent;
	struct sandbox_limits limits;     /* defaults for a run: LEDGERBOX_RUN_TIMEOUT_MS,
					     _RUN_CPU_MS, _RUN_MEMORY, _RUN_PIDS, _RUN_OUTPUT */
	struct sandbox_limits max_limits; /* what a request may ask for at most:
					     LEDGERBOX_MAX_RUN_TIMEOUT_MS, ... */
};

/* Loads defaults, then the file (path, or $LEDGERBOX_CONFIG when path is
 * NULL, or none), then the environment. */
int config_load(struct config *ret, const char *path, char *err, size_t err_len);
/* The table of every setting: [{"variable", "default", "description"}],
 * used by `ledgerbox serve --help` and the README. */
const struct config_setting {
	const char *variable;
	const char *default_text;
	const char *description;
} *config_settings(size_t *ret_count);

#endif
