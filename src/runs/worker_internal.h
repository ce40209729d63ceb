/*
 * worker_internal: what worker.c and worker_warm.c share. Nothing outside
 * src/runs/ includes this.
 */
#ifndef LEDGERBOX_WORKER_INTERNAL_H
#define LEDGERBOX_WORKER_INTERNAL_H

#include <jansson.h>

#include "sandbox/sandbox.h"

/* Runs one {"run"} request and answers it. When warm holds a sandbox, the
 * run takes it (it is consumed and *warm set to NULL) if the request fits,
 * otherwise it runs cold. Returns <0 only when the socket broke. */
int worker_serve_one(json_t *msg, struct sandbox_warm **warm);
/* A warm worker's life, from its {"warm"} frame until the socket closes. */
int worker_warm_serve(json_t *first);

#endif
