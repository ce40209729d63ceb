/*
 * conn_watch: cuts connections whose client sends its headers or body too
 * slowly (see conn_watch.c). Private to src/http/.
 */
#ifndef LEDGERBOX_HTTP_CONN_WATCH_H
#define LEDGERBOX_HTTP_CONN_WATCH_H

#include <stdint.h>

#include <microhttpd.h>

enum conn_phase { CONN_PHASE_HEAD, CONN_PHASE_BODY, CONN_PHASE_HANDLING };

struct conn;

/* libmicrohttpd's MHD_OPTION_NOTIFY_CONNECTION callback: starts and ends
 * the watch of each connection. */
void conn_watch_notify(void *cls, struct MHD_Connection *connection, void **socket_context,
		       enum MHD_ConnectionNotificationCode code);
/* The watch of a connection, or NULL when it is not watched. */
struct conn *conn_watch_of(struct MHD_Connection *connection);
/* The connection starts waiting for headers, a body, or its answer. */
void conn_watch_enter(struct conn *c, enum conn_phase phase);
/* Counts body bytes; returns the request's total so far (UINT64_MAX when
 * the connection is not watched). */
uint64_t conn_watch_body(struct conn *c, size_t len);
/* Cuts every connection, whatever its phase: a server stopping makes the
 * runs of its handlers see their client gone. */
void conn_watch_cut_all(void);
/* The watchdog thread: 0 or -errno. */
int conn_watch_start(void);
void conn_watch_stop(void);

#endif
