/* Forecasting benchmark: rolling-origin backtest of every model on
 * prepared series (one value per line, 5-minute steps), horizons of 4 h
 * and 24 h. Prints, per model, MASE over all series, the wall time and
 * the CPU time per series (all its origins) and, per dataset (the file
 * name up to its first '-', bitbrains split into cpu and memory), the
 * coverage of p90, p95 and the central 95% interval [p2.5, p97.5] and the
 * MASE.
 *
 * With -d, writes instead the default model's (or with -m, MODEL's)
 * quantiles at every origin to DUMP for bench/fc_eval.py, which scores
 * them beside its baselines: one line per point, "series horizon origin h
 * y q025 q50 q95 q975 q99" (origin: index of the first forecast step),
 * and per series and horizon "time series horizon seconds", the CPU time
 * of its forecasts.
 *
 * Model names are the library's, and auto+lstm: auto is as a plan of many
 * series runs it (without the lstm model), auto+lstm as a forecast of at
 * most FORECAST_AUTO_LSTM_SERIES series (trying the lstm model too).
 *
 * usage: fcbench ORIGINS MODELS FILE...   (MODELS: comma-separated)
 *        fcbench -d ORIGINS DUMP [-m MODEL] FILE... */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forecast/forecast.h"
#include "util/error.h"

#define STEP 300
#define MAXN 200000
#define MAXSETS 8
#define NLEV 7

static const double levels[NLEV] = { 0.025, 0.05, 0.5, 0.9, 0.95, 0.975, 0.99 };

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The library's model for a bench name, and whether auto tries the lstm. */
static const char *model_of(const char *name, struct forecast_opts *o)
{
	o->auto_lstm = FORECAST_LSTM_NEVER;
	if (!strcmp(name, "auto+lstm")) {
		o->auto_lstm = FORECAST_LSTM_ALWAYS;
		return "auto";
	}
	return name;
}

static int load(struct series *s, const char *path)
{
	FILE *f = fopen(path, "r");
	double v;

	if (!f || !(s->v = malloc(MAXN * sizeof(double)))) {
		if (f)
			fclose(f);
		return -1;
	}
	while (s->n < MAXN && fscanf(f, "%lf", &v) == 1)
		s->v[s->n++] = v;
	fclose(f);
	s->component = (char *)"bench";
	s->step = STEP;
	return 0;
}

/* The origins are one day apart going back from the end (as an
 * operator plans a daily window, and so every origin has the same time
 * of day); the model sees only the history before each (the series is
 * cut there, so nothing later can leak in). */
static int dump(size_t origins, const char *out, const char *model, char **files, int nf)
{
	static const size_t hs[] = { 48, 288 };
	static const double lv[] = { 0.025, 0.5, 0.95, 0.975, 0.99 };
	FILE *d = fopen(out, "w");
	int fi;

	if (!d) {
		perror(out);
		return 1;
	}
	for (fi = 0; fi < nf; fi++) {
		struct series s = { 0 };
		const char *b = strrchr(files[fi], '/');
		size_t hi, r, h, l, len;

		b = b ? b + 1 : files[fi];
		len = strlen(b);
		if (len > 4 && !strcmp(b + len - 4, ".txt"))
			len -= 4; /* the series' name, as fc_eval.py reads it */
		if (load(&s, files[fi])) {
			perror(files[fi]);
			continue;
		}
		for (hi = 0; hi < 2; hi++) {
			size_t H = hs[hi];
			double t = 0;

			/* the eligibility rule of the backtest mode and of fc_eval.py */
			if (s.n < origins * 288 + 3 * 288 + H)
				continue;
			for (r = 1; r <= origins; r++) {
				struct series view = s;
				struct history one = { .items = &view, .n = 1 };
				struct forecast_opts o = { 0 };
				struct forecast fc = { 0 };
				size_t org = s.n - r * 288;
				double t0;

				view.n = org;
				o.origin = o.start = (int64_t)org * STEP;
				o.step = STEP;
				o.horizon = H;
				memcpy(o.levels, lv, sizeof(lv));
				o.nlevels = sizeof(lv) / sizeof(lv[0]);
				o.period = 86400;
				o.threads = 1;
				t0 = cpu_now();
				if (forecast_run(&fc, &one, &o, model_of(model, &o))) {
					fprintf(stderr, "fcbench: %s origin %zu failed: %s\n", files[fi], org,
						adp_error_last());
					continue;
				}
				t += cpu_now() - t0;
				for (h = 0; h < H; h++) {
					fprintf(d, "%.*s %zu %zu %zu %.9g", (int)len, b, H, org, h, s.v[org + h]);
					for (l = 0; l < o.nlevels; l++)
						fprintf(d, " %.9g", fc.items[0].q[h * o.nlevels + l]);
					fputc('\n', d);
				}
				forecast_release(&fc);
			}
			fprintf(d, "time %.*s %zu %.6f\n", (int)len, b, H, t);
		}
		free(s.v);
	}
	return fclose(d) ? 1 : 0;
}

static void set_name(char *out, size_t cap, const char *path)
{
	const char *b = strrchr(path, '/');
	size_t n;

	b = b ? b + 1 : path;
	n = strncmp(b, "bb-", 3) ? strcspn(b, "-") : 3 + strcspn(b + 3, "-");
	if (n >= cap)
		n = cap - 1;
	memcpy(out, b, n);
	out[n] = '\0';
}

struct acc {
	char name[16];
	size_t pts, series;
	double cov90, cov95, in95, mase;
};

int main(int argc, char **argv)
{
	static const size_t hs[] = { 48, 288 };
	size_t origins = argc > 1 ? (size_t)atoi(argv[1]) : 3, hi, fi;
	char *models = argc > 2 ? strdup(argv[2]) : NULL, *mn, *save = NULL;
	char **files = argv + 3;
	int nf = argc - 3;

	if (argc > 4 && !strcmp(argv[1], "-d")) {
		free(models);
		if (argc > 6 && !strcmp(argv[4], "-m"))
			return dump((size_t)atoi(argv[2]), argv[3], argv[5], argv + 6, argc - 6);
		return dump((size_t)atoi(argv[2]), argv[3], "auto", argv + 4, argc - 4);
	}
	if (argc < 4 || !models) {
		fprintf(stderr, "usage: fcbench ORIGINS MODELS FILE...\n       fcbench -d ORIGINS DUMP [-m MODEL] FILE...\n");
		return 1;
	}
	for (hi = 0; hi < 2; hi++) {
		char *list = strdup(models);

		for (mn = strtok_r(list, ",", &save); mn; mn = strtok_r(NULL, ",", &save)) {
			struct acc sets[MAXSETS];
			double mase = 0, t0 = now(), pin95 = 0, cpu = 0;
			size_t nser = 0, nsets = 0, pts = 0, k, beat = 0;

			memset(sets, 0, sizeof(sets));
			for (fi = 0; fi < (size_t)nf; fi++) {
				FILE *f = fopen(files[fi], "r");
				struct series s = { 0 };
				struct forecast_opts o = { 0 };
				struct forecast_eval ev, sn;
				char name[16];
				double v, c0;

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
				memcpy(o.levels, levels, sizeof(levels));
				o.nlevels = NLEV;
				o.period = 86400;
				c0 = cpu_now();
				if (s.n >= origins * hs[hi] + 3 * 288 + hs[hi] &&
				    forecast_backtest(&ev, &s, &o, model_of(mn, &o), origins) == 0 && !isnan(ev.mase) &&
				    ev.origins == origins) {
					struct acc *a = NULL;

					cpu += cpu_now() - c0;
					if (forecast_backtest(&sn, &s, &o, "seasonal-naive", origins) == 0 &&
					    ev.mase <= sn.mase)
						beat++;
					set_name(name, sizeof(name), files[fi]);
					for (k = 0; k < nsets; k++)
						if (!strcmp(sets[k].name, name))
							a = &sets[k];
					if (!a && nsets < MAXSETS) {
						a = &sets[nsets++];
						strcpy(a->name, name);
					}
					nser++;
					mase += ev.mase;
					pts += ev.points;
					pin95 += ev.pinball[4] * (double)ev.points;
					if (getenv("FCBENCH_VERBOSE"))
						printf("      %-40s %-15s MASE %6.3f  p95 %.3f  in95 %.3f\n", files[fi], ev.model,
						       ev.mase, ev.coverage[4], ev.coverage[5] - ev.below[0]);
					if (a) {
						double p = (double)ev.points;
						a->series++;
						a->pts += ev.points;
						a->cov90 += ev.coverage[3] * p;
						a->cov95 += ev.coverage[4] * p;
						a->in95 += (ev.coverage[5] - ev.below[0]) * p;
						a->mase += ev.mase;
					}
				}
				free(s.v);
			}
			printf("adpart %-4s %-15s series %3zu  MASE %.3f  (<= seasonal naive on %zu)  wall %.1fs  CPU %.3fs/series\n",
			       hi ? "24h" : "4h", mn, nser, nser ? mase / (double)nser : NAN, beat, now() - t0,
			       nser ? cpu / (double)nser : NAN);
			for (k = 0; k < nsets; k++) {
				struct acc *a = &sets[k];
				double p = a->pts ? (double)a->pts : 1;
				printf("    %-8s series %3zu points %6zu  coverage p90 %.3f  p95 %.3f  [p2.5,p97.5] %.3f  MASE %.3f\n",
				       a->name, a->series, a->pts, a->cov90 / p, a->cov95 / p, a->in95 / p,
				       a->mase / (double)a->series);
			}
			(void)pin95;
		}
		free(list);
	}
	free(models);
	return 0;
}
