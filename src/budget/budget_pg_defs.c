/*
 * budget_pg_defs: setting, removing and listing budgets in PostgreSQL,
 * with the rules of budget_defs.c: new terms forget the soft warnings given
 * for the scope; reservations and the ledger are untouched.
 *
 * Set and remove run under the budget write lock, so a reservation on
 * another node sees either the old terms or the new ones, never a mix. A
 * list reads one REPEATABLE READ snapshot, as SQLite's read transaction
 * does.
 */
#include <errno.h>
#include <string.h>

#include "budget/budget_pg.h"
#include "util/banned.h"

static int warnings_forget_tx(struct budget_pg *pg, const char *scope)
{
	const char *params[] = { scope };

	return budget_pg_query(pg, "DELETE FROM soft_warnings WHERE scope = $1", 1, params, NULL);
}

static int def_upsert_tx(struct budget_pg *pg, const struct budget_def *def, int64_t now_ms)
{
	char limit_text[PG_INT_TEXT], soft_text[PG_INT_TEXT], now_text[PG_INT_TEXT];
	const char *params[] = { def->scope,
				 pg_i64_text((int64_t)def->limit_micros, limit_text),
				 budget_period_name(def->period),
				 pg_i64_text(def->soft_percent, soft_text),
				 def->hard ? "true" : "false",
				 pg_i64_text(now_ms, now_text) };

	return budget_pg_query(
		pg,
		"INSERT INTO budgets (scope, limit_micros, period, soft_percent, hard, created_ms,"
		" updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $6)"
		" ON CONFLICT (scope) DO UPDATE SET limit_micros = excluded.limit_micros,"
		" period = excluded.period, soft_percent = excluded.soft_percent,"
		" hard = excluded.hard, updated_ms = excluded.updated_ms",
		6, params, NULL);
}

int budget_pg_set_locked(struct budget_pg *pg, const struct budget_def *def, int64_t now_ms)
{
	int r = budget_pg_write_begin(pg);

	if (r < 0)
		return r;
	r = def_upsert_tx(pg, def, now_ms);
	if (r == 0)
		r = warnings_forget_tx(pg, def->scope);
	return budget_pg_end(pg, r);
}

static int def_delete_tx(struct budget_pg *pg, const char *scope)
{
	const char *params[] = { scope };
	PGresult *res;
	int r = budget_pg_query(pg, "DELETE FROM budgets WHERE scope = $1", 1, params, &res);

	if (r < 0)
		return r;
	r = budget_pg_changes(res) == 0 ? -ENOENT : 0;
	PQclear(res);
	return r;
}

int budget_pg_remove_locked(struct budget_pg *pg, const char *scope)
{
	int r = budget_pg_write_begin(pg);

	if (r < 0)
		return r;
	r = def_delete_tx(pg, scope);
	if (r == 0)
		r = warnings_forget_tx(pg, scope);
	return budget_pg_end(pg, r);
}

/* Appends the standing of the budget in row i of res. */
static int list_append(struct budget_pg *pg, const PGresult *res, int i, int64_t now_ms,
		       json_t *list)
{
	struct budget_standing stand;
	int64_t created_ms, updated_ms;
	json_t *o;
	int r = budget_pg_i64(res, i, 1, &created_ms);

	if (r == 0)
		r = budget_pg_i64(res, i, 2, &updated_ms);
	if (r == 0)
		r = budget_pg_standing_read(pg, PQgetvalue(res, i, 0), now_ms, &stand);
	if (r < 0)
		return r;
	o = budget_standing_json(&stand, created_ms, updated_ms);
	if (!o || json_array_append_new(list, o) < 0)
		return -ENOMEM;
	return 0;
}

static int list_read_tx(struct budget_pg *pg, const char *prefix, int64_t now_ms, json_t *list)
{
	size_t prefix_len = strlen(prefix);
	PGresult *res;
	/* Byte order (COLLATE "C"), as SQLite sorts text. */
	int r = budget_pg_query(pg,
				"SELECT scope, created_ms, updated_ms FROM budgets"
				" ORDER BY scope COLLATE \"C\"",
				0, NULL, &res);

	if (r < 0)
		return r;
	for (int i = 0; i < PQntuples(res) && r == 0; i++) {
		/* Budgets are few (one per scope an admin chose); filtering
		 * here avoids LIKE and its wildcards in the prefix. */
		if (strncmp(PQgetvalue(res, i, 0), prefix, prefix_len) == 0)
			r = list_append(pg, res, i, now_ms, list);
	}
	PQclear(res);
	return r;
}

int budget_pg_list_locked(struct budget_pg *pg, const char *prefix, int64_t now_ms,
			  json_t *list)
{
	int r = budget_pg_read_begin(pg);

	if (r < 0)
		return r;
	/* Nothing was written: ending the snapshot cannot lose anything. */
	return budget_pg_end(pg, list_read_tx(pg, prefix, now_ms, list));
}
