/*
 * Nothing stale from the result cache, end to end: the server runs under
 * libfaketime (tests/fault/faketime.h) with the business in Europe/Berlin
 * (LEDGERBOX_TZ) and the machine's zone UTC, and a stub model.
 *
 * At 23:58 on 30 November in Berlin, questions and programs are asked
 * twice (the second is an exact hit). At 00:05 on 1 December in Berlin
 * (still 30 November in UTC, so a day in the wrong zone would be caught
 * too) the ones that depend on the date are asked again and must run
 * again: "revenue last month" (a dated question), a question that does not
 * look dated but whose generated code uses date('now'), and hand-written
 * SQL using date('now'). A date-independent question and program are still
 * served from the cache. The model is told the business's date each time.
 * A question in German (no English period word) whose generated code
 * holds the month it was told is dated too. A paraphrase of a dated
 * question is a semantic hit the same day and none the next. At 01:30 in
 * Berlin the UTC day turns too: what SQL's date('now') read at 00:05 (30
 * November in UTC) is not served then either.
 *
 * Then the data: a file in a subfolder of the dataset (/data/extra/x.csv)
 * rewritten with the same size and its times put back (`touch -r`) is not
 * answered from the cache.
 */
#include "fault/faketime.h"
#include "support/llm_stub.h"

/* 2026-11-30 23:58 and 2026-12-01 00:05 in Berlin (UTC+1 in winter). */
#define BERLIN_NOV30_2358 ((time_t)1796079480) /* 2026-11-30T22:58:00Z */
#define BERLIN_DEC01_0005 ((time_t)1796079900) /* 2026-11-30T23:05:00Z */
#define BERLIN_DEC01_0130 ((time_t)1796085000) /* 2026-12-01T00:30:00Z */

static struct server srv;
static struct faketime ft;
static struct llm_stub *stub;
static char *erin;
static char url_env[128];
/* NO_FAKE_STAT: the files keep their real times (libfaketime would shift
 * them with the clock, as if every file had changed when the clock moved). */
static char *env_vars[] = { FT_ENV(ft), "NO_FAKE_STAT=1", url_env, "TZ=UTC",
			    "LEDGERBOX_TZ=Europe/Berlin",
			    "LEDGERBOX_MAX_RUNS=2", "LEDGERBOX_LLM_RETRIES=0", NULL };

/* Each question, the code the model writes for it, and whether its answer
 * depends on the date. */
static const struct {
	const char *question, *code;
	bool dated;
} QUESTIONS[] = {
	{ "revenue last month", "SELECT count(*) AS n FROM invoices", true },
	{ "number of invoices in 2025", "SELECT count(*) AS n2025 FROM invoices", false },
	{ "number of invoices per customer", "SELECT date('now') AS d, count(*) AS n FROM invoices",
	  true },
	/* No English period word and no clock call: the model took the month
	 * from the date it was told. */
	{ "Umsatz im aktuellen Monat",
	  "SELECT count(*) AS n FROM invoices WHERE issue_date >= '2026-11-01'", true },
};

static const struct {
	const char *code;
	bool dated;
} PROGRAMS[] = {
	{ "SELECT date('now') AS today, count(*) AS n FROM invoices", true },
	{ "SELECT count(*) AS every_invoice FROM invoices", false },
};

static void analyze(const char *body, struct reply *r)
{
	hl_call_timeout(&srv, "POST", "/api/analyze", erin, body, strlen(body), NULL, 60000, r);
	if (r->status != 200)
		fail_msg("POST /api/analyze %s: %ld %s", body, r->status, r->body);
	assert_string_equal(hl_str(r->json, "status"), "ok");
}

static bool exact_hit(const struct reply *r)
{
	const char *t = json_string_value(json_object_get(r->json, "cacheType"));

	return json_is_true(json_object_get(r->json, "cacheHit")) && t && strcmp(t, "exact") == 0;
}

static bool any_hit(const struct reply *r)
{
	return json_is_true(json_object_get(r->json, "cacheHit"));
}

static char *question_body(size_t i)
{
	json_t *b = json_pack("{s:s,s:s,s:s}", "language", "sql", "dataset", "demo", "query",
			      QUESTIONS[i].question);
	char *text = json_dumps(b, JSON_COMPACT);

	json_decref(b);
	assert_non_null(text);
	return text;
}

static char *program_body(const char *code)
{
	json_t *b = json_pack("{s:s,s:s,s:s}", "language", "sql", "dataset", "demo", "code", code);
	char *text = json_dumps(b, JSON_COMPACT);

	json_decref(b);
	assert_non_null(text);
	return text;
}

/* Asks question i; the stub answers with its code when asked. Returns
 * whether the model was asked. */
static bool ask(size_t i, struct reply *r)
{
	char content[512];
	struct stub_reply reply = { .content = content };
	char *body = question_body(i);
	unsigned calls = llm_stub_calls(stub, "/api/chat");

	snprintf(content, sizeof(content), "```sql\n%s\n```", QUESTIONS[i].code);
	llm_stub_default(stub, &reply);
	analyze(body, r);
	free(body);
	return llm_stub_calls(stub, "/api/chat") > calls;
}

/* The system message of the last prompt says `line`. */
static void assert_prompt_says(const char *line)
{
	json_t *b = llm_stub_last_body(stub);
	const char *system = hl_str(json_array_get(json_object_get(b, "messages"), 0), "content");

	if (!system || !strstr(system, line))
		fail_msg("the prompt does not say \"%s\": %s", line, system ? system : "(none)");
	json_decref(b);
}

static int setup(void **state)
{
	(void)state;
	stub = llm_stub_start();
	snprintf(url_env, sizeof(url_env), "LEDGERBOX_LLM_URL=http://127.0.0.1:%d",
		 llm_stub_port(stub));
	ft_init(&ft, "fault-cache-day");
	ft_set_unix(&ft, BERLIN_NOV30_2358);
	hl_prepare(&srv, "fault-cache-day", env_vars);
	erin = hl_key_create(&srv, "erin", "finance", "analyst");
	hl_start(&srv);
	ft_note(&ft, srv.pid);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ft_note(&ft, srv.pid);
	hl_stop(&srv, SIGTERM);
	ft_cleanup(&ft);
	llm_stub_stop(stub);
	free(erin);
	curl_global_cleanup();
	return 0;
}

static void before_midnight_answers_are_cached(void **state)
{
	struct reply r;
	(void)state;

	for (size_t i = 0; i < sizeof(QUESTIONS) / sizeof(QUESTIONS[0]); i++) {
		assert_true(ask(i, &r));
		assert_false(any_hit(&r));
		assert_prompt_says("Today is 2026-11-30 (Europe/Berlin).");
		hl_reply_free(&r);
		assert_false(ask(i, &r));
		if (!exact_hit(&r))
			fail_msg("'%s' asked again the same day was not an exact hit",
				 QUESTIONS[i].question);
		hl_reply_free(&r);
	}
	for (size_t i = 0; i < sizeof(PROGRAMS) / sizeof(PROGRAMS[0]); i++) {
		char *body = program_body(PROGRAMS[i].code);
		analyze(body, &r);
		assert_false(any_hit(&r));
		hl_reply_free(&r);
		analyze(body, &r);
		assert_true(exact_hit(&r));
		hl_reply_free(&r);
		free(body);
	}
}

/* The same dated question in other words: a semantic hit the same day
 * (its code reused), never on the next. */
static const char *const PARAPHRASE[] = { "total revenue last month",
					  "show me the total revenue last month",
					  "please show the total revenue last month" };

static void ask_words(const char *question, struct reply *r)
{
	struct stub_reply reply = { .content = "```sql\nSELECT count(*) AS paraphrased FROM invoices\n```" };
	json_t *b = json_pack("{s:s,s:s,s:s}", "language", "sql", "dataset", "demo", "query", question);
	char *body = json_dumps(b, JSON_COMPACT);

	json_decref(b);
	assert_non_null(body);
	llm_stub_default(stub, &reply);
	analyze(body, r);
	free(body);
}

static void paraphrase_is_semantic_the_same_day(void **state)
{
	struct reply r;
	const char *type;
	(void)state;

	ask_words(PARAPHRASE[0], &r);
	assert_false(any_hit(&r));
	hl_reply_free(&r);
	ask_words(PARAPHRASE[1], &r);
	type = json_string_value(json_object_get(r.json, "cacheType"));
	if (!any_hit(&r) || !type || strcmp(type, "semantic") != 0)
		fail_msg("'%s' was not a semantic hit of '%s' the same day", PARAPHRASE[1],
			 PARAPHRASE[0]);
	hl_reply_free(&r);
}

/* Each program asked after a day boundary: a dated one runs again (`stale`
 * says what went wrong if not), a date-independent one is served; with
 * `again`, a dated one's new answer is then served for the rest of the
 * day. */
static void programs_after_boundary(const char *stale, bool again)
{
	struct reply r;

	for (size_t i = 0; i < sizeof(PROGRAMS) / sizeof(PROGRAMS[0]); i++) {
		char *body = program_body(PROGRAMS[i].code);
		analyze(body, &r);
		if (PROGRAMS[i].dated && any_hit(&r))
			fail_msg("%s: %s", PROGRAMS[i].code, stale);
		if (!PROGRAMS[i].dated && !exact_hit(&r))
			fail_msg("%s was not served from the cache", PROGRAMS[i].code);
		hl_reply_free(&r);
		if (again) {
			analyze(body, &r);
			assert_true(exact_hit(&r));
			hl_reply_free(&r);
		}
		free(body);
	}
}

static void after_midnight_dated_answers_run_again(void **state)
{
	struct reply r, fresh;
	unsigned calls;
	(void)state;

	ft_set_unix(&ft, BERLIN_DEC01_0005);
	/* A third wording first, so neither key of 30 November can answer it
	 * and only the semantic lookup could; then the second wording may
	 * reuse only what was made on 1 December. */
	calls = llm_stub_calls(stub, "/api/chat");
	ask_words(PARAPHRASE[2], &fresh);
	if (any_hit(&fresh) || llm_stub_calls(stub, "/api/chat") == calls)
		fail_msg("'%s' was answered on 1 December from 30 November's cache", PARAPHRASE[2]);
	ask_words(PARAPHRASE[1], &r);
	if (any_hit(&r) && strcmp(hl_str(r.json, "cachedFrom"), hl_str(fresh.json, "id")) != 0)
		fail_msg("'%s' was answered on 1 December from 30 November's cache", PARAPHRASE[1]);
	hl_reply_free(&r);
	hl_reply_free(&fresh);
	for (size_t i = 0; i < sizeof(QUESTIONS) / sizeof(QUESTIONS[0]); i++) {
		bool asked = ask(i, &r);
		if (QUESTIONS[i].dated && (any_hit(&r) || !asked))
			fail_msg("'%s' from 30 November was served on 1 December",
				 QUESTIONS[i].question);
		if (!QUESTIONS[i].dated && (!exact_hit(&r) || asked))
			fail_msg("'%s' does not depend on the date but was not served from the cache",
				 QUESTIONS[i].question);
		if (asked)
			assert_prompt_says("Today is 2026-12-01 (Europe/Berlin).");
		hl_reply_free(&r);
	}
	programs_after_boundary("30 November's answer served on 1 December", true);
}

/* SQLite's date('now') is UTC: the answer made at 00:05 in Berlin read 30
 * November and must not be served once UTC is in December too. */
static void utc_midnight_is_a_boundary_too(void **state)
{
	(void)state;
	ft_set_unix(&ft, BERLIN_DEC01_0130);
	programs_after_boundary("the answer of 23:05 UTC served at 00:30 UTC", false);
}

static void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(content, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* Rewrites path with content of the same size and puts its access and
 * modification times back, as `touch -r` would. */
static void rewrite_keeping_times(const char *path, const char *content)
{
	struct timespec t[2];
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	t[0] = st.st_atim;
	t[1] = st.st_mtim;
	write_file(path, content);
	assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mtim.tv_sec, t[1].tv_sec);
	assert_int_equal(st.st_mtim.tv_nsec, t[1].tv_nsec);
}

static void subfolder_edit_is_never_served(void **state)
{
	const char *body = "{\"language\":\"python\",\"dataset\":\"demo\",\"code\":"
			   "\"print(open('/data/extra/x.csv').read().split()[1])\"}";
	char dir[700], path[800];
	struct reply r;
	(void)state;

	snprintf(dir, sizeof(dir), "%s/demo/extra", srv.data);
	if (mkdir(dir, 0755) < 0)
		fail_msg("mkdir %s: %s", dir, strerror(errno));
	snprintf(path, sizeof(path), "%s/x.csv", dir);
	write_file(path, "x\n1\n");
	/* A dataset written in the current tick of the file system's clock is
	 * not cached yet (datasets.h): let the tick pass. */
	fl_sleep_ms(30);
	analyze(body, &r);
	assert_string_equal(hl_str(r.json, "output"), "1\n");
	hl_reply_free(&r);
	analyze(body, &r);
	assert_true(exact_hit(&r));
	hl_reply_free(&r);
	/* ctime moves on a coarse clock: let it pass a tick after the write
	 * above, as it has for any file edited after it was made. */
	fl_sleep_ms(30);
	rewrite_keeping_times(path, "x\n2\n");
	analyze(body, &r);
	assert_false(any_hit(&r));
	assert_string_equal(hl_str(r.json, "output"), "2\n");
	hl_reply_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(before_midnight_answers_are_cached),
		cmocka_unit_test(paraphrase_is_semantic_the_same_day),
		cmocka_unit_test(after_midnight_dated_answers_run_again),
		cmocka_unit_test(utc_midnight_is_a_boundary_too),
		cmocka_unit_test(subfolder_edit_is_never_served),
	};
	return cmocka_run_group_tests_name("fault_cache_day", tests, setup, teardown);
}
