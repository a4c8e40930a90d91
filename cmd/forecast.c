/* adpart-update forecast: the quantile forecast over the schedule's
 * window, or for --horizon from --now, per component and resource, as a
 * table, CSV or JSON. It needs only what a forecast reads: components
 * with their history, and a window or a horizon. */
#include <argp.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/cmd.h"
#include "forecast/forecast.h"
#include "partition/inventory.h"
#include "partition/schedule.h"
#include "util/error.h"
#include "util/jsonutil.h"
#include "util/resource.h"
#include "util/timeutil.h"

#define MAX_PICKS 256

/* The groups of levels auto chooses a band for (forecast_series.band_share). */
static const char *const band_group[] = { "lower", "median", "upper" };

struct fc_args {
	const char *inventory, *schedule, *model;
	const char *components[MAX_PICKS];
	size_t ncomponents;
	int resources[ADP_RES_COUNT];
	size_t nresources;
	double levels[FORECAST_MAX_LEVELS];
	size_t nlevels;
	int output; /* 0 human, 1 json, 2 csv */
	int64_t now;
	int have_now;
	int64_t horizon; /* --horizon, seconds; 0: the schedule's window */
	int backtest;
	size_t origins;
	double dep_threshold;
	size_t dep_lag;
	int have_dep_lag;
	size_t threads; /* 0: one per online CPU */
	double sizing[ADP_RES_COUNT]; /* the schedule's confidence per resource */
};

enum { OPT_NOW = 256, OPT_MODEL, OPT_LEVELS, OPT_BACKTEST, OPT_ORIGINS, OPT_DEP_THRESHOLD, OPT_DEP_LAG, OPT_HORIZON, OPT_THREADS };

/* As long as the longest window a schedule may have. */
#define MAX_HORIZON (7 * 86400)

static const struct argp_option options[] = {
	{ "inventory", 'i', "FILE", 0, "Inventory (JSON): its components and their history are enough", 0 },
	{ "schedule", 's', "FILE", 0, "Update schedule (JSON): its window is the horizon", 0 },
	{ "horizon", OPT_HORIZON, "DURATION", 0, "Instead of a schedule: forecast this long (4h, 90m, 1d or seconds) from --now, or from the end of the history without it", 0 },
	{ "component", 'c', "NAME", 0, "Only this component (repeatable)", 0 },
	{ "resource", 'r', "RES", 0, "Only this resource: cpu, memory, io or net (repeatable)", 0 },
	{ "levels", OPT_LEVELS, "LIST", 0, "Quantile levels, ascending (default 0.5,0.9,0.95,0.99)", 0 },
	{ "now", OPT_NOW, "TIME", 0, "Forecast as if it were TIME (RFC 3339): later history is ignored", 0 },
	{ "model", OPT_MODEL, "NAME", 0, "Forecast model: auto (default), seasonal-naive, holt-winters, stl-ar, lstm or seasonal-analog", 0 },
	{ "output", 'o', "FORMAT", 0, "human (default), csv or json", 0 },
	{ "backtest", OPT_BACKTEST, NULL, 0, "Rolling-origin evaluation over the history instead: MASE, pinball loss and coverage per level", 0 },
	{ "origins", OPT_ORIGINS, "N", 0, "Backtest origins, one horizon apart going back from --now (default 14, at most 1000)", 0 },
	{ "dependency-threshold", OPT_DEP_THRESHOLD, "R", 0, "Report components whose residuals correlate at least R (default 0.5; 1 turns the report off)", 0 },
	{ "dependency-lag", OPT_DEP_LAG, "N", 0, "Largest lag, in steps, searched for dependencies (default 12, at most 288)", 0 },
	{ "threads", OPT_THREADS, "N", 0, "Forecast on N threads (default: one per online CPU, at most 16); the result is the same for any N", 0 },
	{ 0 },
};

/* "0.5,0.9": strictly ascending levels in (0, 1). */
/* The JSON output's builder: a set or append that fails is an error at
 * print time (cmd_print_json), never a document missing parts. */
static struct adp_jb jb;

static int parse_levels(struct fc_args *a, const char *s)
{
	char *end;

	a->nlevels = 0;
	while (*s) {
		double v = strtod(s, &end);

		if (end == s || !(v > 0 && v < 1) || a->nlevels == FORECAST_MAX_LEVELS ||
		    (a->nlevels && v <= a->levels[a->nlevels - 1]))
			return -1;
		a->levels[a->nlevels++] = v;
		s = end;
		if (*s == ',')
			s++;
		else if (*s)
			return -1;
	}
	return a->nlevels ? 0 : -1;
}

static error_t parse(int key, char *arg, struct argp_state *state)
{
	struct fc_args *a = state->input;
	int r;

	switch (key) {
	case 'i': a->inventory = arg; break;
	case 's': a->schedule = arg; break;
	case OPT_MODEL: a->model = arg; break;
	case OPT_BACKTEST: a->backtest = 1; break;
	case OPT_ORIGINS: {
		char *end;
		unsigned long v = strtoul(arg, &end, 10);
		if (*end || end == arg || v < 1 || v > 1000)
			argp_error(state, "--origins '%s' is not a count from 1 to 1000", arg);
		a->origins = v;
		break;
	}
	case OPT_DEP_THRESHOLD: {
		char *end;
		double v = strtod(arg, &end);
		if (*end || end == arg || !(v > 0 && v <= 1))
			argp_error(state, "--dependency-threshold '%s' is not a correlation in (0, 1]", arg);
		a->dep_threshold = v;
		break;
	}
	case OPT_THREADS: {
		char *end;
		unsigned long v = strtoul(arg, &end, 10);
		if (*end || end == arg || arg[0] == '-' || v < 1 || v > FORECAST_MAX_THREADS)
			argp_error(state, "--threads '%s' is not a count from 1 to %d", arg, FORECAST_MAX_THREADS);
		a->threads = v;
		break;
	}
	case OPT_DEP_LAG: {
		char *end;
		unsigned long v = strtoul(arg, &end, 10);
		if (*end || end == arg || v > FORECAST_DEPS_MAX_LAG || arg[0] == '-')
			argp_error(state, "--dependency-lag '%s' is not a count of steps from 0 to %d", arg,
				   FORECAST_DEPS_MAX_LAG);
		a->dep_lag = v;
		a->have_dep_lag = 1;
		break;
	}
	case 'c': cmd_argp_push(state, "--component options", a->components, &a->ncomponents, MAX_PICKS, arg); break;
	case 'r':
		if ((r = adp_resource_parse(arg)) < 0)
			argp_error(state, "unknown resource '%s': expected cpu, memory, io or net", arg);
		if (a->nresources < ADP_RES_COUNT)
			a->resources[a->nresources++] = r;
		break;
	case OPT_LEVELS:
		if (parse_levels(a, arg))
			argp_error(state, "--levels '%s' is not a list of ascending levels in (0, 1) such as 0.5,0.9,0.95,0.99 (at most %d)",
				   arg, FORECAST_MAX_LEVELS);
		break;
	case 'o':
		if (!strcmp(arg, "csv"))
			a->output = 2;
		else if ((a->output = cmd_parse_output(arg)) < 0)
			argp_error(state, "unknown output format '%s': expected human, csv or json", arg);
		break;
	case OPT_NOW:
		cmd_argp_time(state, "--now", arg, &a->now);
		a->have_now = 1;
		break;
	case OPT_HORIZON:
		cmd_argp_duration(state, "--horizon", arg, "a duration such as 4h, 90m, 1d or seconds", &a->horizon);
		if (a->horizon > MAX_HORIZON)
			argp_error(state, "--horizon '%s' is longer than 7 days, the longest window a forecast covers", arg);
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	case ARGP_KEY_END:
		if (!a->inventory && !a->schedule && !a->horizon)
			argp_error(state, "--inventory and --schedule (or --horizon) are required");
		else if (!a->inventory)
			argp_error(state, "--inventory is required");
		else if (!a->schedule && !a->horizon)
			argp_error(state, "--schedule or --horizon is required: the window to forecast, or how long from --now");
		else if (a->schedule && a->horizon)
			argp_error(state, "--horizon and --schedule: give one, the schedule's window or a horizon from --now");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp cmd_forecast_argp = {
	options, parse, NULL,
	"Forecast each component's load over the schedule's window, or for --horizon from --now: "
	"quantiles at the given levels for every step, with the model and the period used.\v"
	"Exit status: 0 success, 1 error.",
	NULL, NULL, NULL,
};

static int picked(const struct fc_args *a, const struct forecast_series *fs)
{
	size_t i;
	int ok = !a->ncomponents;

	for (i = 0; i < a->ncomponents && !ok; i++)
		ok = !strcmp(a->components[i], fs->component);
	if (!ok || !a->nresources)
		return ok;
	for (i = 0; i < a->nresources; i++)
		if (a->resources[i] == fs->resource)
			return 1;
	return 0;
}

static void print_csv(FILE *f, const struct fc_args *a, const struct forecast *fc)
{
	size_t i, h, l;
	char t[32];

	fputs("component,resource,time", f);
	for (l = 0; l < fc->opts.nlevels; l++)
		fprintf(f, ",p%g", 100 * fc->opts.levels[l]);
	fputc('\n', f);
	for (i = 0; i < fc->n; i++) {
		const struct forecast_series *fs = &fc->items[i];

		if (!picked(a, fs))
			continue;
		for (h = 0; h < fs->horizon; h++) {
			adp_time_format(t, fc->opts.start + (int64_t)h * fc->opts.step);
			fprintf(f, "%s,%s,%s", fs->component, adp_resource_name(fs->resource), t);
			for (l = 0; l < fs->nlevels; l++)
				fprintf(f, ",%.6g", fs->q[h * fs->nlevels + l]);
			fputc('\n', f);
		}
	}
}

/* Both series of a dependency must be among those shown. */
static int dep_shown(const struct fc_args *a, const struct forecast *fc, const struct forecast_dep *d)
{
	return picked(a, &fc->items[d->a]) && picked(a, &fc->items[d->b]);
}

static void print_deps(FILE *f, const struct fc_args *a, const struct forecast *fc,
		       const struct forecast_deps *deps)
{
	size_t i, shown = 0;

	for (i = 0; i < deps->n; i++) {
		const struct forecast_dep *d = &deps->items[i];
		const struct forecast_series *x = &fc->items[d->a], *y = &fc->items[d->b];

		if (!dep_shown(a, fc, d))
			continue;
		if (!shown++)
			fprintf(f, "%sdependencies%s (residual correlation at least %g within %zu steps):\n", cmd_bold(f),
				cmd_reset(f), a->dep_threshold, a->dep_lag);
		fprintf(f, "  '%s' %s and '%s' %s: correlation %.2f at lag %+ld steps (%+llds)\n", x->component,
			adp_resource_name(x->resource), y->component, adp_resource_name(y->resource), d->corr, d->lag,
			(long long)(d->lag * fc->opts.step));
	}
}

static json_t *deps_json(const struct fc_args *a, const struct forecast *fc, const struct forecast_deps *deps)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < deps->n; i++) {
		const struct forecast_dep *d = &deps->items[i];
		json_t *o;

		if (!dep_shown(a, fc, d))
			continue;
		o = json_object();
		adp_jset(&jb, o, "a", json_pack("{s:s,s:s}", "component", fc->items[d->a].component,
						     "resource", adp_resource_name(fc->items[d->a].resource)));
		adp_jset(&jb, o, "b", json_pack("{s:s,s:s}", "component", fc->items[d->b].component,
						     "resource", adp_resource_name(fc->items[d->b].resource)));
		adp_jset(&jb, o, "correlation", json_real(d->corr));
		adp_jset(&jb, o, "lag_steps", json_integer(d->lag));
		adp_jset(&jb, o, "lag_seconds", json_integer((json_int_t)(d->lag * fc->opts.step)));
		adp_jpush(&jb, arr, o);
	}
	return arr;
}

static void print_human(FILE *f, const struct fc_args *a, const struct forecast *fc)
{
	size_t i, h, l;
	char t[32];

	for (i = 0; i < fc->n; i++) {
		const struct forecast_series *fs = &fc->items[i];

		if (!picked(a, fs))
			continue;
		fprintf(f, "%s'%s' %s%s: model %s, period %llds, %zu scenarios, %zu history values used\n",
			cmd_bold(f), fs->component, adp_resource_name(fs->resource), cmd_reset(f), fs->model,
			(long long)fs->period, fs->nscen, fs->history_used);
		if (!strncmp(fs->model, "holt-winters", 12)) {
			fprintf(f, "  parameters: alpha %.3g, beta %.3g, gamma %.3g, phi %.3g", fs->params[0],
				fs->params[1], fs->params[2], fs->params[3]);
			if (!strcmp(fs->model, "holt-winters-weekly"))
				fprintf(f, ", gamma2 %.3g (weekly season)", fs->params[4]);
			fputc('\n', f);
		} else if (!strcmp(fs->model, "stl-ar")) {
			fprintf(f, "  parameters: ar %.3g %.3g %.3g, mean %.4g\n", fs->params[0], fs->params[1],
				fs->params[2], fs->params[3]);
		} else if (!strcmp(fs->model, "lstm")) {
			fprintf(f, "  parameters: epoch %.0f kept, held-out mean squared error %.3g (in variances)\n",
				fs->params[0], fs->params[1]);
		}
		if (fs->backtest_origins)
			fprintf(f, "  backtest: %zu origins, mean absolute error %.4g; %zu anomalies replaced; seed %llu\n",
				fs->backtest_origins, fs->backtest_mae, fs->nanomalies, (unsigned long long)fs->seed);
		if (!isnan(fs->rise_rate)) {
			size_t g;

			fputs("  bands (share of the window from model / climatology at the phase / their mean / every phase / on-off regime):", f);
			for (g = 0; g < 3; g++)
				if (g || fc->opts.levels[0] < 0.5) /* lower levels only when asked for */
					fprintf(f, "%s %s %.0f/%.0f/%.0f/%.0f/%.0f%%", g > (fc->opts.levels[0] < 0.5 ? 0u : 1u) ? ";" : "",
						band_group[g], 100 * fs->band_share[g][0], 100 * fs->band_share[g][1],
						100 * fs->band_share[g][2], 100 * fs->band_share[g][3], 100 * fs->band_share[g][4]);
			fputc('\n', f);
		}
		if (!isnan(fs->rise_rate)) {
			fprintf(f, "  recent maximum %.4g; %.1f%% of calibration values, on %zu of their days, rose above theirs; upper levels capped there:",
				fs->recent_max, 100 * fs->rise_rate, fs->rise_days);
			for (l = 0; l < fc->opts.nlevels; l++)
				if (fc->opts.levels[l] > 0.5)
					fprintf(f, " p%g %s", 100 * fc->opts.levels[l], fs->capped[l] ? "yes" : "no (a trend)");
			fputc('\n', f);
		}
		if (!isnan(fs->level_shift) && fs->level_shift != 0)
			fprintf(f, "  level shift: the last hours sit %.4g %s the climatology at their phases; its bands and the median re-anchored there\n",
				fabs(fs->level_shift), fs->level_shift > 0 ? "above" : "below");
		if (fs->nperiods) {
			size_t p;
			fputs("  periods found:", f);
			for (p = 0; p < fs->nperiods; p++)
				fprintf(f, " %llds (acf %.2f, p %.2g)", (long long)fs->periods[p], fs->strength[p],
					fs->pvalue[p]);
			fputc('\n', f);
		}
		fprintf(f, "  sized at p%g (%s), the %s confidence for %s\n", 100 * a->sizing[fs->resource],
			adp_resource_compressible(fs->resource) ? "compressible" : "incompressible",
			a->schedule ? "schedule's" : "default", adp_resource_name(fs->resource));
		fprintf(f, "  %-20s", "time");
		for (l = 0; l < fs->nlevels; l++)
			fprintf(f, " %11s%g", "p", 100 * fc->opts.levels[l]);
		fprintf(f, " %13s", "sized");
		fputc('\n', f);
		for (h = 0; h < fs->horizon; h++) {
			adp_time_format(t, fc->opts.start + (int64_t)h * fc->opts.step);
			fprintf(f, "  %-20s", t);
			for (l = 0; l < fs->nlevels; l++)
				fprintf(f, " %13.4g", fs->q[h * fs->nlevels + l]);
			fprintf(f, " %13.4g", forecast_quantile(fs, fc->opts.levels, h, a->sizing[fs->resource]));
			fputc('\n', f);
		}
		fputc('\n', f);
	}
}

static json_t *to_json(const struct fc_args *a, const struct forecast *fc)
{
	json_t *root = json_object(), *series = json_array(), *levels = json_array();
	size_t i, h, l;
	char t[32];

	for (l = 0; l < fc->opts.nlevels; l++)
		adp_jpush(&jb, levels, json_real(fc->opts.levels[l]));
	adp_time_format(t, fc->opts.start);
	adp_jset(&jb, root, "start", json_string(t));
	adp_jset(&jb, root, "step", json_integer(fc->opts.step));
	adp_jset(&jb, root, "horizon", json_integer((json_int_t)fc->opts.horizon));
	adp_jset(&jb, root, "levels", levels);
	for (i = 0; i < fc->n; i++) {
		const struct forecast_series *fs = &fc->items[i];
		json_t *o, *q;

		if (!picked(a, fs))
			continue;
		o = json_object();
		q = json_array();
		adp_jset(&jb, o, "component", json_string(fs->component));
		adp_jset(&jb, o, "resource", json_string(adp_resource_name(fs->resource)));
		adp_jset(&jb, o, "model", json_string(fs->model));
		adp_jset(&jb, o, "period", json_integer(fs->period));
		adp_jset(&jb, o, "scenarios", json_integer((json_int_t)fs->nscen));
		if (fs->backtest_origins) {
			json_t *per = json_array(), *par = json_object();
			size_t p;

			for (p = 0; p < fs->nperiods; p++) {
				json_t *x = json_object();
				adp_jset(&jb, x, "seconds", json_integer(fs->periods[p]));
				adp_jset(&jb, x, "strength", json_real(fs->strength[p]));
				adp_jset(&jb, x, "p_value", json_real(fs->pvalue[p]));
				adp_jpush(&jb, per, x);
			}
			if (!strncmp(fs->model, "holt-winters", 12)) {
				adp_jset(&jb, par, "alpha", json_real(fs->params[0]));
				adp_jset(&jb, par, "beta", json_real(fs->params[1]));
				adp_jset(&jb, par, "gamma", json_real(fs->params[2]));
				adp_jset(&jb, par, "phi", json_real(fs->params[3]));
				if (!strcmp(fs->model, "holt-winters-weekly"))
					adp_jset(&jb, par, "gamma2", json_real(fs->params[4]));
			} else if (!strcmp(fs->model, "stl-ar")) {
				json_t *ar = json_array();
				for (p = 0; p < 3; p++)
					adp_jpush(&jb, ar, json_real(fs->params[p]));
				adp_jset(&jb, par, "ar", ar);
				adp_jset(&jb, par, "mean", json_real(fs->params[3]));
			} else if (!strcmp(fs->model, "lstm")) {
				adp_jset(&jb, par, "epoch", json_integer((json_int_t)fs->params[0]));
				adp_jset(&jb, par, "heldout_mse", json_real(fs->params[1]));
			}
			adp_jset(&jb, o, "parameters", par);
			adp_jset(&jb, o, "periods_found", per);
			adp_jset(&jb, o, "anomalies", json_integer((json_int_t)fs->nanomalies));
			adp_jset(&jb, o, "backtest_origins", json_integer((json_int_t)fs->backtest_origins));
			adp_jset(&jb, o, "backtest_mae", json_real(fs->backtest_mae));
			adp_jset(&jb, o, "seed", json_integer((json_int_t)fs->seed));
			if (!isnan(fs->rise_rate)) {
				json_t *bd = json_object();
				size_t g;

				for (g = 0; g < 3; g++) {
					json_t *x = json_object();
					adp_jset(&jb, x, "model", json_real(fs->band_share[g][0]));
					adp_jset(&jb, x, "climatology", json_real(fs->band_share[g][1]));
					adp_jset(&jb, x, "mean", json_real(fs->band_share[g][2]));
					adp_jset(&jb, x, "flat", json_real(fs->band_share[g][3]));
					adp_jset(&jb, x, "regime", json_real(fs->band_share[g][4]));
					adp_jset(&jb, bd, band_group[g], x);
				}
				adp_jset(&jb, o, "bands", bd);
				adp_jset(&jb, o, "recent_max", json_real(fs->recent_max));
				adp_jset(&jb, o, "rise_rate", json_real(fs->rise_rate));
				adp_jset(&jb, o, "rise_days", json_integer((json_int_t)fs->rise_days));
				adp_jset(&jb, o, "level_shift", json_real(fs->level_shift));
			}
		}
		for (h = 0; h < fs->horizon; h++) {
			json_t *row = json_array();
			for (l = 0; l < fs->nlevels; l++)
				adp_jpush(&jb, row, json_real(fs->q[h * fs->nlevels + l]));
			adp_jpush(&jb, q, row);
		}
		adp_jset(&jb, o, "quantiles", q);
		{
			json_t *sz = json_array();
			for (h = 0; h < fs->horizon; h++)
				adp_jpush(&jb, sz, json_real(forecast_quantile(fs, fc->opts.levels, h, a->sizing[fs->resource])));
			adp_jset(&jb, o, "sizing_level", json_real(a->sizing[fs->resource]));
			adp_jset(&jb, o, "sizing", sz);
		}
		adp_jpush(&jb, series, o);
	}
	adp_jset(&jb, root, "series", series);
	return root;
}

/* Central intervals: pairs of levels lo < 0.5 < hi with lo + hi = 1.
 * Returns how many; lo[k] and hi[k] index the levels. */
static size_t interval_pairs(const struct forecast_opts *fo, size_t *lo, size_t *hi)
{
	size_t i, j, n = 0;

	for (i = 0; i < fo->nlevels; i++)
		for (j = i + 1; j < fo->nlevels; j++)
			if (fo->levels[i] < 0.5 && fabs(fo->levels[i] + fo->levels[j] - 1) < 1e-9) {
				lo[n] = i;
				hi[n++] = j;
			}
	return n;
}

/* Per series and pooled: MASE, pinball loss, coverage per level and of
 * each central interval. */
/* The central intervals [lo[k], hi[k]] with their coverage cover[k]. */
static json_t *intervals_json(const struct forecast_opts *fo, const size_t *lo, const size_t *hi, size_t npairs,
			      const double *cover)
{
	json_t *iv = json_array();
	size_t k;

	for (k = 0; iv && k < npairs; k++)
		adp_jpush(&jb, iv, json_pack("{s:f,s:f,s:f}", "lower", fo->levels[lo[k]], "upper",
						    fo->levels[hi[k]], "coverage", cover[k]));
	return iv;
}

static void fc_progress(void *ctx, size_t done, size_t total)
{
	cmd_progress(ctx, "forecasting", done, total);
}

static int run_backtest(const struct fc_args *a, const struct history *hist, const struct forecast_opts *fo0)
{
	struct forecast_opts bo = *fo0, *fo = &bo;
	double pin[FORECAST_MAX_LEVELS] = { 0 }, cov[FORECAST_MAX_LEVELS] = { 0 }, mase = 0;
	double inside[FORECAST_MAX_LEVELS] = { 0 }, cover[FORECAST_MAX_LEVELS];
	size_t i, l, points = 0, nmase = 0, shown = 0, lo[FORECAST_MAX_LEVELS], hi[FORECAST_MAX_LEVELS];
	size_t npairs = interval_pairs(fo, lo, hi), k;
	json_t *root = json_object(), *arr = json_array();
	FILE *f = stdout;
	int rc = 0;

	/* Each series is backtested alone: auto's rule on the lstm model
	 * counts the series a forecast of this history would have. */
	if (bo.auto_lstm == FORECAST_LSTM_RULE)
		bo.auto_lstm = hist->n <= FORECAST_AUTO_LSTM_SERIES ? FORECAST_LSTM_ALWAYS : FORECAST_LSTM_NEVER;
	if (a->output == 2) {
		fputs("component,resource,model,origins,points,mase", f);
		for (l = 0; l < fo->nlevels; l++)
			fprintf(f, ",pinball_p%g,coverage_p%g", 100 * fo->levels[l], 100 * fo->levels[l]);
		for (k = 0; k < npairs; k++)
			fprintf(f, ",interval_p%g_p%g", 100 * fo->levels[lo[k]], 100 * fo->levels[hi[k]]);
		fputc('\n', f);
	} else if (a->output == 0) {
		fprintf(f, "%-14s %-7s %-15s %7s %7s %7s", "component", "res", "model", "origins", "points", "MASE");
		for (l = 0; l < fo->nlevels; l++)
			fprintf(f, "  cov@p%-4g", 100 * fo->levels[l]);
		for (k = 0; k < npairs; k++) {
			char h[32];
			snprintf(h, sizeof(h), "in%g%%", 100 * (fo->levels[hi[k]] - fo->levels[lo[k]]));
			fprintf(f, "  %7s", h);
		}
		fputc('\n', f);
	}
	for (i = 0; i < hist->n; i++) {
		const struct series *s = &hist->items[i];
		struct forecast_series probe = { 0 };
		struct forecast_eval ev;

		probe.component = s->component;
		probe.resource = s->resource;
		if (!picked(a, &probe))
			continue;
		shown++;
		if ((rc = forecast_backtest(&ev, s, fo, a->model, a->origins ? a->origins : 14)))
			break;
		points += ev.points;
		if (!isnan(ev.mase)) {
			mase += ev.mase;
			nmase++;
		}
		for (l = 0; l < fo->nlevels; l++) {
			pin[l] += ev.pinball[l] * (double)ev.points;
			cov[l] += ev.coverage[l] * (double)ev.points;
		}
		for (k = 0; k < npairs; k++)
			inside[k] += (ev.coverage[hi[k]] - ev.below[lo[k]]) * (double)ev.points;
		if (a->output == 2) {
			fprintf(f, "%s,%s,%s,%zu,%zu,%.4f", s->component, adp_resource_name(s->resource), ev.model,
				ev.origins, ev.points, ev.mase);
			for (l = 0; l < fo->nlevels; l++)
				fprintf(f, ",%.6g,%.4f", ev.pinball[l], ev.coverage[l]);
			for (k = 0; k < npairs; k++)
				fprintf(f, ",%.4f", ev.coverage[hi[k]] - ev.below[lo[k]]);
			fputc('\n', f);
		} else if (a->output == 0) {
			fprintf(f, "%-14s %-7s %-15s %7zu %7zu %7.3f", s->component, adp_resource_name(s->resource),
				ev.model, ev.origins, ev.points, ev.mase);
			for (l = 0; l < fo->nlevels; l++)
				fprintf(f, "  %9.3f", ev.coverage[l]);
			for (k = 0; k < npairs; k++)
				fprintf(f, "  %7.3f", ev.coverage[hi[k]] - ev.below[lo[k]]);
			fputc('\n', f);
		} else {
			json_t *o = json_object(), *pj = json_array(), *cj = json_array();
			adp_jset(&jb, o, "component", json_string(s->component));
			adp_jset(&jb, o, "resource", json_string(adp_resource_name(s->resource)));
			adp_jset(&jb, o, "model", json_string(ev.model));
			adp_jset(&jb, o, "origins", json_integer((json_int_t)ev.origins));
			adp_jset(&jb, o, "points", json_integer((json_int_t)ev.points));
			adp_jset(&jb, o, "mase", isnan(ev.mase) ? json_null() : json_real(ev.mase));
			for (l = 0; l < fo->nlevels; l++) {
				adp_jpush(&jb, pj, json_real(ev.pinball[l]));
				adp_jpush(&jb, cj, json_real(ev.coverage[l]));
			}
			adp_jset(&jb, o, "pinball", pj);
			adp_jset(&jb, o, "coverage", cj);
			for (k = 0; k < npairs; k++)
				cover[k] = ev.coverage[hi[k]] - ev.below[lo[k]];
			adp_jset(&jb, o, "intervals", intervals_json(fo, lo, hi, npairs, cover));
			adp_jpush(&jb, arr, o);
		}
	}
	if (!rc && !shown) {
		cmd_error("no history matches the chosen --component and --resource");
		rc = -1;
	} else if (rc) {
		cmd_error_last("backtest");
	} else if (a->output == 1) {
		json_t *agg = json_object(), *pj = json_array(), *cj = json_array(), *lv = json_array();
		for (l = 0; l < fo->nlevels; l++) {
			adp_jpush(&jb, lv, json_real(fo->levels[l]));
			adp_jpush(&jb, pj, json_real(points ? pin[l] / (double)points : 0));
			adp_jpush(&jb, cj, json_real(points ? cov[l] / (double)points : 0));
		}
		adp_jset(&jb, agg, "mean_mase", nmase ? json_real(mase / (double)nmase) : json_null());
		adp_jset(&jb, agg, "points", json_integer((json_int_t)points));
		adp_jset(&jb, agg, "pinball", pj);
		adp_jset(&jb, agg, "coverage", cj);
		for (k = 0; k < npairs; k++)
			cover[k] = points ? inside[k] / (double)points : 0;
		adp_jset(&jb, agg, "intervals", intervals_json(fo, lo, hi, npairs, cover));
		adp_jset(&jb, root, "levels", lv);
		adp_jset(&jb, root, "series", arr);
		arr = NULL;
		adp_jset(&jb, root, "aggregate", agg);
		if (cmd_print_json(f, root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6), &jb))
			rc = 1;
	} else if (a->output == 0) {
		fprintf(f, "%-14s %-7s %-15s %7s %7zu %7.3f", "all", "", "", "", points,
			nmase ? mase / (double)nmase : NAN);
		for (l = 0; l < fo->nlevels; l++)
			fprintf(f, "  %9.3f", points ? cov[l] / (double)points : 0);
		for (k = 0; k < npairs; k++)
			fprintf(f, "  %7.3f", points ? inside[k] / (double)points : 0);
		fputc('\n', f);
	}
	json_decref(arr);
	json_decref(root);
	return rc;
}

/* t rounded down and up to a multiple of step (times may be before the epoch). */
static int64_t grid_floor(int64_t t, int64_t step)
{
	return t - (t % step + step) % step;
}

static int64_t grid_ceil(int64_t t, int64_t step)
{
	int64_t f = grid_floor(t, step);

	return f == t ? t : f + step;
}

/* The end of the history, for --horizon without --now: just after the
 * last step of the series that ends first (*first), so that every
 * series is known up to the origin; *latest is where the longest ends. */
static int64_t history_end(const struct history *h, const struct series **first, int64_t *latest)
{
	int64_t end = INT64_MAX, e;
	size_t i;

	*latest = INT64_MIN;
	for (i = 0; i < h->n; i++) {
		e = h->items[i].start + (int64_t)h->items[i].n * h->items[i].step;
		if (e < end) {
			end = e;
			*first = &h->items[i];
		}
		if (e > *latest)
			*latest = e;
	}
	return end;
}

int cmd_forecast(int argc, char **argv)
{
	static const double default_levels[] = { 0.5, 0.9, 0.95, 0.99 };
	static const double backtest_levels[] = { 0.025, 0.5, 0.9, 0.95, 0.975, 0.99 };
	struct fc_args a = { 0 };
	struct inventory inv = { 0 };
	struct schedule sched = { 0 };
	struct history hist;
	struct history_opts ho;
	struct forecast fc = { 0 };
	struct forecast_deps deps = { 0 };
	struct forecast_opts fo = { 0 };
	struct cmd_progress pr;
	char **files = NULL;
	size_t nfiles = 0, i, shown = 0;
	int64_t first;
	int parsed, rc, status = EXIT_ERROR;

	if ((parsed = cmd_parse(&cmd_forecast_argp, argc, argv, 0, &a)))
		return parsed;
	if (!a.nlevels && a.backtest) {
		/* The central 95% interval is measured too. */
		memcpy(a.levels, backtest_levels, sizeof(backtest_levels));
		a.nlevels = sizeof(backtest_levels) / sizeof(backtest_levels[0]);
	} else if (!a.nlevels) {
		memcpy(a.levels, default_levels, sizeof(default_levels));
		a.nlevels = sizeof(default_levels) / sizeof(default_levels[0]);
	}
	if (!a.have_now && a.schedule)
		a.now = (int64_t)time(NULL);
	if (!a.dep_threshold)
		a.dep_threshold = FORECAST_DEPS_MIN_CORR;
	if (!a.have_dep_lag)
		a.dep_lag = FORECAST_DEPS_LAG;
	history_init(&hist);
	/* Only the components and their history, and the window. A forecast-only
	 * inventory has no partitions to check the schedule's against. */
	if ((rc = cmd_inventory_load_mode(&inv, a.inventory, INVENTORY_FORECAST)))
		goto fail;
	if (a.schedule) {
		if ((rc = schedule_load_at(&sched, a.schedule, inv.nparts ? &inv : NULL, SCHEDULE_FORECAST,
					   a.have_now ? a.now : (int64_t)time(NULL))))
			goto fail;
	} else {
		schedule_defaults(&sched);
	}
	for (i = 0; i < ADP_RES_COUNT; i++)
		a.sizing[i] = sched.confidence[i];
	ho.step = sched.step;
	ho.max_gap = sched.max_gap;
	/* --horizon without --now: all the history, and the forecast from its end. */
	ho.until = a.have_now || a.schedule ? a.now : 0;
	cmd_progress_begin(&pr);
	cmd_progress(&pr, "reading history", 0, 0);
	rc = inventory_load_history(&hist, &inv, NULL, 0, &ho, &files, &nfiles);
	cmd_progress_end(&pr);
	if (rc)
		goto fail;
	if (!hist.n) {
		cmd_error("%s: no component, so no history: nothing to forecast", a.inventory);
		goto done;
	}
	if (!a.have_now && !a.schedule) {
		const struct series *s0 = NULL;
		int64_t latest;
		char t0[32], t1[32];

		a.now = history_end(&hist, &s0, &latest);
		if (latest > a.now) {
			adp_time_format(t0, a.now);
			adp_time_format(t1, latest);
			cmd_note("forecasting from %s, where the history of '%s' %s ends; other series go on to %s (pass --now to choose)",
				 t0, s0->component, adp_resource_name(s0->resource), t1);
		}
	}
	fo.origin = a.now;
	fo.step = sched.step;
	/* The first step is the one that starts at the origin, or the next when
	 * the origin is between steps: a step that has begun is not forecast. */
	first = grid_ceil(fo.origin, sched.step);
	if (a.schedule) {
		/* On the grid: schedule_load_mode refuses a start between steps. */
		fo.start = sched.start < first ? first : sched.start;
		if (sched.end <= fo.start) {
			cmd_error("%s: the window has passed at --now: nothing to forecast", a.schedule);
			goto done;
		}
		fo.horizon = (size_t)((sched.end - fo.start + sched.step - 1) / sched.step);
	} else {
		fo.start = first;
		fo.horizon = (size_t)((a.horizon + sched.step - 1) / sched.step);
	}
	memcpy(fo.levels, a.levels, sizeof(a.levels));
	fo.nlevels = a.nlevels;
	fo.period = sched.period;
	fo.threads = a.threads;
	if (a.backtest) {
		/* Origins step back from --now by the horizon; the window itself is not needed. */
		fo.start = fo.origin = grid_floor(a.now, sched.step);
		status = run_backtest(&a, &hist, &fo) ? EXIT_ERROR : EXIT_OK;
		goto done;
	}
	cmd_progress_begin(&pr);
	fo.progress = fc_progress;
	fo.progress_ctx = &pr;
	rc = forecast_run(&fc, &hist, &fo, a.model);
	cmd_progress_end(&pr);
	if (rc)
		goto fail;
	if (a.dep_threshold < 1 && hist.n > FORECAST_DEPS_MAX_SERIES) {
		cmd_note("dependencies not computed: %zu series, at most %d", hist.n, FORECAST_DEPS_MAX_SERIES);
	} else if (a.dep_threshold < 1) {
		cmd_progress_begin(&pr);
		cmd_progress(&pr, "dependencies", 0, 0);
		rc = forecast_dependencies(&deps, &hist, &fo, a.dep_threshold, a.dep_lag);
		cmd_progress_end(&pr);
		if (rc)
			goto fail;
	}
	for (i = 0; i < fc.n; i++)
		shown += picked(&a, &fc.items[i]);
	if (!shown) {
		cmd_error("no history matches the chosen --component and --resource");
		goto done;
	}
	if (a.output == 1) {
		json_t *root = to_json(&a, &fc);
		adp_jset(&jb, root, "dependencies", deps_json(&a, &fc, &deps));
		if (cmd_print_json(stdout, root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6), &jb)) {
			json_decref(root);
			goto done;
		}
		json_decref(root);
	} else if (a.output == 2) {
		print_csv(stdout, &a, &fc);
	} else {
		print_human(stdout, &a, &fc);
		print_deps(stdout, &a, &fc, &deps);
	}
	status = EXIT_OK;
	goto done;
fail:
	cmd_error_last(NULL);
done:
	forecast_release(&fc);
	forecast_deps_release(&deps);
	history_release(&hist);
	schedule_release(&sched);
	inventory_release(&inv);
	cmd_strv_free(files, nfiles);
	return status;
}
