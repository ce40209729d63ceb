/*
 * sql_text: small scanners over the raw query text. They do not parse SQL;
 * they only find where comments and blanks end, name leading keywords for
 * messages, and turn byte offsets into line/column for the analyst.
 *
 * Invariants: every function stays inside sql[0..len) (the text need not be
 * NUL-terminated) and returns an offset <= len. Comments follow SQLite's
 * tokenizer: `--` runs to the end of the line, an unterminated `/ *` runs to
 * the end of the text.
 */
#include "runners/sql_runner.h"

#include <ctype.h>

#include "util/banned.h"

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Offset just past the comment starting at `offset`, or `offset` when there
 * is no comment there. */
static size_t skip_comment(const char *sql, size_t len, size_t offset)
{
	size_t i = offset;

	if (i + 1 >= len)
		return offset;
	if (sql[i] == '-' && sql[i + 1] == '-') {
		while (i < len && sql[i] != '\n')
			i++;
		return i;
	}
	if (sql[i] == '/' && sql[i + 1] == '*') {
		for (i += 2; i + 1 < len; i++) {
			if (sql[i] == '*' && sql[i + 1] == '/')
				return i + 2;
		}
		return len;
	}
	return offset;
}

size_t sql_text_skip(const char *sql, size_t len, size_t offset, bool skip_semicolons)
{
	size_t i = offset;

	while (i < len) {
		size_t after;

		if (is_blank(sql[i]) || (skip_semicolons && sql[i] == ';')) {
			i++;
			continue;
		}
		after = skip_comment(sql, len, i);
		if (after == i)
			break;
		i = after;
	}
	return i;
}

void sql_text_position(const char *sql, size_t len, size_t offset, unsigned *ret_line,
		       unsigned *ret_column)
{
	unsigned line = 1, column = 1;

	if (offset > len)
		offset = len;
	for (size_t i = 0; i < offset; i++) {
		unsigned char c = (unsigned char)sql[i];

		if (c == '\n') {
			line++;
			column = 1;
		} else if ((c & 0xC0) != 0x80) {
			/* Continuation bytes belong to the character before. */
			column++;
		}
	}
	*ret_line = line;
	*ret_column = column;
}

size_t sql_text_word(const char *sql, size_t len, size_t *offset, char *buf, size_t buf_size)
{
	size_t i = sql_text_skip(sql, len, *offset, false);
	size_t n = 0;

	while (i < len && (isalpha((unsigned char)sql[i]) || sql[i] == '_')) {
		if (n + 1 < buf_size)
			buf[n] = (char)toupper((unsigned char)sql[i]);
		n++;
		i++;
	}
	/* A word too long for buf comes back empty so that a cut word can
	 * never look like a shorter keyword. */
	if (buf_size > 0)
		buf[n < buf_size ? n : 0] = '\0';
	*offset = i;
	return n;
}
