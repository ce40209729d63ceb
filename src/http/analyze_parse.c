/*
 * analyze_parse: reads and checks the body of POST /api/analyze.
 *
 * Every problem is answered with the field it concerns and what to send
 * instead. Unknown fields are refused so a typo ("langauge") is not
 * silently ignored. Limits a request asks for must lie within the
 * operator's maximums (LEDGERBOX_MAX_RUN_*).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "http/analyze.h"
#include "util/utf8.h"
#include "util/banned.h"

static const char *const known_fields[] = { "code", "language", "dataset", "session", "limits",
					    "query", "template", "params" };

/* Request limit names and where they go; the maximum is the same field of
 * the configured max_limits. */
static const struct {
	const char *name;
	size_t offset;
} limit_fields[] = {
	{ "timeoutMs", offsetof(struct sandbox_limits, wall_ms) },
	{ "cpuMs", offsetof(struct sandbox_limits, cpu_ms) },
	{ "memoryBytes", offsetof(struct sandbox_limits, memory_bytes) },
	{ "pids", offsetof(struct sandbox_limits, pids) },
	{ "outputBytes", offsetof(struct sandbox_limits, output_bytes) },
	{ "tmpBytes", offsetof(struct sandbox_limits, tmp_bytes) },
};

static bool bad(struct request *rq, enum MHD_Result *ret, unsigned status, const char *code,
		const char *msg, const char *field)
{
	*ret = respond_error(rq, status, code, msg, field);
	return false;
}

static bool fields_known(struct request *rq, json_t *body, enum MHD_Result *ret)
{
	const char *key;
	json_t *v;
	char msg[200];

	json_object_foreach(body, key, v) {
		bool known = false;
		for (size_t i = 0; i < sizeof(known_fields) / sizeof(known_fields[0]); i++)
			known |= strcmp(key, known_fields[i]) == 0;
		if (!known) {
			snprintf(msg, sizeof(msg), "unknown field '%.*s': send code, language, "
						   "dataset, session or limits", (int)utf8_cut(key, 60), key);
			return bad(rq, ret, 400, "unknown_field", msg, key);
		}
	}
	return true;
}

static bool limits_parse(struct request *rq, json_t *j, struct sandbox_limits *l,
			 enum MHD_Result *ret)
{
	const struct sandbox_limits *max = &rq->srv->cfg->max_limits;
	const char *key;
	json_t *v;
	char msg[200], field[80];

	*l = rq->srv->cfg->limits;
	if (!j)
		return true;
	if (!json_is_object(j))
		return bad(rq, ret, 400, "invalid_type", "limits must be an object", "limits");
	json_object_foreach(j, key, v) {
		size_t i = 0, n = sizeof(limit_fields) / sizeof(limit_fields[0]);
		uint64_t cap;
		while (i < n && strcmp(key, limit_fields[i].name) != 0)
			i++;
		snprintf(field, sizeof(field), "limits.%.*s", (int)utf8_cut(key, 60), key);
		if (i == n)
			return bad(rq, ret, 400, "unknown_field",
				   "known limits: timeoutMs, cpuMs, memoryBytes, pids, outputBytes, "
				   "tmpBytes", field);
		memcpy(&cap, (const char *)max + limit_fields[i].offset, sizeof(cap));
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    (uint64_t)json_integer_value(v) > cap) {
			snprintf(msg, sizeof(msg), "%s must be a whole number from 1 to %" PRIu64,
				 field, cap);
			return bad(rq, ret, 400, "invalid_limit", msg, field);
		}
		cap = (uint64_t)json_integer_value(v);
		memcpy((char *)l + limit_fields[i].offset, &cap, sizeof(cap));
	}
	if (sandbox_limits_check(l, msg, sizeof(msg)) < 0)
		return bad(rq, ret, 400, "invalid_limit", msg, "limits");
	return true;
}

static bool optional_string(struct request *rq, json_t *body, const char *name, size_t max,
			    const char **out, enum MHD_Result *ret)
{
	json_t *v = json_object_get(body, name);
	char msg[120];

	*out = NULL;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(msg, sizeof(msg), "%s must be a non-empty string of at most %zu bytes", name,
			 max);
		return bad(rq, ret, 400, "invalid_type", msg, name);
	}
	*out = json_string_value(v);
	return true;
}

/* A session is also a budget scope ("session:ID"), so it takes that form. */
static bool session_valid(struct request *rq, const char *session, enum MHD_Result *ret)
{
	char scope[160];

	if (!session)
		return true;
	snprintf(scope, sizeof(scope), "session:%s", session);
	if (budget_scope_valid(scope))
		return true;
	return bad(rq, ret, 400, "invalid_session",
		   "session must be 1 to 128 letters, digits, '.', '-' or '_'", "session");
}

static bool dataset_resolve(struct request *rq, struct analyze_req *a, enum MHD_Result *ret)
{
	char err[512];
	int r;

	if (!a->dataset) {
		if (a->lang == SANDBOX_LANG_SQL)
			return bad(rq, ret, 400, "missing_field",
				   "SQL needs a dataset to query: see GET /api/datasets", "dataset");
		return true;
	}
	if (!dataset_name_valid(a->dataset))
		return bad(rq, ret, 400, "invalid_dataset",
			   "dataset names are 1 to 64 letters, digits, '-' or '_'", "dataset");
	r = a->lang == SANDBOX_LANG_SQL
		    ? dataset_path_for_sql(rq->srv->cfg->data_dir, a->dataset, a->data_path,
					   sizeof(a->data_path), err, sizeof(err))
		    : dataset_path_for_python(rq->srv->cfg->data_dir, a->dataset, a->data_path,
					      sizeof(a->data_path), err, sizeof(err));
	if (r < 0)
		return bad(rq, ret, r == -ENOENT ? 404 : 400, "unknown_dataset", err, "dataset");
	return true;
}

static bool body_parse(struct request *rq, struct analyze_req *a, enum MHD_Result *ret)
{
	json_error_t jerr;
	char msg[300];

	a->body = json_loadb(rq->body.data ? rq->body.data : "", rq->body.len, JSON_REJECT_DUPLICATES,
			     &jerr);
	if (!a->body) {
		snprintf(msg, sizeof(msg), "malformed JSON at line %d, column %d (byte %d): %s",
			 jerr.line, jerr.column, jerr.position, jerr.text);
		return bad(rq, ret, 400, "invalid_json", msg, NULL);
	}
	if (!json_is_object(a->body))
		return bad(rq, ret, 400, "invalid_json", "the body must be a JSON object", NULL);
	return fields_known(rq, a->body, ret);
}

static bool mode_supported(struct request *rq, json_t *body, enum MHD_Result *ret)
{
	if (json_object_get(body, "query"))
		return bad(rq, ret, 501, "unsupported_mode",
			   "natural-language queries need the LLM feature, which this server "
			   "does not have yet: send your own \"code\" instead", "query");
	if (json_object_get(body, "template") || json_object_get(body, "params"))
		return bad(rq, ret, 501, "unsupported_mode",
			   "templates are not available on this server yet: send \"code\" instead",
			   "template");
	return true;
}

bool analyze_parse(struct request *rq, struct analyze_req *a, enum MHD_Result *ret)
{
	json_t *code, *lang;

	memset(a, 0, sizeof(*a));
	if (!body_parse(rq, a, ret) || !mode_supported(rq, a->body, ret))
		return false;
	lang = json_object_get(a->body, "language");
	if (!json_is_string(lang) || sandbox_lang_parse(json_string_value(lang), &a->lang) < 0)
		return bad(rq, ret, 400, "invalid_language", "language must be \"python\" or \"sql\"",
			   "language");
	code = json_object_get(a->body, "code");
	if (!code)
		return bad(rq, ret, 400, "missing_field", "code is required", "code");
	if (!json_is_string(code))
		return bad(rq, ret, 400, "invalid_type", "code must be a string", "code");
	if (strspn(json_string_value(code), " \t\r\n") == json_string_length(code))
		return bad(rq, ret, 400, "empty_code", "code is empty", "code");
	a->code = json_string_value(code);
	return optional_string(rq, a->body, "dataset", 64, &a->dataset, ret) &&
	       optional_string(rq, a->body, "session", 128, &a->session, ret) &&
	       session_valid(rq, a->session, ret) &&
	       dataset_resolve(rq, a, ret) &&
	       limits_parse(rq, json_object_get(a->body, "limits"), &a->limits, ret);
}

void analyze_req_release(struct analyze_req *a)
{
	json_decref(a->body);
	a->body = NULL;
}
