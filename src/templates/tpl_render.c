/*
 * Rendering checked parameter values as literals: the only place where
 * values meet code. Numbers are printed as decimal digits; dates are
 * already YYYY-MM-DD; strings are quoted for the language (SQL doubles
 * single quotes; Python escapes backslash and double quote and writes every
 * non-ASCII character as \uXXXX, so the code stays ASCII). An absent
 * optional value is NULL or None.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "templates/internal.h"
#include "util/buf.h"

#include "util/banned.h"

int tpl_puts(struct buf *b, const char *s)
{
	int r = buf_append(b, s, strlen(s));

	if (r < 0)
		return r;
	return b->truncated ? -E2BIG : 0;
}

static int put_char(struct buf *b, char c)
{
	char s[2] = { c, '\0' };

	return tpl_puts(b, s);
}

static bool is_text_type(const struct template_param *p)
{
	return strcmp(p->type, "date") == 0 || strcmp(p->type, "string") == 0;
}

static int sql_literal(struct buf *b, const struct tpl_value *v)
{
	char num[32];
	int r;

	if (v->absent)
		return tpl_puts(b, "NULL");
	if (!is_text_type(v->param)) {
		snprintf(num, sizeof(num), "%lld", (long long)v->number);
		return tpl_puts(b, num);
	}
	r = put_char(b, '\'');
	for (const char *c = v->text; r == 0 && *c; c++)
		r = *c == '\'' ? tpl_puts(b, "''") : put_char(b, *c);
	return r < 0 ? r : put_char(b, '\'');
}

/* Decodes one UTF-8 sequence (the values were checked to be valid). */
static unsigned long next_code_point(const unsigned char **s)
{
	const unsigned char *p = *s;
	unsigned long cp;
	int more;

	if (p[0] < 0x80) {
		*s = p + 1;
		return p[0];
	}
	more = p[0] >= 0xf0 ? 3 : p[0] >= 0xe0 ? 2 : 1;
	cp = p[0] & (0x3fu >> more);
	for (int k = 1; k <= more; k++)
		cp = (cp << 6) | (p[k] & 0x3fu);
	*s = p + 1 + more;
	return cp;
}

static int python_string(struct buf *b, const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	int r = put_char(b, '"');

	while (r == 0 && *s) {
		unsigned long cp = next_code_point(&s);
		char esc[24];

		if (cp == '"' || cp == '\\') {
			esc[0] = '\\';
			esc[1] = (char)cp;
			esc[2] = '\0';
		} else if (cp >= 0x20 && cp < 0x7f) {
			esc[0] = (char)cp;
			esc[1] = '\0';
		} else if (cp <= 0xffff) {
			snprintf(esc, sizeof(esc), "\\u%04lx", cp);
		} else {
			snprintf(esc, sizeof(esc), "\\U%08lx", cp);
		}
		r = tpl_puts(b, esc);
	}
	return r < 0 ? r : put_char(b, '"');
}

static int python_literal(struct buf *b, const struct tpl_value *v)
{
	char num[32];

	if (v->absent)
		return tpl_puts(b, "None");
	if (!is_text_type(v->param)) {
		snprintf(num, sizeof(num), "%lld", (long long)v->number);
		return tpl_puts(b, num);
	}
	return python_string(b, v->text);
}

int tpl_render_sql_params(struct buf *b, const struct tpl_value *values, size_t n)
{
	int r = tpl_puts(b, "WITH params AS (\n  SELECT ");

	if (n == 0 && r == 0)
		r = tpl_puts(b, "NULL AS \"none\"");
	for (size_t k = 0; r == 0 && k < n; k++) {
		/* Names are the catalogue's own; quoted because "limit" is a keyword. */
		r = tpl_puts(b, k ? ", " : "");
		if (r == 0)
			r = sql_literal(b, &values[k]);
		if (r == 0)
			r = tpl_puts(b, " AS \"");
		if (r == 0)
			r = tpl_puts(b, values[k].param->name);
		if (r == 0)
			r = put_char(b, '"');
	}
	return r < 0 ? r : tpl_puts(b, "\n),\n");
}

int tpl_render_python_params(struct buf *b, const struct tpl_value *values, size_t n)
{
	int r = 0;

	for (size_t k = 0; r == 0 && k < n; k++) {
		r = tpl_puts(b, values[k].param->name);
		if (r == 0)
			r = tpl_puts(b, " = ");
		if (r == 0)
			r = python_literal(b, &values[k]);
		if (r == 0)
			r = put_char(b, '\n');
	}
	return r;
}

/* Bytes that need no escaping in a URI path nor in a Python string. */
static bool uri_plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-' || c == '~';
}

int tpl_render_database_uri(struct buf *b, const char *file_name)
{
	int r = tpl_puts(b, "\"file:/data/");

	/* SQLite decodes %HH in a URI's path, so any file name survives. */
	for (const unsigned char *c = (const unsigned char *)file_name; r == 0 && *c; c++) {
		char esc[4];

		if (uri_plain(*c)) {
			r = put_char(b, (char)*c);
		} else {
			snprintf(esc, sizeof(esc), "%%%02X", *c);
			r = tpl_puts(b, esc);
		}
	}
	return r < 0 ? r : tpl_puts(b, "?mode=ro&immutable=1\"");
}
