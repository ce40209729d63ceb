/*
 * sqlite_private_shm: a SQLite VFS that reads a WAL-mode file with its
 * WAL-index in this connection's own heap memory.
 *
 * Why: SQLite finds the committed transactions of a WAL-mode file through
 * the WAL-index, normally shared memory mapped from the "-shm" file beside
 * it. A dataset may come without one (a copy of the file and its -wal), sit
 * on a read-only mount (the sandbox), or live in a folder that reading must
 * not change (a new -shm would move the dataset's fingerprint). SQLite's own
 * heap WAL-index needs locking_mode=EXCLUSIVE, and that takes a write lock
 * a read-only descriptor cannot hold. So this VFS wraps the default one and
 * answers the four shared-memory methods from private heap memory: the
 * first read finds an empty index, rebuilds it from the -wal file (SQLite's
 * recovery, which writes only the index) and reads exactly the committed
 * state. Nothing is created or written on disk.
 *
 * Invariants:
 * - Every method but the shared-memory ones goes to the wrapped VFS's file.
 * - The index is private to one open file, so its locks have no one else
 *   to exclude: they always succeed. The price: a writer that checkpoints
 *   while a query reads does not see this reader (see docs/datasets.md).
 * - Version 2 of the file methods only: no memory-mapped reads (xFetch),
 *   so every page comes through xRead.
 */
#include "util/sqlite_uri.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "util/banned.h"

#define SHM_MAX_REGIONS 4096 /* 4096 x 32 KiB: an index for ~16M frames */

struct private_file {
	sqlite3_file base;   /* our methods */
	sqlite3_file *inner; /* the wrapped VFS's file, right after this struct */
	void **regions;
	int n_regions;
};

static sqlite3_vfs private_vfs;
static sqlite3_io_methods private_methods;
static pthread_once_t register_once = PTHREAD_ONCE_INIT;
static int register_rc = SQLITE_ERROR;

#define INNER(f) (((struct private_file *)(f))->inner)

static void shm_free(struct private_file *f)
{
	for (int i = 0; i < f->n_regions; i++)
		sqlite3_free(f->regions[i]);
	sqlite3_free(f->regions);
	f->regions = NULL;
	f->n_regions = 0;
}

static int p_close(sqlite3_file *file)
{
	struct private_file *f = (struct private_file *)file;

	shm_free(f);
	return f->inner->pMethods->xClose(f->inner);
}

static int p_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	return INNER(f)->pMethods->xRead(INNER(f), buf, n, off);
}

static int p_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	return INNER(f)->pMethods->xWrite(INNER(f), buf, n, off);
}

static int p_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return INNER(f)->pMethods->xTruncate(INNER(f), size);
}

static int p_sync(sqlite3_file *f, int flags)
{
	return INNER(f)->pMethods->xSync(INNER(f), flags);
}

static int p_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return INNER(f)->pMethods->xFileSize(INNER(f), size);
}

static int p_lock(sqlite3_file *f, int level)
{
	return INNER(f)->pMethods->xLock(INNER(f), level);
}

static int p_unlock(sqlite3_file *f, int level)
{
	return INNER(f)->pMethods->xUnlock(INNER(f), level);
}

static int p_check_reserved(sqlite3_file *f, int *out)
{
	return INNER(f)->pMethods->xCheckReservedLock(INNER(f), out);
}

static int p_file_control(sqlite3_file *f, int op, void *arg)
{
	return INNER(f)->pMethods->xFileControl(INNER(f), op, arg);
}

static int p_sector_size(sqlite3_file *f)
{
	return INNER(f)->pMethods->xSectorSize(INNER(f));
}

static int p_device_characteristics(sqlite3_file *f)
{
	return INNER(f)->pMethods->xDeviceCharacteristics(INNER(f));
}

/* Region `region` of `size` bytes, zeroed when first asked for: an empty
 * index, which SQLite rebuilds from the -wal file. */
static int p_shm_map(sqlite3_file *file, int region, int size, int extend, void volatile **ret)
{
	struct private_file *f = (struct private_file *)file;

	(void)extend; /* a private index may always grow */
	if (region < 0 || region >= SHM_MAX_REGIONS || size <= 0)
		return SQLITE_IOERR_SHMMAP;
	if (region >= f->n_regions) {
		void **grown = sqlite3_realloc64(f->regions, (sqlite3_uint64)(region + 1) *
								     sizeof(*grown));
		if (!grown)
			return SQLITE_NOMEM;
		memset(grown + f->n_regions, 0,
		       (size_t)(region + 1 - f->n_regions) * sizeof(*grown));
		f->regions = grown;
		f->n_regions = region + 1;
	}
	if (!f->regions[region]) {
		f->regions[region] = sqlite3_malloc(size);
		if (!f->regions[region])
			return SQLITE_NOMEM;
		memset(f->regions[region], 0, (size_t)size);
	}
	*ret = f->regions[region];
	return SQLITE_OK;
}

static int p_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	(void)f;
	(void)offset;
	(void)n;
	(void)flags;
	return SQLITE_OK;
}

static void p_shm_barrier(sqlite3_file *f)
{
	(void)f;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static int p_shm_unmap(sqlite3_file *f, int delete_flag)
{
	(void)delete_flag;
	shm_free((struct private_file *)f);
	return SQLITE_OK;
}

static int p_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags,
		  int *out_flags)
{
	sqlite3_vfs *root = vfs->pAppData;
	struct private_file *f = (struct private_file *)file;
	int rc;

	memset(f, 0, (size_t)vfs->szOsFile);
	f->inner = (sqlite3_file *)(f + 1);
	rc = root->xOpen(root, name, f->inner, flags, out_flags);
	/* SQLite calls xClose whenever pMethods is set, even after a failed
	 * open: set it only when there is an inner file to close. */
	f->base.pMethods = rc == SQLITE_OK ? &private_methods : NULL;
	return rc;
}

static int forward_delete(sqlite3_vfs *v, const char *name, int sync_dir)
{
	sqlite3_vfs *root = v->pAppData;
	return root->xDelete(root, name, sync_dir);
}

static int forward_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
	sqlite3_vfs *root = v->pAppData;
	return root->xAccess(root, name, flags, out);
}

static int forward_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
	sqlite3_vfs *root = v->pAppData;
	return root->xFullPathname(root, name, n, out);
}

static int forward_randomness(sqlite3_vfs *v, int n, char *out)
{
	sqlite3_vfs *root = v->pAppData;
	return root->xRandomness(root, n, out);
}

static int forward_sleep(sqlite3_vfs *v, int us)
{
	sqlite3_vfs *root = v->pAppData;
	return root->xSleep(root, us);
}

static int forward_current_time(sqlite3_vfs *v, double *out)
{
	sqlite3_vfs *root = v->pAppData;
	return root->xCurrentTime(root, out);
}

static int forward_last_error(sqlite3_vfs *v, int n, char *out)
{
	sqlite3_vfs *root = v->pAppData;
	return root->xGetLastError ? root->xGetLastError(root, n, out) : 0;
}

static void register_vfs(void)
{
	sqlite3_vfs *root;

	if (sqlite3_initialize() != SQLITE_OK || !(root = sqlite3_vfs_find(NULL)))
		return;
	private_methods = (sqlite3_io_methods){
		.iVersion = 2,
		.xClose = p_close,
		.xRead = p_read,
		.xWrite = p_write,
		.xTruncate = p_truncate,
		.xSync = p_sync,
		.xFileSize = p_file_size,
		.xLock = p_lock,
		.xUnlock = p_unlock,
		.xCheckReservedLock = p_check_reserved,
		.xFileControl = p_file_control,
		.xSectorSize = p_sector_size,
		.xDeviceCharacteristics = p_device_characteristics,
		.xShmMap = p_shm_map,
		.xShmLock = p_shm_lock,
		.xShmBarrier = p_shm_barrier,
		.xShmUnmap = p_shm_unmap,
	};
	private_vfs = (sqlite3_vfs){
		.iVersion = 1,
		.szOsFile = (int)sizeof(struct private_file) + root->szOsFile,
		.mxPathname = root->mxPathname,
		.zName = SQLITE_PRIVATE_SHM_VFS,
		.pAppData = root,
		.xOpen = p_open,
		.xDelete = forward_delete,
		.xAccess = forward_access,
		.xFullPathname = forward_full_pathname,
		.xRandomness = forward_randomness,
		.xSleep = forward_sleep,
		.xCurrentTime = forward_current_time,
		.xGetLastError = forward_last_error,
	};
	register_rc = sqlite3_vfs_register(&private_vfs, 0);
}

int sqlite_private_shm_register(void)
{
	pthread_once(&register_once, register_vfs);
	return register_rc == SQLITE_OK ? 0 : -ENOMEM;
}
