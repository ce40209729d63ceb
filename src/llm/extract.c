/*
 * extract: picks the code block out of a model's Markdown reply (see
 * extract.h).
 *
 * The reply is read line by line once; each fenced block is recorded as a
 * byte range of its code lines plus the opening fence's indentation, and
 * the chosen range is then copied. Copying only ever drops whole blank
 * lines at either end, the last line break and (for an indented fence)
 * leading indentation up to the fence's, so code bytes are never rewritten.
 */
#include "llm/extract.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/banned.h"

#define INFO_WORD_MAX 32

struct line {
	const char *start;
	size_t len;  /* without the line break */
	size_t next; /* offset of the following line */
};

struct block {
	size_t from, to; /* code lines: reply[from..to) */
	size_t indent;	 /* leading blanks of the opening fence */
	char info[INFO_WORD_MAX]; /* first word of the info string, lower case */
	bool found;
};

struct fence {
	char c;	       /* '`' or '~' */
	size_t n;      /* how many */
	size_t indent; /* leading blanks before it */
	const char *info;
	size_t info_len;
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_blank_char(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static struct line line_at(const char *text, size_t len, size_t at)
{
	const char *nl = memchr(text + at, '\n', len - at);
	struct line l = { text + at, nl ? (size_t)(nl - text) - at : len - at, 0 };

	l.next = nl ? (size_t)(nl - text) + 1 : len;
	return l;
}

/* The line without a trailing CR and trailing blanks. */
static size_t trimmed_len(const struct line *l)
{
	size_t n = l->len;

	while (n > 0 && is_blank_char(l->start[n - 1]))
		n--;
	return n;
}

/* Is the line a fence? Fills f (info for an opening fence). */
static bool fence_parse(const struct line *l, struct fence *f)
{
	size_t i = 0, end = trimmed_len(l);

	while (i < end && is_space(l->start[i]))
		i++;
	f->indent = i;
	if (i == end || (l->start[i] != '`' && l->start[i] != '~'))
		return false;
	f->c = l->start[i];
	f->n = 0;
	while (i < end && l->start[i] == f->c) {
		f->n++;
		i++;
	}
	while (i < end && is_space(l->start[i]))
		i++;
	f->info = l->start + i;
	f->info_len = end - i;
	/* "```x```" on one line is inline code, not a fence. */
	return f->n >= 3 && !(f->c == '`' && memchr(f->info, '`', f->info_len));
}

static bool fence_closes(const struct line *l, const struct fence *open)
{
	struct fence f;

	return fence_parse(l, &f) && f.c == open->c && f.n >= open->n && f.info_len == 0;
}

static void info_word(const struct fence *f, char *out)
{
	size_t n = 0;

	while (n < f->info_len && n + 1 < INFO_WORD_MAX && !is_space(f->info[n]) &&
	       f->info[n] != '{') {
		char c = f->info[n];
		out[n++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	out[n] = '\0';
}

static bool names_language(const char *info, const char *language)
{
	static const char *const python[] = { "python", "py", "python3", "py3" };
	static const char *const sql[] = { "sql", "sqlite", "sqlite3" };
	const char *const *names = NULL;
	size_t n = 0;

	if (!language || !*info)
		return false;
	if (strcasecmp(language, "python") == 0) {
		names = python;
		n = sizeof(python) / sizeof(python[0]);
	} else if (strcasecmp(language, "sql") == 0) {
		names = sql;
		n = sizeof(sql) / sizeof(sql[0]);
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(info, names[i]) == 0)
			return true;
	}
	return strcasecmp(info, language) == 0;
}

/* Does reply[from..to) hold anything but blanks? */
static bool has_code(const char *text, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		if (!is_blank_char(text[i]))
			return true;
	}
	return false;
}

/* Reads the block opened by `open` on the line before offset `at`; returns
 * the offset after its closing fence (or the end). */
static size_t block_read(const char *text, size_t len, size_t at, const struct fence *open,
			 struct block *b)
{
	b->from = at;
	b->to = len;
	b->indent = open->indent;
	info_word(open, b->info);
	while (at < len) {
		struct line l = line_at(text, len, at);

		if (fence_closes(&l, open)) {
			b->to = at;
			return l.next;
		}
		at = l.next;
	}
	return len;
}

/* Keeps the first non-empty block of each kind: named the language, no
 * info string, anything. Returns whether there was any fence at all. */
static bool blocks_find(const char *text, size_t len, const char *language, struct block picks[3])
{
	bool any = false;
	size_t at = 0;

	while (at < len) {
		struct line l = line_at(text, len, at);
		struct fence f;
		struct block b;

		if (!fence_parse(&l, &f)) {
			at = l.next;
			continue;
		}
		any = true;
		at = block_read(text, len, l.next, &f, &b);
		if (!has_code(text, b.from, b.to))
			continue;
		b.found = true;
		if (!picks[0].found && names_language(b.info, language))
			picks[0] = b;
		if (!picks[1].found && !b.info[0])
			picks[1] = b;
		if (!picks[2].found)
			picks[2] = b;
	}
	return any;
}

/* Copies the block's lines, taking off up to `indent` leading blanks from
 * each; *ret_len gets the length. */
static char *block_copy(const char *text, const struct block *b, size_t *ret_len)
{
	char *out = malloc(b->to - b->from + 1);
	size_t n = 0, at = b->from;

	if (!out)
		return NULL;
	while (at < b->to) {
		struct line l = line_at(text, b->to, at);
		size_t skip = 0;

		while (skip < b->indent && skip < l.len && is_space(l.start[skip]))
			skip++;
		memcpy(out + n, l.start + skip, l.next - at - skip);
		n += l.next - at - skip;
		at = l.next;
	}
	out[n] = '\0';
	*ret_len = n;
	return out;
}

/* Drops blank lines at both ends and the last line break, in place. */
static size_t trim_blank_lines(char *s, size_t len)
{
	size_t first = 0, last = len, start, end;

	while (first < len && is_blank_char(s[first]))
		first++;
	if (first == len)
		return 0;
	while (last > first && is_blank_char(s[last - 1]))
		last--;
	/* Keep the first line's indentation and the last line's own blanks. */
	start = first;
	while (start > 0 && s[start - 1] != '\n')
		start--;
	end = last;
	while (end < len && s[end] != '\n')
		end++;
	if (end > last && s[end - 1] == '\r')
		end--;
	memmove(s, s + start, end - start);
	s[end - start] = '\0';
	return end - start;
}

int extract_code(const char *reply, const char *language, char **ret)
{
	struct block picks[3] = { { 0 } }, whole = { 0 };
	const struct block *b = NULL;
	size_t len, n;
	char *code;

	if (!reply || !ret)
		return -EINVAL;
	len = strlen(reply);
	if (blocks_find(reply, len, language, picks)) {
		for (size_t i = 0; i < 3 && !b; i++)
			b = picks[i].found ? &picks[i] : NULL;
		if (!b)
			return -ENODATA;
	} else {
		whole.to = len;
		b = &whole;
	}
	code = block_copy(reply, b, &n);
	if (!code)
		return -ENOMEM;
	n = trim_blank_lines(code, n);
	if (n == 0) {
		free(code);
		return -ENODATA;
	}
	*ret = code;
	return 0;
}
