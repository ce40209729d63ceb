/*
 * Tests of src/obs/trace: OTLP/HTTP JSON export to a small collector this
 * program runs on 127.0.0.1 (a raw-socket thread that answers every POST
 * and keeps what it received).
 *
 * Covered: the exact document shape (resource, scope, spans with hex ids,
 * parent links, times as decimal strings, int attributes as strings, error
 * status), the request's method, path and headers; batching; text limits;
 * tracing off (NULL endpoint: every call a no-op, nothing sent); refused
 * arguments; a refused, a failing (500) and a hung collector, which must
 * not block span_end or exporter_free (an alarm ends the program if
 * anything hangs); queue overflow counted as drops.
 */
#include "testlib.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <jansson.h>

#include "obs/trace.h"
#include "support/otlp_collector.h"
#include "util/banned.h"

/* Anything still waiting after this long has hung: fail the program. */
#define WATCHDOG_S 60
#define WAIT_MAX_MS 20000

/* ---- helpers ------------------------------------------------------------ */

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Waits until *counter(t) reaches want; a hang fails the test. */
static void wait_count(uint64_t (*counter)(const struct trace_exporter *),
		       const struct trace_exporter *t, uint64_t want)
{
	for (int waited = 0; counter(t) < want; waited += 10) {
		if (waited > WAIT_MAX_MS)
			fail_msg("counter stuck at %" PRIu64 ", want %" PRIu64, counter(t), want);
		sleep_ms(10);
	}
	assert_int_equal(counter(t), want);
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void assert_hex(const char *s, size_t len)
{
	assert_non_null(s);
	assert_int_equal(strlen(s), len);
	for (size_t i = 0; i < len; i++)
		assert_true(isdigit((unsigned char)s[i]) || (s[i] >= 'a' && s[i] <= 'f'));
	assert_true(strspn(s, "0") < len); /* not all zero */
}

static uint64_t decimal(const json_t *j)
{
	const char *s = json_string_value(j);
	char *end;
	uint64_t v;

	assert_non_null(s);
	assert_true(*s >= '1' && *s <= '9');
	v = strtoull(s, &end, 10);
	assert_true(*end == '\0');
	return v;
}

static void assert_json(const json_t *got, const char *expected)
{
	json_t *want = json_loads(expected, 0, NULL);
	char *text;

	assert_non_null(want);
	if (!json_equal(got, want)) {
		text = json_dumps(got, JSON_COMPACT);
		fail_msg("got %s\nwant %s", text ? text : "(null)", expected);
	}
	json_decref(want);
}

static json_t *span_named(json_t *spans, const char *name)
{
	for (size_t i = 0; i < json_array_size(spans); i++) {
		json_t *s = json_array_get(spans, i);

		if (strcmp(json_string_value(json_object_get(s, "name")), name) == 0)
			return s;
	}
	fail_msg("no span named %s", name);
	return NULL;
}

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* ---- tests -------------------------------------------------------------- */

static void check_document(const json_t *doc)
{
	const json_t *rs, *ss;

	assert_int_equal(json_object_size(doc), 1);
	rs = json_object_get(doc, "resourceSpans");
	assert_int_equal(json_array_size(rs), 1);
	rs = json_array_get(rs, 0);
	assert_int_equal(json_object_size(rs), 2);
	assert_json(json_object_get(rs, "resource"),
		    "{\"attributes\":[{\"key\":\"service.name\","
		    "\"value\":{\"stringValue\":\"ledgerbox\"}}]}");
	ss = json_object_get(rs, "scopeSpans");
	assert_int_equal(json_array_size(ss), 1);
	ss = json_array_get(ss, 0);
	assert_int_equal(json_object_size(ss), 2);
	assert_json(json_object_get(ss, "scope"), "{\"name\":\"ledgerbox\"}");
	assert_true(json_array_size(json_object_get(ss, "spans")) > 0);
}

static void check_span_common(const json_t *s, uint64_t before_ns, uint64_t after_ns)
{
	uint64_t start, end;

	assert_hex(str(s, "traceId"), 32);
	assert_hex(str(s, "spanId"), 16);
	assert_int_equal(json_integer_value(json_object_get(s, "kind")), 1);
	start = decimal(json_object_get(s, "startTimeUnixNano"));
	end = decimal(json_object_get(s, "endTimeUnixNano"));
	assert_true(before_ns <= start);
	assert_true(start <= end);
	assert_true(end <= after_ns);
}

static void exports_spans_in_otlp_shape(void **state)
{
	struct collector c;
	struct trace_exporter *t = NULL;
	struct trace_span *parent, *c1, *c2;
	char trace_id[33], *url;
	uint64_t before, after;
	json_t *p, *s1, *s2;
	(void)state;

	collector_start(&c, 200);
	url = collector_url(&c);
	assert_int_equal(trace_exporter_new(url, "ledgerbox", "Authorization: Basic dGVzdA==", 0, &t), 0);
	assert_non_null(t);
	before = realtime_ns();
	parent = trace_span_start(t, NULL, "analyze");
	assert_non_null(parent);
	trace_span_attr_str(parent, "language", "sql");
	trace_span_attr_int(parent, "rows", 42);
	trace_span_attr_int(parent, "delta", INT64_MIN);
	trace_span_attr_str(parent, "language", "python"); /* replaces */
	c1 = trace_span_start(t, parent, "sandbox");
	trace_span_attr_int(c1, "exit_code", 1);
	trace_span_error(c1, "boom");
	trace_span_end(c1);
	c2 = trace_span_start(t, parent, "store");
	trace_span_end(c2);
	trace_span_trace_id(parent, trace_id);
	trace_span_end(parent);
	wait_count(trace_exporter_sent, t, 3);
	after = realtime_ns();
	assert_int_equal(trace_exporter_dropped(t), 0);
	trace_exporter_free(t, 2000);

	pthread_mutex_lock(&c.lock);
	assert_int_equal(c.bad, 0);
	assert_string_equal(c.request_line, "POST /v1/traces HTTP/1.1");
	assert_string_equal(c.content_type, "application/json");
	assert_string_equal(c.authorization, "Basic dGVzdA==");
	for (size_t i = 0; i < json_array_size(c.docs); i++)
		check_document(json_array_get(c.docs, i));
	assert_int_equal(json_array_size(c.spans), 3);
	p = span_named(c.spans, "analyze");
	s1 = span_named(c.spans, "sandbox");
	s2 = span_named(c.spans, "store");
	check_span_common(p, before, after);
	check_span_common(s1, before, after);
	check_span_common(s2, before, after);

	assert_hex(trace_id, 32);
	assert_string_equal(str(p, "traceId"), trace_id);
	assert_string_equal(str(s1, "traceId"), trace_id);
	assert_string_equal(str(s2, "traceId"), trace_id);
	assert_string_equal(str(s1, "parentSpanId"), str(p, "spanId"));
	assert_string_equal(str(s2, "parentSpanId"), str(p, "spanId"));
	assert_string_not_equal(str(s1, "spanId"), str(s2, "spanId"));
	assert_string_not_equal(str(s1, "spanId"), str(p, "spanId"));

	assert_int_equal(json_object_size(p), 7); /* no parentSpanId, no status */
	assert_json(json_object_get(p, "attributes"),
		    "[{\"key\":\"language\",\"value\":{\"stringValue\":\"python\"}},"
		    "{\"key\":\"rows\",\"value\":{\"intValue\":\"42\"}},"
		    "{\"key\":\"delta\",\"value\":{\"intValue\":\"-9223372036854775808\"}}]");
	assert_int_equal(json_object_size(s1), 9);
	assert_json(json_object_get(s1, "attributes"),
		    "[{\"key\":\"exit_code\",\"value\":{\"intValue\":\"1\"}}]");
	assert_json(json_object_get(s1, "status"), "{\"code\":2,\"message\":\"boom\"}");
	assert_int_equal(json_object_size(s2), 8);
	assert_json(json_object_get(s2, "attributes"), "[]");
	pthread_mutex_unlock(&c.lock);
	collector_stop(&c);
	free(url);
}

static void batches_and_limits(void **state)
{
	struct collector c;
	struct trace_exporter *t = NULL;
	struct trace_span *s, *a, *b;
	char long_text[5000], a_id[33], b_id[33], *url;
	json_t *span, *attrs;
	(void)state;

	collector_start(&c, 200);
	url = collector_url(&c);
	assert_int_equal(trace_exporter_new(url, "ledgerbox", NULL, 1000, &t), 0);
	for (int i = 0; i < 600; i++)
		trace_span_end(trace_span_start(t, NULL, "bulk"));

	memset(long_text, 'a', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	s = trace_span_start(t, NULL, long_text);
	trace_span_attr_str(s, "long", long_text);
	trace_span_attr_str(s, "bad", "ok\xff");
	for (int i = 0; i < 40; i++) {
		char key[16];

		snprintf(key, sizeof(key), "k%d", i);
		trace_span_attr_int(s, key, i);
	}
	trace_span_attr_str(s, "long", "short"); /* an existing key still updates */
	trace_span_error(s, long_text);
	trace_span_end(s);

	/* Two roots are two traces. */
	a = trace_span_start(t, NULL, "a");
	b = trace_span_start(t, NULL, "b");
	trace_span_trace_id(a, a_id);
	trace_span_trace_id(b, b_id);
	assert_string_not_equal(a_id, b_id);
	trace_span_end(a);
	trace_span_end(b);

	wait_count(trace_exporter_sent, t, 603);
	trace_exporter_free(t, 2000);

	pthread_mutex_lock(&c.lock);
	assert_int_equal(c.bad, 0);
	assert_int_equal(json_array_size(c.spans), 603);
	/* At most 256 spans a POST. */
	assert_true(c.posts >= 3);
	span = json_array_get(c.spans, 600);
	assert_int_equal(strlen(str(span, "name")), TRACE_NAME_MAX);
	attrs = json_object_get(span, "attributes");
	assert_int_equal(json_array_size(attrs), TRACE_ATTRS_MAX);
	assert_json(json_array_get(attrs, 0), "{\"key\":\"long\",\"value\":{\"stringValue\":\"short\"}}");
	assert_json(json_array_get(attrs, 1),
		    "{\"key\":\"bad\",\"value\":{\"stringValue\":\"ok\\ufffd\"}}");
	assert_json(json_array_get(attrs, TRACE_ATTRS_MAX - 1),
		    "{\"key\":\"k29\",\"value\":{\"intValue\":\"29\"}}");
	assert_int_equal(strlen(str(json_object_get(span, "status"), "message")), TRACE_VALUE_MAX);
	pthread_mutex_unlock(&c.lock);
	collector_stop(&c);
	free(url);
}

static void tracing_off_does_nothing(void **state)
{
	struct collector c;
	struct trace_exporter *t = (struct trace_exporter *)&c; /* must be overwritten */
	struct trace_span *s;
	char id[33] = "x";
	(void)state;

	collector_start(&c, 200);
	assert_int_equal(trace_exporter_new(NULL, "ledgerbox", NULL, 0, &t), 0);
	assert_null(t);
	t = (struct trace_exporter *)&c;
	assert_int_equal(trace_exporter_new("", "ledgerbox", NULL, 0, &t), 0);
	assert_null(t);

	s = trace_span_start(t, NULL, "analyze");
	assert_null(s);
	trace_span_attr_str(s, "k", "v");
	trace_span_attr_int(s, "n", 1);
	trace_span_error(s, "boom");
	trace_span_trace_id(s, id);
	assert_string_equal(id, "");
	trace_span_end(s);
	assert_int_equal(trace_exporter_sent(t), 0);
	assert_int_equal(trace_exporter_dropped(t), 0);
	trace_exporter_free(t, 1000);
	collector_stop(&c);
	assert_int_equal(c.posts, 0);
}

static void bad_arguments_are_refused(void **state)
{
	struct trace_exporter *t = NULL;
	const char *url = "http://127.0.0.1:9/v1/traces";
	(void)state;

	assert_int_equal(trace_exporter_new("ftp://127.0.0.1/x", "ledgerbox", NULL, 0, &t), -EINVAL);
	assert_int_equal(trace_exporter_new("http://a b/", "ledgerbox", NULL, 0, &t), -EINVAL);
	assert_int_equal(trace_exporter_new(url, NULL, NULL, 0, &t), -EINVAL);
	assert_int_equal(trace_exporter_new(url, "", NULL, 0, &t), -EINVAL);
	assert_int_equal(trace_exporter_new(url, "bad\xff", NULL, 0, &t), -EINVAL);
	assert_int_equal(trace_exporter_new(url, "x", "no colon", 0, &t), -EINVAL);
	assert_int_equal(trace_exporter_new(url, "x", ": empty name", 0, &t), -EINVAL);
	assert_int_equal(trace_exporter_new(url, "x", "A: b\r\nInjected: yes", 0, &t), -EINVAL);
	assert_int_equal(trace_exporter_new(url, "x", NULL, TRACE_QUEUE_LIMIT + 1, &t), -EINVAL);
	assert_null(t);
	assert_int_equal(trace_exporter_new(url, "x", NULL, 0, NULL), -EINVAL);
	assert_null(trace_span_start(NULL, NULL, "x"));
}

static void refused_collector_loses_spans_quietly(void **state)
{
	struct trace_exporter *t = NULL;
	unsigned port;
	int fd = listen_loopback(&port);
	char *url;
	(void)state;

	close(fd); /* nothing listens there now: connections are refused */
	assert_true(asprintf(&url, "http://127.0.0.1:%u/v1/traces", port) > 0);
	assert_int_equal(trace_exporter_new(url, "ledgerbox", NULL, 0, &t), 0);
	for (int i = 0; i < 5; i++)
		trace_span_end(trace_span_start(t, NULL, "lost"));
	wait_count(trace_exporter_dropped, t, 5);
	assert_int_equal(trace_exporter_sent(t), 0);
	trace_exporter_free(t, 200);
	free(url);
}

static void failing_collector_counts_drops(void **state)
{
	struct collector c;
	struct trace_exporter *t = NULL;
	char *url;
	(void)state;

	collector_start(&c, 500);
	url = collector_url(&c);
	assert_int_equal(trace_exporter_new(url, "ledgerbox", NULL, 0, &t), 0);
	trace_span_end(trace_span_start(t, NULL, "one"));
	trace_span_end(trace_span_start(t, NULL, "two"));
	wait_count(trace_exporter_dropped, t, 2);
	assert_int_equal(trace_exporter_sent(t), 0);
	trace_exporter_free(t, 200);
	pthread_mutex_lock(&c.lock);
	assert_int_equal(json_array_size(c.spans), 2); /* it did arrive */
	pthread_mutex_unlock(&c.lock);
	collector_stop(&c);
	free(url);
}

/* Waits until a connection waits on the (never accepting) listener. */
static void wait_pending_connection(struct collector *c)
{
	struct pollfd p = { c->fd, POLLIN, 0 };
	int r;

	while ((r = poll(&p, 1, WAIT_MAX_MS)) < 0 && errno == EINTR)
		;
	assert_int_equal(r, 1);
}

static void hung_collector_does_not_block_and_overflow_drops(void **state)
{
	struct collector c;
	struct trace_exporter *t = NULL;
	char *url;
	(void)state;

	collector_start(&c, 0); /* never answers */
	url = collector_url(&c);
	assert_int_equal(trace_exporter_new(url, "ledgerbox", NULL, 4, &t), 0);
	trace_span_end(trace_span_start(t, NULL, "first"));
	wait_pending_connection(&c);
	/* A POST is stuck now; ending spans still returns at once. Four are
	 * held (the one being sent and three queued); the rest drop. */
	for (int i = 0; i < 9; i++)
		trace_span_end(trace_span_start(t, NULL, "stuck"));
	assert_int_equal(trace_exporter_dropped(t), 6);
	assert_int_equal(trace_exporter_sent(t), 0);
	/* Returns once its timeout is over, with the POST still unanswered
	 * (the watchdog fails the program if it does not return). */
	trace_exporter_free(t, 300);
	collector_stop(&c);
	free(url);
}

static void free_sends_what_is_queued(void **state)
{
	struct collector c;
	struct trace_exporter *t = NULL;
	char *url;
	(void)state;

	collector_start(&c, 200);
	url = collector_url(&c);
	assert_int_equal(trace_exporter_new(url, "ledgerbox", NULL, 0, &t), 0);
	for (int i = 0; i < 3; i++)
		trace_span_end(trace_span_start(t, NULL, "last words"));
	trace_exporter_free(t, 10000);
	pthread_mutex_lock(&c.lock);
	assert_int_equal(json_array_size(c.spans), 3);
	pthread_mutex_unlock(&c.lock);
	collector_stop(&c);
	free(url);
}

static int watchdog(void **state)
{
	(void)state;
	alarm(WATCHDOG_S);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(exports_spans_in_otlp_shape, watchdog),
		cmocka_unit_test_setup(batches_and_limits, watchdog),
		cmocka_unit_test_setup(tracing_off_does_nothing, watchdog),
		cmocka_unit_test_setup(bad_arguments_are_refused, watchdog),
		cmocka_unit_test_setup(refused_collector_loses_spans_quietly, watchdog),
		cmocka_unit_test_setup(failing_collector_counts_drops, watchdog),
		cmocka_unit_test_setup(hung_collector_does_not_block_and_overflow_drops, watchdog),
		cmocka_unit_test_setup(free_sends_what_is_queued, watchdog),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
