/* Rolling-origin evaluation: MASE with the seasonal scale, pinball loss
 * and one-sided coverage per quantile level. */
#include <math.h>
#include <string.h>

#include "forecast/forecast.h"
#include "util/error.h"

int forecast_backtest(struct forecast_eval *out, const struct series *s,
		      const struct forecast_opts *o, const char *model, size_t norigins)
{
	struct forecast_eval ev = { 0 };
	struct history one = { 0 };
	struct series view = *s;
	int64_t period = o->period ? o->period : 86400;
	size_t m = (size_t)(period / o->step), r, h, l, i, cnt = 0;
	double scale = 0, abs_err = 0;
	int rc = 0;

	if (norigins == 0 || norigins > 1000)
		return adp_error_set(ADP_EINPUT, "backtest origins must be 1 to 1000");
	one.items = &view;
	one.n = 1;
	for (r = 0; r < norigins; r++) {
		struct forecast_opts bo = *o;
		struct forecast fc = { 0 };
		int64_t shift = (int64_t)((r + 1) * o->horizon) * o->step;

		bo.origin = o->origin - shift;
		bo.start = bo.origin;
		if ((rc = forecast_run(&fc, &one, &bo, model))) {
			if (ev.origins)
				rc = 0; /* older origins lack history: stop there */
			break;
		}
		ev.origins++;
		strcpy(ev.model, fc.items[0].model);
		for (h = 0; h < o->horizon; h++) {
			double y = series_at(s, bo.start + (int64_t)h * o->step), *q = fc.items[0].q + h * o->nlevels;

			if (isnan(y))
				continue;
			ev.points++;
			abs_err += fabs(y - forecast_quantile(&fc.items[0], o->levels, h, 0.5));
			for (l = 0; l < o->nlevels; l++) {
				double d = y - q[l];
				ev.pinball[l] += d >= 0 ? o->levels[l] * d : (o->levels[l] - 1) * d;
				ev.coverage[l] += y <= q[l];
				ev.below[l] += y < q[l];
			}
		}
		forecast_release(&fc);
	}
	if (rc)
		return rc;
	if (!ev.points)
		return adp_error_set(ADP_EINPUT, "no history to backtest '%s' %s against", s->component,
				     adp_resource_name(s->resource));
	/* The seasonal scale: in-sample MAE of the seasonal naive before the first origin. */
	for (i = m; i < s->n && s->start + (int64_t)i * s->step < o->origin - (int64_t)(ev.origins * o->horizon) * o->step; i++)
		if (!isnan(s->v[i]) && !isnan(s->v[i - m])) {
			scale += fabs(s->v[i] - s->v[i - m]);
			cnt++;
		}
	ev.mae = abs_err / (double)ev.points;
	ev.mase = cnt && scale > 0 ? ev.mae / (scale / (double)cnt) : NAN;
	for (l = 0; l < o->nlevels; l++) {
		ev.pinball[l] /= (double)ev.points;
		ev.coverage[l] /= (double)ev.points;
		ev.below[l] /= (double)ev.points;
	}
	*out = ev;
	return 0;
}
