/*
 * prompt: builds the messages and makes them fit the model's context (see
 * prompt.h).
 *
 * Fitting is arithmetic, not trial rendering: the fixed part of the system
 * message and every table (with and without samples) are measured once,
 * then the plan picks the largest prompt that fits — all tables with
 * samples, all tables without, then fewer tables by relevance — and only
 * that one is written. Tables keep their schema order in the text.
 */
#include "llm/prompt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/utf8.h"

#include "util/banned.h"

#define ERROR_HEAD_BYTES 500 /* kept from the start of a long error; the rest from its end */
#define CUT_MARK "\n[...]\n"

struct plan {
	const struct prompt_options *o;
	bool python;
	bool samples; /* samples may be sent and the schema has some */
	size_t n_tables;
	size_t *order;		 /* table indexes, most relevant first */
	size_t *bytes[2];	 /* [samples?][table]: its rendered size */
	size_t fixed_bytes[2];	 /* [samples?]: rules, examples, schema heading */
	uint64_t other_tokens;	 /* the messages after the system one */
	uint64_t budget;	 /* tokens the whole prompt may take */
	uint64_t max_sys_bytes;	 /* a system message this long can never fit */
};

static void set_err(char *err, size_t err_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !err_len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

/* ceil(bytes / 4), at least 1: the same rule as llm_estimate_tokens(). */
static uint64_t tokens_of(uint64_t bytes)
{
	return bytes ? (bytes + 3) / 4 : 1;
}

static int put(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

/* ---- the system message ----------------------------------------------- */

static int put_schema_heading(struct buf *b, const struct plan *p, bool samples)
{
	const struct schema *s = p->o->schema;
	int r;

	if (!s)
		return 0;
	r = put(b, "\nSchema");
	if (r == 0 && p->python) {
		r = put(b, " (the tables of /data/");
		if (r == 0)
			r = put(b, s->sqlite_file ? s->sqlite_file : "");
		if (r == 0)
			r = put(b, "; CSV names a file with the same rows)");
	}
	if (r == 0)
		r = put(b, ":\n");
	if (r == 0 && samples)
		r = put(b, "(\"e.g.\" lists a few values from the data, possibly cut short.)\n");
	if (r == 0 && s->n_tables == 0)
		r = put(b, "The SQLite file has no tables.\n");
	return r;
}

/* One line after the rules: the model cannot know the date, and "last
 * month" written without it is a guess. */
static int put_today(struct buf *b, const struct prompt_options *o)
{
	char line[200];

	if (!o->today || !o->today[0])
		return 0;
	snprintf(line, sizeof(line),
		 "Today is %.16s (%.64s). Work out relative periods such as \"last month\" or"
		 " \"this year\" from this date.\n",
		 o->today, o->time_zone && o->time_zone[0] ? o->time_zone : "local time");
	return put(b, line);
}

static int put_fixed(struct buf *b, const struct plan *p, bool samples)
{
	int r = prompt_rules_append(b, p->o);

	if (r == 0)
		r = put_today(b, p->o);
	if (r == 0)
		r = put(b, "\n");
	if (r == 0)
		r = put(b, prompt_examples(p->o->language));
	return r ? r : put_schema_heading(b, p, samples);
}

static void footer(char *out, size_t size, size_t dropped)
{
	if (dropped == 0)
		out[0] = '\0';
	else
		snprintf(out, size,
			 "-- %zu more table%s not shown: left out to fit, as the least related to"
			 " the request.\n",
			 dropped, dropped == 1 ? " is" : "s are");
}

static uint64_t system_bytes(const struct plan *p, bool samples, size_t keep)
{
	uint64_t total = p->fixed_bytes[samples];
	char text[160];

	for (size_t k = 0; k < keep; k++)
		total += p->bytes[samples][p->order[k]];
	footer(text, sizeof(text), p->n_tables - keep);
	return total + strlen(text);
}

static bool fits(const struct plan *p, bool samples, size_t keep)
{
	uint64_t bytes = system_bytes(p, samples, keep);

	return bytes <= p->max_sys_bytes && tokens_of(bytes) + p->other_tokens <= p->budget;
}

static int render_system(const struct plan *p, bool samples, size_t keep, char **ret)
{
	const struct schema *s = p->o->schema;
	bool *kept = calloc(p->n_tables ? p->n_tables : 1, sizeof(*kept));
	char text[160];
	struct buf b;
	int r;

	if (!kept)
		return -ENOMEM;
	for (size_t k = 0; k < keep; k++)
		kept[p->order[k]] = true;
	buf_init(&b, p->max_sys_bytes);
	r = put_fixed(&b, p, samples);
	for (size_t i = 0; r == 0 && i < p->n_tables; i++) {
		if (kept[i])
			r = prompt_table_append(&b, s, &s->tables[i], p->python, samples);
	}
	footer(text, sizeof(text), p->n_tables - keep);
	if (r == 0)
		r = put(&b, text);
	free(kept);
	if (r == 0 && b.truncated)
		r = -E2BIG; /* cannot happen: the plan measured it */
	if (r < 0) {
		buf_release(&b);
		return r;
	}
	*ret = buf_steal(&b, NULL);
	return 0;
}

/* ---- measuring -------------------------------------------------------- */

static bool schema_has_samples(const struct schema *s)
{
	for (size_t i = 0; s && i < s->n_tables; i++) {
		for (size_t j = 0; j < s->tables[i].n_columns; j++) {
			if (s->tables[i].columns[j].n_samples)
				return true;
		}
	}
	return false;
}

static int measure_fixed(struct plan *p)
{
	for (int samples = 0; samples < 2; samples++) {
		struct buf b;
		int r;

		buf_init(&b, p->max_sys_bytes + 1);
		r = put_fixed(&b, p, samples);
		p->fixed_bytes[samples] = b.seen_bytes;
		buf_release(&b);
		if (r < 0)
			return r;
	}
	return 0;
}

static int measure_tables(struct plan *p)
{
	const struct schema *s = p->o->schema;

	for (size_t i = 0; i < p->n_tables; i++) {
		for (int samples = 0; samples < 2; samples++) {
			struct buf b;
			int r;

			buf_init(&b, p->max_sys_bytes + 1);
			r = prompt_table_append(&b, s, &s->tables[i], p->python, samples);
			p->bytes[samples][i] = b.seen_bytes;
			buf_release(&b);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static void plan_release(struct plan *p)
{
	free(p->order);
	free(p->bytes[0]);
	free(p->bytes[1]);
}

static int plan_init(struct plan *p, const struct prompt_options *o, uint64_t other_tokens)
{
	uint64_t ctx = o->num_ctx < PROMPT_MAX_CTX_TOKENS ? o->num_ctx : PROMPT_MAX_CTX_TOKENS;
	size_t n = o->schema ? o->schema->n_tables : 0;
	int r;

	memset(p, 0, sizeof(*p));
	p->o = o;
	p->python = strcmp(o->language, "python") == 0;
	p->n_tables = n;
	p->samples = o->include_samples && schema_has_samples(o->schema);
	p->other_tokens = other_tokens;
	p->budget = o->max_tokens < ctx ? ctx - o->max_tokens : 0;
	p->max_sys_bytes = p->budget * 4;
	p->order = calloc(n ? n : 1, sizeof(*p->order));
	p->bytes[0] = calloc(n ? n : 1, sizeof(size_t));
	p->bytes[1] = calloc(n ? n : 1, sizeof(size_t));
	if (!p->order || !p->bytes[0] || !p->bytes[1])
		return -ENOMEM;
	r = n ? prompt_rank_tables(o->schema, o->query, p->order) : 0;
	if (r == 0)
		r = measure_fixed(p);
	return r ? r : measure_tables(p);
}

/* Picks samples and how many tables to keep. -E2BIG when even the most
 * relevant table alone (or no schema at all) does not fit. */
static int plan_choose(const struct plan *p, struct prompt *ret, bool *ret_samples,
		       size_t *ret_keep)
{
	bool samples = p->samples;
	size_t keep = p->n_tables;

	if (!(samples && fits(p, true, keep))) {
		ret->samples_dropped = samples;
		samples = false;
		while (keep > 1 && !fits(p, false, keep))
			keep--;
		if (!fits(p, false, keep))
			return -E2BIG;
	}
	ret->tables_dropped = p->n_tables - keep;
	*ret_samples = samples;
	*ret_keep = keep;
	return 0;
}

/* ---- the other messages ----------------------------------------------- */

/* A valid UTF-8 copy of s[0..len). */
static int dup_valid(const char *s, size_t len, char **ret)
{
	char *fixed = NULL;
	size_t fixed_len;
	int r = utf8_sanitize(s, len, &fixed, &fixed_len);

	if (r < 0)
		return r;
	if (!fixed) {
		fixed = strndup(s, len);
		if (!fixed)
			return -ENOMEM;
	}
	*ret = fixed;
	return 0;
}

/* Longer than any run of backquotes in s, and at least 3. */
static size_t fence_len(const char *s)
{
	size_t longest = 0, run = 0;

	for (; *s; s++) {
		run = *s == '`' ? run + 1 : 0;
		if (run > longest)
			longest = run;
	}
	return longest < 3 ? 3 : longest + 1;
}

static int put_fenced(struct buf *b, const char *info, const char *text)
{
	size_t n = fence_len(text);
	int r = 0;

	for (size_t i = 0; r == 0 && i < n; i++)
		r = buf_append(b, "`", 1);
	if (r == 0)
		r = put(b, info);
	if (r == 0)
		r = put(b, "\n");
	if (r == 0)
		r = put(b, text);
	if (r == 0 && (!*text || text[strlen(text) - 1] != '\n'))
		r = put(b, "\n");
	for (size_t i = 0; r == 0 && i < n; i++)
		r = buf_append(b, "`", 1);
	return r;
}

/* The error text, valid UTF-8, cut to PROMPT_ERROR_MAX_BYTES: the start
 * says where, the end (Python's last line) says what. */
static int error_excerpt(const char *error_text, char **ret)
{
	size_t len = strlen(error_text), head, tail;
	char *valid, *out;
	int r = dup_valid(error_text, len, &valid);

	if (r < 0)
		return r;
	len = strlen(valid);
	if (len <= PROMPT_ERROR_MAX_BYTES) {
		*ret = valid;
		return 0;
	}
	head = utf8_cut(valid, ERROR_HEAD_BYTES);
	tail = len - (PROMPT_ERROR_MAX_BYTES - head - strlen(CUT_MARK));
	while (tail < len && ((unsigned char)valid[tail] & 0xc0) == 0x80)
		tail++;
	out = malloc(PROMPT_ERROR_MAX_BYTES + 1);
	if (out)
		snprintf(out, PROMPT_ERROR_MAX_BYTES + 1, "%.*s%s%s", (int)head, valid, CUT_MARK,
			 valid + tail);
	free(valid);
	if (!out)
		return -ENOMEM;
	*ret = out;
	return 0;
}

/* The assistant's failed answer and the user's report of its error. */
static int repair_messages(const struct prompt_options *o, const char *failed_code,
			   const char *error_text, char **ret_code, char **ret_error)
{
	bool sql = strcmp(o->language, "sql") == 0;
	char *code = NULL, *error = NULL;
	struct buf answer, report;
	int r = dup_valid(failed_code, strlen(failed_code), &code);

	if (r == 0)
		r = error_excerpt(error_text, &error);
	buf_init(&answer, PROMPT_CODE_MAX_BYTES * 3 + 64);
	buf_init(&report, PROMPT_ERROR_MAX_BYTES * 2 + 256);
	if (r == 0)
		r = put_fenced(&answer, o->language, code);
	if (r == 0)
		r = put(&report, sql ? "That query failed with this error:\n"
				     : "That program failed with this error:\n");
	if (r == 0)
		r = put_fenced(&report, "", error);
	if (r == 0)
		r = put(&report, sql ? "\nWrite the corrected complete query in exactly one ```sql"
				       " code block."
				     : "\nWrite the corrected complete program in exactly one"
				       " ```python code block.");
	free(code);
	free(error);
	if (r == 0) {
		*ret_code = buf_steal(&answer, NULL);
		*ret_error = buf_steal(&report, NULL);
	}
	buf_release(&answer);
	buf_release(&report);
	return r;
}

/* ---- assembling ------------------------------------------------------- */

static int check_options(const struct prompt_options *o, char *err, size_t err_len)
{
	if (!o || !o->language || (strcmp(o->language, "python") && strcmp(o->language, "sql"))) {
		set_err(err, err_len, "language must be \"python\" or \"sql\"");
		return -EINVAL;
	}
	if (!o->query || !o->query[strspn(o->query, " \t\r\n")]) {
		set_err(err, err_len, "the request is empty");
		return -EINVAL;
	}
	if (strlen(o->query) > PROMPT_QUERY_MAX_BYTES) {
		set_err(err, err_len, "the request is longer than %u bytes", PROMPT_QUERY_MAX_BYTES);
		return -E2BIG;
	}
	if (!o->schema && strcmp(o->language, "sql") == 0) {
		set_err(err, err_len, "an SQL query needs a dataset with a SQLite file");
		return -EINVAL;
	}
	return 0;
}

static void too_big(const struct plan *p, char *err, size_t err_len)
{
	uint64_t need = tokens_of(system_bytes(p, false, p->n_tables ? 1 : 0)) + p->other_tokens;

	set_err(err, err_len,
		"the prompt does not fit the model's context: it needs at least %llu tokens and"
		" %llu are reserved for the answer, but the context holds %llu",
		(unsigned long long)need, (unsigned long long)p->o->max_tokens,
		(unsigned long long)p->o->num_ctx);
}

/* Builds the system message for the messages already in tail[0..n_tail),
 * then the prompt. Takes over the tail strings in every case. */
static int assemble(const struct prompt_options *o, char **tail, size_t n_tail, struct prompt *ret,
		    char *err, size_t err_len)
{
	static const char *const roles[] = { "user", "assistant", "user" };
	struct prompt p = { 0 };
	struct plan plan;
	uint64_t other = 0;
	char *system = NULL;
	bool samples = false;
	size_t keep = 0;
	int r;

	for (size_t i = 0; i < n_tail; i++)
		other += tokens_of(strlen(tail[i]));
	r = plan_init(&plan, o, other);
	if (r == 0)
		r = plan_choose(&plan, &p, &samples, &keep);
	if (r == 0)
		r = render_system(&plan, samples, keep, &system);
	if (r == -E2BIG)
		too_big(&plan, err, err_len);
	plan_release(&plan);
	if (r < 0) {
		if (r == -ENOMEM)
			set_err(err, err_len, "out of memory while building the prompt");
		for (size_t i = 0; i < n_tail; i++)
			free(tail[i]);
		return r;
	}
	p.messages[0] = (struct llm_message){ "system", system };
	p.estimated_tokens = tokens_of(strlen(system));
	for (size_t i = 0; i < n_tail; i++) {
		p.messages[i + 1] = (struct llm_message){ roles[i], tail[i] };
		p.estimated_tokens += tokens_of(strlen(tail[i]));
	}
	p.n_messages = n_tail + 1;
	*ret = p;
	return 0;
}

int prompt_build(const struct prompt_options *o, struct prompt *ret, char *err, size_t err_len)
{
	char *query = NULL;
	int r = check_options(o, err, err_len);

	if (r < 0)
		return r;
	r = dup_valid(o->query, strlen(o->query), &query);
	if (r < 0) {
		set_err(err, err_len, "out of memory while building the prompt");
		return r;
	}
	return assemble(o, &query, 1, ret, err, err_len);
}

int prompt_build_repair(const struct prompt_options *o, const char *failed_code,
			const char *error_text, struct prompt *ret, char *err, size_t err_len)
{
	char *tail[3] = { NULL, NULL, NULL };
	int r = check_options(o, err, err_len);

	if (r < 0)
		return r;
	if (!failed_code || !error_text) {
		set_err(err, err_len, "a repair needs the failed code and its error");
		return -EINVAL;
	}
	if (strlen(failed_code) > PROMPT_CODE_MAX_BYTES) {
		set_err(err, err_len, "the failed code is longer than %u bytes", PROMPT_CODE_MAX_BYTES);
		return -E2BIG;
	}
	r = dup_valid(o->query, strlen(o->query), &tail[0]);
	if (r == 0)
		r = repair_messages(o, failed_code, error_text, &tail[1], &tail[2]);
	if (r < 0) {
		free(tail[0]);
		set_err(err, err_len, "out of memory while building the prompt");
		return r;
	}
	return assemble(o, tail, 3, ret, err, err_len);
}

void prompt_release(struct prompt *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_messages; i++)
		free((void *)p->messages[i].content);
	memset(p, 0, sizeof(*p));
}
