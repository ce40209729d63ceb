/*
 * lane: handler threads apart from libmicrohttpd's event loop, so that a
 * handler that blocks (a run in a sandbox, a database call) holds one of
 * a bounded set of threads and never the loop that serves every other
 * connection. Private to src/http/.
 */
#ifndef LEDGERBOX_HTTP_LANE_H
#define LEDGERBOX_HTTP_LANE_H

#include <microhttpd.h>

struct request;
struct lane;

typedef enum MHD_Result (*lane_handler)(struct request *rq);

/* Starts a lane named `name` in logs, of at most max_threads (>= 1)
 * handler threads, started as jobs need them. 0 or -errno. */
int lane_start(const char *name, unsigned max_threads, struct lane **ret);
/* Called from the access handler: suspends rq's connection and has a lane
 * thread run handler(rq), which queues its answer while the connection is
 * suspended; its result goes to *ret_result (when not NULL) and the
 * connection is then resumed. Returns MHD_YES, or MHD_NO (connection
 * closed) when the job cannot be queued. */
enum MHD_Result lane_hand_off(struct lane *l, struct request *rq, lane_handler handler,
			      enum MHD_Result *ret_result);
/* Refuses new jobs, runs the ones still queued and joins the threads;
 * NULL is ignored. */
void lane_stop(struct lane *l);
/* Frees a stopped lane, once libmicrohttpd is stopped; NULL is ignored. */
void lane_free(struct lane *l);

/* Suspend and resume a connection, counting the suspended ones:
 * libmicrohttpd must not be stopped while one is. conn_park follows the
 * library's rule (from its access handler or a content reader);
 * conn_unpark may be called from any thread. */
void conn_park(struct MHD_Connection *conn);
void conn_unpark(struct MHD_Connection *conn);
int conn_parked(void);

#endif
