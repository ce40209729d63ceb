/*
 * Putting a template's program together: a header comment, the parameter
 * block with the checked values, then the template's fixed text. Nothing a
 * client sent reaches the code except through tpl_render.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "templates/internal.h"
#include "util/buf.h"
#include "util/utf8.h"

#include "util/banned.h"

/* Far above the longest template; a cap all the same. */
#define CODE_MAX_BYTES (256 * 1024)

/* The description as comment lines of at most about 76 characters. */
static int put_wrapped(struct buf *b, const char *mark, const char *text)
{
	const char *line = text;
	int r = 0;

	while (r == 0 && *line) {
		const char *end = line, *space = NULL;

		while (*end && (end - line < 76 || !space)) {
			if (*end == ' ')
				space = end;
			end++;
		}
		if (*end)
			end = space;
		r = tpl_puts(b, mark);
		if (r == 0)
			r = buf_append(b, line, (size_t)(end - line));
		if (r == 0)
			r = tpl_puts(b, "\n");
		line = *end ? end + 1 : end;
	}
	return r;
}

static int put_header(struct buf *b, const char *mark, const struct template_info *t)
{
	int r = tpl_puts(b, mark);

	if (r == 0)
		r = tpl_puts(b, t->title);
	if (r == 0)
		r = tpl_puts(b, " (ledgerbox template ");
	if (r == 0)
		r = tpl_puts(b, t->id);
	if (r == 0)
		r = tpl_puts(b, ")\n");
	return r < 0 ? r : put_wrapped(b, mark, t->description);
}

static int build_sql(struct buf *b, size_t i, const struct tpl_value *values)
{
	int r = put_header(b, "-- ", &tpl_infos[i]);

	if (r == 0)
		r = tpl_render_sql_params(b, values, tpl_infos[i].n_params);
	return r < 0 ? r : tpl_puts(b, tpl_codes[i]->sql);
}

/* Every template sums money as whole cents, so totals are exact, and
 * computes ratios of cents in whole numbers. Both round half away from
 * zero, as SQLite's round() and the SQL's integer division do: pandas'
 * round() goes half to even (12.5 cents to 12, 12.25 % to 12.2), which
 * made the two languages disagree on amounts with half a cent and on
 * ratios that end in 5. */
static const char py_cents[] =
	"\n"
	"def cents(amounts):\n"
	"    \"\"\"Money as whole cents, half a cent away from zero, as SQLite rounds.\"\"\"\n"
	"    x = amounts.astype(\"float64\") * 100\n"
	"    whole = ((x.abs() + 0.5) // 1).astype(\"int64\")\n"
	"    return whole.where(x >= 0, -whole)\n"
	"\n"
	"\n"
	"def ratio(numerator, denominator, digits):\n"
	"    \"\"\"numerator / denominator (whole numbers) to digits decimals, half away\n"
	"    from zero, in whole numbers as the SQL computes it; NaN where the\n"
	"    denominator is 0.\"\"\"\n"
	"    a = np.asarray(numerator, dtype=\"int64\") * 10**digits\n"
	"    b = np.broadcast_to(np.asarray(denominator, dtype=\"int64\"), a.shape)\n"
	"    divisor = np.where(b == 0, 1, np.abs(b))\n"
	"    q = (2 * np.abs(a) + divisor) // (2 * divisor)\n"
	"    q = np.where((a < 0) == (b < 0), q, -q)\n"
	"    return np.where(b == 0, np.nan, q / 10**digits)\n"
	"\n"
	"\n";

static int build_python(struct buf *b, size_t i, const struct tpl_value *values,
			const char *file_name)
{
	int r = put_header(b, "# ", &tpl_infos[i]);

	if (r == 0)
		r = tpl_puts(b, tpl_codes[i]->py_imports);
	if (r == 0)
		r = tpl_puts(b, "\n# Parameters, checked by ledgerbox before this code was written.\n");
	if (r == 0)
		r = tpl_render_python_params(b, values, tpl_infos[i].n_params);
	if (r == 0)
		r = tpl_puts(b, "\nDATABASE = ");
	if (r == 0)
		r = tpl_render_database_uri(b, file_name);
	if (r == 0)
		r = tpl_puts(b, "\n\n");
	if (r == 0)
		r = tpl_puts(b, py_cents);
	return r < 0 ? r : tpl_puts(b, tpl_codes[i]->python);
}

static int refuse(char *err, size_t err_len, const char **ret_field, const char *field,
		  const char *what)
{
	snprintf(err, err_len, "%s", what);
	if (ret_field)
		*ret_field = field;
	return -EINVAL;
}

/* A file name in /data: one path component, not hidden. */
static bool file_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	return n > 0 && n <= 255 && name[0] != '.' && !strchr(name, '/');
}

static void unknown_template(const char *id, char *err, size_t err_len)
{
	char names[256];
	size_t len = 0;

	names[0] = '\0';
	for (size_t k = 0; k < tpl_count && len + 1 < sizeof(names); k++) {
		int n = snprintf(names + len, sizeof(names) - len, "%s%s", k ? ", " : "",
				 tpl_infos[k].id);
		if (n < 0)
			break;
		len += (size_t)n;
	}
	id = id ? id : "";
	snprintf(err, err_len, "no template named '%.*s'; the templates are: %s",
		 (int)utf8_cut(id, 64), id, names);
}

int template_build(const char *id, json_t *params, const char *language,
		   const char *sqlite_file_name, char **ret_code, char *err, size_t err_len,
		   const char **ret_field)
{
	struct tpl_value values[TPL_MAX_PARAMS];
	bool python = language && strcmp(language, "python") == 0;
	int i = tpl_index(id), r;
	struct buf b;

	if (i < 0) {
		unknown_template(id, err, err_len);
		if (ret_field)
			*ret_field = "template";
		return -ENOENT;
	}
	if (!python && !(language && strcmp(language, "sql") == 0))
		return refuse(err, err_len, ret_field, "language",
			      "language must be \"sql\" or \"python\"");
	if (python && !file_name_ok(sqlite_file_name))
		return refuse(err, err_len, ret_field, "dataset",
			      "the Python version of a template needs a dataset with a SQLite file");
	r = tpl_params_read((size_t)i, params, values, err, err_len, ret_field);
	if (r < 0)
		return r;
	buf_init(&b, CODE_MAX_BYTES);
	r = python ? build_python(&b, (size_t)i, values, sqlite_file_name)
		   : build_sql(&b, (size_t)i, values);
	if (r < 0) {
		buf_release(&b);
		snprintf(err, err_len, "cannot build template %s: %s", id, strerror(-r));
		return r;
	}
	*ret_code = buf_steal(&b, NULL);
	return 0;
}
