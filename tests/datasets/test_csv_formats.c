/*
 * test_csv_formats: uploads written the way real exports write them
 * (src/datasets/csv_sniff.c, csv_number.c, csv_date.c, csv_column.c). Each
 * case is a CSV, the format the uploader gave (if any), a query over the
 * stored table with the rows it must return, and the type each column got:
 * delimiters, thousands separators, decimal commas, currencies, accounting
 * negatives, percents, placeholders, codes with leading zeros and dates.
 * Plus the decisions the upload answers with, column by column.
 */
#include "ds_testlib.h"

#include "datasets/internal.h"

#include "util/banned.h"

struct format_case {
	const char *what, *csv;
	struct csv_import_format fmt;
	const char *sql, *rows;
	const char *types; /* every column's type, comma-separated */
};

#define AUTO { 0, 0, -1 }

static const struct format_case cases[] = {
	/* What a small business's exports hold in one column; the true total is
	 * 1234.56 + 1234.56 + 12 + 12 - 25.50 + 8771.94 = 11239.56. */
	{ "mixed notations add up",
	  "item,amount\n"
	  "a,\"1,234.56\"\n"
	  "b,$1234.56\n"
	  "c,€12.00\n"
	  "d,12 USD\n"
	  "e,(25.50)\n"
	  "f,N/A\n"
	  "g,\" $8,771.94 \"\n"
	  "h,-\n"
	  "i,\n",
	  AUTO, "SELECT printf('%.2f', sum(amount)), count(amount), sum(amount IS NULL), "
		"sum(typeof(amount) = 'real') FROM t",
	  "11239.56|6|3|6\n", "text,real" },
	{ "semicolons and decimal commas",
	  "Datum;Betrag;Menge\n31.12.2025;1.234,56;3\n01.02.2025;-7,50;4\n", AUTO,
	  "SELECT Datum, Betrag, Menge FROM t", "2025-12-31|1234.56|3\n2025-02-01|-7.5|4\n",
	  "date,real,integer" },
	{ "tabs, space thousands, euro after",
	  "libelle\tmontant\nloyer\t1 234,56 €\ncafé\t3,20 €\nremise\t−2,00 €\n", AUTO,
	  "SELECT libelle, montant FROM t", "loyer|1234.56\ncafé|3.2\nremise|-2.0\n", "text,real" },
	{ "no-break space thousands",
	  "montant\n\"1\xC2\xA0" "234,5\"\n\"12\xE2\x80\xAF" "000\"\n", AUTO,
	  "SELECT montant FROM t", "1234.5\n12000.0\n", "real" },
	{ "pipes, apostrophes, a currency code first",
	  "konto|betrag\nA|1'234.50\nB|CHF 99.95\nC|CHF -5\n", AUTO, "SELECT konto, betrag FROM t",
	  "A|1234.5\nB|99.95\nC|-5.0\n", "text,real" },
	{ "quoted delimiters do not fool the detection",
	  "name,note\n\"a;b;c\",\"x;y\"\n\"d;e\",z\n", AUTO, "SELECT name, note FROM t",
	  "a;b;c|x;y\nd;e|z\n", "text,text" },
	/* An inch mark is not an opening quote: read as one, it paired with the
	 * next and the file was one text column "item;size;qty". */
	{ "inch marks do not fool the detection",
	  "item;size;qty\npipe 1/2\";x;5\nbolt;y;7\nnut;3/4\";9\n", AUTO,
	  "SELECT item, size, qty FROM t", "pipe 1/2\"|x|5\nbolt|y|7\nnut|3/4\"|9\n",
	  "text,text,integer" },
	{ "quoted quotes and delimiters", "a;b\n\"x\"\"; y\";1\n\"\";2\n", AUTO,
	  "SELECT a, b FROM t", "x\"; y|1\nNULL|2\n", "text,integer" },
	{ "percents are fractions", "rate\n12.5%\n7 %\n-1.5%\n", AUTO,
	  "SELECT printf('%.4f', rate), typeof(rate) FROM t",
	  "0.1250|real\n0.0700|real\n-0.0150|real\n", "real" },
	{ "signs before and after", "x\n12-\n-3\n+4\n(5)\n", AUTO, "SELECT x, typeof(x) FROM t",
	  "-12|integer\n-3|integer\n4|integer\n-5|integer\n", "integer" },
	{ "blanks around numbers", "x\n\" 12 \"\n\"\t7\"\n", AUTO, "SELECT x, typeof(x) FROM t",
	  "12|integer\n7|integer\n", "integer" },
	{ "codes with leading zeros stay text", "zip,account,n\n00123,0042,1\n04567,1234,2\n", AUTO,
	  "SELECT zip, typeof(zip), account, n FROM t", "00123|text|0042|1\n04567|text|1234|2\n",
	  "text,text,integer" },
	{ "one word keeps a column text", "amt\n12\nabc\n3.5\n", AUTO,
	  "SELECT amt, typeof(amt) FROM t", "12|text\nabc|text\n3.5|text\n", "text" },
	{ "a placeholder in a text column stays", "who\nann\nN/A\n", AUTO, "SELECT who FROM t",
	  "ann\nN/A\n", "text" },
	{ "all placeholders is text", "x\nN/A\n-\n", AUTO, "SELECT x FROM t", "N/A\n-\n", "text" },
	{ "thousands in one column settle another", "a,b\n\"1,234\",\"1,234,567.5\"\n", AUTO,
	  "SELECT a, typeof(a), b FROM t", "1234|integer|1234567.5\n", "integer,real" },
	/* With ',' as the decimal mark, a '.' groups thousands. */
	{ "decimal commas in one column settle another", "a;b\n1.234;1,5\n2.500;2\n", AUTO,
	  "SELECT a, typeof(a), b FROM t", "1234|integer|1.5\n2500|integer|2.0\n",
	  "integer,real" },
	{ "decimal= settles an ambiguous column", "a\n\"1,234\"\n\"5,678\"\n", { 0, '.', -1 },
	  "SELECT a, typeof(a) FROM t", "1234|integer\n5678|integer\n", "integer" },
	{ "decimal=, settles it the other way", "a\n\"1,234\"\n\"5,678\"\n", { 0, ',', -1 },
	  "SELECT a FROM t", "1.234\n5.678\n", "real" },
	{ "decimal= keeps other marks text", "a\n1.5\n", { 0, ',', -1 }, "SELECT a FROM t",
	  "1.5\n", "text" },
	{ "three decimals after a zero are decimals", "a\n0.125\n1.250\n", AUTO,
	  "SELECT a FROM t", "0.125\n1.25\n", "real" },
	{ "delimiter= given", "a;b\n1;2\n", { ';', 0, -1 }, "SELECT a + b FROM t", "3\n",
	  "integer,integer" },
	{ "delimiter=tab given", "a\tb\n1,5\t2\n", { '\t', ',', -1 }, "SELECT a, b FROM t",
	  "1.5|2\n", "real,integer" },
	{ "semicolons and CRLF detected", "a;b\r\n1;2\r\n3;4\r\n5;6\r\n", AUTO, "SELECT sum(a), sum(b) FROM t", "9|12\n",
	  "integer,integer" },
	{ "dates day first, month first and with times",
	  "d1,d2,d3\n31/12/2025,12/31/2025,2025-12-31T10:00\n05/01/2025,01/05/2025,"
	  "2025-01-05T09:30:15\n",
	  AUTO, "SELECT d1, d2, d3 FROM t",
	  "2025-12-31|2025-12-31|2025-12-31 10:00:00\n2025-01-05|2025-01-05|2025-01-05 09:30:15\n",
	  "date,date,datetime" },
	{ "dates with dots and placeholders", "d\n31.12.2025\nn/a\n—\n1.2.2025\n", AUTO,
	  "SELECT d FROM t", "2025-12-31\nNULL\nNULL\n2025-02-01\n", "date" },
	{ "day and month that cannot be told apart stay text", "d\n05/06/2025\n01/02/2025\n", AUTO,
	  "SELECT d FROM t", "05/06/2025\n01/02/2025\n", "text" },
	{ "dayfirst=true tells them apart", "d\n05/06/2025\n01/02/2025\n", { 0, 0, 1 },
	  "SELECT d FROM t", "2025-06-05\n2025-02-01\n", "date" },
	{ "dayfirst=false the other way", "d\n05/06/2025\n01/02/2025\n", { 0, 0, 0 },
	  "SELECT d FROM t", "2025-05-06\n2025-01-02\n", "date" },
	{ "dates that do not exist stay text", "d\n31/02/2025\n", AUTO, "SELECT d FROM t",
	  "31/02/2025\n", "text" },
	{ "two separators in one date column stay text", "d\n31/12/2025\n31.12.2025\n", AUTO,
	  "SELECT d FROM t", "31/12/2025\n31.12.2025\n", "text" },
	{ "mixed percent and plain stays text", "r\n5%\n7\n", AUTO, "SELECT r FROM t", "5%\n7\n",
	  "text" },
	/* 12.3 / 100 is 0.12300000000000001: the percent moves the point. */
	{ "percents are exactly the fraction written", "rate\n12.3%\n0.1%\n57%\n", AUTO,
	  "SELECT rate = 0.123, rate = 0.001, rate = 0.57 FROM t", "1|0|0\n0|1|0\n0|0|1\n",
	  "real" },
	/* A REAL holds whole numbers exactly only up to 2^53. */
	{ "long whole numbers beside fractions are not rounded", "x\n9007199254740993\n1.5\n",
	  AUTO, "SELECT x, typeof(x) FROM t", "9007199254740993|text\n1.5|text\n", "text" },
	{ "long whole numbers alone are integers", "x\n9007199254740993\n-1\n", AUTO,
	  "SELECT x, typeof(x) FROM t", "9007199254740993|integer\n-1|integer\n", "integer" },
	{ "long digit strings are not rounded", "id\n12345678901234567890\n", AUTO,
	  "SELECT id, typeof(id) FROM t", "12345678901234567890|text\n", "text" },
};

static void check_types(const char *what, json_t *summary, const char *want)
{
	char got[512] = "";
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(summary, "columns"), i, c)
	{
		size_t n = strlen(got);
		snprintf(got + n, sizeof(got) - n, "%s%s", i ? "," : "",
			 json_string_value(json_object_get(c, "type")));
	}
	if (strcmp(got, want) != 0)
		fail_msg("%s: types %s, expected %s", what, got, want);
}

static void format_matrix(void **state)
{
	char data[DS_PATH], err[512], db[DS_PATH], name[32], file[80];
	(void)state;

	ds_scratch(data);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct format_case *c = &cases[i];
		json_t *summary = NULL;
		char *got;

		snprintf(name, sizeof(name), "case%zu", i);
		err[0] = '\0';
		if (ds_import_as(data, name, c->csv, &c->fmt, &summary, err, sizeof(err)) != 0)
			fail_msg("%s: refused: %s", c->what, err);
		snprintf(file, sizeof(file), "%s/%s.sqlite", name, name);
		ds_path(db, data, file);
		got = ds_query(db, c->sql);
		if (strcmp(got, c->rows) != 0)
			fail_msg("%s: got\n%s\nexpected\n%s", c->what, got, c->rows);
		free(got);
		check_types(c->what, summary, c->types);
		json_decref(summary);
	}
	ds_rmtree(data);
}

static json_t *column(json_t *summary, size_t i)
{
	return json_array_get(json_object_get(summary, "columns"), i);
}

static const char *text_of(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	assert_non_null(s);
	return s;
}

/* Column i stayed text, for the reason given. */
static void check_text_column(json_t *summary, size_t i, const char *note)
{
	json_t *c = column(summary, i);

	assert_string_equal(text_of(c, "type"), "text");
	assert_string_equal(text_of(c, "format"), "text");
	assert_string_equal(text_of(c, "note"), note);
	assert_int_equal(json_integer_value(json_object_get(c, "nulled")), 0);
}

static void the_answer_lists_every_decision(void **state)
{
	char data[DS_PATH], err[512];
	json_t *summary = NULL, *c, *lines;
	(void)state;

	ds_scratch(data);
	assert_int_equal(ds_import_as(data, "d", cases[0].csv, NULL, &summary, err, sizeof(err)), 0);
	assert_string_equal(text_of(summary, "delimiter"), ",");
	assert_string_equal(text_of(summary, "decimal"), ".");
	c = column(summary, 1);
	assert_string_equal(text_of(c, "name"), "amount");
	assert_string_equal(text_of(c, "type"), "real");
	assert_string_equal(text_of(c, "format"),
			    "number, thousands ',', decimal '.', currency $ € USD (mixed, not "
			    "converted), negatives in parentheses");
	assert_int_equal(json_integer_value(json_object_get(c, "nulled")), 2);
	assert_int_equal(json_integer_value(json_object_get(c, "empty")), 1);
	lines = json_object_get(c, "nulled_lines");
	assert_int_equal(json_array_size(lines), 2);
	assert_int_equal(json_integer_value(json_array_get(lines, 0)), 7);
	assert_int_equal(json_integer_value(json_array_get(lines, 1)), 9);
	/* A sum of this column adds dollars and euros: the answer says so. */
	assert_string_equal(text_of(c, "note"),
			    "warning: the values are in $ € USD, stored as written and not "
			    "converted: a sum or average adds different currencies");
	c = column(summary, 0);
	assert_string_equal(text_of(c, "format"), "text");
	json_decref(summary);

	/* Why a column stays text, and how dates were read. */
	assert_int_equal(ds_import_as(data, "e",
				      "zip;amt;day;when;pct\n"
				      "00123;12;31/12/2025;05/06/2025;1%\n"
				      "04567;abc;01/02/2025;01/02/2025;2%\n"
				      "1;N/A;-;-;3.5%\n"
				      "2;3;null;n/a;NA\n"
				      "3;4;;;\n"
				      "4;5;#N/A;;-\n"
				      "5;6;N/A;;-\n"
				      "6;7;N/A;;-\n",
				      NULL, &summary, err, sizeof(err)),
			 0);
	assert_string_equal(text_of(summary, "delimiter"), ";");
	check_text_column(summary, 0,
			  "text: \"00123\" (line 2) has a leading zero, so the column is kept as "
			  "written (codes such as zip codes or account numbers)");
	check_text_column(summary, 1,
			  "text: \"abc\" (line 3) is neither a number nor a date, so nothing in the "
			  "column is converted");
	c = column(summary, 2);
	assert_string_equal(text_of(c, "type"), "date");
	assert_string_equal(text_of(c, "format"), "date DD/MM/YYYY, stored as YYYY-MM-DD");
	assert_int_equal(json_integer_value(json_object_get(c, "nulled")), 5);
	lines = json_object_get(c, "nulled_lines");
	assert_int_equal(json_array_size(lines), CSV_EXAMPLE_LINES);
	assert_int_equal(json_integer_value(json_array_get(lines, 0)), 4);
	assert_int_equal(json_integer_value(json_array_get(lines, 4)), 9);
	check_text_column(summary, 3,
			  "text: every value is a date that reads both day-first and month-first "
			  "(such as 05/06/YYYY): upload with dayfirst=true or dayfirst=false");
	c = column(summary, 4);
	assert_string_equal(text_of(c, "type"), "real");
	assert_string_equal(text_of(c, "format"),
			    "number, decimal '.', percent stored as a fraction (12.5% is 0.125)");
	assert_int_equal(json_integer_value(json_object_get(c, "nulled")), 4);
	json_decref(summary);
	ds_rmtree(data);
}

static char *read_back(const char *data, const char *file)
{
	char path[DS_PATH], *text = calloc(1, 4096);
	FILE *f;
	size_t n;

	ds_path(path, data, file);
	f = fopen(path, "rb");
	if (!f) {
		free(text);
		return NULL;
	}
	assert_non_null(text);
	n = fread(text, 1, 4095, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

static void expect_file(const char *data, const char *file, const char *want)
{
	char *got = read_back(data, file);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

/* Python reads TABLE.csv: when the upload was not plain, that file holds
 * the values as stored and the upload is kept beside it. */
static void python_reads_what_sql_reads(void **state)
{
	static const char semicolons[] = "Datum;Betrag;Menge;Notiz\n"
					 "31.12.2025;1.234,56;3;\"a, \"\"b\"\"\"\n"
					 "01.02.2025;-7,50;4; x\n"
					 "N/A;12,00 €;5;\n";
	static const char plain[] = "a,b,c\n1,2.5,2025-01-31\n,1e3,x\n";
	char data[DS_PATH], err[512];
	json_t *summary = NULL;
	(void)state;

	ds_scratch(data);
	assert_int_equal(ds_import_as(data, "x", cases[0].csv, NULL, &summary, err, sizeof(err)), 0);
	assert_string_equal(json_string_value(json_object_get(summary, "original_csv")),
			    "t.original.csv");
	json_decref(summary);
	expect_file(data, "x/t.csv",
		    "item,amount\na,1234.56\nb,1234.56\nc,12.0\nd,12.0\ne,-25.5\nf,\n"
		    "g,8771.94\nh,\ni,\n");
	expect_file(data, "x/t.original.csv", cases[0].csv);

	assert_int_equal(ds_import_as(data, "y", semicolons, NULL, NULL, err, sizeof(err)), 0);
	expect_file(data, "y/t.csv",
		    "Datum,Betrag,Menge,Notiz\n2025-12-31,1234.56,3,\"a, \"\"b\"\"\"\n"
		    "2025-02-01,-7.5,4,\" x\"\n,12.0,5,\n");

	/* A NULL alone on its line stays a row; a name starting with U+FEFF
	 * (a doubled byte order mark) is not taken for one. */
	assert_int_equal(ds_import_as(data, "w", "\xEF\xBB\xBF\xEF\xBB\xBF" "amount\n$5\n\"\"\n$6\n",
				      NULL, NULL, err, sizeof(err)),
			 0);
	expect_file(data, "w/t.csv", "\"\xEF\xBB\xBF" "amount\"\n5\n\"\"\n6\n");

	/* With decimal=, a '.' groups thousands: "1.234" is 1234 in SQL, so the
	 * file Python reads cannot stay as sent, where it reads 1.234. */
	assert_int_equal(ds_import_as(data, "v", "qty\n1.234\n2.500\n", &(struct csv_import_format){ 0, ',', -1 },
				      NULL, err, sizeof(err)),
			 0);
	expect_file(data, "v/t.csv", "qty\n1234\n2500\n");

	/* Header names are trimmed for SQL: Python gets the same names. */
	assert_int_equal(ds_import_as(data, "u", "name , amount\nx,5\n", NULL, NULL, err, sizeof(err)),
			 0);
	expect_file(data, "u/t.csv", "name,amount\nx,5\n");

	/* A plain upload is kept as it came, and alone. */
	assert_int_equal(ds_import_as(data, "z", plain, NULL, &summary, err, sizeof(err)), 0);
	assert_null(json_object_get(summary, "original_csv"));
	json_decref(summary);
	expect_file(data, "z/t.csv", plain);
	assert_null(read_back(data, "z/t.original.csv"));
	ds_rmtree(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(format_matrix),
		cmocka_unit_test(the_answer_lists_every_decision),
		cmocka_unit_test(python_reads_what_sql_reads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
