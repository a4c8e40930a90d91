/* The state machine `apply` runs, as a list of steps. The orchestrator
 * owns the vocabulary of actions and their order; the planner asks it to
 * expand the plan's waves into the steps stored in the plan document. */
#ifndef ADP_ORCH_STEPS_H
#define ADP_ORCH_STEPS_H

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
 * resized replica. resize and restore_size are each other's inverse. */
struct orch_action {
	const char *name;
	const char *inverse;   /* the action that undoes it, or NULL */
	int64_t default_timeout;
};

extern const struct orch_action orch_actions[];

/* Borrowed; NULL for an unknown name. */
const struct orch_action *orch_action_find(const char *name);

/* Replaces p->steps and p->rollback with the expansion of p->waves. The
 * rollback list holds the inverse of every forward step that has one, in
 * reverse order. update_timeout is applied to run_update steps per
 * partition (looked up by name; 0 when absent uses the default). */
int orch_steps_build(struct plan *p, int64_t (*update_timeout)(const char *partition, void *ctx),
		     void *ctx);

/* The placement a step acts on (borrowed, or NULL): the moved replica
 * of the step's component and replica in its wave, or the staying one on
 * the step's partition (resize, restore_size). */
const struct plan_placement *orch_step_moved(const struct plan *p, const struct plan_step *s);
const struct plan_placement *orch_step_stayer(const struct plan *p, const struct plan_step *s);

#endif
