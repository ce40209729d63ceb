/*
 * web_assets: looks up the page's embedded files by name. The ETag is a
 * hash of the content, so a browser revalidates cheaply and never keeps a
 * page older than the binary serving it.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "http/web_assets.h"
#include "util/banned.h"

#define WEB_FILE(sym)                                                                            \
	extern const unsigned char sym##_text[];                                                 \
	extern const uint64_t sym##_size;

WEB_FILE(web_index_html)
WEB_FILE(web_app_css)
WEB_FILE(web_icon_svg)
WEB_FILE(web_api_js)
WEB_FILE(web_format_js)
WEB_FILE(web_highlight_js)
WEB_FILE(web_table_js)
WEB_FILE(web_meter_js)
WEB_FILE(web_result_js)
WEB_FILE(web_run_js)
WEB_FILE(web_history_js)
WEB_FILE(web_datasets_js)
WEB_FILE(web_admin_js)
WEB_FILE(web_main_js)

#define JS "text/javascript; charset=utf-8"
#define ASSET(name, type, sym) { name, type, sym##_text, 0, "" }

static struct web_asset assets[] = {
	ASSET("index.html", "text/html; charset=utf-8", web_index_html),
	ASSET("app.css", "text/css; charset=utf-8", web_app_css),
	ASSET("icon.svg", "image/svg+xml", web_icon_svg),
	ASSET("api.js", JS, web_api_js),
	ASSET("format.js", JS, web_format_js),
	ASSET("highlight.js", JS, web_highlight_js),
	ASSET("table.js", JS, web_table_js),
	ASSET("meter.js", JS, web_meter_js),
	ASSET("result.js", JS, web_result_js),
	ASSET("run.js", JS, web_run_js),
	ASSET("history.js", JS, web_history_js),
	ASSET("datasets.js", JS, web_datasets_js),
	ASSET("admin.js", JS, web_admin_js),
	ASSET("main.js", JS, web_main_js),
};

static const uint64_t *const sizes[] = {
	&web_index_html_size, &web_app_css_size,   &web_icon_svg_size,   &web_api_js_size,
	&web_format_js_size,  &web_highlight_js_size, &web_table_js_size, &web_meter_js_size,
	&web_result_js_size,  &web_run_js_size,    &web_history_js_size, &web_datasets_js_size,
	&web_admin_js_size,   &web_main_js_size,
};

_Static_assert(sizeof(assets) / sizeof(assets[0]) == sizeof(sizes) / sizeof(sizes[0]),
	       "every asset has its size");

static pthread_once_t assets_once = PTHREAD_ONCE_INIT;

/* FNV-1a, 64 bits: enough to tell two versions of a file apart. */
static uint64_t content_hash(const unsigned char *data, size_t size)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 0x100000001b3ull;
	return h;
}

static void assets_init(void)
{
	for (size_t i = 0; i < sizeof(assets) / sizeof(assets[0]); i++) {
		assets[i].size = (size_t)*sizes[i];
		snprintf(assets[i].etag, sizeof(assets[i].etag), "\"%016llx\"",
			 (unsigned long long)content_hash(assets[i].data, assets[i].size));
	}
}

const struct web_asset *web_asset_find(const char *name)
{
	pthread_once(&assets_once, assets_init);
	for (size_t i = 0; i < sizeof(assets) / sizeof(assets[0]); i++)
		if (strcmp(assets[i].name, name) == 0)
			return &assets[i];
	return NULL;
}
