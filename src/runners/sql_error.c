/*
 * sql_error: the error record of one SQL run and the JSON result document.
 *
 * Invariants: the result document always has both keys "table" and "error",
 * exactly one of them non-null. Messages may hold arbitrary bytes (paths,
 * sqlite messages quoting the query, a cut at the buffer end), so they are
 * turned into JSON through sql_json_string(), which repairs UTF-8.
 */
#include "runners/sql_runner.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/banned.h"

static const char *const type_names[] = {
	[SQL_ERROR_NONE] = NULL,
	[SQL_ERROR_SYNTAX] = "syntax_error",
	[SQL_ERROR_NOT_ALLOWED] = "not_allowed",
	[SQL_ERROR_MULTIPLE_STATEMENTS] = "multiple_statements",
	[SQL_ERROR_EMPTY_QUERY] = "empty_query",
	[SQL_ERROR_TIMEOUT] = "timeout",
	[SQL_ERROR_NO_SUCH_TABLE] = "no_such_table",
	[SQL_ERROR_NO_SUCH_COLUMN] = "no_such_column",
	[SQL_ERROR_OPEN_FAILED] = "open_failed",
	[SQL_ERROR_QUERY] = "query_error",
};

const char *sql_error_type_name(enum sql_error_type type)
{
	if ((size_t)type >= sizeof(type_names) / sizeof(type_names[0]))
		return "query_error";
	return type_names[type];
}

void sql_error_set(struct sql_error *error, enum sql_error_type type, const char *fmt, ...)
{
	va_list ap;

	error->type = type;
	error->line = 0;
	error->column = 0;
	va_start(ap, fmt);
	/* Truncation is fine: the message is for people, the type is for code. */
	vsnprintf(error->message, sizeof(error->message), fmt, ap);
	va_end(ap);
}

int sql_error_exit_code(const struct sql_error *error)
{
	if (!error || error->type == SQL_ERROR_NONE)
		return SQL_EXIT_OK;
	if (error->type == SQL_ERROR_TIMEOUT)
		return SQL_EXIT_TIMEOUT;
	return SQL_EXIT_QUERY_ERROR;
}

/* json_object_set_new() releases the value even when it fails. */
static int object_put(json_t *object, const char *key, json_t *value)
{
	if (!value)
		return -1;
	return json_object_set_new(object, key, value);
}

json_t *sql_error_to_json(const struct sql_error *error)
{
	json_t *object = json_object();
	int r;

	if (!object)
		return NULL;
	r = object_put(object, "type", json_string(sql_error_type_name(error->type)));
	if (r == 0)
		r = object_put(object, "message",
			       sql_json_string(error->message, strnlen(error->message,
								       sizeof(error->message))));
	if (r == 0 && error->line > 0) {
		r = object_put(object, "line", json_integer(error->line));
		if (r == 0)
			r = object_put(object, "column", json_integer(error->column));
	}
	if (r < 0) {
		json_decref(object);
		return NULL;
	}
	return object;
}

json_t *sql_result_new(json_t *table, const struct sql_error *error)
{
	json_t *doc = json_object();
	json_t *error_json;
	bool failed = error && error->type != SQL_ERROR_NONE;
	int r;

	if (!doc) {
		json_decref(table);
		return NULL;
	}
	if (failed) {
		/* An error wins over a table: the caller should not pass both. */
		json_decref(table);
		table = NULL;
		error_json = sql_error_to_json(error);
	} else {
		error_json = json_null();
	}
	r = object_put(doc, "table", table ? table : json_null());
	if (r == 0)
		r = object_put(doc, "error", error_json);
	else
		json_decref(error_json);
	if (r < 0) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}
