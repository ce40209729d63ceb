/*
 * store_pg_pepper: the key pepper when many nodes share one PostgreSQL
 * database.
 *
 * API keys are stored as BLAKE2b(key, pepper), and the pepper stays in
 * each node's STATE_DIR/key-pepper, outside the database (store_pepper.c
 * says why). With one database behind many nodes, every node must hold
 * the same pepper, or a key made on one node fails on the others. So the
 * database records a fingerprint of the pepper, BLAKE2b keyed with the
 * pepper over a fixed context string: it identifies the pepper without
 * revealing anything about it.
 *
 * Invariants: the fingerprint is recorded in the transaction of the first
 * key (store_pg_pepper_claim_tx), so keys never exist without it; a node
 * whose pepper differs is refused at open, and at key creation if it
 * opened before the first key was made elsewhere; a node without a pepper
 * file creates one only while the database has neither keys nor a
 * fingerprint (otherwise the file must be copied from another node).
 */
#include <errno.h>
#include <string.h>

#include "store/store_pg.h"
#include "util/banned.h"

#define FINGERPRINT_CONTEXT "ledgerbox key-pepper fingerprint v1"
#define FINGERPRINT_HEX (STORE_HASH_HEX_LEN + 1)
#define COPY_ADVICE "copy STATE_DIR/key-pepper from a node that has it (mode 0600)"

static void fingerprint(const unsigned char pepper[STORE_PEPPER_BYTES], char ret[FINGERPRINT_HEX])
{
	unsigned char digest[32];

	crypto_generichash(digest, sizeof(digest), (const unsigned char *)FINGERPRINT_CONTEXT,
			   strlen(FINGERPRINT_CONTEXT), pepper, STORE_PEPPER_BYTES);
	sodium_bin2hex(ret, FINGERPRINT_HEX, digest, sizeof(digest));
}

/* The recorded fingerprint ("" when none) and whether any key exists
 * (revoked ones count: the pepper still explains their rows). */
static int db_state(struct store *s, char fp[FINGERPRINT_HEX], bool *keys_exist, char *err,
		    size_t err_len)
{
	PGresult *res;
	int r = store_pg_query(s,
			 "SELECT (SELECT fingerprint FROM key_pepper WHERE id = 1),"
			 " EXISTS (SELECT 1 FROM api_keys)",
			 0, NULL, &res, err, err_len);

	if (r < 0)
		return r;
	if (PQntuples(res) != 1 ||
	    (!PQgetisnull(res, 0, 0) && strlen(PQgetvalue(res, 0, 0)) != STORE_HASH_HEX_LEN))
		r = -EIO;
	if (r == 0) {
		memcpy(fp, PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0),
		       PQgetisnull(res, 0, 0) ? 1 : FINGERPRINT_HEX);
		*keys_exist = PQgetvalue(res, 0, 1)[0] == 't';
	}
	PQclear(res);
	return r;
}

/* Reads this node's pepper, creating it only when nothing needs an old one. */
static int pepper_get(struct store *s, const char *state_dir, bool needed, char *err,
		      size_t err_len)
{
	int r = store_pepper_read(s->dir_fd, s->pepper, err, err_len);

	if (r != -ENOENT)
		return r;
	if (needed) {
		store_err(err, err_len,
			  "%s/%s is missing but the API keys in PostgreSQL were made with a pepper; "
			  COPY_ADVICE,
			  state_dir, STORE_PEPPER_FILE);
		return -ENOENT;
	}
	r = store_pepper_create(s->dir_fd);
	if (r < 0 && r != -EEXIST) {
		store_err(err, err_len, "cannot create %s/%s: %s", state_dir, STORE_PEPPER_FILE,
			  strerror(-r));
		return r;
	}
	return store_pepper_read(s->dir_fd, s->pepper, err, err_len);
}

int store_pg_pepper_load(struct store *s, const char *state_dir, char *err, size_t err_len)
{
	char recorded[FINGERPRINT_HEX], mine[FINGERPRINT_HEX], why[256] = "";
	bool keys_exist = false;
	int r = db_state(s, recorded, &keys_exist, why, sizeof(why));

	if (r < 0) {
		store_err(err, err_len, "cannot read the key pepper's fingerprint from PostgreSQL: %s",
			  why[0] ? why : "unexpected answer");
		return r;
	}
	r = pepper_get(s, state_dir, keys_exist || recorded[0], err, err_len);
	if (r < 0)
		return r;
	if (!recorded[0] && keys_exist) {
		store_err(err, err_len,
			  "the database has API keys but no key_pepper row, so this node's pepper "
			  "cannot be checked; restore the key_pepper table from a backup");
		return -EBADMSG;
	}
	if (!recorded[0])
		return 0;
	fingerprint(s->pepper, mine);
	if (sodium_memcmp(mine, recorded, STORE_HASH_HEX_LEN) != 0) {
		store_err(err, err_len,
			  "%s/%s is not the pepper the API keys in PostgreSQL were made with (every "
			  "node must use the same one); " COPY_ADVICE,
			  state_dir, STORE_PEPPER_FILE);
		return -EKEYREJECTED;
	}
	return 0;
}

int store_pg_pepper_verify_locked(struct store *s, char *err, size_t err_len)
{
	char recorded[FINGERPRINT_HEX], mine[FINGERPRINT_HEX];
	PGresult *res;
	int r = pg_query(s->pg, "SELECT fingerprint FROM key_pepper WHERE id = 1", 0, NULL, &res,
			 err, err_len);

	if (r < 0)
		return r;
	if (PQntuples(res) > 1 ||
	    (PQntuples(res) == 1 && strlen(PQgetvalue(res, 0, 0)) != STORE_HASH_HEX_LEN)) {
		PQclear(res);
		store_err(err, err_len, "the key_pepper row is not a fingerprint");
		return -EIO;
	}
	memcpy(recorded, PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "",
	       PQntuples(res) == 1 ? FINGERPRINT_HEX : 1);
	PQclear(res);
	/* No fingerprint yet: no key exists that another pepper made (the
	 * first key records it, store_pg_pepper_claim_tx). */
	if (!recorded[0]) {
		s->pepper_mismatch = false;
		return 0;
	}
	fingerprint(s->pepper, mine);
	s->pepper_mismatch = sodium_memcmp(mine, recorded, STORE_HASH_HEX_LEN) != 0;
	return s->pepper_mismatch ? -EKEYREJECTED : 0;
}

int store_pg_pepper_claim_tx(struct store *s)
{
	char mine[FINGERPRINT_HEX], now[PG_INT_TEXT];
	const char *params[2] = { mine, pg_i64_text(clock_unix_ms(), now) };
	PGresult *res;
	int r;

	fingerprint(s->pepper, mine);
	r = store_pg_query(s,
		     "INSERT INTO key_pepper (id, fingerprint, created_ms) VALUES (1, $1, $2)"
		     " ON CONFLICT (id) DO NOTHING",
		     2, params, NULL, NULL, 0);
	if (r < 0)
		return r;
	/* Read committed: this sees the row of a node that won the race. */
	r = store_pg_query(s, "SELECT fingerprint FROM key_pepper WHERE id = 1", 0, NULL, &res, NULL,
		     0);
	if (r < 0)
		return r;
	if (PQntuples(res) != 1)
		r = -EIO;
	else if (strcmp(PQgetvalue(res, 0, 0), mine) != 0)
		r = -EKEYREJECTED;
	PQclear(res);
	return r;
}
