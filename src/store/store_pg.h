/*
 * store_pg: the PostgreSQL back end of the store, private to src/store/.
 * The public functions in store*.c check their arguments (the same checks
 * for both back ends) and, when s->pg is set, call the twin here, which
 * does the work under s->lock with the same results and error codes as the
 * SQLite code beside it.
 *
 *   store_pg.c          open (connect, migrate, pepper), close, ping, version
 *   store_pg_sql.c      the lock with a reconnect, binary-safe statements
 *   store_pg_schema.c   the "store" part's migrations (pg_migrate)
 *   store_pg_pepper.c   every node's key-pepper must be the same one
 *   store_pg_probe.c    readiness: the database answers, the pepper agrees
 *   store_pg_keys.c     principals and API keys
 *   store_pg_runs.c     storing a run with its artifacts (bytea)
 *   store_pg_retention.c  expiring runs' artifacts, a team's stored bytes
 *   store_pg_query.c    reading runs and artifacts back, with visibility
 *   store_pg_audit.c    the audit chain: append under a row lock, verify
 *   store_pg_audit_check.c  the head, anchors, runs against entries and ledger
 *   store_pg_datasets.c who owns each dataset, versions and team quotas
 *
 * Many nodes share one database: everything that must be linear (the
 * audit chain, and through it every write transaction that appends to it)
 * serialises on the audit_head row, locked FOR UPDATE inside the
 * transaction.
 */
#ifndef LEDGERBOX_STORE_PG_H
#define LEDGERBOX_STORE_PG_H

#include "store/store_internal.h"
#include "util/pg.h"

#define STORE_PG_SCHEMA_LATEST 4

/* store_pg.c: connects s->pg to url, migrates and loads the pepper from
 * s->dir_fd (state_dir is for messages). */
int store_pg_open(struct store *s, const char *state_dir, const char *url, char *err,
		  size_t err_len);
int store_pg_schema_version(struct store *s, int *ret);
int store_pg_ping(struct store *s);
/* store_pg_probe.c: store_probe_run()'s database and pepper checks. */
struct store_probe;
void store_pg_probe(struct store *s, struct store_probe *ret);

/* store_pg_sql.c: takes s->lock and makes sure the connection is up
 * (reconnecting a lost one); on failure the lock is not held. */
int store_pg_lock(struct store *s);
/* pg_query() on the store's connection. When the connection turns out to
 * have been lost since the last call (the server restarted, an idle
 * connection was dropped), a statement that is safe to send twice (a
 * SELECT, or BEGIN) outside a transaction is sent again once on a new
 * connection, so a restart costs no call; otherwise the loss is
 * -ECONNRESET, and an unreachable server -ECONNREFUSED. */
int store_pg_query(struct store *s, const char *sql, int n, const char *const *params,
		   PGresult **ret, char *err, size_t err_len);
/* BEGIN through store_pg_query(). */
int store_pg_tx_begin(struct store *s);
/* pg_query() where params may be binary: lengths and formats as for
 * PQexecParams (formats[i] 1 = binary), result_binary asks for binary
 * results. */
int store_pg_query_bin(PGconn *c, const char *sql, int n, const char *const *params,
		       const int *lengths, const int *formats, bool result_binary, PGresult **ret);
/* A key hash as a bytea text parameter: "\x" + 64 hex digits. */
#define STORE_PG_HASH_PARAM (2 + 2 * STORE_KEY_HASH_BYTES + 1)
void store_pg_hash_param(const unsigned char hash[STORE_KEY_HASH_BYTES],
			 char ret[STORE_PG_HASH_PARAM]);

/* store_pg_schema.c */
extern const struct pg_schema store_pg_schema;

/* store_pg_pepper.c: loads STATE_DIR/key-pepper into s->pepper, creating
 * it only while the database has no key and no fingerprint; refuses a
 * pepper that differs from the fingerprint (-EKEYREJECTED). */
int store_pg_pepper_load(struct store *s, const char *state_dir, char *err, size_t err_len);
/* With s->lock held: compares the database's recorded fingerprint with
 * this node's pepper and sets s->pepper_mismatch; 0 when they agree (or
 * none is recorded yet), -EKEYREJECTED when not, another -errno (err
 * filled) when the database could not be read. */
int store_pg_pepper_verify_locked(struct store *s, char *err, size_t err_len);
/* Inside a key's transaction: records this node's fingerprint if none is
 * recorded yet; -EKEYREJECTED when a different one is. */
int store_pg_pepper_claim_tx(struct store *s);

/* store_pg_keys.c: hash is the keyed hash of a new or presented key. */
int store_pg_key_create(struct store *s, const char *actor, const char *user, const char *team,
			enum store_role role, const unsigned char hash[STORE_KEY_HASH_BYTES],
			int64_t *ret_key_id);
int store_pg_key_find(struct store *s, const unsigned char hash[STORE_KEY_HASH_BYTES],
		      struct principal *ret);
int store_pg_key_revoke(struct store *s, const char *actor, int64_t key_id);
int store_pg_keys_list(struct store *s, json_t **ret);
int store_pg_admin_key_count(struct store *s, int64_t *ret);

/* store_pg_runs.c: run and artifacts already checked; result is the
 * run's result as compact JSON text (text NULL for none), whole or a patch
 * (store_result_share.c). With `from`, the run's artifacts are rows
 * referring to the bytes of run from's (a and n unused). */
int store_pg_run_insert(struct store *s, const struct run_record *run,
			const struct run_result_text *result, const struct artifact_file *a,
			size_t n, const char *from);
/* The answer run `from` stores whole and that run's id (from's own, or
 * the run from's answer patches); *ret NULL when it has none. */
int store_pg_share_base_get(struct store *s, const char *from,
			    char base_id[STORE_RUN_ID_LEN + 1], json_t **ret);
/* store_pg_retention.c: store_runs_expire() and store_team_artifact_bytes(). */
int store_pg_runs_expire(struct store *s, int64_t now_ms, int64_t cutoff_ms, int limit,
			 int *ret_runs);
int store_pg_team_artifact_bytes(struct store *s, const char *team, uint64_t *ret);

/* store_pg_query.c: arguments already checked. */
int store_pg_run_get(struct store *s, const struct principal *viewer, const char *id,
		     struct run_record *ret);
int store_pg_runs_list(struct store *s, enum store_list_shape shape,
		       const struct principal *viewer, const char *user, int limit, int offset,
		       json_t *array, int64_t *ret_total);
/* A sealed, read-only descriptor holding the artifact's bytes. */
int store_pg_artifact_open(struct store *s, const struct principal *viewer, const char *run_id,
			   const char *name, int *ret_fd, char *ret_mime, size_t mime_len,
			   uint64_t *ret_bytes);

/* store_pg_audit.c */
int store_pg_audit_append_tx(struct store *s, const char *actor, const char *action,
			     const char *subject, json_t *detail);
int store_pg_audit_append(struct store *s, const char *actor, const char *action,
			  const char *subject, json_t *detail);
int store_pg_audit_verify(struct store *s, int64_t *ret_entries, int64_t *ret_bad_id, char *err,
			  size_t err_len);
/* store_pg_audit_check.c: the head, an anchor's check (the cross-check
 * is declared in store_internal.h beside SQLite's). */
int store_pg_audit_head(struct store *s, struct store_audit_anchor *ret);
int store_pg_audit_anchor_check(struct store *s, const struct store_audit_anchor *a, char *err,
				size_t err_len);

/* store_pg_datasets.c: names already checked; key is store_dataset_key(). */
int store_pg_dataset_get(struct store *s, const char *key, struct store_dataset *ret);
int store_pg_dataset_claim(struct store *s, const char *key, const struct store_dataset *d,
			   int64_t quota_bytes, struct store_quota *ret_quota);
int store_pg_dataset_revise(struct store *s, const char *key, const char *name, int64_t bytes,
			    int64_t quota_bytes, struct store_quota *ret_quota,
			    struct store_dataset *ret);
int store_pg_dataset_forget(struct store *s, const char *key);
int store_pg_dataset_publish(struct store *s, const char *key, const char *name);
int store_pg_team_dataset_bytes(struct store *s, const char *team, int64_t *ret);

#endif
