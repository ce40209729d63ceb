/*
 * routes_dataset_owner: deleting a dataset and publishing one to the
 * organisation (replacing is an upload: routes_datasets.c).
 *
 * DELETE /api/datasets/{name}: the dataset's team's analysts or an admin,
 * under the dataset's change lock (dataset_lock.c), as replace and append.
 * A record whose folder is gone (a crash after recording an upload, an
 * operator's rm) is deleted too, which frees its name.
 * The folder leaves its name first (dataset_delete(): runs that mounted it
 * finish on it), then the record goes: the other order would leave, for a
 * moment, a folder without an owner, which everyone may read.
 *
 * POST /api/datasets/{name}/publish: admins only; the dataset becomes the
 * organisation's, readable by every team and no longer counted against
 * its team's quota.
 *
 * Both are audited ("dataset.delete", "dataset.publish") with the team the
 * dataset belonged to and its version.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "http/dataset_access.h"
#include "http/request.h"
#include "http/store_fault.h"
#include "util/banned.h"

static void audit(struct request *rq, const char *action, const struct store_dataset *d)
{
	json_t *detail = json_pack("{s:s?,s:I}", "team", d->team[0] ? d->team : NULL, "version",
				   (json_int_t)d->version);

	store_audit_append(rq->srv->store, rq->who.user, action, rq->params[0], detail);
	json_decref(detail);
}

/* A record the caller may read whose name has no folder in DATA_DIR in
 * any spelling: left by a crash between recording an upload and putting
 * its folder in place, or by an operator's rm. Deleting it is the way to
 * free the name. */
static bool orphan_record(struct request *rq, struct store_dataset *ret)
{
	const char *name = rq->params[0];
	struct store_dataset rec;
	char err[512];

	return dataset_name_valid(name) && store_dataset_get(rq->srv->store, name, &rec) == 0 &&
	       dataset_access_read(rq->srv->store, &rq->who, name, ret) == 0 &&
	       dataset_name_free(rq->srv->cfg->data_dir, name, err, sizeof(err)) == 0;
}

/* The delete itself, under the dataset's change lock: who may is asked
 * again, since a change that held the lock may have deleted the dataset
 * or put another in its place. */
static enum MHD_Result delete_locked(struct request *rq)
{
	struct store_dataset d;
	bool orphan = orphan_record(rq, &d), keep_record = false;
	char err[512];
	enum MHD_Result r;
	json_t *body;
	int e;

	if (!orphan && !dataset_access_answer(rq, rq->params[0], &d, &r))
		return r;
	if (!dataset_access_change(&rq->who, &d)) {
		if (d.team[0])
			snprintf(err, sizeof(err), "dataset %s belongs to team %s: only its "
						   "analysts or an admin may delete it",
				 rq->params[0], d.team);
		else
			snprintf(err, sizeof(err), "dataset %s belongs to the organisation: only "
						   "an admin may delete it", rq->params[0]);
		return respond_error(rq, 403, "forbidden", err, NULL);
	}
	if (!orphan && dataset_delete(rq->srv->cfg->data_dir, rq->params[0], err, sizeof(err)) < 0)
		return respond_error(rq, 500, "delete_failed", err, NULL);
	/* A folder an operator put there under another spelling of the name
	 * is still owned by this record (one record per name ignoring case):
	 * dropping it would give that folder to the organisation. */
	if (!orphan &&
	    dataset_name_free(rq->srv->cfg->data_dir, rq->params[0], err, sizeof(err)) == -EEXIST)
		keep_record = true;
	e = keep_record ? 0 : store_dataset_forget(rq->srv->store, rq->params[0]);
	if (e < 0)
		return respond_store_fault(rq, e, "store_failed",
					   "the dataset's files are gone but its record could not be "
					   "removed; delete it again");
	audit(rq, "dataset.delete", &d);
	body = json_pack("{s:s,s:b}", "name", rq->params[0], "deleted", 1);
	r = respond_json(rq, 200, body);
	json_decref(body);
	return r;
}

enum MHD_Result route_dataset_delete(struct request *rq)
{
	struct store_dataset d;
	char err[512];
	enum MHD_Result r;
	int lock;

	/* Asked first without the lock, so that a name the caller may not
	 * read never gets a lock file. */
	if (!auth_require(rq, &r))
		return r;
	if (!orphan_record(rq, &d) && !dataset_access_answer(rq, rq->params[0], NULL, &r))
		return r;
	/* Not while a replace or an append of the dataset is under way: it
	 * would then record a new version of a dataset that is gone. */
	if (dataset_change_lock(rq->srv->cfg->data_dir, rq->params[0], &lock, err,
				sizeof(err)) < 0)
		return respond_error(rq, 500, "delete_failed", err, NULL);
	r = delete_locked(rq);
	dataset_change_unlock(lock);
	if (rq->status == 200)
		dataset_retired_sweep(rq->srv->cfg->data_dir);
	return r;
}

enum MHD_Result route_dataset_publish(struct request *rq)
{
	struct store_dataset d;
	enum MHD_Result r;
	json_t *body;
	int e;

	if (!auth_require_admin(rq, &r) || !dataset_access_answer(rq, rq->params[0], &d, &r))
		return r;
	e = store_dataset_publish(rq->srv->store, rq->params[0]);
	if (e < 0)
		return respond_store_fault(rq, e, "store_failed", "cannot record the new owner");
	audit(rq, "dataset.publish", &d);
	body = json_pack("{s:s,s:{s:n},s:I}", "name", rq->params[0], "owner", "team", "version",
			 (json_int_t)d.version);
	r = respond_json(rq, 200, body);
	json_decref(body);
	return r;
}
