/*
 * dataset_access: who may read and who may change a dataset. Private to
 * src/http/.
 *
 * A dataset belongs to a team (it was uploaded by one of the team's
 * analysts) or to the organisation (an admin published it, or it sits in
 * DATA_DIR without a record: the demo, folders an operator put there).
 * Reading: the organisation's datasets by everyone, a team's by its team
 * and by admins. Changing (replace, append, delete): a team's dataset by
 * its team's analysts and by admins, the organisation's by admins only.
 * A dataset the caller may not read is answered exactly as one that does
 * not exist, so its name does not leak.
 */
#ifndef LEDGERBOX_HTTP_DATASET_ACCESS_H
#define LEDGERBOX_HTTP_DATASET_ACCESS_H

#include "http/request.h"

/* 0 when who may read dataset `name` (*ret, may be NULL: its record, or
 * the organisation's version 1 when it has none); -ENOENT when not;
 * another negative errno when the store cannot tell. */
int dataset_access_read(struct store *s, const struct principal *who, const char *name,
			struct store_dataset *ret);
/* For a route naming a dataset: true with *ret when the caller may read
 * it and it exists in DATA_DIR; else answers (400 bad name, 404
 * unknown_dataset alike for missing and hidden, 500 store unavailable)
 * and returns false with *r set. */
bool dataset_access_answer(struct request *rq, const char *name, struct store_dataset *ret,
			   enum MHD_Result *r);
/* Whether who may change a dataset with this record. */
bool dataset_access_change(const struct principal *who, const struct store_dataset *d);
/* Drops from a dataset_list() array the datasets who may not read, and
 * gives each one left "owner" ({"team": name or null}) and "version". */
int dataset_access_filter(struct store *s, const struct principal *who, json_t *list);
/* After a change that retired a folder, and when a run lets go of a
 * version that was retired meanwhile: removes the retired folders no run
 * holds any more (see dataset_hold()), and upload folders a crash left
 * that did not change for DATASET_UPLOAD_STALE_S. */
/* The bytes of team's retired versions that runs still hold (not swept
 * yet): they count against its quota until they go. 0 for the
 * organisation ("" team). */
int64_t dataset_retired_team_bytes(struct store *s, const char *data_dir, const char *team);
#define DATASET_UPLOAD_STALE_S 3600
void dataset_retired_sweep(const char *data_dir);

#endif
