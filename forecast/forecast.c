#include "forecast/forecast.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forecast/sort.h"
#include "util/error.h"
#include "util/parallel.h"

extern const struct forecast_model forecast_model_analog;
extern const struct forecast_model forecast_model_auto;
extern const struct forecast_model forecast_model_snaive;
extern const struct forecast_model forecast_model_hw;
extern const struct forecast_model forecast_model_stl;
extern const struct forecast_model forecast_model_lstm;

const struct forecast_model *const forecast_models[] = {
	&forecast_model_auto,
	&forecast_model_snaive,
	&forecast_model_hw,
	&forecast_model_stl,
	&forecast_model_analog,
	&forecast_model_lstm,
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
	double *tmp = n > 1 ? malloc(n * sizeof(*tmp)) : NULL;

	if (tmp)
		forecast_sort(v, n, tmp);
	else /* the same order: qsort is a stable merge sort in glibc */
		qsort(v, n, sizeof(*v), cmp_double);
	free(tmp);
	return forecast_quantile_of_sorted(v, n, level);
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

struct run_job {
	struct forecast *f;
	const struct history *h;
	const struct forecast_opts *o;
	const struct forecast_model *m;
};

/* One series: its result is written only into f->items[i]. */
static int run_one(void *ctx, size_t i)
{
	struct run_job *j = ctx;
	struct forecast_series *fs = &j->f->items[i];
	const struct series *s = &j->h->items[i];
	size_t t;
	int rc;

	fs->resource = s->resource;
	if (!(fs->component = strdup(s->component)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	fs->recent_max = fs->rise_rate = fs->level_shift = NAN;
	if ((rc = j->m->predict(fs, s, j->o)))
		adp_error_wrap(rc, "forecast of '%s' %s", fs->component, adp_resource_name(fs->resource));
	fs->hist_max = NAN;
	for (t = 0; t < s->n && s->start + (int64_t)t * s->step < j->o->origin; t++)
		if (!isnan(s->v[t]) && !(s->v[t] <= fs->hist_max))
			fs->hist_max = s->v[t];
	if (!rc && j->o->series_done)
		j->o->series_done(j->o->series_done_ctx, i);
	return rc;
}

static void run_done(void *ctx, size_t done)
{
	struct run_job *j = ctx;

	if (j->o->progress)
		j->o->progress(j->o->progress_ctx, done, j->h->n);
}

int forecast_run(struct forecast *out, const struct history *h, const struct forecast_opts *o,
		 const char *model)
{
	const struct forecast_model *m = forecast_model_find(model ? model : "auto");
	struct forecast f = { 0 };
	struct forecast_opts ro = *o;
	struct run_job j;
	int rc = 0;

	if (!m)
		return adp_error_set(ADP_EINPUT, "unknown forecast model '%s'", model);
	if ((rc = check_opts(o)))
		return rc;
	f.opts = *o;
	if (h->n && !(f.items = calloc(h->n, sizeof(*f.items))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	f.n = h->n;
	if (ro.auto_lstm == FORECAST_LSTM_RULE)
		ro.auto_lstm = h->n <= FORECAST_AUTO_LSTM_SERIES ? FORECAST_LSTM_ALWAYS : FORECAST_LSTM_NEVER;
	j = (struct run_job){ .f = &f, .h = h, .o = &ro, .m = m };
	/* Series are independent; the first failing one is reported, as by a
	 * serial run. Threads pay off only with several series each. */
	if ((rc = adp_parallel(h->n, adp_threads(o->threads, h->n, 4), run_one, run_done, &j))) {
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

static int by_key(const void *a, const void *b, void *arg)
{
	const struct forecast_series *it = arg, *x = &it[*(const size_t *)a], *y = &it[*(const size_t *)b];
	int c = strcmp(x->component, y->component);

	if (c)
		return c;
	if (x->resource != y->resource)
		return x->resource < y->resource ? -1 : 1;
	/* The first of equals, as a search in order would find. */
	return *(const size_t *)a < *(const size_t *)b ? -1 : *(const size_t *)a > *(const size_t *)b;
}

int forecast_find_all(const struct forecast *f, const char *const *names, size_t n,
		      const struct forecast_series **out)
{
	size_t *idx = malloc((f->n + 1) * sizeof(*idx)), i, j;

	if (!idx)
		return adp_error_set(ADP_ENOMEM, "out of memory indexing %zu series", f->n);
	for (i = 0; i < f->n; i++)
		idx[i] = i;
	qsort_r(idx, f->n, sizeof(*idx), by_key, f->items);
	for (i = 0; i < n; i++) {
		size_t lo = 0, hi = f->n;

		for (j = 0; j < ADP_RES_COUNT; j++)
			out[i * ADP_RES_COUNT + j] = NULL;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (strcmp(f->items[idx[mid]].component, names[i]) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (; lo < f->n && !strcmp(f->items[idx[lo]].component, names[i]); lo++) {
			const struct forecast_series *fs = &f->items[idx[lo]];

			if (fs->resource >= 0 && fs->resource < ADP_RES_COUNT &&
			    !out[i * ADP_RES_COUNT + (size_t)fs->resource])
				out[i * ADP_RES_COUNT + (size_t)fs->resource] = fs;
		}
	}
	free(idx);
	return 0;
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
