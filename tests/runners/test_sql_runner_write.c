/*
 * The SQL runner's exit when its result cannot be written: a channel the
 * supervisor stopped reading is the query's outcome (exit 1, so the run is
 * a runtime_error and the sandbox's breaker does not count it); a channel
 * that is not there at all stays an internal error (exit 2).
 * sql_runner_main runs in a child process with its own fd 3 and stderr.
 */
#include "testlib.h"

#include <signal.h>
#include <sys/wait.h>

#include <sqlite3.h>

#include "runners/sql_runner.h"
#include "util/banned.h"

static char *db_path, *query_path;

static int setup(void **state)
{
	sqlite3 *db;
	FILE *f;

	(void)state;
	assert_true(asprintf(&db_path, "%s/write.db", tl_tmp()) > 0);
	assert_true(asprintf(&query_path, "%s/write.sql", tl_tmp()) > 0);
	unlink(db_path);
	assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('a');",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	f = fopen(query_path, "w");
	assert_non_null(f);
	fputs("SELECT x FROM t", f);
	assert_int_equal(fclose(f), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(db_path);
	unlink(query_path);
	free(db_path);
	free(query_path);
	return 0;
}

/* Runs the runner with `result_fd` as its fd 3 (or fd 3 closed when -1)
 * and SIGPIPE ignored, as a sandbox worker leaves it; returns its exit
 * code and what it wrote to stderr. */
static int runner_exit(int result_fd, char *err, size_t err_len)
{
	int errp[2], status;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(errp), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *argv[] = { "sql-runner", "--db", db_path, "--query-file", query_path, NULL };
		signal(SIGPIPE, SIG_IGN);
		dup2(errp[1], 2);
		if (result_fd >= 0)
			dup2(result_fd, 3);
		else
			close(3);
		_exit(sql_runner_main(5, argv));
	}
	close(errp[1]);
	n = read(errp[0], err, err_len - 1);
	err[n > 0 ? n : 0] = '\0';
	close(errp[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void result_nobody_reads_is_the_query_outcome(void **state)
{
	int p[2];
	char err[512];
	(void)state;

	assert_int_equal(pipe(p), 0);
	close(p[0]); /* the supervisor has stopped reading */
	assert_int_equal(runner_exit(p[1], err, sizeof(err)), SQL_EXIT_QUERY_ERROR);
	close(p[1]);
	assert_non_null(strstr(err, "the result table could not be written"));
}

static void result_channel_missing_is_internal(void **state)
{
	char err[512];
	(void)state;

	/* Not a bad descriptor: with fd 3 closed the runner writes to stdout,
	 * which here is the test's own; a directory descriptor cannot be
	 * written to at all. */
	int dir = open(tl_tmp(), O_RDONLY | O_DIRECTORY);

	assert_true(dir >= 0);
	assert_int_equal(runner_exit(dir, err, sizeof(err)), SQL_EXIT_USAGE);
	close(dir);
	assert_non_null(strstr(err, "cannot write the result"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(result_nobody_reads_is_the_query_outcome),
		cmocka_unit_test(result_channel_missing_is_internal),
	};

	return cmocka_run_group_tests_name("sql runner write", tests, setup, teardown);
}
