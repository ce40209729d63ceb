/*
 * redact: what a model that may not see the data is told about a failed
 * attempt, for the repair prompt.
 *
 * An error message from a run can quote anything the program touched: a
 * KeyError names the missing row label, a ValueError the text it could not
 * convert, pandas prints whole rows, a database quotes the value that broke
 * a cast. So the report is not the message with values scrubbed out (a
 * scrubber misses the shape it has not seen); it is built from parts that
 * cannot carry data, and nothing else of the message is copied:
 * - the error's type, when it is a known error class or a word of the
 *   failing line shown, else "Error";
 * - the line number, when it is a line of the code;
 * - that line, taken from the model's own code (not from the traceback);
 * - the names the message mentions that are words of that line (in the
 *   line's order), then tables or columns of the schema (in the schema's
 *   order); with no line, schema names only.
 * Whatever the line spells, the model already wrote; what the schema
 * names, the prompt already showed. The order is never the message's, so
 * a program cannot spell a value with the names (one letter a word). The
 * code still decides whether and where it fails and which names its
 * message holds, so a program written to probe the data could learn a few
 * bits that way; what can never reach the model is text from the data.
 */
#ifndef LEDGERBOX_LLM_REDACT_H
#define LEDGERBOX_LLM_REDACT_H

#include <stddef.h>

#include "llm/schema.h"

#define REDACT_NAMES_MAX 12       /* names from the message listed at most */
#define REDACT_LINE_MAX_BYTES 240 /* the failing line of code is cut to this */

struct redact_error {
	const char *type;    /* the error's class as reported ("KeyError", "no_such_column") */
	long line;           /* 1-based line of the failing code; 0 when unknown */
	const char *message; /* the full message: may hold values from the data */
};

/* Writes the report described above for e into out (always terminated,
 * cut to out_len). language is "python" or "sql"; code is the failed code
 * (may be NULL); schema may be NULL. Reads no byte of e->message into out
 * except names that pass the rule above. */
void redact_error_text(const struct redact_error *e, const char *language, const char *code,
		       const struct schema *schema, char *out, size_t out_len);

#endif
