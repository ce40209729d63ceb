/*
 * pgtest: fresh PostgreSQL databases for the tests. tests/run starts a
 * throwaway cluster (scripts/pg-cluster) and exports its superuser URL as
 * LEDGERBOX_TEST_PG_URL; each test creates its own database so tests never
 * see each other's rows, and drops it at the end.
 */
#ifndef LEDGERBOX_PGTEST_H
#define LEDGERBOX_PGTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "testlib.h"

#define PGT_URL_MAX 512

/* The cluster's superuser URL (fails the test when tests/run gave none). */
static inline const char *pgt_admin_url(void)
{
	return tl_env("LEDGERBOX_TEST_PG_URL");
}

/* Runs SQL (several statements allowed) as the URL's role. */
static inline void pgt_exec(const char *url, const char *sql)
{
	PGconn *c = PQconnectdb(url);
	PGresult *res;

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("cannot reach the test PostgreSQL: %s", PQerrorMessage(c));
	res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(res);
	PQfinish(c);
}

/* The number a one-value query answers (a count). */
static inline long pgt_count(const char *url, const char *sql)
{
	PGconn *c = PQconnectdb(url);
	PGresult *res = PQexec(c, sql);
	long n;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	PQfinish(c);
	return n;
}

/* Runs one statement as the superuser on the admin database. */
static inline void pgt_admin_exec(const char *sql)
{
	pgt_exec(pgt_admin_url(), sql);
}

/* Creates database "<prefix>_<pid>_<n>" and writes its URL to ret. */
static inline void pgt_db_create(const char *prefix, char ret[PGT_URL_MAX])
{
	static int n;
	char name[128], sql[256];
	const char *admin = pgt_admin_url();
	const char *slash = strrchr(admin, '/');

	assert_non_null(slash);
	snprintf(name, sizeof(name), "%s_%d_%d", prefix, (int)getpid(), ++n);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	pgt_admin_exec(sql);
	snprintf(ret, PGT_URL_MAX, "%.*s/%s", (int)(slash - admin), admin, name);
}

/* Drops the database of a URL made by pgt_db_create (any connections to it
 * are ended first). */
static inline void pgt_db_drop(const char *url)
{
	char sql[256];
	const char *name = strrchr(url, '/');

	assert_non_null(name);
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name + 1);
	pgt_admin_exec(sql);
}

#endif
