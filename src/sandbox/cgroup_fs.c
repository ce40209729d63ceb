/* cgroup_fs: see cgroup_fs.h. Files are small, so one read() is enough. */
#include "sandbox/cgroup_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/banned.h"

int cgfs_join(char *out, size_t size, const char *a, const char *b)
{
	int n;

	if (b[0] == '/')
		b++;
	n = snprintf(out, size, "%s%s%s", a, (a[0] && a[strlen(a) - 1] == '/') ? "" : "/", b);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

int cgfs_write(const char *dir, const char *file, const char *value)
{
	char path[PATH_MAX];
	size_t len = strlen(value);
	ssize_t n;
	int fd, r = cgfs_join(path, sizeof(path), dir, file);

	if (r < 0)
		return r;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, value, len);
	r = n < 0 ? -errno : ((size_t)n == len ? 0 : -EIO);
	close(fd);
	return r;
}

int cgfs_write_u64(const char *dir, const char *file, uint64_t value)
{
	char text[32];

	snprintf(text, sizeof(text), "%" PRIu64, value);
	return cgfs_write(dir, file, text);
}

int cgfs_read(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

int cgfs_read_u64(const char *dir, const char *file, uint64_t *ret)
{
	char path[PATH_MAX], text[64], *end;
	unsigned long long v;
	int r = cgfs_join(path, sizeof(path), dir, file);

	if (r < 0 || (r = cgfs_read(path, text, sizeof(text))) < 0)
		return r;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (end == text || errno)
		return -EINVAL;
	*ret = v;
	return 0;
}

int cgfs_read_keyed(const char *dir, const char *file, const char *key, uint64_t *ret)
{
	char path[PATH_MAX], text[4096];
	size_t key_len = strlen(key);
	int r = cgfs_join(path, sizeof(path), dir, file);

	if (r < 0 || (r = cgfs_read(path, text, sizeof(text))) < 0)
		return r;
	for (char *line = text; line && *line; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (strncmp(line, key, key_len) == 0 && line[key_len] == ' ') {
			*ret = strtoull(line + key_len + 1, NULL, 10);
			return 0;
		}
	}
	return -ENOENT;
}
