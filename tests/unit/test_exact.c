/* partition/exact: hand-checkable waves solved by the heuristic and by
 * the MILP (GLPK), each answer checked here on every step and scenario
 * independently of the library's own check. Instances are tiny and time
 * limits short, so that the suite stays fast. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "partition/exact.h"
#include "util/error.h"

#define R ADP_RES_COUNT

static struct part_exact_opts opts(double seconds)
{
	struct part_exact_opts o = { 0 };

	o.time_limit = seconds;
	return o;
}

static void mk(struct part_wave_problem *w, size_t N, size_t P, size_t S, size_t K, double cpu_cap)
{
	size_t p;

	cr_assert_eq(part_wave_problem_init(w, N, P, S, K), 0);
	for (p = 0; p < P; p++)
		w->cap[p * R + ADP_RES_CPU] = cpu_cap;
	w->eps[ADP_RES_CPU] = 0.05;
	for (p = 0; p < N; p++)
		w->comp[p] = p;
}

static double *dem(struct part_wave_problem *w, size_t i, size_t s)
{
	return w->dem + ((i * R + ADP_RES_CPU) * w->nsteps + s) * w->nscen;
}

static double *base(struct part_wave_problem *w, size_t p, size_t s)
{
	return w->base + ((p * R + ADP_RES_CPU) * w->nsteps + s) * w->nscen;
}

/* CPU demand v in every step and scenario; allocation and mean v. */
static void flat(struct part_wave_problem *w, size_t i, double v)
{
	size_t s, k;

	for (s = 0; s < w->nsteps; s++)
		for (k = 0; k < w->nscen; k++)
			dem(w, i, s)[k] = v;
	w->alloc[i * R + ADP_RES_CPU] = w->mean[i * R + ADP_RES_CPU] = v;
}

/* Worst count over partitions and steps of scenarios over capacity; fails
 * the test if any exceeds floor(eps K) or a mover is misplaced. */
static size_t check(const struct part_wave_problem *w, const size_t *assign)
{
	size_t i, j, p, s, k, worst = 0;
	size_t allowed = (size_t)floor(w->eps[ADP_RES_CPU] * (double)w->nscen + 1e-9);

	for (i = 0; i < w->nmovers; i++) {
		cr_assert_lt(assign[i], w->nparts, "mover %zu not placed", i);
		cr_assert_not(w->forbid[i * w->nparts + assign[i]], "mover %zu on a forbidden partition", i);
		for (j = i + 1; j < w->nmovers; j++)
			if (w->comp[i] == w->comp[j])
				cr_assert_neq(assign[i], assign[j], "replicas %zu and %zu share a partition", i, j);
	}
	for (p = 0; p < w->nparts; p++) {
		double cap = w->cap[p * R + ADP_RES_CPU], g = w->base_min[p * R + ADP_RES_CPU];

		for (i = 0; i < w->nmovers; i++)
			if (assign[i] == p)
				g += w->min[i * R + ADP_RES_CPU];
		cr_assert_leq(g, cap + 1e-9, "guarantees on %zu exceed capacity", p);
		for (s = 0; s < w->nsteps; s++) {
			size_t over = 0;

			for (k = 0; k < w->nscen; k++) {
				double tot = w->base[((p * R + ADP_RES_CPU) * w->nsteps + s) * w->nscen + k];

				for (i = 0; i < w->nmovers; i++)
					if (assign[i] == p)
						tot += w->dem[((i * R + ADP_RES_CPU) * w->nsteps + s) * w->nscen + k];
				over += tot > cap * (1 + 1e-7);
			}
			cr_assert_leq(over, allowed, "partition %zu step %zu: %zu scenarios over capacity, %zu allowed", p,
				      s, over, allowed);
			worst = over > worst ? over : worst;
		}
	}
	return worst;
}

Test(exact, feasible_packing_found_by_both)
{
	/* 6, 5, 5, 4 on two partitions of 10: only {6, 4} and {5, 5} fit. */
	static const double d[] = { 6, 5, 5, 4 };
	struct part_wave_problem w;
	struct part_wave_solution h = { 0 }, m = { 0 };
	struct part_exact_opts o = opts(5);
	size_t i;

	mk(&w, 4, 2, 2, 3, 10);
	for (i = 0; i < 4; i++)
		flat(&w, i, d[i]);
	cr_assert_eq(part_exact_heuristic(&h, &w, NULL), 0, "%s", adp_error_last());
	check(&w, h.assign);
	cr_assert_eq(h.assign[0], h.assign[3], "6 and 4 together");
	cr_assert_eq(h.assign[1], h.assign[2], "5 and 5 together");
	cr_assert_eq(part_exact_solve(&m, &w, &o), 0, "%s", adp_error_last());
	check(&w, m.assign);
	cr_assert_eq(m.assign[0], m.assign[3]);
	cr_assert_eq(m.status, PART_EXACT_OPTIMAL);
	cr_assert_eq(part_exact_verify(&w, m.assign), 0);
	part_wave_solution_release(&h);
	part_wave_solution_release(&m);
	part_wave_problem_release(&w);
}

Test(exact, infeasible_packing_reported_by_both)
{
	/* Three of 6 on two partitions of 10: 18 <= 20, yet no packing. */
	struct part_wave_problem w;
	struct part_wave_solution h = { 0 }, m = { 0 };
	struct part_exact_opts o = opts(5);
	size_t i;

	mk(&w, 3, 2, 1, 2, 10);
	for (i = 0; i < 3; i++)
		flat(&w, i, 6);
	cr_assert_eq(part_exact_heuristic(&h, &w, NULL), ADP_EINFEASIBLE);
	cr_assert(strstr(adp_error_last(), "fits on no online partition"), "%s", adp_error_last());
	cr_assert_eq(h.status, PART_EXACT_NOSOLUTION);
	cr_assert_eq(part_exact_solve(&m, &w, &o), ADP_EINFEASIBLE);
	cr_assert_eq(m.status, PART_EXACT_INFEASIBLE, "%s", part_exact_status_name(m.status));
	cr_assert(strstr(adp_error_last(), "no assignment"), "%s", adp_error_last());
	part_wave_solution_release(&h);
	part_wave_solution_release(&m);
	part_wave_problem_release(&w);
}

Test(exact, guarantees_are_hard)
{
	/* Demand 1 each, but guarantees of 6 each: they cannot share. */
	struct part_wave_problem w;
	struct part_wave_solution m = { 0 };
	struct part_exact_opts o = opts(5);
	size_t i;

	mk(&w, 2, 1, 1, 1, 10);
	for (i = 0; i < 2; i++) {
		flat(&w, i, 1);
		w.min[i * R + ADP_RES_CPU] = 6;
	}
	cr_assert_eq(part_exact_solve(&m, &w, &o), ADP_EINFEASIBLE);
	cr_assert_eq(m.status, PART_EXACT_INFEASIBLE);
	part_wave_solution_release(&m);
	w.min[ADP_RES_CPU] = 4;
	cr_assert_eq(part_exact_solve(&m, &w, &o), 0, "%s", adp_error_last());
	check(&w, m.assign);
	part_wave_solution_release(&m);
	part_wave_problem_release(&w);
}

Test(exact, anti_affinity_holds)
{
	/* Two replicas of one component; partition 0 already runs one and
	 * partition 1 is in their home zone, so without anti-affinity both
	 * would go there. */
	struct part_wave_problem w;
	struct part_wave_solution h = { 0 }, m = { 0 };
	struct part_exact_opts o = opts(5);
	size_t i;

	mk(&w, 2, 3, 1, 2, 100);
	for (i = 0; i < 2; i++) {
		flat(&w, i, 1);
		w.comp[i] = 7;
		w.home_zone[i] = 1;
		w.forbid[i * 3 + 0] = 1;
	}
	w.zone[0] = w.zone[1] = 1;
	w.zone[2] = 2;
	cr_assert_eq(part_exact_heuristic(&h, &w, NULL), 0);
	cr_assert_eq(part_exact_solve(&m, &w, &o), 0);
	check(&w, h.assign);
	check(&w, m.assign);
	cr_assert_eq(h.assign[0] + h.assign[1], 3, "one on 1, one on 2");
	cr_assert_eq(m.assign[0] + m.assign[1], 3);
	cr_assert_float_eq(m.objective, 1, 1e-9, "one move leaves the zone: %g", m.objective);
	w.forbid[1 * 3 + 2] = 1;  /* now the second replica has only 1 */
	part_wave_solution_release(&m);
	cr_assert_eq(part_exact_solve(&m, &w, &o), 0);
	cr_assert_eq(m.assign[1], 1);
	cr_assert_eq(m.assign[0], 2);
	part_wave_solution_release(&h);
	part_wave_solution_release(&m);
	part_wave_problem_release(&w);
}

Test(exact, milp_beats_greedy_where_greedy_is_suboptimal)
{
	/* All three prefer partition 0 (their zone). Greedy puts the 6 there
	 * first, so both 5s leave the zone (cost 2); the optimum sends the 6
	 * away and keeps 5 + 5 at home (cost 1). No relocation helps greedy:
	 * every single move breaks capacity. */
	static const double d[] = { 6, 5, 5 };
	struct part_wave_problem w;
	struct part_wave_solution h = { 0 }, m = { 0 };
	struct part_exact_opts o = opts(5);
	size_t i;

	mk(&w, 3, 2, 1, 1, 10);
	for (i = 0; i < 3; i++) {
		flat(&w, i, d[i]);
		w.home_zone[i] = 0;
	}
	w.zone[0] = 0;
	w.zone[1] = 1;
	cr_assert_eq(part_exact_heuristic(&h, &w, NULL), 0);
	cr_assert_float_eq(h.objective, 2, 1e-9, "greedy: %g", h.objective);
	cr_assert_eq(part_exact_solve(&m, &w, &o), 0);
	check(&w, m.assign);
	cr_assert_float_eq(m.objective, 1, 1e-9, "milp: %g", m.objective);
	cr_assert_lt(m.objective, h.objective);
	cr_assert_eq(m.status, PART_EXACT_OPTIMAL);
	cr_assert_not(m.from_heuristic);
	cr_assert_float_eq(m.heur_objective, h.objective, 1e-12);
	cr_assert_eq(m.assign[0], 1);
	cr_assert_float_eq(part_exact_cost(&w, m.assign, NULL), m.objective, 1e-12);
	/* Cold, without the heuristic's start, the same optimum. */
	o.cold = 1;
	part_wave_solution_release(&m);
	cr_assert_eq(part_exact_solve(&m, &w, &o), 0);
	cr_assert_float_eq(m.objective, 1, 1e-9);
	part_wave_solution_release(&h);
	part_wave_solution_release(&m);
	part_wave_problem_release(&w);
}

Test(exact, a_start_is_used_only_when_it_checks)
{
	/* The greedy-suboptimal wave above: a start at the optimum is kept
	 * with a 1 ms limit; a start that breaks capacity is ignored. */
	static const double d[] = { 6, 5, 5 };
	static const size_t good[] = { 1, 0, 0 }, bad[] = { 0, 0, 0 };
	struct part_wave_problem w;
	struct part_wave_solution m = { 0 };
	struct part_exact_opts o = opts(5);
	size_t i;

	mk(&w, 3, 2, 1, 1, 10);
	for (i = 0; i < 3; i++) {
		flat(&w, i, d[i]);
		w.home_zone[i] = 0;
	}
	w.zone[1] = 1;
	o.start = good;
	o.time_limit = 0.001;
	cr_assert_eq(part_exact_solve(&m, &w, &o), 0, "%s", adp_error_last());
	cr_assert_float_eq(m.objective, 1, 1e-9);
	cr_assert_float_eq(m.heur_objective, 2, 1e-9, "the heuristic's own cost is still reported");
	check(&w, m.assign);
	part_wave_solution_release(&m);
	o.start = bad;
	o.time_limit = 5;
	cr_assert_eq(part_exact_solve(&m, &w, &o), 0, "%s", adp_error_last());
	check(&w, m.assign);
	cr_assert_float_eq(m.objective, 1, 1e-9);
	part_wave_solution_release(&m);
	part_wave_problem_release(&w);
}

Test(exact, chance_constraint_on_scenarios)
{
	/* K = 10 scenarios, eps = 0.2: 2 may be over capacity. C needs 3 in
	 * eight scenarios and 5 in two; any partition holding C and a 6 is at
	 * 11 in those two, and {6, 6} never fits, so every plan uses the
	 * allowance, and with eps = 0.1 none fits. */
	struct part_wave_problem w;
	struct part_wave_solution h = { 0 }, m = { 0 };
	struct part_exact_opts o = opts(5);
	size_t k;

	mk(&w, 4, 2, 1, 10, 10);
	w.eps[ADP_RES_CPU] = 0.2;
	flat(&w, 0, 6);
	flat(&w, 1, 6);
	flat(&w, 2, 3);
	flat(&w, 3, 1);
	for (k = 0; k < 2; k++)
		dem(&w, 2, 0)[k] = 5;
	w.mean[2 * R] = 3.4;
	w.alloc[2 * R] = 5;
	cr_assert_eq(part_exact_heuristic(&h, &w, NULL), 0, "%s", adp_error_last());
	cr_assert_eq(check(&w, h.assign), 2);
	cr_assert_eq(part_exact_solve(&m, &w, &o), 0, "%s", adp_error_last());
	cr_assert_eq(check(&w, m.assign), 2);
	cr_assert_eq(m.status, PART_EXACT_OPTIMAL);
	cr_assert_leq(m.objective, h.objective + 1e-9);
	/* Best: C beside one 6 only (risk 100 * 0.2 * two tier-0 replicas)
	 * plus C's idle reservation (5 - 3.4) / 10. */
	cr_assert_float_eq(m.objective, 40.16, 1e-9, "%g", m.objective);
	cr_assert_float_eq(h.objective, 40.16, 1e-9, "%g", h.objective);
	part_wave_solution_release(&h);
	part_wave_solution_release(&m);
	w.eps[ADP_RES_CPU] = 0.1;
	cr_assert_eq(part_exact_heuristic(&h, &w, NULL), ADP_EINFEASIBLE);
	cr_assert_eq(part_exact_solve(&m, &w, &o), ADP_EINFEASIBLE);
	cr_assert_eq(m.status, PART_EXACT_INFEASIBLE);
	part_wave_solution_release(&h);
	part_wave_solution_release(&m);
	part_wave_problem_release(&w);
}

Test(exact, steps_left_out_are_checked_and_added)
{
	/* Step 0 carries the most load, so the first MILP models only it
	 * (init_steps 1) and keeps everyone in their zone: A and B (zone 0)
	 * on partition 0, D (zone 1) on 1. At step 2 partition 0 already
	 * carries 3 and A and B need 4 each: 11 > 10, which the full check
	 * catches although each fits there alone. The second MILP, with step
	 * 2, sends one of A, B to partition 1 and D to 0 (cost 2: the other
	 * splits break step 0 or cost 3). */
	static const double dA[] = { 2, 1, 4 }, dD[] = { 4, 1, 1 };
	static const double b0[] = { 2, 1, 3 }, b1[] = { 5, 1, 1 };
	struct part_wave_problem w;
	struct part_wave_solution m = { 0 };
	struct part_exact_opts o = opts(5);
	size_t s;
	int cold;

	mk(&w, 3, 2, 3, 1, 10);
	w.eps[ADP_RES_CPU] = 0;
	for (s = 0; s < 3; s++) {
		dem(&w, 0, s)[0] = dem(&w, 1, s)[0] = dA[s];
		dem(&w, 2, s)[0] = dD[s];
		base(&w, 0, s)[0] = b0[s];
		base(&w, 1, s)[0] = b1[s];
	}
	for (s = 0; s < 3; s++)
		w.alloc[s * R] = w.mean[s * R] = 4;
	w.home_zone[0] = w.home_zone[1] = 0;
	w.home_zone[2] = 1;
	w.zone[0] = 0;
	w.zone[1] = 1;
	o.init_steps = 1;
	for (cold = 0; cold < 2; cold++) {
		o.cold = cold;
		cr_assert_eq(part_exact_solve(&m, &w, &o), 0, "%s", adp_error_last());
		check(&w, m.assign);
		cr_assert_eq(m.assign[2], 0, "D on partition 0");
		cr_assert_eq(m.assign[0] + m.assign[1], 1, "A and B apart");
		cr_assert_eq(m.rounds, 2, "rounds %zu", m.rounds);
		cr_assert_eq(m.steps_used, 2);
		cr_assert_eq(m.status, PART_EXACT_OPTIMAL);
		cr_assert_float_eq(m.objective, 2, 1e-9, "two moves leave their zone: %g", m.objective);
		part_wave_solution_release(&m);
	}
	part_wave_problem_release(&w);
}

Test(exact, a_replica_that_fits_nowhere_alone_is_infeasible_at_once)
{
	/* 11 cores on partitions of 10: no search needed. */
	struct part_wave_problem w;
	struct part_wave_solution m = { 0 };
	struct part_exact_opts o = opts(5);

	mk(&w, 2, 2, 1, 1, 10);
	flat(&w, 0, 11);
	flat(&w, 1, 1);
	cr_assert_eq(part_exact_solve(&m, &w, &o), ADP_EINFEASIBLE);
	cr_assert_eq(m.status, PART_EXACT_INFEASIBLE);
	cr_assert_eq(m.cols, 0, "no MILP was built: %zu columns", m.cols);
	cr_assert_eq(m.assign[0], PART_EXACT_UNPLACED);
	part_wave_solution_release(&m);
	part_wave_problem_release(&w);
}

Test(exact, time_limit_is_respected)
{
	/* A tight random wave and a 1 ms limit: the MILP stops on its limit
	 * and says so; what is returned is the heuristic's, checked. */
	struct part_wave_problem w;
	struct part_wave_solution m = { 0 };
	struct part_exact_opts o = opts(0.001);
	unsigned seed = 7;
	size_t i, s, k;
	int rc;

	mk(&w, 24, 6, 4, 20, 10);
	w.eps[ADP_RES_CPU] = 0.1;
	for (i = 0; i < 24; i++) {
		w.home_zone[i] = (int)(i % 3);
		w.tier[i] = (int)(i % 3);
		for (s = 0; s < 4; s++)
			for (k = 0; k < 20; k++)
				dem(&w, i, s)[k] = 1 + 2.0 * (rand_r(&seed) % 1000) / 1000.0;
		w.alloc[i * R] = 3;
		w.mean[i * R] = 2;
		w.unc[i] = 0.1 * (double)(i % 4);
	}
	for (i = 0; i < 6; i++)
		w.zone[i] = (int)(i % 3);
	rc = part_exact_solve(&m, &w, &o);
	cr_assert(m.time_limit_hit, "status %s", part_exact_status_name(m.status));
	cr_assert(m.status == PART_EXACT_FEASIBLE || m.status == PART_EXACT_NOSOLUTION,
		  "status %s", part_exact_status_name(m.status));
	if (m.status == PART_EXACT_FEASIBLE) {
		cr_assert_eq(rc, 0);
		check(&w, m.assign);
		cr_assert_gt(m.gap, 0);
		cr_assert_leq(m.objective, m.heur_objective + 1e-9);
	} else {
		cr_assert_eq(rc, ADP_EINFEASIBLE);
	}
	part_wave_solution_release(&m);
	part_wave_problem_release(&w);
}

Test(exact, bad_options_and_sizes)
{
	struct part_wave_problem w;
	struct part_wave_solution m = { 0 };
	struct part_exact_opts o = opts(0);

	cr_assert_eq(part_wave_problem_init(&w, 1, 0, 1, 1), ADP_EINPUT);
	mk(&w, 1, 1, 1, 1, 10);
	flat(&w, 0, 1);
	cr_assert_eq(part_exact_solve(&m, &w, &o), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "time limit"));
	o.time_limit = 1;
	dem(&w, 0, 0)[0] = NAN;
	cr_assert_eq(part_exact_solve(&m, &w, &o), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "mover 0: demand nan"), "%s", adp_error_last());
	dem(&w, 0, 0)[0] = 1;
	w.eps[ADP_RES_CPU] = 1;
	cr_assert_eq(part_exact_solve(&m, &w, &o), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "eps of cpu"), "%s", adp_error_last());
	w.eps[ADP_RES_CPU] = 0;
	cr_assert_eq(part_exact_solve(&m, &w, &o), 0, "%s", adp_error_last());
	part_wave_solution_release(&m);
	part_wave_problem_release(&w);
	part_wave_problem_release(&w);  /* twice is harmless */
	part_wave_solution_release(NULL);
}
