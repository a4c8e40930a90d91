/* Backtested models: seasonal naive, damped Holt-Winters, stl-ar and an
 * LSTM network (lstm.h), chosen per series by a rolling-origin backtest on
 * its own history (the network only where auto_lstm lets it).
 *
 * The backtest origins sit on a grid fixed in time: d periods before the
 * forecast origin, shifted by up to ENG_SHIFT steps either way, so each
 * origin has the phase of the real one. At every origin the model
 * forecasts the same lead times as the real forecast, giving error paths.
 *  - Quantiles: point forecast plus the error scale at that lead (and so
 *    phase) times conformal quantiles of the normalised errors pooled
 *    over leads (weights halving every ENG_HALFLIFE periods), with the
 *    tails widened by a drift check replayed over the backtest periods
 *    (eng_drift). The median is the point forecast.
 *  - Scenario k: point forecast plus the whole error path of one origin,
 *    drawn from the grid with a seeded generator that does not depend on
 *    the series, so scenario k of every series uses the same past times:
 *    a block bootstrap of time-aligned residuals that keeps the
 *    correlation between components over the window.
 *  - auto only (eng_climate): per bucket of leads, the band is the
 *    model's, the series' recent distribution at that phase (corrected
 *    on calibration origins), or the mean of both, whichever scored
 *    best there; upper levels are capped at the recent maximum unless
 *    the series has been rising above it. Scenarios are mapped onto the
 *    new band rank for rank.
 * Anomalies are replaced before fitting; errors are measured on the raw
 * values so the intervals still cover real spikes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forecast/forecast.h"
#include "forecast/lstm.h"
#include "forecast/sort.h"
#include "util/error.h"

#define ENG_PERIODS 28       /* backtest depth, in periods */
#define ENG_SHIFT 6          /* steps either side of the origin's phase */
#define ENG_HALFLIFE 7.0     /* periods */
#define ENG_MIN_ORIGINS 10
#define ENG_MAX_FIT 20000    /* history steps used at most */
#define ENG_ACF_MAX 16384    /* history steps used for periodicity (a weekly period needs 3 cycles) */
#define ENG_ANOMALY_Z 6.0
#define ENG_MAX_VALUE 1e100  /* larger values would overflow squared errors */
#define ENG_DEFAULT_SEED 0x5eed2018u

enum { M_SNAIVE, M_HW, M_AUTO, M_STL, M_LSTM };

#define ENG_WEEK 7           /* the second season, in periods */
#define ENG_AR 3             /* order of the AR model on the remainder */
#define ENG_MU_PERIODS 1     /* stl-ar: periods averaged for the level */

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15u;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
	return x ^ (x >> 31);
}

/* In-place iterative radix-2 FFT of n (a power of two) complex values.
 * tw: n values of scratch, which holds each stage's twiddles: the same
 * recurrence that every block of the stage would run again. */
static void fft(double *re, double *im, size_t n, int inverse, double *tw)
{
	size_t i, j, len;

	for (i = 1, j = 0; i < n; i++) {
		size_t bit = n >> 1;
		for (; j & bit; bit >>= 1)
			j ^= bit;
		j ^= bit;
		if (i < j) {
			double t = re[i];
			re[i] = re[j], re[j] = t;
			t = im[i], im[i] = im[j], im[j] = t;
		}
	}
	for (len = 2; len <= n; len <<= 1) {
		double ang = 2 * M_PI / (double)len * (inverse ? 1 : -1), wr = cos(ang), wi = sin(ang);
		double cr = 1, ci = 0, t;

		for (j = 0; j < len / 2; j++) {
			tw[2 * j] = cr, tw[2 * j + 1] = ci;
			t = cr * wr - ci * wi;
			ci = cr * wi + ci * wr;
			cr = t;
		}
		for (i = 0; i < n; i += len) {
			for (j = 0; j < len / 2; j++) {
				size_t a = i + j, b = i + j + len / 2;
				double xr = re[b] * tw[2 * j] - im[b] * tw[2 * j + 1], xi = re[b] * tw[2 * j + 1] + im[b] * tw[2 * j];
				re[b] = re[a] - xr, im[b] = im[a] - xi;
				re[a] += xr, im[a] += xi;
			}
		}
	}
}

/* Autocovariance sums of v around mean for lags 1..maxlag (missing values
 * count as the mean), by FFT: O(n log n) instead of O(n maxlag). */
static int acf_fft(double *acf, const double *v, size_t n, double mean, size_t maxlag)
{
	size_t N = 1, i;
	double *re, *im, *tw;

	/* Zero padding beyond maxlag keeps the circular correlation exact up to it. */
	while (N < n + maxlag + 1)
		N <<= 1;
	re = calloc(N, sizeof(*re));
	im = calloc(N, sizeof(*im));
	tw = malloc(N * sizeof(*tw));
	if (!re || !im || !tw) {
		free(re);
		free(im);
		free(tw);
		return -1;
	}
	for (i = 0; i < n; i++)
		re[i] = isnan(v[i]) ? 0 : v[i] - mean;
	fft(re, im, N, 0, tw);
	for (i = 0; i < N; i++) {
		re[i] = re[i] * re[i] + im[i] * im[i];
		im[i] = 0;
	}
	fft(re, im, N, 1, tw);
	for (i = 1; i <= maxlag; i++)
		acf[i] = i < n ? re[i] / (double)N : 0;
	free(re);
	free(im);
	free(tw);
	return 0;
}

#define PERIOD_PERMUTATIONS 99
#define PERIOD_MAX_TESTS 8      /* candidate peaks tested per series */
#define PERIOD_ALPHA 0.01
#define PERIOD_TEST_CYCLES 16  /* the test uses the last 16 cycles at most */

static void fold_add(double *sum, double *cnt, const double *x, size_t n)
{
	size_t p;

	for (p = 0; p < n; p++)
		if (!isnan(x[p])) {
			sum[p] += x[p];
			cnt[p] += 1;
		}
}

/* Share of the variance of v (n values, NAN skipped) explained by the mean
 * profile over L-step cycles, each cycle c rotated by rot[c] steps (NULL:
 * none). sum and cnt: L values of scratch each. */
static double fold_strength(const double *v, size_t n, size_t L, const size_t *rot, double *sum,
			    double *cnt, double mean, double var)
{
	size_t c, p, ncyc = n / L;
	double between = 0;

	memset(sum, 0, L * sizeof(*sum));
	memset(cnt, 0, L * sizeof(*cnt));
	for (c = 0; c < ncyc; c++) {
		size_t r = rot ? rot[c] : 0;
		const double *x = v + c * L;

		/* The rotation in two straight runs; each phase still adds its
		 * cycles in order, so the sums are the same. */
		fold_add(sum + r, cnt + r, x, L - r);
		fold_add(sum, cnt, x + L - r, r);
	}
	for (p = 0; p < L; p++)
		if (cnt[p] > 0) {
			double d = sum[p] / cnt[p] - mean;
			between += cnt[p] * d * d;
		}
	return var > 0 ? between / var : 0;
}

/* Permutation test of a period of L steps: the strength of the folded
 * profile against the same with every cycle rotated by an independent
 * random offset, which keeps each cycle's own autocorrelation but
 * destroys any alignment between cycles. Returns the p-value
 * (1 + exceedances) / (1 + permutations), stopping early once the result
 * cannot be significant; 1 when fewer than 3 cycles are available. */
double forecast_period_pvalue(const double *v, size_t n, size_t L, uint64_t seed)
{
	size_t ncyc, c, k, i, exceed = 0, cnt = 0;
	double *sum, *cnts, mean = 0, var = 0, obs, p = 1;
	size_t *rot;

	if (L < 2 || n / L < 3)
		return 1;
	ncyc = n / L < PERIOD_TEST_CYCLES ? n / L : PERIOD_TEST_CYCLES;
	v += n - ncyc * L;
	n = ncyc * L;
	for (i = 0; i < n; i++)
		if (!isnan(v[i])) {
			mean += v[i];
			cnt++;
		}
	if (!cnt)
		return 1;
	mean /= (double)cnt;
	for (i = 0; i < n; i++)
		if (!isnan(v[i]))
			var += (v[i] - mean) * (v[i] - mean);
	sum = malloc(L * sizeof(*sum));
	cnts = malloc(L * sizeof(*cnts));
	rot = malloc(ncyc * sizeof(*rot));
	if (!sum || !cnts || !rot || !(var > 0))
		goto done;
	obs = fold_strength(v, n, L, NULL, sum, cnts, mean, var);
	for (k = 0; k < PERIOD_PERMUTATIONS; k++) {
		for (c = 0; c < ncyc; c++)
			rot[c] = (size_t)(splitmix(seed ^ splitmix(k * 1000003u + c + 1)) % L);
		if (fold_strength(v, n, L, rot, sum, cnts, mean, var) >= obs)
			exceed++;
		if ((double)(1 + exceed) / (1 + PERIOD_PERMUTATIONS) > PERIOD_ALPHA)
			break; /* cannot be significant any more */
	}
	p = k < PERIOD_PERMUTATIONS ? 1 : (double)(1 + exceed) / (1 + PERIOD_PERMUTATIONS);
done:
	free(sum);
	free(cnts);
	free(rot);
	return p;
}

size_t forecast_find_periods(const double *v, size_t n, size_t maxlag, size_t *lags,
			     double *strength, size_t max)
{
	return forecast_find_periods_p(v, n, maxlag, lags, strength, NULL, max);
}

size_t forecast_find_periods_p(const double *v, size_t n, size_t maxlag, size_t *lags,
			       double *strength, double *pvalue, size_t max)
{
	double mean = 0, var = 0, *acf = NULL, thr, pv;
	size_t i, lag, cnt = 0, found = 0, ntests = 0;
	unsigned char *tested = NULL;

	for (i = 0; i < n; i++)
		if (!isnan(v[i])) {
			mean += v[i];
			cnt++;
		}
	if (cnt < 8 || maxlag < 3 || max == 0)
		return 0;
	mean /= (double)cnt;
	for (i = 0; i < n; i++)
		if (!isnan(v[i]))
			var += (v[i] - mean) * (v[i] - mean);
	if (maxlag > n / 2)
		maxlag = n / 2;
	if (var <= 0 || maxlag < 3 || !(acf = calloc(maxlag + 3, sizeof(*acf))))
		return 0;
	if (!(tested = calloc(maxlag + 3, 1)) || acf_fft(acf, v, n, mean, maxlag + 2)) {
		free(acf);
		free(tested);
		return 0;
	}
	for (lag = 1; lag <= maxlag + 2; lag++)
		acf[lag] /= var;
	/* 3 sigma of the white-noise autocorrelation, and a floor on effect size. */
	thr = fmax(0.2, 3.0 / sqrt((double)cnt));
	for (;;) {
		size_t best = 0;
		double bv = thr;

		for (lag = 2; lag <= maxlag; lag++) {
			size_t f;
			int harmonic = 0;

			if (tested[lag] || !(acf[lag] > bv && acf[lag] >= acf[lag - 1] && acf[lag] >= acf[lag + 1] &&
			      acf[lag] >= acf[lag > 2 ? lag - 2 : 1] && acf[lag] >= acf[lag + 2]))
				continue;
			for (f = 0; f < found; f++) {
				double r = (double)lag / (double)lags[f], near = floor(r + 0.5);
				/* Within 5% of a period found is that period again; a multiple is
				 * a harmonic unless it correlates clearly better (a week over a
				 * day); a divisor is a period of its own. */
				if (fabs((double)lag - (double)lags[f]) < 0.05 * (double)lags[f] ||
				    (near >= 1 && fabs(r - near) < 0.03 * near && acf[lag] < strength[f] + 0.05))
					harmonic = 1;
			}
			if (!harmonic) {
				best = lag;
				bv = acf[lag];
			}
		}
		if (!best || found == max || ntests == PERIOD_MAX_TESTS)
			break;
		/* Confirmed by the permutation test, or set aside for good. */
		tested[best] = 1;
		ntests++;
		pv = forecast_period_pvalue(v, n, best, best);
		if (pv > PERIOD_ALPHA)
			continue;
		if (pvalue)
			pvalue[found] = pv;
		lags[found] = best;
		strength[found++] = bv;
	}
	free(acf);
	free(tested);
	return found;
}

int forecast_clean(double *v, size_t n, size_t m, double z, unsigned char *flag, size_t *nflagged)
{
	double *buf = NULL, *med = NULL, *dev = NULL, *tmp = NULL;
	size_t p, i, k, nflag = 0;
	int rc = 0;

	if (m == 0 || m > n)
		m = 1;
	buf = malloc(((n + m - 1) / m + 1) * sizeof(*buf));
	med = malloc(m * sizeof(*med));
	dev = malloc(n * sizeof(*dev));
	tmp = malloc(n * sizeof(*tmp));
	if (!buf || !med || !dev || !tmp) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory cleaning a series of %zu steps", n);
		goto done;
	}
	for (p = 0; p < m; p++) {
		for (i = p, k = 0; i < n; i += m)
			if (!isnan(v[i]))
				buf[k++] = v[i];
		med[p] = k ? (forecast_sort(buf, k, tmp), k % 2 ? buf[k / 2] : (buf[k / 2 - 1] + buf[k / 2]) / 2) : NAN;
	}
	/* One robust scale for the series: the MAD of deviations from the phase medians. */
	for (i = 0, k = 0; i < n; i++)
		if (!isnan(v[i]) && !isnan(med[i % m]))
			dev[k++] = fabs(v[i] - med[i % m]);
	{
		/* Absolute values: selection gives the sorted median exactly. */
		double mad = k ? forecast_quantile_select(dev, k, 0.5) * 1.4826 : 0, all = 0;
		size_t c = 0;

		for (i = 0; i < n; i++)
			if (!isnan(v[i])) {
				all += v[i];
				c++;
			}
		all = c ? all / (double)c : 0;
		/* A floor so that a flat series does not flag every wobble. */
		mad = fmax(mad, 1e-3 * fabs(all) + 1e-12);
		unsigned char *bad = (unsigned char *)dev; /* dev is free again: reuse it */
		size_t run, maxrun = m / 4 > 3 ? m / 4 : 3;

		for (i = 0; i < n; i++) {
			double md = isnan(med[i % m]) ? all : med[i % m];
			bad[i] = !isnan(v[i]) && fabs(v[i] - md) > z * mad;
		}
		/* Anomalies are short: a deviation that lasts longer than a quarter
		 * of the period is a change of level, which the models must follow. */
		for (i = 0; i < n; i = i + run + (run == 0)) {
			for (run = 0; i + run < n && bad[i + run]; run++)
				;
			if (run > maxrun)
				memset(bad + i, 0, run);
		}
		for (i = 0; i < n; i++) {
			double md = isnan(med[i % m]) ? all : med[i % m];

			if (flag)
				flag[i] = bad[i];
			nflag += bad[i];
			if (bad[i] || isnan(v[i]))
				v[i] = md;
		}
	}
	*nflagged = nflag;
done:
	free(buf);
	free(med);
	free(dev);
	free(tmp);
	return rc;
}

/* One step of the level and trend of hw_run for value xi with seasons s
 * and s2, smoothing a and b, damping phi; returns the one-step error. */
static inline double hw_step(double xi, double s, double s2, double a, double b, double phi,
			     double *l, double *tr)
{
	double f = *l + phi * *tr + s + s2, nl = a * (xi - s - s2) + (1 - a) * (*l + phi * *tr);

	*tr = b * (nl - *l) + (1 - b) * phi * *tr;
	*l = nl;
	return xi - f;
}

/* Damped additive Holt-Winters with one season of m steps, or two (m
 * and m2, e.g. daily and weekly) when m2 > 0: the states after each step
 * (level, trend, season, and second season when S2 is not NULL). The
 * fit's loss is hw_run_lanes'. p: alpha, beta, gamma, phi, gamma2. ws:
 * 2 * (m + m2) doubles of scratch. */
static void hw_run(const double *x, size_t n, size_t m, size_t m2, const double *p, double *ws, double *L,
		   double *B, double *S, double *S2)
{
	double a = p[0], b = p[1], g = p[2], phi = p[3], g2 = m2 ? p[4] : 0, l = 0, tr = 0;
	double *season = ws, *season2 = ws + m;
	size_t i, k = 0, k2 = 0;

	for (i = 0; i < m; i++)
		l += x[i];
	l /= (double)m;
	for (i = 0; i < m; i++)
		season[i] = x[i] - l;
	/* The second season starts as the mean weekly profile left after the daily one. */
	for (i = 0; i < m2; i++)
		season2[i] = 0;
	if (m2 && n >= m2) {
		for (i = 0, k = 0; i < m2; i++, k = k + 1 == m ? 0 : k + 1)
			season2[i] = x[i] - l - season[k];
		k = 0;
	}
	for (i = 0; i < n; i++) {
		double s = season[k], s2 = m2 ? season2[k2] : 0;

		hw_step(x[i], s, s2, a, b, phi, &l, &tr);
		season[k] = g * (x[i] - l - s2) + (1 - g) * s;
		if (m2)
			season2[k2] = g2 * (x[i] - l - season[k]) + (1 - g2) * s2;
		L[i] = l;
		B[i] = tr;
		S[i] = season[k];
		if (S2)
			S2[i] = m2 ? season2[k2] : 0;
		if (++k == m)
			k = 0;
		if (m2 && ++k2 == m2)
			k2 = 0;
	}
}

/* The fit's loss, the sum of squared one-step errors after the first
 * max(m, m2) steps, for HW_LANES parameter sets p[0..HW_LANES-1] at once,
 * into sse (no states kept). Each lane runs hw_run's recurrence with the
 * same operations in the same order, so a lane's loss is the one hw_run
 * would give bit for bit. The lanes are a vector of GCC's vector
 * extension: one instruction per operation for all four (two on a
 * processor without 256-bit vectors), where a scalar loop spent a fifth
 * of a plan's time at scale. Callers with fewer sets repeat one. ws:
 * HW_LANES * (m + m2) doubles of scratch. */
#define HW_LANES 4
typedef double hw_vec __attribute__((vector_size(HW_LANES * sizeof(double)), aligned(sizeof(double))));

/* The lanes' constants and states; passed by pointer, so that no
 * vector crosses a call (whose ABI would differ between the clones). */
struct hw_lanes {
	hw_vec a, b, g, phi, g2, l, tr, acc;
};

/* The loop over the history from i0 to i1 (k, k2: the seasons' phase at
 * i0), adding squared errors when add; two seasons when m2. Each step is
 * hw_step's and hw_run's expressions, lane by lane. */
static inline __attribute__((always_inline)) void hw_lanes_span(struct hw_lanes *z, const double *x, size_t i0, size_t i1, size_t m, size_t m2,
				 size_t *k, size_t *k2, hw_vec *season, hw_vec *season2, int add)
{
	const hw_vec one = { 1, 1, 1, 1 }, zero = { 0, 0, 0, 0 };
	size_t i;

	for (i = i0; i < i1; i++) {
		hw_vec s = season[*k], s2 = m2 ? season2[*k2] : zero, xi = x[i] - zero;
		hw_vec f = z->l + z->phi * z->tr + s + s2;
		hw_vec nl = z->a * (xi - s - s2) + (one - z->a) * (z->l + z->phi * z->tr), err;

		z->tr = z->b * (nl - z->l) + (one - z->b) * z->phi * z->tr;
		z->l = nl;
		err = xi - f;
		if (add)
			z->acc += err * err;
		if (m2) {
			season[*k] = z->g * (xi - z->l - s2) + (one - z->g) * s;
			season2[*k2] = z->g2 * (xi - z->l - season[*k]) + (one - z->g2) * s2;
			*k2 = *k2 + 1 == m2 ? 0 : *k2 + 1;
		} else {
			season[*k] = z->g * (xi - z->l) + (one - z->g) * s;
		}
		*k = *k + 1 == m ? 0 : *k + 1;
	}
}

/* A run's start: lane q's constants from p[q], the level the mean of
 * the first period, the seasons what is left of it (lane q's seasons
 * interleaved: season[k][q]). */
static inline void hw_lanes_init(struct hw_lanes *z, const double *x, size_t n, size_t m, size_t m2,
				 const double (*p)[5], hw_vec *season, hw_vec *season2)
{
	double l0 = 0;
	size_t i, q, k;

	memset(z, 0, sizeof(*z));
	for (i = 0; i < m; i++)
		l0 += x[i];
	l0 /= (double)m;
	for (q = 0; q < HW_LANES; q++) {
		z->a[q] = p[q][0], z->b[q] = p[q][1], z->g[q] = p[q][2], z->phi[q] = p[q][3], z->g2[q] = m2 ? p[q][4] : 0;
		z->l[q] = l0, z->tr[q] = 0;
		for (i = 0; i < m; i++)
			season[i][q] = x[i] - l0;
		/* i % m kept by a counter: a division per value was an eighth of the fit */
		for (i = 0, k = 0; i < m2; i++, k = k + 1 == m ? 0 : k + 1)
			season2[i][q] = n >= m2 ? x[i] - l0 - season[k][q] : 0;
	}
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
static void hw_run_lanes(const double *x, size_t n, size_t m, size_t m2, const double (*p)[5], double *ws,
			 double *sse)
{
	struct hw_lanes z;
	hw_vec *season = (hw_vec *)ws, *season2 = (hw_vec *)(ws + HW_LANES * m);
	size_t q, k = 0, k2 = 0, warm = m2 > m ? m2 : m;

	hw_lanes_init(&z, x, n, m, m2, p, season, season2);
	if (warm > n)
		warm = n;
	/* The warm-up apart, so that no step tests it; each span inlined with
	 * m2 known to be zero or not. */
	if (!m2) {
		hw_lanes_span(&z, x, 0, warm, m, 0, &k, &k2, season, season2, 0);
		hw_lanes_span(&z, x, warm, n, m, 0, &k, &k2, season, season2, 1);
	} else {
		hw_lanes_span(&z, x, 0, warm, m, m2, &k, &k2, season, season2, 0);
		hw_lanes_span(&z, x, warm, n, m, m2, &k, &k2, season, season2, 1);
	}
	for (q = 0; q < HW_LANES; q++)
		sse[q] = z.acc[q];
}

/* hw_lanes_span of a one-season run a and a two-season run b over the
 * same values x[i0..i1-1], in one loop: each step of a run waits on the
 * one before (the level and trend), so two independent runs take about
 * the time of one. Each run's operations are its own span's, in the
 * same order. */
static inline __attribute__((always_inline)) void hw_pair_span(struct hw_lanes *za, struct hw_lanes *zb, const double *x, size_t i0, size_t i1,
				size_t m, size_t m2, size_t *ka, size_t *kb, size_t *kb2, hw_vec *sa, hw_vec *sb,
				hw_vec *sb2, int adda, int addb)
{
	size_t i;

	size_t none = 0;

	for (i = i0; i < i1; i++) {
		hw_lanes_span(za, x, i, i + 1, m, 0, ka, &none, sa, NULL, adda);
		hw_lanes_span(zb, x, i, i + 1, m, m2, kb, kb2, sb, sb2, addb);
	}
}

/* hw_run_lanes for a one-season run of x + offa (na values, sets pa)
 * and a two-season one of x + offb (nb, pb) that end at the same value,
 * the stretch they share in one loop (hw_pair_span): each run's loss is
 * what hw_run_lanes gives it alone, bit for bit. ws: HW_LANES * (2m +
 * m2) doubles. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
static void hw_run_pair(const double *x, size_t offa, size_t na, size_t offb, size_t nb, size_t m, size_t m2,
			const double (*pa)[5], const double (*pb)[5], double *ws, double *ssea, double *sseb)
{
	struct hw_lanes za, zb;
	hw_vec *sa = (hw_vec *)ws, *sb = sa + m, *sb2 = sb + m;
	size_t end = offa + na, wa = offa + (m < na ? m : na), wb = offb + (m2 < nb ? m2 : nb);
	size_t ka = 0, kb = 0, kb2 = 0, dummy = 0, pts[5] = { offa, wa, offb, wb, end }, i, j, q;

	hw_lanes_init(&za, x + offa, na, m, 0, pa, sa, NULL);
	hw_lanes_init(&zb, x + offb, nb, m, m2, pb, sb, sb2);
	/* Stretches between the runs' starts and ends of warm-up: in each,
	 * a run is idle, warming up or adding. */
	for (i = 1; i < 5; i++)
		for (j = i; j > 0 && pts[j] < pts[j - 1]; j--)
			q = pts[j], pts[j] = pts[j - 1], pts[j - 1] = q;
	for (i = 0; i + 1 < 5; i++) {
		size_t s = pts[i], e = pts[i + 1];
		int ina = s >= offa, inb = s >= offb, adda = s >= wa, addb = s >= wb;

		if (s == e)
			continue;
		if (ina && inb) {
			if (adda && addb)
				hw_pair_span(&za, &zb, x, s, e, m, m2, &ka, &kb, &kb2, sa, sb, sb2, 1, 1);
			else if (adda)
				hw_pair_span(&za, &zb, x, s, e, m, m2, &ka, &kb, &kb2, sa, sb, sb2, 1, 0);
			else if (addb)
				hw_pair_span(&za, &zb, x, s, e, m, m2, &ka, &kb, &kb2, sa, sb, sb2, 0, 1);
			else
				hw_pair_span(&za, &zb, x, s, e, m, m2, &ka, &kb, &kb2, sa, sb, sb2, 0, 0);
		} else if (ina) {
			if (adda)
				hw_lanes_span(&za, x, s, e, m, 0, &ka, &dummy, sa, NULL, 1);
			else
				hw_lanes_span(&za, x, s, e, m, 0, &ka, &dummy, sa, NULL, 0);
		} else if (inb) {
			if (addb)
				hw_lanes_span(&zb, x, s, e, m, m2, &kb, &kb2, sb, sb2, 1);
			else
				hw_lanes_span(&zb, x, s, e, m, m2, &kb, &kb2, sb, sb2, 0);
		}
	}
	for (q = 0; q < HW_LANES; q++) {
		ssea[q] = za.acc[q];
		sseb[q] = zb.acc[q];
	}
}

/* Coordinate k of the search's candidate in direction dir (-1, 1) from
 * best, into p; 0 when it falls outside the parameter's range. */
static int hw_candidate(double *p, const double *best, size_t k, int dir, double step)
{
	memcpy(p, best, 5 * sizeof(*p));
	if (k == 3)
		p[3] = best[3] + dir * step * 0.1;
	else if (k == 1)
		p[1] = best[1] > 0 ? best[1] * (1 + dir * step) : (dir > 0 ? 0.005 : -1);
	else
		p[k] = best[k] * (1 + dir * step);
	return !(p[k] < 0 || p[k] >= 1 || (k != 1 && p[k] <= 0) || (k == 3 && p[3] < 0.8));
}

/* Least squares of one-step errors over a coarse grid, then a coordinate
 * search with shrinking steps on every parameter. The fit uses the last
 * ENG_FIT_PERIODS periods at most (whole periods of m2 when there are
 * two seasons): enough to pin the smoothing constants down, and it keeps
 * the cost flat in the history length. A search is a sequence of runs of
 * HW_LANES parameter sets, each chosen from the losses before it
 * (hw_search_next, then hw_search_take with the run's losses), so that
 * two searches can share runs (hw_fit_both). */
#define ENG_FIT_PERIODS 14
struct hw_search {
	const double *x;        /* the values fitted, n of them */
	size_t n, m, m2, np, ng, gi, it, k;
	double *best, bs, grid[32][5], cand[HW_LANES][5];
	int stage, ok0, ok1, ok2; /* stage: 0 the grid, 1 the coordinate search, 2 done */
};

static void hw_search_init(struct hw_search *s, const double *x, size_t n, size_t m, size_t m2, double *best)
{
	static const double A[] = { 0.05, 0.15, 0.35, 0.7 }, Bt[] = { 0, 0.02 }, G[] = { 0.05, 0.2 },
			    P[] = { 0.9, 0.98 };
	size_t unit = m2 ? m2 : m, nf = (m2 ? 3 : ENG_FIT_PERIODS) * unit, i, j, k, l;

	memset(s, 0, sizeof(*s));
	if (m2 && nf < ENG_FIT_PERIODS * m)
		nf = (ENG_FIT_PERIODS * m + m2 - 1) / m2 * m2;
	if (nf < n)
		x += n - nf - (n - nf) % unit, n = nf + (n - nf) % unit;
	s->x = x, s->n = n, s->m = m, s->m2 = m2, s->np = m2 ? 5 : 4, s->best = best, s->bs = INFINITY;
	best[0] = 0.2, best[1] = 0, best[2] = 0.1, best[3] = 0.98, best[4] = 0.1;
	/* The grid, HW_LANES sets at a time, judged in the grid's order. */
	for (i = 0; i < 4; i++)
		for (j = 0; j < 2; j++)
			for (k = 0; k < 2; k++)
				for (l = 0; l < 2; l++, s->ng++) {
					s->grid[s->ng][0] = A[i], s->grid[s->ng][1] = Bt[j], s->grid[s->ng][2] = G[k];
					s->grid[s->ng][3] = P[l], s->grid[s->ng][4] = 0.1;
				}
}

/* The next run's sets into s->cand; 0 when the search is over. Both
 * directions of a coordinate are run together from the same best (in
 * lanes 0 and 1). The second direction is also tried from the first's
 * point, as a one-at-a-time search would next if the first won: run
 * ahead in lane 2 (lane 3 repeats lane 1), it costs nothing, where a run
 * of its own after the first won was a sixth of the fits. Lanes are
 * independent, so the result is the same. */
static int hw_search_next(struct hw_search *s)
{
	if (s->stage == 0) {
		if (s->gi < s->ng) {
			memcpy(s->cand, s->grid[s->gi], sizeof(s->cand));
			return 1;
		}
		s->stage = 1;
	}
	for (; s->stage == 1; s->k++) {
		double step;

		if (s->k == s->np)
			s->k = 0, s->it++;
		if (s->it == 4) {
			s->stage = 2;
			break;
		}
		step = 0.5 / (double)(1 << s->it);
		s->ok0 = hw_candidate(s->cand[0], s->best, s->k, -1, step);
		s->ok1 = hw_candidate(s->cand[1], s->best, s->k, 1, step);
		s->ok2 = s->ok0 && hw_candidate(s->cand[2], s->cand[0], s->k, 1, step);
		if (!s->ok0 && !s->ok1)
			continue;
		if (!s->ok2)
			memcpy(s->cand[2], s->cand[0], sizeof(s->cand[0]));
		memcpy(s->cand[3], s->cand[1], sizeof(s->cand[1]));
		return 1;
	}
	return 0;
}

/* The losses of the run hw_search_next chose. */
static void hw_search_take(struct hw_search *s, const double *loss)
{
	double sse[HW_LANES];
	size_t j;
	int ok1 = s->ok1;

	memcpy(sse, loss, sizeof(sse));
	if (s->stage == 0) {
		for (j = 0; j < HW_LANES; j++)
			if (sse[j] < s->bs) {
				s->bs = sse[j];
				memcpy(s->best, s->grid[s->gi + j], sizeof(s->grid[0]));
			}
		s->gi += HW_LANES;
		return;
	}
	s->k++;
	if (s->ok0 && sse[0] < s->bs) {
		s->bs = sse[0];
		memcpy(s->best, s->cand[0], sizeof(s->cand[0]));
		if (!(ok1 = s->ok2))
			return;
		memcpy(s->cand[1], s->cand[2], sizeof(s->cand[2]));
		sse[1] = sse[2];
	}
	if (ok1 && sse[1] < s->bs) {
		s->bs = sse[1];
		memcpy(s->best, s->cand[1], sizeof(s->cand[1]));
	}
}

static void hw_fit(const double *x, size_t n, size_t m, size_t m2, double *ws, double *best)
{
	struct hw_search s;
	double sse[HW_LANES];

	hw_search_init(&s, x, n, m, m2, best);
	while (hw_search_next(&s)) {
		hw_run_lanes(s.x, s.n, m, m2, (const double (*)[5])s.cand, ws, sse);
		hw_search_take(&s, sse);
	}
}

/* hw_fit of one season (into best) and of two (m and m2, into best2) on
 * x[0..n-1], their runs paired (hw_run_pair) while both searches go on:
 * the same constants as two hw_fit calls. ws: HW_LANES * (2m + m2). */
static void hw_fit_both(const double *x, size_t n, size_t m, size_t m2, double *ws, double *best, double *best2)
{
	struct hw_search a, b;
	double ssea[HW_LANES], sseb[HW_LANES];
	int ina, inb;

	hw_search_init(&a, x, n, m, 0, best);
	hw_search_init(&b, x, n, m, m2, best2);
	/* Both end at x[n - 1] (hw_search_init keeps the last values). */
	ina = hw_search_next(&a), inb = hw_search_next(&b);
	while (ina || inb) {
		if (ina && inb)
			hw_run_pair(x, (size_t)(a.x - x), a.n, (size_t)(b.x - x), b.n, m, m2, (const double (*)[5])a.cand,
				    (const double (*)[5])b.cand, ws, ssea, sseb);
		else if (ina)
			hw_run_lanes(a.x, a.n, m, 0, (const double (*)[5])a.cand, ws, ssea);
		else
			hw_run_lanes(b.x, b.n, m, m2, (const double (*)[5])b.cand, ws, sseb);
		if (ina) {
			hw_search_take(&a, ssea);
			ina = hw_search_next(&a);
		}
		if (inb) {
			hw_search_take(&b, sseb);
			inb = hw_search_next(&b);
		}
	}
}

struct eng {
	const double *x, *raw;  /* cleaned and raw history, o values */
	size_t o, m;
	double *L, *B, *S, *S2, phi;
	size_t m2;              /* second season in steps, 0 for none */
	int model;
	/* stl-ar: the robust seasonal profile (m values, mean zero), and an
	 * AR(ENG_AR) model of the deseasonalised series around mu. */
	double *prof, ar[ENG_AR], mu;
	double *dcs;            /* stl-ar: prefix sums of the deseasonalised series (o + 1) */
	double *path;           /* H values of scratch */
	double *damp;           /* lead + H values: the trend's multiplier k + 1 steps ahead */
	struct lstm_fit *lstm;  /* lstm: the trained network and its states */
};

/* Sets the damping and its multipliers for the nk steps ahead, which
 * every backtest origin shares. */
static void eng_set_phi(struct eng *e, double phi, size_t nk)
{
	size_t k;

	e->phi = phi;
	for (k = 0; k < nk; k++)
		e->damp[k] = phi < 1 ? phi * (1 - pow(phi, (double)(k + 1))) / (1 - phi) : (double)(k + 1);
}

/* Forecasts made with data x[0..j-1] for x[j+lead..j+lead+H-1], into out:
 * the forecast for x[j+k] reads the season one period (m, and m2) before
 * it, k / m + 1 periods back, kept by counters (a division per value was
 * a sixth of the backtest). */
static void eng_path(const struct eng *e, size_t j, size_t lead, size_t H, double *out)
{
	size_t k, i;

	if (e->model == M_LSTM) {
		lstm_fit_path(e->lstm, j, lead, H, out);
	} else if (e->model != M_STL) {
		size_t m = e->m, m2 = e->m2, q = lead / m, r = lead % m, q2 = m2 ? lead / m2 : 0, r2 = m2 ? lead % m2 : 0;

		for (k = lead; k < lead + H; k++) {
			size_t src = j + k - m * (q + 1);
			double v;

			if (e->model == M_SNAIVE)
				v = e->x[src];
			else {
				v = e->L[j - 1] + e->damp[k] * e->B[j - 1] + e->S[src];
				if (m2)
					v = j + k < m2 * (q2 + 1) ? NAN : v + e->S2[j + k - m2 * (q2 + 1)];
			}
			out[k - lead] = v;
			if (++r == m)
				r = 0, q++;
			if (m2 && ++r2 == m2)
				r2 = 0, q2++;
		}
	} else {
		double rr[ENG_AR], mu;
		size_t w = ENG_MU_PERIODS * e->m < j ? ENG_MU_PERIODS * e->m : j, ph;

		/* The level the remainder reverts to: the deseasonalised mean of the
		 * last periods before the origin, so a level shift is followed. */
		mu = (e->dcs[j] - e->dcs[j - w]) / (double)w;
		for (i = 0; i < ENG_AR; i++)
			rr[i] = j > i ? e->x[j - 1 - i] - e->prof[(j - 1 - i) % e->m] - mu : 0;
		for (k = 0, ph = j % e->m; k < lead + H; k++) {
			double v = 0;
			for (i = 0; i < ENG_AR; i++)
				v += e->ar[i] * rr[i];
			for (i = ENG_AR - 1; i > 0; i--)
				rr[i] = rr[i - 1];
			rr[0] = v;
			if (k >= lead)
				out[k - lead] = mu + v + e->prof[ph];
			if (++ph == e->m)
				ph = 0;
		}
	}
}

/* The stl-ar model: a centred moving average of one period as the trend,
 * the median of the detrended values at each phase as the seasonal
 * profile (robust to the spikes the cleaning missed), and an AR(ENG_AR)
 * fitted by Yule-Walker (Levinson-Durbin) to the deseasonalised series
 * over the last ENG_FIT_PERIODS periods. */
static int stl_fit(struct eng *e, const double *x, size_t n, size_t m)
{
	double *tr = malloc(n * sizeof(*tr)), *cs = malloc((n + 1) * sizeof(*cs)), *buf = malloc(2 * (n / m + 2) * sizeof(*buf));
	double g[ENG_AR + 1] = { 0 }, a[ENG_AR + 1] = { 0 }, tmp[ENG_AR + 1], errv, mean = 0;
	size_t i, p, k, h = m / 2, nf = n < ENG_FIT_PERIODS * m ? n : ENG_FIT_PERIODS * m, f0 = n - nf;
	int rc = 0;

	if (!tr || !cs || !buf) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	cs[0] = 0;
	for (i = 0; i < n; i++)
		cs[i + 1] = cs[i] + x[i];
	for (i = 0; i < n; i++) {
		size_t c = i < h ? h : (i + h + 1 > n ? n - h - 1 : i); /* the ends hold */
		double sum = cs[c + h + 1] - cs[c - h];

		if (m % 2 == 0) /* a 2 x m moving average: half weight at both ends */
			sum -= 0.5 * (x[c - h] + x[c + h]);
		tr[i] = sum / (double)m;
	}
	for (p = 0; p < m; p++) {
		for (i = p, k = 0; i < n; i += m)
			buf[k++] = x[i] - tr[i];
		forecast_sort(buf, k, buf + n / m + 2);
		e->prof[p] = k ? forecast_quantile_of_sorted(buf, k, 0.5) : 0;
		mean += e->prof[p];
	}
	mean /= (double)m;
	for (p = 0; p < m; p++)
		e->prof[p] -= mean;
	/* The deseasonalised series, its phase kept by a counter (a division
	 * per value was a sixth of the fit); tr is free again. */
	for (i = 0, p = 0; i < n; i++) {
		tr[i] = x[i] - e->prof[p];
		if (++p == m)
			p = 0;
	}
	for (i = f0, e->mu = 0; i < n; i++)
		e->mu += tr[i];
	e->mu /= (double)nf;
	for (k = 0; k <= ENG_AR; k++) {
		for (i = f0 + k; i < n; i++)
			g[k] += (tr[i] - e->mu) * (tr[i - k] - e->mu);
		g[k] /= (double)nf;
	}
	memset(e->ar, 0, sizeof(e->ar));
	e->dcs[0] = 0;
	for (i = 0, p = 0; i < n; i++) {
		e->dcs[i + 1] = e->dcs[i] + x[i] - e->prof[p];
		if (++p == m)
			p = 0;
	}
	if (!(g[0] > 0))
		goto done;
	/* Levinson-Durbin. */
	errv = g[0];
	for (k = 1; k <= ENG_AR; k++) {
		double acc = g[k], refl;
		for (i = 1; i < k; i++)
			acc -= a[i] * g[k - i];
		refl = acc / errv;
		memcpy(tmp, a, sizeof(a));
		a[k] = refl;
		for (i = 1; i < k; i++)
			a[i] = tmp[i] - refl * tmp[k - i];
		errv *= 1 - refl * refl;
		if (!(errv > 0))
			break;
	}
	for (i = 0; i < ENG_AR; i++)
		e->ar[i] = a[i + 1];
done:
	if (!rc) {
		/* The level at the forecast origin, as reported. */
		size_t w = ENG_MU_PERIODS * m < n ? ENG_MU_PERIODS * m : n;
		e->mu = (e->dcs[n] - e->dcs[n - w]) / (double)w;
	}
	free(tr);
	free(cs);
	free(buf);
	return rc;
}

struct grid {
	size_t n, dmin;
	long *origin;     /* index into history, -1 when unusable */
	double *w;
};

/* Backtest errors err[c * H + h] (NAN when the target is missing) at the
 * grid origins. Returns the mean absolute error. */
static double eng_errors(const struct eng *e, const struct grid *g, size_t lead, size_t H, double *err)
{
	double sum = 0, wsum = 0;
	size_t c, h;

	for (c = 0; c < g->n; c++) {
		if (g->origin[c] >= 0)
			eng_path(e, (size_t)g->origin[c], lead, H, e->path);
		for (h = 0; h < H; h++) {
			double v = NAN;
			if (g->origin[c] >= 0) {
				v = e->raw[(size_t)g->origin[c] + lead + h] - e->path[h];
				if (!isnan(v)) {
					sum += g->w[c] * fabs(v);
					wsum += g->w[c];
				}
			}
			err[c * H + h] = v;
		}
	}
	return wsum > 0 ? sum / wsum : INFINITY;
}


#define ENG_SMOOTH 2          /* leads either side pooled into one lead's scale */
#define ENG_TAIL_MIN 10       /* scores beyond a level below which its quantile is extrapolated */

/* Weighted quantile of values sorted ascending, of total weight tot:
 * the smallest value whose cumulative weight reaches level. */
static double wquantile_sorted(const struct forecast_wv *a, size_t n, double tot, double level)
{
	double acc = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		acc += a[i].w;
		if (acc >= level * tot)
			return a[i].v;
	}
	return n ? a[n - 1].v : NAN;
}

#define ENG_ACI_MIN 2         /* periods of scores before the drift check starts */
#define ENG_ACI_AIM 0.7       /* aim under the nominal miss rate: the replay is optimistic (older errors fit better) */

static const double eng_tail_mult[] = { 1.0, 0.8, 0.65, 0.5, 0.4, 0.3, 0.22, 0.15, 0.1, 0.06 };
#define ENG_NMULT (sizeof(eng_tail_mult) / sizeof(eng_tail_mult[0]))

/* Unweighted type-7 quantile of sorted v. */
static double sorted_quantile(const double *v, size_t n, double p)
{
	double pos = p * (double)(n - 1), fr;
	size_t lo;

	if (n == 0)
		return NAN;
	if (pos <= 0)
		return v[0];
	lo = (size_t)pos;
	if (lo >= n - 1)
		return v[n - 1];
	fr = pos - (double)lo;
	return v[lo] + fr * (v[lo + 1] - v[lo]);
}

/* Index of the first value of sorted v above x (upper) or at or above x. */
static size_t sorted_rank(const double *v, size_t n, double x, int upper)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (upper ? v[mid] <= x : v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* How many of v[0..n-1] are above q (above), or below it: two at a time
 * in a vector every x86-64 processor has, a comparison giving -1 where
 * it holds. */
typedef double cnt_vec __attribute__((vector_size(2 * sizeof(double)), aligned(sizeof(double))));
typedef long long cnt_mask __attribute__((vector_size(2 * sizeof(long long))));

static size_t count_beyond(const double *v, size_t n, double q, int above)
{
	cnt_mask acc = { 0, 0 }, acc2 = { 0, 0 };
	cnt_vec qv = { q, q };
	size_t i, c;

	for (i = 0; i + 4 <= n; i += 4) {
		cnt_vec x, y;

		memcpy(&x, v + i, sizeof(x));
		memcpy(&y, v + i + 2, sizeof(y));
		if (above) {
			acc -= (cnt_mask)(x > qv);
			acc2 -= (cnt_mask)(y > qv);
		} else {
			acc -= (cnt_mask)(x < qv);
			acc2 -= (cnt_mask)(y < qv);
		}
	}
	acc += acc2;
	c = (size_t)(acc[0] + acc[1]);
	for (; i < n; i++)
		c += above ? v[i] > q : v[i] < q;
	return c;
}

/* The replay behind the tail corrections: blocks of scores (block k is
 * sc[k * B .. k * B + B - 1], NAN where missing, weight bw[k * bstride];
 * k = 0 the newest) are replayed oldest first, each block's scores
 * checked against quantiles of the older blocks' scores at the nominal
 * tail mass times each multiplier of eng_tail_mult. mult[l] receives,
 * for level lv[l], the least widening whose recency-weighted miss rate
 * is within ENG_ACI_AIM of the nominal one (1 for the median). Returns 0
 * when there were too few blocks to replay (mult untouched).
 * Only the older scores' tails are read, never deeper than the widest
 * tail (the first multiplier) of all the scores: those K largest and K
 * smallest are kept (each only when a level reads it), each block's
 * values beyond them merged in, which reads the same values as merging
 * the block into all the older scores (a merge of up to every score per
 * block was a tenth of a plan's time). A block's misses are counted
 * without sorting it. ws holds 3 * (nblk + 1) * B values. */
static int replay_tails(double *mult, const double *sc, const double *bw, size_t bstride, size_t nblk, size_t B,
			const double *lv, size_t nl, double *ws)
{
	double miss[FORECAST_MAX_LEVELS][ENG_NMULT], wsum = 0, wide = 0;
	size_t p, i, l, j, nold = 0, seen = 0, N = 0, K, ntop = 0, nbot = 0;
	double *top, *bot, *tmp, *cur, *add;
	int uppers = 0, lowers = 0;

	memset(miss, 0, sizeof(miss));
	for (i = 0; i < nblk * B; i++)
		N += !isnan(sc[i]);
	for (l = 0; l < nl; l++)
		if (lv[l] != 0.5) {
			wide = fmax(wide, fmin((lv[l] > 0.5 ? 1 - lv[l] : lv[l]) * eng_tail_mult[0], 0.5));
			uppers |= lv[l] > 0.5;
			lowers |= lv[l] < 0.5;
		}
	/* sorted_quantile reads v[lo] and v[lo + 1], lo = floor(pos): at
	 * most wide * (nold - 1) + 2 from an end. */
	K = (size_t)(wide * (double)N) + 3;
	K = K < N ? K : N;
	top = ws, bot = ws + N, tmp = ws + 2 * N, cur = ws + 3 * N, add = cur + B;
	for (p = nblk; p-- > 0;) {
		size_t ncur = 0, nadd, a, b, k;
		double w = bw[p * bstride];

		for (i = 0; i < B; i++)
			if (!isnan(sc[p * B + i]))
				cur[ncur++] = sc[p * B + i];
		if (!ncur)
			continue;
		if (seen >= ENG_ACI_MIN) {
			wsum += w;
			for (l = 0; l < nl; l++) {
				if (lv[l] == 0.5)
					continue;
				for (j = 0; j < ENG_NMULT; j++) {
					double tail = fmin((lv[l] > 0.5 ? 1 - lv[l] : lv[l]) * eng_tail_mult[j], 0.5);
					double pos = (lv[l] > 0.5 ? 1 - tail : tail) * (double)(nold - 1), q;
					size_t out, lo = pos <= 0 ? 0 : (size_t)pos;

					/* sorted_quantile(old, nold, ...), old[x] being
					 * top[x - (nold - ntop)] or bot[x] */
					if (lv[l] > 0.5) {
						const double *v = top - (nold - ntop);
						q = pos <= 0 ? v[0] : lo >= nold - 1 ? v[nold - 1] : v[lo] + (pos - (double)lo) * (v[lo + 1] - v[lo]);
						out = count_beyond(cur, ncur, q, 1);
					} else {
						q = pos <= 0 ? bot[0] : lo >= nold - 1 ? bot[nold - 1] : bot[lo] + (pos - (double)lo) * (bot[lo + 1] - bot[lo]);
						out = count_beyond(cur, ncur, q, 0);
					}
					miss[l][j] += w * (double)out / (double)ncur;
				}
			}
		}
		/* The K largest of the older scores and this block's, from the
		 * top: once there are K, only values above the least of them
		 * can enter (one equal to it would leave the same values). */
		for (i = 0, nadd = 0; uppers && i < ncur; i++)
			if (ntop < K || cur[i] > top[0])
				add[nadd++] = cur[i];
		forecast_sort(add, nadd, add + B);
		k = ntop + nadd < K ? ntop + nadd : K;
		for (a = ntop, b = nadd, i = k; i-- > 0;)
			tmp[i] = a > 0 && (b == 0 || top[a - 1] > add[b - 1]) ? top[--a] : add[--b];
		memcpy(top, tmp, k * sizeof(*top));
		ntop = k;
		/* The K smallest, from the bottom. */
		for (i = 0, nadd = 0; lowers && i < ncur; i++)
			if (nbot < K || cur[i] < bot[nbot - 1])
				add[nadd++] = cur[i];
		forecast_sort(add, nadd, add + B);
		k = nbot + nadd < K ? nbot + nadd : K;
		for (a = 0, b = 0, i = 0; i < k; i++)
			tmp[i] = b >= nadd || (a < nbot && bot[a] <= add[b]) ? bot[a++] : add[b++];
		memcpy(bot, tmp, k * sizeof(*bot));
		nbot = k;
		nold += ncur;
		seen++;
	}
	if (wsum <= 0)
		return 0;
	for (l = 0; l < nl; l++) {
		double tail = lv[l] > 0.5 ? 1 - lv[l] : lv[l];
		size_t bj = 0;

		mult[l] = 1;
		if (lv[l] == 0.5)
			continue;
		while (bj + 1 < ENG_NMULT && miss[l][bj] / wsum > ENG_ACI_AIM * tail)
			bj++;
		mult[l] = eng_tail_mult[bj];
	}
	return 1;
}

/* Adaptive correction for drift, in the spirit of adaptive conformal
 * inference: the periods of the backtest grid (each a block of its
 * origins' normalised errors) are replayed by replay_tails. When errors
 * grow over time the tails widen, when they shrink they narrow. adj[l]
 * receives the corrected level (the nominal one when there is too
 * little history). */
static int eng_drift(double *adj, const double *sc, const struct grid *g, size_t H,
		     const struct forecast_opts *o)
{
	size_t per = 2 * ENG_SHIFT + 1, l;
	double *ws = malloc((3 * g->n + 3 * per) * H * sizeof(*ws)), mult[FORECAST_MAX_LEVELS];
	int rc = 0;

	for (l = 0; l < o->nlevels; l++)
		adj[l] = o->levels[l];
	if (!ws)
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
	else if (replay_tails(mult, sc, g->w, per, g->n / per, per * H, o->levels, o->nlevels, ws))
		for (l = 0; l < o->nlevels; l++) {
			double lv = o->levels[l], tail = fmin(0.5, (lv > 0.5 ? 1 - lv : lv) * mult[l]);

			if (lv != 0.5)
				adj[l] = lv > 0.5 ? 1 - tail : tail;
		}
	free(ws);
	return rc;
}

/* Conformal quantiles, normalised by lead: the error scale sigma[h] is
 * the weighted mean absolute backtest error at leads h-2..h+2 (so it
 * follows the phase of the period, the grid being phase-aligned), and
 * the quantiles of the errors divided by their scale are pooled over all
 * leads, which gives enough samples for p97.5 or p99 even with a few
 * periods of history. Levels are widened by the finite-sample conformal
 * factor on the number of distinct origins. The median is the point
 * forecast itself: an offset by the median error would only add noise. */
static int eng_quantiles(struct forecast_series *out, const struct eng *e, const struct grid *g,
			 const double *err, size_t H, const struct forecast_opts *o)
{
	double *sigma = malloc(H * sizeof(*sigma)), *Q = NULL, adj[FORECAST_MAX_LEVELS], tot = 0;
	double *norm = malloc(g->n * H * sizeof(*norm));
	struct forecast_wv *sc = malloc(2 * g->n * H * sizeof(*sc));
	size_t c, h, l, ns = 0, norig = 0;
	int rc = 0;

	if (!sigma || !sc || !norm || !(Q = malloc(o->nlevels * sizeof(*Q)))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	for (c = 0; c < g->n; c++)
		norig += g->origin[c] >= 0;
	for (h = 0; h < H; h++) {
		double sw = 0, sa = 0;
		size_t k, lo = h > ENG_SMOOTH ? h - ENG_SMOOTH : 0, hi = h + ENG_SMOOTH < H ? h + ENG_SMOOTH : H - 1;

		for (k = lo; k <= hi; k++)
			for (c = 0; c < g->n; c++)
				if (!isnan(err[c * H + k])) {
					sa += g->w[c] * fabs(err[c * H + k]);
					sw += g->w[c];
				}
		sigma[h] = sw > 0 ? sa / sw : 0;
	}
	for (c = 0; c < g->n; c++)
		for (h = 0; h < H; h++) {
			double v = g->origin[c] >= 0 && !isnan(err[c * H + h]) ? (sigma[h] > 0 ? err[c * H + h] / sigma[h] : 0) : NAN;

			norm[c * H + h] = v;
			if (!isnan(v)) {
				sc[ns].v = v;
				sc[ns++].w = g->w[c];
			}
		}
	if ((rc = eng_drift(adj, norm, g, H, o)))
		goto done;
	forecast_sort_wv(sc, ns, sc + ns);
	for (c = 0; c < ns; c++)
		tot += sc[c].w;
	for (l = 0; l < o->nlevels; l++) {
		double lv = adj[l], n = (double)(norig ? norig : 1);

		/* Split conformal: the ceil((n+1)p)/n order statistic, mirrored for lower tails. */
		if (lv > 0.5)
			lv = fmin(1, lv * (n + 1) / n);
		else if (lv < 0.5)
			lv = fmax(0, 1 - (1 - lv) * (n + 1) / n);
		/* An upper tail no wider than the one below it scaled as their
		 * nominal tails are: the drift check widens each level on its own,
		 * and a p95 widened past the p99 would leave them equal. */
		if (l > 0 && o->levels[l - 1] > 0.5 && lv > 0.5) {
			double cap = (1 - adj[l - 1]) * (1 - o->levels[l]) / (1 - o->levels[l - 1]);
			if (1 - lv > cap)
				lv = 1 - cap;
		}
		adj[l] = lv;
		Q[l] = ns ? wquantile_sorted(sc, ns, tot, lv) : 0;
	}
	/* Beyond the last few scores the empirical quantile stops at the
	 * largest: there, an exponential tail fitted to the scores above the
	 * p90 (their mean excess) extends it, so a p99 stays above a p95
	 * wherever the errors spread. */
	if (ns >= 20) {
		double u = wquantile_sorted(sc, ns, tot, 0.9), ex = 0, we = 0;

		for (c = 0; c < ns; c++)
			if (sc[c].v > u) {
				ex += sc[c].w * (sc[c].v - u);
				we += sc[c].w;
			}
		for (l = 0; we > 0 && l < o->nlevels; l++)
			if (adj[l] > 0.9 && (1 - adj[l]) * (double)ns < ENG_TAIL_MIN) {
				double t = fmax(1 - adj[l], 0.5 / (double)ns);
				Q[l] = fmax(Q[l], u + ex / we * log(0.1 / t));
			}
	}
	for (h = 0; h < H; h++) {
		double pt = e->path[h];

		for (l = 0; l < o->nlevels; l++)
			out->q[h * o->nlevels + l] = fmax(0, o->levels[l] == 0.5 ? pt : pt + sigma[h] * Q[l]);
		for (l = 1; l < o->nlevels; l++)
			if (out->q[h * o->nlevels + l] < out->q[h * o->nlevels + l - 1])
				out->q[h * o->nlevels + l] = out->q[h * o->nlevels + l - 1];
	}
done:
	free(sigma);
	free(norm);
	free(sc);
	free(Q);
	return rc;
}

/* The mean of the errors ev[c][i] of the models in set (NAN if any is),
 * summed from 0 in the models' order. Written out per set: a loop over
 * the three models with a count was a quarter of the combination. */
static inline double set_mean(const double *const ev[3], const unsigned char set[3], size_t i)
{
	double v = 0;

	if (set[0] && set[1] && set[2])
		return (v + ev[0][i] + ev[1][i] + ev[2][i]) / 3;
	if (!set[0])
		return (v + ev[1][i] + ev[2][i]) / 2;
	return (v + ev[0][i] + ev[set[1] ? 1 : 2][i]) / 2;
}

/* The mean of two or all three models' forecasts when its backtest MAE
 * beats every single model's (combinations are the robust winners of
 * forecasting competitions: their errors partly cancel). Errors of a mean
 * are the mean of the errors, so the backtest costs nothing more. On a
 * win, err and e->path hold the combination and out names it; returns 1,
 * 0 when a single model stays, -1 out of memory. e is the Holt-Winters
 * fit (its own model field set to it), es the stl-ar one. */
static int eng_combine(struct forecast_series *out, struct eng *e, const struct eng *es, const struct grid *g,
		       size_t lead, size_t H, double *err, const double *err2, const double *err3, double mae_sn,
		       double mae_hw, double mae_stl)
{
	static const char *const name[] = { "seasonal-naive", "holt-winters", "stl-ar" };
	static const unsigned char sets[][3] = { { 1, 1, 0 }, { 1, 0, 1 }, { 0, 1, 1 }, { 1, 1, 1 } };
	const double *ev[3] = { err, err2, err3 };
	double best = fmin(mae_sn, fmin(mae_hw, mae_stl)), *path;
	size_t c, i, k, N = g->n * H, bi = 4;
	int hw_model = e->model;

	if (!isfinite(mae_hw))
		return 0;
	for (k = 0; k < 4; k++) {
		double sum = 0, wsum = 0;

		/* By origin: a division per error to find its weight was a
		 * quarter of this. */
		for (c = 0; c < g->n; c++)
			for (i = c * H; i < (c + 1) * H; i++) {
				double v = set_mean(ev, sets[k], i);

				if (!isnan(v)) {
					sum += g->w[c] * fabs(v);
					wsum += g->w[c];
				}
			}
		if (wsum > 0 && sum / wsum < best) {
			best = sum / wsum;
			bi = k;
		}
	}
	if (bi == 4)
		return 0;
	if (!(path = calloc(H, sizeof(*path))))
		return -1;
	for (c = 0; c < 3; c++) {
		if (!sets[bi][c])
			continue;
		if (c == 2)
			eng_path(es, e->o, lead, H, e->path);
		else {
			size_t m2 = e->m2;

			e->model = c == 0 ? M_SNAIVE : hw_model;
			e->m2 = c == 0 ? 0 : m2;
			eng_path(e, e->o, lead, H, e->path);
			e->model = hw_model;
			e->m2 = m2;
		}
		for (i = 0; i < H; i++)
			path[i] += e->path[i];
	}
	for (i = 0; i < N; i++)
		err[i] = set_mean(ev, sets[bi], i);
	for (i = 0; i < H; i++)
		e->path[i] = path[i] / (double)(sets[bi][0] + sets[bi][1] + sets[bi][2]);
	free(path);
	snprintf(out->model, sizeof(out->model), "mean:%s%s%s%s%s", sets[bi][0] ? name[0] : "",
		 sets[bi][0] && sets[bi][1] ? "+" : "", sets[bi][1] ? (e->m2 ? "holt-winters-weekly" : name[1]) : "",
		 sets[bi][2] ? "+" : "", sets[bi][2] ? name[2] : "");
	out->backtest_mae = best;
	return 1;
}

/* Fits the candidate models of kind on the cleaned history and keeps the
 * one with the smallest backtest MAE: e is left set up for it, its errors
 * in err (err2 and err3 are scratch), its name, parameters and MAE in out,
 * and its point forecast in e->path. */
static int eng_choose(struct forecast_series *out, struct eng *e, const struct grid *g, size_t lead,
		      size_t H, int kind, double *ws, double *err, double *err2, double *err3)
{
	const double *x = e->x;
	size_t n = e->o, m = e->m;
	double mae_sn, mae_hw = INFINITY, mae_hw2, mae_stl, params[5] = { 0 }, p2[5];
	int combo = 0;
	/* Constants fitted before the newest backtest origin: its targets are not in the fit. */
	size_t nfit = n > (g->dmin + 3) * m ? n - g->dmin * m : n;
	int rc = 0;

	e->model = M_SNAIVE;
	mae_sn = eng_errors(e, g, lead, H, err);
	if (kind == M_HW || kind == M_AUTO) {
		/* Daily and weekly seasons where at least three weeks of history
		 * allow: both fits at once. */
		int weekly = n >= 3 * ENG_WEEK * m;

		if (weekly)
			hw_fit_both(x, nfit, m, ENG_WEEK * m, ws, params, p2);
		else
			hw_fit(x, nfit, m, 0, ws, params);
		hw_run(x, n, m, 0, params, ws, e->L, e->B, e->S, NULL);
		eng_set_phi(e, params[3], lead + H);
		e->model = M_HW;
		mae_hw = eng_errors(e, g, lead, H, err2);
		if (weekly) {
			e->m2 = ENG_WEEK * m;
			hw_run(x, n, m, e->m2, p2, ws, e->L, e->B, e->S, e->S2);
			eng_set_phi(e, p2[3], lead + H);
			if ((mae_hw2 = eng_errors(e, g, lead, H, err3)) < mae_hw) {
				double *t = err2;
				err2 = err3;
				err3 = t;
				mae_hw = mae_hw2;
				memcpy(params, p2, sizeof(p2));
			} else {
				e->m2 = 0;
				hw_run(x, n, m, 0, params, ws, e->L, e->B, e->S, NULL);
				eng_set_phi(e, params[3], lead + H);
			}
		}
	}
	if (kind == M_STL || kind == M_AUTO) {
		struct eng es = *e;

		es.model = M_STL;
		es.m2 = 0;
		if ((rc = stl_fit(&es, x, n, m)))
			goto done;
		mae_stl = eng_errors(&es, g, lead, H, err3);
		if (kind == M_AUTO && (combo = eng_combine(out, e, &es, g, lead, H, err, err2, err3, mae_sn, mae_hw, mae_stl)) < 0) {
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
			goto done;
		}
		if (combo)
			goto done; /* e->path and err hold the combination */
		if (kind == M_STL || (mae_stl < mae_sn && mae_stl < mae_hw)) {
			*e = es;
			memcpy(err, err3, g->n * H * sizeof(*err));
			memcpy(out->params, e->ar, sizeof(e->ar));
			out->params[ENG_AR] = e->mu;
			strcpy(out->model, "stl-ar");
			out->backtest_mae = mae_stl;
		}
	}
	if (e->model == M_STL) {
		/* chosen above */
	} else if (kind == M_HW || (kind == M_AUTO && mae_hw < mae_sn)) {
		memcpy(err, err2, g->n * H * sizeof(*err));
		memcpy(out->params, params, sizeof(params));
		strcpy(out->model, e->m2 ? "holt-winters-weekly" : "holt-winters");
		out->backtest_mae = mae_hw;
	} else {
		e->model = M_SNAIVE;
		e->m2 = 0;
		strcpy(out->model, "seasonal-naive");
		out->backtest_mae = mae_sn;
	}
	eng_path(e, n, lead, H, e->path);
done:
	return rc;
}

/* The lstm model trained on the history before the newest backtest
 * origin, as the other models' constants are fitted, and backtested on
 * the same grid (err2: scratch). It becomes the model when force (the
 * lstm model), or where its backtest MAE beats the one chosen so far
 * (auto): then e is set up for it, and err, e->path and out hold its
 * errors, forecast, name and MAE. Otherwise all is left as it was. */
static int eng_lstm(struct forecast_series *out, struct eng *e, const struct grid *g, size_t lead, size_t H,
		    double *err, double *err2, size_t phase0, uint64_t seed, int force)
{
	size_t n = e->o, m = e->m, ntrain = n > g->dmin * m ? n - g->dmin * m : 0;
	double mae, *keep = malloc(H * sizeof(*keep));
	int rc, model = e->model;

	if (!keep)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if ((rc = lstm_fit_init(e->lstm, e->x, n, ntrain, m, phase0, seed)) ||
	    (rc = lstm_fit_reserve(e->lstm, lead + H)))
		goto done;
	memcpy(keep, e->path, H * sizeof(*keep)); /* eng_errors uses e->path as scratch */
	e->model = M_LSTM;
	mae = eng_errors(e, g, lead, H, err2);
	if (!force && !(mae < out->backtest_mae)) {
		e->model = model;
		memcpy(e->path, keep, H * sizeof(*keep));
		goto done;
	}
	memcpy(err, err2, g->n * H * sizeof(*err));
	memset(out->params, 0, sizeof(out->params));
	out->params[0] = (double)e->lstm->net.epochs;
	out->params[1] = e->lstm->net.val_mse;
	strcpy(out->model, "lstm");
	out->backtest_mae = mae;
	e->m2 = 0;
	eng_path(e, n, lead, H, e->path);
done:
	free(keep);
	return rc;
}

/* The history before the origin: values within ENG_MAX_VALUE (beyond it
 * the squares of errors overflow: refuse rather than mislead), and at
 * least two periods of them. */
static int check_history(const double *raw, size_t n, size_t first, size_t m)
{
	size_t i, have = 0;

	for (i = 0; i < n; i++) {
		have += !isnan(raw[i]);
		if (fabs(raw[i]) > ENG_MAX_VALUE)
			return adp_error_set(ADP_EINPUT, "value %g at step %zu is beyond %g: rescale the series", raw[i],
					     first + i, ENG_MAX_VALUE);
	}
	if (have < 2 * m)
		return adp_error_set(ADP_EINPUT, "only %zu of the %zu history steps before the origin have values; at least two periods (%zu) are needed",
				     have, n, 2 * m);
	return 0;
}

/* The significant periods of the cleaned history x, in seconds. */
static void detect_periods(struct forecast_series *out, const double *x, size_t n, size_t m, int64_t step)
{
	size_t lags[FORECAST_MAX_PERIODS], nl = n > ENG_ACF_MAX ? ENG_ACF_MAX : n, i;
	size_t maxlag = nl / 2 < 8 * m ? nl / 2 : 8 * m;

	out->nperiods = forecast_find_periods_p(x + n - nl, nl, maxlag, lags, out->strength, out->pvalue,
						FORECAST_MAX_PERIODS);
	for (i = 0; i < out->nperiods; i++)
		out->periods[i] = (int64_t)lags[i] * step;
}

/* The backtest's origins, from the first period whose whole path ends
 * before the origin, and their weights; returns how many are usable. */
static size_t lay_grid(struct grid *g, size_t n, size_t m, size_t lead, size_t H)
{
	size_t c, valid = 0;

	g->dmin = (lead + H + ENG_SHIFT + m - 1) / m;
	for (c = 0; c < g->n; c++) {
		size_t d = g->dmin + c / (2 * ENG_SHIFT + 1);
		long off = (long)(c % (2 * ENG_SHIFT + 1)) - ENG_SHIFT;
		long j = (long)n - (long)(d * m) + off;

		g->origin[c] = j >= (long)(2 * m) ? j : -1;
		g->w[c] = pow(0.5, (double)(d - g->dmin) / ENG_HALFLIFE);
		valid += g->origin[c] >= 0;
	}
	return valid;
}

/* Scenarios: whole error paths of origins drawn independently of the
 * series, added to the point path. */
static void draw_scenarios(struct forecast_series *out, const double *path, const struct grid *g, const double *err,
			   size_t H, size_t K, uint64_t seed, const double *levels)
{
	size_t k, c, h;

	for (k = 0; k < K; k++) {
		uint64_t r = splitmix(seed ^ splitmix(k + 1));
		size_t start = (size_t)(r % g->n);

		/* Weighted towards recent periods: a second draw thins old origins. */
		for (c = 0; c < g->n; c++) {
			size_t cc = (start + c) % g->n;
			double u = (double)(splitmix(r + c) >> 11) / 9007199254740992.0;
			if (g->origin[cc] >= 0 && u < g->w[cc]) {
				start = cc;
				break;
			}
		}
		if (g->origin[start] < 0)
			for (c = 0; c < g->n && g->origin[start] < 0; c++)
				start = (start + 1) % g->n;
		for (h = 0; h < H; h++) {
			double ev = err[start * H + h];
			if (isnan(ev)) /* a missing target: the median error at that lead */
				ev = forecast_quantile(out, levels, h, 0.5) - path[h];
			out->scen[k * H + h] = fmax(0, path[h] + ev);
		}
	}
}

/* Climatology: the series' own recent distribution at the target's phase
 * (values within ENG_CLIM_W steps of that phase in the last
 * ENG_CLIM_PERIODS periods before the origin, weights halving every
 * ENG_CLIM_HALFLIFE periods). Bands from a model widen with the lead as
 * its errors do; the values a series took at that time of day do not,
 * so at long leads, or for series a smooth model fits badly (on/off,
 * intermittent), this is the sharper band that stays calibrated. */
#define ENG_CLIM_PERIODS 14
#define ENG_CLIM_HALFLIFE 4.0
#define ENG_CLIM_CAL 28       /* calibration origins, one period apart (the grid's depth) */
#define ENG_CLIM_BUCKETS 8    /* lead buckets, each choosing its band */
#define ENG_RISE_DAYS 3       /* calibration periods with a new high that make a trend */
#define ENG_CLIM_GROUP 7      /* calibration origins whose windows one narrowing of the history serves */

enum { BAND_MODEL, BAND_CLIM, BAND_MEAN, BAND_FLAT, BAND_REGIME, BAND_N };

/* Quantiles at levels lv (nl) of the nv pairs in buf (and as many of
 * scratch after them), of total weight tot, into q; 0 when there are none. */
static int wv_quantiles(double *q, struct forecast_wv *buf, size_t nv, double tot, const double *lv, size_t nl)
{
	size_t l;

	if (!nv)
		return 0;
	forecast_sort_wv(buf, nv, buf + nv);
	for (l = 0; l < nl; l++)
		q[l] = wquantile_sorted(buf, nv, tot, lv[l]);
	return 1;
}

/* The same over every phase: the weighted quantiles of raw[lo..j-1], for
 * intermittent series whose bursts come at any time of day (a phase's
 * few values make a noisy tail). The windows of successive origins
 * overlap, so the history is sorted once (struct flat: the values from
 * base on, each with its index in w, in a stable order) and each origin
 * only scans it: sorting every window took a third of a plan's time at
 * scale. The result is the same bit for bit as sorting the window: the
 * total is summed in index order and ties keep index order. */
struct flat {
	struct forecast_wv *s; /* sorted by value; w holds the index */
	size_t n, base;
	double *w;             /* scratch: one weight per index of a window */
	/* decay[k]: the weight of a value k steps before its origin, as
	 * pow() gives it (so bit for bit), computed once instead of at each
	 * origin: pow was a twentieth of a plan's time at scale */
	double *decay;
	size_t ndecay;
	/* The values of s whose index is in [sub_lo, sub_hi), in s's order
	 * (flat_narrow): a window inside reads these alone. */
	struct forecast_wv *sub;
	size_t nsub, sub_lo, sub_hi;
};

static double decay_of(const struct flat *f, size_t k, size_t m)
{
	return k < f->ndecay ? f->decay[k] : pow(0.5, (double)k / (double)m / ENG_CLIM_HALFLIFE);
}

/* Weighted quantiles at levels lv (nl) of the history raw[0..j-1] at the
 * phase of index t, into q; buf holds ENG_CLIM_PERIODS * (2W + 1)
 * pairs and as many of scratch. Returns 0 when there are no values. */
static int clim_at(double *q, const struct flat *f, const double *raw, size_t j, size_t t, size_t m, size_t W,
		   const double *lv, size_t nl, struct forecast_wv *buf)
{
	size_t d, np = 0, nv = 0;
	double tot = 0;

	for (d = 1; np < ENG_CLIM_PERIODS && d * m <= t; d++) {
		size_t c = t - d * m, w, got = 0;
		double wt;

		if (c + W >= j)
			continue;
		wt = decay_of(f, j - c, m);
		for (w = c >= W ? c - W : 0; w <= c + W; w++)
			if (!isnan(raw[w])) {
				buf[nv].v = raw[w];
				buf[nv++].w = wt;
				tot += wt;
				got = 1;
			}
		np += got;
	}
	return wv_quantiles(q, buf, nv, tot, lv, nl);
}

/* The weighted quantiles at levels lv (nl, ascending) of the values of
 * s (n, sorted by value, w holding each value's index) whose index is in
 * [lo, hi), the one at index i weighing wt[i - lo], of total weight tot:
 * what wquantile_sorted gives on those values sorted alone, without
 * sorting them (a level never reached gets the largest). */
static void scan_quantiles(double *q, const struct forecast_wv *s, size_t n, size_t lo, size_t hi,
			   const double *wt, double tot, const double *lv, size_t nl)
{
	double acc = 0, last = NAN, thr[FORECAST_MAX_LEVELS];
	size_t k, l = 0, span = hi - lo;

	for (l = 0; l < nl; l++)
		thr[l] = lv[l] * tot;
	/* Up to the first value in the window, as below with its tests. */
	for (k = 0, l = 0; k < n; k++) {
		size_t i = (size_t)s[k].w;

		if (i - lo < span) {
			acc += wt[i - lo];
			last = s[k].v;
			while (l < nl && acc >= thr[l])
				q[l++] = last;
			k++;
			break;
		}
	}
	/* The rest without a branch on the window, which the processor could
	 * not predict (the values' indices come in random order): a value
	 * outside adds nothing and keeps last, which changes neither acc nor
	 * a level's test (false already after the last value inside). */
	for (; k < n && l < nl; k++) {
		size_t i = (size_t)s[k].w;
		uint64_t in = -(uint64_t)(i - lo < span), wb, vb, lb;
		double w = wt[(i - lo) & in]; /* a load that is always valid */

		/* Selected by masks: the compiler would branch on a ?:. */
		memcpy(&wb, &w, sizeof(wb));
		memcpy(&vb, &s[k].v, sizeof(vb));
		memcpy(&lb, &last, sizeof(lb));
		wb &= in;
		lb = (vb & in) | (lb & ~in);
		memcpy(&w, &wb, sizeof(w));
		memcpy(&last, &lb, sizeof(last));
		acc += w;
		while (l < nl && acc >= thr[l])
			q[l++] = last;
	}
	while (l < nl)
		q[l++] = last;
}

static int flat_at(double *q, const struct flat *f, const double *raw, size_t lo, size_t j, size_t m,
		   const double *lv, size_t nl)
{
	size_t i, nv = 0;
	double tot = 0;

	for (i = lo; i < j; i++)
		if (!isnan(raw[i])) {
			f->w[i - lo] = decay_of(f, j - i, m);
			tot += f->w[i - lo];
			nv++;
		}
	if (!nv)
		return 0;
	if (f->sub_lo <= lo && j <= f->sub_hi)
		scan_quantiles(q, f->sub, f->nsub, lo, j, f->w, tot, lv, nl);
	else
		scan_quantiles(q, f->s, f->n, lo, j, f->w, tot, lv, nl);
	return 1;
}

/* Narrows f to the values with an index in [lo, hi), for the windows of
 * a few neighbouring origins: a window is a third of the sorted history,
 * and each scan skipped the rest value by value. The values keep their
 * order, so a scan gives the same quantiles bit for bit. */
static void flat_narrow(struct flat *f, size_t lo, size_t hi)
{
	size_t k;

	f->nsub = 0;
	for (k = 0; k < f->n; k++) {
		size_t i = (size_t)f->s[k].w;

		if (i >= lo && i < hi)
			f->sub[f->nsub++] = f->s[k];
	}
	f->sub_lo = lo, f->sub_hi = hi;
}

/* Sorts raw[base..n-1] (its values that are numbers) into f, whose
 * windows are at most window long; flat_free releases it. */
static int flat_sort(struct flat *f, const double *raw, size_t base, size_t n, size_t window, size_t m)
{
	struct forecast_wv *buf = malloc((n - base + 1) * sizeof(*buf));
	size_t i;

	f->base = base;
	f->n = 0;
	f->s = malloc((n - base + 1) * sizeof(*f->s));
	f->w = malloc((window + 1) * sizeof(*f->w));
	f->ndecay = window + 2 * m + 1;
	f->decay = malloc(f->ndecay * sizeof(*f->decay));
	f->sub = malloc((n - base + 1) * sizeof(*f->sub));
	f->nsub = f->sub_lo = f->sub_hi = 0;
	if (!f->s || !f->w || !f->decay || !f->sub || !buf) {
		free(buf);
		return adp_error_set(ADP_ENOMEM, "out of memory");
	}
	for (i = 0; i < f->ndecay; i++)
		f->decay[i] = pow(0.5, (double)i / (double)m / ENG_CLIM_HALFLIFE);
	for (i = base; i < n; i++)
		if (!isnan(raw[i])) {
			f->s[f->n].v = raw[i];
			f->s[f->n++].w = (double)i;
		}
	forecast_sort_wv(f->s, f->n, buf);
	free(buf);
	return 0;
}

static void flat_free(struct flat *f)
{
	free(f->s);
	free(f->w);
	free(f->decay);
	free(f->sub);
}

/* clim_at at every calibration origin for one target lead: the origins
 * are a period apart, so they read the same phase, and a value k periods
 * before its target has the same weight at every origin. The values of
 * every period any origin reads are sorted once (stably, in clim_at's
 * order: newest period first, then time), and each origin scans them,
 * keeping its own periods: the same quantiles bit for bit as clim_at's
 * sort of its window (the total summed in clim_at's order, ties in its
 * order), without a sort per origin and lead. */
struct clim_phase {
	struct forecast_wv *s; /* sorted by value; w holds the period index (from q0) */
	size_t n, q0, nq, d0;
	size_t *cnt;           /* values per period */
	double *wt;            /* weight per period index from d0 (dd - d0) */
};

/* The phase of targets lead + h steps past the origins n - e * m, for
 * e from e0 to e1: periods q0 = e0 + d0 on, until the oldest origin has
 * its ENG_CLIM_PERIODS periods with values. 0 or ADP_ENOMEM. */
static int clim_phase_make(struct clim_phase *ph, const struct flat *f, const double *raw, size_t n, size_t m,
			   size_t W, size_t lh, size_t e0, size_t e1)
{
	struct forecast_wv *tmp;
	size_t q, w, got = 0, cap;

	memset(ph, 0, sizeof(*ph));
	ph->d0 = (lh + W) / m + 1;
	ph->q0 = e0 + ph->d0;
	cap = (n + lh) / m + 2;
	ph->cnt = calloc(cap, sizeof(*ph->cnt));
	ph->wt = malloc(cap * sizeof(*ph->wt));
	ph->s = malloc(cap * (2 * W + 1) * sizeof(*ph->s));
	if (!ph->cnt || !ph->wt || !ph->s)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	for (q = ph->q0; q * m <= n + lh && got < ENG_CLIM_PERIODS; q++) {
		size_t c = n + lh - q * m, k = q - ph->q0;

		ph->wt[k] = decay_of(f, (q - e0) * m - lh, m);
		for (w = c >= W ? c - W : 0; w <= c + W; w++)
			if (!isnan(raw[w])) {
				ph->s[ph->n].v = raw[w];
				ph->s[ph->n++].w = (double)k;
				ph->cnt[k]++;
			}
		got += q >= e1 + ph->d0 && ph->cnt[k];
		ph->nq = k + 1;
	}
	if (!(tmp = malloc((ph->n + 1) * sizeof(*tmp))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	forecast_sort_wv(ph->s, ph->n, tmp);
	free(tmp);
	return 0;
}

static void clim_phase_free(struct clim_phase *ph)
{
	free(ph->s);
	free(ph->cnt);
	free(ph->wt);
}

/* clim_at(q, f, raw, n - e * m, n - e * m + lh, ...) from ph. */
static int clim_phase_at(double *q, const struct clim_phase *ph, size_t e, size_t e0, const double *lv, size_t nl)
{
	size_t lo = e - e0, hi = lo, np = 0, i;
	double tot = 0;

	/* This origin's periods: from its first, until ENG_CLIM_PERIODS have values. */
	for (; hi < ph->nq && np < ENG_CLIM_PERIODS; hi++) {
		for (i = 0; i < ph->cnt[hi]; i++)
			tot += ph->wt[hi - lo];
		np += ph->cnt[hi] > 0;
	}
	if (!np)
		return 0;
	scan_quantiles(q, ph->s, ph->n, lo, hi, ph->wt, tot, lv, nl);
	return 1;
}

/* The first index of the recent history before j, and its largest value. */
static size_t clim_lo(size_t j, size_t m)
{
	return j > ENG_CLIM_PERIODS * m ? j - ENG_CLIM_PERIODS * m : 0;
}

static double recent_top(const double *raw, size_t j, size_t m)
{
	double top = -INFINITY;
	size_t i;

	for (i = clim_lo(j, m); i < j; i++)
		if (raw[i] > top)
			top = raw[i];
	return top;
}

/* An on/off series (a busy level and an idle one, each held for a
 * while): the upper quantiles are those of the level the series is in or
 * switches to, not the tails of a smooth model or of a window that held a
 * rare busy spell. The recent history raw[lo..j-1] is split at midway
 * between its median and its maximum; it is two-level when the values
 * above are a minority whose median is at least ENG_REGIME_SEP times the
 * p99 of those below, held on average for a 24th of the period (an hour
 * of a day; shorter bursts are spikes, which the other bands treat, and
 * whose time of day the climatology knows). A two-state
 * Markov chain, its switching rates counted on that history (with half a
 * switch of prior each way), gives the chance of being busy t steps past
 * the last value; a level's quantile is read from the mixture of the two
 * levels' values at that chance. */
#define ENG_REGIME_SEP 3.0
#define ENG_REGIME_RUN 24    /* the busy runs' mean length: at least a period / this */

struct regime {
	int ok;
	double *v;      /* the window's values, sorted: idle [0, nlo), busy [nlo, nv) */
	double *tmp;    /* scratch, as long as v */
	size_t nv, nlo;
	double up, down; /* chance of a switch per step, idle to busy and back */
	int busy;        /* the state of the last value */
};

/* The regime of raw[lo..j-1] (period m) into r, whose v and tmp hold j - lo values. */
static void regime_at(struct regime *r, const double *raw, size_t lo, size_t j, size_t m)
{
	size_t i, nup = 0, ndown = 0, nidle = 0, nbusy = 0;
	double thr, *v = r->v;
	int prev = -1;

	r->ok = 0;
	r->nv = 0;
	for (i = lo; i < j; i++)
		if (!isnan(raw[i]))
			v[r->nv++] = raw[i];
	if (r->nv < 2 * m)
		return;
	forecast_sort(v, r->nv, r->tmp);
	thr = (v[r->nv / 2] + v[r->nv - 1]) / 2;
	r->nlo = sorted_rank(v, r->nv, thr, 1);
	if (r->nlo == r->nv || 2 * (r->nv - r->nlo) > r->nv ||
	    v[r->nlo + (r->nv - r->nlo) / 2] < ENG_REGIME_SEP * fmax(sorted_quantile(v, r->nlo, 0.99), 0))
		return;
	for (i = lo; i < j; i++) {
		int b;

		if (isnan(raw[i]))
			continue;
		b = raw[i] > thr;
		if (prev >= 0) {
			nup += !prev && b;
			ndown += prev && !b;
			nidle += !prev;
			nbusy += prev;
		}
		prev = b;
	}
	if (nbusy < (nup + 1) * (m / ENG_REGIME_RUN)) /* nup + 1: a run may have begun before lo */
		return;
	r->up = (nup + 0.5) / (nidle + 1.0);
	r->down = (ndown + 0.5) / (nbusy + 1.0);
	r->busy = prev;
	r->ok = 1;
}

/* The level lv quantile (lv > 0.5) t steps past the last value. */
static double regime_q(const struct regime *r, size_t t, double lv)
{
	double pi = r->up / (r->up + r->down), lam = fmax(0, 1 - r->up - r->down);
	double p = pi + ((double)r->busy - pi) * pow(lam, (double)t + 1);

	if (lv < 1 - p)
		return sorted_quantile(r->v, r->nlo, lv / (1 - p));
	return sorted_quantile(r->v + r->nlo, r->nv - r->nlo, (lv - (1 - p)) / p);
}

/* Conformalised quantile regression's correction at level lv: the
 * weighted lv-quantile of y - C over the calibration targets, where C
 * for origin d and lead h is C[d * sd + h * sh] (sh 0: one per origin). */
static double cqr_delta(const double *yv, const double *cw, const double *C, size_t sd, size_t sh, size_t D, size_t H,
			double lv, struct forecast_wv *buf)
{
	size_t d, h, ns = 0;
	double tot = 0;

	for (d = 0; d < D; d++)
		for (h = 0; cw[d] > 0 && h < H; h++)
			if (!isnan(yv[d * H + h])) {
				buf[ns].v = yv[d * H + h] - C[d * sd + h * sh];
				buf[ns++].w = cw[d];
				tot += cw[d];
			}
	forecast_sort_wv(buf, ns, buf + ns);
	return ns ? wquantile_sorted(buf, ns, tot, lv) : 0;
}

/* What auto calibrates on: per calibration origin d (the grid's origin
 * d * per + ENG_SHIFT) and lead h, the actual y and, per level, the
 * model's quantile (its offset from the point forecast, the same at every
 * origin, on that origin's path), the climatology's and the flat one,
 * each corrected. */
struct calib {
	const double *yv, *cq, *fq, *rq, *delta, *fdelta, *err, *q, *path;
	size_t H, L, per;
};

/* The band sources at (d, h, l) into qs[BAND_N]; 0 when y or the model's
 * error there is missing. The regime's is NAN where it has none. */
static int calib_at(const struct calib *k, size_t d, size_t h, size_t l, double *y, double *qs)
{
	double ev = k->err[(d * k->per + ENG_SHIFT) * k->H + h];

	*y = k->yv[d * k->H + h];
	if (isnan(*y) || isnan(ev))
		return 0;
	qs[BAND_MODEL] = fmax(0, *y - ev + (k->q[h * k->L + l] - k->path[h]));
	qs[BAND_CLIM] = fmax(0, k->cq[(d * k->H + h) * k->L + l] + k->delta[l]);
	qs[BAND_MEAN] = (qs[BAND_MODEL] + qs[BAND_CLIM]) / 2;
	qs[BAND_FLAT] = fmax(0, k->fq[d * k->L + l] + k->fdelta[l]);
	qs[BAND_REGIME] = k->rq[(d * k->H + h) * k->L + l];
	return 1;
}

/* A level shift the climatology has not caught up with: over the last
 * 12th of a period (two hours of a day) the history sits on one side of
 * its own climatology's median at those phases (90% of the steps) by
 * more than ENG_SHIFT_IQR times the climatology's interquartile range.
 * The climatologies weigh weeks of the old level, and the model may
 * follow a seasonal naive's yesterday: re-anchoring them by the median
 * gap is what takes a step up or a drop to zero into account at once.
 * Returns that gap, 0 when there is none; buf as clim_at's, tmp
 * 3 * ENG_SHIFT_STEPS(m) values. */
#define ENG_SHIFT_IQR 2.0
#define ENG_SHIFT_STEPS(m) ((m) / 12 > 3 ? (m) / 12 : 3)

static double level_shift(const struct flat *f, const double *raw, size_t n, size_t m, size_t W,
			  struct forecast_wv *buf, double *tmp)
{
	static const double lv[3] = { 0.25, 0.5, 0.75 };
	size_t K = ENG_SHIFT_STEPS(m), k, nr = 0, pos = 0, neg = 0;
	double q[3], *r = tmp, *iqr = tmp + K, gap;

	for (k = 1; k <= K && k < n; k++) {
		size_t t = n - k;

		if (isnan(raw[t]) || !clim_at(q, f, raw, t, t, m, W, lv, 3, buf))
			continue;
		r[nr] = raw[t] - q[1];
		iqr[nr] = q[2] - q[0];
		pos += r[nr] > 0;
		neg += r[nr] < 0;
		nr++;
	}
	if (4 * nr < 3 * K || (10 * pos < 9 * nr && 10 * neg < 9 * nr))
		return 0;
	forecast_sort(r, nr, tmp + 2 * K);
	forecast_sort(iqr, nr, tmp + 2 * K);
	gap = r[nr / 2];
	return fabs(gap) > ENG_SHIFT_IQR * iqr[nr / 2] ? gap : 0;
}

/* The sources' values at level l at the forecast origin: the model's qm,
 * the climatology's now, the every-phase one fnow, each corrected, the
 * two climatologies re-anchored by a level shift. */
static void sources_now(double *qs, double qm, const double *now, const double *delta, const double *fnow,
			const double *fdelta, double shift, size_t l)
{
	qs[BAND_MODEL] = qm;
	qs[BAND_CLIM] = fmax(0, now[l] + delta[l] + shift);
	qs[BAND_MEAN] = (qs[BAND_MODEL] + qs[BAND_CLIM]) / 2;
	qs[BAND_FLAT] = fmax(0, fnow[l] + fdelta[l] + shift);
	qs[BAND_REGIME] = NAN;
}

/* Band a's quantile at level lv from its values at every source, qs, and
 * at the median, med (NULL without a median level), when the median
 * chosen is pm's: an upper level keeps at least its spread above its own
 * source's median over the chosen median, a lower one below it. Where
 * the median follows a level shift the climatology has not seen yet, the
 * climatology's p95 would otherwise sit at or under that median. */
static double band_at(const double *qs, const double *med, int a, int pm, double lv)
{
	if (!med || a == pm || a == BAND_REGIME)
		return qs[a];
	if (lv > 0.5)
		return fmax(qs[a], med[pm] + (qs[a] - med[a]));
	return fmin(qs[a], med[pm] - (med[a] - qs[a]));
}

static double pinball(double y, double q, double lv)
{
	double d = y - q;
	return d >= 0 ? lv * d : (lv - 1) * d;
}

/* Replaces the model's band, per lead bucket and per group of levels
 * (lower, median, upper), by whichever of four has the smallest pinball
 * loss on the calibration origins (the grid's origins in phase with the
 * real one, ENG_CLIM_CAL periods of them): the model's, the climatology
 * at the phase, the mean of the two, or the recent distribution over
 * every phase; each climatology corrected by the quantiles of its own
 * calibration errors, as conformalised quantile regression does. The
 * band so chosen is then calibrated as a whole on the same origins, its
 * tails widened as a replay of them in time order says (replay_tails). The scenarios follow their
 * quantiles through a monotone map, so each keeps its rank. */
static int eng_climate(struct forecast_series *out, const struct eng *e, const struct grid *g, const double *err,
		       size_t lead, size_t H, const struct forecast_opts *o)
{
	size_t m = e->m, n = e->o, L = o->nlevels, W = m >= 144 ? m / 144 : 1, per = 2 * ENG_SHIFT + 1;
	size_t D = ENG_CLIM_CAL, nb = H < ENG_CLIM_BUCKETS ? H : ENG_CLIM_BUCKETS, d, h, l, b, k, K = out->nscen;
	double *cq = malloc(D * H * L * sizeof(*cq)), *yv = malloc(D * H * sizeof(*yv)), *cw = malloc(D * sizeof(*cw));
	double *delta = malloc(L * sizeof(*delta)), *now = malloc(L * sizeof(*now));
	double *oldq = malloc(H * L * sizeof(*oldq)), *loss = calloc(nb * 3 * BAND_N, sizeof(*loss));
	size_t nbuf = ENG_CLIM_PERIODS * (2 * W + 1) + D * H;
	double *corr = malloc(L * sizeof(*corr)), *sc = malloc(D * H * sizeof(*sc)), *rp = malloc((3 * D + 3) * H * sizeof(*rp));
	double *fq = malloc(D * L * sizeof(*fq)), *fdelta = malloc(L * sizeof(*fdelta)), *fnow = malloc(L * sizeof(*fnow));
	struct forecast_wv *buf = malloc(2 * nbuf * sizeof(*buf));
	int *pick = malloc(nb * 3 * sizeof(*pick)), rc = 0;
	size_t rwin = ENG_CLIM_PERIODS * m + 1;
	double *rq = malloc(D * H * L * sizeof(*rq)), *rbuf = malloc(4 * rwin * sizeof(*rbuf));
	double *lsbuf = malloc(3 * ENG_SHIFT_STEPS(m) * sizeof(*lsbuf));
	struct regime rnow = { .v = rbuf, .tmp = rbuf + rwin }, rcal = { .v = rbuf + 2 * rwin, .tmp = rbuf + 3 * rwin };
	size_t ncal = 0, i, rise_days = 0, lm;
	double med[BAND_N], shift;
	double over = 0, wall = 0, top;
	struct calib cal;
	struct flat flat = { 0 };
	struct clim_phase *ph = NULL;

	if (!cq || !yv || !cw || !delta || !now || !oldq || !loss || !buf || !pick || !fq || !fdelta || !fnow || !corr || !sc || !rp ||
	    !rq || !rbuf || !lsbuf) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	/* The oldest window starts at the last calibration origin's. */
	if ((rc = flat_sort(&flat, e->raw, clim_lo(n > (g->dmin + D) * m ? n - (g->dmin + D) * m : 0, m), n,
			    ENG_CLIM_PERIODS * m, m)))
		goto done;
	if (!(ph = calloc(H, sizeof(*ph)))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	for (h = 0; h < H; h++)
		if ((rc = clim_phase_make(&ph[h], &flat, e->raw, n, m, W, lead + h, g->dmin, g->dmin + D - 1)))
			goto done;
	/* The regime band is a candidate only for a series on/off now. */
	regime_at(&rnow, e->raw, clim_lo(n, m), n, m);
	for (i = 0; i < D * H * L; i++)
		rq[i] = NAN;
	/* Climatology at the calibration origins, n - d * m for d from the grid's first period. */
	for (d = 0; d < D; d++) {
		size_t dd = g->dmin + d, c = d * per + ENG_SHIFT, j;
		int rose = 0;

		cw[d] = 0;
		if (d % ENG_CLIM_GROUP == 0) {
			/* The next origins' windows, from the oldest's start to this one's end. */
			size_t hi = dd * m < n ? n - dd * m : 0, far = (dd + ENG_CLIM_GROUP - 1) * m;

			flat_narrow(&flat, clim_lo(far < n ? n - far : 0, m), hi);
		}
		if (dd * m > n || d >= g->n / per || g->origin[c] < 0)
			continue;
		j = n - dd * m;
		if (j < 2 * m)
			continue;
		cw[d] = g->w[c];
		if (!flat_at(fq + d * L, &flat, e->raw, clim_lo(j, m), j, m, o->levels, L)) {
			cw[d] = 0;
			continue;
		}
		top = recent_top(e->raw, j, m);
		if (rnow.ok) {
			regime_at(&rcal, e->raw, clim_lo(j, m), j, m);
			for (h = 0; rcal.ok && h < H; h++)
				for (l = 0; l < L; l++)
					if (o->levels[l] > 0.5)
						rq[(d * H + h) * L + l] = regime_q(&rcal, lead + h, o->levels[l]);
		}
		for (h = 0; h < H; h++) {
			yv[d * H + h] = e->raw[j + lead + h];
			if (!isnan(yv[d * H + h])) {
				over += cw[d] * (yv[d * H + h] > top);
				wall += cw[d];
				rose |= yv[d * H + h] > top;
			}
			if (!clim_phase_at(cq + (d * H + h) * L, &ph[h], dd, g->dmin, o->levels, L))
				yv[d * H + h] = NAN;
		}
		rise_days += rose;
		ncal++;
	}
	if (ncal < 3)
		goto done;  /* too little history: the model's band stands */
	cal = (struct calib){ .yv = yv, .cq = cq, .fq = fq, .rq = rq, .delta = delta, .fdelta = fdelta, .err = err,
			      .q = out->q, .path = e->path, .H = H, .L = L, .per = per };
	/* Each climatology's correction per level, over all leads. */
	for (l = 0; l < L; l++) {
		delta[l] = cqr_delta(yv, cw, cq + l, H * L, L, D, H, o->levels[l], buf);
		fdelta[l] = cqr_delta(yv, cw, fq + l, L, 0, D, H, o->levels[l], buf);
	}
	/* Pinball loss of each band per bucket and group of levels. */
	for (d = 0; d < D; d++)
		for (h = 0; cw[d] > 0 && h < H; h++) {
			b = h * nb / H;
			for (l = 0; l < L; l++) {
				double lv = o->levels[l], y, qs[BAND_N];
				size_t grp = lv < 0.5 ? 0 : lv == 0.5 ? 1 : 2;
				int a;

				if (!calib_at(&cal, d, h, l, &y, qs))
					break; /* missing at every level alike */
				if (isnan(qs[BAND_REGIME])) /* not on/off then: the every-phase band stands in */
					qs[BAND_REGIME] = qs[BAND_FLAT];
				for (a = 0; a < BAND_N; a++)
					loss[(b * 3 + grp) * BAND_N + a] += cw[d] * pinball(y, qs[a], lv);
			}
		}
	for (b = 0; b < nb * 3; b++)
		if (!rnow.ok || b % 3 != 2) /* the regime's band is for upper levels */
			loss[b * BAND_N + BAND_REGIME] = INFINITY;
	for (b = 0; b < nb * 3; b++) {
		int best = BAND_MODEL, a;

		for (a = 1; a < BAND_N; a++)
			if (loss[b * BAND_N + a] < loss[b * BAND_N + best])
				best = a;
		pick[b] = best;
		out->band_share[b % 3][best] += 1.0 / (double)nb;
	}
	/* The chosen band, calibrated as a whole: per level, the quantile of
	 * the calibration errors of what was chosen, at the tail replay_tails
	 * finds (selection makes the chosen band look better than it is).
	 * Not the regime's: its chance of a busy spell is counted, and a
	 * correction from the few busy values would put every step there. */
	for (lm = 0; lm < L && o->levels[lm] != 0.5; lm++)
		;
	for (l = 0; l < L; l++) {
		size_t ns = 0;
		double tot = 0, lv = o->levels[l], mult;

		corr[l] = 0;
		for (i = 0; i < D * H; i++)
			sc[i] = NAN;
		if (lv == 0.5)
			continue;
		for (d = 0; d < D; d++)
			for (h = 0; cw[d] > 0 && h < H; h++) {
				double y, qs[BAND_N], med[BAND_N];
				int p = pick[(h * nb / H) * 3 + (lv < 0.5 ? 0 : 2)], pm = pick[(h * nb / H) * 3 + 1];

				if (p == BAND_REGIME || !calib_at(&cal, d, h, l, &y, qs) ||
				    (lm < L && !calib_at(&cal, d, h, lm, &y, med)))
					continue;
				buf[ns].v = sc[d * H + h] = y - band_at(qs, lm < L ? med : NULL, p, pm, lv);
				buf[ns++].w = cw[d];
				tot += cw[d];
			}
		forecast_sort_wv(buf, ns, buf + ns);
		if (!replay_tails(&mult, sc, cw, 1, D, H, &lv, 1, rp))
			mult = 1;
		corr[l] = ns ? wquantile_sorted(buf, ns, tot, lv > 0.5 ? 1 - (1 - lv) * mult : lv * mult) : 0;
	}
	if (!flat_at(fnow, &flat, e->raw, clim_lo(n, m), n, m, o->levels, L))
		goto done;
	/* An on/off series' switch is the regime's, not a shift. */
	shift = rnow.ok ? 0 : level_shift(&flat, e->raw, n, m, W, buf, lsbuf);
	out->level_shift = shift;
	for (b = 0; shift != 0 && b < nb; b++)
		pick[b * 3 + 1] = BAND_CLIM;
	memcpy(oldq, out->q, H * L * sizeof(*oldq));
	for (h = 0; h < H; h++) {
		double *q = out->q + h * L;

		if (!clim_at(now, &flat, e->raw, n, n + lead + h, m, W, o->levels, L, buf))
			continue;
		b = h * nb / H;
		if (lm < L)
			sources_now(med, q[lm], now, delta, fnow, fdelta, shift, lm);
		for (l = 0; l < L; l++) {
			double lv = o->levels[l], qs[BAND_N];
			int p = pick[b * 3 + (lv < 0.5 ? 0 : lv == 0.5 ? 1 : 2)];

			sources_now(qs, q[l], now, delta, fnow, fdelta, shift, l);
			q[l] = p == BAND_REGIME ? regime_q(&rnow, lead + h, lv)
						: fmax(0, band_at(qs, lm < L ? med : NULL, p, pick[b * 3 + 1], lv) + corr[l]);
		}
		for (l = 1; l < L; l++)
			if (q[l] < q[l - 1])
				q[l] = q[l - 1];
	}
	/* No upper bound above the recent maximum unless the series went above
	 * its own recent maximum often enough at the calibration origins for
	 * that level, and on several of their days (a rising series): a band
	 * past every value of the last weeks is otherwise the model's tail,
	 * not the data's, and one new high (a busy spell never seen before) is
	 * a jump, not a trend. Where the median itself is above that maximum
	 * (the model follows a shift up, or a series pegged at its ceiling
	 * comes out a little above it), the band above the median is what
	 * that rise is evidence for, no more: the cap is the median plus the
	 * median's own rise above the maximum (the model's tail there reached
	 * 2.5 times the maximum of a VM at its ceiling). */
	out->recent_max = top = recent_top(e->raw, n, m);
	out->rise_rate = wall > 0 ? over / wall : NAN;
	out->rise_days = rise_days;
	for (l = 0; l < L; l++) {
		out->capped[l] = o->levels[l] > 0.5 && wall > 0 &&
				 (over / wall <= (1 - o->levels[l]) / 2 || rise_days < ENG_RISE_DAYS);
		for (h = 0; out->capped[l] && h < H; h++) {
			double cap = forecast_ceiling(top, lm == L ? -INFINITY : out->q[h * L + lm]);

			if (out->q[h * L + l] > cap)
				out->q[h * L + l] = cap;
		}
	}
	/* Scenarios keep their rank: the old band's level of each value, read on the new band. */
	for (k = 0; k < K; k++)
		for (h = 0; h < H; h++) {
			const double *a = oldq + h * L, *z = out->q + h * L;
			double v = out->scen[k * H + h], r;

			if (v <= a[0])
				r = z[0] + (v - a[0]);
			else if (v >= a[L - 1])
				r = z[L - 1] + (v - a[L - 1]) * (a[L - 1] > a[0] ? (z[L - 1] - z[0]) / (a[L - 1] - a[0]) : 1);
			else {
				for (l = 0; l + 1 < L && v > a[l + 1]; l++)
					;
				r = a[l + 1] > a[l] ? z[l] + (v - a[l]) / (a[l + 1] - a[l]) * (z[l + 1] - z[l]) : z[l];
			}
			out->scen[k * H + h] = fmax(0, r);
		}
done:
	free(cq);
	free(yv);
	free(cw);
	free(delta);
	free(now);
	free(oldq);
	free(loss);
	free(fq);
	free(corr);
	free(sc);
	free(rp);
	free(fdelta);
	free(fnow);
	free(buf);
	free(pick);
	free(rq);
	free(rbuf);
	free(lsbuf);
	flat_free(&flat);
	for (h = 0; ph && h < H; h++)
		clim_phase_free(&ph[h]);
	free(ph);
	return rc;
}

static int predict_kind(struct forecast_series *out, const struct series *s,
			const struct forecast_opts *o, int kind)
{
	int64_t period = o->period ? o->period : 86400;
	size_t K = o->max_scenarios ? o->max_scenarios : FORECAST_DEFAULT_SCENARIOS;
	size_t H = o->horizon, m, n, lead, first, valid;
	uint64_t seed = o->seed ? o->seed : ENG_DEFAULT_SEED;
	struct eng e = { 0 };
	struct lstm_fit lf = { 0 };
	struct grid g = { 0 };
	double *x = NULL, *raw = NULL, *err = NULL, *err2 = NULL, *err3 = NULL, *ws = NULL;
	struct forecast_wv *buf = NULL;
	int64_t oi, gap = 0; /* gap: steps between the end of the history and the origin */
	int rc = 0;

	if (K > FORECAST_MAX_SCENARIOS)
		K = FORECAST_MAX_SCENARIOS;
	if (period % o->step || s->step != o->step)
		return adp_error_set(ADP_EINPUT, "the period (%llds) and the history step (%llds) must be multiples of the forecast step (%llds)",
				     (long long)period, (long long)s->step, (long long)o->step);
	m = (size_t)(period / o->step);
	oi = (o->origin - s->start) / s->step; /* history before index oi is known */
	if (oi > (int64_t)s->n) {
		gap = oi - (int64_t)s->n;
		oi = (int64_t)s->n;
	}
	if (oi < (int64_t)(3 * m))
		return adp_error_set(ADP_EINPUT, "needs at least 3 periods of %llds history before the origin; it has %lld steps",
				     (long long)period, (long long)(oi < 0 ? 0 : oi));
	first = (size_t)oi > ENG_MAX_FIT ? (size_t)oi - ENG_MAX_FIT : 0;
	/* Keep whole periods in phase with the series start. */
	first -= first % m;
	n = (size_t)oi - first;
	/* Measured from the end of the history: the phase of every step follows it. */
	lead = (size_t)((o->start - o->origin) / o->step) + (size_t)gap;
	if (o->origin % o->step)
		lead++;
	x = malloc(n * sizeof(*x));
	raw = malloc(n * sizeof(*raw));
	e.L = malloc(n * sizeof(double));
	e.B = malloc(n * sizeof(double));
	e.S = malloc(n * sizeof(double));
	e.S2 = malloc(n * sizeof(double));
	e.prof = malloc(m * sizeof(double));
	e.dcs = malloc((n + 1) * sizeof(double));
	e.path = malloc(H * sizeof(double));
	e.damp = malloc((lead + H) * sizeof(double));
	ws = malloc(HW_LANES * (ENG_WEEK + 2) * m * sizeof(double));
	g.n = (size_t)ENG_PERIODS * (2 * ENG_SHIFT + 1);
	g.origin = malloc(g.n * sizeof(*g.origin));
	g.w = malloc(g.n * sizeof(*g.w));
	err = malloc(g.n * H * sizeof(*err));
	err2 = malloc(g.n * H * sizeof(*err2));
	err3 = malloc(g.n * H * sizeof(*err3));
	buf = malloc(g.n * sizeof(*buf));
	out->q = malloc(H * o->nlevels * sizeof(*out->q));
	out->scen = malloc(K * H * sizeof(*out->scen));
	if (!x || !raw || !e.L || !e.B || !e.S || !e.S2 || !e.prof || !e.dcs || !e.path || !e.damp || !ws || !g.origin || !g.w || !err || !err2 || !err3 || !buf || !out->q ||
	    !out->scen) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	memcpy(raw, s->v + first, n * sizeof(*raw));
	memcpy(x, raw, n * sizeof(*x));
	if ((rc = check_history(raw, n, first, m)))
		goto done;
	if ((rc = forecast_clean(x, n, m, ENG_ANOMALY_Z, NULL, &out->nanomalies)))
		goto done;
	if (!o->skip_periods)
		detect_periods(out, x, n, m, o->step);
	valid = lay_grid(&g, n, m, lead, H);
	if (valid < ENG_MIN_ORIGINS) {
		rc = adp_error_set(ADP_EINPUT,
				   "history too short to backtest a %zu-step horizon: %zu origins, at least %d needed (about %zu periods of history)",
				   H, valid, ENG_MIN_ORIGINS, g.dmin + 3);
		goto done;
	}
	e.x = x;
	e.raw = raw;
	e.o = n;
	e.m = m;
	if ((rc = eng_choose(out, &e, &g, lead, H, kind == M_LSTM ? M_SNAIVE : kind, ws, err, err2, err3)))
		goto done;
	/* auto tries the network only where it may be trained (lstm.h). */
	if (kind == M_LSTM || (kind == M_AUTO && o->auto_lstm == FORECAST_LSTM_ALWAYS &&
			       n >= (g.dmin + LSTM_MIN_PERIODS) * m)) {
		int64_t t0 = s->start + (int64_t)first * s->step, wk = (int64_t)(LSTM_WEEK * m);
		/* The step of the week of the first value, from the epoch. */
		int64_t ph = (t0 / s->step - (t0 % s->step < 0)) % wk;

		e.lstm = &lf;
		if ((rc = eng_lstm(out, &e, &g, lead, H, err, err2, (size_t)(ph < 0 ? ph + wk : ph), seed,
				   kind == M_LSTM)))
			goto done;
	}
	out->backtest_origins = valid;
	if ((rc = eng_quantiles(out, &e, &g, err, H, o)))
		goto done;
	draw_scenarios(out, e.path, &g, err, H, K, seed, o->levels);
	out->nscen = K;
	if (kind == M_AUTO && (rc = eng_climate(out, &e, &g, err, lead, H, o)))
		goto done;
	out->horizon = H;
	out->nlevels = o->nlevels;
	out->period = period;
	out->history_used = n;
	out->seed = seed;
done:
	free(x);
	free(raw);
	free(e.L);
	free(e.B);
	free(e.S);
	free(e.S2);
	free(e.prof);
	free(e.dcs);
	free(e.path);
	free(e.damp);
	free(ws);
	free(g.origin);
	free(g.w);
	free(err);
	free(err2);
	free(err3);
	free(buf);
	lstm_fit_release(&lf);
	return rc;
}

static int predict_auto(struct forecast_series *out, const struct series *s, const struct forecast_opts *o)
{
	return predict_kind(out, s, o, M_AUTO);
}

static int predict_snaive(struct forecast_series *out, const struct series *s, const struct forecast_opts *o)
{
	return predict_kind(out, s, o, M_SNAIVE);
}

static int predict_hw(struct forecast_series *out, const struct series *s, const struct forecast_opts *o)
{
	return predict_kind(out, s, o, M_HW);
}

static int predict_stl(struct forecast_series *out, const struct series *s, const struct forecast_opts *o)
{
	return predict_kind(out, s, o, M_STL);
}

static int predict_lstm(struct forecast_series *out, const struct series *s, const struct forecast_opts *o)
{
	return predict_kind(out, s, o, M_LSTM);
}

const struct forecast_model forecast_model_auto = {
	.name = "auto",
	.summary = "per series, the best of seasonal-naive, holt-winters (daily, or daily and weekly), stl-ar and, for few series, lstm on a rolling-origin backtest",
	.predict = predict_auto,
};

const struct forecast_model forecast_model_snaive = {
	.name = "seasonal-naive",
	.summary = "the value one period earlier, with conformal intervals",
	.predict = predict_snaive,
};

const struct forecast_model forecast_model_hw = {
	.name = "holt-winters",
	.summary = "damped additive Holt-Winters fitted by least squares, with conformal intervals",
	.predict = predict_hw,
};

const struct forecast_model forecast_model_stl = {
	.name = "stl-ar",
	.summary = "robust seasonal-trend decomposition with an AR(3) model of the remainder, with conformal intervals",
	.predict = predict_stl,
};

const struct forecast_model forecast_model_lstm = {
	.name = "lstm",
	.summary = "a small LSTM network per series (12 cells; seasonal lags, the recent level, phase of day and week) trained by backpropagation through time, with conformal intervals",
	.predict = predict_lstm,
};
