/*
 * store: ledgerbox's state database (SQLite, WAL) and artifact files, or
 * the same in a PostgreSQL database that many nodes share
 * (store_open_url(); docs/postgres.md).
 *
 * One struct store per process, shared by every HTTP thread: each call is
 * safe from any thread (the implementation serialises writes). Everything a
 * run produces is kept: the run row, its artifacts (files under
 * STATE_DIR/artifacts/<run id>/, indexed in the database; a run answered
 * from the cache shares the files of the run it came from) and an audit entry,
 * committed in one transaction, so a crash after the commit loses nothing
 * and a crash before it leaves no half-written run.
 *
 * The audit log is append-only and hash-chained: each entry stores the
 * SHA-256 of the previous entry's canonical text, so editing or deleting any
 * row breaks the chain and store_audit_verify() says where.
 *
 * All functions return 0 or a negative errno; -ENOENT when a thing does not
 * exist (or is not visible to the caller), -EINVAL for bad arguments, -EIO
 * for a database failure. Where an `err` buffer is taken it receives a
 * one-line message on failure. Out-parameters are written only on success.
 */
#ifndef LEDGERBOX_STORE_H
#define LEDGERBOX_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct store;

#define STORE_NAME_MAX 64 /* user and team names: [A-Za-z0-9._-]{1,63} */
#define STORE_RUN_ID_LEN 32 /* 32 lowercase hex characters */

enum store_role { ROLE_ANALYST, ROLE_ADMIN };

struct principal {
	int64_t id;
	char user[STORE_NAME_MAX];
	char team[STORE_NAME_MAX];
	enum store_role role;
	int64_t key_id; /* the API key that authenticated it; 0 otherwise */
};

/* Opens (creating if needed, mode 0700) STATE_DIR, its database
 * STATE_DIR/ledgerbox.db (0600) and STATE_DIR/artifacts/, and applies pending
 * migrations in order, each in its own transaction. Also loads, or creates
 * while no key exists yet, the secret STATE_DIR/key-pepper (0600) that keys
 * the API key hashes; a missing pepper with keys present is -ENOENT, one
 * readable by others -EPERM. A database from a newer ledgerbox is
 * -EPROTONOSUPPORT. Several processes (the server and the command line)
 * may have the same state directory open. */
int store_open(const char *state_dir, struct store **ret, char *err, size_t err_len);
/* store_open() when database_url is NULL or "". A postgres:// or
 * postgresql:// URL keeps everything in that PostgreSQL database instead
 * (tables created or upgraded at open, safely when several nodes start at
 * once; artifacts' bytes in the database, so any node serves them), with
 * the same semantics and error codes for every function below. The state
 * directory still holds STATE_DIR/key-pepper, which every node sharing the
 * database must have the same copy of: the database records a keyed
 * fingerprint of it with the first key, and a node whose pepper differs is
 * refused with -EKEYREJECTED; one without the file while keys exist, with
 * -ENOENT (a new one is created only while there are no keys). Both say in
 * err to copy the file from another node. Any other URL is -EINVAL; an
 * unreachable server -ECONNREFUSED. A lost connection is re-established at
 * the next call. */
int store_open_url(const char *state_dir, const char *database_url, struct store **ret,
		   char *err, size_t err_len);
/* Closes the database cleanly (checkpointing the WAL); accepts NULL. */
void store_close(struct store *s);
/* The schema version after migrations. */
int store_schema_version(struct store *s, int *ret);
/* A cheap query proving the database answers (for /readyz). */
int store_ping(struct store *s);

/* True when err says the store could not be asked or could not write
 * just now, not that what was asked for is missing or wrong: the database
 * cannot be reached or its connection was lost (-ECONNREFUSED,
 * -ECONNRESET), it stayed busy or timed out (-EBUSY, -ETIMEDOUT), or its
 * disk is full or read-only (-ENOSPC, -EROFS). Such a failure passes
 * without anyone changing a request; the server answers it 503 with
 * Retry-After. The same codes come from the budget ledger and the cache,
 * which keep their tables in the same database. */
bool store_error_passing(int err);
/* Whether the store answers reads and can take a write now: a ping, and
 * with SQLite a look at the state directory's file system (neither
 * read-only nor full). When not, why is one line for an operator
 * ("the state disk is full: ..."). For a readiness check. */
bool store_available(struct store *s, char *why, size_t why_len);

/* Names: user and team must match [A-Za-z0-9._-]{1,63}. */
bool store_name_valid(const char *name);
int store_role_parse(const char *name, enum store_role *ret);
const char *store_role_name(enum store_role role);

/* Creates the principal if new (same user: team and role must match, else
 * -EEXIST) and a new API key for it. The key ("lbx_" + 43 url-safe base64
 * characters of 32 random bytes) is written to ret_key (at least
 * STORE_KEY_MAX bytes) and never stored: only a keyed BLAKE2b hash is, and
 * lookups compare in constant time. Appends an audit entry (actor may be
 * NULL for the command line: recorded as "cli"). With PostgreSQL,
 * -EKEYREJECTED when another node made the first key with a different
 * pepper since this store was opened. */
#define STORE_KEY_MAX 64
int store_key_create(struct store *s, const char *actor, const char *user, const char *team,
		     enum store_role role, char *ret_key, int64_t *ret_key_id);
/* The principal owning an active key, or -ENOENT (also for revoked keys). */
int store_key_authenticate(struct store *s, const char *key, struct principal *ret);
/* Revokes a key by id; audited. -ENOENT when no active key has that id. */
int store_key_revoke(struct store *s, const char *actor, int64_t key_id);
/* Active keys: [{"id", "user", "team", "role", "created_at"}] (no secrets),
 * oldest first; created_at is RFC 3339 UTC text, "2024-05-01T12:00:00.123Z". */
int store_keys_list(struct store *s, json_t **ret);
/* Number of active admin keys (make run creates one when there is none). */
int store_admin_key_count(struct store *s, int64_t *ret);

/* A finished run, as stored. Strings are NUL-terminated and owned by the
 * caller; result is the JSON the API answered (its table may be cut). */
struct run_record {
	char id[STORE_RUN_ID_LEN + 1];
	int64_t principal_id;
	const char *user;      /* filled by reads; ignored by insert */
	const char *language;  /* "python" | "sql" */
	const char *dataset;   /* may be NULL */
	const char *session;   /* may be NULL */
	const char *status;
	const char *code;
	json_t *result;        /* borrowed on insert, new reference on read */
	int64_t created_ms;    /* Unix milliseconds */
	int64_t duration_ms;
	int64_t key_id;        /* the API key the run was asked with (0: none);
				* insert records it in the audit entry only */
	int64_t files_expired_ms; /* filled by reads: when retention removed its
				   * artifacts (Unix ms), 0 while they are kept */
};

struct artifact_file {
	const char *name; /* validated plain file name */
	const char *mime;
	const void *data;
	size_t bytes;
};

/* A fresh random run id (32 hex characters + NUL). */
void store_run_id_new(char ret[STORE_RUN_ID_LEN + 1]);
/* Stores the run, writes its artifact files (name, mime, bytes) under
 * STATE_DIR/artifacts/<id>/ (written and fsynced before the transaction
 * commits; removed again if it fails) and appends an audit entry
 * ("run", actor = the run's user, subject = run id, detail = the run's
 * facts that store_audit_crosscheck() compares), all or nothing.
 * On SQLite the commit survives the process dying as soon as this returns
 * but is not fsynced by itself: the next synchronous=FULL commit to the
 * same database (the server's settle of the run's cost, which follows at
 * once) fsyncs the shared WAL file and with it this run. Every other write
 * of the store fsyncs at its own commit. PostgreSQL commits durably.
 * -EINVAL for a bad field or artifact (names: plain file names of at most
 * 200 bytes, no '/', backslash or control characters, not "." or "..", unique;
 * at most 1024 artifacts) with nothing written; -EEXIST for a run id
 * already stored; -ENOENT when principal_id names no principal. */
int store_run_insert(struct store *s, const struct run_record *run,
		     const struct artifact_file *artifacts, size_t n_artifacts);
/* Stores a run answered from the cache: its artifacts are those of the
 * earlier run `from` (any principal's), shared, not copied: new artifact
 * rows refer to the bytes `from` stored, and no byte is read or written.
 * The run row and audit entry as store_run_insert(), all or nothing.
 * -ENOENT when `from` does not exist, -ESTALE when its files expired;
 * otherwise as store_run_insert(). */
int store_run_insert_shared(struct store *s, const struct run_record *run, const char *from);
/* Retention: marks the runs created before cutoff_ms whose files are still
 * kept as expired (at most `limit` of them, oldest first) and removes
 * their artifact rows. Stored bytes go with the last row that refers to
 * them: bytes another, newer run shares stay until that run expires too.
 * The run rows and audit entries stay. *ret_runs: runs marked. */
int store_runs_expire(struct store *s, int64_t cutoff_ms, int limit, int *ret_runs);
/* The artifact bytes stored for a team's runs: what they wrote, not what
 * they share (a cache hit adds nothing), including bytes an expired run
 * still holds for a newer run sharing them. */
int store_team_artifact_bytes(struct store *s, const char *team, uint64_t *ret);
/* Reads one run. viewer: an analyst sees only their own runs (another's is
 * -ENOENT, as is a malformed id); an admin sees all. Release with
 * store_run_record_release() (accepts NULL). */
int store_run_get(struct store *s, const struct principal *viewer, const char *id,
		  struct run_record *ret);
void store_run_record_release(struct run_record *run);
/* Newest first: [{"id", "user", "language", "dataset", "status", "created_at",
 * "duration_ms"}] (created_at as RFC 3339 UTC text, dataset may be null).
 * An analyst sees only their own (asking for another `user` gives an empty
 * page); an admin all, or only `user` when it is not NULL. limit 1..500;
 * offset >= 0. *ret_total counts every matching run, not just the page. */
int store_runs_list(struct store *s, const struct principal *viewer, const char *user,
		    int limit, int offset, json_t **ret_array, int64_t *ret_total);
/* Opens an artifact of a run the viewer may see, read-only (O_NOFOLLOW),
 * with its mime type and size. The caller closes the descriptor. -ENOENT
 * for a run or name the viewer cannot see; -ESTALE when the run's files were
 * removed by retention; -ERANGE when mime_len is too
 * small (128 always suffices); -EIO when the file is missing or not the
 * size that was stored (it was changed behind the store's back). */
int store_artifact_open(struct store *s, const struct principal *viewer, const char *run_id,
			const char *name, int *ret_fd, char *ret_mime, size_t mime_len,
			uint64_t *ret_bytes);

/* Appends an audit entry. actor: a user name or "cli"/"system". action: a
 * short verb ("run", "key.create", "key.revoke", ...). subject: what it
 * acted on (may be NULL). detail: optional JSON object (borrowed), at most
 * 64 KiB as compact JSON. actor and action non-empty, all three at most 256
 * bytes without '|' or control characters (-EINVAL otherwise): that keeps
 * the hashed text unambiguous. */
int store_audit_append(struct store *s, const char *actor, const char *action,
		       const char *subject, json_t *detail);
/* Walks the whole chain. Intact: 0 and *ret_entries. On a break: -EBADMSG,
 * *ret_bad_id is the first entry that is wrong or missing (0 when the
 * audit_head row itself is damaged), and err says what is wrong. Holds the
 * store's lock for the walk (other callers in this process wait). */
int store_audit_verify(struct store *s, int64_t *ret_entries, int64_t *ret_bad_id, char *err,
		       size_t err_len);

/* An anchor: an entry of the audit log by id and hash, written down
 * outside the database ("SEQ:HASH", STORE_AUDIT_ANCHOR_TEXT_MAX bytes
 * with the NUL) so that a later rewrite of the log up to that entry, or a
 * truncation below it, can be told even when it was done consistently. */
#define STORE_AUDIT_HASH_HEX_LEN 64
#define STORE_AUDIT_ANCHOR_TEXT_MAX 96
struct store_audit_anchor {
	int64_t seq;
	char hash[STORE_AUDIT_HASH_HEX_LEN + 1];
};
/* The head: the newest entry's id and hash (0 and 64 zeros when empty). */
int store_audit_head(struct store *s, struct store_audit_anchor *ret);
/* "SEQ:HASH" (SEQ >= 1, HASH 64 lowercase hex digits); -EINVAL otherwise. */
int store_audit_anchor_parse(const char *text, struct store_audit_anchor *ret);
void store_audit_anchor_format(const struct store_audit_anchor *a,
			       char ret[STORE_AUDIT_ANCHOR_TEXT_MAX]);
/* Whether the log still holds entry a->seq with hash a->hash: 0, or
 * -EBADMSG with err saying what differs (the entry is missing: the log
 * was cut below it; its hash differs: the log was rewritten up to it). Use
 * after store_audit_verify() found the chain intact: together they prove
 * entries 1..seq are those the anchor was taken from. */
int store_audit_anchor_check(struct store *s, const struct store_audit_anchor *a, char *err,
			     size_t err_len);
/* Called with each anchor that falls due: after the commit of an append
 * whose entry id is a multiple of `every`, by the process that appended
 * it (holding the store's lock: fn must not call the store). every 0
 * turns it off. */
typedef void store_audit_anchor_fn(void *ctx, const struct store_audit_anchor *a);
void store_audit_anchor_every(struct store *s, int64_t every, store_audit_anchor_fn *fn,
			      void *ctx);
/* Cross-checks, in one snapshot, every "run" entry against its row in
 * runs (the chained facts against the row's: a field edited in the row
 * is named, a deleted row reported), every run row against the chain (a
 * row no entry records), and the spend ledger's charges under each run's
 * ledger ids against the cost the entry records. 0 with *ret_problems a
 * new array of one-line messages (at most 50; *ret_count counts all) and
 * *ret_runs the run entries checked; < 0 when it could not read. */
int store_audit_crosscheck(struct store *s, json_t **ret_problems, int64_t *ret_runs,
			   int64_t *ret_count, char *err, size_t err_len);

/* Who owns a dataset (docs/datasets.md). A dataset uploaded through the
 * API belongs to its uploader's team, or to the organisation when an admin
 * publishes it; one in DATA_DIR without a record belongs to the
 * organisation. Names are unique ignoring ASCII case: a record is found by
 * any spelling of its name. version counts the dataset's contents (1 at
 * upload, +1 per replace or append); bytes is what its files take, which
 * counts against its team's quota. */
#define STORE_DATASET_NAME_MAX 65 /* 64 bytes and the NUL */
struct store_dataset {
	char name[STORE_DATASET_NAME_MAX];
	char team[STORE_NAME_MAX]; /* "" when it belongs to the organisation */
	int64_t version;
	int64_t bytes;
};
/* What a quota refusal reports: the team's bytes now and its limit. */
struct store_quota {
	int64_t used_bytes;
	int64_t limit_bytes;
};
/* The record of a dataset, found ignoring case; -ENOENT when none. */
int store_dataset_get(struct store *s, const char *name, struct store_dataset *ret);
/* Records a new dataset (version 1) for d->team ("" for the organisation).
 * -EEXIST when a record of that name, ignoring case, exists. For a team:
 * -EDQUOT when the team's datasets and d->bytes together would pass
 * quota_bytes, with *ret_quota filled (used without the new one). Not
 * audited: the caller audits once the files are in place. */
int store_dataset_claim(struct store *s, const struct store_dataset *d, int64_t quota_bytes,
			struct store_quota *ret_quota);
/* A new version of a dataset that now takes bytes: version + 1, or 2 for
 * a dataset that had no record (it stays the organisation's). For a team's
 * dataset, -EDQUOT as for a claim, its old bytes not counted. *ret (may be
 * NULL) is the record after the change. Not audited. */
int store_dataset_revise(struct store *s, const char *name, int64_t bytes, int64_t quota_bytes,
			 struct store_quota *ret_quota, struct store_dataset *ret);
/* Drops a dataset's record (deleted, or a claim whose files could not be
 * put in place). Missing is not an error. Not audited. */
int store_dataset_forget(struct store *s, const char *name);
/* Gives a dataset to the organisation (team ""), creating its record when
 * it had none. Not audited. */
int store_dataset_publish(struct store *s, const char *name);
/* Bytes of the datasets a team owns. */
int store_team_dataset_bytes(struct store *s, const char *team, int64_t *ret);

#endif
