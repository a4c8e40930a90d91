/* Dependencies between components: lagged cross-correlation of what is
 * left of each series once its daily (period) profile and its slow level
 * are taken out, so that two components that merely share office hours
 * are not reported, but two that rise and fall together beyond that are,
 * with the lag at which they do. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forecast/forecast.h"
#include "util/error.h"

#define DEP_PERIODS 14 /* periods of history looked at, at most */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int cmp_dep(const void *a, const void *b)
{
	double x = fabs(((const struct forecast_dep *)a)->corr), y = fabs(((const struct forecast_dep *)b)->corr);
	return x > y ? -1 : x < y;
}

/* Standardised residual of s over W steps ending before t0 + W * step:
 * value minus its phase median minus a centred one-period moving average
 * of what remains; NAN where missing. Returns 0 when the residual is flat. */
static int residual(double *r, const struct series *s, int64_t t0, int64_t step, size_t W, size_t m,
		    double *buf)
{
	size_t i, p, k, cnt = 0;
	double mean = 0, var = 0;

	for (i = 0; i < W; i++)
		r[i] = s->step == step ? series_at(s, t0 + (int64_t)i * step) : NAN;
	for (p = 0; p < m; p++) {
		double med;
		for (i = p, k = 0; i < W; i += m)
			if (!isnan(r[i]))
				buf[k++] = r[i];
		if (!k)
			continue;
		qsort(buf, k, sizeof(*buf), cmp_double);
		med = k % 2 ? buf[k / 2] : (buf[k / 2 - 1] + buf[k / 2]) / 2;
		for (i = p; i < W; i += m)
			r[i] -= med;
	}
	/* The slow level: a centred moving average of one period, over valid values. */
	{
		double sum = 0;
		size_t n = 0, lo = 0, hi = 0, h = m / 2;

		for (i = 0; i < W; i++) {
			while (hi < W && hi <= i + h) {
				if (!isnan(r[hi]))
					sum += r[hi], n++;
				hi++;
			}
			while (lo + h < i) {
				if (!isnan(r[lo]))
					sum -= r[lo], n--;
				lo++;
			}
			buf[i] = n ? sum / (double)n : 0;
		}
		for (i = 0; i < W; i++)
			if (!isnan(r[i]))
				r[i] -= buf[i];
	}
	for (i = 0; i < W; i++)
		if (!isnan(r[i]))
			mean += r[i], cnt++;
	if (cnt < 2 * m)
		return 0;
	mean /= (double)cnt;
	for (i = 0; i < W; i++)
		if (!isnan(r[i]))
			var += (r[i] - mean) * (r[i] - mean);
	var /= (double)cnt;
	/* Flat up to rounding: nothing to correlate. */
	if (!(var > 1e-18 * (mean * mean + 1)))
		return 0;
	for (i = 0; i < W; i++)
		if (!isnan(r[i]))
			r[i] = (r[i] - mean) / sqrt(var);
	return 1;
}

int forecast_dependencies(struct forecast_deps *out, const struct history *h,
			  const struct forecast_opts *o, double min_corr, size_t max_lag)
{
	struct forecast_deps d = { 0 };
	int64_t period = o->period ? o->period : 86400, t0;
	size_t m, W, i, j, cap = 0;
	double *r = NULL, *buf = NULL;
	unsigned char *ok = NULL;
	int rc = 0;

	if (o->step <= 0 || period % o->step)
		return adp_error_set(ADP_EINPUT, "the period must be a multiple of the step");
	if (h->n > FORECAST_DEPS_MAX_SERIES)
		return adp_error_set(ADP_EINPUT, "dependencies are computed for at most %d series, not %zu",
				     FORECAST_DEPS_MAX_SERIES, h->n);
	if (!(min_corr > 0 && min_corr < 1) || max_lag > FORECAST_DEPS_MAX_LAG)
		return adp_error_set(ADP_EINPUT, "dependency threshold must be in (0, 1) and lag at most %d steps",
				     FORECAST_DEPS_MAX_LAG);
	m = (size_t)(period / o->step);
	W = DEP_PERIODS * m;
	/* The window ends at the last whole step before the origin. */
	t0 = o->origin - (o->origin % o->step + o->step) % o->step - (int64_t)W * o->step;
	r = malloc((h->n ? h->n : 1) * W * sizeof(*r));
	buf = malloc(W * sizeof(*buf));
	ok = calloc(h->n ? h->n : 1, 1);
	if (!r || !buf || !ok) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < h->n; i++)
		ok[i] = (unsigned char)residual(r + i * W, &h->items[i], t0, o->step, W, m, buf);
	for (i = 0; i < h->n; i++)
		for (j = i + 1; j < h->n; j++) {
			const double *a = r + i * W, *b = r + j * W;
			double best = 0;
			long lag, blag = 0;

			if (!ok[i] || !ok[j] || !strcmp(h->items[i].component, h->items[j].component))
				continue;
			for (lag = -(long)max_lag; lag <= (long)max_lag; lag++) {
				double sab = 0;
				size_t t, cnt = 0;

				for (t = lag < 0 ? (size_t)-lag : 0; t < W && (long)t + lag < (long)W; t++) {
					double x = a[t], y = b[(size_t)((long)t + lag)];
					if (!isnan(x) && !isnan(y))
						sab += x * y, cnt++;
				}
				if (cnt >= 2 * m && fabs(sab / (double)cnt) > fabs(best)) {
					best = sab / (double)cnt;
					blag = lag;
				}
			}
			if (fabs(best) < min_corr)
				continue;
			if (d.n == cap) {
				size_t nc = cap ? 2 * cap : 16;
				struct forecast_dep *ni = realloc(d.items, nc * sizeof(*ni));
				if (!ni) {
					rc = adp_error_set(ADP_ENOMEM, "out of memory");
					goto done;
				}
				d.items = ni;
				cap = nc;
			}
			d.items[d.n].a = i;
			d.items[d.n].b = j;
			d.items[d.n].lag = blag;
			d.items[d.n++].corr = best;
		}
	if (d.n > 1)
		qsort(d.items, d.n, sizeof(*d.items), cmp_dep);
done:
	free(r);
	free(buf);
	free(ok);
	if (rc)
		forecast_deps_release(&d);
	else
		*out = d;
	return rc;
}

void forecast_deps_release(struct forecast_deps *d)
{
	if (!d)
		return;
	free(d->items);
	memset(d, 0, sizeof(*d));
}
