/*
 * fuzz_ndjson: the NDJSON line splitter (src/llm/stream.h) that reads
 * Ollama's streamed replies.
 *
 * Input: byte 0 picks max_line (0 to 63, or 4096), byte 1 how the stream
 * is cut into chunks, byte 2 after which line the callback stops the
 * parser (0: never); the rest is the stream.
 *
 * The same stream is fed three ways: in fuzzed chunks, in one piece, and
 * to a plain reference splitter written from stream.h's description. All
 * three must report the same lines and end the same way. The callback
 * checks each line against the documented rules (at most max_line bytes,
 * no LF, not blank), and errors must be sticky: no callback after one, and
 * every later feed and finish returns it.
 */
#include <errno.h>

#include "fuzz.h"
#include "llm/stream.h"
#include "util/banned.h"

struct run {
	struct fuzz_log log;
	size_t max_line;
	unsigned stop_after; /* the callback fails on this line; 0: never */
	unsigned lines;
	bool stopped;        /* the callback has failed */
};

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* A line was reported: logs it; fails once stop_after lines were seen. */
static int run_line(struct run *r, const char *line, size_t len)
{
	fuzz_log_add(&r->log, line, len);
	if (++r->lines == r->stop_after) {
		r->stopped = true;
		return -ECANCELED;
	}
	return 0;
}

static int on_line(void *ctx, const char *line, size_t len)
{
	struct run *r = ctx;

	FUZZ_ASSERT(!r->stopped);
	FUZZ_ASSERT(line != NULL);
	FUZZ_ASSERT(len <= r->max_line);
	FUZZ_ASSERT(memchr(line, '\n', len) == NULL);
	FUZZ_ASSERT(!blank(line, len));
	return run_line(r, line, len);
}

/* The rules of stream.h, applied to the whole stream at once. */
static int reference(const char *s, size_t len, struct run *r)
{
	size_t at = 0;

	while (at < len) {
		const char *nl = memchr(s + at, '\n', len - at);
		size_t n = nl ? (size_t)(nl - (s + at)) : len - at, m = n;
		int rc;

		if (n > r->max_line)
			return -E2BIG;
		if (!nl)
			return blank(s + at, n) ? 0 : -EPIPE;
		if (m && s[at + m - 1] == '\r')
			m--;
		if (!blank(s + at, m) && (rc = run_line(r, s + at, m)) < 0)
			return rc;
		at += n + 1;
	}
	return 0;
}

static int feed_checked(struct ndjson *p, const char *s, size_t n, struct run *r, int *first)
{
	char *chunk = fuzz_dup_exact(s, n);
	int rc = ndjson_feed(p, chunk, n, on_line, r);

	free(chunk);
	FUZZ_ASSERT(rc == 0 || rc == -E2BIG || rc == -ECANCELED);
	FUZZ_ASSERT(*first == 0 || rc == *first);
	/* The pending line never outgrows its cap. */
	FUZZ_ASSERT(p->line.len <= p->max_line && !p->line.truncated);
	if (*first == 0)
		*first = rc;
	return rc;
}

/* Feeds the stream in chunks (cut_seed) or whole (max_chunk 0). */
static int parse(const char *s, size_t len, uint8_t cut_seed, bool whole, struct run *r)
{
	struct fuzz_cutter cut;
	struct ndjson p;
	size_t at = 0;
	int first = 0, fin;

	fuzz_cutter_init(&cut, cut_seed);
	if (whole)
		cut.max_chunk = 0;
	ndjson_init(&p, r->max_line);
	do {
		size_t n = fuzz_cutter_next(&cut, len - at);
		feed_checked(&p, s + at, n, r, &first);
		at += n;
	} while (at < len);
	fin = ndjson_finish(&p);
	if (first) {
		unsigned lines = r->lines;
		FUZZ_ASSERT(fin == first);
		/* Sticky: more input is refused without a callback. */
		FUZZ_ASSERT(ndjson_feed(&p, "{}\n{}\n", 6, on_line, r) == first);
		FUZZ_ASSERT(ndjson_finish(&p) == first && r->lines == lines);
	} else {
		FUZZ_ASSERT(fin == 0 || fin == -EPIPE);
		/* finish() does not consume anything: asking twice is the same. */
		FUZZ_ASSERT(ndjson_finish(&p) == fin);
	}
	ndjson_release(&p);
	return fin;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	ndjson_release(NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run chunked = { 0 }, whole = { 0 }, ref = { 0 };
	const char *s = (const char *)data + 3;
	size_t len;
	int a, b, c;

	if (size < 3)
		return 0;
	len = size - 3;
	chunked.max_line = data[0] >= 192 ? 4096 : data[0] % 64;
	chunked.stop_after = data[2] % 16;
	whole.max_line = ref.max_line = chunked.max_line;
	whole.stop_after = ref.stop_after = chunked.stop_after;

	a = parse(s, len, data[1], false, &chunked);
	b = parse(s, len, data[1], true, &whole);
	c = reference(s, len, &ref);
	FUZZ_ASSERT(a == b && b == c);
	FUZZ_ASSERT(fuzz_log_equal(&chunked.log, &whole.log));
	FUZZ_ASSERT(fuzz_log_equal(&whole.log, &ref.log));
	fuzz_log_release(&chunked.log);
	fuzz_log_release(&whole.log);
	fuzz_log_release(&ref.log);
	return 0;
}
