/*
 * store: opening and closing the state store, and the small helpers the
 * header promises (names, roles, ping, schema version).
 *
 * Opening order matters: the state directory and the database file are
 * created with owner-only modes before SQLite touches them (SQLite gives
 * its -wal and -shm files the database file's mode), the connection is set
 * up (WAL, synchronous=FULL, foreign keys, busy timeout, defensive mode)
 * before any statement runs, migrations run before the pepper is loaded
 * (loading it asks whether keys exist) and leftovers of interrupted inserts
 * are swept last, once the runs table can be asked.
 *
 * synchronous=FULL in WAL mode fsyncs the WAL at every commit, so what a
 * call wrote survives kill -9 and power loss; NORMAL would only survive the
 * former. A run's insert alone commits with NORMAL, because the settle of
 * its cost right after (FULL, same WAL file) puts it on disk anyway: one
 * fsync per answer saved (store.h).
 *
 * With a PostgreSQL URL only the state directory is opened here (it keeps
 * the key pepper); the database, its migrations and the pepper's checks
 * are store_pg.c's, and there are no artifact files to sweep.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "store/store_pg.h"
#include "util/banned.h"

#define ARTIFACTS_DIR "artifacts"

static int dir_open_or_create(int at_fd, const char *path, int nofollow)
{
	int fd;

	if (mkdirat(at_fd, path, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = openat(at_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | nofollow);
	return fd < 0 ? -errno : fd;
}

/* synchronous=FULL and foreign keys: see the top of this file. */
static const struct db_settings settings = {
	.busy_timeout_ms = STORE_BUSY_TIMEOUT_MS,
	.synchronous = "FULL",
	.foreign_keys = true,
	.defensive = true,
};

static int db_open(struct store *s, const char *state_dir, char *err, size_t err_len)
{
	int r = db_state_open(state_dir, s->dir_fd, &settings, &s->db, err, err_len);

	if (r == 0)
		r = store_schema_migrate(s->db, STORE_SCHEMA_LATEST, err, err_len);
	return r;
}

static int dirs_open(struct store *s, const char *state_dir, char *err, size_t err_len)
{
	int fd = dir_open_or_create(AT_FDCWD, state_dir, 0);

	if (fd < 0) {
		store_err(err, err_len, "cannot create or open the state directory %s: %s",
			  state_dir, strerror(-fd));
		return fd;
	}
	s->dir_fd = fd;
	fd = dir_open_or_create(s->dir_fd, ARTIFACTS_DIR, O_NOFOLLOW);
	if (fd < 0) {
		store_err(err, err_len, "cannot create or open %s/%s: %s", state_dir,
			  ARTIFACTS_DIR, strerror(-fd));
		return fd;
	}
	s->artifacts_fd = fd;
	return 0;
}

static void store_free(struct store *s)
{
	if (s->pg)
		PQfinish(s->pg);
	if (s->db)
		sqlite3_close(s->db);
	if (s->artifacts_fd >= 0)
		close(s->artifacts_fd);
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	sodium_memzero(s->pepper, sizeof(s->pepper));
	free(s);
}

static int pg_open(struct store *s, const char *state_dir, const char *url, char *err,
		   size_t err_len)
{
	int fd = dir_open_or_create(AT_FDCWD, state_dir, 0);

	if (fd < 0) {
		store_err(err, err_len, "cannot create or open the state directory %s: %s",
			  state_dir, strerror(-fd));
		return fd;
	}
	s->dir_fd = fd;
	return store_pg_open(s, state_dir, url, err, err_len);
}

int store_open(const char *state_dir, struct store **ret, char *err, size_t err_len)
{
	return store_open_url(state_dir, NULL, ret, err, err_len);
}

int store_open_url(const char *state_dir, const char *database_url, struct store **ret,
		   char *err, size_t err_len)
{
	bool pg = database_url && *database_url;
	struct store *s;
	int r;

	if (!state_dir || !*state_dir || !ret)
		return -EINVAL;
	if (pg && !pg_url_is_postgres(database_url)) {
		store_err(err, err_len,
			  "the database URL must start with postgres:// or postgresql:// "
			  "(or be empty for SQLite in the state directory)");
		return -EINVAL;
	}
	if (sodium_init() < 0) {
		store_err(err, err_len, "libsodium could not initialise");
		return -EIO;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->dir_fd = s->artifacts_fd = -1;
	if (pg) {
		r = pg_open(s, state_dir, database_url, err, err_len);
	} else {
		r = dirs_open(s, state_dir, err, err_len);
		if (r == 0)
			r = db_open(s, state_dir, err, err_len);
		if (r == 0)
			r = store_pepper_load(s, err, err_len);
	}
	if (r == 0)
		r = -pthread_mutex_init(&s->lock, NULL);
	if (r < 0) {
		store_free(s);
		return r;
	}
	if (!s->pg)
		store_files_sweep(s);
	*ret = s;
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	/* Folding the WAL back into the database leaves one self-contained
	 * file for backups; SQLite would also do it on the last close, but
	 * TRUNCATE also gives the WAL's disk space back. */
	if (s->db) {
		store_lock(s);
		(void)db_exec(s->db, "PRAGMA wal_checkpoint(TRUNCATE)");
		store_unlock(s);
	}
	pthread_mutex_destroy(&s->lock);
	store_free(s);
}

int store_schema_version(struct store *s, int *ret)
{
	int version, r;

	if (!s || !ret)
		return -EINVAL;
	if (s->pg)
		return store_pg_schema_version(s, ret);
	store_lock(s);
	r = store_schema_version_read(s->db, &version);
	store_unlock(s);
	if (r == 0)
		*ret = version;
	return r;
}

int store_ping(struct store *s)
{
	sqlite3_stmt *st;
	int r;

	if (!s)
		return -EINVAL;
	if (s->pg)
		return store_pg_ping(s);
	store_lock(s);
	/* Reads a real page (not just SELECT 1), so a lost or unreadable file
	 * shows up here. */
	r = db_prepare(s->db, "SELECT entries FROM audit_head WHERE id = 1", &st);
	if (r == 0) {
		r = db_step(st);
		r = r < 0 ? r : r == 1 && sqlite3_column_type(st, 0) == SQLITE_INTEGER ? 0 : -EIO;
		sqlite3_finalize(st);
	}
	store_unlock(s);
	return r;
}

bool store_error_passing(int err)
{
	switch (err) {
	case -ECONNREFUSED:
	case -ECONNRESET:
	case -EBUSY:
	case -ETIMEDOUT:
	case -ENOSPC:
	case -EROFS:
		return true;
	default:
		return false;
	}
}

/* SQLite's file system: a write needs it writable and with room (a
 * commit appends to the WAL; a run's files are new files). */
static bool state_disk_writable(struct store *s, char *why, size_t why_len)
{
	struct statvfs st;

	if (fstatvfs(s->dir_fd, &st) < 0)
		return true; /* nothing to say: the ping decides */
	if (st.f_flag & ST_RDONLY) {
		store_err(why, why_len, "the state directory's file system is mounted read-only: "
			  "remount it read-write (reads still work)");
		return false;
	}
	if (st.f_bavail == 0) {
		store_err(why, why_len, "the state disk is full: free space where "
			  "LEDGERBOX_STATE_DIR is (reads still work)");
		return false;
	}
	return true;
}

bool store_available(struct store *s, char *why, size_t why_len)
{
	int r;

	if (!s)
		return false;
	r = store_ping(s);
	if (r < 0) {
		store_err(why, why_len, "%s", r == -ECONNREFUSED || r == -ECONNRESET
				      ? "the database cannot be reached"
				      : "the database does not answer as expected");
		return false;
	}
	return s->pg ? true : state_disk_writable(s, why, why_len);
}

bool store_name_valid(const char *name)
{
	size_t len;

	if (!name)
		return false;
	len = strlen(name);
	if (len == 0 || len >= STORE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '.' || c == '_' || c == '-';
		if (!ok)
			return false;
	}
	return true;
}

int store_role_parse(const char *name, enum store_role *ret)
{
	if (!name || !ret)
		return -EINVAL;
	if (strcmp(name, "analyst") == 0)
		*ret = ROLE_ANALYST;
	else if (strcmp(name, "admin") == 0)
		*ret = ROLE_ADMIN;
	else
		return -EINVAL;
	return 0;
}

const char *store_role_name(enum store_role role)
{
	return role == ROLE_ADMIN ? "admin" : "analyst";
}
