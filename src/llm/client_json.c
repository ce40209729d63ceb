/*
 * client_json: JSON helpers the two wire formats share: loading a reply,
 * reading counts and strings leniently (a missing or odd field is absent,
 * not an error), the message array of a request, and embeddings.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "llm/client_internal.h"
#include "util/utf8.h"
#include "util/banned.h"

int llm_json_load(const char *s, size_t len, json_t **ret)
{
	json_error_t jerr;
	json_t *root = json_loadb(s, len, 0, &jerr);

	if (!root)
		return -EBADMSG;
	if (!json_is_object(root)) {
		json_decref(root);
		return -EBADMSG;
	}
	*ret = root;
	return 0;
}

bool llm_json_count(json_t *obj, const char *key, uint64_t *ret)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*ret = (uint64_t)json_integer_value(v);
		return true;
	}
	if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) < 1e18) {
		*ret = (uint64_t)json_real_value(v);
		return true;
	}
	return false;
}

void llm_json_copy_string(json_t *obj, const char *key, char *out, size_t out_size)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_string(v))
		llm_text_clean(json_string_value(v), json_string_length(v), out, out_size);
}

void llm_json_error_text(json_t *root, char *out, size_t out_size)
{
	json_t *e = json_object_get(root, "error");

	out[0] = '\0';
	if (json_is_string(e))
		llm_json_copy_string(root, "error", out, out_size);
	else if (json_is_object(e))
		llm_json_copy_string(e, "message", out, out_size);
	if (!out[0])
		llm_json_copy_string(root, "message", out, out_size);
	if (!out[0])
		llm_json_copy_string(root, "detail", out, out_size);
}

json_t *llm_json_text(const char *s)
{
	char *fixed = NULL;
	size_t len = strlen(s), fixed_len;
	json_t *v;

	if (utf8_sanitize(s, len, &fixed, &fixed_len) < 0)
		return NULL;
	v = fixed ? json_stringn(fixed, fixed_len) : json_stringn(s, len);
	free(fixed);
	return v;
}

int llm_json_messages(const struct llm_call *call, json_t **ret)
{
	json_t *arr = json_array();

	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < call->n_messages; i++) {
		const struct llm_message *m = &call->messages[i];
		json_t *o;

		if (!m->role || !m->content) {
			json_decref(arr);
			return -EINVAL;
		}
		o = json_object();
		if (!o || json_array_append_new(arr, o) < 0 ||
		    json_object_set_new(o, "role", llm_json_text(m->role)) < 0 ||
		    json_object_set_new(o, "content", llm_json_text(m->content)) < 0) {
			json_decref(arr);
			return -ENOMEM;
		}
	}
	*ret = arr;
	return 0;
}

int llm_json_floats(json_t *array, float **ret_vec, size_t *ret_dim)
{
	size_t n = json_array_size(array);
	float *vec;

	if (!json_is_array(array) || n == 0 || n > LLM_EMBED_DIM_MAX)
		return -EBADMSG;
	vec = calloc(n, sizeof(*vec));
	if (!vec)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_array_get(array, i);
		double d = json_is_number(v) ? json_number_value(v) : NAN;

		if (!isfinite(d)) {
			free(vec);
			return -EBADMSG;
		}
		vec[i] = (float)d;
	}
	*ret_vec = vec;
	*ret_dim = n;
	return 0;
}
