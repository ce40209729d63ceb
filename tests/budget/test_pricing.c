/*
 * Unit tests of src/budget/pricing: money text, model rows by prefix, exact
 * cost arithmetic (rounding up, saturation), the pricing file and the
 * environment, and the JSON shapes. Every expected number is worked out by
 * hand in the comment next to it, not computed by the code under test.
 */
#include "testlib.h"

#include <inttypes.h>

#include "budget/pricing.h"

extern char **environ;

#define NO_DEFAULT_MSG \
	"the pricing table has no \"default\" model row: every model must have a price"


/* Each test starts from a clean LEDGERBOX_* environment (but the scratch
 * folder), so a variable one test sets cannot change another's result. */
static int env_clear(void **state)
{
	char *names[256];
	size_t n = 0;

	(void)state;
	for (char **e = environ; *e && n < 256; e++) {
		const char *eq = strchr(*e, '=');
		if (strncmp(*e, "LEDGERBOX_", 10) != 0 || !eq ||
		    strncmp(*e, "LEDGERBOX_TEST_TMP=", 19) == 0)
			continue;
		names[n++] = strndup(*e, (size_t)(eq - *e));
	}
	for (size_t i = 0; i < n; i++) {
		unsetenv(names[i]);
		free(names[i]);
	}
	return 0;
}

/* Loads with the current environment; fails the test when loading fails. */
static void load_ok(struct pricing *p)
{
	char err[512] = "";
	int r = pricing_load(p, err, sizeof(err));

	if (r != 0)
		fail_msg("pricing_load: %d %s", r, err);
}

/* Loads expecting failure r; checks *ret was left alone and err holds want. */
static void load_fails(int want_r, const char *want)
{
	struct pricing p;
	char err[512] = "";

	memset(&p, 0xa5, sizeof(p));
	assert_int_equal(pricing_load(&p, err, sizeof(err)), want_r);
	if (!strstr(err, want))
		fail_msg("message \"%s\" does not contain \"%s\"", err, want);
	assert_int_equal(p.n_models, (size_t)0xa5a5a5a5a5a5a5a5ull);
}

static char *pricing_file(const char *json)
{
	char *path = tl_write_tmp("pricing.json", json);

	setenv("LEDGERBOX_PRICING", path, 1);
	return path;
}

static void money_parse_reads_decimals(void **state)
{
	uint64_t v = 0;
	(void)state;
	assert_int_equal(money_parse("12", &v), 0);
	assert_int_equal(v, 12000000);
	assert_int_equal(money_parse("12.5", &v), 0);
	assert_int_equal(v, 12500000);
	assert_int_equal(money_parse("0.000050", &v), 0);
	assert_int_equal(v, 50);
	assert_int_equal(money_parse("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(money_parse("007.10", &v), 0);
	assert_int_equal(v, 7100000);
	assert_int_equal(money_parse("0000000000000000000000000000001.000001", &v), 0);
	assert_int_equal(v, 1000001);
	assert_int_equal(money_parse("18446744073709.551615", &v), 0);
	assert_true(v == UINT64_MAX);
}

static void money_parse_refuses(void **state)
{
	static const char *const bad[] = { "",	   "-1",     "+1",   "1.",	  ".5",
					   "1.2345678", "1e3", " 1",   "1 ",	  "1,5",
					   "1..2",  "abc",   "0x10", "1.5.0", "١", "12.5€" };
	uint64_t v = 42;
	(void)state;
	assert_int_equal(money_parse(NULL, &v), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (money_parse(bad[i], &v) != -EINVAL)
			fail_msg("\"%s\" was not refused with -EINVAL", bad[i]);
	/* UINT64_MAX micro-units plus one, and a whole part past 2^64. */
	assert_int_equal(money_parse("18446744073709.551616", &v), -ERANGE);
	assert_int_equal(money_parse("18446744073710", &v), -ERANGE);
	assert_int_equal(money_parse("99999999999999999999999", &v), -ERANGE);
	assert_int_equal(money_parse("999999999999999999999999999999999.5", &v), -ERANGE);
	assert_int_equal(v, 42);
}

static void money_format_keeps_two_decimals(void **state)
{
	static const struct {
		uint64_t micros;
		const char *text;
	} cases[] = {
		{ 0, "0.00" },		 { 50, "0.00005" },	    { 100, "0.0001" },
		{ 10000, "0.01" },	 { 1000000, "1.00" },	    { 12500000, "12.50" },
		{ 12345678, "12.345678" }, { 12340000, "12.34" }, { 12300000, "12.30" },
		{ UINT64_MAX, "18446744073709.551615" },
	};
	char text[MONEY_TEXT_MAX], small[5];
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		money_format(cases[i].micros, text, sizeof(text));
		assert_string_equal(text, cases[i].text);
	}
	/* A short buffer is cut, never overrun, and stays a string. */
	money_format(12500000, small, sizeof(small));
	assert_string_equal(small, "12.5");
}

static void money_round_trips(void **state)
{
	uint64_t x = 88172645463325252ull, back;
	char text[MONEY_TEXT_MAX];
	(void)state;
	for (int i = 0; i < 10000; i++) {
		/* xorshift64: spread over every magnitude, shifted to hit small ones too. */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t v = x >> (i % 64);
		money_format(v, text, sizeof(text));
		assert_int_equal(money_parse(text, &back), 0);
		assert_true(back == v);
	}
}

/* default, llama3, llama3.1, gpt-4o: a table as an operator would set it. */
static void model_table(struct pricing *p)
{
	setenv("LEDGERBOX_MODEL_RATES", "llama3=0,0,0.001;llama3.1=0,0,0.002;gpt-4o=2.50,10", 1);
	load_ok(p);
}

static void prefix_longest_wins(void **state)
{
	struct pricing p;
	(void)state;
	model_table(&p);
	assert_string_equal(pricing_model(&p, "llama3.1:8b")->prefix, "llama3.1");
	assert_string_equal(pricing_model(&p, "llama3:70b")->prefix, "llama3");
	assert_string_equal(pricing_model(&p, "llama3.2:3b")->prefix, "llama3");
	assert_string_equal(pricing_model(&p, "llama3.1")->prefix, "llama3.1");
	assert_string_equal(pricing_model(&p, "gpt-4o-mini")->prefix, "gpt-4o");
	/* The order of the rows does not matter: longer first, or shorter last. */
	setenv("LEDGERBOX_MODEL_RATES", "llama3.1=0,0,0.002;llama3=0,0,0.001;l=1,1", 1);
	load_ok(&p);
	assert_string_equal(pricing_model(&p, "llama3.1:8b")->prefix, "llama3.1");
	assert_string_equal(pricing_model(&p, "llama3:8b")->prefix, "llama3");
	assert_string_equal(pricing_model(&p, "lx")->prefix, "l");
}

static void prefix_falls_back_to_default(void **state)
{
	struct pricing p;
	(void)state;
	model_table(&p);
	assert_string_equal(pricing_model(&p, "mistral:7b")->prefix, "default");
	assert_string_equal(pricing_model(&p, "llama")->prefix, "default"); /* shorter */
	assert_string_equal(pricing_model(&p, "LLAMA3")->prefix, "default"); /* case */
	assert_string_equal(pricing_model(&p, "")->prefix, "default");
	assert_string_equal(pricing_model(&p, NULL)->prefix, "default");
	/* The default row is a fallback, never a prefix to match. */
	assert_string_equal(pricing_model(&p, "default")->prefix, "default");
}

static void prefix_without_default_row_is_null(void **state)
{
	struct pricing p = { .currency = "USD", .n_models = 1 };
	struct usage u = { .model = "mistral", .prompt_tokens = 1 };
	struct cost c;
	(void)state;
	memcpy(p.models[0].prefix, "llama3", 7);
	assert_null(pricing_model(&p, "mistral"));
	pricing_cost(&p, &u, &c);
	assert_true(c.total_micros == UINT64_MAX);
	u.prompt_tokens = 0;
	pricing_cost(&p, &u, &c);
	assert_int_equal(c.total_micros, 0);
}

static void cost_is_exact(void **state)
{
	struct pricing p;
	struct usage u = { .model = "gpt-4o-2024", .prompt_tokens = 1500, .completion_tokens = 500,
			   .cpu_ms = 2500, .wall_ms = 3000, .peak_memory_bytes = 512000000 };
	struct cost c;
	(void)state;
	model_table(&p);
	pricing_cost(&p, &u, &c);
	assert_int_equal(c.llm_in_micros, 3750);   /* 1500 x 2.50 / 1e6 = 0.00375 */
	assert_int_equal(c.llm_out_micros, 5000);  /* 500 x 10 / 1e6 = 0.005 */
	assert_int_equal(c.llm_time_micros, 0);
	assert_int_equal(c.cpu_micros, 125);       /* 2.5 s x 0.000050 */
	assert_int_equal(c.memory_micros, 8);      /* 0.512 GB x 3 s x 0.000005 = 7.68 up */
	assert_int_equal(c.run_micros, 100);
	assert_int_equal(c.total_micros, 3750 + 5000 + 125 + 8 + 100);

	u = (struct usage){ .model = "llama3.1:8b", .prompt_tokens = 9999, .inference_ms = 1234 };
	pricing_cost(&p, &u, &c);
	assert_int_equal(c.llm_in_micros, 0);      /* a local model: tokens are free */
	assert_int_equal(c.llm_time_micros, 2468); /* 1.234 s x 0.002 */
	assert_int_equal(c.total_micros, 2468 + 100);

	u = (struct usage){ .prompt_tokens = 1500, .completion_tokens = 500 }; /* default row */
	pricing_cost(&p, &u, &c);
	assert_int_equal(c.llm_in_micros, 300);    /* 1500 x 0.20 / 1e6 */
	assert_int_equal(c.llm_out_micros, 300);   /* 500 x 0.60 / 1e6 */
}

static void cost_rounds_each_component_up(void **state)
{
	struct pricing p;
	struct usage u = { .prompt_tokens = 1, .completion_tokens = 1, .cpu_ms = 1, .wall_ms = 1,
			   .peak_memory_bytes = 1 };
	struct cost c;
	(void)state;
	load_ok(&p);
	pricing_cost(&p, &u, &c);
	assert_int_equal(c.llm_in_micros, 1);  /* 0.0000002, not 0 */
	assert_int_equal(c.llm_out_micros, 1); /* 0.0000006 */
	assert_int_equal(c.cpu_micros, 1);     /* 0.00000005 */
	assert_int_equal(c.memory_micros, 1);  /* 5e-18 */
	assert_int_equal(c.total_micros, 104);
	/* Exact multiples are not rounded past their value. */
	u = (struct usage){ .prompt_tokens = 5000000, .cpu_ms = 20, .wall_ms = 1000,
			    .peak_memory_bytes = 200000000 };
	pricing_cost(&p, &u, &c);
	assert_int_equal(c.llm_in_micros, 1000000); /* 5 M x 0.20 */
	assert_int_equal(c.cpu_micros, 1);          /* 0.02 s x 50 */
	assert_int_equal(c.memory_micros, 1);       /* 0.2 GB x 1 s x 5 */
	u.cpu_ms = 21;
	pricing_cost(&p, &u, &c);
	assert_int_equal(c.cpu_micros, 2);          /* 1.05 up */
}

static void zero_usage_costs_the_run_fee(void **state)
{
	struct pricing p;
	struct usage u = { 0 };
	struct cost c;
	(void)state;
	load_ok(&p);
	pricing_cost(&p, &u, &c);
	assert_int_equal(c.llm_in_micros + c.llm_out_micros + c.llm_time_micros, 0);
	assert_int_equal(c.cpu_micros + c.memory_micros, 0);
	assert_int_equal(c.run_micros, 100);
	assert_int_equal(c.total_micros, 100);
}

static void huge_usage_saturates(void **state)
{
	struct pricing p;
	struct usage u = { .prompt_tokens = UINT64_MAX, .completion_tokens = UINT64_MAX,
			   .cpu_ms = UINT64_MAX, .wall_ms = UINT64_MAX, .peak_memory_bytes = UINT64_MAX };
	struct cost c;
	(void)state;
	load_ok(&p);
	pricing_cost(&p, &u, &c);
	/* (2^64 - 1) x 0.20 per million is (2^64 - 1) / 5 micro-units exactly. */
	assert_true(c.llm_in_micros == UINT64_MAX / 5);
	assert_true(c.cpu_micros == UINT64_MAX / 20 + 1); /* x 50 / 1000, 0.75 up */
	assert_true(c.memory_micros == UINT64_MAX);       /* 2^128 x 5 / 1e12 */
	assert_true(c.total_micros == UINT64_MAX);
	/* Every rate at its largest: each product needs more than 128 bits. */
	p.models[0].in_micros_per_mtok = p.models[0].out_micros_per_mtok = UINT64_MAX;
	p.cpu_micros_per_s = p.mem_micros_per_gb_s = p.run_fee_micros = UINT64_MAX;
	pricing_cost(&p, &u, &c);
	assert_true(c.llm_in_micros == UINT64_MAX && c.llm_out_micros == UINT64_MAX);
	assert_true(c.cpu_micros == UINT64_MAX && c.memory_micros == UINT64_MAX);
	assert_true(c.total_micros == UINT64_MAX);
	/* Memory just under 2^128 before dividing, and rate 1: still saturates. */
	p.mem_micros_per_gb_s = 1;
	pricing_cost(&p, &u, &c);
	assert_true(c.memory_micros == UINT64_MAX);
}

static void file_sets_the_table(void **state)
{
	struct pricing p;
	char *path = pricing_file("{\"currency\": \"EUR\", \"models\": ["
				  "{\"prefix\": \"default\", \"inPerMTok\": \"0.10\", \"outPerMTok\": \"0.30\"},"
				  "{\"prefix\": \"llama3\", \"inPerMTok\": \"0\", \"outPerMTok\": \"0\","
				  " \"perInferenceS\": \"0.002\"}],"
				  "\"cpuPerS\": \"0.0001\", \"memPerGBs\": \"0.00001\", \"runFee\": \"0.01\"}");
	(void)state;
	load_ok(&p);
	assert_string_equal(p.currency, "EUR");
	assert_int_equal(p.n_models, 2);
	assert_int_equal(pricing_model(&p, "x")->in_micros_per_mtok, 100000);
	assert_int_equal(pricing_model(&p, "x")->out_micros_per_mtok, 300000);
	assert_int_equal(pricing_model(&p, "llama3:8b")->micros_per_inference_s, 2000);
	assert_int_equal(p.cpu_micros_per_s, 100);
	assert_int_equal(p.mem_micros_per_gb_s, 10);
	assert_int_equal(p.run_fee_micros, 10000);
	free(path);
}

static void file_keys_are_optional(void **state)
{
	struct pricing p;
	char *path = pricing_file("{\"runFee\": \"0\"}\n");
	(void)state;
	load_ok(&p);
	assert_int_equal(p.run_fee_micros, 0);
	assert_int_equal(p.n_models, 1); /* the default row stays */
	assert_int_equal(p.cpu_micros_per_s, 50);
	free(path);
	setenv("LEDGERBOX_PRICING", "", 1); /* empty: no file */
	load_ok(&p);
	assert_int_equal(p.run_fee_micros, 100);
}

static void file_round_trips_through_json(void **state)
{
	struct pricing p, back;
	char *text, *path;
	json_t *j;
	(void)state;
	model_table(&p);
	j = pricing_to_json(&p);
	text = json_dumps(j, JSON_INDENT(2));
	json_decref(j);
	env_clear(NULL);
	path = pricing_file(text);
	load_ok(&back);
	assert_memory_equal(&p, &back, sizeof(p));
	free(text);
	free(path);
}

static void file_without_default_is_refused(void **state)
{
	char *path = pricing_file("{\"models\": [{\"prefix\": \"llama3\", \"inPerMTok\": \"0\","
				  " \"outPerMTok\": \"0\"}]}");
	(void)state;
	load_fails(-EINVAL, NO_DEFAULT_MSG);
	load_fails(-EINVAL, path);
	free(path);
	path = pricing_file("{\"models\": []}");
	load_fails(-EINVAL, NO_DEFAULT_MSG);
	free(path);
}

static void file_errors_name_the_key(void **state)
{
	static const struct {
		const char *json, *want;
	} cases[] = {
		{ "{\"cpuPerSecond\": \"1\"}", "unknown key \"cpuPerSecond\"" },
		{ "{\"cpuPerS\": \"abc\"}", ": cpuPerS: \"abc\" is not an amount" },
		{ "{\"cpuPerS\": 0.5}", ": cpuPerS: expected the amount as a string" },
		{ "{\"runFee\": \"-1\"}", ": runFee: \"-1\" is not an amount" },
		{ "{\"currency\": \"usd\"}", ": currency: \"usd\" is not a currency code" },
		{ "{\"models\": {}}", ": models: expected an array" },
		{ "{\"models\": [{\"prefix\": \"default\", \"inPerMTok\": \"1\", \"outPerMTok\": \"x\"}]}",
		  ": models[0].outPerMTok: \"x\" is not an amount" },
		{ "{\"models\": [{\"prefix\": \"default\", \"inPerMTok\": \"1\"}]}",
		  ": models[0]: \"outPerMTok\" is missing" },
		{ "{\"models\": [{\"prefix\": \"default\", \"in\": \"1\"}]}",
		  ": models[0]: unknown key \"in\"" },
		{ "{\"models\": [{\"prefix\": \"bad name\", \"inPerMTok\": \"1\", \"outPerMTok\": \"1\"}]}",
		  ": models[0].prefix: \"bad name\" is not a model prefix" },
		{ "{\"models\": [{\"prefix\": \"default\", \"inPerMTok\": \"1\", \"outPerMTok\": \"1\"},"
		  " {\"prefix\": \"default\", \"inPerMTok\": \"1\", \"outPerMTok\": \"1\"}]}",
		  ": models[1]: prefix \"default\" is given twice" },
		{ "{\"models\": [\"default\"]}", ": models[0]: expected an object" },
		{ "[1]", ": expected a JSON object" },
		{ "{\"runFee\": \"1\", \"runFee\": \"2\"}", ":1:" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *path = pricing_file(cases[i].json);
		load_fails(-EINVAL, cases[i].want);
		load_fails(-EINVAL, path);
		free(path);
	}
	free(pricing_file("{\"memPerGBs\": \"99999999999999999\"}"));
	load_fails(-ERANGE, ": memPerGBs: \"99999999999999999\" is too large");
}

static void file_syntax_error_has_line_and_column(void **state)
{
	char *path = pricing_file("{\n  \"runFee\": \"1\",\n  oops\n}\n"), want[600];
	(void)state;
	snprintf(want, sizeof(want), "%s:3:", path);
	load_fails(-EINVAL, want);
	load_fails(-EINVAL, "not valid JSON");
	free(path);
}

static void file_that_cannot_be_read_is_named(void **state)
{
	(void)state;
	setenv("LEDGERBOX_PRICING", "/nonexistent/pricing.json", 1);
	load_fails(-ENOENT, "LEDGERBOX_PRICING (/nonexistent/pricing.json)");
	setenv("LEDGERBOX_PRICING", tl_tmp(), 1);
	load_fails(-EINVAL, "not a regular file");
}

static void env_overrides_defaults_and_file(void **state)
{
	struct pricing p;
	char *path = pricing_file("{\"currency\": \"EUR\", \"runFee\": \"5\"}");
	(void)state;
	setenv("LEDGERBOX_CURRENCY", "GBP", 1);
	setenv("LEDGERBOX_PRICE_CPU_PER_S", "0.0001", 1);
	setenv("LEDGERBOX_PRICE_MEM_PER_GB_S", "0.00001", 1);
	setenv("LEDGERBOX_PRICE_RUN", "0.01", 1);
	setenv("LEDGERBOX_MODEL_RATES", "default=1,2;qwen2.5=0,0,0.5;", 1);
	load_ok(&p);
	assert_string_equal(p.currency, "GBP");
	assert_int_equal(p.cpu_micros_per_s, 100);
	assert_int_equal(p.mem_micros_per_gb_s, 10);
	assert_int_equal(p.run_fee_micros, 10000);
	assert_int_equal(p.n_models, 2);
	assert_int_equal(pricing_model(&p, NULL)->in_micros_per_mtok, 1000000);
	assert_int_equal(pricing_model(&p, NULL)->out_micros_per_mtok, 2000000);
	assert_int_equal(pricing_model(&p, "qwen2.5:7b")->micros_per_inference_s, 500000);
	free(path);
}

static void env_errors_name_the_variable(void **state)
{
	static const struct {
		const char *name, *value, *want;
	} cases[] = {
		{ "LEDGERBOX_CURRENCY", "usd", "LEDGERBOX_CURRENCY: \"usd\" is not a currency code" },
		{ "LEDGERBOX_CURRENCY", "EURO", "LEDGERBOX_CURRENCY: \"EURO\"" },
		{ "LEDGERBOX_PRICE_CPU_PER_S", "-1", "LEDGERBOX_PRICE_CPU_PER_S: \"-1\" is not an amount" },
		{ "LEDGERBOX_PRICE_MEM_PER_GB_S", "1e-6", "LEDGERBOX_PRICE_MEM_PER_GB_S: \"1e-6\"" },
		{ "LEDGERBOX_PRICE_RUN", "", "LEDGERBOX_PRICE_RUN: \"\" is not an amount" },
		{ "LEDGERBOX_MODEL_RATES", "llama3", "LEDGERBOX_MODEL_RATES: \"llama3\" is not PREFIX=" },
		{ "LEDGERBOX_MODEL_RATES", "llama3=1", "LEDGERBOX_MODEL_RATES: llama3: expected 2 or 3" },
		{ "LEDGERBOX_MODEL_RATES", "llama3=1,2,3,4", "LEDGERBOX_MODEL_RATES: llama3: expected 2 or 3" },
		{ "LEDGERBOX_MODEL_RATES", "llama3=1,x",
		  "LEDGERBOX_MODEL_RATES: llama3: \"x\" is not an amount" },
		{ "LEDGERBOX_MODEL_RATES", "llama3=1,", "LEDGERBOX_MODEL_RATES: llama3: \"\" is not an amount" },
		{ "LEDGERBOX_MODEL_RATES", "=1,2", "LEDGERBOX_MODEL_RATES: \"\" is not a model prefix" },
		{ "LEDGERBOX_MODEL_RATES", "llama 3=1,2", "\"llama 3\" is not a model prefix" },
		{ "LEDGERBOX_MODEL_RATES", "a=1,2;a=3,4", "LEDGERBOX_MODEL_RATES: \"a\" is given twice" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setenv(cases[i].name, cases[i].value, 1);
		load_fails(-EINVAL, cases[i].want);
		unsetenv(cases[i].name);
	}
}

static void env_rows_are_bounded(void **state)
{
	char rates[PRICING_ROWS_MAX * 16] = "", *at = rates;
	struct pricing p;
	(void)state;
	/* With the default row, 63 more fill the table; one more is refused. */
	for (int i = 0; i < PRICING_ROWS_MAX - 1; i++)
		at += snprintf(at, sizeof(rates) - (size_t)(at - rates), "m%d=1,1;", i);
	setenv("LEDGERBOX_MODEL_RATES", rates, 1);
	load_ok(&p);
	assert_int_equal(p.n_models, PRICING_ROWS_MAX);
	snprintf(at, sizeof(rates) - (size_t)(at - rates), "one-more=1,1");
	setenv("LEDGERBOX_MODEL_RATES", rates, 1);
	load_fails(-ENOSPC, "LEDGERBOX_MODEL_RATES: more than 64 model rows");
}

static void pricing_json_shape(void **state)
{
	struct pricing p;
	json_t *j, *row;
	(void)state;
	load_ok(&p);
	j = pricing_to_json(&p);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 5);
	assert_string_equal(json_string_value(json_object_get(j, "currency")), "USD");
	assert_string_equal(json_string_value(json_object_get(j, "cpuPerS")), "0.00005");
	assert_string_equal(json_string_value(json_object_get(j, "memPerGBs")), "0.000005");
	assert_string_equal(json_string_value(json_object_get(j, "runFee")), "0.0001");
	assert_int_equal(json_array_size(json_object_get(j, "models")), 1);
	row = json_array_get(json_object_get(j, "models"), 0);
	assert_int_equal(json_object_size(row), 4);
	assert_string_equal(json_string_value(json_object_get(row, "prefix")), "default");
	assert_string_equal(json_string_value(json_object_get(row, "inPerMTok")), "0.20");
	assert_string_equal(json_string_value(json_object_get(row, "outPerMTok")), "0.60");
	assert_string_equal(json_string_value(json_object_get(row, "perInferenceS")), "0.00");
	json_decref(j);
}

static void cost_json_shape(void **state)
{
	struct pricing p;
	struct cost c = { .llm_in_micros = 300, .llm_out_micros = 300, .llm_time_micros = 0,
			  .cpu_micros = 125, .memory_micros = 8, .run_micros = 100,
			  .total_micros = 833 };
	json_t *j, *llm;
	(void)state;
	load_ok(&p);
	j = cost_to_json(&p, &c);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 7);
	assert_string_equal(json_string_value(json_object_get(j, "total")), "0.000833");
	assert_int_equal(json_integer_value(json_object_get(j, "totalMicros")), 833);
	assert_string_equal(json_string_value(json_object_get(j, "currency")), "USD");
	assert_string_equal(json_string_value(json_object_get(j, "cpu")), "0.000125");
	assert_string_equal(json_string_value(json_object_get(j, "memory")), "0.000008");
	assert_string_equal(json_string_value(json_object_get(j, "run")), "0.0001");
	llm = json_object_get(j, "llm");
	assert_int_equal(json_object_size(llm), 3);
	assert_string_equal(json_string_value(json_object_get(llm, "in")), "0.0003");
	assert_string_equal(json_string_value(json_object_get(llm, "out")), "0.0003");
	assert_string_equal(json_string_value(json_object_get(llm, "time")), "0.00");
	json_decref(j);
	/* A saturated total: exact as text, the largest JSON integer as a number. */
	c.total_micros = UINT64_MAX;
	j = cost_to_json(&p, &c);
	assert_string_equal(json_string_value(json_object_get(j, "total")), "18446744073709.551615");
	assert_true(json_integer_value(json_object_get(j, "totalMicros")) == INT64_MAX);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(money_parse_reads_decimals, env_clear),
		cmocka_unit_test_setup(money_parse_refuses, env_clear),
		cmocka_unit_test_setup(money_format_keeps_two_decimals, env_clear),
		cmocka_unit_test_setup(money_round_trips, env_clear),
		cmocka_unit_test_setup(prefix_longest_wins, env_clear),
		cmocka_unit_test_setup(prefix_falls_back_to_default, env_clear),
		cmocka_unit_test_setup(prefix_without_default_row_is_null, env_clear),
		cmocka_unit_test_setup(cost_is_exact, env_clear),
		cmocka_unit_test_setup(cost_rounds_each_component_up, env_clear),
		cmocka_unit_test_setup(zero_usage_costs_the_run_fee, env_clear),
		cmocka_unit_test_setup(huge_usage_saturates, env_clear),
		cmocka_unit_test_setup(file_sets_the_table, env_clear),
		cmocka_unit_test_setup(file_keys_are_optional, env_clear),
		cmocka_unit_test_setup(file_round_trips_through_json, env_clear),
		cmocka_unit_test_setup(file_without_default_is_refused, env_clear),
		cmocka_unit_test_setup(file_errors_name_the_key, env_clear),
		cmocka_unit_test_setup(file_syntax_error_has_line_and_column, env_clear),
		cmocka_unit_test_setup(file_that_cannot_be_read_is_named, env_clear),
		cmocka_unit_test_setup(env_overrides_defaults_and_file, env_clear),
		cmocka_unit_test_setup(env_errors_name_the_variable, env_clear),
		cmocka_unit_test_setup(env_rows_are_bounded, env_clear),
		cmocka_unit_test_setup(pricing_json_shape, env_clear),
		cmocka_unit_test_setup(cost_json_shape, env_clear),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
