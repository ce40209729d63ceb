/*
 * limits: defaults and range checks for struct sandbox_limits, and the
 * names used in results and messages.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "sandbox/sandbox.h"
#include "util/banned.h"

#define KiB (1024ull)
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)

void sandbox_limits_default(struct sandbox_limits *l)
{
	l->wall_ms = 30000;
	l->cpu_ms = 20000;
	l->memory_bytes = 512 * MiB;
	l->pids = 64;
	l->output_bytes = 1 * MiB;
	l->output_drain_bytes = 64 * MiB;
	l->tmp_bytes = 64 * MiB;
	l->out_bytes = 64 * MiB;
	l->file_bytes = 64 * MiB;
	l->table_bytes = 16 * MiB;
	l->max_rows = 1000;
	l->open_files = 256;
}

struct limit_range {
	const char *name;
	size_t offset;
	uint64_t min, max;
};

#define RANGE(field, lo, hi) { #field, offsetof(struct sandbox_limits, field), lo, hi }

static const struct limit_range ranges[] = {
	RANGE(wall_ms, 10, 24ull * 3600 * 1000),
	RANGE(cpu_ms, 10, 24ull * 3600 * 1000),
	RANGE(memory_bytes, 16 * MiB, 1024 * GiB),
	RANGE(pids, 2, 65536),
	RANGE(output_bytes, 0, 1 * GiB),
	RANGE(output_drain_bytes, 0, 64 * GiB),
	RANGE(tmp_bytes, 64 * KiB, 64 * GiB),
	RANGE(out_bytes, 64 * KiB, 64 * GiB),
	RANGE(file_bytes, 4 * KiB, 1024 * GiB),
	RANGE(table_bytes, 4 * KiB, 1 * GiB),
	RANGE(max_rows, 1, 10000000),
	RANGE(open_files, 32, 65536),
};

int sandbox_limits_check(const struct sandbox_limits *l, char *err, size_t err_len)
{
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		uint64_t v;
		memcpy(&v, (const char *)l + ranges[i].offset, sizeof(v));
		if (v < ranges[i].min || v > ranges[i].max) {
			snprintf(err, err_len, "limit %s=%" PRIu64 " is out of range: use %" PRIu64
					       " to %" PRIu64,
				 ranges[i].name, v, ranges[i].min, ranges[i].max);
			return -ERANGE;
		}
	}
	if (l->output_drain_bytes < 2 * l->output_bytes) {
		snprintf(err, err_len, "limit output_drain_bytes must be at least twice output_bytes");
		return -ERANGE;
	}
	return 0;
}

const char *sandbox_status_name(enum sandbox_status s)
{
	static const char *const names[] = {
		[SANDBOX_OK] = "ok",
		[SANDBOX_RUNTIME_ERROR] = "runtime_error",
		[SANDBOX_TIMEOUT] = "timeout",
		[SANDBOX_CPU_LIMIT] = "cpu_limit",
		[SANDBOX_MEMORY_LIMIT] = "memory_limit",
		[SANDBOX_OUTPUT_LIMIT] = "output_limit",
		[SANDBOX_KILLED] = "killed",
		[SANDBOX_SANDBOX_ERROR] = "sandbox_error",
	};
	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

const char *sandbox_enforcer_name(enum sandbox_enforcer e)
{
	static const char *const names[] = {
		[ENFORCER_NONE] = "none",	    [ENFORCER_CGROUP_V2] = "cgroup_v2",
		[ENFORCER_CGROUP_V1] = "cgroup_v1", [ENFORCER_RLIMIT] = "rlimit",
		[ENFORCER_SUPERVISOR] = "supervisor", [ENFORCER_TMPFS] = "tmpfs",
		[ENFORCER_RUNNER] = "runner",
	};
	return (unsigned)e < sizeof(names) / sizeof(names[0]) ? names[e] : "unknown";
}

const char *sandbox_lang_name(enum sandbox_lang lang)
{
	return lang == SANDBOX_LANG_SQL ? "sql" : "python";
}

int sandbox_lang_parse(const char *name, enum sandbox_lang *ret)
{
	if (strcmp(name, "python") == 0)
		*ret = SANDBOX_LANG_PYTHON;
	else if (strcmp(name, "sql") == 0)
		*ret = SANDBOX_LANG_SQL;
	else
		return -EINVAL;
	return 0;
}
