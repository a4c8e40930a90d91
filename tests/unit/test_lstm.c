/* The lstm model: its gradients against finite differences, the same
 * forecast for the same seed whatever the threads, a forecast on real
 * excerpts (NAB, MIT licence, in testdata/nab), the refusal of a history
 * too short to train, and auto's rule for it. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forecast/forecast.h"
#include "forecast/lstm.h"
#include "tests/unit/nabfix.h"
#include "util/error.h"

#define STEP 300
#define DAY 288

static const char *const nab_files[] = {
	"testdata/nab/ec2_cpu_utilization_5f5533.csv",
	"testdata/nab/ec2_cpu_utilization_ac20cd.csv",
	"testdata/nab/rds_cpu_utilization_cc0c53.csv",
};


static struct forecast_opts opts(size_t origin, size_t H)
{
	struct forecast_opts o = { 0 };

	o.origin = o.start = (int64_t)origin * STEP;
	o.step = STEP;
	o.horizon = H;
	o.levels[0] = 0.05, o.levels[1] = 0.5, o.levels[2] = 0.95;
	o.nlevels = 3;
	o.period = 86400;
	return o;
}

/* The analytic gradient of the loss over a span of a real series, every
 * weight, against central differences: the backward pass through the
 * gates, the cell and the state carried back over 120 steps. */
Test(lstm, gradient_matches_finite_differences)
{
	size_t n, i, t0 = DAY + 10, t1 = DAY + 130, worst = 0;
	double *v = t_nab(nab_files[2], &n), *g = malloc(LSTM_NPARAMS * sizeof(double)), loss, lp, lm, maxrel = 0;
	double *gd = malloc(LSTM_NPARAMS * sizeof(double));
	struct lstm net = { 0 };

	cr_assert(g && gd);
	net.m = DAY;
	net.phase0 = 17;
	net.mu = 15;
	net.sd = 6;
	lstm_init_weights(&net, 42);
	/* A head and biases away from their start, so that every path carries gradient. */
	for (i = LSTM_HEAD; i < LSTM_NPARAMS; i++)
		net.w[i] = 0.3 * sin((double)i);
	cr_assert_eq(lstm_loss_grad(&net, v, t1, t0, t1, &loss, g), 0, "%s", adp_error_last());
	cr_assert(loss > 0);
	for (i = 0; i < LSTM_NPARAMS; i++) {
		double w = net.w[i], eps = 1e-5, rel;

		net.w[i] = w + eps;
		cr_assert_eq(lstm_loss_grad(&net, v, t1, t0, t1, &lp, gd), 0);
		net.w[i] = w - eps;
		cr_assert_eq(lstm_loss_grad(&net, v, t1, t0, t1, &lm, gd), 0);
		net.w[i] = w;
		gd[i] = (lp - lm) / (2 * eps);
		rel = fabs(g[i] - gd[i]) / fmax(fabs(g[i]) + fabs(gd[i]), 1e-6);
		if (rel > maxrel) {
			maxrel = rel;
			worst = i;
		}
	}
	cr_assert(maxrel < 1e-5, "weight %zu: analytic %.9g, numerical %.9g (relative error %.3g)", worst, g[worst],
		  gd[worst], maxrel);
	/* Not a check of zeros against zeros: most weights move the loss. */
	for (i = 0, n = 0; i < LSTM_NPARAMS; i++)
		n += fabs(g[i]) > 1e-6;
	cr_assert(n > LSTM_NPARAMS / 2, "only %zu weights with gradient", n);
	free(g);
	free(gd);
	free(v);
}

Test(lstm, loss_grad_refuses_a_span_outside_the_series)
{
	double x[600] = { 0 }, loss, g[LSTM_NPARAMS];
	struct lstm net = { .m = DAY, .mu = 0, .sd = 1 };

	cr_assert_eq(lstm_loss_grad(&net, x, 600, 10, 100, &loss, g), ADP_EINPUT);
	cr_assert_eq(lstm_loss_grad(&net, x, 600, DAY, 601, &loss, g), ADP_EINPUT);
}

/* The three NAB series as one history, cut at origin. */
static void three(struct history *h, struct series *s, double **v, size_t origin)
{
	size_t i, n;

	for (i = 0; i < 3; i++) {
		v[i] = t_nab(nab_files[i], &n);
		cr_assert(n >= origin);
		s[i] = (struct series){ .component = (char *)nab_files[i], .step = STEP, .n = origin, .v = v[i] };
	}
	h->items = s;
	h->n = 3;
}

/* The same seed gives the same bands and scenarios, bit for bit, on one
 * thread or two; another seed other weights, so other forecasts. */
Test(lstm, same_seed_same_forecast_on_any_threads)
{
	struct series s[3];
	struct history h;
	double *v[3];
	struct forecast a = { 0 }, b = { 0 }, c = { 0 };
	struct forecast_opts o = opts(13 * DAY, 48);
	size_t i, differ = 0;

	three(&h, s, v, 13 * DAY);
	o.threads = 1;
	cr_assert_eq(forecast_run(&a, &h, &o, "lstm"), 0, "%s", adp_error_last());
	o.threads = 2;
	cr_assert_eq(forecast_run(&b, &h, &o, "lstm"), 0, "%s", adp_error_last());
	o.seed = 7;
	cr_assert_eq(forecast_run(&c, &h, &o, "lstm"), 0, "%s", adp_error_last());
	for (i = 0; i < 3; i++) {
		cr_assert_str_eq(a.items[i].model, "lstm");
		cr_assert(a.items[i].params[0] >= 1 && a.items[i].params[0] <= LSTM_MAX_EPOCHS);
		cr_assert_eq(memcmp(a.items[i].q, b.items[i].q, 48 * 3 * sizeof(double)), 0, "series %zu", i);
		cr_assert_eq(a.items[i].nscen, b.items[i].nscen);
		cr_assert_eq(memcmp(a.items[i].scen, b.items[i].scen, a.items[i].nscen * 48 * sizeof(float)), 0);
		differ += memcmp(a.items[i].q, c.items[i].q, 48 * 3 * sizeof(double)) != 0;
	}
	cr_assert(differ > 0, "the seed changed nothing");
	forecast_release(&a);
	forecast_release(&b);
	forecast_release(&c);
	for (i = 0; i < 3; i++)
		free(v[i]);
}

/* Day-ahead on the real series at three daily origins: a median better
 * than the seasonal naive's on the whole, and a p95 band covering close to
 * its level (the same conformal step as the other models). */
Test(lstm, real_series_beat_seasonal_naive_and_are_calibrated)
{
	double mase_l = 0, mase_s = 0, cov = 0;
	size_t f;

	for (f = 0; f < 3; f++) {
		struct forecast_eval el, es;
		struct series s = { .component = (char *)"x", .step = STEP };
		struct forecast_opts o;
		size_t n;

		s.v = t_nab(nab_files[f], &n);
		s.n = n;
		o = opts(n, DAY);
		cr_assert_eq(forecast_backtest(&el, &s, &o, "lstm", 3), 0, "%s", adp_error_last());
		cr_assert_eq(forecast_backtest(&es, &s, &o, "seasonal-naive", 3), 0, "%s", adp_error_last());
		cr_assert_str_eq(el.model, "lstm");
		cr_assert_eq(el.origins, 3);
		mase_l += el.mase;
		mase_s += es.mase;
		cov += el.coverage[2];
		free(s.v);
	}
	cr_assert(mase_l < mase_s, "lstm MASE %.3f, seasonal naive %.3f", mase_l / 3, mase_s / 3);
	cr_assert(cov / 3 > 0.85 && cov / 3 <= 1, "p95 coverage %.3f", cov / 3);
}

/* Too short to train: the lstm model refuses with the series named and
 * why; auto forecasts the same history without it. */
Test(lstm, short_history_is_refused_and_auto_goes_without)
{
	struct series s[3];
	struct history h;
	double *v[3];
	struct forecast fc = { 0 };
	struct forecast_opts o = opts(5 * DAY, DAY);
	size_t i;

	three(&h, s, v, 5 * DAY);
	h.n = 1;
	cr_assert_eq(forecast_run(&fc, &h, &o, "lstm"), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "ec2_cpu_utilization_5f5533"), "%s", adp_error_last());
	cr_assert(strstr(adp_error_last(), "too short to train an LSTM"), "%s", adp_error_last());
	o.auto_lstm = FORECAST_LSTM_ALWAYS;
	cr_assert_eq(forecast_run(&fc, &h, &o, "auto"), 0, "%s", adp_error_last());
	cr_assert_str_neq(fc.items[0].model, "lstm");
	forecast_release(&fc);
	for (i = 0; i < 3; i++)
		free(v[i]);
}

/* auto keeps the network only where its backtest wins: never a larger
 * backtest error than without it; by the rule, a forecast of a few series
 * tries it, one of more than FORECAST_AUTO_LSTM_SERIES does not. */
Test(lstm, auto_keeps_it_only_where_its_backtest_wins)
{
	struct series s[3], many[FORECAST_AUTO_LSTM_SERIES + 1];
	struct history h, hm;
	double *v[3];
	struct forecast with = { 0 }, without = { 0 }, rule = { 0 }, big = { 0 };
	struct forecast_opts o = opts(13 * DAY, 48);
	size_t i, kept = 0;

	three(&h, s, v, 13 * DAY);
	o.auto_lstm = FORECAST_LSTM_ALWAYS;
	cr_assert_eq(forecast_run(&with, &h, &o, "auto"), 0, "%s", adp_error_last());
	o.auto_lstm = FORECAST_LSTM_NEVER;
	cr_assert_eq(forecast_run(&without, &h, &o, "auto"), 0, "%s", adp_error_last());
	o.auto_lstm = FORECAST_LSTM_RULE;
	cr_assert_eq(forecast_run(&rule, &h, &o, "auto"), 0, "%s", adp_error_last());
	for (i = 0; i < 3; i++) {
		cr_assert(with.items[i].backtest_mae <= without.items[i].backtest_mae);
		cr_assert_str_neq(without.items[i].model, "lstm");
		if (!strcmp(with.items[i].model, "lstm")) {
			kept++;
			cr_assert(with.items[i].backtest_mae < without.items[i].backtest_mae);
		} else {
			cr_assert_eq(with.items[i].backtest_mae, without.items[i].backtest_mae);
		}
		/* Three series: the rule tries it. */
		cr_assert_str_eq(rule.items[i].model, with.items[i].model);
		cr_assert_eq(memcmp(rule.items[i].q, with.items[i].q, 48 * 3 * sizeof(double)), 0);
	}
	/* More series than the rule allows: auto as without it. */
	for (i = 0; i < FORECAST_AUTO_LSTM_SERIES + 1; i++)
		many[i] = s[i % 3];
	hm = (struct history){ .items = many, .n = FORECAST_AUTO_LSTM_SERIES + 1 };
	cr_assert_eq(forecast_run(&big, &hm, &o, "auto"), 0, "%s", adp_error_last());
	for (i = 0; i < hm.n; i++) {
		cr_assert_str_eq(big.items[i].model, without.items[i % 3].model);
		cr_assert_eq(memcmp(big.items[i].q, without.items[i % 3].q, 48 * 3 * sizeof(double)), 0);
	}
	cr_log_info("auto kept the lstm on %zu of 3 series", kept);
	forecast_release(&with);
	forecast_release(&without);
	forecast_release(&rule);
	forecast_release(&big);
	for (i = 0; i < 3; i++)
		free(v[i]);
}
