/*
 * buf: a growable byte buffer with a hard maximum.
 *
 * Every buffer that untrusted input can grow has a cap. Appending past the cap
 * keeps the first `max_bytes` bytes, drops the rest and sets `truncated`; it is
 * not an error. The data is always NUL-terminated so it can be used as a
 * string (the terminator is not counted in `len`).
 */
#ifndef LEDGERBOX_BUF_H
#define LEDGERBOX_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max_bytes;
	size_t seen_bytes; /* everything offered, kept or dropped */
	bool truncated;
};

/* Starts an empty buffer that keeps at most max_bytes. */
void buf_init(struct buf *b, size_t max_bytes);
/* Appends; returns 0 or -ENOMEM. Bytes past max_bytes are counted and dropped. */
int buf_append(struct buf *b, const void *data, size_t len);
/* Gives the caller the data (NUL-terminated, may be NULL when empty). */
char *buf_steal(struct buf *b, size_t *ret_len);
/* Frees the data; accepts NULL. The buffer can be reused after buf_init. */
void buf_release(struct buf *b);

#endif
