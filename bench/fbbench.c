/* The feedback loop replayed (issue 20): on each prepared series (one
 * value per line, 5-minute steps), W daily windows of H steps at the
 * same time of day, oldest first. Each window is forecast from the
 * history before it (the default model); its p95 is what a plan would
 * allocate and monitor. Without feedback the p95 is used as forecast;
 * with it, the spread around the median is scaled by the factor the
 * plan's feedback gives (plans/accuracy.h), computed from the earlier
 * windows' samples exactly as `plan --store` computes it from run
 * records: the actuals against the p95 each window was planned with.
 * Prints the p95 coverage achieved over the first 1, 5 and W windows:
 * pooled over the series, and the mean over series of each one's error
 * |coverage - 0.95| (what feedback corrects: a series' own
 * miscalibration), with and without feedback, and the reserve (sum of
 * p95 over sum of actuals).
 *
 * usage: fbbench WINDOWS HORIZON FILE... */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forecast/forecast.h"
#include "plans/accuracy.h"
#include "plans/plan.h"
#include "util/error.h"

#define STEP 300
#define DAY 288
#define MAXN 200000
#define MAXW 64

struct tally {
	size_t n[MAXW], le[MAXW];
	double p95[MAXW], actual[MAXW];
	double err[3];     /* sum over series of |coverage - 0.95| after 1, 5, W windows */
	size_t sn[MAXW], sle[MAXW]; /* the series under way */
};

static const size_t upto[] = { 1, 5, 0 };

/* A series ends: its coverage errors into the sums. */
static void series_done(struct tally *t, size_t W)
{
	size_t i, w;

	for (i = 0; i < 3; i++) {
		size_t k = upto[i] && upto[i] < W ? upto[i] : W, n = 0, le = 0;

		for (w = 0; w < k; w++) {
			n += t->sn[w];
			le += t->sle[w];
		}
		if (n)
			t->err[i] += fabs((double)le / (double)n - 0.95);
	}
	memset(t->sn, 0, sizeof(t->sn));
	memset(t->sle, 0, sizeof(t->sle));
}

static void add(struct tally *t, size_t w, double y, double q)
{
	t->n[w]++;
	t->le[w] += y <= q;
	t->sn[w]++;
	t->sle[w] += y <= q;
	t->p95[w] += q;
	t->actual[w] += y;
}

static void report(const char *what, const struct tally *t, size_t W, size_t nser)
{
	size_t i, w;

	printf("  %-16s", what);
	for (i = 0; i < 3; i++) {
		size_t k = upto[i] ? upto[i] : W, n = 0, le = 0;

		if (k > W)
			k = W;
		for (w = 0; w < k; w++) {
			n += t->n[w];
			le += t->le[w];
		}
		printf("  after %2zu: cov %.3f, mean series err %.3f", k, n ? (double)le / n : NAN,
		       nser ? t->err[i] / (double)nser : NAN);
	}
	{
		double q = 0, a = 0;

		for (w = 0; w < W; w++) {
			q += t->p95[w];
			a += t->actual[w];
		}
		printf("  reserve r/u %.3f\n", a > 0 ? q / a : NAN);
	}
}

int main(int argc, char **argv)
{
	static const double lv[] = { 0.5, 0.95 };
	size_t W = argc > 1 ? (size_t)atoi(argv[1]) : 10, H = argc > 2 ? (size_t)atoi(argv[2]) : 48;
	struct tally with = { 0 }, without = { 0 };
	size_t used = 0;
	int fi;

	if (argc < 4 || W < 1 || W > MAXW || H < 1 || H > DAY) {
		fprintf(stderr, "usage: fbbench WINDOWS(1..%d) HORIZON(1..%d) FILE...\n", MAXW, DAY);
		return 1;
	}
	for (fi = 3; fi < argc; fi++) {
		struct series s = { 0 };
		struct accuracy acc = { 0 };
		FILE *f = fopen(argv[fi], "r");
		double v;
		size_t w, h;

		if (!f || !(s.v = malloc(MAXN * sizeof(double)))) {
			if (f)
				fclose(f);
			continue;
		}
		while (s.n < MAXN && fscanf(f, "%lf", &v) == 1)
			s.v[s.n++] = v;
		fclose(f);
		s.component = (char *)"bench";
		s.step = STEP;
		if (s.n < (W + 15) * DAY) { /* two weeks of history before the first window */
			free(s.v);
			continue;
		}
		used++;
		for (w = 0; w < W; w++) {
			size_t org = s.n - (W - w) * DAY;
			struct series view = s;
			struct history one = { .items = &view, .n = 1 };
			struct forecast_opts o = { 0 };
			struct forecast fc = { 0 };
			struct plan_feedback *fb = NULL;
			size_t nfb = 0;
			double scale = 1;
			json_t *run, *obs;

			view.n = org;
			o.origin = o.start = (int64_t)org * STEP;
			o.step = STEP;
			o.horizon = H;
			memcpy(o.levels, lv, sizeof(lv));
			o.nlevels = 2;
			o.period = 86400;
			o.threads = 1;
			if (forecast_run(&fc, &one, &o, "auto")) {
				fprintf(stderr, "fbbench: %s window %zu: %s\n", argv[fi], w, adp_error_last());
				break;
			}
			/* The scale from the windows before this one, as plan would have it. */
			if (accuracy_feedback(&acc, &fb, &nfb) == 0 && nfb)
				scale = fb[0].scale;
			if (nfb)
				free(fb[0].component);
			free(fb);
			run = json_pack("{s:[], s:s, s:[]}", "steps", "outcome", "done", "observations");
			obs = json_object_get(run, "observations");
			for (h = 0; h < H; h++) {
				double med = fc.items[0].q[h * 2], q95 = fc.items[0].q[h * 2 + 1], y = s.v[org + h];
				double qf = med + scale * (q95 - med);

				add(&without, w, y, q95);
				add(&with, w, y, qf);
				json_array_append_new(obs, json_pack("{s:i, s:s, s:i, s:s, s:f, s:f, s:f}", "after_step",
								     (int)h + 1, "component", "bench", "replica", 0,
								     "resource", "cpu", "actual", y, "predicted_p50", med,
								     "predicted_p95", qf));
			}
			accuracy_add_run(&acc, "window", run);
			json_decref(run);
			forecast_release(&fc);
		}
		series_done(&with, W);
		series_done(&without, W);
		accuracy_release(&acc);
		free(s.v);
	}
	printf("feedback replay: %zu series, %zu daily windows of %zu steps each, p95 (nominal 0.95)\n", used, W, H);
	report("without feedback", &without, W, used);
	report("with feedback", &with, W, used);
	return 0;
}
