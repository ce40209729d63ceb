/* analyze_cache: see analyze_cache.h. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "http/analyze_cache.h"
#include "http/table_csv.h"
#include "cache/date_dependence.h"
#include "obs/log.h"
#include "runs/worker.h"
#include "util/zone.h"
#include "util/banned.h"

/* The last fingerprint seen per dataset: when one changes, the entries of
 * the old data are dropped at once rather than waiting for eviction. */
#define SEEN_MAX 64
static struct {
	char dataset[65];
	char fingerprint[65];
} seen[SEEN_MAX];
static size_t seen_next;
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;

static void stale_entries_drop(struct cache *c, const char *dataset, const char *fingerprint)
{
	size_t i;
	bool changed = true;

	pthread_mutex_lock(&seen_lock);
	for (i = 0; i < SEEN_MAX && strcmp(seen[i].dataset, dataset) != 0; i++)
		;
	if (i == SEEN_MAX) {
		i = seen_next;
		seen_next = (seen_next + 1) % SEEN_MAX;
		snprintf(seen[i].dataset, sizeof(seen[i].dataset), "%s", dataset);
	} else {
		changed = strcmp(seen[i].fingerprint, fingerprint) != 0;
	}
	snprintf(seen[i].fingerprint, sizeof(seen[i].fingerprint), "%s", fingerprint);
	pthread_mutex_unlock(&seen_lock);
	if (changed)
		cache_invalidate_dataset(c, dataset, fingerprint);
}

static void sha256_hex(const char *text, char out[65])
{
	unsigned char digest[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(digest, (const unsigned char *)text, strlen(text));
	sodium_bin2hex(out, 65, digest, sizeof(digest));
}

/* The exact key: everything that decides the answer, as canonical JSON;
 * with the day for an answer that holds only on that day. */
static int key_compute(struct request *rq, const struct analyze_req *a, struct cache_probe *p,
		       const char *day, char ret[65])
{
	json_t *k = json_pack("{s:i,s:s,s:s?,s:s,s:o}", "v", 2, "language",
			      sandbox_lang_name(a->lang), "dataset", a->dataset, "fingerprint",
			      p->fingerprint, "limits", worker_limits_to_json(&a->limits));
	char *text;

	if (!k)
		return -ENOMEM;
	if (a->mode == ANALYZE_QUERY) {
		json_object_set_new(k, "query", json_string(p->query_norm));
		/* Names keep their case there ("ACME" is not "Acme"). */
		json_object_set_new(k, "signature", json_string(p->signature));
		json_object_set_new(k, "model", json_string(rq->srv->llm.model));
	} else {
		/* A template's code holds its checked parameters. */
		json_object_set_new(k, "code", json_string(a->code));
	}
	if (day)
		json_object_set_new(k, "day", json_string(day));
	text = json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(k);
	if (!text)
		return -ENOMEM;
	sha256_hex(text, ret);
	free(text);
	return 0;
}

/* The date decides where an answer is filed: an answer that depends on it
 * goes under today's keys (the exact key with the day, the signature with
 * the day), so no lookup on another day can reach it. The request is
 * checked here; the code that ran, again when the answer is stored. */
static int day_keys_prepare(struct request *rq, const struct analyze_req *a, struct cache_probe *p)
{
	size_t n;

	zone_days(clock_unix_ms(), p->day);
	p->dated = (a->mode == ANALYZE_QUERY && date_dependent_question(a->query)) ||
		   date_dependent_code(a->code);
	if (key_compute(rq, a, p, NULL, p->key) < 0 || key_compute(rq, a, p, p->day, p->key_day) < 0)
		return -ENOMEM;
	if (a->mode != ANALYZE_QUERY)
		return 0;
	/* After "seq:", the signature's last part, where an unescaped '|'
	 * never appears: no question can forge this ending. An empty
	 * signature stays empty: it matches nothing, on any day. */
	n = strlen(p->signature) + sizeof("|day:") + ZONE_DAYS_LEN;
	p->signature_day = malloc(n);
	if (!p->signature_day)
		return -ENOMEM;
	if (p->signature[0])
		snprintf(p->signature_day, n, "%s|day:%s", p->signature, p->day);
	else
		p->signature_day[0] = '\0';
	return 0;
}

static void embedding_make(struct request *rq, const struct analyze_req *a, struct cache_probe *p)
{
	const char *model = rq->srv->cfg->embed_model;
	struct llm_error e;

	if (!model[0]) {
		p->embedding = malloc(SEM_DIM * sizeof(float));
		if (!p->embedding)
			return;
		sem_embed_local(a->query, p->embedding);
		p->dim = SEM_DIM;
		snprintf(p->embed_model, sizeof(p->embed_model), "local");
		return;
	}
	/* Without its embedding the question still gets an answer, just no
	 * semantic lookup. */
	if (llm_embed(&rq->srv->llm, model, p->query_norm, &p->embedding, &p->dim, &e) < 0) {
		p->embedding = NULL;
		p->dim = 0;
		return;
	}
	sem_l2_normalize(p->embedding, p->dim);
	snprintf(p->embed_model, sizeof(p->embed_model), "%s", model);
}

/* A dataset too large or deep to fingerprint, or changed a moment ago,
 * runs uncached; the operator learns why from the log (the analyst's
 * answer is unaffected). */
static void fingerprint_refused_log(struct request *rq, const char *dataset, const char *why)
{
	json_t *f = json_pack("{s:s,s:s}", "dataset", dataset, "reason", why);

	log_event(LOG_WARN, rq->id, "cache.dataset_uncached", f);
	json_decref(f);
}

void cache_probe_prepare(struct request *rq, const struct analyze_req *a, struct cache_probe *p)
{
	char err[512];

	memset(p, 0, sizeof(*p));
	if (!rq->srv->cache || json_is_false(json_object_get(a->body, "cache")))
		return;
	/* A PostgreSQL dataset changes without any file changing, so no
	 * fingerprint could tell a stored answer is stale: never cached. */
	if (a->postgres)
		return;
	if (a->dataset && dataset_fingerprint_settled(rq->srv->cfg->data_dir, a->dataset,
						      p->fingerprint, err, sizeof(err)) < 0) {
		fingerprint_refused_log(rq, a->dataset, err);
		return;
	}
	snprintf(p->scope, sizeof(p->scope), "team:%s", rq->who.team);
	if (a->mode == ANALYZE_QUERY &&
	    (sem_normalize(a->query, &p->query_norm) < 0 || sem_signature(a->query, &p->signature) < 0))
		return;
	if (day_keys_prepare(rq, a, p) < 0)
		return;
	if (a->dataset)
		stale_entries_drop(rq->srv->cache, a->dataset, p->fingerprint);
	if (a->mode == ANALYZE_QUERY)
		embedding_make(rq, a, p);
	p->enabled = true;
}

void cache_probe_release(struct cache_probe *p)
{
	free(p->query_norm);
	free(p->signature);
	free(p->signature_day);
	free(p->embedding);
	memset(p, 0, sizeof(*p));
}

/* ---- an exact hit: the stored answer as a run of this principal --------- */

/* Points the answer's links at the new run. The files themselves are the
 * cached run's, shared by reference (store_run_insert_shared): nothing is
 * read or copied, whatever their size. */
static void artifact_links_point(json_t *resp, const char *id)
{
	json_t *list = json_object_get(resp, "artifacts"), *art;
	json_t *table = json_object_get(resp, "table");
	char url[400];
	size_t i;

	json_array_foreach(list, i, art) {
		const char *name = json_string_value(json_object_get(art, "name"));
		if (!name)
			continue;
		snprintf(url, sizeof(url), "/api/runs/%s/artifacts/%s", id, name);
		json_object_set_new(art, "url", json_string(url));
	}
	if (json_is_string(json_object_get(table, "csvUrl"))) {
		snprintf(url, sizeof(url), "/api/runs/%s/table.csv", id);
		json_object_set_new(table, "csvUrl", json_string(url));
	}
}

/* The run an answer came from, as the caller may be told it: a teammate's
 * run id only to whoever may read that run (its owner, an admin), else
 * null (the run ids of others are not for analysts to learn). */
static json_t *cached_from_for(struct request *rq, const char *from)
{
	struct run_record run;

	if (!from || store_run_get(rq->srv->store, &rq->who, from, &run) < 0)
		return json_null();
	store_run_record_release(&run);
	return json_string(from);
}

static void hit_fields(struct request *rq, const struct analyze_req *a, json_t *resp,
		       const char *id, int64_t duration_ms)
{
	static const struct cost zero;
	const char *from = json_string_value(json_object_get(resp, "id"));

	json_object_set_new(resp, "cachedFrom", cached_from_for(rq, from));
	json_object_set_new(resp, "id", json_string(id));
	json_object_set_new(resp, "cacheHit", json_true());
	json_object_set_new(resp, "cacheType", json_string("exact"));
	json_object_set_new(resp, "cost", cost_to_json(rq->srv->pricing, &zero));
	json_object_set_new(resp, "tokensUsed", json_integer(0));
	json_object_set_new(resp, "attempts", json_array());
	json_object_set_new(resp, "durationMs", json_integer(duration_ms));
	json_object_set_new(resp, "session", a->session ? json_string(a->session) : json_null());
	json_object_del(resp, "tokens");
	json_object_del(resp, "budget");
	json_object_del(resp, "budgetWarning");
	json_object_del(resp, "budgetPolicy");
}

/* Whether the code that made an answer ties it to today: it reads the
 * clock, or (written by the model, which is told the date) holds a year the
 * question does not name. */
static bool code_dated(const struct analyze_req *a, const char *code)
{
	return date_dependent_code(code) ||
	       (a->mode == ANALYZE_QUERY && date_inferred_code(a->query, code));
}

/* An answer that holds whatever the day is filed under the plain key,
 * unless the code that made it reads the clock (a check at lookup too, so
 * no entry filed otherwise is served across a day); a dated one, or one
 * whose code reads the clock, under today's key. */
static int exact_get(struct request *rq, const struct analyze_req *a, const struct cache_probe *p,
		     struct cache_entry *ret)
{
	int64_t now_ms = clock_unix_ms();
	int r = -ENOENT;

	if (!p->dated) {
		r = cache_get_exact(rq->srv->cache, p->key, p->scope, now_ms, ret);
		if (r == 0 && code_dated(a, ret->code)) {
			cache_entry_release(ret);
			r = -ENOENT;
		}
	}
	if (r < 0)
		r = cache_get_exact(rq->srv->cache, p->key_day, p->scope, now_ms, ret);
	return r;
}

bool cache_answer_exact(struct request *rq, const struct analyze_req *a, struct cache_probe *p,
			const char *id, int64_t created, uint64_t t0, struct outcome *o)
{
	struct cache_entry e;
	struct run_record rec = { .principal_id = rq->who.id, .key_id = rq->who.key_id,
				  .language = sandbox_lang_name(a->lang),
				  .dataset = a->dataset, .session = a->session,
				  .created_ms = created };
	json_t *resp;
	bool ok = false;

	if (!p->enabled || exact_get(rq, a, p, &e) < 0)
		return false;
	resp = json_loads(e.result, 0, NULL);
	if (resp) {
		artifact_links_point(resp, id);
		hit_fields(rq, a, resp, id, (int64_t)(clock_mono_ms() - t0));
		memcpy(rec.id, id, sizeof(rec.id));
		rec.code = json_string_value(json_object_get(resp, "code"));
		rec.status = json_string_value(json_object_get(resp, "status"));
		rec.result = resp;
		rec.duration_ms = (int64_t)(clock_mono_ms() - t0);
		/* A cached run whose files expired is no longer an answer:
		 * the request runs afresh. */
		ok = rec.code && rec.status &&
		     store_run_insert_shared(rq->srv->store, &rec, e.run_id) == 0;
	}
	cache_entry_release(&e);
	if (!ok) {
		json_decref(resp);
		return false;
	}
	outcome_release(o);
	o->status = 200;
	o->body = resp;
	return true;
}

/* ---- semantic hits and storing ------------------------------------------ */

static float min_similarity(struct request *rq, const struct cache_probe *p)
{
	const char *v = rq->srv->cfg->cache_min_similarity;

	if (strcmp(v, "auto") != 0)
		return strtof(v, NULL);
	return strcmp(p->embed_model, "local") == 0 ? SEM_LOCAL_MIN_SIMILARITY
						    : CACHE_MODEL_MIN_SIMILARITY;
}

/* Among the entries filed without a day, then among today's; a dated
 * question looks only among today's. */
static int semantic_get(struct request *rq, const struct analyze_req *a,
			const struct cache_probe *p, struct cache_entry *ret, float *ret_similarity)
{
	const char *signatures[2] = { p->dated ? NULL : p->signature, p->signature_day };
	int r = -ENOENT;

	for (size_t i = 0; i < 2 && r < 0; i++) {
		if (!signatures[i])
			continue;
		r = cache_get_semantic(rq->srv->cache, p->scope, a->dataset ? a->dataset : "",
				       p->fingerprint, sandbox_lang_name(a->lang), rq->srv->llm.model,
				       p->embed_model, signatures[i], p->embedding, p->dim,
				       min_similarity(rq, p), clock_unix_ms(), ret, ret_similarity);
	}
	return r;
}

char *cache_find_semantic(struct request *rq, const struct analyze_req *a, struct cache_probe *p,
			  json_t **ret_annotation)
{
	struct cache_entry e;
	float similarity = 0;
	char *code;

	*ret_annotation = NULL;
	if (!p->enabled || a->mode != ANALYZE_QUERY || !p->embedding)
		return NULL;
	if (semantic_get(rq, a, p, &e, &similarity) < 0)
		return NULL;
	code = strdup(e.code);
	*ret_annotation = json_pack("{s:b,s:s,s:o,s:f}", "cacheHit", 1, "cacheType", "semantic",
				    "cachedFrom", cached_from_for(rq, e.run_id), "similarity",
				    (double)similarity);
	cache_entry_release(&e);
	if (!code || !*ret_annotation) {
		free(code);
		json_decref(*ret_annotation);
		*ret_annotation = NULL;
		return NULL;
	}
	return code;
}

/* Whether the data the run read is the data the fingerprint taken before
 * it describes: a write during the run (an append, a replaced file) would
 * file an answer of other data, or of half-written data, under it. */
static bool data_unchanged(struct request *rq, const struct analyze_req *a,
			   const struct cache_probe *p)
{
	char after[65], err[512];

	return !a->dataset || (dataset_fingerprint_settled(rq->srv->cfg->data_dir, a->dataset,
							   after, err, sizeof(err)) == 0 &&
			       strcmp(after, p->fingerprint) == 0);
}

void cache_store(struct request *rq, const struct analyze_req *a, const struct cache_probe *p,
		 json_t *response)
{
	const char *status = json_string_value(json_object_get(response, "status"));
	const char *type = json_string_value(json_object_get(response, "cacheType"));
	const char *code = json_string_value(json_object_get(response, "code"));
	const char *id = json_string_value(json_object_get(response, "id"));
	struct cache_entry e = { 0 };
	bool dated;

	/* Only a run that succeeded; an exact hit is stored already. */
	if (!p->enabled || !status || strcmp(status, "ok") != 0 || (type && strcmp(type, "exact") == 0) ||
	    !code || !id || !data_unchanged(rq, a, p))
		return;
	e.result = json_dumps(response, JSON_COMPACT);
	if (!e.result || strlen(e.result) > CACHE_RESULT_MAX_BYTES) {
		free(e.result);
		return;
	}
	/* Filed under today when the question or the code that ran (written by
	 * the model, perhaps, for a question that did not look dated) depends
	 * on the date. */
	dated = p->dated || code_dated(a, code);
	snprintf(e.key, sizeof(e.key), "%s", dated ? p->key_day : p->key);
	snprintf(e.scope, sizeof(e.scope), "%s", p->scope);
	snprintf(e.dataset, sizeof(e.dataset), "%s", a->dataset ? a->dataset : "");
	snprintf(e.fingerprint, sizeof(e.fingerprint), "%s", p->fingerprint);
	snprintf(e.language, sizeof(e.language), "%s", sandbox_lang_name(a->lang));
	snprintf(e.model, sizeof(e.model), "%s", a->mode == ANALYZE_QUERY ? rq->srv->llm.model : "");
	snprintf(e.embed_model, sizeof(e.embed_model), "%s", p->embed_model);
	snprintf(e.run_id, sizeof(e.run_id), "%s", id);
	e.query_norm = p->query_norm ? p->query_norm : "";
	e.signature = p->signature ? (dated ? p->signature_day : p->signature) : "";
	e.embedding = p->embedding;
	e.dim = p->dim;
	e.code = (char *)code;
	cache_put(rq->srv->cache, &e, clock_unix_ms());
	free(e.result);
}
