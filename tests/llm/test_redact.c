/*
 * test_redact: the report a model that may not see the data gets about a
 * failed attempt. It keeps the type, the line, that line of the model's
 * code and the names from the schema or the code, and no other byte of
 * the message, whatever shape the value in it takes.
 */
#include "testlib.h"

#include "llm/redact.h"
#include "llm/schema.h"

static char *s_name = "customers", *c_name = "name", *c_status = "status", *c_price = "Unit Price";

static void schema_make(struct schema *s, struct schema_table *t, struct schema_column cols[3])
{
	memset(s, 0, sizeof(*s));
	memset(t, 0, sizeof(*t));
	memset(cols, 0, 3 * sizeof(*cols));
	cols[0].name = c_name;
	cols[1].name = c_status;
	cols[2].name = c_price;
	t->name = s_name;
	t->columns = cols;
	t->n_columns = 3;
	t->rows = 480;
	s->tables = t;
	s->n_tables = 1;
}

static void report(const char *type, long line, const char *message, const char *language,
		   const char *code, char *out, size_t len)
{
	struct schema s;
	struct schema_table t;
	struct schema_column cols[3];
	struct redact_error e = { type, line, message };

	schema_make(&s, &t, cols);
	redact_error_text(&e, language, code, &s, out, len);
}

static const char *py = "import pandas as pd\n"
			"df = pd.read_csv('/data/customers.csv')\n"
			"\trow = df[df.status == 'late'].iloc[0]  \n"
			"print(row['amount_due'])\n";

static void values_never_pass(void **state)
{
	static const char *const messages[] = {
		"'Golden Street Noodle Bar'",
		"invalid literal for int() with base 10: 'Golden Street Noodle Bar'",
		"Unable to parse string \"Golden Street Noodle Bar\" at position 0",
		"                         name  status\n0  Golden Street Noodle Bar   paid",
		"UNIQUE constraint failed: customers.name (Golden Street Noodle Bar)",
		"Golden\tStreet\nNoodle\001Bar 12345.67 2025-03-01",
	};
	char out[2001];
	(void)state;

	for (size_t i = 0; i < sizeof(messages) / sizeof(messages[0]); i++) {
		report("KeyError", 3, messages[i], "python", py, out, sizeof(out));
		if (strstr(out, "Golden") || strstr(out, "Street") || strstr(out, "Noodle") ||
		    strstr(out, "Bar") || strstr(out, "12345") || strstr(out, "2025") ||
		    strstr(out, "paid"))
			fail_msg("a value passed for '%s': %s", messages[i], out);
		assert_non_null(strstr(out, "KeyError at line 3 of the program.\n"));
		/* The line comes from the code, trimmed. */
		assert_non_null(strstr(out, "Line 3: row = df[df.status == 'late'].iloc[0]\n"));
	}
}

static void names_from_the_code_and_schema_pass(void **state)
{
	char out[2001];
	(void)state;

	/* amount_due is a word of the failing line; status and Unit Price
	 * the schema's (written as the schema spells them, in its order); df
	 * is the code's but not on the line shown. */
	report("KeyError", 4, "'amount_due' not in df; STATUS of 'Ann Lee' ('Unit Price' = 3)",
	       "python", py, out, sizeof(out));
	assert_non_null(strstr(out, "Names in the error: amount_due, status, Unit Price\n"));
	assert_null(strstr(out, "Ann"));
	assert_null(strstr(out, "Lee"));
	assert_null(strstr(out, "3)"));
}

static void type_and_line_are_checked(void **state)
{
	char out[2001];
	(void)state;

	/* A class named after a value is not a known error, nor in the code. */
	report("GoldenStreetNoodleBar", 2, "x", "python", py, out, sizeof(out));
	assert_null(strstr(out, "Golden"));
	assert_true(strncmp(out, "Error at line 2", 15) == 0);
	/* One the code defines is its own name. */
	report("NoRows", 1, "x", "python", "class NoRows(Exception): pass\nraise NoRows()", out,
	       sizeof(out));
	assert_true(strncmp(out, "NoRows at line 1", 16) == 0);
	/* A line the code does not have is not shown. */
	report("ValueError", 99, "x", "python", py, out, sizeof(out));
	assert_true(strncmp(out, "ValueError in the program.\n", 27) == 0);
	assert_null(strstr(out, "99"));
	report("query_error", 0, "cannot cast 'Golden Street' of column name", "sql",
	       "SELECT CAST(name AS INT) FROM customers", out, sizeof(out));
	assert_true(strncmp(out, "query_error in the query.\n", 26) == 0);
	assert_non_null(strstr(out, "Names in the error: name\n"));
	assert_null(strstr(out, "Golden"));
}

/* A program that spells a value with words the code holds (one letter a
 * word) gets no letters back from a comment of another line, and from its
 * failing line only in the order that line spells them, which the data
 * does not choose; a class picked by a value is not its type either. */
static void spelled_values_do_not_pass(void **state)
{
	static const char *const spelling = "G o l d e n   S t r e e t";
	char out[2001];
	(void)state;

	report("ValueError", 4, spelling, "python",
	       "import pandas as pd\n"
	       "# a b c d e f g h i j k l m n o p q r s t u v w x y z G S N B\n"
	       "v = pd.read_csv('/data/customers.csv').name[0]\n"
	       "raise ValueError(' '.join(v))\n",
	       out, sizeof(out));
	assert_null(strstr(out, "Names in the error"));
	report("ValueError", 2, spelling, "python",
	       "v = open('/data/customers.csv').read()\n"
	       "raise ValueError(' '.join(v)) if v else (a, b, d, e, l, n, o, r, s, t, G, S)\n",
	       out, sizeof(out));
	assert_non_null(strstr(out, "Names in the error: d, e, l, n, o, r, t, G, S\n"));
	report("G", 3, "x", "python",
	       "class G(Exception): pass\nv = open('/data/x.csv').read()\nraise globals()[v[0]]()\n",
	       out, sizeof(out));
	assert_true(strncmp(out, "Error at line 3", 15) == 0);
	/* Schema names come in the schema's order, not the message's. */
	report("query_error", 0, "Unit Price status name", "sql", "SELECT 1", out, sizeof(out));
	assert_non_null(strstr(out, "Names in the error: name, status, Unit Price\n"));
}

static void small_buffers_and_no_code(void **state)
{
	char out[16];
	(void)state;

	report("KeyError", 1, "'Golden'", "python", NULL, out, sizeof(out));
	assert_int_equal(strlen(out), sizeof(out) - 1);
	assert_null(strstr(out, "Golden"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(values_never_pass),
		cmocka_unit_test(names_from_the_code_and_schema_pass),
		cmocka_unit_test(type_and_line_are_checked),
		cmocka_unit_test(spelled_values_do_not_pass),
		cmocka_unit_test(small_buffers_and_no_code),
	};
	return cmocka_run_group_tests_name("redact", tests, NULL, NULL);
}
