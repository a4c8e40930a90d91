/* Stable sorts for the forecast's quantiles: the same order as a stable
 * qsort with a "<" comparison (equal values keep their order, so sums
 * taken in sorted order round the same way), without a call per
 * comparison. Values must not be NAN. */
#ifndef ADP_FORECAST_SORT_H
#define ADP_FORECAST_SORT_H

#include <stddef.h>

/* A value with its weight (weighted quantiles). */
struct forecast_wv {
	double v, w;
};

/* Sorts v (n values) ascending; tmp: n values of scratch (borrowed). */
void forecast_sort(double *v, size_t n, double *tmp);

/* Sorts a (n pairs) by v ascending; tmp: n pairs of scratch (borrowed). */
void forecast_sort_wv(struct forecast_wv *a, size_t n, struct forecast_wv *tmp);

/* The type-7 quantile of v (n values) by selection: O(n) instead of a
 * sort; v is reordered. The same value as sorting first only where equal
 * values are the same bits: no NAN, and no -0 beside 0 (e.g. absolute
 * values). */
double forecast_quantile_select(double *v, size_t n, double level);

/* Type-7 quantile (as R and numpy) of n sorted values; NAN when n is 0. */
double forecast_quantile_of_sorted(const double *v, size_t n, double level);

#endif
