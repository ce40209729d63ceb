/* url_nul: see url_nul.h. The marks are request headers whose names hold
 * a ':', which no header a client sends can have (the first ':' ends its
 * name); libmicrohttpd drops them with the request's other headers. */
#include "http/url_nul.h"

#include <string.h>

#include "util/banned.h"

#define URL_NUL_MARK "ledgerbox:url-nul"
#define URL_SLASH_MARK "ledgerbox:url-slash"

/* The callback is given the path and each query key and value alike; only
 * the path starts with '/', and a query value that does too and holds an
 * encoded '/' is refused with it (no parameter names a path). */
static bool path_with_encoded_slash(const char *s)
{
	if (s[0] != '/')
		return false;
	for (const char *p = strchr(s, '%'); p; p = strchr(p + 1, '%'))
		if (p[1] == '2' && (p[2] == 'F' || p[2] == 'f'))
			return true;
	return false;
}

size_t url_unescape(void *cls, struct MHD_Connection *connection, char *s)
{
	bool slash = path_with_encoded_slash(s);
	size_t len = MHD_http_unescape(s);

	(void)cls;
	if (slash)
		MHD_set_connection_value(connection, MHD_HEADER_KIND, URL_SLASH_MARK, "1");
	if (memchr(s, '\0', len))
		MHD_set_connection_value(connection, MHD_HEADER_KIND, URL_NUL_MARK, "1");
	return len;
}

bool url_had_nul(struct MHD_Connection *connection)
{
	return MHD_lookup_connection_value(connection, MHD_HEADER_KIND, URL_NUL_MARK) != NULL;
}

bool url_had_encoded_slash(struct MHD_Connection *connection)
{
	return MHD_lookup_connection_value(connection, MHD_HEADER_KIND, URL_SLASH_MARK) != NULL;
}
