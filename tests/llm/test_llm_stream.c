/*
 * The streamed-reply parsers (src/llm/stream.h): NDJSON lines and SSE
 * events, fed whole, byte by byte and split at every point, with CRLF and
 * CR line ends, comments, multi-line data, caps and unfinished input.
 */
#include "testlib.h"

#include "llm/stream.h"

#define GOT_MAX 16

struct got {
	char *item[GOT_MAX]; /* "event|data" for SSE, the line for NDJSON */
	size_t n;
	size_t fail_at; /* return -EBADMSG on this item (1-based); 0 never */
};

static void got_reset(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->item[i]);
	memset(g, 0, sizeof(*g));
}

static int got_add(struct got *g, const char *a, size_t alen, const char *b, size_t blen)
{
	char *s;

	assert_true(g->n < GOT_MAX);
	assert_true(asprintf(&s, "%.*s%s%.*s", (int)alen, a, b ? "|" : "", (int)blen, b ? b : "") >= 0);
	g->item[g->n++] = s;
	return g->fail_at == g->n ? -EBADMSG : 0;
}

static int on_line(void *ctx, const char *line, size_t len)
{
	assert_true(memchr(line, '\n', len) == NULL);
	return got_add(ctx, line, len, NULL, 0);
}

static int on_event(void *ctx, const char *event, const char *data, size_t len)
{
	assert_int_equal(data[len], '\0');
	return got_add(ctx, event, strlen(event), data, len);
}

/* Feeds text in pieces of `step` bytes (0: all at once). */
static int nd_feed(struct ndjson *p, const char *text, size_t step, struct got *g)
{
	size_t len = strlen(text);
	int r = 0;

	if (!step)
		return ndjson_feed(p, text, len, on_line, g);
	for (size_t off = 0; off < len && r == 0; off += step)
		r = ndjson_feed(p, text + off, len - off < step ? len - off : step, on_line, g);
	return r;
}

static int sse_feed_all(struct sse *p, const char *text, size_t len, size_t step, struct got *g)
{
	int r = 0;

	if (!step)
		return sse_feed(p, text, len, on_event, g);
	for (size_t off = 0; off < len && r == 0; off += step)
		r = sse_feed(p, text + off, len - off < step ? len - off : step, on_event, g);
	return r;
}

static void expect(const struct got *g, size_t n, const char *const *items)
{
	assert_int_equal(g->n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(g->item[i], items[i]);
}

static void test_ndjson_lines_any_chunking(void **state)
{
	static const char text[] = "{\"a\":1}\n\n{\"b\":2}\r\n   \r\n{\"c\":\"x y\"}\n";
	static const char *const want[] = { "{\"a\":1}", "{\"b\":2}", "{\"c\":\"x y\"}" };
	struct got g = { 0 };
	(void)state;

	for (size_t step = 0; step <= 5; step++) {
		struct ndjson p;
		ndjson_init(&p, 64);
		assert_int_equal(nd_feed(&p, text, step, &g), 0);
		assert_int_equal(ndjson_finish(&p), 0);
		expect(&g, 3, want);
		ndjson_release(&p);
		got_reset(&g);
	}
	/* Every two-chunk split gives the same lines. */
	for (size_t cut = 0; cut <= strlen(text); cut++) {
		struct ndjson p;
		ndjson_init(&p, 64);
		assert_int_equal(ndjson_feed(&p, text, cut, on_line, &g), 0);
		assert_int_equal(ndjson_feed(&p, text + cut, strlen(text) - cut, on_line, &g), 0);
		expect(&g, 3, want);
		ndjson_release(&p);
		got_reset(&g);
	}
}

static void test_ndjson_unfinished_line(void **state)
{
	struct ndjson p;
	struct got g = { 0 };
	(void)state;

	ndjson_init(&p, 64);
	assert_int_equal(nd_feed(&p, "{\"a\":1}\n{\"done\":tr", 1, &g), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(ndjson_finish(&p), -EPIPE);
	ndjson_release(&p);
	got_reset(&g);

	ndjson_init(&p, 64);
	assert_int_equal(nd_feed(&p, "{\"a\":1}\n  \r", 0, &g), 0);
	assert_int_equal(ndjson_finish(&p), 0); /* only blanks pending */
	ndjson_release(&p);
	got_reset(&g);
}

static void test_ndjson_oversized_line(void **state)
{
	struct ndjson p;
	struct got g = { 0 };
	(void)state;

	/* Exactly the cap is fine, whole or byte by byte. */
	for (size_t step = 0; step <= 1; step++) {
		ndjson_init(&p, 8);
		assert_int_equal(nd_feed(&p, "12345678\nabc\n", step, &g), 0);
		assert_int_equal(g.n, 2);
		ndjson_release(&p);
		got_reset(&g);
	}
	/* One byte more fails, and the failure sticks. */
	for (size_t step = 0; step <= 1; step++) {
		ndjson_init(&p, 8);
		assert_int_equal(nd_feed(&p, "ok\n123456789\nabc\n", step, &g), -E2BIG);
		assert_int_equal(g.n, 1);
		assert_int_equal(ndjson_feed(&p, "x\n", 2, on_line, &g), -E2BIG);
		assert_int_equal(ndjson_finish(&p), -E2BIG);
		assert_int_equal(g.n, 1);
		ndjson_release(&p);
		got_reset(&g);
	}
	/* A line without an end that grows past the cap fails too. */
	ndjson_init(&p, 8);
	assert_int_equal(nd_feed(&p, "1234", 0, &g), 0);
	assert_int_equal(nd_feed(&p, "56789", 0, &g), -E2BIG);
	ndjson_release(&p);
	got_reset(&g);
}

static void test_ndjson_callback_stops(void **state)
{
	struct ndjson p;
	struct got g = { .fail_at = 2 };
	(void)state;

	ndjson_init(&p, 64);
	assert_int_equal(nd_feed(&p, "one\ntwo\nthree\n", 0, &g), -EBADMSG);
	assert_int_equal(g.n, 2);
	assert_int_equal(ndjson_feed(&p, "four\n", 5, on_line, &g), -EBADMSG);
	assert_int_equal(g.n, 2);
	ndjson_release(&p);
	got_reset(&g);
}

/* A stream the way OpenAI-compatible servers send it. */
static const char openai_stream[] =
	": keep-alive\n\n"
	"data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n"
	"data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n"
	"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3}}\n\n"
	"data: [DONE]\n\n";
static const char *const openai_want[] = {
	"message|{\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}",
	"message|{\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}",
	"message|{\"choices\":[],\"usage\":{\"prompt_tokens\":3}}",
	"message|[DONE]",
};

static void test_sse_stream_any_chunking(void **state)
{
	size_t len = strlen(openai_stream);
	struct got g = { 0 };
	struct sse p;
	(void)state;

	for (size_t step = 0; step <= 7; step++) {
		sse_init(&p, 256, 256);
		assert_int_equal(sse_feed_all(&p, openai_stream, len, step, &g), 0);
		assert_int_equal(sse_finish(&p), 0);
		expect(&g, 4, openai_want);
		sse_release(&p);
		got_reset(&g);
	}
	for (size_t cut = 0; cut <= len; cut++) {
		sse_init(&p, 256, 256);
		assert_int_equal(sse_feed(&p, openai_stream, cut, on_event, &g), 0);
		assert_int_equal(sse_feed(&p, openai_stream + cut, len - cut, on_event, &g), 0);
		expect(&g, 4, openai_want);
		sse_release(&p);
		got_reset(&g);
	}
}

static void test_sse_line_ends(void **state)
{
	/* CRLF, CR alone and LF alone, mixed; a CRLF split between chunks must
	 * not count as two line ends (that would dispatch "a" alone). */
	static const char text[] = "data: a\r\ndata: b\rdata: c\n\r\n"
				   "event: done\rdata: x\r\r";
	static const char *const want[] = { "message|a\nb\nc", "done|x" };
	struct got g = { 0 };
	struct sse p;
	(void)state;

	for (size_t step = 0; step <= 3; step++) {
		sse_init(&p, 64, 64);
		assert_int_equal(sse_feed_all(&p, text, strlen(text), step, &g), 0);
		assert_int_equal(sse_finish(&p), 0);
		expect(&g, 2, want);
		sse_release(&p);
		got_reset(&g);
	}
}

static void test_sse_fields(void **state)
{
	static const char text[] = "\xEF\xBB\xBF"
				   "data:no space\n"
				   "data:  two spaces\n"
				   "id: 7\nretry: 100\nfoo: bar\n: a comment\n"
				   "\n"
				   "\n\n"           /* blank lines without data dispatch nothing */
				   "event: error\n" /* a name with no data is dropped at the blank line */
				   "\n"
				   "data\n" /* no colon: an empty data line */
				   "\n"
				   "event: ping\ndata: {}\n\n"
				   "data: after\n\n"; /* the name does not carry over */
	static const char *const want[] = { "message|no space\n two spaces", "message|", "ping|{}",
					    "message|after" };
	struct got g = { 0 };
	struct sse p;
	(void)state;

	for (size_t step = 0; step <= 1; step++) {
		sse_init(&p, 64, 64);
		assert_int_equal(sse_feed_all(&p, text, strlen(text), step, &g), 0);
		assert_int_equal(sse_finish(&p), 0);
		expect(&g, 4, want);
		sse_release(&p);
		got_reset(&g);
	}
}

static void test_sse_caps(void **state)
{
	char long_name[STREAM_EVENT_NAME_MAX + 16];
	struct got g = { 0 };
	struct sse p;
	(void)state;

	/* A line over the cap, whole or byte by byte. */
	for (size_t step = 0; step <= 1; step++) {
		sse_init(&p, 16, 64);
		assert_int_equal(sse_feed_all(&p, "data: 0123456789ABCDEF\n\n", 24, step, &g), -E2BIG);
		assert_int_equal(g.n, 0);
		assert_int_equal(sse_feed(&p, "data: x\n\n", 9, on_event, &g), -E2BIG);
		assert_int_equal(sse_finish(&p), -E2BIG);
		sse_release(&p);
		got_reset(&g);
	}
	/* Data lines that add up past the data cap (each "x" costs 2 with its LF). */
	sse_init(&p, 64, 7);
	assert_int_equal(sse_feed_all(&p, "data: x\ndata: x\ndata: x\n", 24, 0, &g), 0);
	assert_int_equal(sse_feed_all(&p, "data: x\n\n", 9, 0, &g), -E2BIG);
	assert_int_equal(g.n, 0);
	sse_release(&p);
	got_reset(&g);
	/* An event name longer than its buffer. */
	memset(long_name, 'n', sizeof(long_name));
	memcpy(long_name, "event: ", 7);
	long_name[sizeof(long_name) - 1] = '\n';
	sse_init(&p, 256, 256);
	assert_int_equal(sse_feed(&p, long_name, sizeof(long_name), on_event, &g), -E2BIG);
	sse_release(&p);
	got_reset(&g);
}

static void test_sse_unfinished(void **state)
{
	struct got g = { 0 };
	struct sse p;
	(void)state;

	/* The event never got its blank line. */
	sse_init(&p, 64, 64);
	assert_int_equal(sse_feed_all(&p, "data: {\"a\":1}\n", 14, 0, &g), 0);
	assert_int_equal(g.n, 0);
	assert_int_equal(sse_finish(&p), -EPIPE);
	sse_release(&p);
	/* The stream stopped inside a line. */
	sse_init(&p, 64, 64);
	assert_int_equal(sse_feed_all(&p, "data: x\n\ndata: {\"a", 18, 1, &g), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(sse_finish(&p), -EPIPE);
	sse_release(&p);
	got_reset(&g);
}

static void test_sse_callback_stops(void **state)
{
	struct got g = { .fail_at = 1 };
	struct sse p;
	(void)state;

	sse_init(&p, 64, 64);
	assert_int_equal(sse_feed_all(&p, "data: a\n\ndata: b\n\n", 18, 0, &g), -EBADMSG);
	assert_int_equal(g.n, 1);
	assert_int_equal(sse_finish(&p), -EBADMSG);
	sse_release(&p);
	sse_release(NULL);
	ndjson_release(NULL);
	got_reset(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ndjson_lines_any_chunking),
		cmocka_unit_test(test_ndjson_unfinished_line),
		cmocka_unit_test(test_ndjson_oversized_line),
		cmocka_unit_test(test_ndjson_callback_stops),
		cmocka_unit_test(test_sse_stream_any_chunking),
		cmocka_unit_test(test_sse_line_ends),
		cmocka_unit_test(test_sse_fields),
		cmocka_unit_test(test_sse_caps),
		cmocka_unit_test(test_sse_unfinished),
		cmocka_unit_test(test_sse_callback_stops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
