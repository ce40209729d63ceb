/*
 * Tests of src/obs: the Prometheus registry (counts, histogram, escaping,
 * bounded series, exact counts under concurrency) and the JSON log (one
 * valid object per line, request ids, key redaction).
 *
 * Log lines are captured by pointing fd 2 at a scratch file for the
 * duration of a test and reading the file back.
 */
#include "testlib.h"

#include <ctype.h>
#include <pthread.h>

#include <jansson.h>

#include "obs/log.h"
#include "obs/metrics.h"

/* Asserts that text holds `line` as a whole line. */
static void assert_has_line(const char *text, const char *line)
{
	size_t len = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
		if ((p == text || p[-1] == '\n') && p[len] == '\n')
			return;
	}
	fail_msg("line '%s' not found in:\n%s", line, text);
}

static char *render(void)
{
	size_t len = 0;
	char *text = metrics_render(&len);

	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	return text;
}

static void metrics_count_requests_runs_and_gauges(void **state)
{
	char *text;
	(void)state;

	metrics_reset();
	metrics_request("/api/runs", 200);
	metrics_request("/api/runs", 200);
	metrics_request("/api/runs/{id}", 404);
	metrics_run("ok", 40);
	metrics_run("ok", 100);
	metrics_run("timeout", 30000);
	metrics_run("ok", 70000);
	metrics_queue_depth_set(3);
	metrics_runs_active_set(-1);
	metrics_runs_active_set(2);
	metrics_sandbox_failure();
	metrics_queue_rejected();
	metrics_queue_rejected();
	text = render();
	assert_has_line(text, "# HELP ledgerbox_http_requests_total HTTP requests answered, "
			      "by route template and status.");
	assert_has_line(text, "# TYPE ledgerbox_http_requests_total counter");
	assert_has_line(text, "ledgerbox_http_requests_total{route=\"/api/runs\",status=\"200\"} 2");
	assert_has_line(text,
			"ledgerbox_http_requests_total{route=\"/api/runs/{id}\",status=\"404\"} 1");
	assert_has_line(text, "# TYPE ledgerbox_runs_total counter");
	assert_has_line(text, "ledgerbox_runs_total{status=\"ok\"} 3");
	assert_has_line(text, "ledgerbox_runs_total{status=\"timeout\"} 1");
	assert_has_line(text, "# TYPE ledgerbox_run_duration_seconds histogram");
	/* Buckets are cumulative and a bound is inclusive (100 ms is le 0.1). */
	assert_has_line(text, "ledgerbox_run_duration_seconds_bucket{le=\"0.05\"} 1");
	assert_has_line(text, "ledgerbox_run_duration_seconds_bucket{le=\"0.1\"} 2");
	assert_has_line(text, "ledgerbox_run_duration_seconds_bucket{le=\"0.25\"} 2");
	assert_has_line(text, "ledgerbox_run_duration_seconds_bucket{le=\"10\"} 2");
	assert_has_line(text, "ledgerbox_run_duration_seconds_bucket{le=\"30\"} 3");
	assert_has_line(text, "ledgerbox_run_duration_seconds_bucket{le=\"60\"} 3");
	assert_has_line(text, "ledgerbox_run_duration_seconds_bucket{le=\"+Inf\"} 4");
	assert_has_line(text, "ledgerbox_run_duration_seconds_sum 100.140");
	assert_has_line(text, "ledgerbox_run_duration_seconds_count 4");
	assert_has_line(text, "# TYPE ledgerbox_queue_depth gauge");
	assert_has_line(text, "ledgerbox_queue_depth 3");
	assert_has_line(text, "ledgerbox_runs_active 2");
	assert_has_line(text, "ledgerbox_sandbox_failures_total 1");
	assert_has_line(text, "ledgerbox_queue_rejected_total 2");
	free(text);
}

/* Every line is a HELP, a TYPE, or a sample of a metric announced before. */
static void metrics_exposition_is_well_formed(void **state)
{
	char *text, *line, *save = NULL;
	char announced[16][64];
	size_t n_announced = 0;
	(void)state;

	metrics_reset();
	metrics_request("/", 200);
	metrics_run("ok", 1);
	text = render();
	assert_true(text[strlen(text) - 1] == '\n');
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[64];
		bool known = false;
		if (sscanf(line, "# TYPE %63s", name) == 1) {
			assert_true(n_announced < 16);
			snprintf(announced[n_announced++], sizeof(announced[0]), "%s", name);
			continue;
		}
		if (strncmp(line, "# HELP ", 7) == 0)
			continue;
		for (size_t i = 0; i < n_announced; i++)
			known |= strncmp(line, announced[i], strlen(announced[i])) == 0;
		assert_true(known);
		assert_non_null(strrchr(line, ' '));
		assert_true(isdigit((unsigned char)strrchr(line, ' ')[1]) ||
			    strrchr(line, ' ')[1] == '-');
	}
	assert_int_equal(n_announced, 12);
	free(text);
}

static void metrics_escape_label_values(void **state)
{
	char *text;
	(void)state;

	metrics_reset();
	metrics_request("/a\"b\\c\nd", 500);
	metrics_run("we\"ird\n", 1);
	text = render();
	assert_has_line(text,
			"ledgerbox_http_requests_total{route=\"/a\\\"b\\\\c\\nd\",status=\"500\"} 1");
	assert_has_line(text, "ledgerbox_runs_total{status=\"we\\\"ird\\n\"} 1");
	free(text);
}

static void metrics_bound_their_series(void **state)
{
	char route[64], *text, long_route[200];
	(void)state;

	metrics_reset();
	for (int i = 0; i < METRICS_ROUTES_MAX; i++) {
		snprintf(route, sizeof(route), "/r%d", i);
		metrics_request(route, 200);
	}
	metrics_request("/r0", 200);  /* an existing pair still counts as itself */
	metrics_request("/r0", 201);  /* a new pair past the bound */
	metrics_request("/new", 200);
	metrics_request("/new2", 200);
	metrics_request("other", 200); /* never a second route="other" series */
	memset(long_route, 'x', sizeof(long_route) - 1);
	long_route[sizeof(long_route) - 1] = '\0';
	metrics_request(long_route, 404);
	metrics_request(NULL, 404);
	metrics_request("/r1", 1000); /* not an HTTP status */
	for (int i = 0; i < METRICS_RUN_STATUSES_MAX + 2; i++) {
		snprintf(route, sizeof(route), "status%d", i);
		metrics_run(route, 1);
	}
	text = render();
	assert_has_line(text, "ledgerbox_http_requests_total{route=\"/r0\",status=\"200\"} 2");
	assert_has_line(text, "ledgerbox_http_requests_total{route=\"/r63\",status=\"200\"} 1");
	assert_has_line(text, "ledgerbox_http_requests_total{route=\"other\",status=\"200\"} 3");
	assert_has_line(text, "ledgerbox_http_requests_total{route=\"other\",status=\"201\"} 1");
	assert_has_line(text, "ledgerbox_http_requests_total{route=\"other\",status=\"404\"} 2");
	assert_has_line(text, "ledgerbox_http_requests_total{route=\"other\",status=\"0\"} 1");
	assert_null(strstr(text, "/new"));
	assert_null(strstr(text, "xxxx"));
	assert_has_line(text, "ledgerbox_runs_total{status=\"status15\"} 1");
	assert_null(strstr(text, "status16"));
	assert_has_line(text, "ledgerbox_runs_total{status=\"other\"} 2");
	free(text);
}

#define THREADS 4
#define PER_THREAD 10000

static void *metrics_hammer(void *arg)
{
	(void)arg;
	for (int i = 0; i < PER_THREAD; i++) {
		metrics_request("/api/runs", 200);
		metrics_run("ok", 7);
		metrics_queue_rejected();
		if (i % 1000 == 0)
			free(metrics_render(NULL));
	}
	return NULL;
}

static void metrics_add_up_under_concurrency(void **state)
{
	pthread_t threads[THREADS];
	char *text;
	(void)state;

	metrics_reset();
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&threads[i], NULL, metrics_hammer, NULL), 0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(threads[i], NULL), 0);
	text = render();
	assert_has_line(text, "ledgerbox_http_requests_total{route=\"/api/runs\",status=\"200\"} 40000");
	assert_has_line(text, "ledgerbox_runs_total{status=\"ok\"} 40000");
	assert_has_line(text, "ledgerbox_run_duration_seconds_bucket{le=\"0.05\"} 40000");
	assert_has_line(text, "ledgerbox_run_duration_seconds_sum 280.000");
	assert_has_line(text, "ledgerbox_run_duration_seconds_count 40000");
	assert_has_line(text, "ledgerbox_queue_rejected_total 40000");
	free(text);
}

/* Points fd 2 at a fresh scratch file; returns the saved fd 2. */
static int stderr_capture_start(const char *name, char **ret_path)
{
	int saved = dup(2), fd;

	assert_true(saved >= 0);
	assert_true(asprintf(ret_path, "%s/%s", tl_tmp(), name) > 0);
	fd = open(*ret_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	close(fd);
	return saved;
}

/* Puts fd 2 back and returns what was written to it. */
static char *stderr_capture_end(int saved, char *path)
{
	char *text = NULL;
	size_t len = 0;
	char chunk[4096];
	ssize_t n;
	int fd;

	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		tl_append(&text, &len, chunk, (size_t)n);
	close(fd);
	free(path);
	if (!text)
		tl_append(&text, &len, "", 0);
	return text;
}

/* Parses one log line and checks the standard members. */
static json_t *line_parse(const char *line, const char *level, const char *event)
{
	json_error_t error;
	json_t *j = json_loads(line, 0, &error);
	const char *ts;

	if (!j)
		fail_msg("not JSON: '%s': %s", line, error.text);
	assert_true(json_is_object(j));
	ts = json_string_value(json_object_get(j, "ts"));
	assert_non_null(ts);
	/* 2024-05-01T09:30:00.123Z */
	assert_int_equal(strlen(ts), 24);
	assert_true(ts[4] == '-' && ts[10] == 'T' && ts[19] == '.' && ts[23] == 'Z');
	assert_string_equal(json_string_value(json_object_get(j, "level")), level);
	assert_string_equal(json_string_value(json_object_get(j, "event")), event);
	return j;
}

static void log_writes_one_json_object_per_line(void **state)
{
	char *path, *text, *line, *save = NULL;
	json_t *fields = json_pack("{s:s, s:i, s:s, s:s}", "run_id", "r1", "wall_ms", 812, "ts",
				   "forged", "note", "two\nlines");
	json_t *j;
	int saved = stderr_capture_start("log1.txt", &path);
	(void)state;

	log_event(LOG_INFO, "0123456789abcdef", "run_done", fields);
	log_event(LOG_WARN, NULL, "no_request", NULL);
	log_event(LOG_DEBUG, NULL, "hidden", NULL);
	log_set_level(LOG_DEBUG);
	log_event(LOG_DEBUG, "bad\xff", "shown", NULL);
	log_set_level(LOG_ERROR);
	log_event(LOG_WARN, NULL, "hidden", NULL);
	log_set_level(LOG_INFO);
	text = stderr_capture_end(saved, path);

	/* Borrowed, not consumed. */
	assert_int_equal(fields->refcount, 1);
	json_decref(fields);
	assert_null(strstr(text, "hidden"));
	line = strtok_r(text, "\n", &save);
	j = line_parse(line, "info", "run_done");
	assert_string_equal(json_string_value(json_object_get(j, "request_id")), "0123456789abcdef");
	assert_string_equal(json_string_value(json_object_get(j, "run_id")), "r1");
	assert_int_equal(json_integer_value(json_object_get(j, "wall_ms")), 812);
	assert_string_equal(json_string_value(json_object_get(j, "note")), "two\nlines");
	assert_string_not_equal(json_string_value(json_object_get(j, "ts")), "forged");
	assert_int_equal(strncmp(line, "{\"ts\":", 6), 0);
	json_decref(j);
	j = line_parse(strtok_r(NULL, "\n", &save), "warn", "no_request");
	assert_null(json_object_get(j, "request_id"));
	json_decref(j);
	j = line_parse(strtok_r(NULL, "\n", &save), "debug", "shown");
	assert_string_equal(json_string_value(json_object_get(j, "request_id")), "bad\xef\xbf\xbd");
	json_decref(j);
	assert_null(strtok_r(NULL, "\n", &save));
	free(text);
}

static void *log_hammer(void *arg)
{
	json_t *fields = json_pack("{s:i, s:s}", "thread", (int)(intptr_t)arg, "pad",
				   "................................................................"
				   "................................................................");
	for (int i = 0; i < 500; i++)
		log_event(LOG_INFO, NULL, "hammer", fields);
	json_decref(fields);
	return NULL;
}

static void log_lines_do_not_interleave(void **state)
{
	pthread_t threads[THREADS];
	char *path, *text, *line, *save = NULL;
	int saved = stderr_capture_start("log2.txt", &path), lines = 0;
	(void)state;

	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&threads[i], NULL, log_hammer, (void *)(intptr_t)i), 0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(threads[i], NULL), 0);
	text = stderr_capture_end(saved, path);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_decref(line_parse(line, "info", "hammer"));
		lines++;
	}
	assert_int_equal(lines, THREADS * 500);
	free(text);
}

static void log_levels_have_names(void **state)
{
	enum log_level level = LOG_INFO;
	(void)state;

	assert_string_equal(log_level_name(LOG_ERROR), "error");
	assert_int_equal(log_level_parse("warn", &level), 0);
	assert_int_equal(level, LOG_WARN);
	assert_int_equal(log_level_parse("WARN", &level), -EINVAL);
	assert_int_equal(log_level_parse(NULL, &level), -EINVAL);
	assert_int_equal(level, LOG_WARN);
}

#define IDS 200

static void request_ids_are_16_hex_and_differ(void **state)
{
	static char ids[IDS][LOG_REQUEST_ID_LEN + 1];
	(void)state;

	for (int i = 0; i < IDS; i++) {
		log_request_id_new(ids[i]);
		assert_int_equal(strlen(ids[i]), 16);
		assert_int_equal(strspn(ids[i], "0123456789abcdef"), 16);
		for (int k = 0; k < i; k++)
			assert_string_not_equal(ids[i], ids[k]);
	}
}

static void redaction_keeps_only_the_last_4_characters(void **state)
{
	const char *key = "lbx_3f9a0c1d2e4b5a6c7d8e9f0a1b2c9f3a";
	char header[128];
	(void)state;

	snprintf(header, sizeof(header), "Bearer %s", key);
	assert_string_equal(log_redact_key(header), "lbx_\xe2\x80\xa6" "9f3a");
	assert_string_equal(log_redact_key(key), "lbx_\xe2\x80\xa6" "9f3a");
	assert_string_equal(log_redact_key("  bearer \t lbx_3f9a0c1d2e4b5a6c  "),
			    "lbx_\xe2\x80\xa6" "5a6c");
	assert_null(strstr(log_redact_key(header), "3f9a0c"));
	assert_string_equal(log_redact_key("Bearer sk-abcdefghijklmnop"), "\xe2\x80\xa6mnop");
	assert_string_equal(log_redact_key("Bearer lbx_short"), "lbx_\xe2\x80\xa6");
	assert_string_equal(log_redact_key("abc"), "\xe2\x80\xa6");
	assert_string_equal(log_redact_key("lbx_aaaaaaaaaa\"{}x"), "lbx_\xe2\x80\xa6???x");
	assert_string_equal(log_redact_key(NULL), "(none)");
	assert_string_equal(log_redact_key(""), "(none)");
	assert_string_equal(log_redact_key("Bearer "), "(none)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(metrics_count_requests_runs_and_gauges),
		cmocka_unit_test(metrics_exposition_is_well_formed),
		cmocka_unit_test(metrics_escape_label_values),
		cmocka_unit_test(metrics_bound_their_series),
		cmocka_unit_test(metrics_add_up_under_concurrency),
		cmocka_unit_test(log_writes_one_json_object_per_line),
		cmocka_unit_test(log_lines_do_not_interleave),
		cmocka_unit_test(log_levels_have_names),
		cmocka_unit_test(request_ids_are_16_hex_and_differ),
		cmocka_unit_test(redaction_keeps_only_the_last_4_characters),
	};
	return cmocka_run_group_tests_name("obs", tests, NULL, NULL);
}
