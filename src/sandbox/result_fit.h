/*
 * result_fit: keeps a run's result within limits measured on what is sent.
 *
 * A run's output and table travel as JSON text (worker to server, server
 * to client, server to store). Escaping can make that text much larger
 * than the bytes the run wrote: a control byte becomes \u0001 (six bytes),
 * an invalid byte becomes U+FFFD (three), a float written as 1e-07 comes
 * back as 9.9999999999999995e-08. So every size limit on a result is
 * applied to its encoded form (JSON_COMPACT, as the frames and answers are
 * written), and what is over is cut with its truncation flag set, never
 * refused: a large result is the analyst's, not a failure of the server.
 */
#ifndef LEDGERBOX_RESULT_FIT_H
#define LEDGERBOX_RESULT_FIT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Bytes of `value` written by json_dumps(value, JSON_COMPACT). */
size_t result_encoded_size(const json_t *value);

/* Length of the longest prefix of the UTF-8 text s (len bytes) whose JSON
 * string encoding, quotes left out, holds at most max_encoded bytes; a
 * prefix never splits a UTF-8 sequence. */
size_t result_text_fit(const char *s, size_t len, size_t max_encoded);

/* Drops rows from the end of a result table ({"rows": [...], ...}) until
 * the table's encoding holds at most max_encoded bytes; a table that was
 * cut says "truncated": true and its "row_count" is the rows kept. Returns
 * true when rows were dropped. */
bool result_table_fit(json_t *table, size_t max_encoded);

/* The last guard before a result goes out as one frame of at most
 * max_bytes: cuts the table's rows, then stdout and stderr (setting
 * "stdout_truncated", "stderr_truncated" and adding "output" or "rows" to
 * "limits_hit") until the encoding of `result` fits. Returns 0, or
 * -EMSGSIZE when even the result without table and output is too large. */
int result_fit(json_t *result, size_t max_bytes);

#endif
