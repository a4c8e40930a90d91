/* apply's engine: preflight, a journaled state machine over the plan's
 * steps, resume, rollback and the run record. Driver-independent: every
 * effect on the system goes through struct orch_driver. */
#ifndef ADP_ORCH_ENGINE_H
#define ADP_ORCH_ENGINE_H

#include <signal.h>
#include <stdint.h>

#include "plans/plan.h"

#define ORCH_JOURNAL_FORMAT 1

/* What a driver does. act carries out one step (forward or inverse
 * action) and must be idempotent: after a crash the engine repeats the
 * step that was started but not recorded as done. check verifies the
 * driver's prerequisites for the plan before anything starts. msg
 * receives a one-line observation (may be left empty). */
struct orch_driver {
	void *ctx;
	int (*check)(void *ctx, const struct plan *p);
	int (*act)(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len);
	/* Actual usage of the moved replica x's shadow: 0 with have[r] set
	 * for what was measured, 1 for "no data", or a negative ADP_E*. */
	int (*sample)(void *ctx, const struct plan *p, const struct plan_placement *x,
		      double usage[ADP_RES_COUNT], int have[ADP_RES_COUNT]);
	/* Raises x's limit for resource r to limit (within headroom). */
	int (*grow)(void *ctx, const struct plan *p, const struct plan_placement *x, int r, double limit);
	/* Optional: asks the act under way to return as soon as it can (its
	 * step timed out, or monitoring stopped the wave). Called from the
	 * engine's thread while act runs on a worker thread, repeatedly
	 * until act returns; NULL: the engine waits for act to return. */
	void (*cancel)(void *ctx);
	/* Non-zero: sample may run on the engine's thread while act runs
	 * on the worker (monitoring on a timer during long steps); zero:
	 * monitoring only at step boundaries. */
	int sample_during_act;
};

/* What the engine does when actual usage leaves the forecast band. "No
 * data" always stops the wave and rolls back (fails closed). */
enum orch_policy { ORCH_POLICY_WARN, ORCH_POLICY_GROW, ORCH_POLICY_ROLLBACK };

enum orch_outcome {
	ORCH_DONE = 0,        /* every step completed */
	ORCH_ROLLED_BACK = 1, /* a step failed; completed steps were reversed */
	ORCH_FAILED = 2,      /* a step failed and so did the rollback */
	ORCH_REFUSED = 3,     /* preflight refused; nothing was changed */
	ORCH_STOPPED = 4,     /* stopped by a signal at a step boundary; resumable */
};

struct orch_opts {
	const char *plan_path;
	const char *state_dir;    /* journal, lock, pid files, logs */
	const char *record_path;  /* run record, or NULL for state_dir/run.json */
	int resume, rollback;
	int64_t now;              /* for expiry */
	long crash_after;         /* test hook: _exit after journaling this step id, 0 off */
	long crash_before_done;   /* test hook: _exit after this step's act, before journaling it done */
	volatile sig_atomic_t *stop; /* set by a signal handler: stop at the next boundary */
	int policy;               /* enum orch_policy */
	double monitor_interval;  /* seconds between samples during a step; 0: 5 */
};

/* Preflight only: format, digest of the inputs (re-hashed), expiry,
 * infeasible plans. 0 or ADP_EINPUT with the reason. */
int orch_preflight(const struct plan *p, int64_t now);

/* Every act runs on a worker thread while the engine's thread enforces
 * the step's timeout (plan_step.timeout seconds, the action's default
 * when 0): a step still running at its deadline is cancelled and fails
 * ("timed out"), which rolls the apply back. During the act, every
 * monitor_interval, the engine samples the wave's live shadows (when the
 * driver allows it) and applies the deviation policy; a rollback
 * decision cancels the step under way.
 *
 * Runs (or resumes, or rolls back) the plan. Returns 0 with *outcome
 * set, or a negative ADP_E* when it could not run at all (lock held,
 * journal unreadable: *outcome is ORCH_REFUSED). */
int orch_apply(const struct orch_opts *o, const struct orch_driver *d, int *outcome);

#endif
