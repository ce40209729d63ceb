/*
 * worker_warm: a warm worker (see worker.h and docs/warm-pool.md).
 *
 * States: starting (the sandbox's interpreter imports its libraries; the
 * worker waits on the sandbox and on its socket at once), ready (told the
 * server; waits only for the socket), used (the one run took the sandbox
 * or it broke; any later request runs cold). The worker keeps at most one
 * sandbox and ends it before it exits, whatever ends the worker: the
 * server's socket closing (a clean stop, the server killed) or a broken
 * sandbox. A sandbox not ready within WARM_READY_MS is given up.
 *
 * A run's answer goes out before its sandbox is torn down: the run may end
 * on the driver's complete result while the interpreter is still exiting
 * (docs/warm-pool.md), so the worker keeps the sandbox it handed to the run
 * and frees it (reap, cgroup removal) only once the answer is sent.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "runs/frame.h"
#include "runs/worker.h"
#include "runs/worker_internal.h"
#include "util/banned.h"

#define WARM_READY_MS 60000

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int tell(const char *key, json_t *value)
{
	json_t *msg = json_pack("{s:o}", key, value);
	int r = msg ? frame_write_json(WORKER_FD, msg) : -ENOMEM;

	json_decref(msg);
	return r;
}

static int tell_failed(const char *what, int err)
{
	char text[200];

	snprintf(text, sizeof(text), "%s: %s", what, strerror(err < 0 ? -err : err));
	return tell("warm_failed", json_string(text));
}

/* Waits until the sandbox is ready or broke, or the socket has something
 * (a request or its end). Returns 1 when the socket is readable, 0 when the
 * sandbox is settled (ready, or gone and *warm NULL), <0 when the socket
 * broke. */
static int wait_starting(struct sandbox_warm **warm, uint64_t deadline)
{
	while (*warm) {
		struct pollfd pfd[2] = { { WORKER_FD, POLLIN, 0 },
					 { sandbox_warm_fd(*warm), POLLIN, 0 } };
		uint64_t now = now_ms();
		int r, n = poll(pfd, 2, now >= deadline ? 0 : (int)(deadline - now));

		if (n < 0 && errno != EINTR)
			return -errno;
		if (pfd[0].revents)
			return 1;
		r = pfd[1].revents ? sandbox_warm_check(*warm) : (now_ms() >= deadline ? -ETIMEDOUT : 0);
		if (r == 1)
			return tell("warm_ready", json_true()) < 0 ? -EPIPE : 0;
		if (r < 0) {
			sandbox_warm_free(*warm);
			*warm = NULL;
			return tell_failed("the warm sandbox did not start", r) < 0 ? -EPIPE : 0;
		}
	}
	return 0;
}

int worker_warm_serve(json_t *first)
{
	json_t *spec = json_object_get(first, "warm");
	const char *data_path = json_string_value(json_object_get(spec, "data_path"));
	struct sandbox_warm *warm = NULL;
	int r = sandbox_warm_start(data_path, &warm);

	if (r < 0 && tell_failed("the warm sandbox could not be built", r) < 0)
		return 1;
	r = wait_starting(&warm, now_ms() + WARM_READY_MS);
	while (r >= 0) {
		json_t *msg;

		r = frame_read_json(WORKER_FD, &msg);
		if (r < 0)
			break;
		if (json_object_get(msg, "run")) {
			struct sandbox_warm *used = warm;
			r = worker_serve_one(msg, &warm);
			/* The answer is sent: the sandbox the run took goes now. */
			if (!warm)
				sandbox_warm_free(used);
		}
		json_decref(msg);
	}
	/* The socket closed: the server is done with this worker (or gone). */
	sandbox_warm_free(warm);
	return r == -EPIPE ? 0 : 1;
}
