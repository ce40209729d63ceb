/*
 * analyze: the parts of POST /api/analyze. Private to src/http/.
 *
 * A request is one of three modes: the analyst's own "code", a built-in
 * "template" with "params" (code made by src/templates, no LLM), or a
 * natural-language "query" (code written by the LLM, checked, run and
 * repaired from its error). Every mode ends in the same answer shape.
 */
#ifndef LEDGERBOX_HTTP_ANALYZE_H
#define LEDGERBOX_HTTP_ANALYZE_H

#include <limits.h>

#include "http/request.h"
#include "sandbox/sandbox.h"

enum analyze_mode { ANALYZE_CODE, ANALYZE_TEMPLATE, ANALYZE_QUERY };

struct analyze_req {
	json_t *body;           /* the parsed request (owned) */
	enum analyze_mode mode;
	enum sandbox_lang lang;
	const char *code;       /* code mode: borrowed from body; template: owned_code */
	char *owned_code;       /* code built from a template (owned) */
	const char *query;      /* query mode, borrowed from body */
	const char *template_id;/* template mode, borrowed from body */
	const char *dataset;    /* NULL when none */
	const char *session;    /* NULL when none */
	char data_path[PATH_MAX];   /* what the run mounts */
	char sqlite_path[PATH_MAX]; /* the dataset's SQLite file, "" when none */
	bool postgres;          /* the dataset lives in PostgreSQL (SQL only) */
	/* Its owner and version (dataset_access.h), when a store was asked. */
	struct store_dataset dataset_record;
	char dataset_fingerprint[65]; /* of its files when resolved, "" if unknown */
	/* The folder of the version the run reads, held from the check until
	 * analyze_req_release(), so it is neither swept nor swapped under the
	 * run (docs/datasets.md, "Versions"); fd -1 when none. */
	struct dataset_hold hold;
	const char *data_dir;   /* cfg's, for the sweep when the hold ends */
	struct store *access_store;            /* NULL: no ownership check */
	const struct principal *access_who;
	struct sandbox_limits limits;
	bool stream;            /* Accept: text/event-stream */
};

/* Parses and checks the body; on a problem answers 400/404 itself and
 * returns false with *ret set. */
bool analyze_parse(struct request *rq, struct analyze_req *a, enum MHD_Result *ret);
void analyze_req_release(struct analyze_req *a);

/* Where a streamed analysis sends its events ("status", "token",
 * "stdout", then "result" or "error"); NULL members when not streaming. */
struct analyze_events {
	void (*emit)(void *ctx, const char *event, json_t *data); /* data stolen */
	void *ctx;
};
void analyze_emit(const struct analyze_events *ev, const char *event, json_t *data);
void analyze_emit_status(const struct analyze_events *ev, const char *stage, unsigned attempt);

/* Runs a parsed request to its outcome (200 with the run, or an error),
 * recording and charging it. Safe from any thread: it never touches the
 * connection except to watch whether its client went away. */
void analyze_execute(struct request *rq, struct analyze_req *a, const struct analyze_events *ev,
		     struct outcome *o);

/* A streamed analysis: answers with text/event-stream and runs
 * analyze_execute in a thread of its own, which the request's end joins. */
enum MHD_Result sse_analyze(struct request *rq, struct analyze_req *a);
/* Called when the request ends: waits for the stream's thread and frees
 * what the request still holds. Accepts NULL. */
void sse_stream_end(struct sse_stream *s);

/* True when the client hung up (checked without waiting). */
bool analyze_client_gone(struct request *rq);

#endif
