/* The forecasting engine on synthetic series whose truth is known. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forecast/forecast.h"
#include "util/error.h"

#define STEP 300
#define M 48 /* steps per period: a 4-hour "day" keeps the tests small */

static uint64_t rng_state;

static double unif(void)
{
	rng_state = rng_state * 6364136223846793005u + 1442695040888963407u;
	return ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(void)
{
	return sqrt(-2 * log(unif())) * cos(2 * M_PI * unif());
}

/* A one-series or two-series history, built directly. */
static struct series mkseries(const char *name, size_t n, const double *v)
{
	struct series s = { 0 };

	s.component = strdup(name);
	s.resource = ADP_RES_CPU;
	s.start = 0;
	s.step = STEP;
	s.n = n;
	s.v = malloc(n * sizeof(double));
	memcpy(s.v, v, n * sizeof(double));
	return s;
}

static void free_hist(struct history *h)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		free(h->items[i].component);
		free(h->items[i].v);
	}
}

static struct forecast_opts mkopts(size_t origin_idx, size_t horizon)
{
	struct forecast_opts o = { 0 };

	o.origin = (int64_t)origin_idx * STEP;
	o.start = o.origin;
	o.step = STEP;
	o.horizon = horizon;
	o.levels[0] = 0.5, o.levels[1] = 0.9, o.levels[2] = 0.95, o.levels[3] = 0.99;
	o.nlevels = 4;
	o.period = (int64_t)M * STEP;
	return o;
}

Test(forecast, finds_a_known_period)
{
	size_t n = 2000, i, lags[4], nf;
	double *v = malloc(n * sizeof(double)), st[4];

	rng_state = 1;
	for (i = 0; i < n; i++)
		v[i] = 10 + 3 * sin(2 * M_PI * (double)i / 37.0) + 0.5 * gauss();
	nf = forecast_find_periods(v, n, 200, lags, st, 4);
	cr_assert_geq(nf, 1);
	cr_assert(lags[0] >= 36 && lags[0] <= 38, "strongest period %zu, expected 37", lags[0]);
	/* Multiples of 37 are harmonics, not new periods. */
	for (i = 1; i < nf; i++)
		cr_assert(lags[i] % 37 > 2 && lags[i] % 37 < 35, "harmonic %zu reported", lags[i]);
	free(v);
}

Test(forecast, white_noise_has_no_period)
{
	size_t n = 2000, i, lags[4];
	double *v = malloc(n * sizeof(double)), st[4];

	rng_state = 2;
	for (i = 0; i < n; i++)
		v[i] = 5 + gauss();
	cr_assert_eq(forecast_find_periods(v, n, 300, lags, st, 4), 0);
	free(v);
}

Test(forecast, anomalies_are_flagged_and_replaced)
{
	size_t n = 20 * M, i, flagged = 0;
	double *v = malloc(n * sizeof(double));
	unsigned char *f = calloc(n, 1);
	size_t spikes[] = { 100, 333, 700 };

	rng_state = 3;
	for (i = 0; i < n; i++)
		v[i] = 10 + 4 * sin(2 * M_PI * (double)(i % M) / M) + 0.3 * gauss();
	v[spikes[0]] += 30;
	v[spikes[1]] = 0; /* an outage */
	v[spikes[2]] += 25;
	v[500] = NAN;
	cr_assert_geq(forecast_clean(v, n, M, 6.0, f), 3);
	for (i = 0; i < 3; i++) {
		cr_assert(f[spikes[i]], "spike at %zu not flagged", spikes[i]);
		cr_assert_lt(fabs(v[spikes[i]] - (10 + 4 * sin(2 * M_PI * (double)(spikes[i] % M) / M))), 1.5);
	}
	for (i = 0; i < n; i++)
		flagged += f[i];
	cr_assert_leq(flagged, 6, "%zu flagged, expected about 3", flagged);
	cr_assert(!isnan(v[500]));
	free(v);
	free(f);
}

Test(forecast, holt_winters_follows_trend_and_season)
{
	size_t n = 30 * M, i, h;
	double *v = malloc(n * sizeof(double));
	struct series s;
	struct history hist = { 0 };
	struct forecast fc = { 0 };
	struct forecast_opts o = mkopts(n, M);

	rng_state = 4;
	for (i = 0; i < n; i++)
		v[i] = 20 + 0.01 * (double)i + 5 * sin(2 * M_PI * (double)(i % M) / M) + 0.2 * gauss();
	s = mkseries("a", n, v);
	hist.items = &s;
	hist.n = 1;
	cr_assert_eq(forecast_run(&fc, &hist, &o, "holt-winters"), 0);
	cr_assert_str_eq(fc.items[0].model, "holt-winters");
	for (h = 0; h < M; h++) {
		size_t t = n + h;
		double truth = 20 + 0.01 * (double)t + 5 * sin(2 * M_PI * (double)(t % M) / M);
		double p50 = fc.items[0].q[h * 4];
		cr_assert_lt(fabs(p50 - truth), 1.0, "step %zu: p50 %g, truth %g", h, p50, truth);
		cr_assert_leq(fc.items[0].q[h * 4], fc.items[0].q[h * 4 + 1]);
		cr_assert_leq(fc.items[0].q[h * 4 + 1], fc.items[0].q[h * 4 + 3]);
	}
	cr_assert(fc.items[0].params[0] > 0 && fc.items[0].params[0] < 1);
	forecast_release(&fc);
	free_hist(&hist);
	free(v);
}

/* Coverage on held-out data: many origins on a noisy series, each
 * forecast checked against values it never saw. */
Test(forecast, quantiles_are_calibrated)
{
	size_t n = 60 * M, i, origin, h, tot = 0, in90 = 0, in95 = 0;
	double *v = malloc(n * sizeof(double));
	struct series s;
	struct history hist = { 0 };

	rng_state = 5;
	for (i = 0; i < n; i++)
		v[i] = 30 + 8 * sin(2 * M_PI * (double)(i % M) / M) + 2 * gauss();
	s = mkseries("a", n, v);
	hist.items = &s;
	hist.n = 1;
	for (origin = 35 * M; origin + 12 <= n; origin += 37) {
		struct forecast fc = { 0 };
		struct forecast_opts o = mkopts(origin, 12);

		cr_assert_eq(forecast_run(&fc, &hist, &o, NULL), 0);
		for (h = 0; h < 12; h++) {
			double y = v[origin + h];
			tot++;
			in90 += y <= fc.items[0].q[h * 4 + 1];
			in95 += y <= fc.items[0].q[h * 4 + 2];
		}
		forecast_release(&fc);
	}
	cr_assert_gt(tot, 300);
	cr_assert(fabs((double)in90 / tot - 0.90) < 0.05, "p90 coverage %g", (double)in90 / tot);
	cr_assert(fabs((double)in95 / tot - 0.95) < 0.04, "p95 coverage %g", (double)in95 / tot);
	free_hist(&hist);
	free(v);
}

static double corr(const double *a, const double *b, size_t n, size_t stride)
{
	double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		ma += a[i * stride];
		mb += b[i * stride];
	}
	ma /= (double)n;
	mb /= (double)n;
	for (i = 0; i < n; i++) {
		double x = a[i * stride] - ma, y = b[i * stride] - mb;
		sab += x * y;
		saa += x * x;
		sbb += y * y;
	}
	return sab / sqrt(saa * sbb);
}

Test(forecast, scenarios_keep_cross_correlation)
{
	size_t n = 40 * M, i, H = 24, h;
	double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double)),
	       *c = malloc(n * sizeof(double));
	struct series s[3];
	struct history hist = { 0 };
	struct forecast fc = { 0 }, fc2 = { 0 };
	struct forecast_opts o = mkopts(n, H);
	double rab = 0, rac = 0;

	rng_state = 6;
	for (i = 0; i < n; i++) {
		/* a and b share a slow common shock; c is independent. */
		double common = 3 * sin(2 * M_PI * (double)i / (3.3 * M)) + gauss();
		double season = 5 * sin(2 * M_PI * (double)(i % M) / M);
		a[i] = 40 + season + common + 0.3 * gauss();
		b[i] = 20 + season + common + 0.3 * gauss();
		c[i] = 30 + season + 3 * sin(2 * M_PI * (double)i / (4.7 * M) + 1) + gauss();
	}
	s[0] = mkseries("a", n, a);
	s[1] = mkseries("b", n, b);
	s[2] = mkseries("c", n, c);
	hist.items = s;
	hist.n = 3;
	cr_assert_eq(forecast_run(&fc, &hist, &o, NULL), 0);
	cr_assert_eq(fc.items[0].nscen, FORECAST_DEFAULT_SCENARIOS);
	cr_assert_eq(fc.items[1].nscen, fc.items[0].nscen);
	cr_assert_eq(fc.items[2].nscen, fc.items[0].nscen);
	for (h = 0; h < H; h++) {
		rab += corr(fc.items[0].scen + h, fc.items[1].scen + h, fc.items[0].nscen, H);
		rac += corr(fc.items[0].scen + h, fc.items[2].scen + h, fc.items[0].nscen, H);
	}
	rab /= (double)H;
	rac /= (double)H;
	cr_assert_gt(rab, 0.6, "correlated pair: scenario correlation %g", rab);
	cr_assert_lt(fabs(rac), rab - 0.3, "independent pair: %g vs %g", rac, rab);
	/* Deterministic: the same inputs give the same scenarios. */
	cr_assert_eq(forecast_run(&fc2, &hist, &o, NULL), 0);
	cr_assert_eq(memcmp(fc.items[1].scen, fc2.items[1].scen, fc.items[1].nscen * H * sizeof(double)), 0);
	forecast_release(&fc);
	forecast_release(&fc2);
	free_hist(&hist);
	free(a);
	free(b);
	free(c);
}

Test(forecast, short_history_is_an_input_error)
{
	size_t n = 2 * M, i;
	double *v = malloc(n * sizeof(double));
	struct series s;
	struct history hist = { 0 };
	struct forecast fc = { 0 };
	struct forecast_opts o = mkopts(n, 12);

	for (i = 0; i < n; i++)
		v[i] = 1;
	s = mkseries("a", n, v);
	hist.items = &s;
	hist.n = 1;
	cr_assert_eq(forecast_run(&fc, &hist, &o, NULL), ADP_EINPUT);
	cr_assert_eq(fc.n, 0);
	cr_assert_eq(forecast_run(&fc, &hist, &o, "nosuch"), ADP_EINPUT);
	free_hist(&hist);
	free(v);
}
