/*
 * fingerprint: a dataset's identity as a hash, for the result cache.
 *
 * SHA-256 over the sorted list of the dataset folder's regular files, each
 * as its name, size, inode, device and modification time in nanoseconds.
 * Replacing a file (a new inode), writing into it (a new mtime) or adding
 * one all change it; reading the files' content is not needed, so it costs
 * one stat per file. The same data copied elsewhere gets another
 * fingerprint, which only costs a cache miss.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "datasets/datasets.h"
#include "datasets/internal.h"
#include "util/banned.h"

static void hash_file(crypto_hash_sha256_state *h, int dir_fd, const struct ds_entry *e)
{
	struct stat st;
	char line[512];
	int n;

	if (!S_ISREG(e->mode) || fstatat(dir_fd, e->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	n = snprintf(line, sizeof(line), "%s\n%" PRIu64 " %" PRIu64 " %" PRIu64 " %lld.%09ld\n",
		     e->name, (uint64_t)st.st_size, (uint64_t)st.st_ino, (uint64_t)st.st_dev,
		     (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	if (n > 0)
		crypto_hash_sha256_update(h, (const unsigned char *)line,
					  (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

int dataset_fingerprint(const char *data_dir, const char *name, char ret[65], char *err,
			size_t err_len)
{
	unsigned char digest[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state h;
	struct ds_dir dir;
	int fd, r;

	if (!dataset_name_valid(name)) {
		snprintf(err, err_len, "dataset names are 1 to 64 letters, digits, '-' or '_'");
		return -EINVAL;
	}
	r = ds_dir_open_dataset(data_dir, name, &fd, err, err_len);
	if (r < 0)
		return r;
	r = ds_dir_read(fd, &dir);
	if (r < 0) {
		snprintf(err, err_len, "reading the dataset %s failed: %s", name, strerror(-r));
		close(fd);
		return r;
	}
	crypto_hash_sha256_init(&h);
	crypto_hash_sha256_update(&h, (const unsigned char *)name, strlen(name) + 1);
	for (size_t i = 0; i < dir.count; i++)
		hash_file(&h, fd, &dir.entries[i]);
	crypto_hash_sha256_final(&h, digest);
	ds_dir_release(&dir);
	close(fd);
	sodium_bin2hex(ret, 65, digest, sizeof(digest));
	return 0;
}
