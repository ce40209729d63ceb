/*
 * log: see log.h. Lines are built with jansson and written with a single
 * write(2) to fd 2.
 *
 * Invariants:
 * - A line is one JSON object, compact, ending in '\n', and holds no raw
 *   newline, so a reader can split the stream on '\n'. Text that is not
 *   valid UTF-8 (a client's request id, say) is repaired first, because
 *   jansson refuses it and the line would otherwise be lost.
 * - log_event() keeps errno as it found it, so a caller may log between a
 *   failing call and its use of errno.
 * - The level is an atomic, so log_set_level() needs no lock.
 */
#include "obs/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "util/utf8.h"
#include "util/banned.h"

#define ELLIPSIS "\xe2\x80\xa6" /* U+2026 */
#define REDACT_SHOWN_CHARS 4
#define REDACT_MIN_KEY_CHARS 12

static atomic_int log_min_level = LOG_INFO;

static const char *const level_names[] = {
	[LOG_DEBUG] = "debug",
	[LOG_INFO] = "info",
	[LOG_WARN] = "warn",
	[LOG_ERROR] = "error",
};
#define N_LEVELS (sizeof(level_names) / sizeof(level_names[0]))

const char *log_level_name(enum log_level level)
{
	return (unsigned)level < N_LEVELS ? level_names[level] : "unknown";
}

int log_level_parse(const char *name, enum log_level *ret)
{
	for (unsigned i = 0; i < N_LEVELS; i++) {
		if (name && strcmp(name, level_names[i]) == 0) {
			*ret = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void log_set_level(enum log_level level)
{
	atomic_store(&log_min_level, (int)level);
}

/* RFC 3339 in UTC with milliseconds: 2024-05-01T09:30:00.123Z. */
static void timestamp_format(char *out, size_t out_len)
{
	struct timespec now;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	n = strftime(out, out_len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, out_len - n, ".%03ldZ", now.tv_nsec / 1000000);
}

/* A JSON string of s, repaired to valid UTF-8 if need be; NULL when out of
 * memory. */
static json_t *json_text(const char *s)
{
	char *fixed = NULL;
	size_t len;
	json_t *j;

	if (utf8_sanitize(s, strlen(s), &fixed, &len) < 0)
		return NULL;
	j = json_stringn(fixed ? fixed : s, len);
	free(fixed);
	return j;
}

static bool key_is_reserved(const char *key)
{
	return strcmp(key, "ts") == 0 || strcmp(key, "level") == 0 || strcmp(key, "event") == 0 ||
	       strcmp(key, "request_id") == 0;
}

static json_t *line_build(enum log_level level, const char *request_id, const char *event,
			  json_t *fields)
{
	json_t *line = json_object();
	const char *key;
	json_t *value;
	char ts[40];

	if (!line)
		return NULL;
	timestamp_format(ts, sizeof(ts));
	json_object_set_new(line, "ts", json_string(ts));
	json_object_set_new(line, "level", json_string(log_level_name(level)));
	json_object_set_new(line, "event", json_text(event ? event : "unnamed"));
	if (request_id && *request_id)
		json_object_set_new(line, "request_id", json_text(request_id));
	if (json_is_object(fields)) {
		json_object_foreach(fields, key, value) {
			if (!key_is_reserved(key))
				json_object_set(line, key, value);
		}
	}
	return line;
}

/* One write for the whole line; a pipe keeps writes up to PIPE_BUF whole
 * and a file opened O_APPEND keeps any write whole. The loop only finishes
 * a line the kernel cut short. */
static void line_write(const char *text, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, text, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* there is nowhere left to report a failed log write */
		text += n;
		len -= (size_t)n;
	}
}

void log_event(enum log_level level, const char *request_id, const char *event, json_t *fields)
{
	int saved_errno = errno;
	json_t *line;
	char *text, *grown;
	size_t len;

	if ((int)level < atomic_load(&log_min_level))
		return;
	line = line_build(level, request_id, event, fields);
	text = line ? json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(line);
	if (text) {
		len = strlen(text);
		grown = realloc(text, len + 2);
		if (grown) {
			text = grown;
			text[len++] = '\n';
			text[len] = '\0';
			line_write(text, len);
		}
		free(text);
	}
	errno = saved_errno;
}

/* Only when getrandom cannot answer (a kernel without it, a seccomp filter
 * refusing it): ids must still differ, and they are labels, not secrets. */
static uint64_t request_id_fallback(void)
{
	static atomic_uint_fast64_t counter;
	struct timespec now;
	uint64_t x;

	clock_gettime(CLOCK_REALTIME, &now);
	x = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	x ^= (uint64_t)getpid() << 32;
	x += atomic_fetch_add(&counter, 1) * 0x9e3779b97f4a7c15ull;
	/* splitmix64's finaliser spreads the bits of x over the whole id. */
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

void log_request_id_new(char out[LOG_REQUEST_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char bytes[LOG_REQUEST_ID_LEN / 2];
	ssize_t n;

	do
		n = getrandom(bytes, sizeof(bytes), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(bytes)) {
		uint64_t x = request_id_fallback();
		memcpy(bytes, &x, sizeof(bytes));
	}
	for (size_t i = 0; i < sizeof(bytes); i++) {
		out[2 * i] = hex[bytes[i] >> 4];
		out[2 * i + 1] = hex[bytes[i] & 0xf];
	}
	out[LOG_REQUEST_ID_LEN] = '\0';
}

static char redact_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' ? c : '?';
}

const char *log_redact_key(const char *authorization_header)
{
	static _Thread_local char out[32];
	const char *key = authorization_header, *end, *prefix;
	char tail[REDACT_SHOWN_CHARS + 1];
	size_t len;

	if (!key)
		return "(none)";
	while (isspace((unsigned char)*key))
		key++;
	if (strncasecmp(key, "Bearer", 6) == 0 && isspace((unsigned char)key[6]))
		for (key += 6; isspace((unsigned char)*key); key++)
			;
	end = key + strlen(key);
	while (end > key && isspace((unsigned char)end[-1]))
		end--;
	len = (size_t)(end - key);
	if (len == 0)
		return "(none)";
	prefix = len >= 4 && strncmp(key, "lbx_", 4) == 0 ? "lbx_" ELLIPSIS : ELLIPSIS;
	/* Showing 4 characters of a short key would show most of it. */
	if (len < REDACT_MIN_KEY_CHARS)
		return prefix;
	for (size_t i = 0; i < REDACT_SHOWN_CHARS; i++)
		tail[i] = redact_char((end - REDACT_SHOWN_CHARS)[i]);
	tail[REDACT_SHOWN_CHARS] = '\0';
	snprintf(out, sizeof(out), "%s%s", prefix, tail);
	return out;
}
