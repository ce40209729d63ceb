/*
 * llm_local: whether the LLM server counts as being on this machine, and
 * so whether sample values and full error messages may go to it.
 *
 * A server is local only when the URL, read by libcurl's own URL parser
 * (the one that later connects), names one of these hosts:
 * - the name "localhost" (any case), which libcurl answers itself with a
 *   loopback address, without DNS ("localhost." with a final dot is not:
 *   libcurl asks the resolver for it);
 * - an IPv4 address in 127.0.0.0/8 written as four decimal numbers (as
 *   libcurl writes it after reading the URL);
 * - the IPv6 loopback [::1] or an IPv4-mapped [::ffff:127.x.y.z], in any
 *   IPv6 spelling.
 * Nothing else is local: no other name (localhost.example, 127.x.example),
 * not 0.0.0.0, not an address with a zone id, not a URL libcurl refuses or
 * whose scheme is not http or https. User information before an '@' is not
 * the host and is never looked at. The LLM client has no unix socket
 * transport, so there is no socket case.
 */
#ifndef LEDGERBOX_CONFIG_LLM_LOCAL_H
#define LEDGERBOX_CONFIG_LLM_LOCAL_H

#include <stdbool.h>

/* True when url names a server on this machine by the rule above. */
bool llm_url_is_local(const char *url);

/* Whether sample values (and error messages that may hold values) may go
 * to the model: setting is LEDGERBOX_LLM_SEND_SAMPLES ("yes", "no", or
 * "auto": only when llm_url_is_local(url)). */
bool llm_samples_allowed(const char *setting, const char *url);

/* One sentence for operators: whether the model counts as local and
 * whether sample values go to it, and why. Static text. */
const char *llm_privacy_summary(const char *setting, const char *url);

#endif
