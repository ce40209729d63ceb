/*
 * Tests of src/cache/semantic: the decision whether a cached answer may be
 * handed to a new plain-words question.
 *
 * The heart is two tables. MUST_NOT holds pairs that ask different things:
 * each must be refused, and every one by its signature (the guard that
 * cannot be fooled by similar wording); rows marked SIM_TOO must also fall
 * under the similarity threshold, so for them both guards hold on their own.
 * MUST_MATCH holds pairs that ask the same thing: their signatures must be
 * equal and their similarity must clear SEM_LOCAL_MIN_SIMILARITY by MARGIN,
 * so the threshold is not tuned to the last hundredth. Every pair's
 * similarity is printed (as TAP comments) so the threshold can be judged.
 *
 * The rest: normalisation, the canonical form and order of signatures,
 * numbers and dates written in different ways, names and quoted strings,
 * escaping, determinism and a pinned vector, unit length, 100 KB and
 * maximum-size input, invalid UTF-8, the match rule's edges, and the
 * vector arithmetic.
 */
#include "testlib.h"

#include <math.h>

#include "cache/semantic.h"
#include "util/buf.h"
#include "util/utf8.h"

#define MARGIN 0.05f
#define SIM_TOO true /* the similarity alone also refuses the pair */

struct pair {
	const char *a, *b;
	bool sim_too;
};

static const struct pair MUST_NOT[] = {
	{ "revenue for 2024", "revenue for 2023", SIM_TOO },
	{ "top 5 customers", "top 10 customers", SIM_TOO },
	{ "top 5 customers", "bottom 5 customers", SIM_TOO },
	{ "customers who paid", "customers who have not paid", SIM_TOO },
	{ "paid invoices", "unpaid invoices", SIM_TOO },
	{ "highest margin products", "lowest margin products", SIM_TOO },
	{ "sort ascending", "sort descending", SIM_TOO },
	{ "invoices before March 2025", "invoices after March 2025", SIM_TOO },
	{ "include refunds", "exclude refunds", SIM_TOO },
	{ "orders more than 1000", "orders less than 1000", SIM_TOO },
	{ "orders over $1,000", "orders over $10,000", SIM_TOO },
	{ "sales in Q1", "sales in Q2", SIM_TOO },
	{ "revenue from 'Acme Corp'", "revenue from 'Acme Inc'", SIM_TOO },
	{ "revenue from Acme", "revenue from Globex", SIM_TOO },
	{ "expenses in January", "expenses in February", SIM_TOO },
	{ "AR aging as of 2025-12-31", "AR aging as of 2025-11-30", SIM_TOO },
	{ "growth of 5%", "growth of 50%", SIM_TOO },
	{ "first 3 months", "last 3 months", SIM_TOO },
	{ "total revenue", "total expenses", SIM_TOO },
	/* A different period is a different table: refused by the signature
	 * (g:month against g:quarter), not left to the similarity. */
	{ "profit by month", "profit by quarter", SIM_TOO },
	/* Order carries meaning: the "seq:" part of the signature. */
	{ "revenue minus expenses", "expenses minus revenue", false },
	{ "orders more than 1000 less than 5000", "orders more than 5000 less than 1000", false },
	{ "highest revenue lowest margin products", "lowest revenue highest margin products", false },
	{ "growth from 2024 to 2025", "growth from 2025 to 2024", false },
	{ "revenue 2024 expenses 2025", "revenue 2025 expenses 2024", false },
	{ "revenue in 2024 and expenses", "revenue and expenses in 2024", false },
	{ "revenue by month and expenses", "revenue and expenses by month", false },
	/* The other polarity and direction words. */
	{ "total revenue", "average revenue", SIM_TOO },
	{ "debit entries", "credit entries", SIM_TOO },
	{ "income by month", "expenses by month", SIM_TOO },
	{ "min invoice amount", "max invoice amount", SIM_TOO },
	{ "payments since 2024", "payments until 2024", SIM_TOO },
	{ "accounts above 500", "accounts below 500", SIM_TOO },
	{ "orders over 1000", "orders under 1000", SIM_TOO },
	{ "sales increase", "sales decrease", SIM_TOO },
	{ "customers without refunds", "customers with refunds", SIM_TOO },
	{ "all invoices except refunds", "all invoices including refunds", SIM_TOO },
	{ "customers never paid", "customers paid", SIM_TOO },
	{ "non-recurring expenses", "recurring expenses", false },
	{ "orders > 1000", "orders < 1000", false },
	{ "revenue - expenses", "revenue + expenses", false },
	{ "revenue and expenses", "revenue or expenses", false },
	{ "payments to vendors", "payments from vendors", SIM_TOO },
	/* Numbers and dates in their other shapes. */
	{ "orders over $5k", "orders over $5m", SIM_TOO },
	{ "growth of 1.5%", "growth of 15%", SIM_TOO },
	{ "orders over 5", "orders over 5%", false },
	{ "sales on Monday", "sales on Tuesday", SIM_TOO },
	{ "FY2024 revenue", "FY2025 revenue", SIM_TOO },
	{ "revenue for 03/2025", "revenue for 04/2025", SIM_TOO },
	{ "revenue for March 2025", "revenue for March 2024", SIM_TOO },
	{ "last 30 days of sales", "last 90 days of sales", SIM_TOO },
	{ "invoices due this month", "invoices due next month", SIM_TOO },
	/* Words, names and acronyms. */
	{ "revenue by customer", "revenue per customer", SIM_TOO },
	/* Plain words keep their number: one row against several. */
	{ "who is the top customer", "who are the top customers", false },
	{ "unpaid bills", "unpaid invoices", SIM_TOO },
	{ "overdue invoices", "open invoices", SIM_TOO },
	{ "paid invoices", "invoices", SIM_TOO },
	{ "revenue from acme", "revenue from globex", SIM_TOO },
	{ "revenue in the US", "revenue in the UK", SIM_TOO },
	{ "revenue in the US", "revenue", SIM_TOO },
	{ "customers not in Texas", "customers in Texas", false },
	{ "Show me ACME revenue", "show me Acme revenue", false },
	{ "revenue from 'Acme Corp'", "revenue from 'acme corp'", false },
};

static const struct pair MUST_MATCH[] = {
	{ "total revenue by month", "monthly total revenue", false },
	{ "Revenue by month for 2025", "revenue by month for 2025?", false },
	{ "show me the top 5 customers by revenue", "top 5 customers by revenue", false },
	{ "how many customers are there", "number of customers", false },
	{ "list unpaid invoices", "show unpaid invoices", false },
	{ "  Total   REVENUE by\tmonth  ", "total revenue by month", false },
	{ "TOTAL REVENUE BY MONTH", "total revenue by month", false },
	{ "customers who haven't paid", "customers who have not paid", false },
	{ "list invoices that haven\u2019t been paid", "list invoices that haven't been paid", false },
	{ "number of customers", "how many customers", false },
	{ "top five customers", "top 5 customers", false },
	{ "Revenue from 'Acme Corp' in 2024", "revenue from 'Acme Corp' in 2024", false },
	{ "show revenue from Acme Corp", "revenue from Acme Corp.", false },
	{ "sales in Q1 2025", "sales in 2025 Q1", false },
	{ "what are the top 5 customers by revenue in 2024?", "top 5 customers by revenue in 2024",
	  false },
	{ "sort customers by revenue descending", "sort customers by revenue desc", false },
	{ "please show the monthly revenue for 2025", "monthly revenue for 2025", false },
};

#define ROWS(a) (sizeof(a) / sizeof((a)[0]))

static char *sig_of(const char *q)
{
	char *sig = NULL;

	assert_int_equal(sem_signature(q, &sig), 0);
	assert_non_null(sig);
	return sig;
}

static float sim_of(const char *a, const char *b)
{
	float va[SEM_DIM], vb[SEM_DIM];

	sem_embed_local(a, va);
	sem_embed_local(b, vb);
	return sem_cosine(va, vb, SEM_DIM);
}

static float absf(float x)
{
	return x < 0 ? -x : x;
}

static void test_must_not_match(void **state)
{
	const struct pair *closest = NULL, *closest_low = NULL;
	float highest = -2.0f, highest_low = -2.0f;

	(void)state;
	assert_true(ROWS(MUST_NOT) >= 40);
	printf("# threshold %.2f; must-not pairs (similarity, refused by):\n",
	       (double)SEM_LOCAL_MIN_SIMILARITY);
	for (size_t i = 0; i < ROWS(MUST_NOT); i++) {
		const struct pair *p = &MUST_NOT[i];
		char *sa = sig_of(p->a), *sb = sig_of(p->b);
		float sim = sim_of(p->a, p->b);
		bool low = sim < SEM_LOCAL_MIN_SIMILARITY;

		printf("#   %.3f  %-14s %s | %s\n", (double)sim, low ? "sig+similarity" : "signature",
		       p->a, p->b);
		assert_false(sem_match(sa, sb, sim, SEM_LOCAL_MIN_SIMILARITY));
		assert_string_not_equal(sa, sb);
		if (p->sim_too)
			assert_true(low);
		if (sim > highest) {
			highest = sim;
			closest = p;
		}
		if (low && sim > highest_low) {
			highest_low = sim;
			closest_low = p;
		}
		free(sa);
		free(sb);
	}
	printf("# closest must-not pair: %.3f  %s | %s\n", (double)highest, closest->a, closest->b);
	printf("# closest that the similarity alone refuses: %.3f  %s | %s\n", (double)highest_low,
	       closest_low->a, closest_low->b);
}

static void test_must_match(void **state)
{
	const struct pair *lowest_pair = NULL;
	float lowest = 2.0f;

	(void)state;
	printf("# must-match pairs (similarity):\n");
	for (size_t i = 0; i < ROWS(MUST_MATCH); i++) {
		const struct pair *p = &MUST_MATCH[i];
		char *sa = sig_of(p->a), *sb = sig_of(p->b);
		float sim = sim_of(p->a, p->b);

		printf("#   %.3f  %s | %s\n", (double)sim, p->a, p->b);
		assert_string_equal(sa, sb);
		assert_true(sa[0] != '\0');
		assert_true(sem_match(sa, sb, sim, SEM_LOCAL_MIN_SIMILARITY));
		if (sim < lowest) {
			lowest = sim;
			lowest_pair = p;
		}
		free(sa);
		free(sb);
	}
	printf("# lowest must-match: %.3f (margin %.3f over %.2f)  %s | %s\n", (double)lowest,
	       (double)(lowest - SEM_LOCAL_MIN_SIMILARITY), (double)SEM_LOCAL_MIN_SIMILARITY,
	       lowest_pair->a, lowest_pair->b);
	assert_true(lowest - SEM_LOCAL_MIN_SIMILARITY >= MARGIN);
}

static void expect_norm(const char *in, const char *want)
{
	char *out = NULL;

	assert_int_equal(sem_normalize(in, &out), 0);
	assert_string_equal(out, want);
	free(out);
}

static void test_normalize(void **state)
{
	char *out = (char *)"untouched";

	(void)state;
	expect_norm("  Revenue   by\tMonth\n for 2025?  ", "revenue by month for 2025");
	expect_norm("revenue ? !.", "revenue");
	expect_norm("what is 3.5?", "what is 3.5");
	expect_norm("Caf\u00c9 \u00dcBER Umsatz", "caf\u00c9 \u00dcber umsatz");
	expect_norm("", "");
	expect_norm("?!. \t", "");
	expect_norm("already normal", "already normal");
	/* Quoted strings stay byte for byte: SQL compares them that way. */
	expect_norm("Sales for customer 'ACME'", "sales for customer 'ACME'");
	expect_norm("SALES for 'acme'", "sales for 'acme'");
	expect_norm("Revenue From \"Big  Co\" ?", "revenue from \"Big  Co\"");
	expect_norm("Revenue From \u201cBig Co\u201d", "revenue from \u201cBig Co\u201d");
	expect_norm("Revenue From \u2018Big Co\u2019", "revenue from \u2018Big Co\u2019");
	/* An apostrophe inside a word opens nothing; an unclosed quote is text. */
	expect_norm("Don't SHOW 'Acme", "don't show 'acme");
	expect_norm("Customers' BALANCES", "customers' balances");
	expect_norm("bad \xff"
		    " byte",
		    "bad \xef\xbf\xbd"
		    " byte");
	assert_int_equal(sem_normalize(NULL, &out), -EINVAL);
	assert_string_equal(out, "untouched");
}

static void expect_sig(const char *q, const char *want)
{
	char *sig = sig_of(q);

	assert_string_equal(sig, want);
	free(sig);
}

static void test_signature_canonical(void **state)
{
	(void)state;
	/* Categories in a fixed order, each sorted, then the written order. */
	expect_sig("Show me the top 5 customers by revenue in 2024",
		   "v3|n:5|d:2024|dir:top|w:by|w:customers|w:revenue|"
		   "seq:dir:top,n:5,w:customers,w:by,w:revenue,d:2024");
	/* A comparison ("over") keeps every word's number. */
	expect_sig("customers who have not paid 'Acme' invoices over $1,000 excluding refunds",
		   "v3|n:$1000|q:Acme|neg:not|dir:exclude|dir:over|w:customers|w:have|w:invoices|"
		   "w:paid|w:refunds|w:who|seq:w:customers,w:who,w:have,neg:not,w:paid,q:Acme,"
		   "w:invoices,dir:over,n:$1000,dir:exclude,w:refunds");
	/* Sorted and deduplicated per category; the sequence keeps repeats. */
	expect_sig("revenue 2024 2023 2024", "v3|d:2023|d:2024|w:revenue|seq:w:revenue,d:2024,d:2023,d:2024");
	/* A period written twice keeps its places ("year over year"). */
	expect_sig("monthly revenue by month",
		   "v3|g:month|w:revenue|seq:g:month,w:revenue,g:month");
	/* A code keeps its case; an ordinal does not need to. */
	expect_sig("sales of X200", "v3|n:X200|w:of|w:sale|seq:w:sale,w:of,n:X200");
	expect_sig("2ND largest 10X", "v3|n:10X|n:2nd|dir:largest|seq:n:2nd,dir:largest,n:10X");
	expect_sig("weekly and monthly revenue",
		   "v3|g:month|g:week|w:and|w:revenue|seq:g:week,w:and,g:month,w:revenue");
	/* Filler only: the empty signature, which sem_match refuses. */
	expect_sig("show me", "");
	expect_sig("", "");
	/* Separators inside quoted text are escaped, so they forge nothing. */
	expect_sig("'a|n:5'", "v3|q:a\\|n:5|seq:q:a\\|n:5");
	expect_sig("\"x,y\\z\"", "v3|q:x\\,y\\\\z|seq:q:x\\,y\\\\z");
}

static void expect_same_sig(const char *a, const char *b)
{
	char *sa = sig_of(a), *sb = sig_of(b);

	assert_string_equal(sa, sb);
	free(sa);
	free(sb);
}

static void test_signature_numbers_dates(void **state)
{
	(void)state;
	expect_sig("$1,000", "v3|n:$1000|seq:n:$1000");
	expect_same_sig("orders over $1k", "orders over $1,000");
	expect_same_sig("orders over $1k", "orders over $1000");
	expect_same_sig("orders over 1.5K", "orders over 1500");
	expect_same_sig("orders over 2 million", "orders over 2,000,000");
	expect_same_sig("growth of 5 percent", "growth of 5%");
	expect_same_sig("top five", "top 5");
	expect_sig("growth of -5%", "v3|n:-5%|w:growth|w:of|seq:w:growth,w:of,n:-5%");
	expect_sig("5.0 and 5", "v3|n:5|n:5.0|w:and|seq:n:5.0,w:and,n:5");
	expect_sig("1,00 items", "v3|n:1\\,00|w:item|seq:n:1\\,00,w:item");
	expect_sig("the 1st row", "v3|n:1st|w:row|seq:n:1st,w:row");
	expect_same_sig("March 2025", "2025-03");
	expect_same_sig("Mar 2025", "03/2025");
	expect_same_sig("March 1, 2025", "2025-03-01");
	expect_same_sig("1 March 2025", "2025-3-1");
	expect_same_sig("Q1 2025", "2025 Q1");
	expect_same_sig("Q1 2025", "2025-Q1");
	expect_same_sig("FY2024", "FY 2024");
	expect_sig("in 03/01/2025", "v3|d:03/01/2025|seq:d:03/01/2025");
	expect_sig("on Tue", "v3|d:tuesday|seq:d:tuesday");
	/* "01" has a leading zero: a code, kept as written. */
	expect_sig("2025-13-01", "v3|n:01|n:13|d:2025|op:-|seq:d:2025,op:-,n:13,op:-,n:01");
}

static void test_signature_names(void **state)
{
	(void)state;
	expect_sig("revenue from Acme Corp",
		   "v3|q:Acme Corp|w:from|w:revenue|seq:w:revenue,w:from,q:Acme Corp");
	expect_same_sig("revenue from 'Acme Corp'", "revenue from Acme Corp");
	expect_same_sig("revenue from \u201cAcme Corp\u201d", "revenue from \"Acme Corp\"");
	expect_same_sig("Acme's revenue", "Acme revenue");
	/* Known words written with a capital are words, at any position. */
	expect_same_sig("Show Revenue By Region", "revenue by region");
	/* Acronyms keep their case; a shouted question has none. */
	expect_sig("revenue in the US", "v3|q:US|w:in|w:revenue|seq:w:revenue,w:in,q:US");
	expect_sig("AR aging", "v3|q:AR|w:aging|seq:q:AR,w:aging");
	expect_same_sig("TOP 5 CUSTOMERS", "top 5 customers");
	expect_sig("O'Brien sales", "v3|q:O'Brien|w:sale|seq:q:O'Brien,w:sale");
	expect_sig("Acme and Globex", "v3|q:Acme|q:Globex|w:and|seq:q:Acme,w:and,q:Globex");
}

static void test_embed_deterministic(void **state)
{
	const char *q = "top 5 customers by revenue in 2024";
	char *copy = strdup(q);
	float a[SEM_DIM], b[SEM_DIM], c[SEM_DIM];

	(void)state;
	assert_non_null(copy);
	sem_embed_local(q, a);
	sem_embed_local(q, b);
	sem_embed_local(copy, c);
	assert_memory_equal(a, b, sizeof(a));
	assert_memory_equal(a, c, sizeof(a));
	free(copy);
}

/* Stored vectors are compared with new ones, so the hashing must never
 * change silently: these components are pinned. */
static void test_embed_pinned(void **state)
{
	static const struct {
		size_t i;
		float v;
	} pinned[] = {
		{ 0, 0.0f },	    { 28, 0.188982f },	{ 62, -0.188982f },
		{ 94, -0.188982f }, { 147, 0.681385f }, { 254, 0.377964f },
	};
	float v[SEM_DIM];

	(void)state;
	sem_embed_local("revenue", v);
	for (size_t k = 0; k < ROWS(pinned); k++)
		assert_true(absf(v[pinned[k].i] - pinned[k].v) < 1e-5f);
}

static float norm_of(const float *v)
{
	float n = 0.0f;

	for (size_t i = 0; i < SEM_DIM; i++)
		n += v[i] * v[i];
	return n;
}

static void test_embed_unit_length(void **state)
{
	static const char *const queries[] = {
		"revenue", "a", "total revenue by month for 2025",
		"\u00fcber caf\u00e9 \u6708\u5ea6\u58f2\u4e0a", "x1 y2 z3 $5,000.25 -12%",
	};
	float v[SEM_DIM], w[SEM_DIM];

	(void)state;
	for (size_t i = 0; i < ROWS(queries); i++) {
		sem_embed_local(queries[i], v);
		assert_true(absf(norm_of(v) - 1.0f) < 1e-5f);
		assert_true(absf(sem_cosine(v, v, SEM_DIM) - 1.0f) < 1e-5f);
	}
	/* No words: the zero vector, similar to nothing. */
	sem_embed_local("?! ... --", v);
	assert_true(norm_of(v) == 0.0f);
	sem_embed_local(NULL, v);
	assert_true(norm_of(v) == 0.0f);
	sem_embed_local("revenue", w);
	assert_true(sem_cosine(v, w, SEM_DIM) == 0.0f);
}

static char *repeat(const char *unit, size_t total)
{
	size_t n = strlen(unit);
	char *s = malloc(total + 1);

	assert_non_null(s);
	for (size_t i = 0; i < total; i++)
		s[i] = unit[i % n];
	s[total] = '\0';
	return s;
}

static void test_long_input(void **state)
{
	/* 32 bytes, so a cut at SEM_QUERY_MAX_BYTES falls between two units. */
	char *big = repeat("total revenue by month in 2025. ", 100 * 1024);
	char *out = (char *)"untouched", *want;
	float v[SEM_DIM], w[SEM_DIM];
	struct buf b;

	(void)state;
	/* Refused, not cut: two long questions with one start are not equal. */
	assert_int_equal(sem_normalize(big, &out), -E2BIG);
	assert_int_equal(sem_signature(big, &out), -E2BIG);
	assert_string_equal(out, "untouched");
	/* The embedding reads a bounded prefix, whatever it is given. */
	sem_embed_local(big, v);
	big[SEM_QUERY_MAX_BYTES] = '\0';
	sem_embed_local(big, w);
	assert_memory_equal(v, w, sizeof(v));
	assert_true(absf(norm_of(v) - 1.0f) < 1e-5f);
	/* The largest accepted question works, whole. */
	assert_int_equal(sem_normalize(big, &out), 0);
	assert_int_equal(strlen(out), SEM_QUERY_MAX_BYTES - 2);
	free(out);
	buf_init(&b, 1 << 20);
	buf_append(&b, "v3|d:2025|agg:sum|g:month|w:revenue|seq:", 40);
	for (size_t i = 0; i < SEM_QUERY_MAX_BYTES / 32; i++) {
		const char *unit = ",agg:sum,w:revenue,g:month,d:2025";

		buf_append(&b, unit + (i == 0), strlen(unit) - (i == 0));
	}
	want = buf_steal(&b, NULL);
	assert_int_equal(sem_signature(big, &out), 0);
	assert_string_equal(out, want);
	free(want);
	free(out);
	free(big);
}

/* Maximum-size inputs that print the most: every byte an escaped entry. */
static void test_worst_case_signature(void **state)
{
	char *pipes = repeat("|", SEM_QUERY_MAX_BYTES);
	char *quoted = repeat("|", SEM_QUERY_MAX_BYTES);
	char *out = NULL;

	(void)state;
	assert_int_equal(sem_signature(pipes, &out), 0);
	assert_int_equal(strlen(out), strlen("v3|op:\\||seq:") + SEM_QUERY_MAX_BYTES * 6 - 1);
	free(out);
	quoted[0] = quoted[SEM_QUERY_MAX_BYTES - 1] = '\'';
	assert_int_equal(sem_signature(quoted, &out), 0);
	assert_int_equal(strlen(out), 3 + 2 * (2 + 2 * (SEM_QUERY_MAX_BYTES - 2)) + 5);
	free(out);
	free(pipes);
	free(quoted);
}

static bool valid_utf8(const char *s)
{
	char *fixed = NULL;
	size_t n;

	assert_int_equal(utf8_sanitize(s, strlen(s), &fixed, &n), 0);
	free(fixed);
	return fixed == NULL;
}

static void test_invalid_utf8(void **state)
{
	static const char *const bad[] = {
		"\xff\xfe revenue", "revenue \xc3", "\xed\xa0\x80 surrogate", "over\xc0\xaf long",
		"'\xe2\x80' quoted \xe2\x82", "\xf4\x90\x80\x80 2025", "\xe2\x80\x99\xe2\x80\x9c",
	};
	float v[SEM_DIM];

	(void)state;
	for (size_t i = 0; i < ROWS(bad); i++) {
		char *norm = NULL, *sig = NULL;

		assert_int_equal(sem_normalize(bad[i], &norm), 0);
		assert_int_equal(sem_signature(bad[i], &sig), 0);
		assert_true(valid_utf8(norm));
		assert_true(valid_utf8(sig));
		sem_embed_local(bad[i], v);
		assert_true(norm_of(v) == 0.0f || absf(norm_of(v) - 1.0f) < 1e-5f);
		free(norm);
		free(sig);
	}
	/* A bad byte is a difference, never a wildcard. */
	expect_sig("revenue \xff", "v3|w:revenue|w:\xef\xbf\xbd|seq:w:revenue,w:\xef\xbf\xbd");
}

static void test_match_rule(void **state)
{
	(void)state;
	assert_true(sem_match("w:x|seq:w:x", "w:x|seq:w:x", 0.9f, 0.9f));
	assert_false(sem_match("w:x|seq:w:x", "w:x|seq:w:x", 0.8999f, 0.9f));
	assert_false(sem_match("w:x|seq:w:x", "w:y|seq:w:y", 1.0f, 0.5f));
	assert_false(sem_match("w:x", "w:x ", 1.0f, 0.5f));
	assert_false(sem_match("", "", 1.0f, 0.5f));
	assert_false(sem_match(NULL, "w:x", 1.0f, 0.5f));
	assert_false(sem_match("w:x", NULL, 1.0f, 0.5f));
	assert_false(sem_match("w:x", "w:x", NAN, 0.5f));
	assert_false(sem_match("w:x", "w:x", 1.0f, NAN));
}

static void test_vector_math(void **state)
{
	float a[2] = { 3, 4 }, b[2] = { 6, 8 }, x[2] = { 1, 0 }, y[2] = { 0, 1 };
	float nx[2] = { -1, 0 }, zero[2] = { 0, 0 }, inf[2] = { INFINITY, 1 }, nan[2] = { NAN, 1 };

	(void)state;
	/* General vectors: the lengths do not matter. */
	assert_true(absf(sem_cosine(a, b, 2) - 1.0f) < 1e-6f);
	assert_true(absf(sem_cosine(x, y, 2)) < 1e-6f);
	assert_true(absf(sem_cosine(x, nx, 2) + 1.0f) < 1e-6f);
	assert_true(sem_cosine(a, zero, 2) == 0.0f);
	assert_true(sem_cosine(a, b, 0) == 0.0f);
	assert_true(sem_cosine(NULL, b, 2) == 0.0f);
	sem_l2_normalize(a, 2);
	assert_true(absf(a[0] - 0.6f) < 1e-6f && absf(a[1] - 0.8f) < 1e-6f);
	sem_l2_normalize(zero, 2);
	assert_true(zero[0] == 0.0f && zero[1] == 0.0f);
	sem_l2_normalize(inf, 2);
	assert_true(inf[0] == 0.0f && inf[1] == 0.0f);
	sem_l2_normalize(nan, 2);
	assert_true(nan[0] == 0.0f && nan[1] == 0.0f);
	sem_l2_normalize(NULL, 2);
	/* Very large and very small lengths scale exactly. */
	b[0] = 3e30f;
	b[1] = 4e30f;
	sem_l2_normalize(b, 2);
	assert_true(absf(b[0] - 0.6f) < 1e-6f && absf(b[1] - 0.8f) < 1e-6f);
	b[0] = 3e-30f;
	b[1] = 4e-30f;
	sem_l2_normalize(b, 2);
	assert_true(absf(b[0] - 0.6f) < 1e-6f && absf(b[1] - 0.8f) < 1e-6f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_must_not_match),
		cmocka_unit_test(test_must_match),
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_signature_canonical),
		cmocka_unit_test(test_signature_numbers_dates),
		cmocka_unit_test(test_signature_names),
		cmocka_unit_test(test_embed_deterministic),
		cmocka_unit_test(test_embed_pinned),
		cmocka_unit_test(test_embed_unit_length),
		cmocka_unit_test(test_long_input),
		cmocka_unit_test(test_worst_case_signature),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_match_rule),
		cmocka_unit_test(test_vector_math),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
