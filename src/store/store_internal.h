/*
 * Private interfaces between the files of src/store/. Nothing outside the
 * store part includes this (the store tests do, to build old schemas and to
 * check names).
 *
 * Layout of the part:
 *   store.c         open, close, pragmas, ping, names and roles
 *   store_schema.c  the ordered migrations and how they are applied
 *   store_pepper.c  the secret STATE_DIR/key-pepper that keys API key hashes
 *   store_probe.c   readiness: the state takes a write (store_probe.h)
 *   store_sql.c     transactions, statements, errors and clocks
 *   store_keys.c    principals and API keys
 *   store_runs.c    run ids and storing a run with its artifacts
 *   store_runs_query.c  reading runs back, with visibility rules
 *   store_files.c   artifact files under STATE_DIR/artifacts/
 *   store_retention.c  shared artifact bytes, retention, a team's bytes
 *   store_datasets.c  who owns each dataset, versions and team quotas
 *   store_audit.c   the hash-chained audit log and its verification (SQLite)
 *   store_audit_chain.c  the audit log's canonical text, hashing and the
 *                   checks of a walk, anchors, shared by both back ends
 *   store_audit_check.c  the head, anchors and the cross-check of runs
 *                   against entries and ledger (SQLite)
 *   store_run_facts.c  what a run's entry records, and the comparison of
 *                   a run row and the ledger with it (both back ends)
 *   store_pg*.c     the PostgreSQL back end (store_pg.h lists its files)
 *
 * Back ends: s->pg is NULL for SQLite. With a PostgreSQL URL, store_open_url()
 * connects s->pg instead of opening s->db, and every public function, after
 * the checks of its arguments that both back ends share, hands the work to
 * its store_pg_* twin (store_pg.h).
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

#include <libpq-fe.h>
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
	PGconn *pg;       /* the PostgreSQL back end; NULL with SQLite */
	/* PostgreSQL: the database's pepper fingerprint, read at the last
	 * reconnect or readiness probe, is not this node's pepper; keys are
	 * then refused (-EKEYREJECTED) until it is again. Under s->lock. */
	bool pepper_mismatch;
	/* Anchors (store_audit_anchor_every()): the interval, who is told,
	 * and the entry that fell due in the open transaction (seq 0: none). */
	int64_t anchor_every;
	store_audit_anchor_fn *anchor_fn;
	void *anchor_ctx;
	struct store_audit_anchor anchor_due;
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
#define STORE_SCHEMA_LATEST 6
int store_schema_version_read(sqlite3 *db, int *ret);
/* Applies migrations (current, target] in order, each in its own
 * transaction. A database newer than this program is refused. */
int store_schema_migrate(sqlite3 *db, int target, char *err, size_t err_len);

/* store_pepper.c: loads STATE_DIR/key-pepper into s->pepper, creating it
 * when it is missing and no key depends on it yet. */
int store_pepper_load(struct store *s, char *err, size_t err_len);
#define STORE_PEPPER_FILE "key-pepper"
/* Reads and checks STATE_DIR/key-pepper; -ENOENT (err untouched) when the
 * file does not exist. */
int store_pepper_read(int dir_fd, unsigned char ret[STORE_PEPPER_BYTES], char *err,
		      size_t err_len);
/* Creates a fresh one; -EEXIST when another process got there first. */
int store_pepper_create(int dir_fd);

/* store_result_share.c: a hit's answer as a patch over its source's
 * answer (NULL when no patch rebuilds it exactly: store it whole), and the
 * answer rebuilt from both. Both return a new reference. */
json_t *store_result_patch(const json_t *base, const json_t *answer);
json_t *store_result_rebuild(const json_t *base, const json_t *patch);
/* Replaces run->result, a patch, with the answer rebuilt over base_text,
 * the answer of the run it patches (-EIO when that is not there). */
int store_run_result_whole(struct run_record *run, const char *base_text);

/* A run's answer as its row stores it: the text, and the run whose answer
 * the text patches ("" when the text is the whole answer). */
struct run_result_text {
	char *text;
	char from[STORE_RUN_ID_LEN + 1];
};

/* store_runs.c: 32 lowercase hex characters. */
bool store_run_id_valid(const char *id);
/* The audit entries' details, the same from both back ends: a created
 * key (a stored run's is store_run_facts()). */
json_t *store_key_audit_detail(const char *user, const char *team, enum store_role role,
			       bool principal_created);

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

/* store_audit.c: the head's entry count and newest hash (SQLite; -EBADMSG
 * when the row is missing or damaged). */
int store_audit_head_read(struct store *s, int64_t *ret_entries,
			  char ret_hash[STORE_HASH_HEX_LEN + 1]);
/* store_audit.c: appends inside the caller's transaction. */
int store_audit_append_tx(struct store *s, const char *actor, const char *action,
			  const char *subject, json_t *detail);

/* store_audit_chain.c: what both back ends hash and check. */
struct store_audit_entry {
	int64_t id;
	int64_t at_ms;
	const char *actor, *action, *subject, *detail, *prev_hash;
};
extern const char store_audit_zero_hash[STORE_HASH_HEX_LEN + 1];
/* Checks the fields of a new entry and sets actor, action, subject (""
 * for NULL) and detail (*ret_detail, the compact sorted JSON or "{}",
 * which the caller frees): -EINVAL, -E2BIG or -ENOMEM otherwise. */
int store_audit_entry_init(struct store_audit_entry *e, const char *actor, const char *action,
			   const char *subject, json_t *detail, char **ret_detail);
/* ret: SHA-256 of the canonical text, 64 lowercase hex digits and a NUL. */
void store_audit_hash(const struct store_audit_entry *e, char ret[STORE_HASH_HEX_LEN + 1]);
/* The steps of an append that differ by back end, all inside the caller's
 * transaction: read the head (locking it where other nodes could append
 * at once), insert an entry, and move the head to it. */
struct store_audit_backend {
	int (*head_read)(struct store *s, int64_t *ret_entries,
			 char ret_hash[STORE_HASH_HEX_LEN + 1]);
	int (*entry_insert)(struct store *s, const struct store_audit_entry *e, const char *hash);
	int (*head_advance)(struct store *s, int64_t entries, const char *hash);
};
/* Appends one entry after the head, inside the caller's transaction: id
 * is the head's count + 1, prev_hash the head's hash, at_ms now. Errors
 * of store_audit_entry_init() or of the back end's steps. */
int store_audit_chain_append(struct store *s, const struct store_audit_backend *be,
			     const char *actor, const char *action, const char *subject,
			     json_t *detail);

/* A walk over the chain in id order: the id and prev_hash the next entry
 * must have, and where and why it broke. */
struct store_audit_walk {
	int64_t next_id;
	char prev[STORE_HASH_HEX_LEN + 1];
	int64_t bad_id;
	char *err;
	size_t err_len;
};
void store_audit_walk_init(struct store_audit_walk *w, char *err, size_t err_len);
/* One stored entry: 0, or -EBADMSG with bad_id and err set. readable is
 * false when a stored value could not be read as what append writes (a
 * NULL text field marks the same). */
int store_audit_walk_entry(struct store_audit_walk *w, const struct store_audit_entry *e,
			   const char *hash, bool readable);
/* The end of a clean walk against the head's count and hash; head_hash
 * NULL when the head row is missing or damaged. */
int store_audit_walk_end(struct store_audit_walk *w, int64_t head_entries, const char *head_hash);

/* store_run_facts.c: the detail of a run's audit entry (a new object;
 * NULL when out of memory), from the run with its whole answer, its
 * principal's team, the answer text as its row stores it and the number
 * of artifact rows. */
json_t *store_run_facts(const struct run_record *run, const char *team,
			const struct run_result_text *stored, size_t n_artifacts);

/* The cross-check of run entries against rows and ledger. Each back end
 * reads the rows and the ledger; the comparison is written once. */
#define STORE_LEDGER_SCOPES_MAX 8 /* a run is charged to org, team, user, session */
struct store_ledger_charge {
	char scope[160];
	int64_t micros;
};
/* The ledger rows charged under ledger_id (none when the budget part has
 * no ledger in this database), at most STORE_LEDGER_SCOPES_MAX. */
struct store_ledger_reader {
	int (*read)(struct store *s, const char *ledger_id, struct store_ledger_charge *ret,
		    size_t *ret_n);
};
/* One chained "run" entry and the row of the run it names, as read. */
struct store_run_row {
	int64_t entry_id;
	const char *subject;   /* the run id the entry names */
	const char *detail;    /* the entry's chained facts */
	bool present;          /* the run has a row; the fields below are set */
	struct run_record run; /* result: the whole answer (new reference) */
	const char *team;
	const char *user;  /* the principal's user name now (NULL: no principal row) */
	const char *actor; /* the entry's actor: the user who ran it */
	struct run_result_text stored; /* text as stored (borrowed), result_from */
};
struct store_run_check {
	struct store *s;
	const struct store_ledger_reader *ledger; /* NULL: no ledger to compare */
	json_t *problems; /* one line each, the first few */
	int64_t n_problems, n_runs;
};
void store_run_check_init(struct store_run_check *c, struct store *s,
			  const struct store_ledger_reader *ledger);
/* Compares one entry with its row and the ledger; problems are recorded
 * in c, the result is 0 or a read error of the ledger. */
int store_run_check_row(struct store_run_check *c, const struct store_run_row *row);
/* Hands the findings over when the check ended with r == 0, else drops
 * them; returns r. */
int store_run_check_end(struct store_run_check *c, int r, json_t **ret_problems, int64_t *ret_runs,
			int64_t *ret_count);
/* A run row no entry records. */
void store_run_check_orphan(struct store_run_check *c, const char *run_id);
/* Sets row->run.result from the stored text, rebuilt over base_text (the
 * answer of run stored.from) for a shared answer; NULL when unreadable. */
void store_run_row_answer(struct store_run_row *row, const char *text, const char *base_text);
/* store_audit_check.c and store_pg_audit_check.c: the back ends' halves
 * of store_audit_crosscheck(), store_audit_head() and anchors. */
int store_sqlite_audit_crosscheck(struct store *s, json_t **ret_problems, int64_t *ret_runs,
				  int64_t *ret_count, char *err, size_t err_len);
int store_pg_audit_crosscheck(struct store *s, json_t **ret_problems, int64_t *ret_runs,
			      int64_t *ret_count, char *err, size_t err_len);
/* After a write transaction that may have appended entries ends with r
 * (0: committed): reports an anchor that fell due in it, or forgets it. */
void store_audit_anchor_settle(struct store *s, int r);
/* Notes an appended entry (inside its transaction) as an anchor when its
 * id is a multiple of the interval. */
void store_audit_anchor_note(struct store *s, int64_t id, const char *hash);
/* An anchor against the hash stored for its entry (NULL: there is none)
 * and the log's length: 0 or -EBADMSG with err set. */
int store_audit_anchor_verdict(const struct store_audit_anchor *a, const char *stored_hash,
			       int64_t entries, char *err, size_t err_len);

/* store_runs_query.c: the three shapes of a list, each able to use an
 * index: an analyst's own runs, one user's runs (admin) and all (admin). */
enum store_list_shape { STORE_LIST_OWN, STORE_LIST_USER, STORE_LIST_ALL };

/* store_datasets.c: the key a dataset's record is found by, its name in
 * ASCII lower case; -EINVAL for an empty name or one over 64 bytes. */
int store_dataset_key(const char *name, char ret[STORE_DATASET_NAME_MAX]);
/* The quota's verdict, the same for both back ends: 0 when a team that
 * uses used_bytes may take bytes more, else -EDQUOT with *ret_quota (may
 * be NULL) filled. */
int store_quota_verdict(int64_t used_bytes, int64_t bytes, int64_t quota_bytes,
			struct store_quota *ret_quota);

#endif
