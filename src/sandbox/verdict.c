/*
 * verdict: see verdict.h.
 *
 * Precedence: a sandbox that failed to build is a sandbox_error whatever
 * else happened; a limit the supervisor enforced (wall, CPU, output) names
 * the status; then the kernel's verdicts (OOM kill, RLIMIT_CPU's SIGXCPU);
 * then how the analyst's process ended. A memory-limit kill is reported as
 * memory_limit, never as a crash.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "sandbox/verdict.h"
#include "util/banned.h"

/* Exit code of the SQL runner when it stopped the query at its time limit. */
#define SQL_RUNNER_EXIT_TIMEOUT 3
#define SQL_RUNNER_EXIT_USAGE 2

static enum sandbox_enforcer cgroup_enforcer(const struct cgroup_run *cg)
{
	return cg->version == 2 ? ENFORCER_CGROUP_V2 : ENFORCER_CGROUP_V1;
}

static void enforcement_fill(const struct cgroup_run *cg, struct sandbox_result *res)
{
	res->enforced_wall = ENFORCER_SUPERVISOR;
	res->enforced_cpu = cg->has_cpu ? cgroup_enforcer(cg) : ENFORCER_RLIMIT;
	res->enforced_memory = cg->has_memory ? cgroup_enforcer(cg) : ENFORCER_RLIMIT;
	res->enforced_pids = cg->has_pids ? cgroup_enforcer(cg) : ENFORCER_RLIMIT;
	res->enforced_output = ENFORCER_SUPERVISOR;
	res->enforced_file = ENFORCER_RLIMIT;
	res->enforced_tmp = ENFORCER_TMPFS;
	if ((!cg->has_memory || !cg->has_pids || !cg->has_cpu) && cg->why_not[0])
		snprintf(res->error, sizeof(res->error), "limits fell back to rlimits: %s",
			 cg->why_not);
}

static void usage_fill(const struct cgroup_run *cg, const struct supervise_outcome *out,
		       struct cgroup_stats *st, struct sandbox_result *res)
{
	if (out->have_stats)
		*st = out->stats; /* taken when the run finished, before its teardown */
	else
		cgroup_run_stats(cg, st);
	res->wall_ms = out->wall_ms;
	res->cpu_ms = st->have_cpu ? st->cpu_ns / 1000000 : out->init_cpu_ms;
	res->peak_memory_bytes = st->have_peak ? st->peak_memory_bytes : out->init_maxrss_bytes;
	res->memory_base_bytes = st->have_peak ? cg->memory_base_bytes : 0;
	if (st->pids_max_events)
		res->limits_hit |= LIMIT_HIT_PIDS;
	if (st->oom_kills)
		res->limits_hit |= LIMIT_HIT_MEMORY;
	if (res->stdout_truncated || res->stderr_truncated)
		res->limits_hit |= LIMIT_HIT_OUTPUT;
}

static void exit_fill(const struct supervise_outcome *out, struct sandbox_result *res)
{
	int st = out->payload_status;

	res->exit_code = -1;
	if (!out->have_payload_status) {
		res->signal = SIGKILL; /* init was killed before it could report */
		return;
	}
	if (WIFEXITED(st))
		res->exit_code = WEXITSTATUS(st);
	else if (WIFSIGNALED(st))
		res->signal = WTERMSIG(st);
}

/* Says how a signal ended the analyst's program, before any note already
 * there (a limit's fallback), so a killed or crashed run never comes back
 * without a word on why. `what` takes the number and the name. */
static void signal_note(struct sandbox_result *res, const char *what)
{
	char text[sizeof(res->error)], note[sizeof(res->error)];

	snprintf(text, sizeof(text), what, res->signal, strsignal(res->signal));
	snprintf(note, sizeof(note), "the program %.200s%s%.280s", text, res->error[0] ? "; " : "",
		 res->error);
	memcpy(res->error, note, sizeof(res->error));
}

static enum sandbox_status status_from_exit(const struct sandbox_request *req,
					    const struct cgroup_stats *st,
					    struct sandbox_result *res)
{
	const struct sandbox_limits *l = &req->limits;

	if (st->oom_kills && res->exit_code != 0)
		return SANDBOX_MEMORY_LIMIT;
	if (res->signal == SIGXCPU || (res->signal == SIGKILL && res->cpu_ms >= l->cpu_ms))
		return SANDBOX_CPU_LIMIT;
	if (res->signal == SIGSYS) {
		snprintf(res->error, sizeof(res->error),
			 "killed by the seccomp filter: a system call through a foreign ABI");
		return SANDBOX_RUNTIME_ERROR;
	}
	if (res->signal == SIGKILL || res->signal == SIGTERM || res->signal == SIGINT ||
	    res->signal == SIGHUP) {
		signal_note(res, "was ended by signal %d (%s), which no limit of the run sent");
		return SANDBOX_KILLED;
	}
	if (res->signal) {
		signal_note(res, "crashed with signal %d (%s)");
		return SANDBOX_RUNTIME_ERROR; /* a crash of the analyst's program */
	}
	if (req->lang == SANDBOX_LANG_SQL && res->exit_code == SQL_RUNNER_EXIT_TIMEOUT) {
		res->limits_hit |= LIMIT_HIT_WALL;
		res->enforced_wall = ENFORCER_RUNNER;
		return SANDBOX_TIMEOUT;
	}
	return res->exit_code == 0 ? SANDBOX_OK : SANDBOX_RUNTIME_ERROR;
}

int verdict_decide(const struct sandbox_request *req, const struct cgroup_run *cg,
		   const struct supervise_outcome *out, struct sandbox_result *res)
{
	struct cgroup_stats st;

	enforcement_fill(cg, res);
	usage_fill(cg, out, &st, res);
	exit_fill(out, res);
	if (!out->setup_errno && !out->have_payload_status && !out->killed_for &&
	    WIFEXITED(out->init_status)) {
		res->status = SANDBOX_SANDBOX_ERROR;
		snprintf(res->error, sizeof(res->error),
			 "the sandbox ended (code %d) before the analyst's program reported",
			 WEXITSTATUS(out->init_status));
		return -EPROTO;
	}
	if (out->setup_errno) {
		res->status = SANDBOX_SANDBOX_ERROR;
		snprintf(res->error, sizeof(res->error), "sandbox setup failed at \"%s\": %s",
			 out->setup_step, strerror(out->setup_errno));
		return -out->setup_errno;
	}
	if (req->lang == SANDBOX_LANG_SQL && res->exit_code == SQL_RUNNER_EXIT_USAGE) {
		res->status = SANDBOX_SANDBOX_ERROR;
		snprintf(res->error, sizeof(res->error), "the SQL runner refused its arguments");
		return -EINVAL;
	}
	res->limits_hit |= out->killed_for & ~(unsigned)LIMIT_HIT_CANCELLED;
	if (out->killed_for & LIMIT_HIT_WALL)
		res->status = SANDBOX_TIMEOUT;
	else if (out->killed_for & LIMIT_HIT_CPU)
		res->status = SANDBOX_CPU_LIMIT;
	else if (out->killed_for & LIMIT_HIT_OUTPUT)
		res->status = SANDBOX_OUTPUT_LIMIT;
	else if (out->killed_for & LIMIT_HIT_CANCELLED) {
		res->status = SANDBOX_KILLED;
		snprintf(res->error, sizeof(res->error), "cancelled before it finished");
	}
	else
		res->status = status_from_exit(req, &st, res);
	if (res->status == SANDBOX_CPU_LIMIT)
		res->limits_hit |= LIMIT_HIT_CPU;
	return 0;
}
