/*
 * csv_column: what each column of an upload becomes, and why.
 *
 * Pass 1 feeds every cell to csv_column_add(), which keeps counts and the
 * first example of each thing that matters (a value that reads differently
 * by decimal mark, a code with a leading zero, a value that is neither a
 * number nor a date). csv_columns_resolve() then decides, in this order:
 * 1. number (integer or real) when every value reads as a number with one
 *    decimal mark, none has a leading zero (codes such as 00123 keep it
 *    as text) and either all or none carry '%';
 * 2. date or datetime when every value is a date in one order, with one
 *    separator, all with or all without a time;
 * 3. text otherwise, never half-converted; the note says what stopped 1
 *    and 2 when some values looked like numbers or dates.
 * Empty cells are NULL in every column. Placeholders (N/A, -, null, ...,
 * and cells of blanks only) are NULL in number and date columns and text
 * elsewhere. A percent is stored as a fraction: 12.5% becomes 0.125.
 *
 * The decimal mark of a column whose values read either way ("1,234") is
 * decimal= when given, else the one every other column shows, else the
 * upload is refused naming the column.
 */
#include "datasets/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/banned.h"

static const char marks[2] = { '.', ',' };

#define WIDEST_EXACT (INT64_C(1) << 53) /* every whole number up to it is a double */

static const char *const placeholders[] = {
	"n/a", "na", "#n/a", "n.a.", "null", "none", "nil", "nan", "-", "--", "\xE2\x80\x94",
	"\xE2\x80\x93",
};

struct csv_column *csv_columns_new(size_t count)
{
	struct csv_column *cols = calloc(count ? count : 1, sizeof(*cols));

	for (size_t i = 0; cols && i < count; i++) {
		struct csv_column *c = &cols[i];
		c->number[0] = c->number[1] = c->integer[0] = c->integer[1] = true;
		c->date_orders = CSV_DATE_YMD | CSV_DATE_DMY | CSV_DATE_MDY;
		c->date_time = -1;
		c->type = CSV_TYPE_TEXT;
	}
	return cols;
}

static bool is_placeholder(const char *s, size_t len)
{
	for (size_t i = 0; i < sizeof(placeholders) / sizeof(placeholders[0]); i++) {
		if (strlen(placeholders[i]) == len && strncasecmp(s, placeholders[i], len) == 0)
			return true;
	}
	return len == 0;
}

/* Keeps the first example: its line and up to CSV_EXAMPLE_BYTES of it, cut
 * on a character boundary. */
static void example_keep(struct csv_example *e, const char *s, size_t len, uint64_t line)
{
	if (e->line)
		return;
	e->line = line;
	if (len > CSV_EXAMPLE_BYTES) {
		len = CSV_EXAMPLE_BYTES;
		while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
			len--;
	}
	memcpy(e->text, s, len);
	e->text[len] = '\0';
}

static unsigned separator_bit(int code)
{
	switch (code) {
	case ',':
		return 1;
	case '.':
		return 2;
	case ' ':
		return 4;
	case '\'':
		return 8;
	default:
		return 16; /* a no-break or thin space */
	}
}

/* Reads the cell as a number under both marks: whether it was one. */
static bool add_number(struct csv_column *c, const char *s, size_t len, uint64_t line)
{
	struct csv_num_cell cell;
	struct csv_number v[2];
	bool ok[2] = { false, false };

	if (!csv_number_split(s, len, &cell)) {
		c->number[0] = c->number[1] = false;
		return false;
	}
	for (int m = 0; m < 2; m++) {
		ok[m] = csv_number_value(&cell, marks[m], &v[m]);
		c->number[m] = c->number[m] && ok[m];
		c->integer[m] = c->integer[m] && ok[m] && v[m].integer;
		if (!ok[m])
			continue;
		c->fraction[m] = c->fraction[m] || v[m].fraction;
		if (v[m].separator)
			c->separators[m] |= separator_bit(v[m].separator);
		if (v[m].leading_zero)
			example_keep(&c->leading_zero, s, len, line);
		/* Past 2^53 a double no longer holds every whole number. */
		if (v[m].integer && (v[m].i > WIDEST_EXACT || v[m].i < -WIDEST_EXACT)) {
			c->wide[m] = true;
			example_keep(&c->wide_example, s, len, line);
		}
	}
	if (!ok[0] && !ok[1])
		return false;
	if (ok[0] && ok[1] && (v[0].integer != v[1].integer || v[0].d != v[1].d))
		example_keep(&c->ambiguous, s, len, line);
	c->numbers++;
	c->percents += cell.percent;
	c->parens += cell.parens;
	if (cell.currency >= 0 && cell.currency < CSV_CURRENCIES)
		c->currencies |= (uint64_t)1 << cell.currency;
	return true;
}

static bool add_date(struct csv_column *c, const char *s, size_t len, uint64_t line)
{
	struct csv_date_cell d;

	if (!csv_date_split(s, len, &d)) {
		c->date_orders = 0;
		return false;
	}
	if (c->date_time < 0) {
		c->date_sep = d.sep;
		c->date_time = d.time;
	}
	if (d.sep != c->date_sep || (int)d.time != c->date_time) {
		c->date_orders = 0;
		example_keep(&c->odd_date, s, len, line);
	}
	c->date_orders &= d.orders;
	c->dates++;
	return true;
}

void csv_column_add(struct csv_column *c, const char *s, size_t len, uint64_t line)
{
	const char *t = s;
	size_t tlen = len;
	bool number, date;

	if (len == 0) {
		c->empty++;
		return;
	}
	/* Plain integers, reals and ISO dates read the same anywhere. */
	if (!c->odd && csv_type_of(s, len) == CSV_TYPE_TEXT)
		c->odd = true;
	csv_trim(&t, &tlen);
	if (is_placeholder(t, tlen)) {
		if (c->holders < CSV_EXAMPLE_LINES)
			c->holder_lines[c->holders] = line;
		c->holders++;
		return;
	}
	c->values++;
	/* Once a column can be neither numbers nor dates, and its note has what
	 * it needs (a value that is one), the rest cannot change the decision. */
	if (c->other.line && !c->number[0] && !c->number[1] && c->date_orders == 0 &&
	    (c->numbers || c->dates))
		return;
	number = add_number(c, t, tlen, line);
	date = add_date(c, t, tlen, line);
	if (!number && !date)
		example_keep(&c->other, t, tlen, line);
}

/* ---- deciding ----------------------------------------------------------- */

/* The mark every column that shows one agrees on, or 0. */
static char file_decimal(const struct csv_shape *shape)
{
	bool seen[2] = { false, false };

	for (size_t i = 0; i < shape->columns; i++) {
		const struct csv_column *c = &shape->cols[i];
		if (c->values == 0 || c->numbers != c->values || c->leading_zero.line ||
		    c->number[0] == c->number[1])
			continue;
		seen[c->number[0] ? 0 : 1] = true;
	}
	return seen[0] == seen[1] ? 0 : seen[0] ? '.' : ',';
}

static void append(char *buf, size_t cap, const char *fmt, const char *arg)
{
	size_t used = strlen(buf);

	if (used < cap)
		snprintf(buf + used, cap - used, fmt, arg);
}

static void number_format(struct csv_column *c, int m)
{
	static const char *const seps[] = { "','", "'.'", "space", "apostrophe", "no-break space" };
	const char *lead = ", thousands ";

	snprintf(c->format, sizeof(c->format), "number");
	for (unsigned b = 0; b < 5; b++) {
		if (c->separators[m] & (1u << b)) {
			append(c->format, sizeof(c->format), "%s", lead);
			append(c->format, sizeof(c->format), "%s", seps[b]);
			lead = " and ";
		}
	}
	if (c->fraction[m])
		append(c->format, sizeof(c->format), ", decimal %s", m ? "','" : "'.'");
	lead = ", currency ";
	for (int i = 0; i < CSV_CURRENCIES; i++) {
		if (c->currencies & ((uint64_t)1 << i)) {
			append(c->format, sizeof(c->format), "%s", lead);
			append(c->format, sizeof(c->format), "%s", csv_currency_name(i));
			lead = " ";
		}
	}
	if (c->currencies & (c->currencies - 1))
		append(c->format, sizeof(c->format), "%s", " (mixed, not converted)");
	if (c->parens)
		append(c->format, sizeof(c->format), "%s", ", negatives in parentheses");
	if (c->percents)
		append(c->format, sizeof(c->format), "%s",
		       ", percent stored as a fraction (12.5% is 0.125)");
}

static int refuse_ambiguous(const struct csv_column *c, const char *name, char *err,
			    size_t err_len)
{
	ds_err(err, err_len,
	       "column \"%s\": \"%s\" (line %llu) could be a whole number with a thousands "
	       "separator or a decimal, and no other value or column shows which: upload with "
	       "decimal=. or decimal=,",
	       name, c->ambiguous.text, (unsigned long long)c->ambiguous.line);
	return -EINVAL;
}

/* 1: the column is numbers (c->type, decimal and format set); 0: not. */
static int resolve_number(struct csv_column *c, const char *name, const struct csv_options *opt,
			  char file_mark, char *err, size_t err_len)
{
	bool ok[2] = { c->number[0] && opt->decimal != ',', c->number[1] && opt->decimal != '.' };
	int m;

	if (c->values == 0 || c->numbers == 0)
		return 0;
	if (c->numbers == c->values && !ok[0] && !ok[1]) {
		snprintf(c->note, sizeof(c->note), opt->decimal
				 ? "text: not every value is a number with decimal mark '%c' "
				   "(decimal=%c)"
				 : "text: the values do not share one decimal mark ('.' or ',')",
			 opt->decimal, opt->decimal);
		return 0;
	}
	if (c->numbers != c->values || (!ok[0] && !ok[1]))
		return 0;
	if (c->leading_zero.line) {
		snprintf(c->note, sizeof(c->note),
			 "text: \"%s\" (line %llu) has a leading zero, so the column is kept as "
			 "written (codes such as zip codes or account numbers)",
			 c->leading_zero.text, (unsigned long long)c->leading_zero.line);
		return 0;
	}
	if (c->percents && c->percents != c->values) {
		snprintf(c->note, sizeof(c->note),
			 "text: %llu of %llu values end in '%%' and the others do not",
			 (unsigned long long)c->percents, (unsigned long long)c->values);
		return 0;
	}
	if (ok[0] && ok[1] && c->ambiguous.line) {
		if (!opt->decimal && !file_mark)
			return refuse_ambiguous(c, name, err, err_len);
		m = (opt->decimal ? opt->decimal : file_mark) == ',';
	} else {
		m = ok[0] ? 0 : 1;
	}
	if (c->wide[m] && !(c->integer[m] && !c->percents)) {
		snprintf(c->note, sizeof(c->note),
			 "text: \"%s\" (line %llu) is a whole number longer than a REAL keeps "
			 "exactly (beside the column's fractions), so the column is kept as written",
			 c->wide_example.text, (unsigned long long)c->wide_example.line);
		return 0;
	}
	c->decimal = marks[m];
	c->type = c->integer[m] && !c->percents ? CSV_TYPE_INTEGER : CSV_TYPE_REAL;
	number_format(c, m);
	return 1;
}

static void date_format(struct csv_column *c)
{
	/* The fields in the order written, by CSV_DATE_YMD, _DMY, _MDY. */
	static const char *const parts[3][3] = {
		{ "YYYY", "MM", "DD" },
		{ "DD", "MM", "YYYY" },
		{ "MM", "DD", "YYYY" },
	};
	int i = c->date_order == CSV_DATE_YMD ? 0 : c->date_order == CSV_DATE_DMY ? 1 : 2;
	const char *const *p = parts[i];

	snprintf(c->format, sizeof(c->format), "date %s%c%s%c%s%s, stored as YYYY-MM-DD%s", p[0],
		 c->date_sep, p[1], c->date_sep, p[2], c->date_time ? " HH:MM[:SS]" : "",
		 c->date_time ? " HH:MM:SS" : "");
}

/* 1: the column is dates; 0: not. */
static int resolve_date(struct csv_column *c, const struct csv_options *opt)
{
	unsigned o = c->date_orders;

	if (c->values == 0 || c->dates != c->values || o == 0)
		return 0;
	if (o & CSV_DATE_YMD) {
		c->date_order = CSV_DATE_YMD;
	} else if (o == (CSV_DATE_DMY | CSV_DATE_MDY)) {
		if (opt->dayfirst < 0) {
			snprintf(c->note, sizeof(c->note),
				 "text: every value is a date that reads both day-first and "
				 "month-first (such as 05%c06%cYYYY): upload with dayfirst=true or "
				 "dayfirst=false",
				 c->date_sep, c->date_sep);
			return 0;
		}
		c->date_order = opt->dayfirst ? CSV_DATE_DMY : CSV_DATE_MDY;
	} else {
		c->date_order = o;
	}
	c->type = c->date_time ? CSV_TYPE_DATETIME : CSV_TYPE_DATE;
	date_format(c);
	return 1;
}

/* Why a column that had numbers or dates in it stays text. */
static void text_note(struct csv_column *c)
{
	if (c->note[0] || (c->numbers == 0 && c->dates == 0))
		return;
	if (c->other.line)
		snprintf(c->note, sizeof(c->note),
			 "text: \"%s\" (line %llu) is neither a number nor a date, so nothing in "
			 "the column is converted",
			 c->other.text, (unsigned long long)c->other.line);
	else if (c->odd_date.line)
		snprintf(c->note, sizeof(c->note),
			 "text: \"%s\" (line %llu) is a date written differently from the "
			 "column's first one",
			 c->odd_date.text, (unsigned long long)c->odd_date.line);
	else
		snprintf(c->note, sizeof(c->note),
			 "text: the column mixes numbers and dates, or dates in different orders");
}

/* Numbers in several currencies are stored as written, not converted:
 * the note warns that a sum adds them as one. */
static void mixed_currency_note(struct csv_column *c)
{
	size_t n;

	if (!(c->currencies & (c->currencies - 1)))
		return;
	snprintf(c->note, sizeof(c->note), "warning: the values are in");
	for (int i = 0; i < CSV_CURRENCIES; i++) {
		if (c->currencies & ((uint64_t)1 << i))
			append(c->note, sizeof(c->note), " %s", csv_currency_name(i));
	}
	n = strlen(c->note);
	if (n < sizeof(c->note))
		snprintf(c->note + n, sizeof(c->note) - n,
			 ", stored as written and not converted: a sum or average adds "
			 "different currencies");
}

int csv_columns_resolve(struct csv_shape *shape, const struct csv_options *opt, char *err,
			size_t err_len)
{
	char mark = file_decimal(shape);

	shape->decimal = opt->decimal ? opt->decimal : mark;
	for (size_t i = 0; i < shape->columns; i++) {
		struct csv_column *c = &shape->cols[i];
		int rc = resolve_number(c, shape->names[i], opt, mark, err, err_len);

		if (rc < 0)
			return rc;
		if (rc == 0 && !c->note[0])
			rc = resolve_date(c, opt);
		if (rc == 0) {
			c->type = CSV_TYPE_TEXT;
			snprintf(c->format, sizeof(c->format), "text");
			text_note(c);
			continue;
		}
		c->note[0] = '\0';
		mixed_currency_note(c);
		c->nulled = c->holders;
		/* Under a decimal comma a '.' groups thousands: "1.234" is plain
		 * CSV for 1.234 but stored as 1234, so the column is not plain. */
		shape->rewrite = shape->rewrite || c->odd || c->decimal == ',';
	}
	shape->rewrite = shape->rewrite || shape->delimiter != ',';
	return 0;
}

json_t *csv_column_decision(const struct csv_column *c, const char *name)
{
	json_t *lines = json_array();
	json_t *d;

	for (uint64_t i = 0; lines && c->nulled && i < c->holders && i < CSV_EXAMPLE_LINES; i++)
		json_array_append_new(lines, json_integer((json_int_t)c->holder_lines[i]));
	d = json_pack("{s:s, s:s, s:s, s:I, s:I, s:o*}", "name", name, "type",
		      csv_type_name(c->type), "format", c->format, "empty", (json_int_t)c->empty,
		      "nulled", (json_int_t)c->nulled, "nulled_lines", lines);
	if (d && c->note[0] && json_object_set_new(d, "note", json_string(c->note)) < 0) {
		json_decref(d);
		return NULL;
	}
	return d;
}

/* ---- converting, in pass 2 ------------------------------------------------ */

static int number_value(const struct csv_column *c, const char *s, size_t len,
			struct csv_value *ret)
{
	struct csv_num_cell cell;
	struct csv_number v;

	if (!csv_number_split(s, len, &cell) || !csv_number_value(&cell, c->decimal, &v))
		return -EINVAL;
	if (c->type == CSV_TYPE_INTEGER) {
		if (!v.integer)
			return -EINVAL;
		ret->kind = CSV_VALUE_INTEGER;
		ret->i = v.i;
	} else {
		ret->kind = CSV_VALUE_REAL;
		ret->d = v.d;
	}
	return 0;
}

static int date_value(const struct csv_column *c, const char *s, size_t len,
		      struct csv_value *ret)
{
	struct csv_date_cell d;

	if (!csv_date_split(s, len, &d) || !(d.orders & c->date_order))
		return -EINVAL;
	ret->kind = CSV_VALUE_TEXT;
	ret->len = csv_date_iso(&d, c->date_order, ret->buf);
	ret->text = ret->buf;
	return ret->len ? 0 : -EINVAL;
}

int csv_column_value(const struct csv_column *c, const char *s, size_t len,
		     struct csv_value *ret)
{
	const char *t = s;
	size_t tlen = len;

	ret->kind = CSV_VALUE_NULL;
	if (len == 0)
		return 0;
	if (c->type == CSV_TYPE_TEXT || c->type == CSV_TYPE_EMPTY) {
		ret->kind = CSV_VALUE_TEXT;
		ret->text = s;
		ret->len = len;
		return 0;
	}
	csv_trim(&t, &tlen);
	if (is_placeholder(t, tlen))
		return 0;
	if (c->type == CSV_TYPE_INTEGER || c->type == CSV_TYPE_REAL)
		return number_value(c, t, tlen, ret);
	return date_value(c, t, tlen, ret);
}
