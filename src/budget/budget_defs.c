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

static int set_locked(struct budgets *b, const struct budget_def *def, int64_t now_ms)
{
	int r = budget_tx_begin(b->db);

	if (r == 0)
		r = def_upsert_tx(b->db, def, now_ms);
	if (r == 0)
		r = warnings_forget_tx(b->db, def->scope);
	return db_tx_end(b->db, r);
}

int budget_set(struct budgets *b, const struct budget_def *def)
{
	int r = b ? budget_def_check(def) : -EINVAL;

	if (r < 0)
		return r;
	budget_lock(b);
	r = b->pg ? budget_pg_set_locked(b->pg, def, clock_unix_ms())
		  : set_locked(b, def, clock_unix_ms());
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
	if (b->pg) {
		r = budget_pg_remove_locked(b->pg, scope);
	} else {
		r = budget_tx_begin(b->db);
		if (r == 0)
			r = def_delete_tx(b->db, scope);
		if (r == 0)
			r = warnings_forget_tx(b->db, scope);
		r = db_tx_end(b->db, r);
	}
	budget_unlock(b);
	return r;
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
	o = budget_standing_json(&stand, sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2));
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
	if (b->pg) {
		r = budget_pg_list_locked(b->pg, scope_prefix, now_ms, list);
	} else {
		r = budget_tx_read_begin(b->db);
		if (r == 0)
			r = list_read_tx(b->db, scope_prefix, now_ms, list);
		/* Nothing was written: ending the snapshot cannot lose anything. */
		r = db_tx_end(b->db, r);
	}
	budget_unlock(b);
	if (r < 0) {
		json_decref(list);
		return r;
	}
	*ret = list;
	return 0;
}
