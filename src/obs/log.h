/*
 * log: structured logs, one JSON object per line on standard error.
 *
 *   {"ts":"2024-05-01T09:30:00.123Z","level":"info","event":"run_done",
 *    "request_id":"9f2c4e1a7b3d5f60","run_id":"...","wall_ms":812}
 *
 * Each line is written with one write(2) call, so lines from different
 * threads do not interleave. Only the edge (the HTTP handlers, the server's
 * main loop, the CLI) logs; library code returns errors instead.
 *
 * Never log a secret: log an API key through log_redact_key(), and never
 * log request bodies or analysts' data.
 */
#ifndef LEDGERBOX_LOG_H
#define LEDGERBOX_LOG_H

#include <jansson.h>

/* These names clash with <syslog.h>'s macros LOG_INFO and LOG_DEBUG;
 * ledgerbox does not use syslog, and a file that did could not include both. */
#ifdef LOG_INFO
#error "obs/log.h cannot be used with <syslog.h>"
#endif
enum log_level {
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR,
};

#define LOG_REQUEST_ID_LEN 16

/* Writes one line when level is at least the current level (info unless
 * log_set_level() said otherwise). request_id may be NULL. fields (may be
 * NULL) is a JSON object whose members are added after the standard ones;
 * it is borrowed, not consumed. A field named ts, level, event or
 * request_id is dropped so it cannot forge the standard ones. */
void log_event(enum log_level level, const char *request_id, const char *event, json_t *fields);
/* Drops events below level from now on; safe from any thread. */
void log_set_level(enum log_level level);
/* "debug", "info", "warn", "error". */
const char *log_level_name(enum log_level level);
/* Parses a name log_level_name() gives; returns 0 or -EINVAL. */
int log_level_parse(const char *name, enum log_level *ret);

/* Writes a new request id: 16 lowercase hex characters (64 random bits from
 * getrandom) and a NUL. */
void log_request_id_new(char out[LOG_REQUEST_ID_LEN + 1]);

/* What to log in place of an API key: "lbx_…" and the key's last 4
 * characters, such as "lbx_…9f3a", enough to tell keys apart and nothing
 * to use. Takes the Authorization header's value ("Bearer KEY") or a bare
 * key. The "lbx_" is shown only when the key starts with it; a key shorter
 * than 12 characters shows no characters at all ("lbx_…" or "…"), and a
 * missing or empty one gives "(none)". Characters other than letters,
 * digits, '-' and '_' show as '?'. Returns a thread-local buffer, valid
 * until the calling thread's next call. */
const char *log_redact_key(const char *authorization_header);

#endif
