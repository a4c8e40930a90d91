/* Replays actual load through a plan: per component and resource, how
 * often and how badly demand exceeded the plan's allocation, and the
 * slack left, against three baselines sized from the history before the
 * window (static peak, a VPA-like decaying histogram, reactive). */
#ifndef ADP_SIMULATE_H
#define ADP_SIMULATE_H

#include "history/history.h"
#include "plans/accuracy.h"
#include "plans/plan.h"

/* PART_SIM_EQUAL: the VPA-like recommendations scaled, per resource, so
 * that their total reserve equals the plan's: violations at equal
 * reserved capacity. */
enum part_sim_method { PART_SIM_PLAN, PART_SIM_PEAK, PART_SIM_VPA, PART_SIM_REACTIVE, PART_SIM_EQUAL,
		       PART_SIM_COUNT };

extern const char *const part_sim_method_names[PART_SIM_COUNT];

struct part_sim_stats {
	size_t steps;          /* steps with an actual value */
	size_t violations;     /* steps with demand above allocation */
	double excess_sum;     /* sum of demand minus allocation where above */
	double excess_max;
	double slack_sum;      /* sum of allocation minus demand where not above */
	size_t breaches;       /* violations where the allocation was below the guarantee */
	double reserved_sum;   /* sum over the steps of what is set aside: the plan's
				* reservations; a baseline's allocation */
	double demand_sum;     /* sum over the steps of the actual demand */
};

struct part_sim_row {
	char *component;       /* owned */
	int resource;
	struct part_sim_stats m[PART_SIM_COUNT];
	/* The plan's forecast against the actuals over the waves' steps:
	 * the component's p50 and p95 (its placements' per-step bands
	 * summed, else their peaks), the figures of accuracy
	 * (plans/accuracy.h). */
	struct acc_row fc;
};

/* One online partition and resource over the plan's waves: the actual
 * total of the replicas placed there (each a 1/n share of its component's
 * demand) against the capacity, and against the total the plan predicted
 * at its confidence (the chance constraint's bound). */
struct part_sim_part {
	char *partition;       /* owned */
	int resource;
	double capacity;
	size_t steps;          /* steps where every placed component had a value */
	size_t overloads;      /* actual total above capacity */
	size_t above_bound;    /* actual total above the predicted bound */
	size_t bound_steps;    /* steps with a predicted bound */
	double peak_util;      /* highest actual total over capacity */
	double excess_max;     /* the most the actual total went over the capacity */
	double slack_sum;      /* sum of capacity minus actual total where within it */
};

/* Calibration of the plan's risk: the host-steps (online partition and
 * step, where the plan has a per-step P(total > capacity)) binned by that
 * predicted probability, beside how many actually went over capacity.
 * Bin b holds [part_sim_bin_edges[b], part_sim_bin_edges[b + 1]), the
 * last one 1 included. */
#define PART_SIM_NBINS 7

extern const double part_sim_bin_edges[PART_SIM_NBINS + 1];

struct part_sim_bin {
	size_t steps;          /* host-steps whose predicted P(overload) is in the bin */
	double prob_sum;       /* sum of those predictions */
	size_t overloads;      /* of those, steps whose actual total exceeded the capacity */
};

/* The index of p's bin. */
int part_sim_bin_of(double p);

struct part_sim {
	struct part_sim_row *rows; /* owned */
	size_t n;
	struct part_sim_part *parts; /* owned */
	size_t nparts;
	struct part_sim_bin calib[ADP_RES_COUNT][PART_SIM_NBINS];
};

/* Evaluates every step of the plan's waves that h covers. The plan's
 * allocation of a component is the sum over its placements in the wave;
 * baselines use only history before the window's start. */
struct part_sim_guarantee {
	const char *component; /* borrowed */
	double min[ADP_RES_COUNT];
};

/* guarantees (n of them, may be NULL) are the components' minimums, for
 * counting breaches. Inputs are borrowed; *out owns its rows. */
int part_simulate(struct part_sim *out, const struct plan *p, const struct history *h,
		  const struct part_sim_guarantee *guarantees, size_t nguarantees);

void part_sim_release(struct part_sim *s);

#endif
