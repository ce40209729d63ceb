/*
 * csv_parse: see csv_parse.h for the accepted format.
 *
 * A byte-at-a-time state machine over a 64 KiB read buffer. States:
 * FIELD_START (nothing of the field read), UNQUOTED, QUOTED (inside
 * "..."), QUOTE_SEEN (a quote inside a quoted field: either the first half
 * of "" or the closing quote).
 *
 * Invariants:
 * - r->data holds the current record's fields back to back, each followed
 *   by a NUL at r->ends[i]; its length (NULs included) never passes
 *   max_record_bytes + 1.
 * - r->line is the physical line of the next unread byte.
 * - The field array handed out is rebuilt only when a record is complete,
 *   so its pointers stay valid however r->data moved while growing.
 */
#include "datasets/csv_parse.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

#define CSV_EOF (-1)
#define CSV_READ_ERROR (-2)

enum csv_state { FIELD_START, UNQUOTED, QUOTED, QUOTE_SEEN };

/* What one byte did to the record. */
enum csv_step { STEP_MORE, STEP_RECORD, STEP_BLANK_LINE };

void csv_reader_init(struct csv_reader *r, FILE *in, size_t max_record_bytes,
		     size_t max_fields)
{
	memset(r, 0, sizeof(*r));
	r->in = in;
	r->delimiter = ',';
	r->max_record_bytes = max_record_bytes;
	r->max_fields = max_fields;
	r->line = 1;
	r->at_start = 1;
}

void csv_reader_release(struct csv_reader *r)
{
	if (!r)
		return;
	free(r->data);
	free(r->ends);
	free(r->fields);
	r->data = NULL;
	r->ends = NULL;
	r->fields = NULL;
	r->data_cap = r->fields_cap = 0;
}

static int reader_fail(struct csv_reader *r, uint64_t line, enum csv_error why)
{
	r->error = why;
	r->error_line = line;
	return -EINVAL;
}

/* Makes sure a byte is buffered: 1, or 0 at the end, or -EIO. The BOM is
 * dropped here so that no state has to know about it. */
static int reader_fill(struct csv_reader *r)
{
	while (r->chunk_pos >= r->chunk_len) {
		r->chunk_len = fread(r->chunk, 1, sizeof(r->chunk), r->in);
		r->chunk_pos = 0;
		if (r->chunk_len == 0)
			return ferror(r->in) ? -EIO : 0;
		/* fread() returns short only at the end, so a BOM is never split. */
		if (r->at_start && r->chunk_len >= 3 && memcmp(r->chunk, "\xEF\xBB\xBF", 3) == 0)
			r->chunk_pos = 3;
		r->at_start = 0;
	}
	return 1;
}

static int reader_getc(struct csv_reader *r)
{
	int rc = reader_fill(r);

	if (rc <= 0)
		return rc == 0 ? CSV_EOF : CSV_READ_ERROR;
	return r->chunk[r->chunk_pos++];
}

/* After a CR: consumes the LF of a CRLF. 1 when there was one, else 0. */
static int reader_take_lf(struct csv_reader *r)
{
	int rc = reader_fill(r);

	if (rc <= 0)
		return rc;
	if (r->chunk[r->chunk_pos] != '\n')
		return 0;
	r->chunk_pos++;
	return 1;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem, size_t first)
{
	size_t n = *cap ? *cap : first;
	void *grown;

	while (n < need)
		n *= 2;
	grown = realloc(*p, n * elem);
	if (!grown)
		return -ENOMEM;
	*p = grown;
	*cap = n;
	return 0;
}

static int record_push(struct csv_reader *r, char c, uint64_t line)
{
	/* Counting the NULs too keeps the limit a bound on memory. */
	if (r->data_len >= r->max_record_bytes)
		return reader_fail(r, line, CSV_ERR_TOO_LONG);
	/* One byte of room stays for the NUL that ends the field. */
	if (r->data_len + 2 > r->data_cap &&
	    grow((void **)&r->data, &r->data_cap, r->data_len + 2, 1, 256) < 0)
		return -ENOMEM;
	r->data[r->data_len++] = c;
	return 0;
}

static int field_end(struct csv_reader *r, uint64_t line)
{
	if (r->count >= r->max_fields)
		return reader_fail(r, line, CSV_ERR_TOO_MANY_FIELDS);
	/* The NUL counts too: without this, a record of empty fields (",,,")
	 * would grow past the limit, which record_push() checks only for data
	 * bytes. After this NUL, data_len is at most max_record_bytes + 1. */
	if (r->data_len > r->max_record_bytes)
		return reader_fail(r, line, CSV_ERR_TOO_LONG);
	if (r->count >= r->fields_cap) {
		size_t cap = r->fields_cap;
		if (grow((void **)&r->ends, &cap, r->count + 1, sizeof(*r->ends), 16) < 0)
			return -ENOMEM;
		if (grow((void **)&r->fields, &r->fields_cap, r->count + 1, sizeof(*r->fields),
			 16) < 0)
			return -ENOMEM;
	}
	if (r->data_len + 1 > r->data_cap &&
	    grow((void **)&r->data, &r->data_cap, r->data_len + 1, 1, 256) < 0)
		return -ENOMEM;
	r->data[r->data_len] = '\0';
	r->ends[r->count++] = r->data_len++;
	return 0;
}

static int record_finish(struct csv_reader *r, uint64_t line, struct csv_record *ret)
{
	size_t start = 0;
	int rc = field_end(r, line);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < r->count; i++) {
		r->fields[i].data = r->data + start;
		r->fields[i].len = r->ends[i] - start;
		start = r->ends[i] + 1;
	}
	ret->line = line;
	ret->count = r->count;
	ret->fields = r->fields;
	return 1;
}

/* A byte inside quotes: everything is data but the quote. */
static int step_quoted(struct csv_reader *r, int c, enum csv_state *state, uint64_t line)
{
	int rc;

	if (c == '"') {
		*state = QUOTE_SEEN;
		return STEP_MORE;
	}
	rc = record_push(r, (char)c, line);
	if (rc < 0)
		return rc;
	if (c == '\r') {
		/* A CRLF inside quotes is kept whole and is one line break. */
		rc = reader_take_lf(r);
		if (rc == 1)
			rc = record_push(r, '\n', line);
		if (rc < 0)
			return rc;
	}
	if (c == '\r' || c == '\n')
		r->line++;
	return STEP_MORE;
}

/* A byte outside quotes (or right after a closing quote). */
static int step_plain(struct csv_reader *r, int c, enum csv_state *state, uint64_t line)
{
	int rc;

	if (c == r->delimiter) {
		*state = FIELD_START;
		rc = field_end(r, line);
		return rc < 0 ? rc : STEP_MORE;
	}
	if (c == '\r' || c == '\n') {
		if (c == '\r' && (rc = reader_take_lf(r)) < 0)
			return rc;
		r->line++;
		return *state == FIELD_START && r->count == 0 ? STEP_BLANK_LINE : STEP_RECORD;
	}
	if (*state == QUOTE_SEEN && c != '"')
		return reader_fail(r, line, CSV_ERR_AFTER_QUOTE);
	if (*state == FIELD_START && c == '"') {
		*state = QUOTED;
		return STEP_MORE;
	}
	/* A doubled quote after QUOTE_SEEN is one literal quote. */
	*state = *state == QUOTE_SEEN ? QUOTED : UNQUOTED;
	rc = record_push(r, (char)c, line);
	return rc < 0 ? rc : STEP_MORE;
}

/* The end of the input: the last record needs no line break. */
static int step_end(struct csv_reader *r, enum csv_state state, uint64_t line,
		    struct csv_record *ret)
{
	if (state == QUOTED)
		return reader_fail(r, line, CSV_ERR_UNTERMINATED);
	if (state == FIELD_START && r->count == 0)
		return 0;
	return record_finish(r, line, ret);
}

int csv_reader_next(struct csv_reader *r, struct csv_record *ret)
{
	enum csv_state state = FIELD_START;
	uint64_t line = r->line;

	r->data_len = 0;
	r->count = 0;
	for (;;) {
		int c = reader_getc(r), rc;

		if (c == CSV_READ_ERROR)
			return -EIO;
		if (c == CSV_EOF)
			return step_end(r, state, line, ret);
		if (state == QUOTED)
			rc = step_quoted(r, c, &state, line);
		else
			rc = step_plain(r, c, &state, line);
		if (rc < 0)
			return rc;
		if (rc == STEP_RECORD)
			return record_finish(r, line, ret);
		if (rc == STEP_BLANK_LINE)
			line = r->line;
	}
}
