/*
 * web_assets: the files of the analysts' page, built into the binary
 * (src/http/web_blob.S embeds web/). Private to src/http/.
 */
#ifndef LEDGERBOX_HTTP_WEB_ASSETS_H
#define LEDGERBOX_HTTP_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
	const char *name;          /* "index.html", "app.css", ... as under /assets/ */
	const char *content_type;
	const unsigned char *data;
	size_t size;
	char etag[20];             /* quoted hash of the content, for If-None-Match */
};

/* The asset called name (a file name of web/, no slashes), or NULL. */
const struct web_asset *web_asset_find(const char *name);

#endif
