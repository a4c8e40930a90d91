/* The local driver as the engine sees it: init (which checks the
 * inventory's sections) and release, the check before a run, what each
 * step acts on, cancellation, and the ops table (one function per action,
 * in cgroup.c, proc.c, health.c, haproxy.c and monitor.c). */
#include "orchestrator/local/driver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "orchestrator/local/local_int.h"
#include "util/error.h"

int orch_local_init(struct orch_local *l, const struct inventory *inv, const struct schedule *sched,
		    const char *state_dir)
{
	int rc;

	memset(l, 0, sizeof(*l));
	/* The ops rely on the sections' types and bounds. */
	if ((rc = orch_local_config_check(inv)))
		return rc;
	l->inv = inv;
	l->sched = sched;
	if (!(l->state_dir = strdup(state_dir)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	l->cg_mode = orch_cg_detect("/proc/mounts", l->cg_root, sizeof(l->cg_root));
	snprintf(l->sys_root, sizeof(l->sys_root), "/sys");
	return 0;
}

void orch_local_release(struct orch_local *l)
{
	if (!l)
		return;
	free(l->state_dir);
	l->state_dir = NULL;
}

const struct inv_partition *local_find_part(const struct orch_local *l, const char *name)
{
	int i = name ? inventory_partition_index(l->inv, name) : -1;

	return i < 0 ? NULL : &l->inv->parts[i];
}

const struct inv_component *local_find_comp(const struct orch_local *l, const char *name)
{
	int i = name ? inventory_component_index(l->inv, name) : -1;

	return i < 0 ? NULL : &l->inv->comps[i];
}

/* ---- cancellation ---- */

int local_cancelled(const struct orch_local *l)
{
	return __atomic_load_n(&l->cancelled, __ATOMIC_SEQ_CST);
}

/* The engine's cancel: the act under way returns at its next wait. */
static void local_cancel(void *ctx)
{
	struct orch_local *l = ctx;

	__atomic_store_n(&l->cancelled, 1, __ATOMIC_SEQ_CST);
}

int local_nap(const struct orch_local *l, long ms)
{
	for (; ms > 0 && !local_cancelled(l); ms -= 50)
		usleep((useconds_t)(ms < 50 ? ms : 50) * 1000);
	return local_cancelled(l);
}

/* ---- the check before a run ---- */

/* What one step needs of the host: its partition and component in the
 * inventory, a component apply can start, a writable cgroup hierarchy
 * where the partition has a cgroup, HAProxy reachable for a canary, and
 * a schedule for an update. */
static int check_step(const struct orch_local *l, const struct plan_step *s)
{
	const struct inv_component *c = local_find_comp(l, s->component);
	char rel[512], dir[1024], st[64];
	int rc;

	if (s->partition && !local_find_part(l, s->partition))
		return adp_error_set(ADP_EINPUT, "step %zu: partition '%s' is not in the inventory", s->id, s->partition);
	if (s->component && !c)
		return adp_error_set(ADP_EINPUT, "step %zu: component '%s' is not in the inventory", s->id, s->component);
	if (c && !c->run)
		return adp_error_set(ADP_EINPUT, "component '%s' has no run section: apply cannot start it", c->name);
	if (s->partition && local_part_cg(l, s->partition, rel, sizeof(rel))) {
		snprintf(dir, sizeof(dir), "%s%s", l->cg_root, l->cg_mode == ORCH_CG_V1 ? "/memory" : "");
		if (access(dir, W_OK))
			return adp_error_set(ADP_EINPUT, "cgroup hierarchy '%s' is not writable: %s", dir, strerror(errno));
	}
	if (c && c->traffic && s->act == PLAN_CANARY && (rc = local_server_status(c, s->partition, st, sizeof(st))))
		return adp_error_wrap(rc, "haproxy prerequisite");
	if (s->act == PLAN_RUN_UPDATE && !l->sched)
		return adp_error_set(ADP_EINPUT, "no schedule to take the update command from");
	return 0;
}

static int local_check(void *ctx, const struct plan *p)
{
	struct orch_local *l = ctx;
	size_t i;
	int rc;

	for (i = 0; i < p->nsteps; i++)
		if ((rc = check_step(l, &p->steps[i])))
			return rc;
	if ((rc = local_controller_check(l, p)))
		return rc;
	return local_capacity_check(l, p);
}

/* ---- what a step acts on ---- */

/* Is s's replica absorbed in its wave (down on its own partition)? */
static int absorbed_in(const struct plan *p, const struct plan_step *s)
{
	size_t i;

	if (!s->wave || s->wave > p->nwaves || !s->component || !s->partition)
		return 0;
	for (i = 0; i < p->waves[s->wave - 1].nabsorbed; i++) {
		const struct plan_absorbed *b = &p->waves[s->wave - 1].absorbed[i];

		if (!strcmp(b->component, s->component) && b->replica == s->replica && !strcmp(b->partition, s->partition))
			return 1;
	}
	return 0;
}

int local_step_begin(struct local_step *t, void *ctx, const struct plan *p, const struct plan_step *s, int need)
{
	memset(t, 0, sizeof(*t));
	t->l = ctx;
	__atomic_store_n(&t->l->cancelled, 0, __ATOMIC_SEQ_CST);
	if (need == LOCAL_NEED_NONE)
		return 0;
	t->c = local_find_comp(t->l, s->component);
	t->x = need == LOCAL_NEED_MOVED ? plan_step_moved(p, s) : NULL;
	if (!t->c || (need == LOCAL_NEED_MOVED && !t->x))
		return adp_error_set(ADP_EINPUT, "step %zu (%s): no moved replica of '%s' in wave %zu", s->id, s->action,
				     s->component ? s->component : "", s->wave);
	local_inst_name(t->inst, sizeof(t->inst), t->c->name, s->replica);
	if (need == LOCAL_NEED_ABSORBED && !absorbed_in(p, s))
		return adp_error_set(ADP_EINPUT, "step %zu (%s): '%s' replica %zu on '%s' is not absorbed in wave %zu",
				     s->id, s->action, s->component, s->replica, s->partition, s->wave);
	t->shadow = t->x ? t->x->partition : NULL;
	t->home = t->x ? t->x->from : s->partition;
	return 0;
}

/* ---- the driver ---- */

/* No NULL slot: every action has something to do, if only to report
 * that a section is missing. */
static const orch_act_fn local_ops[PLAN_ACTION_COUNT] = {
	[PLAN_CREATE_PARTITION] = local_op_create_partition,
	[PLAN_START_SHADOW] = local_op_start_shadow,
	[PLAN_HEALTH_CHECK] = local_op_health_check,
	[PLAN_CANARY] = local_op_canary,
	[PLAN_VERIFY_SHADOW] = local_op_verify_shadow,
	[PLAN_SWITCH_TRAFFIC] = local_op_switch_traffic,
	[PLAN_DRAIN] = local_op_drain,
	[PLAN_STOP_ORIGINAL] = local_op_stop_original,
	[PLAN_RUN_UPDATE] = local_op_run_update,
	[PLAN_VERIFY_PARTITION] = local_op_verify_partition,
	[PLAN_START_ORIGINAL] = local_op_start_original,
	[PLAN_HEALTH_CHECK_ORIGINAL] = local_op_health_check_original,
	[PLAN_SWITCH_BACK] = local_op_restore_traffic,
	[PLAN_STOP_SHADOW] = local_op_stop_shadow,
	[PLAN_CLEANUP] = local_op_remove_partition,
	[PLAN_DRAIN_ABSORBED] = local_op_drain_absorbed,
	[PLAN_STOP_ABSORBED] = local_op_stop_absorbed,
	[PLAN_START_ABSORBED] = local_op_start_absorbed,
	[PLAN_HEALTH_CHECK_ABSORBED] = local_op_health_check_absorbed,
	[PLAN_UNDRAIN_ABSORBED] = local_op_undrain_absorbed,
	[PLAN_RESIZE] = local_op_resize,
	[PLAN_RESTORE_SIZE] = local_op_restore_size,
	[PLAN_PREALLOCATE_SHADOW] = local_op_preallocate_shadow,
	[PLAN_REMOVE_PARTITION] = local_op_remove_partition,
	[PLAN_RESTORE_TRAFFIC] = local_op_restore_traffic,
	[PLAN_UNDRAIN] = local_op_undrain,
	/* The shadow made ahead stopped and its cgroup removed, as at the
	 * end of its wave: in a rollback its wave's own undo runs first, so
	 * there is only something left when that wave had not begun. */
	[PLAN_RELEASE_SHADOW] = local_op_remove_partition,
};

void orch_local_driver(struct orch_driver *d, struct orch_local *l)
{
	*d = (struct orch_driver){
		.ctx = l,
		.check = local_check,
		.ops = local_ops,
		.sample = local_sample,
		.grow = local_grow,
		.set_limit = local_grow,
		.owns = local_owns,
		.probe = local_probe,
		.cancel = local_cancel,
		.sample_during_act = 1,
	};
}
