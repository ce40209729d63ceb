/*
 * sse: the server-sent-events parser (see stream.h).
 *
 * Lines are cut at CR, LF or CRLF; a CRLF split across two chunks is
 * recognised by remembering that the last line ended with CR. Each line is
 * either handed over straight from the chunk or, when it spans chunks,
 * assembled in the line buffer (at most max_line bytes). Data lines
 * accumulate in the data buffer (at most max_data bytes, LFs included)
 * until a blank line dispatches them.
 */
#include "llm/stream.h"

#include <errno.h>
#include <string.h>

#include "util/banned.h"

#define SSE_BOM "\xEF\xBB\xBF"

void sse_init(struct sse *p, size_t max_line, size_t max_data)
{
	memset(p, 0, sizeof(*p));
	p->max_line = max_line;
	p->max_data = max_data;
	buf_init(&p->line, max_line);
	buf_init(&p->data, max_data);
}

static bool sse_field_is(const char *field, size_t len, const char *name)
{
	return len == strlen(name) && memcmp(field, name, len) == 0;
}

static int sse_dispatch(struct sse *p, sse_event_fn fn, void *ctx)
{
	int r = 0;

	if (p->data.len > 0) {
		p->data.len--; /* the LF after the last data line */
		p->data.data[p->data.len] = '\0';
		r = fn(ctx, p->event[0] ? p->event : "message", p->data.data, p->data.len);
	}
	p->data.len = 0;
	p->event[0] = '\0';
	return r;
}

static int sse_field(struct sse *p, const char *field, size_t flen, const char *value, size_t vlen)
{
	if (sse_field_is(field, flen, "data")) {
		int r;
		if (vlen + 1 > p->max_data - p->data.len)
			return -E2BIG;
		r = buf_append(&p->data, value, vlen);
		return r ? r : buf_append(&p->data, "\n", 1);
	}
	if (sse_field_is(field, flen, "event")) {
		if (vlen >= sizeof(p->event))
			return -E2BIG;
		memcpy(p->event, value, vlen);
		p->event[vlen] = '\0';
	}
	return 0; /* id, retry and unknown fields do not matter here */
}

static int sse_line(struct sse *p, const char *line, size_t len, sse_event_fn fn, void *ctx)
{
	const char *colon;
	size_t flen;

	if (!p->started && len >= 3 && memcmp(line, SSE_BOM, 3) == 0) {
		line += 3;
		len -= 3;
	}
	p->started = true;
	if (len == 0)
		return sse_dispatch(p, fn, ctx);
	if (line[0] == ':')
		return 0;
	colon = memchr(line, ':', len);
	if (!colon)
		return sse_field(p, line, len, "", 0);
	flen = (size_t)(colon - line);
	colon++;
	if (colon < line + len && *colon == ' ')
		colon++;
	return sse_field(p, line, flen, colon, (size_t)(line + len - colon));
}

static size_t sse_line_end(const char *data, size_t len)
{
	size_t i = 0;

	while (i < len && data[i] != '\r' && data[i] != '\n')
		i++;
	return i;
}

int sse_feed(struct sse *p, const char *data, size_t len, sse_event_fn fn, void *ctx)
{
	while (p->err == 0 && len > 0) {
		size_t take;

		if (p->skip_lf) {
			p->skip_lf = false;
			if (data[0] == '\n') {
				data++;
				len--;
				continue;
			}
		}
		take = sse_line_end(data, len);
		if (take > p->max_line - p->line.len) {
			p->err = -E2BIG;
			break;
		}
		if (take == len) {
			p->err = buf_append(&p->line, data, take);
			break;
		}
		p->skip_lf = data[take] == '\r';
		if (p->line.len == 0) {
			p->err = sse_line(p, data, take, fn, ctx);
		} else {
			p->err = buf_append(&p->line, data, take);
			if (p->err == 0)
				p->err = sse_line(p, p->line.data, p->line.len, fn, ctx);
			p->line.len = 0;
		}
		data += take + 1;
		len -= take + 1;
	}
	return p->err;
}

int sse_finish(struct sse *p)
{
	if (p->err)
		return p->err;
	return p->line.len || p->data.len ? -EPIPE : 0;
}

void sse_release(struct sse *p)
{
	if (!p)
		return;
	buf_release(&p->line);
	buf_release(&p->data);
	p->err = 0;
}
