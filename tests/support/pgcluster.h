/*
 * pgcluster: a PostgreSQL server of the test's own, for the tests that
 * stop and restart it. The shared cluster of tests/run (pgtest.h) must
 * never be stopped: another test, or another run on the machine, may be
 * using it. scripts/pg-cluster does the work; this only calls it.
 */
#ifndef LEDGERBOX_PGCLUSTER_H
#define LEDGERBOX_PGCLUSTER_H

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "testlib.h"

#define PGC_URL_MAX 512

struct pgc {
	char dir[512];
	char url[PGC_URL_MAX]; /* superuser URL of database "postgres" */
};

static inline void pgc_script(const char *cmd, const char *dir, struct tl_output *out)
{
	char script[600];

	snprintf(script, sizeof(script), "%s/scripts/pg-cluster", tl_env("LEDGERBOX_SRC"));
	char *const argv[] = { script, (char *)cmd, (char *)dir, NULL };
	tl_run(argv, NULL, out);
}

/* Starts a cluster in a fresh folder under the test's tmp folder. */
static inline void pgc_start(struct pgc *c, const char *name)
{
	struct tl_output out;
	size_t n;

	snprintf(c->dir, sizeof(c->dir), "%s/pgc-%s-%d", tl_tmp(), name, (int)getpid());
	/* The server runs as user postgres, which must pass through the
	 * test's tmp folder (made owner-only) to reach its own. */
	{
		struct stat st;
		if (stat(tl_tmp(), &st) == 0)
			chmod(tl_tmp(), (st.st_mode & 07777) | 0111);
	}
	pgc_script("start", c->dir, &out);
	if (out.exit_code != 0)
		fail_msg("scripts/pg-cluster start %s failed: %s", c->dir, out.err ? out.err : "");
	snprintf(c->url, sizeof(c->url), "%s", out.out ? out.out : "");
	n = strlen(c->url);
	while (n && (c->url[n - 1] == '\n' || c->url[n - 1] == ' '))
		c->url[--n] = '\0';
	tl_output_free(&out);
	assert_true(n > 0);
}

/* "halt" (stop, keep the data), "resume" (start again on the same port),
 * "restart" (fast restart: every session ends). */
static inline void pgc_do(struct pgc *c, const char *cmd)
{
	struct tl_output out;

	pgc_script(cmd, c->dir, &out);
	if (out.exit_code != 0)
		fail_msg("scripts/pg-cluster %s %s failed: %s", cmd, c->dir, out.err ? out.err : "");
	tl_output_free(&out);
}

/* Stops the cluster and removes its folder; safe to call twice. */
static inline void pgc_stop(struct pgc *c)
{
	struct tl_output out;

	if (!c->dir[0])
		return;
	pgc_script("stop", c->dir, &out);
	tl_output_free(&out);
	c->dir[0] = '\0';
}

#endif
