/*
 * The model-server client (src/llm/llm.h) against the stub server
 * (tests/support/llm_stub.h): both APIs whole and streamed, counts and
 * their estimates, request bodies, retries and what is never retried,
 * Retry-After, refused connections, timeouts, deadlines, cancellation,
 * garbage, streams that die, embeddings and readiness.
 */
#include "testlib.h"

#include <math.h>

#include "llm/llm.h"
#include "support/llm_stub.h"
#include "util/clock.h"

struct fixture {
	struct llm_stub *stub;
	struct llm_config cfg;
};

struct tokens {
	char *text;
	size_t len, pieces, restarts;
};

static void on_token(void *ctx, const char *piece, size_t len)
{
	struct tokens *t = ctx;

	assert_true(len > 0);
	tl_append(&t->text, &t->len, piece, len);
	t->pieces++;
}

static void on_restart(void *ctx)
{
	struct tokens *t = ctx;

	free(t->text);
	t->text = NULL;
	t->len = 0;
	t->restarts++;
}

static void tokens_free(struct tokens *t)
{
	free(t->text);
	memset(t, 0, sizeof(*t));
}

static void config_for(struct fixture *f, enum llm_api api)
{
	memset(&f->cfg, 0, sizeof(f->cfg));
	llm_stub_url(f->stub, f->cfg.url, sizeof(f->cfg.url));
	f->cfg.api = api;
	snprintf(f->cfg.model, sizeof(f->cfg.model), "%s", LLM_STUB_MODEL_NAME);
	f->cfg.connect_timeout_ms = 2000;
	f->cfg.timeout_ms = 10000;
	f->cfg.max_tokens = 256;
	f->cfg.num_ctx = 4096;
	f->cfg.backoff_base_ms = 5;
	f->cfg.backoff_max_ms = 20;
	f->cfg.temperature = 0.25;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->stub = llm_stub_start();
	config_for(f, LLM_API_OLLAMA);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	llm_stub_stop(f->stub);
	free(f);
	return 0;
}

static const struct llm_message two_messages[] = {
	{ "system", "You write SQL for SQLite." },
	{ "user", "How many invoices are overdue?" },
};

static const char *chat_path(enum llm_api api)
{
	return api == LLM_API_OLLAMA ? "/api/chat" : "/v1/chat/completions";
}

static int chat(struct fixture *f, bool stream, struct tokens *t, struct llm_reply *r, struct llm_error *e)
{
	struct llm_call call = {
		.messages = two_messages, .n_messages = 2, .stream = stream,
		.on_token = t ? on_token : NULL, .on_restart = t ? on_restart : NULL, .ctx = t,
	};

	memset(e, 0, sizeof(*e));
	return llm_chat(&f->cfg, &call, r, e);
}

static uint64_t prompt_estimate(void)
{
	return llm_estimate_tokens(NULL, strlen(two_messages[0].content) + strlen(two_messages[1].content));
}

static void check_body(struct fixture *f, bool stream)
{
	json_t *b = llm_stub_last_body(f->stub), *opts, *msgs;

	assert_non_null(b);
	assert_string_equal(json_string_value(json_object_get(b, "model")), LLM_STUB_MODEL_NAME);
	assert_true(json_is_boolean(json_object_get(b, "stream")));
	assert_int_equal(json_is_true(json_object_get(b, "stream")), stream);
	msgs = json_object_get(b, "messages");
	assert_int_equal(json_array_size(msgs), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "role")), "system");
	assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "content")),
			    two_messages[1].content);
	if (f->cfg.api == LLM_API_OLLAMA) {
		opts = json_object_get(b, "options");
		assert_int_equal(json_integer_value(json_object_get(opts, "num_ctx")), 4096);
		assert_int_equal(json_integer_value(json_object_get(opts, "num_predict")), 256);
		assert_true(fabs(json_number_value(json_object_get(opts, "temperature")) - 0.25) < 1e-9);
		assert_null(json_object_get(b, "max_tokens"));
	} else {
		assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")), 256);
		assert_true(fabs(json_number_value(json_object_get(b, "temperature")) - 0.25) < 1e-9);
		assert_null(json_object_get(b, "options"));
		if (stream)
			assert_true(json_is_true(
				json_object_get(json_object_get(b, "stream_options"), "include_usage")));
		else
			assert_null(json_object_get(b, "stream_options"));
	}
	json_decref(b);
}

static void roundtrip(void **state, enum llm_api api, bool stream)
{
	static const char content[] = "```sql\nSELECT count(*) FROM invoices WHERE due < date('now');\n```\n"
				      "Überfällige Rechnungen \xe2\x9c\x93";
	struct fixture *f = *state;
	struct stub_reply sr = { .content = content, .prompt_tokens = 31, .completion_tokens = 17 };
	struct tokens t = { 0 };
	struct llm_reply r;
	struct llm_error e;

	config_for(f, api);
	llm_stub_push(f->stub, &sr);
	assert_int_equal(chat(f, stream, &t, &r, &e), 0);
	assert_string_equal(r.text, content);
	assert_int_equal(r.prompt_tokens, 31);
	assert_int_equal(r.completion_tokens, 17);
	assert_false(r.prompt_estimated);
	assert_false(r.completion_estimated);
	assert_int_equal(r.http_attempts, 1);
	assert_string_equal(r.finish_reason, "stop");
	if (api == LLM_API_OLLAMA)
		assert_int_equal(r.inference_ms, 2); /* 1.5 ms of total_duration, rounded up */
	/* The pieces make the text: one piece unstreamed, many streamed. */
	assert_non_null(t.text);
	assert_string_equal(t.text, content);
	if (stream)
		assert_true(t.pieces > 5);
	else
		assert_int_equal(t.pieces, 1);
	assert_int_equal(llm_stub_calls(f->stub, chat_path(api)), 1);
	check_body(f, stream);
	llm_reply_release(&r);
	assert_null(r.text);
	tokens_free(&t);
}

static void test_ollama_whole(void **state) { roundtrip(state, LLM_API_OLLAMA, false); }
static void test_ollama_streamed(void **state) { roundtrip(state, LLM_API_OLLAMA, true); }
static void test_openai_whole(void **state) { roundtrip(state, LLM_API_OPENAI, false); }
static void test_openai_streamed(void **state) { roundtrip(state, LLM_API_OPENAI, true); }

/* Counts the back end leaves out are estimated, marked, and never 0. */
static void test_counts_estimated(void **state)
{
	struct fixture *f = *state;
	struct stub_reply sr = { .content = "SELECT 42;", .omit_prompt_count = true, .completion_tokens = 4 };
	struct stub_reply empty = { .content = "", .omit_prompt_count = true };

	for (int api = 0; api < 2; api++) {
		for (int stream = 0; stream < 2; stream++) {
			struct llm_reply r;
			struct llm_error e;

			config_for(f, (enum llm_api)api);
			llm_stub_push(f->stub, &sr);
			assert_int_equal(chat(f, stream, NULL, &r, &e), 0);
			assert_string_equal(r.text, "SELECT 42;");
			assert_true(r.prompt_estimated);
			assert_int_equal(r.prompt_tokens, prompt_estimate());
			if (api == LLM_API_OLLAMA) { /* ollama still gives eval_count */
				assert_false(r.completion_estimated);
				assert_int_equal(r.completion_tokens, 4);
			} else { /* no usage at all */
				assert_true(r.completion_estimated);
				assert_int_equal(r.completion_tokens, llm_estimate_tokens("SELECT 42;", 10));
			}
			llm_reply_release(&r);
		}
	}
	/* An empty answer without usage still costs at least one token. */
	config_for(f, LLM_API_OPENAI);
	llm_stub_push(f->stub, &empty);
	{
		struct llm_reply r;
		struct llm_error e;

		assert_int_equal(chat(f, false, NULL, &r, &e), 0);
		assert_string_equal(r.text, "");
		assert_true(r.completion_estimated);
		assert_int_equal(r.completion_tokens, 1);
		assert_true(r.prompt_tokens > 0);
		llm_reply_release(&r);
	}
	assert_int_equal(llm_estimate_tokens("", 0), 1);
	assert_int_equal(llm_estimate_tokens("abcd", 4), 1);
	assert_int_equal(llm_estimate_tokens("abcde", 5), 2);
}

static void test_retry_5xx_then_success(void **state)
{
	struct fixture *f = *state;
	struct stub_reply fail = { .status = 500, .content = "model runner crashed" };
	struct stub_reply ok = { .content = "SELECT 1;" };
	struct llm_reply r;
	struct llm_error e;

	f->cfg.retries = 2;
	llm_stub_push(f->stub, &fail);
	llm_stub_push(f->stub, &fail);
	llm_stub_push(f->stub, &ok);
	assert_int_equal(chat(f, true, NULL, &r, &e), 0);
	assert_string_equal(r.text, "SELECT 1;");
	assert_int_equal(r.http_attempts, 3);
	assert_int_equal(llm_stub_calls(f->stub, "/api/chat"), 3);
	llm_reply_release(&r);
}

static void test_5xx_without_retries(void **state)
{
	struct fixture *f = *state;
	struct stub_reply fail = { .status = 500, .content = "model runner crashed" };
	struct llm_reply r = { 0 };
	struct llm_error e;

	for (int api = 0; api < 2; api++) {
		config_for(f, (enum llm_api)api);
		llm_stub_push(f->stub, &fail);
		assert_int_equal(chat(f, false, NULL, &r, &e), -EIO);
		assert_int_equal(e.kind, LLM_ERR_SERVER);
		assert_int_equal(e.http_status, 500);
		assert_int_equal(e.http_attempts, 1);
		assert_non_null(strstr(e.message, "HTTP 500"));
		assert_non_null(strstr(e.message, "model runner crashed")); /* the server's own text */
		assert_null(strchr(e.message, '\n'));
		assert_null(r.text); /* untouched on failure */
	}
}

static void test_4xx_never_retried(void **state)
{
	struct fixture *f = *state;
	struct stub_reply bad = { .status = 404, .content = "model 'nope' not found, try pulling it first" };
	struct llm_reply r;
	struct llm_error e;

	f->cfg.retries = 3;
	llm_stub_push(f->stub, &bad);
	assert_int_equal(chat(f, true, NULL, &r, &e), -EIO);
	assert_int_equal(e.kind, LLM_ERR_CLIENT);
	assert_int_equal(e.http_status, 404);
	assert_int_equal(e.http_attempts, 1);
	assert_non_null(strstr(e.message, "not found, try pulling it first"));
	assert_int_equal(llm_stub_calls(f->stub, "/api/chat"), 1);

	bad.status = 400;
	config_for(f, LLM_API_OPENAI);
	f->cfg.retries = 3;
	llm_stub_push(f->stub, &bad);
	assert_int_equal(chat(f, false, NULL, &r, &e), -EIO);
	assert_int_equal(e.kind, LLM_ERR_CLIENT);
	assert_int_equal(e.http_attempts, 1);
	assert_int_equal(llm_stub_calls(f->stub, "/v1/chat/completions"), 1);
}

static void test_429_retry_after(void **state)
{
	struct fixture *f = *state;
	struct stub_reply limited = { .status = 429, .retry_after = "1", .content = "slow down" };
	struct stub_reply ok = { .content = "SELECT 2;" };
	struct llm_reply r;
	struct llm_error e;
	uint64_t start;

	config_for(f, LLM_API_OPENAI);
	f->cfg.retries = 1;
	llm_stub_push(f->stub, &limited);
	llm_stub_push(f->stub, &ok);
	start = clock_mono_ms();
	assert_int_equal(chat(f, true, NULL, &r, &e), 0);
	/* A lower bound only: the wait asked for was honoured, not the 5 ms backoff. */
	assert_true(clock_mono_ms() - start >= 1000);
	assert_int_equal(r.http_attempts, 2);
	assert_int_equal(llm_stub_calls(f->stub, "/v1/chat/completions"), 2);
	assert_string_equal(r.text, "SELECT 2;");
	llm_reply_release(&r);
}

static void test_retry_after_past_deadline(void **state)
{
	struct fixture *f = *state;
	struct stub_reply busy = { .status = 503, .retry_after = "30", .content = "loading model" };
	struct llm_call call = { .messages = two_messages, .n_messages = 2 };
	struct llm_reply r;
	struct llm_error e;

	f->cfg.retries = 3;
	llm_stub_push(f->stub, &busy);
	call.deadline_mono_ms = clock_mono_ms() + 5000;
	assert_int_equal(llm_chat(&f->cfg, &call, &r, &e), -EIO);
	assert_int_equal(e.kind, LLM_ERR_SERVER);
	assert_int_equal(e.http_status, 503);
	assert_int_equal(e.retry_after_s, 30);
	assert_int_equal(e.http_attempts, 1);
	assert_int_equal(llm_stub_calls(f->stub, "/api/chat"), 1);
}

static void test_connection_refused(void **state)
{
	struct fixture *f = *state;
	char url[128];
	struct llm_reply r;
	struct llm_error e;

	f->cfg.retries = 1;
	llm_stub_close_listener(f->stub);
	assert_int_equal(chat(f, false, NULL, &r, &e), -ECONNREFUSED);
	assert_int_equal(e.kind, LLM_ERR_CONNECT);
	assert_int_equal(e.http_status, 0);
	assert_int_equal(e.http_attempts, 2); /* refused is transient */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/chat", llm_stub_port(f->stub));
	assert_non_null(strstr(e.message, url));
	assert_int_equal(llm_ready(&f->cfg, &e), -ECONNREFUSED);
	assert_int_equal(e.kind, LLM_ERR_CONNECT);
}

static void test_timeout(void **state)
{
	struct fixture *f = *state;
	struct stub_reply slow = { .content = "late", .delay_ms = 5000 };
	struct llm_reply r;
	struct llm_error e;

	f->cfg.timeout_ms = 300;
	llm_stub_push(f->stub, &slow);
	assert_int_equal(chat(f, true, NULL, &r, &e), -ETIMEDOUT);
	assert_int_equal(e.kind, LLM_ERR_TIMEOUT);
	assert_int_equal(e.http_attempts, 1);
}

static void test_deadline_shorter_than_backoff(void **state)
{
	struct fixture *f = *state;
	struct stub_reply fail = { .status = 500 };
	struct llm_call call = { .messages = two_messages, .n_messages = 2 };
	struct llm_reply r;
	struct llm_error e;

	/* Each backoff is a draw from [0, 5 s] against 300 ms left: the call
	 * ends on the deadline long before ten draws all fit. */
	f->cfg.retries = 10;
	f->cfg.backoff_base_ms = 5000;
	f->cfg.backoff_max_ms = 5000;
	llm_stub_default(f->stub, &fail);
	call.deadline_mono_ms = clock_mono_ms() + 300;
	assert_int_equal(llm_chat(&f->cfg, &call, &r, &e), -ETIMEDOUT);
	assert_int_equal(e.kind, LLM_ERR_DEADLINE);
	assert_true(e.http_attempts >= 1);
	assert_true(e.http_attempts < 11);
	assert_non_null(strstr(e.message, "deadline"));

	/* A deadline inside one slow attempt is a deadline, not a timeout. */
	llm_stub_push(f->stub, &(struct stub_reply){ .content = "late", .delay_ms = 5000 });
	call.deadline_mono_ms = clock_mono_ms() + 300;
	assert_int_equal(llm_chat(&f->cfg, &call, &r, &e), -ETIMEDOUT);
	assert_int_equal(e.kind, LLM_ERR_DEADLINE);

	/* A deadline already gone: nothing is sent. */
	call.deadline_mono_ms = clock_mono_ms() - 1;
	assert_int_equal(llm_chat(&f->cfg, &call, &r, &e), -ETIMEDOUT);
	assert_int_equal(e.kind, LLM_ERR_DEADLINE);
	assert_int_equal(e.http_attempts, 0);
}

struct canceller {
	uint64_t at_ms;
	unsigned polls;
};

static bool cancel_when_due(void *ctx)
{
	struct canceller *c = ctx;

	c->polls++;
	return clock_mono_ms() >= c->at_ms;
}

static void test_cancel(void **state)
{
	struct fixture *f = *state;
	struct stub_reply slow = { .content = "late", .delay_ms = 8000 };
	struct stub_reply fail = { .status = 502 };
	struct canceller c = { 0 };
	struct llm_call call = { .messages = two_messages, .n_messages = 2, .stream = true,
				 .cancelled = cancel_when_due, .ctx = &c };
	struct llm_reply r;
	struct llm_error e;

	/* During a transfer that would take 8 s. */
	llm_stub_push(f->stub, &slow);
	c.at_ms = clock_mono_ms() + 300;
	assert_int_equal(llm_chat(&f->cfg, &call, &r, &e), -ECANCELED);
	assert_int_equal(e.kind, LLM_ERR_CANCELLED);
	assert_true(c.polls >= 2);

	/* During a backoff sleep that would take up to 60 s. */
	f->cfg.retries = 5;
	f->cfg.backoff_base_ms = 60000;
	f->cfg.backoff_max_ms = 60000;
	llm_stub_default(f->stub, &fail);
	c.at_ms = clock_mono_ms() + 300;
	c.polls = 0;
	assert_int_equal(llm_chat(&f->cfg, &call, &r, &e), -ECANCELED);
	assert_int_equal(e.kind, LLM_ERR_CANCELLED);
}

static void test_garbage_not_retried(void **state)
{
	static const char *const raws[] = {
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\n"
		"Connection: close\r\n\r\nnot json!",
		"this is not HTTP at all\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n\r\n"
		"{\"message\":{\"role\":\"assistant\",\"content\":\"SEL\"},\"done\":false}\n<html>oops</html>\n",
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n"
		"Connection: close\r\n\r\n{\"done\":true}",
	};
	struct fixture *f = *state;
	struct llm_reply r;
	struct llm_error e;

	f->cfg.retries = 2;
	for (size_t i = 0; i < sizeof(raws) / sizeof(raws[0]); i++) {
		struct stub_reply g = { .raw = raws[i] };
		unsigned before = llm_stub_calls(f->stub, "/api/chat");

		llm_stub_push(f->stub, &g);
		assert_int_equal(chat(f, true, NULL, &r, &e), -EPROTO);
		assert_int_equal(e.kind, LLM_ERR_PROTOCOL);
		assert_int_equal(e.http_attempts, 1);
		assert_int_equal(llm_stub_calls(f->stub, "/api/chat"), before + 1);
	}
}

static void test_error_inside_stream(void **state)
{
	struct fixture *f = *state;
	struct stub_reply g = {
		.raw = "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n\r\n"
		       "{\"message\":{\"role\":\"assistant\",\"content\":\"SEL\"},\"done\":false}\n"
		       "{\"error\":\"llama runner process has terminated\"}\n",
	};
	struct llm_reply r;
	struct llm_error e;

	llm_stub_push(f->stub, &g);
	assert_int_equal(chat(f, true, NULL, &r, &e), -EIO);
	assert_int_equal(e.kind, LLM_ERR_SERVER);
	assert_int_equal(e.http_status, 200);
	assert_non_null(strstr(e.message, "llama runner process has terminated"));
}

static void test_die_mid_stream(void **state)
{
	struct fixture *f = *state;
	struct stub_reply die = { .content = "SELECT name, total FROM invoices ORDER BY total DESC;",
				  .die_mid_stream = true };
	struct stub_reply ok = { .content = "SELECT 3;" };

	for (int api = 0; api < 2; api++) {
		struct tokens t = { 0 };
		struct llm_reply r;
		struct llm_error e;

		/* Without retries: a protocol failure. */
		config_for(f, (enum llm_api)api);
		llm_stub_push(f->stub, &die);
		assert_int_equal(chat(f, true, &t, &r, &e), -EPROTO);
		assert_int_equal(e.kind, LLM_ERR_PROTOCOL);
		assert_true(t.pieces > 0); /* part of it came */
		tokens_free(&t);

		/* With one retry: the second attempt answers, and the caller was
		 * told to forget the first attempt's pieces. */
		f->cfg.retries = 1;
		llm_stub_push(f->stub, &die);
		llm_stub_push(f->stub, &ok);
		assert_int_equal(chat(f, true, &t, &r, &e), 0);
		assert_int_equal(r.http_attempts, 2);
		assert_int_equal(t.restarts, 1);
		assert_string_equal(t.text, "SELECT 3;");
		assert_string_equal(r.text, "SELECT 3;");
		llm_reply_release(&r);
		tokens_free(&t);
	}
}

static void test_reply_too_large(void **state)
{
	struct fixture *f = *state;
	size_t n = LLM_TEXT_MAX + 1000;
	char *big = malloc(n + 1);
	struct llm_reply r;
	struct llm_error e;

	assert_non_null(big);
	memset(big, 'x', n);
	big[n] = '\0';
	f->cfg.retries = 2;
	llm_stub_push(f->stub, &(struct stub_reply){ .content = big });
	free(big);
	assert_int_equal(chat(f, false, NULL, &r, &e), -EPROTO);
	assert_int_equal(e.kind, LLM_ERR_PROTOCOL);
	assert_int_equal(e.http_attempts, 1);
	assert_non_null(strstr(e.message, "too large"));
}

static void test_embed(void **state)
{
	static const char text[] = "overdue invoices by customer";
	struct fixture *f = *state;
	float want[LLM_STUB_EMBED_DIM];

	llm_stub_embedding(text, want);
	for (int api = 0; api < 2; api++) {
		float *vec = NULL;
		size_t dim = 0;
		struct llm_error e;

		config_for(f, (enum llm_api)api);
		assert_int_equal(llm_embed(&f->cfg, NULL, text, &vec, &dim, &e), 0);
		assert_int_equal(dim, LLM_STUB_EMBED_DIM);
		for (size_t i = 0; i < dim; i++)
			assert_true(vec[i] == want[i]);
		free(vec);
	}
	assert_int_equal(llm_stub_calls(f->stub, "/api/embed"), 1);
	assert_int_equal(llm_stub_calls(f->stub, "/v1/embeddings"), 1);
}

static void test_ready(void **state)
{
	struct fixture *f = *state;
	struct llm_error e;

	assert_int_equal(llm_ready(&f->cfg, &e), 0);
	config_for(f, LLM_API_OPENAI);
	assert_int_equal(llm_ready(&f->cfg, &e), 0);
	assert_int_equal(llm_stub_calls(f->stub, "/api/tags"), 1);
	assert_int_equal(llm_stub_calls(f->stub, "/v1/models"), 1);
	/* A server that is up but is not this API. */
	snprintf(f->cfg.url + strlen(f->cfg.url), sizeof(f->cfg.url) - strlen(f->cfg.url), "/nothing");
	assert_int_equal(llm_ready(&f->cfg, &e), -EIO);
	assert_int_equal(e.kind, LLM_ERR_CLIENT);
	assert_int_equal(e.http_status, 404);
}

static void test_key_and_url(void **state)
{
	struct fixture *f = *state;
	char auth[512];
	struct llm_reply r;
	struct llm_error e;

	config_for(f, LLM_API_OPENAI);
	snprintf(f->cfg.key, sizeof(f->cfg.key), "sk-test-123");
	/* A base URL ending in /v1/ is not doubled. */
	snprintf(f->cfg.url + strlen(f->cfg.url), sizeof(f->cfg.url) - strlen(f->cfg.url), "/v1/");
	assert_int_equal(chat(f, false, NULL, &r, &e), 0);
	assert_string_equal(r.text, LLM_STUB_DEFAULT_CONTENT);
	llm_reply_release(&r);
	llm_stub_last_auth(f->stub, auth, sizeof(auth));
	assert_string_equal(auth, "Bearer sk-test-123");
	assert_int_equal(llm_stub_calls(f->stub, "/v1/chat/completions"), 1);

	/* A key that would break the header is refused before sending. */
	snprintf(f->cfg.key, sizeof(f->cfg.key), "sk-bad\r\nX-Evil: 1");
	assert_int_equal(chat(f, false, NULL, &r, &e), -EINVAL);
	assert_int_equal(e.kind, LLM_ERR_CLIENT);
	assert_int_equal(llm_stub_calls(f->stub, "/v1/chat/completions"), 1);

	/* No messages. */
	config_for(f, LLM_API_OLLAMA);
	{
		struct llm_call call = { .messages = two_messages, .n_messages = 0 };
		assert_int_equal(llm_chat(&f->cfg, &call, &r, &e), -EINVAL);
	}
}

static void test_names(void **state)
{
	enum llm_api a;
	(void)state;

	assert_string_equal(llm_api_name(LLM_API_OLLAMA), "ollama");
	assert_string_equal(llm_api_name(LLM_API_OPENAI), "openai");
	assert_int_equal(llm_api_parse("openai", &a), 0);
	assert_int_equal(a, LLM_API_OPENAI);
	assert_int_equal(llm_api_parse("ollama", &a), 0);
	assert_int_equal(a, LLM_API_OLLAMA);
	assert_int_equal(llm_api_parse("anthropic", &a), -EINVAL);
	assert_int_equal(llm_api_parse(NULL, &a), -EINVAL);
	assert_string_equal(llm_error_kind_name(LLM_ERR_RATE_LIMITED), "rate_limited");
}

struct slow_call {
	struct fixture *f;
	bool stop, done;
	int ret;
};

static bool slow_stop(void *ctx)
{
	return __atomic_load_n(&((struct slow_call *)ctx)->stop, __ATOMIC_ACQUIRE);
}

static void *slow_main(void *arg)
{
	struct slow_call *s = arg;
	struct llm_call call = { .messages = two_messages, .n_messages = 2, .cancelled = slow_stop, .ctx = s };
	struct llm_config cfg = s->f->cfg;
	struct llm_reply r;
	struct llm_error e;

	s->ret = llm_chat(&cfg, &call, &r, &e);
	if (s->ret == 0)
		llm_reply_release(&r);
	__atomic_store_n(&s->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/* A slow reply on one thread does not hold up a call on another. */
static void test_concurrent(void **state)
{
	struct fixture *f = *state;
	struct slow_call s = { .f = f };
	struct stub_reply slow = { .content = "late", .delay_ms = 20000 };
	struct stub_reply fast = { .content = "SELECT 4;" };
	struct llm_reply r;
	struct llm_error e;
	pthread_t t;

	llm_stub_push(f->stub, &slow);
	assert_int_equal(pthread_create(&t, NULL, slow_main, &s), 0);
	while (llm_stub_calls(f->stub, "/api/chat") < 1)
		usleep(10000);
	llm_stub_push(f->stub, &fast);
	assert_int_equal(chat(f, true, NULL, &r, &e), 0);
	assert_string_equal(r.text, "SELECT 4;");
	llm_reply_release(&r);
	assert_false(__atomic_load_n(&s.done, __ATOMIC_ACQUIRE));
	__atomic_store_n(&s.stop, true, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(s.ret, -ECANCELED);
}

/* A URL that counts as local (config/llm_local.h) never goes through a
 * proxy from the environment, whatever its spelling: a proxy would carry
 * sample values and whole errors off this machine. A second stub stands
 * for the proxy and must receive nothing. */
static void test_local_url_bypasses_proxy(void **state)
{
	struct fixture *f = *state;
	static const char *const hosts[] = { "127.0.0.1", "127.1", "localhost", "LOCALHOST",
					     "[::ffff:127.0.0.1]", "[::ffff:7f00:1]" };
	struct llm_stub *proxy = llm_stub_start();
	char proxy_url[64], *seen;
	bool ok;
	struct llm_reply r;
	struct llm_error e;

	llm_stub_url(proxy, proxy_url, sizeof(proxy_url));
	setenv("ALL_PROXY", proxy_url, 1);
	setenv("http_proxy", proxy_url, 1);
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		snprintf(f->cfg.url, sizeof(f->cfg.url), "http://%s:%d", hosts[i],
			 llm_stub_port(f->stub));
		llm_stub_push_content(f->stub, "SELECT 1;");
		ok = chat(f, false, NULL, &r, &e) == 0;
		seen = llm_stub_received(proxy);
		if (!ok || seen[0])
			fail_msg("the call to %s went through the proxy: %s", f->cfg.url, e.message);
		free(seen);
		llm_reply_release(&r);
	}
	seen = llm_stub_received(proxy);
	assert_string_equal(seen, "");
	free(seen);
	assert_int_equal(llm_stub_calls(f->stub, "/api/chat"), sizeof(hosts) / sizeof(hosts[0]));
	unsetenv("ALL_PROXY");
	unsetenv("http_proxy");
	llm_stub_stop(proxy);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ollama_whole),
		T(test_ollama_streamed),
		T(test_openai_whole),
		T(test_openai_streamed),
		T(test_counts_estimated),
		T(test_retry_5xx_then_success),
		T(test_5xx_without_retries),
		T(test_4xx_never_retried),
		T(test_429_retry_after),
		T(test_retry_after_past_deadline),
		T(test_connection_refused),
		T(test_timeout),
		T(test_deadline_shorter_than_backoff),
		T(test_cancel),
		T(test_garbage_not_retried),
		T(test_error_inside_stream),
		T(test_die_mid_stream),
		T(test_reply_too_large),
		T(test_embed),
		T(test_ready),
		T(test_key_and_url),
		T(test_names),
		T(test_concurrent),
		T(test_local_url_bypasses_proxy),
	};

	assert_int_equal(llm_global_init(), 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
