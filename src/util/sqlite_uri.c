/* sqlite_uri: see sqlite_uri.h. */
#include "util/sqlite_uri.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/banned.h"

static bool uri_plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
}

/* Whether PATH+suffix is a non-empty regular file. */
static bool side_file(const char *path, const char *suffix, struct stat *st)
{
	char side[PATH_MAX];

	if ((size_t)snprintf(side, sizeof(side), "%s%s", path, suffix) >= sizeof(side))
		return false;
	return stat(side, st) == 0 && S_ISREG(st->st_mode) && st->st_size > 0;
}

/* SQLite's own test: a journal is hot when it is not empty and its header
 * is not zeroed (journal_mode=PERSIST zeroes it once the write is done). */
static bool hot_journal(const char *path)
{
	char side[PATH_MAX];
	unsigned char first = 0;
	struct stat st;
	int fd;

	if (!side_file(path, "-journal", &st))
		return false;
	snprintf(side, sizeof(side), "%s-journal", path);
	fd = open(side, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return true; /* there but unreadable: assume the worst */
	if (read(fd, &first, 1) != 1)
		first = 1;
	close(fd);
	return first != 0;
}

int sqlite_ro_uri(const char *path, char **ret_uri)
{
	static const char hex[] = "0123456789ABCDEF", immutable[] = "?mode=ro&immutable=1",
			  wal[] = "?mode=ro&vfs=" SQLITE_PRIVATE_SHM_VFS;
	struct stat st;
	const char *query = immutable;
	size_t size, n;
	char *uri;

	if (hot_journal(path))
		return -EBUSY;
	if (side_file(path, "-wal", &st)) {
		if (sqlite_private_shm_register() < 0)
			return -ENOMEM;
		query = wal;
	}
	/* "file://" + every byte escaped + query (with its NUL) */
	size = 7 + strlen(path) * 3 + strlen(query) + 1;
	uri = malloc(size);
	if (!uri)
		return -ENOMEM;
	n = (size_t)snprintf(uri, size, "%s", path[0] == '/' ? "file://" : "file:");
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if (uri_plain(*p)) {
			uri[n++] = (char)*p;
			continue;
		}
		uri[n++] = '%';
		uri[n++] = hex[*p >> 4];
		uri[n++] = hex[*p & 15];
	}
	memcpy(uri + n, query, strlen(query) + 1);
	*ret_uri = uri;
	return 0;
}

int sqlite_ro_open(const char *path, sqlite3 **ret_db, char *err, size_t err_len)
{
	sqlite3 *db = NULL;
	char *uri;
	int r = sqlite_ro_uri(path, &uri), rc;

	if (r < 0) {
		snprintf(err, err_len, "cannot open database %s: %s", path,
			 r == -EBUSY ? SQLITE_HOT_JOURNAL_TEXT : strerror(-r));
		return r;
	}
	rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
			     NULL);
	free(uri);
	if (rc != SQLITE_OK) {
		snprintf(err, err_len, "cannot open database %s: %s", path,
			 db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
	}
	*ret_db = db;
	return 0;
}
