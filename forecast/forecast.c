#include "forecast/forecast.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forecast/sort.h"
#include "util/error.h"

extern const struct forecast_model forecast_model_analog;
extern const struct forecast_model forecast_model_auto;
extern const struct forecast_model forecast_model_snaive;
extern const struct forecast_model forecast_model_hw;
extern const struct forecast_model forecast_model_stl;

const struct forecast_model *const forecast_models[] = {
	&forecast_model_auto,
	&forecast_model_snaive,
	&forecast_model_hw,
	&forecast_model_stl,
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
	size_t next, failed_at;   /* next series to take; first failure (n: none) */
	size_t done;
	struct adp_error_state err; /* the first failure, from its worker's thread */
	pthread_mutex_t mu;
};

/* One series: its result is written only into f->items[i]. */
static int run_one(struct run_job *j, size_t i)
{
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
	return rc;
}

/* Workers take series in order; the first failing series (lowest index)
 * is the one reported, as it would be by a serial run. */
static void *run_worker(void *arg)
{
	struct run_job *j = arg;

	for (;;) {
		size_t i;
		int rc;

		pthread_mutex_lock(&j->mu);
		i = j->next++;
		pthread_mutex_unlock(&j->mu);
		if (i >= j->h->n)
			break;
		if (!(rc = run_one(j, i))) {
			pthread_mutex_lock(&j->mu);
			j->done++;
			if (j->o->progress)
				j->o->progress(j->o->progress_ctx, j->done, j->h->n);
			pthread_mutex_unlock(&j->mu);
		} else {
			pthread_mutex_lock(&j->mu);
			if (i < j->failed_at) {
				j->failed_at = i;
				adp_error_save(&j->err, rc);
			}
			j->next = j->h->n; /* stop the others early */
			pthread_mutex_unlock(&j->mu);
			break;
		}
	}
	return NULL;
}

static size_t run_threads(const struct forecast_opts *o, size_t n)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t t = o->threads ? o->threads : (cpus > 0 ? (size_t)cpus : 1);

	if (t > FORECAST_MAX_THREADS)
		t = FORECAST_MAX_THREADS;
	/* Threads pay off only with several series. */
	if (t > n / 4)
		t = n / 4;
	return t ? t : 1;
}

int forecast_run(struct forecast *out, const struct history *h, const struct forecast_opts *o,
		 const char *model)
{
	const struct forecast_model *m = forecast_model_find(model ? model : "auto");
	struct forecast f = { 0 };
	struct run_job j;
	pthread_t tid[FORECAST_MAX_THREADS];
	size_t nt, started = 1, i;
	int rc = 0;

	if (!m)
		return adp_error_set(ADP_EINPUT, "unknown forecast model '%s'", model);
	if ((rc = check_opts(o)))
		return rc;
	f.opts = *o;
	if (h->n && !(f.items = calloc(h->n, sizeof(*f.items))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	f.n = h->n;
	memset(&j, 0, sizeof(j));
	j.f = &f, j.h = h, j.o = o, j.m = m, j.failed_at = h->n;
	nt = run_threads(o, h->n);
	if (nt > 1 && pthread_mutex_init(&j.mu, NULL) == 0) {
		for (started = 1; started < nt; started++)
			if (pthread_create(&tid[started], NULL, run_worker, &j))
				break;
		run_worker(&j);
		for (i = 1; i < started; i++)
			pthread_join(tid[i], NULL);
		pthread_mutex_destroy(&j.mu);
		if (j.err.code)
			rc = adp_error_restore(&j.err);
	} else {
		for (i = 0; i < h->n && !rc; i++)
			if (!(rc = run_one(&j, i)) && o->progress)
				o->progress(o->progress_ctx, i + 1, h->n);
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
