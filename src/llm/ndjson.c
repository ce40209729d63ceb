/*
 * ndjson: the NDJSON line splitter (see stream.h).
 *
 * A complete line that arrives inside one chunk is handed to the callback
 * straight from the chunk; only a line split across chunks is copied into
 * the line buffer, which never holds more than max_line bytes.
 */
#include "llm/stream.h"

#include <errno.h>
#include <string.h>

#include "util/banned.h"

void ndjson_init(struct ndjson *p, size_t max_line)
{
	memset(p, 0, sizeof(*p));
	p->max_line = max_line;
	buf_init(&p->line, max_line);
}

static bool ndjson_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

static int ndjson_emit(const char *line, size_t len, ndjson_line_fn fn, void *ctx)
{
	if (len && line[len - 1] == '\r')
		len--;
	if (ndjson_blank(line, len))
		return 0;
	return fn(ctx, line, len);
}

/* Keeps a piece of an unfinished line; fails when the line outgrows its cap. */
static int ndjson_keep(struct ndjson *p, const char *data, size_t len)
{
	if (len > p->max_line - p->line.len)
		return -E2BIG;
	return buf_append(&p->line, data, len);
}

int ndjson_feed(struct ndjson *p, const char *data, size_t len, ndjson_line_fn fn, void *ctx)
{
	while (p->err == 0 && len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;

		if (!nl) {
			p->err = ndjson_keep(p, data, take);
			break;
		}
		if (p->line.len == 0) {
			if (take > p->max_line)
				p->err = -E2BIG;
			else
				p->err = ndjson_emit(data, take, fn, ctx);
		} else {
			p->err = ndjson_keep(p, data, take);
			if (p->err == 0)
				p->err = ndjson_emit(p->line.data, p->line.len, fn, ctx);
			p->line.len = 0;
		}
		data += take + 1;
		len -= take + 1;
	}
	return p->err;
}

int ndjson_finish(struct ndjson *p)
{
	if (p->err)
		return p->err;
	if (p->line.len && !ndjson_blank(p->line.data, p->line.len))
		return -EPIPE;
	return 0;
}

void ndjson_release(struct ndjson *p)
{
	if (!p)
		return;
	buf_release(&p->line);
	p->err = 0;
}
