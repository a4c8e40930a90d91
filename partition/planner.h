/* The planner: from an inventory, a schedule and a forecast, the waves,
 * the placement and allocation of every component replica in each wave,
 * and the predicted utilisation of every online partition, with the
 * probability of overload computed on joint scenarios (sums of
 * time-aligned demand, not sums of peaks). */
#ifndef ADP_PLANNER_H
#define ADP_PLANNER_H

#include "forecast/forecast.h"
#include "history/prometheus.h"
#include "partition/inventory.h"
#include "partition/schedule.h"
#include "plans/plan.h"

/* Allocation units: 1/8 core, 64 MiB, 1 MiB/s of disk or network. */
extern const double part_granularity[ADP_RES_COUNT];

struct part_wave_problem;

/* The consolidation advice's default budget, in scenario values its
 * checks read: a check of a segment of the window, h steps long, counts
 * K x h of each resource per partition and per replica (the usage reads
 * every partition's, the placement each mover's at least once). A proxy
 * of its time: at 200 partitions and 2,000 replicas one check counted
 * 8.8e7 and took 2.2 s, so this is about half a second of checks. */
#define PART_CONSOL_WORK 2e7

/* Every pointer is borrowed for the call. */
struct part_request {
	const struct inventory *inv;
	const struct schedule *sched;
	/* Covers the window at sched->step. Each series' scenarios are
	 * released (scen NULL, nscen kept) once the planner has its own
	 * demand from them, so the two never sit side by side in memory: the
	 * quantiles are what stays of the forecast. */
	struct forecast *fc;
	int64_t now;
	const char *tool_version;   /* copied into the plan */
	int no_widening;            /* use the forecast's spread as it is */
	int no_remedies;            /* leave out the remedies (plan->remedies), each a plan again */
	int no_consolidation;       /* leave out the consolidation advice (plan->consolidation) */
	double consolidation_work;  /* the advice's budget (0: PART_CONSOL_WORK) */
	int preallocate;            /* plan --preallocate (or the schedule's "preallocate") */
	/* adpart-update rebalance: one wave over the whole window with no
	 * partition offline, every replica at home sized by its forecast
	 * (plan->rebalance). */
	int rebalance;
	/* The feedback loop (plans/accuracy.h): each listed series' spread
	 * around its median scaled by its factor; NULL: none. */
	const struct plan_feedback *feedback;
	size_t nfeedback;
	/* Another solver for each wave's placement problem (NULL: the
	 * heuristic, part_place_movers): same contract, its answer is used
	 * as is. An exact solver hooks in here. */
	int (*place_movers)(const struct part_wave_problem *pb, size_t *assign, void *arg);
	void *place_arg;            /* passed to place_movers */
};

/* The factor by which the planner widens a series' spread around its
 * median for the finite number of past periods behind it (1 when there
 * are enough); history_used is in steps of step seconds. */
double part_widening(size_t history_used, int64_t step, int64_t period, double eps);

/* The ceiling of fs's upper quantiles and scenarios at a step whose
 * median is med: the history's maximum, or where med is above it, med
 * plus its rise above it; INFINITY when the maximum is unknown. */
double part_cap(const struct forecast_series *fs, double med);

/* Step h of a series' K scenarios (scen[k * H + h]) mapped onto its band
 * by rank into out[k]: the j-th smallest takes the band's quantile at
 * (j + 1/2) / K above the median med, and below it its own deviation
 * from the scenarios' median added to med (see demand.c); keys: 2 K
 * values of scratch. */
void part_map_ranks(double *out, uint64_t *keys, const float *scen, size_t K, size_t H, size_t h,
		    const struct forecast_series *fs, const double *levels, double med);

/* The value with exactly above of the n (at least 1) values above it;
 * v is scrambled. */
double part_select_desc(double *v, size_t n, size_t above);

/* The total at the confidence at one step: the scenarios' (1 - eps)
 * order statistic, the one with allowed of the K values above it, or
 * their median plus dependence x spread, whichever is higher; v is
 * scrambled. */
double part_total_at_confidence(double *v, size_t K, size_t allowed, double spread, double dependence);

/* Fills out, which owns all it points to (inputs are the caller's to add). Returns 0 when every wave
 * fits, ADP_EINFEASIBLE when some does not (out->shortfalls says where
 * and by how much; the rest of out is filled), or another error. */
int part_plan(struct plan *out, const struct part_request *req);

/* ---- One wave's placement problem ----
 * What the heuristic solves per wave, in plain arrays, so that another
 * solver (an exact one) can be handed the same instance and its answer
 * compared or used: place each mover (a replica whose home is offline)
 * on an online partition, no two replicas of one component on one
 * partition, so that on every partition, resource and step of the wave
 * the stayers' load plus the movers' is within the capacity in all but
 * a share eps of the K joint scenarios, and the guarantees fit.
 * Layout: scenario k of step h (0 .. H-1 of the wave) sits at
 * [(... * K + k) * stride + offset + h]. */
#define PART_UNPLACED ((size_t)-1)

/* Every pointer of a mover and a problem is borrowed: the planner's
 * arrays, valid for the solver call. */
struct part_wave_mover {
	size_t comp, replica, home;
	int tier;
	const float *demand[ADP_RES_COUNT]; /* per replica: (k, h) at [k * stride + offset + h];
					     * NULL: the guarantee min[r] at every step. Float:
					     * the forecast's scenarios are, and at fleet scale
					     * these rows are most of the planner's memory */
	double factor;                /* times demand: the share of this replica in the wave */
	double min[ADP_RES_COUNT];    /* guarantee */
	double spread;                /* (q_conf - q50) / q_conf, the worst resource: 0 sure .. 1 vague */
	const double *spread_h;       /* per replica, q_conf - q50: (r, h) at [r * stride + offset + h]
				       * (times factor); NULL with dependence 0 */
};

struct part_wave_problem {
	size_t nparts, ncomps, nmovers, K, H, stride, offset;
	const double *capacity;       /* [p * R + r]; <= 0: unmetered */
	const unsigned char *online;  /* [p] */
	const double *base;           /* stayers' load: (p, r, h, k) at [((p * R + r) * stride + offset + h) * K + k] */
	const double *base_min;       /* [p * R + r]: stayers' guarantees */
	const int *hosts;             /* [comp * nparts + p]: stayer replicas of comp on p */
	const char *const *zone;      /* [p], or NULL */
	const struct part_wave_mover *movers;
	double eps[ADP_RES_COUNT];
	double weights[SCHEDULE_NWEIGHTS];
	/* The co-movement floor (schedule "dependence"): the total at the
	 * confidence is at least the scenarios' median of the total plus
	 * dependence x the sum of the replicas' spreads (quantile at the
	 * confidence minus median). base_spread: (p, r, h) at
	 * [(p * R + r) * stride + offset + h]; NULL with dependence 0. */
	double dependence;
	const double *base_spread;
	/* Where the planner is (for a solver that reports per wave): the
	 * 1-based wave, and whether this is a trial of a remedy (a scratch
	 * plan, not the plan's placement). */
	size_t wave;
	int trial;
};

/* The heuristic: critical tiers and the largest first, each on the
 * partition of least cost (risk, then the most headroom, then the home's
 * zone) among the few with the most headroom. assign[i] is a partition
 * index, or PART_UNPLACED when anti-affinity leaves none; a mover that
 * fits nowhere goes where it is least short (the caller shares the
 * shortage). Returns 0 or ADP_ENOMEM. */
int part_place_movers(const struct part_wave_problem *pb, size_t *assign);

/* Scores an assignment (any solver's): *cost is the sum over movers of
 * weights[risk] x impact(tier) x the overload probability of the
 * partition it joins + weights[confidence] x spread x its share of that
 * partition + weights[moves]; *violations counts partition, resource and
 * step triples where the chance constraint or the guarantees fail, plus
 * unplaced movers and anti-affinity breaks. */
int part_wave_evaluate(const struct part_wave_problem *pb, const size_t *assign, double *cost,
		       size_t *violations);

/* The share of partition p's capacity that mover i takes at its peak,
 * as the confidence term of part_wave_evaluate counts it. */
double part_wave_share(const struct part_wave_problem *pb, size_t i, size_t p);

/* The impact weight of a tier: 1 for tier 0 down to 0.1 for tier 9. */
double part_tier_impact(int tier);

/* The whole `plan` pipeline on files: inventory, schedule, history (the
 * inventory's own and extra long-format files), forecast, planner, and
 * the digests of every input. */
/* Every pointer is borrowed for the call. */
struct part_run_opts {
	const char *inventory, *schedule;
	const char *const *history;   /* extra long-format files */
	size_t nhistory;
	int64_t now;
	/* A recurring window's occurrence: the first starting at or after
	 * this (0: at or after now). */
	int64_t occurrence;
	/* As part_request.feedback; copied into the plan, which says so. */
	const struct plan_feedback *feedback;
	size_t nfeedback;
	const char *model;            /* NULL: default */
	const char *tool_version;
	/* Prometheus read before the inventory's own history (NULL: none);
	 * its series are named by the label and limited to the inventory's
	 * components. */
	const struct history_prom_opts *prom;
	/* Passed to part_request (NULL: the heuristic). */
	int (*place_movers)(const struct part_wave_problem *pb, size_t *assign, void *arg);
	void *place_arg;
	double consolidation_work;    /* passed to part_request (0: the default) */
	int preallocate;              /* passed to part_request */
	/* adpart-update rebalance: the schedule's window replaced by the next
	 * rebalance seconds from now (on the step grid), nothing updated;
	 * part_request.rebalance. 0: a window plan. */
	int64_t rebalance;
	/* Told each phase as it starts ("reading history", "forecasting",
	 * "planning", "hashing the inputs") and, while forecasting, each
	 * series done of total (0 and 0 otherwise); NULL: none. */
	void (*progress)(void *ctx, const char *phase, size_t done, size_t total);
	void *progress_ctx;
};

/* Fills out (owned, as part_plan), inputs and digest included. */
int part_run(struct plan *out, const struct part_run_opts *o);

#endif
