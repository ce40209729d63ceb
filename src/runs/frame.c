/* frame: see frame.h. */
#include "runs/frame.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/banned.h"

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Returns -EPIPE when the stream ends before the first byte. */
static int read_all(int fd, void *data, size_t len)
{
	char *p = data;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return got == 0 ? -EPIPE : -EPROTO;
		got += (size_t)n;
	}
	return 0;
}

int frame_write(int fd, const void *data, size_t len)
{
	unsigned char head[4];
	int r;

	if (len > FRAME_MAX_BYTES)
		return -EMSGSIZE;
	for (int i = 0; i < 4; i++)
		head[i] = (unsigned char)(len >> (8 * i));
	r = write_all(fd, head, sizeof(head));
	return r < 0 ? r : write_all(fd, data, len);
}

int frame_read(int fd, char **ret, size_t *ret_len)
{
	unsigned char head[4];
	uint32_t len = 0;
	char *data;
	int r = read_all(fd, head, sizeof(head));

	if (r < 0)
		return r;
	for (int i = 0; i < 4; i++)
		len |= (uint32_t)head[i] << (8 * i);
	if (len > FRAME_MAX_BYTES)
		return -EPROTO;
	data = malloc((size_t)len + 1);
	if (!data)
		return -ENOMEM;
	r = read_all(fd, data, len);
	if (r < 0) {
		free(data);
		return r == -EPIPE ? -EPROTO : r;
	}
	data[len] = '\0';
	*ret = data;
	*ret_len = len;
	return 0;
}

int frame_write_json(int fd, json_t *value)
{
	char *text = json_dumps(value, JSON_COMPACT);
	int r;

	if (!text)
		return -ENOMEM;
	r = frame_write(fd, text, strlen(text));
	free(text);
	return r;
}

int frame_read_json(int fd, json_t **ret)
{
	char *text;
	size_t len;
	json_t *value;
	int r = frame_read(fd, &text, &len);

	if (r < 0)
		return r;
	value = json_loadb(text, len, 0, NULL);
	free(text);
	if (!value)
		return -EPROTO;
	*ret = value;
	return 0;
}
