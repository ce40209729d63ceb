/*
 * demo_vec: growable arrays for the in-memory demo business.
 *
 * Elements are addressed by index, never kept as pointers across a push,
 * because a push may move the storage.
 */
#include "demo/demo_model.h"

#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

void demo_vec_init(struct demo_vec *v, size_t elem_size)
{
	memset(v, 0, sizeof(*v));
	v->elem_size = elem_size;
}

static int vec_grow(struct demo_vec *v)
{
	size_t cap = v->cap ? v->cap * 2 : 256;
	unsigned char *data;

	if (cap > SIZE_MAX / v->elem_size)
		return -1;
	data = realloc(v->data, cap * v->elem_size);
	if (!data)
		return -1;
	v->data = data;
	v->cap = cap;
	return 0;
}

void *demo_vec_push(struct demo_vec *v)
{
	unsigned char *slot;

	if (v->len == v->cap && vec_grow(v) < 0)
		return NULL;
	slot = v->data + v->len * v->elem_size;
	memset(slot, 0, v->elem_size);
	v->len++;
	return slot;
}

void *demo_vec_at(const struct demo_vec *v, size_t i)
{
	return v->data + i * v->elem_size;
}

void demo_vec_free(struct demo_vec *v)
{
	free(v->data);
	v->data = NULL;
	v->len = v->cap = 0;
}
