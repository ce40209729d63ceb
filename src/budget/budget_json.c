/*
 * budget_json: the JSON shapes of budget.h (a budget's standing in
 * budget_list, a ledger entry in budget_spend), built from plain values so
 * the SQLite and PostgreSQL back ends answer byte for byte alike.
 *
 * Amounts appear twice, as decimal text with 6 decimals and as integer
 * micro-units; times as RFC 3339 UTC text (and, for entries, also as Unix
 * milliseconds).
 */
#include <errno.h>

#include "budget/budget_internal.h"
#include "util/banned.h"

static json_t *time_json(int64_t ms, bool present)
{
	char text[CLOCK_TEXT_MAX];

	if (!present)
		return json_null();
	clock_format(ms, text);
	return json_string(text);
}

static int money_set(json_t *o, const char *name, const char *micros_name, uint64_t micros)
{
	char text[BUDGET_MONEY_TEXT_MAX];

	budget_money_format(micros, text);
	if (json_object_set_new(o, name, json_string(text)) < 0 ||
	    json_object_set_new(o, micros_name, json_integer((json_int_t)micros)) < 0)
		return -ENOMEM;
	return 0;
}

json_t *budget_standing_json(const struct budget_standing *s, int64_t created_ms,
			     int64_t updated_ms)
{
	bool periodic = s->def.period != PERIOD_NONE;
	uint64_t used = budget_add_sat(s->spent_micros, s->reserved_micros);
	uint64_t remaining = used >= s->def.limit_micros ? 0 : s->def.limit_micros - used;
	json_t *o = json_pack("{s:s,s:s,s:i,s:b,s:o,s:o,s:o,s:o}", "scope", s->def.scope, "period",
			      budget_period_name(s->def.period), "softPercent",
			      (int)s->def.soft_percent, "hard", s->def.hard, "periodStart",
			      time_json(s->period_start_ms, periodic), "periodEnd",
			      time_json(s->period_end_ms, periodic), "createdAt",
			      time_json(created_ms, true), "updatedAt", time_json(updated_ms, true));

	if (!o || money_set(o, "limit", "limitMicros", s->def.limit_micros) < 0 ||
	    money_set(o, "spent", "spentMicros", s->spent_micros) < 0 ||
	    money_set(o, "reserved", "reservedMicros", s->reserved_micros) < 0 ||
	    money_set(o, "remaining", "remainingMicros", remaining) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *budget_entry_json(const char *run_id, const char *scope, uint64_t amount_micros,
			  int64_t at_ms, const char *detail_text)
{
	char at[CLOCK_TEXT_MAX], money[BUDGET_MONEY_TEXT_MAX];
	json_t *detail = json_null();

	if (!run_id || !scope)
		return NULL;
	if (detail_text)
		detail = json_loads(detail_text, JSON_DECODE_ANY, NULL);
	if (!detail)
		return NULL; /* only valid JSON is ever stored */
	clock_format(at_ms, at);
	budget_money_format(amount_micros, money);
	return json_pack("{s:s,s:s,s:s,s:I,s:s,s:I,s:o}", "runId", run_id, "scope", scope, "amount",
			 money, "amountMicros", (json_int_t)amount_micros, "at", at, "atMs",
			 (json_int_t)at_ms, "detail", detail);
}
