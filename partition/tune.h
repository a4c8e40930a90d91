/* Learned planning weights: the planner's cost weights searched against
 * the replayed outcomes of past windows, with a time split (weights
 * learned on the earlier windows, judged on the later ones).
 *
 * The search is successive halving (a bandit over a fixed budget) on a
 * seeded Latin-hypercube sample of weight vectors, log-uniform within a
 * factor PART_TUNE_SPREAD either side of today's weights; a window is
 * the unit of budget. Every evaluation is a plan, so few are affordable:
 * halving spends most of them on the candidates that look best. */
#ifndef ADP_TUNE_H
#define ADP_TUNE_H

#include <stddef.h>
#include <stdint.h>

#include "partition/schedule.h"

#define PART_TUNE_SPREAD 10.0       /* each weight within [w / 10, w x 10] of today's */
#define PART_TUNE_MAX_WINDOWS 60
#define PART_TUNE_MAX_CANDIDATES 64
#define PART_TUNE_DEFAULT_WINDOWS 6
#define PART_TUNE_DEFAULT_CANDIDATES 8
#define PART_TUNE_DEFAULT_TRAIN (2.0 / 3.0)
#define PART_TUNE_DEFAULT_LEAD 3600

/* The score's coefficients (adpart-update(1), "tune"): lower is better. */
#define PART_TUNE_K_VIOLATIONS 50.0 /* times the share of component-steps above the allocation */
#define PART_TUNE_K_OVERLOADS 50.0  /* times the share of host-steps above the capacity */
#define PART_TUNE_K_MOVES 0.01      /* per move per window */
#define PART_TUNE_K_INFEASIBLE 10.0 /* times the share of windows without a plan that fits */

/* ---- The search, on any objective ---- */

/* n vectors of dim weights into w (row i at w[i * dim]): a Latin
 * hypercube in log space, weight j of every row within [center[j] /
 * spread, center[j] x spread] (spread >= 1), rounded to 3 significant
 * digits and kept within those bounds. The same seed gives the same
 * rows. */
void part_tune_sample(double *w, size_t n, size_t dim, const double *center, double spread, uint64_t seed);

/* The objective: candidate cand (its row of weights w) scored on its
 * first units units of budget (the most telling first); lower is
 * better. 0 or a negative ADP_E*. */
typedef int (*part_tune_eval_fn)(void *ctx, size_t cand, const double *w, size_t units, double *score);

/* Successive halving over n candidates (rows of dim in w) with nunits
 * units: each rung scores the survivors on more units (the last on all
 * nunits) and keeps the better half, ties to the lower index, until one
 * is left. *best is its index and *score its score on all units. */
int part_tune_halving(size_t *best, double *score, const double *w, size_t n, size_t dim, size_t nunits,
		      part_tune_eval_fn eval, void *ctx);

/* ---- Tuning the planner on past windows ---- */

/* Every pointer is borrowed for the call. */
struct part_tune_opts {
	const char *inventory, *schedule;
	const char *const *history;   /* extra long-format files */
	size_t nhistory;
	int64_t now;                  /* nothing at or after it is read */
	int64_t lead;                 /* each past window is planned this long before it starts */
	size_t windows;               /* past windows, 2 .. PART_TUNE_MAX_WINDOWS */
	double train;                 /* the earlier share of them learned on, in (0, 1) */
	size_t candidates;            /* weight vectors, today's among them, 1 .. PART_TUNE_MAX_CANDIDATES */
	uint64_t seed;
	const char *model;            /* NULL: the default */
};

/* Outcomes of a weight vector summed over some windows. */
struct part_tune_summary {
	size_t windows;
	size_t comp_steps, violations; /* component-steps with actual load; those above the allocation */
	size_t host_steps, overloads;  /* online host-steps; those above the capacity */
	size_t moves;                  /* replicas placed away from home, over the waves */
	size_t infeasible;             /* windows whose plan did not fit */
	/* sums over component-steps: the plan's reservations, its
	 * allocations (the limits violations are counted against) and the
	 * actual demand */
	double reserved[ADP_RES_COUNT], allocated[ADP_RES_COUNT], actual[ADP_RES_COUNT];
	double reserved_ratio;         /* mean over resources with load of reserved / actual */
	double allocated_ratio;        /* the same of allocated / actual: the score's term */
	double score;
};

struct part_tune_result {
	size_t nwindows, ntrain;
	int64_t *window_start;        /* owned: nwindows, oldest first; the first ntrain are learned on */
	int64_t window_length;
	double today[SCHEDULE_NWEIGHTS], proposed[SCHEDULE_NWEIGHTS];
	double lo[SCHEDULE_NWEIGHTS], hi[SCHEDULE_NWEIGHTS]; /* the search's bounds */
	size_t candidates, evaluations; /* evaluations: plans made and replayed */
	/* today's and the proposed weights on the train and test windows */
	struct part_tune_summary today_train, today_test, best_train, best_test;
	int improved;                 /* the proposed weights score lower than today's on the test windows */
};

/* The score of a summary (filled in by the sums). */
void part_tune_score(struct part_tune_summary *s);

/* Plans each past window (the schedule's window shifted back by whole
 * periods, the most recent o->windows that end by o->now, each planned
 * o->lead before it starts on the history before then) with candidate
 * weights, replays the actual load through each plan, and searches on the
 * earlier windows. *out owns what it holds. */
int part_tune(struct part_tune_result *out, const struct part_tune_opts *o);

void part_tune_release(struct part_tune_result *r);

/* Writes the schedule at path, its "weights" object set to w (every
 * other field as it was, keys in their order), to out atomically (out
 * may be path itself). 0 or a negative ADP_E*. */
int part_tune_write_schedule(const char *path, const char *out, const double *w);

#endif
