/*
 * pricing: what a run costs, in integer micro-units of the configured
 * currency (never floating-point sums).
 *
 *   cost = prompt_tokens x in_rate(model) + completion_tokens x out_rate(model)
 *        + inference_ms x ms_rate(model)
 *        + cpu_ms x cpu_rate + peak_memory x wall x mem_rate + run_fee
 *
 * Model rates come from a table matched by the longest prefix
 * ("llama3.1:8b" uses "llama3.1"); a model with no match uses the row named
 * "default", and a table without a default row is refused when loaded. Each
 * component is rounded up to a whole micro-unit, so nothing is ever free by
 * rounding.
 */
#ifndef LEDGERBOX_PRICING_H
#define LEDGERBOX_PRICING_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define PRICING_MODEL_MAX 64
#define PRICING_ROWS_MAX 64
#define MONEY_TEXT_MAX 32 /* "18446744073709.551615" and its NUL fit */

struct model_rate {
	char prefix[PRICING_MODEL_MAX];
	uint64_t in_micros_per_mtok;  /* per million prompt tokens */
	uint64_t out_micros_per_mtok; /* per million completion tokens */
	uint64_t micros_per_inference_s; /* per second of inference (local models) */
};

struct pricing {
	char currency[8];                  /* "USD" */
	struct model_rate models[PRICING_ROWS_MAX];
	size_t n_models;
	uint64_t cpu_micros_per_s;         /* per CPU-second */
	uint64_t mem_micros_per_gb_s;      /* per GB-second of peak memory x wall */
	uint64_t run_fee_micros;           /* per run */
};

struct usage {
	const char *model;   /* NULL when no LLM was used */
	uint64_t prompt_tokens, completion_tokens, inference_ms;
	uint64_t cpu_ms, wall_ms, peak_memory_bytes;
};

struct cost {
	uint64_t llm_in_micros, llm_out_micros, llm_time_micros;
	uint64_t cpu_micros, memory_micros, run_micros;
	uint64_t total_micros;
};

/* Loads the price table into *ret (written only on success). Sources, each
 * overriding the one before:
 * 1. defaults: USD; one row "default" at 0.20 / 0.60 per million prompt /
 *    completion tokens and 0 per second of inference; CPU 0.000050 per
 *    CPU-second; memory 0.000005 per GB-second (GB = 10^9 bytes); run fee
 *    0.000100;
 * 2. the JSON file named by LEDGERBOX_PRICING (unset or empty: none), in
 *    the shape of pricing_to_json(), every key optional, amounts as decimal
 *    strings; "models", when given, replaces the whole table and must hold a
 *    row named "default";
 * 3. LEDGERBOX_CURRENCY (3 upper-case letters), LEDGERBOX_PRICE_CPU_PER_S,
 *    LEDGERBOX_PRICE_MEM_PER_GB_S, LEDGERBOX_PRICE_RUN (amounts such as
 *    "0.00005"), and LEDGERBOX_MODEL_RATES="PREFIX=IN,OUT[,PER_S];..."
 *    which replaces or adds rows (IN and OUT per million tokens, PER_S per
 *    second of inference; PREFIX "default" replaces the default row).
 * A bad value fails with -EINVAL (-ERANGE: too large, -ENOSPC: more than
 * PRICING_ROWS_MAX rows, or what reading the file failed with) and a
 * message in err naming the variable or file (with line and column for JSON
 * syntax) and what was expected. docs/pricing.md has the details. */
int pricing_load(struct pricing *ret, char *err, size_t err_len);
/* The row for a model: the longest prefix the name starts with (bytes,
 * case-sensitive), else the row "default"; a NULL model gets "default".
 * NULL only for a hand-built table without a default row. */
const struct model_rate *pricing_model(const struct pricing *p, const char *model);
/* Computes the cost: each component rounded up to a whole micro-unit,
 * saturated at UINT64_MAX instead of overflowing, the total their
 * saturating sum. Tokens or inference time with no row to price them (a
 * hand-built table without "default") cost UINT64_MAX, so no usage is free
 * by accident. */
void pricing_cost(const struct pricing *p, const struct usage *u, struct cost *ret);
/* {"currency", "models": [{"prefix", "inPerMTok", "outPerMTok", "perInferenceS"}],
 *  "cpuPerS", "memPerGBs", "runFee"} with amounts as decimal strings. */
json_t *pricing_to_json(const struct pricing *p);
/* {"total", "llm": {"in", "out", "time"}, "cpu", "memory", "run",
 * "currency"} as decimal strings and "totalMicros" as an integer (at most
 * INT64_MAX, the largest JSON integer jansson holds; "total" is exact).
 * Both return a new reference, or NULL when out of memory. */
json_t *cost_to_json(const struct pricing *p, const struct cost *c);
/* Parses "12", "12.5" or "0.000050" (digits, then optionally a point and 1
 * to 6 digits; no sign, exponent or spaces) into micro-units: -EINVAL for
 * any other text, -ERANGE above UINT64_MAX micro-units. */
int money_parse(const char *text, uint64_t *ret_micros);
/* Formats micro-units as "12.345678", trailing zeros dropped down to 2
 * decimals ("12.50", "0.00005"); MONEY_TEXT_MAX holds any value. */
void money_format(uint64_t micros, char *out, size_t len);

#endif
