/* respond: JSON, error and file responses with the common headers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http/request.h"
#include "util/banned.h"

void respond_common_headers(struct request *rq, struct MHD_Response *resp)
{
	MHD_add_response_header(resp, "X-Request-Id", rq->id);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
}

const char *storage_why(int err)
{
	return err == -ENOSPC ? ": the disk is full where the state is kept (LEDGERBOX_STATE_DIR); "
				"free space there and retry"
			      : "";
}

static enum MHD_Result queue(struct request *rq, unsigned status, struct MHD_Response *resp)
{
	enum MHD_Result r;

	if (!resp)
		return MHD_NO;
	respond_common_headers(rq, resp);
	rq->status = (int)status;
	r = MHD_queue_response(rq->conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

enum MHD_Result respond_json_header(struct request *rq, unsigned status, json_t *value,
				    const char *header, const char *header_value)
{
	char *text = json_dumps(value, JSON_COMPACT);
	struct MHD_Response *resp;

	if (!text)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	if (header && header_value)
		MHD_add_response_header(resp, header, header_value);
	return queue(rq, status, resp);
}

enum MHD_Result respond_json(struct request *rq, unsigned status, json_t *value)
{
	return respond_json_header(rq, status, value, NULL, NULL);
}

static json_t *error_body(const char *code, const char *message, const char *field)
{
	json_t *e = json_pack("{s:s,s:s}", "code", code, "message", message);

	if (e && field)
		json_object_set_new(e, "field", json_string(field));
	return json_pack("{s:o}", "error", e);
}

enum MHD_Result respond_error(struct request *rq, unsigned status, const char *code,
			      const char *message, const char *field)
{
	static const char fallback[] =
		"{\"error\":{\"code\":\"internal\",\"message\":\"the error could not be "
		"described (out of memory or invalid text)\"}}";
	json_t *body = error_body(code, message, field);
	struct MHD_Response *resp;
	enum MHD_Result r;

	if (body) {
		r = respond_json(rq, status, body);
		json_decref(body);
		return r;
	}
	/* Every error is answered in JSON, even one that cannot be built. */
	resp = MHD_create_response_from_buffer(sizeof(fallback) - 1, (void *)fallback,
					       MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	return queue(rq, status, resp);
}

enum MHD_Result respond_retry(struct request *rq, unsigned status, const char *code,
			      const char *message, unsigned retry_after_s)
{
	return respond_retry_close(rq, status, code, message, retry_after_s, false);
}

enum MHD_Result respond_retry_close(struct request *rq, unsigned status, const char *code,
				    const char *message, unsigned retry_after_s, bool close)
{
	json_t *body = error_body(code, message, NULL);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct MHD_Response *resp;
	char seconds[16];

	json_decref(body);
	if (!text)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	snprintf(seconds, sizeof(seconds), "%u", retry_after_s);
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Retry-After", seconds);
	if (close)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	return queue(rq, status, resp);
}

enum MHD_Result respond_file(struct request *rq, int fd, uint64_t bytes, const char *mime,
			     const char *download_name)
{
	struct MHD_Response *resp = MHD_create_response_from_fd64(bytes, fd);
	char disposition[300], name[220];
	size_t n = 0;

	if (!resp) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", mime);
	/* Names are printable (checked when stored); quotes and backslashes
	 * would end the quoted string early, so they become '_'. */
	for (const char *c = download_name; *c && n < sizeof(name) - 1; c++)
		name[n++] = (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20) ? '_' : *c;
	name[n] = '\0';
	snprintf(disposition, sizeof(disposition), "attachment; filename=\"%s\"", name);
	MHD_add_response_header(resp, "Content-Disposition", disposition);
	return queue(rq, 200, resp);
}

void outcome_error(struct outcome *o, unsigned status, const char *code, const char *message,
		   const char *field, unsigned retry_after_s, json_t *extra)
{
	json_t *body = error_body(code, message, field);

	if (body && extra)
		json_object_update(json_object_get(body, "error"), extra);
	json_decref(extra);
	json_decref(o->body);
	o->status = status;
	o->body = body;
	o->retry_after_s = retry_after_s;
}

void outcome_release(struct outcome *o)
{
	json_decref(o->body);
	o->body = NULL;
}

enum MHD_Result respond_outcome(struct request *rq, struct outcome *o)
{
	char *text = o->body ? json_dumps(o->body, JSON_COMPACT) : NULL;
	struct MHD_Response *resp;
	char seconds[16];

	outcome_release(o);
	if (!text)
		return respond_error(rq, 500, "out_of_memory", "out of memory", NULL);
	resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	if (o->retry_after_s) {
		snprintf(seconds, sizeof(seconds), "%u", o->retry_after_s);
		MHD_add_response_header(resp, "Retry-After", seconds);
	}
	if (o->warning[0])
		MHD_add_response_header(resp, "X-Budget-Warning", o->warning);
	return queue(rq, o->status, resp);
}
