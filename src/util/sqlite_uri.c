/* sqlite_uri: see sqlite_uri.h. */
#include "util/sqlite_uri.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

static bool uri_plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
}

char *sqlite_ro_uri(const char *path)
{
	static const char hex[] = "0123456789ABCDEF", query[] = "?mode=ro&immutable=1";
	/* "file://" + every byte escaped + query (with its NUL) */
	size_t size = 7 + strlen(path) * 3 + sizeof(query), n;
	char *uri = malloc(size);

	if (!uri)
		return NULL;
	n = (size_t)snprintf(uri, size, "%s", path[0] == '/' ? "file://" : "file:");
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if (uri_plain(*p)) {
			uri[n++] = (char)*p;
			continue;
		}
		uri[n++] = '%';
		uri[n++] = hex[*p >> 4];
		uri[n++] = hex[*p & 15];
	}
	memcpy(uri + n, query, sizeof(query));
	return uri;
}
