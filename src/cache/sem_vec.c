/*
 * sem_vec: vector arithmetic for embeddings (see semantic.h).
 *
 * Sums run in double so the result does not depend on how a compiler
 * orders float additions, and the square root is computed here: the
 * programs do not link libm.
 */
#include "cache/semantic.h"
#include "cache/sem_internal.h"

#include <math.h>

#include "util/banned.h"

double sem_sqrt(double x)
{
	double scale = 1.0, r = 1.0;

	if (!(x > 0.0))
		return 0.0;
	if (!isfinite(x))
		return x;
	/* Bring x into [0.25, 4) by powers of four, then Newton from 1. */
	while (x >= 4.0) {
		x *= 0.25;
		scale *= 2.0;
	}
	while (x < 0.25) {
		x *= 4.0;
		scale *= 0.5;
	}
	for (int i = 0; i < 8; i++)
		r = 0.5 * (r + x / r);
	return r * scale;
}

float sem_cosine(const float *a, const float *b, size_t dim)
{
	double dot = 0.0, na = 0.0, nb = 0.0, c;

	if (!a || !b)
		return 0.0f;
	for (size_t i = 0; i < dim; i++) {
		dot += (double)a[i] * b[i];
		na += (double)a[i] * a[i];
		nb += (double)b[i] * b[i];
	}
	if (!(na > 0.0) || !(nb > 0.0))
		return 0.0f;
	c = dot / (sem_sqrt(na) * sem_sqrt(nb));
	if (!(c == c))
		return 0.0f; /* an infinite component */
	return (float)(c > 1.0 ? 1.0 : c < -1.0 ? -1.0 : c);
}

void sem_l2_normalize(float *v, size_t dim)
{
	double sum = 0.0, inv;

	if (!v)
		return;
	for (size_t i = 0; i < dim; i++)
		sum += (double)v[i] * v[i];
	if (sum == 0.0)
		return;
	if (!isfinite(sum)) {
		for (size_t i = 0; i < dim; i++)
			v[i] = 0.0f;
		return;
	}
	inv = 1.0 / sem_sqrt(sum);
	for (size_t i = 0; i < dim; i++)
		v[i] = (float)(v[i] * inv);
}
