/*
 * Warm sandboxes (docs/warm-pool.md): in-process through the sandbox API,
 * through the server's pool, and around a real `ledgerbox serve`.
 *
 * A warm run must give what a cold one gives and say it was warm; two runs
 * never share a sandbox; the CPU spent importing pandas is not billed;
 * memory, wall and output limits still hold; a request that does not fit
 * goes cold; an empty pool answers cold at once; WARM_POOL_MAX=0 means
 * cold always; and a stopped or killed server leaves no warm sandbox
 * process or cgroup behind.
 *
 * A warm run ends on the driver's complete result, before the sandbox is
 * torn down: a program that ends any other way (os._exit, a signal, a
 * process left holding stdout) must still be reported as a cold run
 * would, and the sandbox must still be gone once it has been freed.
 */
#include <jansson.h>
#include <libgen.h>

#include "fault/faultlib.h"

#include "runs/pool.h"
#include "runs/worker.h"
#include "sandbox/result_json.h"
#include "sandbox/sandbox.h"

static const char *groupby_code =
	"import pandas as pd\n"
	"df = pd.read_csv('/data/invoices.csv')\n"
	"print(len(df))\n"
	"df.groupby('status').size()\n";

static void request_python(struct sandbox_request *req, const char *code, const char *data)
{
	memset(req, 0, sizeof(*req));
	req->lang = SANDBOX_LANG_PYTHON;
	req->code = code;
	req->code_len = strlen(code);
	req->data_path = data;
	sandbox_limits_default(&req->limits);
}

/* A warm sandbox, waited for until it is ready. */
static struct sandbox_warm *warm_ready(const char *data)
{
	struct sandbox_warm *w = NULL;
	int r = 0;

	assert_int_equal(sandbox_warm_start(data, &w), 0);
	for (int i = 0; i < 600 && r == 0; i++) {
		struct pollfd p = { sandbox_warm_fd(w), POLLIN, 0 };
		poll(&p, 1, 100);
		r = sandbox_warm_check(w);
	}
	assert_int_equal(r, 1);
	return w;
}

/* Runs req warm, then frees the sandbox as a worker does once it has
 * answered: nothing of it (no child, no cgroup) may be left after that. */
static void run_warm(const struct sandbox_request *req, struct sandbox_result *res)
{
	struct sandbox_warm *w = warm_ready(req->data_path);
	struct fl_procs self = { .n = 1 };

	assert_int_equal(sandbox_warm_run(w, req, res), 0);
	assert_true(res->warm);
	sandbox_warm_free(w);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	self.p[0].pid = getpid();
	assert_int_equal(fl_run_cgroups(&self, NULL), 0);
}

static json_t *result_json(const struct sandbox_request *req, const struct sandbox_result *res)
{
	json_t *j = result_to_json(req, res);

	assert_non_null(j);
	return j;
}

static void warm_run_matches_cold(void **state)
{
	struct sandbox_request req;
	struct sandbox_result cold, warm;
	json_t *jc, *jw;
	(void)state;

	request_python(&req, groupby_code, tl_demo());
	assert_int_equal(sandbox_run(&req, &cold), 0);
	run_warm(&req, &warm);
	assert_int_equal(cold.status, SANDBOX_OK);
	assert_int_equal(warm.status, SANDBOX_OK);
	assert_false(cold.warm);
	assert_string_equal(warm.stdout_data, cold.stdout_data);
	assert_string_equal(warm.stderr_data ? warm.stderr_data : "", "");
	jc = result_json(&req, &cold);
	jw = result_json(&req, &warm);
	assert_string_equal(hl_str(jc, "sandbox"), "cold");
	assert_string_equal(hl_str(jw, "sandbox"), "warm");
	assert_true(json_equal(json_object_get(jc, "table"), json_object_get(jw, "table")));
	assert_true(json_is_object(json_object_get(jw, "table")));
	json_decref(jc);
	json_decref(jw);
	sandbox_result_release(&cold);
	sandbox_result_release(&warm);
}

/* A warm sandbox compiles the program before running any of it, as a cold
 * one does: code that does not compile prints nothing, and its error says
 * stage "compile" (the check and the run share one sandbox). */
static void warm_run_reports_a_compile_failure(void **state)
{
	struct sandbox_request req;
	struct sandbox_result res;
	json_t *j, *e;
	(void)state;

	request_python(&req, "print('ran')\nfor x in range(3)\n    print(x)\n", NULL);
	run_warm(&req, &res);
	assert_int_equal(res.status, SANDBOX_RUNTIME_ERROR);
	assert_string_equal(res.stdout_data ? res.stdout_data : "", "");
	j = result_json(&req, &res);
	e = json_object_get(j, "runner_error");
	assert_string_equal(hl_str(e, "type"), "SyntaxError");
	assert_non_null(hl_str(e, "stage"));
	assert_string_equal(hl_str(e, "stage"), "compile");
	assert_int_equal(json_integer_value(json_object_get(e, "line")), 2);
	assert_string_equal(hl_str(j, "sandbox"), "warm");
	json_decref(j);
	sandbox_result_release(&res);
}

/* Run 1 leaves marks everywhere a reused sandbox would keep them: a file
 * in /tmp, an attribute on an imported module, a builtin. Run 2 must see
 * none of them, and runs in another pid namespace. */
static void two_runs_never_share_a_sandbox(void **state)
{
	const char *first = "import os, builtins, pandas\n"
			    "open('/tmp/mark', 'w').write('x')\n"
			    "pandas.ledgerbox_mark = 1\nbuiltins.ledgerbox_mark = 1\n"
			    "print(os.readlink('/proc/self/ns/pid'))\n";
	const char *second = "import os, builtins, pandas\n"
			     "print(os.path.exists('/tmp/mark'), hasattr(pandas, 'ledgerbox_mark'),"
			     " hasattr(builtins, 'ledgerbox_mark'))\n"
			     "print(os.readlink('/proc/self/ns/pid'))\n";
	struct sandbox_request req;
	struct sandbox_result r1, r2;
	char *ns2;
	(void)state;

	request_python(&req, first, NULL);
	run_warm(&req, &r1);
	request_python(&req, second, NULL);
	run_warm(&req, &r2);
	assert_int_equal(r1.status, SANDBOX_OK);
	assert_int_equal(r2.status, SANDBOX_OK);
	assert_true(strncmp(r2.stdout_data, "False False False\npid:[", 23) == 0);
	ns2 = strchr(r2.stdout_data, '\n') + 1;
	assert_true(strncmp(r1.stdout_data, "pid:[", 5) == 0);
	assert_string_not_equal(r1.stdout_data, ns2);
	sandbox_result_release(&r1);
	sandbox_result_release(&r2);
}

/* The warm interpreter imported pandas and matplotlib before hand-off; a
 * cold run importing them pays for it. The warm run bills only its own
 * print. */
static void warm_up_cpu_is_not_billed(void **state)
{
	struct sandbox_request req;
	struct sandbox_result cold, warm;
	(void)state;

	request_python(&req, "import pandas, numpy, matplotlib.pyplot\nprint(1+1)\n", NULL);
	assert_int_equal(sandbox_run(&req, &cold), 0);
	request_python(&req, "print(1+1)\n", NULL);
	run_warm(&req, &warm);
	assert_int_equal(cold.status, SANDBOX_OK);
	assert_int_equal(warm.status, SANDBOX_OK);
	assert_string_equal(warm.stdout_data, "2\n");
	assert_true(cold.cpu_ms >= 100);
	assert_true(warm.cpu_ms * 4 < cold.cpu_ms);
	sandbox_result_release(&cold);
	sandbox_result_release(&warm);
}

/* The interpreter's memory at hand-off is reported as the base, which the
 * bill leaves out; what the analyst's code allocates shows above it. */
static void warm_up_memory_is_the_base(void **state)
{
	struct sandbox_request req;
	struct sandbox_result small, big;
	(void)state;

	request_python(&req, "print(1+1)\n", NULL);
	run_warm(&req, &small);
	request_python(&req, "x = bytearray(80 << 20)\nx[::4096] = b'x' * len(x[::4096])\nprint(len(x))\n",
		       NULL);
	run_warm(&req, &big);
	assert_int_equal(small.status, SANDBOX_OK);
	assert_int_equal(big.status, SANDBOX_OK);
	/* pandas, numpy and matplotlib hold tens of MiB before any code runs. */
	assert_true(small.memory_base_bytes > (20u << 20));
	assert_true(small.peak_memory_bytes >= small.memory_base_bytes);
	assert_true(small.peak_memory_bytes - small.memory_base_bytes < (20u << 20));
	assert_true(big.peak_memory_bytes - big.memory_base_bytes >= (80u << 20));
	sandbox_result_release(&small);
	sandbox_result_release(&big);
}

static void limits_still_hit_in_a_warm_sandbox(void **state)
{
	struct sandbox_request req;
	struct sandbox_result res;
	(void)state;

	request_python(&req, "x = bytearray(1 << 30)\nprint(len(x))\n", NULL);
	req.limits.memory_bytes = 256u << 20;
	run_warm(&req, &res);
	assert_int_equal(res.status, SANDBOX_MEMORY_LIMIT);
	sandbox_result_release(&res);

	request_python(&req, "while True:\n    pass\n", NULL);
	req.limits.wall_ms = 1000;
	run_warm(&req, &res);
	assert_int_equal(res.status, SANDBOX_TIMEOUT);
	assert_true(res.limits_hit & LIMIT_HIT_WALL);
	sandbox_result_release(&res);

	request_python(&req, "while True:\n    print('x' * 1000)\n", NULL);
	req.limits.output_bytes = 4096;
	req.limits.output_drain_bytes = 65536;
	run_warm(&req, &res);
	assert_int_equal(res.status, SANDBOX_OUTPUT_LIMIT);
	assert_true(res.stdout_truncated);
	sandbox_result_release(&res);
}

/* Programs that end without the driver's result: by os._exit, by a
 * signal they sent themselves, by a crash. */
static void programs_that_exit_on_their_own(void **state)
{
	struct sandbox_request req;
	struct sandbox_result res;
	(void)state;

	request_python(&req, "import os\nprint('bye', flush=True)\nos._exit(3)\n", NULL);
	run_warm(&req, &res);
	assert_int_equal(res.status, SANDBOX_RUNTIME_ERROR);
	assert_int_equal(res.exit_code, 3);
	assert_string_equal(res.stdout_data, "bye\n");
	sandbox_result_release(&res);

	request_python(&req, "import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n", NULL);
	run_warm(&req, &res);
	assert_int_equal(res.status, SANDBOX_KILLED);
	assert_int_equal(res.signal, SIGTERM);
	sandbox_result_release(&res);

	request_python(&req, "import ctypes\nctypes.string_at(0)\n", NULL);
	run_warm(&req, &res);
	assert_int_equal(res.status, SANDBOX_RUNTIME_ERROR);
	assert_int_equal(res.signal, SIGSEGV);
	sandbox_result_release(&res);

	/* sys.exit(n) does go through the driver: its status comes with the
	 * result. */
	request_python(&req, "import sys\nsys.exit(7)\n", NULL);
	run_warm(&req, &res);
	assert_int_equal(res.status, SANDBOX_RUNTIME_ERROR);
	assert_int_equal(res.exit_code, 7);
	sandbox_result_release(&res);
}

/* A process left behind with stdout open: no end of file until the
 * namespace ends, so the run ends the slow way, and correctly. */
static void a_background_process_holding_stdout(void **state)
{
	const char *leave = "import os, time\n"
			    "if os.fork() == 0:\n"
			    "    time.sleep(120)\n"
			    "    os._exit(0)\n"
			    "print('parent done')\n";
	const char *spin = "import os\n"
			   "if os.fork() == 0:\n"
			   "    os.setsid()\n"
			   "    while True:\n"
			   "        pass\n"
			   "print('parent done')\n";
	struct sandbox_request req;
	struct sandbox_result res;
	(void)state;

	request_python(&req, leave, NULL);
	req.limits.wall_ms = 60000;
	run_warm(&req, &res);
	assert_int_equal(res.status, SANDBOX_OK);
	assert_int_equal(res.exit_code, 0);
	assert_string_equal(res.stdout_data, "parent done\n");
	sandbox_result_release(&res);

	/* The child's CPU counts until the namespace is gone. */
	request_python(&req, spin, NULL);
	run_warm(&req, &res);
	assert_int_equal(res.status, SANDBOX_OK);
	assert_string_equal(res.stdout_data, "parent done\n");
	sandbox_result_release(&res);

	request_python(&req, "import os, time\nos.fork()\nwhile True:\n    time.sleep(1)\n", NULL);
	req.limits.wall_ms = 1000;
	run_warm(&req, &res);
	assert_int_equal(res.status, SANDBOX_TIMEOUT);
	sandbox_result_release(&res);
}

static void request_that_does_not_fit_goes_cold(void **state)
{
	struct sandbox_request req;
	struct sandbox_result res;
	struct sandbox_warm *w = warm_ready(NULL);
	(void)state;

	request_python(&req, "print(1)\n", NULL);
	req.limits.tmp_bytes = 1u << 20; /* a /tmp size fixed at mount time */
	assert_false(sandbox_warm_fits(w, &req));
	assert_int_equal(sandbox_warm_run(w, &req, &res), -EAGAIN);
	sandbox_warm_free(w);
	request_python(&req, "print(1)\n", tl_demo());
	w = warm_ready(NULL);
	assert_false(sandbox_warm_fits(w, &req)); /* another dataset */
	sandbox_warm_free(w);
	/* Freed sandboxes leave no child and no cgroup. */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	struct fl_procs self = { .n = 1 };
	self.p[0].pid = getpid();
	assert_int_equal(fl_run_cgroups(&self, NULL), 0);
}

/* ---- the server's pool, in this process ---- */

static char server_exe[PATH_MAX];

static const char *server_bin(void)
{
	char bin[PATH_MAX];

	snprintf(bin, sizeof(bin), "%s", tl_bin());
	snprintf(server_exe, sizeof(server_exe), "%s/ledgerbox-server", dirname(bin));
	return server_exe;
}

static json_t *pool_request(const char *code)
{
	struct sandbox_limits l;
	json_t *req;

	sandbox_limits_default(&l);
	req = json_pack("{s:{s:s,s:s,s:s,s:o}}", "run", "language", "python", "code", code,
			"data_path", tl_demo(), "limits", worker_limits_to_json(&l));
	assert_non_null(req);
	return req;
}

/* Runs code through the pool; returns "warm" or "cold" (static). */
static const char *pool_run_kind(struct pool *p, const char *code, const char *want_stdout)
{
	struct pool_result res;
	json_t *req = pool_request(code);
	const char *kind;

	assert_int_equal(pool_run(p, req, -1, &res), 0);
	json_decref(req);
	assert_string_equal(hl_str(res.result, "status"), "ok");
	assert_string_equal(hl_str(res.result, "stdout"), want_stdout);
	kind = strcmp(hl_str(res.result, "sandbox"), "warm") == 0 ? "warm" : "cold";
	pool_result_release(&res);
	return kind;
}

static void empty_pool_falls_back_to_cold_while_it_refills(void **state)
{
	struct pool *p;
	const char *kind = "cold";
	(void)state;

	assert_int_equal(pool_start(server_bin(), 2, 4, 1, 1, &p), 0);
	/* Until the pool's one sandbox is ready for this dataset, runs are
	 * cold and answered all the same. */
	for (int i = 0; i < 100 && strcmp(kind, "warm") != 0; i++) {
		kind = pool_run_kind(p, "print(6*7)\n", "42\n");
		if (strcmp(kind, "warm") != 0)
			fl_sleep_ms(200);
	}
	assert_string_equal(kind, "warm");
	/* The one warm sandbox was used: the next run does not wait for its
	 * replacement (an interpreter importing pandas) but goes cold. */
	assert_string_equal(pool_run_kind(p, "print(6*7)\n", "42\n"), "cold");
	pool_stop(p);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
}

/* The warm interpreter of a snapshot with its init and worker (the
 * interpreter's parent and grandparent); false when there is not exactly
 * one. */
static bool warm_sandbox_of(const struct fl_procs *snap, struct fl_procs *ret)
{
	const struct fl_proc *py = NULL;

	ret->n = 0;
	for (size_t i = 0; i < snap->n; i++)
		if (strstr(snap->p[i].cmdline, "/run/ledgerbox/driver.py --warm")) {
			if (py)
				return false;
			py = &snap->p[i];
		}
	if (!py)
		return false;
	ret->p[ret->n++] = *py;
	for (size_t i = 0; i < snap->n; i++)
		if (snap->p[i].pid == py->ppid)
			ret->p[ret->n++] = snap->p[i];
	for (size_t i = 0; ret->n == 2 && i < snap->n; i++)
		if (snap->p[i].pid == ret->p[1].ppid)
			ret->p[ret->n++] = snap->p[i];
	return ret->n == 3;
}

/* Through the pool: the answer comes before the sandbox is torn down, and
 * then the worker, its sandbox and its cgroup go. */
static void a_used_warm_sandbox_is_gone_after_the_answer(void **state)
{
	static struct fl_procs snap, used;
	struct pool *p;
	bool done = false;
	(void)state;

	assert_int_equal(pool_start(server_bin(), 1, 4, 1, 1, &p), 0);
	for (int i = 0; i < 100 && !done; i++) {
		snap.n = 0;
		fl_descendants(getpid(), &snap);
		if (warm_sandbox_of(&snap, &used) &&
		    strcmp(pool_run_kind(p, "print(6*7)\n", "42\n"), "warm") == 0)
			done = true;
		else
			fl_sleep_ms(200);
	}
	assert_true(done);
	assert_int_equal(fl_wait_all_gone(&used, 15000), 0);
	assert_int_equal(fl_run_cgroups(&used, NULL), 0);
	assert_int_equal(fl_procs_in_run_cgroups(&used), 0);
	pool_stop(p);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
}

static void warm_pool_max_zero_is_always_cold(void **state)
{
	struct pool *p;
	(void)state;

	assert_int_equal(pool_start(server_bin(), 1, 4, 0, 0, &p), 0);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(pool_run_kind(p, "print(6*7)\n", "42\n"), "cold");
		fl_sleep_ms(1000);
	}
	pool_stop(p);
}

/* ---- a real server ---- */

static size_t warm_interpreters(const struct fl_procs *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += strstr(s->p[i].cmdline, "/run/ledgerbox/driver.py --warm") != NULL;
	return n;
}

/* Starts the server and waits until both its warm sandboxes run; returns
 * a snapshot of its descendants. */
static void server_with_warm_sandboxes(struct server *srv, struct fl_procs *snap)
{
	uint64_t end;

	hl_start(srv);
	end = fl_now_ms() + 30000;
	do {
		snap->n = 0;
		fl_descendants(srv->pid, snap);
		if (warm_interpreters(snap) >= 2)
			break;
		fl_sleep_ms(100);
	} while (fl_now_ms() < end);
	assert_true(warm_interpreters(snap) >= 2);
	assert_true(fl_run_cgroups(snap, NULL) >= 2);
}

static void assert_nothing_left(const struct fl_procs *snap)
{
	char alive[2048];
	size_t left = fl_wait_all_gone(snap, 15000);

	fl_describe_alive(snap, alive, sizeof(alive));
	if (left)
		fail_msg("%zu processes outlived the server: %s", left, alive);
	assert_int_equal(fl_procs_in_run_cgroups(snap), 0);
	assert_int_equal(fl_run_cgroups(snap, NULL), 0);
}

static void server_stop_and_kill_leave_no_warm_sandbox(void **state)
{
	static char *env[] = { "LEDGERBOX_WARM_POOL_MIN=2", "LEDGERBOX_WARM_POOL_MAX=2",
			       "LEDGERBOX_MAX_RUNS=1", NULL };
	static struct server srv;
	static struct fl_procs snap;
	(void)state;

	hl_prepare(&srv, "warm-pool", env);
	server_with_warm_sandboxes(&srv, &snap);
	assert_int_equal(hl_stop(&srv, SIGTERM), 0);
	assert_nothing_left(&snap);

	server_with_warm_sandboxes(&srv, &snap);
	assert_int_equal(hl_stop(&srv, SIGKILL), -1);
	assert_nothing_left(&snap);
	curl_global_cleanup();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(warm_run_matches_cold),
		cmocka_unit_test(warm_run_reports_a_compile_failure),
		cmocka_unit_test(two_runs_never_share_a_sandbox),
		cmocka_unit_test(warm_up_cpu_is_not_billed),
		cmocka_unit_test(warm_up_memory_is_the_base),
		cmocka_unit_test(limits_still_hit_in_a_warm_sandbox),
		cmocka_unit_test(programs_that_exit_on_their_own),
		cmocka_unit_test(a_background_process_holding_stdout),
		cmocka_unit_test(request_that_does_not_fit_goes_cold),
		cmocka_unit_test(empty_pool_falls_back_to_cold_while_it_refills),
		cmocka_unit_test(a_used_warm_sandbox_is_gone_after_the_answer),
		cmocka_unit_test(warm_pool_max_zero_is_always_cold),
		cmocka_unit_test(server_stop_and_kill_leave_no_warm_sandbox),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
