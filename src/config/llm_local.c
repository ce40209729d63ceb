/*
 * llm_local: see llm_local.h.
 *
 * The host is taken from libcurl's URL parser and never from our own
 * reading of the text: two parsers that disagree about where a URL points
 * are how "http://localhost@evil.example" or "http://127.0.0.1.evil.example"
 * get mistaken for this machine. The checks on the host are exact matches
 * and address parsing, never prefixes.
 */
#include "config/llm_local.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "util/banned.h"

/* Four decimal numbers 0-255 with dots, no leading zeros (which some
 * readers take for octal), first 127. */
static bool ipv4_loopback(const char *host)
{
	unsigned parts[4];
	size_t n = 0;
	const char *p = host;

	while (n < 4) {
		unsigned v = 0, digits = 0;

		while (*p >= '0' && *p <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(*p++ - '0');
			digits++;
		}
		if (digits == 0 || digits > 3 || v > 255 || (digits > 1 && p[-(int)digits] == '0'))
			return false;
		parts[n++] = v;
		if (n < 4 && *p++ != '.')
			return false;
	}
	return *p == '\0' && parts[0] == 127;
}

/* "[...]" holding ::1 or ::ffff:127.x.y.z, in any spelling inet_pton reads. */
static bool ipv6_loopback(const char *host)
{
	size_t len = strlen(host);
	char inner[64];
	struct in6_addr a;
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (len < 3 || len - 2 >= sizeof(inner) || host[0] != '[' || host[len - 1] != ']')
		return false;
	memcpy(inner, host + 1, len - 2);
	inner[len - 2] = '\0';
	if (inet_pton(AF_INET6, inner, &a) != 1)
		return false;
	if (IN6_IS_ADDR_LOOPBACK(&a))
		return true;
	return memcmp(a.s6_addr, mapped, sizeof(mapped)) == 0 && a.s6_addr[12] == 127;
}

static bool host_is_local(const char *host)
{
	/* Not "localhost.": libcurl answers only the bare name itself and
	 * asks the resolver for that one, which may answer anything. */
	return strcasecmp(host, "localhost") == 0 || ipv4_loopback(host) || ipv6_loopback(host);
}

bool llm_url_is_local(const char *url)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL, *zone = NULL;
	bool local = false;

	if (!url || !(u = curl_url()))
		return false;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0)) {
		/* A zone id (fe80::1%eth0) names an interface: not loopback. */
		local = curl_url_get(u, CURLUPART_ZONEID, &zone, 0) != CURLUE_OK &&
			host_is_local(host);
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(zone);
	curl_url_cleanup(u);
	return local;
}

bool llm_samples_allowed(const char *setting, const char *url)
{
	if (strcmp(setting, "yes") == 0)
		return true;
	if (strcmp(setting, "no") == 0)
		return false;
	return llm_url_is_local(url);
}

const char *llm_privacy_summary(const char *setting, const char *url)
{
	bool local = llm_url_is_local(url);

	if (strcmp(setting, "yes") == 0)
		return local ? "the model is on this machine; sample values and full error messages "
			       "go to it (LEDGERBOX_LLM_SEND_SAMPLES=yes)"
			     : "the model is NOT on this machine, and sample values and full error "
			       "messages go to it anyway (LEDGERBOX_LLM_SEND_SAMPLES=yes)";
	if (strcmp(setting, "no") == 0)
		return local ? "the model is on this machine; no sample values go to it, and errors "
			       "reach it without their messages (LEDGERBOX_LLM_SEND_SAMPLES=no)"
			     : "the model is not on this machine; no sample values go to it, and "
			       "errors reach it without their messages (LEDGERBOX_LLM_SEND_SAMPLES=no)";
	return local ? "the model is on this machine (localhost or a loopback address); sample "
		       "values and full error messages go to it (LEDGERBOX_LLM_SEND_SAMPLES=auto)"
		     : "the model is not on this machine (the URL's host is not localhost or a "
		       "loopback address); no sample values go to it, and errors reach it without "
		       "their messages (LEDGERBOX_LLM_SEND_SAMPLES=auto)";
}
