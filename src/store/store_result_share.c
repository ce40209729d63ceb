/*
 * store_result_share: the answer of a run answered from another run (an
 * exact cache hit) stored as what is its own, over the answer it shares.
 *
 * A hit's answer is its source's answer with a few fields of its own (its
 * id, cost, duration, links...). Storing it whole would copy up to the
 * cache's largest answer per hit; instead the hit's row keeps a patch
 * against the source's stored answer (result_from), and reading the run
 * rebuilds the answer from both. Run rows are never removed (retention
 * removes files only), so the source's answer is always there to read.
 *
 * A patch is an object: its keys are the values the answer sets (replaced
 * in place, or added at the end in this order), except the key "$patch",
 * which holds {"in": {key: patch of that object}, "del": [keys removed]}.
 * The hit's own top-level fields (cacheType, cost, attempts) thus stay at
 * the top of its stored text, where the budget's reconciliation reads
 * them. A patch is only ever stored after rebuilding the answer from it
 * gave the very same text; otherwise the answer is stored whole.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "util/banned.h"

#define PATCH_KEY "$patch"

static json_t *object_patch(const json_t *base, const json_t *answer)
{
	json_t *patch = json_object(), *in = json_object(), *del = json_array(), *v;
	const char *k;

	if (!patch || !in || !del || json_object_get(base, PATCH_KEY) ||
	    json_object_get(answer, PATCH_KEY))
		goto fail;
	json_object_foreach((json_t *)answer, k, v) {
		json_t *b = json_object_get(base, k), *sub;

		if (b && json_equal(b, v))
			continue;
		if (json_is_object(b) && json_is_object(v)) {
			sub = object_patch(b, v);
			if (!sub || json_object_set_new(in, k, sub) < 0)
				goto fail;
		} else if (json_object_set(patch, k, v) < 0) {
			goto fail;
		}
	}
	json_object_foreach((json_t *)base, k, v)
		if (!json_object_get(answer, k) && json_array_append_new(del, json_string(k)) < 0)
			goto fail;
	if ((json_object_size(in) > 0 || json_array_size(del) > 0) &&
	    json_object_set_new(patch, PATCH_KEY, json_pack("{s:O,s:O}", "in", in, "del", del)) < 0)
		goto fail;
	json_decref(in);
	json_decref(del);
	return patch;
fail:
	json_decref(patch);
	json_decref(in);
	json_decref(del);
	return NULL;
}

static int object_apply(json_t *answer, const json_t *patch)
{
	json_t *meta = json_object_get(patch, PATCH_KEY), *v;
	const char *k;
	size_t i;

	if (!json_is_object(answer) || !json_is_object(patch))
		return -EIO;
	json_object_foreach((json_t *)patch, k, v)
		if (strcmp(k, PATCH_KEY) != 0 && json_object_set(answer, k, v) < 0)
			return -ENOMEM;
	json_object_foreach(json_object_get(meta, "in"), k, v)
		if (object_apply(json_object_get(answer, k), v) < 0)
			return -EIO;
	json_array_foreach(json_object_get(meta, "del"), i, v)
		if (!json_is_string(v) || json_object_del(answer, json_string_value(v)) < 0)
			return -EIO;
	return 0;
}

json_t *store_result_rebuild(const json_t *base, const json_t *patch)
{
	json_t *answer = json_deep_copy(base);

	if (answer && object_apply(answer, patch) == 0)
		return answer;
	json_decref(answer);
	return NULL;
}

static bool same_text(const json_t *a, const json_t *b)
{
	char *ta = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
	char *tb = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
	bool same = ta && tb && strcmp(ta, tb) == 0;

	free(ta);
	free(tb);
	return same;
}

json_t *store_result_patch(const json_t *base, const json_t *answer)
{
	json_t *patch, *rebuilt;

	if (!json_is_object(base) || !json_is_object(answer))
		return NULL;
	patch = object_patch(base, answer);
	rebuilt = patch ? store_result_rebuild(base, patch) : NULL;
	if (!rebuilt || !same_text(rebuilt, answer)) {
		json_decref(patch);
		patch = NULL;
	}
	json_decref(rebuilt);
	return patch;
}

int store_run_result_whole(struct run_record *run, const char *base_text)
{
	json_t *base = base_text ? json_loads(base_text, JSON_DECODE_ANY, NULL) : NULL;
	json_t *whole = base ? store_result_rebuild(base, run->result) : NULL;

	json_decref(base);
	if (!whole)
		return -EIO;
	json_decref(run->result);
	run->result = whole;
	return 0;
}
