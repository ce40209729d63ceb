/*
 * fuzz: what the libFuzzer harnesses in fuzz/ share.
 *
 * - The entry points' prototypes (libFuzzer calls them; no harness has a
 *   main()).
 * - FUZZ_ASSERT: an invariant the parser under test documents. A broken
 *   one prints where and abort()s, so libFuzzer keeps the input as a crash.
 * - A deterministic cutter that splits an input into chunks at points
 *   taken from the input itself, so chunk boundaries are fuzzed too.
 * - An append-only log of what a parser reported, to compare two runs of
 *   the same input (one chunked, one whole) byte for byte.
 *
 * Everything here is static inline: each harness is one program.
 */
#ifndef LEDGERBOX_FUZZ_H
#define LEDGERBOX_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sanitizer/common_interface_defs.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* What the harness made outside its memory (a folder under /tmp), to
 * remove however the process ends: a failure ends it without running
 * atexit() handlers. Each harness is one translation unit, so one copy. */
static void (*fuzz_cleanup)(void);

#define FUZZ_ASSERT(cond)                                                                  \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, \
				#cond);                                                    \
			if (fuzz_cleanup)                                                  \
				fuzz_cleanup();                                            \
			abort();                                                           \
		}                                                                          \
	} while (0)

/* Runs fn at a normal exit, on a broken invariant and on a sanitizer's
 * report. (A timeout or running out of memory still leaves the folder.) */
static inline void fuzz_on_exit(void (*fn)(void))
{
	fuzz_cleanup = fn;
	__sanitizer_set_death_callback(fn);
	FUZZ_ASSERT(atexit(fn) == 0);
}

/* Memory the harness itself needs; running out is not the parser's fault,
 * but there is nothing sensible to test without it. */
static inline void *fuzz_alloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	FUZZ_ASSERT(p != NULL);
	return p;
}

/* A copy of data[0..len) in a heap block of exactly len bytes, so that
 * AddressSanitizer catches a parser reading one byte past a chunk. */
static inline char *fuzz_dup_exact(const void *data, size_t len)
{
	char *p = fuzz_alloc(len);

	if (len)
		memcpy(p, data, len);
	return p;
}

/* The same with a NUL after it (len + 1 bytes). */
static inline char *fuzz_dup_str(const void *data, size_t len)
{
	char *p = fuzz_alloc(len + 1);

	if (len)
		memcpy(p, data, len);
	p[len] = '\0';
	return p;
}

/* ---- chunk cutter ------------------------------------------------------ */

struct fuzz_cutter {
	uint32_t state;
	size_t max_chunk; /* 0: everything in one chunk */
};

/* seed's two low bits pick the chunk sizes (1 byte, up to 3, up to 17, up
 * to 64); the rest seeds the generator that picks each size. */
static inline void fuzz_cutter_init(struct fuzz_cutter *c, uint8_t seed)
{
	static const size_t sizes[4] = { 1, 3, 17, 64 };

	c->state = 0x9e3779b9u ^ ((uint32_t)seed * 2654435761u);
	if (c->state == 0)
		c->state = 1;
	c->max_chunk = sizes[seed & 3];
}

static inline uint32_t fuzz_cutter_rand(struct fuzz_cutter *c)
{
	/* xorshift32: deterministic, so a saved input replays the same cuts. */
	c->state ^= c->state << 13;
	c->state ^= c->state >> 17;
	c->state ^= c->state << 5;
	return c->state;
}

/* The length of the next chunk when `left` bytes remain: 0 now and then
 * (an empty feed must change nothing), else 1 to min(left, max_chunk). */
static inline size_t fuzz_cutter_next(struct fuzz_cutter *c, size_t left)
{
	uint32_t r;

	if (c->max_chunk == 0)
		return left;
	r = fuzz_cutter_rand(c);
	if (r % 16 == 0)
		return 0;
	r = 1 + (r >> 4) % (uint32_t)c->max_chunk;
	return r < left ? r : left;
}

/* ---- report log -------------------------------------------------------- */

struct fuzz_log {
	char *data;
	size_t len, cap;
};

static inline void fuzz_log_add(struct fuzz_log *l, const void *data, size_t len)
{
	if (l->len + len + sizeof(len) > l->cap) {
		size_t cap = l->cap ? l->cap : 256;
		while (cap < l->len + len + sizeof(len))
			cap *= 2;
		l->data = realloc(l->data, cap);
		FUZZ_ASSERT(l->data != NULL);
		l->cap = cap;
	}
	/* Length first, so "ab","c" and "a","bc" log differently. */
	memcpy(l->data + l->len, &len, sizeof(len));
	l->len += sizeof(len);
	if (len)
		memcpy(l->data + l->len, data, len);
	l->len += len;
}

static inline void fuzz_log_add_u64(struct fuzz_log *l, uint64_t v)
{
	fuzz_log_add(l, &v, sizeof(v));
}

static inline bool fuzz_log_equal(const struct fuzz_log *a, const struct fuzz_log *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static inline void fuzz_log_release(struct fuzz_log *l)
{
	free(l->data);
	memset(l, 0, sizeof(*l));
}

#endif
