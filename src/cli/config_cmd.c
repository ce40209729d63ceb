/*
 * config_cmd: `ledgerbox config sample` and `ledgerbox config check FILE`.
 *
 * `sample` prints (or, with --output, writes owner-only) a configuration
 * file holding every setting of config_settings(), commented out, at its
 * default, with its help. It is
 * written from the code's own table (`make install` runs it to make
 * ledgerbox.conf.sample), so it cannot drift from what the server accepts.
 * A setting line is `#name = default`, with no space after the '#', so
 * removing that one character sets it; notes are `# ...`. A default is
 * only written as a setting line when the parser accepts it as a value
 * (tried one by one below): "number of CPUs" is a description, not a
 * value, and stays a note.
 *
 * `check` parses a file exactly as `ledgerbox serve --config FILE` does and
 * reports the first problem as FILE:LINE: ... ; on success it also says
 * whether the LLM server counts as local and whether sample values go to
 * it (the URL is not printed: it may hold a password). Both commands clear the
 * LEDGERBOX_* settings from their own environment first, so what they say
 * is about the file alone and not about the shell they run in.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "config/config.h"
#include "config/llm_local.h"
#include "util/banned.h"

#define CONFIG_PREFIX "LEDGERBOX_"
#define CONFIG_NAME_MAX 64

enum config_exit {
	CONFIG_EXIT_OK = 0,
	CONFIG_EXIT_BAD = 1,
	CONFIG_EXIT_USAGE = 64,
};

static const char config_usage[] =
	"usage: ledgerbox config sample [--output FILE]\n"
	"       ledgerbox config check FILE\n"
	"\n"
	"  sample  prints a configuration file for 'ledgerbox serve --config FILE':\n"
	"          every setting, commented out, at its default, with its help.\n"
	"          Remove the '#' in front of a setting to change it. With\n"
	"          --output FILE (-o), writes a new FILE readable by its owner only\n"
	"          (0600), as the file will hold secrets; FILE must not exist.\n"
	"  check   reads FILE as 'ledgerbox serve --config FILE' does and reports the\n"
	"          first bad line as FILE:LINE: what is wrong. LEDGERBOX_* variables\n"
	"          in the environment are ignored: only the file is checked.\n"
	"\n"
	"Exit status: 0 fine, 1 the file has a problem, 64 bad usage.\n";

static const char sample_header[] =
	"# ledgerbox.conf: settings of 'ledgerbox serve --config FILE'.\n"
	"#\n"
	"# Written by 'ledgerbox config sample'. One 'name = value' per line; a name\n"
	"# is the LEDGERBOX_* variable without its prefix, in any case. Each line\n"
	"# '#name = value' below is a setting at its default: remove the '#' to set\n"
	"# it. Lines '# ...' are notes. A '#' after white space starts a comment.\n"
	"#\n"
	"# Later sources win: defaults, then this file, then LEDGERBOX_* variables\n"
	"# in the environment (the systemd unit sets LEDGERBOX_STATE_DIR and\n"
	"# LEDGERBOX_DATA_DIR there).\n"
	"#\n"
	"# Check the file before restarting the server: ledgerbox config check FILE\n";

/* Removes every setting from this process's environment, so config_load()
 * sees defaults and the file only. */
static void settings_env_clear(void)
{
	size_t n;
	const struct config_setting *s = config_settings(&n);

	for (size_t i = 0; i < n; i++)
		unsetenv(s[i].variable);
}

/* The file's name of a setting: the variable without LEDGERBOX_, in lower
 * case. Returns -EINVAL for a variable that does not have the prefix. */
static int setting_file_name(const char *variable, char out[CONFIG_NAME_MAX])
{
	size_t plen = strlen(CONFIG_PREFIX), len;

	if (strncmp(variable, CONFIG_PREFIX, plen) != 0)
		return -EINVAL;
	len = strlen(variable + plen);
	if (len == 0 || len >= CONFIG_NAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i <= len; i++)
		out[i] = (char)tolower((unsigned char)variable[plen + i]);
	return 0;
}

/* Whether `name = value` alone is a file the server accepts. The line is
 * written to a memory file (nothing touches the disk) and read through
 * /proc/self/fd by config_load() itself, the same parser `serve` uses.
 * Returns 1 accepted, 0 refused, a negative errno when it cannot tell. */
static int setting_default_is_value(const char *name, const char *value)
{
	char line[CONFIG_NAME_MAX + 1024], path[64], err[512];
	struct config *cfg = malloc(sizeof(*cfg));
	int fd = memfd_create("ledgerbox-config-trial", MFD_CLOEXEC);
	int n = snprintf(line, sizeof(line), "%s = %s\n", name, value), r;

	if (!cfg || fd < 0 || n < 0 || (size_t)n >= sizeof(line)) {
		r = !cfg ? -ENOMEM : fd < 0 ? -errno : -E2BIG;
		goto out;
	}
	if (write(fd, line, (size_t)n) != n) {
		r = -EIO;
		goto out;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	r = config_load(cfg, path, err, sizeof(err)) == 0 ? 1 : 0;
out:
	if (fd >= 0)
		close(fd);
	free(cfg);
	return r;
}

static int sample_setting_print(FILE *out, const struct config_setting *s)
{
	char name[CONFIG_NAME_MAX];
	int r;

	/* The file cannot name another file: it is named from outside. */
	if (strcmp(s->variable, CONFIG_PREFIX "CONFIG") == 0) {
		fprintf(out,
			"\n# %s: %s\n# It names this file; set it in the environment, or use "
			"serve --config.\n",
			s->variable, s->description);
		return 0;
	}
	r = setting_file_name(s->variable, name);
	if (r < 0)
		return r;
	r = setting_default_is_value(name, s->default_text);
	if (r < 0)
		return r;
	fprintf(out, "\n# %s: %s\n", s->variable, s->description);
	if (r == 0)
		fprintf(out, "# default: %s; add a '%s = ...' line to change it\n", s->default_text, name);
	else if (s->default_text[0] == '\0')
		fprintf(out, "#%s =\n", name);
	else
		fprintf(out, "#%s = %s\n", name, s->default_text);
	return 0;
}

static int sample_write(FILE *out, const char *where)
{
	size_t n;
	const struct config_setting *s;

	settings_env_clear();
	s = config_settings(&n);
	fputs(sample_header, out);
	for (size_t i = 0; i < n; i++) {
		int r = sample_setting_print(out, &s[i]);
		if (r < 0) {
			fprintf(stderr, "ledgerbox config sample: cannot write %s: %s\n", s[i].variable,
				strerror(-r));
			return CONFIG_EXIT_BAD;
		}
	}
	if (fflush(out) != 0 || ferror(out)) {
		fprintf(stderr, "ledgerbox config sample: writing %s failed: %s\n", where,
			strerror(errno));
		return CONFIG_EXIT_BAD;
	}
	return CONFIG_EXIT_OK;
}

/*
 * --output FILE: the file is made owner-only (0600) whatever the umask,
 * because the settings filled in later (database_url, llm_key) are
 * secrets; a redirect made by the shell would follow the umask (0644
 * under the usual 022). An existing file is never replaced: it may be the
 * live configuration. A failed write removes what it made.
 */
static int config_sample_to_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	FILE *out;
	int r;

	if (fd < 0) {
		fprintf(stderr, "ledgerbox config sample: cannot create %s: %s%s\n", path,
			strerror(errno),
			errno == EEXIST ? " (it is never overwritten: remove it or pick another name)"
					: "");
		return CONFIG_EXIT_BAD;
	}
	if (fchmod(fd, 0600) < 0 || !(out = fdopen(fd, "w"))) {
		fprintf(stderr, "ledgerbox config sample: %s: %s\n", path, strerror(errno));
		close(fd);
		unlink(path);
		return CONFIG_EXIT_BAD;
	}
	r = sample_write(out, path);
	if (fsync(fileno(out)) < 0 && r == CONFIG_EXIT_OK) {
		fprintf(stderr, "ledgerbox config sample: writing %s failed: %s\n", path,
			strerror(errno));
		r = CONFIG_EXIT_BAD;
	}
	if (fclose(out) != 0 && r == CONFIG_EXIT_OK) {
		fprintf(stderr, "ledgerbox config sample: writing %s failed: %s\n", path,
			strerror(errno));
		r = CONFIG_EXIT_BAD;
	}
	if (r != CONFIG_EXIT_OK)
		unlink(path);
	return r;
}

static int config_check_file(const char *path)
{
	struct config *cfg = malloc(sizeof(*cfg));
	char err[1024];
	int r;

	if (!cfg) {
		fprintf(stderr, "ledgerbox config check: out of memory\n");
		return CONFIG_EXIT_BAD;
	}
	settings_env_clear();
	r = config_load(cfg, path, err, sizeof(err));
	if (r < 0) {
		free(cfg);
		fprintf(stderr, "ledgerbox config check: %s\n", err);
		return CONFIG_EXIT_BAD;
	}
	printf("%s: ok\n", path);
	/* What of the data may leave the machine is worth a line of its own. */
	printf("llm: %s\n", llm_privacy_summary(cfg->llm_send_samples, cfg->llm_url));
	free(cfg);
	return CONFIG_EXIT_OK;
}

static int config_usage_error(const char *what)
{
	fprintf(stderr, "ledgerbox config: %s\n%s", what, config_usage);
	return CONFIG_EXIT_USAGE;
}

static bool is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

int cmd_config(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i])) {
			fputs(config_usage, stdout);
			return CONFIG_EXIT_OK;
		}
	}
	if (argc < 2)
		return config_usage_error("say 'sample' or 'check FILE'");
	if (strcmp(argv[1], "sample") == 0) {
		if (argc == 2)
			return sample_write(stdout, "standard output");
		if (argc == 4 && (strcmp(argv[2], "--output") == 0 || strcmp(argv[2], "-o") == 0) &&
		    argv[3][0] != '\0')
			return config_sample_to_file(argv[3]);
		return config_usage_error("'sample' takes only --output FILE");
	}
	if (strcmp(argv[1], "check") == 0) {
		if (argc != 3 || argv[2][0] == '\0')
			return config_usage_error("'check' takes one FILE");
		return config_check_file(argv[2]);
	}
	fprintf(stderr, "ledgerbox config: unknown subcommand '%s'\n%s", argv[1], config_usage);
	return CONFIG_EXIT_USAGE;
}
