/*
 * trace_span: builds one span and, when it ends, its OTLP JSON object:
 *   {"traceId", "spanId", "parentSpanId"?, "name", "kind": 1 (internal),
 *    "startTimeUnixNano", "endTimeUnixNano", "attributes": [...],
 *    "status": {"code": 2, "message"}?}
 * Ids are random (libsodium), never all zero (OTLP calls that invalid).
 * Attributes are kept as their final {"key", "value"} objects, so ending a
 * span only adds the ids and times around them. All text is cut to its
 * maximum at a character boundary and repaired to valid UTF-8, since
 * jansson refuses anything else.
 */
#include "obs/trace_internal.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "util/utf8.h"
#include "util/banned.h"

#define TRACE_ID_BYTES 16
#define SPAN_ID_BYTES 8
#define SPAN_KIND_INTERNAL 1
#define STATUS_CODE_ERROR 2

struct trace_span {
	struct trace_exporter *exporter;
	unsigned char trace_id[TRACE_ID_BYTES];
	unsigned char span_id[SPAN_ID_BYTES];
	unsigned char parent_id[SPAN_ID_BYTES];
	bool has_parent;
	uint64_t start_ns;
	json_t *name;
	json_t *attributes; /* array of {"key", "value"} */
	json_t *error;      /* the status message, when failed */
};

static uint64_t now_unix_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void random_id(unsigned char *id, size_t len)
{
	static const unsigned char zero[TRACE_ID_BYTES];

	do
		randombytes_buf(id, len);
	while (memcmp(id, zero, len) == 0);
}

static void hex(const unsigned char *bytes, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
	out[2 * len] = '\0';
}

static json_t *hex_json(const unsigned char *bytes, size_t len)
{
	char text[2 * TRACE_ID_BYTES + 1];

	hex(bytes, len, text);
	return json_string(text);
}

/* A JSON string of at most max bytes of s, valid UTF-8; NULL when out of
 * memory. */
static json_t *text_json(const char *s, size_t max)
{
	size_t len = utf8_cut(s, max), fixed_len = 0;
	char *fixed = NULL;
	json_t *j;

	if (utf8_sanitize(s, len, &fixed, &fixed_len) < 0)
		return NULL;
	j = fixed ? json_stringn(fixed, fixed_len) : json_stringn(s, len);
	free(fixed);
	return j;
}

static json_t *u64_text_json(uint64_t v)
{
	char text[24];

	snprintf(text, sizeof(text), "%" PRIu64, v);
	return json_string(text);
}

struct trace_span *trace_span_start(struct trace_exporter *t, const struct trace_span *parent,
				    const char *name)
{
	struct trace_span *s;

	if (!t || !name)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->exporter = t;
	s->name = text_json(name, TRACE_NAME_MAX);
	s->attributes = json_array();
	if (!s->name || !s->attributes) {
		json_decref(s->name);
		json_decref(s->attributes);
		free(s);
		return NULL;
	}
	if (parent) {
		memcpy(s->trace_id, parent->trace_id, sizeof(s->trace_id));
		memcpy(s->parent_id, parent->span_id, sizeof(s->parent_id));
		s->has_parent = true;
	} else {
		random_id(s->trace_id, sizeof(s->trace_id));
	}
	random_id(s->span_id, sizeof(s->span_id));
	s->start_ns = now_unix_ns();
	return s;
}

/* {"key": k, "value": v}, taking both references; NULL when out of memory.
 * (jansson's set_new releases the value even when it fails.) */
static json_t *pair_json(json_t *k, json_t *v)
{
	json_t *pair = json_object();

	if (!pair) {
		json_decref(k);
		json_decref(v);
		return NULL;
	}
	if (json_object_set_new(pair, "key", k) < 0) {
		json_decref(v);
		json_decref(pair);
		return NULL;
	}
	if (json_object_set_new(pair, "value", v) < 0) {
		json_decref(pair);
		return NULL;
	}
	return pair;
}

json_t *trace_json_one(const char *name, json_t *value)
{
	json_t *o;

	if (!value)
		return NULL;
	o = json_object();
	if (!o) {
		json_decref(value);
		return NULL;
	}
	if (json_object_set_new(o, name, value) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Sets key to value (an AnyValue object or NULL; the reference is taken). */
static void attr_set(struct trace_span *s, const char *key, json_t *value)
{
	json_t *k = value ? text_json(key, TRACE_KEY_MAX) : NULL;
	size_t n = json_array_size(s->attributes);

	if (!k) {
		json_decref(value);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *attr = json_array_get(s->attributes, i);

		if (json_equal(json_object_get(attr, "key"), k)) {
			json_object_set_new(attr, "value", value);
			json_decref(k);
			return;
		}
	}
	if (n >= TRACE_ATTRS_MAX) {
		json_decref(k);
		json_decref(value);
		return;
	}
	json_array_append_new(s->attributes, pair_json(k, value));
}

void trace_span_attr_str(struct trace_span *s, const char *key, const char *value)
{
	if (!s || !key || !value)
		return;
	attr_set(s, key, trace_json_one("stringValue", text_json(value, TRACE_VALUE_MAX)));
}

void trace_span_attr_int(struct trace_span *s, const char *key, int64_t value)
{
	char text[24];

	if (!s || !key)
		return;
	/* OTLP's JSON encoding writes 64-bit integers as strings. */
	snprintf(text, sizeof(text), "%" PRId64, value);
	attr_set(s, key, trace_json_one("intValue", json_string(text)));
}

void trace_span_error(struct trace_span *s, const char *message)
{
	json_t *text;

	if (!s)
		return;
	text = text_json(message ? message : "", TRACE_VALUE_MAX);
	if (!text)
		return;
	json_decref(s->error);
	s->error = text;
}

/* The error status, or NULL when out of memory. */
static json_t *status_json(json_t *message)
{
	json_t *st = trace_json_one("code", json_integer(STATUS_CODE_ERROR));

	if (st && json_object_set(st, "message", message) < 0) {
		json_decref(st);
		return NULL;
	}
	return st;
}

/* The finished span's OTLP object, or NULL when out of memory. */
static json_t *span_json(const struct trace_span *s, uint64_t end_ns)
{
	json_t *j = trace_json_one("traceId", hex_json(s->trace_id, sizeof(s->trace_id)));
	int r = j ? 0 : -1;

	r |= json_object_set_new(j, "spanId", hex_json(s->span_id, sizeof(s->span_id)));
	if (s->has_parent)
		r |= json_object_set_new(j, "parentSpanId",
					 hex_json(s->parent_id, sizeof(s->parent_id)));
	r |= json_object_set(j, "name", s->name);
	r |= json_object_set_new(j, "kind", json_integer(SPAN_KIND_INTERNAL));
	r |= json_object_set_new(j, "startTimeUnixNano", u64_text_json(s->start_ns));
	r |= json_object_set_new(j, "endTimeUnixNano", u64_text_json(end_ns));
	r |= json_object_set(j, "attributes", s->attributes);
	if (s->error)
		r |= json_object_set_new(j, "status", status_json(s->error));
	if (r < 0) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static void span_free(struct trace_span *s)
{
	json_decref(s->name);
	json_decref(s->attributes);
	json_decref(s->error);
	free(s);
}

void trace_span_end(struct trace_span *s)
{
	json_t *j;

	if (!s)
		return;
	j = span_json(s, now_unix_ns());
	if (j)
		trace_exporter_enqueue(s->exporter, j);
	else
		trace_exporter_lost(s->exporter);
	span_free(s);
}

void trace_span_trace_id(const struct trace_span *s, char out[33])
{
	if (!s) {
		out[0] = '\0';
		return;
	}
	hex(s->trace_id, sizeof(s->trace_id), out);
}
