/*
 * csv_sniff: which of ',' ';' '\t' '|' separates the fields of an upload.
 *
 * The first SNIFF_BYTES of the file are split by each candidate, honouring
 * double quotes as the parser does (a delimiter or line break inside a
 * quoted field is data; a quote inside an unquoted field is text), into at
 * most SNIFF_RECORDS records after the header. A candidate fits when the
 * header has more than one field and every record sampled has as many; it
 * nearly fits when at least half of them do (a ragged line then gets its
 * own error under the right delimiter). A fit beats a near fit, then more
 * fields win, ties going to the earlier in the list. Two candidates that
 * both fit every record cannot be told apart ("Netto, EUR;Datum" over
 * "100,00;01.01.2025" splits in two either way): the second is reported
 * as the rival, and the upload must say which. A record cut off by the end
 * of the sample is not counted. When nothing fits, the file is read as
 * comma-separated and a wrong field count names the likely delimiter
 * (csv_delimiter_splits()).
 */
#include "datasets/internal.h"

#include "datasets/csv_parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

#define SNIFF_BYTES 65536
#define SNIFF_RECORDS 50

static const char candidates[CSV_DELIMITERS] = { ',', ';', '\t', '|' };

char csv_delimiter_at(size_t i)
{
	return i < CSV_DELIMITERS ? candidates[i] : ',';
}

const char *csv_delimiter_name(char d)
{
	return d == ';' ? "semicolon" : d == '\t' ? "tab" : d == '|' ? "pipe" : "comma";
}

const char *csv_delimiter_param(char d)
{
	return d == ';' ? ";" : d == '\t' ? "tab" : d == '|' ? "|" : ",";
}

struct sniff {
	size_t fields;  /* of the header */
	size_t rows;    /* records sampled after it */
	size_t matched; /* of those, with as many fields as the header */
};

static void sniff_record(struct sniff *s, size_t fields)
{
	if (s->fields == 0) {
		s->fields = fields;
		return;
	}
	s->matched += fields == s->fields;
	s->rows++;
}

/* Splits the sample by d, honouring quotes as the parser does: a quote
 * opens a quoted field only where the field starts ("1/2\"" is an inch,
 * not an opening quote), and inside one "" is a quote. The last record
 * counts only when the file ended there (whole). */
static void sniff_split(const char *buf, size_t len, bool whole, char d, struct sniff *s)
{
	size_t fields = 1;
	bool quoted = false, any = false, start = true, closed = false;

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < len && s->rows < SNIFF_RECORDS; i++) {
		char c = buf[i];
		if (quoted || (c == '"' && (start || closed))) {
			/* A quote closes the field; one right after reopens it (""). */
			closed = quoted && c == '"';
			quoted = !closed;
			start = false;
			any = true;
			continue;
		}
		closed = false;
		if (c != '\n' && c != '\r') {
			fields += c == d;
			start = c == d;
			any = true;
			continue;
		}
		start = true;
		if (!any)
			continue; /* a blank line, or the LF of a CRLF */
		sniff_record(s, fields);
		fields = 1;
		any = false;
	}
	if (whole && any && !quoted && s->rows < SNIFF_RECORDS)
		sniff_record(s, fields);
}

/* How well d fits: 2 when every record has the header's field count, 1
 * when most do, 0 when the header has one field or most records differ. */
static int sniff_fit(const struct sniff *s)
{
	if (s->fields < 2 || s->matched * 2 < s->rows)
		return 0;
	return s->matched == s->rows ? 2 : 1;
}

int csv_sniff_delimiter(FILE *in, struct csv_sniffed *ret)
{
	char *buf = malloc(SNIFF_BYTES);
	struct csv_sniffed best = { .pick = ',' };
	size_t len;

	if (!buf)
		return -ENOMEM;
	len = fread(buf, 1, SNIFF_BYTES, in);
	if (ferror(in)) {
		free(buf);
		return -EIO;
	}
	for (size_t i = 0; i < CSV_DELIMITERS; i++) {
		struct sniff s;
		int fit;
		sniff_split(buf, len, len < SNIFF_BYTES, candidates[i], &s);
		fit = sniff_fit(&s);
		if (fit == 2 && best.fit == 2) {
			/* Both split every record evenly: only the uploader knows. */
			if (!best.rival) {
				best.rival = candidates[i];
				best.rival_fields = s.fields;
			}
			continue;
		}
		/* A better fit wins, then more fields, then the earlier. */
		if (fit > best.fit || (fit == best.fit && fit > 0 && s.fields > best.fields)) {
			best.fit = fit;
			best.fields = s.fields;
			best.pick = candidates[i];
		}
	}
	free(buf);
	*ret = best;
	return 0;
}

void csv_delimiter_splits(const struct csv_record *rec, size_t ret[CSV_DELIMITERS])
{
	for (size_t d = 0; d < CSV_DELIMITERS; d++) {
		ret[d] = 1;
		for (size_t i = 0; i < rec->count; i++) {
			const struct csv_field *f = &rec->fields[i];
			for (size_t j = 0; j < f->len; j++)
				ret[d] += f->data[j] == candidates[d];
		}
	}
}
