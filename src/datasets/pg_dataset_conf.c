/*
 * pg_dataset_conf: finding a PostgreSQL dataset, reading its URL file and
 * refusing a connection whose role could change anything.
 *
 * Invariants:
 * - postgres.url is opened with O_NOFOLLOW inside a dataset folder opened
 *   without following links, and used only when it is a regular file of
 *   this process's user that group and others cannot read: it may hold a
 *   password, and a URL anyone could swap would point the server anywhere.
 * - Messages never quote the URL (libpq's own name host and port only).
 * - The role check runs on every connection, not once per dataset: grants
 *   can change between two runs, and the check costs one catalog query.
 */
#include "datasets/pg_dataset.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datasets/datasets.h"
#include "datasets/internal.h"
#include "util/pg.h"

#include "util/banned.h"

bool pg_dataset_is(const char *data_dir, const char *name)
{
	char path[4096];
	struct stat st;
	int n;

	if (!dataset_name_valid(name))
		return false;
	n = snprintf(path, sizeof(path), "%s/%s/" PG_DATASET_URL_FILE, data_dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return false;
	/* The folder itself must be a real folder too, as for any dataset. */
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	path[n - (int)strlen("/" PG_DATASET_URL_FILE)] = '\0';
	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Checks the opened file's kind, owner and mode. */
static int url_file_ok(int fd, const char *name, char *err, size_t err_len)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode)) {
		ds_err(err, err_len, "dataset %s: " PG_DATASET_URL_FILE " is not a regular file",
		       name);
		return -EACCES;
	}
	if (st.st_uid != geteuid()) {
		ds_err(err, err_len,
		       "dataset %s: " PG_DATASET_URL_FILE " belongs to another user (uid %u): it "
		       "must belong to the user ledgerbox runs as", name, (unsigned)st.st_uid);
		return -EACCES;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		ds_err(err, err_len,
		       "dataset %s: " PG_DATASET_URL_FILE " has mode %04o, so others may read or "
		       "change it, and it may hold a password: make it 0600 (chmod 600)", name,
		       (unsigned)(st.st_mode & 07777));
		return -EACCES;
	}
	return 0;
}

/* The URL from the file's bytes: one line, blanks around it dropped. */
static int url_parse(char *text, size_t len, const char *name, char *ret, size_t ret_len,
		     char *err, size_t err_len)
{
	size_t start = strspn(text, " \t\r\n"), end = len;

	while (end > start && strchr(" \t\r\n", text[end - 1]))
		end--;
	text[end] = '\0';
	if (memchr(text + start, '\0', end - start) || strcspn(text + start, "\r\n \t") != end - start ||
	    !pg_url_is_postgres(text + start)) {
		ds_err(err, err_len,
		       "dataset %s: " PG_DATASET_URL_FILE " must hold one postgres:// URL on one line",
		       name);
		return -EINVAL;
	}
	if (end - start >= ret_len) {
		ds_err(err, err_len, "dataset %s: the URL is too long", name);
		return -ENAMETOOLONG;
	}
	memcpy(ret, text + start, end - start + 1);
	return 0;
}

int pg_dataset_url(const char *data_dir, const char *name, char *ret, size_t ret_len, char *err,
		   size_t err_len)
{
	char text[PG_DATASET_URL_MAX + 1];
	ssize_t n;
	int dir_fd, fd, r;

	if (!dataset_name_valid(name)) {
		ds_err(err, err_len, "not a valid dataset name");
		return -EINVAL;
	}
	r = ds_dir_open_dataset(data_dir, name, &dir_fd, err, err_len);
	if (r < 0)
		return r;
	fd = openat(dir_fd, PG_DATASET_URL_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	r = fd < 0 ? -errno : 0;
	close(dir_fd);
	if (r == -ELOOP)
		ds_err(err, err_len, "dataset %s: " PG_DATASET_URL_FILE " is a symbolic link, which "
				     "ledgerbox never follows", name);
	else if (r < 0)
		ds_err(err, err_len, "dataset %s: cannot open " PG_DATASET_URL_FILE ": %s", name,
		       strerror(-r));
	if (r < 0)
		return r == -ELOOP ? -EACCES : r;
	r = url_file_ok(fd, name, err, err_len);
	n = r == 0 ? read(fd, text, sizeof(text)) : 0;
	if (r == 0 && n < 0)
		r = -errno;
	close(fd);
	if (r < 0)
		return r;
	if ((size_t)n > PG_DATASET_URL_MAX) {
		ds_err(err, err_len, "dataset %s: " PG_DATASET_URL_FILE " is longer than %d bytes",
		       name, PG_DATASET_URL_MAX);
		return -EINVAL;
	}
	return url_parse(text, (size_t)n, name, ret, ret_len, err, err_len);
}

/* Each row names one way the role (or a role it belongs to, which it could
 * switch to with SET ROLE) could change something; the first one found is
 * the answer. Roles with server-file or program access are refused too:
 * COPY ... TO PROGRAM is allowed in a read-only transaction. */
static const char role_sql[] =
	"WITH m AS (SELECT oid, rolname, rolsuper, rolcreaterole FROM pg_roles"
	"           WHERE pg_has_role(current_user, oid, 'MEMBER')),"
	" s AS (SELECT oid, nspname FROM pg_namespace"
	"       WHERE nspname NOT IN ('pg_catalog', 'information_schema')"
	"       AND nspname !~ '^pg_(toast|temp_|toast_temp_)')"
	" SELECT problem FROM ("
	" SELECT 1 AS k, format('role %I is a superuser', rolname) AS problem FROM m WHERE rolsuper"
	" UNION ALL SELECT 2, format('role %I may create roles (CREATEROLE)', rolname)"
	"  FROM m WHERE rolcreaterole"
	" UNION ALL SELECT 3, format('role %I is a member of %I', current_user, rolname) FROM m"
	"  WHERE rolname IN ('pg_write_all_data', 'pg_write_server_files',"
	"  'pg_execute_server_program', 'pg_read_server_files')"
	" UNION ALL SELECT 4, format('role %I may create schemas in database %I', rolname,"
	"  current_database()) FROM m WHERE has_database_privilege(m.oid, current_database(),"
	"  'CREATE')"
	" UNION ALL SELECT 5, format('role %I may create objects in schema %I', m.rolname,"
	"  s.nspname) FROM m, s WHERE has_schema_privilege(m.oid, s.oid, 'CREATE')"
	" UNION ALL SELECT 6, format('role %I may write to table %I.%I', m.rolname, s.nspname,"
	"  c.relname) FROM m, s JOIN pg_class c ON c.relnamespace = s.oid"
	"  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND"
	"  (has_table_privilege(m.oid, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, TRIGGER')"
	"   OR has_any_column_privilege(m.oid, c.oid, 'INSERT, UPDATE'))"
	" UNION ALL SELECT 7, format('role %I may advance sequence %I.%I (nextval)', m.rolname,"
	"  s.nspname, c.relname) FROM m, s JOIN pg_class c ON c.relnamespace = s.oid"
	"  WHERE c.relkind = 'S' AND has_sequence_privilege(m.oid, c.oid, 'USAGE, UPDATE')"
	" ) p ORDER BY k LIMIT 1";

int pg_dataset_role_check(PGconn *c, const char *name, char *err, size_t err_len)
{
	char why[512] = "";
	PGresult *res = NULL;
	int r = pg_query(c, role_sql, 0, NULL, &res, why, sizeof(why));

	if (r < 0) {
		ds_err(err, err_len, "dataset %s: cannot check the PostgreSQL role: %s", name, why);
		return r == -ECONNRESET ? r : -EIO;
	}
	if (PQntuples(res) > 0) {
		ds_err(err, err_len,
		       "dataset %s: refused: its PostgreSQL role must be read-only, but %s; give the "
		       "dataset a role with only CONNECT, USAGE and SELECT (see "
		       "docs/postgres-datasets.md)", name, PQgetvalue(res, 0, 0));
		r = -EACCES;
	}
	PQclear(res);
	return r;
}

int pg_dataset_connect(const char *data_dir, const char *name, PGconn **ret, char *err,
		       size_t err_len)
{
	char url[PG_DATASET_URL_MAX + 1], why[512] = "";
	PGresult *res;
	PGconn *c = NULL;
	int r = pg_dataset_url(data_dir, name, url, sizeof(url), err, err_len);

	if (r < 0)
		return r;
	r = pg_connect(url, &c, why, sizeof(why));
	explicit_bzero(url, sizeof(url));
	if (r < 0) {
		ds_err(err, err_len, "dataset %s: %s", name, why);
		return r == -ENOMEM ? r : -ECONNREFUSED;
	}
	/* Values come back the same whatever the URL or the server prefer:
	 * UTF-8, ISO dates, floats that read back exactly. Fixed text of ours,
	 * so the simple protocol may carry several statements. */
	res = PQexec(c, "SET client_encoding = 'UTF8'; SET DateStyle = 'ISO, YMD';"
			" SET extra_float_digits = 1");
	r = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -EIO;
	PQclear(res);
	if (r < 0)
		ds_err(err, err_len, "dataset %s: PostgreSQL refused the session set-up", name);
	if (r == 0)
		r = pg_dataset_role_check(c, name, err, err_len);
	if (r < 0) {
		PQfinish(c);
		return r == -EACCES || r == -ENOMEM ? r : -ECONNREFUSED;
	}
	*ret = c;
	return 0;
}
