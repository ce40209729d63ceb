/*
 * extract: finds the program in a language model's reply.
 *
 * Models answer in Markdown: prose around one or more fenced code blocks.
 * This picks the block to run and returns its bytes untouched; it never
 * "repairs" code with patterns, because any such rewrite changes some valid
 * program (a tuple `t = (1,)`, a trailing comma, a string holding a fence).
 * A program that does not parse goes back to the model instead.
 */
#ifndef LEDGERBOX_LLM_EXTRACT_H
#define LEDGERBOX_LLM_EXTRACT_H

/* The code in an LLM reply: the first fenced block whose info string names the language
 * (```python / ```py / ```sql / ```sqlite, case-insensitive), else the first fenced block with no info
 * string (or another), else the whole reply — trimmed of surrounding blank lines; never otherwise
 * changed (no regex "repairs": code like `t = (1,)` must survive byte for byte). Handles ~~~ fences,
 * CRLF, an unterminated final fence (take to end). *ret malloc'd. -ENODATA when the result is empty.
 *
 * Details: fences follow CommonMark — a line of 3 or more ` or ~ (optionally indented), closed by a
 * line of at least as many of the same character and nothing else; a ` fence's info string holds
 * no `. When the opening fence is indented (a block inside a list), up to that much indentation is
 * taken off each code line, as Markdown does; otherwise the lines are copied as they are. The
 * first word of the info string names the language: also python3 and sqlite3; language is
 * compared case-insensitively and may be NULL (then no block matches by name). Empty blocks are
 * passed over. The whole reply is taken only when it has no fenced block at all. The result has no
 * line break at its end and keeps CR bytes of CRLF lines inside it. -EINVAL when reply is NULL,
 * -ENOMEM. */
int extract_code(const char *reply, const char *language, char **ret);

#endif
