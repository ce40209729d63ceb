/*
 * validate: checks code a language model wrote before a sandbox runs it,
 * so that mistakes a parser can find cost a repair round trip to the model
 * instead of a sandbox run.
 *
 * The messages are written to be sent back to the model as they are: they
 * quote SQLite's own wording and say where the problem is.
 */
#ifndef LEDGERBOX_LLM_VALIDATE_H
#define LEDGERBOX_LLM_VALIDATE_H

#include <stddef.h>

#define VALIDATE_SQL_MAX_BYTES (1024 * 1024) /* longer queries are refused, as the runner does */

/* Prepares sql on the dataset's SQLite file (host path, read-only by sqlite_ro_uri(), no extension
 * loading, with a read-only authorizer) without running it: syntax errors, unknown tables and
 * columns are caught here. Exactly one statement (trailing whitespace/semicolons/comments allowed); a write or
 * PRAGMA/ATTACH is refused. 0 or -EINVAL with err = SQLite's message plus where (e.g. near "FROMM"),
 * suitable to send back to the model for repair; -EIO when the file cannot be opened, -EBUSY
 * when a hot -journal says it may be torn.
 *
 * What passes here is a subset of what the SQL runner accepts (docs/sql-runner.md): one SELECT,
 * WITH ... SELECT, VALUES or EXPLAIN, using SQL functions except load_extension(), fts3_tokenizer(),
 * readfile(), writefile() and edit(), json_each/json_tree and the dataset's own virtual tables.
 * Positions are "(line L, column C)", 1-based, columns in UTF-8 characters, counted after an
 * optional byte order mark. Also -ENOMEM. err is always set on failure. */
int validate_sql(const char *sqlite_path, const char *sql, char *err, size_t err_len);

#endif
