/*
 * client_misc: the smaller public calls: library set-up, API names, token
 * estimates, embeddings (same retries as chat) and the readiness probe
 * (one quick attempt).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "llm/client_internal.h"
#include "util/banned.h"

static pthread_once_t llm_once = PTHREAD_ONCE_INIT;
static CURLcode llm_init_code;

static void llm_init_once(void)
{
	llm_init_code = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int llm_global_init(void)
{
	pthread_once(&llm_once, llm_init_once);
	return llm_init_code == CURLE_OK ? 0 : -EIO;
}

const char *llm_api_name(enum llm_api a)
{
	return a == LLM_API_OPENAI ? "openai" : "ollama";
}

int llm_api_parse(const char *name, enum llm_api *ret)
{
	if (name && strcasecmp(name, "ollama") == 0)
		*ret = LLM_API_OLLAMA;
	else if (name && strcasecmp(name, "openai") == 0)
		*ret = LLM_API_OPENAI;
	else
		return -EINVAL;
	return 0;
}

uint64_t llm_estimate_tokens(const char *text, size_t len)
{
	(void)text; /* about four bytes a token for English and code */
	return len ? ((uint64_t)len + 3) / 4 : 1;
}

struct embed_job {
	const struct llm_config *cfg;
	const struct llm_wire *w;
	const char *url;
	char *body;
	float *vec;
	size_t dim;
};

static int embed_sink(void *ctx, const char *data, size_t len)
{
	struct buf *b = ctx;

	if (buf_append(b, data, len) < 0)
		return -ENOMEM;
	return b->truncated ? -E2BIG : 0;
}

static int embed_parse(struct embed_job *j, const struct buf *b, struct llm_fail *f)
{
	char server_error[256] = "";
	json_t *root = NULL;
	int r = llm_json_load(b->data ? b->data : "", b->len, &root);

	if (r == 0 && json_object_get(root, "error") && !json_is_null(json_object_get(root, "error"))) {
		llm_json_error_text(root, server_error, sizeof(server_error));
		r = -EIO;
	}
	if (r == 0) {
		free(j->vec);
		j->vec = NULL;
		r = llm_json_floats(j->w->embed_vector(root), &j->vec, &j->dim);
	}
	json_decref(root);
	if (r < 0)
		llm_fail_parse(f, r, j->w->name, server_error);
	return r < 0 ? f->ret : 0;
}

static int embed_try(void *actx, struct llm_fail *f)
{
	struct embed_job *j = actx;
	struct buf b;
	struct llm_xfer x = {
		.url = j->url, .body = j->body, .body_len = strlen(j->body), .key = j->cfg->key,
		.connect_timeout_ms = j->cfg->connect_timeout_ms, .timeout_ms = j->cfg->timeout_ms,
		.on_body = embed_sink, .sink = &b,
	};
	int r;

	buf_init(&b, LLM_WIRE_MAX);
	r = llm_xfer_run(&x);
	if (r < 0) {
		memset(f, 0, sizeof(*f));
		llm_fail_set(f, LLM_ERR_NOMEM, false, "could not be called: out of memory");
	} else {
		r = llm_xfer_outcome(&x, j->w->name, NULL, f);
		if (r == 0)
			r = embed_parse(j, &b, f);
	}
	llm_xfer_release(&x);
	buf_release(&b);
	return r;
}

int llm_embed(const struct llm_config *cfg, const char *model, const char *text, float **ret_vec,
	      size_t *ret_dim, struct llm_error *err)
{
	struct embed_job j = { .cfg = cfg, .w = llm_wire_for(cfg->api) };
	char url[LLM_URL_MAX], display[LLM_URL_MAX];
	struct llm_ctl ctl = { 0 };
	struct llm_fail f = { 0 };
	unsigned attempts = 0;
	json_t *body;
	int r = -EINVAL;

	if (!j.w || !text || llm_url(cfg, j.w->embed_path, url, display) < 0 || !llm_key_valid(cfg->key)) {
		llm_fail_set(&f, LLM_ERR_CLIENT, false, "was not called: the URL, key or text is not valid");
		f.ret = -EINVAL;
		llm_error_fill(err, &f, llm_api_name(cfg->api), cfg->url, 0);
		return -EINVAL;
	}
	body = j.w->embed_body(model ? model : cfg->model, text);
	j.body = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	j.url = url;
	if (!j.body)
		llm_fail_set(&f, LLM_ERR_NOMEM, false, "was not called: out of memory");
	else
		r = llm_retry_run(cfg, &ctl, embed_try, &j, &f, &attempts);
	if (j.body && r == 0) {
		*ret_vec = j.vec;
		*ret_dim = j.dim;
	} else {
		free(j.vec);
		r = f.ret;
		llm_error_fill(err, &f, j.w->name, display, attempts);
	}
	free(j.body);
	return r;
}

int llm_ready(const struct llm_config *cfg, struct llm_error *err)
{
	const struct llm_wire *w = llm_wire_for(cfg->api);
	char url[LLM_URL_MAX], display[LLM_URL_MAX];
	struct llm_xfer x = {
		.url = url, .key = cfg->key, .connect_timeout_ms = LLM_READY_TIMEOUT_MS,
		.timeout_ms = LLM_READY_TIMEOUT_MS,
	};
	struct llm_fail f = { 0 };
	int r;

	if (!w || llm_url(cfg, w->ready_path, url, display) < 0 || !llm_key_valid(cfg->key)) {
		llm_fail_set(&f, LLM_ERR_CLIENT, false, "was not called: the URL or key is not valid");
		f.ret = -EINVAL;
		llm_error_fill(err, &f, llm_api_name(cfg->api), cfg->url, 0);
		return -EINVAL;
	}
	r = llm_xfer_run(&x);
	if (r < 0)
		llm_fail_set(&f, LLM_ERR_NOMEM, false, "was not called: out of memory");
	else
		r = llm_xfer_outcome(&x, w->name, NULL, &f);
	if (r < 0)
		llm_error_fill(err, &f, w->name, display, 1);
	llm_xfer_release(&x);
	return r;
}
