/*
 * csv_check: pass 1 of an import. Reads the whole CSV once, refuses it at
 * the first problem with the line where the bad record starts, and learns
 * the column names, their types and the row count.
 *
 * The delimiter is the uploader's or csv_sniff's; csv_column decides the
 * column types once every record was seen.
 *
 * Invariants:
 * - Every field of every record is checked: valid UTF-8, no NUL byte (SQLite
 *   and most tools cut text at a NUL), as many fields as the header.
 * - Column names are trimmed of blanks, non-empty, at most
 *   CSV_MAX_NAME_BYTES, free of control characters (they end up in SQL,
 *   JSON and messages) and unique ignoring ASCII case, because SQLite
 *   treats column names that way and would refuse the table later.
 * - Past max_rows data rows the check stops with -EFBIG.
 */
#include "datasets/internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "datasets/csv_parse.h"
#include "util/utf8.h"

#include "util/banned.h"

void csv_shape_release(struct csv_shape *shape)
{
	if (!shape)
		return;
	for (size_t i = 0; shape->names && i < shape->columns; i++)
		free(shape->names[i]);
	free(shape->names);
	free(shape->cols);
	memset(shape, 0, sizeof(*shape));
}

static int reader_error(const struct csv_reader *r, const struct csv_shape *shape, char *err,
			size_t err_len)
{
	uint64_t line = r->error_line;

	switch (r->error) {
	case CSV_ERR_UNTERMINATED:
		ds_err(err, err_len, "line %" PRIu64 ": unterminated quoted field", line);
		break;
	case CSV_ERR_AFTER_QUOTE:
		ds_err(err, err_len,
		       "line %" PRIu64 ": text after a closing quote (inside a quoted field, "
		       "write a quote as \"\")", line);
		break;
	case CSV_ERR_TOO_LONG:
		ds_err(err, err_len, "line %" PRIu64 ": record longer than %u bytes", line,
		       CSV_MAX_RECORD_BYTES);
		break;
	case CSV_ERR_TOO_MANY_FIELDS:
		if (shape->columns)
			ds_err(err, err_len,
			       "line %" PRIu64 " has more than %d fields where the header has %zu",
			       line, CSV_MAX_COLUMNS, shape->columns);
		else
			ds_err(err, err_len, "line %" PRIu64 ": more than %d columns", line,
			       CSV_MAX_COLUMNS);
		break;
	case CSV_ERR_NONE:
		ds_err(err, err_len, "line %" PRIu64 ": bad CSV", line);
		break;
	}
	return -EINVAL;
}

/* Valid UTF-8 without NUL bytes, in every field. */
static int check_text(const struct csv_record *rec, char *err, size_t err_len)
{
	for (size_t i = 0; i < rec->count; i++) {
		const struct csv_field *f = &rec->fields[i];
		char *repaired;
		size_t repaired_len;

		if (memchr(f->data, '\0', f->len)) {
			/* UTF-16 ("Unicode Text" in Excel) has a NUL in most characters. */
			ds_err(err, err_len,
			       "line %" PRIu64 ": field %zu holds a NUL byte (a file saved as UTF-16 "
			       "or Unicode text has them): save it as CSV UTF-8",
			       rec->line, i + 1);
			return -EINVAL;
		}
		if (utf8_sanitize(f->data, f->len, &repaired, &repaired_len) < 0)
			return -ENOMEM;
		if (repaired) {
			free(repaired);
			ds_err(err, err_len,
			       "line %" PRIu64 ": not valid UTF-8 (field %zu): save the file as CSV "
			       "UTF-8 (exports in Windows-1252 or Latin-1 must be converted)",
			       rec->line, i + 1);
			return -EINVAL;
		}
	}
	return 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* The trimmed name of column i (0-based), copied into shape->names[i]. */
static int header_name(const struct csv_record *rec, size_t i, struct csv_shape *shape,
		       char *err, size_t err_len)
{
	const char *s = rec->fields[i].data;
	size_t len = rec->fields[i].len;

	while (len > 0 && is_blank(s[0])) {
		s++;
		len--;
	}
	while (len > 0 && is_blank(s[len - 1]))
		len--;
	if (len == 0) {
		ds_err(err, err_len, "line %" PRIu64 ": column %zu has no name", rec->line, i + 1);
		return -EINVAL;
	}
	if (len > CSV_MAX_NAME_BYTES) {
		ds_err(err, err_len, "line %" PRIu64 ": column %zu's name is longer than %d bytes",
		       rec->line, i + 1, CSV_MAX_NAME_BYTES);
		return -EINVAL;
	}
	for (size_t j = 0; j < len; j++) {
		if ((unsigned char)s[j] < 0x20 || s[j] == 0x7f) {
			/* A tab in a name: most likely a tab-separated file read
			 * with the wrong delimiter. */
			ds_err(err, err_len,
			       "line %" PRIu64 ": column %zu's name holds a control character%s",
			       rec->line, i + 1,
			       s[j] == '\t' ? " (a tab: if the file is tab-separated, upload "
					      "with delimiter=tab)"
					    : "");
			return -EINVAL;
		}
	}
	/* Python would read the name as written: TABLE.csv gets the trimmed
	 * one, as SQL does. */
	if (len != rec->fields[i].len)
		shape->rewrite = true;
	shape->names[i] = strndup(s, len);
	return shape->names[i] ? 0 : -ENOMEM;
}

static int header_unique(const struct csv_shape *shape, uint64_t line, char *err,
			 size_t err_len)
{
	for (size_t i = 1; i < shape->columns; i++) {
		for (size_t j = 0; j < i; j++) {
			if (strcasecmp(shape->names[i], shape->names[j]) != 0)
				continue;
			ds_err(err, err_len,
			       "line %" PRIu64 ": column name \"%s\" appears twice (columns %zu "
			       "and %zu; names are compared ignoring case)",
			       line, shape->names[i], j + 1, i + 1);
			return -EINVAL;
		}
	}
	return 0;
}

static int check_header(const struct csv_record *rec, struct csv_shape *shape, char *err,
			size_t err_len)
{
	int rc = check_text(rec, err, err_len);

	if (rc < 0)
		return rc;
	shape->names = calloc(rec->count, sizeof(*shape->names));
	shape->cols = csv_columns_new(rec->count);
	if (!shape->names || !shape->cols)
		return -ENOMEM;
	csv_delimiter_splits(rec, shape->header_splits);
	shape->columns = rec->count;
	for (size_t i = 0; i < rec->count; i++) {
		rc = header_name(rec, i, shape, err, err_len);
		if (rc < 0)
			return rc;
	}
	return header_unique(shape, rec->line, err, err_len);
}

/* A record with another field count than the header; when another
 * delimiter would give both the same count, more than one, say so. */
static int wrong_count(const struct csv_record *rec, const struct csv_shape *shape, char *err,
		       size_t err_len)
{
	size_t splits[CSV_DELIMITERS], n;

	ds_err(err, err_len, "line %" PRIu64 " has %zu field%s where the header has %zu", rec->line,
	       rec->count, rec->count == 1 ? "" : "s", shape->columns);
	n = err ? strlen(err) : 0;
	csv_delimiter_splits(rec, splits);
	for (size_t d = 0; d < CSV_DELIMITERS; d++) {
		char c = csv_delimiter_at(d);
		if (c == shape->delimiter || splits[d] < 2 || splits[d] != shape->header_splits[d])
			continue;
		if (err && n + 1 < err_len)
			snprintf(err + n, err_len - n,
				 "; the file looks %s-separated: upload with delimiter=%s",
				 csv_delimiter_name(c), csv_delimiter_param(c));
		break;
	}
	return -EINVAL;
}

static int check_row(const struct csv_record *rec, struct csv_shape *shape, uint64_t max_rows,
		     char *err, size_t err_len)
{
	int rc;

	if (shape->rows >= max_rows) {
		ds_err(err, err_len, "more than %" PRIu64 " rows (LEDGERBOX_UPLOAD_MAX_ROWS)",
		       max_rows);
		return -EFBIG;
	}
	if (rec->count != shape->columns)
		return wrong_count(rec, shape, err, err_len);
	rc = check_text(rec, err, err_len);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < rec->count; i++)
		csv_column_add(&shape->cols[i], rec->fields[i].data, rec->fields[i].len, rec->line);
	shape->rows++;
	return 0;
}

static int check_records(struct csv_reader *r, struct csv_shape *shape, uint64_t max_rows,
			 char *err, size_t err_len)
{
	struct csv_record rec;
	int rc = csv_reader_next(r, &rec);

	if (rc == 0) {
		ds_err(err, err_len, "the upload is empty: its first line must be the header "
				     "(the column names)");
		return -EINVAL;
	}
	if (rc > 0)
		rc = check_header(&rec, shape, err, err_len);
	while (rc >= 0 && (rc = csv_reader_next(r, &rec)) > 0)
		rc = check_row(&rec, shape, max_rows, err, err_len);
	if (rc == -EINVAL && r->error != CSV_ERR_NONE)
		return reader_error(r, shape, err, err_len);
	if (rc == -EIO)
		ds_err(err, err_len, "cannot read the upload back: I/O error");
	return rc;
}

static int rewind_upload(FILE *in, char *err, size_t err_len)
{
	int rc;

	if (fseek(in, 0, SEEK_SET) == 0)
		return 0;
	rc = -errno;
	ds_err(err, err_len, "cannot read the upload back: %s", strerror(-rc));
	return rc;
}

/* The delimiter: the uploader's, or the one the first records show; what
 * they show is kept in *sniffed either way. */
static int choose_delimiter(FILE *in, const struct csv_options *opt, struct csv_shape *shape,
			    struct csv_sniffed *sniffed, char *err, size_t err_len)
{
	int rc = csv_sniff_delimiter(in, sniffed);

	if (rc == -EIO)
		ds_err(err, err_len, "cannot read the upload back: I/O error");
	if (rc < 0)
		return rc;
	shape->delimiter = opt->delimiter ? opt->delimiter : sniffed->pick;
	if (!opt->delimiter && sniffed->rival) {
		ds_err(err, err_len,
		       "the header and the first records split evenly both by %s (%zu fields) and "
		       "by %s (%zu fields), so the delimiter cannot be told: upload with "
		       "delimiter=%s or delimiter=%s",
		       csv_delimiter_name(sniffed->pick), sniffed->fields,
		       csv_delimiter_name(sniffed->rival), sniffed->rival_fields,
		       csv_delimiter_param(sniffed->pick), csv_delimiter_param(sniffed->rival));
		return -EINVAL;
	}
	return rewind_upload(in, err, err_len);
}

/* A delimiter= that makes the whole header one column, where another
 * delimiter splits every record evenly, is a mistake, not a one-column
 * table: refuse it rather than store "name,amount" as one text column. */
static int check_given_delimiter(const struct csv_shape *shape, const struct csv_options *opt,
				 const struct csv_sniffed *sniffed, char *err, size_t err_len)
{
	if (!opt->delimiter || shape->columns != 1 || sniffed->fit != 2 ||
	    sniffed->pick == opt->delimiter)
		return 0;
	ds_err(err, err_len,
	       "with delimiter=%s the header is one column (\"%s\"), but the file looks "
	       "%s-separated: upload with delimiter=%s or leave delimiter= out",
	       csv_delimiter_param(opt->delimiter), shape->names[0],
	       csv_delimiter_name(sniffed->pick), csv_delimiter_param(sniffed->pick));
	return -EINVAL;
}

int csv_check(FILE *in, uint64_t max_rows, const struct csv_options *opt, struct csv_shape *ret,
	      char *err, size_t err_len)
{
	struct csv_shape shape = { 0 };
	struct csv_sniffed sniffed;
	struct csv_reader r;
	int rc = rewind_upload(in, err, err_len);

	if (rc < 0)
		return rc;
	rc = choose_delimiter(in, opt, &shape, &sniffed, err, err_len);
	if (rc < 0)
		return rc;
	csv_reader_init(&r, in, CSV_MAX_RECORD_BYTES, CSV_MAX_COLUMNS);
	r.delimiter = shape.delimiter;
	rc = check_records(&r, &shape, max_rows, err, err_len);
	csv_reader_release(&r);
	if (rc == 0)
		rc = check_given_delimiter(&shape, opt, &sniffed, err, err_len);
	if (rc == 0)
		rc = csv_columns_resolve(&shape, opt, err, err_len);
	if (rc < 0) {
		if (rc == -ENOMEM)
			ds_err(err, err_len, "out of memory while reading the upload");
		csv_shape_release(&shape);
		return rc;
	}
	*ret = shape;
	return 0;
}
