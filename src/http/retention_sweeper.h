/*
 * retention_sweeper: removes expired runs' artifacts in the background of
 * the server (see retention_sweeper.c).
 */
#ifndef LEDGERBOX_HTTP_RETENTION_SWEEPER_H
#define LEDGERBOX_HTTP_RETENTION_SWEEPER_H

#include "http/http.h"

/* Starts the thread (not when retention is 0: files are kept for ever);
 * 0 or -errno. It sweeps at once, then every retention_sweep_ms. */
int retention_sweeper_start(struct http_server *srv);
/* Stops it and waits for a sweep in progress; safe when not started. */
void retention_sweeper_stop(void);

#endif
