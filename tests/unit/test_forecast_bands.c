/* The auto model's bands on real excerpts (NAB, MIT licence, in
 * testdata/nab): climatology at long leads, the cap at the recent
 * maximum, an on/off series and a level shift built from the same
 * values. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forecast/forecast.h"
#include "tests/unit/nabfix.h"
#include "util/error.h"

#define STEP 300
#define DAY 288


/* Forecasts v[0..origin-1] for H steps at levels 0.025, 0.5, 0.95, 0.99. */
static void run(struct forecast *fc, const double *v, size_t origin, size_t H, const char *model)
{
	struct series s = { 0 };
	struct history h = { 0 };
	struct forecast_opts o = { 0 };

	h.items = &s;
	h.n = 1;
	s.component = (char *)"x";
	s.step = STEP;
	s.n = origin;
	s.v = (double *)v;
	o.origin = o.start = (int64_t)origin * STEP;
	o.step = STEP;
	o.horizon = H;
	o.levels[0] = 0.025, o.levels[1] = 0.5, o.levels[2] = 0.95, o.levels[3] = 0.99;
	o.nlevels = 4;
	o.period = 86400;
	cr_assert_eq(forecast_run(fc, &h, &o, model), 0, "%s", adp_error_last());
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double recent_max(const double *v, size_t origin)
{
	double m = -INFINITY;
	size_t i;

	for (i = origin > 14 * DAY ? origin - 14 * DAY : 0; i < origin; i++)
		m = fmax(m, v[i]);
	return m;
}

/* A day ahead on a real cpu series: no upper level above the recent
 * maximum (the series has not been rising), the p99 no narrower than the
 * p95 and above it somewhere, and a band no wider at long leads than
 * Holt-Winters' own. */
Test(bands, day_ahead_is_capped_and_no_wider_than_the_model)
{
	size_t n, origin, h;
	double *v = t_nab("testdata/nab/ec2_cpu_utilization_5f5533.csv", &n), top, wa = 0, wh = 0;
	struct forecast a = { 0 }, hw = { 0 };
	int spread = 0;

	origin = n - DAY;
	run(&a, v, origin, DAY, "auto");
	run(&hw, v, origin, DAY, "holt-winters");
	top = recent_max(v, origin);
	cr_assert(a.items[0].rise_rate <= 0.005, "rise rate %g", a.items[0].rise_rate);
	cr_assert_float_eq(a.items[0].recent_max, top, 1e-9);
	for (h = 0; h < DAY; h++) {
		const double *q = a.items[0].q + h * 4;
		cr_assert_leq(q[3], top + 1e-9, "step %zu: p99 %g above the recent maximum %g", h, q[3], top);
		cr_assert_leq(q[2], q[3]);
		spread += q[3] > q[2] + 1e-9;
		if (h >= DAY / 2) {
			wa += q[3] - q[0];
			wh += hw.items[0].q[h * 4 + 3] - hw.items[0].q[h * 4];
		}
	}
	cr_assert_gt(spread, 0, "p99 equals p95 at every step");
	cr_assert_leq(wa, wh, "auto's band over the second half of the day (%g) is wider than holt-winters' (%g)", wa, wh);
	forecast_release(&a);
	forecast_release(&hw);
	free(v);
}

/* On/off: the real values from 08:00 to 16:00, zero otherwise (a batch
 * job). Off hours get a band at zero from the series' own distribution
 * at that time of day, not the smooth model's tails; on hours are still
 * covered. */
Test(bands, on_off_series_keeps_off_hours_at_zero)
{
	size_t n, i, origin, h, on = 0, cov = 0;
	double *v = t_nab("testdata/nab/ec2_cpu_utilization_5f5533.csv", &n), off95 = 0, hw95 = 0, level = 0;
	struct forecast a = { 0 }, hw = { 0 };

	for (i = 0; i < n; i++) {
		size_t ph = i % DAY;
		if (ph < 96 || ph >= 192)
			v[i] = 0;
		else
			level += v[i];
	}
	level /= (double)n / 3;
	origin = n - DAY;
	run(&a, v, origin, DAY, "auto");
	run(&hw, v, origin, DAY, "holt-winters");
	for (h = 0; h < DAY; h++) {
		size_t ph = (origin + h) % DAY;
		if (ph < 92 || ph >= 196) { /* off, beyond the phase window of the edges */
			off95 = fmax(off95, a.items[0].q[h * 4 + 2]);
			hw95 = fmax(hw95, hw.items[0].q[h * 4 + 2]);
		} else if (ph >= 100 && ph < 188) {
			on++;
			cov += v[origin + h] <= a.items[0].q[h * 4 + 2];
		}
	}
	cr_assert_leq(off95, 0.05 * level, "off hours: p95 up to %g against an on level of %g", off95, level);
	cr_assert_gt(hw95, off95, "holt-winters' off-hour p95 %g is not above auto's %g", hw95, off95);
	cr_assert_geq((double)cov / (double)on, 0.85, "on hours: p95 coverage %g", (double)cov / (double)on);
	forecast_release(&a);
	forecast_release(&hw);
	free(v);
}

/* A level shift: the last four days before the origin 60 % higher. The
 * recent maximum moves with the new level, and the hours after the
 * origin stay covered by a median near the new level. Most calibration
 * origins are before the shift, so a few more of the 48 steps than a
 * p95's share (2 or 3) may go above it: at most 7. */
Test(bands, level_shift_up_is_followed)
{
	size_t n, i, origin, h, cov = 0, H = DAY / 6;
	double *v = t_nab("testdata/nab/rds_cpu_utilization_cc0c53.csv", &n), e = 0, old = 0;
	struct forecast a = { 0 };

	for (i = n - 4 * DAY; i < n; i++)
		v[i] *= 1.6;
	origin = n - H;
	run(&a, v, origin, H, "auto");
	for (h = 0; h < H; h++) {
		cov += v[origin + h] <= a.items[0].q[h * 4 + 2];
		e += fabs(v[origin + h] - a.items[0].q[h * 4 + 1]);
		old += fabs(v[origin + h] - v[origin + h] / 1.6);
	}
	cr_assert_geq(cov, H - 7, "p95 coverage after the shift %g", (double)cov / (double)H);
	cr_assert_lt(e, old / 2, "median error %g against %g for the old level", e, old);
	forecast_release(&a);
	free(v);
}

/* A rising series (cpu on an RDS instance, its real values plus a rise
 * of 2 a day: each day goes above the days before) goes above its recent
 * maximum at the calibration origins often enough, and on enough days,
 * that its p95 and p99 are not capped there; said in rise_rate and
 * rise_days. (The series' own jump from 6 to 14 on day 11 is a level
 * shift: above the old maximum on two days only.) */
Test(bands, rising_series_is_not_capped)
{
	size_t n, i;
	double *v = t_nab("testdata/nab/rds_cpu_utilization_cc0c53.csv", &n);
	struct forecast a = { 0 };

	for (i = 0; i < n; i++)
		v[i] += 2.0 * (double)i / DAY;
	run(&a, v, n - DAY, DAY, "auto");
	cr_assert_gt(a.items[0].rise_rate, 0.025, "rise rate %g", a.items[0].rise_rate);
	cr_assert_geq(a.items[0].rise_days, 3, "rose on %zu days", a.items[0].rise_days);
	cr_assert(!a.items[0].capped[2] && !a.items[0].capped[3], "capped");
	forecast_release(&a);
	free(v);
}

/* Intermittent: the real values at a random 7 % of the steps (bursts at
 * any time of day), zero elsewhere. The band comes from the recent
 * distribution over every phase, not from a phase's few values or the
 * model's errors: its mean p95 stays near the history's own p95, well
 * under the bursts, and the day is still covered. */
Test(bands, intermittent_series_uses_every_phase)
{
	size_t n, i, origin, h, cov = 0;
	double *v = t_nab("testdata/nab/ec2_cpu_utilization_5f5533.csv", &n), *sorted, p95, mean95 = 0, hw95 = 0;
	struct forecast a = { 0 }, hw = { 0 };
	uint64_t r = 7;

	for (i = 0; i < n; i++) {
		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		if ((r >> 33) % 100 >= 7)
			v[i] = 0;
	}
	origin = n - DAY;
	sorted = malloc(origin * sizeof(double));
	memcpy(sorted, v, origin * sizeof(double));
	qsort(sorted, origin, sizeof(double), cmp_double);
	p95 = sorted[(size_t)(0.95 * (double)origin)];
	run(&a, v, origin, DAY, "auto");
	run(&hw, v, origin, DAY, "holt-winters");
	for (h = 0; h < DAY; h++) {
		mean95 += a.items[0].q[h * 4 + 2] / DAY;
		hw95 += hw.items[0].q[h * 4 + 2] / DAY;
		cov += v[origin + h] <= a.items[0].q[h * 4 + 2];
	}
	cr_assert_geq(a.items[0].band_share[2][3], 0.5, "upper band from every phase on %g of the window",
		      a.items[0].band_share[2][3]);
	cr_assert_leq(mean95, 1.5 * p95, "mean p95 %g against the history's p95 %g", mean95, p95);
	cr_assert_lt(mean95, hw95, "auto's mean p95 %g is not under holt-winters' %g", mean95, hw95);
	cr_assert_geq((double)cov / DAY, 0.9, "coverage %g", (double)cov / DAY);
	forecast_release(&a);
	forecast_release(&hw);
	free(sorted);
	free(v);
}

/* The value column of a Microsoft cloud-monitoring file (quoted time,
 * value, label; one-minute samples), as 5-minute means like the history
 * reader's. */
static double *ms(const char *path, size_t *n)
{
	FILE *f = fopen(path, "r");
	char line[256];
	double *v = calloc(8192, sizeof(double));
	size_t rows = 0;

	cr_assert(f && v, "%s", path);
	while (rows < 5 * 8192 && fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ',');
		if (c && line[0] == '"')
			v[rows++ / 5] += strtod(c + 1, NULL) / 5;
	}
	fclose(f);
	*n = rows / 5;
	return v;
}

/* A Microsoft ingress series where the mean of two models backtests
 * better than either: auto takes the mean, names it, and its backtest
 * error is below every single model's on the same origins. */
Test(bands, combination_beats_each_model)
{
	static const char *const single[] = { "seasonal-naive", "holt-winters", "stl-ar" };
	size_t n, i;
	double *v = ms("testdata/demo/history/ingress-02.csv", &n);
	struct forecast a = { 0 };

	run(&a, v, n, DAY / 6, "auto");
	cr_assert(!strncmp(a.items[0].model, "mean:", 5), "model %s", a.items[0].model);
	for (i = 0; i < 3; i++) {
		struct forecast s = { 0 };

		run(&s, v, n, DAY / 6, single[i]);
		cr_assert_lt(a.items[0].backtest_mae, s.items[0].backtest_mae, "%s: %g against %s's %g", a.items[0].model,
			     a.items[0].backtest_mae, single[i], s.items[0].backtest_mae);
		forecast_release(&s);
	}
	forecast_release(&a);
	free(v);
}

/* On/off with a rare busy spell: the real values at a twentieth (an idle
 * VM) and, 6 days before the origin, one 10-hour job on top of them at
 * 80 more. A two-state regime says a busy spell is unlikely within the
 * day, so the day's p95 stays near the idle level instead of at the job's
 * (where the climatology, the every-phase window and their corrections
 * put it), and the idle day is covered. */
Test(bands, rare_busy_spell_is_a_regime_not_every_step)
{
	size_t n, i, origin, h, cov = 0;
	double *v = t_nab("testdata/nab/ec2_cpu_utilization_5f5533.csv", &n), idle = 0, top95 = 0;
	struct forecast a = { 0 };

	for (i = 0; i < n; i++)
		v[i] /= 20;
	origin = n - DAY;
	for (i = origin - 6 * DAY; i < origin - 6 * DAY + 120; i++)
		v[i] += 80;
	for (i = origin > 14 * DAY ? origin - 14 * DAY : 0; i < origin; i++)
		if (i < origin - 6 * DAY || i >= origin - 6 * DAY + 120)
			idle = fmax(idle, v[i]);
	run(&a, v, origin, DAY, "auto");
	cr_assert_gt(a.items[0].band_share[2][4], 0, "the regime's band is never chosen");
	for (h = 0; h < DAY; h++) {
		top95 = fmax(top95, a.items[0].q[h * 4 + 2]);
		cov += v[origin + h] <= a.items[0].q[h * 4 + 2];
	}
	cr_assert_leq(top95, 2 * idle, "p95 up to %g; idle at most %g, busy above 80", top95, idle);
	cr_assert_geq((double)cov / DAY, 0.9, "coverage %g", (double)cov / DAY);
	forecast_release(&a);
	free(v);
}

/* One new high is a jump, not a trend: a 6-hour spell at twice the
 * series' maximum, 10 days before the origin, is above its own recent
 * maximum at more than a p99's share of the calibration values, but on
 * one or two days only, so the p99 stays capped at the recent maximum
 * (before, the spell uncapped it along the whole day). */
Test(bands, one_new_high_is_not_a_trend)
{
	size_t n, i, origin, h;
	double *v = t_nab("testdata/nab/ec2_cpu_utilization_5f5533.csv", &n), top;
	struct forecast a = { 0 };

	origin = n - DAY;
	top = recent_max(v, origin);
	for (i = origin - 10 * DAY; i < origin - 10 * DAY + 72; i++)
		v[i] = 2 * top;
	run(&a, v, origin, DAY, "auto");
	cr_assert_gt(a.items[0].rise_rate, 0.005, "rise rate %g", a.items[0].rise_rate);
	cr_assert_lt(a.items[0].rise_days, 3, "rose on %zu days", a.items[0].rise_days);
	cr_assert(a.items[0].capped[3], "p99 not capped");
	for (h = 0; h < DAY; h++)
		cr_assert_leq(a.items[0].q[h * 4 + 3], a.items[0].recent_max + 1e-9, "step %zu: p99 %g above %g", h,
			      a.items[0].q[h * 4 + 3], a.items[0].recent_max);
	forecast_release(&a);
	free(v);
}

/* After a real level shift (the RDS series goes from 6 to 14 on day 11),
 * the median follows the new level while the climatology still holds the
 * old one: each upper level keeps its own band's spread above the median
 * chosen, instead of sitting at or under it. */
Test(bands, upper_levels_stay_above_a_shifted_median)
{
	size_t n, h, origin, H = DAY / 6, flat = 0;
	double *v = t_nab("testdata/nab/rds_cpu_utilization_cc0c53.csv", &n);
	struct forecast a = { 0 };

	for (origin = 11 * DAY + DAY / 4; origin + H <= n && origin < 12 * DAY; origin += DAY / 8) {
		run(&a, v, origin, H, "auto");
		for (h = 0; h < H; h++)
			flat += a.items[0].q[h * 4 + 2] <= a.items[0].q[h * 4 + 1] * (1 + 1e-9);
		forecast_release(&a);
	}
	cr_assert_eq(flat, 0, "%zu steps with a p95 at or under the median", flat);
	free(v);
}

/* A real level shift three hours old: the RDS series steps from 6 to 14
 * at index 3079. Over the three hours the history sits far above its
 * climatology, whose weeks at the old level the bands would otherwise
 * follow: the climatologies are re-anchored by that gap (said in
 * level_shift), and the next four hours' median is near the new level,
 * with the p95 covering most of them. */
Test(bands, recent_level_shift_re_anchors_the_climatology)
{
	size_t n, h, origin = 3079 + 36, H = DAY / 6, cov = 0;
	double *v = t_nab("testdata/nab/rds_cpu_utilization_cc0c53.csv", &n), e = 0, old = 0;
	struct forecast a = { 0 };

	run(&a, v, origin, H, "auto");
	cr_assert_gt(a.items[0].level_shift, 4, "level shift %g", a.items[0].level_shift);
	for (h = 0; h < H; h++) {
		e += fabs(v[origin + h] - a.items[0].q[h * 4 + 1]);
		old += fabs(v[origin + h] - 6.0);
		cov += v[origin + h] <= a.items[0].q[h * 4 + 2];
	}
	cr_assert_lt(e, old / 4, "median error %g against %g at the old level", e, old);
	cr_assert_geq(cov, H - 5, "p95 covers %zu of %zu", cov, H);
	forecast_release(&a);
	free(v);
}

/* A VM pegged at its ceiling: a real EC2 instance goes from about 34 %
 * to 99 % on day 12 and stays there (maximum 99.7). Forecast from day 13,
 * the median comes out at or a little above that maximum; above the
 * median the band may only rise as far as the median rose above the
 * maximum (the model's tail there reached 2.5 times the maximum), and
 * the day, which stays at its ceiling, is still covered. */
Test(bands, pegged_at_its_ceiling_no_tail_past_what_the_rise_supports)
{
	size_t n, h, origin, over = 0, cov = 0;
	double *v = t_nab("testdata/nab/ec2_cpu_utilization_ac20cd.csv", &n), top;
	struct forecast a = { 0 };

	origin = n - DAY;
	top = recent_max(v, origin);
	run(&a, v, origin, DAY, "auto");
	for (h = 0; h < DAY; h++) {
		const double *q = a.items[0].q + h * 4, cap = q[1] < top ? top : 2 * q[1] - top;

		over += q[1] > top;
		cr_assert_leq(q[3], cap + 1e-9, "step %zu: p99 %g above %g (median %g, maximum %g)", h, q[3], cap, q[1], top);
		cov += v[origin + h] <= q[2];
	}
	cr_assert_gt(over, 0, "no step has its median above the maximum %g: nothing tested", top);
	cr_assert_geq(cov, DAY * 9 / 10, "p95 coverage %g", (double)cov / DAY);
	forecast_release(&a);
	free(v);
}
