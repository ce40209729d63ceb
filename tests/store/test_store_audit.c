/*
 * Tests of the audit log in src/store: a valid chain verifies; edits and
 * deletions made with raw SQLite (after dropping the triggers that refuse
 * them) are found and reported at the right entry. Also: concurrent run
 * inserts from several threads all land, each with its audit entry;
 * anchors fall due and check; the cross-check of runs names what differs.
 */
#include "store_test.h"

#include <pthread.h>

static int64_t verify_bad(struct store *s, char *err, size_t err_len)
{
	int64_t entries = -1, bad = -1;

	assert_int_equal(store_audit_verify(s, &entries, &bad, err, err_len), -EBADMSG);
	assert_int_equal(entries, -1);
	return bad;
}

/* A store with 5 audit entries: 2 key creations, 3 runs. */
static char *audited_state(const char *name)
{
	char *dir = state_path(name), err[256];
	struct principal p;
	struct run_record run;
	struct store *s;
	int64_t entries, bad;

	s = store_at(dir);
	principal_of(s, "hana", "finance", ROLE_ANALYST, &p);
	principal_of(s, "ivan", "finance", ROLE_ADMIN, &p);
	for (int i = 0; i < 3; i++) {
		run_fill(&run, &p, i);
		assert_int_equal(store_run_insert(s, &run, NULL, 0), 0);
	}
	assert_int_equal(store_audit_verify(s, &entries, &bad, err, sizeof(err)), 0);
	assert_int_equal(entries, 5);
	store_close(s);
	return dir;
}

static void audit_chain_verifies_and_refuses_sql_edits(void **state)
{
	char *dir = audited_state("audit-ok"), err[256];
	json_t *detail = json_pack("{s:s}", "note", "pipes | are fine in detail");
	struct store *s;
	int64_t entries, bad;
	(void)state;

	assert_int_not_equal(sql_raw_rc(dir, "UPDATE audit SET actor = 'x' WHERE id = 2"), SQLITE_OK);
	assert_int_not_equal(sql_raw_rc(dir, "DELETE FROM audit WHERE id = 5"), SQLITE_OK);
	assert_int_not_equal(sql_raw_rc(dir, "DELETE FROM audit_head"), SQLITE_OK);
	assert_int_not_equal(sql_raw_rc(dir, "UPDATE audit_head SET entries = 4"), SQLITE_OK);
	s = store_at(dir);
	assert_int_equal(store_audit_append(s, "system", "note", "x", detail), 0);
	assert_int_equal(store_audit_append(s, "sys|tem", "note", "x", NULL), -EINVAL);
	assert_int_equal(store_audit_append(s, "system", "", "x", NULL), -EINVAL);
	assert_int_equal(store_audit_append(s, "system", "note", "a\nb", NULL), -EINVAL);
	assert_int_equal(store_audit_verify(s, &entries, &bad, err, sizeof(err)), 0);
	assert_int_equal(entries, 6);
	json_decref(detail);
	store_close(s);
	free(dir);
}

static void audit_verify_finds_an_edited_entry(void **state)
{
	char *dir = audited_state("audit-edit"), err[256] = "";
	struct store *s;
	(void)state;

	sql_raw(dir, "DROP TRIGGER audit_no_update; UPDATE audit SET subject = 'key:99' WHERE id = 2");
	s = store_at(dir);
	assert_int_equal(verify_bad(s, err, sizeof(err)), 2);
	assert_non_null(strstr(err, "edited"));
	store_close(s);
	free(dir);
}

static void audit_verify_finds_an_edited_and_rehashed_entry(void **state)
{
	char *dir = audited_state("audit-rehash"), err[256] = "";
	struct store *s;
	(void)state;

	/* Entry 3 gets another hash (as if recomputed after an edit): its own
	 * text no longer matches, and were it consistent, entry 4's link
	 * would not. Here the hash mismatch is found first, at 3. */
	sql_raw(dir, "DROP TRIGGER audit_no_update;"
		     "UPDATE audit SET hash = '1111111111111111111111111111111111111111111111111111111111111111' WHERE id = 3");
	s = store_at(dir);
	assert_int_equal(verify_bad(s, err, sizeof(err)), 3);
	store_close(s);
	free(dir);
}

static void audit_verify_finds_a_broken_link(void **state)
{
	char *dir = audited_state("audit-link"), err[256] = "";
	struct store *s;
	(void)state;

	/* Replace entry 3 with a self-consistent forgery: its own hash is
	 * right, but entry 4 still links to the old one. */
	sql_raw(dir, "DROP TRIGGER audit_no_update");
	{
		char *path;
		sqlite3 *db;
		sqlite3_stmt *q;
		char canon[2048], hex[65];
		unsigned char digest[32];
		assert_true(asprintf(&path, "%s/ledgerbox.db", dir) > 0);
		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db,
						    "SELECT id, at_ms, actor, action, subject, detail, prev_hash"
						    " FROM audit WHERE id = 3",
						    -1, &q, NULL),
				 SQLITE_OK);
		assert_int_equal(sqlite3_step(q), SQLITE_ROW);
		snprintf(canon, sizeof(canon), "%lld|%lld|%s|%s|%s|%s|%s",
			 (long long)sqlite3_column_int64(q, 0), (long long)sqlite3_column_int64(q, 1),
			 "mallory", sqlite3_column_text(q, 3), sqlite3_column_text(q, 4),
			 sqlite3_column_text(q, 5), sqlite3_column_text(q, 6));
		sqlite3_finalize(q);
		crypto_hash_sha256(digest, (const unsigned char *)canon, strlen(canon));
		sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
		assert_int_equal(sqlite3_prepare_v2(db, "UPDATE audit SET actor = 'mallory', hash = ?1 WHERE id = 3",
						    -1, &q, NULL),
				 SQLITE_OK);
		sqlite3_bind_text(q, 1, hex, -1, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(q), SQLITE_DONE);
		sqlite3_finalize(q);
		sqlite3_close(db);
		free(path);
	}
	s = store_at(dir);
	assert_int_equal(verify_bad(s, err, sizeof(err)), 4);
	assert_non_null(strstr(err, "entry 3"));
	store_close(s);
	free(dir);
}

static void audit_verify_finds_a_deleted_middle_entry(void **state)
{
	char *dir = audited_state("audit-middle"), err[256] = "";
	struct store *s;
	(void)state;

	sql_raw(dir, "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE id = 3");
	s = store_at(dir);
	assert_int_equal(verify_bad(s, err, sizeof(err)), 3);
	assert_non_null(strstr(err, "missing"));
	store_close(s);
	free(dir);
}

static void audit_verify_finds_a_deleted_last_entry(void **state)
{
	char *dir = audited_state("audit-tail"), err[256] = "";
	struct store *s;
	(void)state;

	sql_raw(dir, "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE id = 5");
	s = store_at(dir);
	assert_int_equal(verify_bad(s, err, sizeof(err)), 5);
	assert_non_null(strstr(err, "missing"));
	store_close(s);
	free(dir);
}

static void audit_verify_finds_a_first_entry_deleted_and_a_hidden_nul(void **state)
{
	char *dir = audited_state("audit-first"), err[256] = "";
	struct store *s;
	(void)state;

	sql_raw(dir, "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE id = 1");
	s = store_at(dir);
	assert_int_equal(verify_bad(s, err, sizeof(err)), 1);
	store_close(s);
	free(dir);

	/* Bytes hidden after a NUL would not reach a C-string hash. */
	dir = audited_state("audit-nul");
	sql_raw(dir, "DROP TRIGGER audit_no_update;"
		     "UPDATE audit SET subject = subject || char(0) || 'hidden' WHERE id = 4");
	s = store_at(dir);
	assert_int_equal(verify_bad(s, err, sizeof(err)), 4);
	store_close(s);
	free(dir);
}

struct insert_job {
	struct store *s;
	struct principal p;
	int failures;
};

static void *insert_many(void *arg)
{
	struct insert_job *job = arg;

	for (int i = 0; i < 50; i++) {
		struct run_record run;
		struct artifact_file out = { "out.txt", "text/plain", "hello", 5 };
		run_fill(&run, &job->p, clock_unix_ms());
		if (store_run_insert(job->s, &run, &out, 1) != 0)
			job->failures++;
	}
	return NULL;
}

static void concurrent_inserts_all_land(void **state)
{
	char *dir = state_path("threads"), err[256];
	struct insert_job jobs[4];
	pthread_t threads[4];
	struct principal admin;
	struct store *s;
	json_t *list;
	int64_t total, entries, bad;
	(void)state;

	s = store_at(dir);
	principal_of(s, "root", "it", ROLE_ADMIN, &admin);
	for (int i = 0; i < 4; i++) {
		char user[32];
		snprintf(user, sizeof(user), "worker%d", i);
		jobs[i].s = s;
		jobs[i].failures = 0;
		principal_of(s, user, "ops", ROLE_ANALYST, &jobs[i].p);
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&threads[i], NULL, insert_many, &jobs[i]), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(threads[i], NULL), 0);
		assert_int_equal(jobs[i].failures, 0);
	}
	assert_int_equal(store_runs_list(s, &admin, NULL, 1, 0, &list, &total), 0);
	assert_int_equal(total, 200);
	json_decref(list);
	assert_int_equal(store_runs_list(s, &jobs[2].p, NULL, 500, 0, &list, &total), 0);
	assert_int_equal(total, 50);
	assert_int_equal(json_array_size(list), 50);
	json_decref(list);
	assert_int_equal(store_audit_verify(s, &entries, &bad, err, sizeof(err)), 0);
	assert_int_equal(entries, 5 + 200);
	store_close(s);
	free(dir);
}

struct anchors_seen {
	int n;
	struct store_audit_anchor seen[8];
};

static void anchor_seen(void *ctx, const struct store_audit_anchor *a)
{
	struct anchors_seen *seen = ctx;

	if (seen->n < 8)
		seen->seen[seen->n++] = *a;
}

/* An anchor falls due after the commit of every second entry, and is
 * exactly what `audit head` prints and --against checks. */
static void anchors_fall_due_after_commits_only(void **state)
{
	char *dir = state_path("audit-anchors"), err[256];
	struct anchors_seen seen = { 0 };
	struct store_audit_anchor head, parsed;
	char text[STORE_AUDIT_ANCHOR_TEXT_MAX];
	struct principal p;
	struct run_record run;
	struct store *s = store_at(dir);
	(void)state;

	store_audit_anchor_every(s, 2, anchor_seen, &seen);
	principal_of(s, "hana", "finance", ROLE_ANALYST, &p); /* entry 1 */
	run_fill(&run, &p, 1);
	assert_int_equal(store_run_insert(s, &run, NULL, 0), 0); /* entry 2 */
	/* A failed insert appends nothing and reports nothing. */
	assert_int_equal(store_run_insert(s, &run, NULL, 0), -EEXIST);
	assert_int_equal(store_audit_append(s, "system", "note", NULL, NULL), 0); /* 3 */
	assert_int_equal(store_audit_append(s, "system", "note", NULL, NULL), 0); /* 4 */
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.seen[0].seq, 2);
	assert_int_equal(seen.seen[1].seq, 4);
	assert_int_equal(store_audit_head(s, &head), 0);
	assert_int_equal(head.seq, 4);
	assert_string_equal(head.hash, seen.seen[1].hash);
	store_audit_anchor_format(&seen.seen[0], text);
	assert_int_equal(store_audit_anchor_parse(text, &parsed), 0);
	assert_int_equal(store_audit_anchor_check(s, &parsed, err, sizeof(err)), 0);
	parsed.hash[0] = parsed.hash[0] == 'a' ? 'b' : 'a';
	assert_int_equal(store_audit_anchor_check(s, &parsed, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "rewritten"));
	parsed.seq = 9;
	assert_int_equal(store_audit_anchor_check(s, &parsed, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "missing"));
	assert_int_equal(store_audit_anchor_parse("0:abc", &parsed), -EINVAL);
	assert_int_equal(store_audit_anchor_parse("2:", &parsed), -EINVAL);
	store_close(s);
	free(dir);
}

/* The cross-check names the field of a run row edited behind the store's
 * back, and the run whose row is gone. */
static void crosscheck_names_edited_and_deleted_runs(void **state)
{
	char *dir = state_path("audit-cross"), err[256], sql[200];
	struct principal p;
	struct run_record run[2];
	struct store *s = store_at(dir);
	json_t *problems;
	int64_t runs, count;
	(void)state;

	principal_of(s, "hana", "finance", ROLE_ANALYST, &p);
	for (int i = 0; i < 2; i++) {
		run_fill(&run[i], &p, i);
		assert_int_equal(store_run_insert(s, &run[i], NULL, 0), 0);
	}
	assert_int_equal(store_audit_crosscheck(s, &problems, &runs, &count, err, sizeof(err)), 0);
	assert_int_equal(runs, 2);
	assert_int_equal(count, 0);
	json_decref(problems);
	store_close(s);
	snprintf(sql, sizeof(sql), "UPDATE runs SET status = 'error' WHERE id = '%s'", run[0].id);
	sql_raw(dir, sql);
	snprintf(sql, sizeof(sql), "DELETE FROM runs WHERE id = '%s'", run[1].id);
	sql_raw(dir, sql);
	s = store_at(dir);
	assert_int_equal(store_audit_crosscheck(s, &problems, &runs, &count, err, sizeof(err)), 0);
	assert_int_equal(count, 2);
	assert_non_null(strstr(json_string_value(json_array_get(problems, 0)), "status is \"error\""));
	assert_non_null(strstr(json_string_value(json_array_get(problems, 0)), run[0].id));
	assert_non_null(strstr(json_string_value(json_array_get(problems, 1)), "no row"));
	json_decref(problems);
	store_close(s);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(audit_chain_verifies_and_refuses_sql_edits),
		cmocka_unit_test(audit_verify_finds_an_edited_entry),
		cmocka_unit_test(audit_verify_finds_an_edited_and_rehashed_entry),
		cmocka_unit_test(audit_verify_finds_a_broken_link),
		cmocka_unit_test(audit_verify_finds_a_deleted_middle_entry),
		cmocka_unit_test(audit_verify_finds_a_deleted_last_entry),
		cmocka_unit_test(audit_verify_finds_a_first_entry_deleted_and_a_hidden_nul),
		cmocka_unit_test(concurrent_inserts_all_land),
		cmocka_unit_test(anchors_fall_due_after_commits_only),
		cmocka_unit_test(crosscheck_names_edited_and_deleted_runs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
