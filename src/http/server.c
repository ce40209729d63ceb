/*
 * server: libmicrohttpd set-up, routing, request bodies and the per-request
 * log line and metrics.
 *
 * A request goes: first call (route matched, Content-Length checked against
 * the limit, uploads begun) -> body chunks (kept up to the limit, or
 * streamed into a CSV import) -> last call (the route's handler answers) ->
 * completion (one log line, metrics, everything freed, an unfinished upload
 * aborted so nothing is left on disk).
 *
 * A body past its limit is read and dropped up to DRAIN_MAX_BYTES more, so
 * the client gets its 413 (libmicrohttpd cannot answer while a body is
 * still arriving); a longer one has its connection closed.
 *
 * Connections cost no thread while they wait: libmicrohttpd serves them
 * all from EVENT_THREADS epoll loops, up to a connection cap that the
 * descriptor limit allows. A handler runs on the loop only when it cannot
 * block (/healthz, the page and its assets); every other one is handed to
 * a lane (lane.c): runs to the run lane, sized for the run slots and
 * queue, the rest to the quick lane, so that neither /healthz nor a
 * listing waits behind analyses. Slow clients are cut by the connection
 * watchdog (conn_watch.c).
 *
 * Shutting down goes: draining (still listening; new requests and /readyz
 * answered 503 with Retry-After, ready.c, so a balancer stops sending
 * and a client retries elsewhere, rather than meeting refused connections
 * while runs finish) -> quiesced (listener closed, once the runs are done)
 * -> stopped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/analyze.h"
#include "http/conn_watch.h"
#include "http/held.h"
#include "http/lane.h"
#include "http/ready.h"
#include "http/request.h"
#include "http/retention_sweeper.h"
#include "http/url_nul.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "util/parse.h"
#include "util/banned.h"

typedef enum MHD_Result (*route_fn)(struct request *rq);

/* Body bytes read and dropped past the limit so the client gets its 413. */
#define DRAIN_MAX_BYTES ((uint64_t)1024 * 1024)

/* libmicrohttpd's event loops: they only move bytes and run the handlers
 * that cannot block, so a few serve thousands of connections. */
#define EVENT_THREADS 4u
/* Connections at once, all clients together, when the descriptor limit
 * allows; each waiting one costs a descriptor and a little memory. */
#define CONNECTION_CAP 8192u
/* Descriptors kept for everything but client connections: the store,
 * sandbox workers and their pipes, uploads, files being sent. */
#define FD_RESERVE 512u
/* Connections from one address: a single client cannot take the cap. */
#define PER_ADDRESS_CAP 256u
/* Quick lane threads at most: database reads and writes of the other
 * routes, and the held answers to wrong keys (auth.c), which sleep. */
#define QUICK_LANE_THREADS 64u
/* Run lane threads beyond the run slots and queue: analyses still
 * generating code with the LLM, which hold no run slot yet. */
#define RUN_LANE_SPARE 8u
#define RUN_LANE_MAX 256u
/* How long stopping waits for suspended connections to be resumed (runs
 * cancelled by their client's cut notice it at their next check). */
#define UNPARK_WAIT_MS 30000

/* libmicrohttpd's own messages (an oversized header refused, a client
 * gone mid-request) become log events too, so the log stays one JSON
 * object a line. They can quote what a client sent, so they are cut and
 * kept to printable ASCII. */
static void library_log(void *cls, const char *fmt, va_list ap)
{
	char text[256];
	size_t len;
	json_t *f;
	int saved_errno = errno; /* MHD may report errno right after */

	(void)cls;
	vsnprintf(text, sizeof(text), fmt, ap);
	len = strlen(text);
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
		text[--len] = '\0';
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)text[i] < 0x20 || (unsigned char)text[i] > 0x7e)
			text[i] = '?';
	f = json_pack("{s:s}", "message", text);
	log_event(LOG_WARN, NULL, "http.library", f);
	json_decref(f);
	errno = saved_errno;
}

/* Requests between their first call and their completion: graceful
 * shutdown waits for this to reach zero before closing connections. */
static atomic_int requests_in_flight;

int http_in_flight(void)
{
	return atomic_load(&requests_in_flight);
}

struct route {
	const char *method;
	const char *pattern; /* segments; "*" matches one segment */
	const char *name;    /* the template reported in logs and metrics */
	route_fn fn;
};

static const struct route routes[] = {
	{ "GET", "/", "/", route_page },
	{ "GET", "/assets/*", "/assets/{name}", route_asset },
	{ "GET", "/healthz", "/healthz", route_healthz },
	{ "GET", "/readyz", "/readyz", route_readyz },
	{ "GET", "/metrics", "/metrics", route_metrics },
	{ "POST", "/api/analyze", "/api/analyze", route_analyze },
	{ "GET", "/api/me", "/api/me", route_me },
	{ "GET", "/api/runs", "/api/runs", route_runs_list },
	{ "GET", "/api/runs/*", "/api/runs/{id}", route_run_get },
	{ "GET", "/api/runs/*/table.csv", "/api/runs/{id}/table.csv", route_run_table_csv },
	{ "GET", "/api/runs/*/artifacts/*", "/api/runs/{id}/artifacts/{name}", route_run_artifact },
	{ "GET", "/api/datasets", "/api/datasets", route_datasets_list },
	{ "POST", "/api/datasets", "/api/datasets", route_datasets_upload },
	{ "PUT", "/api/datasets/*", "/api/datasets/{name}", route_dataset_replace },
	{ "DELETE", "/api/datasets/*", "/api/datasets/{name}", route_dataset_delete },
	{ "POST", "/api/datasets/*/rows", "/api/datasets/{name}/rows", route_dataset_append },
	{ "POST", "/api/datasets/*/publish", "/api/datasets/{name}/publish", route_dataset_publish },
	{ "GET", "/api/keys", "/api/keys", route_keys_list },
	{ "GET", "/api/pricing", "/api/pricing", route_pricing },
	{ "GET", "/api/budgets", "/api/budgets", route_budgets_list },
	{ "PUT", "/api/budgets/*/*", "/api/budgets/{kind}/{key}", route_budget_put },
	{ "DELETE", "/api/budgets/*/*", "/api/budgets/{kind}/{key}", route_budget_delete },
	{ "GET", "/api/spend", "/api/spend", route_spend },
	{ "GET", "/api/templates", "/api/templates", route_templates_list },
	{ "DELETE", "/api/cache", "/api/cache", route_cache_clear },
};

size_t http_routes(const char *const **ret_methods, const char *const **ret_names)
{
	static const char *methods[sizeof(routes) / sizeof(routes[0])];
	static const char *names[sizeof(routes) / sizeof(routes[0])];

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		methods[i] = routes[i].method;
		names[i] = routes[i].name;
	}
	*ret_methods = methods;
	*ret_names = names;
	return sizeof(routes) / sizeof(routes[0]);
}

/* Matches url against pattern, collecting "*" segments into params. */
static bool pattern_match(const char *pattern, const char *url, char params[][256])
{
	int n = 0;

	while (*pattern && *url) {
		if (*pattern == '*') {
			size_t len = strcspn(url, "/");
			if (len == 0 || len >= 256 || n >= ROUTE_PARAMS)
				return false;
			memcpy(params[n], url, len);
			params[n++][len] = '\0';
			url += len;
			pattern++;
		} else if (*pattern++ != *url++) {
			return false;
		}
	}
	return *pattern == '\0' && *url == '\0';
}

/* Finds the route; *ret_path_known tells 405 from 404 when none matches. */
static const struct route *route_find(const char *method, const char *url, char params[][256],
				      bool *ret_path_known)
{
	*ret_path_known = false;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!pattern_match(routes[i].pattern, url, params))
			continue;
		*ret_path_known = true;
		if (strcmp(routes[i].method, method) == 0)
			return &routes[i];
	}
	return NULL;
}

static void allowed_methods(const char *url, char *out, size_t len)
{
	char params[ROUTE_PARAMS][256];

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (pattern_match(routes[i].pattern, url, params) && !strstr(out, routes[i].method))
			snprintf(out + strlen(out), len - strlen(out), "%s%s", out[0] ? ", " : "",
				 routes[i].method);
}

/* While the node drains, only the probes and the metrics are answered:
 * the operator and the balancer still see it, everything else goes to
 * another node. */
static bool route_serves_draining(const struct route *route)
{
	return route->fn == route_healthz || route->fn == route_readyz ||
	       route->fn == route_metrics;
}

static enum MHD_Result answer_unrouted(struct request *rq, const char *url, bool path_known)
{
	char allow[64], msg[160];
	struct MHD_Response *resp;
	json_t *body;
	char *text;
	enum MHD_Result r;

	if (!path_known)
		return respond_error(rq, 404, "not_found", "no such route: see docs/openapi.yaml",
				     NULL);
	allowed_methods(url, allow, sizeof(allow));
	snprintf(msg, sizeof(msg), "method %s is not allowed here; use %s", rq->method, allow);
	body = json_pack("{s:{s:s,s:s}}", "error", "code", "method_not_allowed", "message", msg);
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Allow", allow);
	respond_common_headers(rq, resp);
	rq->status = 405;
	r = MHD_queue_response(rq->conn, 405, resp);
	MHD_destroy_response(resp);
	return r;
}

/* A CSV upload: a new dataset, or a new version of one (replaced, or
 * with rows appended). */
static bool route_is_upload(const struct request *rq)
{
	if (!rq->route)
		return false;
	return (strcmp(rq->route, "/api/datasets") == 0 && strcmp(rq->method, "POST") == 0) ||
	       (strcmp(rq->route, "/api/datasets/{name}") == 0 && strcmp(rq->method, "PUT") == 0) ||
	       strcmp(rq->route, "/api/datasets/{name}/rows") == 0;
}

static uint64_t body_limit(const struct request *rq)
{
	return route_is_upload(rq) ? rq->srv->cfg->upload_max_bytes
				   : rq->srv->cfg->max_body_bytes;
}

static bool declared_too_large(struct request *rq)
{
	const char *cl = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Content-Length");
	uint64_t len;

	return cl && parse_u64(cl, &len) == 0 && len > body_limit(rq);
}

static enum MHD_Result answer_too_large(struct request *rq)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "the request body is larger than %" PRIu64 " bytes",
		 body_limit(rq));
	return respond_error(rq, 413, "body_too_large", msg, NULL);
}

/* The request with what only the server knows of it. */
struct served {
	struct request rq;
	/* An upload's start ran on a lane: libmicrohttpd repeats the first
	 * call after the resume, which returns the start's result. */
	bool begin_handed_off;
	enum MHD_Result begin_result;
	/* Its handler ran on a lane: when libmicrohttpd calls the access
	 * handler again after the resume, no answer was queued. */
	bool handed_off;
};

static struct served *served_of(struct request *rq)
{
	return (struct served *)(void *)rq;
}

static struct lane *run_lane, *quick_lane;

/* The lane a route's handler runs on; NULL: on the event loop, for the
 * handlers that answer from memory. */
static struct lane *lane_of(const struct route *route)
{
	if (route->fn == route_healthz || route->fn == route_page || route->fn == route_asset)
		return NULL;
	return route->fn == route_analyze ? run_lane : quick_lane;
}

static enum MHD_Result route_run(struct request *rq, const struct route *route)
{
	struct lane *l = lane_of(route);

	if (!l)
		return route->fn(rq);
	served_of(rq)->handed_off = true;
	return lane_hand_off(l, rq, route->fn, NULL);
}

/* An upload starts with its key checked (held up to seconds when wrong)
 * and its folder made: not on the event loop. */
static enum MHD_Result upload_begin_on_lane(struct request *rq)
{
	struct served *sv = served_of(rq);

	sv->begin_handed_off = true;
	sv->begin_result = MHD_NO;
	return lane_hand_off(quick_lane, rq, upload_begin, &sv->begin_result);
}

static struct request *request_new(struct http_server *srv, struct MHD_Connection *conn,
				   const char *method)
{
	struct served *sv = calloc(1, sizeof(*sv));
	struct request *rq;

	if (!sv)
		return NULL;
	rq = &sv->rq;
	rq->srv = srv;
	rq->conn = conn;
	for (size_t i = 0; i < sizeof(rq->method) - 1 && method[i]; i++)
		rq->method[i] = method[i] >= 'A' && method[i] <= 'Z' ? method[i] : '?';
	rq->started_ms = clock_mono_ms();
	log_request_id_new(rq->id);
	buf_init(&rq->body, srv->cfg->max_body_bytes);
	return rq;
}

/* Returns false when the body must not be read further. */
static bool body_take(struct request *rq, const char *data, size_t len)
{
	if (rq->upload) {
		int e = csv_import_feed(rq->upload, data, len, rq->upload_error,
					sizeof(rq->upload_error));
		if (e < 0)
			rq->upload_status = e == -EFBIG ? 413 : 500;
		return e == 0;
	}
	if (rq->body.len + len > rq->body.max_bytes) {
		rq->body_too_large = true;
		return false;
	}
	if (buf_append(&rq->body, data, len) < 0) {
		rq->upload_status = 500;
		snprintf(rq->upload_error, sizeof(rq->upload_error), "out of memory reading the body");
		return false;
	}
	return true;
}

static bool body_refused(const struct request *rq)
{
	return rq->body_too_large || rq->upload_status != 0;
}

/* Takes one chunk of the body. Once refused (too large, or its upload
 * failed), the rest is dropped as it comes, up to DRAIN_MAX_BYTES past the
 * limit, so that the answer can be sent when it ends; past that the
 * connection is closed without one. */
static enum MHD_Result body_chunk(struct request *rq, const char *data, size_t len)
{
	uint64_t total = conn_watch_body(conn_watch_of(rq->conn), len);

	if (!body_refused(rq) && body_take(rq, data, len))
		return MHD_YES;
	if (rq->body_too_large)
		buf_release(&rq->body);
	return total <= body_limit(rq) + DRAIN_MAX_BYTES ? MHD_YES : MHD_NO;
}

static enum MHD_Result dispatch(void *cls, struct MHD_Connection *conn, const char *url,
				const char *method, const char *version, const char *data,
				size_t *data_size, void **con_cls)
{
	struct request *rq = *con_cls;
	const struct route *route;
	bool path_known;

	(void)version;
	if (!rq) {
		rq = request_new(cls, conn, method);
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
		atomic_fetch_add(&requests_in_flight, 1);
		conn_watch_enter(conn_watch_of(conn), CONN_PHASE_BODY);
		if (url_had_nul(conn))
			return respond_error(rq, 400, "invalid_url",
					     "the URL holds an encoded NUL byte (%00), which no run "
					     "id, artifact name or parameter may contain; remove it",
					     NULL);
		if (url_had_encoded_slash(conn))
			return respond_error(rq, 400, "invalid_url",
					     "the URL's path holds an encoded slash (%2F), which no "
					     "run id, artifact or dataset name may contain; remove it",
					     NULL);
		route = route_find(method, url, rq->params, &path_known);
		if (!route)
			return answer_unrouted(rq, url, path_known);
		rq->route = route->name;
		if (ready_draining() && !route_serves_draining(route))
			return ready_refuse_draining(rq);
		if (declared_too_large(rq))
			return answer_too_large(rq);
		if (route_is_upload(rq))
			return upload_begin_on_lane(rq);
		return MHD_YES;
	}
	if (served_of(rq)->begin_handed_off) {
		served_of(rq)->begin_handed_off = false;
		if (!rq->status)
			return served_of(rq)->begin_result;
	}
	if (served_of(rq)->handed_off)
		return MHD_NO; /* its handler failed without an answer */
	if (rq->status)
		return MHD_YES; /* answered early; MHD drops the rest of the body */
	if (*data_size) {
		size_t len = *data_size;
		*data_size = 0;
		return body_chunk(rq, data, len);
	}
	conn_watch_enter(conn_watch_of(conn), CONN_PHASE_HANDLING);
	if (rq->body_too_large)
		return answer_too_large(rq);
	if (rq->upload_status && !rq->upload)
		return respond_error(rq, rq->upload_status, "internal", rq->upload_error, NULL);
	route = route_find(method, url, rq->params, &path_known);
	return route_run(rq, route);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *con_cls;
	json_t *f;

	(void)cls;
	if (!rq)
		return;
	/* The connection now waits for its next request's headers. */
	conn_watch_enter(conn_watch_of(conn), CONN_PHASE_HEAD);
	sse_stream_end(rq->stream);
	admission_leave(&rq->admitted);
	csv_import_abort(rq->upload);
	metrics_request(rq->route ? rq->route : "other", rq->status ? rq->status : 499);
	f = json_pack("{s:s,s:s,s:i,s:I,s:b}", "method", rq->method, "route",
		      rq->route ? rq->route : "other", "status", rq->status,
		      "duration_ms", (json_int_t)(clock_mono_ms() - rq->started_ms), "completed",
		      toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
	if (f && rq->authenticated)
		json_object_set_new(f, "user", json_string(rq->who.user));
	log_event(LOG_INFO, rq->id, "http.request", f);
	json_decref(f);
	buf_release(&rq->body);
	free(served_of(rq));
	*con_cls = NULL;
	atomic_fetch_sub(&requests_in_flight, 1);
}

/* Raises the soft descriptor limit to the hard one (thousands of waiting
 * connections each hold one) and returns the connection cap it allows. */
static unsigned connection_cap(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024 - FD_RESERVE / 2;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t soft = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			rl.rlim_cur = soft;
	}
	if (rl.rlim_cur < 2 * FD_RESERVE)
		return (unsigned)rl.rlim_cur / 2;
	return rl.rlim_cur - FD_RESERVE < CONNECTION_CAP ? (unsigned)(rl.rlim_cur - FD_RESERVE)
							  : CONNECTION_CAP;
}

static unsigned run_lane_threads(const struct config *cfg)
{
	unsigned n = cfg->max_runs + cfg->queue_max + RUN_LANE_SPARE;

	return n < RUN_LANE_MAX ? n : RUN_LANE_MAX;
}

static void lanes_stop(void)
{
	lane_stop(run_lane);
	lane_stop(quick_lane);
}

static void lanes_free(void)
{
	lane_free(run_lane);
	lane_free(quick_lane);
	run_lane = quick_lane = NULL;
}

static int lanes_start(const struct config *cfg, char *err, size_t err_len)
{
	int e = lane_start("run", run_lane_threads(cfg), &run_lane);

	if (e == 0)
		e = lane_start("quick", QUICK_LANE_THREADS, &quick_lane);
	if (e < 0) {
		snprintf(err, err_len, "cannot start the handler threads: %s", strerror(-e));
		lanes_stop();
		lanes_free();
	}
	return e;
}

static struct MHD_Daemon *daemon_start(struct http_server *srv, const struct sockaddr_in *addr,
				       unsigned cap)
{
	unsigned per_address = cap / 4 < PER_ADDRESS_CAP ? cap / 4 : PER_ADDRESS_CAP;

	return MHD_start_daemon(
		MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
		srv->cfg->listen_port, NULL, NULL, dispatch, srv,
		/* First, so that every message goes through it. */
		MHD_OPTION_EXTERNAL_LOGGER, library_log, NULL, MHD_OPTION_SOCK_ADDR, addr,
		MHD_OPTION_THREAD_POOL_SIZE, EVENT_THREADS, MHD_OPTION_NOTIFY_COMPLETED, completed,
		srv, MHD_OPTION_NOTIFY_CONNECTION, conn_watch_notify, NULL,
		MHD_OPTION_CONNECTION_LIMIT, cap, MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_address,
		/* Idle connections (stalled clients) go after 30 s; a request
		 * being handled is not idle, however long its run. Clients that
		 * trickle bytes are the watchdog's. */
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
		MHD_OPTION_UNESCAPE_CALLBACK, url_unescape, NULL, MHD_OPTION_END);
}

int http_start(struct http_server *srv, char *err, size_t err_len)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(srv->cfg->listen_port) };
	unsigned cap;
	json_t *f;
	int e;

	if (inet_pton(AF_INET, srv->cfg->listen_host, &addr.sin_addr) != 1) {
		snprintf(err, err_len, "LEDGERBOX_LISTEN: %s is not an IPv4 address",
			 srv->cfg->listen_host);
		return -EINVAL;
	}
	cap = connection_cap();
	e = lanes_start(srv->cfg, err, err_len);
	if (e < 0)
		return e;
	srv->daemon = daemon_start(srv, &addr, cap);
	if (!srv->daemon) {
		snprintf(err, err_len, "cannot listen on %s:%u (LEDGERBOX_LISTEN): %s",
			 srv->cfg->listen_host, srv->cfg->listen_port, strerror(errno));
		lanes_stop();
		lanes_free();
		return -EADDRINUSE;
	}
	e = conn_watch_start();
	if (e == 0 && (e = held_start()) < 0)
		conn_watch_stop();
	if (e < 0) {
		snprintf(err, err_len, "cannot start the slow-client watchdog or the held-answer timer: %s",
			 strerror(-e));
		MHD_stop_daemon(srv->daemon);
		srv->daemon = NULL;
		lanes_stop();
		lanes_free();
		return e;
	}
	e = retention_sweeper_start(srv);
	if (e < 0) {
		snprintf(err, err_len, "cannot start the artifact retention sweeper: %s",
			 strerror(-e));
		held_stop();
		conn_watch_stop();
		MHD_stop_daemon(srv->daemon);
		srv->daemon = NULL;
		lanes_stop();
		lanes_free();
		return e;
	}
	f = json_pack("{s:i,s:i,s:i,s:i}", "connection_cap", (int)cap, "event_threads",
		      (int)EVENT_THREADS, "run_lane_threads", (int)run_lane_threads(srv->cfg),
		      "quick_lane_threads", (int)QUICK_LANE_THREADS);
	log_event(LOG_INFO, NULL, "http.start", f);
	json_decref(f);
	return 0;
}

void http_drain_begin(struct http_server *srv)
{
	(void)srv;
	ready_drain_begin();
}

/* MHD hands the listening socket back on quiesce; it is closed as soon as
 * possible so that new connections are refused rather than left waiting. */
static MHD_socket quiesced_fd = MHD_INVALID_SOCKET;

void http_quiesce(struct http_server *srv)
{
	if (srv->daemon)
		quiesced_fd = MHD_quiesce_daemon(srv->daemon);
	if (quiesced_fd != MHD_INVALID_SOCKET)
		shutdown(quiesced_fd, SHUT_RDWR);
}

/* Waits for the suspended connections to be resumed: libmicrohttpd must
 * not be stopped with one. False when some still are after the wait. */
static bool unparked_wait(void)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };

	for (int waited_ms = 0; conn_parked() > 0; waited_ms += 10) {
		if (waited_ms >= UNPARK_WAIT_MS)
			return false;
		nanosleep(&pause, NULL);
	}
	return true;
}

/* Every connection is cut first, so that the runs of handlers still
 * working see their client gone and stop; the lanes then finish, the
 * streams end, and libmicrohttpd closes what is left. */
void http_stop(struct http_server *srv)
{
	bool unparked;
	json_t *f;

	retention_sweeper_stop();
	conn_watch_cut_all();
	lanes_stop();
	/* No lane adds a held answer now: the held ones are sent at once. */
	held_stop();
	unparked = unparked_wait();
	conn_watch_stop();
	if (srv->daemon && unparked) {
		MHD_stop_daemon(srv->daemon);
	} else if (srv->daemon) {
		/* Stopping it now would abort the process; it is left to the
		 * exit instead. */
		f = json_pack("{s:i}", "suspended", conn_parked());
		log_event(LOG_ERROR, NULL, "http.stop_incomplete", f);
		json_decref(f);
	}
	srv->daemon = NULL;
	if (unparked)
		lanes_free();
	if (quiesced_fd != MHD_INVALID_SOCKET)
		close(quiesced_fd);
	quiesced_fd = MHD_INVALID_SOCKET;
}
