/*
 * Tests of src/store: opening and migrating the state database, the key
 * pepper, principals and API keys. Runs and artifacts are tested in
 * test_store_runs.c, the audit chain and concurrent inserts in
 * test_store_audit.c. Every test works in its own folder under
 * LEDGERBOX_TEST_TMP.
 */
#include "store_test.h"

static void open_creates_a_wal_database_at_the_latest_version(void **state)
{
	char *dir = state_path("open"), *p;
	struct store *s;
	struct stat st;
	int version = -1;
	(void)state;

	s = store_at(dir);
	assert_int_equal(store_schema_version(s, &version), 0);
	assert_int_equal(version, STORE_SCHEMA_LATEST);
	assert_int_equal(store_ping(s), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_true(asprintf(&p, "%s/ledgerbox.db", dir) > 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	free(p);
	assert_true(asprintf(&p, "%s/key-pepper", dir) > 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 32);
	free(p);
	assert_true(asprintf(&p, "%s/artifacts", dir) > 0);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	free(p);
	store_close(s);
	/* WAL is recorded in the file itself. */
	assert_true(asprintf(&p, "%s/ledgerbox.db", dir) > 0);
	{
		sqlite3 *db;
		sqlite3_stmt *q;
		assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(q), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
		sqlite3_finalize(q);
		sqlite3_close(db);
	}
	free(p);
	store_close(NULL);
	free(dir);
}

static void reopen_keeps_keys_and_runs(void **state)
{
	char *dir = state_path("reopen"), key[STORE_KEY_MAX];
	struct principal p, again;
	struct run_record run, got;
	struct store *s;
	int64_t key_id;
	(void)state;

	s = store_at(dir);
	assert_int_equal(store_key_create(s, NULL, "alice", "finance", ROLE_ANALYST, key, &key_id), 0);
	assert_int_equal(store_key_authenticate(s, key, &p), 0);
	run_fill(&run, &p, 1000);
	assert_int_equal(store_run_insert(s, &run, NULL, 0), 0);
	store_close(s);

	s = store_at(dir);
	assert_int_equal(store_key_authenticate(s, key, &again), 0);
	assert_int_equal(again.id, p.id);
	assert_string_equal(again.user, "alice");
	assert_string_equal(again.team, "finance");
	assert_int_equal(store_run_get(s, &p, run.id, &got), 0);
	assert_string_equal(got.code, "SELECT 1");
	assert_string_equal(got.user, "alice");
	store_run_record_release(&got);
	store_close(s);
	free(dir);
}

static void old_version_database_is_migrated(void **state)
{
	char *dir = state_path("migrate"), *path, err[512] = "";
	struct principal viewer = { .id = 1, .user = "olga", .team = "ops", .role = ROLE_ANALYST };
	struct run_record got;
	struct store *s;
	sqlite3 *db;
	int64_t entries, bad;
	int version;
	(void)state;

	/* A version-1 database as an older ledgerbox left it: no audit log,
	 * no list indexes, a principal and a run already in it. */
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_true(asprintf(&path, "%s/ledgerbox.db", dir) > 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(store_schema_migrate(db, 1, err, sizeof(err)), 0);
	assert_int_equal(store_schema_version_read(db, &version), 0);
	assert_int_equal(version, 1);
	assert_int_equal(sqlite3_exec(db,
				      "INSERT INTO principals VALUES (1, 'olga', 'ops', 'analyst', 5);"
				      "INSERT INTO runs VALUES ('0123456789abcdef0123456789abcdef', 1,"
				      " 'python', NULL, NULL, 'ok', 'print(1)', '{\"a\":1}', 7, 3);",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "SELECT * FROM audit", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	s = store_at(dir);
	assert_int_equal(store_schema_version(s, &version), 0);
	assert_int_equal(version, STORE_SCHEMA_LATEST);
	assert_int_equal(store_run_get(s, &viewer, "0123456789abcdef0123456789abcdef", &got), 0);
	assert_string_equal(got.code, "print(1)");
	assert_int_equal(json_integer_value(json_object_get(got.result, "a")), 1);
	store_run_record_release(&got);
	assert_int_equal(store_audit_append(s, "system", "migrated", "schema", NULL), 0);
	assert_int_equal(store_audit_verify(s, &entries, &bad, err, sizeof(err)), 0);
	assert_int_equal(entries, 1);
	store_close(s);

	/* A database from a newer ledgerbox is refused, untouched. */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	s = NULL;
	assert_int_equal(store_open(dir, &s, err, sizeof(err)), -EPROTONOSUPPORT);
	assert_null(s);
	assert_non_null(strstr(err, "99"));
	free(path);
	free(dir);
}

static void keys_authenticate_only_when_right_and_active(void **state)
{
	char *dir = state_path("keys"), key[STORE_KEY_MAX], bad[2 * STORE_KEY_MAX];
	struct principal p = { 0 };
	struct store *s;
	int64_t id, admins = -1;
	(void)state;

	s = store_at(dir);
	assert_int_equal(store_key_create(s, NULL, "bob", "sales", ROLE_ADMIN, key, &id), 0);
	assert_int_equal(strlen(key), 47);
	assert_memory_equal(key, "lbx_", 4);
	assert_int_equal(store_key_authenticate(s, key, &p), 0);
	assert_string_equal(p.user, "bob");
	assert_string_equal(p.team, "sales");
	assert_int_equal(p.role, ROLE_ADMIN);
	assert_int_equal(store_admin_key_count(s, &admins), 0);
	assert_int_equal(admins, 1);

	/* Wrong: one character changed (still well formed). */
	snprintf(bad, sizeof(bad), "%s", key);
	bad[10] = bad[10] == 'A' ? 'B' : 'A';
	assert_int_equal(store_key_authenticate(s, bad, &p), -ENOENT);
	/* Malformed: prefix, length, alphabet, padding bits, empty, NULL. */
	snprintf(bad, sizeof(bad), "lbz_%s", key + 4);
	assert_int_equal(store_key_authenticate(s, bad, &p), -ENOENT);
	snprintf(bad, sizeof(bad), "%s", key);
	bad[46] = '\0';
	assert_int_equal(store_key_authenticate(s, bad, &p), -ENOENT);
	snprintf(bad, sizeof(bad), "%sA", key);
	assert_int_equal(store_key_authenticate(s, bad, &p), -ENOENT);
	snprintf(bad, sizeof(bad), "%s", key);
	bad[20] = '+';
	assert_int_equal(store_key_authenticate(s, bad, &p), -ENOENT);
	assert_int_equal(store_key_authenticate(s, "", &p), -ENOENT);
	assert_int_equal(store_key_authenticate(s, NULL, &p), -ENOENT);

	/* Revoked. */
	assert_int_equal(store_key_revoke(s, "bob", id), 0);
	assert_int_equal(store_key_authenticate(s, key, &p), -ENOENT);
	assert_int_equal(store_key_revoke(s, "bob", id), -ENOENT);
	assert_int_equal(store_key_revoke(s, "bob", 999), -ENOENT);
	assert_int_equal(store_admin_key_count(s, &admins), 0);
	assert_int_equal(admins, 0);
	store_close(s);
	free(dir);
}

static void keys_list_shows_active_keys_without_secrets(void **state)
{
	char *dir = state_path("list"), key[STORE_KEY_MAX], *text;
	struct store *s;
	int64_t id1, id2;
	json_t *list;
	(void)state;

	s = store_at(dir);
	assert_int_equal(store_key_create(s, NULL, "carol", "ops", ROLE_ANALYST, key, &id1), 0);
	assert_int_equal(store_key_create(s, NULL, "dave", "ops", ROLE_ADMIN, key, &id2), 0);
	assert_int_equal(store_key_revoke(s, NULL, id1), 0);
	assert_int_equal(store_keys_list(s, &list), 0);
	assert_int_equal(json_array_size(list), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "id")), id2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "user")), "dave");
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "role")), "admin");
	assert_int_equal(strlen(json_string_value(json_object_get(json_array_get(list, 0), "created_at"))),
			 24);
	text = json_dumps(list, 0);
	assert_null(strstr(text, "lbx_"));
	assert_null(strstr(text, key + 4));
	free(text);
	json_decref(list);
	store_close(s);
	free(dir);
}

static void only_a_keyed_hash_of_the_key_is_stored(void **state)
{
	char *dir = state_path("hashonly"), key[STORE_KEY_MAX], *db, *wal;
	unsigned char raw[32];
	size_t raw_len;
	struct store *s;
	int64_t id;
	(void)state;

	s = store_at(dir);
	assert_int_equal(store_key_create(s, NULL, "erin", "audit", ROLE_ANALYST, key, &id), 0);
	assert_int_equal(sodium_base642bin(raw, sizeof(raw), key + 4, 43, NULL, &raw_len, NULL,
					   sodium_base64_VARIANT_URLSAFE_NO_PADDING),
			 0);
	assert_true(asprintf(&db, "%s/ledgerbox.db", dir) > 0);
	assert_true(asprintf(&wal, "%s/ledgerbox.db-wal", dir) > 0);
	/* Before the checkpoint the key's row is in the WAL; after, in the db. */
	assert_false(file_contains(wal, key + 4, 43));
	assert_false(file_contains(wal, raw, sizeof(raw)));
	store_close(s);
	assert_true(file_contains(db, "erin", 4)); /* the search itself works */
	assert_false(file_contains(db, key + 4, 43));
	assert_false(file_contains(db, raw, sizeof(raw)));
	free(db);
	free(wal);
	free(dir);
}

static void principal_with_other_team_or_role_is_refused(void **state)
{
	char *dir = state_path("principal"), key1[STORE_KEY_MAX], key2[STORE_KEY_MAX], key3[8] = "";
	struct principal p1, p2;
	struct store *s;
	int64_t id1, id2, id3 = -7;
	(void)state;

	s = store_at(dir);
	assert_int_equal(store_key_create(s, NULL, "frank", "finance", ROLE_ANALYST, key1, &id1), 0);
	assert_int_equal(store_key_create(s, NULL, "frank", "sales", ROLE_ANALYST, key3, &id3), -EEXIST);
	assert_int_equal(store_key_create(s, NULL, "frank", "finance", ROLE_ADMIN, key3, &id3), -EEXIST);
	assert_int_equal(id3, -7); /* out-params untouched on failure */
	assert_string_equal(key3, "");
	/* Same team and role: a second key for the same principal. */
	assert_int_equal(store_key_create(s, NULL, "frank", "finance", ROLE_ANALYST, key2, &id2), 0);
	assert_int_not_equal(id1, id2);
	assert_int_equal(store_key_authenticate(s, key1, &p1), 0);
	assert_int_equal(store_key_authenticate(s, key2, &p2), 0);
	assert_int_equal(p1.id, p2.id);
	assert_int_equal(store_key_create(s, NULL, "bad name", "x", ROLE_ANALYST, key2, &id2), -EINVAL);
	assert_int_equal(store_key_create(s, NULL, "ok", "t|x", ROLE_ANALYST, key2, &id2), -EINVAL);
	store_close(s);
	free(dir);
}

static void missing_pepper_with_keys_is_an_error(void **state)
{
	char *dir = state_path("pepper"), *path, key[STORE_KEY_MAX], err[512] = "";
	struct store *s = NULL;
	int64_t id;
	(void)state;

	s = store_at(dir);
	assert_int_equal(store_key_create(s, NULL, "gina", "it", ROLE_ADMIN, key, &id), 0);
	store_close(s);
	assert_true(asprintf(&path, "%s/key-pepper", dir) > 0);
	assert_int_equal(chmod(path, 0644), 0);
	s = NULL;
	assert_int_equal(store_open(dir, &s, err, sizeof(err)), -EPERM);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(store_open(dir, &s, err, sizeof(err)), -ENOENT);
	assert_null(s);
	assert_non_null(strstr(err, "key-pepper"));
	free(path);
	free(dir);
}

static void names_roles_and_run_ids(void **state)
{
	char a[STORE_RUN_ID_LEN + 1], b[STORE_RUN_ID_LEN + 1];
	enum store_role role;
	(void)state;

	assert_true(store_name_valid("a.b_c-1"));
	assert_false(store_name_valid(""));
	assert_false(store_name_valid("a b"));
	assert_false(store_name_valid("a/b"));
	assert_false(store_name_valid("0123456789012345678901234567890123456789012345678901234567890123"));
	assert_true(store_name_valid("012345678901234567890123456789012345678901234567890123456789012"));
	assert_int_equal(store_role_parse("admin", &role), 0);
	assert_int_equal(role, ROLE_ADMIN);
	assert_int_equal(store_role_parse("root", &role), -EINVAL);
	assert_string_equal(store_role_name(ROLE_ANALYST), "analyst");
	store_run_id_new(a);
	store_run_id_new(b);
	assert_int_equal(strlen(a), STORE_RUN_ID_LEN);
	assert_true(store_run_id_valid(a));
	assert_string_not_equal(a, b);
	assert_false(store_run_id_valid("0123456789ABCDEF0123456789abcdef"));
	assert_true(store_artifact_name_valid("chart 1.png"));
	assert_false(store_artifact_name_valid(".."));
	assert_false(store_artifact_name_valid("a/b"));
	assert_false(store_artifact_name_valid("a\nb"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(open_creates_a_wal_database_at_the_latest_version),
		cmocka_unit_test(reopen_keeps_keys_and_runs),
		cmocka_unit_test(old_version_database_is_migrated),
		cmocka_unit_test(keys_authenticate_only_when_right_and_active),
		cmocka_unit_test(keys_list_shows_active_keys_without_secrets),
		cmocka_unit_test(only_a_keyed_hash_of_the_key_is_stored),
		cmocka_unit_test(principal_with_other_team_or_role_is_refused),
		cmocka_unit_test(missing_pepper_with_keys_is_an_error),
		cmocka_unit_test(names_roles_and_run_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
