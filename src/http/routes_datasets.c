/*
 * routes_datasets: listing the datasets the caller may read, uploading a
 * CSV as a new one, and replacing one with a new version.
 *
 * An upload is streamed: POST /api/datasets?name=N&table=T with the CSV as
 * the body (PUT /api/datasets/N?table=T for a new version, POST
 * /api/datasets/N/rows?table=T for one with rows appended). The import
 * begins on the first call (auth, names and who may checked before any
 * byte is stored), takes each chunk as it comes, and publishes the
 * dataset only when the whole body parsed. delimiter=, decimal= and
 * dayfirst= say how the file is written when detection is not wanted or
 * cannot tell; a bad value is a 400 naming the parameter.
 *
 * Ownership (dataset_access.h): a new dataset is recorded for the
 * uploader's team (or the organisation: publish=true, admins only) before
 * its folder appears, in the same step that checks the team's quota, so a
 * dataset is never visible without its owner; when the folder cannot be
 * put in place the record goes again. A new version is counted (version
 * + 1, its bytes against the quota) before it is swapped in. Each change
 * is audited once the files are in place.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "http/dataset_access.h"
#include "http/request.h"
#include "http/store_fault.h"
#include "util/banned.h"

enum MHD_Result route_datasets_list(struct request *rq)
{
	char err[512];
	json_t *list, *body;
	enum MHD_Result r;
	int e;

	if (!auth_require(rq, &r))
		return r;
	if (dataset_list(rq->srv->cfg->data_dir, &list, err, sizeof(err)) < 0)
		return respond_error(rq, 500, "datasets_unreadable", err, NULL);
	e = dataset_access_filter(rq->srv->store, &rq->who, list);
	if (e < 0) {
		json_decref(list);
		return respond_store_fault(rq, e, "store_failed",
					   "cannot read who owns the datasets");
	}
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
	return err == -EEXIST ? 409 : err == -EINVAL ? 400 : err == -ENOENT ? 404 : 500;
}

static const char *begin_code(int err)
{
	return err == -EEXIST ? "dataset_exists" : err == -ENOENT ? "unknown_dataset"
								  : "upload_failed";
}

/* A new version: the caller may read the dataset and change it. */
static bool replace_allowed(struct request *rq, const char *name, enum MHD_Result *ret)
{
	struct store_dataset d;
	char msg[512];

	if (!dataset_access_answer(rq, name, &d, ret))
		return false;
	if (dataset_access_change(&rq->who, &d))
		return true;
	if (d.team[0])
		snprintf(msg, sizeof(msg), "dataset %s belongs to team %s: only its analysts or "
					   "an admin may change it", name, d.team);
	else
		snprintf(msg, sizeof(msg), "dataset %s belongs to the organisation: only an "
					   "admin may change it", name);
	*ret = respond_error(rq, 403, "forbidden", msg, NULL);
	return false;
}

/* A new dataset: publish=true is for admins; the name is free ignoring
 * case among the records too (the files are checked by the import). */
static bool create_allowed(struct request *rq, const char *name, enum MHD_Result *ret)
{
	const char *publish = query_text(rq, "publish");
	struct store_dataset d;
	char msg[512];

	if (publish && strcmp(publish, "true") != 0 && strcmp(publish, "false") != 0) {
		*ret = respond_error(rq, 400, "invalid_parameter", "publish must be true or false",
				     "publish");
		return false;
	}
	rq->upload_publish = publish && strcmp(publish, "true") == 0;
	if (rq->upload_publish && rq->who.role != ROLE_ADMIN) {
		*ret = respond_error(rq, 403, "forbidden",
				     "only an admin may publish a dataset to the organisation", "publish");
		return false;
	}
	if (store_dataset_get(rq->srv->store, name, &d) == 0) {
		snprintf(msg, sizeof(msg), "dataset %s already exists as %s (names are the same "
					   "ignoring case): pick another name", name, d.name);
		*ret = respond_error(rq, 409, "dataset_exists", msg, "name");
		return false;
	}
	return true;
}

/* A new version of an existing dataset: replaced or appended to. */
static bool upload_is_replace(const struct request *rq)
{
	return strcmp(rq->route, "/api/datasets") != 0;
}

static bool upload_is_append(const struct request *rq)
{
	return strcmp(rq->route, "/api/datasets/{name}/rows") == 0;
}

static int import_start(struct request *rq, const char *name, const char *table,
			const struct csv_import_limits *limits, char *err, size_t err_len)
{
	const char *dir = rq->srv->cfg->data_dir;

	if (upload_is_append(rq))
		return csv_import_begin_append(dir, name, table, limits, &rq->upload, err, err_len);
	if (upload_is_replace(rq))
		return csv_import_begin_version(dir, name, table, limits, &rq->upload, err,
						err_len);
	return csv_import_begin(dir, name, table, limits, &rq->upload, err, err_len);
}

enum MHD_Result upload_begin(struct request *rq)
{
	bool replace = upload_is_replace(rq);
	const char *name = replace ? rq->params[0] : query_text(rq, "name");
	const char *table = query_text(rq, "table");
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
	if (replace ? !replace_allowed(rq, name, &r) : !create_allowed(rq, name, &r))
		return r;
	e = import_start(rq, name, table, &limits, err, sizeof(err));
	if (e < 0)
		return respond_error(rq, begin_status(e), begin_code(e), err,
				     e == -EEXIST ? "name" : NULL);
	/* upload_format() allowed only what the import accepts. */
	(void)csv_import_set_format(rq->upload, &fmt);
	return MHD_YES;
}

/* The quota a change of team's datasets is checked against: the team's
 * quota less the bytes of its old versions that runs still hold, which
 * count until swept (docs/datasets.md, "Quotas"). *ret_retired: those. */
static int64_t quota_left_for(struct request *rq, const char *team, int64_t *ret_retired)
{
	int64_t quota = (int64_t)rq->srv->cfg->dataset_quota_bytes;

	*ret_retired = dataset_retired_team_bytes(rq->srv->store, rq->srv->cfg->data_dir, team);
	return *ret_retired < quota ? quota - *ret_retired : 0;
}

/* 413 quota_exceeded: which quota, what the team uses (old versions that
 * runs still read included), its limit. */
static enum MHD_Result quota_refused(struct request *rq, const char *team,
				     const struct store_quota *q, int64_t retired, uint64_t bytes)
{
	struct outcome o = { 0 };
	int64_t used = q->used_bytes + retired, limit = q->limit_bytes + retired;
	char msg[512];

	snprintf(msg, sizeof(msg),
		 "team %s's datasets would take %lld bytes, over its quota of %lld bytes "
		 "(LEDGERBOX_DATASET_QUOTA_BYTES): it uses %lld bytes (%lld of them old versions "
		 "that runs in progress still read, freed when they end) and this upload needs "
		 "%llu; delete or replace a dataset of the team, wait for its runs, or ask an admin",
		 team, (long long)(used + (int64_t)bytes), (long long)limit, (long long)used,
		 (long long)retired, (unsigned long long)bytes);
	outcome_error(&o, 413, "quota_exceeded", msg, NULL, 0,
		      json_pack("{s:s,s:s,s:I,s:I,s:I,s:I}", "quota", "team_dataset_bytes", "team",
				team, "used_bytes", (json_int_t)used, "limit_bytes", (json_int_t)limit,
				"upload_bytes", (json_int_t)bytes, "retired_bytes",
				(json_int_t)retired));
	return respond_outcome(rq, &o);
}

static enum MHD_Result store_refused(struct request *rq, int e)
{
	if (e == -EEXIST)
		return respond_error(rq, 409, "dataset_exists",
				     "a dataset of that name (ignoring case) was uploaded meanwhile: "
				     "pick another name", "name");
	return respond_store_fault(rq, e, "store_failed", "cannot record the dataset's owner");
}

/* Audits the change and answers with the summary, its owner and version. */
static enum MHD_Result upload_done(struct request *rq, const char *action, json_t *summary,
				   const struct store_dataset *d, uint64_t bytes)
{
	json_t *detail;
	enum MHD_Result r;

	json_object_set_new(summary, "owner", json_pack("{s:s?}", "team", d->team[0] ? d->team : NULL));
	json_object_set_new(summary, "version", json_integer(d->version));
	json_object_set_new(summary, "bytes", json_integer((json_int_t)bytes));
	detail = json_pack("{s:O}", "summary", summary);
	store_audit_append(rq->srv->store, rq->who.user, action, d->name, detail);
	json_decref(detail);
	if (strcmp(action, "dataset.create") != 0)
		dataset_retired_sweep(rq->srv->cfg->data_dir);
	r = respond_json(rq, strcmp(action, "dataset.create") == 0 ? 201 : 200, summary);
	json_decref(summary);
	return r;
}

static enum MHD_Result create_finish(struct request *rq, struct csv_import *imp, json_t *summary,
				     uint64_t bytes)
{
	const char *name = json_string_value(json_object_get(summary, "name"));
	struct store_dataset d = { .version = 1, .bytes = (int64_t)bytes };
	struct store_quota q = { 0 };
	int64_t retired;
	char err[512];
	int e;

	snprintf(d.name, sizeof(d.name), "%s", name);
	snprintf(d.team, sizeof(d.team), "%s", rq->upload_publish ? "" : rq->who.team);
	e = store_dataset_claim(rq->srv->store, &d, quota_left_for(rq, d.team, &retired), &q);
	if (e < 0) {
		csv_import_abort(imp);
		json_decref(summary);
		return e == -EDQUOT ? quota_refused(rq, d.team, &q, retired, bytes)
				    : store_refused(rq, e);
	}
	e = csv_import_publish(imp, err, sizeof(err));
	if (e < 0) {
		(void)store_dataset_forget(rq->srv->store, d.name);
		json_decref(summary);
		return respond_error(rq, e == -EEXIST ? 409 : 500,
				     e == -EEXIST ? "dataset_exists" : "upload_failed", err,
				     e == -EEXIST ? "name" : NULL);
	}
	return upload_done(rq, "dataset.create", summary, &d, bytes);
}

static enum MHD_Result replace_finish(struct request *rq, struct csv_import *imp,
				      json_t *summary, uint64_t bytes)
{
	const char *name = rq->params[0];
	struct store_dataset before, after;
	struct store_quota q = { 0 };
	int64_t retired;
	char err[512];
	enum MHD_Result r;
	int e;

	/* Asked again: the dataset may have changed hands while the body came. */
	if (!replace_allowed(rq, name, &r) ||
	    dataset_access_read(rq->srv->store, &rq->who, name, &before) < 0) {
		csv_import_abort(imp);
		json_decref(summary);
		return rq->status ? r : store_refused(rq, -EIO);
	}
	e = store_dataset_revise(rq->srv->store, name, (int64_t)bytes,
				 quota_left_for(rq, before.team, &retired), &q, &after);
	if (e < 0) {
		csv_import_abort(imp);
		json_decref(summary);
		return e == -EDQUOT ? quota_refused(rq, before.team, &q, retired, bytes)
				    : store_refused(rq, e);
	}
	e = csv_import_publish(imp, err, sizeof(err));
	if (e < 0) {
		/* The old files stay; so does the count of their bytes. */
		(void)store_dataset_revise(rq->srv->store, name, before.bytes, INT64_MAX, NULL, NULL);
		json_decref(summary);
		return respond_error(rq, e == -ENOENT ? 404 : 500,
				     e == -ENOENT ? "unknown_dataset" : "upload_failed", err, NULL);
	}
	return upload_done(rq, upload_is_append(rq) ? "dataset.append" : "dataset.replace",
			   summary, &after, bytes);
}

/* The CSV could not be built into a dataset: 413 past a limit, else 400. */
static enum MHD_Result build_refused(struct request *rq, struct csv_import *imp, int e,
				     const char *err)
{
	csv_import_abort(imp);
	if (e == -EFBIG)
		return respond_error(rq, 413, "upload_too_large", err, NULL);
	return respond_error(rq, 400, "invalid_csv", err, NULL);
}

enum MHD_Result route_datasets_upload(struct request *rq)
{
	struct csv_import *imp = rq->upload;
	char err[512];
	json_t *summary;
	uint64_t bytes = 0;
	enum MHD_Result r;
	int e, lock;

	if (rq->upload_status)
		return respond_error(rq, rq->upload_status,
				     rq->upload_status == 413 ? "upload_too_large" : "upload_failed",
				     rq->upload_error, NULL);
	rq->upload = NULL; /* from here on, this function ends the import */
	if (!upload_is_replace(rq)) {
		e = csv_import_build(imp, &summary, &bytes, err, sizeof(err));
		return e < 0 ? build_refused(rq, imp, e, err) : create_finish(rq, imp, summary, bytes);
	}
	/* A new version: no other change of the dataset from before an append
	 * reads the current version until the new one is in place and counted
	 * (dataset_lock.c), so none is lost. */
	e = dataset_change_lock(rq->srv->cfg->data_dir, rq->params[0], &lock, err, sizeof(err));
	if (e < 0) {
		csv_import_abort(imp);
		return respond_error(rq, 500, "upload_failed", err, NULL);
	}
	e = csv_import_build(imp, &summary, &bytes, err, sizeof(err));
	r = e < 0 ? build_refused(rq, imp, e, err) : replace_finish(rq, imp, summary, bytes);
	dataset_change_unlock(lock);
	return r;
}

enum MHD_Result route_dataset_replace(struct request *rq)
{
	return route_datasets_upload(rq);
}

enum MHD_Result route_dataset_append(struct request *rq)
{
	return route_datasets_upload(rq);
}
