/*
 * cache_entry: what an entry must be to be stored, the embedding's BLOB
 * form (little-endian IEEE-754 float32, 4 bytes per component, so a
 * database moved between machines reads the same), and entries read back
 * from rows.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache_internal.h"
#include "util/banned.h"

bool cache_field_fits(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

bool cache_key_valid(const char *key)
{
	size_t i;

	if (!key)
		return false;
	for (i = 0; i < 64; i++) {
		char ch = key[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return false;
	}
	return key[64] == '\0';
}

bool cache_language_valid(const char *language)
{
	return language && (strcmp(language, "python") == 0 || strcmp(language, "sql") == 0);
}

static int text_check(const char *s, size_t max, bool required)
{
	if (!s)
		return required ? -EINVAL : 0;
	return strnlen(s, (size_t)max + 1) > max ? -E2BIG : 0;
}

static int fixed_fields_check(const struct cache_entry *e)
{
	if (!cache_field_fits(e->key, sizeof(e->key)) || !cache_key_valid(e->key))
		return -EINVAL;
	if (!cache_field_fits(e->scope, sizeof(e->scope)) || !e->scope[0])
		return -EINVAL;
	if (!cache_field_fits(e->dataset, sizeof(e->dataset)) ||
	    !cache_field_fits(e->fingerprint, sizeof(e->fingerprint)) ||
	    !cache_field_fits(e->language, sizeof(e->language)) ||
	    !cache_field_fits(e->model, sizeof(e->model)) ||
	    !cache_field_fits(e->embed_model, sizeof(e->embed_model)) ||
	    !cache_field_fits(e->run_id, sizeof(e->run_id)))
		return -EINVAL;
	return cache_language_valid(e->language) ? 0 : -EINVAL;
}

static int embedding_check(const float *v, size_t dim)
{
	if (dim == 0)
		return v ? -EINVAL : 0;
	if (!v)
		return -EINVAL;
	if (dim > CACHE_DIM_MAX)
		return -E2BIG;
	for (size_t i = 0; i < dim; i++) {
		if (!isfinite(v[i]))
			return -EINVAL;
	}
	return 0;
}

int cache_entry_check(const struct cache_entry *e)
{
	int r;

	if (!e)
		return -EINVAL;
	r = fixed_fields_check(e);
	if (r == 0)
		r = text_check(e->result, CACHE_RESULT_MAX, true);
	if (r == 0)
		r = text_check(e->code, CACHE_CODE_MAX, true);
	if (r == 0)
		r = text_check(e->query_norm, CACHE_QUERY_MAX, false);
	if (r == 0)
		r = text_check(e->signature, CACHE_SIGNATURE_MAX, false);
	if (r == 0)
		r = embedding_check(e->embedding, e->dim);
	return r;
}

int cache_blob_encode(const float *v, size_t dim, void **ret)
{
	unsigned char *out = malloc(dim * 4);

	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < dim; i++) {
		uint32_t bits;

		memcpy(&bits, &v[i], 4);
		out[i * 4] = (unsigned char)bits;
		out[i * 4 + 1] = (unsigned char)(bits >> 8);
		out[i * 4 + 2] = (unsigned char)(bits >> 16);
		out[i * 4 + 3] = (unsigned char)(bits >> 24);
	}
	*ret = out;
	return 0;
}

int cache_blob_decode(const void *blob, size_t len, float *out, size_t dim)
{
	const unsigned char *in = blob;

	if (len != dim * 4 || (dim && !blob))
		return -EIO;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (dim)
		memcpy(out, in, len); /* already in memory order */
#else
	for (size_t i = 0; i < dim; i++) {
		uint32_t bits = (uint32_t)in[i * 4] | (uint32_t)in[i * 4 + 1] << 8 |
				(uint32_t)in[i * 4 + 2] << 16 | (uint32_t)in[i * 4 + 3] << 24;

		memcpy(&out[i], &bits, 4);
	}
#endif
	return 0;
}

/* Copies a text column into a fixed field; -EIO when it does not fit (the
 * row was not written by cache_put()). */
static int column_fixed(sqlite3_stmt *st, int col, char *out, size_t size)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	size_t len = (size_t)sqlite3_column_bytes(st, col);

	if (!s || len >= size)
		return -EIO;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

static int column_dup(sqlite3_stmt *st, int col, char **ret)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	size_t len = (size_t)sqlite3_column_bytes(st, col);
	char *copy;

	if (!s)
		return sqlite3_errcode(sqlite3_db_handle(st)) == SQLITE_NOMEM ? -ENOMEM : -EIO;
	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, s, len + 1);
	*ret = copy;
	return 0;
}

static int column_embedding(sqlite3_stmt *st, int col, struct cache_entry *e)
{
	const void *blob = sqlite3_column_blob(st, col);
	size_t len = (size_t)sqlite3_column_bytes(st, col);

	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return 0;
	if (len == 0 || len % 4 || len / 4 > CACHE_DIM_MAX)
		return -EIO;
	e->embedding = malloc(len);
	if (!e->embedding)
		return -ENOMEM;
	e->dim = len / 4;
	return cache_blob_decode(blob, len, e->embedding, e->dim);
}

/* Columns as ENTRY_COLUMNS in cache_sql.c lists them. */
static int columns_fixed(sqlite3_stmt *st, struct cache_entry *e)
{
	int r = column_fixed(st, 0, e->key, sizeof(e->key));

	if (r == 0)
		r = column_fixed(st, 1, e->scope, sizeof(e->scope));
	if (r == 0)
		r = column_fixed(st, 2, e->dataset, sizeof(e->dataset));
	if (r == 0)
		r = column_fixed(st, 3, e->fingerprint, sizeof(e->fingerprint));
	if (r == 0)
		r = column_fixed(st, 4, e->language, sizeof(e->language));
	if (r == 0)
		r = column_fixed(st, 5, e->model, sizeof(e->model));
	if (r == 0)
		r = column_fixed(st, 9, e->embed_model, sizeof(e->embed_model));
	if (r == 0)
		r = column_fixed(st, 12, e->run_id, sizeof(e->run_id));
	return r;
}

int cache_entry_from_row(sqlite3_stmt *st, struct cache_entry *ret)
{
	struct cache_entry e;
	int r;

	memset(&e, 0, sizeof(e));
	r = columns_fixed(st, &e);
	if (r == 0)
		r = column_dup(st, 6, &e.query_norm);
	if (r == 0)
		r = column_dup(st, 7, &e.signature);
	if (r == 0)
		r = column_embedding(st, 8, &e);
	if (r == 0)
		r = column_dup(st, 10, &e.code);
	if (r == 0)
		r = column_dup(st, 11, &e.result);
	if (r < 0) {
		cache_entry_release(&e);
		return r;
	}
	e.created_ms = sqlite3_column_int64(st, 13);
	e.last_used_ms = sqlite3_column_int64(st, 14);
	e.hits = (uint64_t)sqlite3_column_int64(st, 15);
	*ret = e;
	return 0;
}

void cache_entry_release(struct cache_entry *e)
{
	if (!e)
		return;
	free(e->query_norm);
	free(e->signature);
	free(e->embedding);
	free(e->code);
	free(e->result);
	e->query_norm = e->signature = e->code = e->result = NULL;
	e->embedding = NULL;
	e->dim = 0;
}
