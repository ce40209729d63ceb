/*
 * routes_datasets: listing datasets and uploading a CSV as a new one.
 *
 * An upload is streamed: POST /api/datasets?name=N&table=T with the CSV as
 * the body. The import begins on the first call (auth and names checked
 * before any byte is stored), takes each chunk as it comes, and publishes
 * the dataset only when the whole body parsed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "http/request.h"
#include "util/banned.h"

enum MHD_Result route_datasets_list(struct request *rq)
{
	char err[512];
	json_t *list, *body;
	enum MHD_Result r;

	if (!auth_require(rq, &r))
		return r;
	if (dataset_list(rq->srv->cfg->data_dir, &list, err, sizeof(err)) < 0)
		return respond_error(rq, 500, "datasets_unreadable", err, NULL);
	body = json_pack("{s:o}", "datasets", list);
	r = respond_json(rq, 200, body);
	json_decref(body);
	return r;
}

/* A query value, or NULL when absent or holding a NUL byte ("a%00b"). */
static const char *query_text(struct request *rq, const char *key)
{
	const char *v = NULL;
	size_t len = 0;

	if (MHD_lookup_connection_value_n(rq->conn, MHD_GET_ARGUMENT_KIND, key, strlen(key), &v,
					  &len) != MHD_YES || !v || strlen(v) != len)
		return NULL;
	return v;
}

static unsigned begin_status(int err)
{
	return err == -EEXIST ? 409 : err == -EINVAL ? 400 : 500;
}

enum MHD_Result upload_begin(struct request *rq)
{
	const char *name = query_text(rq, "name"), *table = query_text(rq, "table");
	struct csv_import_limits limits = { rq->srv->cfg->upload_max_bytes,
					    rq->srv->cfg->upload_max_rows };
	char err[512];
	enum MHD_Result r;
	int e;

	if (!auth_require(rq, &r))
		return r;
	if (!name || !dataset_name_valid(name))
		return respond_error(rq, 400, "invalid_parameter",
				     "name must be 1 to 64 letters, digits, '-' or '_'", "name");
	if (!table)
		table = name;
	if (!dataset_name_valid(table))
		return respond_error(rq, 400, "invalid_parameter",
				     "table must be 1 to 64 letters, digits, '-' or '_'", "table");
	e = csv_import_begin(rq->srv->cfg->data_dir, name, table, &limits, &rq->upload, err,
			     sizeof(err));
	if (e < 0)
		return respond_error(rq, begin_status(e), e == -EEXIST ? "dataset_exists" : "upload_failed",
				     err, e == -EEXIST ? "name" : NULL);
	return MHD_YES;
}

enum MHD_Result route_datasets_upload(struct request *rq)
{
	struct csv_import *imp = rq->upload;
	char err[512];
	json_t *summary, *detail;
	enum MHD_Result r;

	if (rq->upload_status)
		return respond_error(rq, rq->upload_status,
				     rq->upload_status == 413 ? "upload_too_large" : "upload_failed",
				     rq->upload_error, NULL);
	int e;

	rq->upload = NULL; /* finish frees it, success or not */
	e = csv_import_finish(imp, &summary, err, sizeof(err));
	if (e == -EFBIG)
		return respond_error(rq, 413, "upload_too_large", err, NULL);
	if (e == -EEXIST)
		return respond_error(rq, 409, "dataset_exists", err, "name");
	if (e < 0)
		return respond_error(rq, 400, "invalid_csv", err, NULL);
	detail = json_pack("{s:O}", "summary", summary);
	store_audit_append(rq->srv->store, rq->who.user, "dataset.create",
			   json_string_value(json_object_get(summary, "name")), detail);
	json_decref(detail);
	r = respond_json(rq, 201, summary);
	json_decref(summary);
	return r;
}
