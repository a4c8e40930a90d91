/* The step vocabulary of a plan: the actions `apply` runs, their
 * inverses and default timeouts, and the expansion of a plan's waves into
 * its ordered steps. Words of the plan document, used by the planner
 * (which builds the steps), the parser (which checks them) and the
 * engine and drivers (which run them). */
#ifndef ADP_PLAN_STEPS_H
#define ADP_PLAN_STEPS_H

#include "plans/plan.h"

/* Per moved replica, in order: create_partition (the target's cgroup or
 * slot, sized to the allocation), start_shadow, health_check, canary,
 * verify_shadow, switch_traffic, drain, stop_original. Per offline
 * partition: run_update, verify_partition. Then per moved replica:
 * start_original, health_check_original, switch_back, stop_shadow,
 * cleanup.
 *
 * A wave's absorbed replicas (down during the wave, their load carried by
 * the component's other replicas) and its resized staying replicas add:
 * resize per staying replica that the wave grants less than its forecast
 * (a reduction in the plan) or whose component has an absorbed replica,
 * first in the wave; after the moved replicas' stop_original, per
 * absorbed replica drain_absorbed then stop_absorbed (on its home);
 * after verify_partition, start_absorbed, health_check_absorbed,
 * undrain_absorbed (traffic back); last in the wave, restore_size per
 * resized replica. resize and restore_size are each other's inverse.
 *
 * A plan made with preallocation (plan->preallocate) also starts each
 * wave w below the last with preallocate_shadow per moved replica of
 * wave w + 1 whose shadow partition stays online in wave w: the shadow
 * made ahead with a minimal footprint, so that the next wave's
 * start_shadow only resizes it. Its step names wave w (the waves' steps
 * stay contiguous) and the shadow's partition; the replica it prepares is
 * the moved one of wave w + 1 (plan_step_moved). Its inverse is
 * release_shadow. Wave 1 has no wave before it: its shadows are made as
 * without preallocation. */
enum plan_action {
	PLAN_CREATE_PARTITION,
	PLAN_START_SHADOW,
	PLAN_HEALTH_CHECK,
	PLAN_CANARY,
	PLAN_VERIFY_SHADOW,
	PLAN_SWITCH_TRAFFIC,
	PLAN_DRAIN,
	PLAN_STOP_ORIGINAL,
	PLAN_RUN_UPDATE,
	PLAN_VERIFY_PARTITION,
	PLAN_START_ORIGINAL,
	PLAN_HEALTH_CHECK_ORIGINAL,
	PLAN_SWITCH_BACK,
	PLAN_STOP_SHADOW,
	PLAN_CLEANUP,
	PLAN_DRAIN_ABSORBED,
	PLAN_STOP_ABSORBED,
	PLAN_START_ABSORBED,
	PLAN_HEALTH_CHECK_ABSORBED,
	PLAN_UNDRAIN_ABSORBED,
	PLAN_RESIZE,
	PLAN_RESTORE_SIZE,
	PLAN_PREALLOCATE_SHADOW,
	PLAN_REMOVE_PARTITION,
	PLAN_RESTORE_TRAFFIC,
	PLAN_UNDRAIN,
	PLAN_RELEASE_SHADOW,
	PLAN_ACTION_COUNT
};

struct plan_action_def {
	const char *name;      /* static */
	const char *inverse;   /* static: the action that undoes it, or NULL */
	int64_t default_timeout;
};

/* Indexed by enum plan_action; a NULL name ends it at PLAN_ACTION_COUNT. */
extern const struct plan_action_def plan_actions[PLAN_ACTION_COUNT + 1];

/* Borrowed; NULL for an unknown name. */
const struct plan_action_def *plan_action_find(const char *name);
/* enum plan_action of name, or -1 for an unknown name: a lookup, not an
 * error code (no message is set). */
int plan_action_id(const char *name);

/* Replaces p->steps and p->rollback with the expansion of p->waves. The
 * rollback list holds the inverse of every forward step that has one, in
 * reverse order. update_timeout is applied to run_update steps per
 * partition (looked up by name; 0 when absent uses the default). */
int plan_steps_build(struct plan *p, int64_t (*update_timeout)(const char *partition, void *ctx),
		     void *ctx);

/* The placement a step acts on (borrowed, or NULL): the moved replica
 * of the step's component and replica in its wave (in the next wave for
 * preallocate_shadow and release_shadow), or the staying one on the
 * step's partition (resize, restore_size). */
const struct plan_placement *plan_step_moved(const struct plan *p, const struct plan_step *s);
const struct plan_placement *plan_step_stayer(const struct plan *p, const struct plan_step *s);

/* Whether a preallocate_shadow or release_shadow step is one that
 * plan_steps_build would make: a wave below the last, the moved replica
 * of the next wave, its shadow partition, online in the step's wave.
 * 1 when it is (or the step is of another action), else 0 with why. */
int plan_step_prealloc_ok(const struct plan *p, const struct plan_step *s, char *why, size_t len);

#endif
