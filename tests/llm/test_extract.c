/*
 * test_extract: finding the program in a model's reply. Every case is a
 * reply and the exact bytes that must come out (or the error); the code is
 * compared byte for byte, so any rewrite of it fails.
 */
#include "testlib.h"

#include "llm/extract.h"

struct extract_case {
	const char *name;
	const char *language;
	const char *reply;
	const char *want; /* NULL: -ENODATA */
};

static const struct extract_case cases[] = {
	{ "fenced python", "python",
	  "Here is the program:\n\n```python\nimport pandas as pd\nprint(1)\n```\n\nIt prints 1.\n",
	  "import pandas as pd\nprint(1)" },
	{ "py and upper case info", "python", "```PY\nx = 2\n```", "x = 2" },
	{ "fenced sql", "sql", "```sql\nSELECT count(*) FROM invoices;\n```", "SELECT count(*) FROM invoices;" },
	{ "sqlite info", "SQL", "Query:\n```SQLite\nSELECT 1\n```\n", "SELECT 1" },
	{ "other language first, then the right one", "python",
	  "Install nothing:\n```bash\npip install pandas\n```\nThen run:\n```python\nprint('ok')\n```\n",
	  "print('ok')" },
	{ "sql block after a python block", "sql",
	  "```python\nprint(1)\n```\n```sql\nSELECT 2\n```", "SELECT 2" },
	{ "no info string preferred over another language", "python",
	  "```text\nnot code\n```\n```\nprint(3)\n```\n", "print(3)" },
	{ "only another language: taken", "python", "```js\nconsole.log(1)\n```", "console.log(1)" },
	{ "unfenced whole reply", "sql", "\n\n  SELECT name\nFROM customers;\n\n\n",
	  "  SELECT name\nFROM customers;" },
	{ "crlf", "python", "Code:\r\n```python\r\nx = 1\r\nprint(x)\r\n```\r\nDone.\r\n",
	  "x = 1\r\nprint(x)" },
	{ "unterminated final fence", "python", "```python\nimport os\nprint(os.getcwd())\n",
	  "import os\nprint(os.getcwd())" },
	{ "unterminated without final newline", "sql", "Sure.\n```sql\nSELECT 1", "SELECT 1" },
	{ "tilde fence", "python", "~~~python\nprint('~')\n~~~\n", "print('~')" },
	{ "backquote line inside a tilde fence", "python", "~~~python\ns = '''\n```\n'''\n~~~",
	  "s = '''\n```\n'''" },
	{ "longer fence holds a shorter one", "python",
	  "````python\nmd = \"\"\"\n```\ncode\n```\n\"\"\"\n````\n", "md = \"\"\"\n```\ncode\n```\n\"\"\"" },
	{ "tuple survives", "python", "```python\nt = (1,)\nprint(t)\n```", "t = (1,)\nprint(t)" },
	{ "trailing commas survive", "python",
	  "```python\nrows = [\n    1,\n    2,\n]\nd = {'a': 1,}\nf(x,)\n```",
	  "rows = [\n    1,\n    2,\n]\nd = {'a': 1,}\nf(x,)" },
	{ "indentation and inner blank lines kept", "python",
	  "```python\n\n\nfor i in range(2):\n\n    print(i)   \n\n\n```",
	  "for i in range(2):\n\n    print(i)   " },
	{ "indented fence inside a list", "python", "1. Run:\n   ```python\n   if x:\n       y()\n   ```\n",
	  "if x:\n    y()" },
	{ "inline triple backquotes are not a fence", "python",
	  "```x``` is inline code\n```python\nprint(4)\n```", "print(4)" },
	{ "inline code only: the whole reply", "python", "Use `x` here\nprint(4)",
	  "Use `x` here\nprint(4)" },
	{ "closing fence may carry blanks", "sql", "```sql\nSELECT 5\n```   \nmore", "SELECT 5" },
	{ "fence with attributes", "python", "```python {title=a.py}\nprint(6)\n```", "print(6)" },
	{ "empty block passed over", "python", "```python\n\n```\n```python\nprint(7)\n```", "print(7)" },
	{ "empty reply", "python", "", NULL },
	{ "blank reply", "python", " \n\t\r\n \n", NULL },
	{ "only empty blocks", "sql", "```sql\n```\n", NULL },
	{ "language NULL takes an unlabelled block", NULL, "```sql\nA\n```\n```\nB\n```", "B" },
};

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct extract_case *c = &cases[i];
		char *code = (char *)0x1;
		int r = extract_code(c->reply, c->language, &code);

		if (!c->want) {
			if (r != -ENODATA)
				fail_msg("%s: want -ENODATA, got %d", c->name, r);
			if (code != (char *)0x1)
				fail_msg("%s: out-param written on failure", c->name);
			continue;
		}
		if (r != 0)
			fail_msg("%s: got %d", c->name, r);
		if (strcmp(code, c->want) != 0)
			fail_msg("%s: got [%s] want [%s]", c->name, code, c->want);
		free(code);
	}
}

static void test_whole_reply_bytes_untouched(void **state)
{
	/* No fences: every byte, including odd spacing and commas, comes back. */
	const char *reply = "t = (1,)\nx = [1, 2,]  # keep\n\tprint( t ,x )";
	char *code = NULL;

	(void)state;
	assert_int_equal(extract_code(reply, "python", &code), 0);
	assert_int_equal(strlen(code), strlen(reply));
	assert_memory_equal(code, reply, strlen(reply));
	free(code);
}

static void test_bad_arguments(void **state)
{
	char *code = NULL;

	(void)state;
	assert_int_equal(extract_code(NULL, "python", &code), -EINVAL);
	assert_null(code);
	assert_int_equal(extract_code("x", "python", NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_whole_reply_bytes_untouched),
		cmocka_unit_test(test_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
