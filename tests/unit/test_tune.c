/* The weight search of partition/tune.h on synthetic objectives whose
 * optimum is known, and the score on hand-worked sums. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "partition/tune.h"
#include "util/error.h"

#define DIM 4
#define N 32

static const double center[DIM] = { 10, 1, 0.5, 2 };

Test(tune, sample_is_deterministic_for_a_seed)
{
	double a[N * DIM], b[N * DIM], c[N * DIM];

	part_tune_sample(a, N, DIM, center, 10, 42);
	part_tune_sample(b, N, DIM, center, 10, 42);
	part_tune_sample(c, N, DIM, center, 10, 43);
	cr_assert_eq(memcmp(a, b, sizeof(a)), 0);
	cr_assert_neq(memcmp(a, c, sizeof(a)), 0);
}

Test(tune, sample_respects_bounds_and_fills_every_stratum)
{
	double w[N * DIM];
	size_t i, j;

	part_tune_sample(w, N, DIM, center, 10, 7);
	for (j = 0; j < DIM; j++) {
		int seen[N] = { 0 };

		for (i = 0; i < N; i++) {
			double v = w[i * DIM + j], u;
			int k;

			cr_assert(v >= center[j] / 10 && v <= center[j] * 10, "w[%zu][%zu] = %g out of bounds", i, j, v);
			/* Latin hypercube: one row per stratum of the log
			 * range (rounding to 3 digits may push a value across
			 * an edge, so a stratum may hold two) */
			u = (log(v / center[j]) / log(10) + 1) / 2 * N;
			k = (int)floor(u);
			k = k < 0 ? 0 : k >= N ? N - 1 : k;
			seen[k]++;
		}
		for (i = 0; i < N; i++)
			cr_assert_leq(seen[i], 2, "stratum %zu of weight %zu holds %d rows", i, j, seen[i]);
	}
}

Test(tune, sample_spread_one_is_the_center)
{
	double w[3 * DIM];
	size_t i, j;

	part_tune_sample(w, 3, DIM, center, 1, 1);
	for (i = 0; i < 3; i++)
		for (j = 0; j < DIM; j++)
			cr_assert_float_eq(w[i * DIM + j], center[j], 1e-12);
}

/* A bowl in log space around a known optimum, seen through units: a
 * unit adds a little noise that averages out, so fewer units are a
 * rougher view of the same bowl. */
static const double optimum[DIM] = { 30, 0.3, 0.5, 8 };

struct bowl {
	size_t calls;
	size_t max_units;
	int flat;    /* no noise: equal rows score equal */
};

static double bowl_at(const double *w)
{
	double d = 0;
	size_t j;

	for (j = 0; j < DIM; j++) {
		double x = log(w[j] / optimum[j]);
		d += x * x;
	}
	return d;
}

static int bowl_eval(void *ctx, size_t cand, const double *w, size_t units, double *score)
{
	struct bowl *b = ctx;
	double noise = 0;
	size_t u;

	b->calls++;
	if (units > b->max_units)
		b->max_units = units;
	for (u = 0; u < units && !b->flat; u++)
		noise += 0.05 * sin((double)(cand * 7 + u * 13));
	*score = bowl_at(w) + noise / (double)units;
	return 0;
}

Test(tune, halving_finds_the_optimum_neighbourhood)
{
	double w[64 * DIM], best_score, best_true = INFINITY;
	size_t best, i;
	struct bowl b = { 0 };

	part_tune_sample(w, 64, DIM, center, 10, 5);
	for (i = 0; i < 64; i++)
		if (bowl_at(w + i * DIM) < best_true)
			best_true = bowl_at(w + i * DIM);
	cr_assert_eq(part_tune_halving(&best, &best_score, w, 64, DIM, 8, bowl_eval, &b), 0);
	/* the winner is near the optimum (each weight within 3x of it) and
	 * near the best of the sample */
	for (i = 0; i < DIM; i++)
		cr_assert(w[best * DIM + i] > optimum[i] / 3 && w[best * DIM + i] < optimum[i] * 3,
			  "weight %zu: %g, optimum %g", i, w[best * DIM + i], optimum[i]);
	cr_assert_leq(bowl_at(w + best * DIM), best_true + 0.2);
	/* the last rung saw every unit; the budget: 64 + 32 + ... + 2 */
	cr_assert_eq(b.max_units, 8);
	cr_assert_eq(b.calls, 64 + 32 + 16 + 8 + 4 + 2);
}

Test(tune, halving_is_deterministic_and_ties_go_to_the_lower_index)
{
	double w[16 * DIM], s1, s2;
	size_t b1, b2;
	struct bowl x = { 0 }, y = { 0 };

	part_tune_sample(w, 16, DIM, center, 10, 9);
	cr_assert_eq(part_tune_halving(&b1, &s1, w, 16, DIM, 4, bowl_eval, &x), 0);
	cr_assert_eq(part_tune_halving(&b2, &s2, w, 16, DIM, 4, bowl_eval, &y), 0);
	cr_assert_eq(b1, b2);
	cr_assert_float_eq(s1, s2, 0);
	/* identical rows: the first wins */
	for (size_t i = 1; i < 16; i++)
		memcpy(w + i * DIM, w, DIM * sizeof(double));
	x.flat = 1;
	cr_assert_eq(part_tune_halving(&b1, &s1, w, 16, DIM, 4, bowl_eval, &x), 0);
	cr_assert_eq(b1, 0);
}

static int failing_eval(void *ctx, size_t cand, const double *w, size_t units, double *score)
{
	(void)ctx, (void)w, (void)units, (void)score;
	if (cand == 3)
		return adp_error_set(ADP_EINPUT, "candidate 3 failed");
	*score = 1;
	return 0;
}

Test(tune, halving_passes_on_an_error_and_refuses_nothing_to_search)
{
	double w[8 * DIM] = { 0 };
	size_t best = 99;
	double score = -1;

	cr_assert_eq(part_tune_halving(&best, &score, w, 8, DIM, 2, failing_eval, NULL), ADP_EINPUT);
	cr_assert_eq(best, 99);
	cr_assert_float_eq(score, -1, 0);
	cr_assert_str_eq(adp_error_last(), "candidate 3 failed");
	cr_assert_eq(part_tune_halving(&best, &score, w, 0, DIM, 2, failing_eval, NULL), ADP_EINPUT);
	cr_assert_eq(part_tune_halving(&best, &score, w, 8, DIM, 0, failing_eval, NULL), ADP_EINPUT);
}

Test(tune, one_candidate_is_scored_on_every_unit)
{
	double w[DIM] = { 1, 1, 1, 1 }, score;
	size_t best = 9;
	struct bowl b = { 0 };

	cr_assert_eq(part_tune_halving(&best, &score, w, 1, DIM, 5, bowl_eval, &b), 0);
	cr_assert_eq(best, 0);
	cr_assert_eq(b.calls, 1);
	cr_assert_eq(b.max_units, 5);
}

Test(tune, score_of_hand_worked_sums)
{
	struct part_tune_summary s = { 0 };

	/* 10 of 200 component-steps violated: 50 x 0.05 = 2.5; 4 of 100
	 * host-steps overloaded: 50 x 0.04 = 2; cpu allocated 300 for 200
	 * actual (1.5), memory 100 for 100 (1): mean 1.25; 6 moves over 2
	 * windows: 0.01 x 3; 1 infeasible of 2: 10 x 0.5 = 5. */
	s.windows = 2;
	s.comp_steps = 200, s.violations = 10;
	s.host_steps = 100, s.overloads = 4;
	s.allocated[ADP_RES_CPU] = 300, s.actual[ADP_RES_CPU] = 200, s.reserved[ADP_RES_CPU] = 100;
	s.allocated[ADP_RES_MEMORY] = 100, s.actual[ADP_RES_MEMORY] = 100, s.reserved[ADP_RES_MEMORY] = 50;
	s.moves = 6;
	s.infeasible = 1;
	part_tune_score(&s);
	cr_assert_float_eq(s.allocated_ratio, 1.25, 1e-12);
	cr_assert_float_eq(s.reserved_ratio, 0.5, 1e-12);
	cr_assert_float_eq(s.score, 2.5 + 2 + 1.25 + 0.03 + 5, 1e-9);
}
