/* result_json: see result_json.h. */
#include "sandbox/result_json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/result_fit.h"
#include "util/utf8.h"
#include "util/banned.h"

/* The stream as JSON text, its encoding at most max_encoded bytes (the
 * output limit counts what is sent: a control byte written as \u0001 counts
 * six). Sets *cut when text was left out. */
static json_t *text_json(const char *data, size_t len, uint64_t max_encoded, bool *cut)
{
	size_t clean_len, fit;
	char *clean;
	const char *text;
	json_t *j;

	if (!data)
		return json_string("");
	if (utf8_sanitize(data, len, &clean, &clean_len) < 0)
		return NULL;
	text = clean ? clean : data;
	fit = result_text_fit(text, clean_len, max_encoded > SIZE_MAX ? SIZE_MAX : (size_t)max_encoded);
	if (fit < clean_len)
		*cut = true;
	j = json_stringn(text, fit);
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

/* Why files in /out were left out, where a reason is worth a word. */
static json_t *artifacts_notes_json(const struct sandbox_result *r)
{
	json_t *notes = json_array();
	char text[300];

	if (notes && r->n_artifacts_bidi_names) {
		snprintf(text, sizeof(text),
			 "%zu file%s in /out %s not kept: a file name may not hold bidirectional "
			 "control characters (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, "
			 "U+061C), which make it display as another name",
			 r->n_artifacts_bidi_names, r->n_artifacts_bidi_names == 1 ? "" : "s",
			 r->n_artifacts_bidi_names == 1 ? "was" : "were");
		json_array_append_new(notes, json_string(text));
	}
	return notes;
}

/* Splits the runner's one JSON object into table and error. The table's
 * encoding is held to table_bytes too: floats the runner wrote short may
 * come back longer. Returns true when rows were cut for that. */
static bool runner_fields(const struct sandbox_request *req, const struct sandbox_result *r,
			  json_t *out)
{
	json_t *doc, *table, *err;
	bool cut = false;

	if (r->result_truncated) {
		json_object_set_new(out, "table", json_null());
		json_object_set_new(out, "runner_error",
				    json_pack("{s:s,s:s}", "type", "result_too_large", "message",
					      "the result table is larger than table_bytes: "
					      "select fewer rows or columns"));
		return false;
	}
	doc = r->result_json_len ? json_loadb(r->result_json, r->result_json_len, 0, NULL) : NULL;
	table = json_object_get(doc, "table");
	err = json_object_get(doc, "error");
	if (json_is_object(table))
		cut = result_table_fit(table, req->limits.table_bytes > SIZE_MAX
						      ? SIZE_MAX
						      : (size_t)req->limits.table_bytes);
	json_object_set(out, "table", json_is_object(table) ? table : json_null());
	json_object_set(out, "runner_error", json_is_object(err) ? err : json_null());
	json_decref(doc);
	return cut;
}

json_t *result_to_json(const struct sandbox_request *req, const struct sandbox_result *r)
{
	json_t *o = json_object();
	bool stdout_cut = r->stdout_truncated, stderr_cut = r->stderr_truncated;
	unsigned hit = r->limits_hit;

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
	json_object_set_new(o, "stdout", text_json(r->stdout_data, r->stdout_len,
						    req->limits.output_bytes, &stdout_cut));
	json_object_set_new(o, "stdout_truncated", json_boolean(stdout_cut));
	json_object_set_new(o, "stderr", text_json(r->stderr_data, r->stderr_len,
						    req->limits.output_bytes, &stderr_cut));
	json_object_set_new(o, "stderr_truncated", json_boolean(stderr_cut));
	if (stdout_cut || stderr_cut)
		hit |= LIMIT_HIT_OUTPUT;
	if (runner_fields(req, r, o))
		hit |= LIMIT_HIT_ROWS;
	if (json_object_set_new(o, "artifacts", artifacts_json(r)) < 0) {
		json_decref(o);
		return NULL;
	}
	json_object_set_new(o, "artifacts_skipped", json_integer((json_int_t)r->n_artifacts_skipped));
	json_object_set_new(o, "artifacts_notes", artifacts_notes_json(r));
	json_object_set_new(o, "limits", limits_json(&req->limits));
	json_object_set_new(o, "limits_hit", limits_hit_json(hit));
	json_object_set_new(o, "enforcement", enforcement_json(r));
	return o;
}
