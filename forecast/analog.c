/* The seasonal-analog model: the load at time t is drawn from the loads
 * at t - P, t - 2P, ... (P the seasonal period), the last K periods
 * before the origin. Its quantiles are the empirical quantiles of those
 * analogs, and scenario k of every series is the k-th most recent
 * period, so all series share the same past day and keep their joint
 * behaviour. Simple, honest about what history shows, and a baseline for
 * richer models. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forecast/forecast.h"
#include "util/error.h"

#define MIN_ANALOGS 2

static int predict(struct forecast_series *out, const struct series *s,
		   const struct forecast_opts *o)
{
	int64_t period = o->period ? o->period : 86400;
	size_t kmax = o->max_scenarios ? o->max_scenarios : 28;
	size_t h, k, l, nk, used = 0;
	double *buf = NULL;
	int rc = 0;

	if (period % o->step)
		return adp_error_set(ADP_EINPUT, "the period (%llds) is not a multiple of the step (%llds)",
				     (long long)period, (long long)o->step);
	if (s->step != o->step)
		return adp_error_set(ADP_EINPUT, "history step %llds differs from the forecast step %llds",
				     (long long)s->step, (long long)o->step);
	/* Periods available: the analog of the last step must lie before the origin. */
	{
		int64_t last = o->start + (int64_t)(o->horizon - 1) * o->step;
		int64_t first_k = (last - o->origin) / period + 1;
		int64_t avail = 0;

		while (o->start + 0 - (first_k + avail) * period >= s->start &&
		       (size_t)avail < kmax)
			avail++;
		nk = (size_t)avail;
		if (nk < MIN_ANALOGS)
			return adp_error_set(ADP_EINPUT,
					     "needs at least %d periods of %llds history before the window; it has %zu",
					     MIN_ANALOGS, (long long)period, nk);
		out->nscen = nk;
		out->horizon = o->horizon;
		out->nlevels = o->nlevels;
		out->period = period;
		out->q = malloc(o->horizon * o->nlevels * sizeof(*out->q));
		out->scen = malloc(nk * o->horizon * sizeof(*out->scen));
		buf = malloc(nk * sizeof(*buf));
		if (!out->q || !out->scen || !buf) {
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
			goto done;
		}
		for (h = 0; h < o->horizon; h++) {
			int64_t t = o->start + (int64_t)h * o->step;
			size_t have = 0;

			for (k = 0; k < nk; k++) {
				double v = series_at(s, t - (int64_t)(first_k + (int64_t)k) * period);
				out->scen[k * o->horizon + h] = v;
				if (!isnan(v))
					buf[have++] = v;
			}
			if (have == 0) {
				rc = adp_error_set(ADP_EINPUT,
						   "no history at any analog of step %zu: the gaps are too long",
						   h);
				goto done;
			}
			used += have;
			for (l = 0; l < o->nlevels; l++)
				out->q[h * o->nlevels + l] = adp_quantile_sorted(buf, have, o->levels[l]);
			/* A missing analog takes the median, not zero: a gap is not idle load. */
			for (k = 0; k < nk; k++)
				if (isnan(out->scen[k * o->horizon + h]))
					out->scen[k * o->horizon + h] = adp_quantile_sorted(buf, have, 0.5);
		}
	}
	strcpy(out->model, "seasonal-analog");
	out->history_used = used;
done:
	free(buf);
	return rc;
}

const struct forecast_model forecast_model_analog = {
	.name = "seasonal-analog",
	.summary = "empirical quantiles of the same time in the last K periods",
	.predict = predict,
};
