/*
 * fuzz_csv_import: the CSV record reader (src/datasets/csv_parse.h), the
 * value types (csv_types.c) and pass 1 of an upload (csv_check), which
 * together read every uploaded dataset.
 *
 * Input: byte 0 picks max_record_bytes (bits 0-1) and max_fields (bits
 * 2-3); the rest is the CSV. A hash of the whole input picks, for one
 * input in 64, a second parse with the reader's 64 KiB read boundary
 * moved into the CSV, and where it falls. That parse reads 64 KiB of
 * padding byte by byte, hence the rarity; a hash rather than a flag byte
 * so that mutations do not breed a corpus of slow inputs.
 *
 * Checked, from csv_parse.h and internal.h:
 * - each record has 1 to max_fields fields, each NUL-terminated at its
 *   length, together within max_record_bytes (counting one NUL each);
 *   lines start at 1 and never go back; a refused CSV names a reason and a
 *   line; the end of the input stays the end;
 * - chunk boundaries do not matter: the CSV behind 65536 - k blank lines
 *   (so the reader's second read starts k bytes into it) gives the same
 *   records, errors and line numbers shifted by the blank lines;
 * - writing the records back out with every field quoted and reading
 *   that gives the same fields;
 * - each value's type matches its text (an integer's digits read back
 *   exactly, a real is finite, a date is YYYY-MM-DD); a value read as an
 *   export writes numbers is finite under either decimal mark, and a date
 *   in any order comes out as ISO 8601 of 10 or 19 bytes;
 * - csv_check's column names (at the reader's real limits, comma given)
 *   agree with what the records say; it refuses a CSV the records accept
 *   only for a column whose decimal mark cannot be told; and every value
 *   of a column it typed converts to that type (what pass 2 relies on),
 *   and the plain CSV written from those values reads back with the same
 *   shape and plain numbers in the number columns.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <strings.h>

#include "datasets/csv_parse.h"
#include "datasets/internal.h"
#include "fuzz.h"
#include "util/utf8.h"
#include "util/banned.h"

#define READ_CHUNK 65536 /* sizeof(struct csv_reader.chunk) */

struct limits {
	size_t max_record_bytes, max_fields;
};

/* What one parse saw. */
struct parse {
	struct fuzz_log fields;  /* every field, records marked by their count */
	struct fuzz_log lines;   /* each record's line */
	int rc;                  /* 0 at the end, or the error */
	enum csv_error error;
	uint64_t error_line;
	size_t records;
	/* For the comparison with csv_check, at the real limits only. */
	struct csv_shape shape;
	bool shape_ok;           /* the rules csv_check applies all held */
};

static FILE *open_text(const char *text, size_t len)
{
	/* fmemopen() refuses an empty buffer; /dev/null is the empty file. */
	FILE *f = len ? fmemopen((void *)text, len, "r") : fopen("/dev/null", "re");

	FUZZ_ASSERT(f != NULL);
	return f;
}

static void check_integer(const char *s, size_t len)
{
	int64_t v;
	char text[32], want[32];
	size_t i = 0, n = 0;
	bool negative = s[0] == '-';

	FUZZ_ASSERT(csv_parse_int64(s, len, &v));
	if (s[0] == '+' || s[0] == '-')
		i = 1;
	while (i + 1 < len && s[i] == '0')
		i++;
	/* The digits without sign and leading zeros, with '-' unless zero. */
	if (negative && !(len - i == 1 && s[i] == '0'))
		want[n++] = '-';
	FUZZ_ASSERT(len - i < sizeof(want) - n);
	memcpy(want + n, s + i, len - i);
	want[n + len - i] = '\0';
	snprintf(text, sizeof(text), "%" PRId64, v);
	FUZZ_ASSERT(strcmp(text, want) == 0);
}

static void check_type(const char *s, size_t len)
{
	enum csv_type t = csv_type_of(s, len);
	double d;
	int64_t v;

	FUZZ_ASSERT((t == CSV_TYPE_EMPTY) == (len == 0));
	FUZZ_ASSERT(csv_type_name(t) != NULL && csv_type_sql(t) != NULL);
	switch (t) {
	case CSV_TYPE_INTEGER:
		check_integer(s, len);
		break;
	case CSV_TYPE_REAL:
		FUZZ_ASSERT(!csv_parse_int64(s, len, &v));
		FUZZ_ASSERT(csv_parse_real(s, len, &d) && isfinite(d));
		FUZZ_ASSERT(strpbrk(s, ".eE") != NULL);
		break;
	case CSV_TYPE_DATE:
		FUZZ_ASSERT(len == 10 && s[4] == '-' && s[7] == '-');
		break;
	case CSV_TYPE_DATETIME: /* only csv_column decides that */
		FUZZ_ASSERT(false);
		break;
	case CSV_TYPE_EMPTY:
	case CSV_TYPE_TEXT:
		break;
	}
}

/* The wide readings of csv_number.c and csv_date.c. */
static void check_wide(const char *s, size_t len)
{
	struct csv_num_cell cell;
	struct csv_number v;
	struct csv_date_cell d;
	char iso[CSV_DATE_ISO_MAX];

	if (csv_number_split(s, len, &cell)) {
		FUZZ_ASSERT(cell.core_len > 0 && cell.core >= s && cell.core + cell.core_len <= s + len);
		for (int m = 0; m < 2; m++) {
			if (csv_number_value(&cell, m ? ',' : '.', &v))
				FUZZ_ASSERT(isfinite(v.d) && (!v.integer || v.d == (double)v.i));
		}
	}
	if (csv_date_split(s, len, &d)) {
		for (unsigned o = CSV_DATE_YMD; o <= CSV_DATE_MDY; o <<= 1) {
			size_t n;
			if (!(d.orders & o))
				continue;
			n = csv_date_iso(&d, o, iso);
			FUZZ_ASSERT(n == (d.time ? 19u : 10u) && iso[4] == '-' && iso[7] == '-');
		}
	}
}

/* Trimmed as csv_check trims a header name. */
static char *name_of(const struct csv_field *f)
{
	const char *s = f->data;
	size_t len = f->len;

	while (len > 0 && strchr(" \t\r\n\v\f", s[0]) && s[0])
		s++, len--;
	while (len > 0 && strchr(" \t\r\n\v\f", s[len - 1]) && s[len - 1])
		len--;
	return fuzz_dup_str(s, len);
}

static bool field_text_ok(const struct csv_field *f)
{
	char *repaired = NULL;
	size_t n;

	if (memchr(f->data, '\0', f->len))
		return false;
	FUZZ_ASSERT(utf8_sanitize(f->data, f->len, &repaired, &n) == 0);
	free(repaired);
	return repaired == NULL;
}

/* The header as csv_check should see it; false when it breaks a rule. */
static bool shape_header(struct parse *p, const struct csv_record *rec)
{
	struct csv_shape *sh = &p->shape;

	sh->columns = rec->count;
	sh->names = calloc(rec->count, sizeof(*sh->names));
	FUZZ_ASSERT(sh->names);
	for (size_t i = 0; i < rec->count; i++) {
		sh->names[i] = name_of(&rec->fields[i]);
		if (!field_text_ok(&rec->fields[i]) || !sh->names[i][0] ||
		    strlen(sh->names[i]) > CSV_MAX_NAME_BYTES)
			return false;
		for (const char *c = sh->names[i]; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				return false;
		for (size_t j = 0; j < i; j++)
			if (strcasecmp(sh->names[i], sh->names[j]) == 0)
				return false;
	}
	return true;
}

static bool shape_row(struct parse *p, const struct csv_record *rec)
{
	if (rec->count != p->shape.columns)
		return false;
	for (size_t i = 0; i < rec->count; i++) {
		if (!field_text_ok(&rec->fields[i]))
			return false;
	}
	p->shape.rows++;
	return true;
}

static void check_record(const struct limits *lim, const struct csv_record *rec,
			 uint64_t last_line, const struct csv_reader *r)
{
	size_t bytes = 0;

	FUZZ_ASSERT(rec->count >= 1 && rec->count <= lim->max_fields);
	FUZZ_ASSERT(rec->line >= 1 && rec->line >= last_line && rec->line <= r->line);
	for (size_t i = 0; i < rec->count; i++) {
		FUZZ_ASSERT(rec->fields[i].data[rec->fields[i].len] == '\0');
		bytes += rec->fields[i].len + 1;
		check_type(rec->fields[i].data, rec->fields[i].len);
		check_wide(rec->fields[i].data, rec->fields[i].len);
	}
	FUZZ_ASSERT(bytes <= lim->max_record_bytes + 1);
}

static void parse_text(const char *text, size_t len, const struct limits *lim, bool shape,
		       struct parse *p)
{
	FILE *f = open_text(text, len);
	struct csv_reader r;
	struct csv_record rec;
	uint64_t last_line = 1;

	memset(p, 0, sizeof(*p));
	p->shape_ok = shape;
	csv_reader_init(&r, f, lim->max_record_bytes, lim->max_fields);
	while ((p->rc = csv_reader_next(&r, &rec)) == 1) {
		check_record(lim, &rec, last_line, &r);
		last_line = rec.line;
		fuzz_log_add_u64(&p->fields, rec.count);
		for (size_t i = 0; i < rec.count; i++)
			fuzz_log_add(&p->fields, rec.fields[i].data, rec.fields[i].len);
		fuzz_log_add_u64(&p->lines, rec.line);
		if (p->shape_ok)
			p->shape_ok = p->records ? shape_row(p, &rec) : shape_header(p, &rec);
		p->records++;
	}
	FUZZ_ASSERT(p->rc == 0 || p->rc == -EINVAL);
	if (p->rc == 0) {
		/* The end stays the end. */
		FUZZ_ASSERT(csv_reader_next(&r, &rec) == 0);
	} else {
		FUZZ_ASSERT(r.error != CSV_ERR_NONE);
		FUZZ_ASSERT(r.error_line >= 1 && r.error_line >= last_line && r.error_line <= r.line);
		p->error = r.error;
		p->error_line = r.error_line;
	}
	csv_reader_release(&r);
	csv_reader_release(&r);
	fclose(f);
}

static void parse_release(struct parse *p)
{
	fuzz_log_release(&p->fields);
	fuzz_log_release(&p->lines);
	csv_shape_release(&p->shape);
}

/* The CSV behind `blank` LFs: its byte k starts the reader's second read. */
static void check_boundary(const char *text, size_t len, size_t k, const struct limits *lim,
			   const struct parse *direct)
{
	size_t skip = len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
	size_t blank = READ_CHUNK - k % (len - skip + 1);
	char *padded = fuzz_alloc(blank + len - skip);
	struct parse p;
	struct fuzz_log lines = { 0 };
	uint64_t line;

	/* A BOM counts only at the very start, so the padded copy drops it. */
	memset(padded, '\n', blank);
	memcpy(padded + blank, text + skip, len - skip);
	parse_text(padded, blank + len - skip, lim, false, &p);
	FUZZ_ASSERT(p.rc == direct->rc && p.records == direct->records);
	FUZZ_ASSERT(fuzz_log_equal(&p.fields, &direct->fields));
	for (size_t at = 0; at < direct->lines.len; at += sizeof(size_t) + sizeof(line)) {
		memcpy(&line, direct->lines.data + at + sizeof(size_t), sizeof(line));
		fuzz_log_add_u64(&lines, line + blank);
	}
	FUZZ_ASSERT(fuzz_log_equal(&p.lines, &lines));
	if (p.rc < 0)
		FUZZ_ASSERT(p.error == direct->error && p.error_line == direct->error_line + blank);
	fuzz_log_release(&lines);
	parse_release(&p);
	free(padded);
}

/* Writes fields logged as (count, field...) back as CSV, every field quoted. */
static char *csv_write(const struct fuzz_log *fields, size_t *ret_len)
{
	char *out = fuzz_alloc(2 * fields->len + 16);
	size_t n = 0, at = 0;

	while (at < fields->len) {
		uint64_t count;
		size_t len;
		memcpy(&count, fields->data + at + sizeof(size_t), sizeof(count));
		at += sizeof(size_t) + sizeof(count);
		for (uint64_t i = 0; i < count; i++) {
			memcpy(&len, fields->data + at, sizeof(len));
			at += sizeof(len);
			out[n++] = '"';
			for (size_t j = 0; j < len; j++) {
				if (fields->data[at + j] == '"')
					out[n++] = '"';
				out[n++] = fields->data[at + j];
			}
			out[n++] = '"';
			out[n++] = i + 1 < count ? ',' : '\n';
			at += len;
		}
	}
	*ret_len = n;
	return out;
}

static void check_round_trip(const struct limits *lim, const struct parse *direct)
{
	size_t len;
	char *text = csv_write(&direct->fields, &len);
	struct parse p;

	parse_text(text, len, lim, false, &p);
	FUZZ_ASSERT(p.rc == 0 && p.records == direct->records);
	FUZZ_ASSERT(fuzz_log_equal(&p.fields, &direct->fields));
	parse_release(&p);
	free(text);
}

/* The plain CSV pass 2 writes reads back as plain CSV: the header and
 * as many fields per record, and each number column's values plain
 * numbers (or empty). */
static void check_plain(const char *plain, size_t len, const struct csv_shape *shape)
{
	FILE *f = open_text(plain, len);
	struct csv_reader r;
	struct csv_record rec;
	uint64_t records = 0;

	csv_reader_init(&r, f, SIZE_MAX, SIZE_MAX);
	while (csv_reader_next(&r, &rec) == 1) {
		FUZZ_ASSERT(rec.count == shape->columns);
		for (size_t i = 0; records > 0 && i < rec.count; i++) {
			enum csv_type t = csv_type_of(rec.fields[i].data, rec.fields[i].len);
			if (shape->cols[i].type == CSV_TYPE_INTEGER)
				FUZZ_ASSERT(t == CSV_TYPE_INTEGER || t == CSV_TYPE_EMPTY);
			if (shape->cols[i].type == CSV_TYPE_REAL)
				FUZZ_ASSERT(t == CSV_TYPE_REAL || t == CSV_TYPE_EMPTY);
		}
		records++;
	}
	FUZZ_ASSERT(r.error == CSV_ERR_NONE && records == shape->rows + 1);
	csv_reader_release(&r);
	fclose(f);
}

/* Every value of every data record converts to its column's type, and
 * written out as plain CSV reads back so. */
static void check_values(const char *text, size_t len, const struct csv_shape *shape)
{
	FILE *f = open_text(text, len);
	struct csv_reader r;
	struct csv_record rec;
	struct csv_value v;
	uint64_t rows = 0;
	char *plain = NULL;
	size_t plain_len = 0;
	FILE *out = open_memstream(&plain, &plain_len);

	FUZZ_ASSERT(out != NULL);
	csv_write_header(out, shape);
	csv_reader_init(&r, f, CSV_MAX_RECORD_BYTES, CSV_MAX_COLUMNS);
	FUZZ_ASSERT(csv_reader_next(&r, &rec) == 1);
	while (csv_reader_next(&r, &rec) == 1) {
		FUZZ_ASSERT(rec.count == shape->columns);
		for (size_t i = 0; i < rec.count; i++) {
			const struct csv_column *c = &shape->cols[i];
			FUZZ_ASSERT(csv_column_value(c, rec.fields[i].data, rec.fields[i].len, &v) == 0);
			if (v.kind == CSV_VALUE_INTEGER)
				FUZZ_ASSERT(c->type == CSV_TYPE_INTEGER);
			if (v.kind == CSV_VALUE_REAL)
				FUZZ_ASSERT(c->type == CSV_TYPE_REAL && isfinite(v.d));
			csv_write_value(out, &v, i, shape->columns);
		}
		fputc('\n', out);
		rows++;
	}
	FUZZ_ASSERT(rows == shape->rows);
	csv_reader_release(&r);
	fclose(f);
	FUZZ_ASSERT(fclose(out) == 0);
	check_plain(plain, plain_len, shape);
	free(plain);
}

/* csv_check at the reader's real limits, against what the records say. */
static void check_upload(const char *text, size_t len, const struct parse *p)
{
	static const struct csv_options comma = { ',', 0, -1 };
	FILE *f = open_text(text, len);
	struct csv_shape shape = { 0 };
	char err[512] = "";
	int rc = csv_check(f, UINT64_MAX, &comma, &shape, err, sizeof(err));

	fclose(f);
	FUZZ_ASSERT(rc == 0 || rc == -EINVAL);
	if (rc < 0) {
		FUZZ_ASSERT(err[0] != '\0' && shape.names == NULL);
		/* When every record was fine, only two refusals remain: a
		 * column whose decimal mark cannot be told, and the given
		 * delimiter making the header one column where another one
		 * splits every record. */
		FUZZ_ASSERT(!(p->rc == 0 && p->shape_ok && p->records > 0) ||
			    strncmp(err, "column \"", 8) == 0 ||
			    (p->shape.columns == 1 &&
			     strncmp(err, "with delimiter=, the header is one column", 41) == 0));
		return;
	}
	FUZZ_ASSERT(p->rc == 0 && p->shape_ok && p->records == shape.rows + 1);
	FUZZ_ASSERT(shape.columns == p->shape.columns);
	for (size_t i = 0; i < shape.columns; i++)
		FUZZ_ASSERT(strcmp(shape.names[i], p->shape.names[i]) == 0);
	check_values(text, len, &shape);
	csv_shape_release(&shape);
}

/* FNV-1a: spreads every byte of the input over the result. */
static uint32_t input_hash(const uint8_t *data, size_t size)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	return h;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	csv_reader_release(NULL);
	csv_shape_release(NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t record_bytes[4] = { 8, 64, 4096, CSV_MAX_RECORD_BYTES };
	static const size_t fields[4] = { 1, 3, 64, CSV_MAX_COLUMNS };
	struct limits lim;
	struct parse direct;
	const char *text = (const char *)data + 1;
	uint32_t hash = input_hash(data, size);
	size_t len;
	bool real_limits;

	if (size < 1)
		return 0;
	len = size - 1;
	lim.max_record_bytes = record_bytes[data[0] & 3];
	lim.max_fields = fields[(data[0] >> 2) & 3];
	real_limits = lim.max_record_bytes == CSV_MAX_RECORD_BYTES && lim.max_fields == CSV_MAX_COLUMNS;

	parse_text(text, len, &lim, real_limits, &direct);
	if (hash % 64 == 0)
		check_boundary(text, len, (size_t)(hash >> 6) & 0xffff, &lim, &direct);
	if (direct.rc == 0)
		check_round_trip(&lim, &direct);
	if (real_limits)
		check_upload(text, len, &direct);
	parse_release(&direct);
	return 0;
}
