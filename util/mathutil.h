/* Small numeric helpers shared by the planner and the feedback loop. */
#ifndef ADP_MATHUTIL_H
#define ADP_MATHUTIL_H

#include <stddef.h>
#include <stdint.h>

/* The standard normal quantile, p in (0, 1) (Acklam's rational
 * approximation, relative error under 1.2e-9). */
double adp_norm_inv(double p);

/* Moves the k-th smallest of v[0..n-1] (k < n, no NAN) to v[k], smaller
 * or equal values before it and greater or equal after: the value a sort
 * would put there, without sorting. */
void adp_select_kth(double *v, size_t n, size_t k);

/* The next value of a splitmix64 generator whose state is *s: small,
 * fast and the same everywhere, for seeded draws that must repeat. */
static inline uint64_t adp_splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* A uniform draw in [0, 1) from the generator at *s. */
static inline double adp_uniform(uint64_t *s)
{
	return (double)(adp_splitmix64(s) >> 11) / 9007199254740992.0;
}

#endif
