/* The forecasting engine on synthetic series whose truth is known. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forecast/forecast.h"
#include "forecast/sort.h"
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

/* n steps of a daily shape (period M) from seed: scale * (level + amp *
 * sin + noise * N(0,1)); a share of nan_share of the steps missing. */
static double *seasonal(size_t n, uint64_t seed, double level, double amp, double noise, double scale,
			double nan_share)
{
	double *v = malloc(n * sizeof(double));
	size_t i;

	cr_assert_not_null(v);
	rng_state = seed;
	for (i = 0; i < n; i++)
		v[i] = nan_share > 0 && unif() < nan_share
			       ? NAN
			       : scale * (level + amp * sin(2 * M_PI * (double)(i % M) / M) + noise * gauss());
	return v;
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
	size_t n = 20 * M, i, flagged = 0, nflag = 0;
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
	cr_assert_eq(forecast_clean(v, n, M, 6.0, f, &nflag), 0);
	cr_assert_geq(nflag, 3);
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

static double corr(const float *a, const float *b, size_t n, size_t stride)
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
	cr_assert_eq(memcmp(fc.items[1].scen, fc2.items[1].scen, fc.items[1].nscen * H * sizeof(float)), 0);
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

/* One series forecast with the default model; returns forecast_run's code. */
static int run_one(struct forecast *fc, const double *v, size_t n, size_t H, const char *model)
{
	struct series s = mkseries("a", n, v);
	struct history hist = { 0 };
	struct forecast_opts o = mkopts(n, H);
	int rc;

	hist.items = &s;
	hist.n = 1;
	rc = forecast_run(fc, &hist, &o, model);
	free_hist(&hist);
	return rc;
}

Test(forecast, too_short_names_what_is_needed)
{
	double v[3 * M - 1];
	struct forecast fc = { 0 };
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		v[i] = 1 + (double)(i % 7);
	cr_assert_eq(run_one(&fc, v, sizeof(v) / sizeof(v[0]), 12, NULL), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "'a' cpu"), "%s", adp_error_last());
	cr_assert(strstr(adp_error_last(), "needs at least 3 periods"), "%s", adp_error_last());
	cr_assert_eq(fc.n, 0);
}

Test(forecast, all_zero_gives_zero_quantiles_and_scenarios)
{
	size_t n = 20 * M, h, k;
	double *v = calloc(n, sizeof(double));
	struct forecast fc = { 0 };

	cr_assert_eq(run_one(&fc, v, n, 24, NULL), 0);
	for (h = 0; h < 24 * 4; h++)
		cr_assert_eq(fc.items[0].q[h], 0.0);
	for (k = 0; k < fc.items[0].nscen * 24; k++)
		cr_assert_eq(fc.items[0].scen[k], 0.0);
	forecast_release(&fc);
	free(v);
}

Test(forecast, constant_series_has_zero_width_intervals)
{
	size_t n = 20 * M, i, h;
	double *v = malloc(n * sizeof(double));
	struct forecast fc = { 0 };
	static const char *models[] = { "auto", "seasonal-naive", "holt-winters", "stl-ar" };

	for (i = 0; i < n; i++)
		v[i] = 7.25;
	for (i = 0; i < 4; i++) {
		cr_assert_eq(run_one(&fc, v, n, 24, models[i]), 0, "%s: %s", models[i], adp_error_last());
		for (h = 0; h < 24; h++) {
			const double *q = fc.items[0].q + h * 4;
			cr_assert_lt(fabs(q[0] - 7.25), 1e-9, "%s: p50 %.17g", models[i], q[0]);
			cr_assert_lt(q[3] - q[0], 1e-9, "%s step %zu: p99 - p50 = %g", models[i], h, q[3] - q[0]);
		}
		forecast_release(&fc);
	}
	free(v);
}

Test(forecast, missing_values_are_filled_and_all_missing_is_an_error)
{
	size_t n = 20 * M, i, h;
	double *v = seasonal(n, 11, 10, 3, 0.5, 1, 0.2);
	struct forecast fc = { 0 };

	cr_assert_eq(run_one(&fc, v, n, 24, NULL), 0, "%s", adp_error_last());
	for (h = 0; h < 24 * 4; h++)
		cr_assert(isfinite(fc.items[0].q[h]), "quantile %zu is %g", h, fc.items[0].q[h]);
	forecast_release(&fc);
	for (i = 0; i < n; i++)
		v[i] = NAN;
	cr_assert_eq(run_one(&fc, v, n, 24, NULL), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "only 0 of the"), "%s", adp_error_last());
	free(v);
}

Test(forecast, huge_values_are_forecast_or_refused)
{
	size_t n = 20 * M, h;
	double *v = seasonal(n, 12, 10, 3, 0.5, 1e60, 0);
	struct forecast fc = { 0 };

	cr_assert_eq(run_one(&fc, v, n, 24, NULL), 0, "%s", adp_error_last());
	for (h = 0; h < 24; h++) {
		const double *q = fc.items[0].q + h * 4;
		cr_assert(isfinite(q[0]) && isfinite(q[3]) && q[0] <= q[3], "step %zu: %g %g", h, q[0], q[3]);
		cr_assert(q[0] > 1e60 && q[0] < 1e62, "step %zu: p50 %g", h, q[0]);
	}
	forecast_release(&fc);
	v[n - 5] = 1e200;
	cr_assert_eq(run_one(&fc, v, n, 24, NULL), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "rescale"), "%s", adp_error_last());
	free(v);
}

/* On i.i.d. noise the one-sided levels and the central 95% interval
 * cover what they say, within sampling tolerance. */
Test(forecast, iid_noise_coverage_matches_nominal)
{
	size_t n = 60 * M, i;
	double *v = malloc(n * sizeof(double));
	struct series s;
	struct forecast_opts o = mkopts(n, 12);
	struct forecast_eval ev;

	rng_state = 13;
	for (i = 0; i < n; i++)
		v[i] = 50 + 4 * gauss();
	s = mkseries("a", n, v);
	o.levels[0] = 0.025, o.levels[1] = 0.5, o.levels[2] = 0.9, o.levels[3] = 0.95, o.levels[4] = 0.975;
	o.nlevels = 5;
	cr_assert_eq(forecast_backtest(&ev, &s, &o, NULL, 60), 0, "%s", adp_error_last());
	cr_assert_eq(ev.points, 720);
	cr_assert(fabs(ev.coverage[1] - 0.5) < 0.07, "p50 coverage %g", ev.coverage[1]);
	cr_assert(fabs(ev.coverage[2] - 0.90) < 0.04, "p90 coverage %g", ev.coverage[2]);
	cr_assert(fabs(ev.coverage[3] - 0.95) < 0.03, "p95 coverage %g", ev.coverage[3]);
	cr_assert(fabs(ev.coverage[4] - ev.below[0] - 0.95) < 0.03, "95%% interval coverage %g",
		  ev.coverage[4] - ev.below[0]);
	free(s.component);
	free(s.v);
	free(v);
}

/* The permutation test tells a real period from red noise, whose
 * autocorrelation also has bumps. */
Test(forecast, period_test_rejects_red_noise)
{
	size_t n = 3000, i, lags[4];
	double *v = malloc(n * sizeof(double)), st[4], pv[4], x = 0;

	rng_state = 14;
	for (i = 0; i < n; i++) {
		x = 0.97 * x + gauss();
		v[i] = 100 + x;
	}
	cr_assert_gt(forecast_period_pvalue(v, n, 60, 1), 0.01);
	cr_assert_eq(forecast_find_periods_p(v, n, 300, lags, st, pv, 4), 0);
	for (i = 0; i < n; i++)
		v[i] += 6 * sin(2 * M_PI * (double)i / 60.0);
	cr_assert_leq(forecast_period_pvalue(v, n, 60, 1), 0.01);
	cr_assert_geq(forecast_find_periods_p(v, n, 300, lags, st, pv, 4), 1);
	cr_assert(lags[0] >= 59 && lags[0] <= 61, "period %zu", lags[0]);
	cr_assert_leq(pv[0], 0.01);
	free(v);
}

/* A weekly pattern on top of a daily one: both periods are reported. */
Test(forecast, daily_and_weekly_periods_are_found)
{
	size_t n = 8 * 7 * M, i, lags[4], nf, j;
	double *v = malloc(n * sizeof(double)), st[4], pv[4];
	int day = 0, week = 0;

	rng_state = 15;
	for (i = 0; i < n; i++) {
		int weekend = (i / M) % 7 >= 5;
		v[i] = 20 + 6 * sin(2 * M_PI * (double)(i % M) / M) * (weekend ? 0.2 : 1) + (weekend ? -8 : 0) + gauss();
	}
	nf = forecast_find_periods_p(v, n, 8 * M, lags, st, pv, 4);
	for (j = 0; j < nf; j++) {
		day |= lags[j] >= M - 1 && lags[j] <= M + 1;
		week |= lags[j] >= 7 * M - 2 && lags[j] <= 7 * M + 2;
	}
	cr_assert(day && week, "%zu periods, first %zu", nf, nf ? lags[0] : 0);
	free(v);
}

Test(forecast, dependencies_find_the_lag_and_skip_shared_seasons)
{
	size_t n = 20 * M, i;
	double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double)), *c = malloc(n * sizeof(double));
	double *shock = malloc(n * sizeof(double)), x = 0;
	struct series s[3];
	struct history hist = { 0 };
	struct forecast_opts o = mkopts(n, 12);
	struct forecast_deps d = { 0 };

	rng_state = 16;
	for (i = 0; i < n; i++) {
		x = 0.8 * x + gauss();
		shock[i] = x;
	}
	for (i = 0; i < n; i++) {
		double season = 10 * sin(2 * M_PI * (double)(i % M) / M);
		a[i] = 50 + season + 2 * shock[i] + 0.5 * gauss();
		/* b follows a's shocks three steps later; c shares only the season. */
		b[i] = 40 + season + 2 * (i >= 3 ? shock[i - 3] : 0) + 0.5 * gauss();
		c[i] = 30 + season + 2 * gauss();
	}
	s[0] = mkseries("a", n, a);
	s[1] = mkseries("b", n, b);
	s[2] = mkseries("c", n, c);
	hist.items = s;
	hist.n = 3;
	cr_assert_eq(forecast_dependencies(&d, &hist, &o, 0.5, 12), 0, "%s", adp_error_last());
	cr_assert_eq(d.n, 1, "%zu dependencies", d.n);
	cr_assert_eq(d.items[0].a, 0);
	cr_assert_eq(d.items[0].b, 1);
	cr_assert_eq(d.items[0].lag, 3);
	cr_assert_gt(d.items[0].corr, 0.7);
	forecast_deps_release(&d);
	forecast_deps_release(&d); /* NULL-safe and idempotent */
	cr_assert_eq(forecast_dependencies(&d, &hist, &o, 1.5, 12), ADP_EINPUT);
	free_hist(&hist);
	free(a);
	free(b);
	free(c);
	free(shock);
}

/* Counts progress calls: each series once, done counting up to n. */
struct prog {
	size_t calls, last, total, backwards;
};

static void prog_cb(void *ctx, size_t done, size_t total)
{
	struct prog *p = ctx;

	p->calls++;
	p->backwards += done <= p->last;
	p->last = done;
	p->total = total;
}

/* Threads change nothing: the same quantiles and scenarios, and the
 * error of the first failing series; the progress hook hears each series
 * once, in order, from one worker at a time. */
Test(forecast, threads_do_not_change_the_result)
{
	size_t n = 20 * M, i, k, ns = 12;
	struct series s[12];
	struct history hist = { 0 };
	struct forecast_opts o = mkopts(n, 24);
	struct forecast f1 = { 0 }, f2 = { 0 };
	struct prog pg = { 0 };
	double *v = malloc(n * sizeof(double));

	rng_state = 17;
	for (k = 0; k < ns; k++) {
		char name[8];
		for (i = 0; i < n; i++)
			v[i] = 10 + (double)k + 3 * sin(2 * M_PI * (double)(i % M) / M) + gauss();
		snprintf(name, sizeof(name), "c%zu", k);
		s[k] = mkseries(name, n, v);
	}
	hist.items = s;
	hist.n = ns;
	o.threads = 1;
	cr_assert_eq(forecast_run(&f1, &hist, &o, NULL), 0);
	o.threads = 3;
	o.progress = prog_cb;
	o.progress_ctx = &pg;
	cr_assert_eq(forecast_run(&f2, &hist, &o, NULL), 0);
	cr_assert_eq(pg.calls, ns);
	cr_assert_eq(pg.last, ns);
	cr_assert_eq(pg.total, ns);
	cr_assert_eq(pg.backwards, 0);
	o.progress = NULL;
	for (k = 0; k < ns; k++) {
		cr_assert_str_eq(f1.items[k].component, f2.items[k].component);
		cr_assert_str_eq(f1.items[k].model, f2.items[k].model);
		cr_assert_eq(memcmp(f1.items[k].q, f2.items[k].q, 24 * 4 * sizeof(double)), 0);
		cr_assert_eq(memcmp(f1.items[k].scen, f2.items[k].scen, f1.items[k].nscen * 24 * sizeof(float)), 0);
	}
	forecast_release(&f1);
	forecast_release(&f2);
	/* Two bad series: the error names the first, as a serial run would. */
	for (i = 0; i < n; i++)
		s[4].v[i] = s[9].v[i] = NAN;
	cr_assert_eq(forecast_run(&f1, &hist, &o, NULL), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "'c4'"), "%s", adp_error_last());
	cr_assert_eq(f1.n, 0);
	free_hist(&hist);
	free(v);
}

Test(forecast, stl_ar_follows_the_season)
{
	size_t n = 20 * M, h;
	double *v = seasonal(n, 18, 30, 6, 0.3, 1, 0);
	struct forecast fc = { 0 };

	cr_assert_eq(run_one(&fc, v, n, M, "stl-ar"), 0, "%s", adp_error_last());
	cr_assert_str_eq(fc.items[0].model, "stl-ar");
	for (h = 0; h < M; h++) {
		double truth = 30 + 6 * sin(2 * M_PI * (double)((n + h) % M) / M);
		cr_assert_lt(fabs(fc.items[0].q[h * 4] - truth), 0.8, "step %zu: %g vs %g", h, fc.items[0].q[h * 4], truth);
	}
	forecast_release(&fc);
	free(v);
}

static int cmp_key(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The quantiles must not move: the sorts give exactly a stable qsort's
 * order, ties (and -0 beside 0) kept as they came, over sizes around the
 * runs and merges; selection gives the sorted quantile of absolute values. */
Test(forecast, sorts_keep_a_stable_qsort_order)
{
	size_t sizes[] = { 0, 1, 2, 15, 16, 17, 33, 100, 1000, 1023, 1024, 1027, 5000, 20011 }, t, i;

	rng_state = 19;
	for (t = 0; t < sizeof(sizes) / sizeof(sizes[0]); t++) {
		size_t n = sizes[t];
		double *a = malloc((n + 1) * sizeof(double)), *b = malloc((n + 1) * sizeof(double));
		double *tmp = malloc((n + 1) * sizeof(double));
		struct forecast_wv *p = malloc((n + 1) * sizeof(*p)), *q = malloc((n + 1) * sizeof(*q));
		struct forecast_wv *ptmp = malloc((n + 1) * sizeof(*ptmp));

		for (i = 0; i < n; i++) {
			double u = unif();
			/* Small integers (many ties) and zeros of both signs; from
			 * 1024 on the radix sort takes them, except at 1027, whose
			 * -0 sends it to the merge sort; at 20011, values of every
			 * sign and magnitude, digit by digit of their keys. */
			a[i] = u < 0.1 ? 0.0 : u < 0.2 ? (n < 1024 || n == 1027 ? -0.0 : 0.0) :
			       n < 20000 ? floor(10 * unif()) - 5 : (unif() - 0.5) * pow(10, floor(12 * unif()) - 6);
			p[i].v = a[i];
			p[i].w = (double)i;
		}
		memcpy(b, a, n * sizeof(double));
		memcpy(q, p, n * sizeof(*q));
		qsort(a, n, sizeof(double), cmp_key);
		forecast_sort(b, n, tmp);
		qsort(p, n, sizeof(*p), cmp_key);
		forecast_sort_wv(q, n, ptmp);
		cr_assert(n == 0 || memcmp(a, b, n * sizeof(double)) == 0, "values differ at size %zu", n);
		cr_assert(n == 0 || memcmp(p, q, n * sizeof(*p)) == 0, "pairs differ at size %zu", n);
		for (i = 0; i < n; i++) /* absolute values with ties: selection's domain */
			b[i] = fabs(floor(20 * unif()) - 10);
		for (i = 0; i < 5; i++) {
			double lv = (double)i / 4, sel, srt;

			memcpy(tmp, b, n * sizeof(double));
			sel = forecast_quantile_select(tmp, n, lv);
			forecast_sort(b, n, a);
			srt = forecast_quantile_of_sorted(b, n, lv);
			cr_assert(n == 0 ? isnan(sel) && isnan(srt) : memcmp(&sel, &srt, sizeof(sel)) == 0,
				  "size %zu level %g: %g selected, %g sorted", n, lv, sel, srt);
		}
		free(a);
		free(b);
		free(tmp);
		free(p);
		free(q);
		free(ptmp);
	}
}

/* History that ends before the origin: the forecast of a step depends on
 * its time, not on how far it is from the origin. From the same history,
 * an origin 12 steps after its end gives what an origin at its end gives
 * for the same times (before, the gap shifted the season by 12 steps). */
Test(forecast, origin_after_the_history_keeps_the_phase)
{
	size_t n = 20 * M, H = 12, gap = 12, h;
	double *v = seasonal(n, 3, 30, 8, 1, 1, 0);
	struct series s = mkseries("a", n, v);
	struct history hist = { 0 };
	struct forecast late = { 0 }, at = { 0 };
	struct forecast_opts o1 = mkopts(n + gap, H), o2 = mkopts(n, H);

	hist.items = &s;
	hist.n = 1;
	o2.start = o1.start;
	cr_assert_eq(forecast_run(&late, &hist, &o1, "holt-winters"), 0, "%s", adp_error_last());
	cr_assert_eq(forecast_run(&at, &hist, &o2, "holt-winters"), 0, "%s", adp_error_last());
	for (h = 0; h < H; h++)
		cr_assert_float_eq(late.items[0].q[h * 4], at.items[0].q[h * 4], 1e-9, "step %zu: %g against %g", h,
				   late.items[0].q[h * 4], at.items[0].q[h * 4]);
	forecast_release(&late);
	forecast_release(&at);
	free_hist(&hist);
	free(v);
}

/* Errors that grow over the history make the drift check widen each
 * tail as far as the scores go; the p99 stays above the p95 (an
 * exponential tail extends the scores beyond their largest) instead of
 * both stopping at the largest score. */
Test(forecast, p99_stays_above_p95_when_tails_widen)
{
	size_t n = 40 * M, i, h, above = 0;
	double *v = malloc(n * sizeof(double));
	struct forecast fc = { 0 };

	rng_state = 21;
	for (i = 0; i < n; i++)
		v[i] = 100 + 10 * sin(2 * M_PI * (double)(i % M) / M) + (0.2 + 6.0 * (double)i / (double)n) * gauss();
	cr_assert_eq(run_one(&fc, v, n, 12, "holt-winters"), 0, "%s", adp_error_last());
	for (h = 0; h < 12; h++)
		above += fc.items[0].q[h * 4 + 3] > fc.items[0].q[h * 4 + 2] + 1e-9;
	cr_assert_eq(above, 12, "p99 above p95 at %zu of 12 steps", above);
	forecast_release(&fc);
	free(v);
}

/* What a search of the series in order finds. */
static const struct forecast_series *find_in_order(const struct forecast *f, const char *component, int resource)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->items[i].resource == resource && !strcmp(f->items[i].component, component))
			return &f->items[i];
	return NULL;
}

/* forecast_find_all finds what a search in order finds, for every
 * resource of every name: present, absent, and a (component, resource)
 * given twice (the first wins). */
Test(forecast, find_all_matches_find)
{
	static const char *const comps[] = { "web", "db", "api", "db", "cache", "web", "z" };
	static const int res[] = { 0, 1, 0, 1, 2, 1, 3 };
	const char *const names[] = { "db", "nothing", "web", "z", "api", "cache", "" };
	const size_t nn = sizeof(names) / sizeof(*names);
	struct forecast_series items[7];
	struct forecast f = { .items = items, .n = 7 };
	const struct forecast_series *out[7 * ADP_RES_COUNT];
	size_t i;
	int r;

	memset(items, 0, sizeof(items));
	for (i = 0; i < 7; i++) {
		items[i].component = (char *)comps[i];
		items[i].resource = res[i];
	}
	cr_assert_eq(forecast_find_all(&f, names, nn, out), 0, "%s", adp_error_last());
	for (i = 0; i < nn; i++)
		for (r = 0; r < ADP_RES_COUNT; r++)
			cr_assert_eq(out[i * ADP_RES_COUNT + (size_t)r], find_in_order(&f, names[i], r),
				     "'%s' resource %d", names[i], r);
	cr_assert_eq(out[0 * ADP_RES_COUNT + 1], &items[1], "the first 'db' memory");
	cr_assert_null(out[1 * ADP_RES_COUNT + 0]);
}
