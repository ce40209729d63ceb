/*
 * budget_rules: the pure rules both back ends (SQLite and PostgreSQL)
 * apply, so they cannot drift apart: what a budget definition may hold,
 * which hard limit refuses a reservation, where the soft threshold lies
 * and how large a ledger entry's detail may be.
 *
 * Nothing here touches a database itself: every function works on values
 * the caller read inside its own transaction, or (the standings of a run's
 * scopes) reads through the back end's function it is given.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget/budget_internal.h"
#include "util/banned.h"

int budget_def_check(const struct budget_def *def)
{
	if (!def || !budget_scope_valid(def->scope) || !budget_period_valid(def->period) ||
	    def->soft_percent < 1 || def->soft_percent > 100)
		return -EINVAL;
	return def->limit_micros > BUDGET_MICROS_MAX ? -ERANGE : 0;
}

int budget_limits_check(const struct budget_standing *stand, size_t n, uint64_t amount_micros,
			struct budget_refusal *ret)
{
	for (size_t i = 0; i < n; i++) {
		const struct budget_standing *s = &stand[i];
		uint64_t after = budget_add_sat(budget_add_sat(s->spent_micros, s->reserved_micros),
						amount_micros);

		if (!s->def.hard || after <= s->def.limit_micros)
			continue;
		memset(ret, 0, sizeof(*ret));
		snprintf(ret->scope, sizeof(ret->scope), "%s", s->def.scope);
		ret->spent_micros = s->spent_micros;
		ret->reserved_micros = s->reserved_micros;
		ret->limit_micros = s->def.limit_micros;
		ret->requested_micros = amount_micros;
		ret->period_end_ms = s->period_end_ms;
		return -EDQUOT;
	}
	return 0;
}

int budget_standings_collect(budget_standing_read_fn *read, void *db,
			     const struct scope_list *list, int64_t now_ms,
			     struct budget_standing ret[BUDGET_SCOPES_MAX], size_t *ret_n)
{
	size_t n = 0;

	for (size_t i = 0; i < list->n; i++) {
		int r = read(db, list->scope[i], now_ms, &ret[n]);
		if (r == -ENOENT)
			continue; /* no budget: nothing to limit on this scope */
		if (r < 0)
			return r;
		n++;
	}
	*ret_n = n;
	return 0;
}

static uint64_t soft_threshold(const struct budget_def *def)
{
	/* Split so that limit x percent cannot overflow for any limit. */
	return def->limit_micros / 100 * def->soft_percent +
	       def->limit_micros % 100 * def->soft_percent / 100;
}

void budget_status_of(const struct budget_standing *stand, struct budget_status *ret)
{
	memset(ret, 0, sizeof(*ret));
	snprintf(ret->scope, sizeof(ret->scope), "%s", stand->def.scope);
	ret->spent_micros = stand->spent_micros;
	ret->reserved_micros = stand->reserved_micros;
	ret->limit_micros = stand->def.limit_micros;
	ret->period_end_ms = stand->period_end_ms;
	ret->soft_crossed = budget_add_sat(ret->spent_micros, ret->reserved_micros) >=
			    soft_threshold(&stand->def);
}

int budget_detail_text(json_t *detail, char **ret)
{
	char *text;

	if (!detail) {
		*ret = NULL;
		return 0;
	}
	text = json_dumps(detail, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!text)
		return -ENOMEM;
	if (strlen(text) > BUDGET_DETAIL_MAX) {
		free(text);
		return -E2BIG;
	}
	*ret = text;
	return 0;
}
