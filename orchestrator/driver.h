/* The one interface between apply's engine and the world: a driver is
 * an ops table with one slot per step action (like curl's protocol
 * handlers), so that the engine never asks which driver it runs and a
 * driver never asks which action it was given by name. */
#ifndef ADP_ORCH_DRIVER_H
#define ADP_ORCH_DRIVER_H

#include <stddef.h>
#include <sys/types.h>

#include "plans/plan.h"
#include "plans/steps.h"

/* The engine's reserve in the state directory (adp_reserve_make): a
 * driver that writes there on its own account (logs) stops when the
 * file is gone, leaving the room to the journal and the rollback. */
#define ORCH_RESERVE_NAME "reserve"

/* Every pointer the engine passes to a callback (plan, step, placement,
 * component and partition names, msg) is borrowed for the call; msg is
 * the engine's buffer of len bytes. */

/* Carries out one step (its forward or inverse action) and must be
 * idempotent: after a crash the engine repeats the step that was
 * started but not recorded as done. msg receives a one-line observation
 * (may be left empty). 0, or a negative ADP_E* with the reason set, or
 * ORCH_ACT_STOP (going forward only). */
typedef int (*orch_act_fn)(void *ctx, const struct plan *p, const struct plan_step *s, char *msg,
			   size_t len);

/* An act's answer: the step did not finish and should not fail the run
 * either (the user chose to stop there, such as a drain out of time);
 * the act undid its own changes or left them for the step's inverse,
 * and set the reason. The engine journals the step "started" (a
 * --resume repeats it, a --rollback undoes it) and stops, resumable. */
#define ORCH_ACT_STOP 1

/* An act's answer: the step did not finish and its wave is to be given
 * up (a drain out of time with --on-drain-timeout skip); the act undid
 * its own changes, as for ORCH_ACT_STOP, and set the reason. The engine
 * journals the step failed, undoes the wave's other steps (journaled in
 * "given_up"), journals the whole wave "skipped" and goes on with the
 * next. Going forward only: undoing, it is a failure like any other. */
#define ORCH_ACT_SKIP 2

struct orch_driver {
	void *ctx; /* the driver's state, owned by whoever filled the driver */
	/* Verifies the driver's prerequisites for the plan before anything
	 * starts. */
	int (*check)(void *ctx, const struct plan *p);
	/* Indexed by enum plan_action (PLAN_ACTION_COUNT slots, borrowed):
	 * a NULL slot means the driver has nothing to do for that action,
	 * and the step succeeds at once. */
	const orch_act_fn *ops;
	/* Actual usage of the moved replica x's shadow: 0 with have[r] set
	 * for what was measured, 1 for "no data", or a negative ADP_E*.
	 * NULL: the driver cannot measure, the engine does not monitor. */
	int (*sample)(void *ctx, const struct plan *p, const struct plan_placement *x,
		      double usage[ADP_RES_COUNT], int have[ADP_RES_COUNT]);
	/* Whether the instance of component's replica on partition is alive
	 * and serving (its process, its health check, its load balancer's
	 * view): 0 serving, 1 down (msg says why), 2 cannot tell (nothing to
	 * check), or a negative ADP_E*. Called for every instance carrying
	 * traffic in the wave, at step boundaries and, with
	 * sample_during_act, on the monitoring timer; it must be quick (a
	 * try or two, seconds at most). NULL: liveness is not watched. */
	int (*probe)(void *ctx, const struct plan *p, const char *component, size_t replica, const char *partition,
		     char *msg, size_t len);
	/* Raises x's limit for resource r to limit (within headroom). NULL:
	 * the grow policy only warns. */
	int (*grow)(void *ctx, const struct plan *p, const struct plan_placement *x, int r, double limit);
	/* Sets x's limit for resource r to limit, up or down: apply's loans
	 * (--on-deviation borrow) lower a lender's and raise a borrower's,
	 * and give them back. Exact and idempotent (a resume or a rollback
	 * sets the allocation again). NULL: nothing is borrowed (the
	 * deviation is recorded as with warn). */
	int (*set_limit)(void *ctx, const struct plan *p, const struct plan_placement *x, int r, double limit);
	/* Whether process pid belongs to the instance x (apply's request
	 * API authenticates a caller by it): 1 yes, 0 no, or a negative
	 * ADP_E*. Called on the engine's thread, possibly while an act runs;
	 * quick. NULL: every request is refused. */
	int (*owns)(void *ctx, const struct plan *p, const struct plan_placement *x, pid_t pid);
	/* Asks the act under way to return as soon as it can (its step timed
	 * out, or monitoring stopped the wave). Called from the engine's
	 * thread while the act runs on a worker thread, repeatedly until it
	 * returns; NULL: the engine waits for the act to return. */
	void (*cancel)(void *ctx);
	/* Non-zero: sample may run on the engine's thread while an act runs
	 * on the worker (monitoring on a timer during long steps); zero:
	 * monitoring only at step boundaries. */
	int sample_during_act;
	/* The driver's own gate before wave (1-based), beside the schedule's
	 * (the kubernetes driver's blocking pods): 0 open, 1 blocked (why
	 * says by what), or a negative ADP_E* when it cannot tell, which
	 * blocks too (fails closed). NULL: none. */
	int (*gate)(void *ctx, const struct plan *p, size_t wave, char *why, size_t len);
};

#endif
