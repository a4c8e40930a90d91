/* Forecasts: per component and resource, quantiles for every step of a
 * horizon, and joint scenarios (sample paths) that keep the co-movement
 * of components, so that a planner can ask how likely a *sum* of demands
 * is to exceed a capacity.
 *
 * Models sit behind struct forecast_model; forecast_run picks one by name
 * and runs it on every series of a history. */
#ifndef ADP_FORECAST_H
#define ADP_FORECAST_H

#include <stddef.h>
#include <stdint.h>

#include "history/history.h"
#include "util/parallel.h"

#define FORECAST_MAX_LEVELS 16
#define FORECAST_MAX_HORIZON 100000

struct forecast_opts {
	int64_t origin;        /* the forecast is made here; later history is unused */
	int64_t start;         /* time of the first step; >= origin, a multiple of step */
	int64_t step;          /* seconds */
	size_t horizon;        /* number of steps */
	double levels[FORECAST_MAX_LEVELS]; /* ascending, in (0, 1) */
	size_t nlevels;
	int64_t period;        /* seasonal period in seconds; 0: one day */
	size_t max_scenarios;  /* upper bound on sample paths per series; 0: 200 */
	uint64_t seed;         /* scenario draws; 0: a fixed default (recorded in series) */
	/* Worker threads for forecast_run (series are independent and the
	 * result does not depend on the count); 0: one per online CPU, at
	 * most FORECAST_MAX_THREADS. */
	size_t threads;
	/* Called after each series with the number done and the total, one
	 * call at a time, from whichever worker finished it (NULL: none). */
	void (*progress)(void *ctx, size_t done, size_t total);
	void *progress_ctx;
	/* Called once series i of the history is forecast and no longer
	 * read, from the worker that did it (NULL: none): a caller may free
	 * its values there, so that the history shrinks while the forecasts
	 * grow instead of both being held at the peak. */
	void (*series_done)(void *ctx, size_t i);
	void *series_done_ctx;
	/* Whether auto also tries the lstm model (and keeps it where its
	 * backtest wins): FORECAST_LSTM_RULE (0), where forecast_run has at
	 * most FORECAST_AUTO_LSTM_SERIES series (a network costs a fraction of
	 * a second where the other models cost milliseconds: a plan of a
	 * thousand series must not pay that); FORECAST_LSTM_NEVER or
	 * FORECAST_LSTM_ALWAYS. Never where the history is too short to train
	 * one (lstm.h). */
	int auto_lstm;
	/* 1: no periodicity search (nperiods stays 0). The periods found are
	 * reported to people by `forecast`; no model reads them, so a plan
	 * skips the search, which was a twelfth of its forecasting. */
	int skip_periods;
};

enum { FORECAST_LSTM_RULE = 0, FORECAST_LSTM_NEVER = -1, FORECAST_LSTM_ALWAYS = 1 };
#define FORECAST_AUTO_LSTM_SERIES 8

#define FORECAST_MAX_THREADS ADP_MAX_THREADS

#define FORECAST_MAX_PERIODS 4
#define FORECAST_DEFAULT_SCENARIOS 200
#define FORECAST_MAX_SCENARIOS 2000

struct forecast_series {
	char *component;       /* owned */
	int resource;
	size_t horizon, nlevels;
	double *q;             /* owned: q[h * nlevels + l] */
	size_t nscen;
	/* owned: scen[k * horizon + h]. Scenario k of every series in one
	 * forecast comes from the same past period, so sums across series
	 * keep their correlation. Single precision: 7 significant digits are
	 * far beyond what a scenario knows, and the scenarios were half the
	 * memory of a plan at scale. */
	float *scen;
	char model[64];
	int64_t period;
	size_t history_used;   /* steps of history the model saw */
	/* The highest value of the history before the origin (NAN when it
	 * has none), set by forecast_run for every model; the planner caps
	 * its upper quantiles and scenarios there (0 or NAN: no cap). */
	double hist_max;
	/* Added by the backtested models (zero for others). */
	/* holt-winters: alpha, beta, gamma, phi; holt-winters-weekly also
	 * gamma2, the smoothing of the weekly season; stl-ar: the three AR
	 * coefficients and the mean of the deseasonalised series; lstm: the
	 * epoch kept and its mean squared error on the held-out period, in
	 * units of the series' variance */
	double params[6];
	size_t nanomalies;     /* history steps flagged and replaced before fitting */
	size_t nperiods;       /* significant periods found in the history */
	int64_t periods[FORECAST_MAX_PERIODS];  /* seconds, strongest first */
	double strength[FORECAST_MAX_PERIODS];  /* autocorrelation at that lag */
	double pvalue[FORECAST_MAX_PERIODS];    /* permutation test of that period */
	/* auto: the share of the window's leads whose band (lower levels,
	 * median, upper levels) is the model's, the climatology's (at that
	 * phase), the mean of both, the recent distribution over every phase,
	 * or the on/off regime's (upper levels only); all zero when the
	 * model's band stands alone. */
	double band_share[3][5];
	/* auto: the largest value of the recent history (the upper levels'
	 * cap), the share of calibration targets above their own recent
	 * maximum and the calibration periods that had one: a level is left
	 * uncapped (capped[l] 0) when that share is above half its tail and
	 * at least 3 periods rose (a rising series). rise_rate NAN when not
	 * computed. */
	double recent_max, rise_rate;
	size_t rise_days;
	/* auto: how far the last hours sit from the climatology's median (a
	 * level shift it has not caught up with), by which its bands were
	 * re-anchored; 0 when none, NAN when not computed. */
	double level_shift;
	unsigned char capped[FORECAST_MAX_LEVELS];
	double backtest_mae;   /* mean absolute error of the chosen model over its backtest, weighted to halve every 7 periods back */
	size_t backtest_origins;
	uint64_t seed;
};

struct forecast {
	struct forecast_series *items; /* owned */
	size_t n;
	struct forecast_opts opts;
};

struct forecast_model {
	const char *name;      /* static */
	const char *summary;   /* static */
	/* Fills out (component and resource already set) from s. */
	int (*predict)(struct forecast_series *out, const struct series *s,
		       const struct forecast_opts *o);
};

/* The ceiling of an upper quantile at a step whose median is med, for a
 * series whose largest value was max: max, or where med is above it, med
 * plus its rise above it (the rise is the evidence; the tail may go as
 * far again). The forecast's auto model and the planner both cap so. */
static inline double forecast_ceiling(double max, double med)
{
	return med > max ? 2 * med - max : max;
}

/* The registered models, NULL-terminated. */
extern const struct forecast_model *const forecast_models[];

/* Borrowed (static); NULL when unknown. */
const struct forecast_model *forecast_model_find(const char *name);

/* Runs model (NULL: the default) on every series of h (borrowed), on
 * o->threads threads; *out owns its series. On failure, the error names the first series that failed. */
int forecast_run(struct forecast *out, const struct history *h, const struct forecast_opts *o,
		 const char *model);

/* Frees what f owns; NULL-safe. */
void forecast_release(struct forecast *f);

/* The series of every resource of n components, through one sorted index
 * (a search per component would be quadratic at fleet scale):
 * out[i * ADP_RES_COUNT + r] is names[i]'s series of resource r (the first
 * of f's when it has two), borrowed, or NULL. */
int forecast_find_all(const struct forecast *f, const char *const *names, size_t n,
		      const struct forecast_series **out);

/* Quantile at level for step h, linear between the stored levels; level
 * outside them is clamped to the nearest. */
double forecast_quantile(const struct forecast_series *fs, const double *levels, size_t h,
			 double level);

/* Significant periods of v (n values, NAN allowed), in steps: local
 * autocorrelation peaks above max(0.2, 3/sqrt(n)), harmonics of a
 * stronger period dropped, each confirmed by forecast_period_pvalue at
 * the 1% level (at most 8 peaks tested), strongest first. strength
 * receives the autocorrelation at the lag, pvalue (may be NULL) the
 * p-value. Returns how many. */
size_t forecast_find_periods(const double *v, size_t n, size_t maxlag, size_t *lags,
			     double *strength, size_t max);
size_t forecast_find_periods_p(const double *v, size_t n, size_t maxlag, size_t *lags,
			       double *strength, double *pvalue, size_t max);

/* Permutation test of a period of L steps in v: the share of variance
 * explained by the mean profile over cycles of L, against 99 copies with
 * each cycle rotated by an independent random offset (seeded), which
 * keeps each cycle's autocorrelation but breaks the alignment between
 * cycles. Uses the last 16 cycles at most; needs 3. Returns the p-value,
 * 0.01 at best; 1 when untestable or clearly not significant (the test
 * stops early). */
double forecast_period_pvalue(const double *v, size_t n, size_t L, uint64_t seed);

/* Flags spikes and dips: steps whose deviation from the median of the
 * same phase (period m steps) exceeds z robust standard deviations, in
 * runs of at most a quarter period (a longer deviation is a change of
 * level, kept so that the models follow it), and replaces them (and NANs)
 * in place by that median. flag may be NULL. 0 with *nflagged set to how
 * many steps were flagged as anomalies, or ADP_ENOMEM (v untouched: a
 * forecast from uncleaned history must not pass for a cleaned one). */
int forecast_clean(double *v, size_t n, size_t m, double z, unsigned char *flag, size_t *nflagged);

/* Rolling-origin evaluation of one series: origins every o->horizon
 * steps going back from o->origin (at most norigins), each forecast
 * compared with the history it did not see. */
struct forecast_eval {
	size_t origins, points;
	double mase;                          /* MAE of p50 over the seasonal naive in-sample MAE */
	double mae;
	double pinball[FORECAST_MAX_LEVELS];  /* mean pinball loss per level */
	double coverage[FORECAST_MAX_LEVELS]; /* share of actuals at or below the quantile */
	char model[64];                       /* the model of the last origin */
	double below[FORECAST_MAX_LEVELS];    /* share of actuals strictly below the quantile */
};

int forecast_backtest(struct forecast_eval *out, const struct series *s,
		      const struct forecast_opts *o, const char *model, size_t norigins);

/* Strongly dependent components: pairs of series of different
 * components whose residuals (each value minus the median of its phase of
 * the period, minus a centred one-period moving average of the rest), over
 * the last 14 periods before o->origin, correlate at least min_corr in
 * absolute value at some lag within +-max_lag steps. Sharing a daily
 * pattern is not a dependency; moving together beyond it is. */
struct forecast_dep {
	size_t a, b;   /* indexes into the history's series (and forecast_run's items), a < b */
	long lag;      /* steps; > 0: b follows a, corr(a[t], b[t + lag]) */
	double corr;   /* Pearson correlation of the residuals at that lag */
};

struct forecast_deps {
	struct forecast_dep *items; /* owned; strongest first */
	size_t n;
};

#define FORECAST_DEPS_MAX_SERIES 512
#define FORECAST_DEPS_MAX_LAG 288
#define FORECAST_DEPS_MIN_CORR 0.5   /* the default threshold of the CLI */
#define FORECAST_DEPS_LAG 12         /* the default lag window of the CLI, in steps */

/* Fills out (release with forecast_deps_release). Uses o->origin, step
 * and period. At most FORECAST_DEPS_MAX_SERIES series (ADP_EINPUT beyond:
 * the pairs grow with the square). Series with less than two periods of
 * history in the window, or a flat residual, have no dependencies. */
int forecast_dependencies(struct forecast_deps *out, const struct history *h,
			  const struct forecast_opts *o, double min_corr, size_t max_lag);
void forecast_deps_release(struct forecast_deps *d);

/* Empirical quantile (type 7, as R and numpy) of n values; sorts v. */
double adp_quantile_sorted(double *v, size_t n, double level);

#endif
