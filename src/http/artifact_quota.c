/*
 * artifact_quota: a team's artifact bytes against LEDGERBOX_TEAM_ARTIFACT_QUOTA.
 *
 * Checked twice: before a fresh run starts (a team already at its quota
 * is refused before anything runs or is charged) and before its files
 * are stored (a run whose files would pass the quota keeps nothing, and
 * its reservation is released). A cache hit stores nothing new, so it is
 * never refused for the quota. Runs of one team finishing at the same
 * moment may each pass the second check: the quota can be passed by at
 * most what they write together.
 *
 * The refusal is 507 Insufficient Storage, code quota_exceeded, with the
 * quota's name, the team, the bytes used, adding and the limit.
 */
#include <errno.h>
#include <stdio.h>

#include "http/artifact_quota.h"
#include "http/store_fault.h"
#include "util/banned.h"

bool artifact_quota_room(struct request *rq, uint64_t adding, struct outcome *o)
{
	uint64_t used = 0, limit = rq->srv->cfg->team_artifact_quota;
	char msg[400];
	int e = store_team_artifact_bytes(rq->srv->store, rq->who.team, &used);

	if (e < 0) {
		store_fault_outcome(o, e, "store_failed",
				    "the team's stored artifact bytes could not be read, so nothing "
				    "was kept and nothing was charged");
		return false;
	}
	if ((adding == 0 && used < limit) || (adding > 0 && used + adding <= limit))
		return true;
	snprintf(msg, sizeof(msg),
		 "team %s keeps %llu bytes of run artifacts and tables; %s its quota of %llu bytes "
		 "(LEDGERBOX_TEAM_ARTIFACT_QUOTA). Old runs' files are removed after "
		 "LEDGERBOX_ARTIFACT_RETENTION_S, or an admin can raise the quota",
		 rq->who.team, (unsigned long long)used,
		 adding ? "this run's files would pass" : "that is", (unsigned long long)limit);
	outcome_error(o, 507, "quota_exceeded", msg, NULL, 0,
		      json_pack("{s:s,s:s,s:I,s:I,s:I}", "quota", "team_artifact_bytes", "team",
				rq->who.team, "used", (json_int_t)used, "adding", (json_int_t)adding,
				"limit", (json_int_t)limit));
	return false;
}
