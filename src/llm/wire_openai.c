/*
 * wire_openai: the OpenAI-compatible API (OpenAI itself, vLLM, llama.cpp's
 * server, Ollama's /v1). POST /v1/chat/completions takes {"model",
 * "messages","stream","max_tokens","temperature"} and, streamed,
 * "stream_options":{"include_usage":true} so the last chunk carries the
 * counts. A whole reply is {"choices":[{"message":{"content"},
 * "finish_reason"}],"usage":{...}}; a stream is SSE chunks with
 * choices[0].delta.content, a usage chunk with no choices, then [DONE]
 * (seen by the caller). Servers that send no usage get estimates.
 */
#include <errno.h>
#include <stdint.h>

#include "llm/client_internal.h"
#include "util/banned.h"

static int openai_chat_body(const struct llm_config *cfg, const struct llm_call *call, json_t **ret)
{
	json_t *msgs, *root;
	int r = llm_json_messages(call, &msgs);

	if (r < 0)
		return r;
	root = json_pack("{s:o,s:o,s:b,s:f}", "model", llm_json_text(cfg->model), "messages", msgs,
			 "stream", (int)call->stream, "temperature", cfg->temperature);
	if (!root)
		return -ENOMEM;
	if (cfg->max_tokens &&
	    json_object_set_new(root, "max_tokens",
				json_integer(cfg->max_tokens > (uint64_t)INT64_MAX ? INT64_MAX
										: (json_int_t)cfg->max_tokens)) < 0)
		r = -ENOMEM;
	if (r == 0 && call->stream &&
	    json_object_set_new(root, "stream_options", json_pack("{s:b}", "include_usage", 1)) < 0)
		r = -ENOMEM;
	if (r < 0) {
		json_decref(root);
		return r;
	}
	*ret = root;
	return 0;
}

static int openai_error(json_t *root, struct llm_acc *acc)
{
	json_t *e = json_object_get(root, "error");

	if (!e || json_is_null(e))
		return 0;
	llm_json_error_text(root, acc->server_error, sizeof(acc->server_error));
	return -EIO;
}

static void openai_usage(json_t *root, struct llm_acc *acc)
{
	json_t *u = json_object_get(root, "usage");

	if (!json_is_object(u))
		return;
	acc->has_prompt = llm_json_count(u, "prompt_tokens", &acc->prompt_tokens);
	acc->has_completion = llm_json_count(u, "completion_tokens", &acc->completion_tokens);
}

/* choices[0]: the content in choices[0][part] and the finish reason. A
 * missing choice is an error only when required. */
static int openai_choice(json_t *root, const char *part, bool required, struct llm_acc *acc)
{
	json_t *choices = json_object_get(root, "choices"), *c0, *m, *content, *fr;
	int r = 0;

	if (!json_is_array(choices))
		return -EBADMSG;
	c0 = json_array_get(choices, 0);
	m = json_object_get(c0, part);
	if (!json_is_object(m))
		return required || (c0 && !json_is_object(c0)) ? -EBADMSG : 0;
	content = json_object_get(m, "content");
	if (json_is_string(content))
		r = llm_acc_piece(acc, json_string_value(content), json_string_length(content));
	else if (content && !json_is_null(content))
		r = -EBADMSG;
	fr = json_object_get(c0, "finish_reason");
	if (r == 0 && json_is_string(fr)) {
		llm_json_copy_string(c0, "finish_reason", acc->finish_reason, sizeof(acc->finish_reason));
		acc->finished = true;
	}
	return r;
}

static int openai_chat_whole(json_t *root, struct llm_acc *acc)
{
	int r = openai_error(root, acc);

	if (r == 0)
		r = openai_choice(root, "message", true, acc);
	if (r == 0) {
		openai_usage(root, acc);
		acc->done = true;
	}
	return r;
}

static int openai_chat_event(json_t *root, struct llm_acc *acc)
{
	int r = openai_error(root, acc);

	if (r < 0)
		return r;
	/* Some servers send the usage chunk without a choices array. */
	if (!json_object_get(root, "choices") && json_is_object(json_object_get(root, "usage")))
		r = 0;
	else
		r = openai_choice(root, "delta", false, acc);
	if (r == 0)
		openai_usage(root, acc);
	return r;
}

static json_t *openai_embed_body(const char *model, const char *text)
{
	return json_pack("{s:o,s:o}", "model", llm_json_text(model), "input", llm_json_text(text));
}

static json_t *openai_embed_vector(json_t *root)
{
	return json_object_get(json_array_get(json_object_get(root, "data"), 0), "embedding");
}

const struct llm_wire llm_wire_openai = {
	.name = "openai",
	.chat_path = "/v1/chat/completions",
	.embed_path = "/v1/embeddings",
	.ready_path = "/v1/models",
	.sse = true,
	.chat_body = openai_chat_body,
	.chat_whole = openai_chat_whole,
	.chat_event = openai_chat_event,
	.embed_body = openai_embed_body,
	.embed_vector = openai_embed_vector,
};
