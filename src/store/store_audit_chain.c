/*
 * store_audit_chain: the audit log's canonical text and hash, the checks
 * of a new entry, how an append links it to the head (through the back
 * end's own head and insert steps), and the checks of a walk over the
 * stored chain. Both
 * back ends (SQLite in store_audit.c, PostgreSQL in store_pg_audit.c) use
 * these, so a chain means the same thing wherever it is kept.
 *
 * Canonical text of an entry, the exact bytes that are hashed:
 *
 *     <id>|<at_ms>|<actor>|<action>|<subject>|<detail>|<prev_hash>
 *
 * id and at_ms in base 10 (printf "%lld": no '+', no leading zeros); actor,
 * action and subject as stored (UTF-8, 0..256 bytes, never containing '|'
 * or a control character: append refuses such values and verify treats a
 * stored one as tampering, which keeps the split into fields unambiguous);
 * detail as stored, compact JSON with sorted keys, "{}" when there is none
 * (it may contain '|', but it is the only such field and prev_hash after
 * it has a fixed length); prev_hash as 64 lowercase hex digits. No
 * trailing newline. hash = lowercase hex SHA-256 of that text. The first
 * entry has id 1 and prev_hash of 64 zeros; entry N+1 has id N+1 and
 * prev_hash = hash of N.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "util/banned.h"

const char store_audit_zero_hash[STORE_HASH_HEX_LEN + 1] =
	"0000000000000000000000000000000000000000000000000000000000000000";

static bool field_ok(const char *text, bool required)
{
	size_t len;

	if (!text)
		return false;
	len = strlen(text);
	if ((required && len == 0) || len > STORE_AUDIT_FIELD_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c < 0x20 || c == 0x7f || c == '|')
			return false;
	}
	return true;
}

static void hash_part(crypto_hash_sha256_state *h, const char *text, bool last)
{
	crypto_hash_sha256_update(h, (const unsigned char *)text, strlen(text));
	if (!last)
		crypto_hash_sha256_update(h, (const unsigned char *)"|", 1);
}

void store_audit_hash(const struct store_audit_entry *e, char ret[STORE_HASH_HEX_LEN + 1])
{
	unsigned char digest[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state h;
	char num[24];

	crypto_hash_sha256_init(&h);
	snprintf(num, sizeof(num), "%lld", (long long)e->id);
	hash_part(&h, num, false);
	snprintf(num, sizeof(num), "%lld", (long long)e->at_ms);
	hash_part(&h, num, false);
	hash_part(&h, e->actor, false);
	hash_part(&h, e->action, false);
	hash_part(&h, e->subject, false);
	hash_part(&h, e->detail, false);
	hash_part(&h, e->prev_hash, true);
	crypto_hash_sha256_final(&h, digest);
	sodium_bin2hex(ret, STORE_HASH_HEX_LEN + 1, digest, sizeof(digest));
}

static int detail_text(json_t *detail, char **ret)
{
	char *text;

	if (detail && !json_is_object(detail))
		return -EINVAL;
	text = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
	if (!text)
		return -ENOMEM;
	if (strlen(text) > STORE_AUDIT_DETAIL_MAX) {
		free(text);
		return -E2BIG;
	}
	*ret = text;
	return 0;
}

int store_audit_entry_init(struct store_audit_entry *e, const char *actor, const char *action,
			   const char *subject, json_t *detail, char **ret_detail)
{
	char *text;
	int r;

	if (!subject)
		subject = "";
	if (!field_ok(actor, true) || !field_ok(action, true) || !field_ok(subject, false))
		return -EINVAL;
	r = detail_text(detail, &text);
	if (r < 0)
		return r;
	e->actor = actor;
	e->action = action;
	e->subject = subject;
	e->detail = text;
	*ret_detail = text;
	return 0;
}

int store_audit_chain_append(struct store *s, const struct store_audit_backend *be,
			     const char *actor, const char *action, const char *subject,
			     json_t *detail)
{
	char prev[STORE_HASH_HEX_LEN + 1], hash[STORE_HASH_HEX_LEN + 1];
	struct store_audit_entry e = { 0 };
	char *text = NULL;
	int64_t entries;
	int r = store_audit_entry_init(&e, actor, action, subject, detail, &text);

	if (r == 0)
		r = be->head_read(s, &entries, prev);
	if (r == 0) {
		e.id = entries + 1;
		e.at_ms = clock_unix_ms();
		e.prev_hash = prev;
		store_audit_hash(&e, hash);
		r = be->entry_insert(s, &e, hash);
	}
	if (r == 0)
		r = be->head_advance(s, e.id, hash);
	if (r == 0)
		store_audit_anchor_note(s, e.id, hash);
	free(text);
	return r;
}

/* ---- anchors ------------------------------------------------------------ */

void store_audit_anchor_every(struct store *s, int64_t every, store_audit_anchor_fn *fn,
			      void *ctx)
{
	store_lock(s);
	s->anchor_every = every > 0 && fn ? every : 0;
	s->anchor_fn = fn;
	s->anchor_ctx = ctx;
	store_unlock(s);
}

void store_audit_anchor_note(struct store *s, int64_t id, const char *hash)
{
	if (s->anchor_every > 0 && id % s->anchor_every == 0) {
		s->anchor_due.seq = id;
		memcpy(s->anchor_due.hash, hash, STORE_HASH_HEX_LEN + 1);
	}
}

void store_audit_anchor_settle(struct store *s, int r)
{
	/* Only a committed entry is worth writing down: an anchor of a
	 * rolled-back one would later read as a rewritten log. */
	if (r == 0 && s->anchor_due.seq > 0 && s->anchor_fn)
		s->anchor_fn(s->anchor_ctx, &s->anchor_due);
	s->anchor_due.seq = 0;
}

int store_audit_anchor_parse(const char *text, struct store_audit_anchor *ret)
{
	const char *colon = text ? strchr(text, ':') : NULL;
	char *end;
	long long seq;

	if (!colon || colon == text || text[0] < '0' || text[0] > '9')
		return -EINVAL;
	errno = 0;
	seq = strtoll(text, &end, 10);
	if (errno || end != colon || seq < 1 || strlen(colon + 1) != STORE_HASH_HEX_LEN)
		return -EINVAL;
	for (const char *h = colon + 1; *h; h++)
		if (!((*h >= '0' && *h <= '9') || (*h >= 'a' && *h <= 'f')))
			return -EINVAL;
	ret->seq = seq;
	memcpy(ret->hash, colon + 1, STORE_HASH_HEX_LEN + 1);
	return 0;
}

void store_audit_anchor_format(const struct store_audit_anchor *a,
			       char ret[STORE_AUDIT_ANCHOR_TEXT_MAX])
{
	snprintf(ret, STORE_AUDIT_ANCHOR_TEXT_MAX, "%lld:%s", (long long)a->seq, a->hash);
}

/* The verdict on an anchor given the hash stored for its entry (NULL: no
 * such entry) and the log's length. */
int store_audit_anchor_verdict(const struct store_audit_anchor *a, const char *stored_hash,
			       int64_t entries, char *err, size_t err_len)
{
	if (!stored_hash) {
		store_err(err, err_len,
			  "entry %lld of the anchor is missing: the log now ends at entry %lld "
			  "(it was cut back below the anchor)",
			  (long long)a->seq, (long long)entries);
		return -EBADMSG;
	}
	if (strcmp(stored_hash, a->hash) != 0) {
		store_err(err, err_len,
			  "entry %lld now has hash %s, not the anchor's %s (the log was rewritten "
			  "at or before that entry)",
			  (long long)a->seq, stored_hash, a->hash);
		return -EBADMSG;
	}
	return 0;
}

void store_audit_walk_init(struct store_audit_walk *w, char *err, size_t err_len)
{
	memset(w, 0, sizeof(*w));
	w->next_id = 1;
	memcpy(w->prev, store_audit_zero_hash, sizeof(w->prev));
	w->err = err;
	w->err_len = err_len;
}

static int walk_fail(struct store_audit_walk *w, int64_t bad_id, const char *reason)
{
	w->bad_id = bad_id;
	store_err(w->err, w->err_len, "%s", reason);
	return -EBADMSG;
}

static bool walk_fields_ok(const struct store_audit_entry *e, const char *hash)
{
	return field_ok(e->actor, true) && field_ok(e->action, true) &&
	       field_ok(e->subject, false) && e->detail && e->prev_hash && hash;
}

int store_audit_walk_entry(struct store_audit_walk *w, const struct store_audit_entry *e,
			   const char *hash, bool readable)
{
	char computed[STORE_HASH_HEX_LEN + 1], reason[160];

	if (e->id != w->next_id) {
		snprintf(reason, sizeof(reason), "the entry is missing (the next entry is %lld)",
			 (long long)e->id);
		return walk_fail(w, w->next_id, reason);
	}
	if (!readable || !walk_fields_ok(e, hash))
		return walk_fail(w, e->id, "a field holds a value no append writes "
					   "('|', a control character, too long or not text)");
	store_audit_hash(e, computed);
	if (strcmp(computed, hash) != 0)
		return walk_fail(w, e->id, "its hash does not match its contents (the entry was edited)");
	if (strcmp(e->prev_hash, w->prev) != 0) {
		if (e->id == 1)
			return walk_fail(w, e->id, "its prev_hash is not 64 zeros, as the first entry's must be");
		snprintf(reason, sizeof(reason),
			 "its prev_hash is not the hash of entry %lld (that entry was edited and "
			 "rehashed, or this one was replaced)",
			 (long long)(e->id - 1));
		return walk_fail(w, e->id, reason);
	}
	memcpy(w->prev, hash, STORE_HASH_HEX_LEN + 1);
	w->next_id++;
	return 0;
}

int store_audit_walk_end(struct store_audit_walk *w, int64_t head_entries, const char *head_hash)
{
	char reason[200];
	int64_t entries = w->next_id - 1;

	if (!head_hash || strlen(head_hash) != STORE_HASH_HEX_LEN)
		return walk_fail(w, 0, "the audit_head row is missing or damaged");
	if (head_entries > entries) {
		snprintf(reason, sizeof(reason),
			 "the entry is missing: the log ends at entry %lld but audit_head records "
			 "%lld entries (the newest entries were deleted)",
			 (long long)entries, (long long)head_entries);
		return walk_fail(w, entries + 1, reason);
	}
	if (head_entries < entries) {
		snprintf(reason, sizeof(reason),
			 "audit_head records only %lld entries: this and later entries were added "
			 "outside ledgerbox",
			 (long long)head_entries);
		return walk_fail(w, head_entries + 1, reason);
	}
	if (strcmp(head_hash, w->prev) != 0)
		return walk_fail(w, entries, "its hash differs from the newest hash in audit_head "
					     "(the newest entry was replaced)");
	return 0;
}
