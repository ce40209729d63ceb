/*
 * pg: connecting to PostgreSQL, errors, statements, transactions and
 * migrations (see pg.h for the contract).
 */
#include "util/pg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/parse.h"
#include "util/banned.h"

/* The advisory lock key every part's migration takes: any constant works
 * as long as all ledgerbox nodes agree on it. */
#define PG_MIGRATE_LOCK "7140112835"

bool pg_url_is_postgres(const char *url)
{
	return url && (strncmp(url, "postgres://", 11) == 0 ||
		       strncmp(url, "postgresql://", 13) == 0);
}

static void err_set(char *err, size_t err_len, const char *fmt, const char *msg)
{
	char line[512];
	size_t n;

	if (!err || err_len == 0)
		return;
	snprintf(line, sizeof(line), "%s", msg ? msg : "");
	n = strcspn(line, "\n");
	line[n] = '\0';
	snprintf(err, err_len, fmt, line);
}

static void notice_ignore(void *ctx, const char *message)
{
	(void)ctx;
	(void)message;
}

int pg_connect(const char *url, PGconn **ret, char *err, size_t err_len)
{
	const char *keys[] = { "dbname", "connect_timeout", "application_name", NULL };
	const char *values[] = { url, "10", "ledgerbox", NULL };
	PGconn *c;

	if (!pg_url_is_postgres(url)) {
		err_set(err, err_len, "%s", "the database URL must start with postgres://");
		return -EINVAL;
	}
	/* expand_dbname = 1: the URL's own settings win over these defaults. */
	c = PQconnectdbParams(keys, values, 1);
	if (!c)
		return -ENOMEM;
	/* Notices ("relation already exists, skipping") are not errors, and
	 * library code does not write to stderr. */
	PQsetNoticeProcessor(c, notice_ignore, NULL);
	if (PQstatus(c) != CONNECTION_OK) {
		/* libpq's message names host and port, never the password. */
		err_set(err, err_len, "cannot connect to PostgreSQL: %s", PQerrorMessage(c));
		PQfinish(c);
		return -ECONNREFUSED;
	}
	if (pg_exec(c, "SET TIME ZONE 'UTC'") < 0) {
		err_set(err, err_len, "PostgreSQL refused the session set-up: %s",
			PQerrorMessage(c));
		PQfinish(c);
		return -EIO;
	}
	*ret = c;
	return 0;
}

int pg_ensure(PGconn *c)
{
	if (PQstatus(c) == CONNECTION_OK)
		return 0;
	PQreset(c);
	if (PQstatus(c) != CONNECTION_OK)
		return -ECONNREFUSED;
	return pg_exec(c, "SET TIME ZONE 'UTC'") < 0 ? -ECONNREFUSED : 0;
}

int pg_errno(const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	static const struct {
		const char *prefix;
		int err;
	} map[] = {
		{ "23505", -EEXIST },	   { "23503", -ENOENT },    { "40001", -EAGAIN },
		{ "40P01", -EAGAIN },	   { "53100", -ENOSPC },    { "57014", -ETIMEDOUT },
		{ "25006", -EROFS },	   { "42501", -EACCES },    { "08", -ECONNRESET },
		{ "57P01", -ECONNRESET }, { "53300", -EAGAIN },
	};

	if (!state)
		return -ECONNRESET; /* no answer from the server at all */
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strncmp(state, map[i].prefix, strlen(map[i].prefix)) == 0)
			return map[i].err;
	return -EIO;
}

int pg_query(PGconn *c, const char *sql, int n, const char *const *params, PGresult **ret,
	     char *err, size_t err_len)
{
	PGresult *res;
	ExecStatusType st;
	int r;

	if (n < 0 || n > PG_PARAMS_MAX)
		return -EINVAL;
	res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (ret)
			*ret = res;
		else
			PQclear(res);
		return 0;
	}
	r = pg_errno(res);
	if (r == -ECONNRESET && PQstatus(c) == CONNECTION_OK)
		r = -EIO;
	err_set(err, err_len, "%s",
		res && PQresultErrorMessage(res)[0] ? PQresultErrorMessage(res) : PQerrorMessage(c));
	PQclear(res);
	return r;
}

int pg_script(PGconn *c, const char *sql, char *err, size_t err_len)
{
	/* The simple protocol: the only one that takes several statements. */
	PGresult *res = PQexec(c, sql);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	int r = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		r = pg_errno(res);
		err_set(err, err_len, "%s",
			res && PQresultErrorMessage(res)[0] ? PQresultErrorMessage(res)
							    : PQerrorMessage(c));
	}
	PQclear(res);
	return r;
}

int pg_exec(PGconn *c, const char *sql)
{
	return pg_query(c, sql, 0, NULL, NULL, NULL, 0);
}

int pg_tx_begin(PGconn *c)
{
	return pg_exec(c, "BEGIN");
}

int pg_tx_end(PGconn *c, int r)
{
	int e;

	if (r < 0) {
		(void)pg_exec(c, "ROLLBACK");
		return r;
	}
	e = pg_exec(c, "COMMIT");
	if (e < 0)
		(void)pg_exec(c, "ROLLBACK");
	return e;
}

int pg_get_i64(const PGresult *res, int row, int col, int64_t *ret)
{
	const char *text;
	uint64_t magnitude;
	bool negative;

	if (row >= PQntuples(res) || col >= PQnfields(res) || PQgetisnull(res, row, col))
		return -EINVAL;
	text = PQgetvalue(res, row, col);
	negative = text[0] == '-';
	if (parse_u64(text + negative, &magnitude) < 0 ||
	    magnitude > (negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
		return -EINVAL;
	*ret = negative ? (int64_t)(0 - magnitude) : (int64_t)magnitude;
	return 0;
}

int pg_get_u64(const PGresult *res, int row, int col, uint64_t *ret)
{
	int64_t v;
	int r = pg_get_i64(res, row, col, &v);

	if (r < 0)
		return r;
	if (v < 0)
		return -EINVAL;
	*ret = (uint64_t)v;
	return 0;
}

int pg_get_text_dup(const PGresult *res, int row, int col, char **ret)
{
	char *copy;

	if (row >= PQntuples(res) || col >= PQnfields(res))
		return -EINVAL;
	if (PQgetisnull(res, row, col)) {
		*ret = NULL;
		return 0;
	}
	copy = strdup(PQgetvalue(res, row, col));
	if (!copy)
		return -ENOMEM;
	*ret = copy;
	return 0;
}

const char *pg_i64_text(int64_t v, char buf[PG_INT_TEXT])
{
	snprintf(buf, PG_INT_TEXT, "%" PRId64, v);
	return buf;
}

static int migrate_tx(PGconn *c, const struct pg_schema *sc, char *err, size_t err_len)
{
	const char *params[2] = { sc->part, NULL };
	char num[PG_INT_TEXT];
	PGresult *res = NULL;
	int64_t version = 0;
	int r;

	r = pg_exec(c, "SELECT pg_advisory_xact_lock(" PG_MIGRATE_LOCK ")");
	if (r == 0)
		r = pg_exec(c, "CREATE TABLE IF NOT EXISTS ledgerbox_schema ("
			       " part text PRIMARY KEY, version integer NOT NULL)");
	if (r == 0)
		r = pg_query(c, "SELECT version FROM ledgerbox_schema WHERE part = $1", 1, params,
			     &res, err, err_len);
	if (r < 0)
		return r;
	if (PQntuples(res) == 1 && pg_get_i64(res, 0, 0, &version) < 0)
		r = -EIO;
	PQclear(res);
	if (r < 0)
		return r;
	if (version > sc->latest) {
		snprintf(err, err_len,
			 "the %s tables in PostgreSQL are at version %" PRId64
			 ", newer than this ledgerbox knows (%d): upgrade ledgerbox",
			 sc->part, version, sc->latest);
		return -EPROTONOSUPPORT;
	}
	for (int v = (int)version; v < sc->latest; v++) {
		r = pg_script(c, sc->migrations[v], err, err_len);
		if (r < 0)
			return r;
	}
	params[1] = pg_i64_text(sc->latest, num);
	return pg_query(c,
			"INSERT INTO ledgerbox_schema (part, version) VALUES ($1, $2)"
			" ON CONFLICT (part) DO UPDATE SET version = excluded.version",
			2, params, NULL, err, err_len);
}

int pg_migrate(PGconn *c, const struct pg_schema *sc, char *err, size_t err_len)
{
	char why[300] = "";
	int r = pg_tx_begin(c);

	if (r < 0) {
		err_set(err, err_len, "cannot begin a transaction in PostgreSQL: %s",
			PQerrorMessage(c));
		return r;
	}
	r = pg_tx_end(c, migrate_tx(c, sc, why, sizeof(why)));
	if (r < 0 && r != -EPROTONOSUPPORT)
		snprintf(err, err_len, "cannot set up the %s tables in PostgreSQL: %s", sc->part,
			 why[0] ? why : "commit failed");
	else if (r < 0)
		snprintf(err, err_len, "%s", why);
	return r;
}
