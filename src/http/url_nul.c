/* url_nul: see url_nul.h. The mark is a request header whose name holds
 * a ':', which no header a client sends can have (the first ':' ends its
 * name); libmicrohttpd drops it with the request's other headers. */
#include "http/url_nul.h"

#include <string.h>

#include "util/banned.h"

#define URL_NUL_MARK "ledgerbox:url-nul"

size_t url_unescape(void *cls, struct MHD_Connection *connection, char *s)
{
	size_t len = MHD_http_unescape(s);

	(void)cls;
	if (memchr(s, '\0', len))
		MHD_set_connection_value(connection, MHD_HEADER_KIND, URL_NUL_MARK, "1");
	return len;
}

bool url_had_nul(struct MHD_Connection *connection)
{
	return MHD_lookup_connection_value(connection, MHD_HEADER_KIND, URL_NUL_MARK) != NULL;
}
