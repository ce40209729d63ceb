/*
 * wire_ollama: Ollama's native API. POST /api/chat takes
 * {"model","messages","stream","options":{"num_ctx","num_predict",
 * "temperature"}}; the reply (whole, or the last NDJSON line of a stream)
 * carries done:true, done_reason and the counts prompt_eval_count (left out
 * when the prompt was cached), eval_count and total_duration (ns). Each
 * streamed line before it carries one piece in message.content. A line or
 * reply {"error":"..."} is the server reporting a failure.
 */
#include <errno.h>
#include <stdint.h>

#include "llm/client_internal.h"
#include "util/banned.h"

static json_int_t ollama_int(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? (json_int_t)INT64_MAX : (json_int_t)v;
}

static int ollama_chat_body(const struct llm_config *cfg, const struct llm_call *call, json_t **ret)
{
	json_t *msgs, *root, *options;
	int r = llm_json_messages(call, &msgs);

	if (r < 0)
		return r;
	options = json_pack("{s:I,s:f}", "num_ctx",
			    ollama_int(cfg->num_ctx ? cfg->num_ctx : LLM_DEFAULT_NUM_CTX), "temperature",
			    cfg->temperature);
	if (options && cfg->max_tokens &&
	    json_object_set_new(options, "num_predict", json_integer(ollama_int(cfg->max_tokens))) < 0) {
		json_decref(options);
		options = NULL;
	}
	root = json_pack("{s:o,s:o,s:b,s:o}", "model", llm_json_text(cfg->model), "messages", msgs,
			 "stream", (int)call->stream, "options", options);
	if (!root)
		return -ENOMEM;
	*ret = root;
	return 0;
}

static int ollama_error(json_t *root, struct llm_acc *acc)
{
	if (!json_object_get(root, "error"))
		return 0;
	llm_json_error_text(root, acc->server_error, sizeof(acc->server_error));
	return -EIO;
}

static void ollama_final(json_t *root, struct llm_acc *acc)
{
	acc->done = true;
	acc->has_prompt = llm_json_count(root, "prompt_eval_count", &acc->prompt_tokens);
	acc->has_completion = llm_json_count(root, "eval_count", &acc->completion_tokens);
	acc->has_duration = llm_json_count(root, "total_duration", &acc->total_duration_ns);
	llm_json_copy_string(root, "done_reason", acc->finish_reason, sizeof(acc->finish_reason));
}

/* The piece in message.content; *ret_has says whether there was a message. */
static int ollama_message(json_t *root, struct llm_acc *acc, bool *ret_has)
{
	json_t *m = json_object_get(root, "message"), *c;

	*ret_has = m != NULL;
	if (!m)
		return 0;
	if (!json_is_object(m))
		return -EBADMSG;
	c = json_object_get(m, "content");
	if (!c)
		return 0; /* a message with only tool calls or thinking */
	if (!json_is_string(c))
		return -EBADMSG;
	return llm_acc_piece(acc, json_string_value(c), json_string_length(c));
}

static int ollama_chat_event(json_t *root, struct llm_acc *acc)
{
	json_t *done;
	bool has;
	int r = ollama_error(root, acc);

	if (r < 0 || acc->done)
		return r;
	r = ollama_message(root, acc, &has);
	if (r < 0)
		return r;
	done = json_object_get(root, "done");
	if (!has && !json_is_boolean(done))
		return -EBADMSG;
	if (json_is_true(done))
		ollama_final(root, acc);
	return 0;
}

static int ollama_chat_whole(json_t *root, struct llm_acc *acc)
{
	bool has;
	int r = ollama_error(root, acc);

	if (r == 0)
		r = ollama_message(root, acc, &has);
	if (r == 0 && !has)
		r = -EBADMSG;
	if (r == 0)
		ollama_final(root, acc);
	return r;
}

static json_t *ollama_embed_body(const char *model, const char *text)
{
	return json_pack("{s:o,s:o}", "model", llm_json_text(model), "input", llm_json_text(text));
}

static json_t *ollama_embed_vector(json_t *root)
{
	return json_array_get(json_object_get(root, "embeddings"), 0);
}

const struct llm_wire llm_wire_ollama = {
	.name = "ollama",
	.chat_path = "/api/chat",
	.embed_path = "/api/embed",
	.ready_path = "/api/tags",
	.sse = false,
	.chat_body = ollama_chat_body,
	.chat_whole = ollama_chat_whole,
	.chat_event = ollama_chat_event,
	.embed_body = ollama_embed_body,
	.embed_vector = ollama_embed_vector,
};
