/*
 * fuzz_config: the settings parser (src/config/config.h), through its one
 * entry point config_load(), which reads a file and the environment.
 *
 * Input: byte 0 picks the mode and byte 1 a setting (of config_settings()),
 * byte 2 the size of the message buffer; the rest is the text:
 * - mode 0: the text is the whole configuration file;
 * - mode 1: a file of one line, "name = text", for the picked setting (the
 *   text up to its first line break), so every value parser is reached;
 * - mode 2: the picked variable set to the text in the environment.
 * The file is a memfd read through /proc/self/fd/N, so nothing is left on
 * disk however the harness ends; no LEDGERBOX_* variable is set outside
 * mode 2, and LEDGERBOX_CONFIG never is (it names a file to read).
 *
 * Checked, from config.h and config.c's invariants:
 * - on failure *ret is untouched, the message is NUL-terminated within
 *   its buffer, starts with where the value came from (FILE:LINE with a
 *   real line number, FILE, or the variable) or names the settings that
 *   disagree, and a shorter buffer holds a prefix of the same message;
 * - the LLM key is never echoed in a message;
 * - on success every value is in range: listen address, text settings'
 *   allowed words and control-free text, cross-setting rules (export rows,
 *   breaker, backoff, tokens), run limits within their maximums and both
 *   limit sets passing sandbox_limits_check().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config/config.h"
#include "fuzz.h"
#include "util/banned.h"

#define ERR_FULL 4096

static int file_fd = -1;
static char path[64];
static const struct config_setting *settings;
static size_t n_settings;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	file_fd = memfd_create("ledgerbox-fuzz-config", MFD_CLOEXEC);
	FUZZ_ASSERT(file_fd >= 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", file_fd);
	settings = config_settings(&n_settings);
	FUZZ_ASSERT(settings != NULL && n_settings > 1);
	for (size_t i = 0; i < n_settings; i++)
		unsetenv(settings[i].variable);
	return 0;
}

static void file_write(const char *text, size_t len)
{
	FUZZ_ASSERT(ftruncate(file_fd, 0) == 0);
	FUZZ_ASSERT(len == 0 || pwrite(file_fd, text, len, 0) == (ssize_t)len);
}

static bool text_ok(const char *s, size_t size)
{
	if (!memchr(s, '\0', size))
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

#define TEXT_OK(c, field) text_ok((c)->field, sizeof((c)->field))

static bool one_of(const char *s, const char *a, const char *b, const char *c)
{
	return strcmp(s, a) == 0 || strcmp(s, b) == 0 || (c && strcmp(s, c) == 0);
}

static void check_limits(const struct sandbox_limits *l, const struct sandbox_limits *max)
{
	char why[256];

	FUZZ_ASSERT(l->wall_ms <= max->wall_ms && l->cpu_ms <= max->cpu_ms);
	FUZZ_ASSERT(l->memory_bytes <= max->memory_bytes && l->pids <= max->pids);
	FUZZ_ASSERT(l->output_bytes <= max->output_bytes && l->tmp_bytes <= max->tmp_bytes);
	FUZZ_ASSERT(sandbox_limits_check(l, why, sizeof(why)) == 0);
	FUZZ_ASSERT(sandbox_limits_check(max, why, sizeof(why)) == 0);
	FUZZ_ASSERT(l->max_rows == max->max_rows);
}

static void check_config(const struct config *c)
{
	struct in_addr addr;
	char *end;
	double similarity;

	FUZZ_ASSERT(TEXT_OK(c, listen_host) && inet_pton(AF_INET, c->listen_host, &addr) == 1);
	FUZZ_ASSERT(c->listen_port != 0);
	FUZZ_ASSERT(c->state_dir[0] && memchr(c->state_dir, '\0', sizeof(c->state_dir)));
	FUZZ_ASSERT(c->data_dir[0] && memchr(c->data_dir, '\0', sizeof(c->data_dir)));
	FUZZ_ASSERT(c->max_runs >= 1 && c->max_runs <= 1024 && c->queue_max <= 100000);
	FUZZ_ASSERT(TEXT_OK(c, llm_url) && TEXT_OK(c, llm_model) && TEXT_OK(c, llm_key));
	FUZZ_ASSERT(TEXT_OK(c, embed_model) && TEXT_OK(c, otlp_endpoint) && TEXT_OK(c, otlp_headers));
	FUZZ_ASSERT(strncmp(c->llm_url, "http://", 7) == 0 || strncmp(c->llm_url, "https://", 8) == 0);
	FUZZ_ASSERT(TEXT_OK(c, llm_api) && one_of(c->llm_api, "ollama", "openai", NULL));
	FUZZ_ASSERT(TEXT_OK(c, llm_send_samples) &&
		    one_of(c->llm_send_samples, "auto", "yes", "no"));
	FUZZ_ASSERT(TEXT_OK(c, cache) && one_of(c->cache, "on", "off", NULL));
	FUZZ_ASSERT(TEXT_OK(c, cache_min_similarity));
	if (strcmp(c->cache_min_similarity, "auto") != 0) {
		similarity = strtod(c->cache_min_similarity, &end);
		FUZZ_ASSERT(*end == '\0' && similarity >= 0 && similarity <= 1);
	}
	FUZZ_ASSERT(c->export_rows >= c->table_rows && c->table_rows >= 1);
	FUZZ_ASSERT(c->breaker_min_calls <= c->breaker_window);
	FUZZ_ASSERT(c->breaker_cooldown_max_ms >= c->breaker_cooldown_ms);
	FUZZ_ASSERT(c->llm_backoff_max_ms >= c->llm_backoff_ms);
	FUZZ_ASSERT(c->llm_max_tokens < c->llm_num_ctx);
	FUZZ_ASSERT(c->limits.max_rows == c->export_rows);
	check_limits(&c->limits, &c->max_limits);
}

/* Messages of the checks across settings, which name the settings. */
static bool names_settings(const char *err)
{
	static const char *const starts[] = { "LEDGERBOX_EXPORT_ROWS (",
					      "LEDGERBOX_BREAKER_MIN_CALLS must",
					      "LEDGERBOX_LLM_MAX_TOKENS (", "LEDGERBOX_WARM_POOL_MIN (",
					      "LEDGERBOX_RUN_",
					      "run limits: ", "maximum run limits: " };

	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++)
		if (strncmp(err, starts[i], strlen(starts[i])) == 0)
			return true;
	return false;
}

/* FILE:LINE: with LINE from 1 to the file's lines, or "FILE: ". */
static bool names_file(const char *err, unsigned lines)
{
	size_t n = strlen(path);
	unsigned long line;
	char *end;

	if (strncmp(err, path, n) != 0 || err[n] != ':')
		return false;
	if (err[n + 1] == ' ')
		return true;
	line = strtoul(err + n + 1, &end, 10);
	return end != err + n + 1 && *end == ':' && line >= 1 && line <= lines;
}

static void check_error(const char *err, int mode, const char *variable, unsigned lines,
			bool is_key)
{
	const char *got = strstr(err, "got '");
	size_t n = strlen(variable);

	FUZZ_ASSERT(err[0] != '\0');
	if (mode == 2)
		FUZZ_ASSERT((strncmp(err, variable, n) == 0 && err[n] == ':') ||
			    names_settings(err));
	else
		FUZZ_ASSERT(names_file(err, lines) || names_settings(err));
	/* A key's value is shown as (hidden), in every message. */
	if (is_key && got)
		FUZZ_ASSERT(strncmp(got, "got '(hidden)'", 14) == 0);
}

static unsigned count_lines(const char *text, size_t len)
{
	unsigned lines = 1;

	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	return lines;
}

/* Loads with the full message buffer and with one of err_len bytes. */
static void load_and_check(int mode, const struct config_setting *s, size_t err_len,
			   unsigned lines, bool is_key)
{
	struct config *c = fuzz_alloc(sizeof(*c)), *untouched = fuzz_alloc(sizeof(*c));
	char *err = fuzz_alloc(ERR_FULL), *small = fuzz_alloc(err_len);
	const char *file = mode == 2 ? NULL : path;
	int r, r2;

	memset(c, 0xa5, sizeof(*c));
	memcpy(untouched, c, sizeof(*c));
	memset(err, 0, ERR_FULL);
	r = config_load(c, file, err, ERR_FULL);
	FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ERANGE || r == -EFBIG);
	if (r == 0) {
		check_config(c);
	} else {
		FUZZ_ASSERT(memcmp(c, untouched, sizeof(*c)) == 0);
		FUZZ_ASSERT(memchr(err, '\0', ERR_FULL) != NULL);
		check_error(err, mode, s->variable, lines, is_key);
	}
	/* The same load with a small buffer: same result, a cut message. */
	memset(small, 0x5a, err_len);
	r2 = config_load(untouched, file, small, err_len);
	FUZZ_ASSERT(r2 == r);
	if (r < 0) {
		size_t kept = strlen(err) < err_len - 1 ? strlen(err) : err_len - 1;
		FUZZ_ASSERT(memchr(small, '\0', err_len) != NULL && strlen(small) == kept);
		FUZZ_ASSERT(strncmp(small, err, kept) == 0);
	} else {
		FUZZ_ASSERT(memcmp(c, untouched, sizeof(*c)) == 0);
	}
	free(small);
	free(err);
	free(untouched);
	free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t err_sizes[4] = { 1, 7, 64, 300 };
	const struct config_setting *s;
	const char *text = (const char *)data + 3;
	size_t len, n;
	int mode;
	char *line;

	if (size < 3)
		return 0;
	len = size - 3;
	mode = data[0] % 3;
	s = &settings[data[1] % n_settings];
	if (mode == 2 && strcmp(s->variable, "LEDGERBOX_CONFIG") == 0)
		s = &settings[(data[1] + 1u) % n_settings];
	if (mode == 0) {
		file_write(text, len);
		load_and_check(mode, s, err_sizes[data[2] % 4], count_lines(text, len), false);
		return 0;
	}
	/* One value: up to a NUL (the environment) or a line break (a file). */
	n = strnlen(text, len);
	if (mode == 1) {
		const char *nl = memchr(text, '\n', n);
		n = nl ? (size_t)(nl - text) : n;
	}
	line = fuzz_alloc(n + 128);
	if (mode == 1) {
		/* The file's name is the variable's, without LEDGERBOX_, in lower case. */
		size_t at = 0;
		for (const char *v = s->variable + strlen("LEDGERBOX_"); *v; v++)
			line[at++] = (char)(*v >= 'A' && *v <= 'Z' ? *v - 'A' + 'a' : *v);
		memcpy(line + at, " = ", 3);
		memcpy(line + at + 3, text, n);
		file_write(line, at + 3 + n);
	} else {
		memcpy(line, text, n);
		line[n] = '\0';
		FUZZ_ASSERT(setenv(s->variable, line, 1) == 0);
	}
	load_and_check(mode, s, err_sizes[data[2] % 4], 1,
		       strcmp(s->variable, "LEDGERBOX_LLM_KEY") == 0 ||
			       strcmp(s->variable, "LEDGERBOX_DATABASE_URL") == 0);
	if (mode == 2)
		unsetenv(s->variable);
	free(line);
	return 0;
}
