#include "plans/steps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

const struct plan_action_def plan_actions[PLAN_ACTION_COUNT + 1] = {
	{ "create_partition", "remove_partition", 60 },
	{ "start_shadow", "stop_shadow", 120 },
	{ "health_check", NULL, 120 },
	{ "canary", "restore_traffic", 300 },
	{ "verify_shadow", NULL, 300 },
	{ "switch_traffic", "restore_traffic", 60 },
	{ "drain", "undrain", 300 },
	{ "stop_original", "start_original", 60 },
	{ "run_update", NULL, 3600 },
	{ "verify_partition", NULL, 300 },
	{ "start_original", "stop_original", 120 },
	{ "health_check_original", NULL, 120 },
	{ "switch_back", "switch_traffic", 60 },
	{ "stop_shadow", "start_shadow", 60 },
	{ "cleanup", NULL, 60 },
	/* Absorbed replicas (plan_wave.absorbed): down during the wave while
	 * the component's other replicas carry their load. */
	{ "drain_absorbed", "undrain_absorbed", 300 },
	{ "stop_absorbed", "start_absorbed", 60 },
	{ "start_absorbed", "stop_absorbed", 120 },
	{ "health_check_absorbed", NULL, 120 },
	{ "undrain_absorbed", "drain_absorbed", 60 },
	/* Staying replicas whose allocation the wave changes. */
	{ "resize", "restore_size", 120 },
	{ "restore_size", "resize", 120 },
	/* A shadow of the next wave made ahead (plan --preallocate). */
	{ "preallocate_shadow", "release_shadow", 120 },
	/* inverses only */
	{ "remove_partition", NULL, 60 },
	{ "restore_traffic", NULL, 60 },
	{ "undrain", NULL, 60 },
	{ "release_shadow", NULL, 60 },
	{ NULL, NULL, 0 },
};

int plan_action_id(const char *name)
{
	size_t i;

	for (i = 0; name && plan_actions[i].name; i++)
		if (!strcmp(plan_actions[i].name, name))
			return (int)i;
	return -1;
}

const struct plan_action_def *plan_action_find(const char *name)
{
	int id = plan_action_id(name);

	return id < 0 ? NULL : &plan_actions[id];
}

struct list {
	struct plan_step *v;
	size_t n, alloc;
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Appends a step of action a (a row of plan_actions). */
static int push_def(struct list *l, size_t wave, const struct plan_action_def *a, const char *partition,
		    const char *component, size_t replica, const char *target, int64_t timeout)
{
	struct plan_step *s;

	if (l->n == l->alloc) {
		size_t n = l->alloc ? l->alloc * 2 : 64;
		struct plan_step *g = realloc(l->v, n * sizeof(*g));
		if (!g)
			return adp_error_set(ADP_ENOMEM, "out of memory");
		l->v = g;
		l->alloc = n;
	}
	s = &l->v[l->n];
	memset(s, 0, sizeof(*s));
	s->id = l->n + 1;
	s->wave = wave;
	s->replica = replica;
	s->timeout = timeout ? timeout : a->default_timeout;
	s->action = strdup(a->name);
	s->act = (int)(a - plan_actions);
	s->partition = dup_or_null(partition);
	s->component = dup_or_null(component);
	s->target = dup_or_null(target);
	l->n++;
	if (!s->action || (partition && !s->partition) || (component && !s->component) ||
	    (target && !s->target))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	return 0;
}

static int push(struct list *l, size_t wave, const char *action, const char *partition,
		const char *component, size_t replica, const char *target, int64_t timeout)
{
	return push_def(l, wave, plan_action_find(action), partition, component, replica, target, timeout);
}

/* A step of a moved replica: on its home (x->from) or where it runs
 * during the wave, and whether the new partition is the target. */
struct moved_step {
	const char *action;
	int on_home, to_target;
};

/* Pushes each of the n actions in turn for every moved replica of wave
 * w (0-based). */
static int push_moved(struct list *fwd, size_t w, const struct plan_wave *wave, const struct moved_step *t, size_t n)
{
	size_t k, j;
	int rc = 0;

	for (k = 0; k < n && !rc; k++) {
		const struct plan_action_def *a = plan_action_find(t[k].action);

		for (j = 0; j < wave->nplacements && !rc; j++) {
			const struct plan_placement *x = &wave->placements[j];

			if (x->from)
				rc = push_def(fwd, w + 1, a, t[k].on_home ? x->from : x->partition, x->component,
					      x->replica, t[k].to_target ? x->partition : NULL, 0);
		}
	}
	return rc;
}

/* Pushes each of the n actions in turn for every absorbed replica of
 * wave w (0-based), on its home. */
static int push_absorbed(struct list *fwd, size_t w, const struct plan_wave *wave, const char *const *actions,
			 size_t n)
{
	size_t k, j;
	int rc = 0;

	for (k = 0; k < n && !rc; k++)
		for (j = 0; j < wave->nabsorbed && !rc; j++)
			rc = push(fwd, w + 1, actions[k], wave->absorbed[j].partition, wave->absorbed[j].component,
				  wave->absorbed[j].replica, NULL, 0);
	return rc;
}

/* A staying replica of wave w (0-based) is resized when the plan grants
 * it less than its forecast (a reduction) or when a replica of its
 * component is absorbed in the wave (its share grows). */
static int needs_resize(const struct plan *p, size_t w, const struct plan_placement *x)
{
	const struct plan_wave *wave = &p->waves[w];
	size_t i;

	if (x->from)
		return 0;
	if (p->rebalance)
		return 1;
	for (i = 0; i < p->nreductions; i++)
		if (p->reductions[i].wave == w + 1 && p->reductions[i].component &&
		    !strcmp(p->reductions[i].component, x->component) && p->reductions[i].replica == x->replica)
			return 1;
	for (i = 0; i < wave->nabsorbed; i++)
		if (wave->absorbed[i].component && !strcmp(wave->absorbed[i].component, x->component))
			return 1;
	return 0;
}

/* Wave w (0-based) makes ahead the shadows of wave w + 1 whose partition
 * it keeps online: a shadow on a partition being updated would be lost
 * to (or hold up) its update. */
static int push_prealloc(struct list *fwd, const struct plan *p, size_t w)
{
	const struct plan_wave *next = &p->waves[w + 1];
	size_t j;
	int rc = 0;

	for (j = 0; j < next->nplacements && !rc; j++) {
		const struct plan_placement *x = &next->placements[j];

		if (x->from && !plan_wave_offline(&p->waves[w], x->partition))
			rc = push(fwd, w + 1, "preallocate_shadow", x->partition, x->component, x->replica, NULL, 0);
	}
	return rc;
}

int plan_steps_build(struct plan *p, int64_t (*update_timeout)(const char *partition, void *ctx),
		     void *ctx)
{
	/* Steps on the shadow name its partition; drain and stop act on the
	 * home, and bringing the original back moves traffic from the shadow. */
	static const struct moved_step before[] = {
		{ "create_partition", 0, 0 }, { "start_shadow", 0, 0 }, { "health_check", 0, 0 },
		{ "canary", 0, 0 },           { "verify_shadow", 0, 0 }, { "switch_traffic", 0, 0 },
		{ "drain", 1, 0 },            { "stop_original", 1, 0 },
	};
	static const struct moved_step after[] = {
		{ "start_original", 1, 1 }, { "health_check_original", 1, 1 }, { "switch_back", 1, 1 },
		{ "stop_shadow", 0, 0 },    { "cleanup", 0, 0 },
	};
	static const char *const away[] = { "drain_absorbed", "stop_absorbed" };
	static const char *const back_in[] = { "start_absorbed", "health_check_absorbed", "undrain_absorbed" };
	const struct plan_action_def *inverse[PLAN_ACTION_COUNT];
	struct list fwd = { 0 }, back = { 0 };
	size_t w, j, i;
	int rc = 0;

	for (w = 0; w < p->nwaves && !rc; w++) {
		const struct plan_wave *wave = &p->waves[w];

		/* First, so that the next wave's shadows start while this
		 * wave's updates run. */
		if (p->preallocate && w + 1 < p->nwaves && (rc = push_prealloc(&fwd, p, w)))
			break;
		/* Staying replicas the wave resizes grow (or shrink) first, so
		 * that siblings are ready to carry an absorbed replica's load. */
		for (j = 0; j < wave->nplacements && !rc; j++)
			if (needs_resize(p, w, &wave->placements[j]))
				rc = push(&fwd, w + 1, "resize", wave->placements[j].partition,
					  wave->placements[j].component, wave->placements[j].replica, NULL, 0);
		if (!rc)
			rc = push_moved(&fwd, w, wave, before, sizeof(before) / sizeof(before[0]));
		if (!rc)
			rc = push_absorbed(&fwd, w, wave, away, sizeof(away) / sizeof(away[0]));
		for (j = 0; j < wave->noffline && !rc; j++) {
			int64_t t = update_timeout ? update_timeout(wave->offline[j], ctx) : 0;

			rc = push(&fwd, w + 1, "run_update", wave->offline[j], NULL, 0, NULL, t);
			if (!rc)
				rc = push(&fwd, w + 1, "verify_partition", wave->offline[j], NULL, 0, NULL, 0);
		}
		if (!rc)
			rc = push_absorbed(&fwd, w, wave, back_in, sizeof(back_in) / sizeof(back_in[0]));
		if (!rc)
			rc = push_moved(&fwd, w, wave, after, sizeof(after) / sizeof(after[0]));
		/* The resized replicas get their prior limits back (a
		 * rebalance keeps its sizes: only its rollback restores). */
		for (j = 0; j < wave->nplacements && !rc && !p->rebalance; j++)
			if (needs_resize(p, w, &wave->placements[j]))
				rc = push(&fwd, w + 1, "restore_size", wave->placements[j].partition,
					  wave->placements[j].component, wave->placements[j].replica, NULL, 0);
	}
	/* The rollback list undoes every step that has an inverse, last
	 * first; each action's inverse looked up once. */
	for (i = 0; i < PLAN_ACTION_COUNT; i++)
		inverse[i] = plan_actions[i].inverse ? plan_action_find(plan_actions[i].inverse) : NULL;
	for (i = fwd.n; i-- > 0 && !rc;)
		if (inverse[fwd.v[i].act])
			rc = push_def(&back, fwd.v[i].wave, inverse[fwd.v[i].act], fwd.v[i].partition, fwd.v[i].component,
				      fwd.v[i].replica, fwd.v[i].target, 0);
	if (rc) {
		plan_steps_free(fwd.v, fwd.n);
		plan_steps_free(back.v, back.n);
		return rc;
	}
	plan_steps_free(p->steps, p->nsteps);
	plan_steps_free(p->rollback, p->nrollback);
	p->steps = fwd.v;
	p->nsteps = fwd.n;
	p->rollback = back.v;
	p->nrollback = back.n;
	return 0;
}

/* One lookup for every driver: replicas are few per wave. */
static const struct plan_placement *step_lookup(const struct plan *p, const struct plan_step *s, int moved)
{
	size_t i, w = s->wave;

	if (moved && (s->act == PLAN_PREALLOCATE_SHADOW || s->act == PLAN_RELEASE_SHADOW))
		w++;
	if (!w || w > p->nwaves || !s->component || (!moved && !s->partition))
		return NULL;
	for (i = 0; i < p->waves[w - 1].nplacements; i++) {
		const struct plan_placement *x = &p->waves[w - 1].placements[i];

		if (strcmp(x->component, s->component) || x->replica != s->replica)
			continue;
		if (moved ? x->from != NULL : !x->from && !strcmp(x->partition, s->partition))
			return x;
	}
	return NULL;
}

const struct plan_placement *plan_step_moved(const struct plan *p, const struct plan_step *s)
{
	return step_lookup(p, s, 1);
}

const struct plan_placement *plan_step_stayer(const struct plan *p, const struct plan_step *s)
{
	return step_lookup(p, s, 0);
}

int plan_step_prealloc_ok(const struct plan *p, const struct plan_step *s, char *why, size_t len)
{
	const struct plan_placement *x;

	if (s->act != PLAN_PREALLOCATE_SHADOW && s->act != PLAN_RELEASE_SHADOW)
		return 1;
	if (!s->wave || s->wave >= p->nwaves) {
		snprintf(why, len, "prepares a shadow of the next wave: expected a wave from 1 to %zu", p->nwaves - 1);
		return 0;
	}
	if (!s->component || !(x = plan_step_moved(p, s))) {
		snprintf(why, len, "'%s' replica %zu is not moved in wave %zu, the next", s->component ? s->component : "",
			 s->replica, s->wave + 1);
		return 0;
	}
	if (!s->partition || strcmp(s->partition, x->partition)) {
		snprintf(why, len, "expected partition '%s', where wave %zu puts the shadow of '%s' replica %zu",
			 x->partition, s->wave + 1, s->component, s->replica);
		return 0;
	}
	if (plan_wave_offline(&p->waves[s->wave - 1], x->partition)) {
		snprintf(why, len, "partition '%s' is offline in wave %zu: no shadow can be made there ahead", x->partition,
			 s->wave);
		return 0;
	}
	return 1;
}
