/*
 * url_nul: a NUL byte written into a URL (%00) is refused, not cut short.
 *
 * libmicrohttpd unescapes the path and the query arguments in place and
 * hands the path to the server as a C string, so "/api/runs/ID%00x/y"
 * would reach the router as "/api/runs/ID". The unescaping is done here
 * instead; a request whose path or arguments held %00 is marked, and the
 * server answers it 400 before routing. So is a path holding an encoded
 * '/' (%2F): unescaped, "/api/runs/ID%2Ftable.csv" would reach another
 * route than the one its segments name. Private to src/http/.
 */
#ifndef LEDGERBOX_HTTP_URL_NUL_H
#define LEDGERBOX_HTTP_URL_NUL_H

#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

/* libmicrohttpd's MHD_OPTION_UNESCAPE_CALLBACK: MHD_http_unescape, and the
 * mark on the request when the result holds a NUL. */
size_t url_unescape(void *cls, struct MHD_Connection *connection, char *s);
/* Whether the current request of the connection was marked. */
bool url_had_nul(struct MHD_Connection *connection);
/* Whether its path held an encoded '/' (%2F or %2f). */
bool url_had_encoded_slash(struct MHD_Connection *connection);

#endif
