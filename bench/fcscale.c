/* Forecast scaling benchmark: N series of LEN points (5-minute steps)
 * built from the prepared real traces (each trace tiled by whole days to
 * LEN points and scaled by a per-copy factor so that no two series are
 * equal), forecast in one forecast_run with the default model and a 4-hour
 * horizon. Prints the wall time and the peak RSS next to the size of the
 * history itself.
 *
 * usage: fcscale N LEN FILE... */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "forecast/forecast.h"

#define STEP 300
#define DAY 288
#define MAXN 200000

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t N = argc > 1 ? (size_t)atol(argv[1]) : 1000, len = argc > 2 ? (size_t)atol(argv[2]) : 8640;
	size_t nf = argc > 3 ? (size_t)argc - 3 : 0, i, j, k;
	double **src = calloc(nf ? nf : 1, sizeof(*src)), t0, wall, cpu, load[1] = { 0 };
	size_t *srcn = calloc(nf ? nf : 1, sizeof(*srcn)), nsrc = 0;
	struct history h = { 0 };
	struct forecast fc = { 0 };
	struct forecast_opts o = { 0 };
	struct rusage ru;
	long rss_before;
	int rc;

	if (nf == 0 || N == 0 || len < 4 * DAY) {
		fprintf(stderr, "usage: fcscale N LEN FILE...\n");
		return 1;
	}
	for (i = 0; i < nf; i++) {
		FILE *f = fopen(argv[3 + i], "r");
		double v;

		if (!f)
			continue;
		src[nsrc] = malloc(MAXN * sizeof(double));
		srcn[nsrc] = 0;
		while (srcn[nsrc] < MAXN && fscanf(f, "%lf", &v) == 1)
			src[nsrc][srcn[nsrc]++] = v;
		fclose(f);
		if (srcn[nsrc] >= 2 * DAY)
			nsrc++;
		else
			free(src[nsrc]);
	}
	if (!nsrc) {
		fprintf(stderr, "fcscale: no usable series\n");
		return 1;
	}
	h.items = calloc(N, sizeof(*h.items));
	h.n = N;
	for (i = 0; i < N; i++) {
		struct series *s = &h.items[i];
		const double *x = src[i % nsrc];
		size_t n = srcn[i % nsrc] / DAY * DAY;
		double scale = 1 + 0.001 * (double)(i / nsrc);

		s->component = malloc(32);
		snprintf(s->component, 32, "c%zu", i);
		s->resource = 0;
		s->step = STEP;
		s->n = len;
		s->v = malloc(len * sizeof(double));
		/* The last len points of the trace tiled backwards by whole days. */
		for (j = 0; j < len; j++) {
			k = (n - len % n + j) % n;
			s->v[j] = x[k] * scale;
		}
	}
	getrusage(RUSAGE_SELF, &ru);
	rss_before = ru.ru_maxrss;
	cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	      (double)ru.ru_stime.tv_usec / 1e6;
	o.origin = o.start = (int64_t)len * STEP;
	o.step = STEP;
	o.horizon = 48;
	o.levels[0] = 0.5, o.levels[1] = 0.9, o.levels[2] = 0.95, o.levels[3] = 0.99;
	o.nlevels = 4;
	o.period = 86400;
	t0 = now();
	rc = forecast_run(&fc, &h, &o, NULL);
	wall = now() - t0;
	getrusage(RUSAGE_SELF, &ru);
	if (rc) {
		fprintf(stderr, "fcscale: forecast failed (%d)\n", rc);
		return 1;
	}
	cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	      (double)ru.ru_stime.tv_usec / 1e6 - cpu;
	getloadavg(load, 1);
	printf("forecast scale: %zu series x %zu points, 4 h horizon, %zu scenarios: wall %.2fs, cpu %.2fs "
	       "(load average %.1f), peak RSS %.1f MiB (%.1f MiB before the forecast; history %.1f MiB)\n",
	       N, len, fc.items[0].nscen, wall, cpu, load[0], (double)ru.ru_maxrss / 1024, (double)rss_before / 1024,
	       (double)N * (double)len * sizeof(double) / 1048576);
	forecast_release(&fc);
	for (i = 0; i < N; i++) {
		free(h.items[i].component);
		free(h.items[i].v);
	}
	free(h.items);
	for (i = 0; i < nsrc; i++)
		free(src[i]);
	free(src);
	free(srcn);
	return 0;
}
