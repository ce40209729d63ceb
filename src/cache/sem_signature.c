/*
 * sem_signature: prints the entries of a question as its signature, and
 * the match decision (see semantic.h).
 *
 * The sorted categories say what a question contains; the closing "seq:"
 * says in what order, so "revenue minus expenses" and "expenses minus
 * revenue", or "more than 1000 less than 5000" and its mirror, differ. One
 * kind of reordering is allowed: when a question has a single period and no
 * connective (and, or, vs, an operator, ...), that period is grouping
 * alone and leaves "seq:", so "monthly total revenue" and "total revenue by
 * month" are one question.
 *
 * Values are escaped ('\' '|' ',' get a '\'), so no quoted text can forge a
 * separator and two different entry lists never print the same string.
 */
#include "cache/semantic.h"
#include "cache/sem_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/utf8.h"

#include "util/banned.h"

/* Far above what a SEM_QUERY_MAX_BYTES question can print (each byte of it
 * appears at most twice, escaped); reaching it is treated as too big. */
#define SIG_MAX_BYTES (64u * SEM_QUERY_MAX_BYTES)

const char *sem_cat_name(enum sem_cat cat)
{
	static const char *const names[SEM_C_COUNT] = {
		[SEM_C_NUM] = "n",  [SEM_C_DATE] = "d", [SEM_C_QUOTE] = "q",
		[SEM_C_NEG] = "neg", [SEM_C_DIR] = "dir", [SEM_C_AGG] = "agg",
		[SEM_C_OP] = "op",  [SEM_C_GRAIN] = "g", [SEM_C_WORD] = "w",
	};

	return cat < SEM_C_COUNT ? names[cat] : "?";
}

/* The signature being printed; the first failed append is kept in err, so
 * a signature that lost bytes is never handed out. */
struct sig {
	struct buf b;
	int err;
};

static void sig_put(struct sig *s, const char *p, size_t n)
{
	if (s->err == 0)
		s->err = buf_append(&s->b, p, n);
}

static void put_escaped(struct sig *s, const char *v)
{
	for (const char *p = v; *p; p++) {
		if (*p == '\\' || *p == '|' || *p == ',')
			sig_put(s, "\\", 1);
		sig_put(s, p, 1);
	}
}

static void put_entry(struct sig *s, const struct sem_entry *e)
{
	const char *name = sem_cat_name(e->cat);

	sig_put(s, name, strlen(name));
	sig_put(s, ":", 1);
	put_escaped(s, e->val);
}

static int cmp_entry(const void *a, const void *b)
{
	const struct sem_entry *x = *(const struct sem_entry *const *)a;
	const struct sem_entry *y = *(const struct sem_entry *const *)b;

	if (x->cat != y->cat)
		return x->cat < y->cat ? -1 : 1;
	return strcmp(x->val, y->val);
}

/* The sorted, deduplicated categories, each entry followed by '|'. */
static int put_sorted(struct sig *b, const struct sem_entry *ents, size_t n)
{
	const struct sem_entry **order = calloc(n ? n : 1, sizeof(*order));

	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		order[i] = &ents[i];
	qsort(order, n, sizeof(*order), cmp_entry);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && cmp_entry(&order[i - 1], &order[i]) == 0)
			continue;
		put_entry(b, order[i]);
		sig_put(b, "|", 1);
	}
	free(order);
	return 0;
}

static bool in_list(const char *v, const char *const *words, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v, words[i]) == 0)
			return true;
	return false;
}

static bool connective(const struct sem_entry *e)
{
	static const char *const words[] = { "and",   "or",	"vs",	  "versus", "against",
					     "minus", "plus",	"times",  "divided", "ratio",
					     "compare", "compared", "between" };

	return e->cat == SEM_C_OP ||
	       (e->cat == SEM_C_WORD && in_list(e->val, words, sizeof(words) / sizeof(words[0])));
}

/* True when the periods may leave "seq:": one period, written once, and
 * nothing that joins two parts of the question. */
static bool periods_float(const struct sem_entry *ents, size_t n)
{
	const char *period = NULL;

	for (size_t i = 0; i < n; i++) {
		if (connective(&ents[i]))
			return false;
		if (ents[i].cat != SEM_C_GRAIN)
			continue;
		if (strchr(ents[i].val, '~'))
			return false; /* a period with its form, see mark_period_forms() */
		/* Written twice, even the same period compares ("revenue year
		 * over year" is not "revenue over the year"). */
		if (period)
			return false;
		period = ents[i].val;
	}
	return true;
}

static void put_sequence(struct sig *b, const struct sem_entry *ents, size_t n)
{
	bool floating = periods_float(ents, n), first = true;

	sig_put(b, "seq:", 4);
	for (size_t i = 0; i < n; i++) {
		if (floating && ents[i].cat == SEM_C_GRAIN)
			continue;
		if (!first)
			sig_put(b, ",", 1);
		put_entry(b, &ents[i]);
		first = false;
	}
}

/* Prints the entries; an empty list prints the empty signature. */
static int sig_print(const struct sem_entry *ents, size_t n, char **ret)
{
	struct sig s = { .err = 0 };
	char *out;
	int r;

	buf_init(&s.b, SIG_MAX_BYTES);
	if (n)
		sig_put(&s, SEM_SIGNATURE_VERSION "|", strlen(SEM_SIGNATURE_VERSION) + 1);
	r = n ? put_sorted(&s, ents, n) : 0;
	if (r == 0 && n)
		put_sequence(&s, ents, n);
	r = r ? r : s.err ? s.err : s.b.truncated ? -E2BIG : 0;
	out = r == 0 ? buf_steal(&s.b, NULL) : NULL;
	buf_release(&s.b);
	if (r == 0 && !out)
		out = strdup("");
	if (r == 0 && !out)
		r = -ENOMEM;
	if (r == 0)
		*ret = out;
	return r;
}

static bool has_lower_letter(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] >= 'a' && s[i] <= 'z')
			return true;
	return false;
}

/* Words that pick rows by rank: with one of them, "customer" (one row)
 * and "customers" (several) are different questions. */
static bool ranks(const struct sem_entry *e)
{
	static const char *const words[] = {
		"top",	 "bottom", "highest", "lowest", "higher",   "lower",  "most",
		"least", "largest", "smallest", "first", "last",    "earliest", "latest",
		"oldest", "newest", "min",	"max",	   "best",  "worst",
	};

	return e->cat == SEM_C_DIR && in_list(e->val, words, sizeof(words) / sizeof(words[0]));
}

/* Words that make a figure out of rows, as aggregates do: "share of
 * customer" is not "share of customers". */
static bool measures_rows(const struct sem_entry *e)
{
	static const char *const words[] = { "share", "percentage", "ratio", "rate", "proportion",
					     "fraction" };

	return e->cat == SEM_C_AGG ||
	       (e->cat == SEM_C_WORD &&
		(in_list(e->val, words, sizeof(words) / sizeof(words[0])) ||
		 (e->fold && in_list(e->fold, words, sizeof(words) / sizeof(words[0])))));
}

/* An amount: a measure that sums ("revenue", "expenses", "payroll"), as
 * against a thing that is counted or classified ("orders",
 * "subscriptions"). */
static bool amount_word(const struct sem_entry *e)
{
	static const char *const words[] = {
		"revenue", "amount", "cost",	"sale",	  "profit", "spend",  "spending", "value",
		"balance", "price",  "tax",	"salary", "payroll", "wage",  "margin",   "fee",
		"paid",	   "owed",   "due",	"outstanding", "cash", "net", "gross", "receivable",
		"payable", "earning", "turnover", "rent", "interest",
	};
	static const char *const dirs[] = { "expense", "income", "debit", "credit" };
	const char *v = e->fold ? e->fold : e->val;

	if (e->cat == SEM_C_DIR)
		return in_list(e->val, dirs, sizeof(dirs) / sizeof(dirs[0]));
	return e->cat == SEM_C_WORD && in_list(v, words, sizeof(words) / sizeof(words[0]));
}

/* "total" is a sum before an amount ("total revenue" = "sum of revenue"),
 * but "total orders" or "total customers" may be a count: there it stays
 * "total", which equals neither. Periods between are skipped ("total
 * monthly revenue"). */
static int fold_total(struct sem_entry *ents, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t k = i + 1;
		char *sum;

		if (ents[i].cat != SEM_C_AGG || strcmp(ents[i].val, "total") != 0)
			continue;
		while (k < n && ents[k].cat == SEM_C_GRAIN)
			k++;
		if (k == n || !amount_word(&ents[k]))
			continue;
		sum = strdup("sum");
		if (!sum)
			return -ENOMEM;
		free(ents[i].val);
		ents[i].val = sum;
	}
	return 0;
}

/* Words that compare: "customers with invoices over 1000" may sum the
 * invoices or count them ("over 10"), "customers with an invoice over
 * 1000" tests each one, so a comparison keeps every word's number. */
static bool compares(const struct sem_entry *e)
{
	static const char *const dirs[] = { "over", "under", "above", "below", "more", "less" };
	static const char *const words[] = { "than", "between", "exceed", "exceeds", "exceeding",
					     "exceeded", "equal", "equals" };
	static const char *const ops[] = { "<", ">", "<=", ">=", "=", "!=", "<>", "==" };

	return (e->cat == SEM_C_DIR && in_list(e->val, dirs, sizeof(dirs) / sizeof(dirs[0]))) ||
	       (e->cat == SEM_C_WORD && in_list(e->val, words, sizeof(words) / sizeof(words[0]))) ||
	       (e->cat == SEM_C_OP && in_list(e->val, ops, sizeof(ops) / sizeof(ops[0])));
}

/* Quantifiers and "per": "customers with only overdue invoices" (all of
 * them) is not "... only overdue invoice" (just one), and "invoices per
 * customer" counts them where "invoice per customer" picks one. */
static bool quantifies(const struct sem_entry *e)
{
	static const char *const words[] = { "per",	"only", "all",	  "any",  "some",
					     "each",	"every", "many",  "few",  "several",
					     "both",	"either" };

	return e->cat == SEM_C_WORD && in_list(e->val, words, sizeof(words) / sizeof(words[0]));
}

/* Singular and plural are one question unless the number of rows asked
 * for can depend on it: a ranking word, an aggregate ("average invoice"
 * is an amount, "average invoices" a count), a comparison or a quantifier
 * keeps every word as written. */
static void fold_plurals(struct sem_entry *ents, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (measures_rows(&ents[i]) || ranks(&ents[i]) || compares(&ents[i]) ||
		    quantifies(&ents[i]))
			return;
	for (size_t i = 0; i < n; i++) {
		if (!ents[i].fold)
			continue;
		free(ents[i].val);
		ents[i].val = ents[i].fold;
		ents[i].fold = NULL;
	}
}

/* A clause with its own verb: a relative word or a pronoun subject. */
static bool has_clause(const struct sem_entry *ents, size_t n)
{
	static const char *const words[] = { "who", "whom", "whose", "that", "which",
					     "we",  "they", "i",     "you",  "he",	 "she" };

	for (size_t i = 0; i < n; i++)
		if (ents[i].cat == SEM_C_WORD &&
		    in_list(ents[i].val, words, sizeof(words) / sizeof(words[0])))
			return true;
	return false;
}

/* The entry names a point in time that a period after it counts from:
 * "last month", "this quarter", "first week", "3 months". */
static bool anchors_period(const struct sem_entry *e)
{
	static const char *const dates[] = { "this", "next", "previous", "prior", "past", "current" };
	static const char *const dirs[] = { "last", "first" };

	return e->cat == SEM_C_NUM ||
	       (e->cat == SEM_C_DATE && in_list(e->val, dates, sizeof(dates) / sizeof(dates[0]))) ||
	       (e->cat == SEM_C_DIR && in_list(e->val, dirs, sizeof(dirs) / sizeof(dirs[0])));
}

/* A period adjective groups only an amount after it ("monthly revenue" is
 * revenue by month, "monthly total"); before anything else it says how
 * often: "monthly subscriptions" are a kind of subscription, "invoices
 * billed monthly" a frequency. */
static bool adjective_groups(const struct sem_entry *ents, size_t n, size_t i)
{
	static const char *const joins[] = { "and", "or" };
	size_t k = i + 1;

	/* "weekly and monthly revenue" */
	while (k < n && (ents[k].cat == SEM_C_GRAIN ||
			 (ents[k].cat == SEM_C_WORD && in_list(ents[k].val, joins, 2))))
		k++;
	return k < n && (ents[k].cat == SEM_C_AGG || amount_word(&ents[k]));
}

/* How the period ents[i] is written, where that changes the answer (""
 * where it does not). A bare period noun is one period, not a grouping:
 * "last month" is a date ("last month's invoice" is not "the last invoice
 * by month"), and "revenue over the year" is one number where "revenue
 * over each year" is a table. With an average,
 * a median or a ranking word: "average monthly revenue" is one number,
 * "average revenue by month" a table of averages, "average revenue per
 * day" a rate, "last monthly payment" one row. "every month" may mean
 * "in all months" ("customers who paid every month"), and so may "each
 * month" in a clause with its own verb, which grouping by month is not;
 * "paid monthly" and "monthly subscriptions" say how often. */
static const char *period_form(const struct sem_entry *ents, size_t n, size_t i, bool rate,
			       bool clause)
{
	const struct sem_entry *e = &ents[i];

	if (e->every || (e->each && clause))
		return "~every";
	if (!e->adjective && !e->grouped)
		return i > 0 && anchors_period(&ents[i - 1]) ? "~rel" : "~noun";
	if ((rate || clause) && e->adjective)
		return "~adj";
	if (e->adjective && !adjective_groups(ents, n, i))
		return "~adj";
	return rate && e->per ? "~per" : "";
}

/* Periods whose form changes the answer keep it ("month~adj",
 * "day~per", "month~every", "month~rel", "month~noun") and their place in
 * "seq:". */
static int mark_period_forms(struct sem_entry *ents, size_t n)
{
	bool rate = false, clause = has_clause(ents, n);

	for (size_t i = 0; i < n; i++)
		rate = rate || ranks(&ents[i]) ||
		       (ents[i].cat == SEM_C_AGG && (strncmp(ents[i].val, "avg", 3) == 0 ||
						     strncmp(ents[i].val, "median", 6) == 0));
	for (size_t i = 0; i < n; i++) {
		const char *form =
			ents[i].cat == SEM_C_GRAIN ? period_form(ents, n, i, rate, clause) : "";
		size_t len;
		char *val;

		if (!*form)
			continue;
		len = strlen(ents[i].val);
		val = realloc(ents[i].val, len + strlen(form) + 1);
		if (!val)
			return -ENOMEM;
		memcpy(val + len, form, strlen(form) + 1);
		ents[i].val = val;
	}
	return 0;
}

static int sig_from_text(const char *text, size_t len, char **ret)
{
	struct sem_tok *cut = calloc(len + 1, sizeof(*cut));
	struct sem_tok *toks = calloc(2 * (len + 1), sizeof(*toks));
	struct sem_entry *ents = calloc(2 * (len + 1), sizeof(*ents));
	size_t ntoks, n = 0;
	int r = -ENOMEM;

	if (cut && toks && ents) {
		ntoks = sem_expand(cut, sem_tokenize(text, len, cut), toks);
		r = sem_classify(toks, ntoks, has_lower_letter(text, len), ents, &n);
		if (r == 0) {
			r = fold_total(ents, n);
			fold_plurals(ents, n);
			r = r ? r : mark_period_forms(ents, n);
		}
		if (r == 0)
			r = sig_print(ents, n, ret);
		sem_entries_free(ents, n);
	}
	free(cut);
	free(toks);
	free(ents);
	return r;
}

int sem_signature(const char *query, char **ret)
{
	char *fixed = NULL;
	size_t len, fixed_len;
	int r;

	if (!query || !ret)
		return -EINVAL;
	len = strnlen(query, SEM_QUERY_MAX_BYTES + 1);
	if (len > SEM_QUERY_MAX_BYTES)
		return -E2BIG;
	r = utf8_sanitize(query, len, &fixed, &fixed_len);
	if (r < 0)
		return r;
	r = sig_from_text(fixed ? fixed : query, fixed_len, ret);
	free(fixed);
	return r;
}

bool sem_match(const char *sig_a, const char *sig_b, float similarity, float min_similarity)
{
	if (!sig_a || !sig_b || !*sig_a || strcmp(sig_a, sig_b) != 0)
		return false;
	/* Written so that NaN on either side fails. */
	return similarity >= min_similarity;
}
