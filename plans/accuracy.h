/* Post-window accuracy: what apply observed against what the plan
 * predicted, read back from run records. Per window and pooled over
 * windows, per component and resource:
 *   - coverage of the p95 and the p50 (share of samples at or below);
 *   - bias of the p50, relative: (mean actual - mean p50) / mean p50;
 *   - MASE of the p50: mean |actual - p50| over the mean one-step change
 *     of the observed samples (the naive forecast of the window's own
 *     series; the history before it is not in a run record);
 *   - the share of samples above the replica's allocation.
 * Samples are the step-boundary observations (every live shadow sampled
 * after each step); those made during a step are only the deviations,
 * a biased sample, and are left out. */
#ifndef ADP_ACCURACY_H
#define ADP_ACCURACY_H

#include <jansson.h>
#include <stddef.h>

#define ACC_MAX_WINDOWS 10000
#define ACC_MAX_ROWS 100000

struct acc_row {
	char *component;       /* owned */
	int resource;
	size_t n;              /* samples */
	size_t le_p95, le_p50, above_alloc;
	double sum_actual, sum_p50, sum_abs_err;
	double naive_sum;      /* sum of |a_t - a_t-1| of consecutive samples of one replica */
	size_t naive_n;
	/* the last sample of each replica, for the naive scale (replica
	 * index is small: a few slots, extended as needed) */
	double *last;          /* owned, nlast entries; NAN: none yet */
	size_t nlast;
};

struct acc_window {
	char *label;           /* owned: "SCHEDULE/SERIAL" or the file */
	char *outcome;         /* owned, or NULL */
	struct acc_row *rows;  /* owned */
	size_t nrows;
};

struct accuracy {
	struct acc_window *windows; /* owned */
	size_t nwindows;
	struct acc_window pooled;   /* every window's samples together */
};

/* Adds one run record (run borrowed) as a window labelled label. 0, or
 * ADP_EINPUT when it is not a run record (label named), ADP_ENOMEM. */
int accuracy_add_run(struct accuracy *a, const char *label, json_t *run);

/* One sample into r (replica keys the naive scale's previous value);
 * 0 or ADP_ENOMEM. For a replay such as simulate's. */
int acc_row_add(struct acc_row *r, size_t replica, double actual, double p50, double p95, double alloc);
/* Frees what r owns (its component too); NULL-safe. */
void acc_row_release(struct acc_row *r);

/* The figures of a row; NAN where there is nothing to divide by. */
double acc_coverage95(const struct acc_row *r);
double acc_coverage50(const struct acc_row *r);
double acc_bias(const struct acc_row *r);
double acc_mase(const struct acc_row *r);
double acc_above_alloc(const struct acc_row *r);

/* Every run record of the plan store at dir (of schedule only, when not
 * NULL), oldest first, once per plan (its last record). */
int accuracy_add_store(struct accuracy *a, const char *dir, const char *schedule);

/* The feedback loop: per component and resource, adaptive conformal
 * inference (Gibbs and Candes, 2021) on the p95 carried over the
 * windows in order, its step applied once per sample of a window (the
 * band is fixed within one): alpha += gamma * (0.05 - miss), from 0.05,
 * kept within [ACC_ALPHA_MIN, ACC_ALPHA_MAX]; the spread's scale is then
 * z(1 - alpha) / z(0.95) (a Gaussian tail's ratio), so a band missed
 * more often than 5 % widens, one never missed slowly narrows. *out
 * (owned, plan_feedback) has a row per component and resource sampled. */
#define ACC_GAMMA 0.005
#define ACC_ALPHA_MIN 0.0005 /* widest: a scale of 2.0 */
#define ACC_ALPHA_MAX 0.15   /* narrowest: a scale of 0.63 */
struct plan_feedback;
int accuracy_feedback(const struct accuracy *a, struct plan_feedback **out, size_t *n);

void accuracy_release(struct accuracy *a);

#endif
