/*
 * store_pepper: the 32-byte secret that keys the API key hashes, kept in
 * STATE_DIR/key-pepper (mode 0600), apart from the database.
 *
 * Why a separate file: the database stores only BLAKE2b(key, pepper). Keys
 * are 256 random bits, so guessing is hopeless anyway, but with the pepper
 * outside the database a stolen copy of ledgerbox.db (a backup, a support
 * bundle) does not even let anyone confirm a key they found elsewhere.
 *
 * Invariants: the file is created only while no API key exists (a new
 * pepper would silently invalidate every key, so a missing pepper with keys
 * present is an error that says to restore it); it is created under a
 * temporary name, fsynced and then linked into place, so another process
 * opening the same state directory at the same moment either wins the link
 * or reads the winner's complete file; it must be a regular file of exactly
 * 32 bytes, owned by us and not readable by group or others.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "util/banned.h"



static int pepper_read_fd(int fd, unsigned char *ret, char *err, size_t err_len)
{
	unsigned char buf[STORE_PEPPER_BYTES];
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) < 0) {
		int r = -errno;
		store_err(err, err_len, "cannot stat %s: %s", STORE_PEPPER_FILE, strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode) || st.st_size != STORE_PEPPER_BYTES) {
		store_err(err, err_len, "%s is not a %d-byte file; restore it from a backup",
			  STORE_PEPPER_FILE, STORE_PEPPER_BYTES);
		return -EINVAL;
	}
	if (st.st_uid != geteuid()) {
		store_err(err, err_len,
			  "%s belongs to uid %lu, not to this user (uid %lu); run ledgerbox as the "
			  "user that owns the state directory",
			  STORE_PEPPER_FILE, (unsigned long)st.st_uid, (unsigned long)geteuid());
		return -EPERM;
	}
	if ((st.st_mode & 077) != 0) {
		store_err(err, err_len, "%s is readable by others; chmod 600 it", STORE_PEPPER_FILE);
		return -EPERM;
	}
	do
		n = pread(fd, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(buf)) {
		int r = n < 0 ? -errno : -EIO;
		store_err(err, err_len, "cannot read %s: %s", STORE_PEPPER_FILE, strerror(-r));
		return r;
	}
	memcpy(ret, buf, sizeof(buf));
	sodium_memzero(buf, sizeof(buf));
	return 0;
}

int store_pepper_read(int dir_fd, unsigned char ret[STORE_PEPPER_BYTES], char *err, size_t err_len)
{
	int fd = openat(dir_fd, STORE_PEPPER_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int r;

	if (fd < 0) {
		r = -errno;
		if (r != -ENOENT)
			store_err(err, err_len, "cannot open %s: %s", STORE_PEPPER_FILE, strerror(-r));
		return r;
	}
	r = pepper_read_fd(fd, ret, err, err_len);
	close(fd);
	return r;
}

static int write_all(int fd, const unsigned char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes a fresh pepper under a temporary name and links it into place;
 * -EEXIST when another process got there first. */
int store_pepper_create(int dir_fd)
{
	unsigned char pepper[STORE_PEPPER_BYTES];
	char tmp[64];
	int fd, r;

	snprintf(tmp, sizeof(tmp), ".%s.%ld.%08x", STORE_PEPPER_FILE, (long)getpid(),
		 (unsigned)randombytes_random());
	fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	randombytes_buf(pepper, sizeof(pepper));
	r = write_all(fd, pepper, sizeof(pepper));
	sodium_memzero(pepper, sizeof(pepper));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && linkat(dir_fd, tmp, dir_fd, STORE_PEPPER_FILE, 0) < 0)
		r = -errno;
	(void)unlinkat(dir_fd, tmp, 0);
	if (r == 0 && fsync(dir_fd) < 0)
		r = -errno;
	return r;
}

/* Whether any API key exists (revoked ones count: their rows are history
 * that the old pepper still explains). */
static int pepper_keys_exist(struct store *s, bool *ret)
{
	sqlite3_stmt *st;
	int r = db_prepare(s->db, "SELECT EXISTS (SELECT 1 FROM api_keys)", &st);

	if (r < 0)
		return r;
	r = db_step(st);
	if (r == 1)
		*ret = sqlite3_column_int(st, 0) != 0;
	sqlite3_finalize(st);
	return r < 0 ? r : r == 1 ? 0 : -EIO;
}

int store_pepper_load(struct store *s, char *err, size_t err_len)
{
	bool keys_exist = false;
	int r = store_pepper_read(s->dir_fd, s->pepper, err, err_len);

	if (r != -ENOENT)
		return r;
	r = pepper_keys_exist(s, &keys_exist);
	if (r < 0) {
		store_err(err, err_len, "cannot count API keys: %s", sqlite3_errmsg(s->db));
		return r;
	}
	if (keys_exist) {
		store_err(err, err_len,
			  "%s is missing but the database has API keys that need it; restore it "
			  "from a backup (or move ledgerbox.db away to start afresh)",
			  STORE_PEPPER_FILE);
		return -ENOENT;
	}
	r = store_pepper_create(s->dir_fd);
	if (r < 0 && r != -EEXIST) {
		store_err(err, err_len, "cannot create %s: %s", STORE_PEPPER_FILE, strerror(-r));
		return r;
	}
	return store_pepper_read(s->dir_fd, s->pepper, err, err_len);
}
