/* reconcile: see reconcile.h. Reads the store's tables read-only. */
#include "budget/reconcile.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "util/banned.h"

/* A natural-language run lists its attempts; each was charged under its
 * own ledger id and only the last one waits for the record, so that one
 * (its ledger id and its cost) is what a recorded run stands for. */
static const char unsettled_sql[] =
	"SELECT coalesce(json_extract(r.result, '$.attempts[#-1].ledgerId'), r.id),"
	" p.team, p.user, r.session,"
	" coalesce(json_extract(r.result, '$.attempts[#-1].cost.totalMicros'),"
	"          json_extract(r.result, '$.cost.totalMicros'), 0),"
	" coalesce(json_extract(r.result, '$.attempts[#-1].cost'),"
	"          json_extract(r.result, '$.cost'))"
	" FROM runs r JOIN principals p ON p.id = r.principal_id"
	" WHERE NOT EXISTS (SELECT 1 FROM ledger l WHERE l.run_id ="
	"   coalesce(json_extract(r.result, '$.attempts[#-1].ledgerId'), r.id))"
	/* An exact cache hit did no work and is never charged. */
	" AND coalesce(json_extract(r.result, '$.cacheType'), '') <> 'exact'";

int budget_reconcile_one(struct budgets *b, const char *ledger_id, const char *team,
			 const char *user, const char *session, int64_t micros,
			 const char *cost_json)
{
	struct budget_scopes scopes = { .team = team, .user = user, .session = session };
	json_t *cost = cost_json ? json_loads(cost_json, 0, NULL) : NULL;
	json_t *detail = json_pack("{s:b,s:o*}", "reconciled", 1, "cost",
				   json_is_object(cost) ? cost : NULL);
	struct timespec now;
	int r;

	clock_gettime(CLOCK_REALTIME, &now);
	r = budget_settle(b, ledger_id, &scopes, micros > 0 ? (uint64_t)micros : 0, detail,
			  (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, NULL, NULL);
	json_decref(detail);
	return r;
}

static int settle_row(struct budgets *b, sqlite3_stmt *st)
{
	return budget_reconcile_one(b, (const char *)sqlite3_column_text(st, 0),
				    (const char *)sqlite3_column_text(st, 1),
				    (const char *)sqlite3_column_text(st, 2),
				    (const char *)sqlite3_column_text(st, 3),
				    sqlite3_column_int64(st, 4),
				    (const char *)sqlite3_column_text(st, 5));
}

int budget_reconcile(struct budgets *b, const char *state_dir, const char *database_url,
		     size_t *ret_settled, char *err, size_t err_len)
{
	char path[PATH_MAX + 32];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	size_t settled = 0;
	int r = 0, rc;

	if (database_url && *database_url)
		return budget_reconcile_pg(b, database_url, ret_settled, err, err_len);
	snprintf(path, sizeof(path), "%s/ledgerbox.db", state_dir);
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_busy_timeout(db, 10000);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, unsettled_sql, -1, &st, NULL);
	while (rc == SQLITE_OK && r == 0 && sqlite3_step(st) == SQLITE_ROW) {
		r = settle_row(b, st);
		settled += r == 0;
	}
	if (rc != SQLITE_OK) {
		snprintf(err, err_len, "reconciling spend with %s: %s", path, sqlite3_errmsg(db));
		r = -EIO;
	} else if (r < 0) {
		snprintf(err, err_len, "reconciling spend: settling a recorded run failed: %s",
			 strerror(-r));
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (r == 0 && ret_settled)
		*ret_settled = settled;
	return r;
}
