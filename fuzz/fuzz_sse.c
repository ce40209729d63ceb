/*
 * fuzz_sse: the server-sent-events parser (src/llm/stream.h) that reads
 * OpenAI-style streamed replies.
 *
 * Input: byte 0 picks max_line (0 to 63, or 4096), byte 1 max_data (0 to
 * 127, or 65536), byte 2 how the stream is cut into chunks, byte 3 after
 * which event the callback stops the parser (0: never); the rest is the
 * stream.
 *
 * As for NDJSON, the stream is fed in fuzzed chunks, in one piece and to
 * a reference written from stream.h's rules (WHATWG line endings, BOM,
 * comments, data joined with LF, event names, blank-line dispatch, the
 * caps); all three must dispatch the same events and end the same way.
 * The callback checks what stream.h promises of an event: data
 * NUL-terminated at len, within max_data, holding no CR; an event name of
 * fewer than STREAM_EVENT_NAME_MAX bytes, "message" when unnamed.
 */
#include <errno.h>

#include "fuzz.h"
#include "llm/stream.h"
#include "util/banned.h"

struct run {
	struct fuzz_log log;
	size_t max_line, max_data;
	unsigned stop_after; /* the callback fails on this event; 0: never */
	unsigned events;
	bool stopped;
};

static int run_event(struct run *r, const char *event, const char *data, size_t len)
{
	fuzz_log_add(&r->log, event, strlen(event));
	fuzz_log_add(&r->log, data, len);
	if (++r->events == r->stop_after) {
		r->stopped = true;
		return -ECANCELED;
	}
	return 0;
}

static int on_event(void *ctx, const char *event, const char *data, size_t len)
{
	struct run *r = ctx;

	FUZZ_ASSERT(!r->stopped);
	FUZZ_ASSERT(event != NULL && data != NULL);
	FUZZ_ASSERT(data[len] == '\0');
	FUZZ_ASSERT(len < r->max_data);
	FUZZ_ASSERT(memchr(data, '\r', len) == NULL);
	FUZZ_ASSERT(event[0] != '\0' && strlen(event) < STREAM_EVENT_NAME_MAX);
	FUZZ_ASSERT(strpbrk(event, "\r\n") == NULL);
	return run_event(r, event, data, len);
}

/* ---- the reference ------------------------------------------------------ */

struct ref {
	struct run *r;
	char *data; /* data lines, each followed by LF */
	size_t data_len;
	char event[STREAM_EVENT_NAME_MAX];
};

static int ref_dispatch(struct ref *x)
{
	int rc = 0;

	if (x->data_len > 0) {
		x->data[x->data_len - 1] = '\0'; /* the last LF goes */
		rc = run_event(x->r, x->event[0] ? x->event : "message", x->data, x->data_len - 1);
	}
	x->data_len = 0;
	x->event[0] = '\0';
	return rc;
}

static int ref_field(struct ref *x, const char *name, size_t nlen, const char *value, size_t vlen)
{
	if (nlen == 4 && memcmp(name, "data", 4) == 0) {
		if (x->data_len + vlen + 1 > x->r->max_data)
			return -E2BIG;
		memcpy(x->data + x->data_len, value, vlen);
		x->data_len += vlen;
		x->data[x->data_len++] = '\n';
	} else if (nlen == 5 && memcmp(name, "event", 5) == 0) {
		if (vlen >= sizeof(x->event))
			return -E2BIG;
		memcpy(x->event, value, vlen);
		x->event[vlen] = '\0';
	}
	return 0;
}

static int ref_line(struct ref *x, const char *line, size_t len)
{
	const char *colon;

	if (len == 0)
		return ref_dispatch(x);
	if (line[0] == ':')
		return 0;
	colon = memchr(line, ':', len);
	if (!colon)
		return ref_field(x, line, len, "", 0);
	len -= (size_t)(colon - line) + 1;
	if (len > 0 && colon[1] == ' ')
		return ref_field(x, line, (size_t)(colon - line), colon + 2, len - 1);
	return ref_field(x, line, (size_t)(colon - line), colon + 1, len);
}

static int reference(const char *s, size_t len, struct run *r)
{
	struct ref x = { .r = r };
	size_t at = 0;
	int rc = 0;

	x.data = fuzz_alloc(len + 1);
	while (rc == 0 && at < len) {
		size_t n = 0, skip = 0;
		while (at + n < len && s[at + n] != '\r' && s[at + n] != '\n')
			n++;
		/* The cap counts the line as it came, BOM included. */
		if (n > r->max_line) {
			rc = -E2BIG;
			break;
		}
		if (at + n == len) {
			rc = -EPIPE; /* an unfinished line */
			break;
		}
		if (at == 0 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
			skip = 3;
		rc = ref_line(&x, s + at + skip, n - skip);
		at += n + 1;
		if (s[at - 1] == '\r' && at < len && s[at] == '\n')
			at++;
	}
	if (rc == 0 && x.data_len > 0)
		rc = -EPIPE; /* an event never dispatched */
	free(x.data);
	return rc;
}

/* ---- the parser ------------------------------------------------------- */

static void feed_checked(struct sse *p, const char *s, size_t n, struct run *r, int *first)
{
	char *chunk = fuzz_dup_exact(s, n);
	int rc = sse_feed(p, chunk, n, on_event, r);

	free(chunk);
	FUZZ_ASSERT(rc == 0 || rc == -E2BIG || rc == -ECANCELED);
	FUZZ_ASSERT(*first == 0 || rc == *first);
	/* Only one line and one event's data are held, under their caps. */
	FUZZ_ASSERT(p->line.len <= p->max_line && !p->line.truncated);
	FUZZ_ASSERT(p->data.len <= p->max_data && !p->data.truncated);
	FUZZ_ASSERT(memchr(p->event, '\0', sizeof(p->event)) != NULL);
	if (*first == 0)
		*first = rc;
}

static int parse(const char *s, size_t len, uint8_t cut_seed, bool whole, struct run *r)
{
	struct fuzz_cutter cut;
	struct sse p;
	size_t at = 0;
	int first = 0, fin;

	fuzz_cutter_init(&cut, cut_seed);
	if (whole)
		cut.max_chunk = 0;
	sse_init(&p, r->max_line, r->max_data);
	do {
		size_t n = fuzz_cutter_next(&cut, len - at);
		feed_checked(&p, s + at, n, r, &first);
		at += n;
	} while (at < len);
	fin = sse_finish(&p);
	if (first) {
		unsigned events = r->events;
		FUZZ_ASSERT(fin == first);
		FUZZ_ASSERT(sse_feed(&p, "data: x\n\n", 9, on_event, r) == first);
		FUZZ_ASSERT(sse_finish(&p) == first && r->events == events);
	} else {
		FUZZ_ASSERT(fin == 0 || fin == -EPIPE);
		FUZZ_ASSERT(sse_finish(&p) == fin);
	}
	sse_release(&p);
	return fin;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	sse_release(NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run chunked = { 0 }, whole, ref;
	const char *s = (const char *)data + 4;
	size_t len;
	int a, b, c;

	if (size < 4)
		return 0;
	len = size - 4;
	chunked.max_line = data[0] >= 192 ? 4096 : data[0] % 64;
	chunked.max_data = data[1] >= 192 ? 65536 : data[1] % 128;
	chunked.stop_after = data[3] % 16;
	whole = ref = chunked;

	a = parse(s, len, data[2], false, &chunked);
	b = parse(s, len, data[2], true, &whole);
	c = reference(s, len, &ref);
	FUZZ_ASSERT(a == b && b == c);
	FUZZ_ASSERT(fuzz_log_equal(&chunked.log, &whole.log));
	FUZZ_ASSERT(fuzz_log_equal(&whole.log, &ref.log));
	fuzz_log_release(&chunked.log);
	fuzz_log_release(&whole.log);
	fuzz_log_release(&ref.log);
	return 0;
}
