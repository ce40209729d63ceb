/*
 * Private interfaces between the files of src/store/. Nothing outside the
 * store part includes this (the store tests do, to build old schemas and to
 * check names).
 *
 * Layout of the part:
 *   store.c         open, close, pragmas, ping, names and roles
 *   store_schema.c  the ordered migrations and how they are applied
 *   store_pepper.c  the secret STATE_DIR/key-pepper that keys API key hashes
 *   store_sql.c     transactions, statements, errors and clocks
 *   store_keys.c    principals and API keys
 *   store_runs.c    run ids and storing a run with its artifacts
 *   store_runs_query.c  reading runs back, with visibility rules
 *   store_files.c   artifact files under STATE_DIR/artifacts/
 *   store_audit.c   the hash-chained audit log and its verification
 *
 * Locking: one SQLite connection per struct store, guarded by s->lock. A
 * public function takes the lock for its whole duration, so a transaction
 * (BEGIN IMMEDIATE .. COMMIT) is never interleaved with another thread's
 * statements and sqlite3_errmsg() belongs to the caller. Functions named
 * *_tx below expect the lock held and a write transaction open; they never
 * begin, commit or roll back themselves.
 */
#ifndef LEDGERBOX_STORE_INTERNAL_H
#define LEDGERBOX_STORE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>
#include <sqlite3.h>

#include "util/clock.h"
#include "util/db.h"

#include "store/store.h"

#define STORE_PEPPER_BYTES 32
#define STORE_KEY_HASH_BYTES 32
#define STORE_HASH_HEX_LEN 64 /* SHA-256 as lowercase hex, without the NUL */
#define STORE_ARTIFACT_NAME_MAX 200
#define STORE_ARTIFACTS_MAX 1024 /* per run; the sandbox keeps at most 256 */
#define STORE_MIME_MAX 128
#define STORE_AUDIT_FIELD_MAX 256 /* actor, action and subject, in bytes */
#define STORE_AUDIT_DETAIL_MAX (64u << 10)
#define STORE_BUSY_TIMEOUT_MS 10000

struct store {
	pthread_mutex_t lock;
	sqlite3 *db;
	int dir_fd;       /* STATE_DIR */
	int artifacts_fd; /* STATE_DIR/artifacts */
	unsigned char pepper[STORE_PEPPER_BYTES];
};

/* store_sql.c */
void store_lock(struct store *s);
void store_unlock(struct store *s);
/* BEGIN IMMEDIATE: takes SQLite's write lock up front, so two processes
 * (the server and the command line) never deadlock upgrading a read. */
int store_tx_begin(struct store *s);
/* A malloc'd copy of a text column; NULL column -> *ret = NULL. */
int store_sql_text_dup(sqlite3_stmt *st, int col, char **ret);
/* The part's name for formatting into a caller's err buffer. */
#define store_err db_err

/* store_schema.c: PRAGMA user_version is the schema version. */
#define STORE_SCHEMA_LATEST 3
int store_schema_version_read(sqlite3 *db, int *ret);
/* Applies migrations (current, target] in order, each in its own
 * transaction. A database newer than this program is refused. */
int store_schema_migrate(sqlite3 *db, int target, char *err, size_t err_len);

/* store_pepper.c: loads STATE_DIR/key-pepper into s->pepper, creating it
 * when it is missing and no key depends on it yet. */
int store_pepper_load(struct store *s, char *err, size_t err_len);

/* store_runs.c: 32 lowercase hex characters. */
bool store_run_id_valid(const char *id);

/* store_files.c */
bool store_artifact_name_valid(const char *name);
/* Creates STATE_DIR/artifacts/<run_id>/ and the files, fsynced. On failure
 * nothing it created is left. */
int store_files_write(struct store *s, const char *run_id, const struct artifact_file *a,
		      size_t n);
/* Removes what store_files_write created (best effort). */
void store_files_remove(struct store *s, const char *run_id, const struct artifact_file *a,
			size_t n);
/* Opens one artifact read-only without following links; returns its size. */
int store_files_open(struct store *s, const char *run_id, const char *name, int *ret_fd,
		     uint64_t *ret_bytes);
/* Removes artifact folders left by a crash between writing the files and
 * committing the run (old enough that no insert can still be running). */
void store_files_sweep(struct store *s);

/* store_audit.c: appends inside the caller's transaction. */
int store_audit_append_tx(struct store *s, const char *actor, const char *action,
			  const char *subject, json_t *detail);

#endif
