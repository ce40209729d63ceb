/*
 * analyze_cache: the result cache in front of POST /api/analyze. Private to
 * src/http/.
 *
 * Exact: the same request (code, template and params, or the normalised
 * query with the model), language, limits and dataset fingerprint, asked
 * by someone of the same team, gets the stored answer as a new run of its
 * own (sharing the stored run's artifacts, never copying them), at no cost
 * and with no budget reservation; cachedFrom names the stored run only to
 * whoever may read it.
 * Semantic (query mode): a question close enough to an earlier one (the
 * similarity of their embeddings at or above the threshold) AND with
 * exactly the same numbers, dates, quoted strings, names and
 * polarity/direction words reuses that question's code, which runs again
 * on the current data: no LLM call, a fresh answer.
 * Date: an answer whose question or code depends on the current date
 * (cache/date_dependence.h), or whose model-written code holds a year the
 * question does not name, is filed under the day in the business's zone
 * and in UTC (exact key and signature both carry it; code may read either
 * clock), so it is never served after either midnight; lookups look under
 * "any day" and under today.
 */
#ifndef LEDGERBOX_HTTP_ANALYZE_CACHE_H
#define LEDGERBOX_HTTP_ANALYZE_CACHE_H

#include "cache/cache.h"
#include "cache/semantic.h"
#include "http/analyze.h"
#include "util/zone.h"

/* The threshold for embeddings from a model, when the setting says auto:
 * model embeddings put paraphrases closer together than the built-in one. */
#define CACHE_MODEL_MIN_SIMILARITY 0.90f
/* The largest answer (its JSON) filed in the cache. A hit holds several
 * copies of its answer while it is served (the entry read, the parsed
 * answer, the run row written, the response), and hits are bounded only by
 * admission, not by the run slots: a 16 MiB answer served to the
 * requests in progress at once took the server's memory into gigabytes.
 * A default run's answer (1 MiB of output, a shown table) fits; a larger
 * one runs afresh each time, within the run slots. */
#define CACHE_RESULT_MAX_BYTES (2u << 20)

struct cache_probe {
	bool enabled;              /* this request may use the cache */
	char key[65];              /* the exact key of an answer that holds any day */
	char key_day[65];          /* ... of one that holds today only (with the day) */
	char day[ZONE_DAYS_LEN];   /* today in the business's zone (LEDGERBOX_TZ) and in UTC */
	bool dated;                /* the question or code itself depends on the date */
	char scope[160];           /* "team:NAME": who shares entries */
	char fingerprint[65];      /* the dataset's, "" without one */
	char *query_norm, *signature; /* query mode */
	char *signature_day;       /* the signature with the day, for dated answers */
	float *embedding;
	size_t dim;
	char embed_model[128];
};

/* Works out the keys. A request without the cache (switched off, "cache":
 * false, or a dataset that cannot be fingerprinted) gets enabled = false. */
void cache_probe_prepare(struct request *rq, const struct analyze_req *a, struct cache_probe *p);
void cache_probe_release(struct cache_probe *p);

/* An exact hit: records it as run `id` for this principal and sets a 200
 * outcome; true. False on a miss (or when the stored run's files
 * expired or cannot be shared: then it is a miss). */
bool cache_answer_exact(struct request *rq, const struct analyze_req *a, struct cache_probe *p,
			const char *id, int64_t created, uint64_t t0, struct outcome *o);
/* A semantic hit in query mode: the entry's code (malloc'd) and, in
 * *ret_annotation, the fields the answer gets (cacheHit, cacheType,
 * cachedFrom, similarity). NULL on a miss. */
char *cache_find_semantic(struct request *rq, const struct analyze_req *a, struct cache_probe *p,
			  json_t **ret_annotation);
/* Keeps a successful answer (status "ok", not itself a hit). */
void cache_store(struct request *rq, const struct analyze_req *a, const struct cache_probe *p,
		 json_t *response);

#endif
