/*
 * Checking template parameters. Values come from clients as JSON; each is
 * checked against its declared type and bounds, and unknown names are
 * refused, so that only known, well-formed values are ever rendered into
 * code. Defaults go through the same checks as given values.
 *
 * Messages name the parameter, quote what was sent when it is short plain
 * text, and say what is expected.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "templates/internal.h"
#include "util/utf8.h"

#include "util/banned.h"

#define YEAR_MIN 1900
#define YEAR_MAX 2200

/* "params.NAME" for the caller's error field; NAME may be a client's. */
static const char *field_of(const char *name)
{
	static _Thread_local char field[80];

	snprintf(field, sizeof(field), "params.%.*s", (int)utf8_cut(name, 64), name);
	return field;
}

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "a whole number";
	case JSON_REAL:
		return "a number with a fraction";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_ARRAY:
		return "an array";
	case JSON_OBJECT:
		return "an object";
	default:
		return "null";
	}
}

/* Client text is quoted in a message only when it is short and printable. */
static void quote_text(const char *s, char *out, size_t out_len)
{
	size_t n = strlen(s);

	for (size_t k = 0; k < n; k++)
		if ((unsigned char)s[k] < 0x20 || (unsigned char)s[k] > 0x7e) {
			snprintf(out, out_len, "the text sent");
			return;
		}
	if (n > 40)
		snprintf(out, out_len, "\"%.40s...\"", s);
	else
		snprintf(out, out_len, "\"%s\"", s);
}

static int fail(const struct template_param *p, char *err, size_t err_len,
		const char **ret_field, const char *what)
{
	snprintf(err, err_len, "parameter '%s': %s", p->name, what);
	if (ret_field)
		*ret_field = field_of(p->name);
	return -EINVAL;
}

static int read_number(const struct template_param *p, const json_t *v, struct tpl_value *out,
		       char *err, size_t err_len, const char **ret_field)
{
	bool is_year = strcmp(p->type, "year") == 0;
	char what[200];
	json_int_t n;

	if (!json_is_integer(v)) {
		snprintf(what, sizeof(what),
			 "expected %s from %lld to %lld as a JSON integer (e.g. %s), not %s",
			 is_year ? "a year" : "a whole number", (long long)p->min,
			 (long long)p->max, p->default_text ? p->default_text : "1", json_kind(v));
		return fail(p, err, err_len, ret_field, what);
	}
	n = json_integer_value(v);
	if (n < p->min || n > p->max) {
		snprintf(what, sizeof(what), "%lld is out of range; expected %s from %lld to %lld",
			 (long long)n, is_year ? "a year" : "a whole number", (long long)p->min,
			 (long long)p->max);
		return fail(p, err, err_len, ret_field, what);
	}
	out->number = n;
	return 0;
}

static int days_in_month(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

static bool date_shape(const char *s)
{
	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int k = 0; k < 10; k++)
		if (k != 4 && k != 7 && (s[k] < '0' || s[k] > '9'))
			return false;
	return true;
}

static int digits(const char *s, int n)
{
	int v = 0;

	for (int k = 0; k < n; k++)
		v = v * 10 + (s[k] - '0');
	return v;
}

static int read_date(const struct template_param *p, const json_t *v, struct tpl_value *out,
		     char *err, size_t err_len, const char **ret_field)
{
	char what[200], shown[56];
	const char *s;
	int year, month, day;

	if (!json_is_string(v)) {
		snprintf(what, sizeof(what),
			 "expected a date as a JSON string YYYY-MM-DD (e.g. 2025-12-31), not %s",
			 json_kind(v));
		return fail(p, err, err_len, ret_field, what);
	}
	s = json_string_value(v);
	quote_text(s, shown, sizeof(shown));
	if (strlen(s) != json_string_length(v) || !date_shape(s)) {
		snprintf(what, sizeof(what),
			 "%s is not a date as YYYY-MM-DD; expected e.g. 2025-12-31", shown);
		return fail(p, err, err_len, ret_field, what);
	}
	year = digits(s, 4);
	month = digits(s + 5, 2);
	day = digits(s + 8, 2);
	if (year < YEAR_MIN || year > YEAR_MAX) {
		snprintf(what, sizeof(what),
			 "%s is out of range; expected a date from %d-01-01 to %d-12-31", shown,
			 YEAR_MIN, YEAR_MAX);
		return fail(p, err, err_len, ret_field, what);
	}
	if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) {
		snprintf(what, sizeof(what),
			 "%s is not a real date; expected YYYY-MM-DD with a month from 01 to 12 "
			 "and a day that month has",
			 shown);
		return fail(p, err, err_len, ret_field, what);
	}
	memcpy(out->text, s, 11);
	return 0;
}

/* Plain text: valid UTF-8 without control characters, so it can be shown
 * and quoted in both languages without surprises. */
static bool text_plain(const unsigned char *s, size_t n)
{
	size_t k = 0;

	while (k < n) {
		unsigned char c = s[k];
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : 4;

		if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xc2) || c > 0xf4 || k + len > n)
			return false;
		for (size_t j = 1; j < len; j++)
			if ((s[k + j] & 0xc0) != 0x80)
				return false;
		/* C1 controls are U+0080..U+009F: 0xc2 0x80..0x9f. */
		if (c == 0xc2 && s[k + 1] < 0xa0)
			return false;
		k += len;
	}
	return true;
}

/* A parameter with a fixed set of values takes one of them, exactly. */
static int read_choice(const struct template_param *p, const char *text, char *err,
		       size_t err_len, const char **ret_field)
{
	char what[200], shown[56];
	size_t len = 0;
	int n;

	if (!p->choices)
		return 0;
	for (const char *const *c = p->choices; *c; c++)
		if (strcmp(*c, text) == 0)
			return 0;
	quote_text(text, shown, sizeof(shown));
	n = snprintf(what, sizeof(what), "%s is not one of its values; expected one of: ", shown);
	len = n > 0 ? (size_t)n : 0;
	for (const char *const *c = p->choices; *c && len + 1 < sizeof(what); c++) {
		n = snprintf(what + len, sizeof(what) - len, "%s%s", c == p->choices ? "" : ", ", *c);
		if (n < 0)
			break;
		len += (size_t)n;
	}
	return fail(p, err, err_len, ret_field, what);
}

static int read_string(const struct template_param *p, const json_t *v, struct tpl_value *out,
		       char *err, size_t err_len, const char **ret_field)
{
	char what[200];
	size_t n;

	if (!json_is_string(v)) {
		snprintf(what, sizeof(what), "expected text (a JSON string), not %s", json_kind(v));
		return fail(p, err, err_len, ret_field, what);
	}
	n = json_string_length(v);
	if (n < (size_t)p->min || n > (size_t)p->max) {
		snprintf(what, sizeof(what), "the text is %zu bytes long; expected %lld to %lld bytes",
			 n, (long long)p->min, (long long)p->max);
		return fail(p, err, err_len, ret_field, what);
	}
	if (!text_plain((const unsigned char *)json_string_value(v), n)) {
		snprintf(what, sizeof(what),
			 "the text holds a control character or a NUL; expected plain text");
		return fail(p, err, err_len, ret_field, what);
	}
	memcpy(out->text, json_string_value(v), n + 1);
	return read_choice(p, out->text, err, err_len, ret_field);
}

static int read_value(const struct template_param *p, const json_t *v, struct tpl_value *out,
		      char *err, size_t err_len, const char **ret_field)
{
	out->param = p;
	out->absent = false;
	if (strcmp(p->type, "date") == 0)
		return read_date(p, v, out, err, err_len, ret_field);
	if (strcmp(p->type, "string") == 0)
		return read_string(p, v, out, err, err_len, ret_field);
	return read_number(p, v, out, err, err_len, ret_field);
}

/* The default, as the JSON a client would have sent. */
static json_t *default_value(const struct template_param *p)
{
	json_int_t n = 0;

	if (strcmp(p->type, "date") == 0 || strcmp(p->type, "string") == 0)
		return json_string(p->default_text);
	for (const char *c = p->default_text; *c; c++)
		n = n * 10 + (*c - '0');
	return json_integer(n);
}

static int read_one(const struct template_param *p, json_t *params, struct tpl_value *out,
		    char *err, size_t err_len, const char **ret_field)
{
	json_t *v = params ? json_object_get(params, p->name) : NULL;
	int r;

	if (v && !json_is_null(v))
		return read_value(p, v, out, err, err_len, ret_field);
	if (p->required)
		return fail(p, err, err_len, ret_field, "is required and was not given");
	if (!p->default_text) {
		out->param = p;
		out->absent = true;
		return 0;
	}
	v = default_value(p);
	if (!v)
		return -ENOMEM;
	r = read_value(p, v, out, err, err_len, ret_field);
	json_decref(v);
	return r;
}

static void param_names(const struct template_info *t, char *out, size_t out_len)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t k = 0; k < t->n_params && len + 1 < out_len; k++) {
		int n = snprintf(out + len, out_len - len, "%s%s", k ? ", " : "", t->params[k].name);

		if (n < 0)
			break;
		len += (size_t)n;
	}
}

static int refuse_unknown(const struct template_info *t, json_t *params, char *err,
			  size_t err_len, const char **ret_field)
{
	const char *key;
	json_t *v;

	json_object_foreach (params, key, v) {
		char names[160], shown[56];
		size_t k;

		for (k = 0; k < t->n_params && strcmp(t->params[k].name, key) != 0; k++)
			;
		if (k < t->n_params)
			continue;
		param_names(t, names, sizeof(names));
		quote_text(key, shown, sizeof(shown));
		snprintf(err, err_len, "unknown parameter %s for template %s; it takes: %s", shown,
			 t->id, names);
		if (ret_field)
			*ret_field = field_of(key);
		return -EINVAL;
	}
	return 0;
}

static int check_order(size_t i, const struct tpl_value *values, char *err, size_t err_len,
		       const char **ret_field)
{
	const struct tpl_code *code = tpl_codes[i];
	const struct tpl_value *first = NULL, *last = NULL;
	char what[200];

	if (!code->date_first)
		return 0;
	for (size_t k = 0; k < tpl_infos[i].n_params; k++) {
		if (strcmp(values[k].param->name, code->date_first) == 0)
			first = &values[k];
		if (strcmp(values[k].param->name, code->date_last) == 0)
			last = &values[k];
	}
	if (!first || !last || strcmp(first->text, last->text) <= 0)
		return 0;
	snprintf(what, sizeof(what), "%s is before %s %s; expected a day on or after it",
		 last->text, code->date_first, first->text);
	return fail(last->param, err, err_len, ret_field, what);
}

int tpl_params_read(size_t i, json_t *params, struct tpl_value *values, char *err,
		    size_t err_len, const char **ret_field)
{
	const struct template_info *t = &tpl_infos[i];
	int r;

	if (params && !json_is_object(params)) {
		snprintf(err, err_len, "params must be a JSON object of parameter values, not %s",
			 json_kind(params));
		if (ret_field)
			*ret_field = "params";
		return -EINVAL;
	}
	if (t->n_params > TPL_MAX_PARAMS)
		return -E2BIG;
	if (params) {
		r = refuse_unknown(t, params, err, err_len, ret_field);
		if (r < 0)
			return r;
	}
	for (size_t k = 0; k < t->n_params; k++) {
		r = read_one(&t->params[k], params, &values[k], err, err_len, ret_field);
		if (r < 0)
			return r;
	}
	return check_order(i, values, err, err_len, ret_field);
}
