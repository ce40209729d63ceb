/*
 * analyze: the parts of POST /api/analyze. Private to src/http/.
 */
#ifndef LEDGERBOX_HTTP_ANALYZE_H
#define LEDGERBOX_HTTP_ANALYZE_H

#include <limits.h>

#include "http/request.h"
#include "sandbox/sandbox.h"

struct analyze_req {
	json_t *body;           /* the parsed request (owned) */
	enum sandbox_lang lang;
	const char *code;       /* borrowed from body */
	const char *dataset;    /* NULL when none */
	const char *session;    /* NULL when none */
	char data_path[PATH_MAX];
	struct sandbox_limits limits;
};

/* Parses and checks the body; on a problem answers 400/404/501 itself and
 * returns false with *ret set. */
bool analyze_parse(struct request *rq, struct analyze_req *a, enum MHD_Result *ret);
void analyze_req_release(struct analyze_req *a);

#endif
