/*
 * Tests of the store's PostgreSQL back end (store_open_url with a
 * postgres:// URL): every public function against a fresh database per
 * test, two handles on one database standing in for two nodes, concurrent
 * audit appends and opens from threads, the shared key pepper, tampering
 * with the audit log through plain SQL, and URLs that cannot work.
 */
#include "store_test.h"

#include <pthread.h>

#include "store/store_pg.h"
#include "support/pgtest.h"

/* A state directory holding a key-pepper of 32 bytes of `fill`. */
static char *node_dir(const char *name, int fill)
{
	char *dir = state_path(name), *path;
	unsigned char pepper[STORE_PEPPER_BYTES];
	int fd;

	assert_int_equal(mkdir(dir, 0700), 0);
	memset(pepper, fill, sizeof(pepper));
	assert_true(asprintf(&path, "%s/key-pepper", dir) > 0);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, pepper, sizeof(pepper)), (ssize_t)sizeof(pepper));
	close(fd);
	free(path);
	return dir;
}

static struct store *node_open(const char *dir, const char *url)
{
	char err[512] = "";
	struct store *s = NULL;
	int r = store_open_url(dir, url, &s, err, sizeof(err));

	if (r < 0)
		fail_msg("store_open_url(%s): %d %s", dir, r, err);
	return s;
}

/* Runs SQL the way psql would: straight through libpq, as the superuser. */
static int raw_exec(const char *url, const char *sql)
{
	PGconn *c = PQconnectdb(url);
	PGresult *res;
	int ok;

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	res = PQexec(c, sql);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
	PQclear(res);
	PQfinish(c);
	return ok ? 0 : -1;
}

static int64_t raw_count(const char *url, const char *sql)
{
	PGconn *c = PQconnectdb(url);
	PGresult *res;
	int64_t n;

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	res = PQexec(c, sql);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(res), 1);
	n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	PQfinish(c);
	return n;
}

static int64_t verify_ok(struct store *s)
{
	char err[256] = "";
	int64_t entries = -1, bad = -1;
	int r = store_audit_verify(s, &entries, &bad, err, sizeof(err));

	if (r != 0)
		fail_msg("audit verify: %d at %lld: %s", r, (long long)bad, err);
	return entries;
}

static void open_migrates_and_answers(void **state)
{
	char url[PGT_URL_MAX], *dir = state_path("pg-open"), *path;
	struct store *s;
	struct stat st;
	int version = -1;
	(void)state;

	pgt_db_create("store_pg", url);
	s = node_open(dir, url);
	assert_int_equal(store_schema_version(s, &version), 0);
	assert_int_equal(version, STORE_PG_SCHEMA_LATEST);
	assert_int_equal(store_ping(s), 0);
	/* A fresh database and no pepper yet: this node makes one. */
	assert_true(asprintf(&path, "%s/key-pepper", dir) > 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 32);
	free(path);
	/* Nothing of the database is kept in the state directory. */
	assert_true(asprintf(&path, "%s/ledgerbox.db", dir) > 0);
	assert_int_equal(stat(path, &st), -1);
	free(path);
	store_close(s);
	s = node_open(dir, url);
	assert_int_equal(store_schema_version(s, &version), 0);
	assert_int_equal(version, STORE_PG_SCHEMA_LATEST);
	assert_int_equal(raw_count(url, "SELECT version FROM ledgerbox_schema WHERE part = 'store'"),
			 STORE_PG_SCHEMA_LATEST);
	store_close(s);
	store_close(NULL);
	pgt_db_drop(url);
	free(dir);
}

static void keys_create_authenticate_revoke_and_list(void **state)
{
	char url[PGT_URL_MAX], *dir = state_path("pg-keys"), key[STORE_KEY_MAX],
				  key2[STORE_KEY_MAX], admin_key[STORE_KEY_MAX];
	struct principal p, again;
	struct store *s;
	int64_t id, id2, admin_id, count = -1;
	json_t *list;
	(void)state;

	pgt_db_create("store_pg", url);
	s = node_open(dir, url);
	assert_int_equal(store_key_create(s, NULL, "alice", "finance", ROLE_ANALYST, key, &id), 0);
	assert_int_equal(strlen(key), 47);
	assert_int_equal(strncmp(key, "lbx_", 4), 0);
	assert_int_equal(store_key_authenticate(s, key, &p), 0);
	assert_string_equal(p.user, "alice");
	assert_string_equal(p.team, "finance");
	assert_int_equal(p.role, ROLE_ANALYST);
	/* A second key for the same principal; a different team or role is refused. */
	assert_int_equal(store_key_create(s, "root", "alice", "finance", ROLE_ANALYST, key2, &id2), 0);
	assert_int_equal(store_key_authenticate(s, key2, &again), 0);
	assert_int_equal(again.id, p.id);
	assert_int_equal(store_key_create(s, NULL, "alice", "sales", ROLE_ANALYST, key2, &id2), -EEXIST);
	assert_int_equal(store_key_create(s, NULL, "alice", "finance", ROLE_ADMIN, key2, &id2), -EEXIST);
	assert_int_equal(store_key_create(s, NULL, "bad name", "finance", ROLE_ADMIN, key2, &id2), -EINVAL);
	assert_int_equal(store_key_create(s, NULL, "root", "it", ROLE_ADMIN, admin_key, &admin_id), 0);
	/* Wrong, malformed and unknown keys all look alike. */
	key[10] = key[10] == 'A' ? 'B' : 'A';
	assert_int_equal(store_key_authenticate(s, key, &again), -ENOENT);
	assert_int_equal(store_key_authenticate(s, "lbx_short", &again), -ENOENT);
	assert_int_equal(store_key_authenticate(s, NULL, &again), -ENOENT);

	assert_int_equal(store_keys_list(s, &list), 0);
	assert_int_equal(json_array_size(list), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "id")), id);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 2), "role")), "admin");
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 2), "user")), "root");
	{
		const char *at = json_string_value(json_object_get(json_array_get(list, 0), "created_at"));
		assert_non_null(at);
		assert_int_equal(strlen(at), 24);
		assert_int_equal(at[23], 'Z');
	}
	assert_null(json_object_get(json_array_get(list, 0), "key_hash"));
	json_decref(list);
	assert_int_equal(store_admin_key_count(s, &count), 0);
	assert_int_equal(count, 1);

	assert_int_equal(store_key_revoke(s, "root", admin_id), 0);
	assert_int_equal(store_key_authenticate(s, admin_key, &again), -ENOENT);
	assert_int_equal(store_key_revoke(s, "root", admin_id), -ENOENT);
	assert_int_equal(store_key_revoke(s, "root", 987654), -ENOENT);
	assert_int_equal(store_key_revoke(s, "root", 0), -EINVAL);
	assert_int_equal(store_admin_key_count(s, &count), 0);
	assert_int_equal(count, 0);
	assert_int_equal(store_keys_list(s, &list), 0);
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);
	/* 3 keys made and 1 revoked, each audited (refused ones are not);
	 * only hashes are stored. */
	assert_int_equal(verify_ok(s), 4);
	assert_int_equal(raw_count(url, "SELECT count(*) FROM audit WHERE action = 'key.revoke'"
					" AND actor = 'root' AND detail = '{\"user\":\"root\"}'"),
			 1);
	assert_int_equal(raw_count(url, "SELECT count(*) FROM api_keys WHERE length(key_hash) = 32"), 3);
	store_close(s);
	pgt_db_drop(url);
	free(dir);
}

static void runs_insert_get_and_list_with_visibility(void **state)
{
	char url[PGT_URL_MAX], *dir = state_path("pg-runs"), ids[5][STORE_RUN_ID_LEN + 1];
	struct principal alice, bob, admin;
	struct run_record run, got;
	struct store *s;
	json_t *list, *result = json_pack("{s:s, s:[i,i]}", "output", "ünïcode", "n", 1, 2);
	int64_t total = -1;
	(void)state;

	pgt_db_create("store_pg", url);
	s = node_open(dir, url);
	principal_of(s, "alice", "finance", ROLE_ANALYST, &alice);
	principal_of(s, "bob", "sales", ROLE_ANALYST, &bob);
	principal_of(s, "root", "it", ROLE_ADMIN, &admin);
	for (int i = 0; i < 5; i++) {
		/* Runs 3 and 4 share a time: the later insert lists first. */
		run_fill(&run, &alice, i < 4 ? 1000 + i : 1003);
		run.result = i == 0 ? result : NULL;
		run.dataset = i == 1 ? NULL : "demo";
		run.session = i == 2 ? "sess-1" : NULL;
		assert_int_equal(store_run_insert(s, &run, NULL, 0), 0);
		memcpy(ids[i], run.id, sizeof(run.id));
	}
	run_fill(&run, &bob, 2000);
	assert_int_equal(store_run_insert(s, &run, NULL, 0), 0);
	assert_int_equal(store_run_insert(s, &run, NULL, 0), -EEXIST);
	run_fill(&run, &bob, 2000);
	run.principal_id = 999999;
	assert_int_equal(store_run_insert(s, &run, NULL, 0), -ENOENT);
	run.principal_id = bob.id;
	run.language = "ruby";
	assert_int_equal(store_run_insert(s, &run, NULL, 0), -EINVAL);

	assert_int_equal(store_run_get(s, &alice, ids[0], &got), 0);
	assert_string_equal(got.id, ids[0]);
	assert_string_equal(got.user, "alice");
	assert_string_equal(got.language, "sql");
	assert_string_equal(got.code, "SELECT 1");
	assert_int_equal(got.created_ms, 1000);
	assert_int_equal(got.duration_ms, 12);
	assert_true(json_equal(got.result, result));
	assert_null(got.session);
	store_run_record_release(&got);
	assert_int_equal(store_run_get(s, &bob, ids[0], &got), -ENOENT);
	assert_int_equal(store_run_get(s, &admin, ids[2], &got), 0);
	assert_string_equal(got.session, "sess-1");
	assert_null(got.result);
	store_run_record_release(&got);
	assert_int_equal(store_run_get(s, &admin, "not-a-run", &got), -ENOENT);
	assert_int_equal(store_run_get(s, &admin, "0123456789abcdef0123456789abcdef", &got), -ENOENT);
	store_run_record_release(NULL);

	assert_int_equal(store_runs_list(s, &alice, NULL, 2, 0, &list, &total), 0);
	assert_int_equal(total, 5);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "id")), ids[4]);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "id")), ids[3]);
	json_decref(list);
	assert_int_equal(store_runs_list(s, &alice, NULL, 2, 3, &list, &total), 0);
	assert_int_equal(total, 5);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "id")), ids[1]);
	assert_true(json_is_null(json_object_get(json_array_get(list, 0), "dataset")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "created_at")),
			    "1970-01-01T00:00:01.001Z");
	json_decref(list);
	assert_int_equal(store_runs_list(s, &alice, "bob", 10, 0, &list, &total), 0);
	assert_int_equal(total, 0);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(store_runs_list(s, &admin, NULL, 500, 0, &list, &total), 0);
	assert_int_equal(total, 6);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "user")), "bob");
	json_decref(list);
	assert_int_equal(store_runs_list(s, &admin, "alice", 10, 10, &list, &total), 0);
	assert_int_equal(total, 5);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(store_runs_list(s, &admin, NULL, 0, 0, &list, &total), -EINVAL);
	assert_int_equal(store_runs_list(s, &admin, NULL, 501, 0, &list, &total), -EINVAL);
	assert_int_equal(store_runs_list(s, &admin, NULL, 10, -1, &list, &total), -EINVAL);
	/* 3 keys and 6 runs. */
	assert_int_equal(verify_ok(s), 9);
	json_decref(result);
	store_close(s);
	pgt_db_drop(url);
	free(dir);
}

static void read_all(int fd, unsigned char *buf, size_t len)
{
	size_t off = 0;
	char extra;

	while (off < len) {
		ssize_t n = read(fd, buf + off, len - off);
		assert_true(n > 0);
		off += (size_t)n;
	}
	assert_int_equal(read(fd, &extra, 1), 0);
}

static void artifacts_round_trip_and_bad_names_write_nothing(void **state)
{
	char url[PGT_URL_MAX], *dir = state_path("pg-art"), mime[STORE_MIME_MAX],
					 first[STORE_RUN_ID_LEN + 1];
	enum { BIG = 300000 };
	unsigned char *big = malloc(BIG), *back = malloc(BIG);
	struct artifact_file files[] = {
		{ "chart.png", "image/png", big, BIG },
		{ "empty.txt", "text/plain", NULL, 0 },
		{ "table totals.csv", "text/csv; charset=utf-8", "a,b\n", 4 },
	};
	static const char *const bad_names[] = { "", ".", "..", "a/b", "a\\b", "tab\there" };
	struct principal alice, bob, admin;
	struct run_record run;
	struct store *s;
	uint64_t bytes = 0;
	int fd = -1;
	(void)state;

	for (size_t i = 0; i < BIG; i++)
		big[i] = (unsigned char)(i * 7 + (i >> 8));
	pgt_db_create("store_pg", url);
	s = node_open(dir, url);
	principal_of(s, "alice", "finance", ROLE_ANALYST, &alice);
	principal_of(s, "bob", "sales", ROLE_ANALYST, &bob);
	principal_of(s, "root", "it", ROLE_ADMIN, &admin);
	run_fill(&run, &alice, 5);
	assert_int_equal(store_run_insert(s, &run, files, 3), 0);
	memcpy(first, run.id, sizeof(first));

	assert_int_equal(store_artifact_open(s, &alice, run.id, "chart.png", &fd, mime, sizeof(mime),
					     &bytes), 0);
	assert_string_equal(mime, "image/png");
	assert_int_equal(bytes, BIG);
	read_all(fd, back, BIG);
	assert_memory_equal(back, big, BIG);
	/* Read-only: neither writing nor growing it works. */
	assert_int_equal(write(fd, "x", 1), -1);
	assert_int_equal(ftruncate(fd, 1), -1);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	assert_int_equal(store_artifact_open(s, &admin, run.id, "empty.txt", &fd, mime, sizeof(mime),
					     &bytes), 0);
	assert_int_equal(bytes, 0);
	read_all(fd, back, 0);
	close(fd);
	assert_int_equal(store_artifact_open(s, &admin, run.id, "table totals.csv", &fd, mime, 8,
					     &bytes), -ERANGE);
	assert_int_equal(store_artifact_open(s, &bob, run.id, "chart.png", &fd, mime, sizeof(mime),
					     &bytes), -ENOENT);
	assert_int_equal(store_artifact_open(s, &alice, run.id, "other.png", &fd, mime, sizeof(mime),
					     &bytes), -ENOENT);
	assert_int_equal(store_artifact_open(s, &alice, run.id, "../chart.png", &fd, mime,
					     sizeof(mime), &bytes), -ENOENT);

	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		struct artifact_file bad[] = { { "ok.txt", "text/plain", "1", 1 },
					       { bad_names[i], "text/plain", "2", 1 } };
		run_fill(&run, &alice, 6);
		assert_int_equal(store_run_insert(s, &run, bad, 2), -EINVAL);
	}
	{
		struct artifact_file dup[] = { { "a.txt", "text/plain", "1", 1 },
					       { "a.txt", "text/plain", "2", 1 } };
		run_fill(&run, &alice, 6);
		assert_int_equal(store_run_insert(s, &run, dup, 2), -EINVAL);
	}
	assert_int_equal(raw_count(url, "SELECT count(*) FROM runs"), 1);
	assert_int_equal(raw_count(url, "SELECT count(*) FROM artifacts"), 3);
	/* A run whose insert fails at the database (a taken id) leaves no rows either. */
	{
		struct artifact_file one = { "late.txt", "text/plain", "x", 1 };
		char taken[STORE_RUN_ID_LEN + 1];
		run_fill(&run, &alice, 7);
		assert_int_equal(store_run_insert(s, &run, &one, 1), 0);
		memcpy(taken, run.id, sizeof(taken));
		run_fill(&run, &alice, 8);
		memcpy(run.id, taken, sizeof(taken));
		one.name = "later.txt";
		assert_int_equal(store_run_insert(s, &run, &one, 1), -EEXIST);
		assert_int_equal(raw_count(url, "SELECT count(*) FROM artifacts WHERE name = 'later.txt'"), 0);
	}
	/* 3 keys and 2 runs. */
	assert_int_equal(verify_ok(s), 5);

	/* Bytes changed behind the store's back are not served. */
	assert_int_equal(raw_exec(url, "UPDATE artifacts SET data = 'short' WHERE name = 'chart.png'"), 0);
	assert_int_equal(store_artifact_open(s, &alice, first, "chart.png", &fd, mime, sizeof(mime),
					     &bytes), -EIO);
	store_close(s);
	pgt_db_drop(url);
	free(big);
	free(back);
	free(dir);
}

/* A store with 5 audit entries: 2 key creations, 3 runs. */
static struct store *audited(const char *url, char **ret_dir)
{
	char *dir = state_path("pg-audit");
	struct principal p;
	struct run_record run;
	struct store *s = node_open(dir, url);

	principal_of(s, "hana", "finance", ROLE_ANALYST, &p);
	principal_of(s, "ivan", "finance", ROLE_ADMIN, &p);
	for (int i = 0; i < 3; i++) {
		run_fill(&run, &p, i);
		assert_int_equal(store_run_insert(s, &run, NULL, 0), 0);
	}
	assert_int_equal(verify_ok(s), 5);
	*ret_dir = dir;
	return s;
}

static int64_t verify_bad(struct store *s, char *err, size_t err_len)
{
	int64_t entries = -1, bad = -1;

	assert_int_equal(store_audit_verify(s, &entries, &bad, err, err_len), -EBADMSG);
	assert_int_equal(entries, -1);
	return bad;
}

static void audit_appends_verify_and_catch_sql_edits(void **state)
{
	char url[PGT_URL_MAX], *dir, err[256] = "";
	json_t *detail = json_pack("{s:s}", "note", "pipes | are fine in detail");
	struct store *s;
	(void)state;

	pgt_db_create("store_pg", url);
	s = audited(url, &dir);
	assert_int_equal(store_audit_append(s, "system", "note", "x", detail), 0);
	assert_int_equal(store_audit_append(s, "system", "note", NULL, NULL), 0);
	assert_int_equal(store_audit_append(s, "sys|tem", "note", "x", NULL), -EINVAL);
	assert_int_equal(store_audit_append(s, "system", "", "x", NULL), -EINVAL);
	assert_int_equal(store_audit_append(s, "system", "note", "a\nb", NULL), -EINVAL);
	assert_int_equal(verify_ok(s), 7);
	/* The triggers refuse edits through SQL... */
	assert_int_equal(raw_exec(url, "UPDATE audit SET actor = 'x' WHERE id = 2"), -1);
	assert_int_equal(raw_exec(url, "DELETE FROM audit WHERE id = 7"), -1);
	assert_int_equal(raw_exec(url, "TRUNCATE audit_head"), -1);
	assert_int_equal(raw_exec(url, "UPDATE audit_head SET entries = 6"), -1);
	assert_int_equal(verify_ok(s), 7);
	/* ...and whoever disables them is still caught. */
	assert_int_equal(raw_exec(url, "ALTER TABLE audit DISABLE TRIGGER USER;"
				       "UPDATE audit SET subject = 'key:99' WHERE id = 2"), 0);
	assert_int_equal(verify_bad(s, err, sizeof(err)), 2);
	assert_non_null(strstr(err, "edited"));
	store_close(s);
	pgt_db_drop(url);
	free(dir);
	json_decref(detail);

	pgt_db_create("store_pg", url);
	s = audited(url, &dir);
	assert_int_equal(raw_exec(url, "ALTER TABLE audit DISABLE TRIGGER USER;"
				       "DELETE FROM audit WHERE id = 3"), 0);
	assert_int_equal(verify_bad(s, err, sizeof(err)), 3);
	assert_non_null(strstr(err, "missing"));
	store_close(s);
	pgt_db_drop(url);
	free(dir);

	pgt_db_create("store_pg", url);
	s = audited(url, &dir);
	assert_int_equal(raw_exec(url, "ALTER TABLE audit DISABLE TRIGGER USER;"
				       "DELETE FROM audit WHERE id = 5"), 0);
	assert_int_equal(verify_bad(s, err, sizeof(err)), 5);
	assert_non_null(strstr(err, "newest entries were deleted"));
	store_close(s);
	pgt_db_drop(url);
	free(dir);
}

static void two_nodes_share_keys_runs_and_artifacts(void **state)
{
	char url[PGT_URL_MAX], *dir_a = node_dir("pg-node-a", 0x11), *dir_b = node_dir("pg-node-b", 0x11);
	char key[STORE_KEY_MAX], mime[STORE_MIME_MAX], back[8];
	struct artifact_file file = { "out.bin", "application/octet-stream", "\0\1\2\3\4\5\6\7", 8 };
	struct principal on_a, on_b;
	struct run_record run, got;
	struct store *a, *b;
	json_t *list;
	int64_t key_id, total;
	uint64_t bytes;
	int fd;
	(void)state;

	pgt_db_create("store_pg", url);
	a = node_open(dir_a, url);
	b = node_open(dir_b, url);
	assert_int_equal(store_key_create(a, NULL, "alice", "finance", ROLE_ANALYST, key, &key_id), 0);
	assert_int_equal(store_key_authenticate(a, key, &on_a), 0);
	assert_int_equal(store_key_authenticate(b, key, &on_b), 0);
	assert_int_equal(on_a.id, on_b.id);
	run_fill(&run, &on_a, 42);
	assert_int_equal(store_run_insert(a, &run, &file, 1), 0);
	assert_int_equal(store_run_get(b, &on_b, run.id, &got), 0);
	assert_string_equal(got.user, "alice");
	store_run_record_release(&got);
	assert_int_equal(store_runs_list(b, &on_b, NULL, 10, 0, &list, &total), 0);
	assert_int_equal(total, 1);
	json_decref(list);
	assert_int_equal(store_artifact_open(b, &on_b, run.id, "out.bin", &fd, mime, sizeof(mime),
					     &bytes), 0);
	assert_int_equal(bytes, 8);
	read_all(fd, (unsigned char *)back, 8);
	assert_memory_equal(back, "\0\1\2\3\4\5\6\7", 8);
	close(fd);
	/* A key revoked on one node is refused on the other at once. */
	assert_int_equal(store_key_revoke(b, "cli", key_id), 0);
	assert_int_equal(store_key_authenticate(a, key, &on_a), -ENOENT);
	assert_int_equal(verify_ok(a), 3);
	assert_int_equal(verify_ok(b), 3);
	store_close(a);
	store_close(b);
	pgt_db_drop(url);
	free(dir_a);
	free(dir_b);
}

struct append_job {
	struct store *s;
	struct principal p;
	int failures;
};

static void *append_many(void *arg)
{
	struct append_job *job = arg;

	for (int i = 0; i < 60; i++) {
		struct run_record run;
		struct artifact_file out = { "out.txt", "text/plain", "hello", 5 };
		int r;
		if (i % 3 == 0) {
			run_fill(&run, &job->p, clock_unix_ms());
			r = store_run_insert(job->s, &run, &out, 1);
		} else {
			r = store_audit_append(job->s, job->p.user, "note", "x", NULL);
		}
		if (r != 0)
			job->failures++;
	}
	return NULL;
}

static void concurrent_appends_from_two_nodes_keep_one_chain(void **state)
{
	char url[PGT_URL_MAX], *dirs[2] = { node_dir("pg-conc-a", 0x22), node_dir("pg-conc-b", 0x22) };
	struct append_job jobs[2];
	pthread_t threads[2];
	struct store *nodes[2];
	(void)state;

	pgt_db_create("store_pg", url);
	for (int i = 0; i < 2; i++) {
		char user[16];
		snprintf(user, sizeof(user), "worker%d", i);
		nodes[i] = node_open(dirs[i], url);
		jobs[i].s = nodes[i];
		jobs[i].failures = 0;
		principal_of(nodes[i], user, "ops", ROLE_ANALYST, &jobs[i].p);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&threads[i], NULL, append_many, &jobs[i]), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(threads[i], NULL), 0);
		assert_int_equal(jobs[i].failures, 0);
	}
	/* 2 keys, then 120 entries (40 of them runs) in one chain. */
	assert_int_equal(verify_ok(nodes[0]), 122);
	assert_int_equal(verify_ok(nodes[1]), 122);
	assert_int_equal(raw_count(url, "SELECT count(*) FROM runs"), 40);
	assert_int_equal(raw_count(url, "SELECT count(DISTINCT prev_hash) FROM audit"), 122);
	for (int i = 0; i < 2; i++) {
		store_close(nodes[i]);
		free(dirs[i]);
	}
	pgt_db_drop(url);
}

struct open_job {
	const char *dir, *url;
	pthread_barrier_t *start;
	struct store *s;
	int r;
	char err[512];
};

static void *open_one(void *arg)
{
	struct open_job *job = arg;

	pthread_barrier_wait(job->start);
	job->r = store_open_url(job->dir, job->url, &job->s, job->err, sizeof(job->err));
	return NULL;
}

static void two_nodes_opening_a_fresh_database_at_once(void **state)
{
	char url[PGT_URL_MAX], *dirs[2] = { node_dir("pg-race-a", 0x33), node_dir("pg-race-b", 0x33) };
	char key[STORE_KEY_MAX];
	struct open_job jobs[2];
	pthread_t threads[2];
	pthread_barrier_t start;
	struct principal p;
	int64_t id;
	(void)state;

	pgt_db_create("store_pg", url);
	assert_int_equal(pthread_barrier_init(&start, NULL, 2), 0);
	for (int i = 0; i < 2; i++) {
		jobs[i] = (struct open_job){ .dir = dirs[i], .url = url, .start = &start };
		assert_int_equal(pthread_create(&threads[i], NULL, open_one, &jobs[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(threads[i], NULL), 0);
		if (jobs[i].r != 0)
			fail_msg("node %d: %d %s", i, jobs[i].r, jobs[i].err);
	}
	pthread_barrier_destroy(&start);
	assert_int_equal(raw_count(url, "SELECT count(*) FROM ledgerbox_schema WHERE part = 'store'"), 1);
	assert_int_equal(raw_count(url, "SELECT count(*) FROM audit_head"), 1);
	assert_int_equal(store_key_create(jobs[0].s, NULL, "alice", "finance", ROLE_ANALYST, key, &id), 0);
	assert_int_equal(store_key_authenticate(jobs[1].s, key, &p), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(store_ping(jobs[i].s), 0);
		store_close(jobs[i].s);
		free(dirs[i]);
	}
	pgt_db_drop(url);
}

static void a_node_with_another_pepper_is_refused(void **state)
{
	char url[PGT_URL_MAX], *dir_a = node_dir("pg-pep-a", 0x44), *dir_other = node_dir("pg-pep-c", 0x55);
	char *dir_none = state_path("pg-pep-b"), *dir_late = node_dir("pg-pep-d", 0x66);
	char key[STORE_KEY_MAX], key2[STORE_KEY_MAX], err[512] = "", *path;
	struct store *a, *late, *s = NULL;
	struct principal p;
	struct stat st;
	int64_t id;
	(void)state;

	pgt_db_create("store_pg", url);
	a = node_open(dir_a, url);
	/* Opened before any key exists, with a pepper of its own. */
	late = node_open(dir_late, url);
	assert_int_equal(store_key_create(a, NULL, "alice", "finance", ROLE_ANALYST, key, &id), 0);
	assert_int_equal(store_key_create(late, NULL, "bob", "sales", ROLE_ANALYST, key2, &id),
			 -EKEYREJECTED);
	store_close(late);

	assert_int_equal(store_open_url(dir_other, url, &s, err, sizeof(err)), -EKEYREJECTED);
	assert_null(s);
	assert_non_null(strstr(err, "copy STATE_DIR/key-pepper from a node that has it"));
	err[0] = '\0';
	assert_int_equal(store_open_url(dir_none, url, &s, err, sizeof(err)), -ENOENT);
	assert_null(s);
	assert_non_null(strstr(err, "copy STATE_DIR/key-pepper from a node that has it"));
	assert_true(asprintf(&path, "%s/key-pepper", dir_none) > 0);
	assert_int_equal(stat(path, &st), -1);
	free(path);

	/* Copying the pepper over is the fix. */
	assert_true(asprintf(&path, "%s/key-pepper", dir_other) > 0);
	assert_int_equal(unlink(path), 0);
	free(path);
	{
		char *from, *to;
		int in, out;
		unsigned char pepper[32];
		assert_true(asprintf(&from, "%s/key-pepper", dir_a) > 0);
		assert_true(asprintf(&to, "%s/key-pepper", dir_other) > 0);
		in = open(from, O_RDONLY | O_CLOEXEC);
		out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		assert_true(in >= 0 && out >= 0);
		assert_int_equal(read(in, pepper, 32), 32);
		assert_int_equal(write(out, pepper, 32), 32);
		close(in);
		close(out);
		free(from);
		free(to);
	}
	s = node_open(dir_other, url);
	assert_int_equal(store_key_authenticate(s, key, &p), 0);
	assert_string_equal(p.user, "alice");
	/* The fingerprint is not the pepper. */
	assert_int_equal(raw_count(url, "SELECT count(*) FROM key_pepper WHERE fingerprint"
					" <> encode(decode(repeat('44', 32), 'hex'), 'hex')"),
			 1);
	store_close(s);
	store_close(a);
	pgt_db_drop(url);
	free(dir_a);
	free(dir_other);
	free(dir_none);
	free(dir_late);
}

static void bad_urls_are_refused_clearly(void **state)
{
	char *dir = state_path("pg-bad"), err[512];
	struct store *s = NULL;
	(void)state;

	err[0] = '\0';
	assert_int_equal(store_open_url(dir, "mysql://127.0.0.1/x", &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "postgres://"));
	assert_null(s);
	err[0] = '\0';
	assert_int_equal(store_open_url(dir, "postgres://127.0.0.1:1/nothing?connect_timeout=2", &s,
					err, sizeof(err)),
			 -ECONNREFUSED);
	assert_non_null(strstr(err, "cannot connect to PostgreSQL"));
	assert_null(s);
	err[0] = '\0';
	assert_true(store_open_url(dir, "postgresql://[::1:5432/x?nonsense=1", &s, err, sizeof(err)) < 0);
	assert_true(strlen(err) > 0);
	assert_null(s);
	/* An empty URL is the SQLite store in the state directory. */
	assert_int_equal(store_open_url(dir, "", &s, err, sizeof(err)), 0);
	assert_non_null(s);
	assert_int_equal(store_ping(s), 0);
	store_close(s);
	{
		char *path;
		struct stat st;
		assert_true(asprintf(&path, "%s/ledgerbox.db", dir) > 0);
		assert_int_equal(stat(path, &st), 0);
		free(path);
	}
	free(dir);
}

static void a_lost_connection_is_reestablished(void **state)
{
	char url[PGT_URL_MAX], *dir = state_path("pg-lost"), key[STORE_KEY_MAX], sql[512];
	struct principal p;
	struct store *s;
	int64_t id;
	(void)state;

	pgt_db_create("store_pg", url);
	s = node_open(dir, url);
	assert_int_equal(store_key_create(s, NULL, "alice", "finance", ROLE_ANALYST, key, &id), 0);
	snprintf(sql, sizeof(sql),
		 "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE datname = '%s'"
		 " AND application_name = 'ledgerbox'",
		 strrchr(url, '/') + 1);
	assert_int_equal(raw_exec(pgt_admin_url(), sql), 0);
	/* The read that finds the connection gone is sent again on a new one:
	 * no call fails for it. */
	assert_int_equal(store_ping(s), 0);
	assert_int_equal(store_key_authenticate(s, key, &p), 0);
	/* Nor does a write: its BEGIN is sent again the same way. */
	assert_int_equal(raw_exec(pgt_admin_url(), sql), 0);
	assert_int_equal(store_key_create(s, NULL, "bob", "finance", ROLE_ANALYST, key, &id), 0);
	assert_int_equal(store_key_authenticate(s, key, &p), 0);
	assert_string_equal(p.user, "bob");
	store_close(s);
	pgt_db_drop(url);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(open_migrates_and_answers),
		cmocka_unit_test(keys_create_authenticate_revoke_and_list),
		cmocka_unit_test(runs_insert_get_and_list_with_visibility),
		cmocka_unit_test(artifacts_round_trip_and_bad_names_write_nothing),
		cmocka_unit_test(audit_appends_verify_and_catch_sql_edits),
		cmocka_unit_test(two_nodes_share_keys_runs_and_artifacts),
		cmocka_unit_test(concurrent_appends_from_two_nodes_keep_one_chain),
		cmocka_unit_test(two_nodes_opening_a_fresh_database_at_once),
		cmocka_unit_test(a_node_with_another_pepper_is_refused),
		cmocka_unit_test(bad_urls_are_refused_clearly),
		cmocka_unit_test(a_lost_connection_is_reestablished),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
