/* routes_cache: DELETE /api/cache (admins), and the cache's metrics. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cache/cache.h"
#include "http/request.h"
#include "http/store_fault.h"
#include "obs/log.h"
#include "util/banned.h"

enum MHD_Result route_cache_clear(struct request *rq)
{
	enum MHD_Result r;
	json_t *body, *detail;
	int n;

	if (!auth_require_admin(rq, &r))
		return r;
	if (!rq->srv->cache)
		return respond_error(rq, 404, "cache_off",
				     "the result cache is switched off (LEDGERBOX_CACHE=off)", NULL);
	n = cache_clear(rq->srv->cache);
	if (n < 0)
		return respond_store_fault(rq, n, "cache_failed", "clearing the cache failed");
	detail = json_pack("{s:i}", "deleted", n);
	store_audit_append(rq->srv->store, rq->who.user, "cache.clear", NULL, detail);
	json_decref(detail);
	body = json_pack("{s:i}", "deleted", n);
	r = respond_json(rq, 200, body);
	json_decref(body);
	return r;
}

/* Appends the cache's counters in the exposition format; false when out of
 * room or memory. */
bool cache_metrics_render(struct request *rq, struct buf *b)
{
	struct cache_stats st = { 0 };
	char text[1200];
	int n;

	if (rq->srv->cache)
		cache_stats(rq->srv->cache, &st);
	n = snprintf(text, sizeof(text),
		     "# HELP ledgerbox_cache_hits_total Answers served from the result cache.\n"
		     "# TYPE ledgerbox_cache_hits_total counter\n"
		     "ledgerbox_cache_hits_total{type=\"exact\"} %" PRIu64 "\n"
		     "ledgerbox_cache_hits_total{type=\"semantic\"} %" PRIu64 "\n"
		     "# HELP ledgerbox_cache_misses_total Requests the cache could not answer.\n"
		     "# TYPE ledgerbox_cache_misses_total counter\n"
		     "ledgerbox_cache_misses_total %" PRIu64 "\n"
		     "# HELP ledgerbox_cache_evictions_total Entries dropped to stay within "
		     "LEDGERBOX_CACHE_MAX_ENTRIES.\n"
		     "# TYPE ledgerbox_cache_evictions_total counter\n"
		     "ledgerbox_cache_evictions_total %" PRIu64 "\n"
		     "# HELP ledgerbox_cache_expired_total Entries dropped past their time to live.\n"
		     "# TYPE ledgerbox_cache_expired_total counter\n"
		     "ledgerbox_cache_expired_total %" PRIu64 "\n"
		     "# HELP ledgerbox_cache_entries Results in the cache now.\n"
		     "# TYPE ledgerbox_cache_entries gauge\n"
		     "ledgerbox_cache_entries %" PRIu64 "\n",
		     st.hits_exact, st.hits_semantic, st.misses, st.evictions, st.expired, st.entries);
	return n > 0 && (size_t)n < sizeof(text) && buf_append(b, text, (size_t)n) == 0;
}
