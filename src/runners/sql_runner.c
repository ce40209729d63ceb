/*
 * sql_runner: the `ledgerbox sql-runner` command that the sandbox starts —
 * arguments, environment, the query file and the result fd. This is the only
 * sql_* file that prints.
 *
 * Invariants:
 * - stdout stays empty unless the result fd is not open (running by hand).
 * - Exactly one JSON line is written per run that got as far as running a
 *   query (exit 0, 1 or 3), unless that line itself could not be written
 *   for the query's sake (out of the run's memory, or the supervisor
 *   stopped reading it): exit 1 with the message on stderr. Usage and
 *   internal errors (exit 2) only print to stderr.
 * - The result fd is checked before anything is opened, so a closed fd 3
 *   cannot be mistaken for a file we opened ourselves.
 */
#include "runners/sql_runner.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/parse.h"

#include "util/banned.h"

#define MAX_ROWS_LIMIT 10000000u      /* keeps the result document bounded */
#define TIMEOUT_MS_LIMIT 86400000u    /* one day */

struct runner_config {
	const char *db_path;
	const char *query_path;
	struct sql_query_limits limits;
	int result_fd;
};

static const char usage_text[] =
	"usage: ledgerbox sql-runner --db PATH --query-file PATH\n"
	"environment: LEDGERBOX_MAX_ROWS (default 1000), LEDGERBOX_SQL_TIMEOUT_MS\n"
	"(default 10000), LEDGERBOX_RESULT_FD (default 3; stdout when not open)\n";

/* ---- arguments and environment ---------------------------------------- */

/* Matches "--name VALUE" and "--name=VALUE"; advances *i past the value. */
static int take_option(int argc, char **argv, int *i, const char *name, const char **ret)
{
	size_t n = strlen(name);
	const char *arg = argv[*i];

	if (strncmp(arg, name, n) != 0 || (arg[n] != '\0' && arg[n] != '='))
		return 0;
	if (*ret) {
		fprintf(stderr, "error: %s given twice\n", name);
		return -EINVAL;
	}
	if (arg[n] == '=') {
		*ret = arg + n + 1;
	} else if (*i + 1 < argc) {
		*ret = argv[++*i];
	} else {
		fprintf(stderr, "error: %s needs a value\n", name);
		return -EINVAL;
	}
	if (**ret == '\0') {
		fprintf(stderr, "error: %s needs a non-empty value\n", name);
		return -EINVAL;
	}
	return 1;
}

static int parse_args(int argc, char **argv, struct runner_config *config)
{
	for (int i = 1; i < argc; i++) {
		int r = take_option(argc, argv, &i, "--db", &config->db_path);

		if (r == 0)
			r = take_option(argc, argv, &i, "--query-file", &config->query_path);
		if (r < 0)
			return r;
		if (r == 0) {
			fprintf(stderr, "error: unexpected argument '%s'\n", argv[i]);
			return -EINVAL;
		}
	}
	if (!config->db_path || !config->query_path) {
		fprintf(stderr, "error: %s is required\n", config->db_path ? "--query-file" : "--db");
		return -EINVAL;
	}
	return 0;
}

static int env_u64(const char *name, uint64_t fallback, uint64_t min, uint64_t max,
		   uint64_t *ret)
{
	const char *value = getenv(name);
	uint64_t v;

	if (!value) {
		*ret = fallback;
		return 0;
	}
	if (parse_u64(value, &v) < 0 || v < min || v > max) {
		fprintf(stderr, "error: %s: invalid value '%s' (expected a whole number from %llu to %llu)\n",
			name, value, (unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

static int read_env(struct runner_config *config)
{
	uint64_t fd;
	int r = env_u64("LEDGERBOX_MAX_ROWS", SQL_DEFAULT_MAX_ROWS, 0, MAX_ROWS_LIMIT,
			&config->limits.max_rows);

	if (r == 0)
		r = env_u64("LEDGERBOX_SQL_TIMEOUT_MS", SQL_DEFAULT_TIMEOUT_MS, 1, TIMEOUT_MS_LIMIT,
			    &config->limits.timeout_ms);
	/* 0-2 are stdin/stdout/stderr, never the result channel. */
	if (r == 0)
		r = env_u64("LEDGERBOX_RESULT_FD", SQL_DEFAULT_RESULT_FD, 3, INT_MAX, &fd);
	if (r == 0)
		config->result_fd = (int)fd;
	return r;
}

/* ---- query file ------------------------------------------------------- */

/* Reads at most SQL_QUERY_MAX_BYTES + 1 bytes: one byte more than allowed
 * is enough to tell that the file is too long. */
static int read_query(const char *path, char **ret, size_t *ret_len)
{
	size_t cap = (size_t)SQL_QUERY_MAX_BYTES + 1, len = 0;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -errno;
	buf = malloc(cap + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (len < cap) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;
			free(buf);
			close(fd);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* ---- result output ---------------------------------------------------- */

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			/* The parent may hand us a non-blocking pipe. */
			struct pollfd p = { fd, POLLOUT, 0 };
			if (poll(&p, 1, -1) < 0 && errno != EINTR)
				return -errno;
			continue;
		}
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_result(int fd, json_t *table, const struct sql_error *error)
{
	json_t *doc = sql_result_new(table, error);
	/* 15 significant digits, like the sqlite3 shell: 0.1 stays 0.1. */
	char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
	int r = -ENOMEM;

	json_decref(doc);
	if (text) {
		size_t len = strlen(text);
		text[len] = '\n'; /* replaces the NUL; the length is known */
		r = write_all(fd, text, len + 1);
		free(text);
	}
	return r;
}

static int output_fd(int result_fd)
{
	if (fcntl(result_fd, F_GETFD) < 0 && errno == EBADF)
		return STDOUT_FILENO;
	return result_fd;
}

/* ---- entry point ------------------------------------------------------ */

static int run(const struct runner_config *config, int out_fd)
{
	struct sql_error error = { 0 };
	json_t *table = NULL;
	char *sql = NULL;
	size_t sql_len = 0;
	int r = read_query(config->query_path, &sql, &sql_len);

	if (r < 0) {
		fprintf(stderr, "error: cannot read query file %s: %s\n", config->query_path,
			strerror(-r));
		return SQL_EXIT_USAGE;
	}
	/* A too-long query is the analyst's mistake, not the sandbox's:
	 * sql_query_run reports it as a query error. */
	sql_query_run(config->db_path, sql, sql_len, &config->limits, &table, &error);
	free(sql);
	r = write_result(out_fd, table, &error);
	/* A result too large for the run's memory, or one the supervisor
	 * stopped reading (past its limits), is the query's outcome; only a
	 * channel that is not there is the sandbox's failure. */
	if (r == -ENOMEM || r == -EPIPE) {
		fprintf(stderr, "error: the result table could not be written: %s; select fewer "
				"rows or columns\n", strerror(-r));
		return SQL_EXIT_QUERY_ERROR;
	}
	if (r < 0) {
		fprintf(stderr, "error: cannot write the result: %s\n", strerror(-r));
		return SQL_EXIT_USAGE;
	}
	if (error.type != SQL_ERROR_NONE)
		fprintf(stderr, "error: %s\n", error.message);
	return sql_error_exit_code(&error);
}

int sql_runner_main(int argc, char **argv)
{
	struct runner_config config = { 0 };

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage_text, stdout);
		return SQL_EXIT_OK;
	}
	if (parse_args(argc, argv, &config) < 0) {
		fputs(usage_text, stderr);
		return SQL_EXIT_USAGE;
	}
	if (read_env(&config) < 0)
		return SQL_EXIT_USAGE;
	return run(&config, output_fd(config.result_fd));
}
