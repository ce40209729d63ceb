/* worker: see worker.h. */
#include "runs/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runs/frame.h"
#include "runs/worker_internal.h"
#include "sandbox/result_fit.h"
#include "sandbox/result_json.h"
#include "util/utf8.h"
#include "util/banned.h"

static const struct {
	const char *name;
	size_t offset;
} limit_fields[] = {
	{ "wall_ms", offsetof(struct sandbox_limits, wall_ms) },
	{ "cpu_ms", offsetof(struct sandbox_limits, cpu_ms) },
	{ "memory_bytes", offsetof(struct sandbox_limits, memory_bytes) },
	{ "pids", offsetof(struct sandbox_limits, pids) },
	{ "output_bytes", offsetof(struct sandbox_limits, output_bytes) },
	{ "output_drain_bytes", offsetof(struct sandbox_limits, output_drain_bytes) },
	{ "tmp_bytes", offsetof(struct sandbox_limits, tmp_bytes) },
	{ "out_bytes", offsetof(struct sandbox_limits, out_bytes) },
	{ "file_bytes", offsetof(struct sandbox_limits, file_bytes) },
	{ "table_bytes", offsetof(struct sandbox_limits, table_bytes) },
	{ "max_rows", offsetof(struct sandbox_limits, max_rows) },
	{ "open_files", offsetof(struct sandbox_limits, open_files) },
};

json_t *worker_limits_to_json(const struct sandbox_limits *l)
{
	json_t *j = json_object();

	for (size_t i = 0; j && i < sizeof(limit_fields) / sizeof(limit_fields[0]); i++) {
		uint64_t v;
		memcpy(&v, (const char *)l + limit_fields[i].offset, sizeof(v));
		json_object_set_new(j, limit_fields[i].name, json_integer((json_int_t)v));
	}
	return j;
}

int worker_limits_from_json(json_t *j, struct sandbox_limits *l)
{
	for (size_t i = 0; i < sizeof(limit_fields) / sizeof(limit_fields[0]); i++) {
		json_t *v = json_object_get(j, limit_fields[i].name);
		uint64_t value;
		if (!v)
			continue;
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return -EINVAL;
		value = (uint64_t)json_integer_value(v);
		memcpy((char *)l + limit_fields[i].offset, &value, sizeof(value));
	}
	return 0;
}

static int request_parse(json_t *msg, struct sandbox_request *req)
{
	json_t *run = json_object_get(msg, "run");
	const char *lang = json_string_value(json_object_get(run, "language"));
	json_t *code = json_object_get(run, "code");

	memset(req, 0, sizeof(*req));
	sandbox_limits_default(&req->limits);
	if (!json_is_object(run) || !lang || !json_is_string(code) ||
	    sandbox_lang_parse(lang, &req->lang) < 0)
		return -EINVAL;
	req->code = json_string_value(code);
	req->code_len = json_string_length(code);
	req->data_path = json_string_value(json_object_get(run, "data_path"));
	if (json_is_integer(json_object_get(run, "data_ino"))) {
		req->data_pinned = true;
		req->data_dev = (dev_t)json_integer_value(json_object_get(run, "data_dev"));
		req->data_ino = (ino_t)json_integer_value(json_object_get(run, "data_ino"));
	}
	req->cancel_fd = WORKER_FD;
	req->compile_only = json_is_true(json_object_get(run, "compile_only"));
	return worker_limits_from_json(json_object_get(run, "limits"), &req->limits);
}

static int answer_error(json_t *seq, const char *message)
{
	json_t *out = json_pack("{s:s,s:s,s:O?,s:[]}", "status", "sandbox_error", "error", message,
				"seq", seq, "artifacts");
	int r = out ? frame_write_json(WORKER_FD, out) : -ENOMEM;

	json_decref(out);
	return r;
}

/* Live output: whole lines of stdout as frames {"seq", "stdout": LINE}
 * while the run goes on (a line longer than OUTPUT_LINE_MAX goes in
 * pieces), for a request that asked with "stream_output". */
#define OUTPUT_LINE_MAX 4096

struct live_output {
	json_t *seq;
	char line[OUTPUT_LINE_MAX];
	size_t len;
	bool broken; /* the socket failed: stop sending, the answer will fail */
};

static void live_flush(struct live_output *lo)
{
	char *text = NULL;
	size_t text_len;
	json_t *frame = NULL;

	if (lo->len == 0 || lo->broken)
		return;
	if (utf8_sanitize(lo->line, lo->len, &text, &text_len) == 0)
		frame = json_pack("{s:O,s:s%}", "seq", lo->seq, "live_stdout", text ? text : lo->line,
				  text_len);
	if (frame && frame_write_json(WORKER_FD, frame) < 0)
		lo->broken = true;
	json_decref(frame);
	free(text);
	lo->len = 0;
}

static void live_stdout(void *ctx, const char *data, size_t len)
{
	struct live_output *lo = ctx;

	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\n') {
			live_flush(lo);
			continue;
		}
		lo->line[lo->len++] = data[i];
		if (lo->len == sizeof(lo->line))
			live_flush(lo);
	}
}

/* A file larger than one frame cannot be sent: it is left out and counted
 * as skipped, like any other file the run may not keep. */
static void artifacts_drop_unsendable(struct sandbox_result *res)
{
	size_t kept = 0;

	for (size_t i = 0; i < res->n_artifacts; i++) {
		struct sandbox_artifact *a = &res->artifacts[i];
		if (a->bytes <= FRAME_MAX_BYTES) {
			res->artifacts[kept++] = *a;
			continue;
		}
		free(a->name);
		free(a->mime);
		free(a->data);
		res->n_artifacts_skipped++;
	}
	for (size_t i = kept; i < res->n_artifacts; i++)
		memset(&res->artifacts[i], 0, sizeof(res->artifacts[i]));
	res->n_artifacts = kept;
}

/* Runs one request and answers it: the result JSON (echoing the request's
 * "seq", so the server can tell answers apart) and then exactly one frame
 * per entry of its "artifacts" list. Returns <0 only when the socket
 * broke. */
int worker_serve_one(json_t *msg, struct sandbox_warm **warm)
{
	json_t *seq = json_object_get(msg, "seq");
	struct live_output live = { .seq = seq ? seq : json_null() };
	struct sandbox_request req;
	struct sandbox_result res;
	json_t *out;
	int r;

	if (request_parse(msg, &req) < 0)
		return answer_error(seq, "the worker received a malformed request");
	if (json_is_true(json_object_get(json_object_get(msg, "run"), "stream_output"))) {
		req.on_stdout = live_stdout;
		req.on_stdout_ctx = &live;
	}
	r = -EAGAIN;
	if (warm && *warm) {
		struct sandbox_warm *w = *warm;
		*warm = NULL; /* consumed, whatever happens */
		r = sandbox_warm_run(w, &req, &res);
	}
	if (r == -EAGAIN)
		sandbox_run(&req, &res);
	live_flush(&live);
	artifacts_drop_unsendable(&res);
	out = result_to_json(&req, &res);
	if (!out) {
		sandbox_result_release(&res);
		return answer_error(seq, "the worker ran out of memory describing the run");
	}
	/* The answer must fit one frame whatever the run wrote: a large result
	 * is cut and flagged, never a broken worker. */
	if (result_fit(out, FRAME_MAX_BYTES) < 0) {
		json_decref(out);
		sandbox_result_release(&res);
		return answer_error(seq, "the run's description does not fit one frame");
	}
	json_object_set(out, "seq", seq ? seq : json_null());
	r = frame_write_json(WORKER_FD, out);
	for (size_t i = 0; r == 0 && i < json_array_size(json_object_get(out, "artifacts")); i++)
		r = frame_write(WORKER_FD, res.artifacts[i].data, res.artifacts[i].bytes);
	json_decref(out);
	sandbox_result_release(&res);
	return r;
}

int cmd_sandbox_worker(int argc, char **argv)
{
	(void)argv;
	if (argc != 1 || fcntl(WORKER_FD, F_GETFD) < 0) {
		fprintf(stderr, "ledgerbox sandbox-worker: started by `ledgerbox serve` only "
				"(it needs its socket on fd %d)\n", WORKER_FD);
		return 64;
	}
	/* Stop signals are for the server (a service manager sends SIGTERM to
	 * every process of the service): it decides when runs end, and a
	 * worker ends when the server closes its socket. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		json_t *msg;
		int r = frame_read_json(WORKER_FD, &msg);

		if (r < 0)
			return r == -EPIPE ? 0 : 1;
		if (json_object_get(msg, "warm")) {
			r = worker_warm_serve(msg);
			json_decref(msg);
			return r;
		}
		if (json_object_get(msg, "run"))
			r = worker_serve_one(msg, NULL);
		json_decref(msg);
		if (r < 0)
			return 1;
	}
}
