/* Forecasting benchmark: rolling-origin backtest of every model on
 * prepared series (one value per line, 5-minute steps), horizons of 4 h
 * and 24 h; prints MASE, pinball loss, coverage and wall time. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forecast/forecast.h"

#define STEP 300
#define MAXN 200000

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const char *models[] = { "seasonal-naive", "holt-winters", "auto", "seasonal-analog" };
	static const size_t hs[] = { 48, 288 };
	size_t origins = argc > 2 ? (size_t)atoi(argv[2]) : 3, mi, hi, fi;
	char **files = argv + 3;
	int nf = argc - 3;

	if (argc < 4) {
		fprintf(stderr, "usage: fcbench LABEL ORIGINS FILE...\n");
		return 1;
	}
	for (hi = 0; hi < 2; hi++)
		for (mi = 0; mi < 4; mi++) {
			double mase = 0, cov[4] = { 0 }, pin[4] = { 0 }, t0 = now();
			size_t nser = 0, pts = 0, l;

			for (fi = 0; fi < (size_t)nf; fi++) {
				FILE *f = fopen(files[fi], "r");
				struct series s = { 0 };
				struct forecast_opts o = { 0 };
				struct forecast_eval ev;
				double v;

				if (!f)
					continue;
				s.v = malloc(MAXN * sizeof(double));
				while (s.n < MAXN && fscanf(f, "%lf", &v) == 1)
					s.v[s.n++] = v;
				fclose(f);
				s.component = (char *)"bench";
				s.step = STEP;
				o.origin = o.start = (int64_t)s.n * STEP;
				o.step = STEP;
				o.horizon = hs[hi];
				o.levels[0] = 0.5, o.levels[1] = 0.9, o.levels[2] = 0.95, o.levels[3] = 0.99;
				o.nlevels = 4;
				o.period = 86400;
				if (s.n >= origins * hs[hi] + 3 * 288 + hs[hi] &&
				    forecast_backtest(&ev, &s, &o, models[mi], origins) == 0 && !isnan(ev.mase) &&
				    ev.origins == origins) {
					nser++;
					mase += ev.mase;
					pts += ev.points;
					for (l = 0; l < 4; l++) {
						cov[l] += ev.coverage[l] * (double)ev.points;
						pin[l] += ev.pinball[l] * (double)ev.points;
					}
				}
				free(s.v);
			}
			printf("adpart %-4s %-15s series %3zu  MASE %.3f  coverage p50 %.3f p90 %.3f p95 %.3f p99 %.3f  wall %.1fs\n",
			       hi ? "24h" : "4h", models[mi], nser, nser ? mase / (double)nser : NAN,
			       pts ? cov[0] / (double)pts : 0, pts ? cov[1] / (double)pts : 0,
			       pts ? cov[2] / (double)pts : 0, pts ? cov[3] / (double)pts : 0, now() - t0);
		}
	return 0;
}
