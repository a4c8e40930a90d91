/* One wave's placement problem by hand, for the planner's and the exact
 * solver's unit tests: partition 0 is offline and home to every mover,
 * partitions 1 .. P are online with cpu capacity only; mover i is
 * component i unless a test says otherwise. Demand and load are cpu,
 * (k, h). Every array is the instance's own (rel frees them). */
#ifndef ADP_TEST_WAVEFIX_H
#define ADP_TEST_WAVEFIX_H

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "partition/exact.h"

#define R ADP_RES_COUNT

struct inst {
	struct part_wave_problem pb;
	struct part_exact_opts o;       /* a 5 s limit unless a test says otherwise */
	struct part_exact_result res;   /* of the last solve */
	struct part_wave_mover *m;
	double *cap, *base, *bmin, *sp, *bsp;
	float *dem;
	unsigned char *online;
	int *hosts;
};

static inline void mk(struct inst *t, size_t N, size_t P, size_t H, size_t K, double cpu_cap)
{
	size_t i, p;

	memset(t, 0, sizeof(*t));
	P += 1;
	t->m = calloc(N + 1, sizeof(*t->m));
	t->cap = calloc(P * R, sizeof(double));
	t->base = calloc(P * R * K * H, sizeof(double));
	t->bmin = calloc(P * R, sizeof(double));
	t->dem = calloc(N * K * H + 1, sizeof(float));
	t->sp = calloc(N * R * H + 1, sizeof(double));
	t->bsp = calloc(P * R * H, sizeof(double));
	t->online = calloc(P, 1);
	t->hosts = calloc(N * P + 1, sizeof(int));
	cr_assert(t->m && t->cap && t->base && t->bmin && t->dem && t->sp && t->bsp && t->online && t->hosts);
	t->cap[ADP_RES_CPU] = cpu_cap; /* the home's, offline */
	for (p = 1; p < P; p++) {
		t->cap[p * R + ADP_RES_CPU] = cpu_cap;
		t->online[p] = 1;
	}
	for (i = 0; i < N; i++) {
		t->m[i].comp = i;
		t->m[i].home = 0;
		t->m[i].factor = 1;
		t->m[i].demand[ADP_RES_CPU] = t->dem + i * K * H;
		t->m[i].spread_h = t->sp + i * R * H;
	}
	t->pb.nparts = P;
	t->pb.ncomps = N;
	t->pb.nmovers = N;
	t->pb.K = K;
	t->pb.H = H;
	t->pb.stride = H;
	t->pb.capacity = t->cap;
	t->pb.online = t->online;
	t->pb.base = t->base;
	t->pb.base_min = t->bmin;
	t->pb.hosts = t->hosts;
	t->pb.movers = t->m;
	t->pb.base_spread = t->bsp;
	t->pb.weights[SCHEDULE_W_RISK] = 10;
	t->pb.weights[SCHEDULE_W_WASTE] = 1;
	t->pb.weights[SCHEDULE_W_MOVES] = 1;
	t->pb.weights[SCHEDULE_W_CONFIDENCE] = 0.5;
	t->o.time_limit = 5;
}

static inline void rel(struct inst *t)
{
	free(t->m);
	free(t->cap);
	free(t->base);
	free(t->bmin);
	free(t->dem);
	free(t->sp);
	free(t->bsp);
	free(t->online);
	free(t->hosts);
}

static inline float *dem(struct inst *t, size_t i, size_t k, size_t h)
{
	return &t->dem[i * t->pb.K * t->pb.H + k * t->pb.H + h];
}

static inline double *base(struct inst *t, size_t p, size_t k, size_t h)
{
	return &t->base[((p * R + ADP_RES_CPU) * t->pb.H + h) * t->pb.K + k];
}

static inline void flat(struct inst *t, size_t i, double v)
{
	size_t k, h;

	for (k = 0; k < t->pb.K; k++)
		for (h = 0; h < t->pb.H; h++)
			*dem(t, i, k, h) = v;
}

#endif
