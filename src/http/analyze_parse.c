/*
 * analyze_parse: reads and checks the body of POST /api/analyze.
 *
 * Every problem is answered with the field it concerns and what to send
 * instead. Unknown fields are refused so a typo ("langauge") is not
 * silently ignored. Limits a request asks for must lie within the
 * operator's maximums (LEDGERBOX_MAX_RUN_*).
 *
 * The checks (analyze_check) only describe a problem; analyze_parse answers
 * it, so the checks run without a connection (see analyze_parse.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/pg_dataset.h"
#include "http/dataset_access.h"
#include "http/analyze_parse.h"
#include "http/store_fault.h"
#include "templates/templates.h"
#include "util/utf8.h"
#include "util/banned.h"

static const char *const known_fields[] = { "code", "language", "dataset", "session", "limits",
					    "query", "template", "params", "cache" };

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

/* A message may quote the body (jansson quotes the text near a syntax
 * error and can cut a UTF-8 sequence in two there), yet the answer is
 * JSON, which must be valid UTF-8: a broken sequence becomes U+FFFD, and
 * shortening the message never splits one. */
static void message_set(struct analyze_problem *p, const char *msg)
{
	char *repaired = NULL;
	size_t len;

	/* Out of memory: the text as it is (respond_error has a fallback). */
	if (utf8_sanitize(msg, strlen(msg), &repaired, &len) == 0 && repaired)
		msg = repaired;
	snprintf(p->message, sizeof(p->message), "%.*s",
		 (int)utf8_cut(msg, sizeof(p->message) - 1), msg);
	free(repaired);
}

static bool bad(struct analyze_problem *p, unsigned status, const char *code, const char *msg,
		const char *field)
{
	p->status = status;
	p->code = code;
	message_set(p, msg);
	p->field = field;
	return false;
}

/* The same for a field name built in a caller's buffer: a copy is kept. */
static bool bad_field(struct analyze_problem *p, const char *code, const char *msg,
		      const char *field)
{
	snprintf(p->field_buf, sizeof(p->field_buf), "%s", field);
	return bad(p, 400, code, msg, p->field_buf);
}

static bool fields_known(json_t *body, struct analyze_problem *p)
{
	const char *key;
	json_t *v;
	char msg[200];

	json_object_foreach(body, key, v) {
		bool known = false;
		for (size_t i = 0; i < sizeof(known_fields) / sizeof(known_fields[0]); i++)
			known |= strcmp(key, known_fields[i]) == 0;
		if (!known) {
			snprintf(msg, sizeof(msg), "unknown field '%.*s': send code, query or "
						   "template (with params), language, dataset, session or limits",
				 (int)utf8_cut(key, 60), key);
			return bad(p, 400, "unknown_field", msg, key);
		}
	}
	return true;
}

static bool limits_parse(const struct config *cfg, json_t *j, struct sandbox_limits *l,
			 struct analyze_problem *p)
{
	const struct sandbox_limits *max = &cfg->max_limits;
	const char *key;
	json_t *v;
	char msg[200], field[80];

	*l = cfg->limits;
	if (!j)
		return true;
	if (!json_is_object(j))
		return bad(p, 400, "invalid_type", "limits must be an object", "limits");
	json_object_foreach(j, key, v) {
		size_t i = 0, n = sizeof(limit_fields) / sizeof(limit_fields[0]);
		uint64_t cap;
		while (i < n && strcmp(key, limit_fields[i].name) != 0)
			i++;
		snprintf(field, sizeof(field), "limits.%.*s", (int)utf8_cut(key, 60), key);
		if (i == n)
			return bad_field(p, "unknown_field",
					 "known limits: timeoutMs, cpuMs, memoryBytes, pids, outputBytes, "
					 "tmpBytes", field);
		memcpy(&cap, (const char *)max + limit_fields[i].offset, sizeof(cap));
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    (uint64_t)json_integer_value(v) > cap) {
			snprintf(msg, sizeof(msg), "%s must be a whole number from 1 to %" PRIu64,
				 field, cap);
			return bad_field(p, "invalid_limit", msg, field);
		}
		cap = (uint64_t)json_integer_value(v);
		memcpy((char *)l + limit_fields[i].offset, &cap, sizeof(cap));
	}
	if (sandbox_limits_check(l, msg, sizeof(msg)) < 0)
		return bad(p, 400, "invalid_limit", msg, "limits");
	return true;
}

static bool optional_string(json_t *body, const char *name, size_t max,
			    const char **out, struct analyze_problem *p)
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
		return bad(p, 400, "invalid_type", msg, name);
	}
	*out = json_string_value(v);
	return true;
}

static bool cache_valid(json_t *body, struct analyze_problem *p)
{
	json_t *v = json_object_get(body, "cache");

	if (!v || json_is_boolean(v))
		return true;
	return bad(p, 400, "invalid_type", "cache must be true or false", "cache");
}

/* A session is also a budget scope ("session:ID"), so it takes that form. */
static bool session_valid(const char *session, struct analyze_problem *p)
{
	char scope[160];

	if (!session)
		return true;
	snprintf(scope, sizeof(scope), "session:%s", session);
	if (budget_scope_valid(scope))
		return true;
	return bad(p, 400, "invalid_session",
		   "session must be 1 to 128 letters, digits, '.', '-' or '_'", "session");
}

/* The dataset's SQLite file, for the schema a prompt shows, the check of
 * generated SQL and templates; "" when it has none (a Python dataset of
 * files only). */
static void sqlite_resolve(const struct config *cfg, struct analyze_req *a)
{
	char err[512];

	if (a->lang == SANDBOX_LANG_SQL)
		snprintf(a->sqlite_path, sizeof(a->sqlite_path), "%s", a->data_path);
	else if (dataset_path_for_sql(cfg->data_dir, a->dataset, a->sqlite_path,
				      sizeof(a->sqlite_path), err, sizeof(err)) < 0)
		a->sqlite_path[0] = '\0';
}

/* A PostgreSQL dataset (docs/postgres-datasets.md): SQL only, queried from
 * the server, so there is no path to mount. */
static bool postgres_resolve(const struct config *cfg, struct analyze_req *a,
			     struct analyze_problem *p)
{
	char path[PATH_MAX], err[512], msg[300];

	if (a->lang != SANDBOX_LANG_SQL) {
		snprintf(msg, sizeof(msg), "dataset %s lives in PostgreSQL: only SQL runs over it "
					   "(Python is not supported there)", a->dataset);
		return bad(p, 400, "unsupported_dataset", msg, "language");
	}
	if (dataset_path_for_sql(cfg->data_dir, a->dataset, path, sizeof(path), err,
				 sizeof(err)) == 0) {
		snprintf(msg, sizeof(msg), "dataset %s has both a SQLite file and "
					   PG_DATASET_URL_FILE ": SQL needs exactly one", a->dataset);
		return bad(p, 400, "unknown_dataset", msg, "dataset");
	}
	a->postgres = true;
	return true;
}

/* Before any file of the dataset is looked at: one the caller may not read
 * is answered as one that does not exist. */
static bool dataset_readable(struct analyze_req *a, struct analyze_problem *p)
{
	char msg[160];
	int r;

	if (!a->access_store)
		return true;
	r = dataset_access_read(a->access_store, a->access_who, a->dataset, &a->dataset_record);
	if (r == -ENOENT) {
		snprintf(msg, sizeof(msg), "no dataset %s: upload one or pick one from the list",
			 a->dataset);
		return bad(p, 404, "unknown_dataset", msg, "dataset");
	}
	if (r < 0) {
		store_fault_message(r, "cannot read who owns the dataset", p->message,
				    sizeof(p->message));
		p->status = store_error_passing(r) ? 503 : 500;
		p->code = store_error_passing(r) ? STORE_FAULT_CODE : "store_failed";
		p->retry_after_s = store_error_passing(r) ? store_fault_retry_s(r) : 0;
		p->field = "dataset";
		return false;
	}
	return true;
}

/* Takes hold of the version the run will read (dataset_hold()), under the
 * dataset's change lock taken shared, so that no replace or append lands
 * between reading its record (the version the answer names) and holding
 * its folder, nor before the fingerprint of that folder is taken. The lock
 * is taken once the dataset is known to exist, so a request cannot create
 * lock files for names that were never datasets; a data folder where the
 * lock cannot be made (read-only) takes no changes either, so the run goes
 * on without it. */
static bool dataset_pin(const struct config *cfg, struct analyze_req *a,
			struct analyze_problem *p)
{
	char err[512];
	int lock_fd = -1, r;
	bool ok;

	if (dataset_read_lock(cfg->data_dir, a->dataset, &lock_fd, err, sizeof(err)) < 0)
		lock_fd = -1;
	ok = dataset_readable(a, p);
	if (ok) {
		r = dataset_hold(cfg->data_dir, a->dataset, &a->hold, err, sizeof(err));
		if (r == -ENOENT)
			ok = bad(p, 404, "unknown_dataset", err, "dataset");
		else if (r < 0) {
			/* The dataset is being replaced this instant: the next
			 * try finds the new version. */
			ok = bad(p, 503, "dataset_changed", err, "dataset");
			p->retry_after_s = 1;
		}
	}
	/* The run record names the version it ran on (docs/datasets.md). */
	if (ok && a->access_store && dataset_fingerprint(cfg->data_dir, a->dataset,
							 a->dataset_fingerprint, err, sizeof(err)) < 0)
		a->dataset_fingerprint[0] = '\0';
	dataset_change_unlock(lock_fd);
	return ok;
}

static bool dataset_resolve(const struct config *cfg, struct analyze_req *a,
			    struct analyze_problem *p)
{
	char err[512];
	int r;

	if (!a->dataset) {
		if (a->lang == SANDBOX_LANG_SQL || a->mode == ANALYZE_TEMPLATE)
			return bad(p, 400, "missing_field",
				   a->mode == ANALYZE_TEMPLATE
					   ? "a template needs a dataset to read: see GET /api/datasets"
					   : "SQL needs a dataset to query: see GET /api/datasets",
				   "dataset");
		return true;
	}
	if (!dataset_name_valid(a->dataset))
		return bad(p, 400, "invalid_dataset",
			   "dataset names are 1 to 64 letters, digits, '-' or '_'", "dataset");
	if (!dataset_readable(a, p))
		return false;
	if (pg_dataset_is(cfg->data_dir, a->dataset))
		return postgres_resolve(cfg, a, p);
	r = a->lang == SANDBOX_LANG_SQL
		    ? dataset_path_for_sql(cfg->data_dir, a->dataset, a->data_path,
					   sizeof(a->data_path), err, sizeof(err))
		    : dataset_path_for_python(cfg->data_dir, a->dataset, a->data_path,
					      sizeof(a->data_path), err, sizeof(err));
	if (r < 0)
		return bad(p, r == -ENOENT ? 404 : 400, "unknown_dataset", err, "dataset");
	sqlite_resolve(cfg, a);
	return dataset_pin(cfg, a, p);
}

static bool body_parse(const char *body, size_t len, struct analyze_req *a,
		       struct analyze_problem *p)
{
	json_error_t jerr;
	char msg[300];

	a->body = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &jerr);
	if (!a->body) {
		snprintf(msg, sizeof(msg), "malformed JSON at line %d, column %d (byte %d): %s",
			 jerr.line, jerr.column, jerr.position, jerr.text);
		return bad(p, 400, "invalid_json", msg, NULL);
	}
	if (!json_is_object(a->body))
		return bad(p, 400, "invalid_json", "the body must be a JSON object", NULL);
	return fields_known(a->body, p);
}

/* Exactly one of code, query and template says what to run. */
static bool mode_parse(struct analyze_req *a, struct analyze_problem *p)
{
	json_t *code = json_object_get(a->body, "code"), *query = json_object_get(a->body, "query");
	json_t *tpl = json_object_get(a->body, "template");
	json_t *params = json_object_get(a->body, "params");
	const char *name = code ? "code" : query ? "query" : "template";
	json_t *v = code ? code : query ? query : tpl;
	char msg[160];

	if (!!code + !!query + !!tpl != 1)
		return bad(p, 400, code || query || tpl ? "conflicting_fields" : "missing_field",
			   "send exactly one of code (your own program), query (a request in "
			   "plain words) or template (a built-in analysis, see GET /api/templates)",
			   code || query || tpl ? NULL : "code");
	a->mode = code ? ANALYZE_CODE : query ? ANALYZE_QUERY : ANALYZE_TEMPLATE;
	if (params && (a->mode != ANALYZE_TEMPLATE || !json_is_object(params)))
		return bad(p, 400, "invalid_type",
			   "params is an object, sent only with template", "params");
	if (!json_is_string(v)) {
		snprintf(msg, sizeof(msg), "%s must be a string", name);
		return bad(p, 400, "invalid_type", msg, name);
	}
	if (strspn(json_string_value(v), " \t\r\n") == json_string_length(v)) {
		snprintf(msg, sizeof(msg), "%s is empty", name);
		return bad(p, 400, code ? "empty_code" : "missing_field", msg, name);
	}
	if (query && json_string_length(query) > 4000)
		return bad(p, 400, "invalid_query",
			   "query is longer than 4000 bytes: say it in fewer words", "query");
	if (code)
		a->code = json_string_value(code);
	else if (query)
		a->query = json_string_value(query);
	else
		a->template_id = json_string_value(tpl);
	return true;
}

static bool language_parse(struct analyze_req *a, struct analyze_problem *p)
{
	json_t *lang = json_object_get(a->body, "language");

	/* A template answers in SQL unless asked for Python. */
	if (!lang && a->mode == ANALYZE_TEMPLATE) {
		a->lang = SANDBOX_LANG_SQL;
		return true;
	}
	if (!json_is_string(lang) || sandbox_lang_parse(json_string_value(lang), &a->lang) < 0)
		return bad(p, 400, "invalid_language", "language must be \"python\" or \"sql\"",
			   "language");
	return true;
}

/* Builds a template's code for the dataset, or says what is missing. */
static bool template_prepare(struct analyze_req *a, struct analyze_problem *p)
{
	const char *field = NULL, *file;
	char err[1024];
	int r;

	if (!template_find(a->template_id)) {
		snprintf(err, sizeof(err), "unknown template '%.*s': see GET /api/templates",
			 (int)utf8_cut(a->template_id, 64), a->template_id);
		return bad(p, 404, "unknown_template", err, "template");
	}
	if (a->postgres)
		return bad(p, 400, "unsuitable_dataset",
			   "templates read a dataset's SQLite file, and this dataset lives in "
			   "PostgreSQL: write the SQL yourself or ask in plain words", "dataset");
	if (!a->sqlite_path[0])
		return bad(p, 400, "unsuitable_dataset",
			   "templates read a dataset's SQLite file, and this dataset has none",
			   "dataset");
	r = template_check_dataset(a->template_id, a->sqlite_path, err, sizeof(err));
	if (r < 0)
		return bad(p, r == -EIO ? 500 : r == -EBUSY ? 409 : 400, "unsuitable_dataset", err,
			   "dataset");
	file = strrchr(a->sqlite_path, '/');
	r = template_build(a->template_id, json_object_get(a->body, "params"),
			   sandbox_lang_name(a->lang), file ? file + 1 : a->sqlite_path,
			   &a->owned_code, err, sizeof(err), &field);
	if (r < 0)
		return bad(p, r == -ENOMEM ? 500 : 400, "invalid_params", err,
			   field ? field : "params");
	a->code = a->owned_code;
	return true;
}

static bool wants_stream(struct request *rq)
{
	const char *accept = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
							 MHD_HTTP_HEADER_ACCEPT);

	return accept && strstr(accept, "text/event-stream");
}

int analyze_check(const struct config *cfg, const char *body, size_t len,
		  struct analyze_req *a, struct analyze_problem *p)
{
	return analyze_check_for(cfg, NULL, NULL, body, len, a, p);
}

int analyze_check_for(const struct config *cfg, struct store *store, const struct principal *who,
		      const char *body, size_t len, struct analyze_req *a,
		      struct analyze_problem *p)
{
	memset(a, 0, sizeof(*a));
	a->hold = DATASET_HOLD_NONE;
	a->data_dir = cfg->data_dir;
	a->access_store = who ? store : NULL;
	a->access_who = who;
	if (!body_parse(body, len, a, p) || !mode_parse(a, p) || !language_parse(a, p))
		return -EINVAL;
	if (!(cache_valid(a->body, p) &&
	      optional_string(a->body, "dataset", 64, &a->dataset, p) &&
	      optional_string(a->body, "session", 128, &a->session, p) &&
	      session_valid(a->session, p) && dataset_resolve(cfg, a, p) &&
	      limits_parse(cfg, json_object_get(a->body, "limits"), &a->limits, p)))
		return -EINVAL;
	if (a->mode == ANALYZE_TEMPLATE && !template_prepare(a, p))
		return -EINVAL;
	return 0;
}

bool analyze_parse(struct request *rq, struct analyze_req *a, enum MHD_Result *ret)
{
	struct analyze_problem p = { 0 };

	if (analyze_check_for(rq->srv->cfg, rq->srv->store, &rq->who, rq->body.data, rq->body.len, a,
			      &p) < 0) {
		*ret = p.retry_after_s
			       ? respond_retry(rq, p.status, p.code, p.message, p.retry_after_s)
			       : respond_error(rq, p.status, p.code, p.message, p.field);
		return false;
	}
	a->stream = wants_stream(rq);
	return true;
}

void analyze_req_release(struct analyze_req *a)
{
	if (a->hold.fd >= 0) {
		/* A version retired while this run held it goes now, unless
		 * another run still holds it. */
		bool retired = !dataset_hold_current(a->data_dir, a->dataset, &a->hold);
		dataset_release(&a->hold);
		if (retired)
			dataset_retired_sweep(a->data_dir);
	}
	json_decref(a->body);
	a->body = NULL;
	free(a->owned_code);
	a->owned_code = NULL;
}
