/*
 * worker: `ledgerbox sandbox-worker`, the single-threaded process that runs
 * sandboxes for the threaded HTTP server.
 *
 * Sandboxes are started with clone() and must come from a process without
 * threads, so the server starts one worker per run slot, each speaking
 * frames over a socket on fd 3:
 *   request   {"run": {"language", "code", "data_path", "limits": {...},
 *             "compile_only"?, "stream_output"?}, "seq"}
 *   output    with "stream_output": {"seq", "live_stdout": LINE} for each line of
 *             stdout as the run prints it, before the response
 *   response  the run's result JSON (as `ledgerbox exec` prints it), then one
 *             binary frame per entry of its "artifacts", in order
 *   cancel    {"cancel": true}: stops the run in progress; ignored when idle
 * The worker exits when the socket closes.
 *
 * A warm worker (docs/warm-pool.md) gets {"warm": {"data_path"}} as its
 * first frame instead: it starts one warm Python sandbox for that dataset
 * and answers {"warm_ready": true} once the interpreter is ready, or
 * {"warm_failed": MESSAGE} when it could not be built. A "run" request
 * then goes into the warm sandbox when it fits, otherwise into a cold one
 * at once; the result's "sandbox" says which ("warm" or "cold").
 */
#ifndef LEDGERBOX_WORKER_H
#define LEDGERBOX_WORKER_H

#include <jansson.h>

#include "sandbox/sandbox.h"

#define WORKER_FD 3

int cmd_sandbox_worker(int argc, char **argv);

/* Limits as JSON, and back (unknown keys ignored, missing keys keep the
 * values already in *l). */
json_t *worker_limits_to_json(const struct sandbox_limits *l);
int worker_limits_from_json(json_t *j, struct sandbox_limits *l);

#endif
