/*
 * sem_lexicon: the words the signature knows.
 *
 * Filler is the only list that lets a single word vanish from the
 * signature, so it holds only words that never change an answer (the,
 * please, thanks, ...); request phrases such as "show me" are in
 * sem_phrase.c. Pronouns, auxiliaries, modals and prepositions are "light":
 * they count in the signature like any word, and only weigh less in the
 * embedding. Every other list names a word's category and canonical form:
 * synonyms fold only where they mean exactly the same ("asc" and
 * "ascending", "greater" and "more"); a tense or a word form is never
 * folded ("increased" is not "increase"). Domain words are listed so a
 * capitalised "Revenue" is read as the word, not as a customer's name; a
 * word that is in no list still counts, as itself.
 *
 * The lists are short, so a linear scan costs less than keeping them sorted.
 */
#include "cache/sem_internal.h"

#include <string.h>

#include "util/banned.h"

struct lex_row {
	const char *word;
	const char *canon; /* NULL: the word itself */
};

#define ROWS(a) (sizeof(a) / sizeof((a)[0]))

/* Filler anywhere in a question: words that never change what is asked.
 * Request phrases ("show me", "could you", "what is") are in sem_phrase.c. */
static const char *const fillers[] = {
	"hello", "hey", "hi", "kindly", "please", "thanks", "the",
};

/* Function words: pronouns, auxiliaries, modals, quantifiers, question
 * words, prepositions. Each counts in the signature as itself ("we" is not
 * "they", "should" is not "were"), but weighs half in the embedding, as
 * filler does: the embedding only finds candidates. */
static const char *const light[] = {
	"a", "all", "am", "an", "any", "are", "as", "at", "be", "been", "being", "by", "calculate",
	"can", "compute", "could", "determine", "did", "display", "do", "does", "during", "each",
	"every", "fetch", "find", "for", "get", "give", "had", "has", "have", "he", "her", "here",
	"him", "his", "how", "i", "in", "is", "it", "its", "just", "let", "lets", "like", "list",
	"me", "might", "must", "my", "need", "of", "on", "only", "our", "ours", "print",
	"pull", "see", "shall", "she", "should", "show", "some", "tell", "than", "that", "their",
	"them", "there", "these", "they", "those", "us", "view", "want", "was", "we", "were",
	"what", "whats", "when", "where", "which", "who", "whom", "whose", "why", "will", "with",
	"would", "you", "your",
};

static const struct lex_row negations[] = {
	{ "not", NULL }, { "no", NULL }, { "never", NULL }, { "without", NULL },
	{ "none", NULL }, { "neither", NULL }, { "nor", NULL }, { "except", NULL },
	{ "excepting", "except" }, { "cannot", "not" }, { "dont", "not" },
	{ "doesnt", "not" }, { "didnt", "not" }, { "isnt", "not" }, { "arent", "not" },
	{ "wasnt", "not" }, { "werent", "not" }, { "havent", "not" }, { "hasnt", "not" },
	{ "hadnt", "not" }, { "cant", "not" }, { "couldnt", "not" }, { "wont", "not" },
	{ "wouldnt", "not" }, { "shouldnt", "not" },
};

static const struct lex_row directions[] = {
	{ "top", NULL }, { "bottom", NULL }, { "highest", NULL }, { "lowest", NULL },
	{ "higher", NULL }, { "lower", NULL }, { "most", NULL }, { "least", NULL },
	{ "largest", NULL }, { "biggest", "largest" }, { "greatest", "largest" },
	{ "smallest", NULL }, { "ascending", NULL }, { "asc", "ascending" },
	{ "descending", NULL }, { "desc", "descending" }, { "before", NULL }, { "after", NULL },
	{ "since", NULL }, { "until", NULL }, { "till", "until" }, { "include", NULL },
	{ "including", "include" }, { "included", NULL }, { "inclusive", NULL },
	{ "exclude", NULL }, { "excluding", "exclude" }, { "excluded", NULL },
	{ "exclusive", NULL }, { "more", NULL }, { "greater", "more" }, { "less", NULL },
	{ "fewer", "less" }, { "above", NULL }, { "below", NULL }, { "over", NULL },
	{ "under", NULL }, { "increase", NULL }, { "increased", NULL },
	{ "increasing", NULL }, { "decrease", NULL }, { "decreased", NULL },
	{ "decreasing", NULL }, { "best", NULL }, { "worst", NULL }, { "first", NULL }, { "last", NULL }, { "min", NULL },
	{ "minimum", "min" }, { "max", NULL }, { "maximum", "max" }, { "debit", NULL },
	{ "credit", NULL }, { "income", NULL }, { "expense", NULL }, { "earliest", NULL },
	{ "latest", NULL }, { "oldest", NULL }, { "newest", NULL },
};

static const struct lex_row aggregates[] = {
	{ "total", "sum" }, { "sum", NULL }, { "average", "avg" }, { "avg", NULL },
	{ "mean", "avg" }, { "count", NULL }, { "median", NULL },
};

/* Periods; the adjectives are flagged so the signature can tell "monthly
 * revenue" from "revenue by month" apart only where it matters. */
static const struct lex_row grains[] = {
	{ "hour", NULL }, { "day", NULL }, { "week", NULL }, { "month", NULL },
	{ "quarter", NULL }, { "year", NULL },
};
static const struct lex_row grain_adjectives[] = {
	{ "hourly", "hour" }, { "daily", "day" }, { "weekly", "week" }, { "monthly", "month" },
	{ "quarterly", "quarter" }, { "yearly", "year" }, { "annual", "year" },
	{ "annually", "year" },
};

static const struct lex_row date_words[] = {
	{ "monday", NULL }, { "mon", "monday" }, { "tuesday", NULL }, { "tue", "tuesday" },
	{ "tues", "tuesday" }, { "wednesday", NULL }, { "wed", "wednesday" },
	{ "thursday", NULL }, { "thu", "thursday" }, { "thur", "thursday" },
	{ "thurs", "thursday" }, { "friday", NULL }, { "fri", "friday" },
	{ "saturday", NULL }, { "sat", "saturday" }, { "sunday", NULL }, { "sun", "sunday" },
	{ "today", NULL }, { "yesterday", NULL }, { "tomorrow", NULL }, { "ytd", NULL },
	{ "mtd", NULL }, { "qtd", NULL }, { "wtd", NULL }, { "ago", NULL }, { "this", NULL },
	{ "next", NULL }, { "previous", NULL }, { "prior", NULL }, { "current", NULL },
	{ "past", NULL }, { "recent", NULL }, { "now", NULL },
};

static const struct lex_row number_words[] = {
	{ "one", "1" }, { "two", "2" }, { "three", "3" }, { "four", "4" }, { "five", "5" },
	{ "six", "6" }, { "seven", "7" }, { "eight", "8" }, { "nine", "9" }, { "ten", "10" },
	{ "eleven", "11" }, { "twelve", "12" }, { "thirteen", "13" }, { "fourteen", "14" },
	{ "fifteen", "15" }, { "sixteen", "16" }, { "seventeen", "17" }, { "eighteen", "18" },
	{ "nineteen", "19" }, { "twenty", "20" }, { "thirty", "30" }, { "forty", "40" },
	{ "fifty", "50" }, { "sixty", "60" }, { "seventy", "70" }, { "eighty", "80" },
	{ "ninety", "90" }, { "hundred", "100" },
};

static const struct lex_row scales[] = {
	{ "thousand", "3" }, { "million", "6" }, { "mn", "6" }, { "billion", "9" }, { "bn", "9" },
};

/* Known domain words: counted as themselves, never read as names. */
static const char *const domain[] = {
	"account", "actual", "against", "aging", "amount", "analyse", "analysis", "analyze", "and",
	"balance", "between", "bill", "breakdown", "budget", "cash", "category", "change", "chart",
	"client", "closed", "compare", "compared", "cost", "create", "customer", "date",
	"department", "difference", "discount", "divided", "down", "draw", "due", "employee",
	"entry", "flow", "forecast", "from", "generate", "graph", "gross", "group", "growth",
	"inventory", "invoice", "item", "journal", "ledger", "loss", "make", "many", "margin",
	"minus", "much", "net", "number", "open", "or", "order", "outstanding", "overdue", "paid", "payable", "payment",
	"payroll", "pending", "per", "percentage", "period", "plot", "plus", "price", "product",
	"profit", "quantity", "rank", "rate", "ratio", "receivable", "refund", "region", "report",
	"revenue", "salary", "sale", "share", "sheet", "sort", "sorted", "status", "stock",
	"summary", "supplier", "table", "tax", "times", "to", "transaction", "trend", "turnover",
	"unit", "up", "vendor", "visualise", "visualize", "vs", "wage", "within",
};

/* Plain words with one reviewed spelling for several (see
 * docs/cache-matching.md): only exact equivalents belong here. */
static const struct lex_row synonyms[] = {
	{ "versus", "vs" },
};

static const char *const negatable[] = {
	"allocated", "approved", "assigned", "audited", "billed", "budgeted", "categorised",
	"categorized", "cleared", "collected", "deductible", "delivered", "fulfilled", "invoiced",
	"matched", "paid", "posted", "processed", "profitable", "realised", "realized",
	"reconciled", "recurring", "secured", "settled", "shipped", "sold", "taxable", "used",
	"verified",
};

static const char *const months[] = {
	"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
};
static const char *const month_names[] = {
	"january", "february", "march", "april", "may", "june", "july", "august", "september",
	"october", "november", "december",
};

/* The list's own copy of word, or NULL. */
static const char *in_words(const char *const *list, size_t n, const char *word)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], word) == 0)
			return list[i];
	return NULL;
}

static const struct lex_row *in_rows(const struct lex_row *rows, size_t n, const char *word)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].word, word) == 0)
			return &rows[i];
	return NULL;
}

int sem_month(const char *word)
{
	for (int i = 0; i < 12; i++)
		if (strcmp(word, months[i]) == 0 || strcmp(word, month_names[i]) == 0 ||
		    (i == 8 && strcmp(word, "sept") == 0))
			return i + 1;
	return 0;
}

bool sem_date_homonym(const char *word)
{
	static const char *const words[] = { "mar", "may", "sat", "sun", "wed" };

	return in_words(words, ROWS(words), word) != NULL;
}

bool sem_negatable(const char *word)
{
	return in_words(negatable, ROWS(negatable), word) != NULL;
}

/* Looks word up in one list of rows; fills ret on a hit. */
static bool lex_rows(const struct lex_row *rows, size_t n, enum sem_cat cat, const char *word,
		     struct sem_lex *ret)
{
	const struct lex_row *row = in_rows(rows, n, word);

	if (!row)
		return false;
	ret->cat = cat;
	ret->canon = row->canon ? row->canon : row->word;
	return true;
}

static bool lex_flags(const char *word, struct sem_lex *ret)
{
	ret->canon = in_words(fillers, ROWS(fillers), word);
	if (ret->canon) {
		ret->filler = true;
		return true;
	}
	ret->canon = in_words(light, ROWS(light), word);
	if (ret->canon) {
		ret->light = true;
		return true;
	}
	if (lex_rows(synonyms, ROWS(synonyms), SEM_C_WORD, word, ret)) {
		ret->synonym = true;
		return true;
	}
	if (lex_rows(scales, ROWS(scales), SEM_C_NUM, word, ret)) {
		ret->scale = true;
		return true;
	}
	if (strcmp(word, "percent") == 0 || strcmp(word, "pct") == 0) {
		ret->percent = true;
		ret->canon = "percent";
		return true;
	}
	if (lex_rows(grain_adjectives, ROWS(grain_adjectives), SEM_C_GRAIN, word, ret)) {
		ret->adjective = true;
		return true;
	}
	return false;
}

bool sem_lexicon(const char *word, struct sem_lex *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->cat = SEM_C_WORD;
	if (lex_flags(word, ret))
		return true;
	if (lex_rows(negations, ROWS(negations), SEM_C_NEG, word, ret) ||
	    lex_rows(directions, ROWS(directions), SEM_C_DIR, word, ret) ||
	    lex_rows(aggregates, ROWS(aggregates), SEM_C_AGG, word, ret) ||
	    lex_rows(grains, ROWS(grains), SEM_C_GRAIN, word, ret) ||
	    lex_rows(date_words, ROWS(date_words), SEM_C_DATE, word, ret) ||
	    lex_rows(number_words, ROWS(number_words), SEM_C_NUM, word, ret))
		return true;
	ret->canon = in_words(domain, ROWS(domain), word);
	return ret->canon != NULL;
}

static bool ends_with(const char *s, size_t n, const char *tail)
{
	size_t t = strlen(tail);

	return n >= t && memcmp(s + n - t, tail, t) == 0;
}

/* Plural to singular, cautiously: "ss", "us" and "is" stay ("gross",
 * "status", "analysis"). */
static size_t stem_plural(char *w, size_t n)
{
	if (n > 4 && ends_with(w, n, "ies")) {
		w[n - 3] = 'y';
		return n - 2;
	}
	if (n > 4 && (ends_with(w, n, "sses") || ends_with(w, n, "xes") ||
		      ends_with(w, n, "ches") || ends_with(w, n, "shes")))
		return n - 2;
	if (n > 3 && w[n - 1] == 's' && !ends_with(w, n, "ss") && !ends_with(w, n, "us") &&
	    !ends_with(w, n, "is"))
		return n - 1;
	return n;
}

size_t sem_stem(const char *s, size_t len, char *out, size_t cap)
{
	const struct lex_row *adj;
	size_t n = len < cap ? len : cap - 1;

	for (size_t i = 0; i < n; i++)
		out[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] | 0x20) : s[i];
	out[n] = '\0';
	adj = in_rows(grain_adjectives, ROWS(grain_adjectives), out);
	if (adj) {
		n = strlen(adj->canon);
		memcpy(out, adj->canon, n + 1);
		return n;
	}
	if (in_words(fillers, ROWS(fillers), out) || in_words(light, ROWS(light), out) ||
	    in_rows(negations, ROWS(negations), out))
		return n;
	n = stem_plural(out, n);
	out[n] = '\0';
	return n;
}
