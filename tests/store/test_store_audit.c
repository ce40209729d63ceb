/*
 * Tests of the audit log in src/store: a valid chain verifies; edits and
 * deletions made with raw SQLite (after dropping the triggers that refuse
 * them) are found and reported at the right entry. Also: concurrent run
 * inserts from several threads all land, each with its audit entry.
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
