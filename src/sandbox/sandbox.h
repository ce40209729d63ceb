/*
 * sandbox: run one piece of untrusted Python or SQL in a fresh Linux sandbox.
 *
 * Every call builds a new sandbox: user, pid, mount, network, ipc, uts and
 * cgroup namespaces; a read-only root made with pivot_root from the host's
 * /usr and a few /etc files; tmpfs /tmp and /out; the dataset read-only at
 * /data; no_new_privs, no capabilities, a seccomp filter; limits on wall
 * time, CPU time, memory, processes, file size, tmpfs size and kept output.
 * When sandbox_run() returns, nothing of the run is left: the pid namespace
 * is gone (so is every process, also one that called setsid), the mount
 * namespace and its tmpfs are gone, the run's cgroups are removed and every
 * descriptor the run used is closed.
 *
 * The caller must be single-threaded: the sandbox is started with clone()
 * and the child runs ledgerbox code before it execs. A threaded server talks
 * to a single-threaded supervisor process instead.
 *
 * Infrastructure failure and analyst failure are kept apart: a run whose
 * code failed or hit a limit returns 0 with the status saying so; a sandbox
 * that could not be built returns a negative errno with status
 * SANDBOX_SANDBOX_ERROR and the reason in result->error.
 */
#ifndef LEDGERBOX_SANDBOX_H
#define LEDGERBOX_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum sandbox_lang {
	SANDBOX_LANG_PYTHON,
	SANDBOX_LANG_SQL,
};

enum sandbox_status {
	SANDBOX_OK,
	SANDBOX_RUNTIME_ERROR, /* the code failed: exception, syntax, exit != 0 */
	SANDBOX_TIMEOUT,       /* wall-clock limit */
	SANDBOX_CPU_LIMIT,     /* CPU time of all processes of the run */
	SANDBOX_MEMORY_LIMIT,  /* killed by the out-of-memory killer at its limit */
	SANDBOX_OUTPUT_LIMIT,  /* wrote far more than could be kept */
	SANDBOX_KILLED,        /* killed by a signal nobody in ledgerbox sent */
	SANDBOX_SANDBOX_ERROR, /* the sandbox itself could not be built */
};

/* Which mechanism enforced a limit in this run. */
enum sandbox_enforcer {
	ENFORCER_NONE,
	ENFORCER_CGROUP_V2,
	ENFORCER_CGROUP_V1,
	ENFORCER_RLIMIT,
	ENFORCER_SUPERVISOR, /* ledgerbox's own watch loop */
	ENFORCER_TMPFS,      /* the size option of the tmpfs mount */
	ENFORCER_RUNNER,     /* the SQL runner's own check */
};

/* Bits of sandbox_result.limits_hit. */
enum {
	LIMIT_HIT_WALL = 1 << 0,
	LIMIT_HIT_CPU = 1 << 1,
	LIMIT_HIT_MEMORY = 1 << 2,
	LIMIT_HIT_PIDS = 1 << 3,
	LIMIT_HIT_OUTPUT = 1 << 4,
	LIMIT_HIT_ROWS = 1 << 5,
	LIMIT_HIT_CANCELLED = 1 << 6, /* not a limit: the caller cancelled */
};

struct sandbox_limits {
	uint64_t wall_ms;
	uint64_t cpu_ms;
	uint64_t memory_bytes;
	uint64_t pids;
	uint64_t output_bytes;      /* kept per stream (stdout, stderr) */
	uint64_t output_drain_bytes; /* read and dropped past that, then killed */
	uint64_t tmp_bytes;          /* size of the /tmp tmpfs (and /dev/shm) */
	uint64_t out_bytes;          /* size of the /out tmpfs (artifacts) */
	uint64_t file_bytes;         /* largest file one process may write */
	uint64_t table_bytes;        /* result-channel JSON kept */
	uint64_t max_rows;           /* rows of the result table */
	uint64_t open_files;
};

/* Sensible defaults: 30 s wall, 20 s CPU, 512 MiB, 64 processes, 1 MiB of
 * output per stream, 64 MiB /tmp, 64 MiB /out, 1,000 rows. */
void sandbox_limits_default(struct sandbox_limits *ret);
/* Checks ranges; on error writes a message naming the limit into err. */
int sandbox_limits_check(const struct sandbox_limits *l, char *err, size_t err_len);

/* The error of a run refused because its dataset was replaced between the
 * caller's hold on it and the sandbox's mount. */
#define SANDBOX_DATA_CHANGED "the dataset changed while the run started; try again"

struct sandbox_request {
	enum sandbox_lang lang;
	const char *code; /* Python source or one SQL query; need not be NUL-terminated */
	size_t code_len;
	/* Python: a folder mounted read-only at /data (may be NULL).
	 * SQL: the SQLite file, mounted read-only at /data/<its name>, with
	 * its -wal and -journal beside it when they exist. */
	const char *data_path;
	/* When data_pinned: the folder the caller holds (Python: data_path
	 * itself; SQL: the SQLite file's folder). A run whose data_path leads
	 * elsewhere (a new version swapped in meanwhile) is refused with
	 * SANDBOX_DATA_CHANGED in its error, never run on other files. */
	bool data_pinned;
	dev_t data_dev;
	ino_t data_ino;
	struct sandbox_limits limits;
	/* When > 0: the run is stopped (status killed, error "cancelled") as
	 * soon as this descriptor becomes readable or hangs up. 0 (what a
	 * zeroed request holds) means none. */
	int cancel_fd;
	/* Python only: compile the program and stop without running it, so a
	 * syntax error is found before a run (the check of generated code). */
	bool compile_only;
	/* When set: called by the supervisor with each piece of stdout the run
	 * keeps, as it is read (pieces of any size: a line or a character may
	 * be split between two calls). Output past the limit is not passed. */
	void (*on_stdout)(void *ctx, const char *data, size_t len);
	void *on_stdout_ctx;
};

struct sandbox_artifact {
	char *name;
	char *mime;
	unsigned char *data;
	size_t bytes;
};

struct sandbox_result {
	enum sandbox_status status;
	int exit_code; /* of the analyst's process; -1 if it was killed */
	int signal;    /* the signal that ended it, or 0 */
	uint64_t wall_ms;
	uint64_t cpu_ms;
	uint64_t peak_memory_bytes;
	/* Warm runs: memory the pre-started interpreter held at hand-off; the
	 * bill counts only the peak above it. 0 for cold runs. */
	uint64_t memory_base_bytes;
	char *stdout_data;
	size_t stdout_len;
	bool stdout_truncated;
	char *stderr_data;
	size_t stderr_len;
	bool stderr_truncated;
	char *result_json; /* what the runner wrote to its result channel, or NULL */
	size_t result_json_len;
	bool result_truncated;
	struct sandbox_artifact *artifacts;
	size_t n_artifacts;
	size_t n_artifacts_skipped; /* links, folders, oversized or unreadable */
	/* Of those, files whose names hold bidirectional controls (util/bidi.h):
	 * the answer says why they are missing. */
	size_t n_artifacts_bidi_names;
	unsigned limits_hit;
	enum sandbox_enforcer enforced_wall, enforced_cpu, enforced_memory,
		enforced_pids, enforced_output, enforced_file, enforced_tmp;
	char error[512]; /* sandbox_error detail, or a note on a limit hit */
	bool warm;       /* ran in a warm sandbox (sandbox_warm_run) */
};

/* Runs the request. Returns 0 when the run happened (whatever its status) or
 * a negative errno when the sandbox could not be built or the request is
 * invalid; result is filled in both cases and must be released with
 * sandbox_result_release(). */
int sandbox_run(const struct sandbox_request *req, struct sandbox_result *result);
/* Frees everything the result owns; accepts NULL. */
void sandbox_result_release(struct sandbox_result *result);

/*
 * Warm sandboxes (docs/warm-pool.md): a Python sandbox built ahead of its
 * run with the same isolation as a cold one and default limits, whose
 * interpreter has imported pandas, numpy and matplotlib and waits for one
 * program. Used once. The same rule as sandbox_run(): single-threaded
 * callers only.
 */
struct sandbox_warm;
/* Starts one for runs on data_path (a folder, or NULL for none) and
 * returns while the interpreter starts. */
int sandbox_warm_start(const char *data_path, struct sandbox_warm **ret);
/* Becomes readable when the sandbox is ready or broke; then call
 * sandbox_warm_check(). */
int sandbox_warm_fd(const struct sandbox_warm *w);
/* 1 ready, 0 still starting, or -errno: it broke (free it). */
int sandbox_warm_check(struct sandbox_warm *w);
/* Whether req may run in w: w is ready, req is Python on the same dataset
 * (the same folder, not replaced since) with the same /tmp and /out sizes.
 * Memory, pids, CPU, wall, output, file size and open files are applied at
 * hand-off. */
bool sandbox_warm_fits(const struct sandbox_warm *w, const struct sandbox_request *req);
/* Runs req in w. Returns like sandbox_run(), with result->warm set; or
 * -EAGAIN when req does not fit or its limits could not be applied: nothing
 * ran, result holds nothing, run req cold. Either way nothing of w runs any
 * more when it returns, but w is not freed: the run may have ended on the
 * driver's complete result, before the sandbox's processes were gone, so
 * that the result can be passed on first. The caller then frees w, always. */
int sandbox_warm_run(struct sandbox_warm *w, const struct sandbox_request *req,
		     struct sandbox_result *result);
/* Kills the sandbox if it still runs, waits until every process of it is
 * gone and removes its cgroup; accepts NULL. */
void sandbox_warm_free(struct sandbox_warm *w);

/* The program run inside the sandbox for SQL: by default
 * ledgerbox-sql-runner in the folder of this process's own binary.
 * Programs elsewhere (tests) point it at the built one. */
void sandbox_set_runner_exe(const char *path);

/* For a server about to start sandbox workers that share its cgroup: on
 * cgroup v2, moves this process into a leaf and hands the memory and pids
 * controllers to the runs' cgroups below its own, then tells the workers
 * (through the environment) where to make them. Call while single-threaded,
 * before starting the workers. Harmless elsewhere. */
void sandbox_cgroup_delegate(void);

const char *sandbox_status_name(enum sandbox_status s);
const char *sandbox_enforcer_name(enum sandbox_enforcer e);
const char *sandbox_lang_name(enum sandbox_lang l);
int sandbox_lang_parse(const char *name, enum sandbox_lang *ret);

#endif
