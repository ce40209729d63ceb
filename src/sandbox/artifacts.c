/*
 * artifacts: reads the files a run left in /out.
 *
 * /out is a tmpfs of the sandbox's own mount namespace; the child hands the
 * supervisor a descriptor of it, which keeps it readable after the namespace
 * is gone. The analyst controls everything in it, so: only regular files at
 * the top level are taken; every open uses O_NOFOLLOW and the type is checked
 * again on the open descriptor (a symlink or a file swapped in between is
 * never followed); names must be plain printable UTF-8 file names; hard
 * links and sparse files are refused; all artifacts together hold at most
 * the size of /out, and their number is bounded. Anything else is counted
 * as skipped. A name holding a bidirectional control (which makes it show
 * as another name) is skipped and counted apart, so the answer can say so.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/internal.h"
#include "util/bidi.h"
#include "util/utf8.h"
#include "util/banned.h"

#define MAX_ARTIFACTS 256

static const struct {
	const char *ext;
	const char *mime;
} by_extension[] = {
	{ ".csv", "text/csv" },		{ ".tsv", "text/tab-separated-values" },
	{ ".json", "application/json" }, { ".txt", "text/plain" },
	{ ".md", "text/markdown" },	{ ".html", "text/html" },
	{ ".svg", "image/svg+xml" },	{ ".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" },
	{ ".parquet", "application/vnd.apache.parquet" },
};

static const char *mime_guess(const char *name, const unsigned char *d, size_t n)
{
	const char *dot = strrchr(name, '.');

	if (n >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0)
		return "image/png";
	if (n >= 3 && memcmp(d, "\xff\xd8\xff", 3) == 0)
		return "image/jpeg";
	if (n >= 4 && memcmp(d, "GIF8", 4) == 0)
		return "image/gif";
	if (n >= 5 && memcmp(d, "%PDF-", 5) == 0)
		return "application/pdf";
	for (size_t i = 0; dot && i < sizeof(by_extension) / sizeof(by_extension[0]); i++)
		if (strcasecmp(dot, by_extension[i].ext) == 0)
			return by_extension[i].mime;
	return "application/octet-stream";
}

static bool name_ok(const char *name)
{
	size_t len = strlen(name), clean_len;
	char *clean;

	if (len == 0 || len > 200 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
			return false;
	}
	/* Names travel in JSON and HTTP headers: they must be valid UTF-8. */
	if (utf8_sanitize(name, len, &clean, &clean_len) < 0 || clean) {
		free(clean);
		return false;
	}
	return true;
}

static int read_all(int fd, unsigned char *data, size_t size)
{
	size_t off = 0;

	while (off < size) {
		ssize_t n = read(fd, data + off, size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		off += (size_t)n;
	}
	return 0;
}

/* A file the supervisor will read: a regular file with one link whose
 * blocks are all there. Hard links and sparse files take no room in /out,
 * so without this check a run could make the supervisor read far more than
 * /out holds. */
static bool file_ok(const struct stat *st, uint64_t room)
{
	return S_ISREG(st->st_mode) && st->st_nlink == 1 && (uint64_t)st->st_size <= room &&
	       (uint64_t)st->st_blocks * 512 >= (uint64_t)st->st_size;
}

/* Returns 1 when taken, 0 when skipped, -ENOMEM on allocation failure.
 * *room is what is left of max_bytes for all artifacts together. */
static int take_one(int dirfd, const char *name, uint64_t *room, struct sandbox_artifact *a)
{
	struct stat st;
	unsigned char *data;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || !file_ok(&st, *room)) {
		close(fd);
		return 0;
	}
	*room -= (uint64_t)st.st_size;
	data = malloc((size_t)st.st_size + 1);
	if (!data) {
		close(fd);
		return -ENOMEM;
	}
	if (read_all(fd, data, (size_t)st.st_size) < 0) {
		free(data);
		close(fd);
		return 0;
	}
	close(fd);
	a->data = data;
	a->bytes = (size_t)st.st_size;
	a->name = strdup(name);
	a->mime = strdup(mime_guess(name, data, a->bytes));
	if (!a->name || !a->mime)
		return -ENOMEM;
	return 1;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct sandbox_artifact *)a)->name,
		      ((const struct sandbox_artifact *)b)->name);
}

int artifacts_collect(int out_dirfd, uint64_t max_bytes, struct sandbox_result *res)
{
	int fd = fcntl(out_dirfd, F_DUPFD_CLOEXEC, 3);
	DIR *dir;
	struct dirent *de;
	uint64_t room = max_bytes;
	int r = 0;

	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	res->artifacts = calloc(MAX_ARTIFACTS, sizeof(*res->artifacts));
	if (!res->artifacts) {
		closedir(dir);
		return -ENOMEM;
	}
	while (r >= 0 && (de = readdir(dir))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (bidi_control_find(de->d_name, strlen(de->d_name))) {
			res->n_artifacts_bidi_names++;
			res->n_artifacts_skipped++;
			continue;
		}
		if (res->n_artifacts >= MAX_ARTIFACTS || !name_ok(de->d_name) ||
		    (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)) {
			res->n_artifacts_skipped++;
			continue;
		}
		r = take_one(dirfd(dir), de->d_name, &room, &res->artifacts[res->n_artifacts]);
		if (r > 0)
			res->n_artifacts++;
		else if (r == 0)
			res->n_artifacts_skipped++;
	}
	closedir(dir);
	qsort(res->artifacts, res->n_artifacts, sizeof(*res->artifacts), by_name);
	return r < 0 ? r : 0;
}

void sandbox_result_release(struct sandbox_result *res)
{
	if (!res)
		return;
	for (size_t i = 0; i < res->n_artifacts; i++) {
		free(res->artifacts[i].name);
		free(res->artifacts[i].mime);
		free(res->artifacts[i].data);
	}
	/* A take_one that failed half-way may have left a partial entry. */
	if (res->artifacts && res->n_artifacts < MAX_ARTIFACTS) {
		free(res->artifacts[res->n_artifacts].name);
		free(res->artifacts[res->n_artifacts].mime);
		free(res->artifacts[res->n_artifacts].data);
	}
	free(res->artifacts);
	free(res->stdout_data);
	free(res->stderr_data);
	free(res->result_json);
	memset(res, 0, sizeof(*res));
}
