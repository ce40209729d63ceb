/*
 * fuzz_analyze_request: the body of POST /api/analyze, read and checked by
 * analyze_check() and answered by analyze_parse() (src/http/analyze_parse.h).
 *
 * The whole input is the body. LLVMFuzzerInitialize builds, once, what the
 * real checks look at: the configuration's defaults (no LEDGERBOX_*
 * variable) with a data folder made under mkdtemp holding four datasets:
 * "demo" (a SQLite file with every table and column the templates read,
 * and a CSV), "files" (a CSV only), "bare" (a SQLite file no template can
 * use) and "two" (two SQLite files, which SQL refuses). analyze_parse()
 * runs on a request with no connection: libmicrohttpd refuses to queue an
 * answer there (MHD_NO) but the status is recorded first, which is all
 * this needs.
 *
 * Checked:
 * - a problem is a 400 or 404 (500 needs a failing disk or memory), with
 *   a known code, a non-empty message and a field that are valid UTF-8
 *   (the error body must be JSON), and a field that names a known field, a
 *   limit or parameter, or the unknown key that was sent;
 * - an accepted request says exactly what the body said: one mode, with
 *   the very string sent (no byte cut off or changed), the language sent
 *   (SQL for a template without one), a dataset that resolved inside the
 *   data folder (the SQLite file for SQL and templates), a session that is
 *   a valid budget scope, and limits equal to the defaults overridden by
 *   the request, each within the configured maximum;
 * - analyze_parse() agrees with analyze_check() and answers with its
 *   status; releasing works after either.
 */
#include <errno.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "http/analyze_parse.h"
#include "templates/templates.h"
#include "util/utf8.h"
#include "util/banned.h"

static char dir[] = "/tmp/ledgerbox-fuzz-analyze.XXXXXX";
static struct config cfg;
static struct http_server srv;

static const struct {
	const char *name;
	size_t offset;
} limit_fields[] = {
	{ "timeoutMs", offsetof(struct sandbox_limits, wall_ms) },
	{ "cpuMs", offsetof(struct sandbox_limits, cpu_ms) },
	{ "memoryBytes", offsetof(struct sandbox_limits, memory_bytes) },
	{ "pids", offsetof(struct sandbox_limits, pids) },
	{ "outputBytes", offsetof(struct sandbox_limits, output_bytes) },
	{ "tmpBytes", offsetof(struct sandbox_limits, tmp_bytes) },
};

/* ---- the data folder -------------------------------------------------- */

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void cleanup(void)
{
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void make_dir(const char *sub)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/data/%s", dir, sub);
	FUZZ_ASSERT(mkdir(path, 0755) == 0);
}

static void make_file(const char *sub, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/data/%s", dir, sub);
	f = fopen(path, "we");
	FUZZ_ASSERT(f != NULL);
	fputs(text, f);
	FUZZ_ASSERT(fclose(f) == 0);
}

static void sql_exec(sqlite3 *db, const char *sql, bool may_fail)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	FUZZ_ASSERT(rc == SQLITE_OK || may_fail);
}

/* Every table and column some template reads (a column two templates
 * need is added once; the second ALTER fails and that is fine). */
static void template_tables(sqlite3 *db)
{
	json_t *list = templates_to_json(), *t;
	size_t i;

	FUZZ_ASSERT(list != NULL);
	json_array_foreach(list, i, t) {
		const char *table;
		json_t *cols, *col;
		size_t k;
		json_object_foreach(json_object_get(t, "requires"), table, cols) {
			char *sql = sqlite3_mprintf("CREATE TABLE IF NOT EXISTS \"%w\" (fuzz_id)", table);
			sql_exec(db, sql, false);
			sqlite3_free(sql);
			json_array_foreach(cols, k, col) {
				sql = sqlite3_mprintf("ALTER TABLE \"%w\" ADD COLUMN \"%w\"", table,
						      json_string_value(col));
				sql_exec(db, sql, true);
				sqlite3_free(sql);
			}
		}
	}
	json_decref(list);
}

static void make_sqlite(const char *sub, bool templates)
{
	char path[PATH_MAX];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/data/%s", dir, sub);
	FUZZ_ASSERT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) ==
		    SQLITE_OK);
	if (templates)
		template_tables(db);
	else
		sql_exec(db, "CREATE TABLE t (x)", false);
	FUZZ_ASSERT(sqlite3_close(db) == SQLITE_OK);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t n;
	const struct config_setting *settings = config_settings(&n);
	char err[512], path[PATH_MAX];

	(void)argc;
	(void)argv;
	for (size_t i = 0; i < n; i++)
		unsetenv(settings[i].variable);
	FUZZ_ASSERT(config_load(&cfg, NULL, err, sizeof(err)) == 0);
	FUZZ_ASSERT(mkdtemp(dir) != NULL);
	fuzz_on_exit(cleanup);
	snprintf(path, sizeof(path), "%s/data", dir);
	FUZZ_ASSERT(mkdir(path, 0755) == 0);
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", path);
	make_dir("demo");
	make_sqlite("demo/ledger.sqlite", true);
	make_file("demo/invoices.csv", "id,amount\n1,2.50\n");
	make_dir("files");
	make_file("files/notes.csv", "a,b\n1,2\n");
	make_dir("bare");
	make_sqlite("bare/bare.sqlite", false);
	make_dir("two");
	make_sqlite("two/a.sqlite", false);
	make_sqlite("two/b.sqlite", false);
	srv.cfg = &cfg;
	return 0;
}

/* ---- checks ----------------------------------------------------------- */

static bool utf8_valid(const char *s)
{
	char *repaired = NULL;
	size_t n;

	FUZZ_ASSERT(utf8_sanitize(s, strlen(s), &repaired, &n) == 0);
	free(repaired);
	return repaired == NULL;
}

static bool code_known(const char *code)
{
	static const char *const codes[] = {
		"invalid_json", "unknown_field", "conflicting_fields", "missing_field",
		"invalid_type", "empty_code", "invalid_query", "invalid_language",
		"invalid_limit", "invalid_session", "invalid_dataset", "unknown_dataset",
		"unknown_template", "unsuitable_dataset", "invalid_params",
	};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(code, codes[i]) == 0)
			return true;
	return false;
}

static bool field_known(const char *field, const struct analyze_req *a)
{
	static const char *const fields[] = { "code", "language", "dataset", "session", "limits",
					      "query", "template", "params", "cache" };

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcmp(field, fields[i]) == 0)
			return true;
	if (strncmp(field, "limits.", 7) == 0 || strncmp(field, "params.", 7) == 0)
		return true;
	/* An unknown key is named as it was sent. */
	return a->body && json_object_get(a->body, field) != NULL;
}

static void check_problem(const struct analyze_problem *p, const struct analyze_req *a)
{
	json_t *e;

	FUZZ_ASSERT(p->status == 400 || p->status == 404);
	FUZZ_ASSERT(p->code && code_known(p->code));
	FUZZ_ASSERT(p->status == 400 || strcmp(p->code, "unknown_dataset") == 0 ||
		    strcmp(p->code, "unknown_template") == 0);
	FUZZ_ASSERT(memchr(p->message, '\0', sizeof(p->message)) && p->message[0]);
	FUZZ_ASSERT(utf8_valid(p->message));
	if (p->field) {
		/* Empty only when it is an unknown key "" that was sent. */
		FUZZ_ASSERT(utf8_valid(p->field));
		FUZZ_ASSERT(field_known(p->field, a));
	}
	/* What respond_error() builds must build. */
	e = json_pack("{s:s,s:s,s:s?}", "code", p->code, "message", p->message, "field", p->field);
	FUZZ_ASSERT(e != NULL);
	json_decref(e);
}

/* A string the body holds, used whole: no NUL inside cuts it short. */
static void check_whole(const char *used, const char *name, const struct analyze_req *a)
{
	json_t *v = json_object_get(a->body, name);

	FUZZ_ASSERT(json_is_string(v) && used == json_string_value(v));
	FUZZ_ASSERT(strlen(used) == json_string_length(v));
}

static void check_mode(const struct analyze_req *a)
{
	switch (a->mode) {
	case ANALYZE_CODE:
		check_whole(a->code, "code", a);
		FUZZ_ASSERT(strspn(a->code, " \t\r\n") < strlen(a->code));
		FUZZ_ASSERT(!a->query && !a->template_id && !a->owned_code);
		break;
	case ANALYZE_QUERY:
		check_whole(a->query, "query", a);
		FUZZ_ASSERT(strlen(a->query) <= 4000 && strspn(a->query, " \t\r\n") < strlen(a->query));
		FUZZ_ASSERT(!a->code && !a->template_id && !a->owned_code);
		break;
	case ANALYZE_TEMPLATE:
		check_whole(a->template_id, "template", a);
		FUZZ_ASSERT(template_find(a->template_id) != NULL && !a->query);
		FUZZ_ASSERT(a->owned_code && a->code == a->owned_code && a->code[0]);
		FUZZ_ASSERT(a->sqlite_path[0] != '\0');
		break;
	default:
		FUZZ_ASSERT(!"no such mode");
	}
}

static void check_language(const struct analyze_req *a)
{
	json_t *v = json_object_get(a->body, "language");
	enum sandbox_lang lang;

	if (!v) {
		FUZZ_ASSERT(a->mode == ANALYZE_TEMPLATE && a->lang == SANDBOX_LANG_SQL);
		return;
	}
	check_whole(json_string_value(v), "language", a);
	FUZZ_ASSERT(sandbox_lang_parse(json_string_value(v), &lang) == 0 && lang == a->lang);
}

static void check_dataset(const struct analyze_req *a)
{
	char prefix[PATH_MAX];
	size_t n, len;

	if (!a->dataset) {
		FUZZ_ASSERT(a->lang == SANDBOX_LANG_PYTHON && a->mode != ANALYZE_TEMPLATE);
		FUZZ_ASSERT(a->data_path[0] == '\0' && a->sqlite_path[0] == '\0');
		return;
	}
	check_whole(a->dataset, "dataset", a);
	FUZZ_ASSERT(dataset_name_valid(a->dataset));
	n = (size_t)snprintf(prefix, sizeof(prefix), "%s/%s", cfg.data_dir, a->dataset);
	FUZZ_ASSERT(strncmp(a->data_path, prefix, n) == 0);
	FUZZ_ASSERT(a->data_path[n] == '\0' || a->data_path[n] == '/');
	if (a->sqlite_path[0]) {
		len = strlen(a->sqlite_path);
		FUZZ_ASSERT(strncmp(a->sqlite_path, prefix, n) == 0 && a->sqlite_path[n] == '/');
		FUZZ_ASSERT(len > 7 && strcmp(a->sqlite_path + len - 7, ".sqlite") == 0);
	}
	if (a->lang == SANDBOX_LANG_SQL)
		FUZZ_ASSERT(strcmp(a->sqlite_path, a->data_path) == 0);
}

static void check_limits(const struct analyze_req *a)
{
	struct sandbox_limits want = cfg.limits;
	json_t *limits = json_object_get(a->body, "limits");
	char why[256];

	for (size_t i = 0; i < sizeof(limit_fields) / sizeof(limit_fields[0]); i++) {
		json_t *v = json_object_get(limits, limit_fields[i].name);
		uint64_t got, max;
		memcpy(&max, (const char *)&cfg.max_limits + limit_fields[i].offset, sizeof(max));
		if (v) {
			FUZZ_ASSERT(json_is_integer(v) && json_integer_value(v) >= 1);
			got = (uint64_t)json_integer_value(v);
			memcpy((char *)&want + limit_fields[i].offset, &got, sizeof(got));
		}
		memcpy(&got, (const char *)&a->limits + limit_fields[i].offset, sizeof(got));
		FUZZ_ASSERT(got >= 1 && got <= max);
	}
	FUZZ_ASSERT(memcmp(&want, &a->limits, sizeof(want)) == 0);
	FUZZ_ASSERT(sandbox_limits_check(&a->limits, why, sizeof(why)) == 0);
}

static void check_accepted(const struct analyze_req *a)
{
	json_t *cache = json_object_get(a->body, "cache");
	char scope[200];

	FUZZ_ASSERT(json_is_object(a->body) && !a->stream);
	check_mode(a);
	check_language(a);
	check_dataset(a);
	check_limits(a);
	if (a->session) {
		check_whole(a->session, "session", a);
		snprintf(scope, sizeof(scope), "session:%s", a->session);
		FUZZ_ASSERT(strlen(a->session) <= 128 && budget_scope_valid(scope));
	}
	FUZZ_ASSERT(!cache || json_is_boolean(cache));
}

/* analyze_parse() on a request without a connection, as the server calls it. */
static void check_parse(char *body, size_t len, int checked, const struct analyze_problem *p,
			const struct analyze_req *a)
{
	struct request rq = { .srv = &srv, .conn = NULL };
	struct analyze_req b;
	enum MHD_Result ret = MHD_YES;
	bool ok;

	snprintf(rq.id, sizeof(rq.id), "fuzz");
	rq.body.data = body;
	rq.body.len = len;
	snprintf(rq.who.user, sizeof(rq.who.user), "fuzz");
	snprintf(rq.who.team, sizeof(rq.who.team), "fuzzers");
	rq.authenticated = true;
	ok = analyze_parse(&rq, &b, &ret);
	FUZZ_ASSERT(ok == (checked == 0));
	if (ok) {
		FUZZ_ASSERT(rq.status == 0 && !b.stream && b.mode == a->mode && b.lang == a->lang);
		FUZZ_ASSERT(strcmp(b.data_path, a->data_path) == 0);
		FUZZ_ASSERT(strcmp(b.code ? b.code : "", a->code ? a->code : "") == 0);
	} else {
		FUZZ_ASSERT(rq.status == (int)p->status && ret == MHD_NO);
	}
	analyze_req_release(&b);
	analyze_req_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = fuzz_dup_exact(data, size);
	struct analyze_problem p;
	struct analyze_req a;
	int rc;

	memset(&p, 0, sizeof(p));
	rc = analyze_check(&cfg, size ? body : NULL, size, &a, &p);
	FUZZ_ASSERT(rc == 0 || rc == -EINVAL);
	if (rc == 0)
		check_accepted(&a);
	else
		check_problem(&p, &a);
	check_parse(body, size, rc, &p, &a);
	analyze_req_release(&a);
	free(body);
	return 0;
}
