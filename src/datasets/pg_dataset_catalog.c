/*
 * pg_dataset_catalog: what a PostgreSQL dataset holds (its tables, their
 * columns and row counts, for the listing and the model's prompt) and the
 * check of a query by PostgreSQL's own parser without running it.
 *
 * Invariants:
 * - Only fixed SQL of ours runs here; names go in through
 *   PQescapeIdentifier or as parameters.
 * - Every statement runs read-only with a statement_timeout, and counting
 *   rows stops when the listing's time budget is spent (the planner's
 *   estimate stands in), so a large database cannot make a listing slow.
 */
#include "datasets/pg_dataset.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/pg.h"

#include "util/banned.h"

#define COUNT_MAX_MS 1000  /* one count(*) */
#define TEXT_OF(x) TEXT_OF_(x)
#define TEXT_OF_(x) #x
#define CHECK_MAX_MS 10000 /* preparing one query */

/* Tables the role can read, visible ones by their plain name. */
static const char tables_sql[] =
	"SELECT * FROM (SELECT c.oid::text, CASE WHEN pg_table_is_visible(c.oid) THEN c.relname"
	"  ELSE n.nspname || '.' || c.relname END AS name,"
	"  n.nspname, c.relname, c.relkind::text, c.reltuples::float8"
	" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	" WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition"
	" AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
	" AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'"
	" AND has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT')) t"
	" ORDER BY name COLLATE \"C\" LIMIT " TEXT_OF(PG_DATASET_MAX_TABLES);

/* Columns with their place in the primary key (0: none) and, for a
 * one-column foreign key to a table the role can read by its plain name,
 * that table and column: what a model needs to join without guessing. */
static const char columns_sql[] =
	"SELECT a.attname, format_type(a.atttypid, a.atttypmod),"
	" coalesce((SELECT array_position(p.conkey, a.attnum) FROM pg_constraint p"
	"   WHERE p.conrelid = a.attrelid AND p.contype = 'p'), 0),"
	" fk.relname, fk.attname"
	" FROM pg_attribute a LEFT JOIN LATERAL (SELECT rc.relname, ra.attname"
	"   FROM pg_constraint f JOIN pg_class rc ON rc.oid = f.confrelid"
	"   JOIN pg_attribute ra ON ra.attrelid = f.confrelid AND ra.attnum = f.confkey[1]"
	"   WHERE f.conrelid = a.attrelid AND f.contype = 'f' AND cardinality(f.conkey) = 1"
	"   AND f.conkey[1] = a.attnum AND pg_table_is_visible(rc.oid)"
	"   AND has_table_privilege(rc.oid, 'SELECT') LIMIT 1) fk ON true"
	" WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped"
	" AND has_column_privilege(a.attrelid, a.attnum, 'SELECT') ORDER BY a.attnum";

static json_t *column_json(const PGresult *res, int i)
{
	json_t *col = json_pack("{s:s,s:s}", "name", PQgetvalue(res, i, 0), "type",
				PQgetvalue(res, i, 1));
	long pk = strtol(PQgetvalue(res, i, 2), NULL, 10);

	if (col && pk > 0 && json_object_set_new(col, "pk", json_integer(pk)) < 0)
		goto fail;
	if (col && !PQgetisnull(res, i, 3) &&
	    json_object_set_new(col, "references", json_pack("{s:s,s:s}", "table",
							     PQgetvalue(res, i, 3), "column",
							     PQgetvalue(res, i, 4))) < 0)
		goto fail;
	return col;
fail:
	json_decref(col);
	return NULL;
}

static int push(json_t *array, json_t *v)
{
	return v && json_array_append_new(array, v) == 0 ? 0 : -ENOMEM;
}

static int columns_of(PGconn *c, const char *oid, json_t **ret)
{
	PGresult *res = NULL;
	json_t *cols = json_array();
	int r = cols ? pg_query(c, columns_sql, 1, &oid, &res, NULL, 0) : -ENOMEM;

	for (int i = 0; r == 0 && i < PQntuples(res); i++)
		r = push(cols, column_json(res, i));
	PQclear(res);
	if (r < 0) {
		json_decref(cols);
		return r;
	}
	*ret = cols;
	return 0;
}

/* count(*) within min(COUNT_MAX_MS, what is left); -1 when it did not
 * finish. */
static int64_t count_rows(PGconn *c, const char *schema, const char *table, uint64_t deadline_ms)
{
	uint64_t now = clock_mono_ms(), ms = deadline_ms > now ? deadline_ms - now : 0;
	char *qs = PQescapeIdentifier(c, schema, strlen(schema));
	char *qt = PQescapeIdentifier(c, table, strlen(table));
	char sql[600];
	PGresult *res = NULL;
	int64_t rows = -1;

	snprintf(sql, sizeof(sql), "SET statement_timeout = %" PRIu64,
		 ms < COUNT_MAX_MS ? ms : COUNT_MAX_MS);
	if (ms > 0 && qs && qt && strlen(qs) + strlen(qt) < 500 && pg_exec(c, sql) == 0) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.%s", qs, qt);
		if (pg_query(c, sql, 0, NULL, &res, NULL, 0) == 0 && pg_get_i64(res, 0, 0, &rows) < 0)
			rows = -1;
		PQclear(res);
	}
	PQfreemem(qs);
	PQfreemem(qt);
	return rows;
}

static int64_t estimate(const PGresult *res, int i)
{
	double tuples = strtod(PQgetvalue(res, i, 5), NULL);

	/* Views have no estimate; -1 means "never analysed" (PostgreSQL 14+). */
	if (PQgetvalue(res, i, 4)[0] == 'v' || !isfinite(tuples) || tuples < 0)
		return -1;
	return tuples < 9e18 ? (int64_t)(tuples + 0.5) : -1;
}

static int describe(PGconn *c, const PGresult *res, int i, uint64_t deadline_ms, json_t *list)
{
	json_t *cols = NULL;
	int64_t rows;
	int r = columns_of(c, PQgetvalue(res, i, 0), &cols);

	if (r < 0)
		return r;
	rows = count_rows(c, PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), deadline_ms);
	if (rows < 0)
		rows = estimate(res, i);
	return push(list, json_pack("{s:s,s:I,s:o}", "name", PQgetvalue(res, i, 1), "rows",
				    (json_int_t)rows, "columns", cols));
}

int pg_dataset_tables(PGconn *c, uint64_t budget_ms, json_t **ret)
{
	uint64_t deadline_ms = clock_mono_ms() + budget_ms;
	PGresult *res = NULL;
	json_t *list = json_array();
	int r = list ? pg_exec(c, "SET default_transaction_read_only = on") : -ENOMEM;

	if (r == 0)
		r = pg_exec(c, "SET statement_timeout = 10000");
	if (r == 0)
		r = pg_query(c, tables_sql, 0, NULL, &res, NULL, 0);
	for (int i = 0; r == 0 && i < PQntuples(res); i++)
		r = describe(c, res, i, deadline_ms, list);
	PQclear(res);
	if (r < 0) {
		json_decref(list);
		return r;
	}
	*ret = list;
	return 0;
}

/* What the prepared statement looks like: no parameters, some columns. */
static int described_ok(PGconn *c, char *err, size_t err_len)
{
	PGresult *d = PQdescribePrepared(c, "");
	int r = 0;

	if (PQresultStatus(d) != PGRES_COMMAND_OK) {
		r = -ECONNRESET;
		snprintf(err, err_len, "the query could not be described: %.300s", PQerrorMessage(c));
	} else if (PQnparams(d) > 0) {
		/* Nothing binds them, so they cannot mean what was intended. */
		snprintf(err, err_len, "the query has a parameter ($1): nothing fills it in, write "
				       "the value into the query");
		r = -EINVAL;
	} else if (PQnfields(d) == 0) {
		snprintf(err, err_len, "the statement returns no rows: write one SELECT");
		r = -EINVAL;
	}
	PQclear(d);
	return r;
}

int pg_dataset_check_sql(PGconn *c, const char *sql, char *err, size_t err_len)
{
	struct pg_error e = { 0 };
	const char *text = sql;
	size_t len = sql ? strlen(sql) : 0;
	char begin[160];
	PGresult *res;
	int r = sql ? pgd_text_check(&text, &len, &e) : -EINVAL;

	if (r < 0) {
		snprintf(err, err_len, "%s", sql ? e.message : "no query given");
		return -EINVAL;
	}
	snprintf(begin, sizeof(begin), "BEGIN TRANSACTION READ ONLY; SET LOCAL statement_timeout = %d",
		 CHECK_MAX_MS);
	res = PQexec(c, begin);
	r = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -ECONNRESET;
	PQclear(res);
	if (r < 0) {
		snprintf(err, err_len, "the dataset's PostgreSQL failed: %.300s", PQerrorMessage(c));
		return r;
	}
	/* The unnamed statement: preparing it parses, resolves every name
	 * and plans nothing that runs. */
	res = PQprepare(c, "", text, 0, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		r = pgd_error_from(res, c, text, len, &e);
		snprintf(err, err_len, "%s", e.message);
		r = r == -ECONNRESET ? r : -EINVAL;
	} else {
		r = described_ok(c, err, err_len);
	}
	PQclear(res);
	PQclear(PQexec(c, "ROLLBACK"));
	return r;
}
