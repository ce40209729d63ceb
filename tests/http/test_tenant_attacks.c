/*
 * End-to-end attacks of an analyst with a valid key on the limits that
 * hold tenants apart, over real HTTP, each kept as a regression test:
 * the per-key admission limits may not be multiplied by spelling the
 * Authorization scheme differently ("bearer", "BEARER").
 */
#include "httplib.h"

static struct server srv;

static void server_stop(void)
{
	hl_stop(&srv, SIGTERM);
	curl_global_cleanup();
}

static const char *error_code(const struct reply *r)
{
	return json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
}

/* An analyze request with the key under an Authorization scheme spelled
 * `scheme` ("Bearer", "bearer", ...). */
static void analyze_as(const char *scheme, const char *key, const char *body, struct reply *r)
{
	char auth[256];

	snprintf(auth, sizeof(auth), "Authorization: %s %s", scheme, key);
	hl_call_header(&srv, "POST", "/api/analyze", NULL, body, strlen(body), NULL, 60000, auth,
		       r);
}

static void key_limits_hold_whatever_the_scheme_spelling(void **state)
{
	char *env[] = { "LEDGERBOX_KEY_RATE_PER_MIN=3", "LEDGERBOX_USER_RATE_PER_MIN=1000", NULL };
	const char *body = "{\"language\":\"sql\",\"dataset\":\"demo\","
			   "\"code\":\"SELECT count(*) AS n FROM invoices\"}";
	const char *spellings[] = { "bearer", "BEARER", "BeArEr" };
	struct reply r;
	char *alice;
	(void)state;

	hl_prepare(&srv, "attack-scheme", env);
	alice = hl_key_create(&srv, "alice", "finance", "analyst");
	hl_start(&srv);
	for (int i = 0; i < 3; i++) {
		analyze_as("Bearer", alice, body, &r);
		if (r.status != 200)
			fail_msg("request %d of the key's 3 a minute: %ld %s", i + 1, r.status,
				 r.body);
		hl_reply_free(&r);
	}
	/* The same key, its scheme spelled otherwise: still the same key. */
	for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
		analyze_as(spellings[i], alice, body, &r);
		if (r.status != 429)
			fail_msg("'%s' past the key's rate: %ld %s", spellings[i], r.status, r.body);
		assert_string_equal(error_code(&r), "rate_limited");
		assert_non_null(strstr(r.body, "LEDGERBOX_KEY_RATE_PER_MIN"));
		hl_reply_free(&r);
	}
	free(alice);
	server_stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(key_limits_hold_whatever_the_scheme_spelling),
	};

	return cmocka_run_group_tests_name("tenant_attacks", tests, NULL, NULL);
}
