/*
 * routes_budgets: pricing, budgets and spend.
 *
 * Admins set and remove budgets (each change is audited) and see every
 * scope; analysts see the budgets and spend of their own scopes: the
 * organisation's, their team's and their own.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http/request.h"
#include "http/store_fault.h"
#include "util/buf.h"
#include "util/parse.h"
#include "util/banned.h"

/* "/api/budgets/team/finance" -> "team:finance"; org is "org/global". */
static bool scope_from_path(struct request *rq, char *out, size_t len)
{
	const char *kind = rq->params[0], *key = rq->params[1];

	if (strcmp(kind, "org") == 0) {
		if (strcmp(key, "global") != 0)
			return false;
		snprintf(out, len, "org");
	} else {
		snprintf(out, len, "%.16s:%.128s", kind, key);
	}
	return budget_scope_valid(out);
}

static bool scope_visible(const struct request *rq, const char *scope)
{
	char mine[160];

	if (rq->who.role == ROLE_ADMIN || strcmp(scope, "org") == 0)
		return true;
	snprintf(mine, sizeof(mine), "team:%s", rq->who.team);
	if (strcmp(scope, mine) == 0)
		return true;
	snprintf(mine, sizeof(mine), "user:%s", rq->who.user);
	return strcmp(scope, mine) == 0;
}

enum MHD_Result route_pricing(struct request *rq)
{
	json_t *body;
	enum MHD_Result r;

	if (!auth_require(rq, &r))
		return r;
	body = pricing_to_json(rq->srv->pricing);
	r = respond_json(rq, 200, body);
	json_decref(body);
	return r;
}

/* ?session=ID adds that session's budget: session ids are chosen by the
 * client (the page makes a random one), so whoever runs in a session may
 * see what it has left. */
static bool session_arg(struct request *rq, char *scope, size_t len, enum MHD_Result *ret)
{
	const char *id = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "session");

	scope[0] = '\0';
	if (!id)
		return true;
	snprintf(scope, len, "session:%.128s", id);
	if (strlen(id) <= 128 && budget_scope_valid(scope))
		return true;
	*ret = respond_error(rq, 400, "invalid_session",
			     "session must be 1 to 128 letters, digits, '.', '-' or '_'", "session");
	return false;
}

enum MHD_Result route_budgets_list(struct request *rq)
{
	json_t *all, *mine, *b, *body;
	char session[160];
	size_t i;
	enum MHD_Result r;
	int e;

	if (!auth_require(rq, &r) || !session_arg(rq, session, sizeof(session), &r))
		return r;
	e = budget_list(rq->srv->budgets, "", clock_unix_ms(), &all);
	if (e < 0)
		return respond_store_fault(rq, e, "budget_failed", "reading the budgets failed");
	mine = json_array();
	json_array_foreach(all, i, b) {
		const char *scope = json_string_value(json_object_get(b, "scope"));
		if (scope && (scope_visible(rq, scope) || strcmp(scope, session) == 0))
			json_array_append(mine, b);
	}
	json_decref(all);
	body = json_pack("{s:o,s:s}", "budgets", mine, "currency", rq->srv->pricing->currency);
	r = respond_json(rq, 200, body);
	json_decref(body);
	return r;
}

static bool def_parse(struct request *rq, struct budget_def *def, enum MHD_Result *ret)
{
	json_error_t jerr;
	json_t *body = json_loadb(rq->body.data ? rq->body.data : "", rq->body.len, 0, &jerr);
	const char *limit = json_string_value(json_object_get(body, "limit"));
	const char *period = json_string_value(json_object_get(body, "period"));
	json_t *soft = json_object_get(body, "softPercent"), *hard = json_object_get(body, "hard");
	bool ok = false;

	if (!json_is_object(body))
		*ret = respond_error(rq, 400, "invalid_json",
				     "send {\"limit\": \"500.00\", \"period\": \"monthly\", "
				     "\"softPercent\": 80, \"hard\": true}", NULL);
	else if (!limit || money_parse(limit, &def->limit_micros) < 0)
		*ret = respond_error(rq, 400, "invalid_limit",
				     "limit must be an amount as a string, like \"500.00\"", "limit");
	else if (period && budget_period_parse(period, &def->period) < 0)
		*ret = respond_error(rq, 400, "invalid_period",
				     "period must be none, daily, weekly or monthly", "period");
	else if (soft && (!json_is_integer(soft) || json_integer_value(soft) < 1 ||
			  json_integer_value(soft) > 100))
		*ret = respond_error(rq, 400, "invalid_soft_percent",
				     "softPercent must be a whole number from 1 to 100", "softPercent");
	else if (hard && !json_is_boolean(hard))
		*ret = respond_error(rq, 400, "invalid_type", "hard must be true or false", "hard");
	else
		ok = true;
	if (ok) {
		def->period = period ? def->period : PERIOD_MONTHLY;
		def->soft_percent = soft ? (unsigned)json_integer_value(soft) : 80;
		def->hard = hard ? json_is_true(hard) : true;
	}
	json_decref(body);
	return ok;
}

enum MHD_Result route_budget_put(struct request *rq)
{
	struct budget_def def;
	json_t *detail;
	char limit[32];
	enum MHD_Result r;
	int e;

	memset(&def, 0, sizeof(def));
	if (!auth_require_admin(rq, &r))
		return r;
	if (!scope_from_path(rq, def.scope, sizeof(def.scope)))
		return respond_error(rq, 404, "not_found",
				     "budgets live at /api/budgets/{org/global|team/NAME|user/NAME|"
				     "session/ID}", NULL);
	if (!def_parse(rq, &def, &r))
		return r;
	e = budget_set(rq->srv->budgets, &def);
	if (e < 0)
		return respond_store_fault(rq, e, "budget_failed", "saving the budget failed");
	money_format(def.limit_micros, limit, sizeof(limit));
	detail = json_pack("{s:s,s:s,s:i,s:b}", "limit", limit, "period",
			   budget_period_name(def.period), "softPercent", (int)def.soft_percent,
			   "hard", def.hard);
	store_audit_append(rq->srv->store, rq->who.user, "budget.set", def.scope, detail);
	json_object_set_new(detail, "scope", json_string(def.scope));
	r = respond_json(rq, 200, detail);
	json_decref(detail);
	return r;
}

enum MHD_Result route_budget_delete(struct request *rq)
{
	char scope[160];
	enum MHD_Result r;
	int e;

	if (!auth_require_admin(rq, &r))
		return r;
	if (!scope_from_path(rq, scope, sizeof(scope)))
		return respond_error(rq, 404, "not_found", "no such budget", NULL);
	e = budget_remove(rq->srv->budgets, scope);
	if (e == -ENOENT)
		return respond_error(rq, 404, "not_found", "no such budget", NULL);
	if (e < 0)
		return respond_store_fault(rq, e, "budget_failed", "removing the budget failed");
	json_t *body;

	store_audit_append(rq->srv->store, rq->who.user, "budget.remove", scope, NULL);
	body = json_pack("{s:s,s:b}", "scope", scope, "removed", 1);
	r = respond_json(rq, 200, body);
	json_decref(body);
	return r;
}

/* "2026-01-31" (UTC midnight) or Unix milliseconds. */
static bool time_arg(struct request *rq, const char *name, int64_t fallback, int64_t *out,
		     enum MHD_Result *ret)
{
	const char *v = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
	struct tm tm;
	uint64_t ms;
	const char *end;

	*out = fallback;
	if (!v)
		return true;
	memset(&tm, 0, sizeof(tm));
	end = strptime(v, "%Y-%m-%d", &tm);
	if (end && *end == '\0') {
		*out = (int64_t)timegm(&tm) * 1000;
		return true;
	}
	if (parse_u64(v, &ms) == 0 && ms < (1ull << 62)) {
		*out = (int64_t)ms;
		return true;
	}
	*ret = respond_error(rq, 400, "invalid_parameter",
			     "from and to are dates (2026-01-31) or Unix milliseconds", name);
	return false;
}

static enum MHD_Result spend_csv(struct request *rq, json_t *entries)
{
	struct buf b;
	json_t *e;
	size_t i;
	char line[512];
	struct MHD_Response *resp;
	enum MHD_Result r;

	buf_init(&b, 256u << 20);
	buf_append(&b, "run_id,scope,amount,at\r\n", 24);
	json_array_foreach(entries, i, e) {
		int n = snprintf(line, sizeof(line), "%s,%s,%s,%s\r\n",
				 json_string_value(json_object_get(e, "runId")) ?: "",
				 json_string_value(json_object_get(e, "scope")) ?: "",
				 json_string_value(json_object_get(e, "amount")) ?: "",
				 json_string_value(json_object_get(e, "at")) ?: "");
		buf_append(&b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
	resp = MHD_create_response_from_buffer(b.len, b.data ? b.data : "", MHD_RESPMEM_MUST_COPY);
	buf_release(&b);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "text/csv");
	MHD_add_response_header(resp, "Content-Disposition", "attachment; filename=\"spend.csv\"");
	respond_common_headers(rq, resp);
	rq->status = 200;
	r = MHD_queue_response(rq->conn, 200, resp);
	MHD_destroy_response(resp);
	return r;
}

/* [{"scope", "amount", "amountMicros", "entries"}] by scope name, so a
 * reader needs no arithmetic on the entries. */
static json_t *spend_totals(json_t *entries)
{
	json_t *by_scope = json_object(), *e, *t, *list = json_array();
	const char *scope;
	char amount[32];
	size_t i;

	json_array_foreach(entries, i, e) {
		scope = json_string_value(json_object_get(e, "scope"));
		if (!scope)
			continue;
		t = json_object_get(by_scope, scope);
		if (!t) {
			t = json_pack("{s:s,s:I,s:I}", "scope", scope, "amountMicros", (json_int_t)0,
				      "entries", (json_int_t)0);
			json_object_set_new(by_scope, scope, t);
		}
		json_object_set_new(t, "amountMicros",
				    json_integer(json_integer_value(json_object_get(t, "amountMicros")) +
						 json_integer_value(json_object_get(e, "amountMicros"))));
		json_object_set_new(t, "entries",
				    json_integer(json_integer_value(json_object_get(t, "entries")) + 1));
	}
	json_object_foreach(by_scope, scope, t) {
		money_format((uint64_t)json_integer_value(json_object_get(t, "amountMicros")), amount,
			     sizeof(amount));
		json_object_set_new(t, "amount", json_string(amount));
		json_array_append(list, t);
	}
	json_decref(by_scope);
	return list;
}

enum MHD_Result route_spend(struct request *rq)
{
	const char *scope = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "scope");
	const char *format = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "format");
	char own[160];
	int64_t from, to;
	json_t *entries, *body;
	enum MHD_Result r;
	int e;

	if (!auth_require(rq, &r) || !time_arg(rq, "from", 0, &from, &r) ||
	    !time_arg(rq, "to", INT64_MAX / 2, &to, &r))
		return r;
	if (!scope && rq->who.role != ROLE_ADMIN) {
		snprintf(own, sizeof(own), "user:%s", rq->who.user);
		scope = own;
	}
	if (scope && (!budget_scope_valid(scope) || !scope_visible(rq, scope)))
		return respond_error(rq, 403, "forbidden", "you may see the spend of your own "
							 "scopes only (org, your team, yourself)", "scope");
	e = budget_spend(rq->srv->budgets, scope ? scope : "", from, to, &entries);
	if (e < 0)
		return respond_store_fault(rq, e, "budget_failed", "reading the ledger failed");
	if (format && strcmp(format, "csv") == 0) {
		r = spend_csv(rq, entries);
		json_decref(entries);
		return r;
	}
	body = json_pack("{s:o,s:o,s:s}", "totals", spend_totals(entries), "entries", entries,
			 "currency", rq->srv->pricing->currency);
	r = respond_json(rq, 200, body);
	json_decref(body);
	return r;
}
