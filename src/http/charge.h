/*
 * charge: the cost side of POST /api/analyze. Before any work the run's
 * worst case (its limits at the current rates) is reserved on every scope
 * that applies; after it, the actual cost is settled and the rest released.
 * Every part added to the actual cost (an LLM call, a sandbox run) is also
 * listed as a component, so the answer shows each charged unit and the
 * components' amounts add up to the total to the micro-unit.
 * Private to src/http/.
 */
#ifndef LEDGERBOX_HTTP_CHARGE_H
#define LEDGERBOX_HTTP_CHARGE_H

#include "http/analyze.h"

struct charge {
	struct budget_scopes scopes;
	struct cost worst;
	/* The run's limits as reserved (its CPU, wall time and memory): what
	 * a sandbox run is billed for at most. Zero before a reservation. */
	struct usage run_cap;
	struct cost actual;
	struct budget_status status[4];
	size_t n_status;
	bool reserved;
	bool policy_applied; /* limits were cut by the soft policy */
	/* Scopes whose soft threshold this run crossed first in the period
	 * (known at reservation; the settlement's standings replace status). */
	char first_crossed[4][160];
	size_t n_first_crossed;
	/* The attempt this charge is for (1 unless set), named in each
	 * component; the components so far (owned; NULL until the first). */
	unsigned attempt;
	json_t *components;
};

/* Reserves the worst case under `ledger_id`: the run's at its limits plus
 * extra_worst_micros (an LLM call and a check of its code). Past a soft
 * threshold, with the soft policy on (LEDGERBOX_SOFT_POLICY_PERCENT < 100),
 * the run's limits are cut first and the smaller worst case reserved. On
 * refusal sets a 402 outcome (false); on a store failure a 503 when the
 * store is away (store_fault.h), else a 500. */
bool charge_reserve(struct request *rq, struct analyze_req *a, const char *ledger_id,
		    uint64_t extra_worst_micros, struct charge *c, struct outcome *o);
/* Adds what a sandbox run used (its result JSON: cpu_ms, wall_ms,
 * peak_memory_bytes above memory_base_bytes) to the actual cost, with the
 * run fee, and lists it as a "run" component: stage "compile" when the
 * driver reports that the code did not compile (nothing ran), else "run".
 * Each is billed at most at the limits reserved (run_cap): a run is
 * stopped a little after it passes a limit (the supervisor looks every
 * few milliseconds, several processes spin at once), and what it used
 * past it is shown ("reportedCpuMs", ...) with "capped", never charged. */
void charge_add_run(struct request *rq, json_t *result, struct charge *c);
/* An LLM call's tokens and inference time (no run fee), listed as an
 * "llm" component; each billed at most at what `worst` (the reservation's,
 * or NULL) allowed. A server that reports more is shown with what it
 * reported ("reportedPromptTokens", ...) and "capped": the attempt was
 * reserved for the worst, and its charge never exceeds the reservation. */
void charge_add_llm(struct request *rq, const struct usage *u, const struct usage *worst,
		    struct charge *c);
/* The actual cost as cost_to_json() gives it plus "components": each part
 * added, in order, as {"kind", "attempt", ..., "micros", "cost"}. A new
 * reference, or NULL when out of memory. */
json_t *charge_cost_json(struct request *rq, const struct charge *c);
/* The actual cost of a finished run from the usage in `usage_from` (the
 * worker's result), added and set as "cost" on `response`. */
void charge_price(struct request *rq, json_t *usage_from, json_t *response, struct charge *c);
/* into += c, each part saturating. */
void cost_add(struct cost *into, const struct cost *c);
/* Adds c's actual cost and a copy of its components to `into` (a sum of
 * several charges, never reserved itself). */
void charge_merge(struct charge *into, const struct charge *c);
/* Settles (durably) and updates the standings. 0 or -errno. */
int charge_settle(struct request *rq, const char *ledger_id, struct charge *c);
/* Gives back the reservation of a run that did no work. */
void charge_release(struct request *rq, const char *ledger_id, struct charge *c);
/* Frees the component list (after the charge was settled or released). */
void charge_free(struct charge *c);
/* The "budget" field (each scope's standing), "budgetWarning" when a soft
 * threshold is crossed, and the audit entry for a first crossing. */
void charge_annotate(struct request *rq, struct charge *c, json_t *response);

#endif
