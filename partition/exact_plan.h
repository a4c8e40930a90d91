/* Exact mode inside the planner: one wave of a plan, as the planner's
 * heuristic left it, turned into a part_wave_problem (partition/exact.h),
 * solved by the MILP within a time limit, and the better placement of
 * the two kept, with the verdict (status, objective, bound, gap) written
 * into the wave. Works from the wave's placements and the planner's
 * demand arrays only, so the planner's own data structures stay its own. */
#ifndef ADP_EXACT_PLAN_H
#define ADP_EXACT_PLAN_H

#include <stddef.h>

#include "partition/inventory.h"
#include "partition/schedule.h"
#include "plans/plan.h"

struct part_exact_wave_in {
	const struct inventory *inv;
	const struct schedule *sched;
	/* Per replica of component c, as the planner holds them (borrowed):
	 * dem[(c*R + r)*K*H + k*H + h] over K joint scenarios and H steps of
	 * the forecast; q, q50, q95[(c*R + r)*H + h] at the resource's
	 * confidence, at 0.5 and at 0.95. */
	const double *dem, *q, *q50, *q95;
	size_t K, H;
	size_t h0, h1;        /* the wave's steps */
	size_t wave;          /* 1-based index of the wave in the plan */
	double seconds;       /* MILP time limit */
};

/* Solves wave w of p exactly. When the MILP's placement costs less than
 * the heuristic's (or the heuristic left a replica out and the MILP does
 * not), the movers' placements are rewritten, replicas left out are
 * added, and the wave's per-replica shortfalls are removed; *changed is
 * then 1 and the caller recomputes its loads from w->placements. Either
 * way w->exact_* record the verdict. Returns 0 or ADP_ENOMEM. */
int part_exact_wave(struct plan *p, struct plan_wave *w, const struct part_exact_wave_in *in, int *changed);

#endif
