/* buf: see buf.h. Growth doubles, never past max_bytes + 1. */
#include "util/buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

void buf_init(struct buf *b, size_t max_bytes)
{
	memset(b, 0, sizeof(*b));
	b->max_bytes = max_bytes;
}

static int buf_grow(struct buf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : 256;
	char *data;

	while (cap < need)
		cap *= 2;
	if (cap > b->max_bytes + 1)
		cap = b->max_bytes + 1;
	data = realloc(b->data, cap);
	if (!data)
		return -ENOMEM;
	b->data = data;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *data, size_t len)
{
	size_t room = b->max_bytes - b->len;
	size_t keep = len < room ? len : room;

	b->seen_bytes += len;
	if (keep < len)
		b->truncated = true;
	if (b->len + keep + 1 > b->cap) {
		int r = buf_grow(b, b->len + keep + 1);
		if (r < 0)
			return r;
	}
	if (keep)
		memcpy(b->data + b->len, data, keep);
	b->len += keep;
	b->data[b->len] = '\0';
	return 0;
}

char *buf_steal(struct buf *b, size_t *ret_len)
{
	char *data = b->data;

	if (ret_len)
		*ret_len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return data;
}

void buf_release(struct buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
