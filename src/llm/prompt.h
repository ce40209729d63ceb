/*
 * prompt: the chat messages that ask a language model for a Python program
 * or an SQLite query answering an analyst's request.
 *
 * A prompt is [system, user] the first time and [system, user, assistant,
 * user] for a repair: roles alternate after one system message, which
 * every chat template accepts. The system message holds the rules of the
 * sandbox or dialect, three short worked examples on a made-up table, and
 * the schema last, so the tables sit right before the request.
 *
 * Privacy: sample values go in only when include_samples is true; result
 * rows never do (nothing here sees them). The error of a repair goes in as
 * given: for a model that may not see data the caller passes the report
 * of llm/redact.h, never the run's own message. Every text that goes in
 * (request, failed code, error) is made valid UTF-8 first.
 *
 * Fitting: tokens are estimated as ceil(bytes / 4) per message (the rule
 * llm_estimate_tokens() also uses). The prompt plus max_tokens must fit
 * num_ctx; to get there sample values go first, then whole tables, least
 * relevant first, never the most relevant one. See docs/llm-prompts.md.
 */
#ifndef LEDGERBOX_LLM_PROMPT_H
#define LEDGERBOX_LLM_PROMPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "llm/llm.h"
#include "llm/schema.h"

#define PROMPT_QUERY_MAX_BYTES (64u * 1024u)	      /* a longer request is refused (-E2BIG) */
#define PROMPT_CODE_MAX_BYTES (1024u * 1024u)	      /* a longer failed program is refused */
#define PROMPT_ERROR_MAX_BYTES 2000u		      /* the error text is cut to this */
#define PROMPT_MAX_CTX_TOKENS (4u * 1024u * 1024u)    /* num_ctx above counts as this */

struct prompt_options {
	const char *language;        /* "python" | "sql" */
	const char *query;           /* the analyst's request */
	const struct schema *schema; /* may be NULL (python with no dataset) */
	bool include_samples;        /* privacy: only when allowed (caller decides) */
	uint64_t num_ctx;            /* model context size in tokens */
	uint64_t max_tokens;         /* reserved for the answer */
	/* Today in the business's zone ("2026-12-07") and the zone's name; the
	 * rules then say "Today is 2026-12-07 (Europe/Berlin)." so relative
	 * periods can be written. NULL: no date line. Passed in, not read
	 * here, so a prompt is a function of its options. */
	const char *today;
	const char *time_zone;
};

struct prompt {
	struct llm_message messages[8]; size_t n_messages;  /* strings owned by the prompt */
	uint64_t estimated_tokens;   /* of all messages: ceil(bytes/4) each */
	bool samples_dropped;        /* cut on purpose to fit */
	size_t tables_dropped;       /* tables left out to fit (least relevant first) */
};

/* First attempt: system message (role, dialect SQLite, what the sandbox allows: read-only /data with the
 * file names, no network, print results, last expression DataFrame is shown as a table, save charts
 * with matplotlib (savefig to /out or just plot), answer with ONE fenced code block of the language),
 * the schema (tables, columns, types, row counts, sample values when included), 2-3 short worked
 * examples for the language, then the user's request. Fit: prompt + max_tokens <= num_ctx, cutting on
 * purpose: first drop sample values, then drop tables least relevant to the query (relevance = overlap
 * of the query's words with table and column names, including simple singular/plural), never the most
 * relevant; -E2BIG with err when even the smallest prompt does not fit.
 * Also -EINVAL (language not "python"/"sql", empty query, sql without a schema), -E2BIG for a request
 * over PROMPT_QUERY_MAX_BYTES, -ENOMEM; err is set on every failure. *ret only on success; release
 * it with prompt_release(). */
int prompt_build(const struct prompt_options *o, struct prompt *ret, char *err, size_t err_len);
/* Repair: the same context plus the failed code (assistant) and a user message with the error (cut to
 * 2000 bytes) asking for a corrected complete program in one fenced block. Same fitting rules.
 * An error text over 2000 bytes keeps its first 500 and its last bytes (where Python puts the
 * exception) around a "[...]" line. Fences around code and error are made longer than any run of
 * backquotes inside them. */
int prompt_build_repair(const struct prompt_options *o, const char *failed_code, const char *error_text,
			struct prompt *ret, char *err, size_t err_len);
/* Frees the messages' contents and zeroes p; accepts NULL. */
void prompt_release(struct prompt *p);

/* ---------------------------------------------------------------------- */
/* Internal: shared by the prompt*.c files and the tests, not for other code. */
/* ---------------------------------------------------------------------- */

struct buf;

/* prompt_text.c: the fixed parts. */
/* Appends the rules for o->language (naming the dataset and, for Python, its files). */
int prompt_rules_append(struct buf *b, const struct prompt_options *o);
/* The worked examples for the language, "" when unknown. */
const char *prompt_examples(const char *language);

/* prompt_schema.c: relevance and rendering of tables. */
/* How well the request's words match the table's name (counts most) and column names. */
unsigned prompt_table_relevance(const struct schema_table *t, const char *query);
/* Fills order[0..n_tables) with table indexes, most relevant first; ties keep schema order. */
int prompt_rank_tables(const struct schema *s, const char *query, size_t *order);
/* Appends one table as an annotated CREATE TABLE (row count, CSV twin for Python, samples). */
int prompt_table_append(struct buf *b, const struct schema *s, const struct schema_table *t,
			bool python, bool samples);

#endif
