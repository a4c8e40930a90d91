/* Exact mode: the planner's one-wave placement problem (struct
 * part_wave_problem, partition/planner.h) as a mixed-integer program for
 * GLPK. The objective is the planner's cost of an assignment as
 * part_wave_evaluate scores it (risk by tier impact, confidence, moves,
 * with the schedule's weights), the constraints are the planner's: the
 * joint chance constraint on the scenarios, the co-movement floor, the
 * guarantees and anti-affinity. The planner's heuristic,
 * part_place_movers, gives the first incumbent; every assignment GLPK
 * finds is scored again by part_wave_evaluate, and the better of the two
 * by that score is kept. The formulation is written up in
 * adpart-update(1), plan, EXACT MODE. */
#ifndef ADP_EXACT_H
#define ADP_EXACT_H

#include <stddef.h>

#include "partition/planner.h"

enum part_exact_status {
	PART_EXACT_OPTIMAL,     /* proven optimal on every step and scenario */
	PART_EXACT_FEASIBLE,    /* without violations; gap says how far from the bound */
	PART_EXACT_INFEASIBLE,  /* proven: no assignment is free of violations */
	PART_EXACT_NOSOLUTION,  /* time limit before any assignment without violations */
};

/* A static string. */
const char *part_exact_status_name(int status);

struct part_exact_opts {
	double time_limit;     /* seconds for the MILP in all (> 0) */
	double mip_gap;        /* stop at this relative gap (0: prove optimality) */
	size_t init_steps;     /* steps of the wave in the first MILP (0: 2) */
	size_t max_rounds;     /* MILPs at most (0: 8) */
	int cold;              /* 1: the start is not given to GLPK as an incumbent */
};

/* All costs are part_wave_evaluate's, in the same units. */
struct part_exact_result {
	int status;                  /* enum part_exact_status */
	double objective;            /* cost of the assignment kept */
	size_t violations;           /* of the assignment kept */
	double heuristic_objective;  /* cost of the start (the heuristic's) */
	size_t heuristic_violations;
	double milp_objective;       /* cost of the MILP's best assignment (INFINITY: none) */
	double bound;                /* lower bound on the cost of any assignment without
				      * violations (-INFINITY unknown, INFINITY: none exists) */
	double gap;                  /* (objective - bound) / objective; INFINITY unknown */
	int replaced;                /* the MILP's assignment replaced the start */
	int time_limit_hit;          /* the MILP stopped on its time limit */
	int too_large;               /* a MILP was not built: too many nonzeros */
	int solver_failed;           /* GLPK failed (its return code): the start was kept */
	double heur_seconds, milp_seconds;
	size_t rounds;               /* MILPs solved (steps added between them) */
	size_t steps_used;           /* steps in the last MILP */
	size_t rows, cols, nonzeros; /* of the last MILP */
};

/* Solves pb. start is the assignment to improve on (NULL: runs
 * part_place_movers); assign[nmovers] receives the one kept: the MILP's
 * when part_wave_evaluate gives it fewer violations, or as many and a
 * lower cost; the start's otherwise. Refuses numbers that are not finite
 * and eps outside [0, 1) with ADP_EINPUT (GLPK would abort). Returns 0
 * when the kept assignment has no violations, ADP_EINFEASIBLE when it has
 * (assign and res are filled; the message says whether the MILP proved
 * that none is free of them or ran out of time), or another error. */
/* pb, start and o are borrowed; assign is the caller's array. */
int part_exact_solve(size_t *assign, struct part_exact_result *res, const struct part_wave_problem *pb,
		     const size_t *start, const struct part_exact_opts *o);

#endif
