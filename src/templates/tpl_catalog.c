/*
 * Looking templates up, and describing them as JSON for clients (what to
 * offer, which parameters to ask for, which tables a dataset needs).
 */
#include <errno.h>
#include <string.h>

#include "templates/internal.h"

#include "util/banned.h"

const struct template_info *templates_list(size_t *ret_count)
{
	if (ret_count)
		*ret_count = tpl_count;
	return tpl_infos;
}

int tpl_index(const char *id)
{
	if (!id)
		return -ENOENT;
	for (size_t i = 0; i < tpl_count; i++)
		if (strcmp(tpl_infos[i].id, id) == 0)
			return (int)i;
	return -ENOENT;
}

const struct template_info *template_find(const char *id)
{
	int i = tpl_index(id);

	return i < 0 ? NULL : &tpl_infos[i];
}

static bool is_numeric_type(const char *type)
{
	return strcmp(type, "integer") == 0 || strcmp(type, "year") == 0;
}

static json_t *default_json(const struct template_param *p)
{
	json_int_t n = 0;

	if (!p->default_text)
		return json_null();
	if (!is_numeric_type(p->type))
		return json_string(p->default_text);
	/* Defaults are the table's own digits, so a plain loop reads them. */
	for (const char *c = p->default_text; *c; c++)
		n = n * 10 + (*c - '0');
	return json_integer(n);
}

/* The parameter's "enum" array, made on first use. */
static json_t *choices_of(json_t *o)
{
	json_t *list = json_object_get(o, "enum");

	if (!list && json_object_set_new(o, "enum", json_array()) == 0)
		list = json_object_get(o, "enum");
	return list;
}

static json_t *param_json(const struct template_param *p)
{
	json_t *o = json_pack("{s:s, s:s, s:b, s:o, s:s}", "name", p->name, "type", p->type,
			      "required", p->required, "default", default_json(p), "description",
			      p->description);

	if (!o)
		return NULL;
	if (is_numeric_type(p->type)) {
		if (json_object_set_new(o, "min", json_integer(p->min)) < 0 ||
		    json_object_set_new(o, "max", json_integer(p->max)) < 0)
			goto fail;
	} else if (strcmp(p->type, "string") == 0) {
		if (json_object_set_new(o, "maxLength", json_integer(p->max)) < 0)
			goto fail;
		for (const char *const *c = p->choices; c && *c; c++)
			if (json_array_append_new(choices_of(o), json_string(*c)) < 0)
				goto fail;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

static json_t *needs_json(const struct tpl_code *code)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < code->n_needs; i++) {
		json_t *cols = json_array();

		for (const char *const *c = code->needs[i].columns; cols && *c; c++)
			if (json_array_append_new(cols, json_string(*c)) < 0) {
				json_decref(cols);
				cols = NULL;
			}
		if (json_object_set_new(o, code->needs[i].table, cols) < 0) {
			json_decref(o);
			o = NULL;
		}
	}
	return o;
}

static json_t *template_json(size_t i)
{
	const struct template_info *t = &tpl_infos[i];
	json_t *params = json_array();

	for (size_t k = 0; params && k < t->n_params; k++)
		if (json_array_append_new(params, param_json(&t->params[k])) < 0) {
			json_decref(params);
			params = NULL;
		}
	if (!params)
		return NULL;
	return json_pack("{s:s, s:s, s:s, s:[s,s], s:o, s:o}", "id", t->id, "title", t->title,
			 "description", t->description, "languages", "sql", "python", "params",
			 params, "requires", needs_json(tpl_codes[i]));
}

json_t *templates_to_json(void)
{
	json_t *all = json_array();

	for (size_t i = 0; all && i < tpl_count; i++)
		if (json_array_append_new(all, template_json(i)) < 0) {
			json_decref(all);
			all = NULL;
		}
	return all;
}
