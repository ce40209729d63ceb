/*
 * store_run_facts: what a run's audit entry records about the run, and the
 * cross-check of each chained run entry against its row in `runs` and its
 * charges in the spend ledger. Both back ends build the same facts (from
 * the row they are about to insert, or from the row they read back) and
 * hand rows read back to store_run_check_row(), so a difference means the
 * same thing in SQLite and PostgreSQL.
 *
 * The facts are the detail of the "run" entry, a JSON object that the hash
 * chain then protects: who (user as the entry's actor, team, principal
 * id, API key id), what (language, SHA-256 of the code, of the question asked in
 * natural language, the template id), over what (dataset, its version and
 * fingerprint), the cost in micro-units and the ledger charges it stands
 * for, the status, when (created_ms, duration_ms) and the SHA-256 of the
 * stored answer text. "facts": 2 marks this form; entries written before
 * it hold only language, status, dataset, session, duration_ms and
 * artifacts, and are checked on those.
 *
 * The ledger side: each recorded charge must have one row per scope the
 * run is charged to (org, team, user, session), each holding the chained
 * amount, and no row under another scope; only the charge that
 * reconciliation settles (the last attempt's) or one of no cost (released,
 * never settled) may be missing whole, and a
 * run not charged under its own id (an exact cache hit) has no rows there.
 * The principal's user name must still be the entry's actor.
 *
 * Invariant: for a run inserted by this program and never edited, the
 * facts built from its row equal the chained facts, key by key (artifacts
 * excepted: retention removes artifact rows on purpose; and keyId, the API
 * key used, which only the entry records).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "util/banned.h"

#define FACTS_VERSION 2
#define PROBLEMS_MAX 50 /* listed; every one is counted */
#define VALUE_SHOWN_MAX 80

static json_t *digest_or_null(const char *text)
{
	unsigned char digest[crypto_hash_sha256_BYTES];
	char hex[STORE_HASH_HEX_LEN + 1];

	if (!text)
		return json_null();
	crypto_hash_sha256(digest, (const unsigned char *)text, strlen(text));
	sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
	return json_string(hex);
}

static json_t *copy_or_null(const json_t *v)
{
	return v ? json_deep_copy(v) : json_null();
}

static json_t *text_or_null(const char *text)
{
	return text ? json_string(text) : json_null();
}

static json_t *total_micros(const json_t *holder)
{
	return copy_or_null(json_object_get(json_object_get(holder, "cost"), "totalMicros"));
}

/* The ledger ids the run's cost was charged under and their amounts: one
 * per attempt of a natural-language run, else the run's own id; none for
 * an exact cache hit, which did no work (budget reconciliation agrees). */
static json_t *charges_of(const char *run_id, const json_t *answer)
{
	const char *cache_type = json_string_value(json_object_get(answer, "cacheType"));
	json_t *attempts = json_object_get(answer, "attempts"), *charges = json_object(), *t;
	size_t i;

	if (!charges || (cache_type && strcmp(cache_type, "exact") == 0))
		return charges;
	json_array_foreach(attempts, i, t) {
		const char *ledger_id = json_string_value(json_object_get(t, "ledgerId"));
		if (ledger_id)
			json_object_set_new(charges, ledger_id, total_micros(t));
	}
	if (json_object_size(charges) == 0)
		json_object_set_new(charges, run_id, total_micros(answer));
	return charges;
}

json_t *store_run_facts(const struct run_record *run, const char *team,
			const struct run_result_text *stored, size_t n_artifacts)
{
	const json_t *answer = run->result;
	const json_t *version = json_object_get(answer, "datasetVersion");
	const json_t *template = json_object_get(json_object_get(answer, "template"), "id");
	json_t *f = json_object();

	if (!f)
		return NULL;
	/* The keys of the first form of a run entry, unchanged. */
	json_object_set_new(f, "language", text_or_null(run->language));
	json_object_set_new(f, "status", text_or_null(run->status));
	json_object_set_new(f, "dataset", text_or_null(run->dataset));
	json_object_set_new(f, "session", text_or_null(run->session));
	json_object_set_new(f, "duration_ms", json_integer(run->duration_ms));
	json_object_set_new(f, "artifacts", json_integer((json_int_t)n_artifacts));
	/* The facts the chain now covers too. */
	json_object_set_new(f, "facts", json_integer(FACTS_VERSION));
	json_object_set_new(f, "team", text_or_null(team));
	json_object_set_new(f, "principalId", json_integer(run->principal_id));
	if (run->key_id > 0)
		json_object_set_new(f, "keyId", json_integer(run->key_id));
	json_object_set_new(f, "createdMs", json_integer(run->created_ms));
	json_object_set_new(f, "codeSha256", digest_or_null(run->code));
	json_object_set_new(f, "questionSha256",
			    digest_or_null(json_string_value(json_object_get(answer, "query"))));
	json_object_set_new(f, "template", copy_or_null(template));
	json_object_set_new(f, "datasetVersion", copy_or_null(json_object_get(version, "version")));
	json_object_set_new(f, "datasetFingerprint",
			    copy_or_null(json_object_get(version, "fingerprint")));
	json_object_set_new(f, "costMicros", total_micros(answer));
	json_object_set_new(f, "cacheType", copy_or_null(json_object_get(answer, "cacheType")));
	json_object_set_new(f, "charges", charges_of(run->id, answer));
	json_object_set_new(f, "resultFrom", text_or_null(stored->from[0] ? stored->from : NULL));
	json_object_set_new(f, "resultSha256", digest_or_null(stored->text));
	return f;
}

void store_run_check_init(struct store_run_check *c, struct store *s,
			  const struct store_ledger_reader *ledger)
{
	memset(c, 0, sizeof(*c));
	c->s = s;
	c->ledger = ledger;
	c->problems = json_array();
}

static void problem(struct store_run_check *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void problem(struct store_run_check *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	c->n_problems++;
	if (json_array_size(c->problems) >= PROBLEMS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	json_array_append_new(c->problems, json_string(line));
}

/* A value as a short text for a message. */
static void shown(const json_t *v, char ret[VALUE_SHOWN_MAX + 4])
{
	char *text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS) : NULL;

	snprintf(ret, VALUE_SHOWN_MAX + 1, "%s", text ? text : "(none)");
	if (text && strlen(text) > VALUE_SHOWN_MAX)
		memcpy(ret + VALUE_SHOWN_MAX, "...", 4);
	free(text);
}

static void facts_compare(struct store_run_check *c, const struct store_run_row *row,
			  const json_t *chained, const json_t *now)
{
	char was[VALUE_SHOWN_MAX + 4], is[VALUE_SHOWN_MAX + 4];
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)chained, key, v) {
		const json_t *row_v = json_object_get(now, key);

		/* Retention removes artifact rows on purpose; the key is only
		 * in the entry (the runs table has no column for it). */
		if (strcmp(key, "artifacts") == 0 || strcmp(key, "keyId") == 0 ||
		    (row_v && json_equal(v, row_v)))
			continue;
		shown(row_v, is);
		shown(v, was);
		problem(c, "run %s: %s is %s in the runs table but %s in its audit entry %lld "
			   "(the run row was edited)",
			row->subject, key, is, was, (long long)row->entry_id);
	}
}

/* The scopes every charge of a run is settled under, as the budget part
 * names them (budget_scopes_expand): the org, then the team, user and
 * session when there is one. The team and session come from the chained
 * facts when the entry has them, the user is the entry's actor. */
#define RUN_SCOPES 4
struct run_scopes {
	char name[RUN_SCOPES][sizeof(((struct store_ledger_charge *)0)->scope)];
	size_t n;
};

static void scope_add(struct run_scopes *set, const char *kind, const char *name)
{
	if (name && name[0])
		snprintf(set->name[set->n++], sizeof(set->name[0]), "%s:%s", kind, name);
}

static void run_scopes_of(const struct store_run_row *row, const json_t *chained,
			  struct run_scopes *ret)
{
	const char *team = json_string_value(json_object_get(chained, "team"));
	const char *session = json_string_value(json_object_get(chained, "session"));

	ret->n = 0;
	snprintf(ret->name[ret->n++], sizeof(ret->name[0]), "org");
	scope_add(ret, "team", team ? team : row->team);
	scope_add(ret, "user", row->actor);
	scope_add(ret, "session", json_object_get(chained, "session") ? session : row->run.session);
}

/* The one charge whose rows may still be missing: reconciliation settles
 * the last attempt's ledger id (else the run's own) of a run recorded
 * before its settlement landed (budget/reconcile.c); every earlier
 * attempt was settled before the run was recorded. */
static const char *charge_settled_last(const char *run_id, const json_t *answer)
{
	const json_t *attempts = json_object_get(answer, "attempts");
	const char *id = NULL;

	if (json_array_size(attempts) > 0)
		id = json_string_value(json_object_get(
			json_array_get(attempts, json_array_size(attempts) - 1), "ledgerId"));
	return id ? id : run_id;
}

/* One charge's rows: each holds the chained amount, under a scope the run
 * is charged to, and every such scope has its row. */
static void charge_compare(struct store_run_check *c, const struct store_run_row *row,
			   const char *ledger_id, const json_t *micros,
			   const struct run_scopes *scopes,
			   const struct store_ledger_charge *found, size_t n)
{
	bool seen[RUN_SCOPES] = { false };

	for (size_t i = 0; i < n; i++) {
		size_t k = 0;

		if (!json_is_integer(micros) || json_integer_value(micros) != found[i].micros)
			problem(c, "run %s: the ledger charges %lld micros to %s under %s, but its "
				   "audit entry %lld records %lld (the ledger or the run was edited)",
				row->subject, (long long)found[i].micros, found[i].scope, ledger_id,
				(long long)row->entry_id, (long long)json_integer_value(micros));
		while (k < scopes->n && strcmp(scopes->name[k], found[i].scope) != 0)
			k++;
		if (k < scopes->n && seen[k])
			problem(c, "run %s: the ledger charges %s twice under %s (a ledger row was "
				   "added)",
				row->subject, found[i].scope, ledger_id);
		else if (k < scopes->n)
			seen[k] = true;
		else
			problem(c, "run %s: the ledger charges %lld micros to %s under %s, a scope "
				   "the run was not charged to (a ledger row was added)",
				row->subject, (long long)found[i].micros, found[i].scope, ledger_id);
	}
	for (size_t k = 0; k < scopes->n; k++)
		if (!seen[k])
			problem(c, "run %s: the ledger has no charge to %s under %s, though the "
				   "other scopes were charged (a ledger row was deleted)",
				row->subject, scopes->name[k], ledger_id);
}

/* A run not charged under its own id (an exact cache hit does no work)
 * has no ledger rows there either: one would charge a scope for nothing. */
static int uncharged_compare(struct store_run_check *c, const struct store_run_row *row,
			     const json_t *charges)
{
	struct store_ledger_charge found[STORE_LEDGER_SCOPES_MAX];
	size_t n = 0;
	int r;

	if (json_object_get(charges, row->subject))
		return 0;
	r = c->ledger->read(c->s, row->subject, found, &n);
	for (size_t i = 0; r == 0 && i < n; i++)
		problem(c, "run %s: the ledger charges %lld micros to %s under %s, a charge its "
			   "audit entry %lld does not record (a ledger row was added)",
			row->subject, (long long)found[i].micros, found[i].scope, row->subject,
			(long long)row->entry_id);
	return r;
}

/* Every charge the chained facts record is in the ledger as they record
 * it, and the run's own id is charged nothing else. */
static int charges_compare(struct store_run_check *c, const struct store_run_row *row,
			   const json_t *chained, const json_t *charges, const char *last_id)
{
	struct run_scopes scopes;
	const char *ledger_id;
	json_t *micros;
	int r;

	if (!c->ledger)
		return 0;
	r = uncharged_compare(c, row, charges);
	if (r < 0)
		return r;
	run_scopes_of(row, chained, &scopes);
	json_object_foreach((json_t *)charges, ledger_id, micros) {
		struct store_ledger_charge found[STORE_LEDGER_SCOPES_MAX];
		size_t n = 0;

		r = c->ledger->read(c->s, ledger_id, found, &n);
		if (r < 0)
			return r;
		if (n > 0)
			charge_compare(c, row, ledger_id, micros, &scopes, found, n);
		/* An attempt that cost nothing is released, not settled. */
		else if (strcmp(ledger_id, last_id) != 0 && json_integer_value(micros) != 0)
			problem(c, "run %s: the ledger has no charge under %s, but its audit entry "
				   "%lld records %lld micros there (the ledger rows were deleted)",
				row->subject, ledger_id, (long long)row->entry_id,
				(long long)json_integer_value(micros));
	}
	return 0;
}

/* The entry's actor is the run's user; the principal row must still say
 * so (renaming it would hand every run to someone else). */
static void user_compare(struct store_run_check *c, const struct store_run_row *row)
{
	if (row->user && strcmp(row->user, row->actor) == 0)
		return;
	problem(c, "run %s: user is \"%s\" in the principals table but \"%s\" in its audit "
		   "entry %lld (the principal was edited)",
		row->subject, row->user ? row->user : "(none)", row->actor,
		(long long)row->entry_id);
}

int store_run_check_row(struct store_run_check *c, const struct store_run_row *row)
{
	json_t *chained, *now, *charges;
	int r;

	c->n_runs++;
	chained = json_loads(row->detail, 0, NULL);
	if (!json_is_object(chained)) {
		json_decref(chained);
		problem(c, "run %s: its audit entry %lld holds no readable detail", row->subject,
			(long long)row->entry_id);
		return 0;
	}
	if (!row->present) {
		problem(c, "run %s: its audit entry %lld has no row in the runs table (the run row "
			   "was deleted)",
			row->subject, (long long)row->entry_id);
		json_decref(chained);
		return 0;
	}
	now = store_run_facts(&row->run, row->team, &row->stored, 0);
	if (!now) {
		json_decref(chained);
		return -ENOMEM;
	}
	facts_compare(c, row, chained, now);
	user_compare(c, row);
	/* The chained charges when the entry has them; an entry of the first
	 * form is checked against what the row says. */
	charges = json_object_get(chained, "charges");
	r = charges_compare(c, row, chained, charges ? charges : json_object_get(now, "charges"),
			    charge_settled_last(row->run.id, row->run.result));
	json_decref(now);
	json_decref(chained);
	return r;
}

void store_run_check_orphan(struct store_run_check *c, const char *run_id)
{
	problem(c, "run %s: it is in the runs table but no audit entry records it (the row was "
		   "added outside ledgerbox, or its entry was removed)",
		run_id);
}

void store_run_row_answer(struct store_run_row *row, const char *text, const char *base_text)
{
	row->run.result = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
	if (row->run.result && row->stored.from[0] &&
	    store_run_result_whole(&row->run, base_text) < 0) {
		/* The answer cannot be rebuilt: its facts read as missing,
		 * which the comparison reports. */
		json_decref(row->run.result);
		row->run.result = NULL;
	}
}

int store_run_check_end(struct store_run_check *c, int r, json_t **ret_problems, int64_t *ret_runs,
			int64_t *ret_count)
{
	if (r < 0) {
		json_decref(c->problems);
		return r;
	}
	*ret_problems = c->problems;
	*ret_runs = c->n_runs;
	*ret_count = c->n_problems;
	return 0;
}

int store_audit_crosscheck(struct store *s, json_t **ret_problems, int64_t *ret_runs,
			   int64_t *ret_count, char *err, size_t err_len)
{
	if (!s || !ret_problems || !ret_runs || !ret_count)
		return -EINVAL;
	return s->pg ? store_pg_audit_crosscheck(s, ret_problems, ret_runs, ret_count, err, err_len)
		     : store_sqlite_audit_crosscheck(s, ret_problems, ret_runs, ret_count, err,
						     err_len);
}
