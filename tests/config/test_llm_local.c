/*
 * Tests of config/llm_local: which LLM URLs count as this machine (and so
 * may receive sample values and full error messages), and that
 * `ledgerbox config check` says which it is. Hostile URLs made to look
 * local (a prefix, user information, a look-alike name) must not count.
 */
#include "testlib.h"

#include "config/llm_local.h"

static void local_urls_are_local(void **state)
{
	static const char *const local[] = {
		"http://localhost:11434",
		"http://LocalHost:11434",
		"http://[::ffff:7f00:1]:11434",
		"http://127.1:11434",
		"http://localhost",
		"https://localhost/",
		"http://127.0.0.1:11434",
		"http://127.255.3.4:8080",
		"http://[::1]:11434",
		"http://[0:0:0:0:0:0:0:1]:11434",
		"http://[::ffff:127.0.0.1]:11434",
		"http://user:secret@localhost:11434",
		"http://127.0.0.1:11434/v1",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++) {
		if (!llm_url_is_local(local[i]))
			fail_msg("%s should count as local", local[i]);
	}
}

static void lookalikes_are_not_local(void **state)
{
	static const char *const remote[] = {
		"http://localhost.evil.example",
		"http://localhost.:11434",
		"http://LOCALHOST./",
		"http://foo.localhost:11434",
		"http://localhost.evil.example:11434",
		"http://localhostevil.example",
		"http://127.attacker.example",
		"http://127.0.0.1.evil.example:11434",
		"http://localhost@evil.example",
		"http://localhost:11434@evil.example",
		"http://127.0.0.1@evil.example:11434",
		"http://user:127.0.0.1@evil.example",
		"http://evil.example/localhost",
		"http://evil.example/#@localhost",
		"http://0.0.0.0:11434",
		"http://10.0.0.1:11434",
		"http://192.168.1.5:11434",
		"http://[::2]:11434",
		"http://[::ffff:10.0.0.1]:11434",
		"http://[fe80::1%25eth0]:11434",
		"http://api.openai.com",
		"ftp://localhost",
		"localhost:11434",
		"127.0.0.1:11434",
		"",
		"http://",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++) {
		if (llm_url_is_local(remote[i]))
			fail_msg("%s must not count as local", remote[i]);
	}
	assert_false(llm_url_is_local(NULL));
}

static void samples_follow_the_setting(void **state)
{
	(void)state;
	assert_true(llm_samples_allowed("auto", "http://127.0.0.1:11434"));
	assert_false(llm_samples_allowed("auto", "http://localhost.evil.example:11434"));
	assert_false(llm_samples_allowed("auto", "http://127.attacker.example"));
	assert_false(llm_samples_allowed("no", "http://127.0.0.1:11434"));
	assert_true(llm_samples_allowed("yes", "https://api.example.com"));
	assert_non_null(strstr(llm_privacy_summary("auto", "http://localhost.evil.example"),
			       "not on this machine"));
	assert_non_null(strstr(llm_privacy_summary("yes", "https://api.example.com"), "NOT"));
}

static void config_check(const char *url, const char *samples, struct tl_output *o)
{
	char path[600];
	char *argv[] = { (char *)tl_bin(), "config", "check", path, NULL };
	FILE *f;

	snprintf(path, sizeof(path), "%s/llm_local.conf", tl_tmp());
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "llm_url = %s\nllm_send_samples = %s\n", url, samples);
	fclose(f);
	tl_run(argv, NULL, o);
	assert_int_equal(o->exit_code, 0);
	unlink(path);
}

static void config_check_says_where_the_model_is(void **state)
{
	struct tl_output o;
	(void)state;

	config_check("http://localhost.evil.example:11434", "auto", &o);
	assert_non_null(strstr(o.out, "llm: the model is not on this machine"));
	assert_non_null(strstr(o.out, "no sample values go to it"));
	tl_output_free(&o);
	config_check("http://127.0.0.1:11434", "auto", &o);
	assert_non_null(strstr(o.out, "llm: the model is on this machine"));
	assert_non_null(strstr(o.out, "sample values and full error messages go to it"));
	tl_output_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(local_urls_are_local),
		cmocka_unit_test(lookalikes_are_not_local),
		cmocka_unit_test(samples_follow_the_setting),
		cmocka_unit_test(config_check_says_where_the_model_is),
	};
	return cmocka_run_group_tests_name("llm_local", tests, NULL, NULL);
}
