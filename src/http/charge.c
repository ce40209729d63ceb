/* charge: see charge.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http/analyze_internal.h"
#include "http/charge.h"
#include "http/store_fault.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "util/banned.h"

static json_t *iso_time(int64_t ms)
{
	char text[40];
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0)
		return json_null();
	gmtime_r(&s, &tm);
	strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(text);
}

static json_t *money_json(uint64_t micros)
{
	char text[32];

	money_format(micros, text, sizeof(text));
	return json_string(text);
}

static void refuse(struct request *rq, const struct budget_refusal *f, struct outcome *o)
{
	char msg[700], limit[32], spent[32], reserved[32], need[32];

	money_format(f->limit_micros, limit, sizeof(limit));
	money_format(f->spent_micros, spent, sizeof(spent));
	money_format(f->reserved_micros, reserved, sizeof(reserved));
	money_format(f->requested_micros, need, sizeof(need));
	snprintf(msg, sizeof(msg),
		 "the %s budget does not cover this run: %s spent and %s reserved of %s %s, and "
		 "this run may cost up to %s; lower its limits, wait for the period to reset, or "
		 "ask an admin to raise the budget",
		 f->scope, spent, reserved, limit, rq->srv->pricing->currency, need);
	outcome_error(o, 402, "budget_exceeded", msg, NULL, 0,
		      json_pack("{s:s,s:o,s:o,s:o,s:o,s:s,s:o}", "scope", f->scope, "spent",
				money_json(f->spent_micros), "reserved", money_json(f->reserved_micros),
				"limit", money_json(f->limit_micros), "requested",
				money_json(f->requested_micros), "currency", rq->srv->pricing->currency,
				"resetsAt", iso_time(f->period_end_ms)));
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

void cost_add(struct cost *into, const struct cost *c)
{
	into->llm_in_micros = add_sat(into->llm_in_micros, c->llm_in_micros);
	into->llm_out_micros = add_sat(into->llm_out_micros, c->llm_out_micros);
	into->llm_time_micros = add_sat(into->llm_time_micros, c->llm_time_micros);
	into->cpu_micros = add_sat(into->cpu_micros, c->cpu_micros);
	into->memory_micros = add_sat(into->memory_micros, c->memory_micros);
	into->run_micros = add_sat(into->run_micros, c->run_micros);
	into->total_micros = add_sat(into->total_micros, c->total_micros);
}

void charge_merge(struct charge *into, const struct charge *c)
{
	cost_add(&into->actual, &c->actual);
	if (!c->components)
		return;
	if (!into->components)
		into->components = json_array();
	json_array_extend(into->components, c->components);
}

static void worst_of(struct request *rq, const struct analyze_req *a, uint64_t extra_micros,
		     struct charge *c)
{
	struct usage worst = { .cpu_ms = a->limits.cpu_ms, .wall_ms = a->limits.wall_ms,
			       .peak_memory_bytes = a->limits.memory_bytes };

	pricing_cost(rq->srv->pricing, &worst, &c->worst);
	c->run_cap = worst;
	c->worst.total_micros = add_sat(c->worst.total_micros, extra_micros);
	if (c->worst.total_micros > BUDGET_MICROS_MAX)
		c->worst.total_micros = BUDGET_MICROS_MAX;
}

/* How long the reservation must hold without renewal (PostgreSQL leases
 * add their own margin): the run's wall-clock limit, or the whole
 * request's deadline when a model call comes first. */
static uint64_t hold_ms(struct request *rq, const struct analyze_req *a, uint64_t extra_micros)
{
	return extra_micros ? rq->srv->cfg->analyze_deadline_ms : a->limits.wall_ms;
}

static int reserve_worst(struct request *rq, const struct analyze_req *a, const char *run_id,
			 uint64_t extra_micros, struct charge *c, struct budget_refusal *refusal)
{
	worst_of(rq, a, extra_micros, c);
	return budget_reserve_for(rq->srv->budgets, run_id, &c->scopes, c->worst.total_micros,
				  hold_ms(rq, a, extra_micros), clock_unix_ms(), refusal,
				  c->status, &c->n_status);
}

static void note_first_crossings(struct charge *c)
{
	for (size_t i = 0; i < c->n_status && c->n_first_crossed < 4; i++)
		if (c->status[i].soft_first_time)
			snprintf(c->first_crossed[c->n_first_crossed++], sizeof(c->first_crossed[0]),
				 "%s", c->status[i].scope);
}

static bool first_crossed(const struct charge *c, const char *scope)
{
	for (size_t i = 0; i < c->n_first_crossed; i++)
		if (strcmp(c->first_crossed[i], scope) == 0)
			return true;
	return false;
}

static bool soft_crossed(const struct charge *c)
{
	for (size_t i = 0; i < c->n_status; i++)
		if (c->status[i].soft_crossed)
			return true;
	return false;
}

/* The soft policy: the same run with smaller limits, never below what a
 * sandbox needs to start. */
static void limits_cut(struct sandbox_limits *l, uint64_t percent)
{
	l->wall_ms = l->wall_ms * percent / 100 > 100 ? l->wall_ms * percent / 100 : 100;
	l->cpu_ms = l->cpu_ms * percent / 100 > 100 ? l->cpu_ms * percent / 100 : 100;
	l->memory_bytes = l->memory_bytes * percent / 100 > (32u << 20)
				  ? l->memory_bytes * percent / 100
				  : (32u << 20);
}

bool charge_reserve(struct request *rq, struct analyze_req *a, const char *run_id,
		    uint64_t extra_worst_micros, struct charge *c, struct outcome *o)
{
	uint64_t percent = rq->srv->cfg->soft_policy_percent;
	struct budget_refusal refusal;
	int e;

	memset(c, 0, sizeof(*c));
	c->scopes = (struct budget_scopes){ rq->who.team, rq->who.user, a->session };
	e = reserve_worst(rq, a, run_id, extra_worst_micros, c, &refusal);
	if (e == 0)
		note_first_crossings(c);
	/* The smaller worst case replaces the reservation in place, so no
	 * other request can take the room in between. */
	if (e == 0 && percent < 100 && soft_crossed(c)) {
		limits_cut(&a->limits, percent);
		c->policy_applied = true;
		worst_of(rq, a, extra_worst_micros, c);
		e = budget_shrink(rq->srv->budgets, run_id, c->worst.total_micros);
		if (e < 0)
			budget_release(rq->srv->budgets, run_id);
	}
	if (e == -EDQUOT) {
		metrics_budget_refused();
		refuse(rq, &refusal, o);
		return false;
	}
	if (e < 0) {
		store_fault_outcome(o, e, "budget_failed",
				    "reserving the run's budget failed; nothing was run");
		return false;
	}
	c->reserved = true;
	return true;
}

/* Adds part to the actual cost and lists it: `entry` (taken) gets the
 * attempt, the amount as an integer and the cost by kind. */
static void component_add(struct request *rq, struct charge *c, json_t *entry,
			  const struct cost *part)
{
	json_int_t micros = part->total_micros > INT64_MAX ? INT64_MAX : (json_int_t)part->total_micros;

	cost_add(&c->actual, part);
	if (!entry)
		return;
	if (!c->components)
		c->components = json_array();
	json_object_set_new(entry, "attempt", json_integer(c->attempt ? c->attempt : 1));
	json_object_set_new(entry, "micros", json_integer(micros));
	json_object_set_new(entry, "cost", cost_to_json(rq->srv->pricing, part));
	if (json_array_append_new(c->components, entry) < 0)
		json_decref(entry);
}

static uint64_t at_most(uint64_t v, uint64_t cap)
{
	return v > cap ? cap : v;
}

void charge_add_llm(struct request *rq, const struct usage *u, const struct usage *worst,
		    struct charge *c)
{
	static const struct usage no_cap = { .prompt_tokens = UINT64_MAX,
					     .completion_tokens = UINT64_MAX,
					     .inference_ms = UINT64_MAX };
	const struct usage *cap = worst ? worst : &no_cap;
	struct usage llm = {
		.model = u->model,
		.prompt_tokens = at_most(u->prompt_tokens, cap->prompt_tokens),
		.completion_tokens = at_most(u->completion_tokens, cap->completion_tokens),
		.inference_ms = at_most(u->inference_ms, cap->inference_ms),
	};
	bool capped = llm.prompt_tokens != u->prompt_tokens ||
		      llm.completion_tokens != u->completion_tokens ||
		      llm.inference_ms != u->inference_ms;
	json_t *entry = json_pack("{s:s,s:s?,s:I,s:I,s:I}", "kind", "llm", "model", u->model,
				  "promptTokens", (json_int_t)llm.prompt_tokens, "completionTokens",
				  (json_int_t)llm.completion_tokens, "inferenceMs",
				  (json_int_t)llm.inference_ms);
	struct cost part;

	if (entry && capped)
		json_object_update_new(entry,
				       json_pack("{s:b,s:I,s:I,s:I}", "capped", 1,
						 "reportedPromptTokens", (json_int_t)u->prompt_tokens,
						 "reportedCompletionTokens",
						 (json_int_t)u->completion_tokens, "reportedInferenceMs",
						 (json_int_t)u->inference_ms));
	pricing_cost(rq->srv->pricing, &llm, &part);
	/* The run fee is for sandbox runs, which are charged apart. */
	part.total_micros -= part.run_micros;
	part.run_micros = 0;
	component_add(rq, c, entry, &part);
}

/* A run's usage billed at most at the reserved limits; "capped" with the
 * CPU and wall time measured when any was past them (the peak stays in
 * peakMemoryBytes, which the cgroup's limit already bounds). */
static void run_billed(const struct charge *c, const struct usage *used, struct usage *billed,
		       json_t *entry)
{
	/* No reservation, no cap (never the case on the analyze path). */
	bool have_cap = c->run_cap.wall_ms || c->run_cap.cpu_ms || c->run_cap.peak_memory_bytes;

	*billed = *used;
	if (!have_cap)
		return;
	billed->cpu_ms = at_most(used->cpu_ms, c->run_cap.cpu_ms);
	billed->wall_ms = at_most(used->wall_ms, c->run_cap.wall_ms);
	billed->peak_memory_bytes = at_most(used->peak_memory_bytes, c->run_cap.peak_memory_bytes);
	if (entry && (billed->cpu_ms != used->cpu_ms || billed->wall_ms != used->wall_ms ||
		      billed->peak_memory_bytes != used->peak_memory_bytes))
		json_object_update_new(entry,
				       json_pack("{s:b,s:I,s:I}", "capped", 1, "reportedCpuMs",
						 (json_int_t)used->cpu_ms, "reportedWallMs",
						 (json_int_t)used->wall_ms));
}

void charge_add_run(struct request *rq, json_t *result, struct charge *c)
{
	uint64_t peak = (uint64_t)json_integer_value(json_object_get(result, "peak_memory_bytes"));
	uint64_t base = (uint64_t)json_integer_value(json_object_get(result, "memory_base_bytes"));
	/* A warm sandbox's interpreter and imports were there before the
	 * analyst's code: only the peak above them is billed. */
	struct usage used = {
		.cpu_ms = (uint64_t)json_integer_value(json_object_get(result, "cpu_ms")),
		.wall_ms = (uint64_t)json_integer_value(json_object_get(result, "wall_ms")),
		.peak_memory_bytes = peak > base ? peak - base : 0,
	}, u;
	json_t *entry = json_pack("{s:s,s:s,s:O?,s:O*,s:I}", "kind", "run", "stage",
				  analyze_compile_failed(result) ? "compile" : "run", "status",
				  json_object_get(result, "status"), "sandbox",
				  json_object_get(result, "sandbox"), "peakMemoryBytes",
				  (json_int_t)peak);
	struct cost part;

	run_billed(c, &used, &u, entry);
	if (entry)
		json_object_update_new(entry, json_pack("{s:I,s:I,s:I,s:I}", "wallMs",
							(json_int_t)u.wall_ms, "cpuMs",
							(json_int_t)u.cpu_ms, "memoryBaseBytes",
							(json_int_t)base, "billedMemoryBytes",
							(json_int_t)u.peak_memory_bytes));
	pricing_cost(rq->srv->pricing, &u, &part);
	component_add(rq, c, entry, &part);
}

json_t *charge_cost_json(struct request *rq, const struct charge *c)
{
	json_t *cost = cost_to_json(rq->srv->pricing, &c->actual);

	if (cost && json_object_set_new(cost, "components", c->components
							    ? json_deep_copy(c->components)
							    : json_array()) < 0) {
		json_decref(cost);
		return NULL;
	}
	return cost;
}

void charge_price(struct request *rq, json_t *result, json_t *response, struct charge *c)
{
	charge_add_run(rq, result, c);
	json_object_set_new(response, "cost", charge_cost_json(rq, c));
}

int charge_settle(struct request *rq, const char *run_id, struct charge *c)
{
	json_t *detail = json_pack("{s:o,s:o}", "cost", charge_cost_json(rq, c),
				   "worstCase", money_json(c->worst.total_micros));
	int r = budget_settle(rq->srv->budgets, run_id, &c->scopes, c->actual.total_micros, detail,
			      clock_unix_ms(), c->status, &c->n_status);

	json_decref(detail);
	if (r == 0)
		c->reserved = false;
	return r;
}

void charge_release(struct request *rq, const char *run_id, struct charge *c)
{
	if (c->reserved)
		budget_release(rq->srv->budgets, run_id);
	c->reserved = false;
}

void charge_free(struct charge *c)
{
	json_decref(c->components);
	c->components = NULL;
}

static void soft_warn(struct request *rq, const struct charge *c, const struct budget_status *s,
		      json_t *response)
{
	char text[300], spent[32], limit[32];
	json_t *detail;

	money_format(s->spent_micros, spent, sizeof(spent));
	money_format(s->limit_micros, limit, sizeof(limit));
	snprintf(text, sizeof(text), "%s has used %s of its %s %s budget", s->scope, spent, limit,
		 rq->srv->pricing->currency);
	json_object_set_new(response, "budgetWarning", json_string(text));
	if (!s->soft_first_time && !first_crossed(c, s->scope))
		return;
	metrics_budget_soft_crossed();
	detail = json_pack("{s:s,s:s}", "spent", spent, "limit", limit);
	store_audit_append(rq->srv->store, rq->who.user, "budget.soft_threshold", s->scope, detail);
	log_event(LOG_WARN, rq->id, "budget.soft_threshold", detail);
	json_decref(detail);
}

void charge_annotate(struct request *rq, struct charge *c, json_t *response)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i < c->n_status; i++) {
		const struct budget_status *s = &c->status[i];
		uint64_t used = s->spent_micros + s->reserved_micros;
		json_array_append_new(list, json_pack("{s:s,s:o,s:o,s:o,s:o,s:b}", "scope", s->scope,
						      "spent", money_json(s->spent_micros), "limit",
						      money_json(s->limit_micros), "remaining",
						      money_json(used < s->limit_micros ? s->limit_micros - used : 0),
						      "periodEnd", iso_time(s->period_end_ms),
						      "softThresholdCrossed", s->soft_crossed));
		if (s->soft_crossed && !json_object_get(response, "budgetWarning"))
			soft_warn(rq, c, s, response);
	}
	json_object_set_new(response, "budget", list);
	if (c->policy_applied)
		json_object_set_new(response, "budgetPolicy",
				    json_pack("{s:s,s:I}", "action", "limits_lowered", "percent",
					      (json_int_t)rq->srv->cfg->soft_policy_percent));
}
