/*
 * exec_cmd: `ledgerbox exec`, one sandboxed run from the command line.
 *
 * Reads the code (a file, a query string or standard input), runs it with
 * the limits given by flags, optionally saves the artifacts, and prints the
 * result as JSON. The exit status tells ok, code error, limit hit, killed or
 * sandbox failure apart, so scripts need not parse the JSON.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/commands.h"
#include "sandbox/internal.h"
#include "sandbox/result_json.h"
#include "util/buf.h"
#include "util/parse.h"
#include "util/banned.h"

static const char exec_usage[] =
	"usage: ledgerbox exec --lang python [--data DIR] [options] FILE|-\n"
	"       ledgerbox exec --lang sql --data DB [options] QUERY|-\n"
	"\n"
	"Runs Python or one SQL query in a fresh sandbox and prints the result as JSON.\n"
	"Python: FILE is the program ('-' reads standard input); DIR is mounted\n"
	"read-only at /data. SQL: QUERY is the query text ('-' reads standard input);\n"
	"DB is a SQLite file, opened read-only.\n"
	"\n"
	"Limits (defaults in brackets):\n"
	"  --timeout MS       wall-clock time [30000]\n"
	"  --cpu MS           CPU time of all the run's processes [20000]\n"
	"  --memory BYTES     memory, e.g. 256M or 1G [512M]\n"
	"  --pids N           processes and threads [64]\n"
	"  --output BYTES     stdout and stderr kept, each [1M]; more is dropped,\n"
	"                     and past --output-drain the run is stopped\n"
	"  --output-drain BYTES  output read before the run is stopped [64M]\n"
	"  --tmp BYTES        size of /tmp [64M]\n"
	"  --out-size BYTES   size of /out, where artifacts go [64M]\n"
	"  --file-size BYTES  largest file one process may write [64M]\n"
	"  --rows N           rows of the result table [1000]\n"
	"Other options:\n"
	"  --save-artifacts DIR  write the files left in /out to DIR\n"
	"  --pretty           indent the JSON for a person\n"
	"  --help             this text\n"
	"\n"
	"Exit status: 0 ok, 1 the code failed, 2 a limit was hit, 3 killed,\n"
	"4 the sandbox could not run, 64 bad usage.\n";

struct exec_opts {
	struct sandbox_request req;
	const char *source;
	const char *save_dir;
	bool pretty;
	struct buf code;
};

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "ledgerbox exec: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'ledgerbox exec --help'.\n");
	return EXEC_EXIT_USAGE;
}

static int read_fd_all(int fd, struct buf *b)
{
	char chunk[65536];
	ssize_t n;

	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (buf_append(b, chunk, (size_t)n) < 0)
			return -ENOMEM;
	}
	return b->truncated ? -EFBIG : 0;
}

static int code_load(struct exec_opts *o)
{
	int fd, r;

	buf_init(&o->code, SANDBOX_CODE_MAX_BYTES);
	if (o->req.lang == SANDBOX_LANG_SQL && strcmp(o->source, "-") != 0)
		return buf_append(&o->code, o->source, strlen(o->source));
	fd = strcmp(o->source, "-") == 0 ? 0 : open(o->source, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = read_fd_all(fd, &o->code);
	if (fd != 0)
		close(fd);
	return r;
}

static int limit_flag(struct sandbox_limits *l, int opt, const char *arg)
{
	uint64_t *fields[] = {
		['t'] = &l->wall_ms, ['c'] = &l->cpu_ms, ['m'] = &l->memory_bytes,
		['p'] = &l->pids, ['o'] = &l->output_bytes, ['D'] = &l->output_drain_bytes,
		['T'] = &l->tmp_bytes, ['O'] = &l->out_bytes, ['F'] = &l->file_bytes,
		['r'] = &l->max_rows,
	};
	bool bytes = opt == 'm' || opt == 'o' || opt == 'D' || opt == 'T' || opt == 'O' || opt == 'F';

	return bytes ? parse_bytes(arg, fields[opt]) : parse_u64(arg, fields[opt]);
}

static int opts_parse(int argc, char **argv, struct exec_opts *o)
{
	static const struct option longopts[] = {
		{ "lang", required_argument, NULL, 'l' },   { "data", required_argument, NULL, 'd' },
		{ "timeout", required_argument, NULL, 't' }, { "cpu", required_argument, NULL, 'c' },
		{ "memory", required_argument, NULL, 'm' }, { "pids", required_argument, NULL, 'p' },
		{ "output", required_argument, NULL, 'o' },
		{ "output-drain", required_argument, NULL, 'D' },
		{ "tmp", required_argument, NULL, 'T' },    { "out-size", required_argument, NULL, 'O' },
		{ "file-size", required_argument, NULL, 'F' },
		{ "rows", required_argument, NULL, 'r' },
		{ "save-artifacts", required_argument, NULL, 's' },
		{ "pretty", no_argument, NULL, 'P' },       { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool have_lang = false, drain_set = false;
	int opt;

	sandbox_limits_default(&o->req.limits);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			if (sandbox_lang_parse(optarg, &o->req.lang) < 0)
				return usage_error("--lang must be python or sql, not '%s'", optarg);
			have_lang = true;
			break;
		case 'd':
			o->req.data_path = optarg;
			break;
		case 's':
			o->save_dir = optarg;
			break;
		case 'P':
			o->pretty = true;
			break;
		case 'h':
			fputs(exec_usage, stdout);
			return -1;
		case '?':
			return usage_error("%s", "unknown option or missing value");
		default:
			drain_set |= opt == 'D';
			if (limit_flag(&o->req.limits, opt, optarg) < 0)
				return usage_error("bad value '%s' (a number, sizes may end in K, M or G)",
						   optarg);
		}
	}
	if (!have_lang)
		return usage_error("%s", "--lang python|sql is required");
	if (optind != argc - 1)
		return usage_error("%s", "expected exactly one FILE, QUERY or '-'");
	if (!drain_set && o->req.limits.output_drain_bytes < 16 * o->req.limits.output_bytes)
		o->req.limits.output_drain_bytes = 16 * o->req.limits.output_bytes;
	o->source = argv[optind];
	return 0;
}

static int artifact_save(const char *dir, const struct sandbox_artifact *a, json_t *entry)
{
	char path[4096];
	int fd;
	size_t off = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, a->name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (off < a->bytes) {
		ssize_t n = write(fd, a->data + off, a->bytes - off);
		if (n <= 0) {
			int r = n < 0 ? -errno : -EIO;
			close(fd);
			unlink(path);
			return r;
		}
		off += (size_t)n;
	}
	if (close(fd) < 0)
		return -errno;
	json_object_set_new(entry, "path", json_string(path));
	return 0;
}

static int artifacts_save(const struct exec_opts *o, const struct sandbox_result *res, json_t *j)
{
	json_t *list = json_object_get(j, "artifacts");

	if (!o->save_dir)
		return 0;
	if (mkdir(o->save_dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "ledgerbox exec: cannot create %s: %s\n", o->save_dir, strerror(errno));
		return -errno;
	}
	for (size_t i = 0; i < res->n_artifacts; i++) {
		int r = artifact_save(o->save_dir, &res->artifacts[i], json_array_get(list, i));
		if (r < 0) {
			fprintf(stderr, "ledgerbox exec: cannot save artifact %s in %s: %s\n",
				res->artifacts[i].name, o->save_dir, strerror(-r));
			return r;
		}
	}
	return 0;
}

static int exit_code_for(enum sandbox_status s)
{
	switch (s) {
	case SANDBOX_OK:
		return EXEC_EXIT_OK;
	case SANDBOX_RUNTIME_ERROR:
		return EXEC_EXIT_CODE_ERROR;
	case SANDBOX_KILLED:
		return EXEC_EXIT_KILLED;
	case SANDBOX_SANDBOX_ERROR:
		return EXEC_EXIT_SANDBOX;
	default:
		return EXEC_EXIT_LIMIT;
	}
}

static int run_and_print(struct exec_opts *o)
{
	struct sandbox_result res;
	json_t *j;
	int r, code;

	r = sandbox_run(&o->req, &res);
	if (r < 0 && res.status != SANDBOX_SANDBOX_ERROR)
		res.status = SANDBOX_SANDBOX_ERROR;
	j = result_to_json(&o->req, &res);
	if (!j) {
		fprintf(stderr, "ledgerbox exec: out of memory\n");
		sandbox_result_release(&res);
		return EXEC_EXIT_SANDBOX;
	}
	code = exit_code_for(res.status);
	if (artifacts_save(o, &res, j) < 0)
		code = EXEC_EXIT_SANDBOX;
	json_dumpf(j, stdout, (o->pretty ? JSON_INDENT(2) : JSON_COMPACT));
	fputc('\n', stdout);
	if (res.status == SANDBOX_SANDBOX_ERROR)
		fprintf(stderr, "ledgerbox exec: %s\n", res.error);
	json_decref(j);
	sandbox_result_release(&res);
	return code;
}

int cmd_exec(int argc, char **argv)
{
	struct exec_opts o;
	int r;

	memset(&o, 0, sizeof(o));
	r = opts_parse(argc, argv, &o);
	if (r != 0)
		return r < 0 ? EXEC_EXIT_OK : r;
	r = code_load(&o);
	if (r < 0) {
		fprintf(stderr, "ledgerbox exec: cannot read %s: %s\n",
			strcmp(o.source, "-") == 0 ? "standard input" : o.source,
			r == -EFBIG ? "larger than 4 MiB" : strerror(-r));
		buf_release(&o.code);
		return EXEC_EXIT_USAGE;
	}
	o.req.code = o.code.data ? o.code.data : "";
	o.req.code_len = o.code.len;
	r = run_and_print(&o);
	buf_release(&o.code);
	return r;
}
