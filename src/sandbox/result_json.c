/* result_json: see result_json.h. */
#include "sandbox/result_json.h"

#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"
#include "util/banned.h"

static json_t *text_json(const char *data, size_t len)
{
	size_t clean_len;
	char *clean;
	json_t *j;

	if (!data)
		return json_string("");
	if (utf8_sanitize(data, len, &clean, &clean_len) < 0)
		return NULL;
	j = json_stringn(clean ? clean : data, clean_len);
	free(clean);
	return j;
}

static json_t *limits_json(const struct sandbox_limits *l)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
			 "wall_ms", (json_int_t)l->wall_ms, "cpu_ms", (json_int_t)l->cpu_ms,
			 "memory_bytes", (json_int_t)l->memory_bytes, "pids", (json_int_t)l->pids,
			 "output_bytes", (json_int_t)l->output_bytes,
			 "tmp_bytes", (json_int_t)l->tmp_bytes, "out_bytes", (json_int_t)l->out_bytes,
			 "file_bytes", (json_int_t)l->file_bytes, "max_rows", (json_int_t)l->max_rows,
			 "open_files", (json_int_t)l->open_files);
}

static json_t *enforcement_json(const struct sandbox_result *r)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
			 "wall", sandbox_enforcer_name(r->enforced_wall),
			 "cpu", sandbox_enforcer_name(r->enforced_cpu),
			 "memory", sandbox_enforcer_name(r->enforced_memory),
			 "pids", sandbox_enforcer_name(r->enforced_pids),
			 "output", sandbox_enforcer_name(r->enforced_output),
			 "file_size", sandbox_enforcer_name(r->enforced_file),
			 "tmp", sandbox_enforcer_name(r->enforced_tmp));
}

static json_t *limits_hit_json(unsigned hit)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{ LIMIT_HIT_WALL, "wall" },	    { LIMIT_HIT_CPU, "cpu" },
		{ LIMIT_HIT_MEMORY, "memory" }, { LIMIT_HIT_PIDS, "pids" },
		{ LIMIT_HIT_OUTPUT, "output" }, { LIMIT_HIT_ROWS, "rows" },
	};
	json_t *a = json_array();

	for (size_t i = 0; a && i < sizeof(names) / sizeof(names[0]); i++)
		if (hit & names[i].bit)
			json_array_append_new(a, json_string(names[i].name));
	return a;
}

/* Every artifact or none: callers send the files in the order of this list,
 * so a list missing one would pair names with the wrong bytes. */
static json_t *artifacts_json(const struct sandbox_result *r)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < r->n_artifacts; i++) {
		json_t *e = json_pack("{s:s%,s:I,s:s}", "name", r->artifacts[i].name,
				      strlen(r->artifacts[i].name), "bytes",
				      (json_int_t)r->artifacts[i].bytes, "mime", r->artifacts[i].mime);
		if (!e || json_array_append_new(a, e) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* Splits the runner's one JSON object into table and error. */
static void runner_fields(const struct sandbox_result *r, json_t *out)
{
	json_t *doc, *table, *err;

	if (r->result_truncated) {
		json_object_set_new(out, "table", json_null());
		json_object_set_new(out, "runner_error",
				    json_pack("{s:s,s:s}", "type", "result_too_large", "message",
					      "the result table is larger than table_bytes: "
					      "select fewer rows or columns"));
		return;
	}
	doc = r->result_json_len ? json_loadb(r->result_json, r->result_json_len, 0, NULL) : NULL;
	table = json_object_get(doc, "table");
	err = json_object_get(doc, "error");
	json_object_set(out, "table", json_is_object(table) ? table : json_null());
	json_object_set(out, "runner_error", json_is_object(err) ? err : json_null());
	json_decref(doc);
}

json_t *result_to_json(const struct sandbox_request *req, const struct sandbox_result *r)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "status", json_string(sandbox_status_name(r->status)));
	json_object_set_new(o, "language", json_string(sandbox_lang_name(req->lang)));
	json_object_set_new(o, "exit_code", json_integer(r->exit_code));
	json_object_set_new(o, "signal", json_integer(r->signal));
	json_object_set_new(o, "error", r->error[0] ? json_string(r->error) : json_null());
	json_object_set_new(o, "wall_ms", json_integer((json_int_t)r->wall_ms));
	json_object_set_new(o, "cpu_ms", json_integer((json_int_t)r->cpu_ms));
	json_object_set_new(o, "sandbox", json_string(r->warm ? "warm" : "cold"));
	json_object_set_new(o, "peak_memory_bytes", json_integer((json_int_t)r->peak_memory_bytes));
	json_object_set_new(o, "memory_base_bytes", json_integer((json_int_t)r->memory_base_bytes));
	json_object_set_new(o, "stdout", text_json(r->stdout_data, r->stdout_len));
	json_object_set_new(o, "stdout_truncated", json_boolean(r->stdout_truncated));
	json_object_set_new(o, "stderr", text_json(r->stderr_data, r->stderr_len));
	json_object_set_new(o, "stderr_truncated", json_boolean(r->stderr_truncated));
	runner_fields(r, o);
	if (json_object_set_new(o, "artifacts", artifacts_json(r)) < 0) {
		json_decref(o);
		return NULL;
	}
	json_object_set_new(o, "artifacts_skipped", json_integer((json_int_t)r->n_artifacts_skipped));
	json_object_set_new(o, "limits", limits_json(&req->limits));
	json_object_set_new(o, "limits_hit", limits_hit_json(r->limits_hit));
	json_object_set_new(o, "enforcement", enforcement_json(r));
	return o;
}
