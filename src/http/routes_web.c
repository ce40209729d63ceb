/*
 * routes_web: the analysts' page at / with its files under /assets/, and
 * GET /api/me, which tells the page who a key belongs to.
 *
 * The page is static and public (it holds no data); everything it shows
 * comes from the API with the analyst's key. Its Content-Security-Policy
 * allows only this server's own scripts, styles and connections, plus
 * blob: images (charts are fetched with the key, then shown).
 */
#include <string.h>

#include "http/request.h"
#include "http/web_assets.h"
#include "util/banned.h"

#define PAGE_CSP                                                                                 \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; " \
	"connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

static enum MHD_Result send_asset(struct request *rq, const struct web_asset *a)
{
	const char *seen = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
						       MHD_HTTP_HEADER_IF_NONE_MATCH);
	bool fresh = seen && strcmp(seen, a->etag) == 0;
	unsigned status = fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK;
	struct MHD_Response *resp;
	enum MHD_Result r;

	resp = MHD_create_response_from_buffer(fresh ? 0 : a->size, (void *)a->data,
					       MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", a->content_type);
	MHD_add_response_header(resp, "ETag", a->etag);
	/* no-cache: kept, but checked against the ETag before each use. */
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	MHD_add_response_header(resp, "Content-Security-Policy", PAGE_CSP);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Request-Id", rq->id);
	rq->status = (int)status;
	r = MHD_queue_response(rq->conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

enum MHD_Result route_page(struct request *rq)
{
	const struct web_asset *a = web_asset_find("index.html");

	return a ? send_asset(rq, a) : respond_error(rq, 500, "page_missing",
						     "this build has no page", NULL);
}

enum MHD_Result route_asset(struct request *rq)
{
	const struct web_asset *a = web_asset_find(rq->params[0]);

	if (!a)
		return respond_error(rq, 404, "not_found",
				     "no such file of the page; the page lives at /", NULL);
	return send_asset(rq, a);
}

enum MHD_Result route_me(struct request *rq)
{
	json_t *body;
	enum MHD_Result r;

	if (!auth_require(rq, &r))
		return r;
	body = json_pack("{s:s,s:s,s:s,s:s}", "user", rq->who.user, "team", rq->who.team, "role",
			 rq->who.role == ROLE_ADMIN ? "admin" : "analyst", "currency",
			 rq->srv->pricing->currency);
	r = respond_json(rq, 200, body);
	json_decref(body);
	return r;
}
