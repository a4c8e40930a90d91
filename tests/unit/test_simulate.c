/* part_simulate on a hand-built plan and history whose outcome is worked
 * out by hand in the comments. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "partition/simulate.h"

/* One wave over t = 1000..1399 (step 100); component "a" has two replicas
 * of 1 core each, so 2 cores in all. History before the window peaks at 3
 * (t = 0, the oldest); in the window the actual load is 1.5, 2.5, 1.0, 2.0.
 * Everything points into the fixture itself. */
struct sim_fx {
	struct plan p;
	struct history h;
	struct plan_placement pl[2];
	struct series s;
	struct plan_wave w;
	double v[14];
	/* With fx_partition: both replicas on partition "p" of 2.2 cores,
	 * whose cpu usage row predicts a p50 and p95 of 1 at every step. */
	struct plan_partition part;
	struct plan_usage u;
	double p50[4];
};

static void fixture(struct sim_fx *f)
{
	size_t i;

	memset(f, 0, sizeof(*f));
	history_init(&f->h);
	for (i = 0; i < 10; i++)
		f->v[i] = 1.0;
	f->v[0] = 3.0;
	f->v[10] = 1.5;
	f->v[11] = 2.5;
	f->v[12] = 1.0;
	f->v[13] = 2.0;
	f->s.component = "a";
	f->s.resource = ADP_RES_CPU;
	f->s.start = 0;
	f->s.step = 100;
	f->s.n = 14;
	f->s.v = f->v;
	f->h.items = &f->s;
	f->h.n = 1;
	f->pl[0].component = f->pl[1].component = "a";
	f->pl[0].alloc[ADP_RES_CPU] = f->pl[1].alloc[ADP_RES_CPU] = 1.0;
	f->pl[0].reserve[ADP_RES_CPU] = f->pl[1].reserve[ADP_RES_CPU] = 1.0;
	f->pl[1].replica = 1;
	f->p.window_start = 1000;
	f->p.step = 100;
	f->w.start = 1000;
	f->w.end = 1400;
	f->w.placements = f->pl;
	f->w.nplacements = 2;
	f->p.waves = &f->w;
	f->p.nwaves = 1;
}

static void fx_partition(struct sim_fx *f)
{
	size_t i;

	f->pl[0].partition = f->pl[1].partition = "p";
	f->part.name = "p";
	f->part.capacity[ADP_RES_CPU] = 2.2;
	f->p.partitions = &f->part;
	f->p.npartitions = 1;
	for (i = 0; i < 4; i++)
		f->p50[i] = 1;
	f->u.partition = "p";
	f->u.resource = ADP_RES_CPU;
	f->u.capacity = 2.2;
	f->u.nsteps = 4;
	f->u.p50 = f->u.p95 = f->p50;
	f->w.usage = &f->u;
	f->w.nusage = 1;
}

Test(simulate, plan_and_baselines)
{
	struct sim_fx f;
	struct part_sim r = { 0 };
	/* a guarantee of 1.5 cores: the reactive 1.15 and 1.725 allocations
	 * are below it at steps where demand exceeded them (t = 1000, 1100,
	 * 1300 have allocations 1.15, 1.725, 1.15: two below 1.5); the
	 * plan's 2 cores never are. */
	struct part_sim_guarantee g = { "a", { 1.5, 0, 0, 0 } };

	fixture(&f);
	cr_assert_eq(part_simulate(&r, &f.p, &f.h, &g, 1), 0);
	cr_assert_eq(r.n, 1);
	cr_assert_str_eq(r.rows[0].component, "a");
	/* plan: 2 cores; only 2.5 exceeds it, by 0.5; slack 0.5 + 1 + 0. */
	cr_assert_eq(r.rows[0].m[PART_SIM_PLAN].steps, 4);
	cr_assert_eq(r.rows[0].m[PART_SIM_PLAN].violations, 1);
	cr_assert_float_eq(r.rows[0].m[PART_SIM_PLAN].excess_max, 0.5, 1e-9);
	cr_assert_float_eq(r.rows[0].m[PART_SIM_PLAN].slack_sum, 1.5, 1e-9);
	/* the actual demand, whatever the allocation: 1.5 + 2.5 + 1 + 2 */
	cr_assert_float_eq(r.rows[0].m[PART_SIM_PLAN].demand_sum, 7.0, 1e-9);
	cr_assert_float_eq(r.rows[0].m[PART_SIM_PEAK].demand_sum, 7.0, 1e-9);
	/* static peak: 3 cores, never exceeded; slack 1.5 + 0.5 + 2 + 1. */
	cr_assert_eq(r.rows[0].m[PART_SIM_PEAK].violations, 0);
	cr_assert_float_eq(r.rows[0].m[PART_SIM_PEAK].slack_sum, 5.0, 1e-9);
	/* reactive: previous x 1.15 = 1.15, 1.725, 2.875, 1.15 against
	 * 1.5, 2.5, 1.0, 2.0: three violations, the largest 2.0 - 1.15. */
	cr_assert_eq(r.rows[0].m[PART_SIM_REACTIVE].violations, 3);
	cr_assert_float_eq(r.rows[0].m[PART_SIM_REACTIVE].excess_max, 0.85, 1e-9);
	cr_assert_eq(r.rows[0].m[PART_SIM_REACTIVE].breaches, 2);
	cr_assert_eq(r.rows[0].m[PART_SIM_PLAN].breaches, 0);
	/* vpa: the 3.0 is the oldest sample, so its weight is below a tenth of
	 * the total and the weighted P90 is 1.0; x 1.15 = 1.15, exceeded by
	 * 1.5, 2.5 and 2.0, the most by 1.35. */
	cr_assert_eq(r.rows[0].m[PART_SIM_VPA].violations, 3);
	cr_assert_float_eq(r.rows[0].m[PART_SIM_VPA].excess_max, 1.35, 1e-9);
	/* VPA scaled to the plan's reserve: one component, so 1.15 x (8 /
	 * 4.6) = 2 cores, exceeded by 2.5 only. */
	cr_assert_eq(r.rows[0].m[PART_SIM_EQUAL].steps, 4);
	cr_assert_eq(r.rows[0].m[PART_SIM_EQUAL].violations, 1);
	cr_assert_float_eq(r.rows[0].m[PART_SIM_EQUAL].reserved_sum, 8.0, 1e-9);
	part_sim_release(&r);
}

Test(simulate, reserved_is_the_reservations_violations_the_limits)
{
	/* Reservations of 0.75 under limits of 1 a replica: the plan sets
	 * aside 1.5 cores a step (6 over the 4 steps), while a violation is
	 * still demand above the 2 cores it may burst to (2.5 only); VPA
	 * scaled to that reserve gets 1.15 x 6 / 4.6 = 1.5 cores a step. */
	struct sim_fx f;
	struct part_sim r = { 0 };

	fixture(&f);
	f.pl[0].reserve[ADP_RES_CPU] = f.pl[1].reserve[ADP_RES_CPU] = 0.75;
	cr_assert_eq(part_simulate(&r, &f.p, &f.h, NULL, 0), 0);
	cr_assert_float_eq(r.rows[0].m[PART_SIM_PLAN].reserved_sum, 6.0, 1e-9);
	cr_assert_eq(r.rows[0].m[PART_SIM_PLAN].violations, 1);
	cr_assert_float_eq(r.rows[0].m[PART_SIM_EQUAL].reserved_sum, 6.0, 1e-9);
	cr_assert_eq(r.rows[0].m[PART_SIM_EQUAL].violations, 2, "1.5 is exceeded by 2.5 and 2.0");
	part_sim_release(&r);
}

Test(simulate, baselines_see_only_the_history_the_plan_saw)
{
	struct sim_fx f;
	struct part_sim r = { 0 };

	/* A peak of 9 at t = 900, after the plan was made at t = 850 and
	 * before the window: the plan could not see it, nor may the static
	 * peak, which stays 3 (never exceeded, slack 5 as above). */
	fixture(&f);
	f.v[9] = 9.0;
	f.p.created_at = 850;
	cr_assert_eq(part_simulate(&r, &f.p, &f.h, NULL, 0), 0);
	cr_assert_eq(r.rows[0].m[PART_SIM_PEAK].violations, 0);
	cr_assert_float_eq(r.rows[0].m[PART_SIM_PEAK].slack_sum, 5.0, 1e-9);
	part_sim_release(&r);
}

Test(simulate, component_without_placement_is_not_counted)
{
	struct sim_fx f;
	struct part_sim r = { 0 };

	fixture(&f);
	f.pl[0].component = f.pl[1].component = "b";
	cr_assert_eq(part_simulate(&r, &f.p, &f.h, NULL, 0), 0);
	cr_assert_eq(r.n, 1);
	cr_assert_eq(r.rows[0].m[PART_SIM_PLAN].steps, 0);
	part_sim_release(&r);
}

/* The joint check after the fact: both replicas of "a" on partition "p"
 * of capacity 2.2, each carrying half of the actual 1.5, 2.5, 1.0, 2.0:
 * the total is the component's, so only 2.5 overloads the partition. The
 * plan's bound (2.0, 2.0, 2.0, 2.0) is exceeded once as well, and the
 * peak utilisation is 2.5 / 2.2. */
Test(simulate, partition_overload_and_bound)
{
	struct sim_fx f;
	struct part_sim r = { 0 };
	double bound[4] = { 2, 2, 2, 2 };
	size_t i;

	fixture(&f);
	fx_partition(&f);
	f.u.bound = bound;
	cr_assert_eq(part_simulate(&r, &f.p, &f.h, NULL, 0), 0);
	cr_assert_eq(r.nparts, ADP_RES_COUNT);
	for (i = 0; i < r.nparts && r.parts[i].resource != ADP_RES_CPU; i++)
		;
	cr_assert_lt(i, r.nparts);
	cr_assert_str_eq(r.parts[i].partition, "p");
	cr_assert_eq(r.parts[i].steps, 4);
	cr_assert_eq(r.parts[i].overloads, 1);
	cr_assert_eq(r.parts[i].bound_steps, 4);
	cr_assert_eq(r.parts[i].above_bound, 1);
	cr_assert_float_eq(r.parts[i].peak_util, 2.5 / 2.2, 1e-9);
	cr_assert_float_eq(r.parts[i].excess_max, 0.3, 1e-9);
	/* slack 0.7 + 1.2 + 0.2 where within capacity */
	cr_assert_float_eq(r.parts[i].slack_sum, 2.1, 1e-9);
	/* memory has no usage row and no history: nothing counted. */
	cr_assert_eq(r.parts[(i + 1) % r.nparts].steps, 0);
	/* reserved: 2 cores at each of the 4 steps. */
	cr_assert_float_eq(r.rows[0].m[PART_SIM_PLAN].reserved_sum, 8.0, 1e-9);
	part_sim_release(&r);
}

/* The plan's risk after the fact: the fixture's partition of capacity
 * 2.2 (actual totals 1.5, 2.5, 1.0, 2.0, only 2.5 over), with predicted
 * P(overload) 0.005, 0.6, 0.01 and 0.04 per step: bins [0, 1%) with the
 * first, [1%, 2%) with the third (an edge goes up), [2%, 5%) with the
 * fourth and [50%, 100%] with the second, the one overload. */
Test(simulate, calibration_bins)
{
	struct sim_fx f;
	struct part_sim r = { 0 };
	double prob[4] = { 0.005, 0.6, 0.01, 0.04 };
	const struct part_sim_bin *b;
	size_t i;

	fixture(&f);
	fx_partition(&f);
	f.u.prob = prob;
	f.u.overload_prob = 0.6;
	cr_assert_eq(part_simulate(&r, &f.p, &f.h, NULL, 0), 0);
	b = r.calib[ADP_RES_CPU];
	cr_assert_eq(b[0].steps, 1);
	cr_assert_float_eq(b[0].prob_sum, 0.005, 1e-12);
	cr_assert_eq(b[0].overloads, 0);
	cr_assert_eq(b[1].steps, 1);
	cr_assert_eq(b[2].steps, 1);
	cr_assert_float_eq(b[2].prob_sum, 0.04, 1e-12);
	cr_assert_eq(b[3].steps + b[4].steps + b[5].steps, 0);
	cr_assert_eq(b[6].steps, 1);
	cr_assert_eq(b[6].overloads, 1);
	cr_assert_eq(b[0].overloads + b[1].overloads + b[2].overloads, 0);
	/* memory has no history: no host-steps. */
	cr_assert_eq(r.calib[ADP_RES_MEMORY][0].steps, 0);
	part_sim_release(&r);

	/* An older plan without per-step probabilities: overloads are still
	 * counted, the calibration is empty. */
	f.u.prob = NULL;
	cr_assert_eq(part_simulate(&r, &f.p, &f.h, NULL, 0), 0);
	cr_assert_eq(r.parts[0].overloads, 1);
	for (i = 0; i < PART_SIM_NBINS; i++)
		cr_assert_eq(r.calib[ADP_RES_CPU][i].steps, 0);
	part_sim_release(&r);
}

Test(simulate, bin_edges)
{
	cr_assert_eq(part_sim_bin_of(0), 0);
	cr_assert_eq(part_sim_bin_of(0.0099), 0);
	cr_assert_eq(part_sim_bin_of(2.0 / 200), 1);
	cr_assert_eq(part_sim_bin_of(10.0 / 200), 3);
	cr_assert_eq(part_sim_bin_of(0.4999), 5);
	cr_assert_eq(part_sim_bin_of(0.5), 6);
	cr_assert_eq(part_sim_bin_of(1), PART_SIM_NBINS - 1);
}
