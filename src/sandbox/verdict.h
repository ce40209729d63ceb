/*
 * verdict: turns what the supervisor saw into the run's status, usage and
 * enforcement report.
 */
#ifndef LEDGERBOX_SANDBOX_VERDICT_H
#define LEDGERBOX_SANDBOX_VERDICT_H

#include "sandbox/internal.h"

/* Fills status, exit code, signal, usage, limits_hit and enforced_* of res.
 * Returns 0, or -errno (status sandbox_error) when the sandbox failed. */
int verdict_decide(const struct sandbox_request *req, const struct cgroup_run *cg,
		   const struct supervise_outcome *out, struct sandbox_result *res);

#endif
