/*
 * csv_write: the CSV Python reads, holding the values SQL sees.
 *
 * When an upload was not plain comma-separated CSV with plain numbers
 * (csv_shape.rewrite), pass 2 writes TABLE.csv again from the converted
 * values, so pd.read_csv("/data/TABLE.csv") with no options gives the same
 * numbers, dates and NULLs as the SQLite table: ',' between fields, LF
 * after each record, the trimmed header names, integers in decimal, reals
 * in the shortest form that reads back to the same double, dates as ISO
 * text, NULL as an empty field ("" when it is the only column, since a
 * blank line is no record). A field is quoted when it holds ',', '"',
 * CR or LF, starts or ends with a blank (which readers may trim) or starts
 * with U+FEFF (a byte order mark at the start of the file), with '"'
 * doubled.
 */
#include "datasets/internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

static bool needs_quotes(const char *s, size_t len)
{
	if (len > 0 && (s[0] == ' ' || s[0] == '\t' || s[len - 1] == ' ' || s[len - 1] == '\t'))
		return true;
	/* U+FEFF first in the file would be read as a byte order mark. */
	if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		return true;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
			return true;
	}
	return false;
}

static void write_text(FILE *out, const char *s, size_t len)
{
	if (!needs_quotes(s, len)) {
		fwrite(s, 1, len, out);
		return;
	}
	fputc('"', out);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"')
			fputc('"', out);
		fputc(s[i], out);
	}
	fputc('"', out);
}

/* The shortest of %.15g, %.16g, %.17g that reads back as d. */
static void write_real(FILE *out, double d)
{
	char text[32];

	for (int digits = 15; digits <= 17; digits++) {
		snprintf(text, sizeof(text), "%.*g", digits, d);
		if (strtod(text, NULL) == d)
			break;
	}
	/* A whole real keeps a point, so a reader still sees a real. */
	fputs(text, out);
	if (!strpbrk(text, ".eEn"))
		fputs(".0", out);
}

void csv_write_value(FILE *out, const struct csv_value *v, size_t index, size_t columns)
{
	if (index > 0)
		fputc(',', out);
	switch (v->kind) {
	case CSV_VALUE_NULL:
		/* Alone on its line, an empty field would be a blank line, which
		 * readers skip: the row would be lost. */
		if (columns == 1)
			fputs("\"\"", out);
		break;
	case CSV_VALUE_INTEGER:
		fprintf(out, "%" PRId64, v->i);
		break;
	case CSV_VALUE_REAL:
		write_real(out, v->d);
		break;
	case CSV_VALUE_TEXT:
		write_text(out, v->text, v->len);
		break;
	}
}

void csv_write_header(FILE *out, const struct csv_shape *shape)
{
	for (size_t i = 0; i < shape->columns; i++) {
		if (i)
			fputc(',', out);
		write_text(out, shape->names[i], strlen(shape->names[i]));
	}
	fputc('\n', out);
}
