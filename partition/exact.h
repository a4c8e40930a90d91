/* Exact mode: one wave's assignment of moving replicas to the online
 * partitions, as a self-contained instance that a fast heuristic and a
 * mixed-integer program (GLPK) both solve, so that each can check the
 * other. This header owns the instance type, the cost function both
 * optimise, the check of a solution on every scenario and step, and the
 * two solvers. The formulation is written up in adpart-update(1), plan,
 * EXACT MODE.
 *
 * Indices: i a mover (a replica whose home partition is offline), p an
 * online partition, r a resource, s a step of the wave, k a joint
 * scenario. R is ADP_RES_COUNT. */
#ifndef ADP_EXACT_H
#define ADP_EXACT_H

#include <stddef.h>

#include "partition/inventory.h"
#include "util/resource.h"

#define PART_EXACT_UNPLACED ((size_t)-1)
#define PART_EXACT_TIERS (INV_MAX_TIER + 1)

struct part_wave_problem {
	size_t nmovers, nparts, nsteps, nscen;  /* N, P, S, K */
	/* Movers, all arrays owned. */
	size_t *comp;      /* [N] component id: equal ids are replicas of one
			    * component and never share a partition */
	int *tier;         /* [N] 0 most critical .. INV_MAX_TIER */
	int *home_zone;    /* [N] zone id of the home partition, -1 unknown */
	double *min;       /* [N*R] guarantee per replica */
	double *alloc;     /* [N*R] allocation reserved for the replica (>= min) */
	double *mean;      /* [N*R] expected use over the wave */
	double *unc;       /* [N] forecast uncertainty, >= 0 (0: certain) */
	double *dem;       /* [((i*R + r)*S + s)*K + k] demand per scenario */
	/* Online partitions. */
	double *cap;       /* [P*R] capacity; 0: unmetered, never a constraint */
	double *base;      /* [((p*R + r)*S + s)*K + k] load of the replicas that stay */
	double *base_min;  /* [P*R] guarantees of the replicas that stay */
	double *base_impact; /* [P] sum of the tier weights of the replicas that
			      * stay (see part_exact_weights.tier) */
	int *zone;         /* [P] zone id */
	unsigned char *forbid; /* [N*P] 1: p already runs a replica of i's component */
	double eps[ADP_RES_COUNT]; /* P(total > capacity) allowed per resource */
};

/* Allocates every array zeroed (eps 0, zones 0, home zones -1). */
int part_wave_problem_init(struct part_wave_problem *w, size_t nmovers, size_t nparts,
			   size_t nsteps, size_t nscen);
void part_wave_problem_release(struct part_wave_problem *w);

/* The cost both solvers minimise; only terms that depend on the
 * assignment (every mover moves once whatever the assignment):
 *   risk:       risk * sum_p pi_p * (base_impact_p + sum_{i on p} tier[t_i]),
 *               pi_p = sum_r res[r] * max_s (scenarios over capacity)/K;
 *   waste:      waste * sum_{i,r} (alloc - mean)_{i,r} / cap_{p(i),r}, the
 *               share of the target held idle;
 *   moves:      moves * the number of moves that leave the home zone;
 *   confidence: confidence * sum_i unc_i * u_p(i), u_p the utilisation of p
 *               by the replicas that stay, at the resource's confidence. */
struct part_exact_weights {
	double risk, waste, moves, confidence;
	double tier[PART_EXACT_TIERS]; /* impact of an overload per tier */
	double res[ADP_RES_COUNT];     /* impact per resource */
};

/* risk 100, waste 1, moves 1, confidence 1; tier t weighs 2^-t; memory
 * (incompressible) 4, the others 1. */
void part_exact_weights_default(struct part_exact_weights *wt);

enum part_exact_status {
	PART_EXACT_OPTIMAL,     /* proven optimal on every step and scenario */
	PART_EXACT_FEASIBLE,    /* feasible; gap says how far from the bound */
	PART_EXACT_INFEASIBLE,  /* proven: no assignment fits */
	PART_EXACT_NOSOLUTION,  /* time limit before any solution was found */
};

const char *part_exact_status_name(int status);

struct part_wave_solution {
	size_t *assign;        /* owned [N]: partition index or PART_EXACT_UNPLACED */
	int status;            /* enum part_exact_status */
	double objective;      /* cost on the full scenario set; INFINITY without */
	double bound;          /* proven lower bound on the cost; -INFINITY unknown */
	double gap;            /* (objective - bound) / objective, GLPK's relative gap */
	int from_heuristic;    /* the kept assignment is the heuristic's */
	int time_limit_hit;    /* the MILP stopped on its time limit */
	int too_large;         /* the MILP was not built: too many nonzeros */
	double heur_objective; /* the heuristic's cost (INFINITY: it found none) */
	double heur_seconds, milp_seconds;
	size_t rounds;         /* MILPs solved (steps added between them) */
	size_t steps_used;     /* steps in the last MILP */
	size_t rows, cols, nonzeros; /* of the last MILP */
};

void part_wave_solution_release(struct part_wave_solution *sol);

/* The cost of an assignment (every mover placed), evaluated on every step
 * and scenario. wt NULL: defaults. */
double part_exact_cost(const struct part_wave_problem *w, const size_t *assign,
		       const struct part_exact_weights *wt);

/* Checks an assignment against every constraint on every step and
 * scenario: placed, anti-affinity, guarantees within capacity, and at most
 * floor(eps * K) scenarios over capacity per partition, resource and
 * step. Returns 0, or ADP_EINFEASIBLE with a message naming the first
 * breach. */
int part_exact_verify(const struct part_wave_problem *w, const size_t *assign);

/* Greedy (tier, then dominant share, decreasing; each to its cheapest
 * partition that passes the scenario check) and a relocation local search.
 * Returns 0 (status FEASIBLE, bound unknown) or ADP_EINFEASIBLE when some
 * mover fits nowhere (out->assign marks it unplaced; the message names
 * it). wt NULL: defaults. */
int part_exact_heuristic(struct part_wave_solution *out, const struct part_wave_problem *w,
			 const struct part_exact_weights *wt);

struct part_exact_opts {
	double time_limit;     /* seconds for the MILP in all (> 0) */
	double mip_gap;        /* stop at this relative gap (0: prove optimality) */
	size_t init_steps;     /* steps in the first MILP (0: 2) */
	size_t max_rounds;     /* MILPs at most (0: 8) */
	int cold;              /* 1: no warm start from the heuristic */
	const size_t *start;   /* [N] another assignment to start from (e.g. the
				* planner's), used when it passes the check and
				* costs less than the heuristic's; NULL: none */
	const struct part_exact_weights *weights; /* NULL: defaults */
};

/* Refuses numbers that are not finite (or negative where that makes no
 * sense) and eps outside [0, 1) with ADP_EINPUT, since GLPK would abort.
 * Then runs the heuristic, then the MILP on a reduced set of steps,
 * checks the MILP's assignment on every step and scenario, adds the steps
 * it breaks or under-counts and solves again while time is left; keeps
 * the better of heuristic and MILP. A MILP too large to build (over 4M
 * nonzeros) leaves the heuristic's assignment, with too_large set. Returns 0 with a solution (status OPTIMAL or
 * FEASIBLE), ADP_EINFEASIBLE (status INFEASIBLE or NOSOLUTION; the message
 * says which), or another error. */
int part_exact_solve(struct part_wave_solution *out, const struct part_wave_problem *w,
		     const struct part_exact_opts *o);

#endif
