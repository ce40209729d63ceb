/*
 * Host configuration stays out of every sandbox.
 *
 * Fake secrets are planted, world-readable, in every place ledgerbox's
 * configuration can live: /etc/ledgerbox (where `make install` and the unit
 * put it), /etc/ledgerbox.conf, /usr/local/etc/ledgerbox and /usr/etc/ledgerbox
 * (where older installs with another PREFIX put it), /usr/local/etc and
 * /usr/local/share. Then real Python and SQL runs try to find and read them:
 * by their paths, by walking the whole root for their names, and by reading
 * every small file of the root's configuration and scratch folders.
 *
 * Planting needs root. Each file has a name unique to this run and is made
 * with O_EXCL, so nothing that exists is overwritten and parallel runs do
 * not collide; a folder is made only when missing. Teardown removes
 * exactly the files and folders this run made, newest first.
 *
 * The programs never hold the secrets in the clear (their code is a file
 * in the sandbox too): they get them reversed and turn them back.
 */
#include <sys/random.h>

#include <jansson.h>

#include "testlib.h"

#define MAX_PLANTED 16

static const char *const plant_dirs[] = {
	"/etc/ledgerbox", "/etc", "/usr/local/etc/ledgerbox", "/usr/etc/ledgerbox",
	"/usr/local/etc", "/usr/local/share/ledgerbox",
};

static struct {
	char name_token[64];	/* in each planted file's name */
	char content_secret[64]; /* in each planted file's content */
	char files[MAX_PLANTED][256];
	int n_files;
	char made_dirs[MAX_PLANTED][256];
	int n_made_dirs;
} P;

static void reversed(const char *in, char *out, size_t out_len)
{
	size_t n = strlen(in);

	assert_true(n < out_len);
	for (size_t i = 0; i < n; i++)
		out[i] = in[n - 1 - i];
	out[n] = '\0';
}

/* Makes the missing folders of `dir`, recording each for teardown. */
static void dirs_make(const char *dir)
{
	char path[256];
	size_t len = strlen(dir);

	assert_true(len < sizeof(path));
	for (size_t i = 1; i <= len; i++) {
		if (dir[i] != '/' && dir[i] != '\0')
			continue;
		memcpy(path, dir, i);
		path[i] = '\0';
		if (mkdir(path, 0755) == 0) {
			assert_true(P.n_made_dirs < MAX_PLANTED);
			snprintf(P.made_dirs[P.n_made_dirs++], sizeof(P.made_dirs[0]), "%s", path);
		} else {
			assert_int_equal(errno, EEXIST);
		}
	}
}

static void plant(const char *dir)
{
	char path[sizeof(P.files[0])], text[256];
	int fd, len;

	dirs_make(dir);
	snprintf(path, sizeof(path), "%s/hostfs-%s.conf", dir, P.name_token);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		fail_msg("planting %s: %s", path, strerror(errno));
	assert_true(P.n_files < MAX_PLANTED);
	memcpy(P.files[P.n_files++], path, sizeof(path));
	/* 0644 whatever the umask: the worst case, a world-readable file. */
	assert_int_equal(fchmod(fd, 0644), 0);
	len = snprintf(text, sizeof(text),
		       "database_url = postgres://ledgerbox:%s@db.internal/ledgerbox\n"
		       "llm_key = %s\n",
		       P.content_secret, P.content_secret);
	assert_int_equal(write(fd, text, (size_t)len), len);
	close(fd);
}

static int group_setup(void **state)
{
	unsigned char raw[12];
	char hex[25];

	(void)state;
	if (geteuid() != 0) {
		fprintf(stderr, "# planting in /etc and /usr/local needs root\n");
		return -1;
	}
	assert_int_equal(getrandom(raw, sizeof(raw), 0), (ssize_t)sizeof(raw));
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	snprintf(P.name_token, sizeof(P.name_token), "%d-%.12s", (int)getpid(), hex);
	snprintf(P.content_secret, sizeof(P.content_secret), "planted-secret-%s", hex + 12);
	for (size_t i = 0; i < sizeof(plant_dirs) / sizeof(plant_dirs[0]); i++)
		plant(plant_dirs[i]);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	for (int i = P.n_files - 1; i >= 0; i--)
		if (unlink(P.files[i]) < 0)
			fprintf(stderr, "# removing %s: %s\n", P.files[i], strerror(errno));
	for (int i = P.n_made_dirs - 1; i >= 0; i--)
		if (rmdir(P.made_dirs[i]) < 0)
			fprintf(stderr, "# removing %s: %s\n", P.made_dirs[i], strerror(errno));
	return 0;
}

static const char python_hunt[] =
	"import os\n"
	"name_token = '%s'[::-1]\n"
	"secret = '%s'[::-1]\n"
	"paths = [d + '/hostfs-' + name_token + '.conf' for d in %s]\n"
	"found = []\n"
	"for p in paths:\n"
	"    try:\n"
	"        with open(p) as f:\n"
	"            found.append(('read', f.read()))\n"
	"    except OSError:\n"
	"        pass\n"
	"skip = ('/proc', '/sys', '/dev')\n"
	"small_from = ('/etc', '/run', '/tmp', '/data', '/out', '/usr/share')\n"
	"for root, dirs, files in os.walk('/'):\n"
	"    dirs[:] = [d for d in dirs if os.path.join(root, d) not in skip]\n"
	"    for name in files:\n"
	"        path = os.path.join(root, name)\n"
	"        if name_token in name:\n"
	"            found.append(('name', path))\n"
	"        if not path.startswith(small_from) or os.path.islink(path):\n"
	"            continue\n"
	"        try:\n"
	"            if os.path.getsize(path) < (1 << 16):\n"
	"                with open(path, 'rb') as f:\n"
	"                    if secret.encode() in f.read():\n"
	"                        found.append(('content', path))\n"
	"        except OSError:\n"
	"            pass\n"
	"print('FOUND %%d' %% len(found))\n";

static char *plant_dirs_python(void)
{
	char *list = NULL;
	size_t len = 0;

	tl_append(&list, &len, "[", 1);
	for (size_t i = 0; i < sizeof(plant_dirs) / sizeof(plant_dirs[0]); i++) {
		tl_append(&list, &len, i ? ", '" : "'", i ? 3 : 1);
		tl_append(&list, &len, plant_dirs[i], strlen(plant_dirs[i]));
		tl_append(&list, &len, "'", 1);
	}
	tl_append(&list, &len, "]", 1);
	return list;
}

static void assert_no_secret(const struct tl_output *o)
{
	if (strstr(o->out, P.content_secret) || strstr(o->err, P.content_secret))
		fail_msg("a run read a planted secret\nstdout: %.2000s\nstderr: %.2000s", o->out,
			 o->err);
}

static void python_runs_find_no_planted_configuration(void **state)
{
	char token_rev[64], secret_rev[64], *dirs = plant_dirs_python(), *code, *data;
	char *argv[] = { (char *)tl_bin(), "exec", "--lang", "python", "--data", NULL, "-", NULL };
	struct tl_output o;
	json_t *r;

	(void)state;
	reversed(P.name_token, token_rev, sizeof(token_rev));
	reversed(P.content_secret, secret_rev, sizeof(secret_rev));
	assert_true(asprintf(&code, python_hunt, token_rev, secret_rev, dirs) > 0);
	assert_true(asprintf(&data, "%s", tl_demo()) > 0);
	argv[5] = data;
	tl_run(argv, code, &o);
	r = json_loads(o.out, 0, NULL);
	if (!r)
		fail_msg("no JSON from ledgerbox exec: %.2000s %.2000s", o.out, o.err);
	assert_string_equal(json_string_value(json_object_get(r, "status")), "ok");
	if (!strstr(json_string_value(json_object_get(r, "stdout")), "FOUND 0\n"))
		fail_msg("a Python run found planted configuration: %.2000s",
			 json_string_value(json_object_get(r, "stdout")));
	assert_no_secret(&o);
	json_decref(r);
	tl_output_free(&o);
	free(code);
	free(data);
	free(dirs);
}

/* SQL has no file functions of its own; ATTACH and readfile() are the
 * ways a query could name a host file. Each must come back without the
 * secret, whatever the runner says of it. */
static void sql_runs_read_no_planted_configuration(void **state)
{
	static const char *const forms[] = {
		"ATTACH DATABASE '%s' AS planted; SELECT * FROM planted.sqlite_master",
		"SELECT readfile('%s')",
		"SELECT * FROM sqlite_master WHERE name = (SELECT readfile('%s'))",
	};
	char db[4096];

	(void)state;
	snprintf(db, sizeof(db), "%s/ledger.sqlite", tl_demo());
	for (int f = 0; f < P.n_files; f++) {
		for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
			char *query;
			char *argv[] = { (char *)tl_bin(), "exec", "--lang", "sql", "--data", db, "-",
					 NULL };
			struct tl_output o;

			assert_true(asprintf(&query, forms[i], P.files[f]) > 0);
			tl_run(argv, query, &o);
			assert_non_null(strstr(o.out, "\"status\":"));
			assert_no_secret(&o);
			tl_output_free(&o);
			free(query);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(python_runs_find_no_planted_configuration),
		cmocka_unit_test(sql_runs_read_no_planted_configuration),
	};

	return cmocka_run_group_tests_name("hostfs_secrets", tests, group_setup, group_teardown);
}
