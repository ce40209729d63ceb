/*
 * budget_defs: setting, removing and listing budgets.
 *
 * Changing or removing a budget forgets the soft warnings given for its
 * scope, so the new terms warn afresh; reservations and the ledger are
 * untouched (open runs still hold their reservations, and spend is history
 * whatever the budget). A budget set below what is already spent is
 * allowed: further hard reservations are refused until the period ends.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "budget/budget_internal.h"
#include "util/banned.h"

static int def_check(const struct budget_def *def)
{
	if (!def || !budget_scope_valid(def->scope) || !budget_period_valid(def->period) ||
	    def->soft_percent < 1 || def->soft_percent > 100)
		return -EINVAL;
	return def->limit_micros > BUDGET_MICROS_MAX ? -ERANGE : 0;
}

static int warnings_forget_tx(sqlite3 *db, const char *scope)
{
	sqlite3_stmt *st;
	int r = db_prepare(db, "DELETE FROM soft_warnings WHERE scope = ?1", &st);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
	return budget_sql_run(st);
}

static int def_upsert_tx(sqlite3 *db, const struct budget_def *def, int64_t now_ms)
{
	sqlite3_stmt *st;
	int r = db_prepare(
		db,
		"INSERT INTO budgets (scope, limit_micros, period, soft_percent, hard, created_ms,"
		" updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)"
		" ON CONFLICT (scope) DO UPDATE SET limit_micros = excluded.limit_micros,"
		" period = excluded.period, soft_percent = excluded.soft_percent,"
		" hard = excluded.hard, updated_ms = excluded.updated_ms",
		&st);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, def->scope, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)def->limit_micros);
	sqlite3_bind_text(st, 3, budget_period_name(def->period), -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, (int)def->soft_percent);
	sqlite3_bind_int(st, 5, def->hard);
	sqlite3_bind_int64(st, 6, now_ms);
	return budget_sql_run(st);
}

int budget_set(struct budgets *b, const struct budget_def *def)
{
	int r = b ? def_check(def) : -EINVAL;

	if (r < 0)
		return r;
	budget_lock(b);
	r = budget_tx_begin(b->db);
	if (r == 0)
		r = def_upsert_tx(b->db, def, clock_unix_ms());
	if (r == 0)
		r = warnings_forget_tx(b->db, def->scope);
	r = db_tx_end(b->db, r);
	budget_unlock(b);
	return r;
}

static int def_delete_tx(sqlite3 *db, const char *scope)
{
	sqlite3_stmt *st;
	int r = db_prepare(db, "DELETE FROM budgets WHERE scope = ?1", &st);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
	r = budget_sql_run(st);
	if (r == 0 && sqlite3_changes(db) == 0)
		r = -ENOENT;
	return r;
}

int budget_remove(struct budgets *b, const char *scope)
{
	int r;

	if (!b || !budget_scope_valid(scope))
		return -EINVAL;
	budget_lock(b);
	r = budget_tx_begin(b->db);
	if (r == 0)
		r = def_delete_tx(b->db, scope);
	if (r == 0)
		r = warnings_forget_tx(b->db, scope);
	r = db_tx_end(b->db, r);
	budget_unlock(b);
	return r;
}

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

static json_t *standing_json(const struct budget_standing *s, int64_t created_ms,
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

/* Appends the standing of the budget in the current row of `st`. */
static int list_append(sqlite3 *db, sqlite3_stmt *st, int64_t now_ms, json_t *list)
{
	const char *scope = (const char *)sqlite3_column_text(st, 0);
	struct budget_standing stand;
	json_t *o;
	int r;

	if (!scope)
		return -ENOMEM;
	r = budget_standing_read(db, scope, now_ms, &stand);
	if (r < 0)
		return r;
	o = standing_json(&stand, sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2));
	if (!o || json_array_append_new(list, o) < 0)
		return -ENOMEM;
	return 0;
}

static int list_read_tx(sqlite3 *db, const char *prefix, int64_t now_ms, json_t *list)
{
	size_t prefix_len = strlen(prefix);
	sqlite3_stmt *st;
	int r = db_prepare(db, "SELECT scope, created_ms, updated_ms FROM budgets"
				       " ORDER BY scope",
				   &st);

	if (r < 0)
		return r;
	while ((r = db_step(st)) == 1) {
		const char *scope = (const char *)sqlite3_column_text(st, 0);
		/* Budgets are few (one per scope an admin chose); filtering
		 * here avoids LIKE and its wildcards in the prefix. */
		if (scope && strncmp(scope, prefix, prefix_len) != 0)
			continue;
		r = list_append(db, st, now_ms, list);
		if (r < 0)
			break;
	}
	sqlite3_finalize(st);
	return r;
}

int budget_list(struct budgets *b, const char *scope_prefix, int64_t now_ms, json_t **ret)
{
	json_t *list;
	int r;

	if (!b || !ret)
		return -EINVAL;
	if (!scope_prefix)
		scope_prefix = "";
	list = json_array();
	if (!list)
		return -ENOMEM;
	budget_lock(b);
	r = budget_tx_read_begin(b->db);
	if (r == 0)
		r = list_read_tx(b->db, scope_prefix, now_ms, list);
	/* Nothing was written: ending the snapshot cannot lose anything. */
	r = db_tx_end(b->db, r);
	budget_unlock(b);
	if (r < 0) {
		json_decref(list);
		return r;
	}
	*ret = list;
	return 0;
}
