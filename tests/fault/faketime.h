/*
 * faketime: a server run under libfaketime with a clock the test moves.
 *
 * The server's environment preloads the library and names a timestamp file
 * (FAKETIME_TIMESTAMP_FILE) read again on every call (FAKETIME_NO_CACHE),
 * which ft_set() rewrites whole and renames into place, so a reader never
 * sees half a line. CLOCK_MONOTONIC is left alone
 * (FAKETIME_DONT_FAKE_MONOTONIC=1), as a real clock step leaves it: the
 * server's timers and the sandbox's wall limit measure with it.
 *
 * libfaketime leaves a shared memory segment and a semaphore named after
 * each process that loaded it first; ft_note() records the server and its
 * descendants while they live and ft_cleanup() removes what they left.
 */
#ifndef LEDGERBOX_TEST_FAKETIME_H
#define LEDGERBOX_TEST_FAKETIME_H

#include "fault/faultlib.h"

#define FT_LIB "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
#define FT_PIDS_MAX 64

struct faketime {
	char file[600];
	char env_file[700]; /* FAKETIME_TIMESTAMP_FILE=... */
	char env_asan[600]; /* ASAN_OPTIONS that tolerate the preload */
	pid_t pids[FT_PIDS_MAX];
	size_t n_pids;
};

/* The variables a server needs, to put in its environment list. */
#define FT_ENV(ft)                                                                           \
	"LD_PRELOAD=" FT_LIB, (ft).env_file, "FAKETIME_NO_CACHE=1",                          \
		"FAKETIME_DONT_FAKE_MONOTONIC=1", "FAKETIME_FORCE_MONOTONIC_FIX=0", (ft).env_asan

/* Names the timestamp file after `name` in the scratch folder. */
static inline void ft_init(struct faketime *ft, const char *name)
{
	const char *asan = getenv("ASAN_OPTIONS");

	memset(ft, 0, sizeof(*ft));
	snprintf(ft->file, sizeof(ft->file), "%s/%s.faketime", tl_tmp(), name);
	snprintf(ft->env_file, sizeof(ft->env_file), "FAKETIME_TIMESTAMP_FILE=%s", ft->file);
	/* A sanitizer build must accept the preloaded library in front of it,
	 * and its allocator must not read the clock before libfaketime has
	 * found its symbols (its dlsym allocates: a deadlock). */
	snprintf(ft->env_asan, sizeof(ft->env_asan),
		 "ASAN_OPTIONS=%s%sverify_asan_link_order=0:allocator_release_to_os_interval_ms=-1",
		 asan ? asan : "", asan && *asan ? ":" : "");
}

/* Writes one line for libfaketime: "@DATE TIME" (the clock restarts from
 * there, in the server's local zone) or "+N"/"-N" (seconds from the real
 * time, whatever the zone). */
static inline void ft_set(const struct faketime *ft, const char *line)
{
	char tmp[700];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.new", ft->file);
	f = fopen(tmp, "w");
	assert_non_null(f);
	fprintf(f, "%s\n", line);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, ft->file), 0);
}

/* The server's clock at unix_s from now on (an offset from the real
 * clock, so no zone is involved in reading it). */
static inline void ft_set_unix(const struct faketime *ft, time_t unix_s)
{
	char line[64];
	long long offset = (long long)unix_s - (long long)time(NULL);

	snprintf(line, sizeof(line), "%+lld", offset);
	ft_set(ft, line);
}

static inline void ft_note(struct faketime *ft, pid_t server)
{
	struct fl_procs all = { .n = 0 };

	if (server <= 0)
		return;
	fl_descendants(server, &all);
	if (ft->n_pids < FT_PIDS_MAX)
		ft->pids[ft->n_pids++] = server;
	for (size_t i = 0; i < all.n && ft->n_pids < FT_PIDS_MAX; i++)
		ft->pids[ft->n_pids++] = all.p[i].pid;
}

static inline void ft_cleanup(struct faketime *ft)
{
	for (size_t i = 0; i < ft->n_pids; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/dev/shm/faketime_shm_%d", (int)ft->pids[i]);
		unlink(path);
		snprintf(path, sizeof(path), "/dev/shm/sem.faketime_sem_%d", (int)ft->pids[i]);
		unlink(path);
	}
	ft->n_pids = 0;
}

#endif
