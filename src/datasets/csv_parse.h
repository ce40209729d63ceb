/*
 * csv_parse: a streaming RFC 4180 record reader.
 *
 * Reads records one at a time from a FILE* (a file, or a buffer through
 * fmemopen), holding only the current record in memory. Accepts: fields
 * separated by ',', records ended by CRLF, LF or a lone CR; fields in
 * double quotes, which may hold ',', line breaks and doubled quotes ("");
 * the separator is ',' unless the caller sets `delimiter` after init
 * (';', '\t' or '|' for the exports that use them);
 * a UTF-8 byte order mark at the very start. Lines with nothing on them
 * are skipped (pandas' read_csv does the same, so Python and SQL see the
 * same rows), which also makes a trailing line break harmless. A quote
 * inside an unquoted field is kept as it is.
 *
 * Refused: a quoted field that never closes, text after a closing quote
 * (`"a"b`), a record over max_record_bytes or with over max_fields fields.
 * Line numbers are 1-based physical lines (LF, CRLF and lone CR each end
 * one), counted from the start of the input including inside quotes.
 */
#ifndef LEDGERBOX_CSV_PARSE_H
#define LEDGERBOX_CSV_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct csv_field {
	const char *data; /* NUL-terminated (a field may also hold NUL bytes) */
	size_t len;
};

struct csv_record {
	uint64_t line; /* where the record starts */
	size_t count;
	const struct csv_field *fields; /* valid until the next csv_reader_next() */
};

enum csv_error {
	CSV_ERR_NONE,
	CSV_ERR_UNTERMINATED,    /* a quoted field never closes */
	CSV_ERR_AFTER_QUOTE,     /* "a"b */
	CSV_ERR_TOO_LONG,        /* past max_record_bytes */
	CSV_ERR_TOO_MANY_FIELDS, /* past max_fields */
};

struct csv_reader {
	FILE *in;
	char delimiter; /* ',' from init; may be changed before the first read */
	size_t max_record_bytes;
	size_t max_fields;
	uint64_t line;
	int at_start; /* nothing read yet: a BOM may follow */
	unsigned char chunk[65536];
	size_t chunk_len, chunk_pos;
	char *data; /* the current record's fields, each followed by a NUL */
	size_t data_len, data_cap;
	size_t *ends; /* where each field's NUL is in data */
	struct csv_field *fields;
	size_t count, fields_cap;
	/* After -EINVAL: what was wrong and the line where its record starts. */
	enum csv_error error;
	uint64_t error_line;
};

/* Starts reading `in` (which the reader does not own) at its current
 * position. */
void csv_reader_init(struct csv_reader *r, FILE *in, size_t max_record_bytes,
		     size_t max_fields);
/* Reads the next record: 1 with *ret filled, 0 at the end of the input,
 * -EINVAL for bad CSV (r->error, r->error_line), -EIO, -ENOMEM. */
int csv_reader_next(struct csv_reader *r, struct csv_record *ret);
/* Frees the record buffers; accepts a reader that never read. */
void csv_reader_release(struct csv_reader *r);

#endif
