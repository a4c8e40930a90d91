/* Stable sorts of doubles, and of (value, weight) pairs by value: a
 * radix sort for long arrays, else a bottom-up merge sort (insertion-
 * sorted runs, then merges alternating between the array and the
 * scratch; both steps take the left element on ties, which keeps the
 * sort stable). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "forecast/sort.h"
#include "util/mathutil.h"

#define SORT_RUN 16
/* One merge sort per element type, so that the elements are values the
 * compiler keeps in registers: the merge picks the next element without
 * a branch on the comparison, which the processor cannot predict (the
 * branching merge was most of the sorts' time). */
#define MERGE_SORT(name, T, KEY)                                                            \
	static void name(T *v, size_t n, T *tmp)                                            \
	{                                                                                   \
		T *src = v, *dst = tmp, *t, x;                                              \
		size_t i, j, w;                                                             \
                                                                                            \
		for (i = 0; i < n; i += SORT_RUN) {                                         \
			size_t end = i + SORT_RUN < n ? i + SORT_RUN : n;                   \
                                                                                            \
			for (j = i + 1; j < end; j++) {                                     \
				size_t k = j;                                               \
                                                                                            \
				x = v[j];                                                   \
				for (; k > i && KEY(x) < KEY(v[k - 1]); k--)                \
					v[k] = v[k - 1];                                    \
				v[k] = x;                                                   \
			}                                                                   \
		}                                                                           \
		for (w = SORT_RUN; w < n; w *= 2) {                                         \
			for (i = 0; i < n; i += 2 * w) {                                    \
				size_t mid = i + w < n ? i + w : n, end = i + 2 * w < n ? i + 2 * w : n; \
				size_t a = i, b = mid, k = i;                               \
                                                                                            \
				for (; a < mid && b < end; k++) {                           \
					size_t tb = KEY(src[b]) < KEY(src[a]);              \
                                                                                            \
					dst[k] = src[tb ? b : a];                           \
					b += tb;                                            \
					a += 1 - tb;                                        \
				}                                                           \
				memcpy(dst + k, src + a, (mid - a) * sizeof(T));            \
				k += mid - a;                                               \
				memcpy(dst + k, src + b, (end - b) * sizeof(T));            \
			}                                                                   \
			t = src, src = dst, dst = t;                                        \
		}                                                                           \
		if (src != v)                                                               \
			memcpy(v, src, n * sizeof(T));                                      \
	}

#define KEY_D(e) (e)
#define KEY_WV(e) ((e).v)
MERGE_SORT(merge_sort_d, double, KEY_D)
MERGE_SORT(merge_sort_wv, struct forecast_wv, KEY_WV)

#define RADIX_BITS 11
#define RADIX_PASSES ((64 + RADIX_BITS - 1) / RADIX_BITS)
#define RADIX_MASK ((1u << RADIX_BITS) - 1)
#define RADIX_MIN 1024 /* below this the merge sort is faster (measured) */

static inline uint64_t bits_at(const char *p)
{
	uint64_t b;

	memcpy(&b, p, sizeof(b));
	return b;
}

static inline void bits_put(char *p, uint64_t b)
{
	memcpy(p, &b, sizeof(b));
}

/* Least significant digit first, each pass a stable counting sort, so
 * that the result is the stable sort of the keys: the merge sort's
 * order exactly, without its unpredictable comparisons, which made the
 * sorts a quarter of a plan's time at scale. Each double is turned in
 * place into an unsigned key in the order of "<" (the sign bit flipped
 * for positives, every bit for negatives) and back at the end; a pass
 * whose digit is the same for every key is skipped. Returns 0, with v
 * as it was, when a value is NAN or -0 (which "<" holds equal to 0, and
 * the keys would not): the merge sort takes those. Inlined into each
 * caller, so that an element's size is a constant and its copies are
 * moves, not a call to memcpy per element and pass (a third of the
 * sort). Digits of 11 bits: six passes instead of eight. */
static inline __attribute__((always_inline)) int radix_sort(char *v, size_t n, char *tmp, size_t sz)
{
	static const uint64_t top = (uint64_t)1 << 63;
	uint32_t cnt[RADIX_PASSES][RADIX_MASK + 1];
	char *src = v, *dst = tmp, *t;
	size_t i, p;

	for (i = 0; i < n; i++) {
		uint64_t b = bits_at(v + i * sz);

		/* NAN: exponent all ones and a mantissa; -0: the sign bit alone */
		if ((b & ~top) > 0x7ff0000000000000ull || b == top)
			return 0;
	}
	memset(cnt, 0, sizeof(cnt));
	for (i = 0; i < n; i++) {
		uint64_t b = bits_at(v + i * sz), k = b & top ? ~b : b | top;

		bits_put(v + i * sz, k);
		for (p = 0; p < RADIX_PASSES; p++)
			cnt[p][(k >> (p * RADIX_BITS)) & RADIX_MASK]++;
	}
	for (p = 0; p < RADIX_PASSES; p++) {
		uint32_t *c = cnt[p], sum = 0, x;
		size_t b, sh = p * RADIX_BITS;

		if (c[(bits_at(src) >> sh) & RADIX_MASK] == n)
			continue;
		for (b = 0; b <= RADIX_MASK; b++)
			x = c[b], c[b] = sum, sum += x;
		for (i = 0; i < n; i++) {
			const char *e = src + i * sz;

			memcpy(dst + (size_t)c[(bits_at(e) >> sh) & RADIX_MASK]++ * sz, e, sz);
		}
		t = src, src = dst, dst = t;
	}
	for (i = 0; i < n; i++) {
		uint64_t k = bits_at(src + i * sz);

		bits_put(v + i * sz, k & top ? k & ~top : ~k);
		if (src != v)
			memcpy(v + i * sz + 8, src + i * sz + 8, sz - 8);
	}
	return 1;
}

void forecast_sort(double *v, size_t n, double *tmp)
{
	if (n < RADIX_MIN || n > UINT32_MAX || !radix_sort((char *)v, n, (char *)tmp, sizeof(*v)))
		merge_sort_d(v, n, tmp);
}

void forecast_sort_wv(struct forecast_wv *a, size_t n, struct forecast_wv *tmp)
{
	if (n < RADIX_MIN || n > UINT32_MAX || !radix_sort((char *)a, n, (char *)tmp, sizeof(*a)))
		merge_sort_wv(a, n, tmp);
}

double forecast_quantile_of_sorted(const double *v, size_t n, double level)
{
	double pos, frac;
	size_t lo;

	if (n == 0)
		return NAN;
	pos = level * (double)(n - 1);
	lo = (size_t)floor(pos);
	if (lo >= n - 1)
		return v[n - 1];
	frac = pos - (double)lo;
	return v[lo] + frac * (v[lo + 1] - v[lo]);
}

double forecast_quantile_select(double *v, size_t n, double level)
{
	double pos, frac, next;
	size_t lo, i;

	if (n == 0)
		return NAN;
	pos = level * (double)(n - 1);
	lo = (size_t)floor(pos);
	if (lo >= n - 1) {
		adp_select_kth(v, n, n - 1);
		return v[n - 1];
	}
	adp_select_kth(v, n, lo);
	/* The next order statistic: the least of the values after v[lo]. */
	for (next = v[lo + 1], i = lo + 2; i < n; i++)
		if (v[i] < next)
			next = v[i];
	frac = pos - (double)lo;
	return v[lo] + frac * (next - v[lo]);
}
