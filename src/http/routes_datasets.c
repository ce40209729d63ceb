/*
 * routes_datasets: listing datasets and uploading a CSV as a new one.
 *
 * An upload is streamed: POST /api/datasets?name=N&table=T with the CSV as
 * the body. The import begins on the first call (auth and names checked
 * before any byte is stored), takes each chunk as it comes, and publishes
 * the dataset only when the whole body parsed. delimiter=, decimal= and
 * dayfirst= say how the file is written when detection is not wanted or
 * cannot tell; a bad value is a 400 naming the parameter.
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

/* delimiter=, decimal= and dayfirst= (all optional): NULL, or the name of
 * the parameter whose value is not allowed (with its message). */
static const char *upload_format(struct request *rq, struct csv_import_format *fmt,
				 const char **message)
{
	const char *d = query_text(rq, "delimiter"), *m = query_text(rq, "decimal"),
		   *f = query_text(rq, "dayfirst");

	fmt->delimiter = 0;
	fmt->decimal = 0;
	fmt->dayfirst = -1;
	if (d) {
		if (strcmp(d, "tab") == 0 || strcmp(d, "\t") == 0)
			fmt->delimiter = '\t';
		else if (strlen(d) == 1 && strchr(",;|", d[0]))
			fmt->delimiter = d[0];
		*message = "delimiter must be one of , ; tab | (or left out to detect it)";
		if (!fmt->delimiter)
			return "delimiter";
	}
	if (m) {
		*message = "decimal must be . or , (or left out to follow the values)";
		if (strcmp(m, ".") != 0 && strcmp(m, ",") != 0)
			return "decimal";
		fmt->decimal = m[0];
	}
	if (f) {
		*message = "dayfirst must be true or false";
		if (strcmp(f, "true") != 0 && strcmp(f, "false") != 0)
			return "dayfirst";
		fmt->dayfirst = f[0] == 't';
	}
	return NULL;
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
	struct csv_import_format fmt;
	const char *bad, *message = NULL;
	char err[512];
	enum MHD_Result r;
	int e;

	if (!auth_require(rq, &r))
		return r;
	bad = upload_format(rq, &fmt, &message);
	if (bad)
		return respond_error(rq, 400, "invalid_parameter", message, bad);
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
	/* upload_format() allowed only what the import accepts. */
	(void)csv_import_set_format(rq->upload, &fmt);
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
