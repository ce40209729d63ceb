/*
 * fuzz_extract: code extraction from a model's reply (src/llm/extract.h).
 *
 * Input: byte 0 picks the language asked for ("python", "sql", NULL or
 * "SQL"); the rest, up to its first NUL, is the reply.
 *
 * Checked, from extract.h's promises:
 * - the result is 0 with a non-empty string, or -ENODATA;
 * - code bytes are never rewritten: every line of the result occurs in the
 *   reply, and when no reply line is indented (so no fence's indentation
 *   is taken off) the whole result is one piece of the reply;
 * - the result has no line break at its end and no blank first or last
 *   line;
 * - a reply with no fence at all gives the whole reply, trimmed;
 * - extracting again from the result put in a fence of its own (longer
 *   than any run of backticks in it, named for the language) gives the
 *   result back byte for byte.
 */
#include <errno.h>

#include "fuzz.h"
#include "llm/extract.h"
#include "util/banned.h"

static const char *const languages[4] = { "python", "sql", NULL, "SQL" };

static bool is_blank_char(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static bool has_non_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_blank_char(s[i]))
			return true;
	return false;
}

/* Could this line be a fence (3 backticks or tildes after blanks)? A
 * superset of extract.c's rule, so "no such line" means "no fence". */
static bool fence_like(const char *line, size_t len)
{
	size_t i = 0;

	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return len - i >= 3 && (memcmp(line + i, "```", 3) == 0 || memcmp(line + i, "~~~", 3) == 0);
}

struct reply_shape {
	bool fences;   /* some line looks like a fence */
	bool indented; /* some line starts with a blank */
};

static struct reply_shape shape_of(const char *s)
{
	struct reply_shape sh = { false, false };

	for (const char *line = s; *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		sh.fences |= fence_like(line, len);
		sh.indented |= len > 0 && (line[0] == ' ' || line[0] == '\t');
		if (!nl)
			break;
		line = nl + 1;
	}
	return sh;
}

static void check_lines(const char *reply, const char *code)
{
	for (const char *line = code;;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		FUZZ_ASSERT(memmem(reply, strlen(reply), line, len) != NULL);
		if (line == code || !nl) /* the first and the last line */
			FUZZ_ASSERT(has_non_blank(line, len));
		if (!nl)
			break;
		line = nl + 1;
	}
}

/* The result in a fence of its own, extracted again. */
static void check_round_trip(const char *code, const char *language)
{
	size_t run = 0, longest = 0, n, len = strlen(code), at = 0;
	char *wrapped, *again = NULL;

	for (const char *c = code; *c; c++) {
		run = *c == '`' ? run + 1 : 0;
		longest = run > longest ? run : longest;
	}
	n = longest < 3 ? 3 : longest + 1;
	wrapped = fuzz_alloc(2 * n + len + 32);
	memset(wrapped, '`', n);
	at = n;
	at += (size_t)snprintf(wrapped + at, 16, "%s\r\n", language ? language : "");
	memcpy(wrapped + at, code, len);
	at += len;
	memcpy(wrapped + at, "\r\n", 2);
	at += 2;
	memset(wrapped + at, '`', n);
	at += n;
	memcpy(wrapped + at, "\r\nafter\n", 9);
	FUZZ_ASSERT(extract_code(wrapped, language, &again) == 0);
	FUZZ_ASSERT(strcmp(again, code) == 0);
	free(again);
	free(wrapped);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *code = NULL;

	(void)argc;
	(void)argv;
	FUZZ_ASSERT(extract_code(NULL, "sql", &code) == -EINVAL && code == NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *language;
	char *reply, *code = NULL;
	struct reply_shape sh;
	int rc;

	if (size < 1)
		return 0;
	language = languages[data[0] % 4];
	reply = fuzz_dup_str(data + 1, size - 1);
	sh = shape_of(reply);
	rc = extract_code(reply, language, &code);
	FUZZ_ASSERT(rc == 0 || rc == -ENODATA);
	if (rc < 0) {
		FUZZ_ASSERT(code == NULL);
		/* Only fences can hide the code of a reply with something in it. */
		FUZZ_ASSERT(sh.fences || !has_non_blank(reply, strlen(reply)));
		free(reply);
		return 0;
	}
	FUZZ_ASSERT(code != NULL && code[0] != '\0');
	FUZZ_ASSERT(strlen(code) <= strlen(reply));
	FUZZ_ASSERT(code[strlen(code) - 1] != '\n');
	check_lines(reply, code);
	if (!sh.indented || !sh.fences)
		FUZZ_ASSERT(strstr(reply, code) != NULL);
	check_round_trip(code, language);
	free(code);
	free(reply);
	return 0;
}
