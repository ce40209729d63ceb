/*
 * sql_guard: opens the dataset so that a query can only read it, and keeps
 * the query inside its time limit.
 *
 * Invariants:
 * - The database is opened read-only through sqlite_ro_uri(): immutable
 *   when every commit is in the file, through a private WAL-index when a
 *   -wal file holds some (the mount is read-only: SQLite may not create a
 *   -shm file there), refused when a hot -journal says it may be torn.
 * - Everything sql_guard_open() runs is fixed SQL of ours and runs before the
 *   authorizer exists; after sql_guard_arm() every statement, including the
 *   ones SQLite prepares internally (pragma_* table-valued functions, FTS5),
 *   passes the authorizer.
 * - The authorizer records only the first refusal, which is the one that
 *   made prepare (or step) fail, so the message names the right thing.
 */
#include "runners/sql_runner.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "util/sqlite_uri.h"
#include "util/banned.h"

#define PROGRESS_STEPS 1000 /* VM steps between two looks at the clock */
#define MAX_PREWARM_VTABS 64
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

uint64_t sql_clock_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void sql_guard_init(struct sql_guard *guard, uint64_t timeout_ms)
{
	uint64_t now_ns = sql_clock_now_ns();

	memset(guard, 0, sizeof(*guard));
	if (timeout_ms > (UINT64_MAX - now_ns) / 1000000u)
		guard->deadline_ns = UINT64_MAX;
	else
		guard->deadline_ns = now_ns + timeout_ms * 1000000u;
}

/* ---- opening ---------------------------------------------------------- */

/* Refuses what SQLite would open badly: a FIFO would block, a directory
 * gives a vague message. Only for the message; SQLite opens the file. */
static int check_path(const char *path, struct sql_error *error)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		int r = -errno;
		sql_error_set(error, SQL_ERROR_OPEN_FAILED, "cannot open database %s: %s", path,
			      strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		sql_error_set(error, SQL_ERROR_OPEN_FAILED,
			      "cannot open database %s: not a regular file", path);
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	}
	return 0;
}

static int configure(sqlite3 *db)
{
	static const struct {
		int op;
		int value;
	} options[] = {
		{ SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0 },
		{ SQLITE_DBCONFIG_DEFENSIVE, 1 },
		{ SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0 },
		{ SQLITE_DBCONFIG_WRITABLE_SCHEMA, 0 },
		{ SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, 0 },
	};
	static const struct {
		int id;
		int value;
	} limits[] = {
		{ SQLITE_LIMIT_LENGTH, 16 * 1024 * 1024 }, /* largest string or blob */
		{ SQLITE_LIMIT_SQL_LENGTH, SQL_QUERY_MAX_BYTES },
		{ SQLITE_LIMIT_ATTACHED, 0 },
		{ SQLITE_LIMIT_VDBE_OP, 2000000 }, /* bounds the prepared program */
		{ SQLITE_LIMIT_WORKER_THREADS, 0 },
		{ SQLITE_LIMIT_EXPR_DEPTH, 1000 },
		{ SQLITE_LIMIT_COMPOUND_SELECT, 500 },
	};

	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		int now = -1;

		if (sqlite3_db_config(db, options[i].op, options[i].value, &now) != SQLITE_OK ||
		    now != options[i].value)
			return -EIO;
	}
	if (sqlite3_enable_load_extension(db, 0) != SQLITE_OK)
		return -EIO;
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		sqlite3_limit(db, limits[i].id, limits[i].value);
	/* query_only: one more layer against writes. temp_store=MEMORY: big
	 * sorts must not need a writable temp directory in the sandbox. */
	if (sqlite3_exec(db, "PRAGMA query_only = 1; PRAGMA temp_store = MEMORY", NULL, NULL,
			 NULL) != SQLITE_OK)
		return -EIO;
	return 0;
}

/* Runs one fixed statement of ours to the end. */
static int run_fixed(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);

	while (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW)
		rc = SQLITE_OK;
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/*
 * Connects virtual tables now, before the authorizer: SQLite declares a
 * virtual table's columns by parsing a CREATE TABLE whose bookkeeping asks
 * the authorizer for an UPDATE of sqlite_master, which it must refuse. A
 * connected table is cached for the connection, so later queries only ask
 * for SELECT/READ. Table-valued functions not listed here stay refused.
 * Failures are ignored: the query that needs the table reports them.
 */
static void prewarm_vtabs(sqlite3 *db)
{
	static const char *const fixed[] = {
		"SELECT 1 FROM json_each('[]') LIMIT 0",
		"SELECT 1 FROM json_tree('[]') LIMIT 0",
		"SELECT 1 FROM pragma_table_info('') LIMIT 0",
		"SELECT 1 FROM pragma_table_xinfo('') LIMIT 0",
		"SELECT 1 FROM pragma_table_list LIMIT 0",
		"SELECT 1 FROM pragma_index_list('') LIMIT 0",
		"SELECT 1 FROM pragma_index_info('') LIMIT 0",
		"SELECT 1 FROM pragma_index_xinfo('') LIMIT 0",
		"SELECT 1 FROM pragma_foreign_key_list('') LIMIT 0",
	};
	sqlite3_stmt *list = NULL;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		run_fixed(db, fixed[i]);
	/* The dataset's own virtual tables (FTS, R*Tree), with a cap so that a
	 * hostile schema cannot make opening slow. */
	if (sqlite3_prepare_v2(db,
			       "SELECT name FROM sqlite_schema WHERE type = 'table'"
			       " AND sql LIKE 'create virtual table%' LIMIT " STRINGIFY(MAX_PREWARM_VTABS),
			       -1, &list, NULL) != SQLITE_OK)
		return;
	while (sqlite3_step(list) == SQLITE_ROW) {
		const unsigned char *name = sqlite3_column_text(list, 0);
		char *sql = name ? sqlite3_mprintf("SELECT 1 FROM \"%w\" LIMIT 0", name) : NULL;

		if (sql)
			run_fixed(db, sql);
		sqlite3_free(sql);
	}
	sqlite3_finalize(list);
}

static void open_failed(struct sql_error *error, const char *path, sqlite3 *db, int rc)
{
	/* errno only explains file-system failures; for others it may be stale. */
	bool os_failure = (rc & 0xff) == SQLITE_CANTOPEN || (rc & 0xff) == SQLITE_IOERR;
	int sys_errno = db && os_failure ? sqlite3_system_errno(db) : 0;
	const char *msg = db ? sqlite3_errmsg(db) : "out of memory";

	if (sys_errno)
		sql_error_set(error, SQL_ERROR_OPEN_FAILED, "cannot open database %s: %s (%s)",
			      path, msg, strerror(sys_errno));
	else
		sql_error_set(error, SQL_ERROR_OPEN_FAILED, "cannot open database %s: %s", path,
			      msg);
}

int sql_guard_open(const char *db_path, sqlite3 **ret_db, struct sql_error *ret_error)
{
	sqlite3 *db = NULL;
	char *uri;
	int r, rc;

	*ret_db = NULL;
	r = check_path(db_path, ret_error);
	if (r < 0)
		return r;
	r = sqlite_ro_uri(db_path, &uri);
	if (r == -EBUSY) {
		sql_error_set(ret_error, SQL_ERROR_OPEN_FAILED, "cannot open database %s: %s",
			      db_path, SQLITE_HOT_JOURNAL_TEXT);
		return r;
	}
	if (r < 0) {
		open_failed(ret_error, db_path, NULL, SQLITE_NOMEM);
		return r;
	}
	rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
			     NULL);
	free(uri);
	if (rc == SQLITE_OK && configure(db) < 0) {
		sql_error_set(ret_error, SQL_ERROR_OPEN_FAILED,
			      "cannot open database %s: cannot apply the read-only settings",
			      db_path);
		sqlite3_close(db);
		return -EIO;
	}
	/* Opening is lazy; reading the schema is what finds a file that is not
	 * a database (or is damaged). */
	if (rc == SQLITE_OK)
		rc = run_fixed(db, "SELECT count(*) FROM sqlite_schema");
	if (rc != SQLITE_OK) {
		open_failed(ret_error, db_path, db, rc);
		sqlite3_close(db);
		return rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
	}
	prewarm_vtabs(db);
	*ret_db = db;
	return 0;
}

/* ---- authorizer ------------------------------------------------------- */

static bool name_in(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; name && i < n; i++) {
		if (sqlite3_stricmp(name, list[i]) == 0)
			return true;
	}
	return false;
}

static bool pragma_allowed(const char *name)
{
	/* Read-only schema introspection. data_version is a read-only counter
	 * that FTS5 reads internally on every query. */
	static const char *const allowed[] = {
		"table_info",  "table_xinfo",	   "table_list",   "index_list",
		"index_info",  "index_xinfo",	   "foreign_key_list", "data_version",
	};
	return name_in(name, allowed, sizeof(allowed) / sizeof(allowed[0]));
}

static bool function_allowed(const char *name)
{
	/* SQLite does not tell the authorizer whether a function is
	 * deterministic, so refuse the built-ins known to reach outside the
	 * query: loading code, the FTS3 tokenizer pointer interface (compiled
	 * in on Debian) and the shell's file functions. */
	static const char *const refused[] = {
		"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit",
	};
	return !name_in(name, refused, sizeof(refused) / sizeof(refused[0]));
}

static const char *action_name(int code)
{
	switch (code) {
	case SQLITE_INSERT: return "INSERT";
	case SQLITE_UPDATE: return "UPDATE";
	case SQLITE_DELETE: return "DELETE";
	case SQLITE_CREATE_INDEX: case SQLITE_CREATE_TEMP_INDEX: return "CREATE INDEX";
	case SQLITE_CREATE_TABLE: case SQLITE_CREATE_TEMP_TABLE: return "CREATE TABLE";
	case SQLITE_CREATE_TRIGGER: case SQLITE_CREATE_TEMP_TRIGGER: return "CREATE TRIGGER";
	case SQLITE_CREATE_VIEW: case SQLITE_CREATE_TEMP_VIEW: return "CREATE VIEW";
	case SQLITE_CREATE_VTABLE: return "CREATE VIRTUAL TABLE";
	case SQLITE_DROP_INDEX: case SQLITE_DROP_TEMP_INDEX: return "DROP INDEX";
	case SQLITE_DROP_TABLE: case SQLITE_DROP_TEMP_TABLE: return "DROP TABLE";
	case SQLITE_DROP_TRIGGER: case SQLITE_DROP_TEMP_TRIGGER: return "DROP TRIGGER";
	case SQLITE_DROP_VIEW: case SQLITE_DROP_TEMP_VIEW: return "DROP VIEW";
	case SQLITE_DROP_VTABLE: return "DROP VIRTUAL TABLE";
	case SQLITE_ALTER_TABLE: return "ALTER TABLE";
	case SQLITE_ATTACH: return "ATTACH";
	case SQLITE_DETACH: return "DETACH";
	case SQLITE_SAVEPOINT: return "SAVEPOINT";
	case SQLITE_ANALYZE: return "ANALYZE";
	case SQLITE_REINDEX: return "REINDEX";
	default: return NULL;
	}
}

static bool is_schema_table(const char *name)
{
	return name && (!sqlite3_stricmp(name, "sqlite_master") ||
			!sqlite3_stricmp(name, "sqlite_temp_master"));
}

static void describe_refusal(struct sql_guard *guard, int code, const char *arg1)
{
	char *out = guard->denied_what;
	size_t size = sizeof(guard->denied_what);
	const char *name = action_name(code);

	if (code == SQLITE_UPDATE && guard->seen_select && is_schema_table(arg1)) {
		/* Inside a SELECT this is SQLite declaring a virtual table
		 * that was not connected in advance (see prewarm_vtabs). */
		snprintf(out, size, "this table-valued function or virtual table");
		guard->denied_why = "only json_each, json_tree, the pragma_* forms of the allowed "
				    "PRAGMAs and the dataset's own virtual tables can be used";
	} else if (code == SQLITE_PRAGMA) {
		snprintf(out, size, "PRAGMA %s", arg1 ? arg1 : "");
	} else if (code == SQLITE_FUNCTION) {
		snprintf(out, size, "function %s()", arg1 ? arg1 : "");
	} else if (code == SQLITE_TRANSACTION) {
		snprintf(out, size, "%s (transactions)", arg1 ? arg1 : "BEGIN");
	} else {
		snprintf(out, size, "%s", name ? name : "this operation");
	}
}

static int guard_authorize(void *arg, int code, const char *arg1, const char *arg2,
			   const char *db_name, const char *trigger)
{
	struct sql_guard *guard = arg;
	bool allowed;

	(void)db_name;
	(void)trigger;
	switch (code) {
	case SQLITE_SELECT:
		guard->seen_select = true;
		/* fall through */
	case SQLITE_READ:
	case SQLITE_RECURSIVE:
		allowed = true;
		break;
	case SQLITE_FUNCTION:
		/* For SQLITE_FUNCTION the function name is the second argument. */
		allowed = function_allowed(arg2);
		arg1 = arg2;
		break;
	case SQLITE_PRAGMA:
		allowed = pragma_allowed(arg1);
		break;
	default:
		allowed = false;
		break;
	}
	if (allowed)
		return SQLITE_OK;
	if (!guard->denied) {
		guard->denied = true;
		describe_refusal(guard, code, arg1);
	}
	return SQLITE_DENY;
}

/* ---- time limit ------------------------------------------------------- */

static int guard_progress(void *arg)
{
	struct sql_guard *guard = arg;

	if (sql_clock_now_ns() < guard->deadline_ns)
		return 0;
	guard->timed_out = true;
	return 1; /* the running step returns SQLITE_INTERRUPT */
}

void sql_guard_arm(sqlite3 *db, struct sql_guard *guard)
{
	sqlite3_set_authorizer(db, guard_authorize, guard);
	sqlite3_progress_handler(db, PROGRESS_STEPS, guard_progress, guard);
}
