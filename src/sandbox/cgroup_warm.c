/*
 * cgroup_warm: the cgroup side of handing a warm sandbox to a run.
 *
 * A warm sandbox was made with default limits and has already spent CPU
 * and memory starting its interpreter. At hand-off the request's memory
 * and pids limits replace the defaults in the running cgroup (both
 * controllers take new values at any time), and the CPU used so far
 * becomes a baseline that every later reading subtracts, so warming up is
 * neither billed nor counted against the run's CPU limit. On cgroup v1 the
 * memory high-water mark is reset too; cgroup v2 offers no global reset,
 * so there the peak includes the warm interpreter (docs/warm-pool.md).
 */
#include <errno.h>
#include <stdint.h>

#include "sandbox/cgroup_fs.h"
#include "sandbox/internal.h"
#include "util/banned.h"

/* memsw (memory plus swap, when swap accounting is on) must stay at least
 * the memory limit: raising goes memsw first, lowering memsw last. */
static int v1_memory_set(const char *dir, uint64_t bytes)
{
	int r = cgfs_write_u64(dir, "memory.limit_in_bytes", bytes);

	cgfs_write_u64(dir, "memory.memsw.limit_in_bytes", bytes);
	if (r == -EINVAL)
		r = cgfs_write_u64(dir, "memory.limit_in_bytes", bytes);
	return r;
}

/* v2 would answer a limit below the memory in use with an OOM kill, which
 * would end the run before it began: refuse instead. */
static int v2_memory_set(const char *dir, uint64_t bytes)
{
	uint64_t current;

	if (cgfs_read_u64(dir, "memory.current", &current) == 0 && current >= bytes)
		return -EBUSY;
	return cgfs_write_u64(dir, "memory.max", bytes);
}

int cgroup_run_retarget(const struct cgroup_run *cg, const struct sandbox_limits *l)
{
	int r = 0;

	if (cg->has_memory)
		r = cg->version == 2 ? v2_memory_set(cg->memory_dir, l->memory_bytes)
				     : v1_memory_set(cg->memory_dir, l->memory_bytes);
	if (r == 0 && cg->has_pids)
		r = cgfs_write_u64(cg->pids_dir, "pids.max", l->pids);
	return r;
}

void cgroup_run_handoff(struct cgroup_run *cg)
{
	uint64_t ns;

	cg->cpu_base_ns = 0;
	if (cgroup_run_cpu_ns(cg, &ns) == 0)
		cg->cpu_base_ns = ns;
	if (cg->has_memory && cg->version == 1)
		cgfs_write(cg->memory_dir, "memory.max_usage_in_bytes", "0");
	cg->memory_base_bytes = 0;
	if (cg->has_memory &&
	    cgfs_read_u64(cg->memory_dir,
			  cg->version == 1 ? "memory.usage_in_bytes" : "memory.current",
			  &cg->memory_base_bytes) < 0)
		cg->memory_base_bytes = 0;
}
