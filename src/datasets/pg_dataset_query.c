/*
 * pg_dataset_query: one analyst query on a PostgreSQL dataset, from text
 * to result table (see pg_dataset.h).
 *
 * States of the connection: idle -> BEGIN READ ONLY with the time limits
 * -> the query sent (PQsendQueryParams: the extended protocol, which
 * refuses a second statement) and read one row at a time -> ROLLBACK,
 * always, so even a bug that let something through leaves nothing behind.
 *
 * Invariants:
 * - At most max_rows rows and max_bytes bytes of values are kept; later
 *   rows are only counted. statement_timeout ends the query on the server;
 *   the client waits GRACE more, then cancels it itself, and a client that
 *   hangs up (cancel_fd) cancels it at once. If the time runs out while
 *   only counting, the table is still good, with total_rows unknown.
 * - The server never blocks on the connection without a bound: the socket
 *   is polled with the deadline.
 */
#include "datasets/pg_dataset.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"

#include "util/banned.h"

#define VALUE_OVERHEAD 8 /* bytes counted per kept value besides its text */

struct run {
	PGconn *c;
	const struct pg_query_limits *l;
	const char *sql;
	size_t len;
	uint64_t deadline_ms;
	int ncols;
	Oid *types;
	json_t *columns, *rows;
	uint64_t shown, total, bytes;
	bool total_known, truncated, cancelled, hung_up, too_big, client_timeout;
	struct pg_error *error;
	int r; /* the first failure */
};

static void fail(struct run *s, int r)
{
	if (s->r == 0)
		s->r = r;
}

static void cancel(struct run *s)
{
	PGcancel *pc;
	char why[256];

	if (s->cancelled)
		return;
	s->cancelled = true;
	pc = PQgetCancel(s->c);
	if (pc) {
		(void)PQcancel(pc, why, sizeof(why));
		PQfreeCancel(pc);
	}
}

static bool hung_up(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };

	return fd > 0 && poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* Waits until a result can be taken without blocking. Past the deadline
 * the query is cancelled once; past the deadline after that the
 * connection is given up (-ETIMEDOUT). */
static int wait_ready(struct run *s)
{
	for (;;) {
		struct pollfd p[2] = { { .fd = PQsocket(s->c), .events = POLLIN },
				       { .fd = s->l->cancel_fd, .events = POLLRDHUP } };
		uint64_t now = clock_mono_ms();
		int n = s->l->cancel_fd > 0 ? 2 : 1;

		if (!PQconsumeInput(s->c))
			return -ECONNRESET;
		if (!PQisBusy(s->c))
			return 0;
		if (now >= s->deadline_ms && s->cancelled)
			return -ETIMEDOUT;
		if (now >= s->deadline_ms) {
			s->client_timeout = true;
			cancel(s);
			s->deadline_ms = now + PG_DATASET_GRACE_MS;
			continue;
		}
		if (poll(p, (nfds_t)n, (int)(s->deadline_ms - now < 1000 ? s->deadline_ms - now : 1000)) < 0 &&
		    errno != EINTR)
			return -errno;
		if (n == 2 && !s->hung_up && hung_up(s->l->cancel_fd)) {
			s->hung_up = true;
			cancel(s);
		}
	}
}

static int columns_init(struct run *s, const PGresult *res)
{
	s->ncols = PQnfields(res);
	if (s->ncols == 0) {
		pgd_error_set(s->error, "query_error", "the statement returns no columns to show");
		return -EINVAL;
	}
	s->types = calloc((size_t)s->ncols, sizeof(*s->types));
	s->columns = json_array();
	if (!s->types || !s->columns)
		return -ENOMEM;
	for (int i = 0; i < s->ncols; i++) {
		const char *name = PQfname(res, i);
		json_t *col = pgd_value_json(0, name, strlen(name));

		s->types[i] = PQftype(res, i);
		col = col ? json_pack("{s:o,s:s}", "name", col, "type", pgd_type_name(s->types[i]))
			  : NULL;
		if (!col || json_array_append_new(s->columns, col) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int row_keep(struct run *s, const PGresult *res)
{
	json_t *row = json_array();

	if (!row || json_array_append_new(s->rows, row) < 0)
		return -ENOMEM;
	for (int i = 0; i < s->ncols; i++) {
		size_t len = (size_t)PQgetlength(res, 0, i);
		json_t *v = PQgetisnull(res, 0, i)
				    ? json_null()
				    : pgd_value_json(s->types[i], PQgetvalue(res, 0, i), len);

		s->bytes += len + VALUE_OVERHEAD;
		if (!v || json_array_append_new(row, v) < 0)
			return -ENOMEM;
	}
	s->shown++;
	if (s->bytes > s->l->max_bytes) {
		s->too_big = true;
		pgd_error_set(s->error, "result_too_large",
			      "the result table is larger than table_bytes: select fewer rows or "
			      "columns");
		cancel(s);
		return -EFBIG;
	}
	return 0;
}

static void on_row(struct run *s, const PGresult *res)
{
	int r = s->columns ? 0 : columns_init(s, res);

	if (r == 0 && s->shown < s->l->max_rows) {
		r = row_keep(s, res);
	} else if (r == 0) {
		s->truncated = true;
		s->total++;
	}
	if (r < 0) {
		fail(s, r);
		cancel(s);
	}
}

/* A failure of the query; a timeout while only counting is not one. */
static void on_error(struct run *s, const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	bool stopped = state && strcmp(state, "57014") == 0;

	if (s->r)
		return; /* the cancel of a failure already reported */
	if (stopped && s->hung_up) {
		pgd_error_set(s->error, "cancelled", "the run was cancelled: the client went away");
		fail(s, -ECANCELED);
	} else if (stopped && s->truncated) {
		return; /* total_rows stays unknown */
	} else if (stopped) {
		pgd_error_set(s->error, "timeout",
			      "timeout: the query ran longer than the limit of %llu ms and was stopped",
			      (unsigned long long)s->l->timeout_ms);
		fail(s, -ETIMEDOUT);
	} else {
		fail(s, pgd_error_from(res, s->c, s->sql, s->len, s->error));
	}
}

static void on_result(struct run *s, const PGresult *res)
{
	switch (PQresultStatus(res)) {
	case PGRES_SINGLE_TUPLE:
		if (s->r == 0)
			on_row(s, res);
		break;
	case PGRES_TUPLES_OK:
		if (s->r == 0 && !s->columns)
			fail(s, columns_init(s, res));
		if (s->r == 0 && !s->cancelled)
			s->total_known = true;
		break;
	case PGRES_FATAL_ERROR:
		on_error(s, res);
		break;
	default:
		/* A command without rows, or a COPY: nothing the text check lets
		 * through should get here. */
		if (s->r == 0) {
			pgd_error_set(s->error, "not_allowed",
				      "not allowed: a statement that returns no rows (ledgerbox "
				      "runs read-only queries: SELECT or WITH ... SELECT)");
			fail(s, -EPERM);
		}
		break;
	}
}

static int begin(struct run *s)
{
	uint64_t ms = s->l->timeout_ms > INT_MAX - PG_DATASET_GRACE_MS ? INT_MAX - PG_DATASET_GRACE_MS
								       : s->l->timeout_ms;
	char sql[200];
	PGresult *res;
	bool ok;

	snprintf(sql, sizeof(sql),
		 "BEGIN TRANSACTION READ ONLY; SET LOCAL statement_timeout = %llu;"
		 " SET LOCAL idle_in_transaction_session_timeout = %llu",
		 (unsigned long long)(ms ? ms : 1), (unsigned long long)ms + PG_DATASET_GRACE_MS);
	/* Fixed text of ours: the simple protocol may carry three statements. */
	res = PQexec(s->c, sql);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	if (ok)
		return 0;
	pgd_error_set(s->error, "query_error", "the connection to PostgreSQL failed: %.300s",
		      PQerrorMessage(s->c));
	return -ECONNRESET;
}

static int collect(struct run *s)
{
	PGresult *res;
	int r;

	if (!PQsendQueryParams(s->c, s->sql, 0, NULL, NULL, NULL, NULL, 0)) {
		pgd_error_set(s->error, "query_error", "the query could not be sent: %.300s",
			      PQerrorMessage(s->c));
		return -ECONNRESET;
	}
	PQsetSingleRowMode(s->c);
	while ((r = wait_ready(s)) == 0 && (res = PQgetResult(s->c)) != NULL) {
		on_result(s, res);
		PQclear(res);
	}
	if (r == -ETIMEDOUT && s->r == 0 && s->truncated && !s->hung_up)
		return 0; /* stopped while only counting: total_rows stays unknown */
	if (r < 0 && s->r == 0) {
		if (s->client_timeout)
			pgd_error_set(s->error, "timeout",
				      "timeout: the query ran longer than the limit of %llu ms and "
				      "was stopped", (unsigned long long)s->l->timeout_ms);
		else
			pgd_error_set(s->error, "query_error", "the connection to PostgreSQL was lost");
		fail(s, s->client_timeout ? -ETIMEDOUT : -ECONNRESET);
	}
	return s->r;
}

static json_t *table_json(struct run *s)
{
	return json_pack("{s:O,s:O,s:I,s:o,s:b}", "columns", s->columns, "rows", s->rows,
			 "row_count", (json_int_t)s->shown, "total_rows",
			 s->total_known ? json_integer((json_int_t)(s->shown + s->total)) : json_null(),
			 "truncated", s->truncated);
}

int pg_dataset_query(PGconn *c, const char *sql, const struct pg_query_limits *l,
		     json_t **ret_table, struct pg_error *ret_error)
{
	struct run s = { .c = c, .l = l, .sql = sql, .len = sql ? strlen(sql) : 0,
			 .error = ret_error };
	json_t *table = NULL;
	int r;

	memset(ret_error, 0, sizeof(*ret_error));
	r = pgd_text_check(&s.sql, &s.len, ret_error);
	if (r < 0)
		return r;
	s.deadline_ms = clock_mono_ms() + l->timeout_ms + PG_DATASET_GRACE_MS;
	s.rows = json_array();
	r = s.rows ? begin(&s) : -ENOMEM;
	if (r == 0)
		r = collect(&s);
	if (r == 0 && !(table = table_json(&s)))
		r = -ENOMEM;
	if (r == -ENOMEM)
		pgd_error_set(ret_error, "query_error", "out of memory while building the result");
	/* Nothing a query did is ever kept. */
	if (PQtransactionStatus(c) == PQTRANS_INTRANS || PQtransactionStatus(c) == PQTRANS_INERROR)
		PQclear(PQexec(c, "ROLLBACK"));
	json_decref(s.columns);
	json_decref(s.rows);
	free(s.types);
	if (r < 0)
		return r;
	*ret_table = table;
	return 0;
}
