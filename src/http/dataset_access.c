/*
 * dataset_access: the read and change rules of dataset_access.h, over the
 * owner records in the store.
 *
 * The records are read at each request, not cached: several nodes may
 * share one PostgreSQL store, and a dataset deleted or published on one
 * must be seen so on the others at once.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "http/dataset_access.h"
#include "http/store_fault.h"
#include "util/banned.h"

int dataset_access_read(struct store *s, const struct principal *who, const char *name,
			struct store_dataset *ret)
{
	struct store_dataset d;
	int r = store_dataset_get(s, name, &d);

	if (r == -ENOENT) {
		/* No record: the demo or an operator's folder, the organisation's. */
		d = (struct store_dataset){ .version = 1 };
		snprintf(d.name, sizeof(d.name), "%s", name);
		r = 0;
	}
	if (r < 0)
		return r;
	if (d.team[0] && who->role != ROLE_ADMIN && strcmp(d.team, who->team) != 0)
		return -ENOENT;
	if (ret)
		*ret = d;
	return 0;
}

bool dataset_access_answer(struct request *rq, const char *name, struct store_dataset *ret,
			   enum MHD_Result *r)
{
	char msg[PATH_MAX];
	int e;

	if (!dataset_name_valid(name)) {
		*r = respond_error(rq, 400, "invalid_parameter",
				   "name must be 1 to 64 letters, digits, '-' or '_'", "name");
		return false;
	}
	e = dataset_access_read(rq->srv->store, &rq->who, name, ret);
	if (e == 0 && dataset_path_for_python(rq->srv->cfg->data_dir, name, msg, sizeof(msg), NULL,
					      0) < 0)
		e = -ENOENT;
	if (e == -ENOENT) {
		snprintf(msg, sizeof(msg), "no dataset %s: pick one from the list", name);
		*r = respond_error(rq, 404, "unknown_dataset", msg, "name");
		return false;
	}
	if (e < 0) {
		*r = respond_store_fault(rq, e, "store_failed", "cannot read who owns the dataset");
		return false;
	}
	return true;
}

bool dataset_access_change(const struct principal *who, const struct store_dataset *d)
{
	if (who->role == ROLE_ADMIN)
		return true;
	return d->team[0] && strcmp(d->team, who->team) == 0;
}

int dataset_access_filter(struct store *s, const struct principal *who, json_t *list)
{
	size_t i = 0;

	while (i < json_array_size(list)) {
		json_t *item = json_array_get(list, i);
		const char *name = json_string_value(json_object_get(item, "name"));
		struct store_dataset d;
		int r = name ? dataset_access_read(s, who, name, &d) : -ENOENT;

		if (r == -ENOENT) {
			json_array_remove(list, i);
			continue;
		}
		if (r < 0)
			return r;
		json_object_set_new(item, "owner",
				    json_pack("{s:s?}", "team", d.team[0] ? d.team : NULL));
		json_object_set_new(item, "version", json_integer(d.version));
		i++;
	}
	return 0;
}

void dataset_retired_sweep(const char *data_dir)
{
	/* Best effort: what stays is removed by a later sweep. */
	(void)csv_import_sweep(data_dir, DATASET_UPLOAD_STALE_S, NULL);
}

struct retired_sum {
	struct store *store;
	const char *team;
	int64_t bytes;
};

static void retired_add(void *ctx, const char *name, uint64_t bytes)
{
	struct retired_sum *sum = ctx;
	struct store_dataset d;

	/* A deleted dataset's record is gone: its old folder is no team's. */
	if (store_dataset_get(sum->store, name, &d) == 0 && d.team[0] &&
	    strcmp(d.team, sum->team) == 0)
		sum->bytes += (int64_t)bytes;
}

int64_t dataset_retired_team_bytes(struct store *s, const char *data_dir, const char *team)
{
	struct retired_sum sum = { s, team, 0 };

	if (team[0])
		(void)dataset_retired_each(data_dir, retired_add, &sum);
	return sum.bytes;
}
