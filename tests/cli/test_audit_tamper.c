/*
 * Tests of `ledgerbox audit verify` and `audit head` against tampering
 * done behind ledgerbox's back, over a real server: runs are made through
 * the HTTP API (one of them answered from the cache), the server stops,
 * and the database is edited with SQLite's or libpq's own calls, as
 * someone holding the file or the tables would. Then the real CLI must say
 * what differs and where: a run's cost edited in `runs`, a run row
 * deleted, the chain's tail cut with the head moved back, and a run
 * rewritten with its entry, every later hash and the ledger recomputed
 * (the last two are caught only against an anchor taken before), one
 * ledger row deleted and another added, a principal renamed, and a
 * plain-words run of two attempts (and its cache hit) that verifies
 * untouched until its first attempt's charge is deleted. Anchors from
 * another database, beyond the head or malformed do not match. The
 * server's anchor log line is checked against the chain too.
 */
#include <sqlite3.h>

#include "http/httplib.h"
#include "store/store_internal.h"
#include "support/llm_stub.h"

#define RUNS 3

struct made {
	struct server srv;
	char db_url[PGT_URL_MAX]; /* "" on SQLite */
	char run_ids[RUNS + 1][STORE_RUN_ID_LEN + 1]; /* the last: the cache hit */
};

/* ---- the database, behind ledgerbox's back ------------------------------ */

static sqlite3 *sqlite_of(const struct made *m)
{
	char path[700];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/ledgerbox.db", m->srv.state);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	return db;
}

static void sql(const struct made *m, const char *text)
{
	if (m->db_url[0]) {
		pgt_exec(m->db_url, text);
	} else {
		sqlite3 *db = sqlite_of(m);
		char *err = NULL;

		if (sqlite3_exec(db, text, NULL, NULL, &err) != SQLITE_OK)
			fail_msg("%s: %s", text, err);
		sqlite3_close(db);
	}
}

/* The first column of the first row of a query, as text (malloc'd). */
static char *sql_text(const struct made *m, const char *text)
{
	char *ret = NULL;

	if (m->db_url[0]) {
		PGconn *c = PQconnectdb(m->db_url);
		PGresult *res = PQexec(c, text);

		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1)
			fail_msg("%s: %s", text, PQerrorMessage(c));
		ret = strdup(PQgetvalue(res, 0, 0));
		PQclear(res);
		PQfinish(c);
	} else {
		sqlite3 *db = sqlite_of(m);
		sqlite3_stmt *st;

		assert_int_equal(sqlite3_prepare_v2(db, text, -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		ret = strdup((const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
	return ret;
}

static long long sql_number(const struct made *m, const char *text)
{
	char *v = sql_text(m, text);
	long long n = strtoll(v, NULL, 10);

	free(v);
	return n;
}

/* Lets whoever holds the database edit the append-only tables. */
static void triggers_off(const struct made *m)
{
	if (m->db_url[0])
		sql(m, "ALTER TABLE audit DISABLE TRIGGER USER;"
		       "ALTER TABLE audit_head DISABLE TRIGGER USER;"
		       "ALTER TABLE ledger DISABLE TRIGGER USER");
	else
		sql(m, "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;"
		       "DROP TRIGGER audit_head_forward; DROP TRIGGER ledger_no_update;"
		       "DROP TRIGGER ledger_no_delete");
}

/* The careful forger: from entry `from` on, every prev_hash and hash
 * recomputed with the chain's own hashing, and the head moved to match. */
static void rehash_from(const struct made *m, long long from)
{
	long long head = sql_number(m, "SELECT entries FROM audit_head");
	char q[512], prev[STORE_HASH_HEX_LEN + 1], hash[STORE_HASH_HEX_LEN + 1];
	char *p;

	snprintf(q, sizeof(q), "SELECT hash FROM audit WHERE id = %lld", from - 1);
	p = from > 1 ? sql_text(m, q) : strdup(store_audit_zero_hash);
	snprintf(prev, sizeof(prev), "%s", p);
	free(p);
	for (long long id = from; id <= head; id++) {
		struct store_audit_entry e = { .id = id, .prev_hash = prev };
		char *f[5], *upd;
		const char *cols[5] = { "at_ms", "actor", "action", "subject", "detail" };

		for (int i = 0; i < 5; i++) {
			snprintf(q, sizeof(q), "SELECT %s FROM audit WHERE id = %lld", cols[i], id);
			f[i] = sql_text(m, q);
		}
		e.at_ms = strtoll(f[0], NULL, 10);
		e.actor = f[1];
		e.action = f[2];
		e.subject = f[3];
		e.detail = f[4];
		store_audit_hash(&e, hash);
		assert_true(asprintf(&upd, "UPDATE audit SET prev_hash = '%s', hash = '%s' WHERE id = %lld",
				     prev, hash, id) > 0);
		sql(m, upd);
		free(upd);
		memcpy(prev, hash, sizeof(prev));
		for (int i = 0; i < 5; i++)
			free(f[i]);
	}
	assert_true(asprintf(&p, "UPDATE audit_head SET last_hash = '%s'", prev) > 0);
	sql(m, p);
	free(p);
}

static char *file_text(const char *path)
{
	FILE *f = fopen(path, "re");
	char *text = calloc(1, 1 << 20);
	size_t n;

	assert_non_null(f);
	assert_non_null(text);
	n = fread(text, 1, (1 << 20) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

/* ---- the real server and CLI ---------------------------------------------- */

/* The server started on a fresh database, with a key for tess of team
 * audit (returned, malloc'd). */
static char *made_open(struct made *m, const char *name, bool postgres, char *const env[])
{
	memset(m, 0, sizeof(*m));
	hl_prepare(&m->srv, name, env);
	if (postgres) {
		pgt_db_create("audit_tamper", m->db_url);
		snprintf(m->srv.db_env, sizeof(m->srv.db_env), "LEDGERBOX_DATABASE_URL=%s", m->db_url);
	} else if (m->srv.db_env[0]) {
		snprintf(m->db_url, sizeof(m->db_url), "%s", strchr(m->srv.db_env, '=') + 1);
	}
	hl_start(&m->srv);
	return hl_key_create(&m->srv, "tess", "audit", "analyst");
}

static void made_start(struct made *m, const char *name, bool postgres, char *const env[])
{
	struct reply r;
	char *key = made_open(m, name, postgres, env), body[256];

	for (int i = 0; i <= RUNS; i++) {
		/* The last repeats the first: an exact cache hit, recorded too. */
		snprintf(body, sizeof(body),
			 "{\"language\":\"python\",\"dataset\":\"demo\",\"code\":\"print(%d)\"}",
			 i < RUNS ? i + 1 : 1);
		hl_call(&m->srv, "POST", "/api/analyze", key, body, &r);
		if (r.status != 200)
			fail_msg("run %d: %ld %s", i, r.status, r.body);
		snprintf(m->run_ids[i], sizeof(m->run_ids[i]), "%s", hl_str(r.json, "id"));
		hl_reply_free(&r);
	}
	free(key);
	assert_int_equal(hl_stop(&m->srv, SIGTERM), 0);
}

static void made_end(struct made *m)
{
	if (m->db_url[0])
		pgt_db_drop(m->db_url);
}

/* `ledgerbox audit ARGS...` on the server's state: exit code and output. */
static int audit(struct made *m, struct tl_output *o, const char *sub, const char *against)
{
	char *argv[] = { (char *)tl_bin(), "audit", (char *)sub, "--state-dir", m->srv.state,
			 against ? "--against" : NULL, (char *)against, NULL };

	hl_db_env_apply(&m->srv);
	tl_run(argv, NULL, o);
	return o->exit_code;
}

/* The head now, as `audit head` prints it (malloc'd, no newline). */
static char *head_now(struct made *m)
{
	struct tl_output o;
	char *line;

	assert_int_equal(audit(m, &o, "head", NULL), 0);
	line = strndup(o.out, strcspn(o.out, "\n"));
	tl_output_free(&o);
	assert_non_null(strchr(line, ':'));
	return line;
}

static void expect_verify(struct made *m, const char *against, int code, const char *needle)
{
	struct tl_output o;
	int rc = audit(m, &o, "verify", against);

	if (rc != code || (needle && !strstr(o.out, needle)))
		fail_msg("audit verify exited %d (wanted %d) without '%s':\n%s%s", rc, code,
			 needle ? needle : "", o.out, o.err);
	if (getenv("AUDIT_TEST_SHOW"))
		printf("# verify%s%s -> %d:\n%s", against ? " --against " : "", against ? against : "",
		       rc, o.out);
	tl_output_free(&o);
}

/* ---- the cases -------------------------------------------------------------- */

static void untouched_runs_verify_with_their_anchor(bool postgres)
{
	char *env[] = { "LEDGERBOX_AUDIT_ANCHOR_EVERY=2", NULL };
	char *log, *anchor, *head, needle[200];
	struct made m;

	made_start(&m, "audit-untouched", postgres, env);
	head = head_now(&m);
	expect_verify(&m, NULL, 0, "audit log intact: ");
	expect_verify(&m, NULL, 0, "runs match the audit log and the ledger: 4 runs");
	expect_verify(&m, head, 0, "matches");
	/* The server logged entry 2 (of 5: a key, four runs) as an anchor,
	 * and that anchor verifies. */
	log = sql_text(&m, "SELECT hash FROM audit WHERE id = 2");
	assert_true(asprintf(&anchor, "2:%s", log) > 0);
	free(log);
	log = file_text(m.srv.log);
	snprintf(needle, sizeof(needle), "\"anchor\":\"%s\"", anchor);
	if (!strstr(log, "\"event\":\"audit.anchor\"") || !strstr(log, needle))
		fail_msg("no audit.anchor line with %s in the server's log:\n%s", anchor, log);
	expect_verify(&m, anchor, 0, "anchor 2 matches");
	free(log);
	/* The repeated run was answered from the cache, and its entry says so
	 * along with who ran it, over what, at what cost. */
	snprintf(needle, sizeof(needle), "SELECT detail FROM audit WHERE subject = '%s'",
		 m.run_ids[RUNS]);
	log = sql_text(&m, needle);
	if (!strstr(log, "\"cacheType\":\"exact\"") || !strstr(log, "\"team\":\"audit\"") ||
	    !strstr(log, "\"datasetFingerprint\":\"") || !strstr(log, "\"costMicros\":") ||
	    !strstr(log, "\"codeSha256\":\"") || !strstr(log, "\"keyId\":1"))
		fail_msg("the cache hit's audit entry lacks its facts: %s", log);
	free(log);
	free(anchor);
	free(head);
	made_end(&m);
}

static void cost_edited_in_runs_is_named(bool postgres)
{
	struct made m;
	char q[300], needle[120];

	made_start(&m, "audit-cost", postgres, (char *[]){ NULL });
	if (postgres)
		snprintf(q, sizeof(q),
			 "UPDATE runs SET result = jsonb_set(result::jsonb, '{cost,totalMicros}',"
			 " '1')::text WHERE id = '%s'", m.run_ids[1]);
	else
		snprintf(q, sizeof(q),
			 "UPDATE runs SET result = json_set(result, '$.cost.totalMicros', 1)"
			 " WHERE id = '%s'", m.run_ids[1]);
	sql(&m, q);
	snprintf(needle, sizeof(needle), "run %s: costMicros is 1 in the runs table", m.run_ids[1]);
	expect_verify(&m, NULL, 1, needle);
	expect_verify(&m, NULL, 1, "runs differ from the audit log");
	made_end(&m);
}

static void deleted_run_row_is_named(bool postgres)
{
	struct made m;
	char q[300], needle[160];

	made_start(&m, "audit-delete", postgres, (char *[]){ NULL });
	snprintf(q, sizeof(q), "DELETE FROM artifacts WHERE run_id = '%s';"
			       "DELETE FROM runs WHERE id = '%s'", m.run_ids[2], m.run_ids[2]);
	sql(&m, q);
	snprintf(needle, sizeof(needle), "run %s: its audit entry", m.run_ids[2]);
	expect_verify(&m, NULL, 1, needle);
	expect_verify(&m, NULL, 1, "has no row in the runs table");
	made_end(&m);
}

/* The last two runs go, rows, entries and all, and the head moves back:
 * consistent, so only an anchor from before tells. */
static void cut_tail_is_caught_against_an_anchor(bool postgres)
{
	struct made m;
	char *anchor, q[600];
	long long head;

	made_start(&m, "audit-cut", postgres, (char *[]){ NULL });
	anchor = head_now(&m);
	head = sql_number(&m, "SELECT entries FROM audit_head");
	triggers_off(&m);
	snprintf(q, sizeof(q),
		 "DELETE FROM artifacts WHERE run_id IN (SELECT subject FROM audit WHERE id > %lld);"
		 "DELETE FROM runs WHERE id IN (SELECT subject FROM audit WHERE id > %lld);"
		 "DELETE FROM audit WHERE id > %lld;"
		 "UPDATE audit_head SET entries = %lld,"
		 " last_hash = (SELECT hash FROM audit WHERE id = %lld)",
		 head - 2, head - 2, head - 2, head - 2, head - 2);
	sql(&m, q);
	expect_verify(&m, NULL, 0, "audit log intact: ");
	expect_verify(&m, anchor, 1, "is missing");
	expect_verify(&m, anchor, 1, "cut back below the anchor");
	free(anchor);
	made_end(&m);
}

/* A run's cost lowered in its row, in its chained entry, in the ledger,
 * with every later hash and the head recomputed: nothing inside the
 * database disagrees any more, but the anchor does. */
static void rewritten_and_rehashed_is_caught_against_an_anchor(bool postgres)
{
	unsigned char digest[crypto_hash_sha256_BYTES];
	char sha[STORE_HASH_HEX_LEN + 1], q[1200], *anchor, *result, *detail_text, *detail_new;
	const char *run;
	struct made m;
	json_t *detail;
	long long entry;

	made_start(&m, "audit-rehash", postgres, (char *[]){ NULL });
	anchor = head_now(&m);
	run = m.run_ids[0];
	triggers_off(&m);
	snprintf(q, sizeof(q),
		 postgres ? "UPDATE runs SET result = jsonb_set(result::jsonb, '{cost,totalMicros}',"
			    " '1')::text WHERE id = '%s';"
			    "UPDATE ledger SET amount_micros = 1 WHERE run_id = '%s'"
			  : "UPDATE runs SET result = json_set(result, '$.cost.totalMicros', 1)"
			    " WHERE id = '%s';"
			    "UPDATE ledger SET amount_micros = 1 WHERE run_id = '%s'",
		 run, run);
	sql(&m, q);
	snprintf(q, sizeof(q), "SELECT result FROM runs WHERE id = '%s'", run);
	result = sql_text(&m, q);
	crypto_hash_sha256(digest, (const unsigned char *)result, strlen(result));
	sodium_bin2hex(sha, sizeof(sha), digest, sizeof(digest));
	snprintf(q, sizeof(q), "SELECT id FROM audit WHERE action = 'run' AND subject = '%s'", run);
	entry = sql_number(&m, q);
	snprintf(q, sizeof(q), "SELECT detail FROM audit WHERE id = %lld", entry);
	detail_text = sql_text(&m, q);
	detail = json_loads(detail_text, 0, NULL);
	json_object_set_new(detail, "costMicros", json_integer(1));
	json_object_set_new(detail, "resultSha256", json_string(sha));
	json_object_set_new(json_object_get(detail, "charges"), run, json_integer(1));
	detail_new = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
	assert_true(strlen(detail_new) < 900);
	snprintf(q, sizeof(q), "UPDATE audit SET detail = '%s' WHERE id = %lld", detail_new, entry);
	sql(&m, q);
	rehash_from(&m, entry);
	expect_verify(&m, NULL, 0, "runs match the audit log and the ledger");
	expect_verify(&m, anchor, 1, "was rewritten at or before that entry");
	json_decref(detail);
	free(detail_new);
	free(detail_text);
	free(result);
	free(anchor);
	made_end(&m);
}

/* One of a run's ledger rows deleted (its user is no longer charged), or
 * one added for a scope the run was never charged to: no field of the
 * run differs, but the ledger does. */
static void ledger_rows_deleted_or_added_are_named(bool postgres)
{
	struct made m;
	char q[400], needle[200];
	long long micros;

	made_start(&m, "audit-ledger", postgres, (char *[]){ NULL });
	triggers_off(&m);
	snprintf(q, sizeof(q), "SELECT amount_micros FROM ledger WHERE run_id = '%s' AND scope = 'org'",
		 m.run_ids[2]);
	micros = sql_number(&m, q);
	snprintf(q, sizeof(q),
		 "DELETE FROM ledger WHERE run_id = '%s' AND scope = 'user:tess';"
		 "INSERT INTO ledger (run_id, scope, amount_micros, at_ms)"
		 " VALUES ('%s', 'team:other', %lld, 1)",
		 m.run_ids[1], m.run_ids[2], micros);
	sql(&m, q);
	snprintf(needle, sizeof(needle), "run %s: the ledger has no charge to user:tess under %s",
		 m.run_ids[1], m.run_ids[1]);
	expect_verify(&m, NULL, 1, needle);
	snprintf(needle, sizeof(needle), "run %s: the ledger charges %lld micros to team:other",
		 m.run_ids[2], micros);
	expect_verify(&m, NULL, 1, needle);
	expect_verify(&m, NULL, 1, "2 differences");
	/* With the one-row-per-scope rule dropped, a scope charged twice for
	 * one run, and a charge for the cache hit, which was never charged. */
	sql(&m, postgres ? "ALTER TABLE ledger DROP CONSTRAINT ledger_run_id_scope_key"
			 : "CREATE TABLE ledger_copy AS SELECT * FROM ledger; DROP TABLE ledger;"
			   " ALTER TABLE ledger_copy RENAME TO ledger");
	snprintf(q, sizeof(q),
		 "INSERT INTO ledger (run_id, scope, amount_micros, at_ms)"
		 " SELECT run_id, scope, amount_micros, at_ms FROM ledger"
		 " WHERE run_id = '%s' AND scope = 'org';"
		 "INSERT INTO ledger (run_id, scope, amount_micros, at_ms)"
		 " VALUES ('%s', 'org', 5, 1)",
		 m.run_ids[0], m.run_ids[RUNS]);
	sql(&m, q);
	snprintf(needle, sizeof(needle), "run %s: the ledger charges org twice under %s",
		 m.run_ids[0], m.run_ids[0]);
	expect_verify(&m, NULL, 1, needle);
	snprintf(needle, sizeof(needle), "run %s: the ledger charges 5 micros to org under %s, a "
		 "charge its audit entry", m.run_ids[RUNS], m.run_ids[RUNS]);
	expect_verify(&m, NULL, 1, needle);
	made_end(&m);
}

/* The principal behind the runs renamed: every run now reads as
 * another user's, though no run row changed. */
static void renamed_principal_is_named(bool postgres)
{
	struct made m;
	char needle[200];

	made_start(&m, "audit-rename", postgres, (char *[]){ NULL });
	sql(&m, postgres ? "UPDATE principals SET user_name = 'mallory' WHERE user_name = 'tess'"
			 : "UPDATE principals SET user = 'mallory' WHERE user = 'tess'");
	snprintf(needle, sizeof(needle), "run %s: user is \"mallory\" in the principals table but "
		 "\"tess\" in its audit entry", m.run_ids[0]);
	expect_verify(&m, NULL, 1, needle);
	made_end(&m);
}

/* Anchors that do not belong: a malformed one is a usage error; one from
 * another database and one beyond the head do not match. */
static void foreign_and_future_anchors_do_not_match(bool postgres)
{
	struct made m, other;
	char *mine, *theirs, beyond[STORE_AUDIT_ANCHOR_TEXT_MAX + 8];

	made_start(&m, "audit-anchor-a", postgres, (char *[]){ NULL });
	made_start(&other, "audit-anchor-b", postgres, (char *[]){ NULL });
	theirs = head_now(&other);
	mine = head_now(&m);
	expect_verify(&m, mine, 0, "matches");
	expect_verify(&m, "5:ABC", 64, NULL);
	expect_verify(&m, "x:0000000000000000000000000000000000000000000000000000000000000000",
		      64, NULL);
	/* Same number of entries, other runs: another hash. */
	expect_verify(&m, theirs, 1, "was rewritten at or before that entry");
	snprintf(beyond, sizeof(beyond), "%lld%s", strtoll(mine, NULL, 10) + 1, strchr(mine, ':'));
	expect_verify(&m, beyond, 1, "is missing");
	free(mine);
	free(theirs);
	made_end(&other);
	made_end(&m);
}

/* Plain-words runs: one repaired once (two attempts, two ledger ids), then
 * the same question again, answered from the cache. Untouched, all
 * agree; the first attempt's charge deleted whole is named (only the
 * last attempt's may be missing: the next start settles that one). */
static void plain_words_runs_verify_and_a_lost_attempt_charge_is_named(bool postgres,
									  bool free_model)
{
	char url[128];
	/* A free model's attempts cost nothing and are never settled: no
	 * ledger rows, and no difference either. */
	char *env[] = { url, "LEDGERBOX_LLM_API=ollama", "LEDGERBOX_LLM_RETRIES=0",
			free_model ? "LEDGERBOX_MODEL_RATES=llama3.1=0,0"
				   : "LEDGERBOX_MODEL_RATES=llama3.1=1,2",
			"LEDGERBOX_REPAIR_ATTEMPTS=2", NULL };
	const char *ask = "{\"query\":\"how many customers are there?\",\"language\":\"sql\","
			  "\"dataset\":\"demo\"}";
	struct stub_reply bad = { .content = "```sql\nSELECT no_such_column FROM customers\n```" };
	struct stub_reply good = { .content = "```sql\nSELECT COUNT(*) FROM customers\n```" };
	struct llm_stub *stub = llm_stub_start();
	char *key, q[300], needle[200], run[STORE_RUN_ID_LEN + 1];
	struct made m;
	struct reply r;

	snprintf(url, sizeof(url), "LEDGERBOX_LLM_URL=http://127.0.0.1:%d", llm_stub_port(stub));
	key = made_open(&m, free_model ? "audit-llm-free" : "audit-llm", postgres, env);
	llm_stub_push(stub, &bad);
	llm_stub_push(stub, &good);
	hl_call(&m.srv, "POST", "/api/analyze", key, ask, &r);
	if (r.status != 200 || json_array_size(json_object_get(r.json, "attempts")) != 2)
		fail_msg("wanted a run of two attempts: %ld %s", r.status, r.body);
	snprintf(run, sizeof(run), "%s", hl_str(r.json, "id"));
	hl_reply_free(&r);
	hl_call(&m.srv, "POST", "/api/analyze", key, ask, &r);
	if (r.status != 200 || !json_is_string(json_object_get(r.json, "cacheType")))
		fail_msg("wanted a cache hit: %ld %s", r.status, r.body);
	hl_reply_free(&r);
	free(key);
	assert_int_equal(hl_stop(&m.srv, SIGTERM), 0);
	llm_stub_stop(stub);
	expect_verify(&m, NULL, 0, "runs match the audit log and the ledger: 2 runs");
	if (free_model) {
		made_end(&m);
		return;
	}
	triggers_off(&m);
	snprintf(q, sizeof(q), "DELETE FROM ledger WHERE run_id = '%s'", run);
	sql(&m, q);
	snprintf(needle, sizeof(needle), "run %s: the ledger has no charge under %s", run, run);
	expect_verify(&m, NULL, 1, needle);
	made_end(&m);
}

/* Other recorded facts edited in place: one run's status and creation
 * time, another's dataset fingerprint (inside its stored answer, so the
 * answer's digest differs too). Each is named. */
static void other_facts_edited_are_named(bool postgres)
{
	struct made m;
	char q[500], needle[200];

	made_start(&m, "audit-facts", postgres, (char *[]){ NULL });
	snprintf(q, sizeof(q),
		 postgres ? "UPDATE runs SET status = 'error', created_ms = created_ms + 1"
			    " WHERE id = '%s';"
			    "UPDATE runs SET result = jsonb_set(result::jsonb,"
			    " '{datasetVersion,fingerprint}', '\"forged\"')::text WHERE id = '%s'"
			  : "UPDATE runs SET status = 'error', created_ms = created_ms + 1"
			    " WHERE id = '%s';"
			    "UPDATE runs SET result = json_set(result, '$.datasetVersion.fingerprint',"
			    " 'forged') WHERE id = '%s'",
		 m.run_ids[0], m.run_ids[2]);
	sql(&m, q);
	snprintf(needle, sizeof(needle), "run %s: status is \"error\" in the runs table", m.run_ids[0]);
	expect_verify(&m, NULL, 1, needle);
	snprintf(needle, sizeof(needle), "run %s: createdMs is ", m.run_ids[0]);
	expect_verify(&m, NULL, 1, needle);
	snprintf(needle, sizeof(needle), "run %s: datasetFingerprint is \"forged\"", m.run_ids[2]);
	expect_verify(&m, NULL, 1, needle);
	snprintf(needle, sizeof(needle), "run %s: resultSha256 is ", m.run_ids[2]);
	expect_verify(&m, NULL, 1, needle);
	made_end(&m);
}

static void sqlite_untouched(void **state)
{
	(void)state;
	untouched_runs_verify_with_their_anchor(false);
}

static void sqlite_cost_edit(void **state)
{
	(void)state;
	cost_edited_in_runs_is_named(false);
}

static void sqlite_deleted_row(void **state)
{
	(void)state;
	deleted_run_row_is_named(false);
}

static void sqlite_cut_tail(void **state)
{
	(void)state;
	cut_tail_is_caught_against_an_anchor(false);
}

static void sqlite_rehashed(void **state)
{
	(void)state;
	rewritten_and_rehashed_is_caught_against_an_anchor(false);
}

static void pg_untouched(void **state)
{
	(void)state;
	untouched_runs_verify_with_their_anchor(true);
}

static void pg_cost_edit(void **state)
{
	(void)state;
	cost_edited_in_runs_is_named(true);
}

static void pg_deleted_row(void **state)
{
	(void)state;
	deleted_run_row_is_named(true);
}

static void pg_cut_tail(void **state)
{
	(void)state;
	cut_tail_is_caught_against_an_anchor(true);
}

static void sqlite_ledger(void **state)
{
	(void)state;
	ledger_rows_deleted_or_added_are_named(false);
}

static void sqlite_rename(void **state)
{
	(void)state;
	renamed_principal_is_named(false);
}

static void sqlite_anchors(void **state)
{
	(void)state;
	foreign_and_future_anchors_do_not_match(false);
}

static void sqlite_plain_words(void **state)
{
	(void)state;
	plain_words_runs_verify_and_a_lost_attempt_charge_is_named(false, false);
}

static void pg_ledger(void **state)
{
	(void)state;
	ledger_rows_deleted_or_added_are_named(true);
}

static void pg_rename(void **state)
{
	(void)state;
	renamed_principal_is_named(true);
}

static void pg_anchors(void **state)
{
	(void)state;
	foreign_and_future_anchors_do_not_match(true);
}

static void pg_plain_words(void **state)
{
	(void)state;
	plain_words_runs_verify_and_a_lost_attempt_charge_is_named(true, false);
}

static void pg_rehashed(void **state)
{
	(void)state;
	rewritten_and_rehashed_is_caught_against_an_anchor(true);
}

static void sqlite_plain_words_free(void **state)
{
	(void)state;
	plain_words_runs_verify_and_a_lost_attempt_charge_is_named(false, true);
}

static void sqlite_facts(void **state)
{
	(void)state;
	other_facts_edited_are_named(false);
}

static void pg_facts(void **state)
{
	(void)state;
	other_facts_edited_are_named(true);
}

int main(void)
{
	const struct CMUnitTest sqlite_tests[] = {
		cmocka_unit_test(sqlite_untouched),
		cmocka_unit_test(sqlite_cost_edit),
		cmocka_unit_test(sqlite_deleted_row),
		cmocka_unit_test(sqlite_cut_tail),
		cmocka_unit_test(sqlite_rehashed),
		cmocka_unit_test(sqlite_ledger),
		cmocka_unit_test(sqlite_rename),
		cmocka_unit_test(sqlite_anchors),
		cmocka_unit_test(sqlite_plain_words),
		cmocka_unit_test(sqlite_plain_words_free),
		cmocka_unit_test(sqlite_facts),
	};
	const struct CMUnitTest pg_tests[] = {
		cmocka_unit_test(pg_untouched),
		cmocka_unit_test(pg_cost_edit),
		cmocka_unit_test(pg_deleted_row),
		cmocka_unit_test(pg_cut_tail),
		cmocka_unit_test(pg_rehashed),
		cmocka_unit_test(pg_ledger),
		cmocka_unit_test(pg_rename),
		cmocka_unit_test(pg_anchors),
		cmocka_unit_test(pg_plain_words),
		cmocka_unit_test(pg_facts),
	};
	int failed = cmocka_run_group_tests_name("audit tampering on SQLite", sqlite_tests, NULL, NULL);

	return failed + cmocka_run_group_tests_name("audit tampering on PostgreSQL", pg_tests, NULL,
						    NULL);
}
