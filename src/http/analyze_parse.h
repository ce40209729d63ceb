/*
 * analyze_parse: the checking half of POST /api/analyze's body parser, kept
 * apart from the connection so it runs (and is tested and fuzzed) without
 * a server. analyze_parse() (analyze.h) is this plus the 4xx answer.
 * Private to src/http/ and fuzz/.
 */
#ifndef LEDGERBOX_HTTP_ANALYZE_PARSE_H
#define LEDGERBOX_HTTP_ANALYZE_PARSE_H

#include "config/config.h"
#include "http/analyze.h"

/* What is wrong with a request, as the client is told. */
struct analyze_problem {
	unsigned status;    /* 400, 404, 500, or 503 when the store is away */
	unsigned retry_after_s; /* > 0 with a 503: sent as Retry-After */
	const char *code;   /* static, e.g. "invalid_json" */
	char message[1024]; /* valid UTF-8 */
	/* NULL when the problem is the whole body; else static, field_buf, a
	 * key of a->body or storage of the calling thread (template params),
	 * valid until analyze_req_release(a) or the next call. */
	const char *field;
	char field_buf[80];
};

/* Parses and checks body[0..len) (len bytes, need not be NUL-terminated;
 * body may be NULL when len is 0) against cfg's limits and data_dir, and
 * for a template builds its code. *a is reset first and holds what was
 * parsed, so the caller releases it with analyze_req_release() whatever
 * this returns; a->stream is left false. 0, or -EINVAL with *p filled. */
int analyze_check(const struct config *cfg, const char *body, size_t len,
		  struct analyze_req *a, struct analyze_problem *p);
/* analyze_check() for a caller: a dataset who may not read
 * (dataset_access.h) is answered 404 as one that does not exist, before
 * anything about it (its files, schema or templates) is looked at; the
 * dataset's record goes to a->dataset_record. */
int analyze_check_for(const struct config *cfg, struct store *store, const struct principal *who,
		      const char *body, size_t len, struct analyze_req *a,
		      struct analyze_problem *p);

#endif
