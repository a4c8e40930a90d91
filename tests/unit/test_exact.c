/* partition/exact: hand-checkable waves, as the planner's wave problem,
 * solved by the planner's heuristic and by the MILP (GLPK); each answer
 * is checked here on every step and scenario independently of the
 * library, and scored by part_wave_evaluate. Instances are tiny and time
 * limits short, so that the suite stays fast. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "partition/exact.h"
#include "tests/unit/wavefix.h"
#include "util/error.h"
#include "util/fault.h"

/* Solves t from the heuristic's start with t->o into t->res. */
static int solve(struct inst *t, size_t *assign)
{
	return part_exact_solve(assign, &t->res, &t->pb, NULL, &t->o);
}

/* Checks an assignment on its own: placed online, anti-affinity, the
 * guarantees, and at most floor(eps K) scenarios over capacity on every
 * partition and step; returns the most scenarios over on any. */
static size_t check(struct inst *t, const size_t *assign)
{
	const struct part_wave_problem *pb = &t->pb;
	size_t i, j, p, h, k, worst = 0, allowed = (size_t)floor(pb->eps[ADP_RES_CPU] * (double)pb->K + 1e-9);

	for (i = 0; i < pb->nmovers; i++) {
		cr_assert_lt(assign[i], pb->nparts, "mover %zu not placed", i);
		cr_assert(pb->online[assign[i]], "mover %zu offline", i);
		cr_assert_not(pb->hosts[pb->movers[i].comp * pb->nparts + assign[i]], "mover %zu beside a stayer of its component", i);
		for (j = i + 1; j < pb->nmovers; j++)
			if (pb->movers[i].comp == pb->movers[j].comp)
				cr_assert_neq(assign[i], assign[j], "replicas %zu and %zu share a partition", i, j);
	}
	for (p = 1; p < pb->nparts; p++) {
		double cap = t->cap[p * R + ADP_RES_CPU], g = t->bmin[p * R + ADP_RES_CPU];

		for (i = 0; i < pb->nmovers; i++)
			if (assign[i] == p)
				g += t->m[i].min[ADP_RES_CPU];
		cr_assert_leq(g, cap + 1e-9, "guarantees on %zu exceed capacity", p);
		for (h = 0; h < pb->H; h++) {
			size_t over = 0;

			for (k = 0; k < pb->K; k++) {
				double tot = *base(t, p, k, h);

				for (i = 0; i < pb->nmovers; i++)
					if (assign[i] == p)
						tot += *dem(t, i, k, h);
				over += tot > cap;
			}
			cr_assert_leq(over, allowed, "partition %zu step %zu: %zu scenarios over capacity, %zu allowed", p, h,
				      over, allowed);
			worst = over > worst ? over : worst;
		}
	}
	return worst;
}

static double score(struct inst *t, const size_t *assign, size_t *viol)
{
	double c;

	cr_assert_eq(part_wave_evaluate(&t->pb, assign, &c, viol), 0);
	return c;
}

Test(exact, feasible_packing_found)
{
	/* 6, 5, 5, 4 cores on two partitions of 10: only {6, 4} {5, 5}. */
	struct inst t;
	size_t a[4], h[4], viol;

	mk(&t, 4, 2, 1, 1, 10);
	flat(&t, 0, 6);
	flat(&t, 1, 5);
	flat(&t, 2, 5);
	flat(&t, 3, 4);
	cr_assert_eq(part_place_movers(&t.pb, h), 0);
	check(&t, h);
	cr_assert_eq(solve(&t, a), 0, "%s", adp_error_last());
	check(&t, a);
	cr_assert_eq(a[0], a[3], "6 and 4 together");
	cr_assert_eq(a[1], a[2], "5 and 5 together");
	cr_assert_eq(t.res.status, PART_EXACT_OPTIMAL, "%s", part_exact_status_name(t.res.status));
	cr_assert_eq(t.res.violations, 0);
	cr_assert_float_eq(t.res.objective, score(&t, a, &viol), 1e-12);
	cr_assert_eq(viol, 0);
	cr_assert_float_eq(t.res.heuristic_objective, score(&t, h, &viol), 1e-12, "the start is the planner's heuristic");
	cr_assert_float_eq(t.res.bound, t.res.objective, 1e-9);
	cr_assert_float_eq(t.res.gap, 0, 1e-12);
	rel(&t);
}

Test(exact, swap_fixes_what_the_greedy_cannot)
{
	/* 3, 3, 2, 2, 2 cores on two partitions of 6. Largest first on the
	 * most slack puts a 3 on each, then the 2s alternate and the last is
	 * 1 core short wherever it goes; only {3, 3} {2, 2, 2} fits, one
	 * swap away. The placement must find it, as the MILP proves exists. */
	struct inst t;
	size_t a[5], h[5], viol, i;
	double load[3] = { 0 }, v[5] = { 3, 3, 2, 2, 2 };
	int greedy_fits = 1;

	mk(&t, 5, 2, 2, 3, 6);
	for (i = 0; i < 5; i++) {
		flat(&t, i, v[i]);
		/* Largest first onto the partition with the most slack. */
		size_t p = load[1] <= load[2] ? 1 : 2;
		load[p] += v[i];
		greedy_fits &= load[p] <= 6;
	}
	cr_assert(!greedy_fits, "the instance is one that largest first gets wrong");
	cr_assert_eq(part_place_movers(&t.pb, h), 0);
	check(&t, h);
	score(&t, h, &viol);
	cr_assert_eq(viol, 0);
	cr_assert_eq(h[0] == h[1], 1, "the two 3s together");
	cr_assert(h[2] == h[3] && h[3] == h[4], "the three 2s together");
	cr_assert_eq(solve(&t, a), 0, "%s", adp_error_last());
	cr_assert_eq(t.res.status, PART_EXACT_OPTIMAL, "%s", part_exact_status_name(t.res.status));
	cr_assert_eq(t.res.violations, 0);
	cr_assert_eq(t.res.heuristic_violations, 0, "nothing left for the MILP to fix");
	rel(&t);
}

Test(exact, swap_apart_what_peaks_together)
{
	/* Four movers on two partitions of 10 with 20 joint scenarios and
	 * eps 5% (one scenario over allowed): 0 and 1 need 6 cores in
	 * scenarios 0-9 and 2 otherwise, 2 and 3 need 6 in scenarios 10-19.
	 * Their peaks are the same size, so the greedy sees them alike; two
	 * that peak together on one partition are 12 in ten scenarios. Only
	 * an arrangement that pairs each with one of the other kind fits. */
	struct inst t;
	size_t hh[4], viol, i, k, hs;

	mk(&t, 4, 2, 3, 20, 10);
	t.pb.eps[ADP_RES_CPU] = 0.05;
	for (i = 0; i < 4; i++)
		for (k = 0; k < 20; k++)
			for (hs = 0; hs < 3; hs++)
				*dem(&t, i, k, hs) = (i < 2) == (k < 10) ? 6 : 2;
	/* The greedy's check on the scenarios already keeps them apart; the
	 * search, which scores by the same scenarios, must not undo it. */
	cr_assert_eq(part_place_movers(&t.pb, hh), 0);
	check(&t, hh);
	score(&t, hh, &viol);
	cr_assert_eq(viol, 0);
	cr_assert_neq(hh[0], hh[1]);
	cr_assert_neq(hh[2], hh[3]);
	rel(&t);
}

Test(exact, infeasible_packing_reported)
{
	/* Three 6s on two partitions of 10: no assignment fits. The
	 * heuristic's (with its violation) is what comes back. */
	struct inst t;
	size_t a[3], h[3], viol;

	mk(&t, 3, 2, 1, 1, 10);
	flat(&t, 0, 6);
	flat(&t, 1, 6);
	flat(&t, 2, 6);
	cr_assert_eq(part_place_movers(&t.pb, h), 0);
	score(&t, h, &viol);
	cr_assert_gt(viol, 0);
	cr_assert_eq(solve(&t, a), ADP_EINFEASIBLE);
	cr_assert(strstr(adp_error_last(), "no assignment of the wave's 3 movers fits"), "%s", adp_error_last());
	cr_assert_eq(t.res.status, PART_EXACT_INFEASIBLE, "%s", part_exact_status_name(t.res.status));
	cr_assert_eq(t.res.violations, viol);
	cr_assert_not(t.res.replaced);
	cr_assert(isinf(t.res.bound) && t.res.bound > 0);
	cr_assert_eq(memcmp(a, h, sizeof(a)), 0, "the heuristic's placement is kept");
	rel(&t);
}

Test(exact, guarantees_are_hard)
{
	/* Two movers of 1 core guaranteeing 6 each on one partition of 10:
	 * no; on one of 12: yes. */
	struct inst t;
	size_t a[2];

	mk(&t, 2, 1, 1, 1, 10);
	flat(&t, 0, 1);
	flat(&t, 1, 1);
	t.m[0].min[ADP_RES_CPU] = t.m[1].min[ADP_RES_CPU] = 6;
	cr_assert_eq(solve(&t, a), ADP_EINFEASIBLE);
	cr_assert_eq(t.res.status, PART_EXACT_INFEASIBLE);
	t.cap[1 * R + ADP_RES_CPU] = 12;
	cr_assert_eq(solve(&t, a), 0, "%s", adp_error_last());
	check(&t, a);
	rel(&t);
}

Test(exact, anti_affinity_holds)
{
	/* Two replicas of one component move; a third stays on partition 1:
	 * the movers go on 2 and 3, apart. */
	struct inst t;
	size_t a[2], h[2];

	mk(&t, 2, 3, 1, 1, 10);
	flat(&t, 0, 1);
	flat(&t, 1, 1);
	t.m[1].comp = 0;
	t.hosts[0 * 4 + 1] = 1;
	cr_assert_eq(part_place_movers(&t.pb, h), 0);
	check(&t, h);
	cr_assert_eq(solve(&t, a), 0, "%s", adp_error_last());
	check(&t, a);
	cr_assert_eq(a[0] + a[1], 5, "one on 2, one on 3: %zu %zu", a[0], a[1]);
	cr_assert_eq(t.res.status, PART_EXACT_OPTIMAL);
	rel(&t);
}

Test(exact, milp_beats_greedy_where_greedy_is_suboptimal)
{
	/* K = 4, eps 0.25: one scenario may be over. A tier-0 mover of 1 core
	 * goes first, to the emptier partition 1. The tier-1 mover (9.5 cores
	 * in scenario 0 only) is as risky on either partition, and the
	 * greedy, by headroom, puts it on 1 too, so that the tier-0 mover
	 * shares the risk: 10 x 0.25 x (impact 0 + impact 1). The best puts
	 * the tier-0 mover on 2 (6 cores), and the 9.5 alone on 1 is within
	 * capacity: no risk at all. Moves cost 1 each in both. The search
	 * after the greedy finds it; the MILP, started from the greedy's
	 * placement, finds it too and replaces it. */
	struct inst t;
	size_t a[2], h[2], k, viol, greedy[2] = { 1, 1 };
	double i0 = part_tier_impact(0), i1 = part_tier_impact(1);
	int cold;

	mk(&t, 2, 2, 1, 4, 10);
	t.pb.eps[ADP_RES_CPU] = 0.25;
	flat(&t, 0, 1);
	*dem(&t, 1, 0, 0) = 9.5;
	t.m[1].tier = 1;
	for (k = 0; k < 4; k++)
		*base(&t, 2, k, 0) = 5;
	cr_assert_float_eq(score(&t, greedy, &viol), 10 * 0.25 * (i0 + i1) + 2, 1e-9);
	cr_assert_eq(part_place_movers(&t.pb, h), 0);
	cr_assert_eq(h[0], 2, "the search moves the tier-0 mover away from the big one");
	cr_assert_eq(h[1], 1);
	cr_assert_float_eq(score(&t, h, &viol), 2, 1e-9);
	for (cold = 0; cold < 2; cold++) {
		t.o.cold = cold;
		cr_assert_eq(part_exact_solve(a, &t.res, &t.pb, greedy, &t.o), 0, "%s", adp_error_last());
		check(&t, a);
		cr_assert_float_eq(t.res.objective, 2, 1e-9, "milp: %g", t.res.objective);
		cr_assert_lt(t.res.objective, t.res.heuristic_objective);
		cr_assert_float_eq(t.res.heuristic_objective, 10 * 0.25 * (i0 + i1) + 2, 1e-9);
		cr_assert_float_eq(score(&t, a, &viol), t.res.objective, 1e-12);
		cr_assert_eq(t.res.status, PART_EXACT_OPTIMAL);
		cr_assert(t.res.replaced);
		cr_assert_float_eq(t.res.bound, t.res.objective, 1e-9, "the bound is in the same cost: %g", t.res.bound);
		cr_assert_eq(a[0], 2, "the tier-0 mover away from the big one");
		cr_assert_eq(a[1], 1);
	}
	rel(&t);
}

Test(exact, a_solver_failure_keeps_the_heuristic)
{
	/* GLPK's branch and bound failed numerically on a large tight wave
	 * (code 5) and plan --exact wrote no plan; the heuristic's placement
	 * must stand, as when the MILP finds nothing in time. */
	struct inst t;
	size_t a[2], h[2], viol;

	mk(&t, 2, 2, 1, 4, 10);
	t.pb.eps[ADP_RES_CPU] = 0.25;
	flat(&t, 0, 1);
	*dem(&t, 1, 0, 0) = 9.5;
	cr_assert_eq(part_place_movers(&t.pb, h), 0);
	adp_fault_arm(ADP_FAULT_SOLVER, 1, -1);
	cr_assert_eq(solve(&t, a), 0, "%s", adp_error_last());
	adp_fault_arm(ADP_FAULT_SOLVER, 0, 0);
	cr_assert_eq(t.res.solver_failed, 5 /* GLP_EFAIL */);
	cr_assert_not(t.res.replaced);
	cr_assert_eq(a[0], h[0]);
	cr_assert_eq(a[1], h[1]);
	cr_assert_float_eq(score(&t, a, &viol), t.res.heuristic_objective, 1e-12);
	rel(&t);
}

Test(exact, chance_constraint_on_scenarios)
{
	/* K = 10, eps 0.2: 2 may be over capacity. C needs 3 in eight
	 * scenarios and 5 in two; a partition with C and a 6 is at 11 in
	 * those two, and {6, 6} never fits, so every answer uses the
	 * allowance: C beside one 6, the 1 beside the other (risk 0.2 for
	 * two tier-0 movers, 4 moves). With eps 0.1 none fits. */
	struct inst t;
	size_t a[4], h[4], k, viol;

	mk(&t, 4, 2, 1, 10, 10);
	t.pb.eps[ADP_RES_CPU] = 0.2;
	flat(&t, 0, 6);
	flat(&t, 1, 6);
	flat(&t, 2, 3);
	flat(&t, 3, 1);
	for (k = 0; k < 2; k++)
		*dem(&t, 2, k, 0) = 5;
	cr_assert_eq(part_place_movers(&t.pb, h), 0);
	cr_assert_eq(check(&t, h), 2);
	cr_assert_eq(solve(&t, a), 0, "%s", adp_error_last());
	cr_assert_eq(check(&t, a), 2);
	cr_assert_eq(t.res.status, PART_EXACT_OPTIMAL);
	cr_assert_leq(t.res.objective, t.res.heuristic_objective + 1e-9);
	cr_assert_float_eq(t.res.objective, 10 * 0.2 * 2 + 4, 1e-9, "%g", t.res.objective);
	cr_assert_float_eq(score(&t, a, &viol), t.res.objective, 1e-12);
	cr_assert_neq(a[3], a[2], "the 1 away from the risk");
	t.pb.eps[ADP_RES_CPU] = 0.1;
	cr_assert_eq(solve(&t, a), ADP_EINFEASIBLE);
	cr_assert_eq(t.res.status, PART_EXACT_INFEASIBLE);
	rel(&t);
}

Test(exact, dependence_floor_is_modelled)
{
	/* Two movers whose scenarios offset (1 and 3 cores, then 3 and 1),
	 * each with a spread of 1 core: together they are 4 in every
	 * scenario, and the floor is 4 + dependence x 2. Partition 1 (5.5
	 * cores) is cheaper on confidence than partition 2 (4 cores). At
	 * dependence 0 both go on 1; at 1 the floor (6) breaks there and the
	 * MILP itself splits them (proven optimal, its own answer kept even
	 * without the heuristic's start). */
	struct inst t;
	size_t a[2], viol;

	mk(&t, 2, 2, 1, 2, 5.5);
	t.cap[2 * R + ADP_RES_CPU] = 4;
	*dem(&t, 0, 0, 0) = 1;
	*dem(&t, 0, 1, 0) = 3;
	*dem(&t, 1, 0, 0) = 3;
	*dem(&t, 1, 1, 0) = 1;
	t.sp[0 * R * 1 + ADP_RES_CPU] = 1;
	t.sp[1 * R * 1 + ADP_RES_CPU] = 1;
	t.m[0].spread = t.m[1].spread = 0.5;
	t.pb.eps[ADP_RES_CPU] = 0.05;
	t.pb.dependence = 0;
	cr_assert_eq(solve(&t, a), 0, "%s", adp_error_last());
	cr_assert_eq(a[0], 1);
	cr_assert_eq(a[1], 1);
	t.pb.dependence = 1;
	t.o.cold = 1;
	cr_assert_eq(solve(&t, a), 0, "%s", adp_error_last());
	cr_assert_neq(a[0], a[1], "the floor splits them");
	score(&t, a, &viol);
	cr_assert_eq(viol, 0);
	cr_assert_eq(t.res.status, PART_EXACT_OPTIMAL, "%s", part_exact_status_name(t.res.status));
	cr_assert_float_eq(t.res.milp_objective, t.res.objective, 1e-12, "the MILP's own answer passes the check");
	cr_assert_float_eq(t.res.gap, 0, 1e-12);
	rel(&t);
}

Test(exact, steps_left_out_are_checked_and_added)
{
	/* Step 0 carries the most load, so the first MILP models only it
	 * (init_steps 1). Partition 1 (11 cores) is cheaper on confidence
	 * than 2 (10), so that MILP puts A, B and D on 1; at step 2 that is
	 * 3 + 4 + 4 + 1 = 12 > 11, which the full check catches. The second
	 * MILP, with step 2, sends D (the least uncertain) to 2. */
	static const double dA[] = { 2, 1, 4 }, dD[] = { 4, 1, 1 };
	static const double b1[] = { 2, 1, 3 }, b2[] = { 5, 1, 1 };
	struct inst t;
	size_t a[3], h;
	int cold;

	mk(&t, 3, 2, 3, 1, 10);
	t.cap[1 * R + ADP_RES_CPU] = 11;
	for (h = 0; h < 3; h++) {
		*dem(&t, 0, 0, h) = *dem(&t, 1, 0, h) = dA[h];
		*dem(&t, 2, 0, h) = dD[h];
		*base(&t, 1, 0, h) = b1[h];
		*base(&t, 2, 0, h) = b2[h];
	}
	t.m[0].spread = t.m[1].spread = 0.5;
	t.m[2].spread = 0.1;
	t.o.init_steps = 1;
	for (cold = 0; cold < 2; cold++) {
		t.o.cold = cold;
		cr_assert_eq(solve(&t, a), 0, "%s", adp_error_last());
		check(&t, a);
		cr_assert_eq(a[2], 2, "D on partition 2");
		cr_assert_eq(a[0], 1);
		cr_assert_eq(a[1], 1);
		cr_assert_eq(t.res.rounds, 2, "rounds %zu", t.res.rounds);
		cr_assert_eq(t.res.steps_used, 2);
		cr_assert_eq(t.res.status, PART_EXACT_OPTIMAL);
	}
	rel(&t);
}

Test(exact, a_replica_that_fits_nowhere_alone_is_infeasible_at_once)
{
	/* 11 cores on partitions of 10: no search needed. */
	struct inst t;
	size_t a[2];

	mk(&t, 2, 2, 1, 1, 10);
	flat(&t, 0, 11);
	flat(&t, 1, 1);
	cr_assert_eq(solve(&t, a), ADP_EINFEASIBLE);
	cr_assert_eq(t.res.status, PART_EXACT_INFEASIBLE);
	cr_assert_eq(t.res.cols, 0, "no MILP was built: %zu columns", t.res.cols);
	rel(&t);
}

Test(exact, time_limit_is_respected)
{
	/* A tight random wave and a 1 ms limit: the MILP stops on its limit
	 * and says so; what is returned costs no more than the heuristic's. */
	struct inst t;
	unsigned seed = 7;
	size_t a[24], i, h, k;
	int rc;

	mk(&t, 24, 6, 4, 20, 10);
	t.o.time_limit = 0.001;
	t.pb.eps[ADP_RES_CPU] = 0.1;
	for (i = 0; i < 24; i++) {
		t.m[i].tier = (int)(i % 3);
		t.m[i].spread = 0.1 * (double)(i % 4);
		for (h = 0; h < 4; h++)
			for (k = 0; k < 20; k++)
				*dem(&t, i, k, h) = 1 + 2.0 * (rand_r(&seed) % 1000) / 1000.0;
	}
	rc = solve(&t, a);
	cr_assert(t.res.time_limit_hit, "status %s", part_exact_status_name(t.res.status));
	cr_assert(t.res.status == PART_EXACT_FEASIBLE || t.res.status == PART_EXACT_NOSOLUTION, "status %s",
		  part_exact_status_name(t.res.status));
	if (t.res.status == PART_EXACT_FEASIBLE) {
		cr_assert_eq(rc, 0);
		check(&t, a);
		cr_assert_gt(t.res.gap, 0);
		cr_assert_leq(t.res.objective, t.res.heuristic_objective + 1e-9);
	} else {
		cr_assert_eq(rc, ADP_EINFEASIBLE);
		cr_assert(strstr(adp_error_last(), "within the time limit"), "%s", adp_error_last());
	}
	rel(&t);
}

Test(exact, bad_options_and_numbers)
{
	struct inst t;
	size_t a[1];

	mk(&t, 1, 1, 1, 1, 10);
	t.o.time_limit = 0;
	flat(&t, 0, 1);
	cr_assert_eq(solve(&t, a), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "time limit"));
	t.o.time_limit = 1;
	*dem(&t, 0, 0, 0) = NAN;
	cr_assert_eq(solve(&t, a), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "mover 0: demand nan"), "%s", adp_error_last());
	*dem(&t, 0, 0, 0) = 1;
	t.pb.eps[ADP_RES_CPU] = 1;
	cr_assert_eq(solve(&t, a), ADP_EINPUT);
	cr_assert(strstr(adp_error_last(), "eps of cpu"), "%s", adp_error_last());
	t.pb.eps[ADP_RES_CPU] = 0;
	cr_assert_eq(solve(&t, a), 0, "%s", adp_error_last());
	cr_assert_eq(a[0], 1);
	rel(&t);
}
