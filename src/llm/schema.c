/*
 * schema: reads a dataset's SQLite file into a struct schema for prompts.
 *
 * Invariants:
 * - The file is only ever read: read-only URI (sqlite_uri.h), no extensions,
 *   defensive mode. Every statement here is fixed SQL of ours with names
 *   quoted by sqlite3_mprintf("%w").
 * - Each statement may run at most STATEMENT_MAX_OPS virtual-machine steps
 *   (a progress handler stops it). Samples come from a bounded prefix of
 *   each table; only a column with few distinct values there is read over
 *   its whole table, and all such reads of one load share a budget of
 *   SCHEMA_SAMPLE_MAX_OPS steps, so loading time is bounded whatever the
 *   data. A read the budget stops leaves its list marked as examples.
 * - A sample list is called complete only when a read reached the end of
 *   the table and found no more distinct values than it kept, none of them
 *   cut or left out (a blob).
 * - A table that cannot be read (a virtual table whose module is missing)
 *   is kept with what could be learnt: rows = -1, maybe no columns.
 */
#include "llm/schema.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "util/utf8.h"
#include "util/sqlite_uri.h"

#include "util/banned.h"

#define STATEMENT_MAX_OPS 20000000u /* VM steps one loading statement may take */
#define PROGRESS_EVERY 1000	    /* VM steps between two calls of the handler */

struct loader {
	sqlite3 *db;
	unsigned ticks;       /* progress handler calls since the statement began */
	unsigned limit;       /* handler calls the statement may take */
	uint64_t sample_left; /* handler calls left for whole-table sample reads */
	size_t max_samples;
};

/* What the reads of one column's samples found besides the values. */
struct sample_state {
	bool more;    /* a distinct value beyond max_samples was seen */
	bool inexact; /* a value was cut, cleaned or left out (a blob) */
};

static void set_err(char *err, size_t err_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !err_len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

/* ---- opening ---------------------------------------------------------- */

static int configure(sqlite3 *db)
{
	static const int off[] = { SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION,
				   SQLITE_DBCONFIG_TRUSTED_SCHEMA,
				   SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER };
	int now = -1;

	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
		if (sqlite3_db_config(db, off[i], 0, &now) != SQLITE_OK || now != 0)
			return -EIO;
	}
	if (sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, &now) != SQLITE_OK || now != 1)
		return -EIO;
	if (sqlite3_enable_load_extension(db, 0) != SQLITE_OK)
		return -EIO;
	sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
	sqlite3_limit(db, SQLITE_LIMIT_WORKER_THREADS, 0);
	return 0;
}

/* Refuses what SQLite would open badly (a FIFO blocks) and names the
 * reason; SQLite then opens the file itself. */
static int check_path(const char *path, char *err, size_t err_len)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		set_err(err, err_len, "cannot open database %s: %s", path, strerror(errno));
		return -EIO;
	}
	if (!S_ISREG(st.st_mode)) {
		set_err(err, err_len, "cannot open database %s: not a regular file", path);
		return -EIO;
	}
	return 0;
}

int schema_db_open(const char *sqlite_path, struct sqlite3 **ret, char *err, size_t err_len)
{
	sqlite3 *db = NULL;
	int r, rc;

	r = check_path(sqlite_path, err, err_len);
	if (r == 0)
		r = sqlite_ro_open(sqlite_path, &db, err, err_len);
	if (r < 0)
		return r;
	if (configure(db) < 0) {
		set_err(err, err_len, "cannot open database %s: cannot apply read-only settings",
			sqlite_path);
		sqlite3_close(db);
		return -EIO;
	}
	/* Opening is lazy: reading the schema is what finds a damaged file or
	 * one that is not a database. */
	rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		set_err(err, err_len, "cannot open database %s: %s", sqlite_path,
			sqlite3_errmsg(db));
		sqlite3_close(db);
		return rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
	}
	*ret = db;
	return 0;
}

/* ---- text ------------------------------------------------------------- */

/* A copy of s[0..len) that is valid UTF-8, has control characters turned
 * into spaces and is cut to at most max_bytes on a character boundary.
 * NULL when out of memory. */
static char *clean_text(const char *s, size_t len, size_t max_bytes)
{
	/* Replacement characters only lengthen the text, so the first
	 * max_bytes of the result come from the first max_bytes of input;
	 * looking at a few more keeps a sequence at the cut whole. */
	size_t take = len < max_bytes + 4 ? len : max_bytes + 4, fixed_len, n;
	char *fixed = NULL, *out;

	if (utf8_sanitize(s, take, &fixed, &fixed_len) < 0)
		return NULL;
	out = malloc(fixed_len + 1);
	if (out) {
		memcpy(out, fixed ? fixed : s, fixed_len);
		out[fixed_len] = '\0';
		for (size_t i = 0; i < fixed_len; i++) {
			if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
				out[i] = ' ';
		}
		n = utf8_cut(out, max_bytes);
		out[n] = '\0';
	}
	free(fixed);
	return out;
}

/* Names are what a query must spell exactly, so they are never changed:
 * one that is too long, invalid UTF-8 or has control characters cannot be
 * put in a prompt usefully and is left out. */
static bool name_usable(const unsigned char *name, size_t len)
{
	char *fixed = NULL;
	size_t fixed_len;

	if (!name || len == 0 || len > SCHEMA_NAME_MAX_BYTES || strlen((const char *)name) != len)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (name[i] < 0x20 || name[i] == 0x7f)
			return false;
	}
	if (utf8_sanitize((const char *)name, len, &fixed, &fixed_len) < 0 || fixed) {
		free(fixed);
		return false;
	}
	return true;
}

/* ---- statements ------------------------------------------------------- */

static int on_progress(void *arg)
{
	struct loader *l = arg;

	return ++l->ticks > l->limit;
}

static int loader_prepare(struct loader *l, const char *sql, sqlite3_stmt **ret)
{
	int rc;

	l->ticks = 0;
	l->limit = STATEMENT_MAX_OPS / PROGRESS_EVERY;
	rc = sqlite3_prepare_v2(l->db, sql, -1, ret, NULL);
	if (rc == SQLITE_NOMEM)
		return -ENOMEM;
	return rc == SQLITE_OK ? 0 : -EIO;
}

static int64_t count_rows(struct loader *l, const char *table)
{
	char *sql = sqlite3_mprintf("SELECT count(*) FROM \"%w\"", table);
	sqlite3_stmt *st = NULL;
	int64_t rows = -1;

	if (sql && loader_prepare(l, sql, &st) == 0 && sqlite3_step(st) == SQLITE_ROW)
		rows = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_free(sql);
	return rows;
}

static int add_column(struct schema_table *t, const unsigned char *name, const unsigned char *type,
		      size_t type_len, int pk)
{
	struct schema_column *c = &t->columns[t->n_columns];

	memset(c, 0, sizeof(*c));
	c->name = strdup((const char *)name);
	c->type = clean_text(type ? (const char *)type : "", type ? type_len : 0,
			     SCHEMA_TYPE_MAX_BYTES);
	if (!c->name || !c->type) {
		free(c->name);
		free(c->type);
		return -ENOMEM;
	}
	c->pk = pk;
	t->n_columns++;
	return 0;
}

static int load_columns(struct loader *l, struct schema_table *t)
{
	sqlite3_stmt *st = NULL;
	int r = loader_prepare(l, "SELECT name, type, pk FROM pragma_table_info(?1)", &st);

	if (r == 0)
		r = sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC) == SQLITE_OK ? 0 : -ENOMEM;
	if (r == 0) {
		t->columns = calloc(SCHEMA_MAX_COLUMNS, sizeof(*t->columns));
		if (!t->columns)
			r = -ENOMEM;
	}
	while (r == 0 && t->n_columns < SCHEMA_MAX_COLUMNS && sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *name = sqlite3_column_text(st, 0);

		if (name_usable(name, (size_t)sqlite3_column_bytes(st, 0)))
			r = add_column(t, name, sqlite3_column_text(st, 1),
				       (size_t)sqlite3_column_bytes(st, 1), sqlite3_column_int(st, 2));
	}
	sqlite3_finalize(st);
	/* Room was made for the most columns a table may have; give back the
	 * rest (shrinking cannot fail in a way that loses the data). */
	if (r == 0 && t->n_columns > 0 && t->n_columns < SCHEMA_MAX_COLUMNS) {
		struct schema_column *fit = realloc(t->columns, t->n_columns * sizeof(*fit));

		if (fit)
			t->columns = fit;
	}
	/* A table SQLite cannot describe is kept without columns. */
	return r == -ENOMEM ? r : 0;
}

/* Adds the value in column i of the current row to c's samples unless it
 * is NULL, a blob, or equal (after cutting) to one already there; one
 * beyond max is only noted (st->more). */
static int add_sample(struct schema_column *c, sqlite3_stmt *st, int i, size_t max,
		      struct sample_state *ss)
{
	int type = sqlite3_column_type(st, i);
	const char *text;
	char *sample;
	size_t len;

	if (type == SQLITE_NULL)
		return 0;
	if (type == SQLITE_BLOB) {
		ss->inexact = true;
		return 0;
	}
	text = (const char *)sqlite3_column_text(st, i);
	if (!text)
		return sqlite3_errcode(sqlite3_db_handle(st)) == SQLITE_NOMEM ? -ENOMEM : 0;
	len = (size_t)sqlite3_column_bytes(st, i);
	/* Most rows repeat a value already kept as it is: the whole-table
	 * pass must not clean every cell to find that out. */
	for (size_t k = 0; k < c->n_samples; k++) {
		if (strlen(c->samples[k]) == len && memcmp(c->samples[k], text, len) == 0)
			return 0;
	}
	sample = clean_text(text, len, SCHEMA_SAMPLE_MAX_BYTES);
	if (!sample)
		return -ENOMEM;
	for (size_t k = 0; k < c->n_samples; k++) {
		if (strcmp(c->samples[k], sample) == 0) {
			free(sample);
			return 0;
		}
	}
	if (c->n_samples == max) {
		ss->more = true;
		free(sample);
		return 0;
	}
	if (strlen(sample) != len || memcmp(sample, text, len) != 0)
		ss->inexact = true;
	c->samples[c->n_samples++] = sample;
	return 0;
}

/* "SELECT "a", "b" FROM "t" LIMIT n": one pass over the first rows fills
 * every column's samples. */
static char *samples_sql(const struct schema_table *t)
{
	sqlite3_str *s = sqlite3_str_new(NULL);

	sqlite3_str_appendall(s, "SELECT ");
	for (size_t i = 0; i < t->n_columns; i++)
		sqlite3_str_appendf(s, "%s\"%w\"", i ? ", " : "", t->columns[i].name);
	sqlite3_str_appendf(s, " FROM \"%w\" LIMIT %d", t->name, SCHEMA_SAMPLE_SCAN_ROWS);
	return sqlite3_str_finish(s);
}

/* The first pass, over the table's first rows. *ret_end: it saw them all. */
static int samples_prefix(struct loader *l, struct schema_table *t, struct sample_state *ss,
			  bool *ret_end)
{
	sqlite3_stmt *st = NULL;
	char *sql = samples_sql(t);
	int r = 0, rc = SQLITE_ERROR, rows = 0;

	if (!sql)
		return -ENOMEM;
	if (loader_prepare(l, sql, &st) == 0) {
		bool want = true;

		while (r == 0 && want && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			rows++;
			want = false;
			for (size_t i = 0; r == 0 && i < t->n_columns; i++) {
				if (!ss[i].more)
					r = add_sample(&t->columns[i], st, (int)i, l->max_samples,
						       &ss[i]);
				want = want || !ss[i].more;
			}
		}
	}
	/* The LIMIT ends the statement too: a full prefix says nothing. */
	*ret_end = rc == SQLITE_DONE && rows < SCHEMA_SAMPLE_SCAN_ROWS;
	sqlite3_finalize(st);
	sqlite3_free(sql);
	return r;
}

/* "SELECT "a", "c" FROM "t"": the columns still short-listed, whole. */
static char *rest_sql(const struct schema_table *t, const struct sample_state *ss, int *cols,
		      int *ret_n)
{
	sqlite3_str *s = sqlite3_str_new(NULL);
	int n = 0;

	sqlite3_str_appendall(s, "SELECT ");
	for (size_t i = 0; i < t->n_columns; i++) {
		if (ss[i].more)
			continue;
		sqlite3_str_appendf(s, "%s\"%w\"", n ? ", " : "", t->columns[i].name);
		cols[n++] = (int)i;
	}
	sqlite3_str_appendf(s, " FROM \"%w\"", t->name);
	*ret_n = n;
	return sqlite3_str_finish(s);
}

/* The second pass: the whole table, for the columns that showed few
 * values in the first, within what is left of the load's budget.
 * *ret_end: it reached the end of the table. */
static int samples_rest(struct loader *l, struct schema_table *t, struct sample_state *ss,
			bool *ret_end)
{
	int *cols = calloc(t->n_columns, sizeof(*cols)), n = 0, r = 0, rc = SQLITE_ERROR;
	char *sql = cols ? rest_sql(t, ss, cols, &n) : NULL;
	sqlite3_stmt *st = NULL;

	*ret_end = false;
	if (!sql) {
		free(cols);
		return -ENOMEM;
	}
	if (n > 0 && loader_prepare(l, sql, &st) == 0) {
		bool want = true;

		if (l->sample_left < l->limit)
			l->limit = (unsigned)l->sample_left;
		while (r == 0 && want && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			want = false;
			for (int k = 0; r == 0 && k < n; k++) {
				struct sample_state *c = &ss[cols[k]];

				if (!c->more)
					r = add_sample(&t->columns[cols[k]], st, k, l->max_samples, c);
				want = want || !c->more;
			}
		}
		*ret_end = rc == SQLITE_DONE;
		l->sample_left -= l->ticks < l->sample_left ? l->ticks : l->sample_left;
	}
	sqlite3_finalize(st);
	sqlite3_free(sql);
	free(cols);
	return r;
}

static int load_samples(struct loader *l, struct schema_table *t)
{
	struct sample_state *ss;
	bool end = false;
	int r;

	if (l->max_samples == 0 || t->n_columns == 0)
		return 0;
	ss = calloc(t->n_columns, sizeof(*ss));
	if (!ss)
		return -ENOMEM;
	r = samples_prefix(l, t, ss, &end);
	/* Few values in the first rows: perhaps all of them, perhaps the rest
	 * come later (rows in date order, a status only recent rows have).
	 * Only reading the rest can tell. */
	if (r == 0 && !end && l->sample_left > 0)
		r = samples_rest(l, t, ss, &end);
	for (size_t i = 0; r == 0 && i < t->n_columns; i++)
		t->columns[i].samples_complete = end && !ss[i].more && !ss[i].inexact;
	free(ss);
	return r;
}

/* One-column foreign keys (a key over several columns is left out: it
 * cannot be written on one column). */
static int load_foreign_keys(struct loader *l, struct schema_table *t)
{
	sqlite3_stmt *st = NULL;
	int r = loader_prepare(l,
			       "SELECT \"from\", \"table\", \"to\" FROM pragma_foreign_key_list(?1)"
			       " WHERE id IN (SELECT id FROM pragma_foreign_key_list(?1)"
			       " GROUP BY id HAVING count(*) = 1)",
			       &st);

	if (r == 0)
		r = sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC) == SQLITE_OK ? 0 : -ENOMEM;
	while (r == 0 && sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *from = sqlite3_column_text(st, 0);
		const unsigned char *table = sqlite3_column_text(st, 1);
		const unsigned char *to = sqlite3_column_text(st, 2);

		if (!from || !name_usable(table, (size_t)sqlite3_column_bytes(st, 1)) ||
		    (to && !name_usable(to, (size_t)sqlite3_column_bytes(st, 2))))
			continue;
		for (size_t i = 0; i < t->n_columns; i++) {
			struct schema_column *c = &t->columns[i];

			if (c->ref_table || strcmp(c->name, (const char *)from) != 0)
				continue;
			c->ref_table = strdup((const char *)table);
			c->ref_column = to ? strdup((const char *)to) : NULL;
			if (!c->ref_table || (to && !c->ref_column))
				r = -ENOMEM;
			break;
		}
	}
	sqlite3_finalize(st);
	/* Keys SQLite cannot list are left out, like a table it cannot read. */
	return r == -ENOMEM ? r : 0;
}

static int load_table(struct loader *l, struct schema_table *t)
{
	int r = load_columns(l, t);

	if (r == 0)
		r = load_foreign_keys(l, t);
	if (r == 0) {
		t->rows = count_rows(l, t->name);
		r = load_samples(l, t);
	}
	return r;
}

static int load_tables(struct loader *l, struct schema *s, char *err, size_t err_len)
{
	sqlite3_stmt *st = NULL;
	int r = loader_prepare(l,
			       "SELECT name FROM sqlite_schema WHERE type = 'table'"
			       " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
			       &st);

	if (r == 0) {
		s->tables = calloc(SCHEMA_MAX_TABLES, sizeof(*s->tables));
		r = s->tables ? 0 : -ENOMEM;
	}
	while (r == 0 && s->n_tables < SCHEMA_MAX_TABLES) {
		int rc = sqlite3_step(st);
		const unsigned char *name;
		struct schema_table *t = &s->tables[s->n_tables];

		if (rc != SQLITE_ROW) {
			r = rc == SQLITE_DONE ? 0 : rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
			break;
		}
		name = sqlite3_column_text(st, 0);
		if (!name_usable(name, (size_t)sqlite3_column_bytes(st, 0)))
			continue;
		t->name = strdup((const char *)name);
		if (!t->name)
			r = -ENOMEM;
		else
			s->n_tables++;
	}
	if (r < 0)
		set_err(err, err_len, "cannot read the list of tables: %s",
			r == -ENOMEM ? "out of memory" : sqlite3_errmsg(l->db));
	sqlite3_finalize(st);
	/* Columns are read after the list is done: one statement at a time. */
	for (size_t i = 0; r == 0 && i < s->n_tables; i++) {
		r = load_table(l, &s->tables[i]);
		if (r < 0)
			set_err(err, err_len, "out of memory while reading table %s",
				s->tables[i].name);
	}
	return r;
}

/* ---- files ------------------------------------------------------------ */

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool file_listed(int dir_fd, const char *name)
{
	struct stat st;

	return name[0] != '.' && name_usable((const unsigned char *)name, strlen(name)) &&
	       fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

/* The files a Python run sees in /data. A folder that cannot be read
 * leaves the list empty: the prompt then names only the SQLite file. */
static int load_files(const char *sqlite_path, struct schema *s)
{
	const char *slash = strrchr(sqlite_path, '/');
	char *dir = slash ? strndup(sqlite_path, (size_t)(slash - sqlite_path) + 1) : strdup(".");
	struct dirent *de;
	DIR *d = NULL;
	int fd, r = 0;

	if (!dir)
		return -ENOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd >= 0)
		d = fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	s->files = calloc(SCHEMA_MAX_FILES, sizeof(*s->files));
	if (!s->files)
		r = -ENOMEM;
	while (r == 0 && s->n_files < SCHEMA_MAX_FILES && (de = readdir(d))) {
		if (!file_listed(dirfd(d), de->d_name))
			continue;
		s->files[s->n_files] = strdup(de->d_name);
		if (!s->files[s->n_files])
			r = -ENOMEM;
		else
			s->n_files++;
	}
	closedir(d);
	if (r == 0)
		qsort(s->files, s->n_files, sizeof(*s->files), compare_names);
	return r;
}

/* ---- public ----------------------------------------------------------- */

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

int schema_load(const char *dataset, const char *sqlite_path, size_t max_samples, struct schema *ret,
		char *err, size_t err_len)
{
	struct schema s = { 0 };
	struct loader l = { .max_samples = max_samples,
			    .sample_left = SCHEMA_SAMPLE_MAX_OPS / PROGRESS_EVERY };
	int r;

	if (!sqlite_path || !*sqlite_path || !*base_name(sqlite_path)) {
		set_err(err, err_len, "no SQLite file given");
		return -EINVAL;
	}
	if (l.max_samples > SCHEMA_MAX_SAMPLES)
		l.max_samples = SCHEMA_MAX_SAMPLES;
	r = schema_db_open(sqlite_path, &l.db, err, err_len);
	if (r < 0)
		return r;
	sqlite3_progress_handler(l.db, PROGRESS_EVERY, on_progress, &l);
	s.dataset = clean_text(dataset ? dataset : "", dataset ? strlen(dataset) : 0,
			       SCHEMA_NAME_MAX_BYTES);
	s.sqlite_file = strdup(base_name(sqlite_path));
	r = s.dataset && s.sqlite_file ? 0 : -ENOMEM;
	if (r == 0)
		r = load_tables(&l, &s, err, err_len);
	if (r == 0)
		r = load_files(sqlite_path, &s);
	if (r == -ENOMEM)
		set_err(err, err_len, "out of memory while reading %s", sqlite_path);
	sqlite3_close(l.db);
	if (r < 0) {
		schema_release(&s);
		return r;
	}
	*ret = s;
	return 0;
}

/* {"table", "column"} of a one-column foreign key, when its names are
 * usable. */
static int column_ref_from_json(struct schema_column *c, json_t *ref)
{
	const char *table = json_string_value(json_object_get(ref, "table"));
	const char *column = json_string_value(json_object_get(ref, "column"));

	if (!table || !column || !name_usable((const unsigned char *)table, strlen(table)) ||
	    !name_usable((const unsigned char *)column, strlen(column)))
		return 0;
	c->ref_table = strdup(table);
	c->ref_column = strdup(column);
	return c->ref_table && c->ref_column ? 0 : -ENOMEM;
}

static int table_from_json(json_t *j, struct schema_table *t)
{
	json_t *cols = json_object_get(j, "columns"), *c;
	size_t i;

	t->name = strdup(json_string_value(json_object_get(j, "name")));
	t->rows = json_integer_value(json_object_get(j, "rows"));
	t->columns = calloc(json_array_size(cols) + 1, sizeof(*t->columns));
	if (!t->name || !t->columns)
		return -ENOMEM;
	json_array_foreach(cols, i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *type = json_string_value(json_object_get(c, "type"));

		if (t->n_columns >= SCHEMA_MAX_COLUMNS)
			break;
		if (!name_usable((const unsigned char *)name, name ? strlen(name) : 0))
			continue;
		if (add_column(t, (const unsigned char *)name, (const unsigned char *)type,
			       type ? strlen(type) : 0,
			       (int)json_integer_value(json_object_get(c, "pk"))) < 0 ||
		    column_ref_from_json(&t->columns[t->n_columns - 1],
					 json_object_get(c, "references")) < 0)
			return -ENOMEM;
	}
	return 0;
}

int schema_from_tables(const char *dataset, json_t *tables, struct schema *ret, char *err,
		       size_t err_len)
{
	struct schema s = { .postgres = true };
	json_t *t;
	size_t i;
	int r;

	s.dataset = clean_text(dataset ? dataset : "", dataset ? strlen(dataset) : 0,
			       SCHEMA_NAME_MAX_BYTES);
	s.tables = calloc(SCHEMA_MAX_TABLES, sizeof(*s.tables));
	r = s.dataset && s.tables ? 0 : -ENOMEM;
	json_array_foreach(tables, i, t) {
		const char *name = json_string_value(json_object_get(t, "name"));

		if (r < 0 || s.n_tables >= SCHEMA_MAX_TABLES)
			break;
		if (!name_usable((const unsigned char *)name, name ? strlen(name) : 0) ||
		    strchr(name, '.'))
			continue;
		r = table_from_json(t, &s.tables[s.n_tables++]);
	}
	if (r < 0) {
		set_err(err, err_len, "out of memory while reading the tables of %s", s.dataset ? s.dataset : "");
		schema_release(&s);
		return r;
	}
	*ret = s;
	return 0;
}

void schema_release(struct schema *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_tables; i++) {
		struct schema_table *t = &s->tables[i];

		for (size_t j = 0; j < t->n_columns; j++) {
			free(t->columns[j].name);
			free(t->columns[j].type);
			free(t->columns[j].ref_table);
			free(t->columns[j].ref_column);
			for (size_t k = 0; k < t->columns[j].n_samples; k++)
				free(t->columns[j].samples[k]);
		}
		free(t->columns);
		free(t->name);
	}
	for (size_t i = 0; i < s->n_files; i++)
		free(s->files[i]);
	free(s->files);
	free(s->tables);
	free(s->dataset);
	free(s->sqlite_file);
	memset(s, 0, sizeof(*s));
}
