#include "forecast/forecast.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

extern const struct forecast_model forecast_model_analog;
extern const struct forecast_model forecast_model_auto;
extern const struct forecast_model forecast_model_snaive;
extern const struct forecast_model forecast_model_hw;

const struct forecast_model *const forecast_models[] = {
	&forecast_model_auto,
	&forecast_model_snaive,
	&forecast_model_hw,
	&forecast_model_analog,
	NULL,
};

const struct forecast_model *forecast_model_find(const char *name)
{
	size_t i;

	for (i = 0; forecast_models[i]; i++)
		if (!strcmp(forecast_models[i]->name, name))
			return forecast_models[i];
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double adp_quantile_sorted(double *v, size_t n, double level)
{
	double pos, frac;
	size_t lo;

	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	pos = level * (double)(n - 1);
	lo = (size_t)floor(pos);
	if (lo >= n - 1)
		return v[n - 1];
	frac = pos - (double)lo;
	return v[lo] + frac * (v[lo + 1] - v[lo]);
}

static int check_opts(const struct forecast_opts *o)
{
	size_t i;

	if (o->step <= 0 || o->horizon == 0 || o->horizon > FORECAST_MAX_HORIZON)
		return adp_error_set(ADP_EINPUT, "forecast horizon must be 1 to %d steps",
				     FORECAST_MAX_HORIZON);
	if (o->start < o->origin)
		return adp_error_set(ADP_EINPUT, "forecast starts before its origin");
	if (o->nlevels == 0 || o->nlevels > FORECAST_MAX_LEVELS)
		return adp_error_set(ADP_EINPUT, "between 1 and %d quantile levels are needed",
				     FORECAST_MAX_LEVELS);
	for (i = 0; i < o->nlevels; i++)
		if (!(o->levels[i] > 0 && o->levels[i] < 1) || (i && o->levels[i] <= o->levels[i - 1]))
			return adp_error_set(ADP_EINPUT, "quantile levels must ascend strictly within (0, 1)");
	return 0;
}

static void series_release(struct forecast_series *fs)
{
	free(fs->component);
	free(fs->q);
	free(fs->scen);
}

int forecast_run(struct forecast *out, const struct history *h, const struct forecast_opts *o,
		 const char *model)
{
	const struct forecast_model *m = forecast_model_find(model ? model : "auto");
	struct forecast f = { 0 };
	size_t i;
	int rc = 0;

	if (!m)
		return adp_error_set(ADP_EINPUT, "unknown forecast model '%s'", model);
	if ((rc = check_opts(o)))
		return rc;
	f.opts = *o;
	if (h->n && !(f.items = calloc(h->n, sizeof(*f.items))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	for (i = 0; i < h->n; i++) {
		struct forecast_series *fs = &f.items[i];

		f.n++;
		fs->resource = h->items[i].resource;
		if (!(fs->component = strdup(h->items[i].component))) {
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
			break;
		}
		if ((rc = m->predict(fs, &h->items[i], o))) {
			adp_error_wrap(rc, "forecast of '%s' %s", fs->component,
				       adp_resource_name(fs->resource));
			break;
		}
	}
	if (rc) {
		forecast_release(&f);
		return rc;
	}
	*out = f;
	return 0;
}

void forecast_release(struct forecast *f)
{
	size_t i;

	if (!f)
		return;
	for (i = 0; i < f->n; i++)
		series_release(&f->items[i]);
	free(f->items);
	memset(f, 0, sizeof(*f));
}

const struct forecast_series *forecast_find(const struct forecast *f, const char *component,
					    int resource)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->items[i].resource == resource && !strcmp(f->items[i].component, component))
			return &f->items[i];
	return NULL;
}

double forecast_quantile(const struct forecast_series *fs, const double *levels, size_t h,
			 double level)
{
	const double *q = fs->q + h * fs->nlevels;
	size_t l;

	if (level <= levels[0])
		return q[0];
	for (l = 1; l < fs->nlevels; l++)
		if (level <= levels[l])
			return q[l - 1] + (q[l] - q[l - 1]) * (level - levels[l - 1]) /
						  (levels[l] - levels[l - 1]);
	return q[fs->nlevels - 1];
}
