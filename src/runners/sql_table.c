/*
 * sql_table: turns the rows of a prepared statement into the result table
 * {"columns", "rows", "row_count", "total_rows", "truncated"}.
 *
 * Invariants:
 * - At most max_rows rows are stored; later rows are only counted, so the
 *   memory used is bounded by max_rows and SQLITE_LIMIT_LENGTH.
 * - Every string put into the JSON is valid UTF-8 (invalid bytes become
 *   U+FFFD) and every number is finite, so the document always serialises.
 * - The only source of SQLITE_INTERRUPT is the time limit (sql_guard.c); it
 *   ends counting early without failing the query.
 */
#include "runners/sql_runner.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"
#include "util/banned.h"

json_t *sql_json_string(const char *s, size_t len)
{
	char *fixed;
	size_t fixed_len;
	json_t *json;

	if (utf8_sanitize(s, len, &fixed, &fixed_len) < 0)
		return NULL;
	/* json_stringn keeps NUL bytes (as \u0000) and rechecks the UTF-8. */
	json = json_stringn(fixed ? fixed : s, fixed_len);
	free(fixed);
	return json;
}

/* ---- column types ----------------------------------------------------- */

static bool contains_word_part(const char *haystack, const char *needle)
{
	size_t n = strlen(needle);

	for (const char *p = haystack; *p; p++) {
		if (sqlite3_strnicmp(p, needle, (int)n) == 0)
			return true;
	}
	return false;
}

const char *sql_type_from_decltype(const char *decltype)
{
	/* Checked in order: the first match wins. BOOL and DATE/TIME come
	 * before SQLite's own affinity rules (INT, CHAR/CLOB/TEXT, BLOB,
	 * REAL/FLOA/DOUB), which decide the rest the way SQLite does. */
	static const struct {
		const char *part;
		const char *type;
	} rules[] = {
		{ "BOOL", "boolean" }, { "DATE", "datetime" }, { "TIME", "datetime" },
		{ "INT", "integer" },  { "CHAR", "text" },     { "CLOB", "text" },
		{ "TEXT", "text" },    { "BLOB", "blob" },     { "REAL", "real" },
		{ "FLOA", "real" },    { "DOUB", "real" },     { "NUM", "numeric" },
		{ "DEC", "numeric" },
	};

	if (!decltype)
		return NULL;
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		if (contains_word_part(decltype, rules[i].part))
			return rules[i].type;
	}
	return NULL;
}

static const char *storage_class_name(int type)
{
	switch (type) {
	case SQLITE_INTEGER: return "integer";
	case SQLITE_FLOAT: return "real";
	case SQLITE_TEXT: return "text";
	case SQLITE_BLOB: return "blob";
	default: return NULL;
	}
}

/* ---- collecting rows -------------------------------------------------- */

struct table_state {
	sqlite3_stmt *stmt;
	int column_count;
	const char **types; /* per column; NULL while still to be inferred */
	int types_pending;  /* how many are NULL */
	json_t *rows;
	uint64_t shown;
	uint64_t total;
	bool total_known;
	bool truncated;
};

/* Fills the types the declarations left open from the current row. */
static void note_types(struct table_state *t)
{
	for (int i = 0; t->types_pending > 0 && i < t->column_count; i++) {
		if (t->types[i])
			continue;
		t->types[i] = storage_class_name(sqlite3_column_type(t->stmt, i));
		if (t->types[i])
			t->types_pending--;
	}
}

static json_t *value_json(sqlite3_stmt *stmt, int i)
{
	switch (sqlite3_column_type(stmt, i)) {
	case SQLITE_INTEGER:
		return json_integer(sqlite3_column_int64(stmt, i));
	case SQLITE_FLOAT: {
		double d = sqlite3_column_double(stmt, i);
		return isfinite(d) ? json_real(d) : json_null();
	}
	case SQLITE_TEXT: {
		const unsigned char *text = sqlite3_column_text(stmt, i);
		int len = sqlite3_column_bytes(stmt, i);
		return text ? sql_json_string((const char *)text, (size_t)len) : NULL;
	}
	case SQLITE_BLOB: {
		char label[64];
		snprintf(label, sizeof(label), "<blob %d bytes>", sqlite3_column_bytes(stmt, i));
		return json_string(label);
	}
	default:
		return json_null();
	}
}

static int store_row(struct table_state *t)
{
	json_t *row = json_array();

	if (!row)
		return -ENOMEM;
	for (int i = 0; i < t->column_count; i++) {
		/* json_array_append_new releases the value even on failure. */
		json_t *value = value_json(t->stmt, i);
		if (!value || json_array_append_new(row, value) < 0) {
			json_decref(row);
			return -ENOMEM;
		}
	}
	if (json_array_append_new(t->rows, row) < 0)
		return -ENOMEM;
	t->shown++;
	return 0;
}

/* Steps past the stored rows only to count them. Running out of time here
 * still leaves a good (truncated) result, just without a total. */
static int count_rest(struct table_state *t, int *ret_step_rc)
{
	int rc;

	while ((rc = sqlite3_step(t->stmt)) == SQLITE_ROW) {
		t->total++;
		note_types(t);
	}
	if (rc == SQLITE_DONE) {
		t->total_known = true;
		return 0;
	}
	if (rc == SQLITE_INTERRUPT)
		return 0;
	*ret_step_rc = rc;
	return -EIO;
}

static int step_all(struct table_state *t, uint64_t max_rows, int *ret_step_rc)
{
	int rc;

	while ((rc = sqlite3_step(t->stmt)) == SQLITE_ROW) {
		note_types(t);
		if (t->shown < max_rows) {
			int r = store_row(t);
			if (r < 0)
				return r;
			continue;
		}
		t->truncated = true;
		t->total = t->shown + 1;
		return count_rest(t, ret_step_rc);
	}
	if (rc != SQLITE_DONE) {
		*ret_step_rc = rc;
		return -EIO;
	}
	t->total = t->shown;
	t->total_known = true;
	return 0;
}

/* ---- building the table ----------------------------------------------- */

static int object_put(json_t *object, const char *key, json_t *value)
{
	if (!value)
		return -ENOMEM;
	return json_object_set_new(object, key, value) < 0 ? -ENOMEM : 0;
}

static json_t *columns_json(const struct table_state *t)
{
	json_t *columns = json_array();

	for (int i = 0; columns && i < t->column_count; i++) {
		const char *name = sqlite3_column_name(t->stmt, i);
		json_t *column = json_object();
		int r = column ? 0 : -ENOMEM;

		if (r == 0)
			r = object_put(column, "name",
				       name ? sql_json_string(name, strlen(name)) : NULL);
		if (r == 0)
			r = object_put(column, "type",
				       json_string(t->types[i] ? t->types[i] : "null"));
		if (r < 0 || json_array_append_new(columns, column) < 0) {
			if (r < 0)
				json_decref(column);
			json_decref(columns);
			return NULL;
		}
	}
	return columns;
}

static json_t *table_json(struct table_state *t)
{
	json_t *table = json_object();
	int r = table ? 0 : -ENOMEM;

	if (r == 0)
		r = object_put(table, "columns", columns_json(t));
	if (r == 0) {
		r = object_put(table, "rows", t->rows);
		t->rows = NULL; /* taken over (or released) by object_put */
	}
	if (r == 0)
		r = object_put(table, "row_count", json_integer((json_int_t)t->shown));
	if (r == 0)
		r = object_put(table, "total_rows",
			       t->total_known ? json_integer((json_int_t)t->total) : json_null());
	if (r == 0)
		r = object_put(table, "truncated", json_boolean(t->truncated));
	if (r < 0) {
		json_decref(table);
		return NULL;
	}
	return table;
}

static int state_init(struct table_state *t, sqlite3_stmt *stmt)
{
	memset(t, 0, sizeof(*t));
	t->stmt = stmt;
	t->column_count = sqlite3_column_count(stmt);
	t->types = calloc((size_t)t->column_count + 1, sizeof(*t->types));
	t->rows = json_array();
	if (!t->types || !t->rows)
		return -ENOMEM;
	for (int i = 0; i < t->column_count; i++) {
		t->types[i] = sql_type_from_decltype(sqlite3_column_decltype(stmt, i));
		if (!t->types[i])
			t->types_pending++;
	}
	return 0;
}

int sql_table_collect(sqlite3_stmt *stmt, uint64_t max_rows, json_t **ret_table,
		      int *ret_step_rc)
{
	struct table_state t;
	int r;

	*ret_table = NULL;
	*ret_step_rc = SQLITE_OK;
	r = state_init(&t, stmt);
	if (r == 0)
		r = step_all(&t, max_rows, ret_step_rc);
	if (r == 0) {
		*ret_table = table_json(&t);
		if (!*ret_table)
			r = -ENOMEM;
	}
	json_decref(t.rows);
	free(t.types);
	return r;
}
