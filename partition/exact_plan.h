/* Exact mode inside the planner: the solver the planner calls for each
 * wave's placement problem (part_run_opts.place_movers), which runs the
 * planner's heuristic, gives its assignment to the MILP (partition/exact.h)
 * as the first incumbent and keeps the better of the two by
 * part_wave_evaluate; and the verdicts, per wave, for the plan. */
#ifndef ADP_EXACT_PLAN_H
#define ADP_EXACT_PLAN_H

#include <stddef.h>

#include "partition/exact.h"
#include "plans/plan.h"

struct part_exact_plan {
	double seconds;                  /* MILP time limit per wave (> 0) */
	struct part_exact_result *waves; /* owned, [nwaves] by wave index */
	unsigned char *solved;           /* owned, [nwaves]: waves[w] is set */
	size_t nwaves;
};

void part_exact_plan_init(struct part_exact_plan *x, double seconds);
void part_exact_plan_release(struct part_exact_plan *x);

/* The hook: arg is a struct part_exact_plan (borrowed; it records each
 * wave's verdict). A trial of a remedy gets the
 * heuristic alone. A wave whose best assignment still has violations is
 * not an error: the planner reports its shortfalls. */
int part_exact_place_movers(const struct part_wave_problem *pb, size_t *assign, void *arg);

/* Writes each solved wave's verdict into p->waves[].exact_*. Returns 0 or
 * ADP_ENOMEM. */
int part_exact_plan_annotate(struct plan *p, const struct part_exact_plan *x);

#endif
