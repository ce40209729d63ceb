/*
 * cgroup_fs: small file helpers for cgroup control files, shared by the
 * cgroup detection and per-run code. All return 0 or a negative errno.
 */
#ifndef LEDGERBOX_CGROUP_FS_H
#define LEDGERBOX_CGROUP_FS_H

#include <stddef.h>
#include <stdint.h>

int cgfs_write(const char *dir, const char *file, const char *value);
int cgfs_write_u64(const char *dir, const char *file, uint64_t value);
/* Reads the first number in the file. */
int cgfs_read_u64(const char *dir, const char *file, uint64_t *ret);
/* Reads the number after `key ` in a "key value" per line file. */
int cgfs_read_keyed(const char *dir, const char *file, const char *key, uint64_t *ret);
/* Reads a whole small file, NUL-terminated. */
int cgfs_read(const char *path, char *buf, size_t size);
/* Joins a and b with one slash; -ENAMETOOLONG if it does not fit. */
int cgfs_join(char *out, size_t size, const char *a, const char *b);

#endif
