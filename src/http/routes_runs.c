/*
 * routes_runs: run history. An analyst sees only their own runs and
 * artifacts (another's id answers 404, as if it did not exist); an admin
 * sees all and may filter by user. A run whose files retention removed
 * keeps its record (filesExpiredAt says when) and its artifact links
 * answer 410 expired.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "http/request.h"
#include "http/store_fault.h"
#include "http/table_csv.h"
#include "util/bidi.h"
#include "util/parse.h"
#include "util/banned.h"

static bool run_id_valid(const char *id)
{
	size_t len = strlen(id);

	if (len != STORE_RUN_ID_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
}

static enum MHD_Result not_found(struct request *rq, const char *what)
{
	return respond_error(rq, 404, "not_found", what, NULL);
}

static bool query_int(struct request *rq, const char *name, uint64_t lo, uint64_t hi,
		      uint64_t *value, enum MHD_Result *ret)
{
	const char *v = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
	char msg[160];

	if (!v)
		return true;
	if (parse_u64(v, value) == 0 && *value >= lo && *value <= hi)
		return true;
	snprintf(msg, sizeof(msg), "%s must be a whole number from %llu to %llu", name,
		 (unsigned long long)lo, (unsigned long long)hi);
	*ret = respond_error(rq, 400, "invalid_parameter", msg, name);
	return false;
}

enum MHD_Result route_runs_list(struct request *rq)
{
	const char *user = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "user");
	uint64_t limit = 50, offset = 0;
	json_t *runs, *body;
	int64_t total;
	enum MHD_Result r;
	int e;

	if (!auth_require(rq, &r) || !query_int(rq, "limit", 1, 500, &limit, &r) ||
	    !query_int(rq, "offset", 0, 1u << 30, &offset, &r))
		return r;
	if (user && rq->who.role != ROLE_ADMIN && strcmp(user, rq->who.user) != 0)
		return respond_error(rq, 403, "forbidden", "only admins may list other users' runs",
				     "user");
	e = store_runs_list(rq->srv->store, &rq->who, user, (int)limit, (int)offset, &runs, &total);
	if (e < 0)
		return respond_store_fault(rq, e, "store_failed", "reading the run history failed");
	body = json_pack("{s:o,s:I,s:I,s:I}", "runs", runs, "total", (json_int_t)total, "limit",
			 (json_int_t)limit, "offset", (json_int_t)offset);
	r = respond_json(rq, 200, body);
	json_decref(body);
	return r;
}

enum MHD_Result route_run_get(struct request *rq)
{
	struct run_record run;
	enum MHD_Result r;
	int e;

	if (!auth_require(rq, &r))
		return r;
	e = run_id_valid(rq->params[0])
		    ? store_run_get(rq->srv->store, &rq->who, rq->params[0], &run)
		    : -ENOENT;
	if (store_error_passing(e))
		return respond_store_fault(rq, e, "store_failed", "reading the run failed");
	if (e < 0)
		return not_found(rq, "no such run");
	/* The record stays when retention removed its files; it says so, and
	 * its links then answer 410. */
	if (run.files_expired_ms > 0 && json_is_object(run.result)) {
		char at[CLOCK_TEXT_MAX];
		clock_format(run.files_expired_ms, at);
		json_object_set_new(run.result, "filesExpiredAt", json_string(at));
	}
	r = respond_json(rq, 200, run.result);
	store_run_record_release(&run);
	return r;
}

static enum MHD_Result send_artifact(struct request *rq, const char *name, const char *download)
{
	char mime[128];
	uint64_t bytes;
	int fd;

	int e = store_artifact_open(rq->srv->store, &rq->who, rq->params[0], name, &fd, mime,
				    sizeof(mime), &bytes);

	if (e == -ESTALE)
		return respond_error(rq, 410, "expired",
				     "this run's files (artifacts and table.csv) expired and were "
				     "removed under the retention setting "
				     "(LEDGERBOX_ARTIFACT_RETENTION); the run's record remains: "
				     "run it again for new files",
				     NULL);
	if (store_error_passing(e))
		return respond_store_fault(rq, e, "store_failed", "reading the artifact failed");
	if (e < 0)
		return not_found(rq, "no such artifact");
	return respond_file(rq, fd, bytes, mime, download);
}

enum MHD_Result route_run_artifact(struct request *rq)
{
	enum MHD_Result r;
	unsigned control;

	if (!auth_require(rq, &r))
		return r;
	control = bidi_control_find(rq->params[1], strlen(rq->params[1]));
	if (control) {
		char msg[200];
		snprintf(msg, sizeof(msg),
			 "the artifact name holds the bidirectional control U+%04X, which no "
			 "artifact name may contain (it makes a name display as another)",
			 control);
		return respond_error(rq, 400, "invalid_name", msg, "name");
	}
	if (!run_id_valid(rq->params[0]) || strncmp(rq->params[1], TABLE_CSV_PREFIX,
						    strlen(TABLE_CSV_PREFIX)) == 0)
		return not_found(rq, "no such artifact");
	return send_artifact(rq, rq->params[1], rq->params[1]);
}

enum MHD_Result route_run_table_csv(struct request *rq)
{
	char download[64];
	enum MHD_Result r;

	if (!auth_require(rq, &r))
		return r;
	if (!run_id_valid(rq->params[0]))
		return not_found(rq, "no such run");
	snprintf(download, sizeof(download), "run-%.12s.csv", rq->params[0]);
	return send_artifact(rq, TABLE_CSV_NAME, download);
}
